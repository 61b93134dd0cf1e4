//! A tiny driver for instruction counts under callgrind: parses one corpus
//! message N times with weir-http or httparse, whole or in 4 pieces.
//!
//! ```sh
//! cargo build --release -p weir-http --example parse_driver
//! valgrind --tool=callgrind target/release/examples/parse_driver weir whole browser_get 1000
//! ```
//! Run with N and 2N and divide the difference by N: that removes start-up.

use std::hint::black_box;

use weir_http::{HeadParser, Method, Options, Status};

#[path = "../benches/corpus.rs"]
mod corpus;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: parse_driver weir|httparse whole|4_pieces browser_get|api_post|minimal_get|response N";
    let [_, parser, mode, msg, n] = &args[..] else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (msg, response): (&'static [u8], bool) = match msg.as_str() {
        "browser_get" => (corpus::BROWSER_GET, false),
        "api_post" => (corpus::API_POST, false),
        "minimal_get" => (corpus::MINIMAL_GET, false),
        "response" => (corpus::RESPONSE, true),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let n: usize = n.parse().unwrap_or(1000);
    let mut w: HeadParser = if response {
        HeadParser::response(Options::DEFAULT)
    } else {
        HeadParser::request(Options::DEFAULT)
    };
    let Ok(Status::Complete(len)) = w.parse(msg) else {
        eprintln!("corpus message does not parse");
        std::process::exit(1);
    };
    let cuts: Vec<usize> = if mode == "4_pieces" {
        vec![len / 4, len / 2, len * 3 / 4]
    } else {
        vec![]
    };
    let mut slots = [httparse::EMPTY_HEADER; 101];
    let mut total = 0usize;
    for _ in 0..n {
        let msg = black_box(msg);
        total += if parser == "weir" {
            if response {
                w.reset_response(Method::Get);
            } else {
                w.reset_request();
            }
            for &c in &cuts {
                let _ = black_box(w.parse(&msg[..c]));
            }
            match w.parse(msg) {
                Ok(Status::Complete(k)) => k + w.head().headers().len(),
                _ => 0,
            }
        } else if response {
            for &c in &cuts {
                let _ = black_box(httparse::Response::new(&mut slots).parse(&msg[..c]));
            }
            let mut r = httparse::Response::new(&mut slots);
            match r.parse(msg) {
                Ok(httparse::Status::Complete(k)) => k + r.headers.len(),
                _ => 0,
            }
        } else {
            for &c in &cuts {
                let _ = black_box(httparse::Request::new(&mut slots).parse(&msg[..c]));
            }
            let mut r = httparse::Request::new(&mut slots);
            match r.parse(msg) {
                Ok(httparse::Status::Complete(k)) => k + r.headers.len(),
                _ => 0,
            }
        };
    }
    println!("{total}");
}
