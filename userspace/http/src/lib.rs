//! Incremental, checkpointed HTTP/1.1 parser: resumes where it stopped and
//! never re-reads bytes. Knows nothing of sockets, backends or ACLs.
//!
//! It owns the bytes-to-message step of weir's L7: [`HeadParser`] turns the
//! start line and header fields of a request or response into a compact
//! [`Head`] of spans into the caller's buffer (no copies), recognising the
//! framing and hop-by-hop fields once and enforcing the RFC 9112 rules that
//! stop request smuggling; [`BodyDecoder`] / [`ChunkedDecoder`] then say where
//! the body ends and which bytes are data. It must not do I/O, allocate per
//! message, keep a clock, or know about routing: the proxy crate wires it to
//! the runtime. See `LIFECYCLE.md` beside this file for how a connection
//! drives it (head → body → next message, 1xx, 101/CONNECT tunnels).
#![forbid(unsafe_code)]

mod body;
mod chunked;
mod classify;
mod error;
mod head;
mod rules;
mod summary;
mod types;

#[cfg(test)]
mod tests;

pub use body::BodyDecoder;
pub use chunked::{Chunk, ChunkState, ChunkedDecoder, Step};
pub use error::{BodyError, ErrorKind, ParseError};
pub use head::{unfold, HeadParser, State, DEFAULT_MAX_HEADERS};
pub use summary::Head;
pub use types::{
    header_flags, Framing, Header, HeaderId, Kind, Method, Options, Span, Status, Version,
};
