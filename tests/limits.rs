//! Timeouts, connection limits and retries of the real binary.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::backends::{ask, refusing_addr, Backend, FullBacklog};
use common::Weir;

/// `listen l` with the given `global`/`defaults`/listen lines and servers.
fn config(defaults: &str, listen: &str, servers: &[(&str, std::net::SocketAddr, &str)]) -> String {
    let mut s = format!(
        "global\n    maxconn 2000\n\ndefaults\n    mode tcp\n{defaults}\n\
         listen l\n    bind 127.0.0.1:{{P0}}\n{listen}\n"
    );
    for (name, addr, opts) in servers {
        s.push_str(&format!("    server {name} {addr} {opts}\n"));
    }
    s
}

/// Reads until EOF or error; returns what was read and when it ended.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    s.set_read_timeout(Some(limit)).unwrap();
    let t = Instant::now();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    (got, t.elapsed())
}

/// Whether an echo round trip completes within `d`.
fn echoes_within(s: &mut TcpStream, d: Duration) -> bool {
    s.set_read_timeout(Some(d)).unwrap();
    if s.write_all(b"?").is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(1))
}

#[test]
fn connect_timeout_to_a_full_backlog_listener() {
    let stuck = FullBacklog::new();
    let w = Weir::start(&config(
        "    timeout connect 300ms\n    timeout client 10s\n    timeout server 10s\n    retries 0",
        "",
        &[("s", stuck.addr, "")],
    ));
    let mut c = w.connect(0);
    let (got, took) = read_until_closed(&mut c, Duration::from_secs(10));
    assert!(got.is_empty());
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(4),
        "client closed after {took:?}, connect timeout is 300ms\n{}",
        w.output()
    );
}

#[test]
fn client_idle_timeout_closes_both_sides() {
    let (b, ended) = Backend::silent();
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 300ms\n    timeout server 20s",
        "",
        &[("s", b.addr, "")],
    ));
    let mut c = w.connect(0);
    let (_, took) = read_until_closed(&mut c, Duration::from_secs(10));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(4),
        "closed after {took:?}, timeout client is 300ms"
    );
    ended
        .recv_timeout(Duration::from_secs(5))
        .expect("server side not closed");
}

#[test]
fn server_idle_timeout_closes_both_sides() {
    let (b, ended) = Backend::silent();
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 20s\n    timeout server 300ms",
        "",
        &[("s", b.addr, "")],
    ));
    let mut c = w.connect(0);
    let (_, took) = read_until_closed(&mut c, Duration::from_secs(10));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(4),
        "closed after {took:?}, timeout server is 300ms"
    );
    ended
        .recv_timeout(Duration::from_secs(5))
        .expect("server side not closed");
}

#[test]
fn activity_postpones_the_idle_timeout() {
    let echo = Backend::echo();
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 800ms\n    timeout server 800ms",
        "",
        &[("s", echo.addr, "")],
    ));
    let mut c = w.connect(0);
    // 8 round trips 200 ms apart: 1.6 s in all, twice the timeout, but
    // never 800 ms idle (the margin absorbs a loaded CI machine).
    for i in 0..8 {
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            echoes_within(&mut c, Duration::from_secs(2)),
            "round trip {i} failed"
        );
    }
}

#[test]
fn frontend_maxconn_makes_excess_connections_wait() {
    let echo = Backend::echo();
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 20s\n    timeout server 20s",
        "    maxconn 2",
        &[("s", echo.addr, "")],
    ));
    let mut a = w.connect(0);
    let mut b = w.connect(0);
    assert!(echoes_within(&mut a, Duration::from_secs(5)));
    assert!(echoes_within(&mut b, Duration::from_secs(5)));
    // The third waits in the listen backlog: no answer while two are open…
    let mut c = w.connect(0);
    assert!(
        !echoes_within(&mut c, Duration::from_millis(500)),
        "third connection served"
    );
    assert_eq!(echo.active(), 2);
    // …and is served once one of them closes.
    drop(a);
    let mut byte = [0u8; 1];
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(
        matches!(c.read(&mut byte), Ok(1)),
        "waiting connection never served"
    );
    assert!(echoes_within(&mut c, Duration::from_secs(5)));
    assert!(echoes_within(&mut b, Duration::from_secs(5)));
}

