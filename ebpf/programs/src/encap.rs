//! Direct-server-return encapsulation, as Katran does: the received IP
//! packet is left untouched behind a new outer IPv4 (IPIP / 6-in-4) or IPv6
//! (4-in-6 / 6-in-6) header addressed to the server; the Ethernet header is
//! rewritten for the next hop and VLAN tags are kept. The server decapsulates
//! and answers the client directly from the VIP.

use crate::{
    packet::{grow_front, load, store},
    parse::Packet,
};
use weir_common::{Config, Event, Server, FAMILY_V4};

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const OUTER_TTL: u8 = 64;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;

/// The two half-words of a word, memory order.
#[inline(always)]
fn halves(w: u32) -> [u16; 2] {
    let b = w.to_ne_bytes();
    [
        u16::from_ne_bytes([b[0], b[1]]),
        u16::from_ne_bytes([b[2], b[3]]),
    ]
}

/// Wraps the packet for `server` and prepares it for XDP_TX. On error the
/// frame is either untouched (before the head moved) or must be dropped: the
/// caller drops it in every error case, so no half-rewritten packet leaves.
#[inline(always)]
pub fn encapsulate(
    ctx: &aya_ebpf::programs::XdpContext,
    p: &Packet,
    server: &Server,
    cfg: &Config,
    hash: u64,
) -> Result<(), Event> {
    let outer_v4 = server.family == FAMILY_V4;
    if (outer_v4 && cfg.src_v4 == 0) || (!outer_v4 && cfg.src_v6 == [0; 4]) {
        return Err(Event::DropNoSource);
    }
    let inner_proto = if p.family == FAMILY_V4 {
        IPPROTO_IPIP
    } else {
        IPPROTO_IPV6
    };
    let outer_len: usize = if outer_v4 { 20 } else { 40 };
    if p.l3_len + outer_len > 0xffff {
        return Err(Event::DropEncap);
    }
    let l2 = p.l2_len;
    // Gather what survives of the old L2 header before the head moves:
    // the old destination MAC (our interface) becomes the source, and bytes
    // 12..20 hold the VLAN tags when there are any.
    let old_dst = load::<[u16; 3]>(ctx, 0).ok_or(Event::DropTruncated)?;
    let tags = load::<[u16; 4]>(ctx, 12).ok_or(Event::DropTruncated)?;
    if !grow_front(ctx, outer_len as i32) {
        return Err(Event::DropEncap);
    }
    const FAIL: Event = Event::DropEncap;
    let nh = cfg.next_hop_mac;
    let nh = [
        u16::from_ne_bytes([nh[0], nh[1]]),
        u16::from_ne_bytes([nh[2], nh[3]]),
        u16::from_ne_bytes([nh[4], nh[5]]),
    ];
    store(ctx, 0, nh).ok_or(FAIL)?;
    store(ctx, 6, old_dst).ok_or(FAIL)?;
    // Tags (if any) go back in place; the bytes this writes past the L2
    // header are overwritten by the ethertype and the outer header below.
    store(ctx, 12, tags).ok_or(FAIL)?;
    let ethertype = if outer_v4 { ETH_P_IP } else { ETH_P_IPV6 };
    store(ctx, l2 - 2, ethertype.to_be()).ok_or(FAIL)?;
    if outer_v4 {
        let tot = (p.l3_len + 20) as u16;
        let src = u32::from_be(cfg.src_v4);
        let dst = u32::from_be(server.addr[0]);
        let mut h: [u16; 10] = [
            0x4500 | p.tos as u16,
            tot,
            0,
            0,
            ((OUTER_TTL as u16) << 8) | inner_proto as u16,
            0,
            (src >> 16) as u16,
            src as u16,
            (dst >> 16) as u16,
            dst as u16,
        ];
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < 10 {
            sum += h[i] as u32;
            i += 1;
        }
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        h[5] = !(sum as u16);
        let mut i = 0;
        while i < 10 {
            h[i] = h[i].to_be();
            i += 1;
        }
        store(ctx, l2, h).ok_or(FAIL)?;
    } else {
        // The flow label carries the flow hash so ECMP and RSS on the way to
        // the server spread flows although every outer header looks alike.
        let w0 = (6u32 << 28) | ((p.tos as u32) << 20) | (hash as u32 & 0x000f_ffff);
        let w1 = ((p.l3_len as u32) << 16) | ((inner_proto as u32) << 8) | OUTER_TTL as u32;
        // Written a word at a time: no 40-byte header image on the BPF stack.
        store(ctx, l2, [halves(w0.to_be()), halves(w1.to_be())]).ok_or(FAIL)?;
        let mut i = 0;
        while i < 4 {
            store(ctx, l2 + 8 + 4 * i, halves(cfg.src_v6[i])).ok_or(FAIL)?;
            store(ctx, l2 + 24 + 4 * i, halves(server.addr[i])).ok_or(FAIL)?;
            i += 1;
        }
    }
    Ok(())
}
