//! `mode tcp` through real loopback sockets, in-process: forwarding
//! (splice and copy), half-close, resets, concurrency, timeouts, retries,
//! limits and stops.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

fn forward_large(opts: &str, nbthread: u32, spliced: u64) {
    let e = echo();
    let cfg = listen_cfg(
        &format!("    nbthread {nbthread}"),
        opts,
        &[format!("server s1 {}", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let mut joins = Vec::new();
    for i in 0..4u64 {
        joins.push(std::thread::spawn(move || {
            let data = Arc::new(payload(16 << 20, 7 + i));
            let want = checksum(&data);
            let got = round_trip(connect(addr), data.clone());
            assert_eq!(got.len(), data.len());
            assert_eq!(checksum(&got), want, "bytes differ");
        }));
    }
    for j in joins {
        j.join().unwrap();
    }
    let st = r.stats();
    assert_eq!(st.bytes_in, 4 * (16 << 20));
    assert_eq!(st.bytes_out, 4 * (16 << 20));
    assert_eq!(st.spliced, spliced);
    stop(r);
}

#[test]
fn large_payloads_both_directions_splice() {
    forward_large("    option splice-auto", 1, 2 * 4 * (16 << 20));
}

#[test]
fn large_payloads_both_directions_copy() {
    forward_large("", 1, 0);
}

#[test]
fn large_payloads_two_workers_splice_one_way() {
    forward_large("    option splice-response", 2, 4 * (16 << 20));
}

#[test]
fn splice_falls_back_to_copy_when_pipes_run_out() {
    // maxconn 8 allows 4 pipes (maxconn / 2). The backend accepts 8
    // connections but reads nothing for a while, so the flows that got a
    // pipe keep it full; the others must copy instead. Every byte arrives.
    const N: usize = 8;
    const LEN: usize = 32 << 20;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let baddr = l.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let conns: Vec<TcpStream> = (0..N).map(|_| l.accept().unwrap().0).collect();
        std::thread::sleep(Duration::from_millis(300));
        let readers: Vec<_> = conns
            .into_iter()
            .map(|mut s| {
                std::thread::spawn(move || {
                    let mut got = Vec::with_capacity(LEN);
                    s.read_to_end(&mut got).unwrap();
                    checksum(&got)
                })
            })
            .collect();
        let mut sums: Vec<u64> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        sums.sort_unstable();
        sums
    });
    let cfg = listen_cfg(
        "    nbthread 1\n    maxconn 8",
        "    option splice-auto",
        &[format!("server s1 {baddr}")],
    );
    let (r, addr) = start(&cfg);
    let clients: Vec<_> = (0..N as u64)
        .map(|i| {
            std::thread::spawn(move || {
                let data = payload(LEN, 200 + i);
                let mut c = connect(addr);
                c.write_all(&data).unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                c.read_to_end(&mut rest).unwrap();
                checksum(&data)
            })
        })
        .collect();
    let mut want: Vec<u64> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    want.sort_unstable();
    assert_eq!(backend.join().unwrap(), want, "every byte arrived");
    let st = r.stats();
    assert_eq!(st.bytes_in, (N * LEN) as u64);
    assert!(st.spliced > 0, "{st:?}");
    assert!(st.spliced < st.bytes_in, "some flows copied: {st:?}");
    stop(r);
}

fn half_close_client_first(opts: &str) {
    // The backend reads to EOF, then answers and closes: the client's FIN
    // must reach it while the other direction stays open.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let baddr = l.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(format!("got {} bytes", got.len()).as_bytes())
            .unwrap();
    });
    let (r, addr) = start(&listen_cfg(
        "    nbthread 1",
        opts,
        &[format!("server s1 {baddr}")],
    ));
    let mut c = connect(addr);
    c.write_all(&[7u8; 1000]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert_eq!(resp, "got 1000 bytes");
    backend.join().unwrap();
    stop(r);
}

#[test]
fn half_close_client_first_splice() {
    half_close_client_first("    option splice-auto");
}

#[test]
fn half_close_client_first_copy() {
    half_close_client_first("");
}

