//! HAProxy keywords weir accepts because they map onto existing machinery,
//! end to end through the real `weir` binary: the proxy-level `redirect`
//! (after the `http-request` rules of its section), `monitor-uri` with
//! `monitor fail`, `http-error` and `http-request silent-drop`.

mod common;
#[path = "common/http.rs"]
mod http;

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use common::{check_config, eventually, Weir};
use http::{get, named, origin, Answer, Client, HTTP_DEFAULTS};

#[test]
fn redirect_keyword_runs_after_the_http_request_rules() {
    let (b, log) = named("origin");
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
frontend web
    bind 127.0.0.1:{{P0}}
    http-request allow if {{ path /allowed }}
    redirect prefix https://new.example code 301 drop-query if {{ path_beg /old }}
    redirect scheme https if {{ hdr(host) plain.example }}
    redirect location /moved set-cookie seen=1 if {{ path /allowed }}
    redirect location /bye clear-cookie seen= if {{ path /logout }}
    http-request deny if {{ path /old/denied }}
    http-request redirect location /new%[path]?h=%[req.hdr(host)]&p=100%% if {{ path_beg /lf }}
    default_backend be
backend be
    redirect location /from-backend code 303 if {{ path /be }}
    http-request deny if {{ path /be }} {{ hdr(x-deny) 1 }}
    server s1 {}
",
        b.addr
    ));
    let mut c = Client::new(w.connect(0));
    // The http-request deny written after the redirect still comes first.
    let r = c.ask(&get("/old/denied", "h.example"));
    assert_eq!(r.status, 403, "{}", r.head);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/old/x?q=1", "h.example"));
    assert_eq!(r.status, 301, "{}", r.head);
    assert_eq!(r.header("location"), Some("https://new.example/old/x"));
    // The redirect keeps the connection (no body to skip).
    let r = c.ask(&get("/p?a=b", "plain.example"));
    assert_eq!(r.status, 302, "{}", r.head);
    assert_eq!(r.header("location"), Some("https://plain.example/p?a=b"));
    // `http-request allow` ends the http-request rules, not the redirects.
    let r = c.ask(&get("/allowed", "h.example"));
    assert_eq!(r.status, 302, "{}", r.head);
    assert_eq!(r.header("location"), Some("/moved"));
    assert_eq!(r.header("set-cookie"), Some("seen=1"));
    // http-request redirect: a log-format target.
    let r = c.ask(&get("/lf/x?q=1", "h.example"));
    assert_eq!(r.header("location"), Some("/new/lf/x?h=h.example&p=100%"));
    let r = c.ask(&get("/logout", "h.example"));
    assert_eq!(r.header("location"), Some("/bye"));
    assert_eq!(r.header("set-cookie"), Some("seen=; Max-Age=0"));
    // The backend's redirect follows the backend's http-request rules.
    let r = c.ask(&get("/be", "h.example"));
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(r.header("location"), Some("/from-backend"));
    let r = c.ask(b"GET /be HTTP/1.1\r\nHost: h\r\nx-deny: 1\r\n\r\n");
    assert_eq!(r.status, 403, "{}", r.head);
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/other", "h.example"));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "origin /other");
    let seen: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|q| q.line().to_string())
        .collect();
    assert_eq!(
        seen,
        ["GET /other HTTP/1.1"],
        "only the last request is forwarded"
    );
}

#[test]
fn monitor_uri_answers_before_the_rules_and_monitor_fail_turns_it_503() {
    let (b, log) = named("origin");
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
frontend web
    bind 127.0.0.1:{{P0}}
    monitor-uri /healthz
    monitor fail if {{ hdr(x-maint) 1 }}
    http-request deny if {{ path_beg /healthz }}
    default_backend be
frontend custom
    bind 127.0.0.1:{{P1}}
    monitor-uri /up
    http-error status 200 content-type text/plain string alive hdr x-mon yes
    default_backend be
backend be
    server s1 {}
",
        b.addr
    ));
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/healthz", "h"));
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(r.text().contains("200 OK"), "{}", r.text());
    // HAProxy closes after a monitor answer.
    assert!(c.closed());
    let mut c = Client::new(w.connect(0));
    let r = c.ask(b"HEAD /healthz HTTP/1.0\r\nx-maint: 1\r\n\r\n");
    assert_eq!(r.status, 503, "{}", r.head);
    // Only the exact URI: the rules see the others.
    let mut c = Client::new(w.connect(0));
    let r = c.ask(&get("/healthz?full=1", "h"));
    assert_eq!(r.status, 403, "{}", r.head);
    // The 200 page is the status' error page, which http-error replaces.
    let mut c = Client::new(w.connect(1));
    let r = c.ask(&get("/up", "h"));
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.text(), "alive");
    assert_eq!(r.header("x-mon"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let mut c = Client::new(w.connect(1));
    let r = c.ask(&get("/down", "h"));
    assert_eq!(r.text(), "origin /down");
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "monitor requests are not forwarded"
    );
}

