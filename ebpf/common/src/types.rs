//! Map keys and values. Every struct is `#[repr(C)]` with explicit padding
//! so its size is identical on BPF and on the host (checked by tests below).

/// Address family tag for IPv4 in keys (bytes 4..16 of an address are zero).
pub const FAMILY_V4: u8 = 4;
/// Address family tag for IPv6 in keys.
pub const FAMILY_V6: u8 = 6;

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// A VIP is looked up by address, port and protocol; port 0 stands for
/// "every port of this address" and is tried when the exact key misses.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VipKey {
    /// Address words as on the wire; IPv4 uses `addr[0]` only.
    pub addr: [u32; 4],
    /// Port in network byte order, 0 for an address-wide VIP.
    pub port: u16,
    /// IP protocol (`PROTO_TCP` or `PROTO_UDP`).
    pub proto: u8,
    /// `FAMILY_V4` or `FAMILY_V6`.
    pub family: u8,
}

/// Slots of `VIP_TABLE`, the data path's copy of `VIPS` (a power of two).
pub const VIP_TABLE_SLOTS: u32 = 1024;
/// Slots the XDP program probes from a key's home slot (`vip_slot`).
pub const VIP_TABLE_PROBES: u32 = 4;

/// A `VIP_TABLE` entry: an open-addressed copy of a `VIPS` element. The
/// program finds a VIP with inlined array loads and its own key compare;
/// a hash-map lookup is a helper call with three more calls inside it.
/// An empty slot has `key.family == 0` and ends the probe.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipSlot {
    /// The VIP, as in `VIPS`.
    pub key: VipKey,
    /// Its meta, as in `VIPS` (updated together with it).
    pub meta: VipMeta,
}

/// Home slot of `key` in `VIP_TABLE`: a multiplicative hash of every key
/// field, the same on both sides.
#[inline(always)]
pub const fn vip_slot(key: &VipKey) -> u32 {
    let a = key.addr;
    let x = a[0] ^ a[1].rotate_left(8) ^ a[2].rotate_left(16) ^ a[3].rotate_left(24);
    let y = x ^ ((key.port as u32) << 16 | (key.proto as u32) << 8 | key.family as u32);
    y.wrapping_mul(0x9E37_79B1) >> (32 - VIP_TABLE_SLOTS.trailing_zeros())
}

/// Pick the server from a hash of the source address only (every connection
/// of a client lands on the same server), instead of the whole 5-tuple.
pub const VIP_F_HASH_SRC_ONLY: u32 = 1 << 0;
/// Forward by full NAT: source rewritten to the NAT address and a
/// per-flow port, destination to the server; replies come back to weir and
/// are translated back (`NAT_REV`). Without it: IPIP encapsulation (DSR).
pub const VIP_F_FULLNAT: u32 = 1 << 1;

/// What the XDP program needs to know about a VIP once it matched.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipMeta {
    /// `VIP_F_*` bits.
    pub flags: u32,
    /// Dense VIP number: index of its counters and of its two ring slots.
    pub index: u32,
    /// Which of the VIP's two Maglev ring slots is live (0 or 1); userspace
    /// fills the other one and then flips this field in a single map update.
    pub ring_slot: u32,
    /// Entries per ring slot (a prime, `maps::DEFAULT_RING_SIZE` by default).
    pub ring_size: u32,
}

/// Index of entry `pos` of `slot` of VIP `vip_index` in the flat `RINGS`
/// array: each VIP owns two consecutive slots of `ring_size` entries.
#[inline(always)]
pub const fn ring_index(vip_index: u32, slot: u32, ring_size: u32, pos: u32) -> u32 {
    (vip_index * 2 + slot) * ring_size + pos
}

/// Ring entry meaning "no server can take new flows": packets are dropped
/// and counted (`Event::DropNoServer`).
pub const RING_EMPTY: u32 = u32::MAX;

