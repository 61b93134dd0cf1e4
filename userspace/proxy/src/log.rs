//! A tiny logger to stderr with HAProxy-like lines, and a rate limiter so a
//! condition that repeats per connection (out of fds, pool full) is logged
//! once per interval, never per connection.

use weir_core::timer::Ticks;

/// Minimum interval between two lines about the same condition.
pub const INTERVAL_MS: u64 = 1000;

/// Remembers when a condition was last logged and how often it recurred since.
#[derive(Debug, Default)]
pub struct RateLimit {
    last: Option<Ticks>,
    suppressed: u64,
}

impl RateLimit {
    /// Logs `msg` as a warning unless this condition was logged less than
    /// [`INTERVAL_MS`] ago (then only counts it).
    pub fn warn(&mut self, now: Ticks, worker: usize, msg: std::fmt::Arguments<'_>) {
        if self
            .last
            .is_some_and(|l| now.saturating_ms_since(l) < INTERVAL_MS)
        {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            eprintln!(
                "[WARNING] weir worker {worker}: {msg} ({} more since last report)",
                self.suppressed
            );
        } else {
            eprintln!("[WARNING] weir worker {worker}: {msg}");
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}

/// One `option tcplog`-style line for a finished session (a subset of
/// HAProxy's fields: client address, frontend, backend/server, bytes each
/// way, termination state).
pub fn tcplog(
    client: Option<std::net::SocketAddr>,
    s: &crate::tcp::session::Session,
    fe: &crate::plan::FrontendPlan,
    be: &crate::plan::BackendPlan,
    kind: crate::tcp::session::CloseKind,
) {
    use crate::tcp::session::CloseKind as K;
    let term = match kind {
        K::Normal => "--",
        K::ClientReset => "CD",
        K::ServerReset => "SD",
        K::NoServer => "SC",
        K::Timeout => "cD",
        K::QueueTimeout => "sQ",
        K::Error => "PR",
    };
    let srv = be
        .servers
        .get(usize::from(s.server))
        .map_or("<NOSRV>", |x| x.name.as_str());
    let client = client.map_or_else(|| "-".to_string(), |a| a.to_string());
    eprintln!(
        "{client} {} {}/{srv} {} {} {term}",
        fe.name, be.name, s.bytes_in, s.bytes_out
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppresses_within_interval() {
        let mut r = RateLimit::default();
        r.warn(Ticks(0), 0, format_args!("x"));
        r.warn(Ticks(10), 0, format_args!("x"));
        r.warn(Ticks(999), 0, format_args!("x"));
        assert_eq!(r.suppressed, 2);
        r.warn(Ticks(1000), 0, format_args!("x"));
        assert_eq!(r.suppressed, 0);
        assert_eq!(r.last, Some(Ticks(1000)));
    }
}
