//! The last invalid request of each frontend and the last invalid response
//! of each backend, kept for the stats socket's `show errors` as HAProxy
//! keeps them: one capture per proxy and direction, replaced by the next.
//!
//! Workers write a capture only when the HTTP parser rejects a message
//! (rare), under a mutex of that proxy and direction; the normal path never
//! touches this module. The stats socket thread reads a copy through
//! [`crate::Controller::show_errors`]. A capture holds at most
//! [`CAPTURE_MAX`] bytes of the message, so a proxy costs at most two of
//! those whatever the traffic.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::plan::Plan;

/// Most bytes of a message a capture keeps (the rest is counted in `len`).
pub const CAPTURE_MAX: usize = 16 * 1024;

/// One rejected message.
#[derive(Debug, Clone)]
pub struct ErrorCapture {
    /// When it was rejected.
    pub when: SystemTime,
    /// Sequence number among all captures of the process (from 0).
    pub event: u32,
    /// Frontend index (plan order).
    pub frontend: usize,
    /// Backend index, if one was chosen.
    pub backend: Option<usize>,
    /// Server index in the backend, if one was connected.
    pub server: Option<usize>,
    /// The client's address.
    pub src: Option<SocketAddr>,
    /// The parser's state at the error.
    pub state: String,
    /// What was wrong.
    pub reason: String,
    /// Position of the offending byte from the first byte of the message.
    pub offset: u64,
    /// Bytes of the message the buffer held.
    pub len: usize,
    /// Size of the buffer (`tune.bufsize`).
    pub bufsize: usize,
    /// The first `min(len, CAPTURE_MAX)` bytes.
    pub bytes: Vec<u8>,
    /// Set when the buffer began inside the body (the head and earlier body
    /// bytes were forwarded already): the body offset of its first byte.
    pub body_from: Option<u64>,
}

/// A message that failed to parse, as a session reports it.
#[derive(Clone, Copy)]
pub struct Rejected<'a> {
    /// Frontend index.
    pub frontend: usize,
    /// Backend index, if any.
    pub backend: Option<usize>,
    /// Server index, if any.
    pub server: Option<usize>,
    /// The client's address.
    pub src: Option<SocketAddr>,
    /// Parser state (its `Debug` text).
    pub state: &'a dyn std::fmt::Debug,
    /// What was wrong.
    pub reason: &'a dyn std::fmt::Display,
    /// Offset of the offending byte in `bytes`.
    pub offset: u64,
    /// The message as buffered.
    pub bytes: &'a [u8],
    /// `tune.bufsize`.
    pub bufsize: usize,
    /// See [`ErrorCapture::body_from`].
    pub body_from: Option<u64>,
}

/// Per-proxy capture slots, shared by the workers and the stats socket.
#[derive(Debug)]
pub struct Captures {
    /// Per frontend: last invalid request.
    req: Box<[Mutex<Option<ErrorCapture>>]>,
    /// Per backend: last invalid response.
    res: Box<[Mutex<Option<ErrorCapture>>]>,
    events: AtomicU32,
}

/// Which capture of a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Invalid requests (kept by frontends).
    Request,
    /// Invalid responses (kept by backends).
    Response,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Captures {
    /// Empty slots for `frontends` frontends and `backends` backends.
    #[must_use]
    pub fn new(frontends: usize, backends: usize) -> Self {
        Captures {
            req: (0..frontends).map(|_| Mutex::new(None)).collect(),
            res: (0..backends).map(|_| Mutex::new(None)).collect(),
            events: AtomicU32::new(0),
        }
    }

    fn make(&self, r: &Rejected<'_>) -> ErrorCapture {
        ErrorCapture {
            when: SystemTime::now(),
            event: self.events.fetch_add(1, Relaxed),
            frontend: r.frontend,
            backend: r.backend,
            server: r.server,
            src: r.src,
            state: format!("{:?}", r.state),
            reason: r.reason.to_string(),
            offset: r.offset,
            len: r.bytes.len(),
            bufsize: r.bufsize,
            bytes: r.bytes[..r.bytes.len().min(CAPTURE_MAX)].to_vec(),
            body_from: r.body_from,
        }
    }

    /// Keeps `r` as frontend `r.frontend`'s last invalid request.
    pub fn request(&self, r: &Rejected<'_>) {
        if let Some(slot) = self.req.get(r.frontend) {
            let c = self.make(r);
            *lock(slot) = Some(c);
        }
    }

    /// Keeps `r` as backend `r.backend`'s last invalid response.
    pub fn response(&self, r: &Rejected<'_>) {
        if let Some(slot) = r.backend.and_then(|b| self.res.get(b)) {
            let c = self.make(r);
            *lock(slot) = Some(c);
        }
    }

    /// Captures made since start.
    #[must_use]
    pub fn events(&self) -> u32 {
        self.events.load(Relaxed)
    }

    /// A copy of frontend `i`'s request capture.
    #[must_use]
    pub fn request_of(&self, i: usize) -> Option<ErrorCapture> {
        self.req.get(i).and_then(|m| lock(m).clone())
    }

    /// A copy of backend `i`'s response capture.
    #[must_use]
    pub fn response_of(&self, i: usize) -> Option<ErrorCapture> {
        self.res.get(i).and_then(|m| lock(m).clone())
    }
}

