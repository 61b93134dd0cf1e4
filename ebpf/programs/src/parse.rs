//! Frame → `Packet`: Ethernet, up to two VLAN tags (802.1Q, 802.1ad),
//! IPv4 (options allowed) or IPv6, then TCP, UDP or ICMP "too big". Reads go
//! through `packet::load` only. Anything this parser declines is answered by
//! a `Verdict` naming the counter, so every outcome is counted.

use crate::packet::load;
use aya_ebpf::programs::XdpContext;
use weir_common::{Event, FAMILY_V4, FAMILY_V6, PROTO_TCP, PROTO_UDP};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
const ETH_HLEN: usize = 14;
const VLAN_HLEN: usize = 4;
const IPV6_HLEN: usize = 40;

const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_FRAG_NEEDED: u8 = 4;
const ICMPV6_PKT_TOOBIG: u8 = 2;
/// ICMP header before the quoted packet (type, code, checksum, 4 bytes).
const ICMP_HLEN: usize = 8;

/// TCP SYN flag bit in the flags byte.
pub const TCP_SYN: u8 = 0x02;
/// TCP ACK flag bit in the flags byte.
pub const TCP_ACK: u8 = 0x10;

/// How the parse ended when it does not produce a `Packet`.
#[derive(Clone, Copy)]
pub enum Verdict {
    /// Hand to the stack, counting the event.
    Pass(Event),
    /// Drop, counting the event.
    Drop(Event),
}

/// What the balancer needs from a frame. Addresses and ports are raw wire
/// words (network byte order), as in the map keys.
pub struct Packet {
    /// Bytes of Ethernet + VLAN headers: 14, 18 or 22.
    pub l2_len: usize,
    /// `FAMILY_V4` or `FAMILY_V6` of the received IP header.
    pub family: u8,
    /// TOS / traffic class, copied to the outer header.
    pub tos: u8,
    /// Length of the IP packet per its header (excluding L2 padding).
    pub l3_len: usize,
    /// The connection's 5-tuple oriented client → VIP. For an ICMP "too
    /// big" it is taken reversed from the quoted packet (VIP → client).
    pub src: [u32; 4],
    /// See `src`.
    pub dst: [u32; 4],
    /// See `src`.
    pub sport: u16,
    /// See `src`.
    pub dport: u16,
    /// L4 protocol of the connection (TCP or UDP).
    pub proto: u8,
    /// TCP flags byte (0 for UDP and ICMP).
    pub tcp_flags: u8,
    /// Source address of the received packet (the client, or the router
    /// that sent the ICMP), for the source filters.
    pub peer: [u32; 4],
    /// Set for an ICMP "too big" about a VIP flow: forward, never record.
    pub icmp: bool,
    /// IPv4 header carried options.
    pub options: bool,
    /// Offset of the L4 header of the received packet.
    pub l4_off: usize,
}

#[inline(always)]
fn be16(ctx: &XdpContext, off: usize) -> Option<u16> {
    load::<u16>(ctx, off).map(u16::from_be)
}

/// Parses the frame. `None` never escapes: truncation becomes
/// `Verdict::Drop(Event::DropTruncated)`.
#[inline(always)]
pub fn parse(ctx: &XdpContext) -> Result<Packet, Verdict> {
    const TRUNC: Verdict = Verdict::Drop(Event::DropTruncated);
    let mut l2 = ETH_HLEN;
    let mut proto = be16(ctx, 12).ok_or(TRUNC)?;
    if proto == ETH_P_8021Q || proto == ETH_P_8021AD {
        proto = be16(ctx, 16).ok_or(TRUNC)?;
        l2 += VLAN_HLEN;
        if proto == ETH_P_8021Q {
            proto = be16(ctx, 20).ok_or(TRUNC)?;
            l2 += VLAN_HLEN;
        }
    }
    match proto {
        ETH_P_IP => parse_v4(ctx, l2),
        ETH_P_IPV6 => parse_v6(ctx, l2),
        _ => Err(Verdict::Pass(Event::PassNonIp)),
    }
}

#[inline(always)]
fn v4_addr(w: u32) -> [u32; 4] {
    [w, 0, 0, 0]
}

