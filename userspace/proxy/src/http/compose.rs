//! Writing heads: a forwarded request or response head rebuilt from the
//! parsed spans (hop-by-hop fields dropped, rule edits applied, connection
//! fields added), and the responses weir answers itself (error pages,
//! `return`, `redirect`). Everything is written into a pool buffer; a head
//! that does not fit is an error the caller answers with a 500 (HAProxy's
//! rewrite failure).

use std::io::Write as _;

use weir_config::kw::http::{RedirectKind, RedirectSpec, ReturnSpec};
use weir_core::acl::Rewrite;
use weir_http::{Head, Version};

/// A head type with the parser's default header capacity.
pub type H = Head<{ weir_http::DEFAULT_MAX_HEADERS }>;

/// The output did not fit in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// A cursor over an output buffer.
pub struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Out<'a> {
    /// Writes from the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Out { buf, pos: 0 }
    }

    /// Bytes written.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Nothing written yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Appends `b`.
    ///
    /// # Errors
    /// [`Overflow`] when it does not fit (the cursor is then unusable).
    pub fn put(&mut self, b: &[u8]) -> Result<(), Overflow> {
        let end = self.pos.checked_add(b.len()).ok_or(Overflow)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(Overflow)?;
        dst.copy_from_slice(b);
        self.pos = end;
        Ok(())
    }

    /// Appends a decimal number.
    ///
    /// # Errors
    /// [`Overflow`].
    pub fn num(&mut self, n: u64) -> Result<(), Overflow> {
        let mut tmp = [0u8; 20];
        let mut c = std::io::Cursor::new(&mut tmp[..]);
        write!(c, "{n}").map_err(|_| Overflow)?;
        let len = usize::try_from(c.position()).map_err(|_| Overflow)?;
        self.put(&tmp[..len])
    }

    /// Appends `name: value\r\n`.
    ///
    /// # Errors
    /// [`Overflow`].
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> Result<(), Overflow> {
        self.put(name)?;
        self.put(b": ")?;
        self.put(value)?;
        self.put(b"\r\n")
    }
}

/// Rule edits of one head, collected before it is written. Kept per worker
/// and cleared per message: its vectors keep their capacity.
#[derive(Debug, Default)]
pub struct Edits {
    /// Header slots removed (by index in the head).
    pub removed: Vec<bool>,
    /// Headers to append: (name, value) ranges of `bytes`; `None` once a
    /// later `set-header`/`del-header` removed it.
    pub added: Vec<Option<(std::ops::Range<usize>, std::ops::Range<usize>)>>,
    /// Storage for added names and values and replacement parts.
    pub bytes: Vec<u8>,
    /// `set-method`.
    pub method: Option<std::ops::Range<usize>>,
    /// `set-uri`.
    pub uri: Option<std::ops::Range<usize>>,
    /// `set-path`.
    pub path: Option<std::ops::Range<usize>>,
    /// `set-query` (without the `?`).
    pub query: Option<std::ops::Range<usize>>,
    /// `set-status`: code and reason range.
    pub status: Option<(u16, Option<std::ops::Range<usize>>)>,
    /// New values of the head's headers (`replace-header`, `replace-value`),
    /// by index in the head: a range of `bytes`.
    pub replaced: Vec<Option<std::ops::Range<usize>>>,
    /// Drop the query of the target (`set-pathq` without `?`).
    pub no_query: bool,
    /// Scratch for the `replace-*` actions (kept for its capacity).
    pub work: Vec<u8>,
    /// Second scratch: the value being rewritten.
    cur: Vec<u8>,
}

/// What a `replace-path|replace-pathq|replace-uri` action rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinePart {
    /// The path, without the query.
    Path,
    /// The path and the query (`?` included when there is one).
    PathQ,
    /// The whole request target.
    Uri,
}

