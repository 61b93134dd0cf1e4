//! The `mode http` session state machine: one client connection carrying
//! HTTP/1.x transactions one after the other, and the server connection
//! currently serving it. See the LIFECYCLE note in [`crate::http`].
//!
//! The connection-level bookkeeping (client and server sockets, chosen
//! backend and server, connect retries, queueing, limits, the timer entry)
//! stays in the worker's [`crate::tcp::session::Session`] of the same slot;
//! this state machine owns what HTTP adds: the buffers, the two head
//! parsers, the body decoders and where each direction stands.
//!
//! Each direction is a stop-and-wait pipeline over one pool buffer: receive
//! into it, parse or decode what arrived (resuming, never re-reading),
//! send the part that belongs to the current message (a rebuilt head from a
//! second buffer, then body bytes straight from the input buffer), and
//! after the send drop those bytes and keep the rest — the next pipelined
//! message stays at the start of the buffer until its turn.

use std::net::SocketAddr;
use std::os::fd::RawFd;

use weir_config::kw::http::{ConnMode, HttpAction, Reuse};
use weir_config::kw::rules::TcpAction;
use weir_core::acl::{Sample, Scratch, Verdict, Visit};
use weir_core::timer::Ticks;
use weir_http::{BodyDecoder, Chunk, Framing, HeadParser, Method, Options, Status, Version};
use weir_runtime::{sys, BufId, OpKind, Ring, UserData};

use super::compose::{self, valid_value, ConnHdr, Edits, LinePart, Out};
use super::plan::{
    effective_mode, in_net, Common, HttpBackendPlan, HttpFrontendPlan, Part, Rule, TcpRulePlan,
};
use super::sample::{Msg, View};
use super::vars::{Scope, Vars};
use crate::capture::{Captures, Rejected};
use crate::plan::Plan;
use crate::tcp::session::CloseKind;

/// Op kind: receive from the client.
pub const CLI_RECV: OpKind = OpKind(32);
/// Op kind: send to the client.
pub const CLI_SEND: OpKind = OpKind(33);
/// Op kinds: receive from the server, per server-connection epoch parity.
pub const SRV_RECV: [OpKind; 2] = [OpKind(34), OpKind(36)];
/// Op kinds: send to the server, per epoch parity.
pub const SRV_SEND: [OpKind; 2] = [OpKind(35), OpKind(37)];
/// Op kind: the idle client became readable (see `arm_cli_recv`).
pub const CLI_POLL: OpKind = OpKind(38);

/// Where the request side stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Req {
    /// Reading and parsing a request head (or idle between requests).
    Head,
    /// The head is parsed and rebuilt; waiting for a server connection.
    Connect,
    /// Sending the head and the body to the server.
    Body,
    /// The whole request was forwarded; following bytes wait their turn.
    Done,
    /// Answering locally (error page, `return`, `redirect`).
    Local,
    /// Held by `http-request tarpit` until its deadline, then answered.
    Tarpit,
    /// Raw bytes both ways after a 101.
    Tunnel,
}

/// Where the response side stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    /// No request outstanding.
    Idle,
    /// Waiting for and parsing a response head (1xx heads pass through here).
    Head,
    /// Forwarding the response body.
    Body,
    /// Raw bytes both ways after a 101.
    Tunnel,
}

/// What the session asks of the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAsk {
    /// Wait for the next completion or timer.
    Wait,
    /// A request is ready for backend `be`: reuse the server connection if
    /// it serves that backend, else pick a server and connect, then call
    /// [`HttpSession::server_ready`].
    Route(usize),
    /// End the session now.
    Close(CloseKind),
}

const F_CLI_RECV: u16 = 1;
const F_CLI_SEND: u16 = 2;
const F_SRV_RECV: u16 = 4;
const F_SRV_SEND: u16 = 8;
/// The client send in flight is from `rout` (else body bytes from `sbuf`).
const F_ROUT: u16 = 16;
/// The server send in flight is from `qout` (else body bytes from `cbuf`).
const F_QOUT: u16 = 32;
/// `rout` holds an interim (1xx) head.
const F_INTERIM: u16 = 64;
/// `rout` holds a 101 head: tunnel once sent.
const F_UPGRADE: u16 = 128;
/// Close after `rout` is sent (local answer without keep-alive).
const F_CLOSING: u16 = 256;
/// The worker must drop the server connection (see `take_drop_srv`).
const F_DROP_SRV: u16 = 512;
/// The client sent its FIN (tunnel).
const F_CLI_EOF: u16 = 1024;
/// The server sent its FIN (tunnel, body until close).
const F_SRV_EOF: u16 = 2048;
/// Part of a response reached the client in this transaction.
const F_RES_STARTED: u16 = 4096;
/// The request went on a reused server connection and is wholly in
/// `qout`: it may be sent again on a new connection if that one fails
/// before answering (`http-reuse safe`).
const F_RETRYABLE: u16 = 8192;
/// Client addresses were read.
const F_ADDRS: u16 = 16384;
/// The next request must go on a new server connection (a reused one just
/// failed): no idle connection is taken for it.
const F_FRESH: u16 = 32768;

/// Counters and settings a session reports to its worker.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests rejected by the parser (400 and friends).
    pub rejected: u64,
    /// Responses rejected by the parser (502).
    pub bad_responses: u64,
    /// Requests forwarded.
    pub requests: u64,
}

/// Everything an event handler borrows from the worker.
pub struct Ctx<'a> {
    /// The worker's ring (and its buffer pool).
    pub ring: &'a mut Ring,
    /// The plan.
    pub plan: &'a Plan,
    /// The frontend's http plan.
    pub fe: &'a HttpFrontendPlan,
    /// The frontend's name (logs).
    pub fe_name: &'a str,
    /// Client socket.
    pub cli: RawFd,
    /// Server socket (-1: none).
    pub srv: RawFd,
    /// Session slot and generation, for `user_data`.
    pub tag: (u32, u32),
    /// The loop turn's clock.
    pub now: Ticks,
    /// ACL scratch space.
    pub scratch: &'a mut Scratch,
    /// Rule edits scratch.
    pub edits: &'a mut Edits,
    /// Assembly space (`base`, rebuilt heads): `tune.bufsize` bytes.
    pub tmp: &'a mut Vec<u8>,
    /// Counters.
    pub report: &'a mut Report,
    /// Spare parsers.
    pub txns: &'a mut TxnPool,
    /// Where rejected messages are kept for `show errors`.
    pub captures: &'a Captures,
    /// The frontend's index.
    pub fe_idx: usize,
    /// The connected server's index in the current backend, if any.
    pub server: Option<usize>,
}

impl Ctx<'_> {
    fn ud(&self, kind: OpKind) -> UserData {
        UserData::new(kind, self.tag.0, self.tag.1)
    }
    fn be_http(&self, be: Option<usize>) -> Option<&HttpBackendPlan> {
        be.and_then(|b| self.plan.backends.get(b))
            .and_then(|b| b.http.as_deref())
    }
}

/// What a session needs only while a transaction is under way: the two
/// head parsers with their header tables (about 2 KiB each) and the two
/// body decoders. A connection waiting for a request (idle keep-alive, or
/// not a byte sent yet) or tunnelling after a 101 holds none: it takes one
/// from the worker's [`TxnPool`] when the first bytes of a request arrive
/// and gives it back when it is idle again.
#[derive(Debug)]
pub struct Txn {
    reqp: HeadParser,
    resp: HeadParser,
    /// Set from the request head before it is read.
    req_body: BodyDecoder,
    /// Set from the response head before it is read.
    res_body: BodyDecoder,
    /// The parsers' settings.
    opts: Options,
}

impl Txn {
    fn new(opts: Options) -> Self {
        Txn {
            reqp: HeadParser::request(opts),
            resp: HeadParser::response(opts),
            req_body: BodyDecoder::Empty,
            res_body: BodyDecoder::Empty,
            opts,
        }
    }
}

/// Spare [`Txn`]s a worker keeps; more are freed (a burst of concurrent
/// transactions does not stay resident for ever).
pub const TXN_SPARE: usize = 256;

/// A worker's spare [`Txn`]s, most recently returned first (still in the
/// cache). A frontend gets one made with its parser settings
/// (`tune.bufsize`, `option accept-invalid-http-request`).
#[derive(Debug, Default)]
pub struct TxnPool {
    free: Vec<Box<Txn>>,
}

impl TxnPool {
    /// A transaction's worth of parsers for `opts`, ready for a request.
    #[must_use]
    pub fn take(&mut self, opts: Options) -> Box<Txn> {
        let i = match self.free.last() {
            Some(t) if t.opts == opts => Some(self.free.len() - 1),
            // Frontends with different settings: the most recent match.
            Some(_) => self.free.iter().rposition(|t| t.opts == opts),
            None => None,
        };
        match i {
            Some(i) => {
                let mut t = self.free.swap_remove(i);
                t.reqp.reset_request();
                t
            }
            None => Box::new(Txn::new(opts)),
        }
    }

    /// Gives `t` back.
    pub fn put(&mut self, t: Box<Txn>) {
        if self.free.len() < TXN_SPARE {
            self.free.push(t);
        }
    }

    /// Spare transactions held.
    #[must_use]
    pub fn spare(&self) -> usize {
        self.free.len()
    }
}

/// A blank transaction, read in place of a session's own when it has none
/// (a state the session never reads it in; this keeps a bug there from
/// becoming a panic).
static NO_TXN: std::sync::LazyLock<Txn> = std::sync::LazyLock::new(|| Txn::new(Options::DEFAULT));

/// The transaction in `t`, or a blank one (see [`NO_TXN`]).
fn txn_of(t: &Option<Box<Txn>>) -> &Txn {
    t.as_deref().unwrap_or_else(|| &NO_TXN)
}

