//! Plain data of the ACL engine: samples, verdicts, match methods, fetch
//! calls handed to the caller, the per-worker scratch space and the loader
//! through which pattern and map files are read. Behaviour lives in the
//! sibling modules.

use std::fmt;
use std::io;
use std::net::IpAddr;

/// One value produced by a fetch or a converter.
///
/// Strings and binary blobs borrow from the caller's buffers (a request
/// header block, a scratch buffer): nothing is copied to produce a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample<'a> {
    /// A boolean, e.g. `http_first_req`.
    Bool(bool),
    /// A signed integer, e.g. `dst_port` or `req.body_size`.
    Int(i64),
    /// Text bytes (not necessarily UTF-8: header values are bytes).
    Str(&'a [u8]),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// Opaque bytes.
    Bin(&'a [u8]),
}

impl Sample<'_> {
    /// The type of this sample.
    pub fn kind(&self) -> SampleType {
        match self {
            Sample::Bool(_) => SampleType::Bool,
            Sample::Int(_) => SampleType::Int,
            Sample::Str(_) => SampleType::Str,
            Sample::Ip(_) => SampleType::Ip,
            Sample::Bin(_) => SampleType::Bin,
        }
    }
}

/// The type of a sample, known at compile time for every fetch and converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleType {
    /// See [`Sample::Bool`].
    Bool,
    /// See [`Sample::Int`].
    Int,
    /// See [`Sample::Str`].
    Str,
    /// See [`Sample::Ip`].
    Ip,
    /// See [`Sample::Bin`].
    Bin,
}

impl fmt::Display for SampleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SampleType::Bool => "boolean",
            SampleType::Int => "integer",
            SampleType::Str => "string",
            SampleType::Ip => "address",
            SampleType::Bin => "binary",
        })
    }
}

/// The outcome of a condition or of one ACL: HAProxy's tri-state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The condition holds.
    True,
    /// The condition does not hold, and more data cannot change that.
    False,
    /// No decision yet: a sample that could still change (request body not
    /// complete, `WAIT_END` before the inspect delay) was involved and no
    /// other term settled the result. The caller waits and evaluates again.
    NeedMoreData,
}

impl std::ops::Not for Verdict {
    type Output = Verdict;

    /// Logical negation; "need more data" stays undecided.
    fn not(self) -> Verdict {
        match self {
            Verdict::True => Verdict::False,
            Verdict::False => Verdict::True,
            Verdict::NeedMoreData => Verdict::NeedMoreData,
        }
    }
}

/// What a fetch visitor asks of the [`SampleSource`] after each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Hand over the next value, if the fetch has several (header occurrences).
    Continue,
    /// The answer is known: stop producing values.
    Stop,
}

/// How final the values handed to a visitor were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStatus {
    /// Every value the fetch will ever have was offered (possibly none: the
    /// sample does not exist, e.g. a missing header).
    Final,
    /// More data may add or change values (body still arriving, response not
    /// there yet, `wait_end` before its delay). A non-match is then undecided.
    MayChange,
}

/// How an ACL compares a sample with its patterns (`-m METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchMethod {
    /// `found`: the sample exists; no patterns.
    Found,
    /// `bool`: the sample, as a boolean, is true; no patterns.
    Bool,
    /// `int`: integer equality, ranges and `eq ne lt le gt ge` operators.
    Int,
    /// `ip`: addresses and CIDR networks, IPv4 and IPv6.
    Ip,
    /// `len`: the string length, compared like `int`.
    Len,
    /// `str`: exact string equality.
    Str,
    /// `beg`: the sample starts with a pattern.
    Beg,
    /// `end`: the sample ends with a pattern.
    End,
    /// `sub`: the sample contains a pattern.
    Sub,
    /// `reg`: a regular expression matches somewhere in the sample.
    Reg,
    /// `dir`: a pattern equals a slash-delimited part of the sample.
    Dir,
    /// `dom`: a pattern equals a dot-delimited part of the sample (a domain
    /// and its sub-domains).
    Dom,
}

