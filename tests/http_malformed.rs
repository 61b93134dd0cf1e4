//! Malformed and tricky requests end to end: each is sent on its own
//! connection through the real `weir` binary to a recording origin. A
//! rejected request gets the documented status and never reaches the
//! origin; an accepted one reaches it as one unambiguous message (the origin
//! parses it strictly and both sides agree on where it ends).

mod common;
#[path = "common/http.rs"]
mod http;

use common::Weir;
use http::{origin, Answer, Client, HTTP_DEFAULTS};

/// (what, request bytes, expected status). 200: forwarded and answered.
const CASES: &[(&str, &[u8], u16)] = &[
    // ---- valid but unusual: forwarded ----------------------------------
    ("minimal", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ("leading empty lines", b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ("cl same list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 200),
    ("cl same twice", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello", 200),
    ("cl leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello", 200),
    ("te upper case", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200),
    ("cl and te: te wins, cl dropped", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200),
    ("chunk extensions", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c\r\nhello\r\n0;x\r\n\r\n", 200),
    ("chunk size leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n0\r\n\r\n", 200),
    ("absolute form", b"GET http://a.example/b?c HTTP/1.1\r\nHost: a.example\r\n\r\n", 200),
    ("options asterisk", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ("extension method", b"PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ("http/1.0 without host", b"GET / HTTP/1.0\r\n\r\n", 200),
    ("obs-text in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", 200),
    ("tchar specials in name", b"GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+-.^_`|~: v\r\n\r\n", 200),
    // ---- request line ----------------------------------------------------
    ("double space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("http/0.9", b"GET /\r\n\r\n", 400),
    ("http/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("lower-case version", b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    ("bare lf after request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    ("method non-token", b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("nul in method", b"GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("fragment", b"GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("control in target", b"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("asterisk with get", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("authority with get", b"GET a.example:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("relative target", b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("connect refused", b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 405),
    // ---- header syntax ---------------------------------------------------
    ("missing host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("no colon", b"GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", 400),
    ("non-token name", b"GET / HTTP/1.1\r\nHost: a\r\nX(: v\r\n\r\n", 400),
    ("nul in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
    ("bare cr in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    ("whitespace after start line", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    ("unsupported expect", b"GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417),
    // ---- content-length --------------------------------------------------
    ("cl negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
    ("cl plus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400),
    ("cl empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
    ("cl hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
    ("cl overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400),
    ("cl list differs", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello", 400),
    ("cl fields differ", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    ("cl invalid even with te", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n", 400),
    // ---- transfer-encoding obfuscations ------------------------------------
    ("te chunked not last", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("te chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    ("te twice across fields", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
    ("te quoted", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
    ("te with params", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400),
    ("te vertical tab", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", 400),
    ("te space before colon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
    ("te on http/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te folded", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400),
    // ---- chunk sizes and framing -------------------------------------------
    ("chunk size not hex", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size negative", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size 0x prefix", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk data too long", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk bare lf", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
    ("chunk size with space inside", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n0\r\n\r\n", 400),
];

#[test]
fn malformed_table_end_to_end() {
    assert!(CASES.len() >= 60, "the table keeps at least 60 cases");
    let (b, log) = origin(|r| Answer::ok(format!("got {}", r.body.len()).as_bytes()));
    let t = format!(
        "{HTTP_DEFAULTS}frontend web\n    bind 127.0.0.1:{{P0}}\n    default_backend be\nbackend be\n    server s1 {}\n",
        b.addr
    );
    let w = Weir::start(&t);
    let mut forwarded = 0;
    for (what, req, want) in CASES {
        let before = log.lock().unwrap().len();
        let mut c = Client::new(w.connect(0));
        c.send(req);
        let method = std::str::from_utf8(req)
            .ok()
            .and_then(|s| s.trim_start().split(' ').next())
            .unwrap_or("GET")
            .to_string();
        let r = c
            .recv(&method)
            .unwrap_or_else(|| panic!("{what}: no response\n{}", w.output()));
        assert_eq!(r.status, *want, "{what}: {}\n{}", r.head, r.text());
        let after = log.lock().unwrap().len();
        if *want == 200 {
            forwarded += 1;
            assert_eq!(after, before + 1, "{what}: not forwarded exactly once");
            let got = log.lock().unwrap()[before].clone();
            // Never both framings, never a stale length next to chunked.
            let cl = got.header("content-length").is_some();
            let te = got.header("transfer-encoding").is_some();
            assert!(
                !(cl && te),
                "{what}: forwarded with CL and TE:\n{}",
                got.head
            );
            if req.windows(6).any(|w| w == b"hello\r") || req.ends_with(b"hello") {
                assert_eq!(got.body, b"hello", "{what}: body");
                assert_eq!(r.text(), "got 5", "{what}");
            }
        } else {
            assert_eq!(
                after, before,
                "{what}: a rejected request reached the origin"
            );
            assert!(c.closed(), "{what}: connection left open after an error");
        }
    }
    assert_eq!(log.lock().unwrap().len(), forwarded);
    // Every rejection was logged with a reason and an offset.
    assert!(w.wait_output("at offset", std::time::Duration::from_secs(2)));
}

#[test]
fn pipelined_request_after_cl_te_is_not_smuggled() {
    // CL says 3 bytes, TE says chunked: the chunked framing wins, the
    // connection closes after this message, and the bytes after it are
    // never treated as a second request.
    let (b, log) = origin(|_| Answer::ok(b"ok"));
    let t = format!(
        "{HTTP_DEFAULTS}frontend web\n    bind 127.0.0.1:{{P0}}\n    default_backend be\nbackend be\n    server s1 {}\n",
        b.addr
    );
    let w = Weir::start(&t);
    let mut c = Client::new(w.connect(0));
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.recv("POST").expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
    let got = log.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert!(!got[0].raw.windows(9).any(|w| w == b"/smuggled"));
}

#[test]
fn random_garbage_and_split_messages_never_crash_or_hang() {
    use rand::{Rng, SeedableRng};
    use std::io::Write;
    let (b, _) = origin(|r| Answer::ok(format!("got {}", r.body.len()).as_bytes()));
    let t = format!(
        "{HTTP_DEFAULTS}    timeout http-request 500ms\n    timeout client 1s\n    timeout server 1s\nfrontend web\n    bind 127.0.0.1:{{P0}}\n    default_backend be\nbackend be\n    server s1 {}\n",
        b.addr
    );
    let w = Weir::start(&t);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let started = std::time::Instant::now();
    for i in 0..200 {
        // A table case, mutated: bytes flipped, truncated, or pure noise.
        let (_, base, _) = CASES[i % CASES.len()];
        let mut msg = base.to_vec();
        match i % 4 {
            0 => {
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..msg.len());
                    msg[at] = rng.random();
                }
            }
            1 => msg.truncate(rng.random_range(0..msg.len())),
            2 => {
                msg = (0..rng.random_range(1..300))
                    .map(|_| rng.random())
                    .collect()
            }
            _ => {}
        }
        let mut s = w.connect(0);
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        // Sent in random pieces: the parser resumes across them.
        let mut rest = &msg[..];
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len());
            if s.write_all(&rest[..n]).is_err() {
                break;
            }
            rest = &rest[n..];
        }
        if i % 3 == 0 {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        // Whatever happens, weir answers or closes within its timeouts
        // (a truncated body waits for `timeout client`, 1 s here).
        let mut sink = Vec::new();
        let r = std::io::Read::read_to_end(&mut s, &mut sink);
        assert!(
            r.is_ok() || matches!(r, Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "case {i}: no answer nor close: {r:?}"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
    // Still serving, and nothing panicked.
    let mut c = Client::new(w.connect(0));
    assert_eq!(c.ask(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
    assert!(!w.output().contains("panicked"), "{}", w.output());
}
