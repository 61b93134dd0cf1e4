//! The head parser: start line and header fields of one request or response,
//! resumable at any byte. One state machine, whose whole state is
//! [`HeadParser`]'s scalar fields plus, for the header line in progress, the
//! name and value starts already written to its slot.

use crate::classify::{self, LOOSE_NAME, LOOSE_TARGET, TOKEN};
use crate::error::{ErrorKind, ParseError};
use crate::rules;
use crate::summary::Head;
use crate::types::{header_flags, Framing, HeaderId, Kind, Method, Options, Span, Status, Version};

/// `tune.http.maxhdr`'s default in HAProxy.
pub const DEFAULT_MAX_HEADERS: usize = 101;

/// Where the parser stands. Reported in errors; each state names what the
/// next byte is expected to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum State {
    /// Before the start line; leading empty lines (CRLF) are skipped.
    #[default]
    Start,
    /// After the CR of a leading empty line: expects LF.
    StartLf,
    /// In the method token; ends at SP.
    Method,
    /// In the request target; ends at SP.
    Target,
    /// Expects the 8 bytes `HTTP/1.x` of a request line.
    ReqVersion,
    /// After the request version: expects CR (or LF if lenient).
    ReqLineEnd,
    /// After the request line's CR: expects LF.
    ReqLineLf,
    /// Expects `HTTP/1.x` and SP of a status line.
    RespVersion,
    /// Expects three digits and SP, CR or LF.
    StatusCode,
    /// In the reason phrase; ends at CR.
    Reason,
    /// After the status line's CR: expects LF.
    StatusLineLf,
    /// At the first byte of a header line (or of the final empty line).
    LineStart,
    /// In a header name; ends at `:`.
    Name,
    /// Whitespace between the colon and the value.
    ValueWs,
    /// In a header value; ends at CR.
    Value,
    /// After a header line's CR: expects LF.
    ValueLf,
    /// After the final empty line's CR: expects LF.
    FinalLf,
    /// The head is complete; call a `reset_*` method before the next message.
    Done,
    /// An error was returned; call a `reset_*` method before reuse.
    Failed,
}

/// An incremental, checkpointed parser for the head of one HTTP/1.x message.
///
/// `N` is the header capacity (`tune.http.maxhdr`). Create one per
/// connection and direction, and `reset_*` it between messages: the header
/// array is allocated once and never grows.
#[derive(Clone, Debug)]
pub struct HeadParser<const N: usize = DEFAULT_MAX_HEADERS> {
    state: State,
    /// Offset of the next byte to examine (relative to the message start).
    pos: u32,
    /// Start of the token being scanned in the start line (method, target,
    /// reason). A header line keeps its name and value starts in its slot.
    mark: u32,
    /// A header line is complete but not yet finalised: with
    /// `accept_invalid` the next line may still fold into it.
    pending: bool,
    opts: Options,
    error: Option<ParseError>,
    head: Head<N>,
    /// Bytes examined since the last reset (instrumented builds only).
    #[cfg(any(test, feature = "instrument"))]
    examined: u64,
}

/// Adds to the examined-bytes counter in instrumented builds; compiles to
/// nothing otherwise.
macro_rules! examined {
    ($self:ident, $n:expr) => {{
        #[cfg(any(test, feature = "instrument"))]
        {
            $self.examined += ($n) as u64;
        }
    }};
}

type Fail = (ErrorKind, usize);

/// A slot flag private to the parser, set only between a value's line break
/// and the field's finalisation: the value (with `accept_invalid`) may end in
/// whitespace still to trim. Never set in a counted header.
const UNTRIMMED: u8 = 0x80;

impl<const N: usize> HeadParser<N> {
    /// A parser for requests.
    pub fn request(opts: Options) -> Self {
        Self::new(Kind::Request, opts)
    }

    /// A parser for responses to requests with method `GET` (use
    /// [`Self::reset_response`] to name the actual method before each
    /// response).
    pub fn response(opts: Options) -> Self {
        Self::new(Kind::Response, opts)
    }

    fn new(kind: Kind, mut opts: Options) -> Self {
        // Offsets are u32; a head can never be larger than that.
        opts.max_head = opts.max_head.min(u32::MAX - 1);
        Self {
            state: State::Start,
            pos: 0,
            mark: 0,
            pending: false,
            opts,
            error: None,
            head: Head::new(kind),
            #[cfg(any(test, feature = "instrument"))]
            examined: 0,
        }
    }

    /// Prepares for the next request on the connection.
    pub fn reset_request(&mut self) {
        self.reset(Kind::Request, Method::Get);
    }

    /// Prepares for the next response, which answers a request with
    /// `request_method` (HEAD and CONNECT change the response's framing).
    pub fn reset_response(&mut self, request_method: Method) {
        self.reset(Kind::Response, request_method);
    }

    fn reset(&mut self, kind: Kind, request_method: Method) {
        self.state = State::Start;
        self.pos = 0;
        self.mark = 0;
        self.pending = false;
        self.error = None;
        self.head.clear(kind, request_method);
        #[cfg(any(test, feature = "instrument"))]
        {
            self.examined = 0;
        }
    }

