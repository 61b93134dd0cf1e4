//! Converters: compiled once from `,name(args)` after a fetch, applied to
//! each sample in turn. A converter writes its text output into a scratch
//! buffer the caller passes in (its capacity is reused from one evaluation
//! to the next); integers, booleans and addresses are returned by value.
//! Map files are read at compile time through the caller's [`Loader`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use std::sync::atomic::{AtomicU64, Ordering};

use regex::bytes::{Regex, RegexBuilder};

use super::error::AclError;
use super::lpm::parse_network;
use super::pattern::PatternSet;
use super::types::{Loader, MatchMethod, MatchScratch, Sample, SampleType};

/// What a converter produced: a scalar, or text/bytes left in the output
/// buffer the caller supplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Produced {
    Bool(bool),
    Int(i64),
    Ip(IpAddr),
    /// Text written to the output buffer.
    Str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// A piece of a `regsub` replacement: literal bytes or a group reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubstPart {
    Lit(Box<[u8]>),
    Group(usize),
}

/// One value of a map, typed by the converter's output suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MapValue {
    Str(Box<[u8]>),
    Int(i64),
    Ip(IpAddr),
}

/// A loaded map: keys compiled like ACL patterns of the map's match method,
/// values in file order.
#[derive(Debug, Clone)]
pub(crate) struct MapConv {
    keys: PatternSet,
    values: Box<[MapValue]>,
    default: Option<MapValue>,
    input: SampleType,
    output: SampleType,
}

/// A compiled converter.
#[derive(Debug, Clone)]
pub(crate) enum Conv {
    Lower,
    Upper,
    Base64,
    Hex,
    Length,
    Bool,
    Not,
    Arith(ArithOp, i64),
    IpMask {
        v4: u32,
        v6: Option<u32>,
    },
    /// `field` (every delimiter separates) or `word` (runs of delimiters
    /// separate, empty words do not count).
    Field {
        index: i64,
        delims: Box<[u8]>,
        count: i64,
        words: bool,
    },
    RegSub {
        re: Regex,
        subst: Box<[SubstPart]>,
        global: bool,
        /// Process-unique id naming this converter's capture slots in each
        /// worker's scratch.
        id: u64,
    },
    Map(Box<MapConv>),
}

/// Every converter name, for "did you mean" hints.
pub(crate) const CONVERTER_NAMES: &[&str] = &[
    "lower",
    "upper",
    "base64",
    "hex",
    "length",
    "bool",
    "not",
    "add",
    "sub",
    "mul",
    "div",
    "ipmask",
    "field",
    "word",
    "regsub",
    "map",
    "map_str",
    "map_beg",
    "map_sub",
    "map_dom",
    "map_dir",
    "map_end",
    "map_reg",
    "map_ip",
    "map_str_int",
    "map_beg_int",
    "map_ip_int",
];

fn bad_args(keyword: &str, reason: impl Into<String>) -> AclError {
    AclError::BadArgs {
        keyword: keyword.to_string(),
        reason: reason.into(),
    }
}

fn want_args(name: &str, args: &[String], min: usize, max: usize) -> Result<(), AclError> {
    if args.len() < min || args.len() > max {
        let expect = match (min, max) {
            (0, 0) => "no argument".to_string(),
            (a, b) if a == b => format!("{a} argument(s)"),
            (a, b) => format!("{a} to {b} arguments"),
        };
        return Err(bad_args(
            name,
            format!("expects {expect}, got {}", args.len()),
        ));
    }
    Ok(())
}

fn int_arg(name: &str, s: &str) -> Result<i64, AclError> {
    s.trim().parse::<i64>().map_err(|_| {
        bad_args(
            name,
            format!("'{s}' is not an integer (variables are not supported)"),
        )
    })
}

fn parse_subst(s: &str) -> Box<[SubstPart]> {
    let mut parts = Vec::new();
    let mut lit = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1].is_ascii_digit() {
                if !lit.is_empty() {
                    parts.push(SubstPart::Lit(std::mem::take(&mut lit).into_boxed_slice()));
                }
                parts.push(SubstPart::Group(usize::from(b[i + 1] - b'0')));
            } else {
                lit.push(b[i + 1]);
            }
            i += 2;
        } else {
            lit.push(b[i]);
            i += 1;
        }
    }
    if !lit.is_empty() {
        parts.push(SubstPart::Lit(lit.into_boxed_slice()));
    }
    parts.into_boxed_slice()
}

