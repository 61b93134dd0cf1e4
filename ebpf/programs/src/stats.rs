//! Counter updates. Per-CPU arrays, so a plain add is race-free.

use crate::maps::{EVENTS, SERVER_STATS, VIP_STATS};
use aya_ebpf::maps::PerCpuArray;
use weir_common::{Event, Traffic};

/// Counts one occurrence of `ev` on this CPU.
#[inline(always)]
pub fn event(ev: Event) {
    if let Some(p) = EVENTS.get_ptr_mut(ev as u32) {
        // SAFETY: per-CPU slot of this CPU; BPF programs are not preempted
        // on the same CPU while they run.
        unsafe { *p += 1 };
    }
}

#[inline(always)]
fn add(map: &PerCpuArray<Traffic>, index: u32, bytes: u64) {
    if let Some(p) = map.get_ptr_mut(index) {
        // SAFETY: as in `event`.
        unsafe {
            (*p).packets += 1;
            (*p).bytes += bytes;
        }
    }
}

/// Counts a forwarded packet of `bytes` against its VIP and server.
#[inline(always)]
pub fn traffic(vip: u32, server: u32, bytes: u64) {
    add(&VIP_STATS, vip, bytes);
    add(&SERVER_STATS, server, bytes);
}
