//! weir's sans-io policy core: balancing algorithms, consistent hashing
//! (HAProxy-style and Maglev), the timer queue, the MRU slab pool, ACLs,
//! content switching and stick tables.
//!
//! It must not do I/O, read the clock (time is always a parameter) or use
//! `unsafe`. Everything here is testable without sockets. Hot-path
//! operations (pool insert/remove, timer schedule/expire, balancer pick) do
//! not allocate in steady state; control-plane operations (building a
//! balancer, changing weights, building a Maglev table) may.
#![forbid(unsafe_code)]

pub mod acl;
pub mod balance;
pub mod hash;
pub mod maglev;
pub mod pool;
pub mod timer;
