//! weir's per-core io_uring runtime: one ring per worker, MRU pools of session
//! slots, buffers and pipes, the timer queue and the syscall wrappers.
//!
//! This crate (with `weir-kernel`) is where userspace `unsafe` lives; every
//! block carries a `// SAFETY:` comment. It knows nothing of HTTP.