/// The HTTP state of one client connection.
#[derive(Debug)]
pub struct HttpSession {
    cbuf: Option<BufId>,
    clen: u32,
    cfwd: u32,
    csent: u32,
    sbuf: Option<BufId>,
    slen: u32,
    sfwd: u32,
    ssent: u32,
    qout: Option<BufId>,
    qlen: u32,
    qsent: u32,
    rout: Option<BufId>,
    rlen: u32,
    rsent: u32,
    /// The parsers and decoders of the transaction under way; `None` while
    /// the connection is idle (see [`Txn`]).
    txn: Option<Box<Txn>>,
    /// Request side.
    pub req: Req,
    /// Response side.
    pub res: Res,
    flags: u16,
    /// Server connection epoch parity (stale completions are recognised).
    pub epoch: u8,
    method: Method,
    version: Version,
    /// Backend of the current transaction.
    pub be: Option<usize>,
    client_keep: bool,
    srv_keep: bool,
    /// Requests seen on this connection.
    pub n_req: u32,
    /// When the current request (or the wait for it) began.
    pub req_start: Ticks,
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    opts: Options,
    /// `set-var` variables.
    vars: Vars,
    /// `tarpit`: when to answer, and with what.
    tarpit: (Ticks, u16),
    /// The server a `use-server` rule chose for the current request.
    pub forced_server: Option<u16>,
    /// The hash of the current request's `balance uri`, `url_param` or
    /// `hdr(…)` key (`None`: no such algorithm, or the key is absent).
    pub lb_hash: Option<u32>,
}

/// Runs `dec` over `input` as far as it goes; returns the bytes accounted
/// for (framing and data of the current body).
/// On an error, also the position of the offending byte in `input`.
fn decode_all(dec: &mut BodyDecoder, input: &[u8]) -> Result<usize, (weir_http::BodyError, usize)> {
    let mut pos = 0;
    loop {
        let step = match dec.decode(&input[pos..]) {
            Ok(s) => s,
            Err(e) => {
                // `consumed` stopped before the failing call (see weir-http).
                let at = usize::try_from(e.offset.saturating_sub(dec.consumed())).unwrap_or(0);
                return Err((e, (pos + at).min(input.len())));
            }
        };
        pos += step.consumed;
        match step.chunk {
            Chunk::Data(_) | Chunk::Trailer { .. } => {
                if step.consumed == 0 || pos >= input.len() {
                    break;
                }
            }
            Chunk::NeedMore | Chunk::Done => break,
        }
    }
    Ok(pos)
}

/// The size budget of an HTTP session (a connection's userspace cost is this
/// plus the connection [`crate::tcp::session::Session`] and a few side
/// table entries; the parsers are not part of it: see [`Txn`]).
pub const HTTP_SESSION_MAX_BYTES: usize = 256;
const _: () = assert!(size_of::<HttpSession>() <= HTTP_SESSION_MAX_BYTES);

impl HttpSession {
    /// A session for a new client connection of a frontend with `opts`.
    #[must_use]
    pub fn new(opts: Options, now: Ticks) -> Self {
        HttpSession {
            cbuf: None,
            clen: 0,
            cfwd: 0,
            csent: 0,
            sbuf: None,
            slen: 0,
            sfwd: 0,
            ssent: 0,
            qout: None,
            qlen: 0,
            qsent: 0,
            rout: None,
            rlen: 0,
            rsent: 0,
            txn: None,
            req: Req::Head,
            res: Res::Idle,
            flags: 0,
            epoch: 0,
            method: Method::Get,
            version: Version::Http11,
            be: None,
            client_keep: true,
            srv_keep: false,
            n_req: 0,
            req_start: now,
            src: None,
            dst: None,
            opts,
            vars: Vars::default(),
            tarpit: (now, 500),
            forced_server: None,
            lb_hash: None,
        }
    }

    /// Makes a finished session (its buffers and parsers released) new
    /// again for the next connection, of a frontend with `opts`.
    pub fn reset(&mut self, opts: Options, now: Ticks) {
        debug_assert!(self.cbuf.is_none() && self.sbuf.is_none());
        debug_assert!(self.qout.is_none() && self.rout.is_none());
        debug_assert!(self.txn.is_none());
        self.opts = opts;
        self.clen = 0;
        self.cfwd = 0;
        self.csent = 0;
        self.slen = 0;
        self.sfwd = 0;
        self.ssent = 0;
        self.qlen = 0;
        self.qsent = 0;
        self.rlen = 0;
        self.rsent = 0;
        self.req = Req::Head;
        self.res = Res::Idle;
        self.flags = 0;
        self.epoch = 0;
        self.method = Method::Get;
        self.version = Version::Http11;
        self.be = None;
        self.client_keep = true;
        self.srv_keep = false;
        self.n_req = 0;
        self.req_start = now;
        self.src = None;
        self.dst = None;
        self.vars.end(|_| true);
        self.forced_server = None;
    }

    fn t(&self) -> &Txn {
        txn_of(&self.txn)
    }

    fn reqp(&self) -> &HeadParser {
        &self.t().reqp
    }

    fn resp(&self) -> &HeadParser {
        &self.t().resp
    }

    /// Gives the parsers back to the pool (the connection is idle).
    fn put_txn(&mut self, pool: &mut TxnPool) {
        if let Some(t) = self.txn.take() {
            pool.put(t);
        }
    }

    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// True (once) when the worker must drop the server connection.
    pub fn take_drop_srv(&mut self) -> bool {
        let d = self.has(F_DROP_SRV);
        self.flags &= !F_DROP_SRV;
        d
    }

    /// The server connection was dropped by the worker: forget its
    /// operations (their completions carry the old epoch) and buffers.
    pub fn server_dropped(&mut self, ring: &mut Ring) {
        self.epoch ^= 1;
        self.flags &= !(F_SRV_RECV | F_SRV_SEND | F_SRV_EOF);
        if let Some(b) = self.sbuf.take() {
            ring.bufs_mut().release(b);
        }
        self.slen = 0;
        self.sfwd = 0;
        self.ssent = 0;
        if self.has(F_QOUT) {
            // The kernel still owns qout: parked until its completion.
            self.flags &= !F_QOUT;
            if let Some(b) = self.qout.take() {
                ring.bufs_mut().release(b);
            }
        }
    }

    /// Whether the server connection may serve another transaction (of
    /// this client or, parked idle, of another one): the last response
    /// allowed it, nothing is in flight or buffered on it.
    #[must_use]
    pub fn server_reusable(&self) -> bool {
        self.srv_keep
            && self.res == Res::Idle
            && matches!(self.req, Req::Head | Req::Done | Req::Local)
            && self.slen == 0
            && self.flags & (F_SRV_RECV | F_SRV_SEND | F_SRV_EOF | F_DROP_SRV) == 0
    }

    /// Whether this request may ride on another client's idle server
    /// connection (`http-reuse safe`: not the first request of a client
    /// connection, unless `aggressive`/`always`), and not right after a
    /// reused connection failed.
    #[must_use]
    pub fn may_take_idle(&mut self, reuse: Reuse) -> bool {
        if self.has(F_FRESH) {
            self.flags &= !F_FRESH;
            return false;
        }
        match reuse {
            Reuse::Never => false,
            Reuse::Safe => self.n_req > 1,
            Reuse::Aggressive | Reuse::Always => true,
        }
    }