/// A connection's 5-tuple as seen arriving from the client.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Client address words as on the wire.
    pub src: [u32; 4],
    /// VIP address words as on the wire.
    pub dst: [u32; 4],
    /// Client port, network byte order (0 for non-port protocols).
    pub sport: u16,
    /// VIP port, network byte order.
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// `FAMILY_V4` or `FAMILY_V6`.
    pub family: u8,
    /// Explicit padding, always zero (it is part of the hashed key).
    pub _pad: [u8; 2],
}

/// The connection table's value: where the flow goes and when it was seen.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowValue {
    /// Index of the server in `SERVERS`.
    pub server: u32,
    /// Full-NAT: the source port on the NAT address this flow uses towards
    /// its server (network byte order); 0 for IPIP VIPs.
    pub nat_port: u16,
    /// Explicit padding, always zero.
    pub _pad: u16,
    /// `bpf_jiffies64()` (kernel ticks since boot) of the last packet,
    /// refreshed at most every 250 jiffies so a busy flow does not write
    /// shared memory per packet.
    pub last_seen: u64,
}

/// The server accepts packets. Without it, flows stuck to the server are
/// moved to a new pick (DOWN); a server that is UP but absent from the ring
/// (weight 0) keeps its existing flows and gets no new ones (drain).
pub const SERVER_F_UP: u32 = 1 << 0;

/// A real server, target of encapsulation.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Server {
    /// Address words as on the wire; IPv4 uses `addr[0]` only.
    pub addr: [u32; 4],
    /// `SERVER_F_*` bits.
    pub flags: u32,
    /// `FAMILY_V4` (IPIP / 6-in-4 outer header) or `FAMILY_V6`.
    pub family: u8,
    /// Explicit padding, always zero.
    pub _pad: [u8; 3],
}

/// Drop every source that no allowlist entry covers.
pub const CFG_F_ALLOWLIST: u32 = 1 << 0;
/// Enforce the per-source new-flow token bucket (`rate_per_sec`, `burst`).
pub const CFG_F_RATE_LIMIT: u32 = 1 << 1;
/// The source tries hold entries: look sources up (skipped when empty, to
/// keep two trie walks off the path of every packet).
pub const CFG_F_SRC_FILTER: u32 = 1 << 2;
/// Some VIP is address-wide (port 0): a VIP miss on the exact port must
/// also try port 0. Without it the second lookup is skipped, which halves
/// the VIP cost of traffic that is not for a VIP.
pub const CFG_F_PORTLESS_VIPS: u32 = 1 << 3;
/// Some VIP did not fit in `VIP_TABLE` within `VIP_TABLE_PROBES` slots: a
/// table miss falls back to the `VIPS` hash.
pub const CFG_F_VIP_HASH: u32 = 1 << 4;
/// The frontend-rule tries (`FRONT_V4`/`FRONT_V6`) hold entries: look TCP
/// SYNs up in them (skipped when empty).
pub const CFG_F_FRONT_RULES: u32 = 1 << 5;

/// Load-wide settings, the single entry of the `CONFIG` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Outer source address for IPv6 encapsulation, words as on the wire.
    pub src_v6: [u32; 4],
    /// Outer source address for IPv4 encapsulation, as on the wire.
    pub src_v4: u32,
    /// `CFG_F_*` bits.
    pub flags: u32,
    /// Destination MAC of encapsulated packets (the next-hop router).
    pub next_hop_mac: [u8; 6],
    /// Explicit padding, always zero.
    pub _pad: [u8; 2],
    /// New flows (TCP SYNs, and VIP flow-table misses) allowed per second per source.
    pub rate_per_sec: u32,
    /// Token bucket depth: new flows a source may open in a burst.
    pub burst: u32,
    /// Full-NAT source address (IPv4, as on the wire); 0 when unused.
    pub nat_v4: u32,
    /// Full-NAT source address (IPv6 words as on the wire); zero when unused.
    pub nat_v6: [u32; 4],
}

/// Full-NAT reverse key: a reply from a server to the NAT address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NatKey {
    /// Server address words as on the wire; IPv4 uses `server[0]` only.
    pub server: [u32; 4],
    /// Server port, network byte order.
    pub server_port: u16,
    /// NAT port (the reply's destination port), network byte order.
    pub nat_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// `FAMILY_V4` or `FAMILY_V6`.
    pub family: u8,
    /// Explicit padding, always zero.
    pub _pad: u16,
}

