//! Full NAT (IPv4 and IPv6, no translation between them): the forward
//! direction rewrites client → VIP into NAT address:port → server; the
//! reverse direction rewrites the server's reply back into VIP → client.
//! Checksums (IPv4 header, TCP/UDP with their pseudo-header) are updated
//! incrementally (RFC 1624), never recomputed over the payload. TTL / hop
//! limit is not decremented (weir is the endpoint of both legs, like a proxy).
//!
//! NAT ports come from a hash of the flow, probed a bounded number of
//! times in `NAT_REV` with BPF_NOEXIST so two flows never share one
//! (server, server port, NAT port) — the key replies are matched on. Give
//! weir a NAT address of its own: replies to it on a translated port are
//! taken by XDP before the host stack sees them.

use crate::{
    maps::NAT_REV,
    packet::{load, store},
    parse::Packet,
};
use aya_ebpf::bindings::BPF_NOEXIST;
use weir_common::{
    Config, Event, NatKey, NatValue, Server, FAMILY_V4, NAT_PORT_COUNT, NAT_PORT_MIN, PROTO_TCP,
    PROTO_UDP,
};

/// Ports tried before a new flow is refused.
const PROBES: u32 = 8;

/// One's-complement update of checksum `csum` (as stored) when a 16-bit
/// word changes from `old` to `new` (both as stored).
/// RFC 1624 eq. 3: HC' = ~(~HC + ~m + m').
#[inline(always)]
fn csum_replace(csum: u16, old: u16, new: u16) -> u16 {
    let mut sum =
        (!u16::from_be(csum)) as u32 + (!u16::from_be(old)) as u32 + u16::from_be(new) as u32;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    (!(sum as u16)).to_be()
}

/// The two half-words of an address word, memory order.
#[inline(always)]
fn halves(w: u32) -> [u16; 2] {
    let b = w.to_ne_bytes();
    [
        u16::from_ne_bytes([b[0], b[1]]),
        u16::from_ne_bytes([b[2], b[3]]),
    ]
}

/// The configured NAT address for the packet's family (all zero: none).
#[inline(always)]
pub fn nat_addr(cfg: &Config, family: u8) -> [u32; 4] {
    if family == FAMILY_V4 {
        [cfg.nat_v4, 0, 0, 0]
    } else {
        cfg.nat_v6
    }
}

/// Picks and reserves a NAT port for a new flow to `server`; the reverse
/// entry is written here. Returns the port (network order).
#[inline(always)]
pub fn allocate(p: &Packet, server: &Server, hash: u64) -> Result<u16, Event> {
    let value = NatValue {
        client: p.src,
        vip: p.dst,
        client_port: p.sport,
        vip_port: p.dport,
    };
    let base = (hash >> 20) as u32;
    let mut i = 0;
    while i < PROBES {
        let port = (NAT_PORT_MIN as u32 + (base.wrapping_add(i) % NAT_PORT_COUNT)) as u16;
        let key = NatKey {
            server: server.addr,
            server_port: p.dport,
            nat_port: port.to_be(),
            proto: p.proto,
            family: p.family,
            _pad: 0,
        };
        if NAT_REV.insert(&key, &value, BPF_NOEXIST as u64).is_ok() {
            return Ok(port.to_be());
        }
        // Taken: by this very flow (its table entry was evicted), or by another.
        if let Some(v) = NAT_REV.get_ptr(&key) {
            // SAFETY: pointer from a successful lookup, read once.
            if unsafe { *v } == value {
                return Ok(port.to_be());
            }
        }
        i += 1;
    }
    Err(Event::DropNatPorts)
}

