//! One worker: a thread pinned to a CPU running its own ring, session pool,
//! timer queue, pipe and buffer pools, listeners (one SO_REUSEPORT socket per
//! bind line) and backend queues. Nothing here is shared with other workers
//! except the atomics of [`crate::shared`].
//!
//! The loop, once per turn: read the clock once; start connections deferred
//! by limits; (re)arm or pause listeners; serve backend queues; fire due
//! timers; submit and wait; dispatch completions. Completions carry a
//! `user_data` naming the session slot and its generation, so a completion
//! for a session that is gone is recognised and dropped. The loop itself
//! knows nothing of TCP forwarding: it hands completions to the session,
//! which answers with an [`Ask`].

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use weir_core::pool::{Pool, SlotKey};
use weir_core::timer::{Ticks, TimerQueue};
use weir_runtime::{sys, BufPool, Completion, OpKind, PipePool, Ring, UserData, MAX_SLOT};

use crate::log::RateLimit;
use crate::pick::{Pick, Picker};
use crate::plan::Plan;
use crate::shared::{bump, drop_by, Counters, Shared, HARD_STOP, SOFT_STOP};
use crate::tcp::flow::{Dir, Event, Io};
use crate::tcp::session::{
    Ask, CloseKind, Session, State, CONNECT, F_CONN_SLOT, F_SERVER_SLOT, NO_SERVER,
};
use crate::ProxyError;

// mode http: the worker's side of HTTP sessions lives with the HTTP
// subsystem; as a child module it reaches the worker's fields.
#[path = "http/glue.rs"]
mod http_glue;
// mode tcp: `tcp-request content` rules over the client's first bytes.
#[path = "tcp/inspect.rs"]
mod tcp_inspect;

/// Op kind of a listener's multishot accept (slot = listener index).
const ACCEPT: OpKind = OpKind(1);
/// Op kind of the wake-up eventfd poll.
const WAKE: OpKind = OpKind(2);

/// Submission queue entries per ring (the completion queue is 4×).
const RING_ENTRIES: u32 = 1024;
/// Initial room for accepted connections waiting for a connection slot
/// (above maxconn). The queue is not a limit: a connection the kernel has
/// already handed over is never closed for lack of room in it (see
/// `Worker::on_accept`).
const DEFERRED_ROOM: usize = 1024;
/// How long a listener pauses after running out of fds or memory.
const RESOURCE_PAUSE_MS: u64 = 100;
/// Longest sleep when something must be re-checked (limits freed by other
/// workers, queued sessions).
const POLL_LIMITS_MS: u64 = 10;
/// Longest sleep otherwise.
const IDLE_MS: u64 = 1000;

/// A listening socket given to a worker.
#[derive(Debug)]
pub struct ListenerFd {
    /// The socket (owned: closed by the worker).
    pub fd: RawFd,
    /// Frontend index in the plan.
    pub fe: u16,
    /// Local port.
    pub port: u16,
}

#[derive(Debug)]
struct Listener {
    fd: RawFd,
    fe: u16,
    port: u16,
    /// The multishot accept is in flight.
    armed: bool,
    /// A cancel of the multishot accept is in flight.
    cancelling: bool,
    /// Closed (soft stop).
    closed: bool,
    /// Paused until then (resource shortage).
    resume_at: Ticks,
}

struct Worker {
    id: usize,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    ring: Ring,
    pipes: PipePool,
    sessions: Pool<Session>,
    /// Current key of each slot, to check completion generations.
    keys: Vec<Option<SlotKey>>,
    timers: TimerQueue<SlotKey>,
    listeners: Vec<Listener>,
    queues: Vec<VecDeque<SlotKey>>,
    pickers: Vec<Picker>,
    /// Per backend: the health generation and server states last acted on
    /// (`on-marked-down` / `on-marked-up`).
    health_seen: Vec<(u32, Box<[bool]>)>,
    deferred: VecDeque<(RawFd, u16)>,
    now: Ticks,
    origin_ms: u64,
    accepted_this_turn: u32,
    soft_stopping: bool,
    hard_at: Option<Ticks>,
    hard: bool,
    splice_chunk: usize,
    log_fds: RateLimit,
    log_pool: RateLimit,
    log_accept: RateLimit,
    /// mode http: HTTP sessions and their scratch space.
    http: crate::http::HttpWorker,
    /// mode tcp: where `tcp-request content` peeks (sized on first use).
    peek_buf: Vec<u8>,
}

