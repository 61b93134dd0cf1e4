//! Plain data of the balancer: server ids and specs, algorithm and hash
//! settings, pick context and errors. Behaviour lives in the sibling files.

use core::fmt;
use core::net::IpAddr;

/// Index of a server in its backend, in declaration order: the position of
/// its [`ServerSpec`] in the slice given to [`super::Balancer::new`]. Not
/// HAProxy's user-visible numeric id (`id` keyword); that is
/// [`ServerSpec::hash_key`]'s default source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId(pub u32);

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server#{}", self.0)
    }
}

/// Administrative/operational state of a server, as the runtime API and the
/// health checks set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerState {
    /// Takes traffic (if its weight is not 0).
    #[default]
    Up,
    /// Failed its health checks: no new traffic.
    Down,
    /// Administrative maintenance (`disabled`, `set server … state maint`):
    /// no new traffic.
    Maint,
    /// Draining (`set server … state drain`): no new traffic from balancing,
    /// existing connections continue. For balancing it is the same as weight
    /// 0; persistence (stick tables) may still target it, which is not this
    /// module's concern.
    Drain,
}

/// Largest weight HAProxy accepts (`weight` 0..=256).
pub const MAX_WEIGHT: u32 = 256;

/// One server as the balancer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSpec {
    /// `weight`, 0..=256 (HAProxy's default is 1). 0 = takes no new traffic.
    pub weight: u32,
    /// `backup`: used only when no active server is usable.
    pub backup: bool,
    /// `maxconn` for *this worker's* balancer (the caller divides a global
    /// per-server limit among workers); 0 = unlimited.
    pub maxconn: u32,
    /// Initial state.
    pub state: ServerState,
    /// Identity placed on the consistent-hash ring. Keeping it stable keeps
    /// keys on their server across reloads and reorderings; HAProxy uses the
    /// server's numeric id. `None` = position + 1 (HAProxy's automatic ids).
    pub hash_key: Option<u32>,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            weight: 1,
            backup: false,
            maxconn: 0,
            state: ServerState::Up,
            hash_key: None,
        }
    }
}

impl ServerSpec {
    /// An active, up server of the given weight, no maxconn.
    #[must_use]
    pub fn weighted(weight: u32) -> Self {
        Self {
            weight,
            ..Self::default()
        }
    }
}

/// Balancing algorithm (`balance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// `roundrobin`: weighted, smoothly interleaved, weights changeable at
    /// run time.
    #[default]
    RoundRobin,
    /// `static-rr`: weighted round robin over a precomputed schedule; run
    /// time weight changes other than to 0 or back are refused.
    StaticRr,
    /// `leastconn`: fewest connections relative to weight; round robin among
    /// equals.
    LeastConn,
    /// `first`: the first server (by position) with a free connection slot.
    First,
    /// `source`: the client address ([`HashKey::Addr`]) folded into 32 bits
    /// and divided by the total weight (map-based) or placed on the ring
    /// (consistent).
    Source,
    /// `random[(draws)]`: the least loaded of `draws` weighted random picks.
    Random {
        /// Number of draws, at least 1 (HAProxy's default is 2).
        draws: u32,
    },
    /// `uri`, `url_param`, `hdr(…)`, `hash …`, `rdp-cookie`: the caller
    /// extracts the key ([`HashKey::Bytes`]) and the balancer hashes it.
    /// With no key (e.g. parameter absent) it falls back to round robin, as
    /// HAProxy does.
    Hash,
}

impl Algorithm {
    /// True for algorithms whose weights are fixed at start-up (HAProxy's
    /// "static" algorithms): `static-rr`, and the hash-based ones with
    /// `hash-type map-based`.
    #[must_use]
    pub fn is_static(self, hash: HashType) -> bool {
        match self {
            Algorithm::StaticRr => true,
            Algorithm::Source | Algorithm::Hash => hash.method == HashMethod::MapBased,
            _ => false,
        }
    }
}

/// How a hash designates a server (`hash-type` method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashMethod {
    /// `map-based`: hash modulo the total weight of usable servers. Cheap
    /// and even; any change of the server set remaps most keys.
    #[default]
    MapBased,
    /// `consistent`: a ring with points per server proportional to weight;
    /// removing one of N servers moves only its ≈1/N share of keys.
    Consistent,
}

