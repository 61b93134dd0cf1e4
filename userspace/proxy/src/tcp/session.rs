//! The TCP (`mode tcp`) session state machine: one client connection, the
//! server connection made for it, and the two [`Flow`]s between them.
//!
//! LIFECYCLE: the worker accepts a client and creates a [`Session`] (no
//! server yet). [`Session::assign`] records the server the balancer chose,
//! [`Session::begin_connect`] starts the connection ([`State::Connecting`]);
//! when no server has a free slot the session waits in its backend's queue
//! ([`State::Queued`]). [`Session::on_connect`] either starts forwarding
//! ([`State::Forwarding`]) or asks for a retry (same server after the
//! turn-around delay, [`State::RetryWait`], or another server on the last
//! retry with `option redispatch`). [`Session::on_flow`] moves bytes until
//! both directions are done or a side resets; [`Session::on_timeout`]
//! applies `timeout connect|queue|client|server|tunnel|client-fin|server-fin`.
//! Whatever ends the session, the worker frees it at once: its fds go to
//! the ring (cancel, then close), its buffer is parked by the pool until any
//! in-flight completion, so no "closing" state has to wait in the table.
//! Every request to the worker is an [`Ask`].

use std::os::fd::RawFd;

use weir_core::timer::{Ticks, TimerHandle};
use weir_runtime::{AddrId, OpKind, Ring, UserData};

use super::flow::{Dir, Event, Flow, Io, Outcome, State as FlowState, Tag};
use crate::plan::{BackendPlan, FrontendPlan};

/// Op kind of a session's server connect.
pub const CONNECT: OpKind = OpKind(3);

/// No server assigned.
pub const NO_SERVER: u16 = u16::MAX;

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Accepted; no server yet (momentary: the worker assigns one or queues).
    New,
    /// Waiting in the backend queue for a server slot (`timeout queue`).
    /// The client socket is not polled: its bytes wait in the kernel.
    Queued,
    /// A connect failed; waiting the turn-around delay (min of `timeout
    /// connect` and 1 s, HAProxy's) before retrying the same server.
    RetryWait,
    /// The connect operation is in flight (`timeout connect`).
    Connecting,
    /// Both sides connected; the flows move bytes. The half-close state is
    /// the flows' own ([`FlowState::Done`] per direction).
    Forwarding,
}

/// Why a session ends, which decides how its sockets are closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// Both directions finished: plain close.
    Normal,
    /// The client reset: reset the server connection too (SO_LINGER 0).
    ClientReset,
    /// The server reset: reset the client connection too.
    ServerReset,
    /// No server could be reached (no usable server, retries exhausted):
    /// the client sees a clean close.
    NoServer,
    /// A timeout fired.
    Timeout,
    /// The session waited too long in the queue.
    QueueTimeout,
    /// Resources ran out or an unexpected error: plain close.
    Error,
}

/// What a session asks of the worker after handling an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Nothing: wait for the next completion or timer.
    Wait,
    /// Pick a server and connect. `avoid` is the server that just failed
    /// (redispatch), its slot already released.
    Dispatch {
        /// Server to avoid unless it is the only choice.
        avoid: Option<u16>,
    },
    /// Connect again to the assigned server.
    Reconnect,
    /// End the session.
    Close(CloseKind),
}

/// Flag: the session holds a slot on its server (shared count and picker).
pub const F_SERVER_SLOT: u8 = 1;
/// Flag: the connect was cancelled by `timeout connect`.
pub const F_CONNECT_TIMED_OUT: u8 = 2;
/// Flag: the session holds a frontend and a global connection slot.
pub const F_CONN_SLOT: u8 = 4;
/// Flag: the `tcp-request content` rules are inspecting the client's first
/// bytes; no server is picked yet (see the worker's `tcp/inspect.rs`).
pub const F_INSPECT: u8 = 8;

/// One proxied TCP connection. See the module LIFECYCLE.
#[derive(Debug)]
pub struct Session {
    /// Client socket.
    pub cli: RawFd,
    /// Server socket (-1: none).
    pub srv: RawFd,
    /// Client → server.
    pub c2s: Flow,
    /// Server → client.
    pub s2c: Flow,
    /// Timer queue entry (lazy: postponing only changes `deadline`).
    pub timer: Option<TimerHandle>,
    /// Current deadline (see [`Session::deadline`]).
    pub deadline: Option<Ticks>,
    /// When the current state began (queue, connect): for its timeout.
    pub since: Ticks,
    /// Last client-side activity.
    pub cli_last: Ticks,
    /// Last server-side activity.
    pub srv_last: Ticks,
    /// Bytes client → server.
    pub bytes_in: u64,
    /// Bytes server → client.
    pub bytes_out: u64,
    /// Frontend index.
    pub fe: u16,
    /// Backend index.
    pub be: u16,
    /// Server index in the backend, or [`NO_SERVER`].
    pub server: u16,
    /// Port the client connected to (for servers without a fixed port).
    pub port: u16,
    /// Where the session is.
    pub state: State,
    /// Retries left.
    pub retries_left: u8,
    /// `F_*` flags.
    pub flags: u8,
}