fn clock_ms(origin: u64) -> Ticks {
    Ticks(weir_runtime::monotonic_ms().saturating_sub(origin))
}

fn counters(shared: &Shared, id: usize) -> &Counters {
    &shared.counters[id]
}

/// Sets up worker `id` (on its own thread: the ring is single-issuer) and
/// runs it until stopped. `ready` is called once set-up succeeded or failed.
pub fn run(
    id: usize,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    listeners: Vec<ListenerFd>,
    ready: impl FnOnce(Result<(), ProxyError>),
) -> Result<(), ProxyError> {
    if let Some(Some(cpu)) = plan.cpus.get(id) {
        // Pinning is best effort (a CPU may be offline); weir runs anyway.
        let _ = weir_runtime::pin_current_thread(*cpu);
    }
    let mut w = match Worker::new(id, plan, shared, listeners) {
        Ok(w) => {
            ready(Ok(()));
            w
        }
        Err(e) => {
            let msg = e.to_string();
            ready(Err(e));
            return Err(ProxyError::Thread {
                worker: id,
                what: msg,
            });
        }
    };
    w.run()
}

impl Worker {
    fn new(
        id: usize,
        plan: Arc<Plan>,
        shared: Arc<Shared>,
        listeners: Vec<ListenerFd>,
    ) -> Result<Self, ProxyError> {
        let werr = |source| ProxyError::Worker { worker: id, source };
        let cap = (plan.global_maxconn as usize).clamp(1, MAX_SLOT as usize);
        let nbufs = cap.saturating_mul(2).min(weir_runtime::MAX_BUFS);
        let bufs = BufPool::new(nbufs, plan.bufsize);
        let ring = Ring::new(RING_ENTRIES, bufs, &plan.addrs).map_err(werr)?;
        // Each proxied connection has two sockets; the fds left for pipes
        // (see plan::default_maxconn) allow about maxconn/2 pipes per
        // process, shared among workers. Without a pipe a flow copies.
        let max_pipes = (plan.global_maxconn as usize / 2 / plan.nbthread.max(1)).max(4);
        let pipes = PipePool::new(max_pipes, plan.pipesize, 0).map_err(|e| {
            werr(weir_runtime::RuntimeError::Io {
                op: "pipe2",
                source: e,
            })
        })?;
        // Ask for more than a pipe holds: the kernel stops when the pipe's
        // slots are full, and on loopback a slot may carry a large page
        // fragment, so the pipe can take well over its nominal 64 KiB.
        let splice_chunk = 1 << 20;
        let queues = plan
            .backends
            .iter()
            .map(|_| VecDeque::with_capacity(cap.min(65_536)))
            .collect();
        let mut pickers = Vec::with_capacity(plan.backends.len());
        for (bi, be) in plan.backends.iter().enumerate() {
            // Validated by Plan::new; a distinct seed per worker for `random`.
            let bal =
                crate::pick::balancer(be, 0x9e37_79b9_7f4a_7c15 ^ id as u64).map_err(|e| {
                    ProxyError::Thread {
                        worker: id,
                        what: e.to_string(),
                    }
                })?;
            pickers.push(Picker::new(bal, Arc::clone(&shared.health[bi])));
        }
        let listeners = listeners
            .into_iter()
            .map(|l| Listener {
                fd: l.fd,
                fe: l.fe,
                port: l.port,
                armed: false,
                cancelling: false,
                closed: false,
                resume_at: Ticks(0),
            })
            .collect();
        let origin_ms = weir_runtime::monotonic_ms();
        Ok(Worker {
            id,
            shared,
            ring,
            pipes,
            sessions: Pool::with_capacity(cap),
            keys: vec![None; cap],
            timers: TimerQueue::with_capacity(cap),
            listeners,
            queues,
            pickers,
            health_seen: plan
                .backends
                .iter()
                .map(|b| (0, b.servers.iter().map(|_| true).collect()))
                .collect(),
            deferred: VecDeque::with_capacity(DEFERRED_ROOM),
            now: Ticks(0),
            origin_ms,
            accepted_this_turn: 0,
            soft_stopping: false,
            hard_at: None,
            hard: false,
            splice_chunk,
            log_fds: RateLimit::default(),
            log_pool: RateLimit::default(),
            log_accept: RateLimit::default(),
            http: crate::http::HttpWorker::new(cap, plan.bufsize, &plan),
            peek_buf: Vec::new(),
            plan,
        })
    }

