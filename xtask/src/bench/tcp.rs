//! `cargo xtask bench tcp`: TCP forwarding through weir, HAProxy and
//! directly, with the same configuration file, interleaved per round.
//!
//! Placement on the 2-core machine: the proxy under test runs on CPU 1
//! (`taskset` and `cpu-map 1/1 1`, one thread); the load generator and the
//! backends share CPU 0. The direct path uses the same client and backend,
//! without a proxy.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::load::{self, Backend, Holder};
use super::proc::{cpu_seconds, rss_bytes, wrk_close, Nginx, Proxy};
use super::report::{Metric, Results};

/// Concurrent connections of wrk (one thread, on the load CPU).
const WRK_CONNECTIONS: usize = 16;

/// CPU of the proxy under test.
const PROXY_CPU: usize = 1;
const MIB: u64 = 1 << 20;

const METRICS: &[Metric] = &[
    Metric {
        key: "gbps_1m",
        title: "forwarding, 1 MiB transfers",
        unit: "Gbit/s",
        higher_is_better: true,
        decimals: 2,
    },
    Metric {
        key: "gbps_100m",
        title: "forwarding, 100 MiB transfers",
        unit: "Gbit/s",
        higher_is_better: true,
        decimals: 2,
    },
    Metric {
        key: "conn_rate",
        title: "new connections (1-byte answer, close)",
        unit: "conn/s",
        higher_is_better: true,
        decimals: 0,
    },
    Metric {
        key: "wrk_rate",
        title: "new connections, wrk + nginx, HTTP `Connection: close`",
        unit: "req/s",
        higher_is_better: true,
        decimals: 0,
    },
    Metric {
        key: "cpu_us_wrk",
        title: "proxy CPU per wrk request (new connection each)",
        unit: "µs",
        higher_is_better: false,
        decimals: 1,
    },
    Metric {
        key: "cpu_gb_1m",
        title: "proxy CPU per GB, 1 MiB transfers",
        unit: "CPU s/GB",
        higher_is_better: false,
        decimals: 3,
    },
    Metric {
        key: "cpu_gb_100m",
        title: "proxy CPU per GB, 100 MiB transfers",
        unit: "CPU s/GB",
        higher_is_better: false,
        decimals: 3,
    },
    Metric {
        key: "cpu_us_conn",
        title: "proxy CPU per connection",
        unit: "µs",
        higher_is_better: false,
        decimals: 1,
    },
    Metric {
        key: "cpu_us_conn_paced",
        title: "proxy CPU per connection at a fixed rate",
        unit: "µs",
        higher_is_better: false,
        decimals: 1,
    },
    Metric {
        key: "rss_idle",
        title: "RSS growth per idle proxied connection",
        unit: "bytes",
        higher_is_better: false,
        decimals: 0,
    },
    Metric {
        key: "rss_fresh",
        title: "RSS of the fresh process (pools allocated at start count here)",
        unit: "MiB",
        higher_is_better: false,
        decimals: 1,
    },
    Metric {
        key: "rss_all_idle",
        title: "RSS with the idle connections open, divided by their number",
        unit: "bytes",
        higher_is_better: false,
        decimals: 0,
    },
];

