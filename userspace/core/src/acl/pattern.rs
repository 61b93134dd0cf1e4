//! Compiled pattern sets: built once from an ACL's patterns (or a map file's
//! keys), then matched against samples without allocating.
//!
//! Each match method gets the structure that keeps its cost independent of
//! the number of patterns where HAProxy's does: exact strings in a hash map,
//! prefixes and suffixes in byte tries, words of `dir`/`dom` through the same
//! trie started at each word boundary, networks in a longest-prefix tree,
//! substrings in an Aho-Corasick automaton and regexes in one `RegexSet`.
//! Integer patterns (`int`, `len`) stay a short list: configurations carry a
//! handful of ranges, not thousands.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::error::AclError;
use super::lpm::{parse_network, IpTable};
use super::trie::{Trie, TrieBuilder};
use super::types::{MatchMethod, MatchScratch, Sample};

/// Word delimiters of `-m dir`: path segments, stopping at the query.
const DIR_DELIMS: &[u8] = b"/?";
/// Word delimiters of `-m dom`: labels of a host name, also split at a port
/// or a path so `hdr_dom(host)` works on `example.com:8080`.
const DOM_DELIMS: &[u8] = b"/?.:";

/// One integer pattern of `-m int` / `-m len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntPat {
    /// Inclusive range; `N` alone is `N:N`, open ends use the i64 limits.
    Range(i64, i64),
    /// `ne N`.
    Ne(i64),
}

impl IntPat {
    fn matches(self, v: i64) -> bool {
        match self {
            IntPat::Range(lo, hi) => lo <= v && v <= hi,
            IntPat::Ne(n) => v != n,
        }
    }
}

/// The multiply-rotate hash rustc uses (FxHash): a few instructions per
/// 8 bytes instead of SipHash's rounds. Flooding resistance is not needed
/// here: the tables are built from the configuration and never grow, so
/// request data can only look keys up, and a lookup costs at most the
/// longest probe sequence the configured keys produced.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Debug, Clone)]
enum Index {
    /// `found` and `bool`: nothing to compare with.
    NoPatterns,
    /// A method that takes patterns but was given none: never matches.
    Empty,
    Ints(Box<[IntPat]>),
    Exact(FxMap<Box<[u8]>, u32>),
    Prefix(Trie),
    Suffix(Trie),
    Words {
        trie: Trie,
        delims: &'static [u8],
    },
    Sub(AhoCorasick),
    /// ACLs use the set (one pass); maps need the first match in file order.
    Reg {
        set: Option<RegexSet>,
        list: Box<[Regex]>,
    },
    /// The table, and the networks as written (for [`PatternSet::networks`]).
    Ip(IpTable, Box<[(IpAddr, u8)]>),
}

/// A compiled set of patterns for one match method.
#[derive(Debug, Clone)]
pub(crate) struct PatternSet {
    method: MatchMethod,
    fold: bool,
    index: Index,
}

fn bad(pattern: &str, method: MatchMethod, reason: impl Into<String>) -> AclError {
    AclError::BadPattern {
        pattern: pattern.to_string(),
        method: method.keyword(),
        reason: reason.into(),
    }
}

fn parse_i64(s: &str, method: MatchMethod) -> Result<i64, AclError> {
    s.parse::<i64>()
        .map_err(|_| bad(s, method, "not an integer"))
}

