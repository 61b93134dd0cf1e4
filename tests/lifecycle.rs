//! Start-up and shut-down of the real binary: bind errors, SIGTERM,
//! SIGUSR1 soft stop with sessions in flight, `hard-stop-after`, daemon mode
//! with a PID file, and the embedded quickstart.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::backends::Backend;
use common::{eventually, is_listening, run_weir, Signal, Weir};

fn listen_cfg(backend: std::net::SocketAddr, extra_global: &str) -> String {
    format!(
        "global\n{extra_global}\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\n\
         listen l\n    bind 127.0.0.1:{{P0}}\n    server s {backend}\n"
    )
}

/// One echo round trip on an open connection.
fn echo_once(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

#[test]
fn address_in_use_names_the_bind_line() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.cfg");
    std::fs::write(
        &path,
        format!("listen l\n    mode tcp\n\n    bind 127.0.0.1:{port}\n    server s 127.0.0.1:9\n"),
    )
    .unwrap();
    let f = run_weir(&["-db", "-f", path.to_str().unwrap()]);
    assert_eq!(f.code(), Some(1), "stderr: {}", f.stderr);
    assert!(
        f.stderr.contains(&format!("{}:4", path.display())),
        "error should name the bind line: {}",
        f.stderr
    );
    assert!(f.stderr.contains("in use"), "stderr: {}", f.stderr);
}

#[test]
fn sigterm_stops_at_once() {
    let backend = Backend::echo();
    let mut w = Weir::start(&listen_cfg(backend.addr, ""));
    let mut s = w.connect(0);
    echo_once(&mut s, b"ping");
    w.signal(Signal::SIGTERM);
    let st = w.wait_exit(Duration::from_secs(5));
    assert!(
        st.is_some(),
        "weir still running 5 s after SIGTERM:\n{}",
        w.output()
    );
    assert!(!is_listening(w.addr(0)));
    // The session in flight was closed, not left hanging.
    let mut buf = [0u8; 16];
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn soft_stop_lets_sessions_in_flight_finish() {
    let backend = Backend::echo();
    let mut w = Weir::start(&listen_cfg(backend.addr, ""));
    let mut sessions: Vec<TcpStream> = (0..3).map(|_| w.connect(0)).collect();
    for s in &mut sessions {
        echo_once(s, b"before");
    }
    w.signal(Signal::SIGUSR1);
    // Listening stops…
    assert!(
        eventually(Duration::from_secs(5), || !is_listening(w.addr(0))),
        "still accepting after SIGUSR1:\n{}",
        w.output()
    );
    // …sessions in flight keep working…
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        w.wait_exit(Duration::ZERO).is_none(),
        "weir exited with sessions open"
    );
    for s in &mut sessions {
        echo_once(s, b"during soft stop");
    }
    // …and when the last one closes, weir exits by itself.
    for s in sessions {
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        let mut s = s;
        let _ = s.read_to_end(&mut rest);
    }
    assert!(
        w.wait_exit(Duration::from_secs(5)).is_some(),
        "weir did not exit after its last session ended:\n{}",
        w.output()
    );
}

#[test]
fn hard_stop_after_closes_lingering_sessions() {
    let backend = Backend::echo();
    let mut w = Weir::start(&listen_cfg(backend.addr, "    hard-stop-after 500ms"));
    let mut s = w.connect(0);
    echo_once(&mut s, b"hello");
    let t = Instant::now();
    w.signal(Signal::SIGUSR1);
    assert!(
        w.wait_exit(Duration::from_secs(5)).is_some(),
        "weir did not exit after hard-stop-after:\n{}",
        w.output()
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "exited after {took:?}, before hard-stop-after"
    );
    let mut buf = [0u8; 8];
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn sighup_is_reported_not_a_reload() {
    let backend = Backend::echo();
    let w = Weir::start(&listen_cfg(backend.addr, ""));
    w.signal(Signal::SIGHUP);
    assert!(
        w.wait_output("reload is not implemented", Duration::from_secs(5)),
        "{}",
        w.output()
    );
    let mut s = w.connect(0);
    echo_once(&mut s, b"still serving");
}

/// Kills a daemon (not our child) by PID when dropped.
struct DaemonGuard(i32);

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0), Signal::SIGKILL);
    }
}

