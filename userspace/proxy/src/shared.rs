//! The little state workers share, all of it atomics touched once per
//! connection (never per packet): connection counts for the global,
//! frontend and server `maxconn` limits, the stop request, and per-worker
//! counters that only their worker writes. The one exception, the error
//! captures of `show errors`, is written only when a message is rejected.
//!
//! Why shared counts rather than per-worker shares of each limit: HAProxy's
//! limits are process-wide, and splitting `maxconn 10` between two workers
//! would refuse the 6th connection on a busy worker while the other is idle.
//! One relaxed atomic add per connection open and close is cheap; a limit
//! may be exceeded by at most one connection per worker in a race, which
//! `reserve` corrects by undoing its add.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use weir_runtime::Waker;

/// A concurrency counter with its limit.
#[derive(Debug)]
pub struct Gauge {
    cur: AtomicU32,
    max: u32,
}

impl Gauge {
    /// A gauge limited to `max` (0 = unlimited).
    #[must_use]
    pub fn new(max: u32) -> Self {
        Gauge {
            cur: AtomicU32::new(0),
            max: if max == 0 { u32::MAX } else { max },
        }
    }

    /// Takes one unit if below the limit.
    pub fn reserve(&self) -> bool {
        let prev = self.cur.fetch_add(1, Relaxed);
        if prev >= self.max {
            self.cur.fetch_sub(1, Relaxed);
            return false;
        }
        true
    }

    /// Gives one unit back.
    pub fn release(&self) {
        self.cur.fetch_sub(1, Relaxed);
    }

    /// Units in use.
    #[must_use]
    pub fn current(&self) -> u32 {
        self.cur.load(Relaxed)
    }

    /// Whether a `reserve` would fail now.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.current() >= self.max
    }
}

/// What the health checks (see [`crate::check`]) say about the servers of
/// one backend. Only the checker writes it; a worker's picker compares
/// `generation` with the last one it saw before each pick (one relaxed load)
/// and reads the flags only after a change.
#[derive(Debug)]
pub struct Health {
    /// Per server: false while its checks say DOWN. Servers without `check`
    /// stay true.
    up: Box<[AtomicBool]>,
    /// Bumped after every change of `up`.
    generation: AtomicU32,
}

impl Health {
    /// `n` servers, all up.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Health {
            up: (0..n).map(|_| AtomicBool::new(true)).collect(),
            generation: AtomicU32::new(0),
        }
    }

    /// Whether server `i` passes its checks (true for an unknown index).
    #[must_use]
    pub fn is_up(&self, i: usize) -> bool {
        self.up.get(i).is_none_or(|u| u.load(Relaxed))
    }

    /// Records the state of server `i` (the checker).
    pub fn set(&self, i: usize, up: bool) {
        if let Some(u) = self.up.get(i) {
            if u.swap(up, Relaxed) != up {
                // Release: a picker that sees the new generation (Acquire)
                // sees the flag too.
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::Release);
            }
        }
    }

    /// Changes so far (compare to see whether anything changed).
    #[must_use]
    pub fn generation(&self) -> u32 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Counters of one worker. Only that worker writes them (plain load+store,
/// no read-modify-write); anyone may read them.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Counters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Sessions alive now.
    pub active: AtomicU64,
    /// Bytes client → server.
    pub bytes_in: AtomicU64,
    /// Bytes server → client.
    pub bytes_out: AtomicU64,
    /// Failed connection attempts to servers (refused, timed out, reset).
    pub connect_errors: AtomicU64,
    /// Connection retries.
    pub retries: AtomicU64,
    /// Retries sent to another server (`option redispatch`).
    pub redispatches: AtomicU64,
    /// Sessions closed by a timeout (connect, client, server, tunnel, fin).
    pub timeouts: AtomicU64,
    /// Sessions waiting in a backend queue now.
    pub queued: AtomicU64,
    /// Sessions that left a queue on `timeout queue`.
    pub queue_timeouts: AtomicU64,
    /// Sessions closed because no server was usable or every retry failed.
    pub no_server: AtomicU64,
    /// Sessions closed by a reset from either side.
    pub resets: AtomicU64,
    /// Connections closed at once for lack of resources (fds, pool slots).
    pub refused: AtomicU64,
    /// Connections closed by a `tcp-request connection|content reject`.
    pub denied: AtomicU64,
    /// Bytes moved by splice (both directions).
    pub spliced: AtomicU64,
    /// Event-loop turns (one `io_uring_enter` wait each).
    pub loop_turns: AtomicU64,
}

