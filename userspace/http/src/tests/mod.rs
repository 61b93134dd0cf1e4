//! Parser tests: grammar and rejection tables, the checkpoint property,
//! chunked round trips, pipelining, and random-input robustness.

mod chunked;
mod corpus;
mod props;
mod tables;

use crate::{
    Framing, Head, HeadParser, Header, Method, Options, ParseError, Span, Status, Version,
};

/// Everything the head parser exposes, in comparable form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub method: Method,
    pub method_span: Span,
    pub target: Span,
    pub version: Version,
    pub status: u16,
    pub reason: Span,
    pub headers: Vec<Header>,
    pub head_len: usize,
    pub framing: Framing,
    pub content_length: Option<u64>,
    pub keep_alive: bool,
    pub close_forced: bool,
    pub expect_continue: bool,
    pub upgrade: bool,
    pub connect: bool,
    pub interim: bool,
}

pub fn snapshot<const N: usize>(h: &Head<N>) -> Snapshot {
    Snapshot {
        method: h.method(),
        method_span: h.method_span(),
        target: h.target(),
        version: h.version(),
        status: h.status(),
        reason: h.reason(),
        headers: h.headers().to_vec(),
        head_len: h.head_len(),
        framing: h.framing(),
        content_length: h.content_length(),
        keep_alive: h.keep_alive(),
        close_forced: h.close_forced(),
        expect_continue: h.expect_continue(),
        upgrade: h.upgrade_requested(),
        connect: h.is_connect(),
        interim: h.is_interim(),
    }
}

/// Outcome of parsing a whole buffer: complete with a snapshot, still
/// partial, or an error. Also returns the bytes examined.
pub type Outcome = Result<Option<Snapshot>, ParseError>;

pub fn outcome<const N: usize>(p: &HeadParser<N>, r: Result<Status, ParseError>) -> Outcome {
    match r {
        Ok(Status::Complete(n)) => {
            assert_eq!(n, p.head().head_len());
            Ok(Some(snapshot(p.head())))
        }
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A request parser with the default options.
pub fn req() -> HeadParser {
    HeadParser::request(Options::DEFAULT)
}

/// Parses `msg` in one call.
pub fn parse_whole(mut p: HeadParser, msg: &[u8]) -> (Outcome, u64) {
    let r = p.parse(msg);
    (outcome(&p, r), p.examined())
}

/// Parses `msg` in pieces ending at each of `cuts` (increasing), then whole.
pub fn parse_pieces(mut p: HeadParser, msg: &[u8], cuts: &[usize]) -> (Outcome, u64) {
    for &c in cuts {
        match p.parse(&msg[..c]) {
            Ok(Status::Partial) => {}
            _ => break,
        }
    }
    let r = p.parse(msg);
    (outcome(&p, r), p.examined())
}
