//! A ready-made [`SampleSource`] for HTTP: the proxy describes a connection
//! and its current messages through the small [`HttpView`] trait, and
//! [`HttpSource`] implements every request and response fetch of the table
//! with HAProxy's semantics (comma-split header values, occurrences counted
//! from either end, cookies, `base`, `url_param`, the tri-state of data that
//! is still arriving). Nothing is copied except `base`, which is assembled
//! in a buffer the source keeps and reuses.

use std::net::SocketAddr;

use super::http;
use super::types::{FetchCall, FetchKind, FetchStatus, Sample, SampleSource, Visit};

/// The request line, once the request headers have been parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// Method, e.g. `GET`.
    pub method: &'a [u8],
    /// Request target as received.
    pub url: &'a [u8],
    /// Version digits, e.g. `1.1`.
    pub version: &'a [u8],
}

/// How much of the request body is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyState {
    /// Bytes of the request (headers included, as HAProxy's `req.len`)
    /// buffered so far.
    pub buffered: u64,
    /// The body size once known (Content-Length, or the total of a finished
    /// chunked body).
    pub size: Option<u64>,
    /// True when the request is complete: nothing more will arrive.
    pub complete: bool,
}

/// What the ACL engine needs to know about a connection and its current
/// HTTP messages. Header callbacks get (name, value) pairs in message
/// order and return false to stop the iteration.
pub trait HttpView {
    /// Client address.
    fn src(&self) -> Option<SocketAddr>;
    /// Local address the client connected to.
    fn dst(&self) -> Option<SocketAddr>;
    /// The request line; None while the request headers are incomplete
    /// (request fetches are then undecided).
    fn request(&self) -> Option<RequestLine<'_>>;
    /// Offers each request header in order.
    fn request_headers(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool);
    /// The response status, once the response headers are parsed.
    fn status(&self) -> Option<u16>;
    /// Offers each response header in order (none before the response).
    fn response_headers(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool);
    /// Whether this is the first request of the client connection.
    fn first_request(&self) -> bool;
    /// What is known of the request body.
    fn body(&self) -> BodyState;
    /// Whether the inspect delay (`tcp-request inspect-delay`) has expired.
    fn wait_end(&self) -> bool;
}

/// A [`SampleSource`] over an [`HttpView`]. Keep one per worker and
/// [`HttpSource::with`] it for each evaluation, so its buffer is reused.
#[derive(Debug, Default)]
pub struct HttpSource {
    buf: Vec<u8>,
}

/// An [`HttpSource`] bound to one view for one evaluation.
pub struct Bound<'s, 'v, V: HttpView + ?Sized> {
    buf: &'s mut Vec<u8>,
    view: &'v V,
}

impl HttpSource {
    /// A source with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds the source to `view` for an evaluation.
    pub fn with<'s, 'v, V: HttpView + ?Sized>(&'s mut self, view: &'v V) -> Bound<'s, 'v, V> {
        Bound {
            buf: &mut self.buf,
            view,
        }
    }
}

/// Walks one message's headers: calls its argument with each (name, value)
/// until it returns false.
type HeaderWalk<'a> = dyn Fn(&mut dyn FnMut(&[u8], &[u8]) -> bool) + 'a;

/// Offers the values of header `name` (every header when None), split at
/// commas when `split`, to `f` until it returns false.
fn each_value(
    headers: &HeaderWalk<'_>,
    name: Option<&[u8]>,
    split: bool,
    f: &mut dyn FnMut(&[u8]) -> bool,
) {
    headers(&mut |n, v| {
        if name.is_some_and(|w| !n.eq_ignore_ascii_case(w)) {
            return true;
        }
        if split {
            http::header_values(v).all(&mut *f)
        } else {
            f(v)
        }
    });
}