#[test]
fn daemon_mode_writes_the_pidfile_and_stops_on_sigterm() {
    let backend = Backend::echo();
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("weir.cfg");
    let pidfile = dir.path().join("weir.pid");
    std::fs::write(
        &cfg,
        listen_cfg(backend.addr, "").replace("{P0}", &port.to_string()),
    )
    .unwrap();
    let f = run_weir(&[
        "-D",
        "-p",
        pidfile.to_str().unwrap(),
        "-f",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
    let mut pid = 0;
    assert!(
        eventually(Duration::from_secs(5), || {
            pid = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            pid > 0
        }),
        "no pid in {}",
        pidfile.display()
    );
    let _guard = DaemonGuard(pid);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(eventually(Duration::from_secs(5), || is_listening(addr)));
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    echo_once(&mut s, b"daemon");
    drop(s);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !std::path::Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))),
        "daemon {pid} still alive after SIGTERM"
    );
}

#[test]
fn quickstart_starts_and_forwards() {
    // The quickstart listens on the fixed 127.0.0.1:8080: run it in a
    // namespace of its own so nothing else can hold that port.
    let ns = common::netns::Netns::new();
    let backend_up = std::sync::Arc::new(std::sync::Barrier::new(2));
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let up = std::sync::Arc::clone(&backend_up);
    let server = ns.spawn_in(move || {
        // The quickstart's first server; the second (8082) stays closed, so
        // this also shows retries with redispatch in action. The quickstart
        // is `mode http` (its /app/ requests come here): answer in HTTP.
        let l = TcpListener::bind("127.0.0.1:8081").unwrap();
        let b = Backend::serve_listener(l, |mut s| {
            let mut head = [0u8; 1024];
            let _ = s.read(&mut head);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 18\r\nconnection: close\r\n\r\nquickstart-backend",
            );
        });
        up.wait();
        let _ = stop_rx.recv_timeout(Duration::from_secs(60));
        drop(b);
    });
    backend_up.wait();
    let dir = tempfile::tempdir().unwrap();
    let mut w = Weir::spawn(
        ns.command(common::WEIR),
        dir,
        "<embedded>".into(),
        vec![8080],
    );
    w.wait_started().unwrap();
    assert!(w.output().contains("quickstart"), "{}", w.output());
    // mode http: one GET, answered with the body after the head.
    let get = |path: &str| -> String {
        let mut s = TcpStream::connect("127.0.0.1:8080").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or(out)
    };
    let (answers, page) = ns.run_in(move || {
        let answers = (0..4).map(|_| get("/app/x")).collect::<Vec<_>>();
        (answers, get("/"))
    });
    assert!(page.starts_with("weir is running."), "{page}");
    stop_tx.send(()).unwrap();
    server.join().unwrap();
    for a in &answers {
        assert_eq!(
            a,
            "quickstart-backend",
            "answers {answers:?}\n{}",
            w.output()
        );
    }
}

/// A field of /proc/PID/status (e.g. "Uid").
fn proc_status(pid: i32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}

#[test]
fn raises_the_open_files_limit_to_the_hard_limit() {
    let backend = Backend::echo();
    let w = Weir::start(&listen_cfg(backend.addr, ""));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", w.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let v: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(v[3], v[4], "soft limit not raised: {line}");
}

#[test]
fn warns_when_maxconn_needs_more_descriptors_than_allowed() {
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    // Two sockets per connection already exceed the limit.
    let maxconn = (hard / 2).clamp(1, u64::from(u32::MAX / 4));
    let backend = Backend::echo();
    let w = Weir::start(&listen_cfg(backend.addr, &format!("    maxconn {maxconn}")));
    let out = w.output();
    assert!(
        out.contains(&format!("maxconn {maxconn}")) && out.contains(&hard.to_string()),
        "no warning naming maxconn and the limit:\n{out}"
    );
}

