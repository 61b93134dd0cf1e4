//! ACL matching cost with 10,000 patterns per method, against a naive scan
//! over the same patterns, and a typical small routing condition.
//!
//! Run: `cargo bench -p weir-core --bench acl`

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion};
use weir_core::acl::{
    AclSet, Condition, FetchCall, FetchKind, FetchStatus, Loader, Sample, SampleSource, Scratch,
    Verdict, Visit,
};

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