/// Adds `n` to a counter only the calling worker writes.
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Subtracts `n` from a gauge only the calling worker writes.
pub fn drop_by(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_sub(n), Relaxed);
}

/// A snapshot of the counters summed over workers (see [`crate::Running::stats`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Sessions alive now.
    pub active: u64,
    /// Bytes client → server.
    pub bytes_in: u64,
    /// Bytes server → client.
    pub bytes_out: u64,
    /// Failed connection attempts to servers.
    pub connect_errors: u64,
    /// Connection retries.
    pub retries: u64,
    /// Retries sent to another server.
    pub redispatches: u64,
    /// Sessions closed by a timeout.
    pub timeouts: u64,
    /// Sessions waiting in a backend queue now.
    pub queued: u64,
    /// Sessions that left a queue on `timeout queue`.
    pub queue_timeouts: u64,
    /// Sessions closed with no usable server or after the last retry.
    pub no_server: u64,
    /// Sessions closed by a reset.
    pub resets: u64,
    /// Connections closed at once for lack of resources.
    pub refused: u64,
    /// Connections closed by a `tcp-request … reject` rule.
    pub denied: u64,
    /// Bytes moved by splice.
    pub spliced: u64,
    /// Event-loop turns.
    pub loop_turns: u64,
}

/// Stop requests, in increasing strength.
pub const RUN: u8 = 0;
/// Soft stop (SIGUSR1).
pub const SOFT_STOP: u8 = 1;
/// Hard stop (SIGTERM).
pub const HARD_STOP: u8 = 2;

/// What workers share.
#[derive(Debug)]
pub struct Shared {
    /// Global `maxconn`.
    pub global: Gauge,
    /// Per frontend (plan order).
    pub frontends: Box<[Gauge]>,
    /// Per backend, per server.
    pub servers: Box<[Box<[Gauge]>]>,
    /// Per backend: server states from the health checks.
    pub health: Box<[Arc<Health>]>,
    /// Per worker.
    pub counters: Box<[Counters]>,
    /// Per worker.
    pub wakers: Box<[Waker]>,
    /// [`RUN`], [`SOFT_STOP`] or [`HARD_STOP`].
    pub stop: AtomicU8,
    /// Last invalid request/response per proxy (written only on a parse
    /// error, under a mutex: see [`crate::capture`]).
    pub captures: crate::capture::Captures,
}

impl Shared {
    /// Requests a stop of strength `level` and wakes every worker.
    pub fn request_stop(&self, level: u8) {
        self.stop.fetch_max(level, Relaxed);
        for w in &*self.wakers {
            w.wake();
        }
    }

    /// Sums the counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for c in &*self.counters {
            s.accepted += c.accepted.load(Relaxed);
            s.active += c.active.load(Relaxed);
            s.bytes_in += c.bytes_in.load(Relaxed);
            s.bytes_out += c.bytes_out.load(Relaxed);
            s.connect_errors += c.connect_errors.load(Relaxed);
            s.retries += c.retries.load(Relaxed);
            s.redispatches += c.redispatches.load(Relaxed);
            s.timeouts += c.timeouts.load(Relaxed);
            s.queued += c.queued.load(Relaxed);
            s.queue_timeouts += c.queue_timeouts.load(Relaxed);
            s.no_server += c.no_server.load(Relaxed);
            s.resets += c.resets.load(Relaxed);
            s.refused += c.refused.load(Relaxed);
            s.denied += c.denied.load(Relaxed);
            s.spliced += c.spliced.load(Relaxed);
            s.loop_turns += c.loop_turns.load(Relaxed);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_limits_and_releases() {
        let g = Gauge::new(2);
        assert!(g.reserve());
        assert!(g.reserve());
        assert!(!g.reserve());
        assert!(g.is_full());
        g.release();
        assert!(g.reserve());
        assert_eq!(g.current(), 2);
    }

    #[test]
    fn zero_is_unlimited() {
        let g = Gauge::new(0);
        for _ in 0..1000 {
            assert!(g.reserve());
        }
    }
}
