//! `steer-connections`: with two workers pinned to CPUs 0 and 1, the
//! connections a client opens from CPU c land on the worker pinned to CPU c
//! (on loopback the receiving CPU is the sender's). Observable: the `-d`
//! line each worker's accept count gets at stop.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::backends::Backend;
use common::{Signal, Weir};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

const CONNECTIONS: u64 = 200;

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Starts weir (2 workers on CPUs 0 and 1, `steer` line if any), opens
/// [`CONNECTIONS`] echoed connections from a thread pinned to `cpu`, stops
/// weir and returns (accepted by worker 0, by worker 1, weir's output).
fn run(steer: &str, cpu: usize) -> (u64, u64, String) {
    let echo = Backend::echo();
    let cfg = format!(
        "global\n    nbthread 2\n    cpu-map auto:1/1-2 0-1\n{steer}\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\n\
         listen l\n    bind 127.0.0.1:{{P0}}\n    server s {}\n",
        echo.addr
    );
    let mut w = Weir::start(&cfg);
    let addr = w.addr(0);
    std::thread::spawn(move || {
        let mut set = CpuSet::new();
        set.set(cpu).unwrap();
        sched_setaffinity(Pid::from_raw(0), &set).unwrap();
        for i in 0..CONNECTIONS {
            let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connection {i}: {e}"));
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"x");
        }
    })
    .join()
    .unwrap();
    w.signal(Signal::SIGTERM);
    assert!(
        w.wait_exit(Duration::from_secs(10)).is_some(),
        "weir did not stop"
    );
    let out = w.output();
    let count = |worker: usize, cpu: usize| -> u64 {
        let head = format!("worker {worker} (CPU {cpu}): ");
        let line = out
            .lines()
            .find_map(|l| l.split_once(&head).map(|(_, r)| r.to_string()))
            .unwrap_or_else(|| panic!("no '{head}' line in:\n{out}"));
        line.split(' ').next().unwrap().parse().unwrap()
    };
    let (a, b) = (count(0, 0), count(1, 1));
    assert_eq!(a + b, CONNECTIONS, "{out}");
    (a, b, out)
}

fn share(mine: u64) -> f64 {
    mine as f64 / CONNECTIONS as f64
}

#[test]
fn connections_land_on_the_worker_of_the_senders_cpu() {
    if cpus() < 2 {
        eprintln!("skipped: needs 2 CPUs");
        return;
    }
    // The default (workers pinned one per CPU) and the explicit keyword.
    for steer in ["", "    steer-connections cpu"] {
        for cpu in 0..2 {
            let (a, b, out) = run(steer, cpu);
            let mine = if cpu == 0 { a } else { b };
            eprintln!(
                "steer {steer:?}, sender on CPU {cpu}: worker 0 {a}, worker 1 {b} ({:.1}% on CPU {cpu}'s worker)",
                100.0 * share(mine)
            );
            // As root the program attaches; otherwise SO_INCOMING_CPU is
            // the fallback and says so. Either must steer.
            assert!(
                out.contains("SK_REUSEPORT program attached")
                    || out.contains("SO_INCOMING_CPU set on each listener"),
                "{out}"
            );
            if nix::unistd::geteuid().is_root() {
                assert!(out.contains("SK_REUSEPORT program attached"), "{out}");
            }
            assert!(
                share(mine) >= 0.95,
                "steer {steer:?} cpu {cpu}: {a}/{b}\n{out}"
            );
        }
    }
}

#[test]
fn off_leaves_the_kernels_spread() {
    if cpus() < 2 {
        eprintln!("skipped: needs 2 CPUs");
        return;
    }
    let (a, b, out) = run("    steer-connections off", 0);
    eprintln!(
        "steer off, sender on CPU 0: worker 0 {a}, worker 1 {b} ({:.1}% on CPU 0's worker)",
        100.0 * share(a)
    );
    assert!(!out.contains("SK_REUSEPORT program attached"), "{out}");
    // The kernel hashes the 4-tuple: with 200 source ports each worker gets
    // a fair part (below 10% has a probability far under 1e-20).
    assert!(
        a >= CONNECTIONS / 10 && b >= CONNECTIONS / 10,
        "{a}/{b}\n{out}"
    );
}

#[test]
fn source_hash_spreads_by_connection() {
    if cpus() < 2 || !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs 2 CPUs and root (eBPF)");
        return;
    }
    let (a, b, out) = run("    steer-connections source", 0);
    eprintln!("steer source, sender on CPU 0: worker 0 {a}, worker 1 {b}");
    assert!(out.contains("SK_REUSEPORT program attached"), "{out}");
    assert!(out.contains("by source hash"), "{out}");
    assert!(
        a >= CONNECTIONS / 10 && b >= CONNECTIONS / 10,
        "{a}/{b}\n{out}"
    );
}