/// A rewritten value may not carry line breaks, NUL, or `banned` bytes.
#[must_use]
pub fn valid_value(v: &[u8], banned: &[u8]) -> bool {
    !v.iter()
        .any(|b| matches!(b, b'\r' | b'\n' | 0) || banned.contains(b))
}

impl Edits {
    /// Ready for a message with `n` headers.
    pub fn reset(&mut self, n: usize) {
        self.removed.clear();
        self.removed.resize(n, false);
        self.added.clear();
        self.bytes.clear();
        self.method = None;
        self.uri = None;
        self.path = None;
        self.query = None;
        self.status = None;
        self.replaced.clear();
        self.replaced.resize(n, None);
        self.no_query = false;
    }

    fn store(&mut self, b: &[u8]) -> std::ops::Range<usize> {
        let s = self.bytes.len();
        self.bytes.extend_from_slice(b);
        s..self.bytes.len()
    }

    /// `del-header name`: the head's headers and the ones added so far.
    pub fn delete(&mut self, head: &H, buf: &[u8], name: &[u8]) {
        for (i, h) in head.headers().iter().enumerate() {
            if h.name.slice(buf).eq_ignore_ascii_case(name) {
                self.removed[i] = true;
            }
        }
        for a in &mut self.added {
            if let Some((n, _)) = a {
                if self.bytes[n.clone()].eq_ignore_ascii_case(name) {
                    *a = None;
                }
            }
        }
    }

    /// `add-header name value`.
    pub fn add(&mut self, name: &[u8], value: &[u8]) {
        let n = self.store(name);
        let v = self.store(value);
        self.added.push(Some((n, v)));
    }

    /// Stores a replacement part.
    pub fn part(&mut self, b: &[u8]) -> std::ops::Range<usize> {
        self.store(b)
    }

    /// `replace-header` (`split`: `replace-value`): rewrites the values of
    /// header `name` in the head (as edited so far) and in the headers
    /// added so far. A result with a line break is not applied.
    pub fn replace_headers(
        &mut self,
        head: &H,
        buf: &[u8],
        name: &[u8],
        rw: &Rewrite,
        repl: &[u8],
        split: bool,
    ) {
        let mut cur = std::mem::take(&mut self.cur);
        for (i, h) in head.headers().iter().enumerate() {
            if self.removed.get(i).copied().unwrap_or(true)
                || !h.name.slice(buf).eq_ignore_ascii_case(name)
            {
                continue;
            }
            cur.clear();
            match self.replaced.get(i).cloned().flatten() {
                Some(r) => cur.extend_from_slice(&self.bytes[r]),
                None => cur.extend_from_slice(h.value.slice(buf)),
            }
            if let Some(r) = self.rewrite_value(&cur, rw, repl, split) {
                self.replaced[i] = Some(r);
            }
        }
        for k in 0..self.added.len() {
            let Some((n, v)) = self.added[k].clone() else {
                continue;
            };
            if !self.bytes[n.clone()].eq_ignore_ascii_case(name) {
                continue;
            }
            cur.clear();
            cur.extend_from_slice(&self.bytes[v]);
            if let Some(r) = self.rewrite_value(&cur, rw, repl, split) {
                self.added[k] = Some((n, r));
            }
        }
        self.cur = cur;
    }

    fn rewrite_value(
        &mut self,
        cur: &[u8],
        rw: &Rewrite,
        repl: &[u8],
        split: bool,
    ) -> Option<std::ops::Range<usize>> {
        let start = self.bytes.len();
        let changed = if split {
            let mut any = false;
            for (j, v) in weir_core::acl::http::header_values(cur).enumerate() {
                if j > 0 {
                    self.bytes.extend_from_slice(b", ");
                }
                if rw.apply(v, repl, &mut self.bytes) {
                    any = true;
                } else {
                    self.bytes.extend_from_slice(v);
                }
            }
            any
        } else {
            rw.apply(cur, repl, &mut self.bytes)
        };
        if changed && valid_value(&self.bytes[start..], b"") {
            Some(start..self.bytes.len())
        } else {
            self.bytes.truncate(start);
            None
        }
    }

