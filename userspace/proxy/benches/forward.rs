//! TCP forwarding throughput and idle-connection memory, weir against
//! HAProxy (when installed) and the direct path, on 127.0.0.1.
//!
//! Run: `cargo bench -p weir-proxy --bench forward` (env `WEIR_BENCH_MB`
//! sets the transfer size, default 1024; `WEIR_BENCH_IDLE` the idle
//! connection count, default 5000). The proxy runs one worker pinned to
//! CPU 0; the load client and the sink backend share CPU 1. Not a timed
//! test: it prints a table.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pin(cpu: usize) {
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
}

/// A backend that reads everything and closes: returns its address.
fn sink() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        pin(1);
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                pin(1);
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `mb` MiB through `addr`, waits for the close, returns Gbit/s.
fn push(addr: SocketAddr, mb: usize) -> f64 {
    pin(1);
    let chunk = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    for _ in 0..mb {
        s.write_all(&chunk).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut b = [0u8; 1];
    let _ = s.read(&mut b);
    let secs = t.elapsed().as_secs_f64();
    (mb as f64 * 8.0 * 1_048_576.0) / secs / 1e9
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn weir(backend: SocketAddr, opts: &str) -> (weir_proxy::Running, SocketAddr, TcpListener) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = format!(
        "global\n    nbthread 1\n    cpu-map 1/1 0\n    maxconn 6000\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\nlisten l\n    bind fd@{}\n{opts}\n    server s1 {backend}\n",
        l.as_raw_fd()
    );
    let config = weir_config::parse_str("bench.cfg", &cfg).unwrap();
    let bound = weir_proxy::bind(Arc::new(config)).unwrap();
    let addr = bound.local_addrs()[0].1;
    (bound.run().unwrap(), addr, l)
}

/// HAProxy, or with `WEIR_BENCH_BIN` set to a built `weir` binary and
/// `bin == "weir"`, weir as its own process (same configuration text).
fn haproxy(backend: SocketAddr, opts: &str) -> Option<(Child, SocketAddr, std::path::PathBuf)> {
    external("haproxy", backend, opts)
}

fn external(
    bin: &str,
    backend: SocketAddr,
    opts: &str,
) -> Option<(Child, SocketAddr, std::path::PathBuf)> {
    let bin = if bin == "weir" {
        std::env::var("WEIR_BENCH_BIN").ok()?
    } else {
        bin.to_string()
    };
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("weir-bench-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    nbthread 1\n    cpu-map 1/1 0\n    maxconn 6000\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\nlisten l\n    bind 127.0.0.1:{port}\n{opts}\n    server s1 {backend}\n"
        ),
    )
    .ok()?;
    // Same placement as weir's worker: CPU 0 (taskset, as `cpu-map` alone
    // left HAProxy 2.6 on the parent's CPU in perf samples).
    let child = Command::new("taskset")
        .arg("-c")
        .arg("0")
        .arg(&bin)
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..200 {
        if TcpStream::connect(addr).is_ok() {
            return Some((child, addr, dir));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// CPU time (ns) of the threads of `pid` whose name starts with `prefix`.
fn cpu_ns(pid: u32, prefix: &str) -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    for t in dir.flatten() {
        let p = t.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let ss = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
        total += ss
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A backend that accepts and holds connections without threads.
fn holder() -> (SocketAddr, Arc<std::sync::Mutex<Vec<TcpStream>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let held = Arc::new(std::sync::Mutex::new(Vec::with_capacity(20000)));
    let h = held.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { break };
            h.lock().unwrap().push(s);
        }
    });
    (addr, held)
}

fn open_idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mb: usize = std::env::var("WEIR_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let idle: usize = std::env::var("WEIR_BENCH_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let reps = 3;
    let backend = sink();
    // `WEIR_BENCH_ONLY=weir|haproxy`: one splice transfer through that proxy
    // only, for profiling (`perf record -a` around it).
    if let Ok(which) = std::env::var("WEIR_BENCH_ONLY") {
        let g = if which == "weir" {
            let (r, addr, _l) = weir(backend, "    option splice-auto");
            let g = push(addr, mb);
            r.hard_stop();
            r.wait().unwrap();
            g
        } else {
            let (mut child, addr, dir) =
                haproxy(backend, "    option splice-auto").expect("haproxy");
            let g = push(addr, mb);
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(dir);
            g
        };
        println!("{which}: {g:.2} Gbit/s");
        return;
    }
    println!("# TCP forwarding, {mb} MiB per transfer, one connection, median of {reps} (Gbit/s)");
    println!("{:<20} {:>8} {:>8} {:>8}", "path", "run1", "run2", "run3");
    let me = std::process::id();
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); 7];
    let mut results: Vec<(String, Vec<f64>)> = vec![
        ("direct".into(), Vec::new()),
        ("weir splice".into(), Vec::new()),
        ("weir copy".into(), Vec::new()),
        ("haproxy splice".into(), Vec::new()),
        ("haproxy no splice".into(), Vec::new()),
        ("weir process splice".into(), Vec::new()),
        ("weir process copy".into(), Vec::new()),
    ];
    for _ in 0..reps {
        // Interleaved: each round runs every path once.
        results[0].1.push(push(backend, mb));
        for (i, opts) in [(1, "    option splice-auto"), (2, "")] {
            let (r, addr, _l) = weir(backend, opts);
            let c0 = cpu_ns(me, "weir-w");
            results[i].1.push(push(addr, mb));
            cpu[i].push((cpu_ns(me, "weir-w") - c0) as f64 / 1e6 / (mb as f64 / 1024.0));
            if std::env::var_os("WEIR_BENCH_DEBUG").is_some() {
                eprintln!("{opts:?}: {:?}", r.stats());
            }
            r.hard_stop();
            r.wait().unwrap();
        }
        for (i, bin, opts) in [
            (3, "haproxy", "    option splice-auto"),
            (4, "haproxy", ""),
            (5, "weir", "    option splice-auto"),
            (6, "weir", ""),
        ] {
            if let Some((mut child, addr, dir)) = external(bin, backend, opts) {
                let c0 = cpu_ns(child.id(), "");
                results[i].1.push(push(addr, mb));
                cpu[i].push((cpu_ns(child.id(), "") - c0) as f64 / 1e6 / (mb as f64 / 1024.0));
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    for (i, (name, v)) in results.iter().enumerate() {
        if v.is_empty() {
            println!("{name:<20} (not available)");
            continue;
        }
        let cells: Vec<String> = v.iter().map(|g| format!("{g:8.2}")).collect();
        let c = if cpu[i].is_empty() {
            String::new()
        } else {
            format!("   proxy CPU {:.0} ms/GiB", median(cpu[i].clone()))
        };
        println!(
            "{name:<20} {}   median {:.2} Gbit/s{c}",
            cells.join(" "),
            median(v.clone())
        );
    }

    println!("\n# Resident memory per idle proxied connection ({idle} connections)");
    // weir: in this process; the client and holder sides add a few bytes
    // per connection of userspace memory (a Vec slot), the kernel's socket
    // memory is not in RSS.
    let (haddr, held) = holder();
    let (r, addr, _l) = weir(haddr, "");
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kb(me);
    let conns = open_idle(addr, idle);
    while held.lock().unwrap().len() < idle {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kb(me);
    println!(
        "weir:    {:.0} bytes/conn (RSS {before} kB -> {after} kB)",
        (after.saturating_sub(before) * 1024) as f64 / idle as f64
    );
    drop(conns);
    held.lock().unwrap().clear();
    r.hard_stop();
    r.wait().unwrap();
    if let Some((mut child, addr, dir)) = haproxy(haddr, "") {
        std::thread::sleep(Duration::from_millis(200));
        let before = rss_kb(child.id());
        let conns = open_idle(addr, idle);
        while held.lock().unwrap().len() < idle {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
        let after = rss_kb(child.id());
        println!(
            "haproxy: {:.0} bytes/conn (RSS {before} kB -> {after} kB)",
            (after.saturating_sub(before) * 1024) as f64 / idle as f64
        );
        drop(conns);
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(dir);
    }
}