/// An echo server that counts the connections it is serving, from its own
/// point of view: a connection stops counting just before the server sends
/// its FIN. weir can only free the server's slot after that FIN, so the
/// peak is exact (the shared `Backend::echo` counts until its thread ends,
/// which races with weir's next connect).
fn counting_echo() -> (Backend, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (a, p) = (Arc::clone(&active), Arc::clone(&peak));
    let backend = Backend::serve(move |mut s| {
        let now = a.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = s.read(&mut buf) {
            if s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        a.fetch_sub(1, Ordering::SeqCst);
        let _ = s.shutdown(std::net::Shutdown::Write);
    });
    (backend, peak)
}

#[test]
fn server_maxconn_queues_and_serves_in_turn() {
    let (echo, peak) = counting_echo();
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n    timeout queue 10s",
        "",
        &[("s", echo.addr, "maxconn 1")],
    ));
    let mut a = w.connect(0);
    assert!(echoes_within(&mut a, Duration::from_secs(5)));
    let mut b = w.connect(0);
    assert!(
        !echoes_within(&mut b, Duration::from_millis(500)),
        "queued connection served"
    );
    drop(a);
    let mut byte = [0u8; 1];
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(
        matches!(b.read(&mut byte), Ok(1)),
        "queued connection never served"
    );
    assert_eq!(
        peak.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "server maxconn 1 exceeded"
    );
}

#[test]
fn queue_timeout_closes_the_waiting_connection() {
    let echo = Backend::echo();
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n    timeout queue 300ms",
        "",
        &[("s", echo.addr, "maxconn 1")],
    ));
    let mut a = w.connect(0);
    assert!(echoes_within(&mut a, Duration::from_secs(5)));
    let mut b = w.connect(0);
    let (got, took) = read_until_closed(&mut b, Duration::from_secs(10));
    assert!(got.is_empty());
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(4),
        "queued connection closed after {took:?}, timeout queue is 300ms"
    );
    assert!(
        echoes_within(&mut a, Duration::from_secs(5)),
        "the served one was harmed"
    );
}

#[test]
fn redispatch_moves_refused_connections_to_another_server() {
    let good = Backend::whoami("good");
    let w = Weir::start(&config(
        // The retry turn-around delay is min(timeout connect, 1s), as in
        // HAProxy: a short connect timeout keeps the test fast.
        "    timeout connect 200ms\n    timeout client 10s\n    timeout server 10s\n    retries 2\n    option redispatch",
        "    balance roundrobin",
        &[("bad", refusing_addr(), ""), ("good", good.addr, "")],
    ));
    for i in 0..20 {
        let who = ask(w.addr(0)).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(who, "good", "connection {i}\n{}", w.output());
    }
}

#[test]
fn without_redispatch_retries_stay_on_the_refusing_server() {
    let good = Backend::whoami("good");
    let w = Weir::start(&config(
        "    timeout connect 200ms\n    timeout client 10s\n    timeout server 10s\n    retries 2",
        "    balance roundrobin",
        &[("bad", refusing_addr(), ""), ("good", good.addr, "")],
    ));
    let answers: Vec<String> = (0..20)
        .map(|_| ask(w.addr(0)).unwrap_or_default())
        .collect();
    let good_n = answers.iter().filter(|a| *a == "good").count();
    let empty_n = answers.iter().filter(|a| a.is_empty()).count();
    // Roundrobin sends half to the refusing server; without redispatch they
    // fail after the retries and the client sees a clean close.
    assert_eq!(good_n + empty_n, 20, "{answers:?}");
    assert!((8..=12).contains(&good_n), "{answers:?}");
}

