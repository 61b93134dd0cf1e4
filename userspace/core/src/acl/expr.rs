//! Sample expressions: `fetch[(args)][,conv[(args)]…]`, the fetch-name table
//! (with HAProxy's derived ACL keywords such as `path_beg` or `hdr_ip`), and
//! their evaluation through the caller's [`SampleSource`].
//!
//! Literal fetches (`int`, `str`, `always_true`, `always_false`, `env`) are
//! folded at compile time; every other fetch is handed to the caller as a
//! [`FetchCall`]. Converter chains run through the two ping-pong buffers of
//! [`Scratch`], so a warm evaluation does not allocate.

use super::cast::{can_cast, cast, CastBuf};
use super::conv::{Conv, Produced};
use super::error::AclError;
use super::suggest::closest;
use super::types::{
    Arg, FetchCall, FetchKind, FetchStatus, Loader, MatchMethod, MatchScratch, Sample,
    SampleSource, SampleType, Scratch, Visit,
};

/// Which arguments a fetch takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgSpec {
    None,
    /// `[name[,occ]]`: header fetches; the name is lower-cased.
    OptNameOcc,
    /// `name[,occ]`: full-line header fetches.
    NameOcc,
    /// `[name]`: counts, cookies; `lower` says whether to lower-case it.
    OptName {
        lower: bool,
    },
    /// `name[,delim]`: `url_param`.
    NameDelim,
    /// `int(N)`.
    IntLit,
    /// `str(S)`.
    StrLit,
    /// `env(VAR)`.
    EnvVar,
    /// `var(scope.name)`.
    VarName,
    /// A slot number from 0 (`capture.req.hdr`).
    Index,
    /// `offset,length`, both from 0 (`req.payload`).
    OffsetLen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Call(FetchKind),
    True,
    False,
    Int,
    Str,
    Env,
}

/// One fetch keyword.
#[derive(Debug, Clone, Copy)]
struct FetchDef {
    name: &'static str,
    target: Target,
    args: ArgSpec,
    /// The type the caller returns.
    out: SampleType,
    /// The type the keyword presents, when it casts (`hdr_val` is `hdr` as
    /// an integer).
    cast: Option<SampleType>,
}

const fn def(name: &'static str, target: Target, args: ArgSpec, out: SampleType) -> FetchDef {
    FetchDef {
        name,
        target,
        args,
        out,
        cast: None,
    }
}

const fn as_int(name: &'static str, kind: FetchKind, args: ArgSpec) -> FetchDef {
    FetchDef {
        name,
        target: Target::Call(kind),
        args,
        out: SampleType::Str,
        cast: Some(SampleType::Int),
    }
}

use ArgSpec as A;
use FetchKind as K;
use SampleType as T;
use Target::Call as C;

