//! `mode http`: HTTP/1.x proxying on the io_uring workers.
//!
//! LIFECYCLE. The worker accepts a client of a `mode http` frontend and
//! creates, in the same slot, its connection bookkeeping
//! ([`crate::tcp::session::Session`]: sockets, backend, server, retries,
//! limits, timer) and an [`session::HttpSession`]. The HTTP session reads
//! the request head with the checkpointed parser of `weir-http`
//! ([`session::Req::Head`]); once complete it runs the frontend's
//! `tcp-request content` rules ([`plan::TcpRulePlan`]: `reject` closes)
//! and `http-request` rules ([`plan::Rule`], conditions by the ACL engine
//! over [`sample::View`]; `set-var` and `capture` write the connection's
//! [`vars::Vars`]), picks the backend (`use_backend … if`, then
//! `default_backend`), runs the backend's rules the same way (not again
//! for a `listen` serving itself) and its `use-server` rules, rebuilds the
//! head ([`compose`]: hop-by-hop fields removed, edits applied,
//! `X-Forwarded-For`) and asks the worker to [`session::HttpAsk::Route`] it
//! (a `tarpit` rule instead holds it in [`session::Req::Tarpit`] until its
//! deadline, then answers 500 or its `deny_status`).
//! The worker reuses the server connection of the previous transaction when
//! it serves the same backend (and the server `use-server` chose, if any) (`http-reuse safe`: only requests that follow
//! the first one of a client connection ride on it, and one that fails
//! before any answer is sent again on a new connection), or picks a server
//! and connects with the tcp machinery (queue, retries, redispatch), then
//! calls [`session::HttpSession::server_ready`]. The request body follows
//! per its framing ([`session::Req::Body`]), the response head is parsed
//! and rebuilt the same way ([`session::Res::Head`]; 1xx heads pass
//! through, a 101 turns both directions into a tunnel), the body follows,
//! and the transaction ends ([`session::HttpSession`]'s `txn_done`): each
//! side is kept or closed per `option http-keep-alive|http-server-close|
//! httpclose` and the messages' own persistence, and the next (possibly
//! already pipelined) request is served. Errors become HAProxy's statuses
//! with weir's pages or the configured `errorfile`: 400/414/431 (parser,
//! with a log line giving reason and offset), 403 (`deny`), 405 (CONNECT),
//! 408 (`timeout http-request`), 500 (rewrite overflow), 502 (invalid
//! response; that server connection is never reused), 503 (no server),
//! 504 (`timeout server` before the response).
//!
//! The glue between the worker loop and this state machine lives in
//! `glue.rs`, a child module of the worker (it needs the worker's fields);
//! the loop's own code only gained a few dispatch points.

pub mod compose;
pub mod plan;
pub mod sample;
pub mod session;
pub mod vars;

use weir_core::acl::Scratch;
use weir_core::timer::Ticks;

use self::compose::Edits;
use self::session::{HttpSession, Report, TxnPool};

/// No HTTP session in this connection slot.
const NONE: u32 = u32::MAX;

/// A session borrowed with the worker-wide state its handlers use: scratch
/// space, pending edits, a temporary buffer, counters and the parser pool.
pub type SessionParts<'a> = (
    &'a mut HttpSession,
    &'a mut Scratch,
    &'a mut Edits,
    &'a mut Vec<u8>,
    &'a mut Report,
    &'a mut TxnPool,
);

/// The HTTP part of one worker: the sessions (found by the slot index of
/// their connection session) and the scratch space every transaction
/// reuses, so that steady state allocates nothing.
///
/// Sessions are kept in a slab that grows to the peak concurrency and is
/// reused most-recently-freed first. The parsers (two header tables, about
/// 4 KiB) are not part of a session: only a transaction under way holds
/// them, taken from and given back to [`TxnPool`], so an idle keep-alive
/// connection costs a few hundred bytes.
pub struct HttpWorker {
    slab: Vec<HttpSession>,
    free: Vec<u32>,
    /// Connection slot index → slab index.
    map: Vec<u32>,
    /// ACL evaluation scratch.
    pub scratch: Scratch,
    /// Rule edits of the message being rebuilt.
    pub edits: Edits,
    /// Assembly buffer of `tune.bufsize` bytes.
    pub tmp: Vec<u8>,
    /// Counters.
    pub report: Report,
    /// Spare parsers for the transactions of this worker's sessions.
    pub txns: TxnPool,
    /// Idle server connections per backend and server (`http-reuse`):
    /// most recently parked last, with the time it was parked.
    idle: Vec<Vec<Vec<(std::os::fd::RawFd, Ticks)>>>,
}