/// Visits the values of a header fetch, honouring its occurrence argument.
fn visit_headers(
    headers: &HeaderWalk<'_>,
    call: &FetchCall,
    split: bool,
    visit: &mut dyn FnMut(Sample<'_>) -> Visit,
) {
    let name = call.name();
    match call.occurrence() {
        None => each_value(headers, name, split, &mut |v| {
            visit(Sample::Str(v)) == Visit::Continue
        }),
        Some(occ) => {
            let target = if occ > 0 {
                occ - 1
            } else {
                let mut total = 0i64;
                each_value(headers, name, split, &mut |_| {
                    total += 1;
                    true
                });
                total + occ
            };
            if target < 0 {
                return;
            }
            let mut i = 0i64;
            each_value(headers, name, split, &mut |v| {
                if i == target {
                    visit(Sample::Str(v));
                    return false;
                }
                i += 1;
                true
            });
        }
    }
}

fn count_values(headers: &HeaderWalk<'_>, name: Option<&[u8]>) -> i64 {
    let mut n = 0i64;
    each_value(headers, name, true, &mut |_| {
        n += 1;
        true
    });
    n
}

impl<V: HttpView + ?Sized> SampleSource for Bound<'_, '_, V> {
    fn fetch(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        let needs_request = matches!(
            call.kind,
            FetchKind::Method
                | FetchKind::Path
                | FetchKind::Url
                | FetchKind::Query
                | FetchKind::UrlParam
                | FetchKind::Base
                | FetchKind::ReqHdr
                | FetchKind::ReqFhdr
                | FetchKind::ReqHdrCnt
                | FetchKind::ReqCook
                | FetchKind::ReqCookCnt
                | FetchKind::ReqVer
                | FetchKind::ReqProtoHttp
        );
        if !needs_request {
            return self.fetch_other(call, visit);
        }
        // Request fetches wait for the request headers.
        let view = self.view;
        let Some(line) = view.request() else {
            return FetchStatus::MayChange;
        };
        let req_headers = |f: &mut dyn FnMut(&[u8], &[u8]) -> bool| view.request_headers(f);
        match call.kind {
            FetchKind::Method => {
                visit(Sample::Str(line.method));
            }
            FetchKind::Url => {
                visit(Sample::Str(line.url));
            }
            FetchKind::Path => {
                if let Some(p) = http::path(line.url) {
                    visit(Sample::Str(p));
                }
            }
            FetchKind::Query => {
                if let Some(q) = http::query(line.url) {
                    visit(Sample::Str(q));
                }
            }
            FetchKind::UrlParam => {
                let delim = call.delimiter().and_then(|d| d.first().copied());
                if let Some(v) = call
                    .name()
                    .and_then(|n| http::url_param(line.url, n, delim))
                {
                    visit(Sample::Str(v));
                }
            }
            FetchKind::Base => {
                let buf = &mut *self.buf;
                buf.clear();
                let mut found = false;
                view.request_headers(&mut |n, v| {
                    if n.eq_ignore_ascii_case(b"host") {
                        buf.extend_from_slice(v);
                        found = true;
                        return false;
                    }
                    true
                });
                if let (true, Some(p)) = (found, http::path(line.url)) {
                    buf.extend_from_slice(p);
                    visit(Sample::Str(buf));
                }
            }
            FetchKind::ReqHdr => visit_headers(&req_headers, call, true, visit),
            FetchKind::ReqFhdr => visit_headers(&req_headers, call, false, visit),
            FetchKind::ReqHdrCnt => {
                visit(Sample::Int(count_values(&req_headers, call.name())));
            }
            FetchKind::ReqCook | FetchKind::ReqCookCnt => {
                let name = call.name();
                let cnt = call.kind == FetchKind::ReqCookCnt;
                let mut count = 0i64;
                each_value(&req_headers, Some(b"cookie"), false, &mut |v| {
                    for (k, val) in http::cookies(v) {
                        if name.is_some_and(|n| n != k) {
                            continue;
                        }
                        count += 1;
                        if !cnt && visit(Sample::Str(val)) == Visit::Stop {
                            return false;
                        }
                    }
                    true
                });
                if cnt {
                    visit(Sample::Int(count));
                }
            }
            FetchKind::ReqVer => {
                visit(Sample::Str(line.version));
            }
            // A parsed request line is valid HTTP.
            _ => {
                visit(Sample::Bool(true));
            }
        }
        FetchStatus::Final
    }
}

impl<V: HttpView + ?Sized> Bound<'_, '_, V> {
    /// Fetches that do not need the request line.
    fn fetch_other(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        let view = self.view;
        let res_headers = |f: &mut dyn FnMut(&[u8], &[u8]) -> bool| view.response_headers(f);
        match call.kind {
            FetchKind::Src => {
                if let Some(a) = view.src() {
                    visit(Sample::Ip(a.ip()));
                }
            }
            FetchKind::SrcPort => {
                if let Some(a) = view.src() {
                    visit(Sample::Int(i64::from(a.port())));
                }
            }
            FetchKind::Dst => {
                if let Some(a) = view.dst() {
                    visit(Sample::Ip(a.ip()));
                }
            }
            FetchKind::DstPort => {
                if let Some(a) = view.dst() {
                    visit(Sample::Int(i64::from(a.port())));
                }
            }
            FetchKind::HttpFirstReq => {
                visit(Sample::Bool(view.first_request()));
            }
            FetchKind::ReqLen => {
                let b = view.body();
                visit(Sample::Int(i64::try_from(b.buffered).unwrap_or(i64::MAX)));
                if !b.complete {
                    return FetchStatus::MayChange;
                }
            }
            FetchKind::ReqBodySize => {
                let b = view.body();
                match b.size {
                    Some(s) => {
                        visit(Sample::Int(i64::try_from(s).unwrap_or(i64::MAX)));
                    }
                    None if !b.complete => return FetchStatus::MayChange,
                    None => {}
                }
            }
            FetchKind::WaitEnd => {
                if !view.wait_end() {
                    return FetchStatus::MayChange;
                }
                visit(Sample::Bool(true));
            }
            FetchKind::Status => {
                if let Some(s) = view.status() {
                    visit(Sample::Int(i64::from(s)));
                }
            }
            FetchKind::ResHdr => visit_headers(&res_headers, call, true, visit),
            FetchKind::ResFhdr => visit_headers(&res_headers, call, false, visit),
            FetchKind::ResHdrCnt if view.status().is_some() => {
                visit(Sample::Int(count_values(&res_headers, call.name())));
            }
            // RDP cookies belong to TCP payload inspection, which an HTTP
            // view does not carry: the sample never exists here. Request
            // fetches never reach this function.
            _ => {}
        }
        FetchStatus::Final
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{AclSet, Loader, Scratch, Verdict};

    struct Msg {
        request: Option<(&'static str, &'static str, &'static str)>,
        req_headers: Vec<(&'static str, &'static str)>,
        status: Option<u16>,
        res_headers: Vec<(&'static str, &'static str)>,
        body: BodyState,
        wait_end: bool,
    }

    impl HttpView for Msg {
        fn src(&self) -> Option<SocketAddr> {
            Some("192.0.2.7:40000".parse().unwrap())
        }
        fn dst(&self) -> Option<SocketAddr> {
            Some("[2001:db8::1]:443".parse().unwrap())
        }
        fn request(&self) -> Option<RequestLine<'_>> {
            self.request.map(|(m, u, v)| RequestLine {
                method: m.as_bytes(),
                url: u.as_bytes(),
                version: v.as_bytes(),
            })
        }
        fn request_headers(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
            for (n, v) in &self.req_headers {
                if !f(n.as_bytes(), v.as_bytes()) {
                    return;
                }
            }
        }
        fn status(&self) -> Option<u16> {
            self.status
        }
        fn response_headers(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
            for (n, v) in &self.res_headers {
                if !f(n.as_bytes(), v.as_bytes()) {
                    return;
                }
            }
        }
        fn first_request(&self) -> bool {
            true
        }
        fn body(&self) -> BodyState {
            self.body
        }
        fn wait_end(&self) -> bool {
            self.wait_end
        }
    }

    fn msg() -> Msg {
        Msg {
            request: Some(("POST", "/api/v1?id=42&x=y", "1.1")),
            req_headers: vec![
                ("Host", "www.example.com"),
                ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"),
                ("x-forwarded-for", "10.0.0.3"),
                ("Cookie", "a=1; sid=abc"),
                ("Cookie", "sid=def"),
                ("Content-Length", "5"),
            ],
            status: None,
            res_headers: vec![],
            body: BodyState {
                buffered: 120,
                size: Some(5),
                complete: true,
            },
            wait_end: false,
        }
    }

    fn check(view: &Msg, acl: &str) -> Verdict {
        let mut set = AclSet::new();
        let words: Vec<&str> = acl.split_whitespace().collect();
        // A single upper-case word is a predefined ACL.
        let name = if words.len() == 1 && words[0].bytes().all(|b| !b.is_ascii_lowercase()) {
            words[0]
        } else {
            set.declare("x", &words, &Loader::none())
                .unwrap_or_else(|e| panic!("{acl}: {e}"));
            "x"
        };
        let cond = set.compile_cond(&["if", name], &Loader::none()).unwrap();
        let mut src = HttpSource::new();
        cond.eval(&mut src.with(view), &mut Scratch::new())
    }

    #[test]
    fn request_fetches() {
        let m = msg();
        let cases: &[(&str, Verdict)] = &[
            ("method POST", Verdict::True),
            ("METH_POST", Verdict::True),
            ("METH_GET", Verdict::False),
            ("path /api/v1", Verdict::True),
            ("url /api/v1?id=42&x=y", Verdict::True),
            ("query id=42&x=y", Verdict::True),
            ("url_param(id) 42", Verdict::True),
            ("url_param(x) y", Verdict::True),
            ("url_param(z) -m found", Verdict::False),
            ("base www.example.com/api/v1", Verdict::True),
            ("base_beg www.example.com/api", Verdict::True),
            ("hdr(x-forwarded-for) 10.0.0.2", Verdict::True),
            ("hdr(x-forwarded-for,1) 10.0.0.1", Verdict::True),
            ("hdr(x-forwarded-for,2) 10.0.0.2", Verdict::True),
            ("hdr(x-forwarded-for,-1) 10.0.0.3", Verdict::True),
            ("hdr(x-forwarded-for,-3) 10.0.0.1", Verdict::True),
            ("hdr(x-forwarded-for,-4) -m found", Verdict::False),
            ("hdr(x-forwarded-for,4) -m found", Verdict::False),
            (
                "req.fhdr(x-forwarded-for,1) 10.0.0.1,\\ 10.0.0.2",
                Verdict::False,
            ),
            ("req.fhdr(x-forwarded-for,-1) 10.0.0.3", Verdict::True),
            ("hdr_ip(x-forwarded-for,-1) 10.0.0.0/24", Verdict::True),
            ("hdr_cnt(x-forwarded-for) 3", Verdict::True),
            ("hdr_cnt 7", Verdict::True),
            ("hdr_val(content-length) 5", Verdict::True),
            ("HTTP_CONTENT", Verdict::True),
            ("cook(sid) def", Verdict::True),
            ("cook(sid) abc", Verdict::True),
            ("cook_cnt(sid) 2", Verdict::True),
            ("cook_cnt 3", Verdict::True),
            ("cook(nope) -m found", Verdict::False),
            ("req.ver 1.1", Verdict::True),
            ("HTTP_1.1", Verdict::True),
            ("HTTP", Verdict::True),
            ("src 192.0.2.0/24", Verdict::True),
            ("src_port 40000", Verdict::True),
            ("dst 2001:db8::/32", Verdict::True),
            ("dst_port 443", Verdict::True),
            ("http_first_req", Verdict::True),
            ("req.len 120", Verdict::True),
            ("req.body_size 5", Verdict::True),
            ("REQ_CONTENT", Verdict::True),
            ("WAIT_END", Verdict::NeedMoreData),
            ("RDP_COOKIE", Verdict::False),
            ("status 200", Verdict::False),
            ("res.hdr_cnt -m found", Verdict::False),
        ];
        for (acl, want) in cases {
            assert_eq!(check(&m, acl), *want, "{acl}");
        }
    }

    #[test]
    fn undecided_before_the_request_and_the_body() {
        let mut m = msg();
        m.request = None;
        m.body = BodyState {
            buffered: 10,
            size: None,
            complete: false,
        };
        for acl in [
            "path /",
            "hdr(host) -m found",
            "method GET",
            "req.body_size 0",
            "HTTP",
        ] {
            assert_eq!(check(&m, acl), Verdict::NeedMoreData, "{acl}");
        }
        assert_eq!(check(&m, "req.len gt 5"), Verdict::True, "a match is final");
        assert_eq!(check(&m, "req.len gt 50"), Verdict::NeedMoreData);
        assert_eq!(
            check(&m, "src 192.0.2.7"),
            Verdict::True,
            "L4 fetches need no request"
        );
        m.wait_end = true;
        assert_eq!(check(&m, "WAIT_END"), Verdict::True);
    }

    #[test]
    fn response_fetches() {
        let mut m = msg();
        m.status = Some(503);
        m.res_headers = vec![("Server", "nginx"), ("Cache-Control", "no-cache, private")];
        for (acl, want) in [
            ("status 500:599", Verdict::True),
            ("res.hdr(cache-control) private", Verdict::True),
            ("shdr_sub(server) ngin", Verdict::True),
            ("res.hdr_cnt(cache-control) 2", Verdict::True),
            ("res.fhdr(cache-control) -m sub no-cache,", Verdict::True),
        ] {
            assert_eq!(check(&m, acl), want, "{acl}");
        }
    }

    #[test]
    fn base_buffer_is_reused() {
        let m = msg();
        let mut set = AclSet::new();
        set.declare("b", &["base", "www.example.com/api/v1"], &Loader::none())
            .unwrap();
        let cond = set.compile_cond(&["if", "b"], &Loader::none()).unwrap();
        let mut src = HttpSource::new();
        let mut scratch = Scratch::new();
        assert_eq!(cond.eval(&mut src.with(&m), &mut scratch), Verdict::True);
        let cap = src.buf.capacity();
        for _ in 0..10 {
            assert_eq!(cond.eval(&mut src.with(&m), &mut scratch), Verdict::True);
        }
        assert_eq!(src.buf.capacity(), cap);
    }
}
