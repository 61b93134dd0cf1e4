//! Server choice for one backend on one worker: the adapter between the
//! worker and `weir_core::balance::Balancer` (the policy).
//!
//! The balancer counts only this worker's connections; server `maxconn` is
//! process-wide in HAProxy, so the worker also checks the shared per-server
//! count (see [`crate::shared`]) through the `full` predicate: a server the
//! balancer chose but that other workers have filled is avoided once, then
//! the connection queues.

use std::net::IpAddr;
use std::sync::Arc;

use weir_config::{Balance, HashFunction as CfgFn, HashMethod as CfgMethod, HashType as CfgHash};
use weir_core::balance::{
    hash_bytes, Algorithm, BalanceError, Balancer, BalancerConfig, HashFunction, HashKey,
    HashMethod, HashType, PickCtx, PickError, ServerId, ServerSpec, ServerState,
};

use crate::plan::BackendPlan;
use crate::shared::Health;

/// The outcome of a pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Connect to this server (index in the backend).
    Server(u16),
    /// Usable servers exist but are all at maxconn: wait in the queue.
    Queue,
    /// No server is usable: close.
    NoServer,
}

/// Maps `balance` to the core's algorithm. The HTTP-only algorithms (uri,
/// url_param, hdr) hash a key tcp mode does not have: like HAProxy without
/// the key, they fall back to round robin.
#[must_use]
pub fn algorithm(b: &Balance) -> Algorithm {
    match b {
        Balance::RoundRobin => Algorithm::RoundRobin,
        Balance::StaticRr => Algorithm::StaticRr,
        Balance::LeastConn => Algorithm::LeastConn,
        Balance::First => Algorithm::First,
        Balance::Source => Algorithm::Source,
        Balance::Random { draws } => Algorithm::Random { draws: *draws },
        Balance::Uri { .. }
        | Balance::UrlParam { .. }
        | Balance::Hdr { .. }
        | Balance::Hash { .. } => Algorithm::Hash,
    }
}

/// What a `mode http` hash algorithm hashes: `balance uri`, `url_param`
/// or `hdr(name)`, with HAProxy 2.6's rules for finding the key, or
/// `hash EXPR`.
#[derive(Debug, Clone)]
pub enum HttpKey {
    /// `uri [whole] [len N] [depth N] [path-only]`.
    Uri {
        /// Hash the query string too.
        whole: bool,
        /// Only the first `len` bytes of the URI (0: all).
        len: u32,
        /// Only up to the `depth`th `/` (0: all).
        depth: u32,
        /// Skip the scheme and authority of an absolute URI.
        path_only: bool,
    },
    /// `url_param NAME`: the value of the first query parameter `NAME`.
    UrlParam(Box<[u8]>),
    /// `hdr(NAME) [use_domain_only]`: the first value of header `NAME`
    /// (lower case here).
    Hdr {
        /// Header name, lower case.
        name: Box<[u8]>,
        /// Only the domain: the label before the last dot.
        use_domain_only: bool,
    },
    /// `hash EXPR`: the first sample of the expression (see
    /// [`sample_bytes`]); evaluated by the session, [`Self::find`] has none.
    Expr(Box<weir_core::acl::SampleExpr>),
}

/// The bytes `balance hash` hashes for a sample: HAProxy's cast to binary
/// (strings and binaries as they are, integers and booleans as 8 bytes big
/// endian, addresses as 4 or 16 bytes). `buf` holds the converted forms.
pub fn sample_bytes<'a>(s: &weir_core::acl::Sample<'a>, buf: &'a mut [u8; 16]) -> &'a [u8] {
    use weir_core::acl::Sample;
    match *s {
        Sample::Str(b) | Sample::Bin(b) => b,
        Sample::Int(n) => {
            buf[..8].copy_from_slice(&n.to_be_bytes());
            &buf[..8]
        }
        Sample::Bool(b) => {
            buf[..8].copy_from_slice(&i64::from(b).to_be_bytes());
            &buf[..8]
        }
        Sample::Ip(std::net::IpAddr::V4(a)) => {
            buf[..4].copy_from_slice(&a.octets());
            &buf[..4]
        }
        Sample::Ip(std::net::IpAddr::V6(a)) => {
            *buf = a.octets();
            &buf[..]
        }
    }
}