/// Splits a map file line into key and value: the key is the first word,
/// the value the rest of the line without surrounding blanks. Empty lines
/// and `#` comments yield None.
pub(crate) fn map_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    match line.find([' ', '\t']) {
        Some(i) => Some((&line[..i], line[i..].trim())),
        None => Some((line, "")),
    }
}

fn map_value(name: &str, s: &str, out: SampleType) -> Result<MapValue, String> {
    Ok(match out {
        SampleType::Int => MapValue::Int(
            s.parse()
                .map_err(|_| format!("'{s}' is not an integer ({name} returns integers)"))?,
        ),
        SampleType::Ip => MapValue::Ip(
            s.parse()
                .map_err(|_| format!("'{s}' is not an address ({name} returns addresses)"))?,
        ),
        _ => MapValue::Str(s.as_bytes().into()),
    })
}

fn compile_map(name: &str, args: &[String], loader: &Loader<'_>) -> Result<Conv, AclError> {
    // map, map_<match>, map_<match>_<output>
    let rest = &name["map".len()..];
    let mut parts = rest.split('_').skip(1);
    let method = match parts.next() {
        None => MatchMethod::Str,
        Some(m) => match MatchMethod::from_keyword(m) {
            Some(
                mm @ (MatchMethod::Str
                | MatchMethod::Beg
                | MatchMethod::Sub
                | MatchMethod::Dom
                | MatchMethod::Dir
                | MatchMethod::End
                | MatchMethod::Reg
                | MatchMethod::Ip),
            ) => mm,
            _ => return Err(unknown_conv(name)),
        },
    };
    let output = match parts.next() {
        None | Some("str") => SampleType::Str,
        Some("int") => SampleType::Int,
        Some("ip") => SampleType::Ip,
        Some(_) => return Err(unknown_conv(name)),
    };
    if parts.next().is_some() {
        return Err(unknown_conv(name));
    }
    want_args(name, args, 1, 2)?;
    let file = &args[0];
    let text = (loader.read_file)(file).map_err(|e| AclError::PatternFile {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((k, v)) = map_line(line) else {
            continue;
        };
        let v = map_value(name, v, output).map_err(|reason| AclError::BadMap {
            file: file.clone(),
            line: n + 1,
            reason,
        })?;
        keys.push(k);
        values.push(v);
    }
    let keys = PatternSet::compile(method, false, &keys, true)?;
    let default = match args.get(1) {
        Some(d) => Some(map_value(name, d, output).map_err(|r| bad_args(name, r))?),
        None => None,
    };
    let input = if method == MatchMethod::Ip {
        SampleType::Ip
    } else {
        SampleType::Str
    };
    Ok(Conv::Map(Box::new(MapConv {
        keys,
        values: values.into_boxed_slice(),
        default,
        input,
        output,
    })))
}

fn unknown_conv(name: &str) -> AclError {
    AclError::UnknownConverter {
        name: name.to_string(),
        hint: super::suggest::closest(name, CONVERTER_NAMES.iter().copied()),
    }
}

fn mask_len(name: &str, s: &str, v6: bool) -> Result<u32, AclError> {
    let probe = if v6 {
        format!("::/{s}")
    } else {
        format!("0.0.0.0/{s}")
    };
    parse_network(&probe)
        .map(|(_, len)| len)
        .map_err(|r| bad_args(name, r))
}

impl Conv {
    /// Compiles converter `name` with its arguments.
    pub(crate) fn compile(
        name: &str,
        args: &[String],
        loader: &Loader<'_>,
    ) -> Result<Conv, AclError> {
        let no_args = |c: Conv| want_args(name, args, 0, 0).map(|()| c);
        match name {
            "lower" => no_args(Conv::Lower),
            "upper" => no_args(Conv::Upper),
            "base64" => no_args(Conv::Base64),
            "hex" => no_args(Conv::Hex),
            "length" => no_args(Conv::Length),
            "bool" => no_args(Conv::Bool),
            "not" => no_args(Conv::Not),
            "add" | "sub" | "mul" | "div" => {
                want_args(name, args, 1, 1)?;
                let op = match name {
                    "add" => ArithOp::Add,
                    "sub" => ArithOp::Sub,
                    "mul" => ArithOp::Mul,
                    _ => ArithOp::Div,
                };
                Ok(Conv::Arith(op, int_arg(name, &args[0])?))
            }
            "ipmask" => {
                want_args(name, args, 1, 2)?;
                let v4 = mask_len(name, &args[0], false)?;
                let v6 = match args.get(1) {
                    Some(m) => Some(mask_len(name, m, true)?),
                    None => None,
                };
                Ok(Conv::IpMask { v4, v6 })
            }
            "field" | "word" => {
                want_args(name, args, 2, 3)?;
                let index = int_arg(name, &args[0])?;
                if index == 0 {
                    return Err(bad_args(
                        name,
                        "index must not be 0 (1 is the first, -1 the last)",
                    ));
                }
                if args[1].is_empty() {
                    return Err(bad_args(name, "empty delimiter list"));
                }
                let count = match args.get(2) {
                    Some(c) => int_arg(name, c)?,
                    None => 1,
                };
                if count < 0 {
                    return Err(bad_args(name, "count must not be negative"));
                }
                Ok(Conv::Field {
                    index,
                    delims: args[1].as_bytes().into(),
                    count,
                    words: name == "word",
                })
            }
            "regsub" => {
                want_args(name, args, 2, 3)?;
                let flags = args.get(2).map_or("", String::as_str);
                if let Some(f) = flags.chars().find(|c| !matches!(c, 'i' | 'g')) {
                    return Err(bad_args(
                        name,
                        format!("unknown flag '{f}' (expected i or g)"),
                    ));
                }
                let re = RegexBuilder::new(&args[0])
                    .case_insensitive(flags.contains('i'))
                    .build()
                    .map_err(|e| AclError::BadRegex {
                        pattern: args[0].clone(),
                        reason: e.to_string(),
                    })?;
                let subst = parse_subst(&args[1]);
                if let Some(g) = subst.iter().find_map(|p| match p {
                    SubstPart::Group(g) if *g >= re.captures_len() => Some(*g),
                    _ => None,
                }) {
                    return Err(bad_args(
                        name,
                        format!("replacement refers to group \\{g} the regex does not have"),
                    ));
                }
                // Load-time only: gives each regsub its own capture slots in
                // every worker's scratch (see `MatchScratch::captures`).
                static NEXT_ID: AtomicU64 = AtomicU64::new(0);
                Ok(Conv::RegSub {
                    re,
                    subst,
                    global: flags.contains('g'),
                    id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                })
            }
            n if n == "map" || n.starts_with("map_") => compile_map(n, args, loader),
            _ => Err(unknown_conv(name)),
        }
    }

    /// The type the converter takes (inputs are cast to it first).
    pub(crate) fn input(&self) -> SampleType {
        match self {
            Conv::Bool | Conv::Not | Conv::Arith(..) => SampleType::Int,
            Conv::IpMask { .. } => SampleType::Ip,
            Conv::Base64 | Conv::Hex => SampleType::Bin,
            Conv::Map(m) => m.input,
            _ => SampleType::Str,
        }
    }

    /// The type the converter returns.
    pub(crate) fn output(&self) -> SampleType {
        match self {
            Conv::Length | Conv::Arith(..) => SampleType::Int,
            Conv::Bool | Conv::Not => SampleType::Bool,
            Conv::IpMask { .. } => SampleType::Ip,
            Conv::Map(m) => m.output,
            _ => SampleType::Str,
        }
    }

    /// Applies the converter to `input` (already of type [`Conv::input`]).
    /// Text output goes to `out`, which the caller has cleared. None means
    /// the conversion failed and the sample is dropped (HAProxy's "sample
    /// not found").
    pub(crate) fn apply(
        &self,
        input: Sample<'_>,
        out: &mut Vec<u8>,
        m: &mut MatchScratch,
    ) -> Option<Produced> {
        let bytes = match input {
            Sample::Str(t) | Sample::Bin(t) => t,
            _ => &[],
        };
        match self {
            Conv::Lower => {
                out.extend(bytes.iter().map(u8::to_ascii_lowercase));
                Some(Produced::Str)
            }
            Conv::Upper => {
                out.extend(bytes.iter().map(u8::to_ascii_uppercase));
                Some(Produced::Str)
            }
            Conv::Base64 => {
                base64_into(bytes, out);
                Some(Produced::Str)
            }
            Conv::Hex => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                for &b in bytes {
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 15)]);
                }
                Some(Produced::Str)
            }
            Conv::Length => Some(Produced::Int(bytes.len() as i64)),
            Conv::Bool => match input {
                Sample::Int(v) => Some(Produced::Bool(v != 0)),
                _ => None,
            },
            Conv::Not => match input {
                Sample::Int(v) => Some(Produced::Bool(v == 0)),
                _ => None,
            },
            Conv::Arith(op, n) => {
                let Sample::Int(v) = input else { return None };
                Some(Produced::Int(match op {
                    ArithOp::Add => v.saturating_add(*n),
                    ArithOp::Sub => v.saturating_sub(*n),
                    ArithOp::Mul => v.saturating_mul(*n),
                    // Division by zero gives the largest integer, as HAProxy
                    // documents; MIN / -1 saturates instead of trapping.
                    ArithOp::Div if *n == 0 => i64::MAX,
                    ArithOp::Div => v.checked_div(*n).unwrap_or(i64::MAX),
                }))
            }
            Conv::IpMask { v4, v6 } => match input {
                Sample::Ip(IpAddr::V4(a)) => {
                    let mask = u32::MAX.checked_shl(32 - v4).unwrap_or(0);
                    Some(Produced::Ip(IpAddr::V4(Ipv4Addr::from(
                        u32::from(a) & mask,
                    ))))
                }
                Sample::Ip(IpAddr::V6(a)) => {
                    let len = (*v6)?;
                    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                    Some(Produced::Ip(IpAddr::V6(Ipv6Addr::from(
                        u128::from(a) & mask,
                    ))))
                }
                _ => None,
            },
            Conv::Field {
                index,
                delims,
                count,
                words,
            } => {
                out.extend_from_slice(field(bytes, *index, delims, *count, *words));
                Some(Produced::Str)
            }
            Conv::RegSub {
                re,
                subst,
                global,
                id,
            } => {
                let locs = m.captures(*id, re);
                let mut last = 0;
                let mut at = 0;
                let mut prev_end = None;
                while at <= bytes.len() {
                    let Some(whole) = re.captures_read_at(locs, bytes, at) else {
                        break;
                    };
                    let (start, end) = (whole.start(), whole.end());
                    // As the regex crate's iterators do: an empty match right
                    // where the previous match ended is not a match.
                    if start == end && prev_end == Some(end) {
                        at = end + 1;
                        continue;
                    }
                    out.extend_from_slice(&bytes[last..start]);
                    for part in subst.iter() {
                        match part {
                            SubstPart::Lit(l) => out.extend_from_slice(l),
                            SubstPart::Group(g) => {
                                if let Some((s, e)) = locs.get(*g) {
                                    out.extend_from_slice(&bytes[s..e]);
                                }
                            }
                        }
                    }
                    last = end;
                    prev_end = Some(end);
                    if !global {
                        break;
                    }
                    at = if start == end { end + 1 } else { end };
                }
                out.extend_from_slice(&bytes[last..]);
                Some(Produced::Str)
            }
            Conv::Map(map) => {
                let idx = map.keys.lookup(input, m);
                let v = match idx {
                    Some(i) => map.values.get(i as usize),
                    None => map.default.as_ref(),
                }?;
                Some(match v {
                    MapValue::Str(s) => {
                        out.extend_from_slice(s);
                        Produced::Str
                    }
                    MapValue::Int(n) => Produced::Int(*n),
                    MapValue::Ip(ip) => Produced::Ip(*ip),
                })
            }
        }
    }
}

