//! SK_REUSEPORT: steer a new connection to the listening socket of the
//! worker pinned to the CPU that received it (or by 4-tuple hash). When no
//! socket can be selected the kernel's own reuseport hashing applies.

use crate::maps::{REUSEPORT_CFG, REUSEPORT_SOCKS};
use aya_ebpf::{
    bindings::sk_action, helpers::bpf_get_smp_processor_id, programs::SkReuseportContext,
};
use weir_common::REUSEPORT_BY_CPU;

#[inline(always)]
pub fn try_select(ctx: &SkReuseportContext) -> u32 {
    let Some(cfg) = REUSEPORT_CFG.get(0) else {
        return sk_action::SK_PASS;
    };
    if cfg.sockets == 0 {
        return sk_action::SK_PASS;
    }
    let key = if cfg.mode == REUSEPORT_BY_CPU {
        // SAFETY: the helper only reads the current CPU number.
        (unsafe { bpf_get_smp_processor_id() }) % cfg.sockets
    } else {
        ctx.hash() % cfg.sockets
    };
    // An empty slot makes the helper fail; SK_PASS without a selection
    // falls back to the kernel's default choice in the group.
    let _ = REUSEPORT_SOCKS.select_reuseport(ctx, key);
    sk_action::SK_PASS
}
