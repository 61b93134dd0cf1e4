//! Server-side decapsulation (Katran ships the same for hosts without
//! ipip/ip6tnl devices): an IPv4 or IPv6 outer header carrying IPIP (4) or
//! IPv6 (41) is removed and the inner packet passed to the stack, which
//! delivers it to the VIP bound on the server. Anything else passes
//! untouched. Like a catch-all `tunl0`, it accepts encapsulated packets from
//! any source: deploy it only where the balancer is the sole such sender or
//! filter outer sources upstream.

use crate::{
    packet::{grow_front, load, store},
    stats,
};
use aya_ebpf::{bindings::xdp_action, programs::XdpContext};
use weir_common::Event;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;

#[inline(always)]
pub fn try_decap(ctx: &XdpContext) -> u32 {
    let Some(eth) = load::<[u16; 7]>(ctx, 0) else {
        return xdp_action::XDP_PASS;
    };
    let outer_len: usize = match u16::from_be(eth[6]) {
        ETH_P_IP => {
            let Some(h) = load::<[u16; 10]>(ctx, 14) else {
                return xdp_action::XDP_PASS;
            };
            let b = h[0].to_ne_bytes();
            let proto = h[4].to_ne_bytes()[1];
            // Only plain 20-byte outer headers, which is what weir sends;
            // fragments of the outer packet are left to the stack.
            if b[0] != 0x45 || u16::from_be(h[3]) & 0x3fff != 0 || (proto != 4 && proto != 41) {
                return xdp_action::XDP_PASS;
            }
            20
        }
        ETH_P_IPV6 => {
            let Some(h) = load::<[u16; 4]>(ctx, 14) else {
                return xdp_action::XDP_PASS;
            };
            let next = h[3].to_ne_bytes()[0];
            if next != 4 && next != 41 {
                return xdp_action::XDP_PASS;
            }
            40
        }
        _ => return xdp_action::XDP_PASS,
    };
    // The inner packet's version decides the new ethertype.
    let Some(inner) = load::<u8>(ctx, 14 + outer_len) else {
        return xdp_action::XDP_PASS;
    };
    let ethertype = match inner >> 4 {
        4 => ETH_P_IP,
        6 => ETH_P_IPV6,
        _ => return xdp_action::XDP_PASS,
    };
    if !grow_front(ctx, -(outer_len as i32)) {
        return xdp_action::XDP_PASS;
    }
    let mut l2 = [0u16; 7];
    l2[..6].copy_from_slice(&eth[..6]);
    l2[6] = ethertype.to_be();
    if store(ctx, 0, l2).is_none() {
        // The head moved but the frame is too short for an Ethernet header:
        // it cannot be a valid packet any more.
        return xdp_action::XDP_DROP;
    }
    stats::event(Event::Decapsulated);
    xdp_action::XDP_PASS
}