#[test]
fn half_close_server_first() {
    // The server sends a greeting and shuts its write side; the client gets
    // EOF, then still sends, and the server receives it.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let baddr = l.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"hello").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let (r, addr) = start(&listen_cfg(
        "    nbthread 1",
        "    option splice-auto",
        &[format!("server s1 {baddr}")],
    ));
    let mut c = connect(addr);
    let mut greet = Vec::new();
    c.read_to_end(&mut greet).unwrap();
    assert_eq!(greet, b"hello");
    c.write_all(b"still here").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(backend.join().unwrap(), b"still here");
    stop(r);
}

#[test]
fn server_reset_is_propagated_to_client() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let baddr = l.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s); // RST
    });
    let (r, addr) = start(&listen_cfg(
        "    nbthread 1",
        "",
        &[format!("server s1 {baddr}")],
    ));
    let mut c = connect(addr);
    c.write_all(b"ping").unwrap();
    backend.join().unwrap();
    let mut buf = [0u8; 16];
    let res = c.read(&mut buf);
    match res {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(n) => panic!("expected a reset, read {n} bytes (clean close)"),
    }
    assert!(eventually(Duration::from_secs(2), || r.stats().resets == 1));
    stop(r);
}

#[test]
fn client_reset_is_propagated_to_server() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let baddr = l.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        s.write_all(b"pong").unwrap();
        let mut rest = [0u8; 16];
        s.read(&mut rest)
    });
    let (r, addr) = start(&listen_cfg(
        "    nbthread 1",
        "    option splice-auto",
        &[format!("server s1 {baddr}")],
    ));
    let mut c = connect(addr);
    c.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    match backend.join().unwrap() {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(n) => panic!("expected a reset on the server side, read {n}"),
    }
    stop(r);
}

#[test]
fn thousand_concurrent_connections() {
    let e = echo();
    let (r, addr) = start(&listen_cfg(
        "    nbthread 2",
        "    option splice-auto",
        &[format!("server s1 {}", e.addr)],
    ));
    let mut conns: Vec<TcpStream> = (0..1000).map(|_| connect(addr)).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("conn {i:05}").as_bytes()).unwrap();
    }
    assert!(
        eventually(Duration::from_secs(10), || e.live.load(Ordering::SeqCst)
            == 1000),
        "live {}",
        e.live.load(Ordering::SeqCst)
    );
    assert_eq!(r.stats().active, 1000);
    for (i, c) in conns.iter_mut().enumerate() {
        let mut b = [0u8; 10];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b, *format!("conn {i:05}").as_bytes());
    }
    drop(conns);
    assert!(eventually(Duration::from_secs(10), || r.stats().active == 0));
    stop(r);
}

/// A listener whose accept queue is full: further SYNs are dropped, so a
/// connect to it neither succeeds nor fails (until `timeout connect`).
fn full_backlog_listener() -> (socket2::Socket, Vec<socket2::Socket>, std::net::SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        fillers.push(s);
    }
    std::thread::sleep(Duration::from_millis(100));
    (l, fillers, addr)
}

#[test]
fn connect_timeout_against_full_backlog() {
    let (_l, _fillers, baddr) = full_backlog_listener();
    let cfg = listen_cfg(
        "    nbthread 1",
        "    timeout connect 200ms\n    retries 1",
        &[format!("server s1 {baddr}")],
    );
    let (r, addr) = start(&cfg);
    let t = Instant::now();
    let mut c = connect(addr);
    let mut buf = [0u8; 8];
    // Two attempts of 200 ms plus a 200 ms turn-around, then a clean close.
    let n = c.read(&mut buf).expect("clean close, not a reset");
    assert_eq!(n, 0);
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(550) && el < Duration::from_secs(3),
        "closed after {el:?}"
    );
    let st = r.stats();
    assert_eq!(st.connect_errors, 2);
    assert_eq!(st.retries, 1);
    assert_eq!(st.no_server, 1);
    stop(r);
}

