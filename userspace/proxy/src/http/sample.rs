//! The [`SampleSource`] of an HTTP transaction: answers the ACL engine's
//! fetches from the parsed request (and response) heads, as spans into the
//! session's buffers. Nothing is copied except `base`, which is assembled in
//! the worker's scratch buffer (its capacity is kept between requests).

use std::net::SocketAddr;

use weir_core::acl::http as h;
use weir_core::acl::{FetchCall, FetchKind, FetchStatus, Sample, SampleSource, Visit};
use weir_http::{Head, Version};

/// A parsed head and the buffer its spans point into.
#[derive(Clone, Copy)]
pub struct Msg<'a> {
    /// The head.
    pub head: &'a Head<{ weir_http::DEFAULT_MAX_HEADERS }>,
    /// The bytes of the message, from its first byte.
    pub buf: &'a [u8],
}

/// What the fetches of one evaluation see.
pub struct View<'a> {
    /// The request (absent in response rules: its buffer has moved on).
    pub req: Option<Msg<'a>>,
    /// The response, in response rules.
    pub res: Option<Msg<'a>>,
    /// Client address, if some rule needs it.
    pub src: Option<SocketAddr>,
    /// Local address, if some rule needs it.
    pub dst: Option<SocketAddr>,
    /// First request of the client connection.
    pub first: bool,
    /// Where `base` is assembled (after its current length, which is
    /// restored).
    pub scratch: &'a mut Vec<u8>,
    /// The connection's variables (`var()`).
    pub vars: Option<&'a super::vars::Vars>,
}

/// `req.payload(off,len)` of `buf` (`len` 0: to the end), if all there.
#[must_use]
pub fn payload(buf: &[u8], off: i64, len: i64) -> Option<&[u8]> {
    let off = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    let end = if len == 0 {
        buf.len()
    } else {
        off.checked_add(len)?
    };
    buf.get(off..end)
}

/// What the `tcp-request content` rules of a `mode tcp` frontend see: the
/// addresses and the bytes the client sent so far (peeked, not consumed).
pub struct Peeked<'a> {
    /// Client address.
    pub src: Option<SocketAddr>,
    /// Local address.
    pub dst: Option<SocketAddr>,
    /// The bytes queued on the client socket.
    pub data: &'a [u8],
    /// Nothing more will count: the inspect delay expired, the client
    /// closed, or the buffer is full.
    pub fin: bool,
}

impl SampleSource for Peeked<'_> {
    fn fetch(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        let more = if self.fin {
            FetchStatus::Final
        } else {
            FetchStatus::MayChange
        };
        match call.kind {
            FetchKind::ReqLen => {
                visit(Sample::Int(
                    i64::try_from(self.data.len()).unwrap_or(i64::MAX),
                ));
                more
            }
            FetchKind::ReqPayload => {
                match call
                    .offset_len()
                    .and_then(|(o, l)| payload(self.data, o, l))
                {
                    // A length of 0 (to the end) may still grow.
                    Some(b) => {
                        visit(Sample::Bin(b));
                        if call.offset_len().is_some_and(|(_, l)| l == 0) {
                            more
                        } else {
                            FetchStatus::Final
                        }
                    }
                    None => more,
                }
            }
            FetchKind::WaitEnd => {
                if self.fin {
                    visit(Sample::Bool(true));
                }
                more
            }
            _ => L4 {
                src: self.src,
                dst: self.dst,
            }
            .fetch(call, visit),
        }
    }
}

/// What a `tcp-request connection` condition sees: the addresses only.
pub struct L4 {
    /// Client address.
    pub src: Option<SocketAddr>,
    /// Local address.
    pub dst: Option<SocketAddr>,
}

impl SampleSource for L4 {
    fn fetch(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        // The configuration allows nothing else in these conditions.
        match (call.kind, self.src, self.dst) {
            (FetchKind::Src, Some(a), _) | (FetchKind::Dst, _, Some(a)) => {
                visit(Sample::Ip(a.ip()));
            }
            (FetchKind::SrcPort, Some(a), _) | (FetchKind::DstPort, _, Some(a)) => {
                visit(Sample::Int(i64::from(a.port())));
            }
            _ => {}
        }
        FetchStatus::Final
    }
}