/// The slice of `s` holding fields `index`..`index+count-1` (1-based from
/// the start, or from the end when negative; count 0 means "to the end" in
/// the direction of travel). Out of range gives an empty slice.
fn field<'a>(s: &'a [u8], index: i64, delims: &[u8], count: i64, words: bool) -> &'a [u8] {
    // (start, end) of each field; bounded by the sample length, computed on
    // the fly without storing the list.
    let spans = || {
        let mut start = 0usize;
        let mut done = false;
        std::iter::from_fn(move || loop {
            if done {
                return None;
            }
            let end = s[start..]
                .iter()
                .position(|b| delims.contains(b))
                .map_or(s.len(), |p| start + p);
            let span = (start, end);
            if end == s.len() {
                done = true;
            } else {
                start = end + 1;
            }
            if words && span.0 == span.1 {
                continue;
            }
            return Some(span);
        })
    };
    let total = spans().count() as i64;
    let (first, last) = if index > 0 {
        let first = index - 1;
        let last = if count == 0 {
            total - 1
        } else {
            first.saturating_add(count - 1)
        };
        (first, last.min(total - 1))
    } else {
        let last = total + index;
        let first = if count == 0 {
            0
        } else {
            last.saturating_sub(count - 1)
        };
        (first.max(0), last)
    };
    if first > last || first >= total || last < 0 {
        return &[];
    }
    let mut it = spans().skip(first as usize);
    let Some((a, mut b)) = it.next() else {
        return &[];
    };
    if last > first {
        if let Some((_, e)) = it.nth((last - first - 1) as usize) {
            b = e;
        }
    }
    &s[a..b]
}

