//! Parse-time benchmark (no criterion: plain timing, median of runs).
//! Run: `cargo bench -p weir-config --bench parse`; for instruction counts:
//! `WEIR_BENCH_ONCE=1 valgrind --tool=callgrind <bench binary>` with one
//! input at a time (`WEIR_BENCH_ONLY=corpus|synthetic`).
//!
//! Measures the shared HAProxy corpus (50 real files, read into memory
//! first, when `../shared/compat` is present) and a synthetic configuration
//! of 200 backends × 50 servers with a frontend per backend.

use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `WEIR_BENCH_ONCE=1`: one run, no warm-up, for instruction counts under
/// `valgrind --tool=callgrind` (stable on this noisy shared machine, unlike
/// wall time).
fn once() -> bool {
    std::env::var_os("WEIR_BENCH_ONCE").is_some()
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    if once() {
        let t = Instant::now();
        f();
        return t.elapsed();
    }
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let none = |_: &str| None;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/compat/haproxy-configs");
    let only = std::env::var("WEIR_BENCH_ONLY").unwrap_or_default();
    if only == "synthetic" {
        // skip the corpus
    } else if let Ok(rd) = std::fs::read_dir(&dir) {
        let files: Vec<(String, String)> = rd
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "cfg"))
            .map(|e| {
                let p = e.path();
                (
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap_or_default(),
                )
            })
            .collect();
        let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
        let d = time(50, || {
            for (n, t) in &files {
                std::hint::black_box(weir_config::parse_str_with_env(n, t, &none).is_ok());
            }
        });
        println!(
            "corpus: {} files, {lines} lines: {:?} per pass ({:.0} ns/line)",
            files.len(),
            d,
            d.as_nanos() as f64 / lines as f64
        );
    } else {
        println!("corpus: skipped ({} absent)", dir.display());
    }

    if only == "corpus" {
        return;
    }
    let mut big = String::from("global\n maxconn 100000\ndefaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n");
    for b in 0..200 {
        big.push_str(&format!(
            "frontend f{b}\n bind 127.0.0.1:{}\n default_backend b{b}\n",
            10000 + b
        ));
        big.push_str(&format!(
            "backend b{b}\n balance roundrobin\n default-server check inter 2s\n"
        ));
        for s in 0..50 {
            big.push_str(&format!(
                " server s{s} 10.{}.{}.{}:8080 weight {}\n",
                b / 250,
                b % 250,
                s + 1,
                s % 10 + 1
            ));
        }
    }
    let lines = big.lines().count();
    let d = time(20, || {
        let c = weir_config::parse_str_with_env("big.cfg", &big, &none).unwrap();
        std::hint::black_box(c.backends.len());
    });
    println!(
        "synthetic: 200 backends x 50 servers, {lines} lines: {d:?} per parse ({:.0} ns/line)",
        d.as_nanos() as f64 / lines as f64
    );
}