    /// A local answer is being sent and the session closes after it.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.has(F_CLOSING)
    }

    /// Whether an error page can still be sent (nothing of a response has
    /// reached the client and the client socket is not busy).
    #[must_use]
    pub fn can_answer(&self) -> bool {
        !self.has(F_RES_STARTED) && !self.has(F_CLI_SEND) && self.req != Req::Tunnel
    }

    /// Gives every buffer back (the session ends; in-flight ones are parked),
    /// and the parsers to `pool`.
    pub fn release(&mut self, ring: &mut Ring, pool: &mut TxnPool) {
        self.put_txn(pool);
        for b in [
            self.cbuf.take(),
            self.sbuf.take(),
            self.qout.take(),
            self.rout.take(),
        ]
        .into_iter()
        .flatten()
        {
            ring.bufs_mut().release(b);
        }
    }

    /// Starts reading the first request.
    pub fn start(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        self.req_start = ctx.now;
        self.arm_cli_recv(ctx)
    }

    fn buf(ring: &mut Ring, slot: &mut Option<BufId>) -> Option<BufId> {
        if slot.is_none() {
            *slot = ring.bufs_mut().get();
        }
        *slot
    }

    fn arm_cli_recv(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        if self.has(F_CLI_RECV) || self.has(F_CLI_EOF) {
            return HttpAsk::Wait;
        }
        if self.req == Req::Head && self.clen == 0 {
            // Waiting for a request with nothing buffered: hold no buffer
            // (an idle keep-alive connection would otherwise pin
            // `tune.bufsize` bytes). Poll, and take a buffer once readable.
            if let Some(b) = self.cbuf.take() {
                ctx.ring.bufs_mut().release(b);
            }
            if self.res == Res::Idle {
                // Nor parsers: the next request takes them back.
                self.put_txn(ctx.txns);
            }
            let ud = ctx.ud(CLI_POLL);
            ctx.ring
                .poll(ctx.cli, (libc::POLLIN | libc::POLLRDHUP) as u32, ud);
            self.flags |= F_CLI_RECV;
            return HttpAsk::Wait;
        }
        self.recv_cli_now(ctx)
    }

    /// The idle client became readable (`res`: poll result): receive.
    pub fn on_cli_poll(&mut self, ctx: &mut Ctx<'_>, res: i32) -> HttpAsk {
        self.flags &= !F_CLI_RECV;
        if res == -libc::ECANCELED {
            return HttpAsk::Wait;
        }
        if res < 0 {
            return HttpAsk::Close(CloseKind::ClientReset);
        }
        self.recv_cli_now(ctx)
    }

    fn recv_cli_now(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        let Some(b) = Self::buf(ctx.ring, &mut self.cbuf) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let ud = ctx.ud(CLI_RECV);
        if ctx.ring.recv(ctx.cli, b, self.clen as usize, ud).is_err() {
            return HttpAsk::Close(CloseKind::Error);
        }
        self.flags |= F_CLI_RECV;
        HttpAsk::Wait
    }

    fn arm_srv_recv(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        if self.has(F_SRV_RECV) || self.has(F_SRV_EOF) || ctx.srv < 0 {
            return HttpAsk::Wait;
        }
        let Some(b) = Self::buf(ctx.ring, &mut self.sbuf) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let ud = ctx.ud(SRV_RECV[usize::from(self.epoch)]);
        if ctx.ring.recv(ctx.srv, b, self.slen as usize, ud).is_err() {
            return self.fail_server(ctx, 502);
        }
        self.flags |= F_SRV_RECV;
        HttpAsk::Wait
    }

    fn send_cli(&mut self, ctx: &mut Ctx<'_>, from_rout: bool) -> HttpAsk {
        let (b, range) = if from_rout {
            (self.rout, self.rsent as usize..self.rlen as usize)
        } else {
            (self.sbuf, self.ssent as usize..self.sfwd as usize)
        };
        let Some(b) = b else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let ud = ctx.ud(CLI_SEND);
        if ctx.ring.send(ctx.cli, b, range, ud).is_err() {
            return HttpAsk::Close(CloseKind::Error);
        }
        self.flags |= F_CLI_SEND;
        if from_rout {
            self.flags |= F_ROUT;
        } else {
            self.flags &= !F_ROUT;
        }
        HttpAsk::Wait
    }

    fn send_srv(&mut self, ctx: &mut Ctx<'_>, from_qout: bool) -> HttpAsk {
        let (b, range) = if from_qout {
            (self.qout, self.qsent as usize..self.qlen as usize)
        } else {
            (self.cbuf, self.csent as usize..self.cfwd as usize)
        };
        let Some(b) = b else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let ud = ctx.ud(SRV_SEND[usize::from(self.epoch)]);
        if ctx.ring.send(ctx.srv, b, range, ud).is_err() {
            return self.fail_server(ctx, 502);
        }
        self.flags |= F_SRV_SEND;
        if from_qout {
            self.flags |= F_QOUT;
        } else {
            self.flags &= !F_QOUT;
        }
        HttpAsk::Wait
    }

    /// Drops `n` bytes from the front of an input buffer.
    fn compact(ring: &mut Ring, b: Option<BufId>, len: &mut u32, n: u32) {
        let n = n.min(*len);
        if n == 0 {
            return;
        }
        if let Some(bytes) = b.and_then(|b| ring.bufs_mut().bytes_mut(b)) {
            bytes.copy_within(n as usize..*len as usize, 0);
        }
        *len -= n;
    }

    // ------------------------------------------------------ client events --

    /// A client receive completed with `res`.
    pub fn on_cli_recv(&mut self, ctx: &mut Ctx<'_>, res: i32) -> HttpAsk {
        self.flags &= !F_CLI_RECV;
        if res == -libc::ECANCELED {
            return HttpAsk::Wait;
        }
        if res < 0 {
            return HttpAsk::Close(CloseKind::ClientReset);
        }
        if res == 0 {
            return self.on_cli_eof(ctx);
        }
        self.clen += res as u32;
        match self.req {
            Req::Head => self.process_request(ctx),
            Req::Body => self.pump_req_body(ctx),
            Req::Tunnel => {
                self.cfwd = self.clen;
                self.csent = 0;
                self.send_srv(ctx, false)
            }
            Req::Connect | Req::Done | Req::Local | Req::Tarpit => HttpAsk::Wait,
        }
    }

    fn on_cli_eof(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        self.flags |= F_CLI_EOF;
        match self.req {
            // Between requests or mid-head: the client is gone.
            Req::Head | Req::Connect | Req::Done | Req::Local | Req::Tarpit => {
                HttpAsk::Close(CloseKind::Normal)
            }
            // A truncated request body: abort both sides.
            Req::Body => HttpAsk::Close(CloseKind::ClientReset),
            Req::Tunnel => {
                if self.clen == 0 && !self.has(F_SRV_SEND) {
                    let _ = sys::shutdown_write(ctx.srv);
                }
                if self.has(F_SRV_EOF) && !self.has(F_CLI_SEND) {
                    HttpAsk::Close(CloseKind::Normal)
                } else {
                    HttpAsk::Wait
                }
            }
        }
    }

    /// A client send completed with `res`.
    pub fn on_cli_send(&mut self, ctx: &mut Ctx<'_>, res: i32) -> HttpAsk {
        self.flags &= !F_CLI_SEND;
        if res == -libc::ECANCELED {
            return HttpAsk::Wait;
        }
        if res <= 0 {
            return HttpAsk::Close(CloseKind::ClientReset);
        }
        let n = res as u32;
        if self.has(F_ROUT) {
            self.rsent += n;
            if self.rsent < self.rlen {
                return self.send_cli(ctx, true);
            }
            if let Some(b) = self.rout.take() {
                ctx.ring.bufs_mut().release(b);
            }
            self.rlen = 0;
            self.rsent = 0;
            if self.has(F_CLOSING) {
                return HttpAsk::Close(CloseKind::Normal);
            }
            if self.req == Req::Local {
                // A local answer with keep-alive: on to the next request.
                return self.next_request(ctx);
            }
            if self.has(F_INTERIM) {
                self.flags &= !F_INTERIM;
                if let Some(t) = self.txn.as_deref_mut() {
                    t.resp.reset_response(self.method);
                }
                return if self.slen > 0 {
                    self.process_response(ctx)
                } else {
                    self.arm_srv_recv(ctx)
                };
            }
            if self.has(F_UPGRADE) {
                self.flags &= !F_UPGRADE;
                return self.enter_tunnel(ctx);
            }
        } else {
            self.ssent += n;
            if self.ssent < self.sfwd {
                return self.send_cli(ctx, false);
            }
            Self::compact(ctx.ring, self.sbuf, &mut self.slen, self.sfwd);
            self.sfwd = 0;
            self.ssent = 0;
        }
        self.next_res_step(ctx)
    }

    // ------------------------------------------------------ server events --

    /// A server receive of epoch `epoch` completed with `res`.
    pub fn on_srv_recv(&mut self, ctx: &mut Ctx<'_>, epoch: u8, res: i32) -> HttpAsk {
        if epoch != self.epoch {
            return HttpAsk::Wait;
        }
        self.flags &= !F_SRV_RECV;
        if res == -libc::ECANCELED {
            return HttpAsk::Wait;
        }
        if res < 0 {
            return self.fail_server(ctx, 502);
        }
        if res == 0 {
            return self.on_srv_eof(ctx);
        }
        self.slen += res as u32;
        match self.res {
            Res::Head => self.process_response(ctx),
            Res::Body => self.pump_res_body(ctx),
            Res::Tunnel => {
                self.sfwd = self.slen;
                self.ssent = 0;
                self.send_cli(ctx, false)
            }
            Res::Idle => {
                // Bytes from an idle server: it cannot be trusted any more.
                self.flags |= F_DROP_SRV;
                HttpAsk::Wait
            }
        }
    }

    fn on_srv_eof(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        self.flags |= F_SRV_EOF;
        match self.res {
            Res::Idle => {
                self.flags |= F_DROP_SRV;
                HttpAsk::Wait
            }
            Res::Head => self.fail_server(ctx, 502),
            Res::Body => {
                let cut = self
                    .txn
                    .as_deref_mut()
                    .is_none_or(|t| t.res_body.on_close().is_err());
                if cut {
                    // Truncated body: the client cannot be told; abort.
                    return HttpAsk::Close(CloseKind::ServerReset);
                }
                // A body delimited by the close: deliver what is left, then close.
                self.client_keep = false;
                if self.has(F_CLI_SEND) {
                    HttpAsk::Wait
                } else if self.slen > 0 {
                    self.sfwd = self.slen;
                    self.ssent = 0;
                    self.send_cli(ctx, false)
                } else {
                    HttpAsk::Close(CloseKind::Normal)
                }
            }
            Res::Tunnel => {
                if self.slen == 0 && !self.has(F_CLI_SEND) {
                    let _ = sys::shutdown_write(ctx.cli);
                }
                if self.has(F_CLI_EOF) && !self.has(F_SRV_SEND) {
                    HttpAsk::Close(CloseKind::Normal)
                } else {
                    HttpAsk::Wait
                }
            }
        }
    }

    /// A server send of epoch `epoch` completed with `res`.
    pub fn on_srv_send(&mut self, ctx: &mut Ctx<'_>, epoch: u8, res: i32) -> HttpAsk {
        if epoch != self.epoch {
            return HttpAsk::Wait;
        }
        self.flags &= !F_SRV_SEND;
        if res == -libc::ECANCELED {
            return HttpAsk::Wait;
        }
        if res <= 0 {
            return self.fail_server(ctx, 502);
        }
        let n = res as u32;
        if self.has(F_QOUT) {
            self.flags &= !F_QOUT;
            self.qsent += n;
            if self.qsent < self.qlen {
                return self.send_srv(ctx, true);
            }
            if !self.has(F_RETRYABLE) {
                if let Some(b) = self.qout.take() {
                    ctx.ring.bufs_mut().release(b);
                }
                self.qlen = 0;
                self.qsent = 0;
            }
        } else {
            self.csent += n;
            if self.csent < self.cfwd {
                return self.send_srv(ctx, false);
            }
            Self::compact(ctx.ring, self.cbuf, &mut self.clen, self.cfwd);
            self.cfwd = 0;
            self.csent = 0;
        }
        self.next_req_step(ctx)
    }

    /// What the request side does after a send finished.
    fn next_req_step(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        match self.req {
            Req::Tunnel => {
                if self.has(F_CLI_EOF) {
                    let _ = sys::shutdown_write(ctx.srv);
                    if self.has(F_SRV_EOF) && !self.has(F_CLI_SEND) {
                        return HttpAsk::Close(CloseKind::Normal);
                    }
                    return HttpAsk::Wait;
                }
                self.arm_cli_recv(ctx)
            }
            Req::Body => {
                if self.cfwd > 0 {
                    return self.send_srv(ctx, false);
                }
                if self.t().req_body.is_done() {
                    self.req = Req::Done;
                    if self.res == Res::Idle {
                        // The response already completed (early answer).
                        return self.txn_done(ctx);
                    }
                    return HttpAsk::Wait;
                }
                if self.clen > 0 {
                    // Undecoded tail kept from the last receive: more is needed.
                    return self.pump_req_body_more(ctx);
                }
                self.arm_cli_recv(ctx)
            }
            _ => HttpAsk::Wait,
        }
    }

    fn pump_req_body_more(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        if self.clen as usize >= ctx.ring.bufs().buf_size() {
            return self.local_error(ctx, 400);
        }
        self.arm_cli_recv(ctx)
    }

    /// Request body bytes arrived in `cbuf[..clen]`.
    fn pump_req_body(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        let Some(bytes) = self.cbuf.and_then(|b| ctx.ring.bufs().bytes(b)) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let Some(t) = self.txn.as_deref_mut() else {
            return HttpAsk::Close(CloseKind::Error);
        };
        match decode_all(&mut t.req_body, &bytes[..self.clen as usize]) {
            Err((e, at)) => {
                ctx.report.rejected += 1;
                self.read_addrs_always(ctx);
                ctx.captures.request(&Rejected {
                    frontend: ctx.fe_idx,
                    backend: self.be,
                    server: ctx.server,
                    src: self.src,
                    state: &e.state,
                    reason: &e.kind,
                    offset: at as u64,
                    bytes: &bytes[..self.clen as usize],
                    bufsize: ctx.ring.bufs().buf_size(),
                    body_from: Some(e.offset - at as u64),
                });
                eprintln!(
                    "[WARNING] weir: frontend '{}': bad request body: {} at body offset {} ({:?})",
                    ctx.fe_name, e.kind, e.offset, e.state
                );
                self.flags |= F_DROP_SRV;
                self.local_error(ctx, 400)
            }
            Ok(0) => self.pump_req_body_more(ctx),
            Ok(k) => {
                self.cfwd = k as u32;
                self.csent = 0;
                self.send_srv(ctx, false)
            }
        }
    }

    /// What the response side does after a send finished.
    fn next_res_step(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        match self.res {
            Res::Tunnel => {
                if self.has(F_SRV_EOF) {
                    let _ = sys::shutdown_write(ctx.cli);
                    if self.has(F_CLI_EOF) && !self.has(F_SRV_SEND) {
                        return HttpAsk::Close(CloseKind::Normal);
                    }
                    return HttpAsk::Wait;
                }
                self.arm_srv_recv(ctx)
            }
            Res::Body => {
                if self.sfwd > 0 {
                    return self.send_cli(ctx, false);
                }
                if self.t().res_body.is_done() {
                    return self.txn_done(ctx);
                }
                if self.has(F_SRV_EOF) {
                    if self.slen > 0 {
                        self.sfwd = self.slen;
                        return self.send_cli(ctx, false);
                    }
                    return HttpAsk::Close(CloseKind::Normal);
                }
                if self.slen as usize >= ctx.ring.bufs().buf_size() {
                    return HttpAsk::Close(CloseKind::ServerReset);
                }
                self.arm_srv_recv(ctx)
            }
            _ => HttpAsk::Wait,
        }
    }

    /// Response body bytes arrived in `sbuf[..slen]`.
    fn pump_res_body(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        let Some(bytes) = self.sbuf.and_then(|b| ctx.ring.bufs().bytes(b)) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let Some(t) = self.txn.as_deref_mut() else {
            return HttpAsk::Close(CloseKind::Error);
        };
        match decode_all(&mut t.res_body, &bytes[..self.slen as usize]) {
            Err((e, at)) => {
                ctx.report.bad_responses += 1;
                self.read_addrs_always(ctx);
                ctx.captures.response(&Rejected {
                    frontend: ctx.fe_idx,
                    backend: self.be,
                    server: ctx.server,
                    src: self.src,
                    state: &e.state,
                    reason: &e.kind,
                    offset: at as u64,
                    bytes: &bytes[..self.slen as usize],
                    bufsize: ctx.ring.bufs().buf_size(),
                    body_from: Some(e.offset - at as u64),
                });
                eprintln!(
                    "[WARNING] weir: frontend '{}': bad response body from server: {} at body offset {} ({:?})",
                    ctx.fe_name, e.kind, e.offset, e.state
                );
                HttpAsk::Close(CloseKind::ServerReset)
            }
            Ok(0) => self.next_res_step(ctx),
            Ok(k) => {
                self.sfwd = k as u32;
                self.ssent = 0;
                self.send_cli(ctx, false)
            }
        }
    }

    // ------------------------------------------------------------ request --

    fn read_addrs(&mut self, ctx: &Ctx<'_>, be: Option<&HttpBackendPlan>) {
        if self.has(F_ADDRS) {
            return;
        }
        let needs_src = ctx.fe.needs.src || be.is_some_and(|b| b.needs.src);
        let needs_dst = ctx.fe.needs.dst || be.is_some_and(|b| b.needs.dst);
        if !(needs_src || needs_dst) {
            return;
        }
        // Read both once: a later transaction on this connection may go to
        // a backend that needs the other.
        self.src = sys::peer_addr(ctx.cli).ok();
        self.dst = sys::local_addr(ctx.cli).ok();
        self.flags |= F_ADDRS;
    }

    /// Parses what `cbuf` holds as a request head.
    fn process_request(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        let size = ctx.ring.bufs().buf_size();
        let Some(bytes) = self.cbuf.and_then(|b| ctx.ring.bufs().bytes(b)) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        // The first bytes of a request: take parsers if idle until now.
        let t = self.txn.get_or_insert_with(|| ctx.txns.take(self.opts));
        match t.reqp.parse(&bytes[..self.clen as usize]) {
            Ok(Status::Partial) => {
                if self.clen as usize >= size {
                    self.read_addrs_always(ctx);
                    ctx.captures.request(&Rejected {
                        frontend: ctx.fe_idx,
                        backend: None,
                        server: None,
                        src: self.src,
                        state: &"incomplete head",
                        reason: &"request head larger than tune.bufsize",
                        offset: u64::from(self.clen),
                        bytes: &bytes[..self.clen as usize],
                        bufsize: size,
                        body_from: None,
                    });
                    return self.local_error(ctx, 431);
                }
                self.arm_cli_recv(ctx)
            }
            Ok(Status::Complete(n)) => self.on_request_head(ctx, n),
            Err(e) => {
                ctx.report.rejected += 1;
                self.read_addrs_always(ctx);
                ctx.captures.request(&Rejected {
                    frontend: ctx.fe_idx,
                    backend: None,
                    server: None,
                    src: self.src,
                    state: &e.state,
                    reason: &e.kind,
                    offset: u64::from(e.offset),
                    bytes: &bytes[..self.clen as usize],
                    bufsize: size,
                    body_from: None,
                });
                eprintln!(
                    "[WARNING] weir: frontend '{}': {} {} from {}: {} at offset {} (parser state {:?})",
                    ctx.fe_name,
                    e.kind.status(false),
                    compose::reason_phrase(e.kind.status(false)),
                    self.src.map_or_else(|| "?".to_string(), |a| a.to_string()),
                    e.kind,
                    e.offset,
                    e.state
                );
                self.local_error(ctx, e.kind.status(false))
            }
        }
    }

    fn read_addrs_always(&mut self, ctx: &Ctx<'_>) {
        if self.src.is_none() {
            self.src = sys::peer_addr(ctx.cli).ok();
        }
    }

    /// Evaluates `rules` on the request (`res == None`) or on the response,
    /// collecting edits. Conditions see the message as it arrived: edits of
    /// earlier rules are applied when the head is written, not before
    /// (variables are the exception: a `set-var` is seen by the rules after
    /// it).
    #[expect(
        clippy::too_many_arguments,
        reason = "disjoint borrows of the worker's scratch"
    )]
    fn run_rules(
        &self,
        rules: &[Rule],
        req: &[u8],
        res: Option<&[u8]>,
        scratch: &mut Scratch,
        edits: &mut Edits,
        tmp: &mut Vec<u8>,
        names: [&str; 2],
        vars: &mut Vars,
    ) -> RuleOutcome {
        for (i, r) in rules.iter().enumerate() {
            if let Some(c) = &r.cond {
                let mut view = self.view(req, res, tmp, vars);
                if c.eval(&mut view, scratch) != Verdict::True {
                    continue;
                }
            }
            let (head, buf) = match res {
                Some(b) => (self.resp().head(), b),
                None => (self.reqp().head(), req),
            };
            match &r.action {
                HttpAction::Allow => return RuleOutcome::Stop,
                HttpAction::Deny { .. }
                | HttpAction::Return(_)
                | HttpAction::Redirect(_)
                | HttpAction::Tarpit { .. }
                | HttpAction::SilentDrop => return RuleOutcome::Answer(i),
                HttpAction::SetHeader { name, .. } | HttpAction::AddHeader { name, .. } => {
                    if matches!(r.action, HttpAction::SetHeader { .. }) {
                        edits.delete(head, buf, name.as_bytes());
                    }
                    let n = edits.part(name.as_bytes());
                    let v =
                        self.eval_value(r, req, res, scratch, tmp, &mut edits.bytes, names, vars);
                    if valid_value(&edits.bytes[v.clone()], b"") {
                        edits.added.push(Some((n, v)));
                    } else {
                        edits.bytes.truncate(n.start);
                    }
                }
                HttpAction::DelHeader { name } => edits.delete(head, buf, name.as_bytes()),
                HttpAction::SetPath(_) | HttpAction::SetQuery(_) | HttpAction::SetUri(_) => {
                    let v =
                        self.eval_value(r, req, res, scratch, tmp, &mut edits.bytes, names, vars);
                    let (slot, banned): (&mut Option<_>, &[u8]) = match r.action {
                        HttpAction::SetPath(_) => (&mut edits.path, b" ?#"),
                        HttpAction::SetQuery(_) => (&mut edits.query, b" #"),
                        _ => (&mut edits.uri, b" "),
                    };
                    // A dynamic value that would break the request line is
                    // not applied (HAProxy fails the rewrite the same way).
                    if valid_value(&edits.bytes[v.clone()], banned) {
                        *slot = Some(v);
                    }
                }
                HttpAction::SetPathQ(_) => {
                    let v =
                        self.eval_value(r, req, res, scratch, tmp, &mut edits.bytes, names, vars);
                    if valid_value(&edits.bytes[v.clone()], b" #") {
                        edits.set_pathq(v);
                    }
                }
                HttpAction::ReplaceHeader(x)
                | HttpAction::ReplaceValue(x)
                | HttpAction::ReplacePath(x)
                | HttpAction::ReplacePathQ(x)
                | HttpAction::ReplaceUri(x) => {
                    let Some(rw) = &r.rewrite else {
                        continue;
                    };
                    // The replacement's log-format parts first, then the
                    // regex groups (HAProxy's order).
                    let v =
                        self.eval_value(r, req, res, scratch, tmp, &mut edits.bytes, names, vars);
                    let mut repl = std::mem::take(&mut edits.work);
                    repl.clear();
                    repl.extend_from_slice(&edits.bytes[v.clone()]);
                    edits.bytes.truncate(v.start);
                    match &r.action {
                        HttpAction::ReplaceHeader(_) | HttpAction::ReplaceValue(_) => {
                            let split = matches!(r.action, HttpAction::ReplaceValue(_));
                            edits.replace_headers(head, buf, x.name.as_bytes(), rw, &repl, split);
                        }
                        HttpAction::ReplacePath(_) => {
                            edits.replace_line(head, buf, LinePart::Path, rw, &repl);
                        }
                        HttpAction::ReplacePathQ(_) => {
                            edits.replace_line(head, buf, LinePart::PathQ, rw, &repl);
                        }
                        _ => edits.replace_line(head, buf, LinePart::Uri, rw, &repl),
                    }
                    edits.work = repl;
                }
                HttpAction::SetVar { var, .. } => {
                    let Some(e) = &r.expr else {
                        continue;
                    };
                    // The first sample is copied out before the variables
                    // change (the view borrows them).
                    let mut got = None;
                    {
                        let mut view = self.view(req, res, tmp, vars);
                        let work = &mut edits.work;
                        e.eval(&mut view, scratch, &mut |s| {
                            work.clear();
                            got = Some(match s {
                                Sample::Str(b) | Sample::Bin(b) => {
                                    work.extend_from_slice(b);
                                    Owned::Bytes(matches!(s, Sample::Bin(_)))
                                }
                                Sample::Int(n) => Owned::Int(n),
                                Sample::Bool(b) => Owned::Bool(b),
                                Sample::Ip(ip) => Owned::Ip(ip),
                            });
                            Visit::Stop
                        });
                    }
                    let name = var.as_bytes();
                    match got {
                        Some(Owned::Bytes(false)) => vars.set(name, Sample::Str(&edits.work)),
                        Some(Owned::Bytes(true)) => vars.set(name, Sample::Bin(&edits.work)),
                        Some(Owned::Int(n)) => vars.set(name, Sample::Int(n)),
                        Some(Owned::Bool(b)) => vars.set(name, Sample::Bool(b)),
                        Some(Owned::Ip(ip)) => vars.set(name, Sample::Ip(ip)),
                        None => {}
                    }
                }
                HttpAction::UnsetVar { var } => vars.unset(var.as_bytes()),
                HttpAction::Capture { .. } => {
                    let (Some(e), Some((slot, len))) = (&r.expr, r.capture) else {
                        continue;
                    };
                    // As text, cut to `len` bytes; the slot stays unset
                    // when the sample does not exist.
                    let work = &mut edits.work;
                    work.clear();
                    let mut found = false;
                    {
                        let mut view = self.view(req, res, tmp, vars);
                        e.eval(&mut view, scratch, &mut |s| {
                            write_sample(work, s);
                            found = true;
                            Visit::Stop
                        });
                    }
                    if found {
                        let n = edits.work.len().min(len);
                        vars.capture_slot(slot).extend_from_slice(&edits.work[..n]);
                    }
                }
                HttpAction::SetMethod(m) => edits.method = Some(edits.part(m.as_bytes())),
                HttpAction::SetStatus { code, reason } => {
                    let r = reason.as_ref().map(|r| edits.part(r.as_bytes()));
                    edits.status = Some((*code, r));
                }
            }
        }
        RuleOutcome::Continue
    }

    /// What fetches see: the request (`res == None`) or the response.
    fn view<'v>(
        &'v self,
        req: &'v [u8],
        res: Option<&'v [u8]>,
        tmp: &'v mut Vec<u8>,
        vars: &'v Vars,
    ) -> View<'v> {
        View {
            req: res.is_none().then_some(Msg {
                head: self.reqp().head(),
                buf: req,
            }),
            res: res.map(|b| Msg {
                head: self.resp().head(),
                buf: b,
            }),
            src: self.src,
            dst: self.dst,
            first: self.n_req <= 1,
            scratch: tmp,
            vars: Some(vars),
        }
    }
    /// Evaluates `rule`'s log-format value against the request head in
    /// `cbuf` into `out` (the `lf-string` body of `return`, the target of
    /// `redirect`).
    fn eval_req_value(&self, ctx: &mut Ctx<'_>, rule: &Rule, out: &mut Vec<u8>) {
        let bytes = self
            .cbuf
            .and_then(|b| ctx.ring.bufs().bytes(b))
            .unwrap_or(&[]);
        let bytes = &bytes[..(self.clen as usize).min(bytes.len())];
        let be_name = self
            .be
            .and_then(|b| ctx.plan.backends.get(b))
            .map_or("", |b| b.name.as_str());
        let names = [ctx.fe_name, be_name];
        self.eval_value(
            rule,
            bytes,
            None,
            ctx.scratch,
            ctx.tmp,
            out,
            names,
            &self.vars,
        );
    }

    /// Appends the value of `rule` (its log-format parts evaluated on the
    /// current message) to `out`; returns its range there.
    #[expect(
        clippy::too_many_arguments,
        reason = "disjoint borrows of the worker's scratch"
    )]
    fn eval_value(
        &self,
        rule: &Rule,
        req: &[u8],
        res: Option<&[u8]>,
        scratch: &mut Scratch,
        tmp: &mut Vec<u8>,
        out: &mut Vec<u8>,
        names: [&str; 2],
        vars: &Vars,
    ) -> std::ops::Range<usize> {
        let start = out.len();
        let Some(value) = &rule.value else {
            return start..start;
        };
        let target = res
            .is_none()
            .then(|| self.reqp().head().target().slice(req));
        for part in value {
            match part {
                Part::Lit(b) => out.extend_from_slice(b),
                Part::Expr(e) => {
                    let mut view = self.view(req, res, tmp, vars);
                    e.eval(&mut view, scratch, &mut |s| {
                        write_sample(out, s);
                        Visit::Stop
                    });
                }
                Part::Alias(a) => {
                    use std::io::Write as _;
                    match *a {
                        "ci" | "fi" => {
                            let addr = if *a == "ci" { self.src } else { self.dst };
                            if let Some(x) = addr {
                                let _ = write!(out, "{}", x.ip());
                            }
                        }
                        "cp" | "fp" => {
                            let addr = if *a == "cp" { self.src } else { self.dst };
                            if let Some(x) = addr {
                                let _ = write!(out, "{}", x.port());
                            }
                        }
                        "HM" if res.is_none() => {
                            out.extend_from_slice(self.reqp().head().method_span().slice(req));
                        }
                        "HU" => out.extend_from_slice(target.unwrap_or(b"")),
                        "HP" => out.extend_from_slice(
                            target.and_then(weir_core::acl::http::path).unwrap_or(b""),
                        ),
                        "HQ" => {
                            if let Some(q) = target.and_then(weir_core::acl::http::query) {
                                out.push(b'?');
                                out.extend_from_slice(q);
                            }
                        }
                        "HV" => out.extend_from_slice(match self.version {
                            Version::Http10 => b"HTTP/1.0",
                            Version::Http11 => b"HTTP/1.1",
                        }),
                        "ST" if res.is_some() => {
                            let _ = write!(out, "{}", self.resp().head().status());
                        }
                        "f" => out.extend_from_slice(names[0].as_bytes()),
                        "b" => out.extend_from_slice(names[1].as_bytes()),
                        _ => {}
                    }
                }
            }
        }
        start..out.len()
    }

    /// Runs a request rule list; returns the answering rule if any.
    fn request_rules<'p>(&mut self, ctx: &mut Ctx<'_>, rules: &'p [Rule]) -> Option<&'p Rule> {
        if rules.is_empty() {
            return None;
        }
        let bytes = self
            .cbuf
            .and_then(|b| ctx.ring.bufs().bytes(b))
            .unwrap_or(&[]);
        let bytes = &bytes[..(self.clen as usize).min(bytes.len())];
        let be_name = self
            .be
            .and_then(|b| ctx.plan.backends.get(b))
            .map_or("", |b| b.name.as_str());
        let names = [ctx.fe_name, be_name];
        let mut vars = std::mem::take(&mut self.vars);
        let out = self.run_rules(
            rules,
            bytes,
            None,
            ctx.scratch,
            ctx.edits,
            ctx.tmp,
            names,
            &mut vars,
        );
        self.vars = vars;
        match out {
            RuleOutcome::Answer(i) => Some(&rules[i]),
            RuleOutcome::Continue | RuleOutcome::Stop => None,
        }
    }

    /// Evaluates a condition on the request.
    fn request_cond(&self, ctx: &mut Ctx<'_>, c: &weir_core::acl::Condition) -> bool {
        let bytes = self
            .cbuf
            .and_then(|b| ctx.ring.bufs().bytes(b))
            .unwrap_or(&[]);
        let bytes = &bytes[..(self.clen as usize).min(bytes.len())];
        let mut view = self.view(bytes, None, ctx.tmp, &self.vars);
        c.eval(&mut view, ctx.scratch) == Verdict::True
    }

    /// `balance hash EXPR`: the hash of the expression's first sample on
    /// the request (`None`: no sample, round robin).
    fn sample_hash(
        &self,
        ctx: &mut Ctx<'_>,
        e: &weir_core::acl::SampleExpr,
        f: weir_core::balance::HashFunction,
    ) -> Option<u32> {
        let bytes = self
            .cbuf
            .and_then(|b| ctx.ring.bufs().bytes(b))
            .unwrap_or(&[]);
        let bytes = &bytes[..(self.clen as usize).min(bytes.len())];
        let mut view = self.view(bytes, None, ctx.tmp, &self.vars);
        let mut h = None;
        e.eval(&mut view, ctx.scratch, &mut |s| {
            let mut buf = [0u8; 16];
            h = Some(weir_core::balance::hash_bytes(
                f,
                crate::pick::sample_bytes(&s, &mut buf),
            ));
            Visit::Stop
        });
        h
    }

    /// Runs `tcp-request content` rules: true when one rejects.
    fn content_rejects(&self, ctx: &mut Ctx<'_>, rules: &[TcpRulePlan]) -> bool {
        for r in rules {
            if r.cond.as_ref().is_none_or(|c| self.request_cond(ctx, c)) {
                return r.action == TcpAction::Reject;
            }
        }
        false
    }

    /// The request head is `cbuf[..n]`.
    fn on_request_head<'a>(&mut self, ctx: &mut Ctx<'a>, n: usize) -> HttpAsk {
        self.n_req += 1;
        let head = txn_of(&self.txn).reqp.head();
        self.method = head.method();
        self.version = head.version();
        self.client_keep = head.keep_alive() && !head.close_forced();
        if head.is_connect() {
            return self.local_error(ctx, 405);
        }
        if head.expect_unsupported() {
            return self.local_error(ctx, 417);
        }
        let n_headers = head.headers().len();
        let fe: &'a HttpFrontendPlan = ctx.fe;
        let plan: &'a Plan = ctx.plan;
        self.read_addrs(ctx, None);
        ctx.edits.reset(n_headers);
        // A new transaction: its variables start unset.
        self.vars.end(|s| s != Scope::Sess);
        self.forced_server = None;
        // `tcp-request content reject`: closed, nothing sent.
        if self.content_rejects(ctx, &fe.common.content) {
            return HttpAsk::Close(CloseKind::Normal);
        }
        // `monitor-uri`: answered before the `http-request` rules.
        if let Some(m) = &fe.monitor {
            let bytes = self.cbuf.and_then(|b| ctx.ring.bufs().bytes(b));
            if bytes.is_some_and(|b| self.reqp().head().target().slice(b) == &m.uri[..]) {
                let fail = m.fail.iter().any(|c| self.request_cond(ctx, c));
                return self.local_error(ctx, if fail { 503 } else { 200 });
            }
        }
        if let Some(rule) = self.request_rules(ctx, &fe.common.request) {
            return self.answer(ctx, rule, n);
        }
        if let Some(rule) = self.request_rules(ctx, &fe.common.redirect) {
            return self.answer(ctx, rule, n);
        }
        // Content switching: the first matching use_backend, else default.
        let mut be = None;
        for (cond, b) in &fe.switching {
            let hit = match cond {
                None => true,
                Some(c) => self.request_cond(ctx, c),
            };
            if hit {
                be = Some(*b);
                break;
            }
        }
        let Some(be) = be.or(fe.default_backend) else {
            return self.local_error(ctx, 503);
        };
        self.be = Some(be);
        let bh: Option<&'a HttpBackendPlan> = plan.backends.get(be).and_then(|b| b.http.as_deref());
        if let Some(bh) = bh {
            self.read_addrs(ctx, Some(bh));
        }
        // A `listen` serving its own request: its rules already ran.
        let own = fe.own_backend == Some(be);
        if let Some(bh) = bh.filter(|_| !own) {
            if self.content_rejects(ctx, &bh.common.content) {
                return HttpAsk::Close(CloseKind::Normal);
            }
            if let Some(rule) = self.request_rules(ctx, &bh.common.request) {
                return self.answer(ctx, rule, n);
            }
            if let Some(rule) = self.request_rules(ctx, &bh.common.redirect) {
                return self.answer(ctx, rule, n);
            }
        }
        {
            // `use-server`: the first rule that matches and names a usable
            // server (weir's servers are usable unless `disabled`).
            let servers = &plan.backends[be].servers;
            for (cond, i) in &plan.backends[be].use_server {
                if servers.get(usize::from(*i)).is_none_or(|s| s.disabled) {
                    continue;
                }
                if cond.as_ref().is_none_or(|c| self.request_cond(ctx, c)) {
                    self.forced_server = Some(*i);
                    break;
                }
            }
        }
        // `balance uri` / `url_param` / `hdr(…)`: the request's key, hashed
        // (on the request as received: rewrites come later, in compose).
        let bp = &plan.backends[be];
        self.lb_hash = match bp.lb_key.as_ref() {
            Some(crate::pick::HttpKey::Expr(e)) => {
                self.read_addrs_always(ctx);
                self.sample_hash(ctx, e, bp.hash_type.function)
            }
            k => k.and_then(|k| {
                let buf = self.cbuf.and_then(|b| ctx.ring.bufs().bytes(b))?;
                let head = self.reqp().head();
                let hdrs = head
                    .headers()
                    .iter()
                    .map(|h| (h.name.slice(buf), h.value.slice(buf)));
                k.hash(bp.hash_type, head.target().slice(buf), hdrs)
            }),
        };
        let mode = effective_mode(&fe.common, bh.map(|b| &b.common));
        if mode == ConnMode::Close {
            self.client_keep = false;
        }
        self.srv_keep = mode == ConnMode::KeepAlive && bh.is_none_or(|b| b.reuse != Reuse::Never);
        self.forward_request(ctx, n, be, bh)
    }

    /// Rebuilds the request head (and the body bytes already received) into
    /// `qout` and asks for a server.
    fn forward_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        n: usize,
        be: usize,
        bh: Option<&HttpBackendPlan>,
    ) -> HttpAsk {
        let Some(t) = self.txn.as_deref_mut() else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let head = t.reqp.head();
        let conn = if head.upgrade_requested() {
            ConnHdr::Upgrade
        } else if !self.srv_keep {
            ConnHdr::Close
        } else {
            ConnHdr::None
        };
        let ff = ctx
            .fe
            .common
            .forwardfor
            .as_ref()
            .or(bh.and_then(|b| b.common.forwardfor.as_ref()));
        let mut ipbuf = [0u8; 48];
        let mut ip_len = 0;
        let mut ff_name: &[u8] = &[];
        if let (Some(ff), Some(src)) = (ff, self.src) {
            let ip = src.ip();
            let ip = match ip {
                std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
                v4 => v4,
            };
            let excepted = ff.except.is_some_and(|net| in_net(ip, net));
            let present = ff.if_none
                && self
                    .cbuf
                    .and_then(|b| ctx.ring.bufs().bytes(b))
                    .is_some_and(|bytes| {
                        head.headers().iter().any(|h| {
                            h.name
                                .slice(bytes)
                                .eq_ignore_ascii_case(ff.header.as_bytes())
                        })
                    });
            if !excepted && !present {
                use std::io::Write as _;
                let mut c = std::io::Cursor::new(&mut ipbuf[..]);
                if write!(c, "{ip}").is_ok() {
                    ip_len = usize::try_from(c.position()).unwrap_or(0);
                    ff_name = ff.header.as_bytes();
                }
            }
        }
        let extra = (ip_len > 0).then_some((ff_name, &ipbuf[..ip_len]));
        t.req_body = BodyDecoder::new(head.framing(), self.opts);
        let Some(cb) = self.cbuf else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let (total, k, copied) = {
            let Some(bytes) = ctx.ring.bufs().bytes(cb) else {
                return HttpAsk::Close(CloseKind::Error);
            };
            let bytes = &bytes[..self.clen as usize];
            let k = match decode_all(&mut t.req_body, &bytes[n..]) {
                Ok(k) => k,
                Err((e, at)) => {
                    ctx.report.rejected += 1;
                    self.read_addrs_always(ctx);
                    ctx.captures.request(&Rejected {
                        frontend: ctx.fe_idx,
                        backend: self.be,
                        server: None,
                        src: self.src,
                        state: &e.state,
                        reason: &e.kind,
                        offset: (n + at) as u64,
                        bytes,
                        bufsize: ctx.ring.bufs().buf_size(),
                        body_from: None,
                    });
                    eprintln!(
                        "[WARNING] weir: frontend '{}': bad request body: {} at body offset {} ({:?})",
                        ctx.fe_name, e.kind, e.offset, e.state
                    );
                    return self.local_error(ctx, 400);
                }
            };
            let mut o = Out::new(&mut ctx.tmp[..]);
            if compose::request(&mut o, head, bytes, ctx.edits, conn, extra).is_err() {
                return self.local_error(ctx, 500);
            }
            let copied = o.put(&bytes[n..n + k]).is_ok();
            (o.len(), k, copied)
        };
        let Some(q) = Self::buf(ctx.ring, &mut self.qout) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let Some(dst) = ctx.ring.bufs_mut().bytes_mut(q) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        dst[..total].copy_from_slice(&ctx.tmp[..total]);
        self.qlen = total as u32;
        self.qsent = 0;
        if copied {
            Self::compact(ctx.ring, self.cbuf, &mut self.clen, (n + k) as u32);
            self.cfwd = 0;
        } else {
            Self::compact(ctx.ring, self.cbuf, &mut self.clen, n as u32);
            self.cfwd = k as u32;
        }
        self.csent = 0;
        if copied && t.req_body.is_done() {
            self.flags |= F_RETRYABLE;
        } else {
            self.flags &= !F_RETRYABLE;
        }
        self.flags &= !F_RES_STARTED;
        self.req = Req::Connect;
        self.res = Res::Idle;
        ctx.report.requests += 1;
        HttpAsk::Route(be)
    }

    /// The server connection is ready (new, or `reused` from the previous
    /// transaction of this client): send the request and wait for the answer.
    pub fn server_ready(&mut self, ctx: &mut Ctx<'_>, reused: bool) -> HttpAsk {
        if !reused {
            self.flags &= !F_RETRYABLE;
        }
        self.flags &= !F_SRV_EOF;
        self.res = Res::Head;
        if let Some(t) = self.txn.as_deref_mut() {
            t.resp.reset_response(self.method);
        }
        self.req = Req::Body;
        let a = self.send_srv(ctx, true);
        if a != HttpAsk::Wait {
            return a;
        }
        self.arm_srv_recv(ctx)
    }

    /// The server failed (error, close or garbage before a complete
    /// response): retry a reused connection's request once, else answer
    /// `code` if nothing was sent to the client yet, else abort.
    fn fail_server(&mut self, ctx: &mut Ctx<'_>, code: u16) -> HttpAsk {
        self.flags |= F_DROP_SRV;
        if self.res == Res::Head
            && self.slen == 0
            && self.has(F_RETRYABLE)
            && !self.has(F_QOUT)
            && self.qout.is_some()
        {
            if let Some(be) = self.be {
                self.flags &= !F_RETRYABLE;
                self.flags |= F_FRESH;
                self.qsent = 0;
                self.req = Req::Connect;
                return HttpAsk::Route(be);
            }
        }
        if self.can_answer() && matches!(self.res, Res::Head | Res::Idle) {
            return self.local_error(ctx, code);
        }
        HttpAsk::Close(CloseKind::ServerReset)
    }

    // ----------------------------------------------------------- response --

    fn process_response(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        if self.has(F_RETRYABLE) && !self.has(F_QOUT) {
            // An answer is coming: the request will not be sent again.
            self.flags &= !F_RETRYABLE;
            if let Some(b) = self.qout.take() {
                ctx.ring.bufs_mut().release(b);
            }
        }
        let size = ctx.ring.bufs().buf_size();
        let Some(bytes) = self.sbuf.and_then(|b| ctx.ring.bufs().bytes(b)) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let Some(t) = self.txn.as_deref_mut() else {
            return HttpAsk::Close(CloseKind::Error);
        };
        match t.resp.parse(&bytes[..self.slen as usize]) {
            Ok(Status::Partial) => {
                if self.slen as usize >= size {
                    ctx.report.bad_responses += 1;
                    self.read_addrs_always(ctx);
                    ctx.captures.response(&Rejected {
                        frontend: ctx.fe_idx,
                        backend: self.be,
                        server: ctx.server,
                        src: self.src,
                        state: &"incomplete head",
                        reason: &"response head larger than tune.bufsize",
                        offset: u64::from(self.slen),
                        bytes: &bytes[..self.slen as usize],
                        bufsize: size,
                        body_from: None,
                    });
                    eprintln!(
                        "[WARNING] weir: frontend '{}': response head from server larger than tune.bufsize",
                        ctx.fe_name
                    );
                    self.flags &= !F_RETRYABLE;
                    return self.fail_server(ctx, 502);
                }
                self.arm_srv_recv(ctx)
            }
            Ok(Status::Complete(n)) => self.on_response_head(ctx, n),
            Err(e) => {
                ctx.report.bad_responses += 1;
                self.read_addrs_always(ctx);
                ctx.captures.response(&Rejected {
                    frontend: ctx.fe_idx,
                    backend: self.be,
                    server: ctx.server,
                    src: self.src,
                    state: &e.state,
                    reason: &e.kind,
                    offset: u64::from(e.offset),
                    bytes: &bytes[..self.slen as usize],
                    bufsize: size,
                    body_from: None,
                });
                eprintln!(
                    "[WARNING] weir: frontend '{}': 502 Bad Gateway: invalid response from server: {} at offset {} (parser state {:?})",
                    ctx.fe_name, e.kind, e.offset, e.state
                );
                self.flags &= !F_RETRYABLE;
                self.fail_server(ctx, 502)
            }
        }
    }

    /// Writes a forwarded response head (and the body bytes already here)
    /// into `rout` and sends it. Returns false when it does not fit.
    fn emit_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        n: usize,
        conn: ConnHdr,
        body: bool,
    ) -> Option<HttpAsk> {
        let sb = self.sbuf?;
        let t = self.txn.as_deref_mut()?;
        let (total, k, copied) = {
            let bytes = ctx.ring.bufs().bytes(sb)?;
            let bytes = &bytes[..self.slen as usize];
            let k = if body {
                match decode_all(&mut t.res_body, &bytes[n..]) {
                    Ok(k) => k,
                    Err((e, at)) => {
                        // The caller answers 502 and counts it.
                        ctx.captures.response(&Rejected {
                            frontend: ctx.fe_idx,
                            backend: self.be,
                            server: ctx.server,
                            src: self.src.or_else(|| sys::peer_addr(ctx.cli).ok()),
                            state: &e.state,
                            reason: &e.kind,
                            offset: (n + at) as u64,
                            bytes,
                            bufsize: ctx.ring.bufs().buf_size(),
                            body_from: None,
                        });
                        return None;
                    }
                }
            } else {
                0
            };
            let mut o = Out::new(&mut ctx.tmp[..]);
            compose::response(&mut o, t.resp.head(), bytes, ctx.edits, conn).ok()?;
            let copied = o.put(&bytes[n..n + k]).is_ok();
            (o.len(), k, copied)
        };
        let r = Self::buf(ctx.ring, &mut self.rout)?;
        let dst = ctx.ring.bufs_mut().bytes_mut(r)?;
        dst[..total].copy_from_slice(&ctx.tmp[..total]);
        self.rlen = total as u32;
        self.rsent = 0;
        if copied {
            Self::compact(ctx.ring, self.sbuf, &mut self.slen, (n + k) as u32);
            self.sfwd = 0;
        } else {
            Self::compact(ctx.ring, self.sbuf, &mut self.slen, n as u32);
            self.sfwd = k as u32;
        }
        self.ssent = 0;
        Some(self.send_cli(ctx, true))
    }

    /// The response head is `sbuf[..n]`.
    fn on_response_head<'a>(&mut self, ctx: &mut Ctx<'a>, n: usize) -> HttpAsk {
        let head = self.resp().head();
        let status = head.status();
        let framing = head.framing();
        let keep = head.keep_alive();
        ctx.edits.reset(head.headers().len());
        if head.is_interim() {
            self.flags |= F_INTERIM;
            return self
                .emit_response(ctx, n, ConnHdr::None, false)
                .unwrap_or(HttpAsk::Close(CloseKind::Error));
        }
        if status == 101 {
            if !self.reqp().head().upgrade_requested() && !self.has(F_UPGRADE) {
                ctx.report.bad_responses += 1;
                eprintln!(
                    "[WARNING] weir: frontend '{}': 502 Bad Gateway: 101 from server without an upgrade request",
                    ctx.fe_name
                );
                return self.fail_server(ctx, 502);
            }
            self.flags |= F_UPGRADE | F_RES_STARTED;
            self.client_keep = false;
            self.srv_keep = false;
            return self
                .emit_response(ctx, n, ConnHdr::Upgrade, false)
                .unwrap_or(HttpAsk::Close(CloseKind::Error));
        }
        // Response processing: request-scope variables end, response ones start.
        self.vars.end(|s| matches!(s, Scope::Req | Scope::Res));
        // http-response rules: the backend's, then the frontend's (HAProxy's order).
        let fe: &'a HttpFrontendPlan = ctx.fe;
        let plan: &'a Plan = ctx.plan;
        let bh: Option<&'a HttpBackendPlan> = self
            .be
            .and_then(|b| plan.backends.get(b))
            .and_then(|b| b.http.as_deref());
        // A `listen` serving its own request runs its rules once.
        let own = self.be.is_some() && self.be == fe.own_backend;
        let lists = [
            bh.filter(|_| !own).map(|b| &b.common.response),
            Some(&fe.common.response),
        ];
        for rules in lists.into_iter().flatten() {
            if rules.is_empty() {
                continue;
            }
            let sbytes = self
                .sbuf
                .and_then(|b| ctx.ring.bufs().bytes(b))
                .unwrap_or(&[]);
            let sbytes = &sbytes[..(self.slen as usize).min(sbytes.len())];
            let be_name = self
                .be
                .and_then(|b| plan.backends.get(b))
                .map_or("", |b| b.name.as_str());
            let names = [ctx.fe_name, be_name];
            let mut vars = std::mem::take(&mut self.vars);
            let out = self.run_rules(
                rules,
                &[],
                Some(sbytes),
                ctx.scratch,
                ctx.edits,
                ctx.tmp,
                names,
                &mut vars,
            );
            self.vars = vars;
            match out {
                RuleOutcome::Continue => {}
                RuleOutcome::Stop => break,
                RuleOutcome::Answer(i) => {
                    // The server's answer is replaced: its connection
                    // cannot be reused (its body is left unread).
                    self.flags |= F_DROP_SRV;
                    self.res = Res::Idle;
                    return self.answer(ctx, &rules[i], 0);
                }
            }
        }
        if !keep || framing == Framing::UntilClose {
            self.srv_keep = false;
        }
        if framing == Framing::UntilClose || self.req != Req::Done {
            self.client_keep = false;
        }
        let conn = if !self.client_keep {
            ConnHdr::Close
        } else if self.version == Version::Http10 {
            ConnHdr::KeepAlive
        } else {
            ConnHdr::None
        };
        if let Some(t) = self.txn.as_deref_mut() {
            t.res_body = BodyDecoder::new(framing, self.opts);
        }
        self.res = Res::Body;
        self.flags |= F_RES_STARTED;
        match self.emit_response(ctx, n, conn, true) {
            Some(a) => a,
            None => {
                // Did not fit, or the first body bytes were invalid.
                self.flags &= !F_RES_STARTED;
                self.res = Res::Head;
                ctx.report.bad_responses += 1;
                self.fail_server(ctx, 502)
            }
        }
    }

    fn enter_tunnel(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        self.req = Req::Tunnel;
        self.res = Res::Tunnel;
        // Raw bytes from now on: no parser is needed any more.
        self.put_txn(ctx.txns);
        let a = if self.clen > 0 {
            self.cfwd = self.clen;
            self.csent = 0;
            self.send_srv(ctx, false)
        } else {
            self.arm_cli_recv(ctx)
        };
        if a != HttpAsk::Wait {
            return a;
        }
        if self.slen > 0 {
            self.sfwd = self.slen;
            self.ssent = 0;
            self.send_cli(ctx, false)
        } else {
            self.arm_srv_recv(ctx)
        }
    }

    /// The response was delivered: keep or close each side, then serve the
    /// next request.
    fn txn_done(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        self.res = Res::Idle;
        if self.req != Req::Done {
            // The server answered before the request body was through.
            return HttpAsk::Close(CloseKind::Normal);
        }
        if self.slen > 0 || !self.srv_keep || self.has(F_SRV_EOF) {
            self.flags |= F_DROP_SRV;
        } else if let Some(b) = self.sbuf.take() {
            // An idle server connection holds no buffer.
            ctx.ring.bufs_mut().release(b);
        }
        if !self.has(F_QOUT) {
            if let Some(b) = self.qout.take() {
                ctx.ring.bufs_mut().release(b);
            }
        }
        if !self.client_keep {
            return HttpAsk::Close(CloseKind::Normal);
        }
        self.next_request(ctx)
    }

    fn next_request(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        if self.clen == 0 {
            // Nothing of the next request yet: the parsers go back to the
            // pool (the next request's first bytes take them again).
            self.put_txn(ctx.txns);
        } else if let Some(t) = self.txn.as_deref_mut() {
            t.reqp.reset_request();
        }
        self.req = Req::Head;
        self.res = Res::Idle;
        self.flags &= !(F_RES_STARTED | F_RETRYABLE);
        self.req_start = ctx.now;
        if self.clen > 0 {
            self.process_request(ctx)
        } else {
            self.arm_cli_recv(ctx)
        }
    }

    // ------------------------------------------------------ local answers --

    fn errorfile<'p>(
        fe: &'p HttpFrontendPlan,
        plan: &'p Plan,
        be: Option<usize>,
        code: u16,
    ) -> Option<&'p [u8]> {
        let find = |c: &'p Common| {
            c.errorfiles
                .iter()
                .find(|(k, _)| *k == code)
                .map(|(_, b)| &b[..])
        };
        be.and_then(|b| plan.backends.get(b))
            .and_then(|b| b.http.as_deref())
            .and_then(|b| find(&b.common))
            .or_else(|| find(&fe.common))
    }

    /// Sends weir's error page `code` (or its `errorfile`) and closes.
    pub fn local_error(&mut self, ctx: &mut Ctx<'_>, code: u16) -> HttpAsk {
        if !self.can_answer() || self.rout.is_some() {
            return HttpAsk::Close(CloseKind::Error);
        }
        if matches!(self.res, Res::Head | Res::Body) {
            self.flags |= F_DROP_SRV;
        }
        let file = Self::errorfile(ctx.fe, ctx.plan, self.be, code);
        let len = {
            let mut o = Out::new(&mut ctx.tmp[..]);
            if compose::error_page(&mut o, code, file).is_err() {
                return HttpAsk::Close(CloseKind::Error);
            }
            o.len()
        };
        self.send_local(ctx, len, false, 0)
    }

    /// Copies `tmp[..len]` into `rout` and sends it; `keep`: serve the next
    /// request afterwards (the current head, `head_len` bytes, is dropped).
    fn send_local(
        &mut self,
        ctx: &mut Ctx<'_>,
        len: usize,
        keep: bool,
        head_len: usize,
    ) -> HttpAsk {
        let Some(r) = Self::buf(ctx.ring, &mut self.rout) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        let Some(dst) = ctx.ring.bufs_mut().bytes_mut(r) else {
            return HttpAsk::Close(CloseKind::Error);
        };
        dst[..len].copy_from_slice(&ctx.tmp[..len]);
        self.rlen = len as u32;
        self.rsent = 0;
        self.req = Req::Local;
        self.res = Res::Idle;
        if keep {
            Self::compact(ctx.ring, self.cbuf, &mut self.clen, head_len as u32);
        } else {
            self.flags |= F_CLOSING;
        }
        self.send_cli(ctx, true)
    }

    /// A rule answers the request (`deny`, `return`, `redirect`).
    fn answer(&mut self, ctx: &mut Ctx<'_>, rule: &Rule, head_len: usize) -> HttpAsk {
        // Keep the client connection only if nothing of the request is left
        // unread (no body) and the request allows it.
        let no_body = self.reqp().head().framing() == Framing::None;
        let keep = self.client_keep
            && no_body
            && head_len > 0
            && effective_mode(&ctx.fe.common, ctx.be_http(self.be).map(|b| &b.common))
                != ConnMode::Close;
        match &rule.action {
            HttpAction::Deny { status } => self.local_error(ctx, *status),
            HttpAction::SilentDrop => {
                // Nothing is sent: the worker's close that follows is made
                // silent for the client (TCP_REPAIR, else a RST that dies
                // at the first router).
                let _ = sys::prepare_silent_close(ctx.cli);
                HttpAsk::Close(CloseKind::Normal)
            }
            HttpAction::Tarpit { status } => {
                // Held without reading until the deadline (see `deadline`),
                // then answered by `on_timeout`.
                self.tarpit = (ctx.now.after_ms(rule.tarpit_ms.unwrap_or(0)), *status);
                self.req = Req::Tarpit;
                HttpAsk::Wait
            }
            HttpAction::Return(spec) => {
                let len = {
                    // `lf-string` / `lf-file`: the body is evaluated now.
                    let mut body = Vec::new();
                    if rule.value.is_some() {
                        self.eval_req_value(ctx, rule, &mut body);
                    }
                    let body = if rule.value.is_some() {
                        &body[..]
                    } else {
                        &spec.body[..]
                    };
                    let mut o = Out::new(&mut ctx.tmp[..]);
                    let head_only = self.method == Method::Head;
                    if compose::returned(&mut o, spec, body, head_only, !keep).is_err() {
                        return self.local_error(ctx, 500);
                    }
                    o.len()
                };
                self.send_local(ctx, len, keep, head_len)
            }
            HttpAction::Redirect(spec) => {
                let len = {
                    // `http-request redirect`: the target is a log-format
                    // string, evaluated now.
                    let mut to = Vec::new();
                    if rule.value.is_some() {
                        self.eval_req_value(ctx, rule, &mut to);
                    }
                    let bytes = self
                        .cbuf
                        .and_then(|b| ctx.ring.bufs().bytes(b))
                        .unwrap_or(&[]);
                    let bytes = &bytes[..(self.clen as usize).min(bytes.len())];
                    let to = if rule.value.is_some() {
                        &to[..]
                    } else {
                        spec.target.as_bytes()
                    };
                    let head = self.reqp().head();
                    let target = head.target().slice(bytes);
                    let host = head
                        .find(weir_http::HeaderId::Host)
                        .map(|h| h.value.slice(bytes));
                    let mut o = Out::new(&mut ctx.tmp[..]);
                    if compose::redirect(&mut o, spec, to, target, host, !keep).is_err() {
                        return self.local_error(ctx, 500);
                    }
                    o.len()
                };
                self.send_local(ctx, len, keep, head_len)
            }
            _ => HttpAsk::Wait,
        }
    }

    // ----------------------------------------------------------- timeouts --

    /// The deadline of what the session waits for now, given the last
    /// activity on each side (`None`: no timeout applies).
    #[must_use]
    pub fn deadline(
        &self,
        cli_last: Ticks,
        srv_last: Ticks,
        fe_client: Option<u64>,
        fe: &HttpFrontendPlan,
        be: Option<&crate::plan::BackendPlan>,
    ) -> Option<Ticks> {
        let min = |a: Option<Ticks>, b: Option<Ticks>| match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, None) => x,
            (None, y) => y,
        };
        let server = be.and_then(|b| b.server_ms);
        let mut d = None;
        match self.req {
            Req::Head => {
                let idle = self.n_req > 0 && self.clen == 0;
                let t = if idle {
                    fe.keep_alive_ms.or(fe_client)
                } else {
                    fe.http_request_ms.or(fe_client)
                };
                d = t.map(|t| self.req_start.after_ms(t));
            }
            Req::Body | Req::Local => d = fe_client.map(|t| cli_last.after_ms(t)),
            Req::Tunnel => {
                if let Some(t) = be.and_then(|b| b.tunnel_ms) {
                    return Some(cli_last.max(srv_last).after_ms(t));
                }
                d = min(
                    fe_client.map(|t| cli_last.after_ms(t)),
                    server.map(|t| srv_last.after_ms(t)),
                );
            }
            Req::Tarpit => return Some(self.tarpit.0),
            Req::Connect | Req::Done => {}
        }
        if matches!(self.res, Res::Head | Res::Body) {
            d = min(d, server.map(|t| srv_last.after_ms(t)));
        }
        d
    }

    /// The deadline passed.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> HttpAsk {
        match self.req {
            Req::Tarpit => self.local_error(ctx, self.tarpit.1),
            Req::Head => {
                if self.n_req > 0 && self.clen == 0 {
                    // `timeout http-keep-alive`: close silently.
                    return HttpAsk::Close(CloseKind::Timeout);
                }
                self.local_error(ctx, 408)
            }
            _ if self.res == Res::Head && self.can_answer() => {
                self.flags |= F_DROP_SRV;
                self.local_error(ctx, 504)
            }
            _ => HttpAsk::Close(CloseKind::Timeout),
        }
    }
}

