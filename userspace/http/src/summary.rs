//! The compact summary of a parsed head: what the proxy needs to route, rewrite
//! and forward a message without looking at its bytes again.

use crate::rules::{ConnectionOptions, TransferCodings};
use crate::types::{Framing, Header, HeaderId, Kind, Method, Span, Version};

/// The parsed head of one message. Header slots live in a fixed array of `N`
/// (`tune.http.maxhdr`), allocated once with the parser and reused for every
/// message: nothing grows per message.
#[derive(Clone, Debug)]
pub struct Head<const N: usize> {
    pub(crate) kind: Kind,
    pub(crate) method: Method,
    pub(crate) method_span: Span,
    pub(crate) target: Span,
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: Span,
    /// For responses: the method of the request being answered.
    pub(crate) request_method: Method,
    pub(crate) headers: [Header; N],
    pub(crate) count: usize,
    pub(crate) head_len: u32,
    pub(crate) framing: Framing,
    pub(crate) content_length: Option<u64>,
    pub(crate) te: TransferCodings,
    /// Offset of the first Transfer-Encoding value, for error reports.
    pub(crate) te_at: u32,
    pub(crate) conn: ConnectionOptions,
    pub(crate) host_count: u8,
    pub(crate) has_upgrade: bool,
    pub(crate) expect_continue: bool,
    pub(crate) expect_other: bool,
    pub(crate) keep_alive: bool,
    pub(crate) close_forced: bool,
    pub(crate) upgrade: bool,
}

impl<const N: usize> Head<N> {
    pub(crate) fn new(kind: Kind) -> Self {
        Self {
            kind,
            method: Method::Get,
            method_span: Span::default(),
            target: Span::default(),
            version: Version::Http11,
            status: 0,
            reason: Span::default(),
            request_method: Method::Get,
            headers: [Header::default(); N],
            count: 0,
            head_len: 0,
            framing: Framing::None,
            content_length: None,
            te: TransferCodings::default(),
            te_at: 0,
            conn: ConnectionOptions::default(),
            host_count: 0,
            has_upgrade: false,
            expect_continue: false,
            expect_other: false,
            keep_alive: false,
            close_forced: false,
            upgrade: false,
        }
    }

    /// Forgets the previous message but keeps the header array (its stale
    /// slots are never exposed: `headers()` stops at `count`).
    pub(crate) fn clear(&mut self, kind: Kind, request_method: Method) {
        self.kind = kind;
        self.method = Method::Get;
        self.method_span = Span::default();
        self.target = Span::default();
        self.version = Version::Http11;
        self.status = 0;
        self.reason = Span::default();
        self.request_method = request_method;
        self.count = 0;
        self.head_len = 0;
        self.framing = Framing::None;
        self.content_length = None;
        self.te = TransferCodings::default();
        self.te_at = 0;
        self.conn = ConnectionOptions::default();
        self.host_count = 0;
        self.has_upgrade = false;
        self.expect_continue = false;
        self.expect_other = false;
        self.keep_alive = false;
        self.close_forced = false;
        self.upgrade = false;
    }

    /// Request or response.
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// Request method (requests only).
    pub fn method(&self) -> Method {
        self.method
    }
    /// The method's bytes (useful when `method()` is `Other`).
    pub fn method_span(&self) -> Span {
        self.method_span
    }
    /// The request target (requests only).
    pub fn target(&self) -> Span {
        self.target
    }
    /// Protocol version.
    pub fn version(&self) -> Version {
        self.version
    }
    /// Status code (responses only).
    pub fn status(&self) -> u16 {
        self.status
    }
    /// Reason phrase (responses only; may be empty).
    pub fn reason(&self) -> Span {
        self.reason
    }
    /// The header fields, in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers[..self.count]
    }
    /// The first header with this id.
    pub fn find(&self, id: HeaderId) -> Option<&Header> {
        self.headers().iter().find(|h| h.id == id)
    }
    /// Length of the head in bytes (start line to final CRLF included); the
    /// body starts here. Valid once the parser returned `Complete`.
    pub fn head_len(&self) -> usize {
        self.head_len as usize
    }
    /// How the body is delimited.
    pub fn framing(&self) -> Framing {
        self.framing
    }
    /// The Content-Length value, when one was present and valid (even if it
    /// was then superseded by Transfer-Encoding).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }
    /// The connection may carry another message after this one: from the
    /// version and the Connection options, and false when the framing
    /// requires a close (CL+TE, body until close, tunnel).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }
    /// The message had both Content-Length and Transfer-Encoding: the CL was
    /// dropped (flagged superseded) and the connection must close after this
    /// message (RFC 9112 §6.1).
    pub fn close_forced(&self) -> bool {
        self.close_forced
    }
    /// HTTP/1.1 request with `Expect: 100-continue`.
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }
    /// Request with an Expect value other than 100-continue (answer 417).
    pub fn expect_unsupported(&self) -> bool {
        self.expect_other
    }
    /// HTTP/1.1 request with an Upgrade field and the `upgrade` Connection
    /// option: the connection becomes a tunnel if the server answers 101.
    pub fn upgrade_requested(&self) -> bool {
        self.upgrade
    }
    /// A CONNECT request (the proxy rejects it unless configured).
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Request && self.method == Method::Connect
    }
    /// A 1xx response other than 101: another response follows for the same
    /// request (reset the response parser with the same request method).
    pub fn is_interim(&self) -> bool {
        self.kind == Kind::Response && (100..200).contains(&self.status) && self.status != 101
    }
}
