//! Every byte layout shared by weir's eBPF programs and userspace: map keys
//! and values, map names and default sizes, counter indices, and the flow
//! hash both sides must compute identically. Defined here once; nothing else
//! may define a layout that crosses the kernel boundary.
//!
//! `no_std` and dependency-free for the BPF target; the `user` feature adds
//! `aya::Pod` so userspace can put these types in maps. All multi-byte
//! address and port fields hold network byte order exactly as on the wire.
//! The only `unsafe` here is the `aya::Pod` impls (feature `user`).
#![no_std]

pub mod counters;
pub mod hash;
pub mod maps;
pub mod types;

pub use counters::{Event, Traffic, EVENT_COUNT};
pub use hash::flow_hash;
pub use types::*;