#[test]
fn binds_a_privileged_port_then_drops_to_the_configured_user_in_a_chroot() {
    // Port 81 needs root to bind; weir must bind it before switching to
    // nobody. A namespace of our own makes the fixed port safe.
    let ns = common::netns::Netns::new();
    let jail = tempfile::tempdir().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<std::net::SocketAddr>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let server = ns.spawn_in(move || {
        let b = Backend::whoami("jailed-backend");
        tx.send(b.addr).unwrap();
        let _ = stop_rx.recv_timeout(Duration::from_secs(60));
        drop(b);
    });
    let backend = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("weir.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    user nobody\n    group nogroup\n    chroot {}\n\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\n\
             listen l\n    bind 127.0.0.1:81\n    server s {backend}\n",
            jail.path().display()
        ),
    )
    .unwrap();
    let mut cmd = ns.command(common::WEIR);
    cmd.arg("-d").arg("-f").arg(&cfg);
    let mut w = Weir::spawn(cmd, dir, cfg, vec![81]);
    w.wait_started().unwrap();
    let uids = proc_status(w.pid(), "Uid");
    let gids = proc_status(w.pid(), "Gid");
    let root = std::fs::read_link(format!("/proc/{}/root", w.pid())).unwrap();
    let answer = ns.run_in(|| common::backends::ask("127.0.0.1:81".parse().unwrap()));
    stop_tx.send(()).unwrap();
    server.join().unwrap();
    assert!(
        uids.split_whitespace().all(|u| u == "65534"),
        "uids {uids}\n{}",
        w.output()
    );
    assert!(gids.split_whitespace().all(|g| g == "65534"), "gids {gids}");
    assert_eq!(root, jail.path().canonicalize().unwrap());
    assert_eq!(answer.unwrap(), "jailed-backend");
}

#[test]
fn db_keeps_a_daemon_configuration_in_the_foreground() {
    let backend = Backend::echo();
    let mut w = Weir::start_with_args(&listen_cfg(backend.addr, "    daemon"), &["-db"]);
    // Still our child, still running and serving.
    assert!(w.wait_exit(Duration::from_millis(200)).is_none());
    let mut s = w.connect(0);
    echo_once(&mut s, b"foreground");
}

#[test]
fn soft_stop_under_load_truncates_no_session() {
    let _serial = common::heavy();
    const LEN: u64 = 1 << 20;
    let sink = Backend::sink();
    let mut w = Weir::start(&listen_cfg(sink.addr, ""));
    let addr = w.addr(0);
    let start = Instant::now();
    let stop_at = Duration::from_millis(400);
    // Sessions connected this long before the signal was sent must have been
    // accepted by weir and must complete; later ones may be refused or
    // reset from the listen backlog when the listener closes.
    let margin = Duration::from_millis(200);
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            std::thread::spawn(move || {
                let (mut ok, mut late_failures, mut failures) = (0u32, 0u32, Vec::new());
                for i in 0..200u64 {
                    if start.elapsed() > Duration::from_secs(10) {
                        break;
                    }
                    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                    else {
                        break; // listener closed: the soft stop is in effect
                    };
                    let connected = start.elapsed();
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let seed = t * 1000 + i;
                    let r = s
                        .write_all(&common::stream::header(seed, LEN))
                        .and_then(|()| common::stream::send(&mut s, seed, LEN))
                        .and_then(|()| s.shutdown(Shutdown::Write))
                        .and_then(|()| {
                            let mut a = String::new();
                            s.read_to_string(&mut a).map(|_| a)
                        });
                    match r {
                        Ok(a) if a == format!("OK {LEN}") => ok += 1,
                        other if connected + margin < stop_at => {
                            failures.push(format!(
                                "session {seed} connected at {connected:?}: {other:?}"
                            ));
                        }
                        _ => late_failures += 1,
                    }
                }
                (ok, late_failures, failures)
            })
        })
        .collect();
    std::thread::sleep(stop_at.saturating_sub(start.elapsed()));
    w.signal(Signal::SIGUSR1);
    let mut total_ok = 0;
    let mut all_failures = Vec::new();
    for h in workers {
        let (ok, _late, failures) = h.join().unwrap();
        total_ok += ok;
        all_failures.extend(failures);
    }
    assert!(all_failures.is_empty(), "{all_failures:#?}\n{}", w.output());
    assert!(total_ok > 0);
    assert!(
        w.wait_exit(Duration::from_secs(10)).is_some(),
        "weir did not exit after the soft stop\n{}",
        w.output()
    );
}
