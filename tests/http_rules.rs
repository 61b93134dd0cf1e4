//! `http-request` / `http-response` rules, `option forwardfor` and
//! `errorfile` end to end: what the origin receives and what the client
//! gets, through the real `weir` binary.

mod common;
#[path = "common/http.rs"]
mod http;

use common::Weir;
use http::{get, origin, Answer, Client, Log, HTTP_DEFAULTS};

/// An origin that answers with the request line it saw and a few headers.
fn echo_origin() -> (common::backends::Backend, Log) {
    origin(|r| {
        let body = r.line().to_string();
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nserver: origin/1\r\nx-internal: secret\r\ncontent-length: {}\r\n\r\n",
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

#[test]
fn request_header_and_line_rewrites() {
    let (b, log) = echo_origin();
    let fe = "\
    http-request set-header X-Set one
    http-request add-header X-Add a
    http-request add-header X-Add b
    http-request del-header X-Remove
    http-request set-header X-Replace new
    http-request set-path /rewritten if { path_beg /old/ }
    http-request set-query q=2 if { path /q }
    http-request set-uri /whole?x=1 if { path /uri }
    http-request set-method POST if { path /m }
    http-request set-header X-Cond yes unless { hdr(x-skip) -m found }
";
    let w = start(fe, "", b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET /old/x?k=v HTTP/1.1\r\nHost: h\r\nX-Remove: 1\r\nX-Replace: old\r\nX-Set: zero\r\n\r\n");
    assert_eq!(r.text(), "GET /rewritten?k=v HTTP/1.1");
    let got = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(got.headers("x-set"), ["one"]);
    assert_eq!(got.headers("x-add"), ["a", "b"]);
    assert_eq!(got.headers("x-replace"), ["new"]);
    assert!(got.header("x-remove").is_none());
    assert_eq!(got.header("x-cond"), Some("yes"));
    assert_eq!(c.ask(&get("/q?a=1", "h")).text(), "GET /q?q=2 HTTP/1.1");
    assert_eq!(c.ask(&get("/uri", "h")).text(), "GET /whole?x=1 HTTP/1.1");
    assert_eq!(c.ask(&get("/m", "h")).text(), "POST /m HTTP/1.1");
    c.ask(b"GET / HTTP/1.1\r\nHost: h\r\nX-Skip: 1\r\n\r\n");
    assert!(log
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .header("x-cond")
        .is_none());
    assert_eq!(b.accepted(), 1);
}

#[test]
fn deny_return_redirect() {
    let (b, log) = echo_origin();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("403.http");
    std::fs::write(
        &page,
        "HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\nconnection: close\r\n\r\nnope!\n",
    )
    .unwrap();
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "from a file\n").unwrap();
    let fe = format!(
        "\
    errorfile 403 {}
    acl admin path_beg /admin
    http-request allow if {{ path /admin/open }}
    http-request deny if admin
    http-request deny deny_status 429 if {{ path /busy }}
    http-request return status 200 content-type text/plain string pong hdr x-a b if {{ path /ping }}
    http-request return status 404 content-type text/plain file {} if {{ path /file }}
    http-request redirect location /new code 301 if {{ path /old }}
    http-request redirect prefix /v2 drop-query if {{ path_beg /v1 }}
    http-request redirect scheme https if {{ path /secure }}
",
        page.display(),
        body.display()
    );
    let w = start(&fe, "", b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/ping", "h"));
    assert_eq!((r.status, r.text().as_str()), (200, "pong"));
    assert_eq!(r.header("x-a"), Some("b"));
    // `return` keeps the connection: the next request rides on it.
    let r = c.ask(&get("/file", "h"));
    assert_eq!((r.status, r.text().as_str()), (404, "from a file\n"));
    let r = c.ask(&get("/old", "h"));
    assert_eq!((r.status, r.header("location")), (301, Some("/new")));
    let r = c.ask(&get("/v1/a?b=c", "h"));
    assert_eq!((r.status, r.header("location")), (302, Some("/v2/v1/a")));
    let r = c.ask(&get("/secure?x", "site.example"));
    assert_eq!(r.header("location"), Some("https://site.example/secure?x"));
    let r = c.ask(&get("/admin/open", "h"));
    assert_eq!(r.status, 200, "allow stops the rules");
    assert_eq!(log.lock().unwrap().len(), 1, "/admin/open was forwarded");
    let r = c.ask(&get("/admin/x", "h"));
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, "nope!\n"),
        "errorfile page"
    );
    assert!(c.closed());
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/busy", "h")).status, 429);
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "only /admin/open reached the origin"
    );
}

#[test]
fn response_rules() {
    let (b, _) = echo_origin();
    let be = "\
    http-response del-header x-internal
    http-response set-header server weir-test
    http-response add-header x-added 1
    http-response set-status 203 reason Rewritten if { status 200 }
";
    let w = start("", be, b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/x", "h"));
    assert_eq!(r.status, 203);
    assert!(r.head.starts_with("HTTP/1.1 203 Rewritten"));
    assert_eq!(r.header("server"), Some("weir-test"));
    assert_eq!(r.header("x-added"), Some("1"));
    assert!(r.header("x-internal").is_none());
    assert_eq!(r.text(), "GET /x HTTP/1.1");
    // Deny on a response header: 502 (HAProxy's default for responses).
    let fe = "    http-response deny if { res.hdr(x-internal) -m found }\n";
    let w = start(fe, "", b.addr);
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(&get("/x", "h")).status, 502);
}

#[test]
fn forwardfor_with_except_and_header_name() {
    let (b, log) = echo_origin();
    let w = start(
        "    option forwardfor except 127.0.0.2/32 header X-Client\n",
        "",
        b.addr,
    );
    let mut c = Client::new(w.connect(0));
    c.ask(&get("/", "h"));
    assert_eq!(
        log.lock().unwrap().last().unwrap().header("x-client"),
        Some("127.0.0.1")
    );
    let s =
        common::backends::connect_from(std::net::Ipv4Addr::new(127, 0, 0, 2), w.addr(0)).unwrap();
    let mut c = Client::new(s);
    c.ask(&get("/", "h"));
    assert!(log
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .header("x-client")
        .is_none());
}

#[test]
fn log_format_values_in_rules() {
    let (b, log) = echo_origin();
    let fe = "\
    http-request set-header X-Client %[src]:%cp
    http-request set-header X-Host %[req.hdr(host),lower]
    http-request set-header X-Line \"%HM %HU %HV\"
    http-request set-header X-Pct 100%%
    http-request set-path /v2%HP if { path_beg /api }
    http-response set-header X-Status %ST
";
    // The backend's rules run after switching: %b names it there.
    let be = "    http-request set-header X-Names %f/%b\n";
    let w = start(fe, be, b.addr);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"GET /api/x?q=1 HTTP/1.1\r\nHost: Example.COM\r\n\r\n");
    assert_eq!(r.text(), "GET /v2/api/x?q=1 HTTP/1.1");
    assert_eq!(r.header("x-status"), Some("200"));
    let got = log.lock().unwrap().last().cloned().unwrap();
    let client = got.header("x-client").unwrap();
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert!(
        client["127.0.0.1:".len()..].parse::<u16>().is_ok(),
        "{client}"
    );
    assert_eq!(got.header("x-host"), Some("example.com"));
    assert_eq!(got.header("x-line"), Some("GET /api/x?q=1 HTTP/1.1"));
    assert_eq!(got.header("x-names"), Some("web/be"));
    assert_eq!(got.header("x-pct"), Some("100%"));
}
