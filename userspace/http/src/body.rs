//! Body delimitation for every framing: one decoder type the proxy drives the
//! same way whatever the message said (length, chunked, until close, tunnel).

use crate::chunked::{Chunk, ChunkState, ChunkedDecoder, Step};
use crate::error::{BodyError, ErrorKind};
use crate::types::{Framing, Options};

/// Finds where a body ends and which bytes are data.
#[derive(Clone, Debug)]
pub enum BodyDecoder {
    /// No body (or it is complete).
    Empty,
    /// A Content-Length body with this many bytes left.
    Length(u64),
    /// A chunked body.
    Chunked(ChunkedDecoder),
    /// A response body that ends when the server closes.
    UntilClose,
    /// Bytes after a 101 or a CONNECT 2xx: opaque, until either side closes.
    Tunnel,
}

impl BodyDecoder {
    /// The decoder for a message with this framing.
    pub fn new(framing: Framing, opts: Options) -> Self {
        match framing {
            Framing::None | Framing::Length(0) => Self::Empty,
            Framing::Length(n) => Self::Length(n),
            Framing::Chunked => Self::Chunked(ChunkedDecoder::new(opts)),
            Framing::UntilClose => Self::UntilClose,
            Framing::Tunnel => Self::Tunnel,
        }
    }

    /// True when the body is complete: the next byte belongs to the next
    /// message. Never true for `UntilClose` and `Tunnel`.
    pub fn is_done(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Length(n) => *n == 0,
            Self::Chunked(c) => c.is_done(),
            Self::UntilClose | Self::Tunnel => false,
        }
    }

    /// Body bytes a chunked decoder consumed so far (see
    /// [`ChunkedDecoder::consumed`]); 0 for the other framings, whose
    /// decoding never fails.
    pub fn consumed(&self) -> u64 {
        match self {
            Self::Chunked(c) => c.consumed(),
            _ => 0,
        }
    }

    /// Decodes from `input` (which starts right after what the previous call
    /// consumed). Same contract as [`ChunkedDecoder::decode`]: one event per
    /// call, `consumed` bytes are accounted for, the rest is presented again.
    pub fn decode(&mut self, input: &[u8]) -> Result<Step, BodyError> {
        match self {
            Self::Empty => Ok(Step {
                consumed: 0,
                chunk: Chunk::Done,
            }),
            Self::Length(0) => Ok(Step {
                consumed: 0,
                chunk: Chunk::Done,
            }),
            Self::Length(left) => {
                if input.is_empty() {
                    return Ok(Step {
                        consumed: 0,
                        chunk: Chunk::NeedMore,
                    });
                }
                let take = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                *left -= take as u64;
                Ok(Step {
                    consumed: take,
                    chunk: Chunk::Data(0..take),
                })
            }
            Self::Chunked(c) => c.decode(input),
            Self::UntilClose | Self::Tunnel => Ok(if input.is_empty() {
                Step {
                    consumed: 0,
                    chunk: Chunk::NeedMore,
                }
            } else {
                Step {
                    consumed: input.len(),
                    chunk: Chunk::Data(0..input.len()),
                }
            }),
        }
    }

    /// The peer closed: fine for bodies delimited by close, an error
    /// (`Truncated`) for a body that had not reached its declared end.
    pub fn on_close(&self) -> Result<(), BodyError> {
        let state = match self {
            Self::Chunked(c) if !c.is_done() => c.state(),
            Self::Length(n) if *n > 0 => ChunkState::Data,
            _ => return Ok(()),
        };
        Err(BodyError {
            kind: ErrorKind::Truncated,
            offset: 0,
            state,
        })
    }
}
