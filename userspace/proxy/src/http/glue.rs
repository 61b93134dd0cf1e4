//! The worker's side of `mode http` (a child module of `worker`, kept in
//! the HTTP subsystem's directory): accepting into an HTTP session, routing
//! its requests to servers with the worker's connect/queue/retry machinery,
//! dispatching its completions and timers, answering 503 when no server can
//! be had, and releasing it. The loop calls in at a handful of points, each
//! marked "mode http" in `worker.rs`.

use weir_config::kw::http::Reuse;
use weir_core::pool::SlotKey;
use weir_runtime::{sys, OpKind};

use super::Worker;
use crate::http::session::{
    Ctx, HttpAsk, HttpSession, Req, CLI_POLL, CLI_RECV, CLI_SEND, SRV_RECV, SRV_SEND,
};
use crate::pick::Pick;
use crate::shared::bump;
use crate::tcp::session::{
    Ask, CloseKind, Session, State, F_CONNECT_TIMED_OUT, F_CONN_SLOT, F_SERVER_SLOT,
};
use weir_core::balance::HashKey;

impl Worker {
    /// Whether the session in `key`'s slot is an HTTP one.
    pub(super) fn is_http(&self, key: SlotKey) -> bool {
        self.http.is_http(key.index())
    }

    /// Runs `f` on the HTTP session of `key` with its context.
    fn with_http<R>(
        &mut self,
        key: SlotKey,
        f: impl FnOnce(&mut HttpSession, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let s = self.sessions.get(key)?;
        let (cli, srv, fe) = (s.cli, s.srv, usize::from(s.fe));
        let server = (srv >= 0).then_some(usize::from(s.server));
        let plan = &*self.plan;
        let fplan = plan.frontends.get(fe)?;
        let fh = fplan.http.as_deref()?;
        let (h, scratch, edits, tmp, report, txns) = self.http.get(key.index())?;
        let mut ctx = Ctx {
            ring: &mut self.ring,
            plan,
            fe: fh,
            fe_name: &fplan.name,
            cli,
            srv,
            tag: (key.index(), key.generation()),
            now: self.now,
            scratch,
            edits,
            tmp,
            report,
            txns,
            captures: &self.shared.captures,
            fe_idx: fe,
            server,
        };
        Some(f(h, &mut ctx))
    }

    /// Starts an HTTP session for accepted `fd` of frontend `fe` (its
    /// connection slots are reserved; `accepted` was counted).
    pub(super) fn start_http(&mut self, fd: std::os::fd::RawFd, li: usize, fe: u16, port: u16) {
        let _ = sys::set_nodelay(fd);
        let opts = match self.plan.frontends[usize::from(fe)].http.as_deref() {
            Some(h) => h.opts,
            None => return,
        };
        // The backend is chosen per request; 0 is a placeholder until then
        // (every use of it by the loop is guarded by the HTTP state).
        let mut s = Session::new(fd, fe, 0, port, 0, self.now, (false, false));
        s.flags |= F_CONN_SLOT;
        let key = match self.sessions.insert(s) {
            Ok(k) => k,
            Err(_) => {
                sys::close(fd);
                self.release_conn(fe);
                bump(&self.shared.counters[self.id].refused, 1);
                self.listeners[li].resume_at = self.now.after_ms(super::RESOURCE_PAUSE_MS);
                self.log_pool.warn(
                    self.now,
                    self.id,
                    format_args!("session pool full; pausing listeners briefly"),
                );
                return;
            }
        };
        self.keys[key.index() as usize] = Some(key);
        bump(&self.shared.counters[self.id].active, 1);
        self.http.attach(key.index(), opts, self.now);
        let ask = self
            .with_http(key, HttpSession::start)
            .unwrap_or(HttpAsk::Close(CloseKind::Error));
        self.apply_http(key, ask);
    }

    /// A completion for HTTP session `key`.
    pub(super) fn on_http(&mut self, key: SlotKey, kind: OpKind, result: i32) {
        if kind == crate::tcp::session::CONNECT {
            self.http_connected(key, result);
            return;
        }
        let now = self.now;
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let ask = if kind == CLI_POLL {
            self.with_http(key, |h, ctx| h.on_cli_poll(ctx, result))
        } else if kind == CLI_RECV || kind == CLI_SEND {
            if result > 0 {
                s.cli_last = now;
            }
            let send = kind == CLI_SEND;
            self.with_http(key, |h, ctx| {
                if send {
                    h.on_cli_send(ctx, result)
                } else {
                    h.on_cli_recv(ctx, result)
                }
            })
        } else {
            let (epoch, send) = if kind == SRV_RECV[0] {
                (0, false)
            } else if kind == SRV_RECV[1] {
                (1, false)
            } else if kind == SRV_SEND[0] {
                (0, true)
            } else if kind == SRV_SEND[1] {
                (1, true)
            } else {
                return;
            };
            if result > 0 {
                s.srv_last = now;
            }
            self.with_http(key, |h, ctx| {
                if send {
                    h.on_srv_send(ctx, epoch, result)
                } else {
                    h.on_srv_recv(ctx, epoch, result)
                }
            })
        };
        if let Some(ask) = ask {
            self.apply_http(key, ask);
        }
    }

    /// Carries out what an HTTP session asked, then re-arms its timer.
    fn apply_http(&mut self, key: SlotKey, ask: HttpAsk) {
        let drop = self
            .http
            .get(key.index())
            .is_some_and(|(h, ..)| h.take_drop_srv());
        if drop {
            self.http_drop_server(key);
        }
        match ask {
            HttpAsk::Wait => {}
            HttpAsk::Close(kind) => {
                self.close(key, kind);
                return;
            }
            HttpAsk::Route(be) => {
                self.http_route(key, be);
                return;
            }
        }
        self.refresh_timer(key);
    }

    /// Closes the server connection of `key` (keeping the client), or parks
    /// it in the server's idle list when it can serve again.
    fn http_drop_server(&mut self, key: SlotKey) {
        let reusable = self
            .http
            .get(key.index())
            .is_some_and(|(h, ..)| h.server_reusable());
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        if s.srv >= 0 {
            let parked = reusable
                && s.state == State::Forwarding
                && s.flags & F_SERVER_SLOT != 0
                && self
                    .http
                    .park(usize::from(s.be), usize::from(s.server), s.srv, self.now);
            if !parked {
                self.ring.cancel_and_close(s.srv);
            }
            s.srv = -1;
        }
        s.state = State::New;
        self.release_server(key);
        if let Some((h, ..)) = self.http.get(key.index()) {
            h.server_dropped(&mut self.ring);
        }
    }

    /// Sends the ready request of `key` to backend `be`: on the current
    /// server connection if it serves that backend, else on a new one.
    fn http_route(&mut self, key: SlotKey, be: usize) {
        let forced = self
            .http
            .get(key.index())
            .and_then(|(h, ..)| h.forced_server);
        let lb_hash = self.http.get(key.index()).and_then(|(h, ..)| h.lb_hash);
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        // The current server connection serves the request unless a
        // `use-server` rule or the request's hash (`balance uri`, …) chose
        // another server: HAProxy balances each request.
        if s.srv >= 0
            && s.state == State::Forwarding
            && usize::from(s.be) == be
            && forced.is_none_or(|f| f == s.server)
            && (forced.is_some()
                || lb_hash.is_none_or(|h| {
                    self.pickers.get_mut(be).is_some_and(|p| {
                        p.pick_key(None, HashKey::Hash(h), |_| false) == Pick::Server(s.server)
                    })
                }))
        {
            let ask = self
                .with_http(key, |h, ctx| h.server_ready(ctx, true))
                .unwrap_or(HttpAsk::Close(CloseKind::Error));
            self.apply_http(key, ask);
            return;
        }
        if s.srv >= 0 {
            self.http_drop_server(key);
        }
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(bplan) = self.plan.backends.get(be) else {
            self.close(key, CloseKind::Error);
            return;
        };
        s.be = be as u16;
        s.retries_left = u8::try_from(bplan.retries).unwrap_or(u8::MAX);
        s.state = State::New;
        s.since = self.now;
        let reuse = bplan.http.as_deref().map_or(Reuse::Safe, |b| b.reuse);
        let idle_ok = self
            .http
            .get(key.index())
            .is_some_and(|(h, ..)| h.may_take_idle(reuse));
        self.http_dispatch(key, be, idle_ok);
        if self.sessions.contains(key) {
            self.refresh_timer(key);
        }
    }

    /// The worker's `dispatch_session`, with one more step: once the
    /// balancer chose a server, an idle connection to it is used if allowed
    /// (`idle_ok`) and available.
    fn http_dispatch(&mut self, key: SlotKey, be: usize, idle_ok: bool) {
        let now = self.now;
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let gauges = &self.shared.servers[be];
        let client = if self.pickers[be].needs_client_addr() {
            sys::peer_addr(s.cli).ok().map(|a| a.ip())
        } else {
            None
        };
        let (forced, lb_hash) = self
            .http
            .get(key.index())
            .map_or((None, None), |(h, ..)| (h.forced_server, h.lb_hash));
        // `use-server` bypasses the balancer; a server at its maxconn or
        // DOWN by its health checks falls back to it (weir has no
        // per-server queue to wait in).
        let health = &self.shared.health[be];
        let mut pick = match forced {
            Some(i)
                if usize::from(i) < gauges.len()
                    && !gauges[usize::from(i)].is_full()
                    && health.is_up(usize::from(i)) =>
            {
                Pick::Server(i)
            }
            _ => {
                let k = match lb_hash {
                    Some(h) => HashKey::Hash(h),
                    None => client.map_or(HashKey::None, HashKey::Addr),
                };
                self.pickers[be].pick_key(None, k, |i| gauges[usize::from(i)].is_full())
            }
        };
        if let Pick::Server(i) = pick {
            if !gauges[usize::from(i)].reserve() {
                pick = Pick::Queue;
            }
        }
        match pick {
            Pick::Server(i) => {
                s.assign(i);
                self.pickers[be].opened(i);
                let ring = &mut self.ring;
                let idle = if idle_ok {
                    self.http
                        .take(be, usize::from(i), now, |fd| ring.cancel_and_close(fd))
                } else {
                    None
                };
                match idle {
                    Some(fd) => {
                        s.srv = fd;
                        s.state = State::Forwarding;
                        s.srv_last = now;
                        let ask = self
                            .with_http(key, |h, ctx| h.server_ready(ctx, true))
                            .unwrap_or(HttpAsk::Close(CloseKind::Error));
                        self.apply_http(key, ask);
                    }
                    None => self.connect(key),
                }
            }
            Pick::Queue => {
                s.enqueue(now);
                bump(&self.shared.counters[self.id].queued, 1);
                self.queues[be].push_back(key);
            }
            Pick::NoServer => self.close(key, CloseKind::NoServer),
        }
    }

    /// The server connect of HTTP session `key` completed with `result`.
    fn http_connected(&mut self, key: SlotKey, result: i32) {
        let now = self.now;
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        if s.state != State::Connecting {
            return;
        }
        let timed_out = s.flags & F_CONNECT_TIMED_OUT != 0;
        let c = &self.shared.counters[self.id];
        if result == 0 && !timed_out {
            s.state = State::Forwarding;
            s.cli_last = now;
            s.srv_last = now;
            let ask = self
                .with_http(key, |h, ctx| h.server_ready(ctx, false))
                .unwrap_or(HttpAsk::Close(CloseKind::Error));
            self.apply_http(key, ask);
            return;
        }
        bump(&c.connect_errors, 1);
        if timed_out {
            bump(&c.timeouts, 1);
        }
        sys::close(s.srv);
        s.srv = -1;
        let redispatch = self
            .plan
            .backends
            .get(usize::from(s.be))
            .is_some_and(|b| b.redispatch);
        let ask = if s.retries_left == 0 {
            Ask::Close(CloseKind::NoServer)
        } else {
            bump(&c.retries, 1);
            s.retries_left -= 1;
            if s.retries_left == 0 && redispatch {
                Ask::Dispatch {
                    avoid: Some(s.server),
                }
            } else {
                s.state = State::RetryWait;
                s.since = now;
                Ask::Wait
            }
        };
        self.apply(key, ask);
    }

    /// The timer of HTTP session `key` fired.
    pub(super) fn http_timeout(&mut self, key: SlotKey) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        if matches!(
            s.state,
            State::Queued | State::RetryWait | State::Connecting
        ) {
            let ask = s.on_timeout(&mut self.ring);
            self.apply(key, ask);
            return;
        }
        let ask = self
            .with_http(key, HttpSession::on_timeout)
            .unwrap_or(HttpAsk::Close(CloseKind::Timeout));
        self.apply_http(key, ask);
    }

