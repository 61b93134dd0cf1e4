//! Full NAT (IPv4): the forward direction rewrites client → VIP into
//! NAT address:port → server; the reverse direction rewrites the server's
//! reply back into VIP → client. IP and TCP/UDP checksums are updated
//! incrementally (RFC 1624), never recomputed over the payload. TTL is not
//! decremented (weir acts as the endpoint of both legs, like a proxy).
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
    Config, Event, NatKey, NatValue, Server, NAT_PORT_COUNT, NAT_PORT_MIN, PROTO_TCP, PROTO_UDP,
};

/// Ports tried before a new flow is refused.
const PROBES: u32 = 8;

/// One's-complement update of checksum `csum` (as stored, network order
/// read natively) when a 16-bit word changes from `old` to `new` (both as
/// stored). RFC 1624 eq. 3: HC' = ~(~HC + ~m + m').
#[inline(always)]
fn csum_replace(csum: u16, old: u16, new: u16) -> u16 {
    let mut sum =
        (!u16::from_be(csum)) as u32 + (!u16::from_be(old)) as u32 + u16::from_be(new) as u32;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    (!(sum as u16)).to_be()
}

#[inline(always)]
fn halves(w: u32) -> [u16; 2] {
    let b = w.to_ne_bytes();
    [
        u16::from_ne_bytes([b[0], b[1]]),
        u16::from_ne_bytes([b[2], b[3]]),
    ]
}

/// Picks and reserves a NAT port for a new flow to `server`; the reverse
/// entry is written here. Returns the port (network order).
#[inline(always)]
pub fn allocate(p: &Packet, server: &Server, hash: u64) -> Result<u16, Event> {
    let value = NatValue {
        client: p.src[0],
        vip: p.dst[0],
        client_port: p.sport,
        vip_port: p.dport,
    };
    let base = (hash >> 20) as u32;
    let mut i = 0;
    while i < PROBES {
        let port = (NAT_PORT_MIN as u32 + (base.wrapping_add(i) % NAT_PORT_COUNT)) as u16;
        let key = NatKey {
            server: server.addr[0],
            server_port: p.dport,
            nat_port: port.to_be(),
            proto: p.proto,
            _pad: 0,
            _pad2: 0,
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

/// Rewrites addresses and ports in place and fixes both checksums; sets the
/// Ethernet header for the next hop. `p` describes the frame as received.
#[inline(always)]
fn rewrite(
    ctx: &aya_ebpf::programs::XdpContext,
    p: &Packet,
    cfg: &Config,
    src: u32,
    sport: u16,
    dst: u32,
    dport: u16,
) -> Result<(), Event> {
    const FAIL: Event = Event::DropTruncated;
    let l3 = p.l2_len;
    let l4 = p.l4_off;
    let old_src = halves(p.src[0]);
    let old_dst = halves(p.dst[0]);
    let new_src = halves(src);
    let new_dst = halves(dst);
    // IP header checksum covers the addresses.
    let mut ipc = load::<u16>(ctx, l3 + 10).ok_or(FAIL)?;
    // L4 checksum covers the pseudo-header addresses and the ports.
    let csum_off = if p.proto == PROTO_TCP {
        l4 + 16
    } else {
        l4 + 6
    };
    let mut l4c = load::<u16>(ctx, csum_off).ok_or(FAIL)?;
    let udp_no_csum = p.proto == PROTO_UDP && l4c == 0;
    let mut i = 0;
    while i < 2 {
        ipc = csum_replace(ipc, old_src[i], new_src[i]);
        ipc = csum_replace(ipc, old_dst[i], new_dst[i]);
        l4c = csum_replace(l4c, old_src[i], new_src[i]);
        l4c = csum_replace(l4c, old_dst[i], new_dst[i]);
        i += 1;
    }
    l4c = csum_replace(l4c, p.sport, sport);
    l4c = csum_replace(l4c, p.dport, dport);
    if udp_no_csum {
        l4c = 0;
    } else if p.proto == PROTO_UDP && l4c == 0 {
        // UDP sends a computed zero as all ones (RFC 768).
        l4c = 0xffff;
    }
    store(ctx, l3 + 10, ipc).ok_or(FAIL)?;
    store(
        ctx,
        l3 + 12,
        [new_src[0], new_src[1], new_dst[0], new_dst[1]],
    )
    .ok_or(FAIL)?;
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
    rewrite(ctx, p, cfg, cfg.nat_v4, nat_port, server.addr[0], p.dport)
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
        server: p.src[0],
        server_port: p.sport,
        nat_port: p.dport,
        proto: p.proto,
        _pad: 0,
        _pad2: 0,
    };
    let v = NAT_REV.get_ptr(&key)?;
    // SAFETY: pointer from a successful lookup, copied at once.
    let v = unsafe { *v };
    Some(rewrite(
        ctx,
        p,
        cfg,
        v.vip,
        v.vip_port,
        v.client,
        v.client_port,
    ))
}
