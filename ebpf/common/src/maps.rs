//! Map names (as in the object file; at most 15 bytes) and default sizes.
//! The loader may resize any map before load; the defaults fit the BPF
//! object's declarations.

/// `HashMap<VipKey, VipMeta>`: configured VIPs.
pub const VIPS: &str = "VIPS";
/// `Array<VipSlot>`, `VIP_TABLE_SLOTS` entries: the XDP program's
/// open-addressed copy of `VIPS` (not pinned: each load fills its own).
pub const VIP_TABLE: &str = "VIP_TABLE";
/// `Array<u32>`: two Maglev ring slots per VIP, entries are server indices.
/// Created with `MAP_F_MMAPABLE`: userspace writes a whole ring through a
/// memory mapping instead of one system call per entry.
pub const RINGS: &str = "RINGS";

/// `BPF_F_MMAPABLE` (uapi `linux/bpf.h`): an array map that userspace can
/// mmap. Kept here so the BPF declaration and the loader's check agree.
pub const MAP_F_MMAPABLE: u32 = 1 << 10;
/// `Array<Server>`: servers by index.
pub const SERVERS: &str = "SERVERS";
/// `LruHashMap<FlowKey, FlowValue>`: the connection table.
pub const FLOWS: &str = "FLOWS";
/// `Array<Config>`, one entry: load-wide settings.
pub const CONFIG: &str = "CONFIG";
/// `LruHashMap<NatKey, NatValue>`: full-NAT reverse translations.
pub const NAT_REV: &str = "NAT_REV";
/// `LpmTrie<[u8; 4], u32>`: IPv4 source block/allow entries.
pub const SRC_V4: &str = "SRC_V4";
/// `LpmTrie<[u8; 16], u32>`: IPv6 source block/allow entries.
pub const SRC_V6: &str = "SRC_V6";
/// `LpmTrie<[u8; 6], u32>`: compiled `tcp-request connection reject`
/// rules over IPv4. The key data is the TCP destination port (2 bytes,
/// big-endian) then the source address; every entry's prefix covers the
/// whole port (16 + source prefix length), so an entry matches a SYN iff
/// its port is the SYN's destination port and its prefix covers the
/// source. Values: `SRC_ACTION_BLOCK` (drop) or `SRC_ACTION_ALLOW` (pass).
pub const FRONT_V4: &str = "FRONT_V4";
/// `LpmTrie<[u8; 18], u32>`: as `FRONT_V4`, for IPv6 sources.
pub const FRONT_V6: &str = "FRONT_V6";
/// `LruHashMap<SrcKey, RateState>`: per-source new-flow token buckets.
pub const RATE: &str = "RATE";
/// `PerCpuArray<Traffic>`: per-VIP counters.
pub const VIP_STATS: &str = "VIP_STATS";
/// `PerCpuArray<Traffic>`: per-server counters.
pub const SERVER_STATS: &str = "SERVER_STATS";
/// `PerCpuArray<u64>`: `Event` counters.
pub const EVENTS: &str = "EVENTS";
/// `ReusePortSockArray`: listening sockets by worker (CPU) index.
pub const REUSEPORT_SOCKS: &str = "REUSEPORT_SOCKS";

/// `Array<ReuseportConfig>`, one entry: SK_REUSEPORT settings.
pub const REUSEPORT_CFG: &str = "REUSEPORT_CFG";

/// Name of the XDP program in the object.
pub const PROG_XDP: &str = "weir_xdp";
/// Name of the server-side decapsulation XDP program in the object.
pub const PROG_DECAP: &str = "weir_decap";
/// Name of the SK_REUSEPORT program in the object.
pub const PROG_REUSEPORT: &str = "weir_reuseport";

/// Default number of VIPs.
pub const DEFAULT_MAX_VIPS: u32 = 64;
/// Default number of servers (all VIPs together).
pub const DEFAULT_MAX_SERVERS: u32 = 1024;
/// Default Maglev ring size: a prime (Eisenbud et al. use 65537).
pub const DEFAULT_RING_SIZE: u32 = 65537;
/// Default connection-table capacity (LRU: the least recently used flow is
/// evicted when it is full).
pub const DEFAULT_MAX_FLOWS: u32 = 262_144;
/// Default rate-limiter capacity (sources tracked, LRU).
pub const DEFAULT_MAX_RATE_SOURCES: u32 = 65_536;
/// Default entries per source LPM trie.
pub const DEFAULT_MAX_SRC_PREFIXES: u32 = 16_384;
/// Default listening sockets in the SK_REUSEPORT array.
pub const DEFAULT_MAX_REUSEPORT: u32 = 256;