/// Idle connections kept per server and worker.
pub const IDLE_PER_SERVER: usize = 64;
/// An idle server connection older than this is closed rather than reused
/// (HAProxy's `pool-purge-delay` default): servers close idle connections
/// on their own schedule, and an old one is likely gone.
pub const IDLE_PURGE_MS: u64 = 5000;

impl HttpWorker {
    /// Room for `cap` connection slots with `bufsize`-byte buffers.
    #[must_use]
    pub fn new(cap: usize, bufsize: usize, plan: &crate::plan::Plan) -> Self {
        HttpWorker {
            slab: Vec::new(),
            free: Vec::new(),
            map: vec![NONE; cap],
            scratch: Scratch::new(),
            edits: Edits::default(),
            tmp: vec![0; bufsize],
            report: Report::default(),
            txns: TxnPool::default(),
            idle: plan
                .backends
                .iter()
                .map(|b| b.servers.iter().map(|_| Vec::new()).collect())
                .collect(),
        }
    }

    /// Parks idle server connection `fd` of server `srv` of backend `be`.
    /// Returns false (the caller closes it) when that list is full.
    pub fn park(&mut self, be: usize, srv: usize, fd: std::os::fd::RawFd, now: Ticks) -> bool {
        match self.idle.get_mut(be).and_then(|b| b.get_mut(srv)) {
            Some(list) if list.len() < IDLE_PER_SERVER => {
                list.push((fd, now));
                true
            }
            _ => false,
        }
    }

    /// Takes the most recently parked connection to server `srv` of backend
    /// `be`, handing those too old to `close`.
    pub fn take(
        &mut self,
        be: usize,
        srv: usize,
        now: Ticks,
        mut close: impl FnMut(std::os::fd::RawFd),
    ) -> Option<std::os::fd::RawFd> {
        let list = self.idle.get_mut(be)?.get_mut(srv)?;
        // Oldest first at the front: drop the stale ones there.
        let stale = list
            .iter()
            .take_while(|(_, t)| now.saturating_ms_since(*t) > IDLE_PURGE_MS)
            .count();
        for (fd, _) in list.drain(..stale) {
            close(fd);
        }
        list.pop().map(|(fd, _)| fd)
    }

    /// Whether connection slot `index` is an HTTP session.
    #[must_use]
    pub fn is_http(&self, index: u32) -> bool {
        self.map.get(index as usize).is_some_and(|&i| i != NONE)
    }

    /// Attaches a fresh HTTP session to connection slot `index`.
    pub fn attach(&mut self, index: u32, opts: weir_http::Options, now: Ticks) {
        let Some(m) = self.map.get_mut(index as usize) else {
            return;
        };
        let i = if let Some(i) = self.free.pop() {
            self.slab[i as usize].reset(opts, now);
            i
        } else {
            self.slab.push(HttpSession::new(opts, now));
            u32::try_from(self.slab.len() - 1).unwrap_or(NONE)
        };
        *m = i;
    }

    /// Detaches the HTTP session of slot `index` (its buffers must have
    /// been released); the slab entry is kept for the next connection.
    pub fn detach(&mut self, index: u32) {
        if let Some(m) = self.map.get_mut(index as usize) {
            if *m != NONE {
                self.free.push(*m);
                *m = NONE;
            }
        }
    }

    /// The HTTP session of slot `index` and the shared scratch space.
    pub fn get(&mut self, index: u32) -> Option<SessionParts<'_>> {
        let i = *self.map.get(index as usize)?;
        let h = self.slab.get_mut(i as usize)?;
        Some((
            h,
            &mut self.scratch,
            &mut self.edits,
            &mut self.tmp,
            &mut self.report,
            &mut self.txns,
        ))
    }
}
