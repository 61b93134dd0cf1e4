//! The second set of L7 rules end to end, through the real `weir` binary:
//! `tcp-request connection|content accept|reject`, the `replace-*` and
//! `set-pathq` rewrites, variables (`set-var`, `unset-var`, `var()` in
//! conditions and values), `tarpit`, `use-server`, and the response-side
//! `replace-*`, `return` and `set-var`.

mod common;
#[path = "common/http.rs"]
mod http;

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::backends::{connect_from, Backend};
use common::{check_config, Weir};
use http::{get, named, origin, Answer, Client, Log, HTTP_DEFAULTS};

/// An origin that answers with the request line it saw.
fn echo_origin() -> (Backend, Log) {
    origin(|r| {
        let body = r.line().to_string();
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nserver: origin/1.2\r\nx-list: a1, b2, a3\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body.as_bytes());
        Answer::raw(&out)
    })
}

fn start(frontend: &str, backend: &str, addr: std::net::SocketAddr) -> Weir {
    Weir::start(&format!(
        "{HTTP_DEFAULTS}frontend web\n    bind 127.0.0.1:{{P0}}\n{frontend}    default_backend be\nbackend be\n{backend}    server s1 {addr}\n"
    ))
}

/// Reads until EOF; returns the bytes, or None when the read timed out.
fn read_all(s: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(out),
        Err(_) => None,
    }
}

#[test]
fn tcp_request_connection_rules_in_both_modes() {
    let (b, _log) = echo_origin();
    let echo = Backend::echo();
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
frontend web
    bind 127.0.0.1:{{P0}}
    tcp-request connection accept if {{ src 127.0.0.3 }}
    tcp-request connection reject if {{ src 127.0.0.2 127.0.0.3 }}
    tcp-request connection reject if {{ src 127.0.0.4 }} {{ dst_port {{P0}} }}
    default_backend be
backend be
    server s1 {}
frontend raw
    mode tcp
    bind 127.0.0.1:{{P1}}
    tcp-request connection reject unless {{ src 127.0.0.1 }}
    default_backend echo
backend echo
    mode tcp
    server e {}
",
        b.addr, echo.addr
    ));
    // Rejected before anything is read: closed without a byte, even though
    // the client never sent anything.
    for src in [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 4)] {
        let mut s = connect_from(src, w.addr(0)).unwrap();
        let t = Instant::now();
        assert_eq!(read_all(&mut s), Some(vec![]), "from {src}");
        assert!(t.elapsed() < Duration::from_secs(2), "closed at once");
    }
    // `accept` stops the list before the range reject; other sources pass.
    for src in [Ipv4Addr::new(127, 0, 0, 3), Ipv4Addr::new(127, 0, 0, 5)] {
        let mut c = Client::new(connect_from(src, w.addr(0)).unwrap());
        let r = c.ask(&get("/x", "h"));
        assert_eq!((r.status, r.text().as_str()), (200, "GET /x HTTP/1.1"));
    }
    assert_eq!(
        b.accepted(),
        2,
        "rejected connections never reached a server"
    );
    // mode tcp: the same at accept.
    let mut s = connect_from(Ipv4Addr::new(127, 0, 0, 9), w.addr(1)).unwrap();
    let _ = s.write_all(b"ping");
    assert_eq!(read_all(&mut s), Some(vec![]));
    let mut s = connect_from(Ipv4Addr::LOCALHOST, w.addr(1)).unwrap();
    s.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    assert_eq!(echo.accepted(), 1);
}