/// Rewrites addresses and ports in place and fixes the checksums; sets the
/// Ethernet header for the next hop. `p` describes the frame as received.
#[inline(always)]
fn rewrite(
    ctx: &aya_ebpf::programs::XdpContext,
    p: &Packet,
    cfg: &Config,
    src: &[u32; 4],
    sport: u16,
    dst: &[u32; 4],
    dport: u16,
) -> Result<(), Event> {
    const FAIL: Event = Event::DropTruncated;
    let l3 = p.l2_len;
    let l4 = p.l4_off;
    let v4 = p.family == FAMILY_V4;
    // The L4 checksum covers the pseudo-header addresses and the ports.
    let csum_off = if p.proto == PROTO_TCP {
        l4 + 16
    } else {
        l4 + 6
    };
    let mut l4c = load::<u16>(ctx, csum_off).ok_or(FAIL)?;
    let udp_no_csum = p.proto == PROTO_UDP && l4c == 0;
    let mut ipc = if v4 {
        load::<u16>(ctx, l3 + 10).ok_or(FAIL)?
    } else {
        0
    };
    // Address words one at a time (IPv4: one word), keeping the BPF stack
    // small: checksum deltas first, then the store of the new word.
    let (src_off, dst_off) = if v4 {
        (l3 + 12, l3 + 16)
    } else {
        (l3 + 8, l3 + 24)
    };
    let words = if v4 { 1 } else { 4 };
    let mut w = 0;
    while w < 4 {
        if w < words {
            let (os, ns, od, nd) = (
                halves(p.src[w]),
                halves(src[w]),
                halves(p.dst[w]),
                halves(dst[w]),
            );
            let mut h = 0;
            while h < 2 {
                l4c = csum_replace(l4c, os[h], ns[h]);
                l4c = csum_replace(l4c, od[h], nd[h]);
                if v4 {
                    // The IPv4 header checksum covers the addresses too.
                    ipc = csum_replace(ipc, os[h], ns[h]);
                    ipc = csum_replace(ipc, od[h], nd[h]);
                }
                h += 1;
            }
            store(ctx, src_off + 4 * w, ns).ok_or(FAIL)?;
            store(ctx, dst_off + 4 * w, nd).ok_or(FAIL)?;
        }
        w += 1;
    }
    l4c = csum_replace(l4c, p.sport, sport);
    l4c = csum_replace(l4c, p.dport, dport);
    if udp_no_csum {
        // IPv4 UDP without checksum stays without one.
        l4c = 0;
    } else if p.proto == PROTO_UDP && l4c == 0 {
        // UDP sends a computed zero as all ones (RFC 768, RFC 8200 §8.1).
        l4c = 0xffff;
    }
    if v4 {
        store(ctx, l3 + 10, ipc).ok_or(FAIL)?;
    }
    store(ctx, l4, [sport, dport]).ok_or(FAIL)?;
    store(ctx, csum_off, l4c).ok_or(FAIL)?;
    let old_mac = load::<[u16; 3]>(ctx, 0).ok_or(FAIL)?;
    let nh = cfg.next_hop_mac;
    let nh = [
        u16::from_ne_bytes([nh[0], nh[1]]),
        u16::from_ne_bytes([nh[2], nh[3]]),
        u16::from_ne_bytes([nh[4], nh[5]]),
    ];
    store(ctx, 0, nh).ok_or(FAIL)?;
    store(ctx, 6, old_mac).ok_or(FAIL)?;
    Ok(())
}

/// Client → VIP becomes NAT address:`nat_port` → server:VIP port.
#[inline(always)]
pub fn forward(
    ctx: &aya_ebpf::programs::XdpContext,
    p: &Packet,
    server: &Server,
    cfg: &Config,
    nat_port: u16,
) -> Result<(), Event> {
    let nat = nat_addr(cfg, p.family);
    rewrite(ctx, p, cfg, &nat, nat_port, &server.addr, p.dport)
}

/// A reply to the NAT address: `Some(Ok)` when translated back to the
/// client, `None` when it is not ours (the host's own traffic).
#[inline(always)]
pub fn reverse(
    ctx: &aya_ebpf::programs::XdpContext,
    p: &Packet,
    cfg: &Config,
) -> Option<Result<(), Event>> {
    let key = NatKey {
        server: p.src,
        server_port: p.sport,
        nat_port: p.dport,
        proto: p.proto,
        family: p.family,
        _pad: 0,
    };
    let v = NAT_REV.get_ptr(&key)?;
    // SAFETY: pointer from a successful lookup, copied at once.
    let v = unsafe { *v };
    Some(rewrite(
        ctx,
        p,
        cfg,
        &v.vip,
        v.vip_port,
        &v.client,
        v.client_port,
    ))
}