#[test]
fn refused_server_retries_then_clean_close() {
    let dead = closed_port();
    let cfg = listen_cfg(
        "    nbthread 1",
        "    timeout connect 50ms\n    retries 3",
        &[format!("server s1 {dead}")],
    );
    let (r, addr) = start(&cfg);
    let mut c = connect(addr);
    let mut buf = [0u8; 8];
    assert_eq!(c.read(&mut buf).expect("clean close"), 0);
    let st = r.stats();
    assert_eq!(st.connect_errors, 4, "first attempt + 3 retries");
    assert_eq!(st.retries, 3);
    stop(r);
}

#[test]
fn redispatch_on_last_retry_reaches_the_live_server() {
    let dead = closed_port();
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 1",
        "    timeout connect 50ms\n    retries 2\n    option redispatch\n    balance roundrobin",
        &[
            format!("server dead {dead}"),
            format!("server live {}", e.addr),
        ],
    );
    let (r, addr) = start(&cfg);
    for i in 0..6u64 {
        let data = Arc::new(payload(1000, i));
        let got = round_trip(connect(addr), data.clone());
        assert_eq!(got, *data, "connection {i}");
    }
    let st = r.stats();
    // Round robin sends at least every other new connection to the dead
    // server first (the redispatch pick itself takes a turn of the rotation).
    assert!(st.redispatches >= 3, "{st:?}");
    // Each of those: first attempt and one retry on the dead server, the
    // last retry redispatched.
    assert_eq!(st.retries, 2 * st.redispatches, "{st:?}");
    assert_eq!(st.connect_errors, 2 * st.redispatches, "{st:?}");
    assert_eq!(e.conns.load(Ordering::SeqCst), 6);
    stop(r);
}