#[test]
fn tcp_request_content_rules() {
    let (b, log) = echo_origin();
    let fe = "\
    tcp-request inspect-delay 2s
    tcp-request content accept if { hdr(x-vip) yes }
    tcp-request content reject if { path_beg /blocked }
";
    let be = "    tcp-request content reject if { hdr(x-be-block) -m found }\n";
    let w = start(fe, be, b.addr);
    let mut s = w.connect(0);
    s.write_all(&get("/blocked/a", "h")).unwrap();
    assert_eq!(read_all(&mut s), Some(vec![]), "closed, nothing sent");
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/ok", "h")).status, 200);
    // `accept` ends the frontend's list; the backend's rules still run.
    assert_eq!(
        c.ask(b"GET /blocked HTTP/1.1\r\nHost: h\r\nX-Vip: yes\r\n\r\n")
            .status,
        200
    );
    c.send(b"GET /ok HTTP/1.1\r\nHost: h\r\nX-Be-Block: 1\r\n\r\n");
    assert!(c.closed(), "the backend's content rule closed it");
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[test]
fn replace_and_pathq_rewrites() {
    let (b, log) = echo_origin();
    let fe = r"    http-request replace-header X-Cookie foo=([^;]*);(.*) foo=\1;ip=%[src];\2
    http-request replace-value X-Forwarded-For ^192\.168\.(.*)$ 172.16.\1
    http-request add-header X-Added old-value
    http-request replace-header X-Added old-(.*) new-\1
    http-request replace-path /api/v1/(.*) /v2/\1 if { path_beg /api/v1/ }
    http-request replace-uri ^http://[^/]*(/.*)$ \1
    http-request set-pathq /pq?from=%[path] if { path /pq }
    http-request set-pathq /noquery if { path /nq }
    http-request replace-pathq ^/rq\?a=(.*)$ /rq2?b=\1
";
    let w = start(fe, "", b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(
        b"GET /api/v1/users?id=7 HTTP/1.1\r\nHost: h\r\n\
          X-Cookie: foo=bar; expires=never\r\n\
          X-Forwarded-For: 192.168.10.1, 10.0.0.37,192.168.13.24\r\n\r\n",
    );
    assert_eq!(r.text(), "GET /v2/users?id=7 HTTP/1.1");
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        got.header("x-cookie"),
        Some("foo=bar;ip=127.0.0.1; expires=never")
    );
    assert_eq!(
        got.header("x-forwarded-for"),
        Some("172.16.10.1, 10.0.0.37, 172.16.13.24")
    );
    assert_eq!(got.header("x-added"), Some("new-value"));
    // No match: left alone.
    c.ask(b"GET /x HTTP/1.1\r\nHost: h\r\nX-Cookie: other\r\n\r\n");
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(got.header("x-cookie"), Some("other"));
    let r = c.ask(b"GET http://h.example/abs?q=1 HTTP/1.1\r\nHost: h.example\r\n\r\n");
    assert_eq!(r.text(), "GET /abs?q=1 HTTP/1.1");
    assert_eq!(
        c.ask(&get("/pq?x=1", "h")).text(),
        "GET /pq?from=/pq HTTP/1.1"
    );
    assert_eq!(c.ask(&get("/nq?x=1", "h")).text(), "GET /noquery HTTP/1.1");
    assert_eq!(c.ask(&get("/rq?a=5", "h")).text(), "GET /rq2?b=5 HTTP/1.1");
}

#[test]
fn variables_in_conditions_and_values() {
    let (b, log) = echo_origin();
    let fe = "\
    http-request set-var(sess.first) path if { http_first_req }
    http-request set-var(txn.who) req.hdr(x-who),lower
    http-request set-var(txn.n) req.hdr_cnt
    http-request set-var(req.tmp) str(gone)
    http-request unset-var(req.tmp) if { path /unset }
    acl admin var(txn.who) -m str admin
    acl many var(txn.n) -m int gt 3
    http-request deny deny_status 403 if admin
    http-request return status 200 content-type text/plain string many if many
    http-request set-header X-Who %[var(txn.who)]
    http-request set-header X-First %[var(sess.first)]
    http-request set-header X-Tmp %[var(req.tmp)]
    http-response set-var(res.st) status
    http-response set-header X-St %[var(res.st)]
    http-response set-header X-Who-Back %[var(txn.who)]
    http-response set-header X-Req-Tmp %[var(req.tmp)]
";
    let w = start(fe, "", b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET /one HTTP/1.1\r\nHost: h\r\nX-Who: Alice\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-st"), Some("200"));
    assert_eq!(
        r.header("x-who-back"),
        Some("alice"),
        "txn lives on in the response"
    );
    assert_eq!(r.header("x-req-tmp"), Some(""), "req ends with the request");
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(got.header("x-who"), Some("alice"));
    assert_eq!(got.header("x-first"), Some("/one"));
    assert_eq!(got.header("x-tmp"), Some("gone"));
    // Second request on the connection: sess kept, txn reset.
    c.ask(&get("/unset", "h"));
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(got.header("x-first"), Some("/one"), "sess.first is kept");
    assert_eq!(
        got.header("x-who"),
        Some(""),
        "txn.who ended with the last transaction"
    );
    assert_eq!(got.header("x-tmp"), Some(""), "unset-var");
    // Variables in ACLs, as strings and as integers.
    let r = c.ask(b"GET / HTTP/1.1\r\nHost: h\r\nX-Who: ADMIN\r\n\r\n");
    assert_eq!(r.status, 403);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "many"));
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[test]
fn tarpit_holds_then_answers_500() {
    let (b, log) = echo_origin();
    let fe = "\
    timeout tarpit 400ms
    http-request tarpit if { path /trap }
    http-request tarpit deny_status 429 if { path /slow }
";
    let w = start(fe, "", b.addr);
    for (path, status) in [("/trap", 500), ("/slow", 429)] {
        let mut c = Client::new(w.connect(0));
        let t = Instant::now();
        let r = c.ask(&get(path, "h"));
        let took = t.elapsed();
        assert_eq!(r.status, status, "{path}");
        assert!(took >= Duration::from_millis(380), "{path}: held {took:?}");
        assert!(took < Duration::from_secs(3), "{path}: held {took:?}");
        assert!(c.closed(), "{path}: closed after the answer");
    }
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/fine", "h")).status, 200);
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "tarpitted requests never left"
    );
}

