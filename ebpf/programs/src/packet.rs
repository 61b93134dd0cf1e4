//! The one module that does packet pointer arithmetic. Every read and write
//! checks `offset + size` against `data_end` right before the access, in the
//! form the verifier can follow; callers deal in offsets only.
//!
//! Alignment: frames start 2-byte aligned (the XDP headroom is even on every
//! driver and in BPF_PROG_TEST_RUN) and every header field weir reads is at
//! an even offset, so accesses are typed `u8`/`u16` (or arrays of them) and
//! compile to half-word loads. `read_unaligned` would split every access into
//! byte loads (the BPF backend assumes nothing about alignment), doubling the
//! instruction count of the parser.

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use core::mem::size_of;

/// Bytes between `data` and `data_end`.
#[inline(always)]
pub fn len(ctx: &XdpContext) -> usize {
    ctx.data_end() - ctx.data()
}

/// Reads a `T` at `off` bytes from the start of the frame; `None` when the
/// frame is too short. `T` must be `u8`/`u16` or arrays of them, and `off`
/// even when `T` has 2-byte alignment.
#[inline(always)]
pub fn load<T: Copy>(ctx: &XdpContext, off: usize) -> Option<T> {
    const { assert!(core::mem::align_of::<T>() <= 2) };
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + size_of::<T>() > end {
        return None;
    }
    // SAFETY: `start + off .. start + off + size_of::<T>()` lies inside the
    // frame (checked just above); the address is aligned for `T` (module
    // note); `T` is plain integers, valid for any bytes.
    Some(unsafe { core::ptr::read((start + off) as *const T) })
}

/// Writes `v` at `off` bytes from the start of the frame; `None` when the
/// frame is too short (nothing is written then). Same type rules as `load`.
#[inline(always)]
pub fn store<T: Copy>(ctx: &XdpContext, off: usize, v: T) -> Option<()> {
    const { assert!(core::mem::align_of::<T>() <= 2) };
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + size_of::<T>() > end {
        return None;
    }
    // SAFETY: bounds checked just above, aligned as in `load`; XDP frames
    // are writable.
    unsafe { core::ptr::write((start + off) as *mut T, v) };
    Some(())
}

/// Adds `by` bytes at the front of the frame (`data` moves back); a negative
/// `by` removes bytes from the front.
/// Every offset taken before the call is then off by `by`.
#[inline(always)]
pub fn grow_front(ctx: &XdpContext, by: i32) -> bool {
    // SAFETY: the helper validates the requested headroom itself; `ctx.ctx`
    // is the live xdp_md of this invocation.
    unsafe { bpf_xdp_adjust_head(ctx.ctx, -by) == 0 }
}