/// Full-NAT reverse value: whom the reply goes back to, and from where.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatValue {
    /// Client address words as on the wire.
    pub client: [u32; 4],
    /// VIP address words as on the wire.
    pub vip: [u32; 4],
    /// Client port, network byte order.
    pub client_port: u16,
    /// VIP port, network byte order.
    pub vip_port: u16,
}

/// Lowest NAT port handed out (host order); ports below stay for the host.
pub const NAT_PORT_MIN: u16 = 1024;
/// Number of NAT ports (`NAT_PORT_MIN..=65535`).
pub const NAT_PORT_COUNT: u32 = 65536 - NAT_PORT_MIN as u32;

/// Verdict stored in the source LPM tries.
pub const SRC_ACTION_BLOCK: u32 = 1;
/// Verdict stored in the source LPM tries.
pub const SRC_ACTION_ALLOW: u32 = 2;

/// Key of the per-source rate limiter.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SrcKey {
    /// Source address words as on the wire; IPv4 uses `addr[0]` only.
    pub addr: [u32; 4],
    /// `FAMILY_V4` or `FAMILY_V6`.
    pub family: u8,
    /// Explicit padding, always zero (a byte and a half-word rather than
    /// `[u8; 3]`, which the BPF backend zeroes with a memset call).
    pub _pad: u8,
    /// Explicit padding, always zero.
    pub _pad2: u16,
}

/// Per-source token bucket state (updated without atomics: concurrent CPUs
/// may lose a refill or a charge, which only makes the limit approximate).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateState {
    /// Tokens available, scaled by 1e9 (one new flow costs `TOKEN_SCALE`).
    pub tokens: u64,
    /// `bpf_ktime_get_ns()` of the last refill.
    pub last_ns: u64,
}

/// One token in `RateState::tokens` units.
pub const TOKEN_SCALE: u64 = 1_000_000_000;

/// SK_REUSEPORT: pick the socket of the worker on the receiving CPU.
pub const REUSEPORT_BY_CPU: u32 = 0;
/// SK_REUSEPORT: pick the socket by the packet's 4-tuple hash (stickiness).
pub const REUSEPORT_BY_HASH: u32 = 1;

/// Settings of the SK_REUSEPORT program, the single entry of `REUSEPORT_CFG`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReuseportConfig {
    /// `REUSEPORT_BY_CPU` or `REUSEPORT_BY_HASH`.
    pub mode: u32,
    /// Sockets in `REUSEPORT_SOCKS` (indices `0..sockets`).
    pub sockets: u32,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: each type is `#[repr(C)]`, `Copy`, made only of integers and
    // integer arrays, with every padding byte an explicit field, so any bit
    // pattern is valid and no byte is uninitialised.
    unsafe impl aya::Pod for super::VipKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::VipMeta {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::VipSlot {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::FlowKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::FlowValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Server {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Config {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SrcKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::RateState {}
    // SAFETY: as above.
    unsafe impl aya::Pod for crate::counters::Traffic {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ReuseportConfig {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::NatKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::NatValue {}
}

// Sizes are part of the kernel ABI: a change here must be deliberate.
const _: () = {
    assert!(core::mem::size_of::<VipKey>() == 20);
    assert!(core::mem::size_of::<VipMeta>() == 16);
    assert!(core::mem::size_of::<VipSlot>() == 36);
    assert!(VIP_TABLE_SLOTS.is_power_of_two());
    assert!(core::mem::size_of::<FlowKey>() == 40);
    assert!(core::mem::size_of::<FlowValue>() == 16);
    assert!(core::mem::size_of::<Server>() == 24);
    assert!(core::mem::size_of::<Config>() == 60);
    assert!(core::mem::size_of::<NatKey>() == 24);
    assert!(core::mem::size_of::<NatValue>() == 36);
    assert!(core::mem::size_of::<SrcKey>() == 20);
    assert!(core::mem::size_of::<RateState>() == 16);
    assert!(core::mem::size_of::<ReuseportConfig>() == 8);
};