    fn run(&mut self) -> Result<(), ProxyError> {
        let wake_fd = self.shared.wakers[self.id].fd();
        self.ring
            .poll_multi(wake_fd, libc::POLLIN as u32, UserData::new(WAKE, 0, 0));
        let mut cqes: Vec<Completion> = Vec::with_capacity(self.ring.cq_capacity());
        self.now = clock_ms(self.origin_ms);
        self.check_stop();
        loop {
            self.accepted_this_turn = 0;
            self.start_deferred();
            self.fire_timers();
            self.serve_queues();
            self.react_to_health();
            if let Some(h) = self.hard_at {
                if self.now >= h {
                    self.hard = true;
                }
            }
            if self.hard {
                self.close_everything();
                break;
            }
            if self.soft_stopping && self.sessions.is_empty() && self.deferred.is_empty() {
                break;
            }
            self.update_listeners();
            let timeout = self.wait_timeout();
            self.ring
                .submit_and_wait(Some(timeout))
                .map_err(|source| ProxyError::Worker {
                    worker: self.id,
                    source,
                })?;
            // The one clock read of the turn.
            self.now = clock_ms(self.origin_ms);
            bump(&counters(&self.shared, self.id).loop_turns, 1);
            loop {
                self.ring.reap(&mut cqes);
                let n = cqes.len();
                for c in cqes.drain(..) {
                    self.dispatch(c);
                }
                if n < cqes.capacity() {
                    break;
                }
            }
        }
        // Listeners closed, sessions closed: hand the queued closes to the kernel.
        for l in &mut self.listeners {
            if !l.closed {
                self.ring.cancel_and_close(l.fd);
                l.closed = true;
            }
        }
        let _ = self.ring.submit();
        Ok(())
    }

    fn wait_timeout(&self) -> Duration {
        let mut ms = IDLE_MS;
        if let Some(t) = self.timers.next_expiry() {
            ms = ms.min(t.saturating_ms_since(self.now));
        }
        let limited = self.listeners.iter().any(|l| !l.closed && !l.armed);
        if limited || !self.deferred.is_empty() || self.queues.iter().any(|q| !q.is_empty()) {
            ms = ms.min(POLL_LIMITS_MS);
        }
        if let Some(h) = self.hard_at {
            ms = ms.min(h.saturating_ms_since(self.now));
        }
        Duration::from_millis(ms)
    }

    fn check_stop(&mut self) {
        let level = self.shared.stop.load(Relaxed);
        if level >= SOFT_STOP && !self.soft_stopping {
            self.soft_stopping = true;
            // Stop listening: connections still in this socket's backlog are
            // refused by the kernel, new ones go to whoever still listens.
            for l in &mut self.listeners {
                if !l.closed {
                    self.ring.cancel_and_close(l.fd);
                    l.closed = true;
                    l.armed = false;
                }
            }
            self.hard_at = self.plan.hard_stop_after_ms.map(|ms| self.now.after_ms(ms));
        }
        if level >= HARD_STOP {
            self.hard = true;
        }
    }