/// Parses `N`, `N:M`, `:M`, `N:` and `eq|ne|lt|le|gt|ge N` (an operator
/// applies to the one value after it).
fn parse_ints(patterns: &[&str], method: MatchMethod) -> Result<Vec<IntPat>, AclError> {
    let mut out = Vec::with_capacity(patterns.len());
    let mut it = patterns.iter();
    while let Some(&p) = it.next() {
        let op = matches!(p, "eq" | "ne" | "lt" | "le" | "gt" | "ge");
        if op {
            let Some(&v) = it.next() else {
                return Err(bad(p, method, "operator needs a value after it"));
            };
            let n = parse_i64(v, method)?;
            out.push(match p {
                "eq" => IntPat::Range(n, n),
                "ne" => IntPat::Ne(n),
                "lt" => IntPat::Range(
                    i64::MIN,
                    n.checked_sub(1)
                        .ok_or_else(|| bad(v, method, "lt of the smallest integer"))?,
                ),
                "le" => IntPat::Range(i64::MIN, n),
                "gt" => IntPat::Range(
                    n.checked_add(1)
                        .ok_or_else(|| bad(v, method, "gt of the largest integer"))?,
                    i64::MAX,
                ),
                _ => IntPat::Range(n, i64::MAX),
            });
            continue;
        }
        // A range separator is a ':' not at position 0 of a negative number;
        // ':' cannot appear inside an integer, so the first one splits.
        let pat = match p.split_once(':') {
            None => {
                let n = parse_i64(p, method)?;
                IntPat::Range(n, n)
            }
            Some((lo, hi)) => {
                let lo = if lo.is_empty() {
                    i64::MIN
                } else {
                    parse_i64(lo, method)?
                };
                let hi = if hi.is_empty() {
                    i64::MAX
                } else {
                    parse_i64(hi, method)?
                };
                if lo > hi {
                    return Err(bad(p, method, "range start is above its end"));
                }
                IntPat::Range(lo, hi)
            }
        };
        out.push(pat);
    }
    Ok(out)
}

fn fold_bytes(s: &str, fold: bool) -> Vec<u8> {
    if fold {
        s.bytes().map(|b| b.to_ascii_lowercase()).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn strip_delims<'s>(s: &'s [u8], delims: &[u8]) -> &'s [u8] {
    let start = s
        .iter()
        .position(|b| !delims.contains(b))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !delims.contains(b))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

impl PatternSet {
    /// Compiles `patterns` for `method`. `fold` is `-i`. `for_map` keeps
    /// what a map lookup needs (the first regex in file order) instead of
    /// what an ACL needs (one regex set).
    pub(crate) fn compile(
        method: MatchMethod,
        fold: bool,
        patterns: &[&str],
        for_map: bool,
    ) -> Result<PatternSet, AclError> {
        let fold = fold && method.folds_case();
        let index = match method {
            MatchMethod::Found | MatchMethod::Bool => {
                if let Some(p) = patterns.first() {
                    return Err(AclError::UnexpectedPattern {
                        method: method.keyword(),
                        pattern: (*p).to_string(),
                    });
                }
                Index::NoPatterns
            }
            _ if patterns.is_empty() => Index::Empty,
            MatchMethod::Int | MatchMethod::Len => {
                Index::Ints(parse_ints(patterns, method)?.into_boxed_slice())
            }
            MatchMethod::Str => {
                let mut map = FxMap::with_capacity_and_hasher(patterns.len(), Default::default());
                for (i, p) in patterns.iter().enumerate() {
                    map.entry(fold_bytes(p, fold).into_boxed_slice())
                        .or_insert(i as u32);
                }
                Index::Exact(map)
            }
            MatchMethod::Beg | MatchMethod::End => {
                let mut b = TrieBuilder::new();
                for (i, p) in patterns.iter().enumerate() {
                    let key = fold_bytes(p, fold);
                    if method == MatchMethod::Beg {
                        b.insert(key.into_iter(), i as u32);
                    } else {
                        b.insert(key.into_iter().rev(), i as u32);
                    }
                }
                if method == MatchMethod::Beg {
                    Index::Prefix(b.build())
                } else {
                    Index::Suffix(b.build())
                }
            }
            MatchMethod::Dir | MatchMethod::Dom => {
                let delims = if method == MatchMethod::Dir {
                    DIR_DELIMS
                } else {
                    DOM_DELIMS
                };
                let mut b = TrieBuilder::new();
                for (i, p) in patterns.iter().enumerate() {
                    let key = fold_bytes(p, fold);
                    b.insert(strip_delims(&key, delims).iter().copied(), i as u32);
                }
                Index::Words {
                    trie: b.build(),
                    delims,
                }
            }
            MatchMethod::Sub => {
                let ac = AhoCorasickBuilder::new()
                    .ascii_case_insensitive(fold)
                    .match_kind(MatchKind::Standard)
                    .build(patterns)
                    .map_err(|e| bad(patterns[0], method, e.to_string()))?;
                Index::Sub(ac)
            }
            MatchMethod::Reg => {
                // Compile each one alone first so an error names the regex.
                let mut list = Vec::with_capacity(patterns.len());
                for p in patterns {
                    let re = RegexBuilder::new(p)
                        .case_insensitive(fold)
                        .build()
                        .map_err(|e| AclError::BadRegex {
                            pattern: (*p).to_string(),
                            reason: e.to_string(),
                        })?;
                    list.push(re);
                }
                if for_map {
                    Index::Reg {
                        set: None,
                        list: list.into_boxed_slice(),
                    }
                } else {
                    let set = RegexSetBuilder::new(patterns)
                        .case_insensitive(fold)
                        .build()
                        .map_err(|e| AclError::BadRegex {
                            pattern: patterns.join(" "),
                            reason: e.to_string(),
                        })?;
                    Index::Reg {
                        set: Some(set),
                        list: Box::new([]),
                    }
                }
            }
            MatchMethod::Ip => {
                let mut t = IpTable::default();
                let mut nets = Vec::with_capacity(patterns.len());
                for (i, p) in patterns.iter().enumerate() {
                    let (ip, len) = parse_network(p).map_err(|r| bad(p, method, r))?;
                    t.insert(ip, len, i as u32);
                    nets.push((ip, len as u8));
                }
                Index::Ip(t, nets.into_boxed_slice())
            }
        };
        Ok(PatternSet {
            method,
            fold,
            index,
        })
    }