#[test]
fn http_error_replaces_error_pages() {
    let (b, _log) = named("origin");
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("403.json");
    std::fs::write(&body, "{\"denied\":true}").unwrap();
    let raw = dir.path().join("404.http");
    std::fs::File::create(&raw)
        .unwrap()
        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope")
        .unwrap();
    let lf = dir.path().join("429.txt");
    std::fs::write(&lf, "slow down: 100%% of quota").unwrap();
    let lf_expr = dir.path().join("who.txt");
    std::fs::write(&lf_expr, "path %[path]\nfrom %[src]\n").unwrap();
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}    http-error status 503 content-type text/plain string \"sorry, down\" hdr x-why maint\n\
frontend web
    bind 127.0.0.1:{{P0}}
    http-error status 403 content-type application/json file {}
    errorfile 404 {}
    http-error status 404 errorfile {}
    http-error status 429 content-type text/plain lf-file {}
    http-request return status 200 content-type text/plain lf-string \"all %% done\" if {{ path /lf }}
    http-request return status 200 content-type application/json lf-string '{{\"ip\":\"%[src]\",\"m\":\"%HM\"}}' if {{ path /ip }}
    http-request return status 200 content-type text/plain lf-file {} if {{ path /who }}
    http-request deny if {{ path /deny }}
    http-request deny deny_status 429 if {{ path /slow }}
    http-request deny deny_status 404 if {{ path /missing }}
    http-request deny deny_status 503 if {{ path /maint }}
    use_backend plain if {{ path_beg /plain }}
    default_backend be
backend be
    server s1 {}
backend plain
    http-error status 503 default-errorfiles
    http-request deny deny_status 503
    server s1 {}
",
        body.display(),
        // Replaced by the http-error line after it (the last one wins).
        body.display(),
        raw.display(),
        lf.display(),
        lf_expr.display(),
        b.addr,
        b.addr
    ));
    let ask = |path: &str| Client::new(w.connect(0)).ask(&get(path, "h"));
    let r = ask("/deny");
    assert_eq!(r.status, 403, "{}", r.head);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), "{\"denied\":true}");
    // lf-string / lf-file bodies without expressions ('%%' is a '%').
    let r = ask("/slow");
    assert_eq!(
        (r.status, r.text().as_str()),
        (429, "slow down: 100% of quota")
    );
    let r = ask("/lf");
    assert_eq!((r.status, r.text().as_str()), (200, "all % done"));
    // With expressions, evaluated for each answer (http-request return).
    let r = ask("/ip");
    assert_eq!(r.text(), "{\"ip\":\"127.0.0.1\",\"m\":\"GET\"}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = ask("/who");
    assert_eq!(r.text(), "path /who\nfrom 127.0.0.1\n");
    let r = ask("/missing");
    assert_eq!((r.status, r.text().as_str()), (404, "nope"));
    // Inherited from defaults.
    let r = ask("/maint");
    assert_eq!(r.status, 503);
    assert_eq!(r.text(), "sorry, down");
    assert_eq!(r.header("x-why"), Some("maint"));
    // default-errorfiles: weir's own page again.
    let r = ask("/plain");
    assert_eq!(r.status, 503);
    assert!(r.text().contains("503 Service Unavailable"), "{}", r.text());
    assert_eq!(r.header("x-why"), None);
    let r = ask("/ok");
    assert_eq!(r.text(), "origin /ok");
}