    /// The summary of the message parsed so far (complete once `parse`
    /// returned `Complete`).
    pub fn head(&self) -> &Head<N> {
        &self.head
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Bytes examined since the last reset (instrumented builds only).
    #[cfg(any(test, feature = "instrument"))]
    pub fn examined(&self) -> u64 {
        self.examined
    }

    /// Parses as much of the head as `buf` holds.
    ///
    /// # Contract
    ///
    /// - `buf[0]` is the first byte of the message (leading empty lines
    ///   included). Between calls the caller may append bytes, and may move or
    ///   compact its buffer, as long as the message stays contiguous and starts
    ///   at `buf[0]` with the same bytes: every offset the parser keeps or
    ///   returns is relative to the message start. Once `Complete(n)` is
    ///   returned the head occupies `buf[..n]`, which must stay in place for as
    ///   long as the caller uses the spans of [`Self::head`]; the body (or the
    ///   next pipelined message) starts at `n` and is no concern of this parser.
    /// - Each call resumes at the saved offset: a byte is examined by the scan
    ///   once, whatever the number of calls. A few bytes are read a second time
    ///   by design (a recognised header name, the value of a framing field, a
    ///   non-origin target, trailing whitespace of a value, the byte after
    ///   `GET ` when the method is matched whole), so the total is at most
    ///   twice the head's length.
    /// - Returns `Ok(Partial)`: need more data. `Ok(Complete(n))`: the head is
    ///   `n` bytes; [`Self::head`] holds the summary. `Err(e)`: the message is
    ///   invalid; `e.offset` is the offending byte's offset from the message
    ///   start and `e.state` the state the parser was in. After an error or
    ///   completion, calls return the same result until a `reset_*`.
    /// - At most `Options::max_head` bytes are looked at: a head that does not
    ///   end within them is `RequestLineTooLong` (still in the request line) or
    ///   `HeadTooLarge`.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status, ParseError> {
        match self.state {
            State::Done => return Ok(Status::Complete(self.head.head_len as usize)),
            State::Failed => {
                if let Some(e) = self.error {
                    return Err(e);
                }
            }
            _ => {}
        }
        if buf.len() < self.pos as usize {
            return Err(self.fail(ErrorKind::BufferShrunk, buf.len()));
        }
        let max = self.opts.max_head as usize;
        let full = buf.len() >= max;
        let buf = if full { &buf[..max] } else { buf };
        let start = self.pos as usize;
        // Between header lines (where a message split in pieces usually
        // resumes) go straight to the line parser. Each of these functions
        // concludes the call itself (see `conclude`), so this is a tail call.
        match self.state {
            st @ (State::LineStart
            | State::Name
            | State::ValueWs
            | State::Value
            | State::ValueLf
            | State::FinalLf) => self.lines(buf, start, st),
            st @ (State::Start | State::Method | State::Target | State::ReqVersion)
                if self.head.kind == Kind::Request =>
            {
                self.request_head(buf, start, st)
            }
            st @ (State::Start | State::RespVersion | State::StatusCode | State::Reason) => {
                self.response_head(buf, start, st)
            }
            _ => self.run(buf, start),
        }
    }

    /// Ends a call to [`Self::parse`] whose scan stopped at `pos` with `r`:
    /// `Some(head length)` when complete, `None` when out of bytes, or the
    /// error and its offset. `buf_len` is the length of the (clamped) buffer.
    #[inline(always)]
    fn conclude(
        &mut self,
        buf_len: usize,
        pos: usize,
        r: Result<Option<usize>, Fail>,
    ) -> Result<Status, ParseError> {
        examined!(self, pos - self.pos as usize);
        self.pos = pos as u32;
        match r {
            Ok(Some(n)) => Ok(Status::Complete(n)),
            Ok(None) if buf_len >= self.opts.max_head as usize => Err(self.too_large(pos)),
            Ok(None) => Ok(Status::Partial),
            Err((kind, at)) => Err(self.fail(kind, at)),
        }
    }

    /// `max_head` bytes are here and the head has not ended.
    #[cold]
    #[inline(never)]
    fn too_large(&mut self, pos: usize) -> ParseError {
        let kind = match self.state {
            State::Start
            | State::StartLf
            | State::Method
            | State::Target
            | State::ReqVersion
            | State::ReqLineEnd
            | State::ReqLineLf
                if self.head.kind == Kind::Request =>
            {
                ErrorKind::RequestLineTooLong
            }
            _ => ErrorKind::HeadTooLarge,
        };
        self.fail(kind, pos)
    }

    fn fail(&mut self, kind: ErrorKind, at: usize) -> ParseError {
        let e = ParseError {
            kind,
            offset: at as u32,
            state: self.state,
        };
        self.state = State::Failed;
        self.error = Some(e);
        e
    }