    /// `replace-path|replace-pathq|replace-uri`: rewrites that part of the
    /// request target as edited so far. A result that would break the
    /// request line is not applied.
    pub fn replace_line(
        &mut self,
        head: &H,
        buf: &[u8],
        part: LinePart,
        rw: &Rewrite,
        repl: &[u8],
    ) {
        let mut cur = std::mem::take(&mut self.cur);
        cur.clear();
        let target = head.target().slice(buf);
        fn path<'x>(e: &'x Edits, target: &'x [u8]) -> &'x [u8] {
            match &e.path {
                Some(r) => &e.bytes[r.clone()],
                None => weir_core::acl::http::path(target).unwrap_or(&[]),
            }
        }
        match part {
            LinePart::Uri => {
                // Bounded by the original target plus every stored part.
                cur.resize(target.len() + self.bytes.len() + 1, 0);
                let mut o = Out::new(&mut cur[..]);
                let n = if self::target(&mut o, head, buf, self).is_ok() {
                    o.len()
                } else {
                    0
                };
                cur.truncate(n);
            }
            LinePart::Path => cur.extend_from_slice(path(self, target)),
            LinePart::PathQ => {
                cur.extend_from_slice(path(self, target));
                let q = match &self.query {
                    Some(r) => Some(&self.bytes[r.clone()]),
                    None if self.no_query => None,
                    None => weir_core::acl::http::query(target),
                };
                if let Some(q) = q {
                    cur.push(b'?');
                    cur.extend_from_slice(q);
                }
            }
        }
        let start = self.bytes.len();
        let banned: &[u8] = if part == LinePart::Path { b" ?#" } else { b" " };
        if rw.apply(&cur, repl, &mut self.bytes) && valid_value(&self.bytes[start..], banned) {
            let r = start..self.bytes.len();
            match part {
                LinePart::Uri => {
                    self.uri = Some(r);
                    self.path = None;
                    self.query = None;
                    self.no_query = false;
                }
                LinePart::Path => self.path = Some(r),
                LinePart::PathQ => self.set_pathq(r),
            }
        } else {
            self.bytes.truncate(start);
        }
        self.cur = cur;
    }

    /// `set-pathq`: `r` (in `bytes`) is a path and maybe `?query`.
    pub fn set_pathq(&mut self, r: std::ops::Range<usize>) {
        match self.bytes[r.clone()].iter().position(|&b| b == b'?') {
            Some(q) => {
                self.path = Some(r.start..r.start + q);
                self.query = Some(r.start + q + 1..r.end);
                self.no_query = false;
            }
            None => {
                self.path = Some(r);
                self.query = None;
                self.no_query = true;
            }
        }
    }
}

/// Connection fields to add to a forwarded head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnHdr {
    /// Nothing (the version's default holds).
    None,
    /// `Connection: close`.
    Close,
    /// `Connection: keep-alive` (to an HTTP/1.0 peer).
    KeepAlive,
    /// `Connection: upgrade` and the original `Upgrade` field.
    Upgrade,
}

fn version(v: Version) -> &'static [u8] {
    match v {
        Version::Http10 => b"HTTP/1.0",
        Version::Http11 => b"HTTP/1.1",
    }
}

