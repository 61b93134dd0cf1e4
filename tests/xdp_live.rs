//! The real `weir` binary driving XDP, in network namespaces the test
//! creates (and removes):
//!
//! ```text
//!  client ns ──(rc/cr)── router ns ──(rw/wr, weir's XDP on wr)── weir ns (weir -f …)
//!                          └─(rsK/sr, weir_decap on sr)── server K ns (VIP on lo)
//! ```
//! The router sends VIP traffic to weir's namespace; the XDP program weir
//! loaded from its `xdp` section encapsulates it back to the router
//! (XDP_TX, next hop = the router's MAC) towards the Maglev-chosen server,
//! which unwraps it (weir-kernel's decap program: this kernel has no ipip
//! devices) and answers the client directly. Checked: connections reach
//! the servers, SIGUSR2 dumps counters matching the traffic, SIGTERM and
//! SIGUSR1 detach the program and remove the pinned maps, an attach
//! failure says why and exits 1, and a reload (`-sf`) with `pin` hands the
//! maps and the attachment over without breaking connections.

mod xdp_netns;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use weir_kernel::config::{AttachMode, Fallback, InterfaceConfig, Limits, XdpConfig};
use weir_kernel::{Event, XdpBalancer, XdpDecap};
use xdp_netns::{tx_checksum_off, veth, Netns, WeirProc};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");
const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 200, 1);
const IO_TIMEOUT: Duration = Duration::from_secs(3);

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Skips (saying why) without root: namespaces and BPF need it. CI runs as
/// root, so a skip there is a failure to look at.
macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root for network namespaces and XDP");
            return;
        }
    };
}

/// A pin directory on a bpffs instance of the test's own, mounted on a
/// temporary directory (bpffs mounts are separate instances: nothing is
/// pinned in the host's /sys/fs/bpf, which need not even be mounted) and
/// unmounted on drop with whatever weir left in it.
struct PinDir {
    mount: tempfile::TempDir,
    /// The `pin` path given to weir: a directory weir creates.
    path: PathBuf,
}

impl PinDir {
    fn new() -> Self {
        let mount = tempfile::Builder::new()
            .prefix("weir-xdp-bpffs-")
            .tempdir()
            .unwrap();
        let st = Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(mount.path())
            .status()
            .expect("run mount");
        assert!(st.success(), "mount -t bpf on {}", mount.path().display());
        let path = mount.path().join("section");
        PinDir { mount, path }
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .status();
    }
}

fn native(name: &str) -> InterfaceConfig {
    InterfaceConfig {
        name: name.into(),
        mode: AttachMode::Native,
        fallback: Fallback::Refuse,
    }
}

fn small_limits() -> Limits {
    Limits {
        max_vips: 4,
        max_servers: 16,
        ring_size: 65537,
        max_flows: 4096,
        max_rate_sources: 64,
        max_src_prefixes: 16,
    }
}

/// One test's world. Field order is drop order: weir first (it detaches),
/// then the helper programs, then the namespaces (with their veths).
struct Topo {
    stop: Arc<AtomicBool>,
    _router_pass: XdpBalancer,
    _decaps: Vec<XdpDecap>,
    client: Netns,
    _servers: Vec<Netns>,
    weir: Netns,
    router: Netns,
}

impl Drop for Topo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn server_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 10 + k as u8, 2)
}

