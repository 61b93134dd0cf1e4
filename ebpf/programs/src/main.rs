//! weir's kernel-side programs: per-packet (XDP) and per-connection
//! (SK_REUSEPORT) decisions only. Policy (which servers, weights, rings,
//! blocklists) is computed in userspace and arrives through the maps.
//!
//! Layout: `packet` is the only module doing packet pointer arithmetic
//! (every access bounds-checked there); `parse` turns a frame into a
//! `parse::Packet`; `filter` is the early-drop layer; `balance` looks up
//! VIPs, the connection table and the Maglev ring; `encap` writes the outer
//! headers. Nothing allocates; every loop is bounded at compile time.
#![no_std]
#![no_main]
#![allow(
    clippy::needless_borrows_for_generic_args,
    reason = "map keys and values go by reference: a by-value Borrow would copy them on the 512-byte BPF stack"
)]

mod balance;
mod decap;
mod encap;
mod filter;
mod fullnat;
mod maps;
mod packet;
mod parse;
mod reuseport;
mod stats;
mod xdp;

use aya_ebpf::{
    macros::{sk_reuseport, xdp},
    programs::{SkReuseportContext, XdpContext},
};

/// XDP entry: balance VIP traffic, drop what the filters reject, pass the rest.
#[xdp]
pub fn weir_xdp(ctx: XdpContext) -> u32 {
    xdp::try_xdp(&ctx)
}

/// Server-side XDP entry: unwrap IPIP / IPv6-in-IPv6 from the balancer.
#[xdp]
pub fn weir_decap(ctx: XdpContext) -> u32 {
    decap::try_decap(&ctx)
}

/// SK_REUSEPORT entry: choose the listening socket for a new connection.
#[sk_reuseport]
pub fn weir_reuseport(ctx: SkReuseportContext) -> u32 {
    reuseport::try_select(&ctx)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // Unreachable in a verified program: the verifier rejects any path that
    // could get here, since BPF has no unbounded loops.
    loop {}
}

// The kernel only checks this string for GPL compatibility, which gates
// GPL-only helpers; weir uses none, but stays compatible for future helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
