//! The open-files limit: raised to the hard limit at start, checked against
//! what `maxconn` needs.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The soft and hard RLIMIT_NOFILE after `raise_nofile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft open-files limit to the hard limit (only root can raise
/// the hard one, and on many hosts not even root: see the README).
pub fn raise_nofile() -> nix::Result<FdLimit> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(FdLimit { soft: hard, hard })
}

/// File descriptors a proxy with `maxconn` sessions may hold at once: each
/// session has a client and a server socket plus, while splicing, a pipe
/// (two descriptors); every listener costs one per worker; `RESERVE` covers
/// the ring, the signal pipe, log sockets and standard streams.
pub fn fds_needed(maxconn: u64, listeners_total: u64) -> u64 {
    const PER_SESSION: u64 = 4;
    const RESERVE: u64 = 64;
    maxconn
        .saturating_mul(PER_SESSION)
        .saturating_add(listeners_total)
        .saturating_add(RESERVE)
}

/// The warning to print when `needed` exceeds the limit, or `None`.
pub fn shortfall_warning(limit: FdLimit, needed: u64, maxconn: u64) -> Option<String> {
    (needed > limit.soft).then(|| {
        format!(
            "maxconn {maxconn} may need up to {needed} file descriptors but the open-files \
             limit is {} (hard limit {}); sessions beyond about {} will wait or be refused. \
             Raise it with `ulimit -n`, LimitNOFILE= in the systemd unit, or \
             /etc/security/limits.conf (and fs.nr_open if above 1048576)",
            limit.soft,
            limit.hard,
            limit.soft.saturating_sub(64) / 4
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_reaches_the_hard_limit() {
        let l = raise_nofile().unwrap();
        assert_eq!(l.soft, l.hard);
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!((soft, hard), (l.soft, l.hard));
    }

    #[test]
    fn warning_only_when_short() {
        let limit = FdLimit {
            soft: 20_000,
            hard: 20_000,
        };
        assert!(shortfall_warning(limit, fds_needed(1_000, 4), 1_000).is_none());
        let w = shortfall_warning(limit, fds_needed(10_000, 4), 10_000).unwrap();
        assert!(w.contains("20000") && w.contains("10000"), "{w}");
    }
}
