//! Head parsing: weir-http against httparse 1.10.1 in the same run, on a
//! realistic corpus, whole and in 4 pieces (httparse re-parses from the start
//! on each arrival, weir resumes).
//!
//! Run: `cargo bench -p weir-http --bench parse`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use weir_http::{HeadParser, Method, Options, Status};

#[path = "corpus.rs"]
mod corpus;

/// Where a message arriving in 4 pieces is cut: quarters of the head.
fn quarters(head_len: usize) -> [usize; 3] {
    [head_len / 4, head_len / 2, head_len * 3 / 4]
}

fn head_len(msg: &[u8], response: bool) -> usize {
    let mut p: HeadParser = if response {
        HeadParser::response(Options::DEFAULT)
    } else {
        HeadParser::request(Options::DEFAULT)
    };
    match p.parse(msg) {
        Ok(Status::Complete(n)) => n,
        other => panic!("corpus message does not parse: {other:?}"),
    }
}

fn weir_request(p: &mut HeadParser, msg: &[u8], cuts: &[usize]) -> usize {
    p.reset_request();
    for &c in cuts {
        let _ = p.parse(&msg[..c]);
    }
    match p.parse(msg) {
        Ok(Status::Complete(n)) => n + p.head().headers().len(),
        _ => 0,
    }
}

fn weir_response(p: &mut HeadParser, msg: &[u8], cuts: &[usize]) -> usize {
    p.reset_response(Method::Get);
    for &c in cuts {
        let _ = p.parse(&msg[..c]);
    }
    match p.parse(msg) {
        Ok(Status::Complete(n)) => n + p.head().headers().len(),
        _ => 0,
    }
}

fn httparse_request(
    h: &mut [httparse::Header<'static>],
    msg: &'static [u8],
    cuts: &[usize],
) -> usize {
    for &c in cuts {
        let mut r = httparse::Request::new(h);
        let _ = black_box(r.parse(&msg[..c]));
    }
    let mut r = httparse::Request::new(h);
    match r.parse(msg) {
        Ok(httparse::Status::Complete(n)) => n + r.headers.len(),
        _ => 0,
    }
}

fn httparse_response(
    h: &mut [httparse::Header<'static>],
    msg: &'static [u8],
    cuts: &[usize],
) -> usize {
    for &c in cuts {
        let mut r = httparse::Response::new(h);
        let _ = black_box(r.parse(&msg[..c]));
    }
    let mut r = httparse::Response::new(h);
    match r.parse(msg) {
        Ok(httparse::Status::Complete(n)) => n + r.headers.len(),
        _ => 0,
    }
}

fn bench(c: &mut Criterion) {
    let cases: [(&str, &[u8], bool); 4] = [
        ("browser_get", corpus::BROWSER_GET, false),
        ("api_post", corpus::API_POST, false),
        ("minimal_get", corpus::MINIMAL_GET, false),
        ("response", corpus::RESPONSE, true),
    ];
    // Both parsers keep their header storage across messages, as a
    // connection does; both have room for 101 headers (tune.http.maxhdr).
    let mut weir_req: HeadParser = HeadParser::request(Options::DEFAULT);
    let mut weir_resp: HeadParser = HeadParser::response(Options::DEFAULT);
    let mut slots = [httparse::EMPTY_HEADER; 101];
    for (name, msg, response) in cases {
        let n = head_len(msg, response);
        let cuts = quarters(n);
        let mut g = c.benchmark_group(name);
        for (mode, cuts) in [("whole", &[][..]), ("4_pieces", &cuts[..])] {
            g.bench_function(format!("weir/{mode}"), |b| {
                b.iter(|| {
                    if response {
                        weir_response(&mut weir_resp, black_box(msg), cuts)
                    } else {
                        weir_request(&mut weir_req, black_box(msg), cuts)
                    }
                });
            });
            g.bench_function(format!("httparse/{mode}"), |b| {
                b.iter(|| {
                    if response {
                        httparse_response(&mut slots, black_box(msg), cuts)
                    } else {
                        httparse_request(&mut slots, black_box(msg), cuts)
                    }
                });
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(50);
    targets = bench
}
criterion_main!(benches);