fn write_fields(
    o: &mut Out<'_>,
    head: &H,
    buf: &[u8],
    edits: &Edits,
    conn: ConnHdr,
    extra: Option<(&[u8], &[u8])>,
) -> Result<(), Overflow> {
    let mut upgrade: &[u8] = &[];
    let mut length_done = false;
    for (i, h) in head.headers().iter().enumerate() {
        if h.id == weir_http::HeaderId::Upgrade {
            upgrade = h.value.slice(buf);
        }
        if h.must_drop() || edits.removed.get(i).copied().unwrap_or(false) {
            continue;
        }
        if h.id == weir_http::HeaderId::ContentLength {
            // `5, 5` or repeated equal fields are valid but read
            // differently downstream: forward the one value, once.
            if !length_done {
                length_done = true;
                o.put(h.name.slice(buf))?;
                o.put(b": ")?;
                o.num(head.content_length().unwrap_or(0))?;
                o.put(b"\r\n")?;
            }
            continue;
        }
        o.put(h.name.slice(buf))?;
        o.put(b": ")?;
        match edits.replaced.get(i) {
            Some(Some(r)) => o.put(&edits.bytes[r.clone()])?,
            _ => o.put(h.value.slice(buf))?,
        }
        o.put(b"\r\n")?;
    }
    for (n, v) in edits.added.iter().flatten() {
        o.header(&edits.bytes[n.clone()], &edits.bytes[v.clone()])?;
    }
    if let Some((n, v)) = extra {
        o.header(n, v)?;
    }
    match conn {
        ConnHdr::None => {}
        ConnHdr::Close => o.put(b"connection: close\r\n")?,
        ConnHdr::KeepAlive => o.put(b"connection: keep-alive\r\n")?,
        ConnHdr::Upgrade => {
            o.put(b"connection: upgrade\r\n")?;
            o.header(b"upgrade", upgrade)?;
        }
    }
    o.put(b"\r\n")
}

/// Writes the request head to forward. `extra` is one more field (the
/// `X-Forwarded-For` of `option forwardfor`).
///
/// # Errors
/// [`Overflow`].
pub fn request(
    o: &mut Out<'_>,
    head: &H,
    buf: &[u8],
    edits: &Edits,
    conn: ConnHdr,
    extra: Option<(&[u8], &[u8])>,
) -> Result<(), Overflow> {
    match &edits.method {
        Some(r) => o.put(&edits.bytes[r.clone()])?,
        None => o.put(head.method_span().slice(buf))?,
    }
    o.put(b" ")?;
    target(o, head, buf, edits)?;
    o.put(b" ")?;
    o.put(version(head.version()))?;
    o.put(b"\r\n")?;
    write_fields(o, head, buf, edits, conn, extra)
}

/// Writes the request target with the edits applied.
///
/// # Errors
/// [`Overflow`].
pub fn target(o: &mut Out<'_>, head: &H, buf: &[u8], edits: &Edits) -> Result<(), Overflow> {
    let target = head.target().slice(buf);
    if let Some(u) = &edits.uri {
        o.put(&edits.bytes[u.clone()])?;
    } else if edits.path.is_some() || edits.query.is_some() || edits.no_query {
        // Split the original target into prefix (scheme://authority of an
        // absolute-form target), path and query, and replace the parts.
        let q = target.iter().position(|&b| b == b'?');
        let before_q = &target[..q.unwrap_or(target.len())];
        let path = weir_core::acl::http::path(target).unwrap_or(&[]);
        let prefix = &before_q[..before_q.len() - path.len()];
        o.put(prefix)?;
        match &edits.path {
            Some(p) => o.put(&edits.bytes[p.clone()])?,
            None => o.put(path)?,
        }
        match (&edits.query, q) {
            (Some(nq), _) => {
                o.put(b"?")?;
                o.put(&edits.bytes[nq.clone()])?;
            }
            (None, Some(i)) if !edits.no_query => o.put(&target[i..])?,
            (None, _) => {}
        }
    } else {
        o.put(target)?;
    }
    Ok(())
}

