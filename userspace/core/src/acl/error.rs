//! Errors raised while compiling ACLs, sample expressions and conditions.
//! Each names the token at fault; the config crate adds `file:line`.

use std::fmt;

/// A "did you mean" hint, printed only when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hint(pub Option<String>);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => write!(f, "; did you mean '{s}'?"),
            None => Ok(()),
        }
    }
}

/// Why an ACL, a sample expression or a condition was rejected.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    /// The fetch name is not known.
    #[error("unknown fetch method '{name}' in ACL expression{hint}")]
    UnknownFetch {
        /// The fetch name as written.
        name: String,
        /// The closest known name.
        hint: Hint,
    },
    /// The converter name is not known.
    #[error("unknown converter '{name}' in sample expression{hint}")]
    UnknownConverter {
        /// The converter name as written.
        name: String,
        /// The closest known name.
        hint: Hint,
    },
    /// A fetch or converter got arguments it does not accept.
    #[error("invalid arguments to '{keyword}': {reason}")]
    BadArgs {
        /// The fetch or converter.
        keyword: String,
        /// What is wrong.
        reason: String,
    },
    /// The sample expression itself is malformed.
    #[error("malformed sample expression '{expr}': {reason}")]
    BadExpr {
        /// The expression as written.
        expr: String,
        /// What is wrong.
        reason: String,
    },
    /// A converter cannot take the type produced before it.
    #[error("converter '{conv}' cannot take a {from} input")]
    ConverterType {
        /// The converter.
        conv: String,
        /// The type reaching it.
        from: crate::acl::SampleType,
    },
    /// The match method cannot apply to the sample type.
    #[error("match method '{method}' cannot apply to a {from} sample from '{expr}'")]
    MatchType {
        /// The `-m` keyword.
        method: &'static str,
        /// The type of the sample.
        from: crate::acl::SampleType,
        /// The sample expression.
        expr: String,
    },
    /// `-m` names no known method.
    #[error("unknown match method '{0}' after '-m' (expected one of found, bool, int, ip, len, str, beg, end, sub, reg, dir, dom)")]
    UnknownMatch(String),
    /// A word looks like a flag but is not one.
    #[error("unknown ACL flag '{0}' (use '--' before patterns that start with '-')")]
    UnknownFlag(String),
    /// A flag needs an argument that is missing.
    #[error("missing argument after ACL flag '{0}'")]
    MissingFlagArg(&'static str),
    /// A pattern or map file could not be read.
    #[error("cannot read pattern file '{file}': {reason}")]
    PatternFile {
        /// The file named.
        file: String,
        /// The reader's error.
        reason: String,
    },
    /// A pattern does not parse for the match method.
    #[error("invalid pattern '{pattern}' for match method '{method}': {reason}")]
    BadPattern {
        /// The pattern as written.
        pattern: String,
        /// The `-m` keyword.
        method: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The match method takes no patterns but some were given.
    #[error("match method '{method}' takes no pattern, but '{pattern}' was given")]
    UnexpectedPattern {
        /// The `-m` keyword.
        method: &'static str,
        /// The first pattern given.
        pattern: String,
    },
    /// A regular expression does not compile.
    #[error("invalid regex '{pattern}': {reason}")]
    BadRegex {
        /// The regex as written.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
    /// A map file line has no value.
    #[error("map file '{file}' line {line}: {reason}")]
    BadMap {
        /// The file.
        file: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An ACL name contains characters HAProxy does not allow.
    #[error("invalid ACL name '{0}': only letters, digits, '-', '_', '.' and ':' are allowed")]
    BadName(String),
    /// An ACL declaration has no fetch.
    #[error("missing fetch method in ACL '{0}'")]
    MissingFetch(String),
    /// A condition refers to an ACL that is neither declared nor predefined.
    #[error("no such ACL: '{name}'{hint}")]
    UnknownAcl {
        /// The name used.
        name: String,
        /// The closest declared or predefined ACL.
        hint: Hint,
    },
    /// A condition does not start with `if` or `unless`.
    #[error("condition must start with 'if' or 'unless', found '{0}'")]
    ExpectedIfUnless(String),
    /// A condition (or one side of `||`) is empty.
    #[error("empty condition {0}")]
    EmptyCondition(&'static str),
    /// `{` without `}`.
    #[error("missing '}}' to close the anonymous ACL opened by '{{'")]
    UnclosedBrace,
    /// `}` without `{`, or a brace where an ACL name was expected.
    #[error("unexpected '{0}' in condition")]
    UnexpectedToken(String),
    /// A predefined ACL that weir cannot evaluate.
    #[error("predefined ACL '{0}' is not supported by weir")]
    UnsupportedPredefined(String),
}
