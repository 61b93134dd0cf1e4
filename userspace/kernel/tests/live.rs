//! Live XDP tests in network namespaces the test creates:
//!
//! ```text
//!  client ns ──(rc/cr)── router ns ──(rw/wr, XDP weir_xdp on wr)── weir ns
//!                          │  └─(rsK/sr, XDP weir_decap on sr)── server K ns (VIP on lo)
//! ```
//! The router sends VIP traffic to weir; weir encapsulates it back to the
//! router (XDP_TX, next hop = the router's MAC) towards the chosen server;
//! the server unwraps it (this kernel has no ipip devices, so weir's own
//! decap program does it) and answers the client directly.

mod common;

use common::netns::{tx_checksum_off, veth, Netns};
use common::{nix_is_root, with_private_bpffs};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weir_common::flow_hash;
use weir_kernel::config::*;
use weir_kernel::{Attached, Event, ServerState, XdpBalancer, XdpDecap};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 200, 1);
const RING: u32 = 65537;
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// One test's world. Field order is drop order: programs first, then
/// namespaces (which takes their veths with them).
struct Topo {
    lb: XdpBalancer,
    _router_pass: XdpBalancer,
    _decaps: Vec<XdpDecap>,
    stop: Arc<AtomicBool>,
    udp_counts: Vec<Arc<AtomicU64>>,
    client: Netns,
    _servers: Vec<Netns>,
    _weir: Netns,
    _router: Netns,
}

impl Drop for Topo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn server_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 10 + k as u8, 2)
}

fn iface(name: &str) -> InterfaceConfig {
    InterfaceConfig {
        name: name.into(),
        mode: AttachMode::Native,
        fallback: Fallback::Refuse,
    }
}

