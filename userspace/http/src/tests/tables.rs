//! Tables of requests and responses with their expected outcome: every
//! grammar rule, every rejection (each its own error kind), and valid but
//! unusual messages that must pass.

use super::{parse_whole, req};
use crate::{
    header_flags, unfold, ErrorKind, Framing, HeadParser, HeaderId, Method, Options, State, Status,
};

/// Expected result of a message.
#[derive(Clone, Copy, Debug)]
pub enum Exp {
    /// Complete, with this framing and keep-alive flag.
    Ok(Framing, bool),
    /// Rejected with this kind.
    Err(ErrorKind),
}

use Exp::{Err as E, Ok as K};
use Framing::{Chunked, Length, None as NoBody, Tunnel, UntilClose};

/// Requests: (what, bytes, expected). Parsed with strict options.
pub const REQUESTS: &[(&str, &[u8], Exp)] = &[
    // ---- valid, some unusual -------------------------------------------
    ("minimal", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", K(NoBody, true)),
    ("http/1.0 without host", b"GET / HTTP/1.0\r\n\r\n", K(NoBody, false)),
    ("http/1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", K(NoBody, true)),
    ("http/1.1 close", b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", K(NoBody, false)),
    ("connection list", b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", K(NoBody, false)),
    ("leading empty lines", b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", K(NoBody, true)),
    ("cl zero", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", K(NoBody, true)),
    ("cl leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", K(Length(7), true)),
    ("cl same list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", K(Length(5), true)),
    ("cl same twice", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", K(Length(5), true)),
    ("cl max", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", K(Length(u64::MAX), true)),
    ("te chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", K(Chunked, true)),
    ("te gzip, chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", K(Chunked, true)),
    ("te upper case", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n", K(Chunked, true)),
    ("te two fields", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", K(Chunked, true)),
    ("te empty members", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked,\r\n\r\n", K(Chunked, true)),
    ("cl and te: te wins, close", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", K(Chunked, false)),
    ("absolute form", b"GET http://a.example/b?c HTTP/1.1\r\nHost: a.example\r\n\r\n", K(NoBody, true)),
    ("options asterisk", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", K(NoBody, true)),
    ("connect authority", b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", K(NoBody, true)),
    ("connect ipv6", b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", K(NoBody, true)),
    ("obs-text in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\xff\r\n\r\n", K(NoBody, true)),
    ("htab in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n", K(NoBody, true)),
    ("empty value", b"GET / HTTP/1.1\r\nHost: a\r\nX:\r\nY: \r\n\r\n", K(NoBody, true)),
    ("tchar specials in name", b"GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+-.^_`|~: v\r\n\r\n", K(NoBody, true)),
    ("expect 100-continue", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n", K(Length(2), true)),
    ("websocket upgrade", b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", K(NoBody, true)),
    ("extension method", b"PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", K(NoBody, true)),
    ("query and escapes", b"GET /a/b?c=%20&d=[1]{2}|~ HTTP/1.1\r\nHost: a\r\n\r\n", K(NoBody, true)),
    ("trailing ows trimmed", b"GET / HTTP/1.1\r\nHost: a \t \r\n\r\n", K(NoBody, true)),
    ("connection names cl", b"POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 1\r\n\r\n", K(Length(1), true)),
    ("long value", b"GET / HTTP/1.1\r\nHost: a\r\nCookie: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", K(NoBody, true)),
    // ---- request line ----------------------------------------------------
    ("double space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidRequestLine)),
    ("space before version end", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", E(ErrorKind::InvalidVersion)),
    ("http/0.9", b"GET /\r\n\r\n", E(ErrorKind::Http09)),
    ("http/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", E(ErrorKind::UnsupportedVersion)),
    ("http/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", E(ErrorKind::UnsupportedVersion)),
    ("http/3", b"GET / HTTP/3\r\nHost: a\r\n\r\n", E(ErrorKind::UnsupportedVersion)),
    ("lower-case version", b"GET / http/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidVersion)),
    ("version 1.10", b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidVersion)),
    ("method lf", b"GET\r\n\r\n", E(ErrorKind::InvalidRequestLine)),
    ("bare lf after request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", E(ErrorKind::BareLf)),
    ("bare cr after request line", b"GET / HTTP/1.1\rHost: a\r\n\r\n", E(ErrorKind::BareCr)),
    ("method non-token", b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidMethod)),
    ("leading space", b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidMethod)),
    ("nul in method", b"GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidMethod)),
    ("space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidVersion)),
    ("fragment", b"GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::FragmentInTarget)),
    ("control in target", b"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidTarget)),
    ("tab in target", b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidTarget)),
    ("del in target", b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidTarget)),
    ("non-ascii in target", b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidTarget)),
    ("asterisk with get", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::AsteriskNotOptions)),
    ("authority with get", b"GET a.example:80 HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::AuthorityNotConnect)),
    ("connect origin form", b"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidAuthority)),
    ("connect no port", b"CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidAuthority)),
    ("connect userinfo", b"CONNECT u@a:443 HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidAuthority)),
    ("relative target", b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidTarget)),
    ("bad scheme", b"GET 1ttp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", E(ErrorKind::InvalidScheme)),
    // ---- header syntax ---------------------------------------------------
    ("missing host", b"GET / HTTP/1.1\r\n\r\n", E(ErrorKind::MissingHost)),
    ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", E(ErrorKind::MultipleHost)),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", E(ErrorKind::WhitespaceBeforeColon)),
    ("tab before colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", E(ErrorKind::WhitespaceBeforeColon)),
    ("space in name", b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n", E(ErrorKind::WhitespaceBeforeColon)),
    ("no colon", b"GET / HTTP/1.1\r\nHost\r\n\r\n", E(ErrorKind::MissingColon)),
    ("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", E(ErrorKind::EmptyHeaderName)),
    ("non-token name", b"GET / HTTP/1.1\r\nHost: a\r\nX(: v\r\n\r\n", E(ErrorKind::InvalidHeaderName)),
    ("non-ascii name", b"GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: v\r\n\r\n", E(ErrorKind::InvalidHeaderName)),
    ("nul in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", E(ErrorKind::NulInHeader)),
    ("bare cr in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", E(ErrorKind::BareCr)),
    ("bare lf in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", E(ErrorKind::BareLf)),
    ("vertical tab in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n", E(ErrorKind::InvalidHeaderValue)),
    ("del in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", E(ErrorKind::InvalidHeaderValue)),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", E(ErrorKind::ObsFold)),
    ("whitespace after start line", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", E(ErrorKind::WhitespaceAfterStartLine)),
    ("bare cr at end", b"GET / HTTP/1.1\r\nHost: a\r\n\rX", E(ErrorKind::BareCr)),
    ("bare lf at end", b"GET / HTTP/1.1\r\nHost: a\r\n\n", E(ErrorKind::BareLf)),
    // ---- content-length --------------------------------------------------
    ("cl negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl plus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl letters", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl inner space", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl empty member", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl decimal point", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5.0\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    ("cl overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", E(ErrorKind::ContentLengthOverflow)),
    ("cl list differs", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", E(ErrorKind::ConflictingContentLength)),
    ("cl fields differ", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", E(ErrorKind::ConflictingContentLength)),
    ("cl invalid even with te", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", E(ErrorKind::InvalidContentLength)),
    // ---- transfer-encoding -----------------------------------------------
    ("te chunked not last", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", E(ErrorKind::ChunkedNotLast)),
    ("te chunked not last across fields", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", E(ErrorKind::ChunkedNotLast)),
    ("te chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", E(ErrorKind::ChunkedTwice)),
    ("te chunked twice across fields", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", E(ErrorKind::ChunkedTwice)),
    ("te gzip only", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", E(ErrorKind::TransferEncodingNotChunked)),
    ("te xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", E(ErrorKind::TransferEncodingNotChunked)),
    ("te empty", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", E(ErrorKind::InvalidTransferEncoding)),
    ("te quoted", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", E(ErrorKind::InvalidTransferEncoding)),
    ("te chunked with params", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", E(ErrorKind::InvalidTransferEncoding)),
    ("te inner space", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n", E(ErrorKind::InvalidTransferEncoding)),
    ("te vertical tab", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", E(ErrorKind::InvalidHeaderValue)),
    ("te space before colon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", E(ErrorKind::WhitespaceBeforeColon)),
    ("te on http/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", E(ErrorKind::TransferEncodingHttp10)),
    ("te folded", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", E(ErrorKind::ObsFold)),
];

/// Responses: (what, request method, bytes, expected).
pub const RESPONSES: &[(&str, Method, &[u8], Exp)] = &[
    (
        "200 with length",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        K(Length(5), true),
    ),
    (
        "200 until close",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n",
        K(UntilClose, false),
    ),
    (
        "200 chunked",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        K(Chunked, true),
    ),
    (
        "200 gzip only: until close",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        K(UntilClose, false),
    ),
    (
        "200 cl+te",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n",
        K(Chunked, false),
    ),
    (
        "head response",
        Method::Head,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        K(NoBody, true),
    ),
    (
        "204",
        Method::Get,
        b"HTTP/1.1 204 No Content\r\n\r\n",
        K(NoBody, true),
    ),
    (
        "304 with cl",
        Method::Get,
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
        K(NoBody, true),
    ),
    (
        "100 continue",
        Method::Post,
        b"HTTP/1.1 100 Continue\r\n\r\n",
        K(NoBody, true),
    ),
    (
        "101 upgrade",
        Method::Get,
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        K(Tunnel, false),
    ),
    (
        "connect 200",
        Method::Connect,
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        K(Tunnel, false),
    ),
    (
        "connect 407",
        Method::Connect,
        b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n",
        K(NoBody, true),
    ),
    (
        "no reason",
        Method::Get,
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        K(NoBody, true),
    ),
    (
        "empty reason",
        Method::Get,
        b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
        K(NoBody, true),
    ),
    (
        "http/1.0 response",
        Method::Get,
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
        K(Length(1), false),
    ),
    (
        "http/1.0 keep-alive",
        Method::Get,
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
        K(Length(1), true),
    ),
    (
        "close",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
        K(Length(1), false),
    ),
    (
        "status 2 digits",
        Method::Get,
        b"HTTP/1.1 20 OK\r\n\r\n",
        E(ErrorKind::InvalidStatus),
    ),
    (
        "status leading 0",
        Method::Get,
        b"HTTP/1.1 099 OK\r\n\r\n",
        E(ErrorKind::InvalidStatus),
    ),
    (
        "status 4 digits",
        Method::Get,
        b"HTTP/1.1 2000 OK\r\n\r\n",
        E(ErrorKind::InvalidStatus),
    ),
    (
        "double space",
        Method::Get,
        b"HTTP/1.1  200 OK\r\n\r\n",
        E(ErrorKind::InvalidStatus),
    ),
    (
        "http/2 response",
        Method::Get,
        b"HTTP/2.0 200 OK\r\n\r\n",
        E(ErrorKind::UnsupportedVersion),
    ),
    (
        "junk version",
        Method::Get,
        b"HTTX/1.1 200 OK\r\n\r\n",
        E(ErrorKind::InvalidVersion),
    ),
    (
        "no space after version",
        Method::Get,
        b"HTTP/1.1\r\n\r\n\r\n",
        E(ErrorKind::InvalidStatusLine),
    ),
    (
        "control in reason",
        Method::Get,
        b"HTTP/1.1 200 O\x01K\r\n\r\n",
        E(ErrorKind::InvalidStatusLine),
    ),
    (
        "cl conflict",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
        E(ErrorKind::ConflictingContentLength),
    ),
    (
        "te on 1.0",
        Method::Get,
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        E(ErrorKind::TransferEncodingHttp10),
    ),
    (
        "te chunked not last",
        Method::Get,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        E(ErrorKind::ChunkedNotLast),
    ),
];

fn check(what: &str, got: (super::Outcome, u64), exp: Exp, len: usize) {
    let (got, examined) = got;
    match (exp, &got) {
        (Exp::Ok(framing, ka), Ok(Some(s))) => {
            assert_eq!(s.framing, framing, "{what}: framing");
            assert_eq!(s.keep_alive, ka, "{what}: keep-alive");
            assert_eq!(s.head_len, len, "{what}: head length");
        }
        (Exp::Err(kind), Err(e)) => {
            assert_eq!(e.kind, kind, "{what}: {e}");
            assert!(
                (e.offset as usize) <= len,
                "{what}: offset {} beyond message",
                e.offset
            );
        }
        _ => panic!("{what}: expected {exp:?}, got {got:?}"),
    }
    assert!(
        examined <= 2 * len as u64,
        "{what}: examined {examined} of {len}"
    );
}

#[test]
fn request_table() {
    assert!(
        REQUESTS.len() >= 60 + 30,
        "table shrank: {}",
        REQUESTS.len()
    );
    for (what, msg, exp) in REQUESTS {
        check(what, parse_whole(req(), msg), *exp, msg.len());
    }
}

#[test]
fn response_table() {
    for (what, method, msg, exp) in RESPONSES {
        let mut p: HeadParser = HeadParser::response(Options::DEFAULT);
        p.reset_response(*method);
        let r = p.parse(msg);
        let got = (super::outcome(&p, r), p.examined());
        check(what, got, *exp, msg.len());
    }
}

fn lenient() -> HeadParser {
    HeadParser::request(Options {
        accept_invalid: true,
        ..Options::DEFAULT
    })
}

#[test]
fn accept_invalid_relaxes_exactly_what_it_says() {
    let relaxed: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\nX: b\n\n",
        b"GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX(\xc3\xa9: v\r\n\r\n",
    ];
    for msg in relaxed {
        let (strict, _) = parse_whole(req(), msg);
        assert!(strict.is_err(), "{msg:?} must fail strict");
        let (got, _) = parse_whole(lenient(), msg);
        assert!(
            matches!(got, Ok(Some(_))),
            "{msg:?} must pass lenient: {got:?}"
        );
    }
    // Smuggling rules stay strict.
    let still: &[(&[u8], ErrorKind)] = &[
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            ErrorKind::BareCr,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            ErrorKind::NulInHeader,
        ),
        (
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            ErrorKind::WhitespaceBeforeColon,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n",
            ErrorKind::ConflictingContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            ErrorKind::ChunkedNotLast,
        ),
        (
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            ErrorKind::UnsupportedVersion,
        ),
    ];
    for (msg, kind) in still {
        let (got, _) = parse_whole(lenient(), msg);
        assert_eq!(got.unwrap_err().kind, *kind, "{msg:?}");
    }
}

#[test]
fn obs_fold_is_unfolded_in_place() {
    let mut msg = b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\tc\r\nTransfer-Encoding:\r\n chunked\r\n\r\n".to_vec();
    let mut p = lenient();
    let Ok(Status::Complete(n)) = p.parse(&msg) else {
        panic!("must parse")
    };
    assert_eq!(n, msg.len());
    assert_eq!(p.head().framing(), Framing::Chunked);
    let x = p.head().headers()[1];
    assert!(x.is_folded());
    unfold(&mut msg, &x);
    assert_eq!(x.value.slice(&msg), b"a    b  \tc");
}

#[test]
fn summary_fields() {
    let msg = b"POST /up?x=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Connection: x\r\nExpect: 100-continue\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\nUser-Agent: t\r\n\r\nBODY";
    let mut p = req();
    let Ok(Status::Complete(n)) = p.parse(msg) else {
        panic!("must parse")
    };
    let h = p.head();
    assert_eq!(n, msg.len() - 4);
    assert_eq!(h.method(), Method::Post);
    assert_eq!(h.target().slice(msg), b"/up?x=1");
    assert_eq!(h.framing(), Framing::Chunked);
    assert!(h.close_forced() && !h.keep_alive() && h.expect_continue());
    let dropped: Vec<&[u8]> = h
        .headers()
        .iter()
        .filter(|f| f.must_drop())
        .map(|f| f.name.slice(msg))
        .collect();
    assert_eq!(
        dropped,
        vec![
            &b"Connection"[..],
            b"X-Secret",
            b"Keep-Alive",
            b"TE",
            b"Proxy-Connection",
            b"Content-Length"
        ]
    );
    let cl = h.find(HeaderId::ContentLength).unwrap();
    assert_eq!(
        cl.flags & header_flags::SUPERSEDED,
        header_flags::SUPERSEDED
    );
    assert_eq!(h.find(HeaderId::Host).unwrap().value.slice(msg), b"h");
    assert_eq!(h.content_length(), Some(12));
}

#[test]
fn upgrade_and_connect_flags() {
    let (got, _) = parse_whole(
        req(),
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    let s = got.unwrap().unwrap();
    assert!(s.upgrade && !s.connect);
    // Upgrade without the Connection option, or on HTTP/1.0, is not an upgrade.
    let (got, _) = parse_whole(
        req(),
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
    );
    assert!(!got.unwrap().unwrap().upgrade);
    let (got, _) = parse_whole(
        req(),
        b"GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    assert!(!got.unwrap().unwrap().upgrade);
    let (got, _) = parse_whole(req(), b"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n");
    assert!(got.unwrap().unwrap().connect);
    // Expect on HTTP/1.0 is ignored.
    let (got, _) = parse_whole(req(), b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
    assert!(!got.unwrap().unwrap().expect_continue);
}

#[test]
fn interim_then_final_response() {
    let msg = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let mut p: HeadParser = HeadParser::response(Options::DEFAULT);
    let mut at = 0;
    let mut statuses = vec![];
    loop {
        p.reset_response(Method::Post);
        let Ok(Status::Complete(n)) = p.parse(&msg[at..]) else {
            panic!("must parse")
        };
        statuses.push((p.head().status(), p.head().is_interim()));
        at += n;
        if !p.head().is_interim() {
            break;
        }
    }
    assert_eq!(statuses, vec![(100, true), (103, true), (200, false)]);
    assert_eq!(&msg[at..], b"ok");
}

#[test]
fn limits() {
    // Too many headers: capacity 4.
    let mut p: HeadParser<4> = HeadParser::request(Options::DEFAULT);
    let msg = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert!(matches!(p.parse(msg), Ok(Status::Complete(_))));
    p.reset_request();
    let msg = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    let e = p.parse(msg).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyHeaders);
    assert_eq!(e.kind.status(false), 400);
    // Head larger than tune.bufsize.
    let opts = Options {
        max_head: 32,
        ..Options::DEFAULT
    };
    let mut p: HeadParser = HeadParser::request(opts);
    let e = p
        .parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n")
        .unwrap_err();
    assert_eq!(
        (e.kind, e.kind.status(false)),
        (ErrorKind::HeadTooLarge, 431)
    );
    let mut p: HeadParser = HeadParser::request(opts);
    let e = p
        .parse(b"GET /0123456789012345678901234567890123456789 HTTP/1.1\r\n")
        .unwrap_err();
    assert_eq!(
        (e.kind, e.kind.status(false)),
        (ErrorKind::RequestLineTooLong, 414)
    );
    assert_eq!(e.state, State::Target);
    // Exactly at the limit is fine.
    let msg = b"GET / HTTP/1.1\r\nHost: abcdefg\r\n\r\n";
    let mut p: HeadParser = HeadParser::request(Options {
        max_head: msg.len() as u32,
        ..Options::DEFAULT
    });
    assert_eq!(p.parse(msg), Ok(Status::Complete(msg.len())));
    assert_eq!(ErrorKind::UnsupportedVersion.status(false), 505);
    assert_eq!(ErrorKind::InvalidStatus.status(true), 502);
}

#[test]
fn errors_stick_and_report_offsets() {
    let msg = b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    let mut p = req();
    let e = p.parse(msg).unwrap_err();
    assert_eq!(e.offset as usize, msg.iter().position(|&b| b == 0).unwrap());
    assert_eq!(e.state, State::Value);
    assert_eq!(p.parse(msg).unwrap_err(), e);
    assert!(format!("{e}").contains("NUL"));
    // A buffer that shrank is a caller error, reported, not a panic.
    let mut p = req();
    assert_eq!(p.parse(b"GET / HT"), Ok(Status::Partial));
    assert_eq!(p.parse(b"GE").unwrap_err().kind, ErrorKind::BufferShrunk);
}

#[test]
fn pipelined_requests_consume_exactly() {
    let mut stream = Vec::new();
    stream.extend_from_slice(b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    stream.extend_from_slice(b"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\ndef\r\n0\r\nT: 1\r\n\r\n");
    stream.extend_from_slice(b"GET /c HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut p = req();
    let mut at = 0;
    let mut seen = vec![];
    while at < stream.len() {
        p.reset_request();
        let Ok(Status::Complete(n)) = p.parse(&stream[at..]) else {
            panic!("must parse at {at}")
        };
        let target = p.head().target().slice(&stream[at..]).to_vec();
        at += n;
        let mut body = crate::BodyDecoder::new(p.head().framing(), Options::DEFAULT);
        let mut data = vec![];
        loop {
            let step = body.decode(&stream[at..]).unwrap();
            if let crate::Chunk::Data(r) = &step.chunk {
                data.extend_from_slice(&stream[at..][r.clone()]);
            }
            at += step.consumed;
            if body.is_done() {
                break;
            }
        }
        seen.push((target, data));
    }
    assert_eq!(
        seen,
        vec![
            (b"/a".to_vec(), b"abc".to_vec()),
            (b"/b".to_vec(), b"def".to_vec()),
            (b"/c".to_vec(), vec![])
        ]
    );
}

#[test]
fn trailing_whitespace_is_trimmed_from_values() {
    // Strict values are trimmed when their CR is found, lenient ones when
    // the field is finalised (a fold may still follow): the same spans
    // either way, whole or split at any byte, and no parser-private flag
    // left in a counted header.
    let msg: &[u8] = b"GET / HTTP/1.1\r\nHost: a \t \r\nX: \t\r\nY:\r\nZ: b c\t\r\nW:  d  \r\n\r\n";
    let want: [&[u8]; 5] = [b"a", b"", b"", b"b c", b"d"];
    for (strict, p) in [(true, req()), (false, lenient())] {
        for k in 0..=msg.len() {
            let mut p = p.clone();
            let _ = p.parse(&msg[..k]);
            assert_eq!(p.parse(msg), Ok(Status::Complete(msg.len())));
            let got: Vec<&[u8]> = p
                .head()
                .headers()
                .iter()
                .map(|h| h.value.slice(msg))
                .collect();
            assert_eq!(got, want, "strict {strict}, split at {k}");
            assert!(p.head().headers().iter().all(|h| h.flags == 0));
            assert!(p.examined() <= 2 * msg.len() as u64);
        }
    }
}

#[test]
fn folded_whitespace_is_not_trimmed_quadratically() {
    // Found by cargo-fuzz: each obs-fold used to re-trim every byte of
    // whitespace folded so far.
    let mut msg = b"GET / HTTP/1.1\r\nHost: a\r\nX: a".to_vec();
    for _ in 0..400 {
        msg.extend_from_slice(b"\r\n\t\t\t\t\t\t");
    }
    msg.extend_from_slice(b"\r\n\r\n");
    let mut p = lenient();
    assert_eq!(p.parse(&msg), Ok(Status::Complete(msg.len())));
    assert_eq!(p.head().headers()[1].value.slice(&msg), b"a");
    assert!(
        p.examined() <= 2 * msg.len() as u64,
        "{} > 2x{}",
        p.examined(),
        msg.len()
    );
}

/// Inputs cargo-fuzz found, kept as files under `fuzz/corpus/*/regression-*`:
/// parsed whole and split as the fuzz targets do, each byte examined at most
/// twice.
#[test]
fn fuzz_regressions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");
    let mut seen = 0;
    for (kind, response) in [("request", false), ("response", true)] {
        for entry in std::fs::read_dir(format!("{dir}/{kind}")).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("regression-")
            {
                continue;
            }
            seen += 1;
            let data = std::fs::read(&path).unwrap();
            let Some((&ctl, msg)) = data.split_first() else {
                continue;
            };
            let (opts, cut, method) = if response {
                let cut = if msg.is_empty() {
                    0
                } else {
                    usize::from(ctl >> 3) * msg.len() / 31
                };
                (
                    Options {
                        accept_invalid: ctl & 4 != 0,
                        max_head: 4096,
                    },
                    cut,
                    [Method::Get, Method::Head, Method::Connect, Method::Post]
                        [usize::from(ctl & 3)],
                )
            } else {
                let cut = if msg.is_empty() {
                    0
                } else {
                    usize::from(ctl & 0x7f) * msg.len() / 127
                };
                (
                    Options {
                        accept_invalid: ctl & 0x80 != 0,
                        max_head: 4096,
                    },
                    cut,
                    Method::Get,
                )
            };
            let mk = || {
                let mut p: HeadParser<32> = if response {
                    HeadParser::response(opts)
                } else {
                    HeadParser::request(opts)
                };
                if response {
                    p.reset_response(method);
                }
                p
            };
            let mut whole = mk();
            let a = whole.parse(msg);
            let mut split = mk();
            let _ = split.parse(&msg[..cut]);
            let b = split.parse(msg);
            assert_eq!(a, b, "{path:?}");
            assert!(
                whole.examined() <= 2 * msg.len() as u64,
                "{path:?}: {} > 2x{}",
                whole.examined(),
                msg.len()
            );
            assert!(
                split.examined() <= 2 * msg.len() as u64,
                "{path:?}: {} > 2x{}",
                split.examined(),
                msg.len()
            );
        }
    }
    assert!(seen >= 2, "regression files missing");
}