/// Every fetch keyword weir knows. Old HAProxy spellings (`hdr`, `shdr`,
/// `cook`, `urlp`, `req_len`…) are aliases of the `req.`/`res.` ones.
const FETCHES: &[FetchDef] = &[
    def("src", C(K::Src), A::None, T::Ip),
    def("src_port", C(K::SrcPort), A::None, T::Int),
    def("dst", C(K::Dst), A::None, T::Ip),
    def("dst_port", C(K::DstPort), A::None, T::Int),
    def("method", C(K::Method), A::None, T::Str),
    def("path", C(K::Path), A::None, T::Str),
    def("url", C(K::Url), A::None, T::Str),
    def("query", C(K::Query), A::None, T::Str),
    def("base", C(K::Base), A::None, T::Str),
    def("url_param", C(K::UrlParam), A::NameDelim, T::Str),
    def("urlp", C(K::UrlParam), A::NameDelim, T::Str),
    as_int("urlp_val", K::UrlParam, A::NameDelim),
    def("req.hdr", C(K::ReqHdr), A::OptNameOcc, T::Str),
    def("hdr", C(K::ReqHdr), A::OptNameOcc, T::Str),
    as_int("req.hdr_val", K::ReqHdr, A::NameOcc),
    as_int("hdr_val", K::ReqHdr, A::NameOcc),
    def(
        "req.hdr_cnt",
        C(K::ReqHdrCnt),
        A::OptName { lower: true },
        T::Int,
    ),
    def(
        "hdr_cnt",
        C(K::ReqHdrCnt),
        A::OptName { lower: true },
        T::Int,
    ),
    def("req.fhdr", C(K::ReqFhdr), A::NameOcc, T::Str),
    def(
        "req.cook",
        C(K::ReqCook),
        A::OptName { lower: false },
        T::Str,
    ),
    def("cook", C(K::ReqCook), A::OptName { lower: false }, T::Str),
    as_int("req.cook_val", K::ReqCook, A::OptName { lower: false }),
    as_int("cook_val", K::ReqCook, A::OptName { lower: false }),
    def(
        "req.cook_cnt",
        C(K::ReqCookCnt),
        A::OptName { lower: false },
        T::Int,
    ),
    def(
        "cook_cnt",
        C(K::ReqCookCnt),
        A::OptName { lower: false },
        T::Int,
    ),
    def("req.body_size", C(K::ReqBodySize), A::None, T::Int),
    def("req.len", C(K::ReqLen), A::None, T::Int),
    def("req_len", C(K::ReqLen), A::None, T::Int),
    def("req.ver", C(K::ReqVer), A::None, T::Str),
    def("req_ver", C(K::ReqVer), A::None, T::Str),
    def("req.proto_http", C(K::ReqProtoHttp), A::None, T::Bool),
    def("req_proto_http", C(K::ReqProtoHttp), A::None, T::Bool),
    def(
        "req.rdp_cookie_cnt",
        C(K::ReqRdpCookieCnt),
        A::OptName { lower: false },
        T::Int,
    ),
    def(
        "rdp_cookie_cnt",
        C(K::ReqRdpCookieCnt),
        A::OptName { lower: false },
        T::Int,
    ),
    def("http_first_req", C(K::HttpFirstReq), A::None, T::Bool),
    def("wait_end", C(K::WaitEnd), A::None, T::Bool),
    def("status", C(K::Status), A::None, T::Int),
    def("res.hdr", C(K::ResHdr), A::OptNameOcc, T::Str),
    def("shdr", C(K::ResHdr), A::OptNameOcc, T::Str),
    as_int("res.hdr_val", K::ResHdr, A::NameOcc),
    as_int("shdr_val", K::ResHdr, A::NameOcc),
    def(
        "res.hdr_cnt",
        C(K::ResHdrCnt),
        A::OptName { lower: true },
        T::Int,
    ),
    def(
        "shdr_cnt",
        C(K::ResHdrCnt),
        A::OptName { lower: true },
        T::Int,
    ),
    def("res.fhdr", C(K::ResFhdr), A::NameOcc, T::Str),
    def("var", C(K::Var), A::VarName, T::Str),
    def("capture.req.hdr", C(K::CaptureReqHdr), A::Index, T::Str),
    def("req.payload", C(K::ReqPayload), A::OffsetLen, T::Bin),
    def("always_true", Target::True, A::None, T::Bool),
    def("always_false", Target::False, A::None, T::Bool),
    def("env", Target::Env, A::EnvVar, T::Str),
    def("int", Target::Int, A::IntLit, T::Int),
    def("str", Target::Str, A::StrLit, T::Str),
];

/// Bases that have derived ACL keywords `<base>_<method>`.
const DERIVED_BASES: &[(&str, &str)] = &[
    ("path", "path"),
    ("url", "url"),
    ("base", "base"),
    ("hdr", "req.hdr"),
    ("shdr", "res.hdr"),
    ("urlp", "urlp"),
    ("cook", "req.cook"),
];

/// Methods a derived keyword may imply; `ip` only for header fetches.
const DERIVED_METHODS: &[(&str, MatchMethod)] = &[
    ("beg", MatchMethod::Beg),
    ("end", MatchMethod::End),
    ("sub", MatchMethod::Sub),
    ("reg", MatchMethod::Reg),
    ("dir", MatchMethod::Dir),
    ("dom", MatchMethod::Dom),
    ("len", MatchMethod::Len),
    ("ip", MatchMethod::Ip),
];