/// TCP server: sends its name, then answers each chunk with "name:chunk".
fn serve_tcp(listener: TcpListener, name: String, stop: Arc<AtomicBool>) {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let name = name.clone();
                    std::thread::spawn(move || {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                        if s.write_all(format!("{name}\n").as_bytes()).is_err() {
                            return;
                        }
                        let mut buf = [0u8; 256];
                        while let Ok(n) = s.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            let mut reply = format!("{name}:").into_bytes();
                            reply.extend_from_slice(&buf[..n]);
                            if s.write_all(&reply).is_err() {
                                break;
                            }
                        }
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

fn serve_udp(sock: UdpSocket, count: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::SeqCst) {
            if sock.recv(&mut buf).is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
}

fn build(tag: &str, weights: &[u32]) -> Topo {
    build_with(tag, weights, |_| {})
}

fn build_with(tag: &str, weights: &[u32], tweak: impl FnOnce(&mut XdpConfig)) -> Topo {
    let router = Netns::new(&format!("{tag}-r"));
    let weir = Netns::new(&format!("{tag}-w"));
    let client = Netns::new(&format!("{tag}-c"));
    let servers: Vec<Netns> = (0..weights.len())
        .map(|k| Netns::new(&format!("{tag}-s{k}")))
        .collect();
    // The weir and server links carry encapsulated frames: room for the
    // outer header above the client's 1500.
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
    for (k, s) in servers.iter().enumerate() {
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
    client.enter(|| tx_checksum_off("cr"));
    weir.ip(&["route", "add", "default", "via", "10.99.0.1"]);
    // The full-NAT address: weir answers ARP for it, XDP takes the replies.
    weir.ip(&["addr", "add", "10.99.0.3/32", "dev", "wr"]);

    let servers_cfg: Vec<ServerConfig> = weights
        .iter()
        .enumerate()
        .map(|(k, &w)| ServerConfig {
            name: format!("s{k}"),
            addr: IpAddr::V4(server_addr(k)),
            weight: w,
            down: false,
        })
        .collect();
    let mut cfg = XdpConfig {
        name: tag.into(),
        interfaces: vec![iface("wr")],
        source_v4: Some(Ipv4Addr::new(10, 99, 0, 2)),
        next_hop_mac: router.mac("rw"),
        vips: vec![
            VipConfig {
                addr: IpAddr::V4(VIP),
                port: 80,
                proto: Proto::Tcp,
                hash: VipHash::FiveTuple,
                servers: servers_cfg.clone(),
            },
            VipConfig {
                addr: IpAddr::V4(VIP),
                port: 53,
                proto: Proto::Udp,
                hash: VipHash::FiveTuple,
                servers: servers_cfg,
            },
        ],
        limits: Limits {
            max_vips: 4,
            max_servers: 16,
            ring_size: RING,
            max_flows: 4096,
            max_rate_sources: 64,
            max_src_prefixes: 16,
        },
        ..Default::default()
    };
    tweak(&mut cfg);
    let lb = weir.enter(|| {
        let mut lb = XdpBalancer::load(&cfg).expect("load balancer");
        assert_eq!(
            lb.attach_all().expect("attach native XDP on veth"),
            vec![("wr".to_string(), Attached::Native)]
        );
        lb
    });
    // XDP_TX on a veth needs the peer to run NAPI: a pass-only program on
    // the router's end provides it (and leaves every frame alone).
    let router_pass = router.enter(|| {
        let mut p = XdpBalancer::load(&XdpConfig {
            name: format!("{tag}-pass"),
            limits: cfg.limits,
            ..Default::default()
        })
        .expect("load pass");
        p.attach(&iface("rw")).expect("attach pass on rw");
        p
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut decaps = Vec::new();
    let mut udp_counts = Vec::new();
    for (k, s) in servers.iter().enumerate() {
        let (d, l, u) = s.enter(|| {
            // Full-NAT replies cross weir's XDP_TX too (see tx_checksum_off).
            tx_checksum_off("sr");
            let mut d = XdpDecap::load().expect("load decap");
            d.attach(&iface("sr")).expect("attach decap");
            (
                d,
                TcpListener::bind("0.0.0.0:80").unwrap(),
                UdpSocket::bind("0.0.0.0:53").unwrap(),
            )
        });
        serve_tcp(l, format!("s{k}"), stop.clone());
        let c = Arc::new(AtomicU64::new(0));
        serve_udp(u, c.clone(), stop.clone());
        decaps.push(d);
        udp_counts.push(c);
    }
    Topo {
        lb,
        _router_pass: router_pass,
        _decaps: decaps,
        stop,
        udp_counts,
        client,
        _servers: servers,
        _weir: weir,
        _router: router,
    }
}

impl Topo {
    /// What each hop saw: printed when a connection fails, to say where.
    fn diagnose(&self) -> String {
        let mut out = format!(
            "weir counters: {:?}\n",
            self.lb.counters().ok().map(|c| {
                Event::ALL
                    .iter()
                    .filter(|e| c.event(**e) > 0)
                    .map(|e| format!("{}={}", e.name(), c.event(*e)))
                    .collect::<Vec<_>>()
            })
        );
        for (k, d) in self._decaps.iter().enumerate() {
            out.push_str(&format!(
                "server s{k} decapsulated: {:?}\n",
                d.decapsulated().ok()
            ));
        }
        for ns in [&self._router, &self._weir, &self.client]
            .into_iter()
            .chain(self._servers.iter())
        {
            let o = std::process::Command::new("ip")
                .args(["-n", &ns.name, "-s", "-br", "link"])
                .output()
                .unwrap();
            out.push_str(&format!(
                "{}:\n{}",
                ns.name,
                String::from_utf8_lossy(&o.stdout)
            ));
        }
        out
    }
}

struct Conn {
    stream: BufReader<TcpStream>,
    sport: u16,
    server: String,
}

fn connect(topo: &Topo, n: usize) -> Vec<Conn> {
    topo.client.enter(|| {
        (0..n)
            .map(|i| {
                let s =
                    TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(VIP), 80), IO_TIMEOUT)
                        .unwrap_or_else(|e| {
                            panic!("connection {i} to the VIP: {e}\n{}", topo.diagnose())
                        });
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let sport = s.local_addr().unwrap().port();
                let mut stream = BufReader::new(s);
                let mut line = String::new();
                stream
                    .read_line(&mut line)
                    .unwrap_or_else(|e| panic!("greeting on connection {i}: {e}"));
                Conn {
                    stream,
                    sport,
                    server: line.trim().to_string(),
                }
            })
            .collect()
    })
}

/// Sends a line and returns the server's tagged echo, or None if the
/// connection broke (reset, closed or silent).
fn echo(c: &mut Conn, msg: &str) -> Option<String> {
    c.stream.get_mut().write_all(msg.as_bytes()).ok()?;
    let mut buf = vec![0u8; 256];
    let n = c.stream.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn words(a: Ipv4Addr) -> [u32; 4] {
    [u32::from_ne_bytes(a.octets()), 0, 0, 0]
}

/// The server Maglev gives this client port, from the live ring.
fn predicted(topo: &Topo, ring: &[u32], sport: u16, dport: u16, proto: u8) -> String {
    let h = flow_hash(
        &words(Ipv4Addr::new(10, 99, 1, 2)),
        &words(VIP),
        sport.to_be(),
        dport.to_be(),
        proto,
    );
    let idx = ring[(h % u64::from(RING)) as usize];
    (0..16)
        .map(|k| format!("s{k}"))
        .find(|n| topo.lb.server_index(IpAddr::V4(VIP), dport, n).ok() == Some(idx))
        .expect("ring entry is a server")
}

fn changed(a: &[u32], b: &[u32]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
}

#[test]
fn live_connections_follow_maglev_weights_and_counters_match() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces and XDP");
        return;
    }
    let topo = build("bal", &[1, 1, 2]);
    let ring = topo.lb.live_ring(IpAddr::V4(VIP), 80).unwrap();
    let share = |k: u32| ring.iter().filter(|&&e| e == k).count() as f64 / ring.len() as f64;
    let idx = |n: &str| topo.lb.server_index(IpAddr::V4(VIP), 80, n).unwrap();
    assert!(
        (share(idx("s0")) - 0.25).abs() < 0.01 && (share(idx("s2")) - 0.5).abs() < 0.01,
        "ring shares follow weights 1:1:2"
    );

    let n = 200;
    let conns = connect(&topo, n);
    let mut per = [0usize; 3];
    for c in &conns {
        assert_eq!(
            c.server,
            predicted(&topo, &ring, c.sport, 80, 6),
            "connection from port {} went to the Maglev pick",
            c.sport
        );
        per[c.server[1..].parse::<usize>().unwrap()] += 1;
    }
    assert!(per.iter().all(|&p| p > 0), "{per:?}");
    assert!(
        per[2] > per[0] && per[2] > per[1],
        "weight 2 server takes most: {per:?}"
    );
    drop(conns);

    // UDP: exact packet and byte counts against what the servers received.
    let sent = 90u64;
    let payload = [7u8; 100];
    // Every datagram must be a flow of its own: all sockets stay bound
    // until the last one has sent, so the kernel hands out distinct source
    // ports. Binding and closing one socket at a time let a port come back
    // (≈13% of runs for 90 picks from the default 28,232-port range), and
    // the repeated 5-tuple hit its recorded flow: one NewFlow short.
    let udp_ports = topo.client.enter(|| {
        let socks: Vec<UdpSocket> = (0..sent)
            .map(|_| UdpSocket::bind("0.0.0.0:0").unwrap())
            .collect();
        for s in &socks {
            s.send_to(&payload, (VIP, 53)).unwrap();
        }
        socks
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect::<std::collections::HashSet<u16>>()
    });
    assert_eq!(udp_ports.len() as u64, sent, "distinct UDP source ports");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while topo
        .udp_counts
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum::<u64>()
        < sent
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let c = topo.lb.counters().unwrap();
    assert_eq!(c.vips[1].packets, sent, "UDP VIP packets");
    assert_eq!(
        c.vips[1].bytes,
        sent * (14 + 20 + 8 + payload.len() as u64),
        "UDP VIP bytes"
    );
    for (k, (name, t)) in c.servers[1].iter().enumerate() {
        assert_eq!(
            t.packets,
            topo.udp_counts[k].load(Ordering::SeqCst),
            "server {name}: XDP count = datagrams received"
        );
    }
    // TCP: one new flow per connection; every forwarded packet counted once
    // on its VIP and once on its server.
    assert_eq!(c.event(Event::NewFlow), n as u64 + sent);
    assert_eq!(
        c.event(Event::Forwarded),
        c.vips.iter().map(|t| t.packets).sum::<u64>()
    );
    let server_sum: u64 = c.servers.iter().flatten().map(|(_, t)| t.packets).sum();
    assert_eq!(server_sum, c.event(Event::Forwarded));
    assert_eq!(topo.lb.flow_count().unwrap(), n + sent as usize);
}

#[test]
fn live_flows_keep_their_server_through_add_drain_and_down() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces and XDP");
        return;
    }
    let mut topo = build("chg", &[1, 1, 1, 0]);
    let vip = IpAddr::V4(VIP);
    let mut conns = connect(&topo, 60);
    let ring0 = topo.lb.live_ring(vip, 80).unwrap();

    // "Add" s3 (weight 0 → 1): established flows keep their server.
    topo.lb
        .set_server_state(vip, 80, "s3", ServerState::Up { weight: 1 })
        .unwrap();
    let ring1 = topo.lb.live_ring(vip, 80).unwrap();
    let moved = changed(&ring0, &ring1);
    assert!(
        (0.2..0.32).contains(&moved),
        "adding 1 server to 3 moves ≈1/4 of the ring, moved {moved:.3}"
    );
    for c in &mut conns {
        let server = c.server.clone();
        assert_eq!(
            echo(c, "a").as_deref(),
            Some(format!("{server}:a").as_str()),
            "flow kept its server after add"
        );
    }
    let fresh = connect(&topo, 60);
    assert!(
        fresh.iter().any(|c| c.server == "s3"),
        "new flows reach the added server"
    );
    drop(fresh);

    // Drain s0 (weight 0): its flows stay, no new flow goes there.
    topo.lb
        .set_server_state(vip, 80, "s0", ServerState::Up { weight: 0 })
        .unwrap();
    for c in &mut conns {
        let server = c.server.clone();
        assert_eq!(
            echo(c, "b").as_deref(),
            Some(format!("{server}:b").as_str()),
            "flow kept its server while s0 drains"
        );
    }
    let fresh = connect(&topo, 60);
    assert!(
        fresh.iter().all(|c| c.server != "s0"),
        "no new flow to a draining server"
    );
    drop(fresh);

    // DOWN s1: removing one of the servers moves only its share of the ring;
    // its flows move (and break: the new server has no such connection),
    // every other flow keeps working on its server.
    let before = topo.lb.live_ring(vip, 80).unwrap();
    topo.lb
        .set_server_state(vip, 80, "s1", ServerState::Down)
        .unwrap();
    let after = topo.lb.live_ring(vip, 80).unwrap();
    let s1 = topo.lb.server_index(vip, 80, "s1").unwrap();
    let others_moved = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| **b != s1 && b != a)
        .count() as f64
        / before.len() as f64;
    assert!(
        others_moved < 0.05,
        "only s1's entries move, others moved {others_moved:.3}"
    );
    let mut s1_conns = 0;
    for c in &mut conns {
        let server = c.server.clone();
        let reply = echo(c, "c");
        if server == "s1" {
            s1_conns += 1;
            assert!(
                reply.is_none(),
                "a DOWN server's flow moved (connection reset), got {reply:?}"
            );
        } else {
            assert_eq!(
                reply.as_deref(),
                Some(format!("{server}:c").as_str()),
                "other flows unaffected by s1 going down"
            );
        }
    }
    assert!(s1_conns > 0, "some connections were on s1");
    assert!(topo.lb.counters().unwrap().event(Event::FlowServerDown) > 0);
}

