//! Health checks through the real binary: servers that stop accepting go
//! DOWN and get no traffic, come back UP after `rise` good checks, backups
//! take over when every active server is DOWN, HTTP checks judge the status
//! code, and checks keep to their interval. The mock servers count the
//! connections they accept: with no client traffic, those are the checks.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use common::backends::{ask, refusing_addr, Backend};
use common::{Weir, TCP_DEFAULTS};
use http::{get, origin, Answer, Client};

/// Waits (at most 15 s) until weir's output contains `what`; returns when
/// it appeared.
fn wait_for(w: &Weir, what: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if w.output().contains(what) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "no {what:?} within 15 s:\n{}",
            w.output()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits (at most 15 s) until `cond` holds.
fn wait_until(w: &Weir, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 15 s:\n{}",
            w.output()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Who answers `n` sequential connections to frontend 0.
fn tally(w: &Weir, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for i in 0..n {
        let who = ask(w.addr(0)).unwrap_or_else(|e| panic!("connection {i}: {e}\n{}", w.output()));
        *counts.entry(who).or_insert(0) += 1;
    }
    counts
}

/// A `whoami` server on a given address (to bring a server back on its port).
fn whoami_at(addr: SocketAddr, id: &'static str) -> Backend {
    // std's listeners set SO_REUSEADDR: the port is free again at once.
    let l = TcpListener::bind(addr).expect("rebind the server's port");
    Backend::serve_listener(l, move |mut s| {
        use std::io::{Read, Write};
        let _ = s.write_all(id.as_bytes());
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut buf = [0u8; 256];
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })
}

#[test]
fn tcp_server_goes_down_after_fall_failures_and_up_after_rise_successes() {
    let a = Backend::whoami("a");
    let b = Backend::whoami("b");
    let a_addr = a.addr;
    // One worker: round robin alternates exactly.
    let cfg = format!(
        "global\n    nbthread 1\n\n{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n    balance roundrobin\n\
         \x20   server a {} check inter 200ms fall 3 rise 2\n\
         \x20   server b {} check inter 200ms fall 3 rise 2\n",
        a.addr, b.addr
    );
    let w = Weir::start(&cfg);
    // Both pass their first checks: fully UP, and both take traffic.
    wait_until(&w, "first checks of a", || a.accepted() >= 2);
    let c = tally(&w, 10);
    assert_eq!((c.get("a"), c.get("b")), (Some(&5), Some(&5)), "{c:?}");
    assert!(!w.output().contains("is DOWN"), "{}", w.output());

    // a stops listening: `fall` (3) failed checks, 200 ms apart, take it
    // DOWN, so no sooner than 2 intervals after its last good check.
    drop(a);
    let stopped = Instant::now();
    let down = wait_for(&w, "Server l/a is DOWN, reason: Layer4 connection problem");
    assert!(
        down - stopped >= Duration::from_millis(350),
        "DOWN {:?} after the server stopped: fewer than fall=3 checks?\n{}",
        down - stopped,
        w.output()
    );
    assert!(
        w.output()
            .contains("info: \"Connection refused\", check duration: "),
        "{}",
        w.output()
    );
    assert!(
        w.output().contains("1 active and 0 backup servers left."),
        "{}",
        w.output()
    );
    let c = tally(&w, 10);
    assert_eq!(c.get("b"), Some(&10), "all traffic to b: {c:?}");

    // a listens again: UP after `rise` (2) good checks, not before.
    let a = whoami_at(a_addr, "a");
    wait_for(&w, "Server l/a is UP, reason: Layer4 check passed");
    let checks = a.accepted();
    assert!(
        (2..=3).contains(&checks),
        "UP after {checks} checks, rise is 2\n{}",
        w.output()
    );
    assert!(
        w.output().contains("2 active and 0 backup servers online."),
        "{}",
        w.output()
    );
    let c = tally(&w, 10);
    assert_eq!((c.get("a"), c.get("b")), (Some(&5), Some(&5)), "{c:?}");
}

#[test]
fn backup_serves_when_every_active_server_is_down() {
    let c = Backend::whoami("c");
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n\
         \x20   server a {} check inter 100ms\n\
         \x20   server b {} check inter 100ms\n\
         \x20   server c {} backup\n",
        refusing_addr(),
        refusing_addr(),
        c.addr
    );
    let w = Weir::start(&cfg);
    // As in HAProxy, a checked server starts UP and its first failed check
    // takes it DOWN.
    wait_for(&w, "Server l/a is DOWN");
    wait_for(&w, "Server l/b is DOWN");
    assert!(
        w.output()
            .contains("0 active and 1 backup servers left. Running on backup."),
        "{}",
        w.output()
    );
    let t = tally(&w, 6);
    assert_eq!(t.get("c"), Some(&6), "{t:?}");
}

#[test]
fn no_server_left_is_an_alert() {
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n\
         \x20   server a {} check inter 100ms\n",
        refusing_addr(),
    );
    let w = Weir::start(&cfg);
    wait_for(&w, "[ALERT] weir: backend 'l' has no server available!");
    // Connections are closed at once (no server), not sent to a.
    let r = ask(w.addr(0)).unwrap_or_default();
    assert_eq!(r, "");
}