/// Resolves a fetch keyword, possibly derived: returns its definition and
/// the match method the derived form implies.
fn resolve(name: &str) -> Option<(&'static FetchDef, Option<MatchMethod>)> {
    if let Some(d) = FETCHES.iter().find(|d| d.name == name) {
        return Some((d, None));
    }
    let (base, suffix) = name.rsplit_once('_')?;
    let (_, real) = DERIVED_BASES.iter().find(|(b, _)| *b == base)?;
    let (_, method) = DERIVED_METHODS.iter().find(|(s, _)| *s == suffix)?;
    if *method == MatchMethod::Ip && !matches!(base, "hdr" | "shdr") {
        return None;
    }
    let d = FETCHES.iter().find(|d| d.name == *real)?;
    Some((d, Some(*method)))
}

/// Every fetch keyword, derived forms included (for hints).
fn all_fetch_names() -> impl Iterator<Item = String> {
    FETCHES
        .iter()
        .map(|d| d.name.to_string())
        .chain(DERIVED_BASES.iter().flat_map(|(b, _)| {
            DERIVED_METHODS
                .iter()
                .filter(move |(s, _)| *s != "ip" || matches!(*b, "hdr" | "shdr"))
                .map(move |(s, _)| format!("{b}_{s}"))
        }))
}

/// One `name(args)` element of an expression.
#[derive(Debug, PartialEq, Eq)]
struct Element {
    name: String,
    args: Vec<String>,
}

/// Splits `fetch(a,b),conv(c),conv` into elements. Inside parentheses,
/// arguments are separated by commas; quotes group and backslashes escape,
/// so a regex may hold commas and parentheses.
fn split_expr(text: &str) -> Result<Vec<Element>, AclError> {
    let bad = |reason: &str| AclError::BadExpr {
        expr: text.to_string(),
        reason: reason.to_string(),
    };
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && b[i] != b'(' && b[i] != b',' {
            if b[i] == b')' {
                return Err(bad("unbalanced ')'"));
            }
            i += 1;
        }
        let name = text[start..i].trim().to_string();
        if name.is_empty() {
            return Err(bad("empty fetch or converter name"));
        }
        let mut args = Vec::new();
        if i < b.len() && b[i] == b'(' {
            i += 1;
            let mut cur = Vec::new();
            let mut quote = 0u8;
            let mut depth = 0usize;
            loop {
                let Some(&c) = b.get(i) else {
                    return Err(bad("missing ')'"));
                };
                i += 1;
                match c {
                    // A backslash hides a character from the splitter; other
                    // backslashes stay, so regex escapes like `\.` or `\1`
                    // reach the regex compiler intact.
                    b'\\' if quote != b'\'' => {
                        let Some(&n) = b.get(i) else {
                            return Err(bad("trailing backslash"));
                        };
                        let hidden = if quote == b'"' {
                            n == b'"'
                        } else {
                            matches!(n, b',' | b'(' | b')' | b'"' | b'\'')
                        };
                        if !hidden {
                            cur.push(c);
                        }
                        cur.push(n);
                        i += 1;
                    }
                    b'"' | b'\'' if quote == 0 => quote = c,
                    q if q == quote && quote != 0 => quote = 0,
                    _ if quote != 0 => cur.push(c),
                    b'(' => {
                        depth += 1;
                        cur.push(c);
                    }
                    b')' if depth > 0 => {
                        depth -= 1;
                        cur.push(c);
                    }
                    b')' => {
                        args.push(
                            String::from_utf8(cur).map_err(|_| bad("argument is not UTF-8"))?,
                        );
                        break;
                    }
                    b',' if depth == 0 => {
                        args.push(
                            String::from_utf8(std::mem::take(&mut cur))
                                .map_err(|_| bad("argument is not UTF-8"))?,
                        );
                    }
                    _ => cur.push(c),
                }
            }
            // `f()` has no argument rather than one empty argument.
            if args.len() == 1 && args[0].is_empty() {
                args.clear();
            }
        }
        out.push(Element { name, args });
        match b.get(i) {
            None => return Ok(out),
            Some(b',') => i += 1,
            Some(_) => return Err(bad("expected ',' after ')'")),
        }
    }
}