#[test]
fn tarpit_defaults_to_timeout_connect() {
    let (b, _log) = echo_origin();
    let w = Weir::start(&format!(
        "global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 300ms\n    \
         timeout client 10s\n    timeout server 10s\nfrontend web\n    bind 127.0.0.1:{{P0}}\n    \
         http-request tarpit\n    default_backend be\nbackend be\n    server s1 {}\n",
        b.addr
    ));
    let mut c = Client::new(w.connect(0));
    let t = Instant::now();
    assert_eq!(c.ask(&get("/", "h")).status, 500);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(1800),
        "held {took:?} (timeout connect 300ms)"
    );
}

#[test]
fn use_server_picks_the_named_server() {
    let (one, _) = named("one");
    let (two, _) = named("two");
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
frontend web
    bind 127.0.0.1:{{P0}}
    default_backend be
backend be
    balance roundrobin
    use-server s3 if {{ path /three }}
    use-server s2 if {{ path_beg /two }}
    use-server s1 if {{ hdr(x-pin) one }}
    server s1 {}
    server s2 {}
    server s3 127.0.0.1:1 disabled
",
        one.addr, two.addr
    ));
    let mut c = Client::new(w.connect(0));
    for i in 0..4 {
        let r = c.ask(&get(&format!("/two/{i}"), "h"));
        assert_eq!(r.text(), format!("two /two/{i}"));
    }
    // Same client connection, another server: the pinned one wins over the
    // server connection already open.
    let r = c.ask(b"GET /p HTTP/1.1\r\nHost: h\r\nX-Pin: one\r\n\r\n");
    assert_eq!(r.text(), "one /p");
    assert_eq!(c.ask(&get("/two/x", "h")).text(), "two /two/x");
    // A disabled server is not used: the balancer chooses.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let mut c = Client::new(w.connect(0));
        let r = c.ask(&get("/three", "h"));
        assert_eq!(r.status, 200);
        seen.push(r.text());
    }
    assert!(seen.contains(&"one /three".to_string()), "{seen:?}");
    assert!(seen.contains(&"two /three".to_string()), "{seen:?}");
}

