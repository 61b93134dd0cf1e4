//! Named ACLs and `if`/`unless` conditions.
//!
//! Grammar (HAProxy's): a condition is `if` or `unless` followed by terms;
//! adjacent terms are ANDed, `||` or `or` separates OR-ed groups (AND binds
//! tighter), `!` negates one term, and a term is an ACL name (declared or
//! predefined) or an anonymous ACL `{ FETCH … }`. Several `acl` lines with
//! one name OR together. The compiled [`Condition`] is an immutable OR of
//! ANDs, shared read-only by every worker.

use std::collections::HashMap;
use std::sync::Arc;

use super::acl_expr::AclExpr;
use super::error::AclError;
use super::predef;
use super::suggest::closest;
use super::types::{FetchCall, Loader, SampleSource, Scratch, Verdict};

/// The ACLs declared in one proxy section, by name.
#[derive(Debug, Default, Clone)]
pub struct AclSet {
    named: HashMap<String, Vec<Arc<AclExpr>>>,
}

/// One term of a condition: a (possibly negated) OR of ACL expressions.
#[derive(Debug, Clone)]
struct Term {
    negate: bool,
    /// The ACL name, or the words of an anonymous `{ … }` ACL.
    name: Arc<str>,
    anonymous: bool,
    exprs: Arc<[Arc<AclExpr>]>,
}

impl Term {
    fn eval<S: SampleSource + ?Sized>(&self, src: &mut S, scratch: &mut Scratch) -> Verdict {
        let mut v = Verdict::False;
        for e in self.exprs.iter() {
            match e.eval(src, scratch) {
                Verdict::True => {
                    v = Verdict::True;
                    break;
                }
                Verdict::NeedMoreData => v = Verdict::NeedMoreData,
                Verdict::False => {}
            }
        }
        if self.negate {
            !v
        } else {
            v
        }
    }
}

/// A condition reduced to a source-address test: it holds when the client
/// address is in one of `networks`, or when it is not if `negate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMatch {
    /// Networks as (address, prefix length).
    pub networks: Vec<(std::net::IpAddr, u8)>,
    /// True when the condition holds for addresses outside the networks.
    pub negate: bool,
}

/// A compiled `if`/`unless` condition.
#[derive(Debug, Clone)]
pub struct Condition {
    unless: bool,
    /// OR of ANDs.
    groups: Box<[Box<[Term]>]>,
}

/// ACL names are letters, digits and `-_.:`, as in HAProxy.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl AclSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares (or extends: lines with the same name OR together) the ACL
    /// `name` from the words after `acl NAME`. Pattern files and `env()` are
    /// read through `loader` now. Errors name the token at fault; the caller
    /// adds the file and line.
    pub fn declare(
        &mut self,
        name: &str,
        words: &[&str],
        loader: &Loader<'_>,
    ) -> Result<(), AclError> {
        if !valid_name(name) {
            return Err(AclError::BadName(name.to_string()));
        }
        if words.is_empty() {
            return Err(AclError::MissingFetch(name.to_string()));
        }
        let expr = AclExpr::compile(words, loader)?;
        self.named
            .entry(name.to_string())
            .or_default()
            .push(Arc::new(expr));
        Ok(())
    }

    /// Whether `name` is declared here (predefined ACLs are not counted).
    pub fn contains(&self, name: &str) -> bool {
        self.named.contains_key(name)
    }

    /// Compiles a condition from its words, starting with `if` or `unless`.
    /// Named ACLs are resolved now: declare them first (lines added to an
    /// ACL afterwards do not change conditions already compiled).
    pub fn compile_cond(&self, words: &[&str], loader: &Loader<'_>) -> Result<Condition, AclError> {
        let unless = match words.first() {
            Some(&"if") => false,
            Some(&"unless") => true,
            Some(w) => return Err(AclError::ExpectedIfUnless((*w).to_string())),
            None => return Err(AclError::ExpectedIfUnless(String::new())),
        };
        let rest = &words[1..];
        if rest.is_empty() {
            return Err(AclError::EmptyCondition(if unless {
                "after 'unless'"
            } else {
                "after 'if'"
            }));
        }
        let mut groups: Vec<Box<[Term]>> = Vec::new();
        let mut cur: Vec<Term> = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            let w = rest[i];
            if w == "||" || w == "or" {
                if cur.is_empty() {
                    return Err(AclError::EmptyCondition("before '||'"));
                }
                groups.push(std::mem::take(&mut cur).into_boxed_slice());
                i += 1;
                continue;
            }
            let mut negate = false;
            let mut word = w;
            while let Some(r) = word.strip_prefix('!') {
                negate = !negate;
                word = r;
            }
            if word.is_empty() {
                i += 1;
                word = rest
                    .get(i)
                    .copied()
                    .ok_or(AclError::EmptyCondition("after '!'"))?;
            }
            let term = if word == "{" {
                let close = rest[i + 1..]
                    .iter()
                    .position(|w| *w == "}" || *w == "{")
                    .map(|p| p + i + 1)
                    .ok_or(AclError::UnclosedBrace)?;
                if rest[close] == "{" {
                    return Err(AclError::UnexpectedToken("{".into()));
                }
                let inner = &rest[i + 1..close];
                if inner.is_empty() {
                    return Err(AclError::EmptyCondition("inside '{ }'"));
                }
                let expr = AclExpr::compile(inner, loader)?;
                i = close;
                Term {
                    negate,
                    name: Arc::from(inner.join(" ")),
                    anonymous: true,
                    exprs: Arc::from(vec![Arc::new(expr)]),
                }
            } else if word == "}" || word == "||" || word == "or" {
                return Err(AclError::UnexpectedToken(word.to_string()));
            } else {
                Term {
                    negate,
                    name: Arc::from(word),
                    anonymous: false,
                    exprs: self.resolve(word)?,
                }
            };
            cur.push(term);
            i += 1;
        }
        if cur.is_empty() {
            return Err(AclError::EmptyCondition("after '||'"));
        }
        groups.push(cur.into_boxed_slice());
        Ok(Condition {
            unless,
            groups: groups.into_boxed_slice(),
        })
    }

    fn resolve(&self, name: &str) -> Result<Arc<[Arc<AclExpr>]>, AclError> {
        if let Some(v) = self.named.get(name) {
            return Ok(Arc::from(v.clone()));
        }
        if let Some(words) = predef::lookup(name) {
            let expr = AclExpr::compile(words, &Loader::none())
                .map_err(|_| AclError::UnsupportedPredefined(name.to_string()))?;
            return Ok(Arc::from(vec![Arc::new(expr)]));
        }
        let candidates = self
            .named
            .keys()
            .map(String::as_str)
            .chain(predef::PREDEFINED.iter().map(|(n, _)| *n));
        Err(AclError::UnknownAcl {
            name: name.to_string(),
            hint: closest(name, candidates),
        })
    }
}