/// Writes a sample as text (HAProxy's string cast).
fn write_sample(out: &mut Vec<u8>, s: Sample<'_>) {
    use std::io::Write as _;
    match s {
        Sample::Str(b) | Sample::Bin(b) => out.extend_from_slice(b),
        Sample::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Sample::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
        Sample::Bool(b) => out.push(if b { b'1' } else { b'0' }),
    }
}

/// A `set-var` sample copied out of the message (text goes to a buffer).
enum Owned {
    /// Text (`true`: binary) in the buffer.
    Bytes(bool),
    Int(i64),
    Bool(bool),
    Ip(std::net::IpAddr),
}

/// Outcome of a rule list.
enum RuleOutcome {
    /// No rule answered.
    Continue,
    /// `allow`: stop this list.
    Stop,
    /// This rule answers.
    Answer(usize),
}

#[cfg(test)]
mod tests {
    use super::{Options, Txn, TxnPool, TXN_SPARE};
    use weir_http::Status;

    fn addr(t: &Txn) -> *const Txn {
        t
    }

    #[test]
    fn pool_hands_back_the_last_returned_txn_reset_for_a_request() {
        let mut pool = TxnPool::default();
        let o = Options::DEFAULT;
        let mut a = pool.take(o);
        let b = pool.take(o);
        assert!(matches!(
            a.reqp.parse(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ok(Status::Complete(_))
        ));
        assert_eq!(a.reqp.head().headers().len(), 1);
        let (pa, pb) = (addr(&a), addr(&b));
        pool.put(b);
        pool.put(a);
        assert_eq!(pool.spare(), 2);
        // Most recently returned first, its request parser fresh.
        let a = pool.take(o);
        assert_eq!(addr(&a), pa);
        assert_eq!(a.reqp.head().headers().len(), 0);
        assert_eq!(addr(&pool.take(o)), pb);
        assert_eq!(pool.spare(), 0);
    }

    #[test]
    fn pool_keeps_settings_apart_and_spares_bounded() {
        let mut pool = TxnPool::default();
        let strict = Options::DEFAULT;
        let lax = Options {
            accept_invalid: true,
            ..Options::DEFAULT
        };
        let t = pool.take(lax);
        pool.put(t);
        // A strict frontend never gets the lenient parser.
        let mut s = pool.take(strict);
        assert_eq!(pool.spare(), 1);
        assert!(s
            .reqp
            .parse(b"GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n")
            .is_err());
        let mut l = pool.take(lax);
        assert!(l
            .reqp
            .parse(b"GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n")
            .is_ok());
        let many: Vec<_> = (0..TXN_SPARE + 10).map(|_| pool.take(strict)).collect();
        for t in many {
            pool.put(t);
        }
        assert_eq!(pool.spare(), TXN_SPARE);
    }
}
