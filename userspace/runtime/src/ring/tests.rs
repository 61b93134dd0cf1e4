use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::time::Duration;

use super::*;
use crate::userdata::OpKind;

fn wait_for(
    ring: &mut Ring,
    out: &mut Vec<Completion>,
    want: impl Fn(&Completion) -> bool,
) -> Completion {
    for _ in 0..200 {
        ring.submit_and_wait(Some(Duration::from_millis(10)))
            .unwrap();
        ring.reap(out);
        if let Some(c) = out.iter().find(|c| want(c)) {
            return *c;
        }
    }
    panic!("completion never came");
}

#[test]
fn accept_recv_send_round_trip() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut ring = Ring::new(64, BufPool::new(4, 4096), &[]).unwrap();
    let mut out = Vec::with_capacity(ring.cq_capacity());
    let acc = UserData::new(OpKind(1), 0, 0);
    ring.accept_multi(listener.as_raw_fd(), acc);

    let mut clients = Vec::new();
    let mut accepted = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let c = wait_for(&mut ring, &mut out, |c| c.ud == acc);
        assert!(c.result >= 0, "accept failed: {}", c.result);
        assert!(c.more, "multishot accept stays armed");
        accepted.push(c.result);
    }

    clients[1].write_all(b"ping").unwrap();
    let buf = ring.bufs_mut().get().unwrap();
    let rud = UserData::new(OpKind(2), 5, 3);
    ring.recv(accepted[1], buf, 0, rud).unwrap();
    assert!(
        ring.bufs().bytes(buf).is_none(),
        "kernel owns the buffer during recv"
    );
    let c = wait_for(&mut ring, &mut out, |c| c.ud == rud);
    assert_eq!(c.result, 4);
    assert_eq!(c.buf, Some(buf));
    assert_eq!(&ring.bufs().bytes(buf).unwrap()[..4], b"ping");

    let sud = UserData::new(OpKind(3), 5, 3);
    ring.send(accepted[1], buf, 0..4, sud).unwrap();
    let c = wait_for(&mut ring, &mut out, |c| c.ud == sud);
    assert_eq!(c.result, 4);
    let mut got = [0u8; 4];
    clients[1].read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    ring.bufs_mut().release(buf);
    for fd in accepted {
        crate::sys::close(fd);
    }
}

#[test]
fn cancelled_recv_parks_buffer_until_completion() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let fd = server.into_raw_fd();
    let mut ring = Ring::new(16, BufPool::new(1, 1024), &[]).unwrap();
    let mut out = Vec::with_capacity(ring.cq_capacity());
    let buf = ring.bufs_mut().get().unwrap();
    let rud = UserData::new(OpKind(2), 1, 1);
    ring.recv(fd, buf, 0, rud).unwrap();
    ring.submit().unwrap();
    // The session goes away: it releases the buffer and closes the socket.
    ring.bufs_mut().release(buf);
    assert_eq!(ring.bufs().available(), 0, "still lent to the kernel");
    ring.cancel_and_close(fd);
    let c = wait_for(&mut ring, &mut out, |c| c.ud == rud);
    assert_eq!(c.result, -libc::ECANCELED);
    assert_eq!(
        ring.bufs().available(),
        1,
        "completion returned the parked buffer"
    );
}

#[test]
fn buffer_misuse_is_refused() {
    let mut ring = Ring::new(8, BufPool::new(1, 64), &[]).unwrap();
    let buf = ring.bufs_mut().get().unwrap();
    assert!(matches!(
        ring.send(0, buf, 0..65, UserData::IGNORE),
        Err(RuntimeError::BufferRange)
    ));
    assert!(matches!(
        ring.send(0, buf, 3..3, UserData::IGNORE),
        Err(RuntimeError::BufferRange)
    ));
    ring.bufs_mut().release(buf);
    assert!(matches!(
        ring.recv(0, buf, 0, UserData::IGNORE),
        Err(RuntimeError::BufferNotOwned)
    ));
}

#[test]
fn connect_and_poll() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut ring = Ring::new(16, BufPool::new(1, 64), &[addr]).unwrap();
    let mut out = Vec::with_capacity(ring.cq_capacity());
    let fd = crate::sys::connect_socket(&addr).unwrap();
    let cud = UserData::new(OpKind(4), 2, 7);
    ring.connect(fd, AddrId(0), cud).unwrap();
    assert!(ring.connect(fd, AddrId(1), cud).is_err());
    let c = wait_for(&mut ring, &mut out, |c| c.ud == cud);
    assert_eq!(c.result, 0);
    let (mut peer, _) = listener.accept().unwrap();
    let pud = UserData::new(OpKind(5), 2, 7);
    ring.poll(fd, libc::POLLIN as u32, pud);
    ring.submit().unwrap();
    peer.write_all(b"x").unwrap();
    let c = wait_for(&mut ring, &mut out, |c| c.ud == pud);
    assert!(c.result & i32::from(libc::POLLIN) != 0);
    crate::sys::close(fd);
}

#[test]
fn connect_to_closed_port_is_refused() {
    // Bind then drop to get a port nobody listens on.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut ring = Ring::new(8, BufPool::new(1, 64), &[addr]).unwrap();
    let mut out = Vec::with_capacity(ring.cq_capacity());
    let fd = crate::sys::connect_socket(&addr).unwrap();
    let cud = UserData::new(OpKind(4), 0, 0);
    ring.connect(fd, AddrId(0), cud).unwrap();
    let c = wait_for(&mut ring, &mut out, |c| c.ud == cud);
    assert_eq!(c.result, -libc::ECONNREFUSED);
    crate::sys::close(fd);
}

#[test]
fn parked_completions_come_first_and_give_buffers_back() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let fd = server.as_raw_fd();
    let mut ring = Ring::new(8, BufPool::new(1, 64), &[]).unwrap();
    let mut out = Vec::with_capacity(ring.cq_capacity());
    client.write_all(b"abc").unwrap();
    let buf = ring.bufs_mut().get().unwrap();
    let rud = UserData::new(OpKind(2), 1, 1);
    ring.recv(fd, buf, 0, rud).unwrap();
    // Let the completion arrive, then park it as a push under pressure would.
    for _ in 0..100 {
        ring.submit_and_wait(Some(Duration::from_millis(10)))
            .unwrap();
        ring.park_completions();
        if !ring.parked.is_empty() {
            break;
        }
    }
    assert_eq!(ring.parked.len(), 1);
    assert_eq!(
        ring.bufs().bytes(buf).map(|b| &b[..3]),
        Some(&b"abc"[..]),
        "buffer back with its holder"
    );
    ring.reap(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].ud, out[0].result, out[0].buf), (rud, 3, Some(buf)));
}
