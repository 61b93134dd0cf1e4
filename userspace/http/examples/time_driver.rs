//! Side-by-side timing of weir-http and httparse for a noisy machine: the two
//! parsers run in alternating batches of the same message (the order flips
//! every round), so a burst of load from elsewhere hits both alike, and the
//! minimum over many batches estimates the quiet-machine cost.
//!
//! ```sh
//! cargo run --release -p weir-http --example time_driver [ROUNDS] [BATCH]
//! ```
//! Prints, per message and mode, nanoseconds per message for each parser
//! (minimum and median over ROUNDS batches of BATCH messages) and the
//! weir/httparse ratios of both.

use std::hint::black_box;
use std::time::Instant;

use weir_http::{HeadParser, Method, Options, Status};

#[path = "../benches/corpus.rs"]
mod corpus;

/// One message through weir, fed whole (no cuts) or in pieces.
fn weir(p: &mut HeadParser, response: bool, msg: &[u8], cuts: &[usize]) -> usize {
    if response {
        p.reset_response(Method::Get);
    } else {
        p.reset_request();
    }
    for &c in cuts {
        let _ = black_box(p.parse(&msg[..c]));
    }
    match p.parse(msg) {
        Ok(Status::Complete(n)) => n + p.head().headers().len(),
        _ => 0,
    }
}

/// The same through httparse, which re-parses from the start on each piece.
fn httparse(
    slots: &mut [httparse::Header<'static>],
    response: bool,
    msg: &'static [u8],
    cuts: &[usize],
) -> usize {
    if response {
        for &c in cuts {
            let _ = black_box(httparse::Response::new(slots).parse(&msg[..c]));
        }
        let mut r = httparse::Response::new(slots);
        match r.parse(msg) {
            Ok(httparse::Status::Complete(n)) => n + r.headers.len(),
            _ => 0,
        }
    } else {
        for &c in cuts {
            let _ = black_box(httparse::Request::new(slots).parse(&msg[..c]));
        }
        let mut r = httparse::Request::new(slots);
        match r.parse(msg) {
            Ok(httparse::Status::Complete(n)) => n + r.headers.len(),
            _ => 0,
        }
    }
}

fn min_median(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(300).max(1);
    let batch = args.get(1).copied().unwrap_or(2000).max(1);
    let cases: [(&str, &'static [u8], bool); 4] = [
        ("browser_get", corpus::BROWSER_GET, false),
        ("api_post", corpus::API_POST, false),
        ("minimal_get", corpus::MINIMAL_GET, false),
        ("response", corpus::RESPONSE, true),
    ];
    let mut req: HeadParser = HeadParser::request(Options::DEFAULT);
    let mut resp: HeadParser = HeadParser::response(Options::DEFAULT);
    let mut slots = [httparse::EMPTY_HEADER; 101];
    println!("{rounds} rounds of {batch} messages; ns per message: weir min/median, httparse min/median, weir/httparse min, median");
    for (name, msg, response) in cases {
        let p = if response { &mut resp } else { &mut req };
        if response {
            p.reset_response(Method::Get);
        } else {
            p.reset_request();
        }
        let Ok(Status::Complete(len)) = p.parse(msg) else {
            eprintln!("{name}: corpus message does not parse");
            std::process::exit(1);
        };
        for (mode, cuts) in [
            ("whole", vec![]),
            ("4_pieces", vec![len / 4, len / 2, len * 3 / 4]),
        ] {
            let (mut w, mut h) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
            let mut sink = 0usize;
            for round in 0..rounds {
                for which in [round % 2, 1 - round % 2] {
                    let t = Instant::now();
                    for _ in 0..batch {
                        sink += if which == 0 {
                            weir(p, response, black_box(msg), &cuts)
                        } else {
                            httparse(&mut slots, response, black_box(msg), &cuts)
                        };
                    }
                    let ns = t.elapsed().as_nanos() as f64 / batch as f64;
                    if which == 0 { &mut w } else { &mut h }.push(ns);
                }
            }
            black_box(sink);
            let ((wmin, wmed), (hmin, hmed)) = (min_median(&mut w), min_median(&mut h));
            println!(
                "{name:12} {mode:9} weir {wmin:7.1} {wmed:7.1}  httparse {hmin:7.1} {hmed:7.1}  ratio {:.2} {:.2}",
                wmin / hmin,
                wmed / hmed
            );
        }
    }
}
