//! The checkpoint property and random-input robustness.

use proptest::prelude::*;

use super::corpus::{API_POST, BROWSER_GET, MINIMAL_GET, RESPONSE};
use super::tables::{REQUESTS, RESPONSES};
use super::{outcome, parse_pieces, parse_whole, req};
use crate::{HeadParser, Method, Options, Status};

/// Every message of the tables and the corpus, valid or not.
fn corpus() -> Vec<&'static [u8]> {
    let mut v: Vec<&'static [u8]> = REQUESTS.iter().map(|(_, m, _)| *m).collect();
    v.extend([BROWSER_GET, API_POST, MINIMAL_GET]);
    v
}

#[test]
fn split_at_every_byte_gives_the_same_result() {
    for msg in corpus() {
        let (whole, _) = parse_whole(req(), msg);
        for k in 0..=msg.len() {
            let (split, examined) = parse_pieces(req(), msg, &[k]);
            assert_eq!(
                split,
                whole,
                "{:?} split at {k}",
                String::from_utf8_lossy(msg)
            );
            assert!(
                examined <= 2 * msg.len() as u64,
                "examined {examined} > 2x{}",
                msg.len()
            );
        }
    }
}

#[test]
fn byte_at_a_time_examines_each_byte_once() {
    for msg in [BROWSER_GET, API_POST, MINIMAL_GET] {
        let cuts: Vec<usize> = (1..msg.len()).collect();
        let (whole, ex_whole) = parse_whole(req(), msg);
        let (split, ex_split) = parse_pieces(req(), msg, &cuts);
        assert_eq!(split, whole);
        let head = whole.unwrap().unwrap().head_len as u64;
        // Same work in pieces as whole: nothing is rescanned on resumption.
        assert_eq!(ex_split, ex_whole);
        assert!(ex_whole <= 2 * head, "{ex_whole} > 2x{head}");
    }
}

#[test]
fn responses_split_at_every_byte() {
    let mut all: Vec<(Method, &[u8])> = RESPONSES.iter().map(|(_, m, b, _)| (*m, *b)).collect();
    all.push((Method::Get, RESPONSE));
    for (method, msg) in all {
        let run = |cut: Option<usize>| {
            let mut p: HeadParser = HeadParser::response(Options::DEFAULT);
            p.reset_response(method);
            if let Some(k) = cut {
                let _ = p.parse(&msg[..k]);
            }
            let r = p.parse(msg);
            (outcome(&p, r), p.examined())
        };
        let (whole, _) = run(None);
        for k in 0..=msg.len() {
            let (split, examined) = run(Some(k));
            assert_eq!(split, whole, "split at {k}");
            assert!(examined <= 2 * msg.len() as u64);
        }
    }
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..8).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

/// Bytes that look like HTTP often enough to reach deep states.
fn http_ish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"GET ".to_vec()),
        Just(b"POST /x HTTP/1.1\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"Host: a\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Connection: close, x\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(piece, 0..20).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_pieces_give_the_same_result(idx in 0usize..1000, seed_cuts in cuts(2000)) {
        let all = corpus();
        let msg = all[idx % all.len()];
        let cuts: Vec<usize> = seed_cuts.into_iter().map(|c| c % (msg.len() + 1)).collect();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (whole, _) = parse_whole(req(), msg);
        let (split, examined) = parse_pieces(req(), msg, &cuts);
        prop_assert_eq!(split, whole);
        prop_assert!(examined <= 2 * msg.len() as u64);
    }

    /// The in-tree "fuzz-like" check: random input never panics, and pieces
    /// agree with whole, for requests (strict and lenient) and responses.
    #[test]
    fn random_input_never_panics(msg in http_ish(), c in cuts(400), lenient in any::<bool>(), method in 0u8..3) {
        let opts = Options { accept_invalid: lenient, max_head: 256 };
        let c: Vec<usize> = c.into_iter().filter(|&x| x <= msg.len()).collect();
        for response in [false, true] {
            let mk = || {
                let mut p: HeadParser<8> = HeadParser::request(opts);
                if response {
                    p = HeadParser::response(opts);
                    p.reset_response([Method::Get, Method::Head, Method::Connect][method as usize]);
                }
                p
            };
            let mut a = mk();
            let ra = a.parse(&msg);
            let whole = outcome(&a, ra);
            let mut b = mk();
            for &k in &c {
                if b.parse(&msg[..k]) != Ok(Status::Partial) { break; }
            }
            let rb = b.parse(&msg);
            let split = outcome(&b, rb);
            prop_assert_eq!(&split, &whole);
            prop_assert!(b.examined() <= 2 * msg.len() as u64);
            if let Ok(Some(s)) = whole {
                // Every span lies inside the head.
                for h in &s.headers {
                    prop_assert!(h.name.end as usize <= s.head_len && h.value.end as usize <= s.head_len);
                    prop_assert!(h.name.start <= h.name.end && h.value.start <= h.value.end);
                }
            }
        }
    }
}
