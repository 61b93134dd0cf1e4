//! HTTP/1.1 helpers for the `mode http` end-to-end tests: a small recording
//! origin server (on the shared [`Backend`] harness) and a client-side
//! response reader. Both are deliberately simple and strict: they parse
//! exactly what the tests send and fail loudly on anything else.
//!
//! Included by the http test binaries with `#[path = "common/http.rs"]`.
#![allow(dead_code)] // Each test binary uses its own subset.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::backends::Backend;

/// A request as the origin server received it.
#[derive(Debug, Clone, Default)]
pub struct Req {
    /// Request line and header lines, CRLF-joined, without the final CRLF.
    pub head: String,
    /// The decoded body.
    pub body: Vec<u8>,
    /// The exact bytes of the message (head and body as framed).
    pub raw: Vec<u8>,
}

impl Req {
    /// The request line.
    pub fn line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }

    /// Every value of header `name`.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// A response as the client received it.
#[derive(Debug, Clone, Default)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Status line and header lines.
    pub head: String,
    /// The decoded body.
    pub body: Vec<u8>,
    /// Trailer lines of a chunked body.
    pub trailers: Vec<String>,
}

impl Resp {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn read_line(r: &mut impl BufRead, raw: &mut Vec<u8>) -> Option<String> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line).ok()?;
    if n == 0 {
        return None;
    }
    raw.extend_from_slice(&line);
    let s = String::from_utf8_lossy(&line).into_owned();
    Some(s.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a head (start line and fields) up to the empty line.
fn read_head(r: &mut impl BufRead, raw: &mut Vec<u8>) -> Option<String> {
    let mut lines = Vec::new();
    loop {
        let l = read_line(r, raw)?;
        if l.is_empty() {
            if lines.is_empty() {
                continue; // leading empty lines
            }
            return Some(lines.join("\r\n"));
        }
        lines.push(l);
    }
}

/// Reads a chunked body; returns (data, trailer lines).
fn read_chunked(r: &mut impl BufRead, raw: &mut Vec<u8>) -> Option<(Vec<u8>, Vec<String>)> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r, raw)?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            let mut trailers = Vec::new();
            loop {
                let t = read_line(r, raw)?;
                if t.is_empty() {
                    return Some((body, trailers));
                }
                trailers.push(t);
            }
        }
        let mut data = vec![0u8; size + 2];
        r.read_exact(&mut data).ok()?;
        raw.extend_from_slice(&data);
        body.extend_from_slice(&data[..size]);
    }
}

/// Reads one request; `None` at end of stream or on malformed input.
pub fn read_request(r: &mut impl BufRead) -> Option<Req> {
    let mut raw = Vec::new();
    let head = read_head(r, &mut raw)?;
    let chunked = header(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(r, &mut raw)?.0
    } else if let Some(cl) = header(&head, "content-length") {
        let n: usize = cl.parse().ok()?;
        let mut b = vec![0u8; n];
        r.read_exact(&mut b).ok()?;
        raw.extend_from_slice(&b);
        b
    } else {
        Vec::new()
    };
    Some(Req { head, body, raw })
}

/// Reads one response to a request with method `method` (HEAD: no body).
/// Interim (1xx) responses are returned like any other.
pub fn read_response(r: &mut impl BufRead, method: &str) -> Option<Resp> {
    let mut raw = Vec::new();
    let head = read_head(r, &mut raw)?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = header(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let no_body = method == "HEAD" || status < 200 || status == 204 || status == 304;
    let (body, trailers) = if no_body {
        (Vec::new(), Vec::new())
    } else if chunked {
        read_chunked(r, &mut raw)?
    } else if let Some(cl) = header(&head, "content-length") {
        let n: usize = cl.parse().ok()?;
        let mut b = vec![0u8; n];
        r.read_exact(&mut b).ok()?;
        (b, Vec::new())
    } else {
        let mut b = Vec::new();
        r.read_to_end(&mut b).ok()?;
        (b, Vec::new())
    };
    Some(Resp {
        status,
        head,
        body,
        trailers,
    })
}

/// What an origin handler answers: raw response bytes, and whether to
/// close the connection after them.
pub struct Answer {
    pub bytes: Vec<u8>,
    pub close: bool,
}

impl Answer {
    /// `200 OK` with this body and Content-Length.
    pub fn ok(body: &[u8]) -> Answer {
        let mut b = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        b.extend_from_slice(body);
        Answer {
            bytes: b,
            close: false,
        }
    }

    /// Raw bytes, connection kept.
    pub fn raw(bytes: &[u8]) -> Answer {
        Answer {
            bytes: bytes.to_vec(),
            close: false,
        }
    }

    /// Raw bytes, then close.
    pub fn raw_close(bytes: &[u8]) -> Answer {
        Answer {
            bytes: bytes.to_vec(),
            close: true,
        }
    }
}

/// Requests an origin server received, shared with the test.
pub type Log = Arc<Mutex<Vec<Req>>>;

/// An origin server: answers each request with `handler`, keeps
/// connections alive, records every request.
pub fn origin(handler: impl Fn(&Req) -> Answer + Send + Sync + 'static) -> (Backend, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let l2 = Arc::clone(&log);
    let b = Backend::serve(move |s| {
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut w = s.try_clone().expect("clone");
        let mut r = BufReader::new(s);
        while let Some(req) = read_request(&mut r) {
            l2.lock().unwrap().push(req.clone());
            let a = handler(&req);
            if w.write_all(&a.bytes).is_err() || a.close {
                return;
            }
        }
    });
    (b, log)
}

/// An origin answering `200` with a body naming `id` and the request path.
pub fn named(id: &'static str) -> (Backend, Log) {
    origin(move |r| {
        let path = r.line().split(' ').nth(1).unwrap_or("").to_string();
        Answer::ok(format!("{id} {path}").as_bytes())
    })
}

/// A client connection with a buffered reader.
pub struct Client {
    pub w: TcpStream,
    pub r: BufReader<TcpStream>,
}

impl Client {
    /// Wraps a connected stream.
    pub fn new(s: TcpStream) -> Client {
        let w = s.try_clone().expect("clone");
        Client {
            w,
            r: BufReader::new(s),
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, b: &[u8]) {
        self.w.write_all(b).expect("send to weir");
    }

    /// Reads one response (`method` of the request it answers).
    pub fn recv(&mut self, method: &str) -> Option<Resp> {
        read_response(&mut self.r, method)
    }

    /// Sends a request and reads its response.
    pub fn ask(&mut self, req: &[u8]) -> Resp {
        self.send(req);
        let method = std::str::from_utf8(req)
            .ok()
            .and_then(|s| s.split(' ').next())
            .unwrap_or("GET")
            .to_string();
        self.recv(&method).expect("a response from weir")
    }

    /// True once the server closed the connection (reads until EOF, at most
    /// `limit` bytes; false if bytes other than EOF arrive or the read
    /// times out).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0))
            || matches!(self.r.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

/// `GET path` with a Host header.
pub fn get(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

/// The config preamble of the http tests: one worker keeps connection
/// reuse observable (each worker has its own server connections).
pub const HTTP_DEFAULTS: &str = "\
global
    nbthread 1
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
";