/// The byte at `i` of a header read as native-order half-words.
#[inline(always)]
fn byte(h: &[u16], i: usize) -> u8 {
    h[i / 2].to_ne_bytes()[i % 2]
}

/// The 32-bit wire word made of half-words `lo` and `lo + 1` (memory order).
#[inline(always)]
fn word(h: &[u16], lo: usize) -> u32 {
    let a = h[lo].to_ne_bytes();
    let b = h[lo + 1].to_ne_bytes();
    u32::from_ne_bytes([a[0], a[1], b[0], b[1]])
}

/// Four wire words starting at half-word `lo`.
#[inline(always)]
fn addr6(h: &[u16], lo: usize) -> [u32; 4] {
    [
        word(h, lo),
        word(h, lo + 2),
        word(h, lo + 4),
        word(h, lo + 6),
    ]
}

#[inline(always)]
fn parse_v4(ctx: &XdpContext, l3: usize) -> Result<Packet, Verdict> {
    const TRUNC: Verdict = Verdict::Drop(Event::DropTruncated);
    const BAD: Verdict = Verdict::Drop(Event::DropBadHeader);
    // One load of the fixed header: a single bounds check that LLVM cannot
    // merge with the length arithmetic below (the verifier only follows
    // checks made on packet pointers).
    let h = load::<[u16; 10]>(ctx, l3).ok_or(TRUNC)?;
    let vihl = byte(&h, 0);
    let ihl = (vihl & 0x0f) as usize * 4;
    if vihl >> 4 != 4 || ihl < 20 {
        return Err(BAD);
    }
    let tos = byte(&h, 1);
    let tot_len = u16::from_be(h[1]) as usize;
    if tot_len < ihl {
        return Err(BAD);
    }
    if l3 + tot_len > crate::packet::len(ctx) {
        return Err(TRUNC);
    }
    let frag = u16::from_be(h[3]);
    // MF set or a non-zero offset: ports are not in every fragment.
    if frag & 0x3fff != 0 {
        return Err(Verdict::Pass(Event::PassFragment));
    }
    let l4proto = byte(&h, 9);
    let src = word(&h, 6);
    let dst = word(&h, 8);
    let l4 = l3 + ihl;
    let mut p = Packet {
        l2_len: l3,
        family: FAMILY_V4,
        tos,
        l3_len: tot_len,
        src: v4_addr(src),
        dst: v4_addr(dst),
        sport: 0,
        dport: 0,
        proto: l4proto,
        tcp_flags: 0,
        peer: v4_addr(src),
        icmp: false,
        options: ihl > 20,
        l4_off: l4,
    };
    match l4proto {
        PROTO_TCP => {
            let ports = load::<[u16; 2]>(ctx, l4).ok_or(TRUNC)?;
            p.tcp_flags = load::<u8>(ctx, l4 + 13).ok_or(TRUNC)?;
            p.sport = ports[0];
            p.dport = ports[1];
        }
        PROTO_UDP => {
            let ports = load::<[u16; 4]>(ctx, l4).ok_or(TRUNC)?;
            p.sport = ports[0];
            p.dport = ports[1];
        }
        PROTO_ICMP => {
            let tc = load::<[u8; 2]>(ctx, l4).ok_or(TRUNC)?;
            if tc[0] != ICMP_DEST_UNREACH || tc[1] != ICMP_FRAG_NEEDED {
                return Err(Verdict::Pass(Event::PassIcmp));
            }
            quoted_v4(ctx, l4 + ICMP_HLEN, &mut p)?;
        }
        // Other protocols cannot match a (tcp|udp) VIP.
        _ => return Err(Verdict::Pass(Event::PassNotVip)),
    }
    Ok(p)
}