    /// The state machine, from `p`: concludes the call to [`Self::parse`]
    /// (see [`Self::conclude`]). Each state runs its own tight loop; the
    /// outer loop only dispatches between tokens.
    #[inline(never)]
    #[allow(clippy::too_many_lines)] // one state machine, kept in one place on purpose
    fn run(&mut self, buf: &[u8], mut p: usize) -> Result<Status, ParseError> {
        let len = buf.len();
        let lenient = self.opts.accept_invalid;
        // The state lives in a local while running (so the compiler can keep
        // it in a register and thread jumps) and is written back on exit.
        let mut st = self.state;
        macro_rules! need {
            ($n:expr) => {
                if p + $n > len {
                    self.state = st;
                    return self.conclude(len, p, Ok(None));
                }
            };
        }
        macro_rules! fail {
            ($kind:expr, $at:expr) => {{
                self.state = st;
                return self.conclude(len, p, Err(($kind, $at)));
            }};
        }
        loop {
            match st {
                State::Start => {
                    need!(1);
                    match buf[p] {
                        b'\r' => {
                            p += 1;
                            st = State::StartLf;
                        }
                        b'\n' if lenient => p += 1,
                        b'\n' => fail!(ErrorKind::BareLf, p),
                        _ => {
                            self.mark = p as u32;
                            st = match self.head.kind {
                                Kind::Request => State::Method,
                                Kind::Response => State::RespVersion,
                            };
                        }
                    }
                }
                State::StartLf => {
                    need!(1);
                    if buf[p] != b'\n' {
                        fail!(ErrorKind::BareCr, p);
                    }
                    p += 1;
                    st = State::Start;
                }
                State::Method | State::Target | State::ReqVersion => {
                    self.state = st;
                    return self.request_head(buf, p, st);
                }
                State::ReqLineEnd => {
                    need!(1);
                    match buf[p] {
                        b'\r' => st = State::ReqLineLf,
                        b'\n' if lenient => st = State::LineStart,
                        b'\n' => fail!(ErrorKind::BareLf, p),
                        _ => fail!(ErrorKind::InvalidVersion, p),
                    }
                    p += 1;
                }
                State::ReqLineLf | State::StatusLineLf => {
                    need!(1);
                    if buf[p] != b'\n' {
                        fail!(ErrorKind::BareCr, p);
                    }
                    p += 1;
                    st = State::LineStart;
                }
                State::RespVersion | State::StatusCode | State::Reason => {
                    self.state = st;
                    return self.response_head(buf, p, st);
                }
                // Header lines have their own function: see `lines`.
                State::LineStart
                | State::Name
                | State::ValueWs
                | State::Value
                | State::ValueLf
                | State::FinalLf => return self.lines(buf, p, st),
                State::Done => return self.conclude(len, p, Ok(Some(self.head.head_len as usize))),
                State::Failed => fail!(ErrorKind::BufferShrunk, p),
            }
        }
    }

    /// A request head from state `st` (`Start`, `Method`, `Target` or
    /// `ReqVersion`) at `p`: the request line's phases in a straight line,
    /// then the header lines. Leading empty lines and an unusual line end are
    /// left to [`Self::run`].
    #[inline(never)]
    fn request_head(&mut self, buf: &[u8], p: usize, mut st: State) -> Result<Status, ParseError> {
        if st == State::Start {
            match buf.get(p) {
                Some(b'\r' | b'\n') | None => return self.run(buf, p),
                Some(_) => {
                    self.mark = p as u32;
                    st = State::Method;
                }
            }
        }
        let r = self.request_line(buf, p, st);
        self.after_start_line(buf, r)
    }

    /// A response head from state `st` (`Start`, `RespVersion`, `StatusCode`
    /// or `Reason`) at `p`: the status line's phases in a straight line, then
    /// the header lines. Leading empty lines and an unusual line end are left
    /// to [`Self::run`].
    #[inline(never)]
    fn response_head(&mut self, buf: &[u8], p: usize, mut st: State) -> Result<Status, ParseError> {
        if st == State::Start {
            match buf.get(p) {
                Some(b'\r' | b'\n') | None => return self.run(buf, p),
                Some(_) => {
                    self.mark = p as u32;
                    st = State::RespVersion;
                }
            }
        }
        let r = self.status_line(buf, p, st);
        self.after_start_line(buf, r)
    }

    /// Where the start line's phases ended: the header lines, the state
    /// machine, or a stop.
    #[inline(always)]
    fn after_start_line(
        &mut self,
        buf: &[u8],
        r: Result<StartLine, Stop>,
    ) -> Result<Status, ParseError> {
        match r {
            Ok(StartLine::Headers(q)) => {
                self.state = State::LineStart;
                self.lines(buf, q, State::LineStart)
            }
            Ok(StartLine::Machine(q, st)) => {
                self.state = st;
                self.run(buf, q)
            }
            Err(stop) => {
                self.state = stop.state;
                let r = match stop.what {
                    Stopped::Fail(kind, at) => Err((kind, at)),
                    _ => Ok(None),
                };
                self.conclude(buf.len(), stop.p, r)
            }
        }
    }

    /// The status line from state `st` (`RespVersion`, `StatusCode` or
    /// `Reason`) at `p`, as straight-line phases.
    #[inline(always)]
    fn status_line(&mut self, buf: &[u8], mut p: usize, st: State) -> Result<StartLine, Stop> {
        if st == State::RespVersion {
            const ST: State = State::RespVersion;
            // `HTTP/1.x` and SP: wait until all 9 bytes are here.
            let Some(v) = buf.get(p..p + 9) else {
                return Err(Stop::new(p, ST, Stopped::Partial));
            };
            match version(&v[..8]) {
                Ok(v) => self.head.version = v,
                Err(kind) => return Err(Stop::fail(p, ST, kind, p)),
            }
            if v[8] != b' ' {
                return Err(Stop::fail(p, ST, ErrorKind::InvalidStatusLine, p + 8));
            }
            p += 9;
        }
        if st != State::Reason {
            const ST: State = State::StatusCode;
            // Three digits and the byte after them.
            let Some(&[d0, d1, d2, after]) = buf.get(p..p + 4).and_then(|d| d.first_chunk::<4>())
            else {
                return Err(Stop::new(p, ST, Stopped::Partial));
            };
            if !(b'1'..=b'9').contains(&d0) || !d1.is_ascii_digit() || !d2.is_ascii_digit() {
                return Err(Stop::fail(p, ST, ErrorKind::InvalidStatus, p));
            }
            self.head.status =
                u16::from(d0 - b'0') * 100 + u16::from(d1 - b'0') * 10 + u16::from(d2 - b'0');
            p += 3;
            match after {
                b' ' => {
                    p += 1;
                    self.mark = p as u32;
                }
                b'\r' => {
                    self.head.reason = Span::new(p as u32 + 1, p as u32 + 1);
                    return Ok(StartLine::Machine(p + 1, State::StatusLineLf));
                }
                b'\n' if self.opts.accept_invalid => {
                    self.head.reason = Span::new(p as u32 + 1, p as u32 + 1);
                    return Ok(StartLine::Machine(p + 1, State::LineStart));
                }
                b'\n' => return Err(Stop::fail(p, ST, ErrorKind::BareLf, p)),
                _ => return Err(Stop::fail(p, ST, ErrorKind::InvalidStatus, p)),
            }
        }
        const ST: State = State::Reason;
        loop {
            p = classify::skip_value(buf, p, buf.len());
            let Some(&b) = buf.get(p) else {
                return Err(Stop::new(p, ST, Stopped::Partial));
            };
            match b {
                b'\r' => {
                    self.head.reason = Span::new(self.mark, p as u32);
                    // The usual CRLF: straight to the header lines.
                    return Ok(if buf.get(p + 1) == Some(&b'\n') {
                        StartLine::Headers(p + 2)
                    } else {
                        StartLine::Machine(p + 1, State::StatusLineLf)
                    });
                }
                b'\t' => p += 1,
                b'\n' if self.opts.accept_invalid => {
                    self.head.reason = Span::new(self.mark, p as u32);
                    return Ok(StartLine::Machine(p + 1, State::LineStart));
                }
                b'\n' => return Err(Stop::fail(p, ST, ErrorKind::BareLf, p)),
                _ => return Err(Stop::fail(p, ST, ErrorKind::InvalidStatusLine, p)),
            }
        }
    }