#[test]
fn server_maxconn_queues_then_serves() {
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 2",
        "    timeout queue 10s",
        &[format!("server s1 {} maxconn 2", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let mut conns: Vec<TcpStream> = (0..6).map(|_| connect(addr)).collect();
    for c in &mut conns {
        c.write_all(b"x").unwrap();
    }
    assert!(eventually(Duration::from_secs(2), || e
        .live
        .load(Ordering::SeqCst)
        == 2));
    assert!(
        eventually(Duration::from_secs(2), || r.stats().queued == 4),
        "{:?}",
        r.stats()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(e.live.load(Ordering::SeqCst), 2, "never more than maxconn");
    // Close connections one by one: each frees a slot for a queued one.
    // (The echo backend's own `live` count lags behind closes, so the check
    // is made once things settle after each close.)
    for k in 0..6 {
        drop(conns.remove(0));
        let served = (3 + k).min(6);
        assert!(
            eventually(Duration::from_secs(5), || e.conns.load(Ordering::SeqCst)
                == served),
            "after close {k}"
        );
        let remaining = 5 - k;
        assert!(eventually(Duration::from_secs(5), || e
            .live
            .load(Ordering::SeqCst)
            == remaining.min(2)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            e.live.load(Ordering::SeqCst) <= 2,
            "never more than maxconn"
        );
    }
    assert!(eventually(Duration::from_secs(5), || r.stats().active == 0));
    stop(r);
}

#[test]
fn queue_timeout_closes_waiting_client() {
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 1",
        "    timeout queue 200ms",
        &[format!("server s1 {} maxconn 1", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let _first = connect(addr);
    assert!(eventually(Duration::from_secs(2), || e
        .live
        .load(Ordering::SeqCst)
        == 1));
    let t = Instant::now();
    let mut second = connect(addr);
    let mut b = [0u8; 1];
    assert_eq!(second.read(&mut b).unwrap(), 0);
    assert!(
        t.elapsed() >= Duration::from_millis(180),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.stats().queue_timeouts, 1);
    stop(r);
}

#[test]
fn global_maxconn_keeps_excess_waiting() {
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 1\n    maxconn 3",
        "",
        &[format!("server s1 {}", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let mut conns: Vec<TcpStream> = (0..5).map(|_| connect(addr)).collect();
    assert!(eventually(Duration::from_secs(2), || e
        .live
        .load(Ordering::SeqCst)
        == 3));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(e.live.load(Ordering::SeqCst), 3);
    assert_eq!(r.stats().active, 3);
    conns.truncate(2);
    assert!(
        eventually(Duration::from_secs(2), || e.conns.load(Ordering::SeqCst)
            == 5),
        "waiting ones get served"
    );
    for c in &mut conns {
        c.write_all(b"ok").unwrap();
        let mut b = [0u8; 2];
        c.read_exact(&mut b).unwrap();
    }
    stop(r);
}

#[test]
fn client_idle_timeout_closes() {
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 1",
        "    timeout client 300ms",
        &[format!("server s1 {}", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let t = Instant::now();
    let mut c = connect(addr);
    c.write_all(b"a").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(280) && el < Duration::from_secs(3),
        "{el:?}"
    );
    assert_eq!(r.stats().timeouts, 1);
    stop(r);
}

#[test]
fn client_fin_timeout_applies_after_client_half_close() {
    // The server never answers nor closes; once the client has sent its
    // FIN, `timeout client-fin` (300 ms) replaces `timeout client` (30 s).
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let baddr = l.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        // The forwarded FIN ends this read; the server then stays silent
        // with its side open, so only a timeout can end the session.
        let _ = s.read_to_end(&mut got);
        std::thread::sleep(Duration::from_secs(2));
        got
    });
    let cfg = listen_cfg(
        "    nbthread 1",
        "    timeout client-fin 300ms",
        &[format!("server s1 {baddr}")],
    );
    let (r, addr) = start(&cfg);
    let mut c = connect(addr);
    c.write_all(b"bye").unwrap();
    let t = Instant::now();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(250) && el < Duration::from_secs(5),
        "{el:?}"
    );
    assert_eq!(backend.join().unwrap(), b"bye");
    assert_eq!(r.stats().timeouts, 1);
    stop(r);
}

#[test]
fn tunnel_timeout_supersedes_client_and_server() {
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 1",
        "    timeout client 100ms\n    timeout server 100ms\n    timeout tunnel 600ms",
        &[format!("server s1 {}", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let t = Instant::now();
    let mut c = connect(addr);
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(550),
        "tunnel timeout applies, not client/server: {el:?}"
    );
    stop(r);
}

#[test]
fn soft_stop_lets_sessions_finish() {
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 2",
        "    option splice-auto",
        &[format!("server s1 {}", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let mut c = connect(addr);
    c.write_all(b"before").unwrap();
    let mut b = [0u8; 6];
    c.read_exact(&mut b).unwrap();
    r.soft_stop();
    // New connections are refused once every worker closed its listener.
    assert!(eventually(Duration::from_secs(2), || TcpStream::connect(
        addr
    )
    .is_err()));
    // The session in flight keeps working.
    c.write_all(b"after").unwrap();
    let mut b = [0u8; 5];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"after");
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    r.wait().expect("workers exit once sessions are done");
}

#[test]
fn hard_stop_after_bounds_soft_stop() {
    let e = echo();
    let cfg = listen_cfg(
        "    nbthread 1\n    hard-stop-after 300ms",
        "",
        &[format!("server s1 {}", e.addr)],
    );
    let (r, addr) = start(&cfg);
    let mut c = connect(addr);
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    let t = Instant::now();
    r.soft_stop();
    r.wait().unwrap();
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(280) && el < Duration::from_secs(3),
        "{el:?}"
    );
}

#[test]
fn bind_error_names_the_line_and_leaves_nothing_bound() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let free = closed_port();
    let cfg = format!("global\n    nbthread 2\nfrontend web\n    mode tcp\n    bind {free}\n    bind 127.0.0.1:{port}\n    default_backend b\nbackend b\n    mode tcp\n    server s1 127.0.0.1:1\n");
    let config = weir_config::parse_str("weir.cfg", &cfg).unwrap();
    let err = weir_proxy::bind(Arc::new(config)).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "weir.cfg:6: [frontend 'web'] cannot bind 127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(err.contains("in use"), "{err}");
    // The first bind line's sockets were closed again.
    TcpListener::bind(free).expect("nothing left bound");
}

#[test]
fn no_usable_server_closes_cleanly() {
    let cfg = listen_cfg(
        "    nbthread 1",
        "",
        &["server s1 127.0.0.1:9 disabled".to_string()],
    );
    let (r, addr) = start(&cfg);
    let mut c = connect(addr);
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0);
    assert_eq!(r.stats().no_server, 1);
    stop(r);
}
