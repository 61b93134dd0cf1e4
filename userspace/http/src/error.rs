//! Error kinds. Every rejection the parsers make is its own kind, so that logs,
//! counters and `show errors` can say exactly what was wrong, and the proxy can
//! map it to a status code with [`ErrorKind::status`].

use crate::chunked::ChunkState;
use crate::head::State;

/// What was wrong with the bytes. Each variant is one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // --- start line -------------------------------------------------------
    /// The method is empty or contains a byte that is not a token byte.
    #[error("invalid method")]
    InvalidMethod,
    /// The request line is not `method SP target SP version` (e.g. two spaces).
    #[error("malformed request line")]
    InvalidRequestLine,
    /// The request target contains a byte that is not allowed (control, space
    /// inside, DEL, or non-ASCII in strict mode).
    #[error("invalid byte in request target")]
    InvalidTarget,
    /// The request target contains `#` (a fragment is never sent on the wire).
    #[error("fragment in request target")]
    FragmentInTarget,
    /// `*` target with a method other than OPTIONS.
    #[error("asterisk-form target is only valid for OPTIONS")]
    AsteriskNotOptions,
    /// Authority-form target (`host:port`) with a method other than CONNECT.
    #[error("authority-form target is only valid for CONNECT")]
    AuthorityNotConnect,
    /// CONNECT whose target is not `host:port`.
    #[error("CONNECT target is not host:port")]
    InvalidAuthority,
    /// Absolute-form target whose scheme is malformed.
    #[error("invalid scheme in absolute-form target")]
    InvalidScheme,
    /// A request line with no version: HTTP/0.9 is not supported (400).
    #[error("HTTP/0.9 request")]
    Http09,
    /// The version is not `HTTP/x.y` syntax.
    #[error("malformed HTTP version")]
    InvalidVersion,
    /// A well-formed version other than 1.0 and 1.1, e.g. `HTTP/2.0` (505).
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// Malformed status line (response).
    #[error("malformed status line")]
    InvalidStatusLine,
    /// The status code is not three digits in 100..=999.
    #[error("invalid status code")]
    InvalidStatus,
    // --- line structure ---------------------------------------------------
    /// A CR not followed by LF.
    #[error("bare CR")]
    BareCr,
    /// A LF not preceded by CR (strict mode).
    #[error("bare LF")]
    BareLf,
    /// A header line starting with whitespace (obs-fold) in strict mode.
    #[error("obsolete line folding")]
    ObsFold,
    /// Whitespace between the start line and the first header (RFC 9112 §2.2).
    #[error("whitespace before the first header")]
    WhitespaceAfterStartLine,
    // --- header fields ----------------------------------------------------
    /// A header name byte that is not a token byte.
    #[error("invalid byte in header name")]
    InvalidHeaderName,
    /// A header line starting with `:`.
    #[error("empty header name")]
    EmptyHeaderName,
    /// Whitespace between the header name and the colon (RFC 9112 §5.1).
    #[error("whitespace before colon")]
    WhitespaceBeforeColon,
    /// A header line without a colon.
    #[error("header line without colon")]
    MissingColon,
    /// A NUL byte in a header value or trailer.
    #[error("NUL byte in header value")]
    NulInHeader,
    /// A control byte (other than HTAB) or DEL in a header value.
    #[error("control byte in header value")]
    InvalidHeaderValue,
    /// More header fields than the parser's capacity (`tune.http.maxhdr`).
    #[error("too many headers")]
    TooManyHeaders,
    /// The head does not fit in `tune.bufsize` (431).
    #[error("header block too large")]
    HeadTooLarge,
    /// The request line alone does not fit in `tune.bufsize` (414).
    #[error("request line too long")]
    RequestLineTooLong,
    // --- message framing (smuggling defences) -----------------------------
    /// `Content-Length` empty, signed, or with a non-digit.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// `Content-Length` does not fit in 64 bits.
    #[error("Content-Length overflow")]
    ContentLengthOverflow,
    /// Several `Content-Length` values (fields or list members) that differ.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// `Transfer-Encoding` empty or not a list of tokens.
    #[error("invalid Transfer-Encoding")]
    InvalidTransferEncoding,
    /// A transfer coding after `chunked`.
    #[error("chunked is not the last transfer coding")]
    ChunkedNotLast,
    /// `chunked` listed twice.
    #[error("chunked applied twice")]
    ChunkedTwice,
    /// A request whose final transfer coding is not `chunked`.
    #[error("request transfer coding does not end with chunked")]
    TransferEncodingNotChunked,
    /// `Transfer-Encoding` in an HTTP/1.0 message.
    #[error("Transfer-Encoding in HTTP/1.0")]
    TransferEncodingHttp10,
    /// More than one `Host` field.
    #[error("several Host headers")]
    MultipleHost,
    /// HTTP/1.1 request without `Host`.
    #[error("missing Host header")]
    MissingHost,
    /// The caller handed a buffer shorter than what was already parsed.
    #[error("buffer shorter than the parsed prefix")]
    BufferShrunk,
    // --- chunked body ------------------------------------------------------
    /// A chunk-size line that does not start with a hex digit.
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk size above 2^64-1.
    #[error("chunk size overflow")]
    ChunkSizeOverflow,
    /// Malformed chunk extension (control byte, or junk after the size).
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF.
    #[error("bad chunk terminator")]
    BadChunkTerminator,
    /// A framing field (`Content-Length`, `Transfer-Encoding`, `Host`) in the
    /// trailer section.
    #[error("forbidden field in trailers")]
    ForbiddenTrailer,
    /// A trailer line longer than the limit.
    #[error("trailer line too large")]
    TrailerTooLarge,
    /// The connection closed before the body's declared end.
    #[error("body truncated")]
    Truncated,
}

impl ErrorKind {
    /// The status code a proxy answers with: for requests 400 unless a more
    /// specific code applies (414, 431, 505); for responses always 502.
    ///
    /// `TooManyHeaders` is 400, as HAProxy documents for `tune.http.maxhdr`.
    pub const fn status(self, response: bool) -> u16 {
        if response {
            return 502;
        }
        match self {
            Self::RequestLineTooLong => 414,
            Self::HeadTooLarge => 431,
            Self::UnsupportedVersion => 505,
            _ => 400,
        }
    }
}

/// A rejected head: what, where (offset from the message start) and in which
/// parser state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at offset {offset} (state {state:?})")]
pub struct ParseError {
    /// The rule that was broken.
    pub kind: ErrorKind,
    /// Offset of the offending byte from the start of the message.
    pub offset: u32,
    /// The state the parser was in.
    pub state: State,
}

/// A rejected body: what, where (offset from the first byte of the body) and
/// in which decoder state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at body offset {offset} (state {state:?})")]
pub struct BodyError {
    /// The rule that was broken.
    pub kind: ErrorKind,
    /// Offset of the offending byte from the first byte of the body.
    pub offset: u64,
    /// The state the decoder was in.
    pub state: ChunkState,
}