#[test]
fn global_maxconn_is_shared_by_every_frontend() {
    let echo = Backend::echo();
    let cfg = format!(
        "global\n    maxconn 2\n\ndefaults\n    mode tcp\n    timeout connect 2s\n    \
         timeout client 20s\n    timeout server 20s\n\n\
         listen one\n    bind 127.0.0.1:{{P0}}\n    server s {a}\n\n\
         listen two\n    bind 127.0.0.1:{{P1}}\n    server s {a}\n",
        a = echo.addr
    );
    let w = Weir::start(&cfg);
    let mut a = w.connect(0);
    let mut b = w.connect(1);
    assert!(echoes_within(&mut a, Duration::from_secs(5)));
    assert!(echoes_within(&mut b, Duration::from_secs(5)));
    // A third on either frontend waits: the process is at its limit.
    let mut c = w.connect(0);
    assert!(
        !echoes_within(&mut c, Duration::from_millis(500)),
        "served above global maxconn"
    );
    drop(b);
    let mut byte = [0u8; 1];
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(
        matches!(c.read(&mut byte), Ok(1)),
        "waiting connection never served"
    );
}

#[test]
fn client_fin_timeout_bounds_a_half_closed_client() {
    // The client half-closes and the server never answers: after the
    // client's FIN, `timeout client-fin` (300 ms) applies instead of the
    // 20 s `timeout client`/`timeout server`.
    let mute = Backend::mute(Duration::from_secs(15));
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n    timeout client-fin 300ms",
        "",
        &[("s", mute.addr, "")],
    ));
    let mut c = w.connect(0);
    c.write_all(b"request").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let (got, took) = read_until_closed(&mut c, Duration::from_secs(10));
    assert!(got.is_empty());
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(4),
        "closed after {took:?}, timeout client-fin is 300ms"
    );
}

#[test]
fn server_fin_timeout_bounds_a_half_closed_server() {
    // The server half-closes and the client stays silent without closing:
    // `timeout server-fin` (300 ms) ends the session.
    let (b, got) = Backend::half_closer(b"done");
    let w = Weir::start(&config(
        "    timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n    timeout server-fin 300ms",
        "",
        &[("s", b.addr, "")],
    ));
    let mut c = w.connect(0);
    let t = Instant::now();
    let mut greeting = [0u8; 4];
    c.read_exact(&mut greeting).unwrap();
    got.recv_timeout(Duration::from_secs(10))
        .expect("server side never closed");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(4),
        "server side closed after {took:?}, timeout server-fin is 300ms"
    );
}

#[test]
fn running_out_of_descriptors_spares_existing_sessions_and_logs_once() {
    // 120 descriptors, far below what maxconn 1000 needs: weir warns at
    // start, and a flood of connections exhausts the descriptors.
    let echo = Backend::echo();
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("weir.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    maxconn 1000\n    nbthread 1\n\ndefaults\n    mode tcp\n    \
             timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n\n\
             listen l\n    bind 127.0.0.1:{port}\n    server s {}\n",
            echo.addr
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new("prlimit");
    cmd.arg("--nofile=120:120")
        .arg(common::WEIR)
        .arg("-d")
        .arg("-f")
        .arg(&cfg);
    let mut w = Weir::spawn(cmd, dir, cfg, vec![port]);
    w.wait_started().unwrap();
    assert!(
        w.output().contains("open-files limit is 120"),
        "{}",
        w.output()
    );

    let mut existing: Vec<TcpStream> = (0..5).map(|_| w.connect(0)).collect();
    for s in &mut existing {
        assert!(echoes_within(s, Duration::from_secs(5)));
    }
    let flood: Vec<TcpStream> = (0..150).map(|_| w.connect(0)).collect();
    std::thread::sleep(Duration::from_millis(500));
    for (i, s) in existing.iter_mut().enumerate() {
        assert!(
            echoes_within(s, Duration::from_secs(5)),
            "existing session {i} harmed by the flood\n{}",
            w.output()
        );
    }
    drop(flood);
    // Once descriptors are free again, new connections are served.
    assert!(
        common::eventually(Duration::from_secs(10), || {
            let mut s = w.connect(0);
            echoes_within(&mut s, Duration::from_millis(500))
        }),
        "no recovery after the flood\n{}",
        w.output()
    );
    let complaints = w
        .output()
        .lines()
        .filter(|l| l.contains("Too many open files") || l.contains("EMFILE"))
        .count();
    assert!(
        (1..=10).contains(&complaints),
        "descriptor exhaustion should be logged, once per interval, not per connection \
         ({complaints} lines)\n{}",
        w.output()
    );
}