/// Hash function applied to key bytes (`hash-type` function).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashFunction {
    /// `sdbm` (default).
    #[default]
    Sdbm,
    /// `djb2`.
    Djb2,
    /// `wt6`.
    Wt6,
    /// `crc32`.
    Crc32,
    /// `none`: the key is already a hash; its first 4 bytes (big-endian,
    /// zero-padded) are used as is.
    None,
}

/// `hash-type METHOD [FUNCTION] [avalanche]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashType {
    /// Map-based or consistent.
    pub method: HashMethod,
    /// Function applied to key bytes.
    pub function: HashFunction,
    /// `avalanche`: mix the hash ([`crate::hash::avalanche`]) before use.
    pub avalanche: bool,
}

impl HashType {
    /// What `hash-type METHOD` means when no function is written: sdbm, and
    /// for `consistent` also `avalanche` (HAProxy's documentation: "consistent
    /// hash uses sdbm and avalanche if no hash function is specified").
    #[must_use]
    pub const fn unspecified_function(method: HashMethod) -> Self {
        Self {
            method,
            function: HashFunction::Sdbm,
            avalanche: matches!(method, HashMethod::Consistent),
        }
    }
}

/// Everything a [`super::Balancer`] needs besides the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BalancerConfig {
    /// `balance`.
    pub algorithm: Algorithm,
    /// `hash-type`.
    pub hash_type: HashType,
    /// `option allbackups`: all usable backups share the load when no active
    /// server is usable (otherwise only the first usable backup takes it).
    pub allbackups: bool,
    /// Seed of the balancer's private PRNG (`random` only). Give each worker
    /// a different seed; there is no global randomness here.
    pub seed: u64,
}

/// The key a hash-based algorithm hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashKey<'a> {
    /// No key: hash algorithms fall back to round robin.
    #[default]
    None,
    /// Bytes to hash with the configured [`HashFunction`] (URI, parameter
    /// value, header value, sample).
    Bytes(&'a [u8]),
    /// A client address (`balance source`): folded into 32 bits as HAProxy
    /// does ([`super::fold_addr`]), without the configured function; the
    /// avalanche modifier applies.
    Addr(IpAddr),
    /// An already computed 32-bit hash (the function is skipped, the
    /// avalanche modifier still applies).
    Hash(u32),
}

/// Per-pick input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PickCtx<'a> {
    /// Key for hash-based algorithms; ignored by the others.
    pub key: HashKey<'a>,
    /// A server to avoid (the one that just failed, on redispatch). It is
    /// returned only when no other server can take the connection, which is
    /// HAProxy's behaviour.
    pub avoid: Option<ServerId>,
}

/// Why [`super::Balancer::pick`] returned no server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    /// No server is usable (all down, in maintenance, draining or at weight
    /// 0, and no usable backup): answer 503 / close.
    #[error("no server is usable")]
    NoServer,
    /// Usable servers exist but all are at their maxconn: wait in the
    /// backend's queue and pick again when a connection closes.
    #[error("all usable servers are at maxconn")]
    Saturated,
    /// A deterministic (hash) choice designated this server and it is at its
    /// maxconn: wait in that server's queue.
    #[error("{0} is at maxconn")]
    ServerFull(ServerId),
}

/// Errors of control-plane operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    /// A weight above [`MAX_WEIGHT`].
    #[error("weight {0} out of range 0..=256")]
    WeightOutOfRange(u32),
    /// `random(0)`.
    #[error("random needs at least one draw")]
    ZeroDraws,
    /// More servers than a `u32` index can name.
    #[error("too many servers")]
    TooManyServers,
    /// The id names no server of this balancer.
    #[error("unknown {0}")]
    UnknownServer(ServerId),
    /// Static algorithms accept only 0 or the initial weight at run time
    /// (HAProxy: "only accepts weights '0%' and '100%'").
    #[error("static balancing algorithm: weight can only be 0 or the initial {initial}")]
    StaticWeight {
        /// The server's configured weight.
        initial: u32,
    },
}