/// Reads the packet quoted by an ICMPv4 "fragmentation needed": the VIP's
/// own reply (VIP → client), whose 5-tuple is stored reversed.
#[inline(always)]
fn quoted_v4(ctx: &XdpContext, q: usize, p: &mut Packet) -> Result<(), Verdict> {
    const TRUNC: Verdict = Verdict::Drop(Event::DropTruncated);
    let h = load::<[u16; 10]>(ctx, q).ok_or(TRUNC)?;
    let vihl = byte(&h, 0);
    let ihl = (vihl & 0x0f) as usize * 4;
    if vihl >> 4 != 4 || ihl < 20 {
        return Err(Verdict::Drop(Event::DropBadHeader));
    }
    let proto = byte(&h, 9);
    if proto != PROTO_TCP && proto != PROTO_UDP {
        return Err(Verdict::Pass(Event::PassIcmp));
    }
    let qsrc = word(&h, 6);
    let qdst = word(&h, 8);
    let ports = load::<[u16; 2]>(ctx, q + ihl).ok_or(TRUNC)?;
    p.src = v4_addr(qdst);
    p.dst = v4_addr(qsrc);
    p.sport = ports[1];
    p.dport = ports[0];
    p.proto = proto;
    p.icmp = true;
    Ok(())
}

#[inline(always)]
fn parse_v6(ctx: &XdpContext, l3: usize) -> Result<Packet, Verdict> {
    const TRUNC: Verdict = Verdict::Drop(Event::DropTruncated);
    let h = load::<[u16; 20]>(ctx, l3).ok_or(TRUNC)?;
    let first = u16::from_be(h[0]);
    if first >> 12 != 6 {
        return Err(Verdict::Drop(Event::DropBadHeader));
    }
    let tos = ((first >> 4) & 0xff) as u8;
    let payload = u16::from_be(h[2]) as usize;
    if l3 + IPV6_HLEN + payload > crate::packet::len(ctx) {
        return Err(TRUNC);
    }
    let next = byte(&h, 6);
    let src = addr6(&h, 4);
    let dst = addr6(&h, 12);
    let l4 = l3 + IPV6_HLEN;
    let mut p = Packet {
        l2_len: l3,
        family: FAMILY_V6,
        tos,
        l3_len: IPV6_HLEN + payload,
        src,
        dst,
        sport: 0,
        dport: 0,
        proto: next,
        tcp_flags: 0,
        peer: src,
        icmp: false,
        options: false,
        l4_off: l4,
    };
    match next {
        PROTO_TCP => {
            let ports = load::<[u16; 2]>(ctx, l4).ok_or(TRUNC)?;
            p.tcp_flags = load::<u8>(ctx, l4 + 13).ok_or(TRUNC)?;
            p.sport = ports[0];
            p.dport = ports[1];
        }
        PROTO_UDP => {
            let ports = load::<[u16; 4]>(ctx, l4).ok_or(TRUNC)?;
            p.sport = ports[0];
            p.dport = ports[1];
        }
        PROTO_ICMPV6 => {
            let ty = load::<u8>(ctx, l4).ok_or(TRUNC)?;
            if ty != ICMPV6_PKT_TOOBIG {
                return Err(Verdict::Pass(Event::PassIcmp));
            }
            let q = l4 + ICMP_HLEN;
            let qh = load::<[u16; 20]>(ctx, q).ok_or(TRUNC)?;
            let qnext = byte(&qh, 6);
            if qnext != PROTO_TCP && qnext != PROTO_UDP {
                return Err(Verdict::Pass(Event::PassIcmp));
            }
            let qsrc = addr6(&qh, 4);
            let qdst = addr6(&qh, 12);
            let ports = load::<[u16; 2]>(ctx, q + IPV6_HLEN).ok_or(TRUNC)?;
            p.src = qdst;
            p.dst = qsrc;
            p.sport = ports[1];
            p.dport = ports[0];
            p.proto = qnext;
            p.icmp = true;
        }
        // Hop-by-hop, routing, fragment, destination options, AH, ESP,
        // mobility, HIP, shim6: L4 is further in; the stack handles these.
        0 | 43 | 44 | 50 | 51 | 60 | 135 | 139 | 140 => {
            return Err(Verdict::Pass(if next == 44 {
                Event::PassFragment
            } else {
                Event::PassIpv6Ext
            }));
        }
        _ => return Err(Verdict::Pass(Event::PassNotVip)),
    }
    Ok(p)
}