impl MatchMethod {
    /// Every method with its `-m` keyword, in the order HAProxy lists them.
    pub const ALL: [(&'static str, MatchMethod); 12] = [
        ("found", MatchMethod::Found),
        ("bool", MatchMethod::Bool),
        ("int", MatchMethod::Int),
        ("ip", MatchMethod::Ip),
        ("len", MatchMethod::Len),
        ("str", MatchMethod::Str),
        ("beg", MatchMethod::Beg),
        ("end", MatchMethod::End),
        ("sub", MatchMethod::Sub),
        ("reg", MatchMethod::Reg),
        ("dir", MatchMethod::Dir),
        ("dom", MatchMethod::Dom),
    ];

    /// The `-m` keyword of this method.
    pub fn keyword(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(k, _)| k)
    }

    /// The method named by a `-m` keyword.
    pub fn from_keyword(word: &str) -> Option<MatchMethod> {
        Self::ALL.iter().find(|(k, _)| *k == word).map(|(_, m)| *m)
    }

    /// The sample type this method compares (samples are cast to it).
    pub fn input(self) -> Option<SampleType> {
        match self {
            MatchMethod::Found => None,
            MatchMethod::Bool => Some(SampleType::Bool),
            MatchMethod::Int => Some(SampleType::Int),
            MatchMethod::Ip => Some(SampleType::Ip),
            _ => Some(SampleType::Str),
        }
    }

    /// Whether `-i` changes anything for this method.
    pub fn folds_case(self) -> bool {
        matches!(
            self,
            MatchMethod::Str
                | MatchMethod::Beg
                | MatchMethod::End
                | MatchMethod::Sub
                | MatchMethod::Reg
                | MatchMethod::Dir
                | MatchMethod::Dom
        )
    }
}

/// The fetches the caller evaluates. Literal fetches (`int`, `str`,
/// `always_true`, `always_false`, `env`) are folded at compile time and never
/// reach the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchKind {
    /// `src`: client address (ip).
    Src,
    /// `src_port`: client port (int).
    SrcPort,
    /// `dst`: local address the client connected to (ip).
    Dst,
    /// `dst_port`: local port the client connected to (int).
    DstPort,
    /// `method`: request method (str).
    Method,
    /// `path`: request path, from the first slash to before `?` (str).
    Path,
    /// `url`: the whole request target (str).
    Url,
    /// `query`: the part after the first `?`, without it (str).
    Query,
    /// `url_param(name[,delim])` / `urlp`: first query parameter `name` (str).
    UrlParam,
    /// `base`: Host header value followed by the path (str).
    Base,
    /// `req.hdr([name[,occ]])` / `hdr`: request header values, each
    /// comma-separated value on its own (str, several values).
    ReqHdr,
    /// `req.fhdr(name[,occ])`: request header full-line values (str).
    ReqFhdr,
    /// `req.hdr_cnt([name])` / `hdr_cnt`: number of values (int).
    ReqHdrCnt,
    /// `req.cook([name])` / `cook`: request cookie values (str).
    ReqCook,
    /// `req.cook_cnt([name])` / `cook_cnt`: number of cookies (int).
    ReqCookCnt,
    /// `req.body_size`: announced request body size (int).
    ReqBodySize,
    /// `req.len`: bytes of request data buffered so far (int).
    ReqLen,
    /// `req.ver`: request HTTP version, e.g. "1.1" (str).
    ReqVer,
    /// `req.proto_http`: the request is valid HTTP (bool).
    ReqProtoHttp,
    /// `req.rdp_cookie_cnt([name])`: RDP cookies seen (int).
    ReqRdpCookieCnt,
    /// `http_first_req`: first request of the client connection (bool).
    HttpFirstReq,
    /// `wait_end`: true once the inspect delay has expired (bool).
    WaitEnd,
    /// `status`: response status code (int).
    Status,
    /// `res.hdr([name[,occ]])` / `shdr`: response header values (str).
    ResHdr,
    /// `res.fhdr(name[,occ])`: response header full-line values (str).
    ResFhdr,
    /// `res.hdr_cnt([name])` / `shdr_cnt`: number of response values (int).
    ResHdrCnt,
    /// `var(scope.name)`: a variable set by `set-var` (any type; declared
    /// as a string, the value keeps the type it was stored with).
    Var,
    /// `capture.req.hdr(slot)`: what the frontend's capture slot `slot`
    /// (from 0) holds for this transaction (str).
    CaptureReqHdr,
    /// `req.payload(offset,length)`: bytes of the request buffer (bin; a
    /// length of 0 means up to the end of what is buffered).
    ReqPayload,
}

/// One argument of a fetch, as compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A string argument (header names are stored lower-cased).
    Str(Box<[u8]>),
    /// An integer argument (occurrences; negative counts from the end).
    Int(i64),
}

