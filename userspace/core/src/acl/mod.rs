//! The ACL engine: HAProxy-dialect `acl` declarations and `if`/`unless`
//! conditions compiled once at load time into immutable trees of sample
//! fetches, converters and pattern sets.
//!
//! It owns the fetch-name table (including HAProxy's derived keyword forms
//! such as `path_beg` or `hdr_ip`), the converter table, the match methods
//! and the compiled pattern structures (hash sets, prefix/suffix tries,
//! longest-prefix-match trees for addresses, regex sets). It must not do I/O
//! (pattern and map files are read through a [`Loader`] the caller
//! supplies), read the clock, or fetch samples itself: evaluation asks the
//! caller's [`SampleSource`] for each sample.
//!
//! LIFECYCLE: at load, the config crate calls [`AclSet::declare`] for each
//! `acl NAME …` line of a proxy, then [`AclSet::compile_cond`] for each
//! `if`/`unless` it meets, and [`SampleExpr::parse`] for `%[…]` expressions.
//! Each worker keeps one [`Scratch`] and calls [`Condition::eval`] with a
//! [`SampleSource`] over the current request — its own, or [`HttpSource`]
//! bound to an [`HttpView`] of the connection, which implements every fetch
//! of the table with HAProxy's semantics; a [`Verdict::NeedMoreData`]
//! means "evaluate again when more data arrived or the delay expired".
//! [`Condition::source_networks`] tells which conditions are plain
//! client-address tests that a kernel filter can enforce.
//!
//! Cost, in instructions per evaluation (stable on this noisy VM): run the
//! bench binary of `cargo bench -p weir-core --bench acl` under
//! `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='*Condition*eval*' BENCH --bench --exact NAME
//! --profile-time 1` and divide the inclusive cost of `Condition::eval` by
//! its calls. One ACL over 10,000 patterns: 330 (`-m str`), 934 (`-m beg`,
//! a 24-byte path), 898 (`-m ip`); a four-term routing condition
//! (`if www !api || static METH_GET`): 841 on a bare source, 1,371 through
//! [`HttpSource`] over a 12-header request; `cook(sid) -m found` through
//! it: 907. Criterion medians (noisier): 65–80 ns, 150–215 ns and
//! 140–230 ns for the 10,000-pattern ACLs against 26–49 µs for a naive
//! scan of the same prefixes; 110–225 ns for the routing condition.
//! Once a worker's [`Scratch`] is warm, evaluation does not allocate: text
//! converters write into its two reused buffers, `-i` exact matches fold
//! into a third, and each `regsub` keeps its capture slots there.
//!
//! Differences from HAProxy: regexes use the `regex` crate's syntax (no
//! back-references or look-around); host names in `ip` patterns are refused
//! rather than resolved; `-u` ids are checked and otherwise unused.

mod acl_expr;
mod cast;
mod cond;
mod conv;
mod error;
mod expr;
pub mod http;
mod lpm;
mod pattern;
mod predef;
mod rewrite;
mod source;
mod suggest;
mod trie;
mod types;

#[cfg(test)]
mod tests;

pub use cond::{AclSet, Condition, SourceMatch};
pub use error::{AclError, Hint};
pub use expr::SampleExpr;
pub use rewrite::Rewrite;
pub use source::{BodyState, Bound, HttpSource, HttpView, RequestLine};
pub use types::{
    Arg, FetchCall, FetchKind, FetchStatus, Loader, MatchMethod, Sample, SampleSource, SampleType,
    Scratch, Verdict, Visit,
};