/// TCP server: sends its name on each connection, then echoes what it
/// reads until the client closes (bounded by a read timeout).
fn serve(listener: TcpListener, name: String, stop: Arc<AtomicBool>) {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let name = name.clone();
                    std::thread::spawn(move || {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                        if s.write_all(format!("{name}\n").as_bytes()).is_ok() {
                            let mut b = [0u8; 64];
                            while let Ok(n @ 1..) = s.read(&mut b) {
                                if s.write_all(&b[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

fn build(tag: &str, servers: usize) -> Topo {
    let router = Netns::new(&format!("{tag}-r"));
    let weir = Netns::new(&format!("{tag}-w"));
    let client = Netns::new(&format!("{tag}-c"));
    let server_ns: Vec<Netns> = (0..servers)
        .map(|k| Netns::new(&format!("{tag}-s{k}")))
        .collect();
    // Links carrying encapsulated frames get room for the outer header.
    veth(
        &router,
        "rw",
        "10.99.0.1/24",
        &weir,
        "wr",
        "10.99.0.2/24",
        1600,
    );
    veth(
        &router,
        "rc",
        "10.99.1.1/24",
        &client,
        "cr",
        "10.99.1.2/24",
        1500,
    );
    for (k, s) in server_ns.iter().enumerate() {
        veth(
            &router,
            &format!("rs{k}"),
            &format!("10.99.{}.1/24", 10 + k),
            s,
            "sr",
            &format!("{}/24", server_addr(k)),
            1600,
        );
        s.ip(&[
            "route",
            "add",
            "default",
            "via",
            &format!("10.99.{}.1", 10 + k),
        ]);
        s.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
        s.sysctl("net.ipv4.conf.all.rp_filter", "0");
        s.sysctl("net.ipv4.conf.sr.rp_filter", "0");
    }
    router.sysctl("net.ipv4.ip_forward", "1");
    router.sysctl("net.ipv4.conf.all.rp_filter", "0");
    router.ip(&["route", "add", &format!("{VIP}/32"), "via", "10.99.0.2"]);
    client.ip(&["route", "add", "default", "via", "10.99.1.1"]);
    tx_checksum_off(&client, "cr");
    weir.ip(&["route", "add", "default", "via", "10.99.0.1"]);

    // XDP_TX on a veth needs the peer to run NAPI: a pass-only program on
    // the router's end provides it (and leaves every frame alone).
    let router_pass = router.enter(|| {
        let mut p = XdpBalancer::load(&XdpConfig {
            name: format!("{tag}-pass"),
            limits: small_limits(),
            ..Default::default()
        })
        .expect("load pass program");
        p.attach(&native("rw")).expect("attach pass on rw");
        p
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut decaps = Vec::new();
    for (k, s) in server_ns.iter().enumerate() {
        let (d, l) = s.enter(|| {
            let mut d = XdpDecap::load().expect("load decap");
            d.attach(&native("sr")).expect("attach decap");
            (d, TcpListener::bind("0.0.0.0:80").unwrap())
        });
        serve(l, format!("s{k}"), stop.clone());
        decaps.push(d);
    }
    Topo {
        stop,
        _router_pass: router_pass,
        _decaps: decaps,
        client,
        _servers: server_ns,
        weir,
        router,
    }
}

/// The last value of `weir: xdp 'NAME' KEY … N` in a dump (the number
/// after `field`, or the last word when `field` is empty).
fn counter(out: &str, name: &str, key: &str, field: &str) -> u64 {
    let prefix = format!("weir: xdp '{name}' {key} ");
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{out}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let v = if field.is_empty() {
        words.last().copied()
    } else {
        words
            .iter()
            .position(|w| *w == field)
            .and_then(|i| words.get(i + 1).copied())
    };
    v.and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number in '{line}'"))
}

#[test]
fn weir_balances_a_vip_in_xdp_dumps_counters_and_detaches_on_stop() {
    require_root!();
    let topo = build("bal", 2);
    let pin = PinDir::new();
    let config = format!(
        "global\n\n\
         xdp t\n    interface wr mode native fallback refuse\n    method ipip\n    \
         source-v4 10.99.0.2\n    next-hop-mac {mac}\n    max-vips 4\n    max-servers 16\n    \
         max-flows 4096\n    pin {pin}\n    vip {VIP}:80 proto tcp\n        \
         server s0 {s0}\n        server s1 {s1}\n",
        mac = topo.router.mac("rw"),
        pin = pin.path.display(),
        s0 = server_addr(0),
        s1 = server_addr(1),
    );
    let mut weir = WeirProc::spawn(&topo.weir, &config);
    assert!(
        weir.wait_output("started", 1, Duration::from_secs(15)),
        "weir did not start: {}",
        weir.output()
    );
    assert!(
        weir.output()
            .contains("xdp 't': attached to wr in native mode"),
        "{}",
        weir.output()
    );
    assert!(topo.weir.has_xdp("wr"), "an XDP program is on wr");
    assert!(
        pin.path.join(weir_common_maps_flows()).exists(),
        "maps pinned under {}",
        pin.path.display()
    );

    // Real connections from the client to the VIP, answered by the servers.
    let n = 24;
    let conns: Vec<(BufReader<TcpStream>, String)> = topo.client.enter(|| {
        (0..n)
            .map(|i| {
                let s =
                    TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(VIP), 80), IO_TIMEOUT)
                        .unwrap_or_else(|e| panic!("connection {i} to the VIP: {e}"));
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let mut r = BufReader::new(s);
                let mut line = String::new();
                r.read_line(&mut line)
                    .unwrap_or_else(|e| panic!("greeting on connection {i}: {e}"));
                (r, line.trim().to_string())
            })
            .collect()
    });
    let per: Vec<usize> = (0..2)
        .map(|k| conns.iter().filter(|(_, s)| *s == format!("s{k}")).count())
        .collect();
    assert_eq!(
        per.iter().sum::<usize>(),
        n,
        "every greeting names a server"
    );
    assert!(
        per.iter().all(|&c| c > 0),
        "both servers got connections: {per:?}"
    );

    // Let delayed ACKs go out so the counters stand still, then dump.
    std::thread::sleep(Duration::from_millis(400));
    weir.signal(Signal::SIGUSR2);
    assert!(
        weir.wait_output("counters (summed over CPUs)", 1, Duration::from_secs(5)),
        "no dump after SIGUSR2: {}",
        weir.output()
    );
    assert!(weir.wait_output("server s1 packets", 1, Duration::from_secs(2)));
    let out = weir.output();
    let vip = format!("vip {VIP}:80/tcp");
    let vip_packets = counter(&out, "t", &format!("{vip} packets"), "packets");
    let vip_bytes = counter(&out, "t", &format!("{vip} packets"), "bytes");
    let s: Vec<(u64, u64)> = (0..2)
        .map(|k| {
            let key = format!("{vip} server s{k}");
            (
                counter(&out, "t", &key, "packets"),
                counter(&out, "t", &key, "bytes"),
            )
        })
        .collect();
    assert_eq!(
        counter(&out, "t", &format!("event {}", Event::NewFlow.name()), ""),
        n as u64,
        "one new flow per connection:\n{out}"
    );
    let forwarded = counter(&out, "t", &format!("event {}", Event::Forwarded.name()), "");
    assert_eq!(
        vip_packets, forwarded,
        "VIP packets are the forwarded ones:\n{out}"
    );
    assert_eq!(
        vip_packets,
        s[0].0 + s[1].0,
        "per-server packets add up:\n{out}"
    );
    assert_eq!(
        vip_bytes,
        s[0].1 + s[1].1,
        "per-server bytes add up:\n{out}"
    );
    for k in 0..2 {
        // At least the SYN and the handshake's ACK of each connection.
        assert!(
            s[k].0 >= 2 * per[k] as u64,
            "server s{k}: {} packets for {} connections:\n{out}",
            s[k].0,
            per[k]
        );
    }
    for reason in [
        Event::DropBlocklist,
        Event::DropNoServer,
        Event::DropTruncated,
    ] {
        assert_eq!(
            counter(&out, "t", &format!("event {}", reason.name()), ""),
            0,
            "{out}"
        );
    }
    drop(conns);

    weir.signal(Signal::SIGTERM);
    let st = weir
        .wait_exit(Duration::from_secs(10))
        .expect("weir exits on SIGTERM");
    assert!(st.success(), "exit status {st:?}: {}", weir.output());
    assert!(
        weir.output().contains("xdp 't': detached from wr"),
        "{}",
        weir.output()
    );
    assert!(!topo.weir.has_xdp("wr"), "no XDP program left on wr");
    assert!(
        !pin.path.exists(),
        "no pinned maps left under {}",
        pin.path.display()
    );
}

/// The name of the flow-table map, which every pinned section has.
fn weir_common_maps_flows() -> &'static str {
    "FLOWS"
}

#[test]
fn attach_failures_say_why_and_generic_fallback_is_reported() {
    require_root!();
    let ns = Netns::new("fb");
    let pin = PinDir::new();
    // `lo` has no native XDP: auto mode falls back to generic and says so.
    let mut weir = WeirProc::spawn(
        &ns,
        &format!(
            "xdp t\n    interface lo\n    blocklist 192.0.2.0/24\n    pin {}\n",
            pin.path.display()
        ),
    );
    assert!(
        weir.wait_output("started", 1, Duration::from_secs(15)),
        "{}",
        weir.output()
    );
    assert!(
        weir.output()
            .contains("xdp 't': attached to lo in generic mode (native mode refused by the driver"),
        "{}",
        weir.output()
    );
    assert!(ns.has_xdp("lo"));
    // A soft stop detaches too.
    weir.signal(Signal::SIGUSR1);
    let st = weir
        .wait_exit(Duration::from_secs(10))
        .expect("exits on SIGUSR1");
    assert!(st.success(), "{}", weir.output());
    assert!(!ns.has_xdp("lo"), "detached after a soft stop");
    assert!(!pin.path.exists(), "pinned maps removed after a soft stop");

    // `mode native` refuses to fall back: exit 1 with the kernel's answer.
    let mut weir = WeirProc::spawn(
        &ns,
        "xdp t\n    interface lo mode native\n    blocklist 192.0.2.0/24\n",
    );
    let st = weir.wait_exit(Duration::from_secs(15)).expect("weir exits");
    assert_eq!(st.code(), Some(1), "{}", weir.output());
    let out = weir.output();
    assert!(
        out.contains("xdp section 't' (")
            && out.contains("weir.cfg:1): cannot attach XDP to lo: native: ")
            && out.contains("Operation not supported")
            && out.contains("generic: not tried (fallback refuse)"),
        "{out}"
    );
    assert!(!ns.has_xdp("lo"));

    // Pinning needs a bpffs: said before anything is loaded.
    let not_bpffs = tempfile::tempdir().unwrap();
    let mut weir = WeirProc::spawn(
        &ns,
        &format!(
            "xdp t\n    interface lo\n    blocklist 192.0.2.0/24\n    pin {}/p\n",
            not_bpffs.path().display()
        ),
    );
    let st = weir.wait_exit(Duration::from_secs(15)).expect("weir exits");
    assert_eq!(st.code(), Some(1), "{}", weir.output());
    assert!(
        weir.output().contains("is not on a mounted bpffs"),
        "{}",
        weir.output()
    );
    assert!(!ns.has_xdp("lo"));

    // A missing interface after a good one: the error names it, and the
    // program already attached to the first is taken off again.
    let mut weir = WeirProc::spawn(
        &ns,
        "xdp t\n    interface lo mode generic\n    interface nope0\n    blocklist 192.0.2.0/24\n",
    );
    let st = weir.wait_exit(Duration::from_secs(15)).expect("weir exits");
    assert_eq!(st.code(), Some(1), "{}", weir.output());
    let out = weir.output();
    assert!(out.contains("cannot attach XDP to nope0"), "{out}");
    assert!(out.contains("xdp 't': detached from lo"), "{out}");
    assert!(!ns.has_xdp("lo"));
}

#[test]
fn vv_reports_xdp_support() {
    require_root!();
    let out = Command::new(WEIR).arg("-vv").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BPF/XDP") && text.contains("xdp: yes"),
        "{text}"
    );
}

/// `n` connections from the client to the VIP, each with the name of the
/// server that greeted it.
fn connect_all(topo: &Topo, n: usize) -> Vec<(BufReader<TcpStream>, String)> {
    topo.client.enter(|| {
        (0..n)
            .map(|i| {
                let s =
                    TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(VIP), 80), IO_TIMEOUT)
                        .unwrap_or_else(|e| panic!("connection {i} to the VIP: {e}"));
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let mut r = BufReader::new(s);
                let mut line = String::new();
                r.read_line(&mut line)
                    .unwrap_or_else(|e| panic!("greeting on connection {i}: {e}"));
                (r, line.trim().to_string())
            })
            .collect()
    })
}

/// Sends `msg` (one line) and returns the echoed line.
fn echo(conn: &mut BufReader<TcpStream>, msg: &str) -> std::io::Result<String> {
    conn.get_mut().write_all(format!("{msg}\n").as_bytes())?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// What the ping-pong connection saw while a reload happened.
struct Ticks {
    count: u64,
    max_rtt: Duration,
    error: Option<String>,
}

/// Ping-pong on one connection through the VIP until `stop` (at most 60 s):
/// a lost segment would show as a round trip of 200 ms or more (TCP's
/// minimum retransmission timeout), a reset as an error.
fn tick(stop: &AtomicBool) -> Ticks {
    let mut t = Ticks {
        count: 0,
        max_rtt: Duration::ZERO,
        error: None,
    };
    let s = match TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(VIP), 80), IO_TIMEOUT) {
        Ok(s) => s,
        Err(e) => {
            t.error = Some(format!("connect: {e}"));
            return t;
        }
    };
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    let mut r = BufReader::new(s);
    let mut greeting = String::new();
    if let Err(e) = r.read_line(&mut greeting) {
        t.error = Some(format!("greeting: {e}"));
        return t;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let start = Instant::now();
        match echo(&mut r, &format!("t{}", t.count)) {
            Ok(back) if back == format!("t{}", t.count) => {}
            Ok(back) => {
                t.error = Some(format!("tick {}: echoed '{back}'", t.count));
                return t;
            }
            Err(e) => {
                t.error = Some(format!("tick {}: {e}", t.count));
                return t;
            }
        }
        t.max_rtt = t.max_rtt.max(start.elapsed());
        t.count += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    t
}

#[test]
fn reload_with_sf_hands_the_pinned_maps_and_attachment_over_keeping_flows() {
    require_root!();
    let topo = build("rl", 2);
    let pin = PinDir::new();
    let config = format!(
        "global\n\n\
         xdp t\n    interface wr mode native fallback refuse\n    method ipip\n    \
         source-v4 10.99.0.2\n    next-hop-mac {mac}\n    max-vips 4\n    max-servers 16\n    \
         max-flows 4096\n    pin {pin}\n    vip {VIP}:80 proto tcp\n        \
         server s0 {s0}\n        server s1 {s1}\n",
        mac = topo.router.mac("rw"),
        pin = pin.path.display(),
        s0 = server_addr(0),
        s1 = server_addr(1),
    );
    let link_pin = pin.path.join("link-wr-native");
    let mut a = WeirProc::spawn(&topo.weir, &config);
    assert!(
        a.wait_output("started", 1, Duration::from_secs(15)),
        "weir A did not start: {}",
        a.output()
    );
    assert!(link_pin.exists(), "A pins its attachment for a successor");

    // Long-lived connections opened through A.
    let n = 16;
    let mut conns = connect_all(&topo, n);
    for (i, (c, server)) in conns.iter_mut().enumerate() {
        assert_eq!(
            echo(c, &format!("a{i}")).unwrap(),
            format!("a{i}"),
            "{server}"
        );
    }

    // The reload, with a ping-pong connection running through it.
    let stop = AtomicBool::new(false);
    let (mut b, ticks) = std::thread::scope(|sc| {
        let ticker = sc.spawn(|| topo.client.enter(|| tick(&stop)));
        std::thread::sleep(Duration::from_millis(300));
        let a_pid = a.child.id().to_string();
        let b = WeirProc::spawn_with(&topo.weir, &config, &["-sf", &a_pid]);
        assert!(
            b.wait_output("started", 1, Duration::from_secs(15)),
            "weir B did not start: {}",
            b.output()
        );
        let st = a.wait_exit(Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::SeqCst);
        let t = ticker.join().expect("ticker");
        assert!(st.is_some(), "A exits after -sf: {}", a.output());
        (b, t)
    });
    let out_a = a.output();
    let out_b = b.output();
    assert!(
        out_b.contains("xdp 't': took over the attachment of wr from the previous process"),
        "{out_b}"
    );
    assert!(
        out_b.contains(&format!(
            "-sf: sent SIGUSR1 to old process {}",
            a.child.id()
        )),
        "{out_b}"
    );
    assert!(
        out_a.contains("xdp 't': handed over to the new process")
            && !out_a.contains("detached from wr"),
        "A leaves the attachment to B: {out_a}"
    );
    assert!(topo.weir.has_xdp("wr"), "B's program runs on wr");
    assert!(
        pin.path.join(weir_common_maps_flows()).exists() && link_pin.exists(),
        "maps and attachment still pinned"
    );
    eprintln!(
        "reload: ping-pong connection made {} round trips across the switch, slowest {:?}",
        ticks.count, ticks.max_rtt
    );
    assert!(ticks.error.is_none(), "ping-pong: {:?}", ticks.error);
    assert!(ticks.count > 0);

    // Every connection opened through A still reaches its server: a
    // different server would reset it. B found them in the flow table it
    // inherited: its NewFlow count (the counters live in the pinned maps
    // too, so they go on from A's) does not move.
    let new_flows = |b: &WeirProc, dump: usize| {
        b.signal(Signal::SIGUSR2);
        assert!(b.wait_output("server s1 packets", dump, Duration::from_secs(5)));
        counter(
            &b.output(),
            "t",
            &format!("event {}", Event::NewFlow.name()),
            "",
        )
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = new_flows(&b, 1);
    for (i, (c, server)) in conns.iter_mut().enumerate() {
        assert_eq!(
            echo(c, &format!("b{i}")).unwrap_or_else(|e| panic!("connection {i} ({server}): {e}")),
            format!("b{i}")
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        new_flows(&b, 2),
        before,
        "the old flows were in B's (inherited) table:\n{}",
        b.output()
    );

    // New connections are balanced by B.
    let m = 24;
    let fresh = connect_all(&topo, m);
    for k in 0..2 {
        assert!(
            fresh.iter().any(|(_, s)| *s == format!("s{k}")),
            "new connections reach s{k}"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        new_flows(&b, 3),
        before + m as u64,
        "one new flow per new connection:\n{}",
        b.output()
    );
    drop(fresh);
    drop(conns);

    // B stops with no successor: detached, nothing left pinned.
    b.signal(Signal::SIGTERM);
    let st = b.wait_exit(Duration::from_secs(10)).expect("B exits");
    assert!(st.success(), "{}", b.output());
    assert!(
        b.output().contains("xdp 't': detached from wr"),
        "{}",
        b.output()
    );
    assert!(!topo.weir.has_xdp("wr"), "no XDP program left on wr");
    assert!(
        !pin.path.exists(),
        "nothing left under {}",
        pin.path.display()
    );
}

#[test]
fn reload_without_pin_says_it_cannot_keep_flows_and_leaves_the_old_process_serving() {
    require_root!();
    let ns = Netns::new("np");
    let config = "xdp t\n    interface lo mode generic\n    blocklist 192.0.2.0/24\n";
    let mut a = WeirProc::spawn(&ns, config);
    assert!(
        a.wait_output("started", 1, Duration::from_secs(15)),
        "{}",
        a.output()
    );
    let a_pid = a.child.id().to_string();
    let mut b = WeirProc::spawn_with(&ns, config, &["-st", &a_pid]);
    let st = b.wait_exit(Duration::from_secs(15)).expect("B exits");
    let out = b.output();
    assert!(
        out.contains(
            "xdp 't': no `pin` in the section: this reload cannot keep the old process's flows"
        ),
        "{out}"
    );
    assert_eq!(st.code(), Some(1), "{out}");
    assert!(
        out.contains("cannot attach XDP to lo: generic: ")
            && out.contains("(another XDP program is attached)"),
        "{out}"
    );
    assert!(!out.contains("-st: sent"), "A was not signalled: {out}");
    // A goes on, attached, and still cleans up on its own stop.
    assert!(a.child.try_wait().unwrap().is_none(), "{}", a.output());
    assert!(ns.has_xdp("lo"));
    a.signal(Signal::SIGTERM);
    let st = a.wait_exit(Duration::from_secs(10)).expect("A exits");
    assert!(st.success(), "{}", a.output());
    assert!(
        a.output().contains("xdp 't': detached from lo"),
        "{}",
        a.output()
    );
    assert!(!ns.has_xdp("lo"));
}

#[test]
fn a_reload_that_fails_to_start_gives_the_attachment_back() {
    require_root!();
    let ns = Netns::new("gb");
    let pin = PinDir::new();
    let section = format!(
        "xdp t\n    interface lo mode generic\n    blocklist 192.0.2.0/24\n    pin {}\n",
        pin.path.display()
    );
    let mut a = WeirProc::spawn(&ns, &section);
    assert!(
        a.wait_output("started", 1, Duration::from_secs(15)),
        "{}",
        a.output()
    );
    // B takes `t` over, then fails on a second section: it must put A's
    // program back, and not signal A.
    let broken = format!("{section}\nxdp u\n    interface nope0\n    blocklist 192.0.2.0/24\n");
    let a_pid = a.child.id().to_string();
    let mut b = WeirProc::spawn_with(&ns, &broken, &["-sf", &a_pid]);
    let st = b.wait_exit(Duration::from_secs(15)).expect("B exits");
    let out = b.output();
    assert_eq!(st.code(), Some(1), "{out}");
    assert!(
        out.contains("xdp 't': took over the attachment of lo")
            && out.contains("cannot attach XDP to nope0")
            && out.contains("xdp 't': start failed: attachment given back to the previous process")
            && !out.contains("handed over"),
        "{out}"
    );
    assert!(!out.contains("detached from lo"), "{out}");
    assert!(a.child.try_wait().unwrap().is_none(), "{}", a.output());
    assert!(ns.has_xdp("lo"), "A's program is back on lo");
    assert!(pin.path.join("link-lo-generic").exists());
    // A's own stop finds its program in the attachment: a final stop.
    a.signal(Signal::SIGTERM);
    let st = a.wait_exit(Duration::from_secs(10)).expect("A exits");
    assert!(st.success(), "{}", a.output());
    assert!(
        a.output().contains("xdp 't': detached from lo"),
        "{}",
        a.output()
    );
    assert!(!ns.has_xdp("lo"));
    assert!(
        !pin.path.exists(),
        "nothing left under {}",
        pin.path.display()
    );
}