impl HttpKey {
    /// The key of an HTTP algorithm; `None` for the others.
    #[must_use]
    pub fn of(b: &Balance) -> Option<Self> {
        Some(match b {
            Balance::Uri {
                whole,
                len,
                depth,
                path_only,
            } => HttpKey::Uri {
                whole: *whole,
                len: *len,
                depth: *depth,
                path_only: *path_only,
            },
            Balance::UrlParam { name, .. } => HttpKey::UrlParam(name.as_bytes().into()),
            Balance::Hdr {
                name,
                use_domain_only,
            } => HttpKey::Hdr {
                name: name.to_ascii_lowercase().into_bytes().into(),
                use_domain_only: *use_domain_only,
            },
            Balance::Hash { expr } => {
                let loader = weir_core::acl::Loader {
                    read_file: &|p: &str| std::fs::read_to_string(p),
                    env: &|n: &str| std::env::var(n).ok(),
                };
                // Validated by the config parser.
                HttpKey::Expr(Box::new(
                    weir_core::acl::SampleExpr::parse(expr, &loader).ok()?,
                ))
            }
            _ => return None,
        })
    }

    /// The bytes to hash in a request with this `target` (as sent) and
    /// `headers` (name, value); `None` when the key is absent, which makes
    /// the balancer fall back to round robin as HAProxy does.
    pub fn find<'a>(
        &self,
        target: &'a [u8],
        headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Option<&'a [u8]> {
        match self {
            HttpKey::Uri {
                whole,
                len,
                depth,
                path_only,
            } => {
                let mut uri = if *path_only { path_of(target) } else { target };
                if *len > 0 {
                    uri = &uri[..uri.len().min(*len as usize)];
                }
                // Stop before the query (unless `whole`) and at the slash
                // that opens directory `depth + 1`.
                let mut slashes = 0u32;
                let end = uri
                    .iter()
                    .position(|&c| {
                        if c == b'/' {
                            slashes += 1;
                            *depth > 0 && slashes == depth + 1
                        } else {
                            c == b'?' && !*whole
                        }
                    })
                    .unwrap_or(uri.len());
                Some(&uri[..end])
            }
            HttpKey::UrlParam(name) => {
                let q = target.iter().position(|&c| c == b'?')?;
                target[q + 1..]
                    .split(|&c| c == b'&')
                    .find_map(|p| p.strip_prefix(&name[..]).and_then(|v| v.strip_prefix(b"=")))
            }
            HttpKey::Hdr {
                name,
                use_domain_only,
            } => {
                let (_, v) = headers
                    .into_iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))?;
                let v = weir_core::acl::http::header_values(v).next()?;
                Some(if *use_domain_only { domain_of(v) } else { v })
            }
            HttpKey::Expr(_) => None,
        }
    }

    /// [`Self::find`] hashed with `ty`'s function (the avalanche modifier is
    /// the balancer's).
    pub fn hash<'a>(
        &self,
        ty: HashType,
        target: &'a [u8],
        headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Option<u32> {
        self.find(target, headers)
            .map(|k| hash_bytes(ty.function, k))
    }
}

/// The path (and query) of a request target: an absolute URI loses its
/// scheme and authority; `*` and authority forms have none.
fn path_of(t: &[u8]) -> &[u8] {
    if t.first() == Some(&b'/') {
        return t;
    }
    let Some(p) = t.windows(3).position(|w| w == b"://") else {
        return &[];
    };
    let rest = &t[p + 3..];
    match rest.iter().position(|&c| c == b'/' || c == b'?') {
        Some(i) => &rest[i..],
        None => &[],
    }
}