/// Whether the kernel has a TCP socket from 127.0.0.1:`local` to
/// 127.0.0.1:`remote` (weir's side of a test connection), any state but
/// TIME_WAIT.
fn weir_side_open(local: u16, remote: u16) -> bool {
    let want = |p: u16| format!("0100007F:{p:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .any(|f| f.len() > 3 && f[1] == want(local) && f[2] == want(remote) && f[3] != "06")
}

#[test]
fn silent_drop_closes_without_an_answer() {
    // The origin marks its answer to /secret.
    let (b, log) = origin(|r| {
        let path = r.line().split(' ').nth(1).unwrap_or("").to_string();
        let mark = if path == "/secret" {
            "x-secret: 1\r\n"
        } else {
            ""
        };
        let body = format!("origin {path}");
        Answer::raw(
            format!(
                "HTTP/1.1 200 OK\r\n{mark}content-length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    });
    let w = Weir::start(&format!(
        "{HTTP_DEFAULTS}\
frontend web
    bind 127.0.0.1:{{P0}}
    http-request silent-drop if {{ path /drop }}
    default_backend be
frontend resp
    bind 127.0.0.1:{{P1}}
    http-response silent-drop if {{ res.hdr(x-secret) -m found }}
    default_backend be
backend be
    server s1 {}
",
        b.addr
    ));
    let mut c = Client::new(w.connect(0));
    c.r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let (port, client_port) = (w.addr(0).port(), c.w.local_addr().unwrap().port());
    assert!(weir_side_open(port, client_port), "connection accepted");
    c.send(&get("/drop", "h"));
    // Not a byte of answer. With TCP_REPAIR (CAP_NET_ADMIN) the client is
    // told nothing and the read times out; without it, a RST (its hop
    // limit of 1 still reaches a client on the same host).
    let mut buf = [0u8; 64];
    match c.r.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
    }
    // The connection is gone on weir's side (its socket left the kernel's
    // table), and other requests are served.
    assert!(eventually(Duration::from_secs(3), || !weir_side_open(
        port,
        client_port
    )));
    // On the response side: the server's answer is not passed on either.
    let mut c = Client::new(w.connect(1));
    c.r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let client_port = c.w.local_addr().unwrap().port();
    c.send(&get("/secret", "h"));
    let mut buf = [0u8; 64];
    match c.r.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
    }
    let port = w.addr(1).port();
    assert!(eventually(Duration::from_secs(3), || !weir_side_open(
        port,
        client_port
    )));
    let r = Client::new(w.connect(0)).ask(&get("/kept", "h"));
    assert_eq!(r.text(), "origin /kept");
    let seen: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|q| q.line().to_string())
        .collect();
    assert_eq!(seen, ["GET /secret HTTP/1.1", "GET /kept HTTP/1.1"]);
}

#[test]
fn unsupported_forms_are_refused_at_their_line() {
    let head = format!("{HTTP_DEFAULTS}frontend f\n    bind 127.0.0.1:1\n");
    let first = head.lines().count() + 1;
    for (line, want) in [
        (
            "http-error status 503 content-type text/plain lf-string %[src]",
            "not supported by weir yet",
        ),
        (
            "http-error status 503 lf-string x",
            "needs a 'content-type'",
        ),
        (
            "http-error status 503 errorfiles site",
            "not supported by weir yet",
        ),
        ("http-error status 418 string x", "cannot be customised"),
        (
            "http-error status 503 default-errorfiles hdr a b",
            "cannot be combined",
        ),
        ("http-error 503", "expects status"),
        ("monitor fail", "expects if|unless"),
        ("monitor pass if { path / }", "unknown argument 'pass'"),
        ("monitor-uri", "expects an URI"),
        ("redirect", "expects location|prefix|scheme"),
        ("redirect location /x code 305", "code must be"),
        (
            "redirect location /x set-cookie a=1 clear-cookie b",
            "only one of",
        ),
        ("redirect location /x if nosuchacl", "no such ACL"),
        (
            "http-request silent-drop rst-ttl 1",
            "not supported by weir yet",
        ),
    ] {
        let (f, path, _dir) = check_config(&format!("{head}    {line}\n"));
        assert_eq!(f.code(), Some(1), "{line}: {f:?}");
        let prefix = format!("{}:{first}:", path.display());
        assert!(
            f.stderr.contains(&prefix) && f.stderr.contains(want),
            "{line}: {}",
            f.stderr
        );
    }
    // In mode tcp they do nothing: HAProxy's warning.
    let (f, path, _dir) = check_config(
        "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
         listen l\n    bind 127.0.0.1:1\n    monitor-uri /up\n    redirect location /x\n    server s 127.0.0.1:2\n",
    );
    assert_eq!(f.code(), Some(0), "{f:?}");
    assert!(
        f.stderr.contains(&format!("{}:8:", path.display()))
            && f.stderr.contains("'redirect' rules ignored")
            && f.stderr.contains("'monitor-uri' ignored"),
        "{}",
        f.stderr
    );
    // Frontend-side keywords are refused in a backend.
    for line in ["monitor-uri /x", "monitor fail if { path / }"] {
        let (f, _path, _dir) = check_config(&format!(
            "{HTTP_DEFAULTS}backend b\n    {line}\n    server s 127.0.0.1:1\n"
        ));
        assert_eq!(f.code(), Some(1), "{line}: {f:?}");
    }
}