/// Writes the response head to forward (always as HTTP/1.1, as HAProxy does).
///
/// # Errors
/// [`Overflow`].
pub fn response(
    o: &mut Out<'_>,
    head: &H,
    buf: &[u8],
    edits: &Edits,
    conn: ConnHdr,
) -> Result<(), Overflow> {
    o.put(b"HTTP/1.1 ")?;
    match &edits.status {
        Some((code, reason)) => {
            o.num(u64::from(*code))?;
            o.put(b" ")?;
            match reason {
                Some(r) => o.put(&edits.bytes[r.clone()])?,
                None => o.put(reason_phrase(*code).as_bytes())?,
            }
        }
        None => {
            o.num(u64::from(head.status()))?;
            o.put(b" ")?;
            o.put(head.reason().slice(buf))?;
        }
    }
    o.put(b"\r\n")?;
    write_fields(o, head, buf, edits, conn, None)
}

/// The standard reason phrase of a status code.
#[must_use]
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        425 => "Too Early",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// One sentence for weir's own error pages (HAProxy's statuses, weir's words).
fn explanation(code: u16) -> &'static str {
    match code {
        200 => "Service ready.",
        400 => "The request could not be understood.",
        403 => "Access to this resource is denied.",
        404 => "The resource was not found.",
        405 => "This method is not allowed here.",
        408 => "The request took too long to arrive.",
        413 => "The request is too large.",
        414 => "The request target is too long.",
        417 => "The expectation cannot be met.",
        429 => "Too many requests; try again later.",
        431 => "The request header fields are too large.",
        500 => "The proxy met an internal error.",
        501 => "This request is not implemented.",
        502 => "The server sent an invalid response.",
        503 => "No server is available to handle this request.",
        504 => "The server did not answer in time.",
        505 => "Only HTTP/1.0 and HTTP/1.1 are supported here.",
        _ => "The request could not be served.",
    }
}

/// Writes weir's error page for `code` (closing the connection after it),
/// or the configured `errorfile` bytes when there is one.
///
/// # Errors
/// [`Overflow`].
pub fn error_page(o: &mut Out<'_>, code: u16, errorfile: Option<&[u8]>) -> Result<(), Overflow> {
    if let Some(f) = errorfile {
        return o.put(f);
    }
    let reason = reason_phrase(code);
    let expl = explanation(code);
    // <html><body><h1>CODE REASON</h1>\nEXPL\n</body></html>\n
    let body_len = 12 + 4 + 3 + 1 + reason.len() + 6 + expl.len() + 1 + 15;
    o.put(b"HTTP/1.1 ")?;
    o.num(u64::from(code))?;
    o.put(b" ")?;
    o.put(reason.as_bytes())?;
    o.put(b"\r\ncontent-length: ")?;
    o.num(body_len as u64)?;
    o.put(b"\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n")?;
    let start = o.len();
    o.put(b"<html><body><h1>")?;
    o.num(u64::from(code))?;
    o.put(b" ")?;
    o.put(reason.as_bytes())?;
    o.put(b"</h1>\n")?;
    o.put(expl.as_bytes())?;
    o.put(b"\n</body></html>\n")?;
    debug_assert_eq!(o.len() - start, body_len);
    Ok(())
}

/// Writes an `http-request return` response with this `body` (the spec's,
/// or its log-format body evaluated). `head_only`: the request was HEAD
/// (no body). `close`: add `connection: close`.
///
/// # Errors
/// [`Overflow`].
pub fn returned(
    o: &mut Out<'_>,
    r: &ReturnSpec,
    body: &[u8],
    head_only: bool,
    close: bool,
) -> Result<(), Overflow> {
    o.put(b"HTTP/1.1 ")?;
    o.num(u64::from(r.status))?;
    o.put(b" ")?;
    o.put(reason_phrase(r.status).as_bytes())?;
    o.put(b"\r\n")?;
    if let Some(ct) = &r.content_type {
        o.header(b"content-type", ct.as_bytes())?;
    }
    o.put(b"content-length: ")?;
    o.num(body.len() as u64)?;
    o.put(b"\r\n")?;
    for (n, v) in &r.headers {
        o.header(n.as_bytes(), v.as_bytes())?;
    }
    if close {
        o.put(b"connection: close\r\n")?;
    }
    o.put(b"\r\n")?;
    if !head_only {
        o.put(body)?;
    }
    Ok(())
}