#[test]
fn http_check_with_expected_status_marks_a_500_server_down() {
    let (ok, ok_log) = origin(|r| {
        Answer::ok(if r.line().contains("/health") {
            &b"healthy"[..]
        } else {
            &b"ok"[..]
        })
    });
    let (bad, bad_log) = origin(|r| {
        if r.line().contains("/health") {
            Answer::raw(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
        } else {
            Answer::ok(b"bad")
        }
    });
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    mode http\n    bind 127.0.0.1:{{P0}}\n\
         \x20   option httpchk GET /health\n\
         \x20   http-check expect status 200\n\
         \x20   server ok {} check inter 100ms\n\
         \x20   server bad {} check inter 100ms\n",
        ok.addr, bad.addr
    );
    let w = Weir::start(&cfg);
    wait_for(
        &w,
        "Server l/bad is DOWN, reason: Layer7 wrong status, code: 500, info: \"Internal Server Error\"",
    );
    // The check request as `option httpchk GET /health` writes it.
    let line = bad_log.lock().unwrap()[0].line().to_owned();
    assert_eq!(line, "GET /health HTTP/1.0");
    wait_until(&w, "checks of ok", || ok_log.lock().unwrap().len() >= 2);
    assert!(
        !w.output().contains("Server l/ok is DOWN"),
        "{}",
        w.output()
    );
    for _ in 0..6 {
        let mut c = Client::new(w.connect(0));
        let r = c.ask(&get("/", "x"));
        assert_eq!(r.text(), "ok", "{}", w.output());
    }
}

#[test]
fn http_check_default_accepts_2xx_3xx_only() {
    let (redirect, _) =
        origin(|_| Answer::raw(b"HTTP/1.1 302 Found\r\nlocation: /x\r\ncontent-length: 0\r\n\r\n"));
    let (missing, _) =
        origin(|_| Answer::raw(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"));
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n    option httpchk\n\
         \x20   server r {} check inter 100ms\n\
         \x20   server m {} check inter 100ms\n",
        redirect.addr, missing.addr
    );
    let w = Weir::start(&cfg);
    wait_for(
        &w,
        "Server l/m is DOWN, reason: Layer7 wrong status, code: 404, info: \"Not Found\"",
    );
    // r passed its checks meanwhile (several by now) and stays UP.
    std::thread::sleep(Duration::from_millis(400));
    assert!(!w.output().contains("Server l/r is DOWN"), "{}", w.output());
}

#[test]
fn checks_keep_to_their_interval() {
    let a = Backend::whoami("a");
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n\
         \x20   server a {} check inter 250ms\n",
        a.addr
    );
    let _w = Weir::start(&cfg);
    // No client traffic: every connection a accepts is a check.
    std::thread::sleep(Duration::from_millis(300));
    let before = a.accepted();
    std::thread::sleep(Duration::from_secs(2));
    let n = a.accepted() - before;
    // 8 checks in 2 s at 250 ms; allow a slow machine to miss a few, but
    // never more than the interval allows.
    assert!((4..=9).contains(&n), "{n} checks in 2 s with inter 250ms");
}

#[test]
fn http_check_send_and_rstring() {
    let (ready, ready_log) = origin(|_| Answer::ok(b"state=ready"));
    let (starting, _) = origin(|_| Answer::ok(b"state=starting"));
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n    option httpchk\n\
         \x20   http-check send meth GET uri /ready ver HTTP/1.1 hdr Host app\n\
         \x20   http-check expect rstring state=(ready|idle)\n\
         \x20   server r {} check inter 100ms\n\
         \x20   server s {} check inter 100ms\n",
        ready.addr, starting.addr
    );
    let w = Weir::start(&cfg);
    wait_for(
        &w,
        "Server l/s is DOWN, reason: Layer7 invalid response, code: 200, info: \"HTTP content check did not match\"",
    );
    wait_until(&w, "checks of r", || ready_log.lock().unwrap().len() >= 2);
    let req = ready_log.lock().unwrap()[0].clone();
    assert_eq!(req.line(), "GET /ready HTTP/1.1");
    assert_eq!(req.header("host"), Some("app"));
    assert!(!w.output().contains("Server l/r is DOWN"), "{}", w.output());
}

/// The `check duration: Nms` of the first line containing `what`.
fn duration_ms(out: &str, what: &str) -> u64 {
    let line = out.lines().find(|l| l.contains(what)).unwrap();
    let d = line.split("check duration: ").nth(1).unwrap();
    d[..d.find("ms").unwrap()].parse().unwrap()
}

