//! The maps, declared once with their default sizes (userspace may resize
//! them before load). Names and layouts come from weir-common.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LpmTrie, LruHashMap, PerCpuArray, ReusePortSockArray},
};
use weir_common::{
    maps::*, Config, FlowKey, FlowValue, NatKey, NatValue, RateState, ReuseportConfig, Server,
    SrcKey, Traffic, VipKey, VipMeta, VipSlot, EVENT_COUNT, VIP_TABLE_SLOTS,
};

/// Configured VIPs.
#[map]
pub static VIPS: HashMap<VipKey, VipMeta> = HashMap::with_max_entries(DEFAULT_MAX_VIPS, 0);

/// The data path's open-addressed copy of VIPS: found with inlined array
/// loads instead of a hash-map helper call.
#[map]
pub static VIP_TABLE: Array<VipSlot> = Array::with_max_entries(VIP_TABLE_SLOTS, 0);

/// Two Maglev ring slots per VIP; entries are server indices. Mmapable so
/// userspace writes a whole ring with one memory copy.
#[map]
pub static RINGS: Array<u32> =
    Array::with_max_entries(DEFAULT_MAX_VIPS * 2 * DEFAULT_RING_SIZE, MAP_F_MMAPABLE);

/// Servers by index.
#[map]
pub static SERVERS: Array<Server> = Array::with_max_entries(DEFAULT_MAX_SERVERS, 0);

/// The connection table. One LRU shared by all CPUs rather than per-CPU
/// tables: RSS and veth do not promise that a flow stays on one CPU, and a
/// flow must keep its server when the ring changes whichever CPU sees it.
#[map]
pub static FLOWS: LruHashMap<FlowKey, FlowValue> =
    LruHashMap::with_max_entries(DEFAULT_MAX_FLOWS, 0);

/// Full-NAT reverse translations (server reply → client), sized like FLOWS.
#[map]
pub static NAT_REV: LruHashMap<NatKey, NatValue> =
    LruHashMap::with_max_entries(DEFAULT_MAX_FLOWS, 0);

/// Load-wide settings (one entry).
#[map]
pub static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

/// IPv4 source block/allow prefixes.
#[map]
pub static SRC_V4: LpmTrie<[u8; 4], u32> = LpmTrie::with_max_entries(DEFAULT_MAX_SRC_PREFIXES, 0);

/// IPv6 source block/allow prefixes.
#[map]
pub static SRC_V6: LpmTrie<[u8; 16], u32> = LpmTrie::with_max_entries(DEFAULT_MAX_SRC_PREFIXES, 0);

/// Compiled `tcp-request connection reject` rules, IPv4: (port, source).
#[map]
pub static FRONT_V4: LpmTrie<[u8; 6], u32> = LpmTrie::with_max_entries(DEFAULT_MAX_SRC_PREFIXES, 0);

/// Compiled `tcp-request connection reject` rules, IPv6: (port, source).
#[map]
pub static FRONT_V6: LpmTrie<[u8; 18], u32> =
    LpmTrie::with_max_entries(DEFAULT_MAX_SRC_PREFIXES, 0);

/// Per-source new-flow token buckets.
#[map]
pub static RATE: LruHashMap<SrcKey, RateState> =
    LruHashMap::with_max_entries(DEFAULT_MAX_RATE_SOURCES, 0);

/// Per-VIP traffic counters.
#[map]
pub static VIP_STATS: PerCpuArray<Traffic> = PerCpuArray::with_max_entries(DEFAULT_MAX_VIPS, 0);

/// Per-server traffic counters.
#[map]
pub static SERVER_STATS: PerCpuArray<Traffic> =
    PerCpuArray::with_max_entries(DEFAULT_MAX_SERVERS, 0);

/// Event and drop-reason counters, indexed by `weir_common::Event`.
#[map]
pub static EVENTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(EVENT_COUNT, 0);

/// Listening sockets of the userspace workers, by worker index.
#[map]
pub static REUSEPORT_SOCKS: ReusePortSockArray =
    ReusePortSockArray::with_max_entries(DEFAULT_MAX_REUSEPORT, 0);

/// SK_REUSEPORT settings (one entry).
#[map]
pub static REUSEPORT_CFG: Array<ReuseportConfig> = Array::with_max_entries(1, 0);