    /// The request line from state `st` (`Method`, `Target` or `ReqVersion`)
    /// at `p`, as straight-line phases: method, target, version. The usual
    /// CRLF after the version goes straight to the header lines; anything
    /// else there is left to the state machine (`ReqLineEnd`).
    #[inline(always)]
    fn request_line(&mut self, buf: &[u8], mut p: usize, st: State) -> Result<StartLine, Stop> {
        if st == State::Method {
            p = self.method_phase(buf, p)?;
        }
        if st != State::ReqVersion {
            p = self.target_phase(buf, p)?;
        }
        const ST: State = State::ReqVersion;
        // Fixed width: wait until all 8 bytes are here, so none is looked at
        // twice.
        let Some(v) = buf.get(p..p + 8) else {
            return Err(Stop::new(p, ST, Stopped::Partial));
        };
        match version(v) {
            Ok(v) => self.head.version = v,
            Err(kind) => return Err(Stop::fail(p, ST, kind, p)),
        }
        p += 8;
        if buf.get(p..p + 2) == Some(b"\r\n") {
            Ok(StartLine::Headers(p + 2))
        } else {
            Ok(StartLine::Machine(p, State::ReqLineEnd))
        }
    }

    /// `Method`: the method token and the SP after it.
    #[inline(always)]
    fn method_phase(&mut self, buf: &[u8], mut p: usize) -> Result<usize, Stop> {
        const ST: State = State::Method;
        let mark = self.mark as usize;
        // The usual methods, when the whole token is here: one comparison
        // instead of a scan and a recognition.
        if p == mark {
            let fast = match buf.get(p..p + 5) {
                Some([b'G', b'E', b'T', b' ', _]) => Some((Method::Get, 3)),
                Some(b"POST ") => Some((Method::Post, 4)),
                _ => None,
            };
            if let Some((m, n)) = fast {
                examined!(self, n);
                self.head.method = m;
                self.head.method_span = Span::new(p as u32, (p + n) as u32);
                p += n + 1;
                self.mark = p as u32;
                return Ok(p);
            }
        }
        p = classify::skip_token(buf, p, buf.len());
        let Some(&b) = buf.get(p) else {
            return Err(Stop::new(p, ST, Stopped::Partial));
        };
        match b {
            b' ' if p > mark => {
                let m = &buf[mark..p];
                examined!(self, m.len());
                self.head.method = classify::method(m);
                self.head.method_span = Span::new(mark as u32, p as u32);
                p += 1;
                self.mark = p as u32;
                Ok(p)
            }
            b'\r' | b'\n' if p > mark => Err(Stop::fail(p, ST, ErrorKind::InvalidRequestLine, p)),
            _ => Err(Stop::fail(p, ST, ErrorKind::InvalidMethod, p)),
        }
    }

    /// `Target`: the request target and the SP after it.
    #[inline(always)]
    fn target_phase(&mut self, buf: &[u8], mut p: usize) -> Result<usize, Stop> {
        const ST: State = State::Target;
        loop {
            p = classify::skip_target(buf, p, buf.len());
            let Some(&b) = buf.get(p) else {
                return Err(Stop::new(p, ST, Stopped::Partial));
            };
            if b == b' ' {
                let mark = self.mark as usize;
                if p == mark {
                    return Err(Stop::fail(p, ST, ErrorKind::InvalidRequestLine, p));
                }
                // Origin-form, the usual case, is told by its first byte; the
                // other forms go through the full rules.
                if buf[mark] == b'/' && self.head.method != Method::Connect {
                    examined!(self, 1);
                } else {
                    match rules::target(self.head.method, &buf[mark..p]) {
                        Ok(_n) => examined!(self, _n),
                        Err((kind, i)) => return Err(Stop::fail(p, ST, kind, mark + i)),
                    }
                }
                self.head.target = Span::new(mark as u32, p as u32);
                return Ok(p + 1);
            }
            if self.opts.accept_invalid && LOOSE_TARGET[b as usize] {
                p += 1;
                continue;
            }
            let kind = match b {
                b'#' => ErrorKind::FragmentInTarget,
                b'\r' | b'\n' => ErrorKind::Http09,
                _ => ErrorKind::InvalidTarget,
            };
            return Err(Stop::fail(p, ST, kind, p));
        }
    }

