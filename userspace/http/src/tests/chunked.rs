//! Chunked decoder: round trips with extensions and trailers in random
//! pieces, and every rejection.

use proptest::prelude::*;

use crate::{BodyDecoder, Chunk, ChunkedDecoder, ErrorKind, Framing, Options};

/// What a caller gets out of a chunked body fed in pieces: data, trailers
/// (name, value), whether it ended, the bytes left after it, or the error.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    data: Vec<u8>,
    trailers: Vec<(Vec<u8>, Vec<u8>)>,
    done: bool,
    rest: Vec<u8>,
    error: Option<ErrorKind>,
    examined: u64,
}

/// Feeds `wire` in pieces ending at `cuts`, as a proxy would: keeps the
/// unconsumed bytes, appends each new piece, decodes until NeedMore or Done.
fn feed(wire: &[u8], cuts: &[usize], opts: Options) -> Decoded {
    let mut d = ChunkedDecoder::new(opts);
    let mut out = Decoded {
        data: vec![],
        trailers: vec![],
        done: false,
        rest: vec![],
        error: None,
        examined: 0,
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut ends: Vec<usize> = cuts.to_vec();
    ends.push(wire.len());
    'outer: for end in ends {
        if end < fed {
            continue;
        }
        pending.extend_from_slice(&wire[fed..end]);
        fed = end;
        loop {
            match d.decode(&pending) {
                Err(e) => {
                    out.error = Some(e.kind);
                    break 'outer;
                }
                Ok(step) => {
                    match &step.chunk {
                        Chunk::Data(r) => out.data.extend_from_slice(&pending[r.clone()]),
                        Chunk::Trailer { name, value } => {
                            out.trailers.push((
                                pending[name.clone()].to_vec(),
                                pending[value.clone()].to_vec(),
                            ));
                        }
                        Chunk::NeedMore | Chunk::Done => {}
                    }
                    pending.drain(..step.consumed);
                    match step.chunk {
                        Chunk::Done => {
                            out.done = true;
                            break 'outer;
                        }
                        Chunk::NeedMore => break,
                        _ => {}
                    }
                }
            }
        }
    }
    out.rest = pending;
    out.rest.extend_from_slice(&wire[fed..]);
    out.examined = d.examined();
    out
}

fn encode(chunks: &[(Vec<u8>, String)], trailers: &[(String, String)]) -> Vec<u8> {
    let mut w = Vec::new();
    for (data, ext) in chunks {
        w.extend_from_slice(format!("{:X}{}\r\n", data.len(), ext).as_bytes());
        w.extend_from_slice(data);
        w.extend_from_slice(b"\r\n");
    }
    w.extend_from_slice(b"0\r\n");
    for (n, v) in trailers {
        w.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    w.extend_from_slice(b"\r\n");
    w
}

fn ext() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(";a=b".to_string()),
        Just(" ; name=\"quoted value\"".to_string()),
        Just(";x;y=1".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_in_random_pieces(
        chunks in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 1..40), ext()), 0..6),
        trailers in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,8}", "[ -~]{0,12}"), 0..3),
        cuts in proptest::collection::vec(0usize..400, 0..10),
    ) {
        let trailers: Vec<(String, String)> = trailers
            .into_iter()
            .filter(|(n, _)| !matches!(n.to_ascii_lowercase().as_str(), "content-length" | "transfer-encoding" | "host"))
            .map(|(n, v)| (n, v.trim().to_string()))
            .collect();
        let mut wire = encode(&chunks, &trailers);
        wire.extend_from_slice(b"NEXT");
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
        cuts.sort_unstable();
        let got = feed(&wire, &cuts, Options::DEFAULT);
        let whole = feed(&wire, &[], Options::DEFAULT);
        prop_assert_eq!(got.error, None);
        prop_assert!(got.done);
        prop_assert_eq!(&got.data, &chunks.iter().flat_map(|(d, _)| d.clone()).collect::<Vec<u8>>());
        let exp: Vec<(Vec<u8>, Vec<u8>)> = trailers.iter().map(|(n, v)| (n.clone().into_bytes(), v.clone().into_bytes())).collect();
        prop_assert_eq!(&got.trailers, &exp);
        prop_assert_eq!(&got.rest, b"NEXT");
        prop_assert_eq!(got.examined, whole.examined);
        prop_assert!(got.examined <= 2 * wire.len() as u64);
    }

    #[test]
    fn random_bytes_never_panic(wire in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b'a')], 0..200),
                                cuts in proptest::collection::vec(0usize..200, 0..6), lenient in any::<bool>()) {
        let opts = Options { accept_invalid: lenient, ..Options::DEFAULT };
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= wire.len()).collect();
        cuts.sort_unstable();
        let a = feed(&wire, &cuts, opts);
        let b = feed(&wire, &[], opts);
        prop_assert_eq!(a.error, b.error);
        prop_assert_eq!(a.data, b.data);
        prop_assert_eq!(a.done, b.done);
    }
}

#[test]
fn every_byte_split_matches_whole() {
    let wire = b"4;ext=\"v\"\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-Sum:  abc \r\n\r\nNEXT";
    let whole = feed(wire, &[], Options::DEFAULT);
    assert_eq!(whole.data, b"Wikipedia in\r\n\r\nchunks.");
    assert_eq!(
        whole.trailers,
        vec![
            (b"Expires".to_vec(), b"never".to_vec()),
            (b"X-Sum".to_vec(), b"abc".to_vec())
        ]
    );
    assert_eq!(whole.rest, b"NEXT");
    for k in 0..=wire.len() {
        assert_eq!(feed(wire, &[k], Options::DEFAULT), whole, "split at {k}");
    }
    let all: Vec<usize> = (0..wire.len()).collect();
    assert_eq!(feed(wire, &all, Options::DEFAULT), whole);
}

