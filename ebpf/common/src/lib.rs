//! Every byte layout shared by weir's eBPF programs and userspace: map keys
//! and values, map sizes and counter indices. Defined here once.
#![no_std]