/// A constant folded at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Const {
    Bool(bool),
    Int(i64),
    Str(Box<[u8]>),
    /// `env(VAR)` of an unset variable: the sample never exists.
    Missing,
}

#[derive(Debug, Clone)]
enum Source {
    Const(Const),
    Call {
        call: FetchCall,
        cast: Option<SampleType>,
    },
}

/// A compiled sample expression: a fetch and its converters.
#[derive(Debug, Clone)]
pub struct SampleExpr {
    source: Source,
    convs: Box<[Conv]>,
    out: SampleType,
    text: Box<str>,
}

fn bad_args(keyword: &str, reason: impl Into<String>) -> AclError {
    AclError::BadArgs {
        keyword: keyword.to_string(),
        reason: reason.into(),
    }
}

fn compile_args(keyword: &str, spec: ArgSpec, args: &[String]) -> Result<Vec<Arg>, AclError> {
    let count = |min: usize, max: usize| {
        if args.len() < min || args.len() > max {
            Err(bad_args(
                keyword,
                format!("expects {min} to {max} argument(s), got {}", args.len()),
            ))
        } else {
            Ok(())
        }
    };
    let name = |s: &str, lower: bool| -> Result<Arg, AclError> {
        if s.is_empty() {
            return Err(bad_args(keyword, "empty name"));
        }
        Ok(Arg::Str(if lower {
            s.to_ascii_lowercase().into_bytes().into()
        } else {
            s.as_bytes().into()
        }))
    };
    let occ = |s: &str| -> Result<Arg, AclError> {
        match s.trim().parse::<i64>() {
            Ok(0) | Err(_) => Err(bad_args(
                keyword,
                format!(
                    "occurrence '{s}' must be a non-zero integer (1 is the first, -1 the last)"
                ),
            )),
            Ok(n) => Ok(Arg::Int(n)),
        }
    };
    let mut out = Vec::new();
    match spec {
        ArgSpec::None => count(0, 0)?,
        ArgSpec::OptNameOcc | ArgSpec::NameOcc => {
            count(usize::from(spec == ArgSpec::NameOcc), 2)?;
            if let Some(n) = args.first() {
                out.push(name(n, true)?);
            }
            if let Some(o) = args.get(1) {
                out.push(occ(o)?);
            }
        }
        ArgSpec::OptName { lower } => {
            count(0, 1)?;
            if let Some(n) = args.first() {
                out.push(name(n, lower)?);
            }
        }
        ArgSpec::NameDelim => {
            count(1, 2)?;
            out.push(name(&args[0], false)?);
            if let Some(d) = args.get(1) {
                if d.len() != 1 {
                    return Err(bad_args(keyword, "delimiter must be one character"));
                }
                out.push(Arg::Str(d.as_bytes().into()));
            }
        }
        ArgSpec::IntLit | ArgSpec::StrLit | ArgSpec::EnvVar => count(1, 1)?,
        ArgSpec::OffsetLen => {
            count(2, 2)?;
            for a in args {
                match a.trim().parse::<i64>() {
                    Ok(n) if n >= 0 => out.push(Arg::Int(n)),
                    _ => {
                        return Err(bad_args(
                            keyword,
                            format!("'{a}' is not an offset or length (0, 1…)"),
                        ))
                    }
                }
            }
        }
        ArgSpec::Index => {
            count(1, 1)?;
            match args[0].trim().parse::<i64>() {
                Ok(n) if n >= 0 => out.push(Arg::Int(n)),
                _ => {
                    return Err(bad_args(
                        keyword,
                        format!("'{}' is not a slot number (0, 1…)", args[0]),
                    ))
                }
            }
        }
        ArgSpec::VarName => {
            count(1, 1)?;
            let v = args[0].trim();
            let scope = v.split_once('.').map(|(s, _)| s);
            match scope {
                Some("sess" | "txn" | "req" | "res") if !v.ends_with('.') => {}
                Some("proc") => return Err(bad_args(
                    keyword,
                    "the 'proc' scope is not supported by weir yet (its workers share no state)",
                )),
                _ => {
                    return Err(bad_args(
                        keyword,
                        format!("'{v}' is not 'sess.NAME', 'txn.NAME', 'req.NAME' or 'res.NAME'"),
                    ))
                }
            }
            out.push(Arg::Str(v.as_bytes().into()));
        }
    }
    Ok(out)
}

