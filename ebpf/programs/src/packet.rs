//! The one module that does packet pointer arithmetic. Every read and write
//! checks `offset + size` against `data_end` right before the access, in the
//! form the verifier can follow; callers deal in offsets only.

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use core::mem::size_of;

/// Bytes between `data` and `data_end`.
#[inline(always)]
pub fn len(ctx: &XdpContext) -> usize {
    ctx.data_end() - ctx.data()
}

/// Reads a `T` at `off` bytes from the start of the frame; `None` when the
/// frame is too short. `T` must be plain integers (any bit pattern valid).
#[inline(always)]
pub fn load<T: Copy>(ctx: &XdpContext, off: usize) -> Option<T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + size_of::<T>() > end {
        return None;
    }
    // SAFETY: `start + off .. start + off + size_of::<T>()` lies inside the
    // frame (checked just above); headers sit at 2-byte-aligned offsets, so
    // the read is unaligned; `T` is plain data.
    Some(unsafe { core::ptr::read_unaligned((start + off) as *const T) })
}

/// Writes `v` at `off` bytes from the start of the frame; `None` when the
/// frame is too short (nothing is written then).
#[inline(always)]
pub fn store<T: Copy>(ctx: &XdpContext, off: usize, v: T) -> Option<()> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + size_of::<T>() > end {
        return None;
    }
    // SAFETY: bounds checked just above; XDP frames are writable.
    unsafe { core::ptr::write_unaligned((start + off) as *mut T, v) };
    Some(())
}

/// Adds `by` bytes of headroom at the front of the frame (`data` moves back).
/// Every offset taken before the call is then off by `by`.
#[inline(always)]
pub fn grow_front(ctx: &XdpContext, by: i32) -> bool {
    // SAFETY: the helper validates the requested headroom itself; `ctx.ctx`
    // is the live xdp_md of this invocation.
    unsafe { bpf_xdp_adjust_head(ctx.ctx, -by) == 0 }
}
