//! Plain data shared by the parsers: spans, methods, versions, header slots,
//! framing and options. No behaviour beyond small accessors.

use core::ops::Range;

/// A byte range into the caller's buffer.
///
/// For the head parser the range is relative to the start of the message (the
/// first byte of the buffer handed to [`crate::HeadParser::parse`]); for the
/// body decoders it is relative to the slice passed to that call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte of the range.
    pub start: u32,
    /// One past the last byte of the range.
    pub end: u32,
}

impl Span {
    /// Builds a span from two offsets; `start <= end` is the caller's promise.
    #[inline]
    pub const fn new(start: u32, end: u32) -> Self {
        Self { start, end }
    }

    /// Number of bytes covered.
    #[inline]
    pub const fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// True when the span covers no byte.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.end == self.start
    }

    /// The span as a `usize` range, for slicing.
    #[inline]
    pub const fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The bytes this span covers in `buf` (the buffer the span was produced
    /// from, or a copy that keeps the message at the same offsets).
    ///
    /// Returns an empty slice rather than panicking when `buf` is too short,
    /// so that a caller bug never turns network input into a crash.
    #[inline]
    pub fn slice(self, buf: &[u8]) -> &[u8] {
        buf.get(self.range()).unwrap_or(&[])
    }
}

/// Request method. Well-known methods are recognised once, while parsing;
/// anything else is `Other` and its bytes are in [`crate::Head::method_span`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`: its response never has a body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`: authority-form target, tunnel after a 2xx response.
    Connect,
    /// `OPTIONS`: the only method allowed with the `*` target.
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other token.
    Other,
}

/// Protocol version: only HTTP/1.0 and HTTP/1.1 are accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`: close by default, no chunked transfer coding.
    Http10,
    /// `HTTP/1.1`: persistent by default.
    #[default]
    Http11,
}

/// Header names the parser recognises while parsing, so that nobody compares
/// names again later. Everything else is `Other`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HeaderId {
    /// Not one of the names below.
    #[default]
    Other,
    /// `Host`
    Host,
    /// `Content-Length`
    ContentLength,
    /// `Transfer-Encoding`
    TransferEncoding,
    /// `Connection` (hop-by-hop)
    Connection,
    /// `Upgrade` (hop-by-hop)
    Upgrade,
    /// `Expect`
    Expect,
    /// `Keep-Alive` (hop-by-hop)
    KeepAlive,
    /// `Proxy-Connection` (hop-by-hop, non-standard but still sent)
    ProxyConnection,
    /// `TE` (hop-by-hop)
    Te,
    /// `Trailer`
    Trailer,
}

/// Bit flags of a header slot.
pub mod header_flags {
    /// Hop-by-hop (RFC 9110 §7.6.1): `Connection`, `Keep-Alive`,
    /// `Proxy-Connection`, `TE`, `Upgrade`, and any field named by a
    /// `Connection` option. A proxy removes it before forwarding.
    pub const HOP_BY_HOP: u8 = 1;
    /// A `Content-Length` superseded by `Transfer-Encoding` (RFC 9112 §6.3):
    /// it must not be forwarded.
    pub const SUPERSEDED: u8 = 2;
    /// The value contains obs-fold line breaks (only possible with
    /// [`crate::Options::accept_invalid`]); see [`crate::unfold`].
    pub const FOLDED: u8 = 4;
}

/// One header field: ranges into the caller's buffer, never a copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The field name (no colon).
    pub name: Span,
    /// The field value with leading and trailing whitespace removed.
    pub value: Span,
    /// The recognised name, if any.
    pub id: HeaderId,
    /// [`header_flags`] bits.
    pub flags: u8,
}

impl Header {
    /// True when a proxy must not forward this field (hop-by-hop, or a
    /// `Content-Length` superseded by `Transfer-Encoding`).
    #[inline]
    pub const fn must_drop(&self) -> bool {
        self.flags & (header_flags::HOP_BY_HOP | header_flags::SUPERSEDED) != 0
    }

    /// True when the value carries obs-fold line breaks.
    #[inline]
    pub const fn is_folded(&self) -> bool {
        self.flags & header_flags::FOLDED != 0
    }
}

/// How the message body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Framing {
    /// No body: no framing header, `Content-Length: 0`, a response to HEAD,
    /// or a 1xx/204/304 response.
    #[default]
    None,
    /// Exactly this many bytes (never 0: that is `None`).
    Length(u64),
    /// Chunked transfer coding: use [`crate::ChunkedDecoder`].
    Chunked,
    /// Response body runs until the server closes the connection.
    UntilClose,
    /// The connection becomes a byte tunnel after this message (101
    /// Switching Protocols, or a 2xx answer to CONNECT).
    Tunnel,
}

/// Which start line the head parser expects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// A request, from a client.
    #[default]
    Request,
    /// A response, from a server, to a request with the given method.
    Response,
}

/// Parser settings, taken from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `tune.bufsize`: the whole head (start line, headers, final CRLF) must
    /// fit in this many bytes. Clamped to `u32::MAX`.
    pub max_head: u32,
    /// Relaxations in the spirit of HAProxy's `option
    /// accept-invalid-http-request` / `-response`. Exactly these, nothing
    /// else:
    /// - obs-fold (a header line starting with SP/HTAB) continues the previous
    ///   value instead of being rejected; the header is flagged
    ///   [`header_flags::FOLDED`] and the caller unfolds it with
    ///   [`crate::unfold`] before forwarding;
    /// - a bare LF is accepted as a line terminator (start line, header lines,
    ///   chunk lines);
    /// - the request target may contain `#` and bytes 0x80–0xFF;
    /// - header names may contain any visible byte other than `:` (and bytes
    ///   0x80–0xFF).
    ///
    /// Never relaxed, because they are what request smuggling is built from:
    /// NUL/CR/other control bytes inside values, whitespace before the colon,
    /// every `Content-Length` and `Transfer-Encoding` rule, the version, chunk
    /// sizes and chunk terminators.
    pub accept_invalid: bool,
}

impl Options {
    /// HAProxy's defaults: `tune.bufsize 16384`, strict parsing.
    pub const DEFAULT: Self = Self {
        max_head: 16384,
        accept_invalid: false,
    };
}

impl Default for Options {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Result of a successful call to [`crate::HeadParser::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The head is not complete: call again with the same message and more
    /// bytes appended.
    Partial,
    /// The head is complete and is exactly this many bytes long (leading
    /// empty lines included); the body or the next pipelined message starts
    /// at this offset.
    Complete(usize),
}