/// A compiled fetch the caller must evaluate: which fetch and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCall {
    /// Which fetch.
    pub kind: FetchKind,
    /// Its arguments, already validated for this fetch.
    pub args: Box<[Arg]>,
}

impl FetchCall {
    /// The name argument (header, cookie or parameter name), if any.
    /// Header names are lower-case.
    pub fn name(&self) -> Option<&[u8]> {
        match self.args.first() {
            Some(Arg::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The occurrence argument of header fetches: `None` means every value,
    /// a positive N the N-th value, a negative N the N-th from the end.
    pub fn occurrence(&self) -> Option<i64> {
        self.args.iter().find_map(|a| match a {
            Arg::Int(n) => Some(*n),
            Arg::Str(_) => None,
        })
    }

    /// The two integer arguments of `req.payload(offset,length)`.
    pub fn offset_len(&self) -> Option<(i64, i64)> {
        match &*self.args {
            [Arg::Int(o), Arg::Int(l)] => Some((*o, *l)),
            _ => None,
        }
    }

    /// The delimiter argument of `url_param(name,delim)`, if given.
    pub fn delimiter(&self) -> Option<&[u8]> {
        match self.args.get(1) {
            Some(Arg::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// The caller's view of a request/response: evaluates fetches.
///
/// Implementations call `visit` once per value (several for multi-valued
/// fetches like `hdr(name)` without occurrence), stop when it returns
/// [`Visit::Stop`], and report whether the values offered are final.
/// A missing sample is simply no call to `visit`. Implementations must not
/// allocate per call on the data path; samples borrow from their buffers.
pub trait SampleSource {
    /// Offers each value of `call` to `visit`.
    fn fetch(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus;
}

/// Per-worker scratch space for evaluation: converter outputs and
/// case-folded copies are written here. Its buffers grow to the largest
/// sample seen and are then reused: evaluation does not allocate once warm.
#[derive(Debug, Default)]
pub struct Scratch {
    pub(crate) conv: ConvScratch,
    pub(crate) matcher: MatchScratch,
}

impl Scratch {
    /// An empty scratch space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pattern-matching work done so far (trie nodes visited, hash lookups,
    /// tree levels descended, patterns scanned). A test and bench hook that
    /// shows matching cost does not grow with the number of patterns.
    pub fn match_steps(&self) -> u64 {
        self.matcher.steps
    }
}

/// Converter ping-pong buffers: a step reads one and writes the other.
#[derive(Debug, Default)]
pub(crate) struct ConvScratch {
    pub(crate) bufs: [Vec<u8>; 2],
}

/// Matching scratch: case-folded sample copy and the work counter.
#[derive(Debug, Default)]
pub(crate) struct MatchScratch {
    pub(crate) fold: Vec<u8>,
    pub(crate) steps: u64,
    /// Capture slots of each `regsub` converter this worker ran, by id:
    /// allocated on first use, then reused.
    pub(crate) captures: Vec<(u64, regex::bytes::CaptureLocations)>,
}

impl MatchScratch {
    /// The capture slots of regsub converter `id` (compiled from `re`).
    pub(crate) fn captures(
        &mut self,
        id: u64,
        re: &regex::bytes::Regex,
    ) -> &mut regex::bytes::CaptureLocations {
        let i = match self.captures.iter().position(|(k, _)| *k == id) {
            Some(i) => i,
            None => {
                self.captures.push((id, re.capture_locations()));
                self.captures.len() - 1
            }
        };
        &mut self.captures[i].1
    }
}

/// Reads the files and environment variables an ACL refers to, at compile
/// time only. The core never does I/O itself: the caller supplies these.
pub struct Loader<'r> {
    /// Returns the contents of a pattern or map file.
    pub read_file: &'r dyn Fn(&str) -> io::Result<String>,
    /// Returns the value of an environment variable (for `env(VAR)`).
    pub env: &'r dyn Fn(&str) -> Option<String>,
}

fn no_file(path: &str) -> io::Result<String> {
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no file reader available to read '{path}'"),
    ))
}

fn no_env(_: &str) -> Option<String> {
    None
}

impl Loader<'static> {
    /// A loader with no files and an empty environment.
    pub fn none() -> Self {
        Loader {
            read_file: &no_file,
            env: &no_env,
        }
    }
}

impl fmt::Debug for Loader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Loader")
    }
}
