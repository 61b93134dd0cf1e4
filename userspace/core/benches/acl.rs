//! ACL matching cost with 10,000 patterns per method, against a naive scan
//! over the same patterns, and a typical small routing condition.
//!
//! Run: `cargo bench -p weir-core --bench acl`

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion};
use std::net::SocketAddr;

use weir_core::acl::{
    AclSet, BodyState, Condition, FetchCall, FetchKind, FetchStatus, HttpSource, HttpView, Loader,
    RequestLine, Sample, SampleSource, Scratch, Verdict, Visit,
};

/// A browser-like GET with 12 headers, as the proxy would expose it.
struct View {
    headers: Vec<(&'static [u8], &'static [u8])>,
}

impl HttpView for View {
    fn src(&self) -> Option<SocketAddr> {
        Some("10.39.15.7:40000".parse().unwrap())
    }
    fn dst(&self) -> Option<SocketAddr> {
        Some("127.0.0.1:80".parse().unwrap())
    }
    fn request(&self) -> Option<RequestLine<'_>> {
        Some(RequestLine {
            method: b"GET",
            url: b"/static/css/site.css?v=3",
            version: b"1.1",
        })
    }
    fn request_headers(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        for (n, v) in &self.headers {
            if !f(n, v) {
                return;
            }
        }
    }
    fn status(&self) -> Option<u16> {
        None
    }
    fn response_headers(&self, _: &mut dyn FnMut(&[u8], &[u8]) -> bool) {}
    fn first_request(&self) -> bool {
        true
    }
    fn body(&self) -> BodyState {
        BodyState {
            buffered: 600,
            size: Some(0),
            complete: true,
        }
    }
    fn wait_end(&self) -> bool {
        true
    }
}

/// A fixed request: path, host header and client address.
struct Req {
    path: &'static [u8],
    host: &'static [u8],
    src: IpAddr,
}

impl SampleSource for Req {
    fn fetch(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        match call.kind {
            FetchKind::Path => {
                visit(Sample::Str(self.path));
            }
            FetchKind::ReqHdr => {
                visit(Sample::Str(self.host));
            }
            FetchKind::Src => {
                visit(Sample::Ip(self.src));
            }
            FetchKind::Method => {
                visit(Sample::Str(b"GET"));
            }
            _ => {}
        }
        FetchStatus::Final
    }
}

fn compile(words: &[&str]) -> Condition {
    let mut set = AclSet::new();
    set.declare("x", words, &Loader::none())
        .expect("acl compiles");
    set.compile_cond(&["if", "x"], &Loader::none())
        .expect("condition compiles")
}

fn bench(c: &mut Criterion) {
    const N: usize = 10_000;
    let paths: Vec<String> = (0..N).map(|i| format!("/tenant/{i:05}/")).collect();
    let nets: Vec<String> = (0..N)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let mut req = Req {
        path: b"/tenant/09999/index.html",
        host: b"www.example.com",
        src: "10.39.15.7".parse().unwrap(),
    };
    let mut scratch = Scratch::new();

    for (name, fetch, method, pats) in [
        ("str", "path", "str", &paths),
        ("beg", "path", "beg", &paths),
        ("ip", "src", "ip", &nets),
    ] {
        let mut words = vec![fetch, "-m", method];
        words.extend(pats.iter().map(String::as_str));
        let cond = compile(&words);
        c.bench_function(&format!("acl_{name}_10k"), |b| {
            b.iter(|| black_box(cond.eval(&mut req, &mut scratch)))
        });
    }
    // What the structures replace: one comparison per pattern.
    c.bench_function("naive_beg_scan_10k", |b| {
        b.iter(|| {
            let p = black_box(req.path);
            black_box(paths.iter().any(|x| p.starts_with(x.as_bytes())))
        })
    });

    let mut set = AclSet::new();
    let l = Loader::none();
    set.declare("api", &["path_beg", "/api/", "/v1/"], &l)
        .unwrap();
    set.declare("static", &["path_end", ".css", ".js", ".png"], &l)
        .unwrap();
    set.declare("www", &["hdr(host)", "-i", "www.example.com"], &l)
        .unwrap();
    let route = set
        .compile_cond(&["if", "www", "!api", "||", "static", "METH_GET"], &l)
        .unwrap();
    assert_eq!(route.eval(&mut req, &mut scratch), Verdict::True);
    c.bench_function("route_condition", |b| {
        b.iter(|| black_box(route.eval(&mut req, &mut scratch)))
    });

    // The same kind of rule through HttpSource over a 12-header request.
    let view = View {
        headers: vec![
            (b"Host", b"www.example.com"),
            (
                b"User-Agent",
                b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            ),
            (b"Accept", b"text/css,*/*;q=0.1"),
            (b"Accept-Language", b"en-US,en;q=0.5"),
            (b"Accept-Encoding", b"gzip, deflate, br"),
            (b"Referer", b"https://www.example.com/"),
            (b"Connection", b"keep-alive"),
            (b"Cookie", b"sid=abc123; theme=dark"),
            (b"Sec-Fetch-Dest", b"style"),
            (b"Sec-Fetch-Mode", b"no-cors"),
            (b"Sec-Fetch-Site", b"same-origin"),
            (b"Cache-Control", b"no-cache"),
        ],
    };
    let mut src = HttpSource::new();
    assert_eq!(
        route.eval(&mut src.with(&view), &mut scratch),
        Verdict::True
    );
    c.bench_function("route_condition_http_source", |b| {
        b.iter(|| black_box(route.eval(&mut src.with(&view), &mut scratch)))
    });
    set.declare("sess", &["cook(sid)", "-m", "found"], &l)
        .unwrap();
    let cookie = set.compile_cond(&["if", "sess"], &l).unwrap();
    c.bench_function("cookie_found_http_source", |b| {
        b.iter(|| black_box(cookie.eval(&mut src.with(&view), &mut scratch)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