fn try_connect(topo: &Topo, timeout: Duration) -> std::io::Result<TcpStream> {
    topo.client
        .enter(|| TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(VIP), 80), timeout))
}

#[test]
fn live_blocklist_and_syn_rate_limit() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces and XDP");
        return;
    }
    let mut topo = build_with("drop", &[1, 1], |cfg| {
        cfg.blocklist = vec!["10.99.1.0/24".parse().unwrap()];
        cfg.new_flow_rate = Some(RateLimit {
            per_sec: 1,
            burst: 3,
        });
    });
    let short = Duration::from_millis(700);
    assert!(
        try_connect(&topo, short).is_err(),
        "blocklisted client cannot connect"
    );
    let c = topo.lb.counters().unwrap();
    assert!(c.event(Event::DropBlocklist) >= 1);
    assert_eq!(c.event(Event::NewFlow), 0, "dropped before any flow state");

    // Lists reloaded at run time: the client gets in, within its SYN budget.
    topo.lb.set_sources(&[], &[]).unwrap();
    let start = std::time::Instant::now();
    let ok: Vec<TcpStream> = (0..3)
        .map(|i| {
            try_connect(&topo, IO_TIMEOUT)
                .unwrap_or_else(|e| panic!("connection {i} within the burst: {e}"))
        })
        .collect();
    let fourth = try_connect(&topo, Duration::from_millis(300));
    // At 1 token/s, a 4th SYN within the same second finds the bucket empty
    // (a machine so loaded that 3 connects took most of a second could have
    // earned a token back, so the claim is only made when it holds).
    if start.elapsed() < Duration::from_millis(700) {
        assert!(
            fourth.is_err(),
            "4th SYN within the second exceeds the burst of 3"
        );
        assert!(topo.lb.counters().unwrap().event(Event::DropRateLimit) >= 1);
    } else {
        eprintln!(
            "note: connects took {:?}; rate-limit assertion not applicable",
            start.elapsed()
        );
    }
    drop(ok);
}