#[derive(Debug)]
struct Options {
    rounds: usize,
    targets: Vec<String>,
    seconds: f64,
    idle: usize,
    weir: Option<PathBuf>,
    out: Option<PathBuf>,
    clients: usize,
    rate: u32,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        rounds: 3,
        targets: vec!["weir".into(), "haproxy".into(), "direct".into()],
        seconds: 3.0,
        idle: 7500,
        weir: None,
        out: Some(PathBuf::from("bench/RESULTS.md")),
        clients: 4,
        rate: 500,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => o.rounds = val()?.parse()?,
            "--targets" => o.targets = val()?.split(',').map(str::to_owned).collect(),
            "--seconds" => o.seconds = val()?.parse()?,
            "--idle" => o.idle = val()?.parse()?,
            "--clients" => o.clients = val()?.parse()?,
            "--rate" => o.rate = val()?.parse()?,
            "--weir" => o.weir = Some(PathBuf::from(val()?)),
            "--out" => o.out = Some(PathBuf::from(val()?)),
            "--no-save" => o.out = None,
            other => bail!("unknown option '{other}'"),
        }
    }
    for t in &o.targets {
        if !["weir", "haproxy", "direct"].contains(&t.as_str()) {
            bail!("unknown target '{t}' (weir, haproxy, direct)");
        }
    }
    if o.rounds == 0 || o.idle > 7700 || o.seconds <= 0.0 || o.seconds > 60.0 {
        bail!("--rounds ≥ 1, --idle ≤ 7700 (maxconn 7800) (open-files limit), 0 < --seconds ≤ 60");
    }
    Ok(o)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn config_text(
    bench: u16,
    idle: u16,
    http: u16,
    backend: SocketAddr,
    holder: SocketAddr,
    nginx: u16,
) -> String {
    format!(
        "# Written by `cargo xtask bench tcp`; the same file is given to weir and HAProxy.
global
    maxconn 7800
    nbthread 1
    cpu-map 1/1 {PROXY_CPU}

defaults
    mode tcp
    maxconn 7800
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option splice-auto

listen bench
    bind 127.0.0.1:{bench}
    server s1 {backend}

listen idle
    bind 127.0.0.1:{idle}
    server h1 {holder}

# tcp mode in front of nginx, for the wrk phase
listen http
    bind 127.0.0.1:{http}
    server n1 127.0.0.1:{nginx}
"
    )
}

/// /proc/loadavg's first three fields.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The machine, for the results file.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or_else(
            || "?".into(),
            |kb| format!("{:.1} GiB", kb as f64 / 1048576.0),
        );
    let u = nix::sys::utsname::uname().ok();
    let kernel = u.map_or_else(
        || "?".into(),
        |u| {
            format!(
                "{} {}",
                u.sysname().to_string_lossy(),
                u.release().to_string_lossy()
            )
        },
    );
    let nproc = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .unwrap_or(0);
    format!("nproc {nproc}, {cpu}, {mem} RAM, kernel {kernel}")
}