    /// The networks of an `ip` set, as written (address, prefix length);
    /// None for other methods. An `ip` set given no pattern has none.
    pub(crate) fn networks(&self) -> Option<&[(IpAddr, u8)]> {
        match &self.index {
            Index::Ip(_, nets) => Some(nets),
            Index::Empty if self.method == MatchMethod::Ip => Some(&[]),
            _ => None,
        }
    }

    /// Whether `s` (already cast to the method's input type) matches any
    /// pattern.
    pub(crate) fn matches(&self, s: Sample<'_>, m: &mut MatchScratch) -> bool {
        match (&self.index, s) {
            (Index::NoPatterns, _) => match s {
                Sample::Bool(b) => self.method != MatchMethod::Bool || b,
                _ => self.method == MatchMethod::Found,
            },
            (Index::Empty, _) => false,
            (Index::Sub(ac), Sample::Str(t) | Sample::Bin(t)) => {
                m.steps += t.len() as u64;
                ac.is_match(t)
            }
            (Index::Reg { set: Some(set), .. }, Sample::Str(t) | Sample::Bin(t)) => {
                m.steps += 1;
                set.is_match(t)
            }
            (Index::Ints(pats), _) => {
                let Some(v) = self.int_of(s) else {
                    return false;
                };
                pats.iter().any(|p| {
                    m.steps += 1;
                    p.matches(v)
                })
            }
            _ => self.lookup_any(s, m, true).is_some(),
        }
    }

    /// The index of the pattern `s` matches, for maps: the longest prefix,
    /// suffix or network; the first pattern in file order otherwise.
    pub(crate) fn lookup(&self, s: Sample<'_>, m: &mut MatchScratch) -> Option<u32> {
        match &self.index {
            Index::Sub(ac) => {
                let (Sample::Str(t) | Sample::Bin(t)) = s else {
                    return None;
                };
                m.steps += t.len() as u64;
                ac.find_overlapping_iter(t)
                    .map(|mat| mat.pattern().as_u32())
                    .min()
            }
            Index::Reg { list, .. } => {
                let (Sample::Str(t) | Sample::Bin(t)) = s else {
                    return None;
                };
                list.iter()
                    .position(|re| {
                        m.steps += 1;
                        re.is_match(t)
                    })
                    .map(|i| i as u32)
            }
            Index::Ints(pats) => {
                let v = self.int_of(s)?;
                pats.iter()
                    .position(|p| {
                        m.steps += 1;
                        p.matches(v)
                    })
                    .map(|i| i as u32)
            }
            Index::NoPatterns | Index::Empty => None,
            _ => self.lookup_any(s, m, false),
        }
    }

    fn int_of(&self, s: Sample<'_>) -> Option<i64> {
        match (self.method, s) {
            (MatchMethod::Len, Sample::Str(t) | Sample::Bin(t)) => Some(t.len() as i64),
            (_, Sample::Int(v)) => Some(v),
            _ => None,
        }
    }

