//! `mode http` end to end through the real `weir` binary with in-process
//! origin servers: keep-alive and reuse on both sides, pipelining, bodies
//! (Content-Length and chunked with trailers, byte-exact and large),
//! 100-continue, WebSocket upgrade, content switching, connection modes,
//! and the server-side errors (502 without reuse, 503, 504, 408).

mod common;
#[path = "common/http.rs"]
mod http;

use std::io::{Read, Write};
use std::time::Duration;

use common::Weir;
use http::{get, named, origin, Answer, Client, HTTP_DEFAULTS};

fn cfg(backends: &[(&str, std::net::SocketAddr)], frontend_extra: &str, default: &str) -> String {
    let mut s = format!(
        "{HTTP_DEFAULTS}\nfrontend web\n    bind 127.0.0.1:{{P0}}\n{frontend_extra}    default_backend {default}\n"
    );
    for (name, addr) in backends {
        s.push_str(&format!("\nbackend {name}\n    server s1 {addr}\n"));
    }
    s
}

#[test]
fn keep_alive_reuses_one_server_connection() {
    let (b, log) = named("A");
    let w = Weir::start(&cfg(&[("be", b.addr)], "", "be"));
    let mut c = Client::new(w.connect(0));
    for i in 0..20 {
        let r = c.ask(&get(&format!("/r{i}"), "h"));
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), format!("A /r{i}"));
    }
    assert_eq!(
        b.accepted(),
        1,
        "20 requests on one client connection, one server connection"
    );
    assert_eq!(log.lock().unwrap().len(), 20);
    // Hop-by-hop headers are not forwarded; Host is.
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET /h HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nX-End: 2\r\n\r\n");
    assert_eq!(r.status, 200);
    let last = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.header("host"), Some("x"));
    assert_eq!(last.header("x-end"), Some("2"));
    for h in ["x-hop", "keep-alive", "te", "connection"] {
        assert_eq!(last.header(h), None, "{h} forwarded: {}", last.head);
    }
}

#[test]
fn pipelined_requests_answered_in_order() {
    let (b, log) = named("P");
    let w = Weir::start(&cfg(&[("be", b.addr)], "", "be"));
    let mut c = Client::new(w.connect(0));
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.extend_from_slice(&get(&format!("/p{i}"), "h"));
    }
    c.send(&batch);
    for i in 0..5 {
        let r = c.recv("GET").expect("pipelined response");
        assert_eq!(r.text(), format!("P /p{i}"));
    }
    assert_eq!(log.lock().unwrap().len(), 5);
    assert_eq!(b.accepted(), 1);
}

