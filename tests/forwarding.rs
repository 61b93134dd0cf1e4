//! Byte-exact TCP forwarding through the real binary: large random payloads
//! in both directions, half-close in each direction, many concurrent
//! connections.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::backends::Backend;
use common::{stream, Weir, TCP_DEFAULTS};

fn listen(backend: &Backend) -> String {
    format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n    server s {}\n",
        backend.addr
    )
}

/// Sends `len` bytes of stream `seed` through weir to the sink, half-closes,
/// and returns the sink's verdict.
fn upload(w: &Weir, seed: u64, len: u64) -> String {
    let mut s = w.connect(0);
    s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(&stream::header(seed, len)).unwrap();
    stream::send(&mut s, seed, len).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

/// Asks the source for `len` bytes of stream `seed` and verifies them.
fn download(w: &Weir, seed: u64, len: u64) -> Result<(), String> {
    let mut s = w.connect(0);
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(&stream::header(seed, len)).unwrap();
    stream::receive(&mut s, seed, len)
}

#[test]
fn large_random_payloads_are_forwarded_byte_exact_both_ways() {
    let _serial = common::heavy();
    const MB: u64 = 1 << 20;
    // 2 × 32 MiB up, 2 × 32 MiB down: 128 MiB in total, each pair of
    // connections running at the same time.
    let sink = Backend::sink();
    let source = Backend::source();
    let up = Weir::start(&listen(&sink));
    let down = Weir::start(&listen(&source));
    let t = Instant::now();
    std::thread::scope(|scope| {
        let ups: Vec<_> = (0..2u64)
            .map(|i| {
                let up = &up;
                scope.spawn(move || upload(up, 100 + i, 32 * MB))
            })
            .collect();
        let downs: Vec<_> = (0..2u64)
            .map(|i| {
                let down = &down;
                scope.spawn(move || download(down, 200 + i, 32 * MB))
            })
            .collect();
        for h in ups {
            assert_eq!(h.join().unwrap(), format!("OK {}", 32 * MB));
        }
        for h in downs {
            h.join().unwrap().unwrap();
        }
    });
    eprintln!("128 MiB through weir in {:?}", t.elapsed());
}

#[test]
fn odd_sizes_and_tiny_payloads_are_exact() {
    let sink = Backend::sink();
    let source = Backend::source();
    let up = Weir::start(&listen(&sink));
    let down = Weir::start(&listen(&source));
    for (i, len) in [0u64, 1, 2, 1023, 4097, 65_537, 1_000_003]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            upload(&up, i as u64, len),
            format!("OK {len}"),
            "upload {len}"
        );
        download(&down, i as u64, len).unwrap_or_else(|e| panic!("download {len}: {e}"));
    }
}

#[test]
fn client_half_close_still_gets_the_answer() {
    // The client sends and shuts down its write side; the server sees EOF
    // and only then answers, through a connection that is half-closed.
    let sink = Backend::sink();
    let w = Weir::start(&listen(&sink));
    let mut s = w.connect(0);
    s.write_all(&stream::header(9, 5000)).unwrap();
    stream::send(&mut s, 9, 5000).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    // The server answers only after seeing EOF: proof the FIN was forwarded
    // and the other direction stayed open.
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "OK 5000");
}

#[test]
fn server_half_close_lets_the_client_keep_sending() {
    let (b, got) = Backend::half_closer(b"bye-for-now");
    let w = Weir::start(&listen(&b));
    let mut s = w.connect(0);
    // Server's data and then its FIN arrive…
    let mut greeting = Vec::new();
    s.read_to_end(&mut greeting).unwrap();
    assert_eq!(greeting, b"bye-for-now");
    // …yet the client→server direction still works.
    let after = vec![b'z'; 100_000];
    s.write_all(&after).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let received = got
        .recv_timeout(Duration::from_secs(10))
        .expect("server never saw the client's data and FIN");
    assert_eq!(received.len(), after.len());
    assert!(received == after);
}

#[test]
fn a_thousand_concurrent_connections() {
    let _serial = common::heavy();
    const N: usize = 1000;
    let echo = Backend::echo();
    let w = Weir::start(&listen(&echo));
    let t = Instant::now();
    let mut conns: Vec<TcpStream> = (0..N).map(|_| w.connect(0)).collect();
    // Every connection open at once, each with its own message.
    for (i, s) in conns.iter_mut().enumerate() {
        s.write_all(format!("message {i:05}\n").as_bytes()).unwrap();
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let want = format!("message {i:05}\n");
        let mut got = vec![0u8; want.len()];
        s.read_exact(&mut got)
            .unwrap_or_else(|e| panic!("connection {i}: {e}\n{}", w.output()));
        assert_eq!(got, want.as_bytes(), "connection {i}");
    }
    assert!(
        common::eventually(Duration::from_secs(5), || echo.peak() >= N),
        "backend saw at most {} at once",
        echo.peak()
    );
    for s in &conns {
        s.shutdown(Shutdown::Write).unwrap();
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let mut rest = Vec::new();
        s.read_to_end(&mut rest)
            .unwrap_or_else(|e| panic!("connection {i} close: {e}"));
        assert!(rest.is_empty());
    }
    eprintln!("{N} concurrent connections in {:?}", t.elapsed());
}

#[test]
fn server_reset_closes_the_client_side() {
    // A server that aborts (RST) mid-session: the client is closed, not
    // left hanging.
    let b = Backend::serve(|s| {
        let mut s = s;
        let _ = s.write_all(b"partial");
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        drop(s);
    });
    let w = Weir::start(&listen(&b));
    let mut s = w.connect(0);
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_burst_of_connections_on_one_worker_waits_instead_of_being_dropped() {
    let _serial = common::heavy();
    const N: usize = 3000;
    let echo = Backend::echo();
    let cfg = format!(
        "global\n    maxconn 4000\n    nbthread 1\n\ndefaults\n    mode tcp\n    \
         timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n\n\
         listen l\n    bind 127.0.0.1:{{P0}}\n    server s {}\n",
        echo.addr
    );
    let w = Weir::start(&cfg);
    let mut conns: Vec<TcpStream> = (0..N).map(|_| w.connect(0)).collect();
    let mut dropped = 0;
    for s in &mut conns {
        let mut b = [0u8; 1];
        if s.write_all(b"x").is_err() || !matches!(s.read(&mut b), Ok(1)) {
            dropped += 1;
        }
    }
    assert_eq!(
        dropped,
        0,
        "{dropped} of {N} connections dropped\n{}",
        w.output()
    );
}

#[test]
fn every_address_of_a_bind_line_serves_and_ipv6_works() {
    // One bind line with two addresses (IPv4 and IPv6 loopback), and an IPv6
    // server: each listener forwards.
    let echo = Backend::echo();
    let v6_echo = Backend::serve_on("::1".parse().unwrap(), |mut s| {
        let mut buf = [0u8; 64];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 || s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}},ipv6@::1:{{P1}}\n    server s {}\n\n\
         listen v6\n    bind 127.0.0.1:{{P2}}\n    server s6 [::1]:{}\n",
        echo.addr,
        v6_echo.addr.port()
    );
    let w = Weir::start(&cfg);
    let v6: std::net::SocketAddr = format!("[::1]:{}", w.ports[1]).parse().unwrap();
    for addr in [w.addr(0), v6, w.addr(2)] {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{addr}: {e}\n{}", w.output()));
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello", "through {addr}");
    }
}