#[test]
fn response_rules() {
    let (b, _log) = origin(|r| {
        if r.line().starts_with("GET /missing") {
            Answer::raw(
                b"HTTP/1.1 404 Not Found\r\nserver: origin/1.2\r\ncontent-length: 4\r\n\r\nnope",
            )
        } else {
            Answer::raw(
                b"HTTP/1.1 200 OK\r\nserver: origin/1.2\r\nx-list: a1, b2, a3\r\ncontent-length: 2\r\n\r\nok",
            )
        }
    });
    let be = r"    http-response replace-header Server ^origin/(.*)$ proxied-\1
    http-response replace-value X-List ^a(.)$ z\1
    http-response del-header X-Not-There
    http-response set-var(txn.code) status
    http-response return status 410 content-type text/plain string gone hdr x-was 404 if { status 404 }
";
    let w = start("", be, b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/", "h"));
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    assert_eq!(r.header("server"), Some("proxied-1.2"));
    assert_eq!(r.header("x-list"), Some("z1, b2, z3"));
    let r = c.ask(&get("/missing", "h"));
    assert_eq!((r.status, r.text().as_str()), (410, "gone"));
}

#[test]
fn bad_rules_are_refused_with_their_line() {
    let head = format!(
        "{HTTP_DEFAULTS}backend be\n    server s1 127.0.0.1:1\nfrontend web\n    bind 127.0.0.1:1\n    default_backend be\n"
    );
    let first = head.lines().count() + 1;
    for (line, want) in [
        (
            "    tcp-request connection reject if { path /x }",
            "only src, src_port, dst, dst_port",
        ),
        (
            "    http-request capture req.hdr(host) id 0",
            "not supported by weir yet",
        ),
        (
            "    http-request set-log-level silent",
            "not supported by weir yet",
        ),
        ("    http-request set-var(proc.x) src", "'proc' scope"),
        ("    http-request replace-path ([ /x", "invalid regex"),
        ("    use-server s1", "not allowed in a 'frontend' section"),
    ] {
        let (f, path, _dir) = check_config(&format!("{head}{line}\n"));
        assert_eq!(f.code(), Some(1), "{line}: {f:?}");
        let prefix = format!("{}:{first}:", path.display());
        assert!(
            f.stderr.contains(&prefix) && f.stderr.contains(want),
            "{line}: {}",
            f.stderr
        );
    }
    // Content rules in mode tcp read the payload, not HTTP; use-server
    // names a server.
    let (f, path, _dir) = check_config(
        "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
         listen l\n    bind 127.0.0.1:1\n    tcp-request content reject if { path / }\n    server s 127.0.0.1:2\n",
    );
    assert_eq!(f.code(), Some(1));
    assert!(
        f.stderr.contains(&format!("{}:7:", path.display())) && f.stderr.contains("may only read"),
        "{}",
        f.stderr
    );
    let (f, path, _dir) = check_config(&format!(
        "{HTTP_DEFAULTS}backend be\n    use-server nope\n    server s1 127.0.0.1:1\n"
    ));
    assert_eq!(f.code(), Some(1));
    let line = HTTP_DEFAULTS.lines().count() + 2;
    assert!(
        f.stderr.contains(&format!("{}:{line}:", path.display()))
            && f.stderr.contains("no server 'nope'"),
        "{}",
        f.stderr
    );
}

#[test]
fn base_in_a_value_leaves_room_to_rebuild_the_head() {
    let (b, log) = echo_origin();
    let fe = "    http-request set-header X-Base %[base]\n";
    let w = start(fe, "", b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/p/q?x=1", "site"));
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "GET /p/q?x=1 HTTP/1.1")
    );
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(got.header("x-base"), Some("site/p/q"));
}

#[test]
fn listen_rules_run_once() {
    let (b, log) = echo_origin();
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
listen web
    bind 127.0.0.1:{{P0}}
    http-request add-header X-Once 1
    http-request replace-value X-Count ^(.*)$ \\1+
    http-response add-header X-Back 1
    server s1 {}
",
        b.addr
    ));
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET / HTTP/1.1\r\nHost: h\r\nX-Count: 0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.head.matches("X-Back").count(), 1, "{}", r.head);
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(got.headers("x-once"), ["1"]);
    assert_eq!(got.header("x-count"), Some("0+"));
}