/// Proxy numbers as `show errors` prints them (`#N`): names in the order
/// frontends then backends, one number per name (a `listen` section is a
/// frontend and a backend of the same name and keeps one number).
fn proxy_ids(plan: &Plan) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for n in plan
        .frontends
        .iter()
        .map(|f| f.name.as_str())
        .chain(plan.backends.iter().map(|b| b.name.as_str()))
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

fn id_of(ids: &[&str], name: &str) -> i64 {
    ids.iter()
        .position(|n| *n == name)
        .map_or(-1, |i| i as i64 + 1)
}

/// The `show errors [PROXY] [request|response]` answer. `proxy` is a name
/// or a number as printed; an unknown one is an error message.
///
/// # Errors
/// The text to answer when `proxy` names no proxy.
pub fn show_errors(
    plan: &Plan,
    caps: &Captures,
    proxy: Option<&str>,
    dir: Option<Direction>,
    now: SystemTime,
) -> Result<String, String> {
    let ids = proxy_ids(plan);
    let wanted: Option<&str> = match proxy {
        None | Some("-1") => None,
        Some(p) => {
            if let Some(n) = ids.iter().find(|n| **n == p) {
                Some(n)
            } else if let Some(n) = p
                .parse::<usize>()
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| ids.get(i))
            {
                Some(n)
            } else {
                return Err("No such proxy.\n".into());
            }
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Total events captured on [{}] : {}",
        date(now),
        caps.events()
    );
    for name in &ids {
        if wanted.is_some_and(|w| w != *name) {
            continue;
        }
        if dir != Some(Direction::Response) {
            for (i, f) in plan.frontends.iter().enumerate() {
                if f.name == *name {
                    if let Some(c) = caps.request_of(i) {
                        render(&mut out, plan, &ids, &c, Direction::Request);
                    }
                }
            }
        }
        if dir != Some(Direction::Request) {
            for (i, b) in plan.backends.iter().enumerate() {
                if b.name == *name {
                    if let Some(c) = caps.response_of(i) {
                        render(&mut out, plan, &ids, &c, Direction::Response);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn render(out: &mut String, plan: &Plan, ids: &[&str], c: &ErrorCapture, d: Direction) {
    let fe = plan.frontends.get(c.frontend).map(|f| f.name.as_str());
    let be = c.backend.and_then(|b| plan.backends.get(b));
    let srv = be.zip(c.server).and_then(|(b, s)| b.servers.get(s));
    let named = |n: Option<&str>| match n {
        Some(n) => format!("{n} (#{})", id_of(ids, n)),
        None => "<NONE> (#-1)".to_string(),
    };
    let server = match (srv, c.server) {
        (Some(s), Some(i)) => format!("{} (#{})", s.name, i + 1),
        _ => "<NONE> (#-1)".to_string(),
    };
    let src = c
        .src
        .map_or_else(|| "<unknown>".to_string(), |a| a.to_string());
    let _ = writeln!(out);
    match d {
        Direction::Request => {
            let _ = writeln!(
                out,
                "[{}] frontend {}: invalid request",
                date(c.when),
                named(fe)
            );
            let _ = writeln!(
                out,
                "  backend {}, server {server}, event #{}, src {src}",
                named(be.map(|b| b.name.as_str())),
                c.event
            );
        }
        Direction::Response => {
            let _ = writeln!(
                out,
                "[{}] backend {}: invalid response",
                date(c.when),
                named(be.map(|b| b.name.as_str()))
            );
            let _ = writeln!(
                out,
                "  frontend {}, server {server}, event #{}, src {src}",
                named(fe),
                c.event
            );
        }
    }
    let free = c.bufsize.saturating_sub(c.len);
    let _ = match c.body_from {
        None => writeln!(out, "  buffer starts at 0 (including 0 out), {free} free,"),
        Some(b) => writeln!(
            out,
            "  buffer starts at body offset {b} (head and earlier body forwarded), {free} free,"
        ),
    };
    let _ = writeln!(
        out,
        "  len {}, wraps at {}, error at position {}",
        c.len, c.bufsize, c.offset
    );
    let _ = writeln!(out, "  parser state {}, error: {} :", c.state, c.reason);
    let _ = writeln!(out);
    dump(out, &c.bytes);
    if c.bytes.len() < c.len {
        let _ = writeln!(out, "  ({} more bytes not captured)", c.len - c.bytes.len());
    }
}

/// Width of a dump line's text part.
const DUMP_WIDTH: usize = 72;

/// Dumps `bytes` as `show errors` does: one line per message line, each
/// starting with the offset of its first byte (`+` after the offset when
/// it continues a line cut at the width), printable bytes as they are,
/// `\t`, `\n`, `\r`, `\\` and `\xHH` for the rest.
pub fn dump(out: &mut String, bytes: &[u8]) {
    let mut pos = 0;
    let mut cont = false;
    while pos < bytes.len() {
        let _ = write!(out, "  {pos:05}{} ", if cont { '+' } else { ' ' });
        let mut width = 0;
        let mut ended = false;
        while pos < bytes.len() && width < DUMP_WIDTH {
            let b = bytes[pos];
            let before = out.len();
            match b {
                b'\t' => out.push_str("\\t"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(char::from(b)),
                _ => {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
            width += out.len() - before;
            pos += 1;
            if b == b'\n' {
                ended = true;
                break;
            }
        }
        out.push('\n');
        cont = !ended && pos < bytes.len();
    }
}

/// `dd/Mon/yyyy:HH:MM:SS.mmm` in UTC.
#[must_use]
pub fn date(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year:04}:{:02}:{:02}:{:02}.{:03}",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(date(UNIX_EPOCH), "01/Jan/1970:00:00:00.000");
        // 2024-02-29T13:45:07.123Z
        let t = UNIX_EPOCH + Duration::from_millis(1_709_214_307_123);
        assert_eq!(date(t), "29/Feb/2024:13:45:07.123");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599); // 2026-12-31T23:59:59Z
        assert_eq!(date(t), "31/Dec/2026:23:59:59.000");
    }

    #[test]
    fn dump_lines_escapes_and_continuations() {
        let mut s = String::new();
        dump(&mut s, b"GET / HTTP/1.1\r\nHost: a\\b\x01\xff\r\n\r\n");
        assert_eq!(
            s,
            "  00000  GET / HTTP/1.1\\r\\n\n  00016  Host: a\\\\b\\x01\\xFF\\r\\n\n  00029  \\r\\n\n"
        );
        let mut s = String::new();
        dump(&mut s, &[b'a'; 100]);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], format!("  00000  {}", "a".repeat(72)));
        assert_eq!(lines[1], format!("  00072+ {}", "a".repeat(28)));
        let mut s = String::new();
        dump(&mut s, b"");
        assert_eq!(s, "");
    }

    #[test]
    fn captures_keep_the_last_and_bound_the_copy() {
        let c = Captures::new(1, 1);
        let big = vec![b'x'; CAPTURE_MAX + 10];
        let r = Rejected {
            frontend: 0,
            backend: None,
            server: None,
            src: None,
            state: &"S",
            reason: &"bad",
            offset: 3,
            bytes: &big,
            bufsize: 32768,
            body_from: None,
        };
        c.request(&r);
        // No backend: a response capture has nowhere to go.
        c.response(&r);
        c.request(&Rejected {
            offset: 4,
            bytes: b"abc",
            ..r
        });
        let got = c.request_of(0).unwrap();
        assert_eq!((got.offset, got.len, got.event), (4, 3, 1));
        assert!(c.response_of(0).is_none());
        c.request(&r);
        let got = c.request_of(0).unwrap();
        assert_eq!((got.len, got.bytes.len()), (CAPTURE_MAX + 10, CAPTURE_MAX));
        // Out of range indexes are ignored.
        c.request(&Rejected { frontend: 9, ..r });
        assert_eq!(c.events(), 3);
    }
}
