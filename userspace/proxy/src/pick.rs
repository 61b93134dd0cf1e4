//! Server choice for one backend on one worker: the adapter between the
//! worker and `weir_core::balance::Balancer` (the policy).
//!
//! The balancer counts only this worker's connections; server `maxconn` is
//! process-wide in HAProxy, so the worker also checks the shared per-server
//! count (see [`crate::shared`]) through the `full` predicate: a server the
//! balancer chose but that other workers have filled is avoided once, then
//! the connection queues.

use std::net::IpAddr;

use weir_config::{Balance, HashFunction as CfgFn, HashMethod as CfgMethod, HashType as CfgHash};
use weir_core::balance::{
    Algorithm, BalanceError, Balancer, BalancerConfig, HashFunction, HashKey, HashMethod, HashType,
    PickCtx, PickError, ServerId, ServerSpec, ServerState,
};

use crate::plan::BackendPlan;

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
        Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. } => Algorithm::Hash,
    }
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
}

impl Picker {
    /// Wraps a balancer.
    #[must_use]
    pub fn new(bal: Balancer) -> Self {
        Picker { bal }
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
        let key = client.map_or(HashKey::None, HashKey::Addr);
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
            http: None,
            use_server: Vec::new(),
        }
    }

    fn picker(b: &BackendPlan) -> Picker {
        Picker::new(balancer(b, 1).unwrap())
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
    fn backups_and_no_server() {
        let mut p = picker(&be(&[(1, false), (1, true)], 0));
        for _ in 0..4 {
            assert_eq!(p.pick(None, None, |_| false), Pick::Server(0));
        }
        let mut p = picker(&be(&[(0, false)], 0));
        assert_eq!(p.pick(None, None, |_| false), Pick::NoServer);
    }
}