#[test]
fn bodies_byte_exact_content_length_and_chunked_with_trailers() {
    // The origin echoes the body it decoded, chunked with a trailer.
    let (b, log) = origin(|r| {
        let mut out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for part in r.body.chunks(7000) {
            out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\nx-sum: ");
        out.extend_from_slice(r.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        Answer::raw(&out)
    });
    let w = Weir::start(&cfg(&[("be", b.addr)], "", "be"));
    let mut c = Client::new(w.connect(0));
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    // Content-Length request body, larger than any buffer.
    let mut req = format!(
        "POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = c.ask(&req);
    assert_eq!(r.status, 200);
    assert!(
        r.body == body,
        "echoed body differs (len {} vs {})",
        r.body.len(),
        body.len()
    );
    assert_eq!(r.trailers, vec![format!("x-sum: {}", body.len())]);
    // Chunked request body with extensions and a trailer, same connection.
    let mut req = b"POST /ch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for (i, part) in body.chunks(9973).enumerate() {
        req.extend_from_slice(format!("{:x};ext={i}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\nx-client-trailer: yes\r\n\r\n");
    let r = c.ask(&req);
    assert!(r.body == body, "chunked round trip differs");
    let got = log.lock().unwrap();
    let last = got.last().unwrap();
    assert!(
        last.raw.ends_with(b"0\r\nx-client-trailer: yes\r\n\r\n"),
        "trailer not forwarded as-is"
    );
    assert_eq!(b.accepted(), 1);
}

#[test]
fn expect_100_continue_passes_the_interim_response() {
    // The origin answers 100 Continue after the head, then reads the body.
    let b = common::backends::Backend::serve(|s| {
        let mut w = s.try_clone().unwrap();
        let mut r = std::io::BufReader::new(s);
        let mut raw = Vec::new();
        let mut head = String::new();
        loop {
            let mut l = String::new();
            std::io::BufRead::read_line(&mut r, &mut l).unwrap();
            raw.extend_from_slice(l.as_bytes());
            if l == "\r\n" {
                break;
            }
            head.push_str(&l);
        }
        assert!(head.to_ascii_lowercase().contains("expect: 100-continue"));
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        let mut body = [0u8; 5];
        r.read_exact(&mut body).unwrap();
        w.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\n")
            .unwrap();
        w.write_all(&body).unwrap();
    });
    let w = Weir::start(&cfg(&[("be", b.addr)], "", "be"));
    let mut c = Client::new(w.connect(0));
    c.send(b"PUT /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.recv("PUT").expect("interim");
    assert_eq!(interim.status, 100);
    c.send(b"hello");
    let r = c.recv("PUT").expect("final");
    assert_eq!(r.status, 201);
    assert_eq!(r.text(), "hello");
}

#[test]
fn websocket_upgrade_then_echo_tunnel() {
    let b = common::backends::Backend::serve(|s| {
        let mut w = s.try_clone().unwrap();
        let mut r = std::io::BufReader::new(s);
        let req = http::read_request(&mut r).unwrap();
        assert_eq!(req.header("upgrade"), Some("websocket"));
        assert!(req
            .header("connection")
            .unwrap()
            .to_ascii_lowercase()
            .contains("upgrade"));
        w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if w.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let w = Weir::start(&cfg(&[("be", b.addr)], "    timeout tunnel 5s\n", "be"));
    let mut c = Client::new(w.connect(0));
    c.send(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    let r = c.recv("GET").expect("101");
    assert_eq!(r.status, 101);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    for i in 0..50 {
        let msg = format!("frame-{i}-").repeat(i + 1);
        c.send(msg.as_bytes());
        let mut back = vec![0u8; msg.len()];
        c.r.read_exact(&mut back).unwrap();
        assert_eq!(back, msg.as_bytes());
    }
}

#[test]
fn content_switching_on_host_and_path() {
    let (a, _) = named("api");
    let (s, _) = named("static");
    let (d, _) = named("default");
    let fe = "    acl is_api hdr(host) -i api.example\n    acl is_static path_beg /static/ /img/\n    use_backend api if is_api\n    use_backend stat if is_static !is_api\n";
    let w = Weir::start(&cfg(
        &[("api", a.addr), ("stat", s.addr), ("dflt", d.addr)],
        fe,
        "dflt",
    ));
    let mut c = Client::new(w.connect(0));
    for (path, host, want) in [
        ("/x", "API.example", "api /x"),
        ("/static/a.css", "www", "static /static/a.css"),
        ("/img/b.png", "api.example", "api /img/b.png"),
        ("/", "www", "default /"),
        ("/static/", "www", "static /static/"),
    ] {
        // One client connection across backends: the server side follows.
        let r = c.ask(&get(path, host));
        assert_eq!(r.text(), want, "{host}{path}");
    }
}

#[test]
fn connection_modes() {
    // http-server-close: client kept, one server connection per request.
    let (b, _) = named("S");
    let w = Weir::start(&cfg(
        &[("be", b.addr)],
        "    option http-server-close\n",
        "be",
    ));
    let mut c = Client::new(w.connect(0));
    for _ in 0..3 {
        assert_eq!(c.ask(&get("/", "h")).status, 200);
    }
    assert!(common::eventually(Duration::from_secs(2), || b.accepted() == 3));
    // httpclose: the client connection closes after the response.
    let (b2, _) = named("C");
    let w2 = Weir::start(&cfg(&[("be", b2.addr)], "    option httpclose\n", "be"));
    let mut c = Client::new(w2.connect(0));
    let r = c.ask(&get("/", "h"));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
    // HTTP/1.0 without keep-alive: closed after the response.
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(c.closed());
}

#[test]
fn bad_response_is_502_and_the_connection_is_not_reused() {
    let (b, log) = origin(|r| {
        if r.line().contains("/bad") {
            Answer::raw(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc")
        } else {
            Answer::ok(b"fine")
        }
    });
    let w = Weir::start(&cfg(&[("be", b.addr)], "", "be"));
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/ok", "h")).status, 200);
    let r = c.ask(&get("/bad", "h"));
    assert_eq!(r.status, 502);
    assert!(c.closed(), "an error page closes the client connection");
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/ok2", "h")).text(), "fine");
    assert_eq!(
        b.accepted(),
        2,
        "the connection that sent garbage was not reused"
    );
    assert_eq!(log.lock().unwrap().len(), 3);
    assert!(w.wait_output("502 Bad Gateway: invalid response", Duration::from_secs(2)));
}

#[test]
fn no_server_is_503_and_slow_server_is_504() {
    let dead = common::backends::refusing_addr();
    let w = Weir::start(&cfg(&[("be", dead)], "", "be"));
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/", "h")).status, 503);

    let (slow, _) = origin(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        Answer::ok(b"late")
    });
    let t = format!(
        "{HTTP_DEFAULTS}    timeout server 300ms\nfrontend web\n    bind 127.0.0.1:{{P0}}\n    default_backend be\nbackend be\n    server s1 {}\n",
        slow.addr
    );
    let w = Weir::start(&t);
    let mut c = Client::new(w.connect(0));
    let started = std::time::Instant::now();
    assert_eq!(c.ask(&get("/", "h")).status, 504);
    assert!(started.elapsed() < Duration::from_millis(1400));
}

#[test]
fn slow_request_head_gets_408() {
    let (b, log) = named("T");
    let t = format!(
        "{HTTP_DEFAULTS}    timeout http-request 300ms\nfrontend web\n    bind 127.0.0.1:{{P0}}\n    default_backend be\nbackend be\n    server s1 {}\n",
        b.addr
    );
    let w = Weir::start(&t);
    let mut c = Client::new(w.connect(0));
    let started = std::time::Instant::now();
    // Slowloris: a few bytes, then nothing.
    c.send(b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ");
    let r = c.recv("GET").expect("408");
    assert_eq!(r.status, 408);
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(c.closed());
    assert!(log.lock().unwrap().is_empty());
    // An idle keep-alive connection is closed silently after the timeout.
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/", "h")).status, 200);
    assert!(c.closed());
}

#[test]
fn idle_server_connections_are_shared_between_clients() {
    // `http-reuse always`: a closed client's server connection serves the
    // next client's first request.
    let (b, _) = named("I");
    let w = Weir::start(
        &cfg(&[("be", b.addr)], "", "be")
            .replace("    server s1", "    http-reuse always\n    server s1"),
    );
    for _ in 0..5 {
        let mut c = Client::new(w.connect(0));
        assert_eq!(
            c.ask(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .status,
            200
        );
        assert!(c.closed());
    }
    assert_eq!(b.accepted(), 1, "one server connection for five clients");

    // `http-reuse safe` (the default): only a request that is not the
    // first of its client connection takes another client's idle one.
    let (x, _) = named("X");
    let (y, _) = named("Y");
    let fe = "    use_backend y if { path_beg /y }\n";
    let w = Weir::start(&cfg(&[("x", x.addr), ("y", y.addr)], fe, "x"));
    let mut a = Client::new(w.connect(0));
    assert_eq!(a.ask(&get("/a", "h")).text(), "X /a");
    drop(a);
    assert!(common::eventually(Duration::from_secs(2), || x.active() == 1));
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/y", "h")).text(), "Y /y");
    assert_eq!(c.ask(&get("/b", "h")).text(), "X /b");
    assert_eq!(
        x.accepted(),
        1,
        "the second request rode on the idle connection"
    );
    // A first request never does: it opens its own.
    let mut d = Client::new(w.connect(0));
    assert_eq!(d.ask(&get("/c", "h")).text(), "X /c");
    assert_eq!(x.accepted(), 2);
}

#[test]
fn a_dead_idle_connection_is_retried_on_a_new_one() {
    // The origin closes every connection after its response without saying
    // so: each reused idle connection is dead, and the request must be sent
    // again on a fresh one rather than fail.
    let (b, log) = origin(|_| Answer::raw_close(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
    let w = Weir::start(
        &cfg(&[("be", b.addr)], "", "be")
            .replace("    server s1", "    http-reuse always\n    server s1"),
    );
    for i in 0..5 {
        let mut c = Client::new(w.connect(0));
        let r = c.ask(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "ok"),
            "client {i}\n{}",
            w.output()
        );
        // Let the origin's close reach weir's idle connection first.
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(log.lock().unwrap().len(), 5);
    // Keep-alive client, same story on its own connection.
    let mut c = Client::new(w.connect(0));
    for _ in 0..3 {
        assert_eq!(c.ask(&get("/", "h")).status, 200);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// VmRSS of process `pid`, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[test]
fn idle_keep_alive_connections_cost_under_512_bytes_each() {
    // The budget of an idle keep-alive client connection: no buffer and no
    // parser held between requests (they cost ~20 KiB and ~4 KiB), only
    // the session bookkeeping.
    const N: usize = 1000;
    let (b, _log) = named("I");
    let w = Weir::start(&cfg(&[("be", b.addr)], "", "be"));
    // First-use allocations (buffers, scratch, slabs) happen here.
    for i in 0..100 {
        let mut c = Client::new(w.connect(0));
        assert_eq!(c.ask(&get(&format!("/w{i}"), "h")).status, 200);
    }
    let warm: Vec<_> = (0..50)
        .map(|_| {
            let mut c = Client::new(w.connect(0));
            assert_eq!(c.ask(&get("/w", "h")).status, 200);
            c
        })
        .collect();
    drop(warm);
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(w.pid());
    let mut idle = Vec::with_capacity(N);
    for i in 0..N {
        let mut c = Client::new(w.connect(0));
        assert_eq!(c.ask(&get(&format!("/i{i}"), "h")).status, 200);
        idle.push(c);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(w.pid());
    let per_conn = after.saturating_sub(before) * 1024 / N as u64;
    // Still open and served (nothing was closed to save memory).
    for c in idle.iter_mut().rev().take(5) {
        assert_eq!(c.ask(&get("/again", "h")).status, 200);
    }
    assert!(
        per_conn < 512,
        "{per_conn} bytes of VmRSS per idle keep-alive connection ({before} KiB -> {after} KiB for {N})"
    );
    eprintln!("{per_conn} bytes per idle keep-alive connection");
}
