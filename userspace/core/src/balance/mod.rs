//! Server selection for one backend, per worker: HAProxy's `balance`
//! algorithms, `hash-type`, backups and `option allbackups`, maxconn.
//!
//! A [`Balancer`] is owned by one worker (no sharing, no locks). The worker
//! tells it about connections it assigns and ends ([`Balancer::on_conn_open`],
//! [`Balancer::on_conn_close`]) so that `leastconn`, `random` and maxconn
//! checks see live counts, and about state and weight changes coming from
//! the runtime API or health checks ([`Balancer::set_state`],
//! [`Balancer::set_weight`]).
//!
//! # Which servers take traffic
//! A server is *usable* when its state is [`ServerState::Up`] and its weight
//! is above 0. Active usable servers take all traffic; when none exists,
//! the first usable backup takes it, or all usable backups with
//! `allbackups`. A usable server at its maxconn still counts as usable (the
//! connection waits in a queue, [`PickError::Saturated`] /
//! [`PickError::ServerFull`]); it does not hand traffic to backups.
//!
//! # Cost
//! [`Balancer::pick`] never allocates. `roundrobin` and `leastconn` keep the
//! servers that can take a connection in an indexed heap (see `heap.rs`):
//! O(log N) per pick, and for `leastconn` per connection open/close;
//! `static-rr` and map-based hashing are O(1) table look-ups; consistent
//! hashing is a binary search over the ring; `random` costs
//! O(draws · log N); `first` stops at the first server with a free slot.
//! Control-plane operations rebuild the derived tables in
//! O(total weight · log N) and may allocate.

mod chash;
mod heap;
mod types;

#[cfg(test)]
mod tests;

pub use types::*;

use crate::hash;
use heap::{HeapKind, VT_SCALE};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone)]
struct Server {
    /// Current (runtime) weight.
    weight: u32,
    /// Configured weight (static algorithms only accept 0 or this).
    initial_weight: u32,
    backup: bool,
    maxconn: u32,
    state: ServerState,
    /// Live connections this worker has assigned to the server.
    conns: u32,
    ring_key: u32,
    /// `roundrobin`: virtual time of the next pick (see `heap.rs`).
    deadline: u64,
    /// `roundrobin`: virtual time one pick costs, `VT_SCALE / weight`.
    inc: u64,
    /// `leastconn`: when the connection count last changed (tie-break).
    seq: u64,
    /// Position in `Balancer::heap`, `NIL` when absent.
    heap_pos: u32,
    /// Member of the set taking traffic (`Balancer::lb`).
    in_lb: bool,
}

/// "Not in the heap".
const NIL: u32 = u32::MAX;

/// Up to this many servers in use, `leastconn` scans them; above, it keeps
/// them in a heap. Under callgrind (`cargo bench -p weir-core --bench core`,
/// see the bench's header; the bench loop alone costs about 115) a
/// pick+open+close cycle cost about 317 instructions by scan and 462 by heap
/// at 4 servers, and 1,410 by scan and 699 by heap at 32: the lines cross
/// near 10.
const LEASTCONN_SCAN_MAX: usize = 8;

impl Server {
    fn usable(&self) -> bool {
        self.state == ServerState::Up && self.weight > 0
    }
    fn has_slot(&self) -> bool {
        self.maxconn == 0 || self.conns < self.maxconn
    }
}

/// Per-worker server selector for one backend. See the module docs.
#[derive(Debug)]
pub struct Balancer {
    cfg: BalancerConfig,
    servers: Vec<Server>,
    /// The servers currently taking traffic (actives, or the backups in
    /// use), in position order.
    lb: Vec<u32>,
    /// Sum of the weights in `lb`.
    lb_weight: u64,
    /// `static-rr` schedule, or the map of map-based hashing: each server
    /// appears `weight` times, smoothly interleaved.
    sched: Vec<u32>,
    sched_pos: usize,
    /// Consistent-hash ring (consistent hashing only).
    ring: chash::Ring,
    /// Prefix sums of `lb` weights (`random` only).
    cum: Vec<u64>,
    /// Where the next fallback least-loaded scan (`random`) starts, so
    /// equals take turns.
    cursor: usize,
    /// Servers that can take a connection now, ordered per `heap_kind`
    /// (`roundrobin`, `leastconn`, and consistent hashing's keyless
    /// fallback).
    heap: Vec<u32>,
    heap_kind: HeapKind,
    /// `roundrobin` virtual time: the deadline of the last pick.
    vt: u64,
    /// `leastconn` change counter.
    seq: u64,
    /// SplitMix64 state (`random` only).
    rng: u64,
}