    /// The header lines and the final empty line, from state `st` at `p`.
    /// Same contract as [`Self::run`]. Its own function (not inlined into
    /// `run`) so that the per-line fields stay in registers: the line in
    /// progress is finished first, then each further line runs through the
    /// phases below in a straight line, with no dispatch on the state.
    #[inline(never)]
    fn lines(&mut self, buf: &[u8], p: usize, st: State) -> Result<Status, ParseError> {
        let mut l = Line {
            count: self.head.count,
            pending: self.pending,
        };
        let stop = self.lines_until_stop(&mut l, buf, p, st);
        self.head.count = l.count;
        self.pending = l.pending;
        self.state = stop.state;
        let p = stop.p;
        let (end, r) = match stop.what {
            Stopped::Partial => (p, Ok(None)),
            Stopped::Fail(kind, at) => (p, Err((kind, at))),
            Stopped::LfEnd => (p, self.finish_head(buf, p)),
            Stopped::FinalCr => match buf.get(p) {
                None => (p, Ok(None)),
                Some(b'\n') => (p + 1, self.finish_head(buf, p + 1)),
                Some(_) => (p, Err((ErrorKind::BareCr, p))),
            },
        };
        self.conclude(buf.len(), end, r)
    }

    /// Runs header lines until the parser has to stop (out of bytes, an
    /// error, or the end of the head); never returns otherwise.
    #[inline(always)]
    fn lines_until_stop(&mut self, l: &mut Line, buf: &[u8], mut p: usize, st: State) -> Stop {
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(stop) => return stop,
                }
            };
        }
        // Finish the line in progress, from the phase it stopped in.
        match st {
            State::FinalLf => return Stop::new(p, State::FinalLf, Stopped::FinalCr),
            State::LineStart => {}
            _ => {
                let mut need_lf = true;
                if st == State::Name {
                    p = tri!(self.name_phase(l, buf, p));
                }
                if matches!(st, State::Name | State::ValueWs) {
                    p = tri!(value_ws_phase(&mut self.head, l, buf, p));
                }
                if st != State::ValueLf {
                    (p, need_lf) = tri!(self.value_phase(l, buf, p));
                }
                if need_lf {
                    p = tri!(lf_phase(l, buf, p));
                }
            }
        }
        loop {
            let q = match tri!(self.line_start_phase(l, buf, p)) {
                Next::Name(q) => {
                    let q = tri!(self.name_phase(l, buf, q));
                    tri!(value_ws_phase(&mut self.head, l, buf, q))
                }
                Next::FoldWs(q) => tri!(value_ws_phase(&mut self.head, l, buf, q)),
                Next::FoldValue(q) => q,
            };
            let (q, need_lf) = tri!(self.value_phase(l, buf, q));
            p = if need_lf {
                tri!(lf_phase(l, buf, q))
            } else {
                q
            };
        }
    }

    /// `LineStart`: finalises the pending field (unless this line folds into
    /// it), then tells what the line is.
    #[inline(always)]
    fn line_start_phase(&mut self, l: &mut Line, buf: &[u8], p: usize) -> Result<Next, Stop> {
        const ST: State = State::LineStart;
        let Some(&b) = buf.get(p) else {
            return Err(Stop::new(p, ST, Stopped::Partial));
        };
        // Each test on `b` starts with one comparison that a name's first
        // byte (above SP) fails.
        if b <= b' ' && (b == b' ' || b == b'\t') {
            if !l.pending {
                return Err(Stop::fail(p, ST, ErrorKind::WhitespaceAfterStartLine, p));
            }
            if !self.opts.accept_invalid {
                return Err(Stop::fail(p, ST, ErrorKind::ObsFold, p));
            }
            // obs-fold: the line continues the pending value.
            let h = &mut self.head.headers[l.count];
            h.flags |= header_flags::FOLDED;
            l.pending = false;
            return Ok(if h.value.is_empty() {
                Next::FoldWs(p + 1)
            } else {
                Next::FoldValue(p + 1)
            });
        }
        if l.pending {
            l.pending = false;
            // The value's trailing SP/HTAB went when its CR was found; a
            // recognised name or an obs-folded value still has work to do.
            let h = &self.head.headers[l.count];
            if h.id != HeaderId::Other || h.flags != 0 {
                self.head.count = l.count;
                if let Err((kind, at)) = self.finish_field(buf) {
                    return Err(Stop::fail(p, ST, kind, at));
                }
            }
            l.count += 1;
        }
        if b <= b'\r' {
            match b {
                b'\r' => return Err(Stop::new(p + 1, State::FinalLf, Stopped::FinalCr)),
                b'\n' if self.opts.accept_invalid => {
                    return Err(Stop::new(p + 1, ST, Stopped::LfEnd))
                }
                b'\n' => return Err(Stop::fail(p, ST, ErrorKind::BareLf, p)),
                // Another control byte: the name phase rejects it.
                _ => {}
            }
        }
        if l.count >= N {
            return Err(Stop::fail(p, ST, ErrorKind::TooManyHeaders, p));
        }
        self.head.headers[l.count].name.start = p as u32;
        Ok(Next::Name(p))
    }

    /// `Name`: up to and including the colon; records name and id.
    #[inline(always)]
    fn name_phase(&mut self, l: &mut Line, buf: &[u8], mut p: usize) -> Result<usize, Stop> {
        const ST: State = State::Name;
        loop {
            p = classify::skip_name(buf, p, buf.len());
            let Some(&b) = buf.get(p) else {
                return Err(Stop::new(p, ST, Stopped::Partial));
            };
            let h = &mut self.head.headers[l.count];
            let mark = h.name.start as usize;
            if b == b':' && p != mark {
                examined!(self, p - mark);
                h.id = classify::header_id(&buf[mark..p]);
                h.name.end = p as u32;
                h.flags = 0;
                return Ok(p + 1);
            }
            match name_other_byte(b, p == mark, self.opts.accept_invalid) {
                Ok(()) => p += 1,
                Err(kind) => return Err(Stop::fail(p, ST, kind, p)),
            }
        }
    }

    /// `Value`: up to and including the CR (or, lenient, a bare LF: then the
    /// line is complete and the second result is false).
    #[inline(always)]
    fn value_phase(
        &mut self,
        l: &mut Line,
        buf: &[u8],
        mut p: usize,
    ) -> Result<(usize, bool), Stop> {
        const ST: State = State::Value;
        loop {
            p = classify::skip_value(buf, p, buf.len());
            let Some(&b) = buf.get(p) else {
                return Err(Stop::new(p, ST, Stopped::Partial));
            };
            if b == b'\r' {
                self.head.headers[l.count].value.end = self.value_end(buf, l.count, p) as u32;
                return Ok((p + 1, true));
            }
            match value_other_byte(b, self.opts.accept_invalid) {
                Ok(true) => p += 1,
                Ok(false) => {
                    // A bare LF (lenient): the line is complete.
                    self.head.headers[l.count].value.end = self.value_end(buf, l.count, p) as u32;
                    l.pending = true;
                    return Ok((p + 1, false));
                }
                Err(kind) => return Err(Stop::fail(p, ST, kind, p)),
            }
        }
    }

    /// Where the value of slot `count`, whose line break is at `p`, ends once
    /// trailing whitespace is trimmed. The usual value has none, told by one
    /// byte: the value ends in SP or HTAB exactly when the byte before the
    /// line break is at most SP (an empty value's previous byte, the colon or
    /// whitespace, may pass too; the walk-back stops at the value's start).
    #[inline(always)]
    fn value_end(&mut self, buf: &[u8], count: usize, p: usize) -> usize {
        if matches!(buf.get(p.wrapping_sub(1)), Some(&b) if b <= b' ') {
            self.trailing_ws(buf, count, p)
        } else {
            p
        }
    }

    /// The rest of [`Self::value_end`]. Strict: walks back over SP and HTAB
    /// to the value's start (no obs-fold can extend the value). With
    /// `accept_invalid` a later line may still fold into the value, so the
    /// slot is marked [`UNTRIMMED`] and trimmed once, when the field is
    /// finalised: walking back here too would read folded whitespace again.
    #[cold]
    #[inline(never)]
    fn trailing_ws(&mut self, buf: &[u8], count: usize, p: usize) -> usize {
        let h = &mut self.head.headers[count];
        if self.opts.accept_invalid {
            h.flags |= UNTRIMMED;
            return p;
        }
        let start = h.value.start as usize;
        let mut end = p;
        while end > start && matches!(buf[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        examined!(self, p - end);
        end
    }

    /// Finalises the header in slot `count`: a value that obs-fold continued
    /// or that [`Self::trailing_ws`] left untrimmed loses its trailing
    /// whitespace (and line breaks), then
    /// a recognised name gets its per-field rules (its id was set at the
    /// colon); the caller counts it. Runs when the line after it starts,
    /// because with `accept_invalid` that line may still fold into the value.
    /// Unrecognised, unfolded headers never get here.
    fn finish_field(&mut self, buf: &[u8]) -> Result<(), Fail> {
        let idx = self.head.count;
        if self.head.headers[idx].flags & (UNTRIMMED | header_flags::FOLDED) != 0 {
            let h = &mut self.head.headers[idx];
            h.flags &= !UNTRIMMED;
            let (start, line_end) = (h.value.start as usize, h.value.end as usize);
            let mut end = line_end;
            while end > start && classify::is_list_ws(buf[end - 1]) {
                end -= 1;
            }
            h.value.end = end as u32;
            examined!(self, line_end - end);
        }
        let h = &mut self.head.headers[idx];
        let id = h.id;
        let at = h.value.start as usize;
        let v = h.value.slice(buf);
        let head = &mut self.head;
        match id {
            HeaderId::Other | HeaderId::Trailer => {}
            HeaderId::ContentLength => {
                let n = rules::content_length(v).map_err(|(k, i)| (k, at + i))?;
                match head.content_length {
                    Some(m) if m != n => return Err((ErrorKind::ConflictingContentLength, at)),
                    _ => head.content_length = Some(n),
                }
            }
            HeaderId::TransferEncoding => {
                if !head.te.present {
                    head.te_at = at as u32;
                }
                head.te.add(v).map_err(|(k, i)| (k, at + i))?;
            }
            HeaderId::Connection => {
                head.headers[idx].flags |= header_flags::HOP_BY_HOP;
                head.conn.add(v);
            }
            HeaderId::Upgrade => {
                head.headers[idx].flags |= header_flags::HOP_BY_HOP;
                head.has_upgrade = true;
            }
            HeaderId::KeepAlive | HeaderId::ProxyConnection | HeaderId::Te => {
                head.headers[idx].flags |= header_flags::HOP_BY_HOP;
            }
            HeaderId::Expect => {
                if rules::is_100_continue(v) {
                    head.expect_continue = true;
                } else {
                    head.expect_other = true;
                }
            }
            HeaderId::Host => {
                head.host_count = head.host_count.saturating_add(1);
                if head.host_count > 1 {
                    return Err((ErrorKind::MultipleHost, h_name_start(head, idx)));
                }
            }
        }
        if matches!(
            id,
            HeaderId::ContentLength
                | HeaderId::TransferEncoding
                | HeaderId::Connection
                | HeaderId::Expect
        ) {
            examined!(self, v.len());
        }
        Ok(())
    }

    /// Applies the message-level rules once the head is complete: version and
    /// Transfer-Encoding, Host, framing, persistence, hop-by-hop fields named
    /// by Connection. `end` is the head length.
    /// Inlined into [`Self::lines`]: a call here cost more than the rules.
    #[inline(always)]
    fn finish_head(&mut self, buf: &[u8], end: usize) -> Result<Option<usize>, Fail> {
        let v11 = self.head.version == Version::Http11;
        let request = self.head.kind == Kind::Request;
        // The framing the framing fields alone give (for a request,
        // `UntilClose` stands for codings that do not end in chunked).
        let body = if self.head.te.present {
            self.te_body(v11)?
        } else {
            match self.head.content_length {
                Some(0) => Framing::None,
                Some(n) => Framing::Length(n),
                None if request => Framing::None,
                None => Framing::UntilClose,
            }
        };
        let h = &mut self.head;
        h.framing = if request {
            if v11 && h.host_count == 0 {
                return Err((ErrorKind::MissingHost, end));
            }
            if body == Framing::UntilClose {
                return Err((ErrorKind::TransferEncodingNotChunked, h.te_at as usize));
            }
            // RFC 9110 §10.1.1 and §7.8: HTTP/1.0 expectations and upgrades
            // are ignored.
            h.expect_continue &= v11;
            h.upgrade = v11 && h.has_upgrade && h.conn.upgrade;
            body
        } else {
            let s = h.status;
            if s == 101 {
                Framing::Tunnel
            } else if s < 200 || s == 204 || s == 304 || h.request_method == Method::Head {
                Framing::None
            } else if h.request_method == Method::Connect && s < 300 {
                Framing::Tunnel
            } else {
                body
            }
        };
        let persistent = !h.conn.close && (v11 || h.conn.keep_alive);
        h.keep_alive = persistent
            && !h.close_forced
            && !matches!(h.framing, Framing::UntilClose | Framing::Tunnel);
        if h.conn.other {
            self.mark_connection_options(buf);
        }
        self.head.head_len = end as u32;
        self.state = State::Done;
        Ok(Some(end))
    }

    /// The framing Transfer-Encoding gives, with its rules: HTTP/1.1 only;
    /// codings that do not end in chunked give `UntilClose` (a response's
    /// body then runs until close; the caller rejects such a request); with
    /// both framing fields Transfer-Encoding wins, the CL
    /// is flagged so the proxy drops it, and the connection closes after
    /// this message (RFC 9112 §6.1) so that no later byte can be read two
    /// ways. Out of line: most heads have no Transfer-Encoding.
    #[inline(never)]
    fn te_body(&mut self, v11: bool) -> Result<Framing, Fail> {
        let h = &mut self.head;
        if !v11 {
            return Err((ErrorKind::TransferEncodingHttp10, h.te_at as usize));
        }
        if h.content_length.is_some() {
            h.close_forced = true;
            for f in &mut h.headers[..h.count] {
                if f.id == HeaderId::ContentLength {
                    f.flags |= header_flags::SUPERSEDED;
                }
            }
        }
        Ok(if h.te.chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        })
    }

    /// Flags as hop-by-hop every field named by a Connection option (RFC 9110
    /// §7.6.1). Never the framing fields or Host: a client that lists
    /// `Content-Length` in Connection must not get the proxy to strip the
    /// length of a body it still forwards. Rare, so a plain double loop, out
    /// of line.
    #[cold]
    #[inline(never)]
    fn mark_connection_options(&mut self, buf: &[u8]) {
        let h = &mut self.head;
        for i in 0..h.count {
            let f = h.headers[i];
            if f.flags & header_flags::HOP_BY_HOP != 0
                || matches!(
                    f.id,
                    HeaderId::ContentLength | HeaderId::TransferEncoding | HeaderId::Host
                )
            {
                continue;
            }
            let name = f.name.slice(buf);
            let named = h.headers[..h.count]
                .iter()
                .filter(|c| c.id == HeaderId::Connection)
                .any(|c| {
                    classify::list_members(c.value.slice(buf)).any(|m| m.eq_ignore_ascii_case(name))
                });
            if named {
                h.headers[i].flags |= header_flags::HOP_BY_HOP;
            }
        }
    }
}

