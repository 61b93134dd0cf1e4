//! The `stats socket` end to end through the real `weir` binary: the UNIX
//! socket is created with the configured mode, `show errors` shows the last
//! invalid request of a frontend and the last invalid response of a
//! backend (with the offending bytes), unknown commands get the list of
//! commands, a silent client is cut by `stats timeout`, garbage never
//! stops the socket, and the file is gone after SIGTERM.

mod common;
#[path = "common/http.rs"]
mod http;

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Signal, Weir};
use http::{get, origin, Answer, Client};

/// A configuration with a stats socket at `sock` and one http frontend
/// `web` (bound to `{P0}`) sending everything to backend `be` at `origin`.
fn cfg(sock: &Path, stats_extra: &str, origin: std::net::SocketAddr) -> String {
    format!(
        "global\n    nbthread 1\n    stats socket {} {stats_extra}\n    stats timeout 1s\n\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\n\
         frontend web\n    bind 127.0.0.1:{{P0}}\n    default_backend be\n\n\
         backend be\n    server s1 {origin}\n",
        sock.display()
    )
}

/// Sends `cmd` and a newline, returns everything until weir closes.
fn ask(sock: &Path, cmd: &[u8]) -> String {
    let mut s = UnixStream::connect(sock).expect("connect to the stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(cmd).unwrap();
    s.write_all(b"\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("weir closes after answering");
    String::from_utf8(out).expect("utf-8 answer")
}

fn sock_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("weir.sock")
}

/// The `N` of "error at position N" in the first capture of `answer`.
fn position(answer: &str) -> usize {
    let (_, rest) = answer
        .split_once("error at position ")
        .unwrap_or_else(|| panic!("no position in:\n{answer}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn smuggling_request_is_captured_and_shown_then_socket_removed_on_stop() {
    let (b, log) = origin(|_| Answer::ok(b"fine"));
    let dir = tempfile::tempdir().unwrap();
    let sock = sock_path(&dir);
    let mut w = Weir::start(&cfg(&sock, "mode 600 level admin", b.addr));

    let mode = std::fs::metadata(&sock)
        .expect("socket file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

    // Nothing captured yet.
    let empty = ask(&sock, b"show errors");
    assert!(empty.starts_with("Total events captured on ["), "{empty}");
    assert!(empty.contains("] : 0\n"), "{empty}");
    assert!(!empty.contains("invalid request"), "{empty}");

    // A request smuggling attempt: two Transfer-Encoding fields.
    let bad: &[u8] = b"POST /smuggle HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\
Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(bad).status, 400);
    assert!(log.lock().unwrap().is_empty(), "nothing reached the origin");
    let local = c.w.local_addr().unwrap();

    let all = ask(&sock, b"show errors");
    assert!(all.contains("] : 1\n"), "{all}");
    assert!(
        all.contains("] frontend web (#1): invalid request\n"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "  backend <NONE> (#-1), server <NONE> (#-1), event #0, src {local}\n"
        )),
        "{all}"
    );
    // The bytes weir had when it rejected: at least the whole head.
    let len_line = all.lines().find(|l| l.starts_with("  len ")).unwrap();
    let len: usize = len_line[6..].split(',').next().unwrap().parse().unwrap();
    let head_end = bad.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!((head_end..=bad.len()).contains(&len), "{all}");
    // The position points into the second Transfer-Encoding field.
    let second = bad
        .windows(17)
        .enumerate()
        .filter(|(_, w)| *w == b"Transfer-Encoding")
        .nth(1)
        .unwrap()
        .0;
    let pos = position(&all);
    assert!(
        (second..head_end).contains(&pos),
        "position {pos} not in the second field at {second}..{head_end}:\n{all}"
    );
    // The dump: one line per message line, offsets first, CR LF escaped.
    assert!(
        all.contains("  00000  POST /smuggle HTTP/1.1\\r\\n\n"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "  {second:05}  Transfer-Encoding: chunked\\r\\n\n"
        )),
        "{all}"
    );

    // Filters: by name, by number, by direction.
    assert_eq!(
        ask(&sock, b"show errors web").lines().count(),
        all.lines().count()
    );
    assert!(ask(&sock, b"show errors 1 request").contains("invalid request"));
    let res = ask(&sock, b"show errors web response");
    assert!(!res.contains("invalid request"), "{res}");
    assert!(!ask(&sock, b"show errors be").contains("invalid"));
    assert_eq!(ask(&sock, b"show errors nosuch"), "No such proxy.\n");

    // Unknown command: the error and the supported list.
    let unknown = ask(&sock, b"show foo");
    assert!(
        unknown.starts_with("Unknown command: 'show foo'\n"),
        "{unknown}"
    );
    assert!(unknown.contains("  show errors    :"), "{unknown}");
    let help = ask(&sock, b"help");
    for cmd in ["help", "prompt", "quit", "show errors"] {
        assert!(help.contains(&format!("  {cmd} ")), "{help}");
    }
    // Several commands on one line; `quit` ends it.
    let two = ask(&sock, b"help; show errors web request; quit; help");
    assert_eq!(two.matches("The following commands").count(), 1, "{two}");
    assert!(two.contains("invalid request"), "{two}");

    w.signal(Signal::SIGTERM);
    assert!(
        w.wait_exit(Duration::from_secs(10)).is_some(),
        "{}",
        w.output()
    );
    assert!(!sock.exists(), "socket file left after SIGTERM");
}

#[test]
fn bad_response_is_captured_under_the_backend() {
    let (b, _log) = origin(|r| {
        if r.line().contains("/bad") {
            Answer::raw(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc")
        } else {
            Answer::ok(b"fine")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let sock = sock_path(&dir);
    let w = Weir::start(&cfg(&sock, "", b.addr));
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/ok", "h")).status, 200);
    assert_eq!(c.ask(&get("/bad", "h")).status, 502);

    let res = ask(&sock, b"show errors be response");
    assert!(
        res.contains("] backend be (#2): invalid response\n"),
        "{res}"
    );
    assert!(
        res.contains("  frontend web (#1), server s1 (#1), event #0, src 127.0.0.1:"),
        "{res}"
    );
    assert!(res.contains("  00000  HTTP/1.1 200 OK\\r\\n\n"), "{res}");
    assert!(res.contains("  00036  Content-Length: 4\\r\\n\n"), "{res}");
    let pos = position(&res);
    assert!((36..55).contains(&pos), "position {pos}:\n{res}");
    // The request side of the frontend stays empty.
    assert!(!ask(&sock, b"show errors request").contains("invalid"));
    // The default mode leaves the umask's mode (no `mode`): still usable.
    assert!(std::fs::metadata(&sock).is_ok());
}

#[test]
fn silent_client_is_cut_by_stats_timeout_and_garbage_is_survived() {
    let (b, _log) = origin(|_| Answer::ok(b"fine"));
    let dir = tempfile::tempdir().unwrap();
    let sock = sock_path(&dir);
    let w = Weir::start(&cfg(&sock, "level admin", b.addr));

    // `stats timeout 1s`: a client that sends nothing is closed.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).expect("closed, not timed out"), 0);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // Binary garbage, an over-long line, a lone newline: answers, no crash.
    let g = ask(&sock, b"\x00\xff\x01show\terrors\x7f");
    assert!(g.starts_with("Unknown command"), "{g}");
    let long = vec![b'a'; 100_000];
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(&long);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        String::from_utf8_lossy(&out).starts_with("Command line too long."),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(ask(&sock, b""), "");

    // Interactive mode: a prompt after each line until `quit`.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"prompt\nhelp\nquit\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("\n> The following commands"), "{out}");
    assert!(out.ends_with("\n> "), "{out}");

    // Still serving, and the proxy too.
    assert!(ask(&sock, b"show errors").starts_with("Total events"));
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/", "h")).status, 200);
}

#[test]
fn level_user_may_not_read_captures() {
    let (b, _log) = origin(|_| Answer::ok(b"fine"));
    let dir = tempfile::tempdir().unwrap();
    let sock = sock_path(&dir);
    let _w = Weir::start(&cfg(&sock, "level user", b.addr));
    assert_eq!(ask(&sock, b"show errors"), "Permission denied\n");
    assert!(ask(&sock, b"help").contains("show errors"));
}

#[test]
fn a_path_that_is_not_a_socket_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let port = common::free_port();
    let config = format!(
        "global\n    stats socket {}\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 1s\n    timeout server 1s\n\nfrontend web\n    bind 127.0.0.1:{port}\n    \
         http-request return status 200\n",
        file.display()
    );
    let cfg = dir.path().join("weir.cfg");
    std::fs::write(&cfg, config).unwrap();
    let out = common::run_weir(&["-f", cfg.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "{}:2: [global] cannot bind stats socket",
            cfg.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

/// Reads one request head (until the empty line) from `s`.
fn read_head(s: &mut std::net::TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    head
}

#[test]
fn body_errors_in_a_later_receive_are_captured_from_where_the_buffer_starts() {
    // The origin sends a chunked response in two writes: a valid chunk,
    // then (once it was forwarded) a chunk size that is not hex.
    let b = common::backends::Backend::serve(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let head = read_head(&mut s);
        if head.starts_with(b"GET /split") {
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
            std::thread::sleep(Duration::from_millis(300));
            let _ = s.write_all(b"zz\r\nbad\r\n0\r\n\r\n");
            std::thread::sleep(Duration::from_millis(500));
        } else {
            // The request body test: read until weir gives up on it (the
            // read timeout bounds the wait).
            let mut rest = [0u8; 256];
            while matches!(s.read(&mut rest), Ok(n) if n > 0) {}
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let sock = sock_path(&dir);
    let w = Weir::start(&cfg(&sock, "", b.addr));

    let mut c = w.connect(0);
    c.write_all(b"GET /split HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let res = ask(&sock, b"show errors be response");
    assert!(
        res.contains("] backend be (#2): invalid response\n"),
        "{res}"
    );
    assert!(
        res.contains("  buffer starts at body offset 10 (head and earlier body forwarded)"),
        "{res}"
    );
    assert_eq!(position(&res), 0, "{res}");
    assert!(res.contains("  00000  zz\\r\\n\n"), "{res}");

    // The same for a request body: the first chunk goes to the server,
    // the bad size comes in a later receive.
    let mut c = Client::new(w.connect(0));
    c.send(b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    std::thread::sleep(Duration::from_millis(300));
    c.send(b"3\r\nabc\r\nq\r\n");
    let r = c.recv("POST").expect("an answer");
    assert_eq!(r.status, 400);
    let req = ask(&sock, b"show errors web request");
    assert!(
        req.contains("] frontend web (#1): invalid request\n"),
        "{req}"
    );
    assert!(
        req.contains("  backend be (#2), server s1 (#1), event #1, src 127.0.0.1:"),
        "{req}"
    );
    assert!(req.contains("  buffer starts at body offset 10 "), "{req}");
    assert_eq!(position(&req), 8, "{req}");
    assert!(
        req.contains("  00000  3\\r\\n\n  00003  abc\\r\\n\n  00008  q\\r\\n\n"),
        "{req}"
    );
}