fn version_of(program: &Path, flag: &str) -> String {
    Command::new(program)
        .arg(flag)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let opts = parse(args)?;
    // Before any thread is pinned (pinning narrows what the process sees).
    let machine = machine();
    let load_before = loadavg();
    let command = format!("cargo xtask bench tcp {}", args.join(" "));
    let root = crate::workspace_root();
    // Every proxied connection costs descriptors in this process (client and
    // backend side); use the whole hard limit.
    if let Ok((_, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
    let weir = match &opts.weir {
        Some(p) => p.clone(),
        None => crate::build_release_weir(&root)?,
    };
    let haproxy = PathBuf::from("haproxy");

    let work = std::env::temp_dir().join(format!("weir-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let backend = Backend::start(opts.clients + 4)?;
    let holder = Holder::start()?;
    let (bench_port, idle_port, http_port, nginx_port) =
        (free_port()?, free_port()?, free_port()?, free_port()?);
    let _nginx = Nginx::start(&work, nginx_port, load::LOAD_CPU)?;
    let config = config_text(
        bench_port,
        idle_port,
        http_port,
        backend.addr,
        holder.addr,
        nginx_port,
    );
    let config_path = work.join("bench.cfg");
    std::fs::write(&config_path, &config)?;
    for (name, prog) in [("weir", &weir), ("haproxy", &haproxy)] {
        if !opts.targets.iter().any(|t| t == name) {
            continue;
        }
        let out = Command::new(prog)
            .args(["-c", "-f"])
            .arg(&config_path)
            .output()
            .with_context(|| format!("run {}", prog.display()))?;
        if !out.status.success() {
            bail!(
                "{name} rejects the benchmark configuration:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let mut results = Results::new(opts.rounds);
    let budget = Duration::from_secs_f64(opts.seconds);
    for round in 0..opts.rounds {
        for target in &opts.targets {
            eprintln!("bench: round {} of {}, {target}", round + 1, opts.rounds);
            let addrs = Addrs {
                bench: SocketAddr::from(([127, 0, 0, 1], bench_port)),
                idle: SocketAddr::from(([127, 0, 0, 1], idle_port)),
                http: SocketAddr::from(([127, 0, 0, 1], http_port)),
                nginx: SocketAddr::from(([127, 0, 0, 1], nginx_port)),
            };
            let proxy = match target.as_str() {
                "direct" => None,
                name => {
                    let (name, prog, args): (&'static str, &Path, &[&str]) = if name == "weir" {
                        ("weir", &weir, &["-db"])
                    } else {
                        ("haproxy", &haproxy, &["-db"])
                    };
                    let log = work.join(format!("{name}-round{round}.log"));
                    match Proxy::start(name, prog, args, &config_path, PROXY_CPU, addrs.bench, &log)
                    {
                        Ok(p) => Some(p),
                        Err(e) => {
                            results
                                .failures
                                .push(format!("round {round}, {target}: start: {e:#}"));
                            continue;
                        }
                    }
                }
            };
            run_target(
                &mut results,
                round,
                target,
                proxy,
                &addrs,
                &backend,
                &holder,
                &opts,
                budget,
            );
        }
    }

    let table = results.table(METRICS, &opts.targets);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "# TCP forwarding benchmark: weir vs HAProxy vs direct\n"
    );
    let _ = writeln!(report, "- Command: `{command}`");
    let _ = writeln!(report, "- Machine: {machine}");
    let _ = writeln!(
        report,
        "- Load average (1, 5, 15 min) before: {load_before}; after: {} (other work on the \
         machine widens the spread; the ratios are taken within a round)",
        loadavg()
    );
    let _ = writeln!(report, "- weir: {}", version_of(&weir, "-v"));
    let _ = writeln!(report, "- HAProxy: {}", version_of(&haproxy, "-v"));
    let _ = writeln!(
        report,
        "- Rounds: {} (interleaved: {} per round); timed phases of {} s; {} client threads; \
         {} idle connections; fixed rate {} conn/s",
        opts.rounds,
        opts.targets.join(", "),
        opts.seconds,
        opts.clients,
        opts.idle,
        opts.rate
    );
    let _ = writeln!(
        report,
        "- Placement: proxy on CPU {PROXY_CPU} (taskset + cpu-map, one thread); load generator \
         and backends on CPU {}",
        load::LOAD_CPU
    );
    let _ = writeln!(report, "\n{table}");
    if !results.failures.is_empty() {
        let _ = writeln!(report, "Failures:\n");
        for f in &results.failures {
            let _ = writeln!(report, "- {f}");
        }
        report.push('\n');
    }
    let _ = writeln!(
        report,
        "Configuration (identical for weir and HAProxy):\n\n```\n{config}```"
    );
    println!("{report}");
    if let Some(out) = &opts.out {
        let path = if out.is_absolute() {
            out.clone()
        } else {
            root.join(out)
        };
        std::fs::write(&path, &report).with_context(|| format!("write {}", path.display()))?;
        eprintln!("bench: results written to {}", path.display());
    }
    if results.failures.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        eprintln!("bench: proxy logs kept in {}", work.display());
    }
    Ok(())
}

struct Addrs {
    bench: SocketAddr,
    idle: SocketAddr,
    http: SocketAddr,
    nginx: SocketAddr,
}

/// Runs every phase against one target; a failing phase is recorded and the
/// others still run (unless the proxy died).
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
fn run_target(
    results: &mut Results,
    round: usize,
    target: &str,
    mut proxy: Option<Proxy>,
    addrs: &Addrs,
    backend: &Backend,
    holder: &Holder,
    opts: &Options,
    budget: Duration,
) {
    let bench = if proxy.is_some() {
        addrs.bench
    } else {
        backend.addr
    };
    let pid = proxy.as_ref().map(Proxy::pid);
    let fail = |results: &mut Results, what: &str, e: anyhow::Error| {
        results
            .failures
            .push(format!("round {round}, {target}: {what}: {e:#}"));
    };

    // Idle memory first, on a fresh process.
    if let Some(pid) = pid {
        match idle_rss(pid, addrs.idle, holder, opts.idle) {
            Ok((fresh, with_idle)) => {
                let n = opts.idle as f64;
                results.set(
                    round,
                    target,
                    "rss_idle",
                    (with_idle.saturating_sub(fresh)) as f64 / n,
                );
                results.set(round, target, "rss_fresh", fresh as f64 / MIB as f64);
                results.set(round, target, "rss_all_idle", with_idle as f64 / n);
            }
            Err(e) => fail(results, "idle connections", e),
        }
    }
    let phases: [(&'static str, &'static str, u64, u64); 2] = [
        ("gbps_1m", "cpu_gb_1m", MIB, 1_000_000),
        ("gbps_100m", "cpu_gb_100m", 100 * MIB, 50),
    ];
    for (gbps_key, cpu_key, len, max) in phases {
        if proxy.as_mut().is_some_and(|p| !p.alive()) {
            fail(results, gbps_key, anyhow::anyhow!("proxy died"));
            return;
        }
        // Warm-up: pools, page cache of the payload, TCP autotuning.
        let _ = load::transfers(bench, len, Duration::ZERO, 2);
        let cpu0 = pid.map(cpu_seconds);
        match load::transfers(bench, len, budget, max) {
            Ok(p) => {
                let secs = p.elapsed.as_secs_f64();
                results.set(round, target, gbps_key, p.bytes as f64 * 8.0 / secs / 1e9);
                if let (Some(Ok(c0)), Some(pid)) = (cpu0, pid) {
                    if let Ok(c1) = cpu_seconds(pid) {
                        results.set(round, target, cpu_key, (c1 - c0) / (p.bytes as f64 / 1e9));
                    }
                }
            }
            Err(e) => fail(results, gbps_key, e),
        }
    }
    if proxy.as_mut().is_some_and(|p| !p.alive()) {
        fail(results, "conn_rate", anyhow::anyhow!("proxy died"));
        return;
    }
    let cpu0 = pid.map(cpu_seconds);
    match load::connection_rate(bench, opts.clients, budget) {
        Ok(p) => {
            results.set(
                round,
                target,
                "conn_rate",
                p.requests as f64 / p.elapsed.as_secs_f64(),
            );
            if let (Some(Ok(c0)), Some(pid)) = (cpu0, pid) {
                if let Ok(c1) = cpu_seconds(pid) {
                    results.set(
                        round,
                        target,
                        "cpu_us_conn",
                        (c1 - c0) * 1e6 / p.requests as f64,
                    );
                }
            }
        }
        Err(e) => fail(results, "conn_rate", e),
    }
    let http = if proxy.is_some() {
        addrs.http
    } else {
        addrs.nginx
    };
    let cpu0 = pid.map(cpu_seconds);
    match wrk_close(
        &format!("http://{http}/"),
        WRK_CONNECTIONS,
        budget.as_secs().max(1),
        load::LOAD_CPU,
    ) {
        Ok((rate, requests)) => {
            results.set(round, target, "wrk_rate", rate);
            if let (Some(Ok(c0)), Some(pid)) = (cpu0, pid) {
                if let Ok(c1) = cpu_seconds(pid) {
                    results.set(
                        round,
                        target,
                        "cpu_us_wrk",
                        (c1 - c0) * 1e6 / requests.max(1) as f64,
                    );
                }
            }
        }
        Err(e) => fail(results, "wrk", e),
    }
    if let Some(pid) = pid {
        let cpu0 = cpu_seconds(pid);
        match load::paced_connections(bench, opts.rate, budget) {
            Ok(p) => {
                if let (Ok(c0), Ok(c1)) = (cpu0, cpu_seconds(pid)) {
                    results.set(
                        round,
                        target,
                        "cpu_us_conn_paced",
                        (c1 - c0) * 1e6 / p.requests as f64,
                    );
                }
                let achieved = p.requests as f64 / p.elapsed.as_secs_f64();
                if achieved < 0.9 * f64::from(opts.rate) {
                    fail(
                        results,
                        "paced connections",
                        anyhow::anyhow!("only {achieved:.0} of {} conn/s offered", opts.rate),
                    );
                }
            }
            Err(e) => fail(results, "paced connections", e),
        }
    }
    drop(proxy);
}

/// RSS before and after opening `n` idle proxied connections (both sides
/// established: the holder backend has accepted them all).
fn idle_rss(pid: u32, idle: SocketAddr, holder: &Holder, n: usize) -> anyhow::Result<(u64, u64)> {
    std::thread::sleep(Duration::from_millis(200));
    let rss0 = rss_bytes(pid)?;
    let conns = load::open_idle(idle, n, &holder.accepted)?;
    std::thread::sleep(Duration::from_millis(300));
    let rss1 = rss_bytes(pid)?;
    drop(conns);
    holder.release();
    // Let the proxy close its side before the next phase.
    std::thread::sleep(Duration::from_millis(500));
    Ok((rss0, rss1))
}
