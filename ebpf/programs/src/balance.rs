//! VIP lookup, connection table and Maglev pick.

use crate::{
    maps::{FLOWS, RINGS, SERVERS, VIPS, VIP_TABLE},
    parse::{Packet, TCP_ACK, TCP_SYN},
    stats,
};
use aya_ebpf::helpers::bpf_jiffies64;
use weir_common::{
    flow_hash, ring_index, vip_slot, Event, FlowKey, FlowValue, Server, VipKey, VipMeta, PROTO_TCP,
    RING_EMPTY, SERVER_F_UP, VIP_F_HASH_SRC_ONLY, VIP_TABLE_PROBES, VIP_TABLE_SLOTS,
};

/// The flow's last-seen stamp is rewritten at most this often, in jiffies
/// (0.25 s at HZ=1000, 2.5 s at HZ=100).
const TOUCH_JIFFIES: u64 = 250;

/// The flow's last-seen stamp: jiffies. The verifier inlines
/// `bpf_jiffies64` into one load of the kernel's `jiffies` (x86-64 JIT),
/// where a clock helper is a call; a call and its return cost ≈ 10 ns
/// per packet of an established flow on a CPU with return-thunk
/// mitigations (measured with `xdp_bench`).
#[inline(always)]
fn now_jiffies() -> u64 {
    // SAFETY: the helper only reads the jiffies counter.
    unsafe { bpf_jiffies64() }
}

/// Looks the packet's destination up as a VIP: exact port first, then the
/// address-wide entry (port 0). `fallback`: some VIP is only in the `VIPS`
/// hash (`CFG_F_VIP_HASH`).
#[inline(always)]
pub fn vip(p: &Packet, portless: bool, fallback: bool) -> Option<VipMeta> {
    let mut key = VipKey {
        addr: p.dst,
        port: p.dport,
        proto: p.proto,
        family: p.family,
    };
    if let Some(m) = get_vip(&key, fallback) {
        return Some(m);
    }
    if !portless {
        return None;
    }
    key.port = 0;
    get_vip(&key, fallback)
}

/// `VIP_TABLE` first: up to `VIP_TABLE_PROBES` slots from the key's home,
/// an empty slot ends the search; then, with `fallback`, the `VIPS` hash.
#[inline(always)]
fn get_vip(key: &VipKey, fallback: bool) -> Option<VipMeta> {
    let home = vip_slot(key);
    let mut i = 0;
    while i < VIP_TABLE_PROBES {
        let slot = (home + i) & (VIP_TABLE_SLOTS - 1);
        match VIP_TABLE.get(slot) {
            Some(e) if e.key == *key => return Some(e.meta),
            Some(e) if e.key.family != 0 => {}
            _ => break,
        }
        i += 1;
    }
    if !fallback {
        return None;
    }
    // SAFETY: VIPS is a preallocated hash written only by userspace; a
    // concurrent update replaces the element whole, and we copy it out.
    unsafe { VIPS.get(key).copied() }
}

#[inline(always)]
fn server(index: u32) -> Option<Server> {
    SERVERS.get(index).copied()
}

/// The connection-table key of the packet's flow (client → VIP).
#[inline(always)]
pub fn flow_key(p: &Packet) -> FlowKey {
    FlowKey {
        src: p.src,
        dst: p.dst,
        sport: p.sport,
        dport: p.dport,
        proto: p.proto,
        family: p.family,
        _pad: [0; 2],
    }
}

/// The ring hash of the flow, per the VIP's hashing flags.
#[inline(always)]
pub fn hash(p: &Packet, meta: &VipMeta) -> u64 {
    if meta.flags & VIP_F_HASH_SRC_ONLY != 0 {
        flow_hash(&p.src, &[0; 4], 0, 0, p.proto)
    } else {
        flow_hash(&p.src, &p.dst, p.sport, p.dport, p.proto)
    }
}

/// The flow's recorded server when the table knows the flow and the server
/// is UP. A recorded server that is DOWN is counted and treated as a miss.
#[inline(always)]
pub fn lookup(key: &FlowKey) -> Option<(u32, Server, u16)> {
    let v = FLOWS.get_ptr_mut(key)?;
    // SAFETY: pointer from a successful lookup of a preallocated LRU map; it
    // stays valid for this program run. A racing eviction can at worst show
    // a recycled entry, which the bounds and UP checks below contain.
    let v = unsafe { &mut *v };
    let s = server(v.server)?;
    if s.flags & SERVER_F_UP == 0 {
        stats::event(Event::FlowServerDown);
        return None;
    }
    let now = now_jiffies();
    if now.wrapping_sub(v.last_seen) > TOUCH_JIFFIES {
        v.last_seen = now;
    }
    Some((v.server, s, v.nat_port))
}

/// Counts a flow-table miss as a new flow or a mid-stream miss (a TCP
/// packet that is not a bare SYN: evicted, or older than weir).
#[inline(always)]
pub fn count_miss(p: &Packet) {
    if p.proto == PROTO_TCP && p.tcp_flags & (TCP_SYN | TCP_ACK) != TCP_SYN {
        stats::event(Event::FlowMissMidstream);
    } else {
        stats::event(Event::NewFlow);
    }
}

/// Picks a server from the VIP's live Maglev ring and, when `record`,
/// stores the flow in the connection table.
#[inline(always)]
pub fn pick_new(
    key: &FlowKey,
    meta: &VipMeta,
    hash: u64,
    record: bool,
) -> Result<(u32, Server), Event> {
    let ring_size = meta.ring_size;
    if ring_size == 0 || meta.ring_slot > 1 {
        return Err(Event::DropNoServer);
    }
    let pos = (hash % ring_size as u64) as u32;
    let index = RINGS
        .get(ring_index(meta.index, meta.ring_slot, ring_size, pos))
        .copied()
        .unwrap_or(RING_EMPTY);
    if index == RING_EMPTY {
        return Err(Event::DropNoServer);
    }
    let s = server(index).ok_or(Event::DropNoServer)?;
    if s.flags & SERVER_F_UP == 0 {
        return Err(Event::DropNoServer);
    }
    if record {
        self::record(key, index, 0);
    }
    Ok((index, s))
}

/// Stores the flow's server (and full-NAT port) in the connection table.
#[inline(always)]
pub fn record(key: &FlowKey, server: u32, nat_port: u16) {
    let v = FlowValue {
        server,
        nat_port,
        _pad: 0,
        last_seen: now_jiffies(),
    };
    if FLOWS.insert(key, &v, 0).is_err() {
        stats::event(Event::FlowInsertFailed);
    }
}