impl Condition {
    /// Evaluates the condition. AND stops at the first false term, OR at the
    /// first true group; an undecided term makes its group undecided unless
    /// another term settles it. `unless` inverts true and false.
    pub fn eval<S: SampleSource + ?Sized>(&self, src: &mut S, scratch: &mut Scratch) -> Verdict {
        let mut undecided = false;
        let mut result = Verdict::False;
        for group in self.groups.iter() {
            let mut g = Verdict::True;
            for term in group.iter() {
                match term.eval(src, scratch) {
                    Verdict::False => {
                        g = Verdict::False;
                        break;
                    }
                    Verdict::NeedMoreData => g = Verdict::NeedMoreData,
                    Verdict::True => {}
                }
            }
            match g {
                Verdict::True => {
                    result = Verdict::True;
                    break;
                }
                Verdict::NeedMoreData => undecided = true,
                Verdict::False => {}
            }
        }
        if result == Verdict::False && undecided {
            result = Verdict::NeedMoreData;
        }
        if self.unless {
            !result
        } else {
            result
        }
    }

    /// When the whole condition only tests the client address against
    /// networks (`if { src -f FILE }`, `unless blocked`, `if a || b` with
    /// `a` and `b` plain `src` ACLs), the networks and the polarity, so the
    /// rule can be enforced before any socket work (XDP). None otherwise:
    /// an AND of several terms, mixed negations, converters, other fetches.
    pub fn source_networks(&self) -> Option<SourceMatch> {
        let mut negate = None;
        let mut networks = Vec::new();
        for group in self.groups.iter() {
            let [term] = &group[..] else { return None };
            if *negate.get_or_insert(term.negate) != term.negate {
                return None;
            }
            for e in term.exprs.iter() {
                networks.extend_from_slice(e.source_networks()?);
            }
        }
        Some(SourceMatch {
            networks,
            negate: negate? != self.unless,
        })
    }

    /// Every caller fetch the condition may ask for (to know, e.g., whether
    /// it needs the response or the body).
    pub fn fetches(&self) -> impl Iterator<Item = &FetchCall> {
        self.groups
            .iter()
            .flat_map(|g| g.iter())
            .flat_map(|t| t.exprs.iter())
            .filter_map(|e| e.expr().fetch())
    }

    /// The terms as written, for logs: groups of (negated, name).
    pub fn describe(&self) -> String {
        let mut out = String::from(if self.unless { "unless" } else { "if" });
        for (gi, g) in self.groups.iter().enumerate() {
            if gi > 0 {
                out.push_str(" ||");
            }
            for t in g.iter() {
                out.push(' ');
                if t.negate {
                    out.push('!');
                }
                if t.anonymous {
                    out.push_str("{ ");
                    out.push_str(&t.name);
                    out.push_str(" }");
                } else {
                    out.push_str(&t.name);
                }
            }
        }
        out
    }
}
