//! Load-balancing algorithms observed from outside: each backend server
//! answers its own name, and the tests count who answered.

mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use common::backends::{ask, ask_from, Backend};
use common::{Weir, TCP_DEFAULTS};

/// The configuration with a single worker. Each worker of
/// weir balances on its own (no shared mutable state between cores), so
/// properties of one algorithm's sequence (interleaving, fill order, exact
/// counts) are checked on one worker; properties that must hold for the
/// whole process (weights over many connections, source stickiness,
/// consistent hashing) run with the default worker count.
fn one_worker(config: &str) -> String {
    format!("global\n    nbthread 1\n\n{config}")
}

/// Reason for the tests that wait on the proxy's balancer integration.
/// Starts one `whoami` backend per name.
fn servers(names: &[&str]) -> Vec<Backend> {
    names.iter().map(|n| Backend::whoami(n)).collect()
}

/// `listen l` with `balance ALGO`, the extra lines, and one `server` line
/// per backend with its options.
fn config(balance: &str, extra: &str, backends: &[(&str, &Backend, &str)]) -> String {
    let mut s = format!(
        "{TCP_DEFAULTS}\nlisten l\n    bind 127.0.0.1:{{P0}}\n    balance {balance}\n{extra}\n"
    );
    for (name, b, opts) in backends {
        s.push_str(&format!("    server {name} {} {opts}\n", b.addr));
    }
    s
}

/// Who answers `n` sequential connections.
fn tally(w: &Weir, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for i in 0..n {
        let who = ask(w.addr(0)).unwrap_or_else(|e| panic!("connection {i}: {e}\n{}", w.output()));
        *counts.entry(who).or_insert(0) += 1;
    }
    counts
}

fn count(c: &HashMap<String, usize>, k: &str) -> usize {
    c.get(k).copied().unwrap_or(0)
}

#[test]
fn weighted_roundrobin_follows_weights_within_one_percent() {
    let _serial = common::heavy();
    const N: usize = 10_000;
    let b = servers(&["a", "b", "c", "d"]);
    let weights = [1usize, 2, 3, 4];
    let cfg = config(
        "roundrobin",
        "",
        &[
            ("a", &b[0], "weight 1"),
            ("b", &b[1], "weight 2"),
            ("c", &b[2], "weight 3"),
            ("d", &b[3], "weight 4"),
        ],
    );
    let w = Weir::start(&cfg);
    let c = tally(&w, N);
    let total_w: usize = weights.iter().sum();
    for (name, wt) in ["a", "b", "c", "d"].iter().zip(weights) {
        let share = count(&c, name) as f64 / N as f64;
        let want = wt as f64 / total_w as f64;
        assert!(
            (share - want).abs() <= 0.01,
            "{name}: share {share:.4}, weight share {want:.4}; all: {c:?}"
        );
    }
}

#[test]
fn roundrobin_interleaves_smoothly() {
    // Weights 3 and 1: the heavy server never gets more than 3 in a row and
    // the light one is not starved within any window of 4.
    let b = servers(&["h", "l"]);
    let w = Weir::start(&one_worker(&config(
        "roundrobin",
        "",
        &[("h", &b[0], "weight 3"), ("l", &b[1], "weight 1")],
    )));
    let seq: Vec<String> = (0..40).map(|_| ask(w.addr(0)).unwrap()).collect();
    for win in seq.windows(4) {
        assert_eq!(
            win.iter().filter(|s| *s == "l").count(),
            1,
            "window {win:?} of {seq:?}"
        );
    }
}

#[test]
fn static_rr_follows_weights() {
    let b = servers(&["a", "b"]);
    let w = Weir::start(&one_worker(&config(
        "static-rr",
        "",
        &[("a", &b[0], "weight 1"), ("b", &b[1], "weight 3")],
    )));
    let c = tally(&w, 400);
    assert_eq!((count(&c, "a"), count(&c, "b")), (100, 300), "{c:?}");
}

#[test]
fn leastconn_spreads_held_connections_evenly() {
    let hold = Duration::from_secs(5);
    let b: Vec<Backend> = ["a", "b", "c"]
        .iter()
        .map(|n| Backend::whoami_holding(n, hold))
        .collect();
    let w = Weir::start(&one_worker(&config(
        "leastconn",
        "",
        &[("a", &b[0], ""), ("b", &b[1], ""), ("c", &b[2], "")],
    )));
    // Open 30 connections one after another, each established (the id
    // read) before the next: leastconn must give each server 10.
    let mut held = Vec::new();
    let mut c: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        let mut s = w.connect(0);
        let mut id = [0u8; 1];
        std::io::Read::read_exact(&mut s, &mut id).unwrap();
        *c.entry(String::from_utf8_lossy(&id).into_owned())
            .or_insert(0) += 1;
        held.push(s);
    }
    for n in ["a", "b", "c"] {
        assert_eq!(count(&c, n), 10, "{c:?}");
    }
}

#[test]
fn first_fills_servers_in_order_up_to_maxconn() {
    let hold = Duration::from_secs(5);
    let b: Vec<Backend> = ["a", "b", "c"]
        .iter()
        .map(|n| Backend::whoami_holding(n, hold))
        .collect();
    let w = Weir::start(&one_worker(&config(
        "first",
        "",
        &[
            ("a", &b[0], "maxconn 2"),
            ("b", &b[1], "maxconn 2"),
            ("c", &b[2], "maxconn 2"),
        ],
    )));
    let mut held: Vec<TcpStream> = Vec::new();
    let mut order = String::new();
    for _ in 0..5 {
        let mut s = w.connect(0);
        let mut id = [0u8; 1];
        std::io::Read::read_exact(&mut s, &mut id).unwrap();
        order.push(id[0] as char);
        held.push(s);
    }
    assert_eq!(order, "aabbc");
}

