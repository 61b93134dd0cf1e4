//! Benchmarks. Each measures weir against HAProxy and the direct path in one
//! run, interleaved per round so that drifts of the machine hit all alike.

pub mod load;
pub mod proc;
pub mod report;
pub mod tcp;
pub mod xdp;

/// Pins the calling thread to one CPU (load generator and backends share
/// CPU 0; the proxy under test gets CPU 1).
pub fn pin_current_thread(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        // Best effort: on a machine with one CPU the benchmark still runs,
        // with everyone sharing it (the report states the CPU count).
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}