/// The per-line fields of [`HeadParser`], held in locals while
/// [`HeadParser::lines`] runs.
struct Line {
    count: usize,
    pending: bool,
}

/// Why the header-line phases stopped.
enum Stopped {
    /// Out of bytes.
    Partial,
    /// Invalid message: the error and its offset.
    Fail(ErrorKind, usize),
    /// The final empty line's CR was read; its LF is next.
    FinalCr,
    /// The final empty line was a bare LF (lenient); the head is complete.
    LfEnd,
}

/// Where the header-line phases stopped: position, state to save, reason.
struct Stop {
    p: usize,
    state: State,
    what: Stopped,
}

impl Stop {
    #[inline(always)]
    fn new(p: usize, state: State, what: Stopped) -> Self {
        Self { p, state, what }
    }

    #[inline(always)]
    fn fail(p: usize, state: State, kind: ErrorKind, at: usize) -> Self {
        Self::new(p, state, Stopped::Fail(kind, at))
    }
}

/// How a start line's straight-line phases ended, when not stopped.
enum StartLine {
    /// The line ended in CRLF: the header lines start here.
    Headers(usize),
    /// The state machine takes over here, in this state (an unusual line
    /// end: a CR not yet followed by its LF, a bare LF, an invalid byte).
    Machine(usize, State),
}

