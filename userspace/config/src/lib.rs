//! Parser for weir's configuration: a large, honest subset of HAProxy's
//! dialect plus weir's own kernel keywords. Every accepted keyword behaves as
//! HAProxy documents it; every other keyword is an error naming `file:line`.
#![forbid(unsafe_code)]