#[test]
fn source_keeps_each_client_address_on_one_server() {
    let b = servers(&["a", "b", "c"]);
    let w = Weir::start(&config(
        "source",
        "",
        &[("a", &b[0], ""), ("b", &b[1], ""), ("c", &b[2], "")],
    ));
    let mut used = HashMap::new();
    for i in 1..=40u8 {
        let src = Ipv4Addr::new(127, 0, 1, i);
        let first = ask_from(src, w.addr(0)).unwrap();
        for _ in 0..3 {
            assert_eq!(
                ask_from(src, w.addr(0)).unwrap(),
                first,
                "source {src} moved"
            );
        }
        *used.entry(first).or_insert(0) += 1;
    }
    assert!(used.len() >= 2, "40 sources all on one server: {used:?}");
}

#[test]
fn random_uses_every_server() {
    let b = servers(&["a", "b", "c"]);
    let w = Weir::start(&config(
        "random",
        "",
        &[("a", &b[0], ""), ("b", &b[1], ""), ("c", &b[2], "")],
    ));
    let c = tally(&w, 900);
    for n in ["a", "b", "c"] {
        let k = count(&c, n);
        assert!((150..=450).contains(&k), "{n}: {k} of 900: {c:?}");
    }
}

#[test]
fn backup_takes_over_only_when_no_active_server_is_usable() {
    let b = servers(&["active", "backup1", "backup2"]);
    // An active server in service: backups get nothing.
    let w = Weir::start(&one_worker(&config(
        "roundrobin",
        "",
        &[
            ("active", &b[0], ""),
            ("backup1", &b[1], "backup"),
            ("backup2", &b[2], "backup"),
        ],
    )));
    let c = tally(&w, 20);
    assert_eq!(count(&c, "active"), 20, "{c:?}");
    drop(w);
    // Active server in maintenance (`disabled`): the first backup only.
    let w = Weir::start(&one_worker(&config(
        "roundrobin",
        "",
        &[
            ("active", &b[0], "disabled"),
            ("backup1", &b[1], "backup"),
            ("backup2", &b[2], "backup"),
        ],
    )));
    let c = tally(&w, 20);
    assert_eq!(count(&c, "backup1"), 20, "{c:?}");
    drop(w);
    // With `option allbackups`, every backup shares the load.
    let w = Weir::start(&one_worker(&config(
        "roundrobin",
        "    option allbackups",
        &[
            ("active", &b[0], "disabled"),
            ("backup1", &b[1], "backup"),
            ("backup2", &b[2], "backup"),
        ],
    )));
    let c = tally(&w, 20);
    assert_eq!(
        (count(&c, "backup1"), count(&c, "backup2")),
        (10, 10),
        "{c:?}"
    );
}

/// Which server each of `sources` lands on.
fn mapping(w: &Weir, sources: &[Ipv4Addr]) -> Vec<String> {
    sources
        .iter()
        .map(|s| ask_from(*s, w.addr(0)).unwrap_or_else(|e| panic!("from {s}: {e}")))
        .collect()
}

#[test]
fn consistent_hash_moves_only_the_removed_servers_keys() {
    let _serial = common::heavy();
    const N: usize = 5;
    let names = ["s0", "s1", "s2", "s3", "s4"];
    let b = servers(&names);
    let sources: Vec<Ipv4Addr> = (0..400u32)
        .map(|i| Ipv4Addr::new(127, 1 + (i / 250) as u8, (i % 250) as u8, 1 + (i % 7) as u8))
        .collect();
    let all: Vec<(&str, &Backend, &str)> = names.iter().zip(&b).map(|(n, b)| (*n, b, "")).collect();
    // s3 taken out of service. (Deleting its line would also renumber the
    // servers after it, and a server's ring points derive from its number,
    // as in HAProxy: that moves their keys too.)
    let without_s3: Vec<(&str, &Backend, &str)> = all
        .iter()
        .map(|&(n, b, _)| (n, b, if n == "s3" { "disabled" } else { "" }))
        .collect();

    let run = |hash: &str, servers: &[(&str, &Backend, &str)]| {
        // `avalanche`: source addresses differ in few bits, and sdbm alone
        // maps them to a narrow arc of the ring (HAProxy documents the
        // same; real deployments add avalanche for this reason).
        let w = Weir::start(&config(
            "source",
            &format!("    hash-type {hash} sdbm avalanche"),
            servers,
        ));
        mapping(&w, &sources)
    };

    let before = run("consistent", &all);
    let after = run("consistent", &without_s3);
    let mut spread: HashMap<&str, usize> = HashMap::new();
    for s in &before {
        *spread.entry(s.as_str()).or_insert(0) += 1;
    }
    assert_eq!(
        spread.len(),
        N,
        "400 sources do not reach all {N} servers: {spread:?}"
    );
    let mut moved = 0usize;
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        if a != b {
            moved += 1;
            assert_eq!(
                a, "s3",
                "source {} moved from {a} to {b} though {a} stayed",
                sources[i]
            );
        }
    }
    let frac = moved as f64 / sources.len() as f64;
    assert!(
        frac > 0.5 / N as f64 && frac < 2.0 / N as f64,
        "moved {moved} of {} ({frac:.3}), expected about 1/{N}",
        sources.len()
    );

    // The control: map-based hashing moves most keys when a server goes.
    let before = run("map-based", &all);
    let after = run("map-based", &without_s3);
    let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert!(
        moved as f64 / sources.len() as f64 > 0.5,
        "map-based moved only {moved} of {}",
        sources.len()
    );
}
