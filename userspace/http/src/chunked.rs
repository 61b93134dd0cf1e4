//! The streaming chunked-body decoder (RFC 9112 §7.1): one state machine that
//! walks chunk-size lines, extensions, data and trailers, and reports data as
//! ranges of the caller's input. Nothing is copied and nothing is buffered.

use core::ops::Range;

use crate::classify;
use crate::error::{BodyError, ErrorKind};
use crate::types::{HeaderId, Options};

/// Where the decoder stands (reported in errors).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChunkState {
    /// In the hex chunk size.
    #[default]
    Size,
    /// Whitespace after the size: only `;` may follow.
    SizeWs,
    /// In chunk extensions; ends at CR.
    Ext,
    /// After the size line's CR: expects LF.
    SizeLf,
    /// In chunk data.
    Data,
    /// After chunk data: expects CR.
    DataCr,
    /// After chunk data's CR: expects LF.
    DataLf,
    /// At the first byte of a trailer line (or of the final empty line).
    TrailerStart,
    /// In a trailer field name (the line is held back until complete).
    TrailerName,
    /// In a trailer field value.
    TrailerValue,
    /// After a trailer line's CR: expects LF.
    TrailerLf,
    /// After the final empty line's CR: expects LF.
    FinalLf,
    /// The body is complete.
    Done,
    /// An error was returned.
    Failed,
}

/// What one call to a body decoder produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Body data at this range of the input just given.
    Data(Range<usize>),
    /// One trailer field, as ranges of the input just given.
    Trailer {
        /// The field name.
        name: Range<usize>,
        /// The field value, trimmed.
        value: Range<usize>,
    },
    /// All of the input up to `consumed` was framing; more input is needed.
    NeedMore,
    /// The body ended at `consumed`; what follows is the next message.
    Done,
}

/// The result of one decoder call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Bytes of the input this call accounted for (framing and data). The
    /// caller drops (forwards) them and presents the rest, followed by any new
    /// bytes, at the next call.
    pub consumed: usize,
    /// What was found.
    pub chunk: Chunk,
}

/// Limit on a chunk-size line's extensions and on one trailer line, unless
/// the head's own limit is smaller.
const MAX_LINE: u32 = 16384;

