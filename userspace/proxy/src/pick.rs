//! Server choice for one backend on one worker: the adapter between the
//! worker and the balancing policy.
//!
//! The policy itself belongs to `weir_core::balance` (being written in
//! parallel); until it lands this module carries a minimal stand-in —
//! smooth weighted round robin (nginx's interleaving) with backups used only
//! when no active server is usable — so the data path can be built and
//! tested. The worker only sees [`Picker::pick`], [`Picker::opened`] and
//! [`Picker::closed`], so swapping the policy does not touch the data path.

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

#[derive(Debug)]
struct Slot {
    weight: i64,
    current: i64,
    backup: bool,
    usable: bool,
}

/// Per-worker, per-backend chooser.
#[derive(Debug)]
pub struct Picker {
    servers: Vec<Slot>,
    allbackups: bool,
}

impl Picker {
    /// A chooser over `be`'s servers.
    #[must_use]
    pub fn new(be: &BackendPlan) -> Self {
        Picker {
            servers: be
                .servers
                .iter()
                .map(|s| Slot {
                    weight: i64::from(s.weight),
                    current: 0,
                    backup: s.backup,
                    usable: !s.disabled && s.weight > 0,
                })
                .collect(),
            allbackups: be.allbackups,
        }
    }

    /// Chooses a server. `full(i)` says whether server `i` is at its
    /// maxconn; `avoid` is a server to skip unless it is the only choice.
    pub fn pick(&mut self, avoid: Option<u16>, full: impl Fn(u16) -> bool) -> Pick {
        let any_active = self.servers.iter().any(|s| s.usable && !s.backup);
        let candidates = |s: &Slot| s.usable && s.backup != any_active;
        if !self.servers.iter().any(candidates) {
            return Pick::NoServer;
        }
        if !any_active && !self.allbackups {
            // Only the first usable backup takes the load (HAProxy's default).
            let first = self.servers.iter().position(candidates).map(|i| i as u16);
            return match first {
                Some(i) if !full(i) => Pick::Server(i),
                _ => Pick::Queue,
            };
        }
        for pass in 0..2 {
            let mut total = 0i64;
            let mut best: Option<usize> = None;
            for i in 0..self.servers.len() {
                let idx = i as u16;
                let s = &self.servers[i];
                if !candidates(s) || full(idx) || (pass == 0 && Some(idx) == avoid) {
                    continue;
                }
                self.servers[i].current += self.servers[i].weight;
                total += self.servers[i].weight;
                if best.is_none_or(|b| self.servers[i].current > self.servers[b].current) {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                self.servers[b].current -= total;
                return Pick::Server(b as u16);
            }
            if avoid.is_none() {
                break;
            }
        }
        Pick::Queue
    }

    /// A connection to server `i` opened.
    pub fn opened(&mut self, _i: u16) {}

    /// A connection to server `i` closed.
    pub fn closed(&mut self, _i: u16) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ServerAddrPlan, ServerPlan};
    use weir_runtime::AddrId;

    fn be(weights: &[(u32, bool)]) -> BackendPlan {
        BackendPlan {
            name: "b".into(),
            servers: weights
                .iter()
                .enumerate()
                .map(|(i, (w, backup))| ServerPlan {
                    name: format!("s{i}"),
                    weight: *w,
                    maxconn: 0,
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
            balance: weir_config::Balance::RoundRobin,
        }
    }

    #[test]
    fn weighted_and_interleaved() {
        let mut p = Picker::new(&be(&[(3, false), (1, false)]));
        let picks: Vec<Pick> = (0..8).map(|_| p.pick(None, |_| false)).collect();
        let zeros = picks.iter().filter(|x| **x == Pick::Server(0)).count();
        assert_eq!(zeros, 6);
        assert_ne!(
            picks[0..3],
            [Pick::Server(0); 3],
            "smooth: not three in a row at start"
        );
    }

    #[test]
    fn full_servers_are_skipped_then_queue() {
        let mut p = Picker::new(&be(&[(1, false), (1, false)]));
        assert_eq!(p.pick(None, |i| i == 0), Pick::Server(1));
        assert_eq!(p.pick(None, |_| true), Pick::Queue);
    }

    #[test]
    fn avoid_unless_only_choice() {
        let mut p = Picker::new(&be(&[(1, false), (1, false)]));
        for _ in 0..4 {
            assert_eq!(p.pick(Some(0), |_| false), Pick::Server(1));
        }
        let mut p = Picker::new(&be(&[(1, false)]));
        assert_eq!(p.pick(Some(0), |_| false), Pick::Server(0));
    }

    #[test]
    fn backup_only_when_no_active() {
        let mut p = Picker::new(&be(&[(1, false), (1, true)]));
        for _ in 0..4 {
            assert_eq!(p.pick(None, |_| false), Pick::Server(0));
        }
        let mut p = Picker::new(&be(&[(0, false), (1, true), (1, true)]));
        assert_eq!(
            p.pick(None, |_| false),
            Pick::Server(1),
            "first backup only"
        );
        let mut p = Picker::new(&be(&[(0, false)]));
        assert_eq!(p.pick(None, |_| false), Pick::NoServer);
    }
}