/// What a header line turned out to be at its first byte.
enum Next {
    /// A field: its name starts here.
    Name(usize),
    /// An obs-fold continuing a value that is still empty.
    FoldWs(usize),
    /// An obs-fold continuing a non-empty value.
    FoldValue(usize),
}

/// `ValueWs`: whitespace between the colon and the value.
#[inline(always)]
fn value_ws_phase<const N: usize>(
    head: &mut Head<N>,
    l: &Line,
    buf: &[u8],
    mut p: usize,
) -> Result<usize, Stop> {
    let len = buf.len();
    // Usually exactly one space: take it without a loop.
    if p + 1 < len && buf[p] == b' ' && buf[p + 1] > b' ' {
        p += 1;
    } else {
        while p < len && (buf[p] == b' ' || buf[p] == b'\t') {
            p += 1;
        }
        if p >= len {
            return Err(Stop::new(p, State::ValueWs, Stopped::Partial));
        }
    }
    head.headers[l.count].value.start = p as u32;
    Ok(p)
}

/// `ValueLf`: the LF after a header line's CR.
#[inline(always)]
fn lf_phase(l: &mut Line, buf: &[u8], p: usize) -> Result<usize, Stop> {
    match buf.get(p) {
        None => Err(Stop::new(p, State::ValueLf, Stopped::Partial)),
        Some(b'\n') => {
            l.pending = true;
            Ok(p + 1)
        }
        Some(_) => Err(Stop::fail(p, State::ValueLf, ErrorKind::BareCr, p)),
    }
}