/// A streaming decoder for one chunked body.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: ChunkState,
    /// Current chunk size while reading it, then bytes of data left.
    size: u64,
    /// Body bytes consumed by previous calls (for error offsets).
    offset: u64,
    /// Extension bytes on the current size line.
    ext_len: u32,
    /// In a held-back trailer line: bytes of it already examined.
    line_off: u32,
    /// In a held-back trailer line: end of the name.
    name_end: u32,
    /// In a held-back trailer line: start of the value.
    value_start: u32,
    max_line: u32,
    lenient: bool,
    error: Option<BodyError>,
    /// Framing bytes examined since creation (instrumented builds only).
    #[cfg(any(test, feature = "instrument"))]
    examined: u64,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new(opts: Options) -> Self {
        Self {
            state: ChunkState::Size,
            size: 0,
            offset: 0,
            ext_len: 0,
            line_off: 0,
            name_end: 0,
            value_start: 0,
            max_line: opts.max_head.min(MAX_LINE),
            lenient: opts.accept_invalid,
            error: None,
            #[cfg(any(test, feature = "instrument"))]
            examined: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> ChunkState {
        self.state
    }

    /// True once the final CRLF after the trailers was consumed.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Body bytes consumed by the calls so far. After an error it is the
    /// count before the failing call: the error's `offset` minus this is the
    /// position of the offending byte in that call's input.
    pub fn consumed(&self) -> u64 {
        self.offset
    }

    /// Framing bytes examined so far (instrumented builds only).
    #[cfg(any(test, feature = "instrument"))]
    pub fn examined(&self) -> u64 {
        self.examined
    }

    /// Decodes from `input`, which starts right after what the previous call
    /// consumed.
    ///
    /// # Contract
    ///
    /// Returns after the first event: a data range, a complete trailer field,
    /// the end of the body, or the end of the input (`NeedMore`). Call again
    /// with `&input[consumed..]` plus new bytes. Bytes of a trailer line are
    /// not consumed until the whole line is there (so its ranges can be
    /// reported); the decoder remembers how far into them it looked and does
    /// not examine them again. Data bytes are never examined at all.
    /// After an error, every call returns the same error.
    pub fn decode(&mut self, input: &[u8]) -> Result<Step, BodyError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (consumed, r) = self.run(input);
        match r {
            Ok(chunk) => {
                self.offset += consumed as u64;
                Ok(Step { consumed, chunk })
            }
            Err((kind, at)) => {
                let e = BodyError {
                    kind,
                    offset: self.offset + at as u64,
                    state: self.state,
                };
                self.state = ChunkState::Failed;
                self.error = Some(e);
                Err(e)
            }
        }
    }

    /// The state machine. Returns how many bytes are consumed and the event,
    /// or the error and the offending byte's index in `input`.
    #[allow(clippy::too_many_lines)] // one state machine, kept in one place on purpose
    fn run(&mut self, input: &[u8]) -> (usize, Result<Chunk, (ErrorKind, usize)>) {
        let len = input.len();
        let in_line = |s: ChunkState| {
            matches!(
                s,
                ChunkState::TrailerName | ChunkState::TrailerValue | ChunkState::TrailerLf
            )
        };
        // A held-back trailer line restarts at input[0]: resume inside it.
        let mut ls = 0usize;
        let mut p = if in_line(self.state) {
            self.line_off as usize
        } else {
            0
        };
        if p > len {
            return (0, Err((ErrorKind::BufferShrunk, len)));
        }
        let lenient = self.lenient;
        #[cfg(any(test, feature = "instrument"))]
        let start = p;
        macro_rules! count {
            () => {
                #[cfg(any(test, feature = "instrument"))]
                {
                    self.examined += (p - start) as u64;
                }
            };
        }
        macro_rules! need {
            () => {
                if p >= len {
                    count!();
                    if in_line(self.state) {
                        if (p - ls) as u32 > self.max_line {
                            return (0, Err((ErrorKind::TrailerTooLarge, p)));
                        }
                        self.line_off = (p - ls) as u32;
                        return (ls, Ok(Chunk::NeedMore));
                    }
                    return (p, Ok(Chunk::NeedMore));
                }
            };
        }
        macro_rules! fail {
            ($kind:expr) => {{
                count!();
                return (0, Err(($kind, p)));
            }};
        }
        loop {
            match self.state {
                ChunkState::Size => {
                    need!();
                    let b = input[p];
                    if let Some(d) = hex(b) {
                        if self.size > u64::MAX >> 4 {
                            fail!(ErrorKind::ChunkSizeOverflow);
                        }
                        self.size = (self.size << 4) | u64::from(d);
                        self.ext_len += 1;
                        p += 1;
                        continue;
                    }
                    if self.ext_len == 0 {
                        fail!(ErrorKind::InvalidChunkSize);
                    }
                    self.ext_len = 0;
                    match b {
                        b';' => self.state = ChunkState::Ext,
                        b' ' | b'\t' => self.state = ChunkState::SizeWs,
                        b'\r' => self.state = ChunkState::SizeLf,
                        b'\n' if lenient => self.after_size_line(),
                        b'\n' => fail!(ErrorKind::BareLf),
                        _ => fail!(ErrorKind::InvalidChunkSize),
                    }
                    p += 1;
                }
                ChunkState::SizeWs => {
                    need!();
                    match input[p] {
                        b' ' | b'\t' => {}
                        b';' => self.state = ChunkState::Ext,
                        _ => fail!(ErrorKind::InvalidChunkExtension),
                    }
                    p += 1;
                }
                ChunkState::Ext => loop {
                    let q = classify::skip_value(input, p, len);
                    self.ext_len = self.ext_len.saturating_add((q - p) as u32);
                    p = q;
                    if self.ext_len > self.max_line {
                        fail!(ErrorKind::InvalidChunkExtension);
                    }
                    need!();
                    match input[p] {
                        b'\t' => p += 1,
                        b'\r' => {
                            p += 1;
                            self.state = ChunkState::SizeLf;
                            break;
                        }
                        b'\n' if lenient => {
                            p += 1;
                            self.after_size_line();
                            break;
                        }
                        b'\n' => fail!(ErrorKind::BareLf),
                        _ => fail!(ErrorKind::InvalidChunkExtension),
                    }
                },
                ChunkState::SizeLf => {
                    need!();
                    if input[p] != b'\n' {
                        fail!(ErrorKind::BareCr);
                    }
                    p += 1;
                    self.after_size_line();
                }
                ChunkState::Data => {
                    need!();
                    // Data is not examined: only the framing before it counts.
                    count!();
                    let take = (len - p).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = ChunkState::DataCr;
                    }
                    return (p + take, Ok(Chunk::Data(p..p + take)));
                }
                ChunkState::DataCr => {
                    need!();
                    match input[p] {
                        b'\r' => self.state = ChunkState::DataLf,
                        b'\n' if lenient => self.state = ChunkState::Size,
                        _ => fail!(ErrorKind::BadChunkTerminator),
                    }
                    p += 1;
                }
                ChunkState::DataLf => {
                    need!();
                    if input[p] != b'\n' {
                        fail!(ErrorKind::BadChunkTerminator);
                    }
                    p += 1;
                    self.state = ChunkState::Size;
                }
                ChunkState::TrailerStart => {
                    need!();
                    match input[p] {
                        b'\r' => {
                            p += 1;
                            self.state = ChunkState::FinalLf;
                        }
                        b'\n' if lenient => {
                            p += 1;
                            self.state = ChunkState::Done;
                            count!();
                            return (p, Ok(Chunk::Done));
                        }
                        b'\n' => fail!(ErrorKind::BareLf),
                        b' ' | b'\t' => fail!(ErrorKind::ObsFold),
                        _ => {
                            ls = p;
                            self.state = ChunkState::TrailerName;
                        }
                    }
                }
                ChunkState::TrailerName => {
                    p = classify::skip_token(input, p, len);
                    need!();
                    match input[p] {
                        b':' if p == ls => fail!(ErrorKind::EmptyHeaderName),
                        b':' => {
                            self.name_end = (p - ls) as u32;
                            let name = &input[ls..p];
                            #[cfg(any(test, feature = "instrument"))]
                            {
                                self.examined += name.len() as u64;
                            }
                            if matches!(
                                classify::header_id(name),
                                HeaderId::ContentLength
                                    | HeaderId::TransferEncoding
                                    | HeaderId::Host
                            ) {
                                fail!(ErrorKind::ForbiddenTrailer);
                            }
                            p += 1;
                            self.value_start = (p - ls) as u32;
                            self.state = ChunkState::TrailerValue;
                        }
                        b' ' | b'\t' => fail!(ErrorKind::WhitespaceBeforeColon),
                        b'\r' | b'\n' => fail!(ErrorKind::MissingColon),
                        _ => fail!(ErrorKind::InvalidHeaderName),
                    }
                }
                ChunkState::TrailerValue => loop {
                    // Skip leading whitespace (value_start follows it, even
                    // across calls).
                    if p - ls == self.value_start as usize {
                        while p < len && (input[p] == b' ' || input[p] == b'\t') {
                            p += 1;
                        }
                        self.value_start = (p - ls) as u32;
                    }
                    p = classify::skip_value(input, p, len);
                    need!();
                    match input[p] {
                        b'\t' => p += 1,
                        b'\r' => {
                            p += 1;
                            self.state = ChunkState::TrailerLf;
                            break;
                        }
                        b'\n' if lenient => {
                            p += 1;
                            count!();
                            return (p, Ok(self.trailer(input, ls, p - 1)));
                        }
                        b'\n' => fail!(ErrorKind::BareLf),
                        0 => fail!(ErrorKind::NulInHeader),
                        _ => fail!(ErrorKind::InvalidHeaderValue),
                    }
                },
                ChunkState::TrailerLf => {
                    need!();
                    if input[p] != b'\n' {
                        fail!(ErrorKind::BareCr);
                    }
                    p += 1;
                    count!();
                    return (p, Ok(self.trailer(input, ls, p - 2)));
                }
                ChunkState::FinalLf => {
                    need!();
                    if input[p] != b'\n' {
                        fail!(ErrorKind::BareCr);
                    }
                    p += 1;
                    self.state = ChunkState::Done;
                    count!();
                    return (p, Ok(Chunk::Done));
                }
                ChunkState::Done | ChunkState::Failed => {
                    count!();
                    return (0, Ok(Chunk::Done));
                }
            }
        }
    }

    fn after_size_line(&mut self) {
        self.ext_len = 0;
        self.state = if self.size == 0 {
            ChunkState::TrailerStart
        } else {
            ChunkState::Data
        };
    }

    /// A complete trailer line starting at `ls` whose value ends (before
    /// trimming) at `eol`.
    fn trailer(&mut self, input: &[u8], ls: usize, eol: usize) -> Chunk {
        let vs = ls + self.value_start as usize;
        let mut ve = eol.max(vs);
        while ve > vs && (input[ve - 1] == b' ' || input[ve - 1] == b'\t') {
            ve -= 1;
        }
        self.state = ChunkState::TrailerStart;
        self.line_off = 0;
        Chunk::Trailer {
            name: ls..ls + self.name_end as usize,
            value: vs..ve,
        }
    }
}

#[inline]
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