/// The budget: a proxied idle connection must cost less than 512 bytes of
/// userspace memory all included (session slot, timer entry, queue slot);
/// the session itself stays well below.
pub const SESSION_MAX_BYTES: usize = 160;
const _: () = assert!(size_of::<Session>() <= SESSION_MAX_BYTES);

fn min_opt(a: Option<Ticks>, b: Option<Ticks>) -> Option<Ticks> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Session {
    /// A new session for accepted client `cli`.
    #[must_use]
    pub fn new(
        cli: RawFd,
        fe: u16,
        be: u16,
        port: u16,
        retries: u32,
        now: Ticks,
        splice: (bool, bool),
    ) -> Self {
        Session {
            cli,
            srv: -1,
            c2s: Flow::new(splice.0),
            s2c: Flow::new(splice.1),
            timer: None,
            deadline: None,
            since: now,
            cli_last: now,
            srv_last: now,
            bytes_in: 0,
            bytes_out: 0,
            fe,
            be,
            server: NO_SERVER,
            port,
            state: State::New,
            retries_left: u8::try_from(retries).unwrap_or(u8::MAX),
            flags: 0,
        }
    }

    /// The deadline of the current state, `None` if no timeout applies.
    /// HAProxy's rules in tcp mode: `timeout connect` while connecting (and
    /// the turn-around before a retry), `timeout queue` while queued; once
    /// forwarding, `timeout tunnel` if set supersedes the others (inactivity
    /// in both directions), otherwise `timeout client` on the client side and
    /// `timeout server` on the server side, replaced by `client-fin` /
    /// `server-fin` once that side has sent its FIN.
    #[must_use]
    pub fn deadline(&self, fe: &FrontendPlan, be: &BackendPlan) -> Option<Ticks> {
        match self.state {
            State::New => None,
            State::Queued => be.queue_ms.map(|t| self.since.after_ms(t)),
            State::RetryWait => Some(self.since.after_ms(be.connect_ms.unwrap_or(1000).min(1000))),
            State::Connecting => be.connect_ms.map(|t| self.since.after_ms(t)),
            State::Forwarding => {
                if let Some(t) = be.tunnel_ms {
                    return Some(self.cli_last.max(self.srv_last).after_ms(t));
                }
                let cli_t = if self.c2s.src_ended() {
                    fe.client_fin_ms.or(fe.client_ms)
                } else {
                    fe.client_ms
                };
                let srv_t = if self.s2c.src_ended() {
                    be.server_fin_ms.or(be.server_ms)
                } else {
                    be.server_ms
                };
                min_opt(
                    cli_t.map(|t| self.cli_last.after_ms(t)),
                    srv_t.map(|t| self.srv_last.after_ms(t)),
                )
            }
        }
    }

    /// Records the server chosen by the balancer (its slot is taken).
    pub fn assign(&mut self, server: u16) {
        self.server = server;
        self.flags |= F_SERVER_SLOT;
    }

    /// Enters the queue at `now`.
    pub fn enqueue(&mut self, now: Ticks) {
        self.state = State::Queued;
        self.since = now;
    }

    /// Starts connecting socket `srv` to `addr`.
    ///
    /// # Errors
    /// The ring's refusal (unknown address), which closes the session.
    pub fn begin_connect(
        &mut self,
        srv: RawFd,
        addr: AddrId,
        slot: u32,
        generation: u32,
        ring: &mut Ring,
        now: Ticks,
    ) -> Result<(), weir_runtime::RuntimeError> {
        self.srv = srv;
        self.state = State::Connecting;
        self.since = now;
        self.flags &= !F_CONNECT_TIMED_OUT;
        ring.connect(srv, addr, UserData::new(CONNECT, slot, generation))
    }

    /// The connect completed with `result` (0 or `-errno`). On success the
    /// flows start; on failure the server socket is closed (no operation
    /// refers to it any more) and a retry is asked for when retries remain.
    pub fn on_connect(
        &mut self,
        result: i32,
        be: &BackendPlan,
        tag: (u32, u32),
        io: &mut Io<'_>,
        now: Ticks,
    ) -> (Ask, bool) {
        let timed_out = self.flags & F_CONNECT_TIMED_OUT != 0;
        if result == 0 && !timed_out {
            self.state = State::Forwarding;
            self.cli_last = now;
            self.srv_last = now;
            self.c2s.start(
                self.cli,
                Tag {
                    slot: tag.0,
                    generation: tag.1,
                    dir: Dir::ClientToServer,
                },
                io,
            );
            self.s2c.start(
                self.srv,
                Tag {
                    slot: tag.0,
                    generation: tag.1,
                    dir: Dir::ServerToClient,
                },
                io,
            );
            return (Ask::Wait, false);
        }
        weir_runtime::sys::close(self.srv);
        self.srv = -1;
        (self.connect_failed(be, now), timed_out)
    }

    /// A connection attempt failed (refused, timed out, or no socket could
    /// be made): retry the same server after the turn-around delay, or
    /// another one on the last retry with `option redispatch`, or give up
    /// (the client then sees a clean close).
    pub fn connect_failed(&mut self, be: &BackendPlan, now: Ticks) -> Ask {
        if self.retries_left == 0 {
            return Ask::Close(CloseKind::NoServer);
        }
        self.retries_left -= 1;
        if self.retries_left == 0 && be.redispatch {
            return Ask::Dispatch {
                avoid: Some(self.server),
            };
        }
        self.state = State::RetryWait;
        self.since = now;
        Ask::Wait
    }

    /// The session's timer fired at `now` (its deadline has passed).
    pub fn on_timeout(&mut self, ring: &mut Ring) -> Ask {
        match self.state {
            State::New => Ask::Wait,
            State::Queued => Ask::Close(CloseKind::QueueTimeout),
            State::RetryWait => Ask::Reconnect,
            State::Connecting => {
                // Cancel the connect; its completion (-ECANCELED) then takes
                // the failure path, so the socket is closed only once no
                // operation refers to it.
                if self.flags & F_CONNECT_TIMED_OUT == 0 {
                    self.flags |= F_CONNECT_TIMED_OUT;
                    ring.cancel_fd(self.srv);
                }
                Ask::Wait
            }
            State::Forwarding => Ask::Close(CloseKind::Timeout),
        }
    }

    /// A flow completion.
    pub fn on_flow(
        &mut self,
        dir: Dir,
        ev: Event,
        tag: (u32, u32),
        io: &mut Io<'_>,
        now: Ticks,
    ) -> Ask {
        if self.state != State::Forwarding {
            return Ask::Wait;
        }
        let t = Tag {
            slot: tag.0,
            generation: tag.1,
            dir,
        };
        let (flow, src, dst) = match dir {
            Dir::ClientToServer => (&mut self.c2s, self.cli, self.srv),
            Dir::ServerToClient => (&mut self.s2c, self.srv, self.cli),
        };
        let step = flow.handle(ev, src, dst, t, io);
        let moved = u64::from(flow.take_moved());
        match dir {
            Dir::ClientToServer => {
                self.bytes_in += moved;
                if step.read {
                    self.cli_last = now;
                }
                if step.wrote {
                    self.srv_last = now;
                }
            }
            Dir::ServerToClient => {
                self.bytes_out += moved;
                if step.read {
                    self.srv_last = now;
                }
                if step.wrote {
                    self.cli_last = now;
                }
            }
        }
        match step.outcome {
            Outcome::Pending => Ask::Wait,
            Outcome::Done => {
                if self.c2s.state() == FlowState::Done && self.s2c.state() == FlowState::Done {
                    Ask::Close(CloseKind::Normal)
                } else {
                    Ask::Wait
                }
            }
            Outcome::SrcReset => Ask::Close(match dir {
                Dir::ClientToServer => CloseKind::ClientReset,
                Dir::ServerToClient => CloseKind::ServerReset,
            }),
            Outcome::DstReset => Ask::Close(match dir {
                Dir::ClientToServer => CloseKind::ServerReset,
                Dir::ServerToClient => CloseKind::ClientReset,
            }),
            Outcome::Failed(_) => Ask::Close(CloseKind::Error),
        }
    }

    /// Releases pipes and buffers (the session is ending).
    pub fn release(&mut self, io: &mut Io<'_>) {
        self.c2s.release(io);
        self.s2c.release(io);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::pool::SlotKey;

    /// Everything a connection costs in userspace while idle, all of it
    /// allocated at start-up for `maxconn` slots: the session slot in the
    /// pool, its key in the worker's generation table, its timer entry
    /// (slab entry + heap node) and a backend-queue slot. No buffer, no pipe.
    #[test]
    fn idle_connection_budget() {
        let slot = size_of::<Session>() + 8; // pool slot: value + generation/link
        let key = size_of::<Option<SlotKey>>();
        let timer = size_of::<Option<SlotKey>>() + 8 + 24; // timer slab entry + heap node
        let queue = size_of::<SlotKey>();
        let total = slot + key + timer + queue;
        eprintln!(
            "session {} B, per idle connection {total} B",
            size_of::<Session>()
        );
        assert!(total < 512, "{total}");
    }
}
