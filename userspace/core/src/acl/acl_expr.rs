//! One ACL expression: `FETCH[,conv…] [flags] [-m METHOD] [--] [patterns…]`,
//! compiled from the words after `acl NAME` (or inside `{ … }`), and its
//! evaluation to a [`Verdict`].

use super::cast::{can_cast, cast, CastBuf};
use super::conv::map_line;
use super::error::AclError;
use super::expr::SampleExpr;
use super::pattern::PatternSet;
use super::types::{
    FetchStatus, Loader, MatchMethod, SampleSource, SampleType, Scratch, Verdict, Visit,
};

/// A compiled ACL expression: a sample expression and its patterns.
#[derive(Debug, Clone)]
pub(crate) struct AclExpr {
    expr: SampleExpr,
    patterns: PatternSet,
    /// Method input type, cached for the cast before each match.
    want: Option<SampleType>,
}

/// Whether a word that starts with '-' is a number or range (a pattern)
/// rather than a flag.
fn looks_numeric(w: &str) -> bool {
    let w = w.strip_prefix('-').unwrap_or(w);
    w.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

impl AclExpr {
    /// Compiles an ACL expression from its words; `-f` files are read through
    /// `loader` now.
    pub(crate) fn compile(words: &[&str], loader: &Loader<'_>) -> Result<AclExpr, AclError> {
        let Some((first, rest)) = words.split_first() else {
            return Err(AclError::MissingFetch(String::new()));
        };
        let (expr, implied) = SampleExpr::parse_acl(first, loader)?;
        let mut method = implied;
        let mut fold = false;
        let mut map_file = false;
        let mut files: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            let w = rest[i];
            let mut arg = |flag: &'static str| -> Result<&str, AclError> {
                i += 1;
                rest.get(i).copied().ok_or(AclError::MissingFlagArg(flag))
            };
            match w {
                "-i" => fold = true,
                // Names are never resolved here, so forbidding it is a no-op.
                "-n" => {}
                "-M" => map_file = true,
                "-m" => {
                    let m = arg("-m")?;
                    method = Some(
                        MatchMethod::from_keyword(m)
                            .ok_or_else(|| AclError::UnknownMatch(m.to_string()))?,
                    );
                }
                "-f" => files.push(arg("-f")?),
                "-u" => {
                    // The unique id only names the ACL for the runtime API.
                    let id = arg("-u")?;
                    if id.parse::<u32>().is_err() {
                        return Err(AclError::BadArgs {
                            keyword: "-u".into(),
                            reason: format!("'{id}' is not an id number"),
                        });
                    }
                }
                "--" => {
                    i += 1;
                    break;
                }
                w if w.starts_with('-') && w.len() > 1 && !looks_numeric(w) => {
                    return Err(AclError::UnknownFlag(w.to_string()));
                }
                _ => break,
            }
            i += 1;
        }
        let method = method.unwrap_or_else(|| expr.default_match());
        let want = method.input();
        if let Some(t) = want {
            if !can_cast(expr.output(), t) {
                return Err(AclError::MatchType {
                    method: method.keyword(),
                    from: expr.output(),
                    expr: expr.text().to_string(),
                });
            }
        }
        let contents = files
            .iter()
            .map(|f| {
                (loader.read_file)(f).map_err(|e| AclError::PatternFile {
                    file: (*f).to_string(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<String>, _>>()?;
        let mut patterns: Vec<&str> = rest[i.min(rest.len())..].to_vec();
        for text in &contents {
            for line in text.lines() {
                if map_file {
                    if let Some((k, _)) = map_line(line) {
                        patterns.push(k);
                    }
                } else {
                    let p = line.trim();
                    if !p.is_empty() && !p.starts_with('#') {
                        patterns.push(p);
                    }
                }
            }
        }
        let patterns = PatternSet::compile(method, fold, &patterns, false)?;
        Ok(AclExpr {
            expr,
            patterns,
            want,
        })
    }

    /// True when a sample matches; NeedMoreData when none did but the values
    /// may still change; False otherwise.
    pub(crate) fn eval<S: SampleSource + ?Sized>(
        &self,
        src: &mut S,
        scratch: &mut Scratch,
    ) -> Verdict {
        let mut matched = false;
        let patterns = &self.patterns;
        let want = self.want;
        let status = self.expr.eval_inner(src, scratch, &mut |s, m| {
            let mut cb: CastBuf = [0; 48];
            let s = match want {
                Some(t) => match cast(s, t, &mut cb) {
                    Some(x) => x,
                    None => return Visit::Continue,
                },
                None => s,
            };
            if patterns.matches(s, m) {
                matched = true;
                Visit::Stop
            } else {
                Visit::Continue
            }
        });
        match (matched, status) {
            (true, _) => Verdict::True,
            (false, FetchStatus::MayChange) => Verdict::NeedMoreData,
            (false, FetchStatus::Final) => Verdict::False,
        }
    }

    /// The client networks this ACL matches, when it is a plain `src`
    /// address match (no converter, `-m ip`): what a kernel filter can do.
    pub(crate) fn source_networks(&self) -> Option<&[(std::net::IpAddr, u8)]> {
        let call = self.expr.fetch()?;
        if call.kind != super::types::FetchKind::Src || self.expr.has_converters() {
            return None;
        }
        self.patterns.networks()
    }

    /// The sample expression.
    pub(crate) fn expr(&self) -> &SampleExpr {
        &self.expr
    }
}