#[test]
fn timeouts_fail_checks_without_delaying_the_others() {
    // Connects to `blackhole` time out; `mute` accepts and never answers.
    let blackhole = common::backends::FullBacklog::new();
    let mute = Backend::mute(Duration::from_secs(20));
    let fine = Backend::whoami("fine");
    // `timeout connect` is 2s (TCP_DEFAULTS): with `timeout check`, the
    // connect timeout is min(timeout connect, inter) = 300ms.
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n    timeout check 200ms\n\
         \x20   server hole {} check inter 300ms\n\
         \x20   server fine {} check inter 100ms\n\
         listen m\n    bind 127.0.0.1:{{P1}}\n    option httpchk\n    timeout check 200ms\n\
         \x20   server mute {} check inter 2s\n",
        blackhole.addr, fine.addr, mute.addr
    );
    let w = Weir::start(&cfg);
    let before = fine.accepted();
    wait_for(&w, "Server l/hole is DOWN, reason: Layer4 timeout");
    wait_for(&w, "Server m/mute is DOWN, reason: Layer7 timeout");
    let out = w.output();
    let hole = duration_ms(&out, "Server l/hole is DOWN");
    assert!(
        (250..1500).contains(&hole),
        "connect timeout {hole}ms\n{out}"
    );
    let m = duration_ms(&out, "Server m/mute is DOWN");
    assert!((150..1500).contains(&m), "response timeout {m}ms\n{out}");
    // fine kept its 100ms rhythm meanwhile and stays UP.
    assert!(fine.accepted() - before >= 2, "{out}");
    assert!(!out.contains("Server l/fine is DOWN"), "{out}");
    assert_eq!(ask(w.addr(0)).unwrap(), "fine");
}

#[test]
fn log_health_checks_logs_each_move_of_the_counter() {
    let ok = Backend::whoami("ok");
    let cfg = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n    option log-health-checks\n\
         \x20   server ok {} check inter 100ms fall 2\n\
         \x20   server bad {} check inter 100ms fall 2\n",
        ok.addr,
        refusing_addr()
    );
    let w = Weir::start(&cfg);
    wait_for(&w, "Server l/bad is DOWN");
    wait_until(&w, "checks of ok", || ok.accepted() >= 3);
    // Several more checks of each: the counters no longer move.
    std::thread::sleep(Duration::from_millis(400));
    let out = w.output();
    let lines = |who: &str| {
        out.lines()
            .filter(|l| l.contains(&format!("Health check for server l/{who} ")))
            .collect::<Vec<_>>()
    };
    let bad = lines("bad");
    assert_eq!(bad.len(), 1, "{out}");
    assert!(
        bad[0].contains(
            "failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: "
        ) && bad[0].ends_with(", status: 0/2 DOWN."),
        "{out}"
    );
    let good = lines("ok");
    assert_eq!(good.len(), 1, "{out}");
    assert!(
        good[0].contains("succeeded, reason: Layer4 check passed, check duration: ")
            && good[0].ends_with(", status: 2/2 UP."),
        "{out}"
    );
}

#[test]
fn on_marked_down_shutdown_sessions_closes_the_server_sessions() {
    use std::io::{Read, Write};
    let a = Backend::echo();
    let keep = Backend::echo();
    let cfg = format!(
        "global\n    nbthread 1\n\n{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n\
         \x20   server a {} check inter 100ms fall 1 on-marked-down shutdown-sessions\n\
         listen k\n    bind 127.0.0.1:{{P1}}\n\
         \x20   server keep {} check inter 100ms fall 1\n",
        a.addr, keep.addr
    );
    let w = Weir::start(&cfg);
    let mut s = w.connect(0);
    let mut t = w.connect(1);
    for c in [&mut s, &mut t] {
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    }
    // The servers stop accepting; the sessions they serve go on.
    drop(a);
    drop(keep);
    wait_for(&w, "Server l/a is DOWN");
    wait_for(&w, "Server k/keep is DOWN");
    // l's session is closed by weir; k's (no option) still echoes.
    let mut buf = [0u8; 16];
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!(
            "the session to a DOWN server is still open: {other:?}\n{}",
            w.output()
        ),
    }
    t.write_all(b"pong").unwrap();
    let mut buf = [0u8; 4];
    t.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
}

#[test]
fn on_marked_up_shutdown_backup_sessions_closes_the_backup_sessions() {
    use std::io::{Read, Write};
    let a_addr = refusing_addr();
    let backup = Backend::echo();
    let cfg = format!(
        "global\n    nbthread 1\n\n{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n\
         \x20   server a {a_addr} check inter 100ms rise 1 on-marked-up shutdown-backup-sessions\n\
         \x20   server c {} backup\n",
        backup.addr
    );
    let w = Weir::start(&cfg);
    wait_for(&w, "Server l/a is DOWN");
    // The backup serves meanwhile.
    let mut s = w.connect(0);
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    // a comes back: the session on the backup is closed.
    let _a = whoami_at(a_addr, "a");
    wait_for(&w, "Server l/a is UP");
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!(
            "the session on the backup is still open: {other:?}\n{}",
            w.output()
        ),
    }
    assert_eq!(ask(w.addr(0)).unwrap(), "a");
}