#[test]
fn rejections() {
    let cases: &[(&[u8], ErrorKind)] = &[
        (b"\r\n", ErrorKind::InvalidChunkSize),
        (b"g\r\n", ErrorKind::InvalidChunkSize),
        (b"-1\r\n", ErrorKind::InvalidChunkSize),
        (b"0x5\r\n", ErrorKind::InvalidChunkSize),
        (b"1 2\r\n", ErrorKind::InvalidChunkExtension),
        (b"5 \r\nhello\r\n", ErrorKind::InvalidChunkExtension),
        (b"10000000000000000\r\n", ErrorKind::ChunkSizeOverflow),
        (b"1;a\0b\r\n", ErrorKind::InvalidChunkExtension),
        (b"1\nx\r\n", ErrorKind::BareLf),
        (b"1\rx", ErrorKind::BareCr),
        (b"3\r\nabcd\r\n", ErrorKind::BadChunkTerminator),
        (b"3\r\nabc\rx", ErrorKind::BadChunkTerminator),
        (b"3\r\nabc\n0\r\n\r\n", ErrorKind::BadChunkTerminator),
        (
            b"0\r\nContent-Length: 5\r\n\r\n",
            ErrorKind::ForbiddenTrailer,
        ),
        (
            b"0\r\ntransfer-encoding: chunked\r\n\r\n",
            ErrorKind::ForbiddenTrailer,
        ),
        (b"0\r\nX : y\r\n\r\n", ErrorKind::WhitespaceBeforeColon),
        (b"0\r\nX\r\n\r\n", ErrorKind::MissingColon),
        (b"0\r\n: y\r\n\r\n", ErrorKind::EmptyHeaderName),
        (b"0\r\nX: y\r\n z\r\n\r\n", ErrorKind::ObsFold),
        (b"0\r\nX: a\0\r\n\r\n", ErrorKind::NulInHeader),
        (b"0\r\nX: a\x01\r\n\r\n", ErrorKind::InvalidHeaderValue),
        (b"0\r\n\rx", ErrorKind::BareCr),
    ];
    for (wire, kind) in cases {
        let whole = feed(wire, &[], Options::DEFAULT);
        assert_eq!(
            whole.error,
            Some(*kind),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
        for k in 0..=wire.len() {
            assert_eq!(
                feed(wire, &[k], Options::DEFAULT).error,
                Some(*kind),
                "split {k}"
            );
        }
    }
    // The longest size that fits: 16 hex digits.
    let ok = feed(
        b"000000000000000000000001\r\nx\r\n0\r\n\r\n",
        &[],
        Options::DEFAULT,
    );
    assert_eq!((ok.error, ok.data), (None, b"x".to_vec()));
    // A trailer line longer than the limit.
    let mut long = b"0\r\nX: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 20000));
    let cut: Vec<usize> = (1..long.len()).step_by(1000).collect();
    assert_eq!(
        feed(&long, &cut, Options::DEFAULT).error,
        Some(ErrorKind::TrailerTooLarge)
    );
    // Lenient: bare LF line ends.
    let lenient = Options {
        accept_invalid: true,
        ..Options::DEFAULT
    };
    let got = feed(b"3\nabc\n0\nX: y\n\n", &[], lenient);
    assert_eq!(
        (got.error, got.done, got.data),
        (None, true, b"abc".to_vec())
    );
}

#[test]
fn body_decoder_framings() {
    let mut b = BodyDecoder::new(Framing::Length(5), Options::DEFAULT);
    let s = b.decode(b"abc").unwrap();
    assert_eq!((s.consumed, s.chunk), (3, Chunk::Data(0..3)));
    assert!(b.on_close().is_err());
    let s = b.decode(b"deNEXT").unwrap();
    assert_eq!((s.consumed, s.chunk), (2, Chunk::Data(0..2)));
    assert!(b.is_done() && b.on_close().is_ok());
    let mut b = BodyDecoder::new(Framing::UntilClose, Options::DEFAULT);
    assert_eq!(b.decode(b"xyz").unwrap().consumed, 3);
    assert!(!b.is_done() && b.on_close().is_ok());
    let b = BodyDecoder::new(Framing::None, Options::DEFAULT);
    assert!(b.is_done());
    let mut b = BodyDecoder::new(Framing::Chunked, Options::DEFAULT);
    assert_eq!(b.on_close().unwrap_err().kind, ErrorKind::Truncated);
    assert_eq!(b.decode(b"0\r\n\r\n").unwrap().chunk, Chunk::Done);
}

#[test]
fn consumed_locates_an_error_in_the_failing_input() {
    let mut d = BodyDecoder::new(Framing::Chunked, Options::DEFAULT);
    // First receive: one whole chunk.
    let first = b"5\r\nhello\r\n";
    let mut pos = 0;
    while pos < first.len() {
        pos += d.decode(&first[pos..]).unwrap().consumed;
    }
    assert_eq!(d.consumed(), 10);
    // Second receive: a valid chunk, then a size that is not hex.
    let second = b"2\r\nab\r\nzz\r\n";
    let mut pos = 0;
    let e = loop {
        match d.decode(&second[pos..]) {
            Ok(s) => pos += s.consumed,
            Err(e) => break e,
        }
    };
    assert_eq!(e.offset, 17);
    // After the error `consumed` is the count before the failing call.
    let at = pos + usize::try_from(e.offset - d.consumed()).unwrap();
    assert_eq!(second[at], b'z');
    assert_eq!(
        BodyDecoder::new(Framing::Length(3), Options::DEFAULT).consumed(),
        0
    );
}