/// `use_domain_only`: the label before the last dot ("example" of
/// "www.example.com"); a value whose only dot is its first byte, or that
/// has none, is kept whole (HAProxy's scan never looks at the first byte).
fn domain_of(v: &[u8]) -> &[u8] {
    let Some(last) = v.iter().rposition(|&c| c == b'.').filter(|&i| i > 0) else {
        return v;
    };
    let head = &v[..last];
    let start = head.iter().rposition(|&c| c == b'.').map_or(0, |i| i + 1);
    &head[start..]
}

/// Maps `hash-type`.
#[must_use]
pub fn hash_type(h: &CfgHash) -> HashType {
    HashType {
        method: match h.method {
            CfgMethod::MapBased => HashMethod::MapBased,
            CfgMethod::Consistent => HashMethod::Consistent,
        },
        function: match h.function {
            CfgFn::Sdbm => HashFunction::Sdbm,
            CfgFn::Djb2 => HashFunction::Djb2,
            CfgFn::Wt6 => HashFunction::Wt6,
            CfgFn::Crc32 => HashFunction::Crc32,
            CfgFn::None => HashFunction::None,
        },
        avalanche: h.avalanche,
    }
}

/// Builds the balancer of `be` for worker `seed` (the seed of `random`).
///
/// # Errors
/// The core's refusal (weight out of range, `random(0)`).
pub fn balancer(be: &BackendPlan, seed: u64) -> Result<Balancer, BalanceError> {
    let specs: Vec<ServerSpec> = be
        .servers
        .iter()
        .map(|s| ServerSpec {
            weight: s.weight,
            backup: s.backup,
            maxconn: s.maxconn,
            state: if s.disabled {
                ServerState::Maint
            } else {
                ServerState::Up
            },
            hash_key: None,
        })
        .collect();
    Balancer::new(
        BalancerConfig {
            algorithm: be.algorithm,
            hash_type: be.hash_type,
            allbackups: be.allbackups,
            seed,
        },
        &specs,
    )
}

/// Per-worker, per-backend chooser.
#[derive(Debug)]
pub struct Picker {
    bal: Balancer,
    /// The health checks' view of the backend's servers.
    health: Arc<Health>,
    /// `health`'s generation last copied into `bal`.
    seen: u32,
}

impl Picker {
    /// Wraps a balancer; `health` is the backend's shared check state.
    #[must_use]
    pub fn new(bal: Balancer, health: Arc<Health>) -> Self {
        let mut p = Picker {
            bal,
            health,
            seen: 0,
        };
        p.sync_health();
        p
    }

    /// Copies the checks' verdicts into the balancer: a DOWN server is
    /// unusable like a disabled one (backups take over when no active is
    /// left). `disabled` servers stay in maintenance.
    fn sync_health(&mut self) {
        self.seen = self.health.generation();
        for i in 0..self.bal.server_count() {
            let id = ServerId(i as u32);
            let state = match self.bal.state(id) {
                Some(ServerState::Up | ServerState::Down) if self.health.is_up(i) => {
                    ServerState::Up
                }
                Some(ServerState::Up | ServerState::Down) => ServerState::Down,
                _ => continue,
            };
            let _ = self.bal.set_state(id, state);
        }
    }

    /// Whether picks need the client's address (`balance source`).
    #[must_use]
    pub fn needs_client_addr(&self) -> bool {
        self.bal.config().algorithm == Algorithm::Source
    }

    /// Chooses a server. `full(i)` says whether server `i` is at its
    /// process-wide maxconn; `avoid` is a server to skip unless it is the
    /// only choice (redispatch).
    pub fn pick(
        &mut self,
        avoid: Option<u16>,
        client: Option<IpAddr>,
        full: impl Fn(u16) -> bool,
    ) -> Pick {
        self.pick_key(avoid, client.map_or(HashKey::None, HashKey::Addr), full)
    }

