//! `steer-connections`: which worker's listener a new connection lands on.
//! Every worker has its own SO_REUSEPORT listener per `bind`; without help
//! the kernel spreads connections over them by a hash. With `cpu` an
//! SK_REUSEPORT program (weir-kernel) picks the listener of the worker
//! pinned to the CPU that received the packet, so the connection is served
//! on that core, near its NIC queue; with `source` the program picks by the
//! connection's 4-tuple hash. Where the program cannot load (no CAP_BPF, old
//! kernel), `cpu` falls back to SO_INCOMING_CPU on each listener, which the
//! kernel's reuseport lookup prefers on a matching CPU.
//!
//! Set up after binding (the group must be complete, in worker order) and
//! before privileges are dropped. Stop: the program stays attached to the
//! group until its last socket closes (the workers close theirs), or until
//! a reloading process attaches its own to the group it joined; detaching
//! explicitly at stop would take the successor's program away, so dropping
//! [`Steering`] only releases this process's program and map.

use weir_config::{Config, SteerConnections};
use weir_kernel::{ReuseportMode, ReuseportSteering};
use weir_proxy::Bound;
use weir_runtime::sys;

use crate::Log;

/// What steers this process's listeners (kept until the workers stopped).
pub struct Steering {
    /// One loaded program per reuseport group.
    programs: Vec<ReuseportSteering>,
    /// The CPU of each worker, for the stop report.
    cpus: Vec<Option<usize>>,
}

/// The worker CPUs when every worker is pinned to a CPU of its own.
fn one_per_cpu(cpus: &[Option<usize>]) -> Option<Vec<usize>> {
    let cpus: Vec<usize> = cpus.iter().copied().collect::<Option<_>>()?;
    let mut sorted = cpus.clone();
    sorted.sort_unstable();
    sorted.dedup();
    (sorted.len() == cpus.len()).then_some(cpus)
}

/// Sets up steering for every reuseport group of `bound`.
///
/// # Errors
/// None today: a program that does not load is reported and replaced by
/// the fallback; kept fallible for the caller's `?`.
pub fn start(config: &Config, bound: &Bound, log: &Log) -> anyhow::Result<Steering> {
    let cpus = bound.worker_cpus().to_vec();
    let mut st = Steering {
        programs: Vec::new(),
        cpus: cpus.clone(),
    };
    let groups = bound.reuseport_groups();
    let explicit = config.global.steer_connections;
    if cpus.len() < 2 || groups.is_empty() {
        if explicit.is_some_and(|m| m != SteerConnections::Off) {
            log.debug("steer-connections: one worker or no listener: nothing to steer");
        }
        return Ok(st);
    }
    let pinned = one_per_cpu(&cpus);
    let mode = match (explicit, &pinned) {
        (Some(SteerConnections::Off), _) => {
            log.debug("steer-connections off: the kernel spreads connections");
            return Ok(st);
        }
        (Some(SteerConnections::Source), _) => SteerConnections::Source,
        (Some(SteerConnections::Cpu) | None, Some(_)) => SteerConnections::Cpu,
        (Some(SteerConnections::Cpu), None) => {
            log.info(
                "steer-connections cpu: the workers are not pinned one per CPU \
                 (see cpu-map): the kernel spreads connections",
            );
            return Ok(st);
        }
        (None, None) => {
            log.debug(
                "steer-connections: workers not pinned one per CPU: the kernel spreads connections",
            );
            return Ok(st);
        }
    };
    // Loud when asked for, quiet when it is only the default.
    let say = |m: &str| {
        if explicit.is_some() {
            log.info(m);
        } else {
            log.debug(m);
        }
    };
    for group in &groups {
        let r = match (mode, &pinned) {
            (SteerConnections::Cpu, Some(cpus)) => {
                let size = cpus.iter().max().map_or(1, |c| c + 1);
                attach(ReuseportMode::ByCpu, size, group, cpus)
            }
            _ => {
                let index: Vec<usize> = (0..group.len()).collect();
                attach(ReuseportMode::ByHash, group.len(), group, &index)
            }
        };
        match r {
            Ok(p) => st.programs.push(p),
            Err(e) => match (mode, &pinned) {
                (SteerConnections::Cpu, Some(cpus)) => {
                    for (s, cpu) in group.iter().zip(cpus) {
                        if let Err(e) =
                            sys::set_incoming_cpu(std::os::fd::AsRawFd::as_raw_fd(*s), *cpu)
                        {
                            log.info(&format!("steer-connections: SO_INCOMING_CPU: {e}"));
                        }
                    }
                    say(&format!(
                        "steer-connections cpu: SK_REUSEPORT program not attached ({e:#}): \
                         SO_INCOMING_CPU set on each listener instead"
                    ));
                }
                _ => say(&format!(
                    "steer-connections source: SK_REUSEPORT program not attached ({e:#}): \
                     the kernel spreads connections"
                )),
            },
        }
    }
    if !st.programs.is_empty() {
        let how = match mode {
            SteerConnections::Cpu => "by receiving CPU",
            _ => "by source hash",
        };
        let map: Vec<String> = cpus
            .iter()
            .enumerate()
            .map(|(w, c)| match c {
                Some(c) => format!("worker {w} on CPU {c}"),
                None => format!("worker {w}"),
            })
            .collect();
        say(&format!(
            "steer-connections: SK_REUSEPORT program attached to {} listener group(s), {how} ({})",
            st.programs.len(),
            map.join(", ")
        ));
    }
    Ok(st)
}

/// Loads a program sized `size`, puts socket `group[w]` at `index[w]`,
/// attaches it to the group.
fn attach(
    mode: ReuseportMode,
    size: usize,
    group: &[&sys::OwnedSocket],
    index: &[usize],
) -> anyhow::Result<ReuseportSteering> {
    let size = u32::try_from(size)?;
    let mut p = ReuseportSteering::load(mode, size)?;
    for (s, i) in group.iter().zip(index) {
        p.set_socket(u32::try_from(*i)?, *s)?;
    }
    p.attach(group[0])?;
    Ok(p)
}

impl Steering {
    /// At stop, with `-d`: how many connections each worker accepted (what
    /// the steering did, observable from outside).
    pub fn report(&self, accepted: &[u64], log: &Log) {
        for (w, n) in accepted.iter().enumerate() {
            let cpu = match self.cpus.get(w).copied().flatten() {
                Some(c) => format!(" (CPU {c})"),
                None => String::new(),
            };
            log.debug(&format!("worker {w}{cpu}: {n} connection(s) accepted"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::one_per_cpu;

    #[test]
    fn one_worker_per_cpu() {
        assert_eq!(one_per_cpu(&[Some(0), Some(1)]), Some(vec![0, 1]));
        assert_eq!(one_per_cpu(&[Some(3), Some(1)]), Some(vec![3, 1]));
        assert_eq!(one_per_cpu(&[Some(0), Some(0)]), None);
        assert_eq!(one_per_cpu(&[Some(0), None]), None);
    }
}