    /// `on-marked-down shutdown-sessions` and `on-marked-up
    /// shutdown-backup-sessions`: after a health change (the checker wakes
    /// the workers), closes this worker's sessions on a server that went
    /// DOWN, or on the backup servers when a server with the second option
    /// came back UP.
    fn react_to_health(&mut self) {
        for be in 0..self.health_seen.len() {
            let health = &self.shared.health[be];
            let generation = health.generation();
            let (seen_gen, seen) = &mut self.health_seen[be];
            if generation == *seen_gen {
                continue;
            }
            *seen_gen = generation;
            let servers = &self.plan.backends[be].servers;
            let mut kill = vec![false; servers.len()];
            for (i, s) in servers.iter().enumerate() {
                let up = health.is_up(i);
                let was = std::mem::replace(&mut seen[i], up);
                if was && !up && s.shutdown_on_down {
                    kill[i] = true;
                }
                if !was && up && s.shutdown_backup_on_up {
                    for (j, b) in servers.iter().enumerate() {
                        kill[j] |= b.backup;
                    }
                }
            }
            if !kill.contains(&true) {
                continue;
            }
            let keys: Vec<SlotKey> = self
                .sessions
                .iter()
                .filter(|(_, s)| {
                    usize::from(s.be) == be
                        && s.flags & F_SERVER_SLOT != 0
                        && kill.get(usize::from(s.server)) == Some(&true)
                })
                .map(|(k, _)| k)
                .collect();
            for k in keys {
                self.close(k, CloseKind::Error);
            }
        }
    }