fn eq_name(a: &[u8], lower: &[u8]) -> bool {
    a.len() == lower.len()
        && a.iter()
            .zip(lower)
            .all(|(x, y)| x.to_ascii_lowercase() == *y)
}

/// Visits the header values of `m` named `name` (every header when `None`),
/// split at commas unless `full`, honouring HAProxy's occurrence argument.
/// Returns the number of values when `count_only`.
fn header_values(
    m: Msg<'_>,
    name: Option<&[u8]>,
    occ: Option<i64>,
    full: bool,
    visit: &mut dyn FnMut(Sample<'_>) -> Visit,
) {
    let each = |f: &mut dyn FnMut(&[u8]) -> bool| {
        for hd in m.head.headers() {
            if let Some(n) = name {
                if !eq_name(hd.name.slice(m.buf), n) {
                    continue;
                }
            }
            let v = hd.value.slice(m.buf);
            if full {
                if !f(v) {
                    return;
                }
            } else {
                for x in h::header_values(v) {
                    if !f(x) {
                        return;
                    }
                }
            }
        }
    };
    match occ {
        None | Some(0) => each(&mut |v| visit(Sample::Str(v)) == Visit::Continue),
        Some(n) if n > 0 => {
            let mut i = 0;
            each(&mut |v| {
                i += 1;
                if i == n {
                    visit(Sample::Str(v));
                    false
                } else {
                    true
                }
            });
        }
        Some(n) => {
            let mut total = 0i64;
            each(&mut |_| {
                total += 1;
                true
            });
            let want = total + n + 1; // -1 is the last
            let mut i = 0;
            each(&mut |v| {
                i += 1;
                if i == want {
                    visit(Sample::Str(v));
                    false
                } else {
                    true
                }
            });
        }
    }
}

fn count_values(m: Msg<'_>, name: Option<&[u8]>, full: bool) -> i64 {
    let mut n = 0;
    header_values(m, name, None, full, &mut |_| {
        n += 1;
        Visit::Continue
    });
    n
}

impl SampleSource for View<'_> {
    fn fetch(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        let url = self.req.map(|m| m.head.target().slice(m.buf));
        match call.kind {
            FetchKind::Src => {
                if let Some(a) = self.src {
                    visit(Sample::Ip(a.ip()));
                }
            }
            FetchKind::SrcPort => {
                if let Some(a) = self.src {
                    visit(Sample::Int(i64::from(a.port())));
                }
            }
            FetchKind::Dst => {
                if let Some(a) = self.dst {
                    visit(Sample::Ip(a.ip()));
                }
            }
            FetchKind::DstPort => {
                if let Some(a) = self.dst {
                    visit(Sample::Int(i64::from(a.port())));
                }
            }
            FetchKind::Method => {
                if let Some(m) = self.req {
                    visit(Sample::Str(m.head.method_span().slice(m.buf)));
                }
            }
            FetchKind::Path => {
                if let Some(p) = url.and_then(h::path) {
                    visit(Sample::Str(p));
                }
            }
            FetchKind::Url => {
                if let Some(u) = url {
                    visit(Sample::Str(u));
                }
            }
            FetchKind::Query => {
                if let Some(q) = url.and_then(h::query) {
                    visit(Sample::Str(q));
                }
            }
            FetchKind::UrlParam => {
                if let (Some(u), Some(name)) = (url, call.name()) {
                    let delim = call.delimiter().and_then(|d| d.first().copied());
                    if let Some(v) = h::url_param(u, name, delim) {
                        visit(Sample::Str(v));
                    }
                }
            }
            FetchKind::Base => {
                if let Some(m) = self.req {
                    let host = m
                        .head
                        .find(weir_http::HeaderId::Host)
                        .map(|hd| hd.value.slice(m.buf));
                    if let (Some(host), Some(u)) = (host, url) {
                        if let Some((a, b)) = h::base_parts(host, u) {
                            // Assembled past the buffer's length and cut
                            // off again: the caller's bytes (a head being
                            // rebuilt there) keep their room.
                            let start = self.scratch.len();
                            self.scratch.extend_from_slice(a);
                            self.scratch.extend_from_slice(b);
                            visit(Sample::Str(&self.scratch[start..]));
                            self.scratch.truncate(start);
                        }
                    }
                }
            }
            FetchKind::ReqHdr | FetchKind::ReqFhdr => {
                if let Some(m) = self.req {
                    let full = call.kind == FetchKind::ReqFhdr;
                    header_values(m, call.name(), call.occurrence(), full, visit);
                }
            }
            FetchKind::ReqHdrCnt => {
                if let Some(m) = self.req {
                    visit(Sample::Int(count_values(m, call.name(), false)));
                }
            }
            FetchKind::ReqCook | FetchKind::ReqCookCnt => {
                if let Some(m) = self.req {
                    let mut n = 0i64;
                    let want = call.name();
                    'outer: for hd in m.head.headers() {
                        if !eq_name(hd.name.slice(m.buf), b"cookie") {
                            continue;
                        }
                        for (k, v) in h::cookies(hd.value.slice(m.buf)) {
                            if want.is_none_or(|w| w == k) {
                                n += 1;
                                if call.kind == FetchKind::ReqCook
                                    && visit(Sample::Str(v)) == Visit::Stop
                                {
                                    break 'outer;
                                }
                            }
                        }
                    }
                    if call.kind == FetchKind::ReqCookCnt {
                        visit(Sample::Int(n));
                    }
                }
            }
            FetchKind::ReqBodySize => {
                if let Some(n) = self.req.and_then(|m| m.head.content_length()) {
                    visit(Sample::Int(i64::try_from(n).unwrap_or(i64::MAX)));
                }
            }
            FetchKind::ReqLen => {
                if let Some(m) = self.req {
                    visit(Sample::Int(i64::try_from(m.buf.len()).unwrap_or(i64::MAX)));
                }
            }
            FetchKind::ReqVer => {
                if let Some(m) = self.req {
                    visit(Sample::Str(match m.head.version() {
                        Version::Http10 => b"1.0",
                        Version::Http11 => b"1.1",
                    }));
                }
            }
            FetchKind::ReqProtoHttp => {
                visit(Sample::Bool(self.req.is_some()));
            }
            FetchKind::ReqRdpCookieCnt => {
                visit(Sample::Int(0));
            }
            FetchKind::HttpFirstReq => {
                visit(Sample::Bool(self.first));
            }
            FetchKind::WaitEnd => {
                // Rules run once the head is complete: nothing more to wait for.
                visit(Sample::Bool(true));
            }
            FetchKind::Status => {
                if let Some(m) = self.res {
                    visit(Sample::Int(i64::from(m.head.status())));
                }
            }
            FetchKind::ResHdr | FetchKind::ResFhdr => {
                if let Some(m) = self.res {
                    let full = call.kind == FetchKind::ResFhdr;
                    header_values(m, call.name(), call.occurrence(), full, visit);
                }
            }
            FetchKind::ResHdrCnt => {
                if let Some(m) = self.res {
                    visit(Sample::Int(count_values(m, call.name(), false)));
                }
            }
            FetchKind::ReqPayload => {
                if let (Some(m), Some((off, len))) = (self.req, call.offset_len()) {
                    if let Some(b) = payload(m.buf, off, len) {
                        visit(Sample::Bin(b));
                    }
                }
            }
            FetchKind::CaptureReqHdr => {
                let slot = call.occurrence().and_then(|n| usize::try_from(n).ok());
                if let Some(v) = slot.and_then(|i| self.vars?.captured(i)) {
                    visit(Sample::Str(v));
                }
            }
            FetchKind::Var => {
                if let Some(v) = call.name().and_then(|n| self.vars?.get(n)) {
                    visit(v);
                }
            }
        }
        FetchStatus::Final
    }
}
