//! Micro-benchmarks of weir-core's hot paths: `cargo bench -p weir-core`.
//!
//! A plain `harness = false` timer loop (no external framework: numbers are
//! medians of several runs of a fixed number of iterations, with
//! `black_box` keeping the optimiser honest). Prints ns per operation.
//!
//! Arguments: `[FILTER] [--iters N]`. With `--iters`, each selected
//! benchmark runs exactly once for N iterations, which is what instruction
//! counting wants (timings on a shared 2-core machine are noisy; counts are
//! not):
//!
//! ```text
//! B=$(ls -t target/release/deps/core-* | grep -v '\.d$' | head -1)
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null $B "leastconn pick+open+close, 32" --iters 100000
//! valgrind ... --iters 200000   # instructions per op = difference / 100000
//! ```

use std::hint::black_box;
use std::time::Instant;
use weir_core::balance::{
    Algorithm, Balancer, BalancerConfig, HashKey, HashMethod, HashType, PickCtx, ServerSpec,
};
use weir_core::maglev::{self, MaglevBackend};
use weir_core::pool::Pool;
use weir_core::timer::{Ticks, TimerQueue};

struct Opts {
    filter: Option<String>,
    iters: Option<u64>,
}

static OPTS: std::sync::OnceLock<Opts> = std::sync::OnceLock::new();

/// Median over several runs of the time per iteration of `f` run `iters`
/// times (or one run of `--iters N`).
fn bench(name: &str, iters: u64, mut f: impl FnMut(u64)) {
    let opts = OPTS.get().expect("options parsed");
    if opts
        .filter
        .as_ref()
        .is_some_and(|flt| !name.contains(flt.as_str()))
    {
        return;
    }
    let (runs, iters) = match opts.iters {
        Some(n) => (1, n),
        None => (7, iters),
    };
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            for i in 0..iters {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!("{name:<48} {:>10.1} ns/op", samples[runs / 2]);
}

fn pool() {
    let mut p: Pool<[u64; 8]> = Pool::with_capacity(10_000);
    let mut keys = Vec::with_capacity(100);
    bench("pool: insert+remove (100 live)", 1_000_000, |i| {
        if keys.len() == 100 {
            let k = keys.swap_remove((i % 100) as usize);
            black_box(p.remove(k));
        }
        keys.push(p.insert([i; 8]).unwrap());
    });
    let k = p.insert([0; 8]).unwrap();
    bench("pool: get", 10_000_000, |_| {
        black_box(p.get(black_box(k)));
    });
}

fn timer() {
    const N: usize = 10_000;
    // N sessions with a 1 s timeout; every event pushes one session's
    // deadline 1 s ahead. Time advances 1 ms per 1000 events, so each
    // session sees an event every ~10 ms: ~100 postponements per timeout
    // period, the shape of a busy proxy. Expired entries are collected once
    // per simulated millisecond, as the event loop does once per turn.
    let mut q: TimerQueue<usize> = TimerQueue::with_capacity(N);
    let mut slots = vec![None; N];
    let mut deadlines = vec![Ticks(1000); N];
    for (k, s) in slots.iter_mut().enumerate() {
        q.arm(s, k, Ticks(1000));
    }
    bench(
        "timer: postpone via arm (lazy) + expiry scan",
        2_000_000,
        |i| {
            let k = (i as usize).wrapping_mul(7919) % N;
            let now = Ticks(i / 1000);
            let d = now.after_ms(1000);
            deadlines[k] = d;
            q.arm(&mut slots[k], k, d);
            if i % 1000 == 0 {
                while let Some(k) = q.pop_expired(now, |k| Some(deadlines[k])) {
                    black_box(k);
                }
            }
        },
    );
    let mut q: TimerQueue<usize> = TimerQueue::with_capacity(N);
    let handles: Vec<_> = (0..N).map(|k| q.schedule(k, Ticks(1000))).collect();
    bench("timer: postpone via reschedule (eager)", 2_000_000, |i| {
        let k = (i as usize).wrapping_mul(7919) % N;
        q.reschedule(handles[k], Ticks(i / 1000).after_ms(1000));
    });
    let mut q: TimerQueue<usize> = TimerQueue::with_capacity(2 * N);
    for k in 0..N {
        q.schedule(k, Ticks(k as u64 % 5000));
    }
    bench("timer: schedule + cancel (10k queued)", 2_000_000, |i| {
        let h = q.schedule(i as usize, Ticks(i % 3000));
        black_box(q.cancel(h));
    });
}

fn balance() {
    for n in [4usize, 32] {
        for (name, algo, method) in [
            ("roundrobin", Algorithm::RoundRobin, HashMethod::MapBased),
            ("static-rr", Algorithm::StaticRr, HashMethod::MapBased),
            ("leastconn", Algorithm::LeastConn, HashMethod::MapBased),
            ("first", Algorithm::First, HashMethod::MapBased),
            (
                "random(2)",
                Algorithm::Random { draws: 2 },
                HashMethod::MapBased,
            ),
            ("source map-based", Algorithm::Source, HashMethod::MapBased),
            (
                "source consistent",
                Algorithm::Source,
                HashMethod::Consistent,
            ),
        ] {
            let specs: Vec<ServerSpec> = (0..n)
                .map(|i| ServerSpec::weighted(1 + (i as u32 % 3)))
                .collect();
            let cfg = BalancerConfig {
                algorithm: algo,
                hash_type: HashType {
                    method,
                    avalanche: true,
                    ..HashType::default()
                },
                seed: 1,
                ..BalancerConfig::default()
            };
            let mut b = Balancer::new(cfg, &specs).unwrap();
            let mut open = std::collections::VecDeque::with_capacity(64);
            bench(
                &format!("balance: {name} pick+open+close, {n} servers"),
                1_000_000,
                |i| {
                    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(i as u32));
                    let id = b
                        .pick(PickCtx {
                            key: HashKey::Addr(ip),
                            avoid: None,
                        })
                        .unwrap();
                    b.on_conn_open(id);
                    open.push_back(id);
                    if open.len() == 64 {
                        b.on_conn_close(open.pop_front().unwrap());
                    }
                },
            );
        }
    }
}

fn maglev_build() {
    for n in [10usize, 100, 1000] {
        let names: Vec<String> = (0..n)
            .map(|i| format!("10.0.{}.{}:80", i / 250, i % 250))
            .collect();
        let bs: Vec<MaglevBackend<'_>> = names
            .iter()
            .map(|s| MaglevBackend {
                name: s.as_bytes(),
                weight: 1,
            })
            .collect();
        let mut table = vec![0u32; maglev::DEFAULT_TABLE_SIZE as usize];
        bench(
            &format!("maglev: build 65537 entries, {n} backends"),
            20,
            |_| {
                maglev::build_into(&bs, &mut table).unwrap();
                black_box(&table);
            },
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut opts = Opts {
        filter: None,
        iters: None,
    };
    while let Some(a) = args.next() {
        if a == "--iters" {
            opts.iters = args.next().and_then(|n| n.parse().ok());
        } else {
            opts.filter = Some(a);
        }
    }
    let _ = OPTS.set(opts);
    pool();
    timer();
    balance();
    maglev_build();
}