#[test]
fn live_fullnat_round_trip() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces and XDP");
        return;
    }
    let topo = build_with("nat", &[1, 1], |cfg| {
        cfg.method = Method::FullNat;
        cfg.nat_source_v4 = Some(Ipv4Addr::new(10, 99, 0, 3));
        cfg.vips.truncate(1);
    });
    let ring = topo.lb.live_ring(IpAddr::V4(VIP), 80).unwrap();
    let mut conns = connect(&topo, 20);
    for c in &mut conns {
        assert_eq!(
            c.server,
            predicted(&topo, &ring, c.sport, 80, 6),
            "full-NAT flow went to the Maglev pick"
        );
        let server = c.server.clone();
        assert_eq!(
            echo(c, "ping").as_deref(),
            Some(format!("{server}:ping").as_str()),
            "data round trip through both translations"
        );
    }
    let c = topo.lb.counters().unwrap();
    assert!(
        c.event(Event::ReverseNat) >= 40,
        "replies translated in XDP: {}",
        c.event(Event::ReverseNat)
    );
    assert_eq!(
        topo._decaps
            .iter()
            .map(|d| d.decapsulated().unwrap())
            .sum::<u64>(),
        0,
        "nothing was encapsulated"
    );
}

#[test]
fn attach_falls_back_to_generic_or_says_why_not() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces and XDP");
        return;
    }
    // Loopback has no native XDP: the fallback policy decides.
    let ns = Netns::new("attach");
    let cfg = XdpConfig {
        name: "attach".into(),
        limits: Limits {
            max_flows: 64,
            ..Limits::default()
        },
        ..Default::default()
    };
    ns.enter(|| {
        let mut lb = XdpBalancer::load(&cfg).unwrap();
        let refuse = InterfaceConfig {
            name: "lo".into(),
            mode: AttachMode::Auto,
            fallback: Fallback::Refuse,
        };
        let e = lb.attach(&refuse).unwrap_err().to_string();
        assert!(
            e.contains("cannot attach XDP to lo")
                && e.contains("native:")
                && e.contains("fallback refuse"),
            "{e}"
        );
        let generic = InterfaceConfig {
            name: "lo".into(),
            mode: AttachMode::Auto,
            fallback: Fallback::Generic,
        };
        assert_eq!(lb.attach(&generic).unwrap(), Attached::Generic);
        let missing = InterfaceConfig {
            name: "nonexistent0".into(),
            mode: AttachMode::Generic,
            fallback: Fallback::Refuse,
        };
        let e = lb.attach(&missing).unwrap_err().to_string();
        assert!(e.contains("nonexistent0"), "{e}");
    });
}