    fn close_everything(&mut self) {
        // Deferred connections hold no connection slot (they were deferred
        // because none could be reserved, or past tune.maxaccept).
        while let Some((fd, _)) = self.deferred.pop_front() {
            sys::close(fd);
        }
        let keys: Vec<SlotKey> = self.sessions.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.close(k, CloseKind::Error);
        }
    }

    fn reserve_conn(&self, fe: u16) -> bool {
        if !self.shared.global.reserve() {
            return false;
        }
        if !self.shared.frontends[usize::from(fe)].reserve() {
            self.shared.global.release();
            return false;
        }
        true
    }

    fn release_conn(&self, fe: u16) {
        self.shared.frontends[usize::from(fe)].release();
        self.shared.global.release();
    }

    fn update_listeners(&mut self) {
        let global_full = self.shared.global.is_full();
        // Connections still waiting for a slot: accept no more until they
        // have started (the kernel's backlog holds the rest).
        let backlog = !self.deferred.is_empty();
        for (i, l) in self.listeners.iter_mut().enumerate() {
            if l.closed {
                continue;
            }
            let want = !self.soft_stopping
                && !global_full
                && !backlog
                && !self.shared.frontends[usize::from(l.fe)].is_full()
                && self.now >= l.resume_at;
            if want && !l.armed {
                self.ring
                    .accept_multi(l.fd, UserData::new(ACCEPT, i as u32, 0));
                l.armed = true;
                l.cancelling = false;
            } else if !want && l.armed && !l.cancelling {
                // Above maxconn or short of resources: stop accepting; the
                // kernel keeps new connections in the listen backlog.
                self.ring.cancel_fd(l.fd);
                l.cancelling = true;
            }
        }
    }

    fn dispatch(&mut self, c: Completion) {
        match c.ud.kind() {
            OpKind::IGNORE => {}
            ACCEPT => self.on_accept(c),
            WAKE => {
                self.shared.wakers[self.id].drain();
                if !c.more {
                    let fd = self.shared.wakers[self.id].fd();
                    self.ring
                        .poll_multi(fd, libc::POLLIN as u32, UserData::new(WAKE, 0, 0));
                }
                self.check_stop();
            }
            kind => {
                let Some(Some(key)) = self.keys.get(c.ud.slot() as usize).copied() else {
                    return;
                };
                if !c.ud.is_generation(key.generation()) {
                    return; // stale: the session is gone
                }
                self.on_session(key, kind, c.result);
            }
        }
    }

    fn on_session(&mut self, key: SlotKey, kind: OpKind, result: i32) {
        // mode http: its own state machine handles every completion.
        if self.is_http(key) {
            self.on_http(key, kind, result);
            return;
        }
        if kind == tcp_inspect::INSPECT {
            self.on_inspect(key, result, false);
            return;
        }
        let now = self.now;
        let tag = (key.index(), key.generation());
        let Worker {
            sessions,
            ring,
            pipes,
            plan,
            shared,
            id,
            splice_chunk,
            ..
        } = self;
        let Some(s) = sessions.get_mut(key) else {
            return;
        };
        let mut io = Io {
            ring,
            pipes,
            splice_chunk: *splice_chunk,
        };
        let be = &plan.backends[usize::from(s.be)];
        let ask = if kind == CONNECT {
            if s.state != State::Connecting {
                return;
            }
            let (ask, timed_out) = s.on_connect(result, be, tag, &mut io, now);
            let c = counters(shared, *id);
            if result != 0 || timed_out {
                bump(&c.connect_errors, 1);
                if timed_out {
                    bump(&c.timeouts, 1);
                }
                if !matches!(ask, Ask::Close(_)) {
                    bump(&c.retries, 1);
                }
            }
            ask
        } else if let Some((dir, ev)) = Event::decode(kind, result) {
            let before = (s.bytes_in, s.bytes_out);
            let ask = s.on_flow(dir, ev, tag, &mut io, now);
            let c = counters(shared, *id);
            let (din, dout) = (s.bytes_in - before.0, s.bytes_out - before.1);
            bump(&c.bytes_in, din);
            bump(&c.bytes_out, dout);
            let spliced = match dir {
                Dir::ClientToServer if s.c2s.splices() => din,
                Dir::ServerToClient if s.s2c.splices() => dout,
                _ => 0,
            };
            bump(&c.spliced, spliced);
            ask
        } else {
            Ask::Wait
        };
        self.apply(key, ask);
    }

    /// Carries out what a session asked for, then re-arms its timer.
    fn apply(&mut self, key: SlotKey, ask: Ask) {
        match ask {
            Ask::Wait => {}
            Ask::Dispatch { avoid } => {
                if avoid.is_some() {
                    bump(&counters(&self.shared, self.id).redispatches, 1);
                }
                self.release_server(key);
                self.dispatch_session(key, avoid);
            }
            Ask::Reconnect => self.connect(key),
            Ask::Close(kind) => {
                self.close(key, kind);
                return;
            }
        }
        self.refresh_timer(key);
    }

    fn refresh_timer(&mut self, key: SlotKey) {
        // mode http: its deadlines depend on where the transaction is.
        if self.is_http(key) {
            self.http_refresh_timer(key);
            return;
        }
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        if s.flags & crate::tcp::session::F_INSPECT != 0 {
            // `tcp-request content` inspection: the inspect delay.
            let ms = self.plan.frontends[usize::from(s.fe)].inspect_ms;
            s.deadline = ms.map(|t| s.since.after_ms(t));
            if let Some(d) = s.deadline {
                self.timers.arm(&mut s.timer, key, d);
            }
            return;
        }
        let d = s.deadline(
            &self.plan.frontends[usize::from(s.fe)],
            &self.plan.backends[usize::from(s.be)],
        );
        let d = if s.state == State::Connecting
            && s.flags & crate::tcp::session::F_CONNECT_TIMED_OUT != 0
        {
            None
        } else {
            d
        };
        s.deadline = d;
        if let Some(d) = d {
            self.timers.arm(&mut s.timer, key, d);
        }
    }

    fn release_server(&mut self, key: SlotKey) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        if s.flags & F_SERVER_SLOT != 0 {
            s.flags &= !F_SERVER_SLOT;
            let (be, srv) = (usize::from(s.be), s.server);
            s.server = NO_SERVER;
            self.shared.servers[be][usize::from(srv)].release();
            self.pickers[be].closed(srv);
        }
    }

    /// Picks a server for the session and connects, or queues it, or closes it.
    fn dispatch_session(&mut self, key: SlotKey, avoid: Option<u16>) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let be = usize::from(s.be);
        let gauges = &self.shared.servers[be];
        let client = if self.pickers[be].needs_client_addr() {
            sys::peer_addr(s.cli).ok().map(|a| a.ip())
        } else {
            None
        };
        // `use-server` (mode tcp: conditions on addresses only); a server
        // being avoided (redispatch) or at its maxconn leaves the choice to
        // the balancer.
        let rules = &self.plan.backends[be].use_server;
        let mut forced = None;
        if !rules.is_empty() {
            let mut view = crate::http::sample::L4 {
                src: sys::peer_addr(s.cli).ok(),
                dst: sys::local_addr(s.cli).ok(),
            };
            let servers = &self.plan.backends[be].servers;
            let health = &self.shared.health[be];
            let scratch = &mut self.http.scratch;
            // As in HAProxy, a rule naming a DOWN server is passed over.
            forced = rules
                .iter()
                .find(|(c, i)| {
                    !servers[usize::from(*i)].disabled
                        && health.is_up(usize::from(*i))
                        && c.as_ref().is_none_or(|c| {
                            c.eval(&mut view, scratch) == weir_core::acl::Verdict::True
                        })
                })
                .map(|(_, i)| *i)
                .filter(|i| avoid != Some(*i) && !gauges[usize::from(*i)].is_full());
        }
        let mut pick = match forced {
            Some(i) => Pick::Server(i),
            None => self.pickers[be].pick(avoid, client, |i| gauges[usize::from(i)].is_full()),
        };
        if let Pick::Server(i) = pick {
            if !gauges[usize::from(i)].reserve() {
                // Another worker took the last slot meanwhile.
                pick = Pick::Queue;
            }
        }
        match pick {
            Pick::Server(i) => {
                s.assign(i);
                self.pickers[be].opened(i);
                self.connect(key);
            }
            Pick::Queue => {
                s.enqueue(self.now);
                bump(&counters(&self.shared, self.id).queued, 1);
                self.queues[be].push_back(key);
            }
            Pick::NoServer => self.close(key, CloseKind::NoServer),
        }
    }

    fn connect(&mut self, key: SlotKey) {
        let now = self.now;
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let server = &self.plan.backends[usize::from(s.be)].servers[usize::from(s.server)];
        let Some(addr_id) = server.addr.for_port(s.port) else {
            self.close(key, CloseKind::Error);
            return;
        };
        let Some(addr) = self.ring.addr(addr_id) else {
            self.close(key, CloseKind::Error);
            return;
        };
        let fd = match sys::connect_socket(&addr) {
            Ok(fd) => fd,
            Err(e) => {
                // Out of fds (or memory): a failed attempt like a refused
                // connect (retried after the turn-around delay, when fds may
                // be back), and listeners pause so that new connections wait
                // in the backlog instead of taking the last descriptors.
                self.log_fds.warn(
                    now,
                    self.id,
                    format_args!("cannot create a socket to {addr}: {e}; pausing listeners briefly, existing sessions unaffected"),
                );
                for l in &mut self.listeners {
                    l.resume_at = now.after_ms(RESOURCE_PAUSE_MS);
                }
                let ask = s.connect_failed(&self.plan.backends[usize::from(s.be)], now);
                let c = counters(&self.shared, self.id);
                bump(&c.connect_errors, 1);
                if !matches!(ask, Ask::Close(_)) {
                    bump(&c.retries, 1);
                }
                self.apply(key, ask);
                return;
            }
        };
        if s.begin_connect(
            fd,
            addr_id,
            key.index(),
            key.generation(),
            &mut self.ring,
            now,
        )
        .is_err()
        {
            self.close(key, CloseKind::Error);
        }
    }

    fn on_accept(&mut self, c: Completion) {
        let li = c.ud.slot() as usize;
        let Some(l) = self.listeners.get_mut(li) else {
            return;
        };
        if !c.more {
            l.armed = false;
            l.cancelling = false;
        }
        if c.result < 0 {
            let err = -c.result;
            if err == libc::ECANCELED {
                return;
            }
            l.resume_at = self.now.after_ms(RESOURCE_PAUSE_MS);
            let e = std::io::Error::from_raw_os_error(err);
            if matches!(
                err,
                libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
            ) {
                self.log_fds.warn(
                    self.now,
                    self.id,
                    format_args!(
                        "accept: {e}; pausing listeners briefly, existing sessions unaffected"
                    ),
                );
            } else {
                self.log_accept
                    .warn(self.now, self.id, format_args!("accept: {e}"));
            }
            return;
        }
        let fd = c.result;
        let fe = l.fe;
        self.accepted_this_turn += 1;
        // A multishot accept keeps posting connections until its cancel is
        // seen, and a burst can fill the completion queue between two
        // turns: tune.maxaccept therefore stops the accept (the rest wait in
        // the kernel's backlog; `update_listeners` re-arms next turn) rather
        // than refusing what the kernel already handed over.
        if self.accepted_this_turn >= self.plan.maxaccept {
            self.stop_accepting(li, c.more);
        }
        if !self.deferred.is_empty() || !self.reserve_conn(fe) {
            // Above maxconn (or behind connections that are): the
            // connection waits for a slot, as it would in the listen
            // backlog, and the listener stops until the queue drains. The
            // queue grows past DEFERRED_ROOM only in the window between the
            // limit being hit and the cancel taking effect; a connection
            // accepted by the kernel is never closed for lack of room.
            self.deferred.push_back((fd, li as u16));
            self.stop_accepting(li, c.more);
            return;
        }
        self.start(fd, li);
    }

    /// Cancels listener `li`'s multishot accept if it is still running
    /// (`more`: the completion just seen was not its last).
    fn stop_accepting(&mut self, li: usize, more: bool) {
        let l = &mut self.listeners[li];
        if more && l.armed && !l.cancelling {
            self.ring.cancel_fd(l.fd);
            l.cancelling = true;
        }
    }

    fn start_deferred(&mut self) {
        let mut n = 0;
        while n < self.plan.maxaccept {
            let Some(&(fd, li)) = self.deferred.front() else {
                break;
            };
            let fe = self.listeners[usize::from(li)].fe;
            if !self.reserve_conn(fe) {
                break;
            }
            self.deferred.pop_front();
            self.start(fd, usize::from(li));
            n += 1;
        }
    }

    /// Starts a session for accepted `fd` (its connection slots are reserved).
    fn start(&mut self, fd: RawFd, li: usize) {
        let (fe, port) = (self.listeners[li].fe, self.listeners[li].port);
        let c = counters(&self.shared, self.id);
        bump(&c.accepted, 1);
        let fplan = &self.plan.frontends[usize::from(fe)];
        // `tcp-request connection`: the first rule that matches decides;
        // `reject` closes at once, sending nothing.
        if !fplan.tcp_connection.is_empty() {
            let mut view = crate::http::sample::L4 {
                src: sys::peer_addr(fd).ok(),
                dst: sys::local_addr(fd).ok(),
            };
            let scratch = &mut self.http.scratch;
            let rejected = fplan
                .tcp_connection
                .iter()
                .find(|r| {
                    r.cond
                        .as_ref()
                        .is_none_or(|c| c.eval(&mut view, scratch) == weir_core::acl::Verdict::True)
                })
                .is_some_and(|r| r.action == weir_config::kw::rules::TcpAction::Reject);
            if rejected {
                sys::close(fd);
                self.release_conn(fe);
                bump(&c.denied, 1);
                return;
            }
        }
        // mode http: the backend is chosen per request.
        if fplan.http.is_some() {
            self.start_http(fd, li, fe, port);
            return;
        }
        let Some(be) = fplan.backend else {
            sys::close(fd);
            self.release_conn(fe);
            bump(&c.no_server, 1);
            return;
        };
        let _ = sys::set_nodelay(fd);
        let bplan = &self.plan.backends[be];
        let mut s = Session::new(
            fd,
            fe,
            be as u16,
            port,
            bplan.retries,
            self.now,
            (bplan.splice_request, bplan.splice_response),
        );
        s.flags |= F_CONN_SLOT;
        let key = match self.sessions.insert(s) {
            Ok(k) => k,
            Err(_) => {
                sys::close(fd);
                self.release_conn(fe);
                bump(&c.refused, 1);
                self.listeners[li].resume_at = self.now.after_ms(RESOURCE_PAUSE_MS);
                self.log_pool.warn(
                    self.now,
                    self.id,
                    format_args!("session pool full; pausing listeners briefly"),
                );
                return;
            }
        };
        self.keys[key.index() as usize] = Some(key);
        bump(&c.active, 1);
        if !self.plan.frontends[usize::from(fe)].tcp_content.is_empty() {
            self.start_inspect(key);
            return;
        }
        self.dispatch_session(key, None);
        self.refresh_timer(key);
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        loop {
            let sessions = &self.sessions;
            let Some(key) = self
                .timers
                .pop_expired(now, |k| sessions.get(k).and_then(|s| s.deadline))
            else {
                break;
            };
            // mode http: HTTP timeouts answer 408/504 or close.
            if self.is_http(key) {
                self.http_timeout(key);
                continue;
            }
            if self.inspecting(key) {
                self.on_inspect(key, 0, true);
                continue;
            }
            let Some(s) = self.sessions.get_mut(key) else {
                continue;
            };
            let ask = s.on_timeout(&mut self.ring);
            self.apply(key, ask);
        }
    }

    fn serve_queues(&mut self) {
        for be in 0..self.queues.len() {
            while let Some(&key) = self.queues[be].front() {
                let queued = self
                    .sessions
                    .get(key)
                    .is_some_and(|s| s.state == State::Queued);
                if !queued {
                    self.queues[be].pop_front();
                    continue;
                }
                let gauges = &self.shared.servers[be];
                let cli = self.sessions.get(key).map_or(-1, |s| s.cli);
                let client = if self.pickers[be].needs_client_addr() {
                    sys::peer_addr(cli).ok().map(|a| a.ip())
                } else {
                    None
                };
                let pick =
                    self.pickers[be].pick(None, client, |i| gauges[usize::from(i)].is_full());
                match pick {
                    Pick::Server(i) if gauges[usize::from(i)].reserve() => {
                        self.queues[be].pop_front();
                        drop_by(&counters(&self.shared, self.id).queued, 1);
                        if let Some(s) = self.sessions.get_mut(key) {
                            s.assign(i);
                        }
                        self.pickers[be].opened(i);
                        self.connect(key);
                        self.refresh_timer(key);
                    }
                    Pick::NoServer => {
                        self.queues[be].pop_front();
                        self.close(key, CloseKind::NoServer);
                    }
                    _ => break,
                }
            }
        }
    }

    /// Ends a session: frees its slot now, hands its fds to the ring
    /// (cancel then close), releases its limits and resources.
    fn close(&mut self, key: SlotKey, kind: CloseKind) {
        // mode http: a session still waiting for a server answers 503 first.
        if self.http_close_hook(key, kind) {
            return;
        }
        let Some(mut s) = self.sessions.remove(key) else {
            return;
        };
        self.keys[key.index() as usize] = None;
        // mode http: its buffers go back to the pool, and a reusable server
        // connection to the server's idle list (then `s.srv` is -1).
        if self.is_http(key) {
            self.http_forget(key.index(), &mut s, kind);
        }
        let mut io = Io {
            ring: &mut self.ring,
            pipes: &mut self.pipes,
            splice_chunk: self.splice_chunk,
        };
        s.release(&mut io);
        let fplan = &self.plan.frontends[usize::from(s.fe)];
        // mode http: a session may end before any backend was chosen.
        let bplan = self.plan.backends.get(usize::from(s.be));
        if let (true, Some(bplan)) = (fplan.tcplog, bplan) {
            let client = sys::peer_addr(s.cli).ok();
            crate::log::tcplog(client, &s, fplan, bplan, kind);
        }
        // RST propagation: a reset on one side is passed on as a reset.
        if s.cli >= 0 && (kind == CloseKind::ServerReset || fplan.nolinger) {
            let _ = sys::set_linger_zero(s.cli);
        }
        if s.srv >= 0 && (kind == CloseKind::ClientReset || bplan.is_some_and(|b| b.nolinger)) {
            let _ = sys::set_linger_zero(s.srv);
        }
        if s.cli >= 0 {
            self.ring.cancel_and_close(s.cli);
        }
        if s.srv >= 0 {
            self.ring.cancel_and_close(s.srv);
        }
        if s.flags & F_SERVER_SLOT != 0 {
            self.shared.servers[usize::from(s.be)][usize::from(s.server)].release();
            self.pickers[usize::from(s.be)].closed(s.server);
        }
        if s.flags & F_CONN_SLOT != 0 {
            self.release_conn(s.fe);
        }
        let c = counters(&self.shared, self.id);
        if s.state == State::Queued {
            drop_by(&c.queued, 1);
        }
        drop_by(&c.active, 1);
        match kind {
            CloseKind::ClientReset | CloseKind::ServerReset => bump(&c.resets, 1),
            CloseKind::Timeout => bump(&c.timeouts, 1),
            CloseKind::QueueTimeout => bump(&c.queue_timeouts, 1),
            CloseKind::NoServer => bump(&c.no_server, 1),
            CloseKind::Normal | CloseKind::Error => {}
        }
    }
}