    /// Re-arms the timer of HTTP session `key`.
    pub(super) fn http_refresh_timer(&mut self, key: SlotKey) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let fplan = &self.plan.frontends[usize::from(s.fe)];
        let bplan = self.plan.backends.get(usize::from(s.be));
        let d = match (s.state, bplan) {
            (State::Queued | State::RetryWait | State::Connecting, Some(b)) => {
                if s.flags & F_CONNECT_TIMED_OUT != 0 {
                    None
                } else {
                    s.deadline(fplan, b)
                }
            }
            _ => {
                let (Some(fh), Some((h, ..))) = (fplan.http.as_deref(), self.http.get(key.index()))
                else {
                    return;
                };
                let be = h.be.and_then(|b| self.plan.backends.get(b));
                h.deadline(s.cli_last, s.srv_last, fplan.client_ms, fh, be)
            }
        };
        s.deadline = d;
        if let Some(d) = d {
            self.timers.arm(&mut s.timer, key, d);
        }
    }

    /// Called first by `close`: an HTTP session still waiting for a server
    /// answers 503 (or 504) instead of being cut. Returns true when it took
    /// over (the session closes once the page is sent).
    pub(super) fn http_close_hook(&mut self, key: SlotKey, kind: CloseKind) -> bool {
        if self.hard || !self.is_http(key) {
            return false;
        }
        let code = match kind {
            CloseKind::NoServer | CloseKind::QueueTimeout | CloseKind::Error => 503,
            CloseKind::Timeout => 504,
            CloseKind::Normal | CloseKind::ClientReset | CloseKind::ServerReset => return false,
        };
        let waiting = self
            .http
            .get(key.index())
            .is_some_and(|(h, ..)| h.req == Req::Connect && h.can_answer() && !h.is_closing());
        if !waiting {
            return false;
        }
        let Some(s) = self.sessions.get_mut(key) else {
            return false;
        };
        if s.state == State::Queued {
            crate::shared::drop_by(&self.shared.counters[self.id].queued, 1);
        }
        if s.srv >= 0 {
            self.ring.cancel_and_close(s.srv);
            s.srv = -1;
        }
        s.state = State::New;
        self.release_server(key);
        let c = &self.shared.counters[self.id];
        match kind {
            CloseKind::NoServer => bump(&c.no_server, 1),
            CloseKind::QueueTimeout => bump(&c.queue_timeouts, 1),
            _ => {}
        }
        let ask = self
            .with_http(key, |h, ctx| {
                h.server_dropped(ctx.ring);
                h.local_error(ctx, code)
            })
            .unwrap_or(HttpAsk::Close(CloseKind::Error));
        self.apply_http(key, ask);
        true
    }

    /// Called by `close` once the connection session `s` is removed: gives
    /// the HTTP session's buffers back, frees its slot, and parks a server
    /// connection that can serve another client (then `s.srv` is -1).
    pub(super) fn http_forget(&mut self, index: u32, s: &mut Session, kind: CloseKind) {
        let mut reusable = false;
        if let Some((h, .., txns)) = self.http.get(index) {
            reusable = h.server_reusable();
            h.release(&mut self.ring, txns);
        }
        self.http.detach(index);
        if reusable
            && kind == CloseKind::Normal
            && s.srv >= 0
            && s.state == State::Forwarding
            && s.flags & F_SERVER_SLOT != 0
            && self
                .http
                .park(usize::from(s.be), usize::from(s.server), s.srv, self.now)
        {
            s.srv = -1;
        }
    }
}