impl SampleExpr {
    /// Compiles a sample expression such as `req.hdr(host),lower,map(f)`.
    /// Files (maps) and `env()` values are read through `loader`, now.
    pub fn parse(text: &str, loader: &Loader<'_>) -> Result<SampleExpr, AclError> {
        Self::parse_acl(text, loader).map(|(e, _)| e)
    }

    /// As [`SampleExpr::parse`], also returning the match method a derived
    /// ACL keyword implies (`path_beg` → `beg`).
    pub(crate) fn parse_acl(
        text: &str,
        loader: &Loader<'_>,
    ) -> Result<(SampleExpr, Option<MatchMethod>), AclError> {
        let elems = split_expr(text)?;
        let (first, convs) = elems.split_first().ok_or_else(|| AclError::BadExpr {
            expr: text.to_string(),
            reason: "empty".to_string(),
        })?;
        let (d, implied) = resolve(&first.name).ok_or_else(|| AclError::UnknownFetch {
            name: first.name.clone(),
            hint: closest(
                &first.name,
                all_fetch_names()
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            ),
        })?;
        let args = compile_args(&first.name, d.args, &first.args)?;
        let lit = || first.args.first().cloned().unwrap_or_default();
        let source = match d.target {
            Target::Call(kind) => Source::Call {
                call: FetchCall {
                    kind,
                    args: args.into_boxed_slice(),
                },
                cast: d.cast,
            },
            Target::True => Source::Const(Const::Bool(true)),
            Target::False => Source::Const(Const::Bool(false)),
            Target::Int => {
                Source::Const(Const::Int(lit().trim().parse().map_err(|_| {
                    bad_args("int", format!("'{}' is not an integer", lit()))
                })?))
            }
            Target::Str => Source::Const(Const::Str(lit().into_bytes().into())),
            Target::Env => match (loader.env)(&lit()) {
                Some(v) => Source::Const(Const::Str(v.into_bytes().into())),
                None => Source::Const(Const::Missing),
            },
        };
        let mut ty = d.cast.unwrap_or(d.out);
        let mut compiled = Vec::with_capacity(convs.len());
        for e in convs {
            let c = Conv::compile(&e.name, &e.args, loader)?;
            if !can_cast(ty, c.input()) {
                return Err(AclError::ConverterType {
                    conv: e.name.clone(),
                    from: ty,
                });
            }
            ty = c.output();
            compiled.push(c);
        }
        Ok((
            SampleExpr {
                source,
                convs: compiled.into_boxed_slice(),
                out: ty,
                text: text.into(),
            },
            implied,
        ))
    }