/// A header-name byte other than the colon ending a non-empty name (`empty`:
/// the colon starts the name). `Ok` when the byte belongs to the name (a
/// token byte the word scan stops at, such as `_`; with `lenient`, any
/// visible byte), else the error. Out of line: rare, and keeps the common
/// path free of a jump table.
#[cold]
#[inline(never)]
fn name_other_byte(b: u8, empty: bool, lenient: bool) -> Result<(), ErrorKind> {
    match b {
        b':' if empty => Err(ErrorKind::EmptyHeaderName),
        b' ' | b'\t' => Err(ErrorKind::WhitespaceBeforeColon),
        b'\r' | b'\n' => Err(ErrorKind::MissingColon),
        _ if TOKEN[b as usize] => Ok(()),
        _ if lenient && LOOSE_NAME[b as usize] => Ok(()),
        _ => Err(ErrorKind::InvalidHeaderName),
    }
}

/// A byte that stops the value scan other than CR: `Ok(true)` for HTAB (part
/// of the value), `Ok(false)` for a bare LF ending the line (lenient only),
/// else the error. Out of line for the same reason as [`name_other_byte`].
#[cold]
#[inline(never)]
fn value_other_byte(b: u8, lenient: bool) -> Result<bool, ErrorKind> {
    match b {
        b'\t' => Ok(true),
        b'\n' if lenient => Ok(false),
        b'\n' => Err(ErrorKind::BareLf),
        0 => Err(ErrorKind::NulInHeader),
        _ => Err(ErrorKind::InvalidHeaderValue),
    }
}

fn h_name_start<const N: usize>(head: &Head<N>, idx: usize) -> usize {
    head.headers[idx].name.start as usize
}

/// Checks the 8 bytes of an HTTP version. Only 1.0 and 1.1 are accepted;
/// another well-formed version (`HTTP/2.0`, `HTTP/3`…) is `UnsupportedVersion`
/// (505), anything else `InvalidVersion` (400).
#[inline(always)]
fn version(v: &[u8]) -> Result<Version, ErrorKind> {
    // The two accepted versions as one 8-byte comparison each; the match
    // below would compare byte by byte.
    if let Some(w) = v.first_chunk::<8>() {
        let w = u64::from_le_bytes(*w);
        if w == u64::from_le_bytes(*b"HTTP/1.1") {
            return Ok(Version::Http11);
        }
        if w == u64::from_le_bytes(*b"HTTP/1.0") {
            return Ok(Version::Http10);
        }
    }
    version_other(v)
}

/// The rest of [`version`]: what kind of error a non-1.x version is.
#[cold]
#[inline(never)]
fn version_other(v: &[u8]) -> Result<Version, ErrorKind> {
    match v {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(ErrorKind::UnsupportedVersion)
        }
        [b'H', b'T', b'T', b'P', b'/', b'2'..=b'9', b'\r' | b'\n', ..] => {
            Err(ErrorKind::UnsupportedVersion)
        }
        _ => Err(ErrorKind::InvalidVersion),
    }
}

/// Replaces the line breaks of an obs-folded value with spaces, in place
/// (RFC 9112 §5.2: a proxy replaces each obs-fold with SP before forwarding).
/// Does nothing to a value that is not flagged folded.
pub fn unfold(buf: &mut [u8], header: &crate::types::Header) {
    if !header.is_folded() {
        return;
    }
    if let Some(v) = buf.get_mut(header.value.range()) {
        for b in v {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
    }
}