    /// [`Self::pick`] with any key (the HTTP algorithms' hash).
    pub fn pick_key(
        &mut self,
        avoid: Option<u16>,
        key: HashKey<'_>,
        full: impl Fn(u16) -> bool,
    ) -> Pick {
        if self.health.generation() != self.seen {
            self.sync_health();
        }
        let first = self.bal.pick(PickCtx {
            key,
            avoid: avoid.map(|a| ServerId(u32::from(a))),
        });
        match first {
            Ok(id) => {
                let i = id.0 as u16;
                if !full(i) {
                    return Pick::Server(i);
                }
                match self.bal.pick(PickCtx {
                    key,
                    avoid: Some(id),
                }) {
                    Ok(other) if other != id && !full(other.0 as u16) => {
                        Pick::Server(other.0 as u16)
                    }
                    _ => Pick::Queue,
                }
            }
            Err(PickError::NoServer) => Pick::NoServer,
            Err(PickError::Saturated | PickError::ServerFull(_)) => Pick::Queue,
        }
    }

    /// A connection to server `i` opened.
    pub fn opened(&mut self, i: u16) {
        self.bal.on_conn_open(ServerId(u32::from(i)));
    }

    /// A connection to server `i` closed.
    pub fn closed(&mut self, i: u16) {
        self.bal.on_conn_close(ServerId(u32::from(i)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ServerAddrPlan, ServerPlan};
    use weir_runtime::AddrId;

    fn be(weights: &[(u32, bool)], maxconn: u32) -> BackendPlan {
        BackendPlan {
            name: "b".into(),
            servers: weights
                .iter()
                .enumerate()
                .map(|(i, (w, backup))| ServerPlan {
                    name: format!("s{i}"),
                    weight: *w,
                    maxconn,
                    backup: *backup,
                    disabled: false,
                    shutdown_on_down: false,
                    shutdown_backup_on_up: false,
                    addr: ServerAddrPlan::Fixed(AddrId(i as u32)),
                })
                .collect(),
            retries: 3,
            redispatch: false,
            connect_ms: None,
            server_ms: None,
            server_fin_ms: None,
            queue_ms: None,
            tunnel_ms: None,
            splice_request: false,
            splice_response: false,
            nolinger: false,
            allbackups: false,
            algorithm: Algorithm::RoundRobin,
            hash_type: HashType::default(),
            lb_key: None,
            http: None,
            use_server: Vec::new(),
        }
    }

    fn picker(b: &BackendPlan) -> Picker {
        Picker::new(
            balancer(b, 1).unwrap(),
            Arc::new(Health::new(b.servers.len())),
        )
    }

    #[test]
    fn weighted_round_robin() {
        let mut p = picker(&be(&[(3, false), (1, false)], 0));
        let zeros = (0..8)
            .filter(|_| p.pick(None, None, |_| false) == Pick::Server(0))
            .count();
        assert_eq!(zeros, 6);
    }

    #[test]
    fn shared_full_server_is_avoided_then_queue() {
        let mut p = picker(&be(&[(1, false), (1, false)], 5));
        for _ in 0..4 {
            assert_eq!(p.pick(None, None, |i| i == 0), Pick::Server(1));
        }
        assert_eq!(p.pick(None, None, |_| true), Pick::Queue);
    }

    #[test]
    fn local_maxconn_queues() {
        let mut p = picker(&be(&[(1, false)], 1));
        assert_eq!(p.pick(None, None, |_| false), Pick::Server(0));
        p.opened(0);
        assert_eq!(p.pick(None, None, |_| false), Pick::Queue);
        p.closed(0);
        assert_eq!(p.pick(None, None, |_| false), Pick::Server(0));
    }

    #[test]
    fn redispatch_avoids_failed_server() {
        let mut p = picker(&be(&[(1, false), (1, false)], 0));
        for _ in 0..4 {
            assert_eq!(p.pick(Some(0), None, |_| false), Pick::Server(1));
        }
    }

    #[test]
    fn down_servers_are_skipped_and_backups_take_over() {
        let b = be(&[(1, false), (1, false), (1, true)], 0);
        let health = Arc::new(Health::new(3));
        let mut p = Picker::new(balancer(&b, 1).unwrap(), Arc::clone(&health));
        health.set(0, false);
        for _ in 0..4 {
            assert_eq!(p.pick(None, None, |_| false), Pick::Server(1));
        }
        health.set(1, false);
        for _ in 0..4 {
            assert_eq!(p.pick(None, None, |_| false), Pick::Server(2));
        }
        health.set(2, false);
        assert_eq!(p.pick(None, None, |_| false), Pick::NoServer);
        health.set(0, true);
        for _ in 0..4 {
            assert_eq!(p.pick(None, None, |_| false), Pick::Server(0));
        }
    }

    #[test]
    fn backups_and_no_server() {
        let mut p = picker(&be(&[(1, false), (1, true)], 0));
        for _ in 0..4 {
            assert_eq!(p.pick(None, None, |_| false), Pick::Server(0));
        }
        let mut p = picker(&be(&[(0, false)], 0));
        assert_eq!(p.pick(None, None, |_| false), Pick::NoServer);
    }

    fn key(b: &Balance, target: &str, headers: &[(&str, &str)]) -> Option<String> {
        let k = HttpKey::of(b).unwrap();
        let h = headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
        k.find(target.as_bytes(), h)
            .map(|x| String::from_utf8(x.to_vec()).unwrap())
    }

    fn uri(whole: bool, len: u32, depth: u32, path_only: bool) -> Balance {
        Balance::Uri {
            whole,
            len,
            depth,
            path_only,
        }
    }

    #[test]
    fn uri_key() {
        let t = "/a/b/c?x=1";
        assert_eq!(key(&uri(false, 0, 0, false), t, &[]).unwrap(), "/a/b/c");
        assert_eq!(key(&uri(true, 0, 0, false), t, &[]).unwrap(), t);
        assert_eq!(key(&uri(false, 0, 2, false), t, &[]).unwrap(), "/a/b");
        assert_eq!(key(&uri(false, 0, 1, false), t, &[]).unwrap(), "/a");
        assert_eq!(key(&uri(false, 4, 0, false), t, &[]).unwrap(), "/a/b");
        assert_eq!(key(&uri(true, 8, 0, false), t, &[]).unwrap(), "/a/b/c?x");
        let abs = "http://h.example:8080/p/q?z";
        assert_eq!(
            key(&uri(false, 0, 0, false), abs, &[]).unwrap(),
            "http://h.example:8080/p/q"
        );
        assert_eq!(key(&uri(false, 0, 0, true), abs, &[]).unwrap(), "/p/q");
        assert_eq!(key(&uri(true, 0, 0, true), abs, &[]).unwrap(), "/p/q?z");
        assert_eq!(key(&uri(false, 0, 0, true), "*", &[]).unwrap(), "");
    }

    #[test]
    fn url_param_key() {
        let p = || Balance::UrlParam { name: "id".into() };
        assert_eq!(key(&p(), "/x?id=42", &[]).unwrap(), "42");
        assert_eq!(key(&p(), "/x?a=1&id=7&id=8", &[]).unwrap(), "7");
        assert_eq!(key(&p(), "/x?id=", &[]).unwrap(), "");
        assert_eq!(key(&p(), "/x?xid=1&id", &[]), None);
        assert_eq!(key(&p(), "/x/id=1", &[]), None);
        assert_eq!(key(&p(), "/x", &[]), None);
    }

    #[test]
    fn hdr_key() {
        let h = |d| Balance::Hdr {
            name: "Host".into(),
            use_domain_only: d,
        };
        let hs = [
            ("x", "y"),
            ("host", " www.example.com , other"),
            ("Host", "z"),
        ];
        assert_eq!(key(&h(false), "/", &hs).unwrap(), "www.example.com");
        assert_eq!(key(&h(true), "/", &hs).unwrap(), "example");
        assert_eq!(
            key(&h(true), "/", &[("Host", "example.com")]).unwrap(),
            "example"
        );
        assert_eq!(
            key(&h(true), "/", &[("Host", "localhost")]).unwrap(),
            "localhost"
        );
        assert_eq!(key(&h(true), "/", &[("Host", ".com")]).unwrap(), ".com");
        assert_eq!(key(&h(true), "/", &[("Host", "a.b.c.")]).unwrap(), "c");
        assert_eq!(key(&h(false), "/", &[("Host", "")]), None);
        assert_eq!(key(&h(false), "/", &[("X", "a")]), None);
    }
}