#[test]
fn live_reload_hands_over_without_losing_flows() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces and XDP");
        return;
    }
    with_private_bpffs(|bpffs| {
        let pin = bpffs.join("weir").join("hand");
        let mut topo = build_with("hand", &[1, 1, 1], |cfg| cfg.pin = Some(pin.clone()));
        let mut conns = connect(&topo, 30);
        // The new configuration reorders the servers and changes weights.
        let mut cfg = XdpConfig {
            name: "hand".into(),
            interfaces: vec![iface("wr")],
            source_v4: Some(Ipv4Addr::new(10, 99, 0, 2)),
            next_hop_mac: topo._router.mac("rw"),
            vips: vec![VipConfig {
                addr: IpAddr::V4(VIP),
                port: 80,
                proto: Proto::Tcp,
                hash: VipHash::FiveTuple,
                servers: (0..3)
                    .rev()
                    .map(|k| ServerConfig {
                        name: format!("s{k}"),
                        addr: IpAddr::V4(server_addr(k)),
                        weight: 1 + k as u32,
                        down: false,
                    })
                    .collect(),
            }],
            limits: Limits {
                max_vips: 4,
                max_servers: 16,
                ring_size: RING,
                max_flows: 4096,
                max_rate_sources: 64,
                max_src_prefixes: 16,
            },
            pin: Some(pin.clone()),
            ..Default::default()
        };
        cfg.new_flow_rate = None;
        // New process side: load on the pinned maps; old side hands over;
        // the new program then replaces the old one in the same link.
        let fresh = topo
            ._weir
            .enter(|| XdpBalancer::load(&cfg).expect("load over pinned maps"));
        let old = std::mem::replace(&mut topo.lb, fresh);
        old.hand_over().expect("hand over");
        assert!(
            pin.join("link-wr-native").exists(),
            "attachment pinned for the successor"
        );
        let attached = topo
            ._weir
            .enter(|| topo.lb.attach_all().expect("take over the attachment"));
        assert_eq!(attached, vec![("wr".to_string(), Attached::Native)]);
        assert!(
            pin.join("link-wr-native").exists(),
            "the link stays pinned for the next reload"
        );
        assert_eq!(
            topo.lb.took_over().len(),
            1,
            "the attachment was taken over, not created"
        );
        for c in &mut conns {
            let server = c.server.clone();
            assert_eq!(
                echo(c, "r").as_deref(),
                Some(format!("{server}:r").as_str()),
                "flow kept its server across the reload"
            );
        }
        let ring = topo.lb.live_ring(IpAddr::V4(VIP), 80).unwrap();
        for c in connect(&topo, 20) {
            assert_eq!(
                c.server,
                predicted(&topo, &ring, c.sport, 80, 6),
                "new flows follow the new ring"
            );
        }
    });
}
