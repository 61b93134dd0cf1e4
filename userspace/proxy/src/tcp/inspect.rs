//! `tcp-request content` rules of a `mode tcp` frontend (a child module of
//! the worker, like the http glue: it needs the worker's fields).
//!
//! A connection of such a frontend is accepted into a session that waits
//! ([`F_INSPECT`]) before any server is picked. Each time the client's
//! socket becomes readable, the queued bytes are peeked (never consumed:
//! the forwarding later reads them as usual) and the rules run over them
//! ([`Peeked`]). The first rule that matches decides (`reject` closes,
//! sending nothing; `accept`, or no rule matching, dispatches the session
//! as usual). While a rule cannot decide yet (`req.len`, `req.payload`
//! or `wait_end` may still change), the session waits for more bytes —
//! SO_RCVLOWAT makes the next poll wait for at least one more — until
//! `tcp-request inspect-delay` expires; the rules then run a last time on
//! what is there, undecided samples counting as final. Without an inspect
//! delay they run once, at once, on whatever already arrived (HAProxy's
//! behaviour).

use weir_core::acl::Verdict;
use weir_core::pool::SlotKey;
use weir_runtime::{sys, OpKind, UserData};

use super::Worker;
use crate::http::sample::Peeked;
use crate::shared::bump;
use crate::tcp::session::{CloseKind, F_INSPECT};
use weir_config::kw::rules::TcpAction;

/// Op kind of the poll on a client being inspected.
pub(super) const INSPECT: OpKind = OpKind(40);

/// What the rules decided.
enum Decision {
    Reject,
    Pass,
    Wait,
}

impl Worker {
    /// Starts inspecting the new session `key` (its frontend has content
    /// rules), or decides at once without an inspect delay.
    pub(super) fn start_inspect(&mut self, key: SlotKey) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        s.flags |= F_INSPECT;
        s.since = self.now;
        let has_delay = self.plan.frontends[usize::from(s.fe)].inspect_ms.is_some();
        if has_delay {
            self.arm_inspect(key);
            self.refresh_timer(key);
        } else {
            self.inspect(key, true);
        }
    }

    fn arm_inspect(&mut self, key: SlotKey) {
        if let Some(s) = self.sessions.get(key) {
            let ud = UserData::new(INSPECT, key.index(), key.generation());
            self.ring
                .poll(s.cli, (libc::POLLIN | libc::POLLRDHUP) as u32, ud);
        }
    }

    /// Whether session `key` is being inspected.
    pub(super) fn inspecting(&self, key: SlotKey) -> bool {
        self.sessions
            .get(key)
            .is_some_and(|s| s.flags & F_INSPECT != 0)
    }

    /// The client of inspected session `key` became readable (`result`:
    /// the poll's), or (`fin`) the inspect delay expired.
    pub(super) fn on_inspect(&mut self, key: SlotKey, result: i32, fin: bool) {
        if !self.inspecting(key) || result == -libc::ECANCELED {
            return;
        }
        if result < 0 {
            self.close(key, CloseKind::ClientReset);
            return;
        }
        self.inspect(key, fin);
    }

    /// Peeks, runs the rules, and acts on the decision.
    fn inspect(&mut self, key: SlotKey, mut fin: bool) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let (cli, fe) = (s.cli, usize::from(s.fe));
        if self.peek_buf.len() < self.plan.bufsize {
            self.peek_buf.resize(self.plan.bufsize, 0);
        }
        let n = match sys::peek(cli, &mut self.peek_buf) {
            Ok(0) => {
                // The client closed: nothing more will come.
                fin = true;
                0
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(_) => {
                self.close(key, CloseKind::ClientReset);
                return;
            }
        };
        if n == self.peek_buf.len() {
            fin = true; // the buffer is full: nothing more can be seen
        }
        let mut view = Peeked {
            src: sys::peer_addr(cli).ok(),
            dst: sys::local_addr(cli).ok(),
            data: &self.peek_buf[..n],
            fin,
        };
        let scratch = &mut self.http.scratch;
        let mut decision = Decision::Pass;
        for r in &self.plan.frontends[fe].tcp_content {
            let v = match &r.cond {
                None => Verdict::True,
                Some(c) => c.eval(&mut view, scratch),
            };
            match v {
                Verdict::True => {
                    decision = match r.action {
                        TcpAction::Reject => Decision::Reject,
                        TcpAction::Accept => Decision::Pass,
                    };
                    break;
                }
                // Undecided once nothing more can come: not a match.
                Verdict::False => {}
                Verdict::NeedMoreData if fin => {}
                Verdict::NeedMoreData => {
                    decision = Decision::Wait;
                    break;
                }
            }
        }
        match decision {
            Decision::Wait => {
                // Wake up only once more than `n` bytes are queued.
                if n > 0 {
                    let _ = sys::set_rcvlowat(cli, i32::try_from(n + 1).unwrap_or(i32::MAX));
                }
                self.arm_inspect(key);
                self.refresh_timer(key);
            }
            Decision::Reject => {
                bump(&self.shared.counters[self.id].denied, 1);
                self.close(key, CloseKind::Normal);
            }
            Decision::Pass => {
                if let Some(s) = self.sessions.get_mut(key) {
                    s.flags &= !F_INSPECT;
                }
                if n > 0 {
                    let _ = sys::set_rcvlowat(cli, 1);
                }
                self.dispatch_session(key, None);
                self.refresh_timer(key);
            }
        }
    }
}
