//! The ACL engine: HAProxy-dialect `acl` declarations and `if`/`unless`
//! conditions compiled once at load time into immutable trees of sample
//! fetches, converters and pattern sets.
//!
//! It owns the fetch-name table (including HAProxy's derived keyword forms
//! such as `path_beg` or `hdr_ip`), the converter table, the match methods
//! and the compiled pattern structures (hash sets, prefix/suffix tries,
//! longest-prefix-match trees for addresses, regex sets). It must not do I/O
//! (pattern and map files are read through a reader the caller supplies),
//! read the clock, or fetch samples itself: evaluation asks the caller's
//! [`SampleSource`]-style trait for each sample.