fn base64_into(src: &[u8], out: &mut Vec<u8>) {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in src.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(TABLE[(n >> 18) as usize & 63]);
        out.push(TABLE[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 {
            TABLE[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if chunk.len() > 2 {
            TABLE[n as usize & 63]
        } else {
            b'='
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(name: &str, args: &[&str]) -> Conv {
        let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
        Conv::compile(name, &args, &Loader::none()).unwrap()
    }

    fn run_str(c: &Conv, input: Sample<'_>) -> Option<String> {
        let mut out = Vec::new();
        match c.apply(input, &mut out, &mut MatchScratch::default())? {
            Produced::Str => Some(String::from_utf8(out).unwrap()),
            other => Some(format!("{other:?}")),
        }
    }

    fn s(t: &str) -> Sample<'_> {
        Sample::Str(t.as_bytes())
    }

    #[test]
    fn text_converters() {
        assert_eq!(run_str(&conv("lower", &[]), s("AbC")).unwrap(), "abc");
        assert_eq!(run_str(&conv("upper", &[]), s("AbC")).unwrap(), "ABC");
        assert_eq!(
            run_str(&conv("hex", &[]), Sample::Bin(b"\x01\xab")).unwrap(),
            "01AB"
        );
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(
                run_str(&conv("base64", &[]), Sample::Bin(i.as_bytes())).unwrap(),
                o
            );
        }
        assert_eq!(run_str(&conv("length", &[]), s("abcd")).unwrap(), "Int(4)");
    }

    #[test]
    fn field_and_word() {
        let cases: &[(&str, &[&str], &str, &str)] = &[
            ("field", &["1", "/"], "/a/b/c", ""),
            ("field", &["2", "/"], "/a/b/c", "a"),
            ("field", &["-1", "/"], "/a/b/c", "c"),
            ("field", &["2", "/", "2"], "/a/b/c", "a/b"),
            ("field", &["2", "/", "0"], "/a/b/c", "a/b/c"),
            ("field", &["-2", "/", "2"], "/a/b/c", "a/b"),
            ("field", &["-1", "/", "0"], "/a/b/c", "/a/b/c"),
            ("field", &["9", "/"], "/a/b/c", ""),
            ("field", &["2", ",;"], "x;y,z", "y"),
            ("word", &["1", "/"], "/a//b/c", "a"),
            ("word", &["2", "/"], "/a//b/c", "b"),
            ("word", &["-1", "/"], "/a//b/c/", "c"),
            ("word", &["1", "/", "2"], "/a//b/c", "a//b"),
            ("word", &["4", "/"], "/a//b/c", ""),
            (
                "field",
                &["9223372036854775807", "/", "9223372036854775807"],
                "/a",
                "",
            ),
            ("field", &["2", "/", "9223372036854775807"], "/a/b", "a/b"),
            (
                "field",
                &["-9223372036854775808", "/", "9223372036854775807"],
                "/a",
                "",
            ),
            ("field", &["-1", "/", "9223372036854775807"], "/a/b", "/a/b"),
            ("word", &["1", "/"], "", ""),
        ];
        for (name, args, input, want) in cases {
            assert_eq!(
                &run_str(&conv(name, args), s(input)).unwrap(),
                want,
                "{name}{args:?} on {input}"
            );
        }
    }

    #[test]
    fn regsub() {
        assert_eq!(
            run_str(&conv("regsub", &["a+", "X"]), s("baaacaa")).unwrap(),
            "bXcaa"
        );
        assert_eq!(
            run_str(&conv("regsub", &["a+", "X", "g"]), s("baaacaa")).unwrap(),
            "bXcX"
        );
        assert_eq!(
            run_str(
                &conv("regsub", &["(foo|bar)([0-9])", "\\2\\1", "g"]),
                s("foo1-bar2")
            )
            .unwrap(),
            "1foo-2bar"
        );
        assert_eq!(
            run_str(&conv("regsub", &["A", "x", "ig"]), s("aA")).unwrap(),
            "xx"
        );
        let args = ["(a)".to_string(), "\\2".to_string()];
        assert!(Conv::compile("regsub", &args, &Loader::none()).is_err());
    }

    #[test]
    fn arithmetic_and_bools() {
        let r = |c: &Conv, v: i64| {
            c.apply(
                Sample::Int(v),
                &mut Vec::new(),
                &mut MatchScratch::default(),
            )
        };
        assert_eq!(r(&conv("add", &["5"]), 1), Some(Produced::Int(6)));
        assert_eq!(r(&conv("sub", &["5"]), 1), Some(Produced::Int(-4)));
        assert_eq!(r(&conv("mul", &["-3"]), 4), Some(Produced::Int(-12)));
        assert_eq!(r(&conv("div", &["2"]), 7), Some(Produced::Int(3)));
        assert_eq!(r(&conv("div", &["0"]), 7), Some(Produced::Int(i64::MAX)));
        assert_eq!(
            r(&conv("add", &["1"]), i64::MAX),
            Some(Produced::Int(i64::MAX))
        );
        assert_eq!(r(&conv("bool", &[]), 3), Some(Produced::Bool(true)));
        assert_eq!(r(&conv("not", &[]), 3), Some(Produced::Bool(false)));
        assert_eq!(r(&conv("not", &[]), 0), Some(Produced::Bool(true)));
        let args = ["x".to_string()];
        assert!(matches!(
            Conv::compile("add", &args, &Loader::none()),
            Err(AclError::BadArgs { .. })
        ));
    }

    #[test]
    fn ipmask() {
        let c = conv("ipmask", &["24", "64"]);
        let r = |ip: &str| {
            c.apply(
                Sample::Ip(ip.parse().unwrap()),
                &mut Vec::new(),
                &mut MatchScratch::default(),
            )
        };
        assert_eq!(
            r("10.1.2.3"),
            Some(Produced::Ip("10.1.2.0".parse().unwrap()))
        );
        assert_eq!(
            r("2001:db8:1:2:3::1"),
            Some(Produced::Ip("2001:db8:1:2::".parse().unwrap()))
        );
        let c = conv("ipmask", &["255.255.0.0"]);
        assert_eq!(
            c.apply(
                Sample::Ip("10.1.2.3".parse().unwrap()),
                &mut Vec::new(),
                &mut MatchScratch::default()
            ),
            Some(Produced::Ip("10.1.0.0".parse().unwrap()))
        );
        assert_eq!(
            c.apply(
                Sample::Ip("::1".parse().unwrap()),
                &mut Vec::new(),
                &mut MatchScratch::default()
            ),
            None
        );
    }

    #[test]
    fn maps() {
        let files = |p: &str| -> std::io::Result<String> {
            match p {
                "hosts.map" => Ok("# comment\n\nexample.com  be_www\n  api.example.com\tbe_api  \nexample.org be_org extra words\n".into()),
                "nets.map" => Ok("10.0.0.0/8 1\n10.1.0.0/16 2\n".into()),
                "paths.map" => Ok("/api api\n/api/v2 api2\n".into()),
                "bad.map" => Ok("k notanint\n".into()),
                _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")),
            }
        };
        let loader = Loader {
            read_file: &files,
            env: &|_| None,
        };
        let mk = |name: &str, args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
            Conv::compile(name, &args, &loader)
        };
        let m = mk("map", &["hosts.map", "be_default"]).unwrap();
        assert_eq!(run_str(&m, s("example.com")).unwrap(), "be_www");
        assert_eq!(run_str(&m, s("api.example.com")).unwrap(), "be_api");
        assert_eq!(run_str(&m, s("example.org")).unwrap(), "be_org extra words");
        assert_eq!(run_str(&m, s("nothing")).unwrap(), "be_default");
        let m = mk("map_str", &["hosts.map"]).unwrap();
        assert_eq!(
            run_str(&m, s("nothing")),
            None,
            "no default: the sample is dropped"
        );
        let m = mk("map_dom", &["hosts.map"]).unwrap();
        assert_eq!(run_str(&m, s("www.example.com")).unwrap(), "be_www");
        let m = mk("map_beg", &["paths.map"]).unwrap();
        assert_eq!(run_str(&m, s("/api/v2/x")).unwrap(), "api2");
        let m = mk("map_ip_int", &["nets.map"]).unwrap();
        assert_eq!(m.output(), SampleType::Int);
        assert_eq!(
            run_str(&m, Sample::Ip("10.1.1.1".parse().unwrap())).unwrap(),
            "Int(2)"
        );
        assert!(matches!(
            mk("map", &["missing.map"]),
            Err(AclError::PatternFile { .. })
        ));
        assert!(matches!(
            mk("map_str_int", &["bad.map"]),
            Err(AclError::BadMap { line: 1, .. })
        ));
        assert!(matches!(
            mk("map_xyz", &["hosts.map"]),
            Err(AclError::UnknownConverter { .. })
        ));
        assert!(matches!(mk("map", &[]), Err(AclError::BadArgs { .. })));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// field/word never panic, whatever the index and count, and
            /// return a slice of their input.
            #[test]
            fn field_and_word_return_a_slice(
                input in "[ab/,]{0,12}",
                index in any::<i64>(),
                count in any::<i64>(),
                words in any::<bool>(),
            ) {
                let index = if index == 0 { 1 } else { index };
                let count = count.checked_abs().unwrap_or(0);
                let out = field(input.as_bytes(), index, b"/,", count, words);
                let inside = out.is_empty() || input.as_bytes().windows(out.len()).any(|w| w == out);
                prop_assert!(inside);
                // Small indexes agree with a split.
                if words && count == 1 && (1..=8).contains(&index) {
                    let naive: Vec<&str> = input.split(['/', ',']).filter(|w| !w.is_empty()).collect();
                    let want = naive.get((index - 1) as usize).copied().unwrap_or("");
                    prop_assert_eq!(out, want.as_bytes());
                }
                if !words && count == 1 && (-8..=-1).contains(&index) {
                    let naive: Vec<&str> = input.split(['/', ',']).collect();
                    let i = naive.len() as i64 + index;
                    let want = if i >= 0 { naive[i as usize] } else { "" };
                    prop_assert_eq!(out, want.as_bytes());
                }
            }

            /// regsub with a literal replacement agrees with the regex
            /// crate's own replace / replace_all, empty matches included.
            #[test]
            fn regsub_agrees_with_replace_all(
                hay in "[ab]{0,10}",
                re_i in 0usize..6,
                global in any::<bool>(),
            ) {
                let res = ["a*", "b+", "", "(a)(b)?", "^a|b$", "ab|"][re_i];
                let args = [res.to_string(), "X".to_string(), if global { "g".into() } else { String::new() }];
                let c = Conv::compile("regsub", &args, &Loader::none()).unwrap();
                let mut out = Vec::new();
                let mut m = MatchScratch::default();
                c.apply(Sample::Str(hay.as_bytes()), &mut out, &mut m).unwrap();
                let re = Regex::new(res).unwrap();
                let want = if global { re.replace_all(hay.as_bytes(), &b"X"[..]) } else { re.replace(hay.as_bytes(), &b"X"[..]) };
                prop_assert_eq!(&out[..], &want[..], "{} on {:?}", res, hay);
                // A second run reuses the capture slots.
                out.clear();
                c.apply(Sample::Str(hay.as_bytes()), &mut out, &mut m).unwrap();
                prop_assert_eq!(&out[..], &want[..]);
            }
        }
    }
}
