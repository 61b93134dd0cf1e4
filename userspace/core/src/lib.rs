//! weir's sans-io policy core: balancing algorithms, consistent hashing
//! (HAProxy-style and Maglev), ACLs, content switching and stick tables.
//!
//! It must not do I/O, read the clock (time is always a parameter) or use
//! `unsafe`. Everything here is testable without sockets.
#![forbid(unsafe_code)]

pub mod acl;