impl Balancer {
    /// Builds a balancer over `servers`; `ServerId(i)` is `servers[i]`.
    ///
    /// # Errors
    /// A weight above 256, `random(0)`, or more than `u32::MAX` servers.
    pub fn new(cfg: BalancerConfig, servers: &[ServerSpec]) -> Result<Self, BalanceError> {
        if let Algorithm::Random { draws: 0 } = cfg.algorithm {
            return Err(BalanceError::ZeroDraws);
        }
        if u32::try_from(servers.len()).is_err() {
            return Err(BalanceError::TooManyServers);
        }
        let mut list = Vec::with_capacity(servers.len());
        for (i, s) in servers.iter().enumerate() {
            if s.weight > MAX_WEIGHT {
                return Err(BalanceError::WeightOutOfRange(s.weight));
            }
            list.push(Server {
                weight: s.weight,
                initial_weight: s.weight,
                backup: s.backup,
                maxconn: s.maxconn,
                state: s.state,
                conns: 0,
                ring_key: s.hash_key.unwrap_or(i as u32 + 1),
                deadline: 0,
                inc: 0,
                seq: 0,
                heap_pos: NIL,
                in_lb: false,
            });
        }
        let mut b = Self {
            cfg,
            servers: list,
            lb: Vec::with_capacity(servers.len()),
            lb_weight: 0,
            sched: Vec::new(),
            sched_pos: 0,
            ring: chash::Ring::default(),
            cum: Vec::with_capacity(servers.len()),
            cursor: 0,
            heap: Vec::with_capacity(servers.len()),
            heap_kind: match cfg.algorithm {
                Algorithm::RoundRobin => HeapKind::Rr,
                Algorithm::Source | Algorithm::Hash
                    if cfg.hash_type.method == HashMethod::Consistent =>
                {
                    HeapKind::Rr
                }
                Algorithm::LeastConn => HeapKind::Lc,
                _ => HeapKind::None,
            },
            vt: 0,
            seq: 0,
            rng: cfg.seed,
        };
        b.rebuild();
        Ok(b)
    }

    /// The configuration this balancer was built with.
    #[must_use]
    pub fn config(&self) -> &BalancerConfig {
        &self.cfg
    }