    /// The type of the samples this expression produces.
    pub fn output(&self) -> SampleType {
        self.out
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The caller's fetch this expression needs, or None for a literal.
    pub fn fetch(&self) -> Option<&FetchCall> {
        match &self.source {
            Source::Call { call, .. } => Some(call),
            Source::Const(_) => None,
        }
    }

    /// Whether the expression has converters.
    pub(crate) fn has_converters(&self) -> bool {
        !self.convs.is_empty()
    }

    /// The default match method for an ACL on this expression: by type.
    pub(crate) fn default_match(&self) -> MatchMethod {
        match self.out {
            SampleType::Bool => MatchMethod::Bool,
            SampleType::Int => MatchMethod::Int,
            SampleType::Ip => MatchMethod::Ip,
            SampleType::Str | SampleType::Bin => MatchMethod::Str,
        }
    }

    /// Evaluates the expression: `visit` gets each resulting sample (after
    /// converters) until it returns [`Visit::Stop`]. Samples a converter
    /// rejects are skipped.
    pub fn eval<S: SampleSource + ?Sized>(
        &self,
        src: &mut S,
        scratch: &mut Scratch,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        self.eval_inner(src, scratch, &mut |s, _| visit(s))
    }

    /// As [`SampleExpr::eval`], lending the match scratch to the visitor.
    pub(crate) fn eval_inner<S: SampleSource + ?Sized>(
        &self,
        src: &mut S,
        scratch: &mut Scratch,
        visit: &mut dyn FnMut(Sample<'_>, &mut MatchScratch) -> Visit,
    ) -> FetchStatus {
        let Scratch { conv, matcher } = scratch;
        match &self.source {
            Source::Const(c) => {
                let s = match c {
                    Const::Bool(b) => Sample::Bool(*b),
                    Const::Int(n) => Sample::Int(*n),
                    Const::Str(t) => Sample::Str(t),
                    Const::Missing => return FetchStatus::Final,
                };
                self.run(s, &mut conv.bufs, matcher, visit);
                FetchStatus::Final
            }
            Source::Call { call, cast: to } => src.fetch(call, &mut |s| {
                let mut cb: CastBuf = [0; 48];
                let s = match to {
                    Some(t) => match cast(s, *t, &mut cb) {
                        Some(x) => x,
                        None => return Visit::Continue,
                    },
                    None => s,
                };
                self.run(s, &mut conv.bufs, matcher, visit)
            }),
        }
    }

    /// Runs the converter chain on one sample and hands the result on.
    fn run(
        &self,
        s: Sample<'_>,
        bufs: &mut [Vec<u8>; 2],
        m: &mut MatchScratch,
        visit: &mut dyn FnMut(Sample<'_>, &mut MatchScratch) -> Visit,
    ) -> Visit {
        if self.convs.is_empty() {
            return visit(s, m);
        }
        // Where the current value lives: the original sample, a scalar, or
        // one of the two buffers (each step reads one and writes the other).
        #[derive(Clone, Copy)]
        enum Held {
            Orig,
            Scalar(Produced),
            Buf(usize),
        }
        let mut held = Held::Orig;
        for c in self.convs.iter() {
            let out_idx = match held {
                Held::Buf(k) => 1 - k,
                _ => 0,
            };
            let (lo, hi) = bufs.split_at_mut(1);
            let (inp, out) = if out_idx == 0 {
                (&hi[0], &mut lo[0])
            } else {
                (&lo[0], &mut hi[0])
            };
            let input = match held {
                Held::Orig => s,
                Held::Scalar(p) => scalar(p),
                Held::Buf(_) => Sample::Str(inp),
            };
            let mut cb: CastBuf = [0; 48];
            let Some(input) = cast(input, c.input(), &mut cb) else {
                return Visit::Continue;
            };
            out.clear();
            let Some(p) = c.apply(input, out, m) else {
                return Visit::Continue;
            };
            held = match p {
                Produced::Str => Held::Buf(out_idx),
                other => Held::Scalar(other),
            };
        }
        let result = match held {
            Held::Orig => s,
            Held::Scalar(p) => scalar(p),
            Held::Buf(k) => Sample::Str(&bufs[k]),
        };
        visit(result, m)
    }
}

fn scalar(p: Produced) -> Sample<'static> {
    match p {
        Produced::Bool(b) => Sample::Bool(b),
        Produced::Int(n) => Sample::Int(n),
        Produced::Ip(ip) => Sample::Ip(ip),
        // Text is never held as a scalar.
        Produced::Str => Sample::Str(&[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(name: &str, args: &[&str]) -> Element {
        Element {
            name: name.into(),
            args: args.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    #[test]
    fn splitting() {
        assert_eq!(split_expr("path").unwrap(), vec![el("path", &[])]);
        assert_eq!(
            split_expr("req.hdr(Host,1),lower,map(/etc/a.map,def)").unwrap(),
            vec![
                el("req.hdr", &["Host", "1"]),
                el("lower", &[]),
                el("map", &["/etc/a.map", "def"])
            ]
        );
        assert_eq!(
            split_expr(r#"path,regsub("(a|b),x",\1,g)"#).unwrap(),
            vec![el("path", &[]), el("regsub", &["(a|b),x", "\\1", "g"])]
        );
        assert_eq!(
            split_expr("path,regsub(\\(a\\),b)").unwrap()[1],
            el("regsub", &["(a)", "b"])
        );
        assert_eq!(
            split_expr("path,regsub((a|b),c)").unwrap()[1],
            el("regsub", &["(a|b)", "c"])
        );
        assert_eq!(split_expr("str()").unwrap(), vec![el("str", &[])]);
        assert_eq!(
            split_expr(r"path,regsub(\.php$,\,x)").unwrap()[1],
            el("regsub", &[r"\.php$", ",x"])
        );
        for bad in ["", "path,", "hdr(host", "path)x", "hdr(a)b", ",lower"] {
            assert!(split_expr(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fetch_resolution() {
        let cases: &[(&str, Option<FetchKind>, Option<MatchMethod>, SampleType)] = &[
            ("src", Some(K::Src), None, T::Ip),
            ("path_beg", Some(K::Path), Some(MatchMethod::Beg), T::Str),
            ("path_len", Some(K::Path), Some(MatchMethod::Len), T::Str),
            ("url_dom", Some(K::Url), Some(MatchMethod::Dom), T::Str),
            ("base_sub", Some(K::Base), Some(MatchMethod::Sub), T::Str),
            ("hdr_ip", Some(K::ReqHdr), Some(MatchMethod::Ip), T::Str),
            ("shdr_end", Some(K::ResHdr), Some(MatchMethod::End), T::Str),
            ("hdr_cnt", Some(K::ReqHdrCnt), None, T::Int),
            ("hdr_val", Some(K::ReqHdr), None, T::Int),
            ("cook_beg", Some(K::ReqCook), Some(MatchMethod::Beg), T::Str),
            (
                "urlp_reg",
                Some(K::UrlParam),
                Some(MatchMethod::Reg),
                T::Str,
            ),
            ("always_true", None, None, T::Bool),
        ];
        for (name, kind, method, ty) in cases {
            let (d, m) = resolve(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(
                d.target == Target::Call(kind.unwrap_or(K::Src)),
                kind.is_some(),
                "{name}"
            );
            assert_eq!(m, *method, "{name}");
            assert_eq!(d.cast.unwrap_or(d.out), *ty, "{name}");
        }
        for unknown in ["path_ip", "src_beg", "pathh", "query_beg", "path_foo"] {
            assert!(resolve(unknown).is_none(), "{unknown}");
        }
    }

    #[test]
    fn unknown_fetch_hint() {
        let e = SampleExpr::parse("pathh", &Loader::none()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown fetch method 'pathh' in ACL expression; did you mean 'path'?"
        );
        let e = SampleExpr::parse("hdr_bge(host)", &Loader::none()).unwrap_err();
        assert!(e.to_string().contains("did you mean 'hdr_beg'"), "{e}");
        let e = SampleExpr::parse("path,lowr", &Loader::none()).unwrap_err();
        assert!(e.to_string().contains("did you mean 'lower'"), "{e}");
    }

    #[test]
    fn argument_checks() {
        let l = Loader::none();
        for bad in [
            "src(x)",
            "hdr(host,0)",
            "hdr(host,x)",
            "req.fhdr",
            "url_param",
            "url_param(a,bc)",
            "int(x)",
            "int",
            "hdr(host,1,2)",
        ] {
            assert!(
                matches!(SampleExpr::parse(bad, &l), Err(AclError::BadArgs { .. })),
                "{bad}"
            );
        }
        let e = SampleExpr::parse("hdr(Host,-1)", &l).unwrap();
        let call = e.fetch().unwrap();
        assert_eq!(call.name(), Some(&b"host"[..]));
        assert_eq!(call.occurrence(), Some(-1));
        let e = SampleExpr::parse("cook(SessionID)", &l).unwrap();
        assert_eq!(
            e.fetch().unwrap().name(),
            Some(&b"SessionID"[..]),
            "cookie names keep their case"
        );
        assert!(
            matches!(
                SampleExpr::parse("src,lower", &l),
                Ok(ref e) if e.output() == T::Str
            ),
            "addresses cast to strings"
        );
        assert!(
            SampleExpr::parse("path,ipmask(24)", &l).is_ok(),
            "strings parse as addresses at run time"
        );
        assert!(SampleExpr::parse("src,add(1),ipmask(8)", &l).is_ok());
        assert!(matches!(
            SampleExpr::parse("always_true,ipmask(8)", &l),
            Err(AclError::ConverterType { .. })
        ));
    }
}