/// Writes an `http-request redirect` response for a request with this
/// `target` and `host`; `to` is the rule's target (its log-format string
/// evaluated, or the spec's target as written).
///
/// # Errors
/// [`Overflow`].
pub fn redirect(
    o: &mut Out<'_>,
    r: &RedirectSpec,
    to: &[u8],
    target: &[u8],
    host: Option<&[u8]>,
    close: bool,
) -> Result<(), Overflow> {
    o.put(b"HTTP/1.1 ")?;
    o.num(u64::from(r.code))?;
    o.put(b" ")?;
    o.put(reason_phrase(r.code).as_bytes())?;
    o.put(b"\r\ncontent-length: 0\r\nlocation: ")?;
    let path = weir_core::acl::http::path(target).unwrap_or(b"/");
    let path = if path.is_empty() { &b"/"[..] } else { path };
    let query = weir_core::acl::http::query(target);
    let tail = |o: &mut Out<'_>| -> Result<(), Overflow> {
        o.put(path)?;
        if r.append_slash && !path.ends_with(b"/") {
            o.put(b"/")?;
        }
        if let (false, Some(q)) = (r.drop_query, query) {
            o.put(b"?")?;
            o.put(q)?;
        }
        Ok(())
    };
    match r.kind {
        RedirectKind::Location => o.put(to)?,
        RedirectKind::Prefix => {
            // HAProxy: a prefix of "/" adds nothing before the path.
            if to != b"/" {
                o.put(to)?;
            }
            tail(o)?;
        }
        RedirectKind::Scheme => {
            o.put(to)?;
            o.put(b"://")?;
            o.put(host.unwrap_or(b""))?;
            tail(o)?;
        }
    }
    o.put(b"\r\ncache-control: no-cache\r\n")?;
    if let Some(c) = &r.cookie {
        o.header(b"set-cookie", c.as_bytes())?;
    }
    if close {
        o.put(b"connection: close\r\n")?;
    }
    o.put(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_page_length_matches() {
        for code in [400u16, 403, 408, 500, 502, 503, 504] {
            let mut b = vec![0u8; 2048];
            let mut o = Out::new(&mut b);
            error_page(&mut o, code, None).unwrap();
            let n = o.len();
            let text = std::str::from_utf8(&b[..n]).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let cl: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(cl, body.len(), "{code}");
            assert!(head.starts_with(&format!("HTTP/1.1 {code} ")));
        }
    }

    #[test]
    fn overflow_is_reported() {
        let mut b = vec![0u8; 10];
        let mut o = Out::new(&mut b);
        assert_eq!(error_page(&mut o, 400, None), Err(Overflow));
    }

    fn parse(req: &[u8]) -> weir_http::HeadParser {
        let mut p = weir_http::HeadParser::request(weir_http::Options::DEFAULT);
        assert!(matches!(p.parse(req), Ok(weir_http::Status::Complete(_))));
        p
    }

    #[test]
    fn request_rewrites() {
        let req = b"GET http://h/a/b?x=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\nX-Bar: 2\r\n\r\n";
        let p = parse(req);
        let mut e = Edits::default();
        e.reset(p.head().headers().len());
        e.delete(p.head(), req, b"x-bar");
        e.add(b"X-New", b"v");
        let r = e.part(b"/new");
        e.path = Some(r);
        let mut b = vec![0u8; 1024];
        let mut o = Out::new(&mut b);
        request(
            &mut o,
            p.head(),
            req,
            &e,
            ConnHdr::Close,
            Some((b"x-forwarded-for", b"1.2.3.4")),
        )
        .unwrap();
        let n = o.len();
        assert_eq!(
            std::str::from_utf8(&b[..n]).unwrap(),
            "GET http://h/new?x=1 HTTP/1.1\r\nHost: h\r\nX-New: v\r\nx-forwarded-for: 1.2.3.4\r\nconnection: close\r\n\r\n"
        );
    }

    fn render(req: &[u8], edit: impl FnOnce(&mut Edits, &H)) -> String {
        let p = parse(req);
        let mut e = Edits::default();
        e.reset(p.head().headers().len());
        edit(&mut e, p.head());
        let mut b = vec![0u8; 1024];
        let mut o = Out::new(&mut b);
        request(&mut o, p.head(), req, &e, ConnHdr::None, None).unwrap();
        let n = o.len();
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn replace_rules_chain_and_reach_added_headers() {
        let req = b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-V: a1, b2,a3\r\nX-V: c4\r\n\r\n";
        let out = render(req, |e, head| {
            let rw = Rewrite::new("^a(.)$").unwrap();
            e.replace_headers(head, req, b"x-v", &rw, b"z\\1", true);
            // The second rule sees the first one's result.
            let rw = Rewrite::new("^(z1), (.*)$").unwrap();
            e.replace_headers(head, req, b"x-v", &rw, b"\\2, \\1", false);
            e.add(b"X-New", b"old-1");
            let rw = Rewrite::new("old-(.*)").unwrap();
            e.replace_headers(head, req, b"x-new", &rw, b"new-\\1", false);
            // A replacement with a line break is not applied.
            let rw = Rewrite::new("c4").unwrap();
            e.replace_headers(head, req, b"x-v", &rw, b"x\r\ny", false);
        });
        assert_eq!(
            out,
            "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-V: b2, z3, z1\r\nX-V: c4\r\nX-New: new-1\r\n\r\n"
        );
    }

    #[test]
    fn replace_line_parts() {
        let req = b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
        let line = |edit: &dyn Fn(&mut Edits, &H)| {
            render(req, |e, h| edit(e, h))
                .lines()
                .next()
                .unwrap()
                .to_string()
        };
        let rw = |re: &str| Rewrite::new(re).unwrap();
        assert_eq!(
            line(&|e, h| e.replace_line(h, req, LinePart::Path, &rw("^/a/(.*)$"), b"/z/\\1")),
            "GET /z/b?x=1 HTTP/1.1"
        );
        assert_eq!(
            line(&|e, h| e.replace_line(h, req, LinePart::Path, &rw("(.*)"), b"/p?q")),
            "GET /a/b?x=1 HTTP/1.1",
            "a '?' in a path is refused"
        );
        assert_eq!(
            line(&|e, h| e.replace_line(h, req, LinePart::PathQ, &rw("^(.*)\\?x=(.*)$"), b"\\1")),
            "GET /a/b HTTP/1.1",
            "the query is dropped"
        );
        assert_eq!(
            line(&|e, h| {
                let r = e.part(b"/set");
                e.path = Some(r);
                e.replace_line(h, req, LinePart::Uri, &rw("^(.*)$"), b"\\1&y=2");
            }),
            "GET /set?x=1&y=2 HTTP/1.1",
            "replace-uri sees the earlier set-path"
        );
    }

    #[test]
    fn redirects() {
        let spec = RedirectSpec {
            kind: RedirectKind::Scheme,
            target: "https".into(),
            code: 301,
            drop_query: false,
            append_slash: true,
            log_format: false,
            cookie: None,
        };
        let mut b = vec![0u8; 1024];
        let mut o = Out::new(&mut b);
        redirect(
            &mut o,
            &spec,
            b"https",
            b"/p?q=1",
            Some(b"h.example"),
            false,
        )
        .unwrap();
        let n = o.len();
        let t = std::str::from_utf8(&b[..n]).unwrap();
        assert!(t.starts_with("HTTP/1.1 301 Moved Permanently\r\n"), "{t}");
        assert!(t.contains("location: https://h.example/p/?q=1\r\n"), "{t}");
    }
}