    /// Tree and hash lookups shared by `matches` (`any`: stop at the first
    /// hit) and `lookup` (longest or first in file order).
    fn lookup_any(&self, s: Sample<'_>, m: &mut MatchScratch, any: bool) -> Option<u32> {
        match (&self.index, s) {
            (Index::Ip(t, _), Sample::Ip(ip)) => t.lookup(ip, &mut m.steps),
            (Index::Exact(map), Sample::Str(t) | Sample::Bin(t)) => {
                m.steps += 1;
                if self.fold {
                    m.fold.clear();
                    m.fold.extend(t.iter().map(u8::to_ascii_lowercase));
                    map.get(m.fold.as_slice()).copied()
                } else {
                    map.get(t).copied()
                }
            }
            (Index::Prefix(trie), Sample::Str(t) | Sample::Bin(t)) => {
                let mut best = None;
                trie.walk(t.iter().copied(), self.fold, &mut m.steps, |_, v| {
                    best = Some(v);
                    any
                });
                best
            }
            (Index::Suffix(trie), Sample::Str(t) | Sample::Bin(t)) => {
                let mut best = None;
                trie.walk(t.iter().rev().copied(), self.fold, &mut m.steps, |_, v| {
                    best = Some(v);
                    any
                });
                best
            }
            (Index::Words { trie, delims }, Sample::Str(t) | Sample::Bin(t)) => {
                let mut best: Option<u32> = None;
                for start in 0..=t.len() {
                    if start > 0 && !delims.contains(&t[start - 1]) {
                        continue;
                    }
                    let hit = trie.walk(
                        t[start..].iter().copied(),
                        self.fold,
                        &mut m.steps,
                        |depth, v| {
                            let end = start + depth;
                            if end == t.len() || delims.contains(&t[end]) {
                                best = Some(best.map_or(v, |b| b.min(v)));
                                return any;
                            }
                            false
                        },
                    );
                    if hit {
                        break;
                    }
                }
                best
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(method: &str, fold: bool, pats: &[&str]) -> PatternSet {
        PatternSet::compile(
            MatchMethod::from_keyword(method).unwrap(),
            fold,
            pats,
            false,
        )
        .unwrap()
    }

    fn hit(p: &PatternSet, s: Sample<'_>) -> bool {
        p.matches(s, &mut MatchScratch::default())
    }

    fn s(t: &str) -> Sample<'_> {
        Sample::Str(t.as_bytes())
    }

    #[test]
    fn string_methods_table() {
        // (method, -i, patterns, sample, expected)
        let cases: &[(&str, bool, &[&str], &str, bool)] = &[
            ("str", false, &["/login", "/x"], "/login", true),
            ("str", false, &["/login"], "/LOGIN", false),
            ("str", true, &["/Login"], "/lOGIN", true),
            ("str", false, &["/login"], "/login/", false),
            ("beg", false, &["/api/", "/static"], "/static/a.css", true),
            ("beg", false, &["/api/"], "/ap", false),
            ("beg", true, &["/API/"], "/api/v1", true),
            ("end", false, &[".png", ".css"], "/a/b.css", true),
            ("end", false, &[".png"], "/a/b.png?x", false),
            ("end", true, &[".PNG"], "/x.png", true),
            ("sub", false, &["admin", "wp-"], "/x/wp-login.php", true),
            ("sub", false, &["admin"], "/adm/in", false),
            ("sub", true, &["ADMIN"], "/Admin", true),
            ("reg", false, &["^/img/[0-9]+\\.png$"], "/img/12.png", true),
            ("reg", false, &["^/img/[0-9]+\\.png$"], "/img/a.png", false),
            ("reg", true, &["^/IMG/"], "/img/1", true),
            ("dir", false, &["img"], "/static/img/logo.png", true),
            ("dir", false, &["/img/"], "/static/img", true),
            ("dir", false, &["img"], "/static/images/x", false),
            ("dir", false, &["static/img"], "/static/img/x", true),
            ("dir", false, &["x"], "/a?x", true),
            ("dom", false, &["example.com"], "www.example.com", true),
            ("dom", false, &["example.com"], "example.com:8080", true),
            ("dom", false, &["example.com"], "notexample.com", false),
            ("dom", false, &["example.com"], "example.community", false),
            ("dom", true, &["EXAMPLE.com"], "WWW.Example.COM", true),
            ("dom", false, &["www"], "www.example.com", true),
            ("len", false, &["3"], "abc", true),
            ("len", false, &["gt", "3"], "abc", false),
            ("len", false, &["4:"], "abcd", true),
        ];
        for (i, (m, fold, pats, sample, want)) in cases.iter().enumerate() {
            let p = set(m, *fold, pats);
            assert_eq!(
                hit(&p, s(sample)),
                *want,
                "case {i}: -m {m} {pats:?} on {sample:?}"
            );
        }
    }

    #[test]
    fn int_operators_and_ranges() {
        let cases: &[(&[&str], i64, bool)] = &[
            (&["80"], 80, true),
            (&["80"], 81, false),
            (&["80", "443"], 443, true),
            (&["8000:8080"], 8042, true),
            (&["8000:8080"], 8081, false),
            (&[":10"], -3, true),
            (&["10:"], 9, false),
            (&["eq", "5"], 5, true),
            (&["ne", "5"], 5, false),
            (&["ne", "5"], 6, true),
            (&["lt", "5"], 4, true),
            (&["lt", "5"], 5, false),
            (&["le", "5"], 5, true),
            (&["gt", "5"], 5, false),
            (&["gt", "5"], 6, true),
            (&["ge", "5"], 5, true),
            (&["-5:-1"], -3, true),
            (&["1", "gt", "100"], 101, true),
        ];
        for (pats, v, want) in cases {
            let p = set("int", false, pats);
            assert_eq!(hit(&p, Sample::Int(*v)), *want, "{pats:?} on {v}");
        }
        for badp in [
            &["gt"][..],
            &["x"],
            &["5:1"],
            &["1:x"],
            &["gt", "9223372036854775807"],
        ] {
            assert!(
                PatternSet::compile(MatchMethod::Int, false, badp, false).is_err(),
                "{badp:?}"
            );
        }
    }

    #[test]
    fn ip_networks() {
        let p = set("ip", false, &["10.0.0.0/8", "192.168.1.1", "2001:db8::/32"]);
        for (ip, want) in [
            ("10.9.8.7", true),
            ("11.0.0.1", false),
            ("192.168.1.1", true),
            ("192.168.1.2", false),
            ("2001:db8::5", true),
            ("::ffff:10.1.1.1", true),
            ("::1", false),
        ] {
            assert_eq!(hit(&p, Sample::Ip(ip.parse().unwrap())), want, "{ip}");
        }
        assert!(PatternSet::compile(MatchMethod::Ip, false, &["localhost"], false).is_err());
    }

    #[test]
    fn found_bool_and_empty() {
        let f = set("found", false, &[]);
        assert!(hit(&f, s("")));
        let b = set("bool", false, &[]);
        assert!(hit(&b, Sample::Bool(true)));
        assert!(!hit(&b, Sample::Bool(false)));
        let e = set("str", false, &[]);
        assert!(!hit(&e, s("")));
        assert!(matches!(
            PatternSet::compile(MatchMethod::Found, false, &["x"], false),
            Err(AclError::UnexpectedPattern { .. })
        ));
        assert!(matches!(
            PatternSet::compile(MatchMethod::Reg, false, &["("], false),
            Err(AclError::BadRegex { .. })
        ));
    }

    #[test]
    fn lookups_for_maps() {
        let mut m = MatchScratch::default();
        let beg = PatternSet::compile(MatchMethod::Beg, false, &["/a", "/a/b", "/"], true).unwrap();
        assert_eq!(beg.lookup(s("/a/b/c"), &mut m), Some(1), "longest prefix");
        assert_eq!(beg.lookup(s("/z"), &mut m), Some(2));
        let sub = PatternSet::compile(MatchMethod::Sub, false, &["bc", "abcd", "b"], true).unwrap();
        assert_eq!(
            sub.lookup(s("xabcdx"), &mut m),
            Some(0),
            "first in file order"
        );
        let reg = PatternSet::compile(MatchMethod::Reg, false, &["z", "b+", "a"], true).unwrap();
        assert_eq!(reg.lookup(s("ab"), &mut m), Some(1));
        let dom = PatternSet::compile(MatchMethod::Dom, false, &["b.c", "a.b.c"], true).unwrap();
        assert_eq!(dom.lookup(s("a.b.c"), &mut m), Some(0));
        let ip = PatternSet::compile(MatchMethod::Ip, false, &["10.0.0.0/8", "10.1.0.0/16"], true)
            .unwrap();
        assert_eq!(
            ip.lookup(Sample::Ip("10.1.2.3".parse().unwrap()), &mut m),
            Some(1)
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[aAb/.]{0,8}").unwrap()
        }

        fn naive_word(s: &[u8], p: &[u8], delims: &[u8]) -> bool {
            let p = strip_delims(p, delims);
            (0..=s.len().saturating_sub(p.len())).any(|i| {
                s.len() >= p.len()
                    && &s[i..i + p.len()] == p
                    && (i == 0 || delims.contains(&s[i - 1]))
                    && (i + p.len() == s.len() || delims.contains(&s[i + p.len()]))
            })
        }

        fn lower(s: &str) -> String {
            s.to_ascii_lowercase()
        }

        proptest! {
            #[test]
            fn string_methods_agree_with_naive(
                pats in proptest::collection::vec(text(), 1..12),
                samples in proptest::collection::vec(text(), 1..12),
                fold in any::<bool>(),
            ) {
                let refs: Vec<&str> = pats.iter().map(String::as_str).collect();
                let norm = |x: &str| if fold { lower(x) } else { x.to_string() };
                for method in [MatchMethod::Str, MatchMethod::Beg, MatchMethod::End, MatchMethod::Sub, MatchMethod::Dir, MatchMethod::Dom] {
                    let set = PatternSet::compile(method, fold, &refs, false).unwrap();
                    for smp in &samples {
                        let sn = norm(smp);
                        let naive = pats.iter().any(|p| {
                            let pn = norm(p);
                            match method {
                                MatchMethod::Str => sn == pn,
                                MatchMethod::Beg => sn.starts_with(&pn),
                                MatchMethod::End => sn.ends_with(&pn),
                                MatchMethod::Sub => sn.contains(&pn),
                                MatchMethod::Dir => naive_word(sn.as_bytes(), pn.as_bytes(), DIR_DELIMS),
                                _ => naive_word(sn.as_bytes(), pn.as_bytes(), DOM_DELIMS),
                            }
                        });
                        let got = set.matches(Sample::Str(smp.as_bytes()), &mut MatchScratch::default());
                        prop_assert_eq!(got, naive, "-m {} {:?} on {:?}", method.keyword(), pats, smp);
                    }
                }
            }

            #[test]
            fn ip_agrees_with_naive_cidr(
                nets in proptest::collection::vec((any::<u32>(), 0u32..=32), 1..20),
                probes in proptest::collection::vec(any::<u32>(), 1..20),
            ) {
                let text: Vec<String> = nets
                    .iter()
                    .map(|(a, l)| format!("{}/{}", std::net::Ipv4Addr::from(*a), l))
                    .collect();
                let refs: Vec<&str> = text.iter().map(String::as_str).collect();
                let set = PatternSet::compile(MatchMethod::Ip, false, &refs, true).unwrap();
                for (i, p) in probes.iter().enumerate() {
                    // Make every other probe fall inside one of the networks.
                    let p = if i % 2 == 0 { nets[i % nets.len()].0 ^ (p & 0xff) } else { *p };
                    let within = |(a, l): &(u32, u32)| {
                        let mask = u32::MAX.checked_shl(32 - l).unwrap_or(0);
                        (a & mask) == (p & mask)
                    };
                    let best = nets.iter().enumerate().filter(|(_, n)| within(n)).max_by_key(|(j, n)| (n.1, std::cmp::Reverse(*j)));
                    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(p));
                    let got = set.lookup(Sample::Ip(ip), &mut MatchScratch::default());
                    // Same longest length; on duplicates the first one wins.
                    let want = best.map(|(j, _)| {
                        let len = nets[j].1;
                        nets.iter().position(|n| n.1 == len && within(n)).unwrap() as u32
                    });
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