    /// Number of servers (usable or not).
    #[must_use]
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Number of servers currently taking traffic (actives, or the backups
    /// in use).
    #[must_use]
    pub fn usable_count(&self) -> usize {
        self.lb.len()
    }

    /// True if `id` is currently taking new traffic.
    #[must_use]
    pub fn is_in_use(&self, id: ServerId) -> bool {
        self.servers.get(id.0 as usize).is_some_and(|s| s.in_lb)
    }

    /// Connections this worker has open on `id` (0 for an unknown id).
    #[must_use]
    pub fn conns(&self, id: ServerId) -> u32 {
        self.servers.get(id.0 as usize).map_or(0, |s| s.conns)
    }

    /// Current weight of `id`.
    #[must_use]
    pub fn weight(&self, id: ServerId) -> Option<u32> {
        self.servers.get(id.0 as usize).map(|s| s.weight)
    }

    /// Current state of `id`.
    #[must_use]
    pub fn state(&self, id: ServerId) -> Option<ServerState> {
        self.servers.get(id.0 as usize).map(|s| s.state)
    }

    /// Chooses a server for a new connection. Only usable servers with a
    /// free slot are returned. Does not count the connection: call
    /// [`Self::on_conn_open`] once it is assigned.
    ///
    /// # Errors
    /// [`PickError::NoServer`] (→ 503/close), [`PickError::Saturated`]
    /// (→ backend queue), [`PickError::ServerFull`] (→ that server's queue).
    pub fn pick(&mut self, ctx: PickCtx<'_>) -> Result<ServerId, PickError> {
        if self.lb.is_empty() {
            return Err(PickError::NoServer);
        }
        // An id outside the backend cannot be avoided: ignore it.
        let avoid = ctx
            .avoid
            .map(|a| a.0)
            .filter(|&a| (a as usize) < self.servers.len());
        let picked = match self.cfg.algorithm {
            Algorithm::RoundRobin => self.pick_rr(avoid),
            Algorithm::StaticRr => self.pick_sched(avoid),
            Algorithm::LeastConn if self.heap_kind == HeapKind::Lc => {
                self.heap_best(avoid).map(|pos| self.heap[pos])
            }
            Algorithm::LeastConn => self.pick_least_loaded_scan(avoid),
            Algorithm::First => self.pick_first(avoid),
            Algorithm::Random { draws } => self.pick_random(draws, avoid),
            Algorithm::Source | Algorithm::Hash => match self.hash_of(ctx.key) {
                Some(h) => return self.pick_hash(h, avoid),
                None if self.cfg.algorithm.is_static(self.cfg.hash_type) => self.pick_sched(avoid),
                None => self.pick_rr(avoid),
            },
        };
        match picked {
            Some(i) => Ok(ServerId(i)),
            // Nothing else could take it: the avoided server is better than
            // a queue (HAProxy's "avoid" semantics).
            None => match avoid {
                Some(a)
                    if self.servers[a as usize].in_lb && self.servers[a as usize].has_slot() =>
                {
                    Ok(ServerId(a))
                }
                _ => Err(PickError::Saturated),
            },
        }
    }

    /// Counts a connection assigned to `id` (call right after a successful
    /// [`Self::pick`], or when a queued connection is handed to the server).
    pub fn on_conn_open(&mut self, id: ServerId) {
        debug_assert!((id.0 as usize) < self.servers.len(), "unknown {id}");
        if let Some(s) = self.servers.get_mut(id.0 as usize) {
            s.conns = s.conns.saturating_add(1);
            if self.heap_tracks(id.0) {
                self.heap_on_count(id.0, true);
            }
        }
    }

    /// Counts the end of a connection on `id`.
    pub fn on_conn_close(&mut self, id: ServerId) {
        debug_assert!((id.0 as usize) < self.servers.len(), "unknown {id}");
        if let Some(s) = self.servers.get_mut(id.0 as usize) {
            debug_assert!(s.conns > 0, "close without open on {id}");
            s.conns = s.conns.saturating_sub(1);
            if self.heap_tracks(id.0) {
                self.heap_on_count(id.0, false);
            }
        }
    }

    /// True when a change of `id`'s connection count may move it in the
    /// heap (checked inline: the common round-robin case, no maxconn, costs
    /// no call).
    #[inline]
    fn heap_tracks(&self, id: u32) -> bool {
        match self.heap_kind {
            HeapKind::None => false,
            HeapKind::Rr => self.servers[id as usize].maxconn != 0,
            HeapKind::Lc => true,
        }
    }

    /// Changes the state of `id` (health checks, runtime API).
    ///
    /// # Errors
    /// [`BalanceError::UnknownServer`].
    pub fn set_state(&mut self, id: ServerId, state: ServerState) -> Result<(), BalanceError> {
        let s = self
            .servers
            .get_mut(id.0 as usize)
            .ok_or(BalanceError::UnknownServer(id))?;
        if s.state != state {
            s.state = state;
            self.rebuild();
        }
        Ok(())
    }

    /// Changes the weight of `id` at run time. With `roundrobin` the smooth
    /// interleaving carries on from where it is (no reset, no burst); with
    /// consistent hashing only the server's own points move.
    ///
    /// # Errors
    /// Out-of-range weight, unknown server, or a static algorithm
    /// (`static-rr`, map-based hashing) given something other than 0 or the
    /// initial weight.
    pub fn set_weight(&mut self, id: ServerId, weight: u32) -> Result<(), BalanceError> {
        if weight > MAX_WEIGHT {
            return Err(BalanceError::WeightOutOfRange(weight));
        }
        let is_static = self.cfg.algorithm.is_static(self.cfg.hash_type);
        let s = self
            .servers
            .get_mut(id.0 as usize)
            .ok_or(BalanceError::UnknownServer(id))?;
        if is_static && weight != 0 && weight != s.initial_weight {
            return Err(BalanceError::StaticWeight {
                initial: s.initial_weight,
            });
        }
        if s.weight != weight {
            s.weight = weight;
            self.rebuild();
        }
        Ok(())
    }

    /// Changes the per-worker maxconn of `id` (0 = unlimited).
    ///
    /// # Errors
    /// [`BalanceError::UnknownServer`].
    pub fn set_maxconn(&mut self, id: ServerId, maxconn: u32) -> Result<(), BalanceError> {
        let s = self
            .servers
            .get_mut(id.0 as usize)
            .ok_or(BalanceError::UnknownServer(id))?;
        s.maxconn = maxconn;
        self.heap_rebuild();
        Ok(())
    }

    /// Hashes `key` per `hash-type`; `None` when there is no key.
    #[must_use]
    pub fn hash_of(&self, key: HashKey<'_>) -> Option<u32> {
        let f = self.cfg.hash_type.function;
        let h = match key {
            HashKey::None => return None,
            HashKey::Hash(h) => h,
            HashKey::Bytes(b) => hash_bytes(f, b),
            HashKey::Addr(addr) => fold_addr(addr),
        };
        Some(if self.cfg.hash_type.avalanche {
            hash::avalanche(h)
        } else {
            h
        })
    }

    fn candidate(&self, i: u32, avoid: Option<u32>) -> bool {
        Some(i) != avoid && self.servers[i as usize].has_slot()
    }

    /// Weighted round robin by earliest virtual deadline (see `heap.rs`):
    /// the chosen server's deadline moves on by `VT_SCALE / weight`. Over
    /// any window each server gets its weight's share, evenly spread.
    fn pick_rr(&mut self, avoid: Option<u32>) -> Option<u32> {
        let pos = self.heap_best(avoid)?;
        let id = self.heap[pos];
        let s = &mut self.servers[id as usize];
        self.vt = s.deadline;
        s.deadline = s.deadline.wrapping_add(s.inc);
        self.heap_sift_down(pos);
        Some(id)
    }

    /// Next entry of the precomputed schedule with a free slot.
    fn pick_sched(&mut self, avoid: Option<u32>) -> Option<u32> {
        let n = self.sched.len();
        for _ in 0..n {
            let i = self.sched[self.sched_pos];
            self.sched_pos = (self.sched_pos + 1) % n;
            if self.candidate(i, avoid) {
                return Some(i);
            }
        }
        None
    }

    /// Fewest connections relative to weight by a scan (`leastconn` over a
    /// few servers, and the fallback of `random` when every draw hit a full
    /// server). Compares (conns + 1) / weight so that an idle heavy server
    /// is preferred to an idle light one. Equals take turns: the scan starts
    /// after the last chosen position.
    fn pick_least_loaded_scan(&mut self, avoid: Option<u32>) -> Option<u32> {
        let n = self.lb.len();
        let start = if self.cursor < n { self.cursor } else { 0 };
        // Best so far as (position, conns + 1, weight); compared by cross
        // multiplication. Two plain ranges instead of a modulo per step.
        let mut best: Option<(usize, u64, u64)> = None;
        for pos in (start..n).chain(0..start) {
            let i = self.lb[pos];
            let s = &self.servers[i as usize];
            if Some(i) == avoid || !s.has_slot() {
                continue;
            }
            let (load, w) = (u64::from(s.conns) + 1, u64::from(s.weight));
            if best.is_none_or(|(_, bl, bw)| load * bw < bl * w) {
                best = Some((pos, load, w));
            }
        }
        let (pos, _, _) = best?;
        self.cursor = pos + 1;
        Some(self.lb[pos])
    }

    /// (conns_a + 1) / w_a < (conns_b + 1) / w_b, without division.
    fn less_loaded(&self, a: u32, b: u32) -> bool {
        let (sa, sb) = (&self.servers[a as usize], &self.servers[b as usize]);
        (u64::from(sa.conns) + 1) * u64::from(sb.weight)
            < (u64::from(sb.conns) + 1) * u64::from(sa.weight)
    }

    fn pick_first(&self, avoid: Option<u32>) -> Option<u32> {
        self.lb.iter().copied().find(|&i| self.candidate(i, avoid))
    }

    /// Power of `draws` choices: draw servers with probability proportional
    /// to weight, keep the least loaded. If every draw hit a full or avoided
    /// server, fall back to a least-loaded scan so a free server is never
    /// missed.
    fn pick_random(&mut self, draws: u32, avoid: Option<u32>) -> Option<u32> {
        let mut best: Option<u32> = None;
        for _ in 0..draws {
            let r = self.next_random() % self.lb_weight;
            let pos = self.cum.partition_point(|&c| c <= r);
            let i = self.lb[pos];
            if self.candidate(i, avoid) && best.is_none_or(|b| self.less_loaded(i, b)) {
                best = Some(i);
            }
        }
        best.or_else(|| self.pick_least_loaded_scan(avoid))
    }

    fn pick_hash(&self, h: u32, avoid: Option<u32>) -> Result<ServerId, PickError> {
        let i = match self.cfg.hash_type.method {
            HashMethod::Consistent => self.ring.lookup(h, avoid),
            HashMethod::MapBased => {
                let n = self.sched.len();
                let start = h as usize % n;
                let first = self.sched[start];
                if Some(first) == avoid {
                    (1..n)
                        .map(|d| self.sched[(start + d) % n])
                        .find(|&s| s != first)
                        .or(Some(first))
                } else {
                    Some(first)
                }
            }
        }
        .ok_or(PickError::NoServer)?;
        if self.servers[i as usize].has_slot() {
            Ok(ServerId(i))
        } else {
            Err(PickError::ServerFull(ServerId(i)))
        }
    }

    /// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough to
    /// spread draws; not for anything secret.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Recomputes which servers take traffic and the tables the algorithm
    /// needs. Control plane only.
    fn rebuild(&mut self) {
        let servers = &self.servers;
        self.lb.clear();
        self.lb.extend(
            (0..servers.len() as u32)
                .filter(|&i| !servers[i as usize].backup && servers[i as usize].usable()),
        );
        if self.lb.is_empty() {
            let mut backups = (0..servers.len() as u32)
                .filter(|&i| servers[i as usize].backup && servers[i as usize].usable());
            if self.cfg.allbackups {
                self.lb.extend(backups);
            } else {
                self.lb.extend(backups.next());
            }
        }
        self.lb_weight = self
            .lb
            .iter()
            .map(|&i| u64::from(self.servers[i as usize].weight))
            .sum();
        // Round-robin deadlines: a server entering the set starts part of a
        // turn ahead of the current virtual time, the part staggered by its
        // position so that servers of equal weight alternate instead of
        // moving in lockstep (no burst, no starvation). One
        // whose weight changed keeps its place in its turn: the time left
        // until its deadline is scaled by new/old turn length, so it neither
        // jumps the queue nor loses its turn.
        let n = self.lb.len() as u128;
        for k in 0..self.lb.len() {
            let s = &mut self.servers[self.lb[k] as usize];
            // Rounded up so that w picks of a weight-w server never end before
            // one pick of a weight-1 server: ties then go by position.
            let inc = VT_SCALE.div_ceil(u64::from(s.weight));
            if !s.in_lb {
                let phase = u128::from(inc) * (k as u128 + 1) / (n + 1);
                s.deadline = self.vt.wrapping_add(phase as u64);
            } else if s.inc != inc {
                let left = if heap::earlier(s.deadline, self.vt) {
                    0
                } else {
                    s.deadline.wrapping_sub(self.vt)
                };
                let scaled = u128::from(left) * u128::from(inc) / u128::from(s.inc.max(1));
                s.deadline = self.vt.wrapping_add(scaled as u64);
            }
            s.inc = inc;
        }
        for s in &mut self.servers {
            s.in_lb = false;
        }
        for &i in &self.lb {
            self.servers[i as usize].in_lb = true;
        }
        if self.cfg.algorithm == Algorithm::LeastConn {
            // A scan of a handful of servers costs less than keeping a heap
            // in order on every open and close (measured: see the bench).
            self.heap_kind = if self.lb.len() > LEASTCONN_SCAN_MAX {
                HeapKind::Lc
            } else {
                HeapKind::None
            };
        }
        self.heap_rebuild();
        let algo = self.cfg.algorithm;
        let method = self.cfg.hash_type.method;
        let hashed = matches!(algo, Algorithm::Source | Algorithm::Hash);
        if algo == Algorithm::StaticRr || (hashed && method == HashMethod::MapBased) {
            self.build_schedule();
        }
        if hashed && method == HashMethod::Consistent {
            let servers = &self.servers;
            self.ring.rebuild(
                self.lb
                    .iter()
                    .map(|&i| (i, servers[i as usize].ring_key, servers[i as usize].weight)),
            );
        }
        if let Algorithm::Random { .. } = algo {
            self.cum.clear();
            let mut acc = 0;
            for &i in &self.lb {
                acc += u64::from(self.servers[i as usize].weight);
                self.cum.push(acc);
            }
        }
        self.cursor = 0;
    }

    /// Fills `sched` with each server of `lb` repeated `weight` times,
    /// interleaved the way HAProxy builds its map (observed on HAProxy 2.6
    /// and pinned by the golden tests, so `static-rr` cycles in HAProxy's
    /// order and map-based hashing sends each key to the server HAProxy
    /// would): for each slot, every server gains its weight in score; the one
    /// with the largest `(score + total) / total` (integer division; the
    /// first on ties) takes the slot and pays `total`.
    ///
    /// That costs O(total weight · N); above 2^24 steps (e.g. 1,000 servers
    /// of weight 20) the O(total · log N) deadline interleaving is used
    /// instead, which spreads servers as evenly but in another order.
    fn build_schedule(&mut self) {
        self.sched.clear();
        self.sched_pos = 0;
        let n = self.lb.len() as u64;
        if self.lb_weight.saturating_mul(n) > 1 << 24 {
            self.build_schedule_edf();
            return;
        }
        // Scores go negative (the winner pays the total): signed, and the
        // division rounds towards zero, as the observed maps require.
        let total = self.lb_weight as i64;
        let mut score: Vec<i64> = vec![0; self.lb.len()];
        for _ in 0..total {
            let mut best: Option<(usize, i64)> = None;
            for (k, &i) in self.lb.iter().enumerate() {
                score[k] += i64::from(self.servers[i as usize].weight);
                let v = (score[k] + total) / total;
                if best.is_none_or(|(_, bv)| v > bv) {
                    best = Some((k, v));
                }
            }
            if let Some((k, _)) = best {
                score[k] -= total;
                self.sched.push(self.lb[k]);
            }
        }
    }

    /// The schedule for very large backends: each server of `lb` repeated
    /// `weight` times, interleaved by earliest virtual deadline: occurrence k of a server of
    /// weight w is due at (2k+1)/(2w). This spreads each server evenly over
    /// the cycle (what smooth round robin does) in O(total · log N).
    fn build_schedule_edf(&mut self) {
        #[derive(PartialEq, Eq)]
        struct Due {
            num: u64,
            den: u64,
            id: u32,
        }
        impl Ord for Due {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                (self.num * o.den)
                    .cmp(&(o.num * self.den))
                    .then(self.id.cmp(&o.id))
            }
        }
        impl PartialOrd for Due {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        let mut heap: BinaryHeap<Reverse<Due>> = self
            .lb
            .iter()
            .map(|&i| {
                Reverse(Due {
                    num: 1,
                    den: 2 * u64::from(self.servers[i as usize].weight),
                    id: i,
                })
            })
            .collect();
        while let Some(Reverse(mut d)) = heap.pop() {
            self.sched.push(d.id);
            let w = d.den / 2;
            let k = (d.num - 1) / 2 + 1;
            if k < w {
                d.num = 2 * k + 1;
                heap.push(Reverse(d));
            }
        }
    }
}

/// The hash of a client address for `balance source`: its 32-bit
/// network-order words xor-ed together (the IPv4 address itself). The
/// `hash-type` function is not applied; `avalanche` is. This is what HAProxy
/// 2.6 does (measured: 480 source addresses over four configurations route
/// as HAProxy routes them, see the golden test), so clients keep their
/// server when a configuration moves from HAProxy to weir.
#[must_use]
pub fn fold_addr(addr: core::net::IpAddr) -> u32 {
    match addr {
        core::net::IpAddr::V4(a) => u32::from_be_bytes(a.octets()),
        core::net::IpAddr::V6(a) => a
            .octets()
            .chunks_exact(4)
            .fold(0, |h, w| h ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]])),
    }
}

/// Applies a `hash-type` function to key bytes.
#[must_use]
pub fn hash_bytes(f: HashFunction, key: &[u8]) -> u32 {
    match f {
        HashFunction::Sdbm => hash::sdbm(key),
        HashFunction::Djb2 => hash::djb2(key),
        HashFunction::Wt6 => hash::wt6(key),
        HashFunction::Crc32 => hash::crc32(key),
        // `none`: the key is a number written in decimal (the output of an
        // integer sample or converter); leading digits are taken, wrapping
        // to 32 bits, anything else gives 0.
        HashFunction::None => key
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u32, |h, &b| {
                h.wrapping_mul(10).wrapping_add(u32::from(b - b'0'))
            }),
    }
}