#[test]
fn captures_are_kept_for_the_transaction() {
    let (b, log) = echo_origin();
    let fe = "\
    http-request capture req.hdr(user-agent) len 5
    http-request capture path len 64
    http-request set-header X-Agent %[capture.req.hdr(0)]
    http-request deny deny_status 429 if { capture.req.hdr(1) -m beg /deny }
    http-response set-header X-Path %[capture.req.hdr(1)]
    http-response set-header X-Agent-Back %[capture.req.hdr(0)]
";
    let w = start(fe, "", b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET /a/b HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-path"),
        Some("/a/b"),
        "read back in the response"
    );
    assert_eq!(r.header("x-agent-back"), Some("curl/"));
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(got.header("x-agent"), Some("curl/"), "cut to len 5");
    // The next transaction starts with empty slots.
    let r = c.ask(&get("/c", "h"));
    assert_eq!(r.header("x-agent-back"), Some(""));
    assert_eq!(
        log.lock().unwrap().last().unwrap().header("x-agent"),
        Some("")
    );
    assert_eq!(c.ask(&get("/deny/x", "h")).status, 429);
    // A capture slot belongs to a frontend.
    let (f, path, _dir) = check_config(&format!(
        "{HTTP_DEFAULTS}backend be\n    http-request capture path len 10\n    server s1 127.0.0.1:1\n"
    ));
    assert_eq!(f.code(), Some(1));
    let line = HTTP_DEFAULTS.lines().count() + 2;
    assert!(
        f.stderr.contains(&format!("{}:{line}:", path.display()))
            && f.stderr.contains("only allowed in a frontend or listen"),
        "{}",
        f.stderr
    );
}

#[test]
fn use_server_in_mode_tcp_reads_addresses() {
    let one = Backend::whoami("one");
    let two = Backend::whoami("two");
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
listen raw
    mode tcp
    bind 127.0.0.1:{{P0}}
    balance roundrobin
    use-server s2 if {{ src 127.0.0.2 }}
    server s1 {}
    server s2 {}
",
        one.addr, two.addr
    ));
    for _ in 0..4 {
        assert_eq!(
            common::backends::ask_from(Ipv4Addr::new(127, 0, 0, 2), w.addr(0)).unwrap(),
            "two"
        );
    }
    let seen: Vec<String> = (0..4)
        .map(|_| common::backends::ask(w.addr(0)).unwrap())
        .collect();
    assert!(seen.iter().any(|s| s == "one"), "{seen:?}");
    // In mode tcp there is no request to read.
    let (f, path, _dir) = check_config(&format!(
        "{HTTP_DEFAULTS}backend be\n    mode tcp\n    use-server s1 if {{ path / }}\n    server s1 127.0.0.1:1\n"
    ));
    assert_eq!(f.code(), Some(1));
    let line = HTTP_DEFAULTS.lines().count() + 3;
    assert!(
        f.stderr.contains(&format!("{}:{line}:", path.display()))
            && f.stderr.contains("may only read src"),
        "{}",
        f.stderr
    );
}

#[test]
fn tcp_request_content_in_mode_tcp_inspects_the_first_bytes() {
    let echo = Backend::echo();
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
frontend raw
    mode tcp
    bind 127.0.0.1:{{P0}}
    tcp-request inspect-delay 600ms
    tcp-request content reject if {{ req.payload(0,4) -m str EVIL }}
    tcp-request content accept if {{ req.len ge 4 }}
    default_backend echo
frontend quick
    mode tcp
    bind 127.0.0.1:{{P1}}
    tcp-request content reject if {{ req.len lt 1 }}
    default_backend echo
backend echo
    mode tcp
    server e {}
",
        echo.addr
    ));
    let echoed = |s: &mut std::net::TcpStream, want: &[u8]| {
        let mut got = vec![0u8; want.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, want);
    };
    // Decided on the first bytes, which are then forwarded untouched.
    let mut s = w.connect(0);
    let t = Instant::now();
    s.write_all(b"GOOD data").unwrap();
    echoed(&mut s, b"GOOD data");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "no wait once decided"
    );
    // The bad prefix arrives in two pieces: the rules wait for the rest.
    let mut s = w.connect(0);
    s.write_all(b"EV").unwrap();
    std::thread::sleep(Duration::from_millis(150));
    s.write_all(b"IL!").unwrap();
    assert_eq!(read_all(&mut s), Some(vec![]), "rejected, nothing sent");
    // Too short to decide: after the inspect delay the rules run on what
    // is there, no rule matches, and the connection goes through.
    let mut s = w.connect(0);
    let t = Instant::now();
    s.write_all(b"ok").unwrap();
    echoed(&mut s, b"ok");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_secs(3),
        "waited {took:?}"
    );
    // Without an inspect delay the rules run at once on what is there.
    let mut s = w.connect(1);
    assert_eq!(read_all(&mut s), Some(vec![]), "nothing yet: rejected");
    assert_eq!(echo.accepted(), 2);
}
