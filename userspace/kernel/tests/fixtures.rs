//! BPF_PROG_TEST_RUN fixtures: a frame in, the XDP verdict and the frame
//! out, for every parse path and every early-drop rule.

mod common;

use common::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use weir_common::{flow_hash, FAMILY_V4};
use weir_kernel::config::*;
use weir_kernel::{Event, ServerState, XdpBalancer};

const VIP4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const CLIENT4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const SRC4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd01, 0, 0, 0, 0, 0, 0, 2);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
const RING: u32 = 4093;

fn server(name: &str, addr: &str, weight: u32) -> ServerConfig {
    ServerConfig {
        name: name.into(),
        addr: addr.parse().unwrap(),
        weight,
        down: false,
    }
}

fn config() -> XdpConfig {
    let v4servers = vec![
        server("s1", "10.2.0.2", 1),
        server("s2", "10.2.1.2", 1),
        server("s3", "10.2.2.2", 2),
    ];
    XdpConfig {
        name: "fixtures".into(),
        source_v4: Some(SRC4),
        source_v6: Some(SRC6),
        next_hop_mac: NEXT_HOP_MAC,
        vips: vec![
            VipConfig {
                addr: IpAddr::V4(VIP4),
                port: 80,
                proto: Proto::Tcp,
                hash: VipHash::FiveTuple,
                servers: v4servers.clone(),
            },
            VipConfig {
                addr: IpAddr::V4(VIP4),
                port: 53,
                proto: Proto::Udp,
                hash: VipHash::FiveTuple,
                servers: v4servers,
            },
            VipConfig {
                addr: IpAddr::V6(VIP6),
                port: 80,
                proto: Proto::Tcp,
                hash: VipHash::FiveTuple,
                servers: vec![server("s6a", "fd02::2", 1), server("s6b", "fd02:1::2", 1)],
            },
            VipConfig {
                addr: IpAddr::V6(VIP6),
                port: 0,
                proto: Proto::Udp,
                hash: VipHash::FiveTuple,
                servers: vec![server("s4in6", "10.2.0.2", 1)],
            },
        ],
        limits: Limits {
            max_vips: 8,
            max_servers: 32,
            ring_size: RING,
            max_flows: 1024,
            max_rate_sources: 64,
            max_src_prefixes: 64,
        },
        ..Default::default()
    }
}

fn load(cfg: &XdpConfig) -> XdpBalancer {
    XdpBalancer::load(cfg).expect("load XDP balancer")
}

fn addr_words(a: IpAddr) -> [u32; 4] {
    match a {
        IpAddr::V4(a) => [u32::from_ne_bytes(a.octets()), 0, 0, 0],
        IpAddr::V6(a) => {
            let o = a.octets();
            std::array::from_fn(|i| {
                u32::from_ne_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
            })
        }
    }
}

/// The server the ring must give for this flow, computed in userspace with
/// the shared hash (independent of the program's arithmetic).
fn expected(
    lb: &XdpBalancer,
    cfg: &XdpConfig,
    vip: usize,
    src: IpAddr,
    sport: u16,
    proto: u8,
) -> IpAddr {
    let v = &cfg.vips[vip];
    let h = flow_hash(
        &addr_words(src),
        &addr_words(v.addr),
        sport.to_be(),
        v.port.to_be(),
        proto,
    );
    let ring = lb.live_ring(v.addr, v.port).unwrap();
    let idx = ring[(h % u64::from(RING)) as usize];
    let s = v
        .servers
        .iter()
        .find(|s| lb.server_index(v.addr, v.port, &s.name).unwrap() == idx)
        .expect("ring entry names a server");
    s.addr
}

#[test]
fn vip_hit_tcp_v4_is_encapsulated_to_the_maglev_pick() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    for sport in [40000u16, 40001, 40002, 51234] {
        let inner = ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(sport, 80, TCP_SYN, &[]));
        let (verdict, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &inner), 1).unwrap();
        assert_eq!(verdict, XDP_TX);
        let to = check_encap(&out, 14, &inner, IpAddr::V4(SRC4));
        assert_eq!(to, expected(&lb, &cfg, 0, IpAddr::V4(CLIENT4), sport, 6));
    }
    let c = lb.counters().unwrap();
    assert_eq!(c.event(Event::Forwarded), 4);
    assert_eq!(c.event(Event::NewFlow), 4);
    assert_eq!(c.vips[0].packets, 4);
    assert_eq!(c.servers[0].iter().map(|(_, t)| t.packets).sum::<u64>(), 4);
    assert_eq!(lb.flow_count().unwrap(), 4);
}

#[test]
fn vip_hit_udp_v4_and_counters_bytes() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    let inner = ipv4(CLIENT4, VIP4, 17, &[], 0, &udp(5353, 53, b"query"));
    let f = frame(eth(0x0800, &[]), &inner);
    let (verdict, out, _) = lb.test_run(&f, 1).unwrap();
    assert_eq!(verdict, XDP_TX);
    let to = check_encap(&out, 14, &inner, IpAddr::V4(SRC4));
    assert_eq!(to, expected(&lb, &cfg, 1, IpAddr::V4(CLIENT4), 5353, 17));
    let c = lb.counters().unwrap();
    assert_eq!(c.vips[1].packets, 1);
    assert_eq!(c.vips[1].bytes, f.len() as u64);
}

#[test]
fn vip_hit_tcp_v6_is_6in6() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    let inner = ipv6(CLIENT6, VIP6, 6, &tcp(40000, 80, TCP_SYN, &[]));
    let (verdict, out, _) = lb.test_run(&frame(eth(0x86DD, &[]), &inner), 1).unwrap();
    assert_eq!(verdict, XDP_TX);
    let to = check_encap(&out, 14, &inner, IpAddr::V6(SRC6));
    assert_eq!(to, expected(&lb, &cfg, 2, IpAddr::V6(CLIENT6), 40000, 6));
}

#[test]
fn address_wide_udp_v6_vip_to_v4_server_is_6in4() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    let inner = ipv6(CLIENT6, VIP6, 17, &udp(1000, 9999, b"x"));
    let (verdict, out, _) = lb.test_run(&frame(eth(0x86DD, &[]), &inner), 1).unwrap();
    assert_eq!(verdict, XDP_TX);
    assert_eq!(
        check_encap(&out, 14, &inner, IpAddr::V4(SRC4)),
        "10.2.0.2".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn non_vip_traffic_passes_untouched() {
    require_root!();
    let lb = load(&config());
    let cases = [
        frame(
            eth(0x0800, &[]),
            &ipv4(
                CLIENT4,
                Ipv4Addr::new(10, 0, 0, 2),
                6,
                &[],
                0,
                &tcp(1, 22, TCP_SYN, &[]),
            ),
        ),
        frame(
            eth(0x0800, &[]),
            &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(1, 443, TCP_SYN, &[])),
        ),
        frame(eth(0x0800, &[]), &ipv4(CLIENT4, VIP4, 47, &[], 0, &[0; 8])),
        frame(
            eth(0x86DD, &[]),
            &ipv6(CLIENT6, VIP6, 6, &tcp(1, 443, TCP_SYN, &[])),
        ),
        frame(eth(0x0806, &[]), &[0u8; 28]),
    ];
    for f in &cases {
        let (verdict, out, _) = lb.test_run(f, 1).unwrap();
        assert_eq!(verdict, XDP_PASS);
        assert_eq!(&out, f, "passed frames are not modified");
    }
    let c = lb.counters().unwrap();
    assert_eq!(c.event(Event::PassNotVip), 4);
    assert_eq!(c.event(Event::PassNonIp), 1);
}

/// Six TCP VIPs whose keys share one home slot in the program's VIP table:
/// four fit in its probe window, two are only in the VIPS hash. Every one is
/// forwarded to its own ring's pick, and a seventh port with the same home
/// slot that is no VIP passes.
#[test]
fn vips_sharing_a_table_slot_are_all_found() {
    require_root!();
    let key = |port: u16| weir_common::VipKey {
        addr: addr_words(IpAddr::V4(VIP4)),
        port: port.to_be(),
        proto: 6,
        family: FAMILY_V4,
    };
    let home = weir_common::vip_slot(&key(1));
    let ports: Vec<u16> = (1..=u16::MAX)
        .filter(|&p| weir_common::vip_slot(&key(p)) == home)
        .take(7)
        .collect();
    assert_eq!(ports.len(), 7, "the slot hash spreads ports over the table");
    let mut cfg = config();
    let servers = cfg.vips[0].servers.clone();
    cfg.vips = ports[..6]
        .iter()
        .map(|&port| VipConfig {
            addr: IpAddr::V4(VIP4),
            port,
            proto: Proto::Tcp,
            hash: VipHash::FiveTuple,
            servers: servers.clone(),
        })
        .collect();
    let lb = load(&cfg);
    for (i, &port) in ports[..6].iter().enumerate() {
        let inner = ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, port, TCP_SYN, &[]));
        let (verdict, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &inner), 1).unwrap();
        assert_eq!(verdict, XDP_TX, "VIP port {port}");
        let to = check_encap(&out, 14, &inner, IpAddr::V4(SRC4));
        assert_eq!(to, expected(&lb, &cfg, i, IpAddr::V4(CLIENT4), 40000, 6));
    }
    let stray = frame(
        eth(0x0800, &[]),
        &ipv4(
            CLIENT4,
            VIP4,
            6,
            &[],
            0,
            &tcp(40000, ports[6], TCP_SYN, &[]),
        ),
    );
    let (verdict, out, _) = lb.test_run(&stray, 1).unwrap();
    assert_eq!(verdict, XDP_PASS);
    assert_eq!(out, stray);
    let c = lb.counters().unwrap();
    assert_eq!(c.event(Event::Forwarded), 6);
    assert_eq!(c.event(Event::PassNotVip), 1);
    assert!(c.vips.iter().all(|t| t.packets == 1));
}

#[test]
fn vlan_and_qinq_tags_are_parsed_and_kept() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    let inner = ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, &[]));
    for tags in [vec![(0x8100u16, 100u16)], vec![(0x88a8, 10), (0x8100, 20)]] {
        let l2 = eth(0x0800, &tags);
        let l2_len = l2.len();
        let (verdict, out, _) = lb.test_run(&frame(l2.clone(), &inner), 1).unwrap();
        assert_eq!(verdict, XDP_TX);
        assert_eq!(&out[12..l2_len - 2], &l2[12..l2_len - 2], "tags kept");
        check_encap(&out, l2_len, &inner, IpAddr::V4(SRC4));
    }
}

#[test]
fn fragments_pass_to_the_stack() {
    require_root!();
    let lb = load(&config());
    let first = frame(
        eth(0x0800, &[]),
        &ipv4(CLIENT4, VIP4, 17, &[], 0x2000, &udp(1, 53, &[0; 32])),
    );
    let later = frame(
        eth(0x0800, &[]),
        &ipv4(CLIENT4, VIP4, 17, &[], 0x0004, &[0; 32]),
    );
    let v6frag = frame(
        eth(0x86DD, &[]),
        &ipv6(
            CLIENT6,
            VIP6,
            44,
            &[17, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
    );
    for f in [first, later, v6frag] {
        assert_eq!(lb.test_run(&f, 1).unwrap().0, XDP_PASS);
    }
    assert_eq!(lb.counters().unwrap().event(Event::PassFragment), 3);
}

#[test]
fn ip_options_are_forwarded() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    // Two NOPs + end-of-list padding to 4 bytes, then a router-alert (4 bytes).
    let inner = ipv4(
        CLIENT4,
        VIP4,
        6,
        &[1, 1, 0, 0, 0x94, 4, 0, 0],
        0,
        &tcp(40000, 80, TCP_SYN, &[]),
    );
    let (verdict, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &inner), 1).unwrap();
    assert_eq!(verdict, XDP_TX);
    let to = check_encap(&out, 14, &inner, IpAddr::V4(SRC4));
    assert_eq!(to, expected(&lb, &cfg, 0, IpAddr::V4(CLIENT4), 40000, 6));
    assert_eq!(lb.counters().unwrap().event(Event::ForwardIpOptions), 1);
}

#[test]
fn icmp_too_big_goes_to_the_flows_server() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    // The flow exists first.
    let syn = ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, &[]));
    let (_, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &syn), 1).unwrap();
    let server = check_encap(&out, 14, &syn, IpAddr::V4(SRC4));
    // A router tells the VIP that its reply (VIP:80 → client:40000) was too big.
    let quoted = ipv4(VIP4, CLIENT4, 6, &[], 0, &tcp(80, 40000, TCP_ACK, &[]))[..28].to_vec();
    let mut icmp = vec![3u8, 4, 0, 0, 0, 0, 0x05, 0xdc];
    icmp.extend_from_slice(&quoted);
    let inner = ipv4(Ipv4Addr::new(10, 9, 9, 1), VIP4, 1, &[], 0, &icmp);
    let (verdict, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &inner), 1).unwrap();
    assert_eq!(verdict, XDP_TX);
    assert_eq!(check_encap(&out, 14, &inner, IpAddr::V4(SRC4)), server);
    let c = lb.counters().unwrap();
    assert_eq!(c.event(Event::ForwardIcmpTooBig), 1);
    assert_eq!(lb.flow_count().unwrap(), 1, "ICMP creates no flow");
    // Other ICMP (echo request) to the VIP passes.
    let echo = ipv4(CLIENT4, VIP4, 1, &[], 0, &[8, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(
        lb.test_run(&frame(eth(0x0800, &[]), &echo), 1).unwrap().0,
        XDP_PASS
    );
}

#[test]
fn icmpv6_packet_too_big_goes_to_the_flows_server() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    let syn = ipv6(CLIENT6, VIP6, 6, &tcp(40000, 80, TCP_SYN, &[]));
    let (_, out, _) = lb.test_run(&frame(eth(0x86DD, &[]), &syn), 1).unwrap();
    let server = check_encap(&out, 14, &syn, IpAddr::V6(SRC6));
    let quoted = ipv6(VIP6, CLIENT6, 6, &tcp(80, 40000, TCP_ACK, &[]));
    let mut icmp = vec![2u8, 0, 0, 0, 0, 0, 0x05, 0x00];
    icmp.extend_from_slice(&quoted);
    let inner = ipv6("fd09::1".parse().unwrap(), VIP6, 58, &icmp);
    let (verdict, out, _) = lb.test_run(&frame(eth(0x86DD, &[]), &inner), 1).unwrap();
    assert_eq!(verdict, XDP_TX);
    assert_eq!(check_encap(&out, 14, &inner, IpAddr::V6(SRC6)), server);
}

#[test]
fn malformed_frames_get_a_defined_verdict_and_a_counter() {
    require_root!();
    let lb = load(&config());
    let good = ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, &[]));
    let mut bad_ihl = good.clone();
    bad_ihl[0] = 0x44;
    let mut bad_version = good.clone();
    bad_version[0] = 0x55;
    let mut long_total = good.clone();
    long_total[2..4].copy_from_slice(&500u16.to_be_bytes());
    let mut short_total = good.clone();
    short_total[2..4].copy_from_slice(&10u16.to_be_bytes());
    let cases: Vec<(Vec<u8>, u32, Event)> = vec![
        // (BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet
        // header, so the shortest case is a bare Ethernet header.)
        (eth(0x0800, &[]), XDP_DROP, Event::DropTruncated),
        (
            frame(eth(0x0800, &[]), &good[..12]),
            XDP_DROP,
            Event::DropTruncated,
        ),
        (
            frame(eth(0x0800, &[]), &good[..30]),
            XDP_DROP,
            Event::DropTruncated,
        ),
        (
            frame(eth(0x0800, &[]), &bad_ihl),
            XDP_DROP,
            Event::DropBadHeader,
        ),
        (
            frame(eth(0x0800, &[]), &bad_version),
            XDP_DROP,
            Event::DropBadHeader,
        ),
        (
            frame(eth(0x0800, &[]), &long_total),
            XDP_DROP,
            Event::DropTruncated,
        ),
        (
            frame(eth(0x0800, &[]), &short_total),
            XDP_DROP,
            Event::DropBadHeader,
        ),
        (
            frame(eth(0x8100, &[]), &[0u8; 1]),
            XDP_DROP,
            Event::DropTruncated,
        ),
        (
            frame(
                eth(0x86DD, &[]),
                &ipv6(CLIENT6, VIP6, 6, &tcp(1, 80, TCP_SYN, &[]))[..50],
            ),
            XDP_DROP,
            Event::DropTruncated,
        ),
    ];
    for (i, (f, verdict, ev)) in cases.iter().enumerate() {
        let before = lb.counters().unwrap().event(*ev);
        let (v, _, _) = lb.test_run(f, 1).unwrap();
        assert_eq!(v, *verdict, "case {i}");
        assert_eq!(
            lb.counters().unwrap().event(*ev),
            before + 1,
            "case {i} counts {ev:?}"
        );
    }
    assert_eq!(
        lb.flow_count().unwrap(),
        0,
        "no malformed frame creates a flow"
    );
}

#[test]
fn blocklisted_and_allowlisted_sources() {
    require_root!();
    let mut cfg = config();
    cfg.blocklist = vec!["10.1.0.0/16".parse().unwrap(), "fd01::/16".parse().unwrap()];
    cfg.allowlist = vec!["10.1.7.0/24".parse().unwrap()];
    let mut lb = load(&cfg);
    let from = |src: Ipv4Addr| {
        frame(
            eth(0x0800, &[]),
            &ipv4(src, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, &[])),
        )
    };
    assert_eq!(lb.test_run(&from(CLIENT4), 1).unwrap().0, XDP_DROP);
    assert_eq!(
        lb.test_run(&from(Ipv4Addr::new(10, 1, 7, 9)), 1).unwrap().0,
        XDP_TX,
        "longer allow prefix wins"
    );
    assert_eq!(
        lb.test_run(&from(Ipv4Addr::new(10, 3, 0, 1)), 1).unwrap().0,
        XDP_TX
    );
    let v6 = frame(
        eth(0x86DD, &[]),
        &ipv6(CLIENT6, VIP6, 6, &tcp(1, 80, TCP_SYN, &[])),
    );
    assert_eq!(lb.test_run(&v6, 1).unwrap().0, XDP_DROP);
    // Non-VIP traffic from a blocked source is dropped as well.
    let ssh = frame(
        eth(0x0800, &[]),
        &ipv4(CLIENT4, SRC4, 6, &[], 0, &tcp(1, 22, TCP_SYN, &[])),
    );
    assert_eq!(lb.test_run(&ssh, 1).unwrap().0, XDP_DROP);
    assert_eq!(lb.counters().unwrap().event(Event::DropBlocklist), 3);
    // Reload the lists at run time: allowlist-only mode.
    lb.set_sources(&[], &["10.3.0.0/16".parse().unwrap()])
        .unwrap();
    assert_eq!(
        lb.test_run(&from(CLIENT4), 1).unwrap().0,
        XDP_TX,
        "block entry removed"
    );
    drop(lb);
    cfg.blocklist.clear();
    cfg.allowlist = vec!["10.3.0.0/16".parse().unwrap()];
    cfg.allowlist_only = true;
    let lb = load(&cfg);
    assert_eq!(
        lb.test_run(&from(Ipv4Addr::new(10, 3, 0, 1)), 1).unwrap().0,
        XDP_TX
    );
    assert_eq!(lb.test_run(&from(CLIENT4), 1).unwrap().0, XDP_DROP);
    assert_eq!(lb.counters().unwrap().event(Event::DropNotAllowed), 1);
}

#[test]
fn syn_rate_limit_per_source() {
    require_root!();
    let mut cfg = config();
    cfg.new_flow_rate = Some(RateLimit {
        per_sec: 1,
        burst: 5,
    });
    let lb = load(&cfg);
    let syn = |src: Ipv4Addr, port: u16| {
        frame(
            eth(0x0800, &[]),
            &ipv4(src, VIP4, 6, &[], 0, &tcp(port, 80, TCP_SYN, &[])),
        )
    };
    let verdicts: Vec<u32> = (0..8)
        .map(|i| lb.test_run(&syn(CLIENT4, 1000 + i), 1).unwrap().0)
        .collect();
    // The burst of 5 passes (plus at most one refill at 1/s), the rest is dropped.
    let passed = verdicts.iter().filter(|&&v| v == XDP_TX).count();
    assert!((5..=6).contains(&passed), "{verdicts:?}");
    assert_eq!(verdicts[7], XDP_DROP);
    // Another source has its own bucket; non-SYN packets of a flow are not charged.
    assert_eq!(
        lb.test_run(&syn(Ipv4Addr::new(10, 1, 0, 3), 1000), 1)
            .unwrap()
            .0,
        XDP_TX
    );
    let ack = frame(
        eth(0x0800, &[]),
        &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(1000, 80, TCP_ACK, &[])),
    );
    assert_eq!(lb.test_run(&ack, 1).unwrap().0, XDP_TX);
    // UDP new flows pay as well.
    let c = lb.counters().unwrap();
    assert_eq!(c.event(Event::DropRateLimit), 8 - passed as u64);
}

#[test]
fn flows_keep_their_server_drain_and_down() {
    require_root!();
    let cfg = config();
    let mut lb = load(&cfg);
    let syn = |port: u16| {
        frame(
            eth(0x0800, &[]),
            &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(port, 80, TCP_SYN, &[])),
        )
    };
    let ack = |port: u16| {
        frame(
            eth(0x0800, &[]),
            &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(port, 80, TCP_ACK, &[])),
        )
    };
    let dest = |lb: &XdpBalancer, f: &[u8]| -> IpAddr {
        let (v, out, _) = lb.test_run(f, 1).unwrap();
        assert_eq!(v, XDP_TX);
        check_encap(&out, 14, &f[14..], IpAddr::V4(SRC4))
    };
    let before: Vec<IpAddr> = (0..200).map(|p| dest(&lb, &syn(20000 + p))).collect();
    let s3: IpAddr = "10.2.2.2".parse().unwrap();
    assert!(before.contains(&s3));
    // Weight 0 drains s3: existing flows stay, new flows avoid it.
    lb.set_server_state(IpAddr::V4(VIP4), 80, "s3", ServerState::Up { weight: 0 })
        .unwrap();
    for (p, d) in before.iter().enumerate() {
        assert_eq!(
            dest(&lb, &ack(20000 + p as u16)),
            *d,
            "established flow kept its server"
        );
    }
    for p in 0..200 {
        assert_ne!(
            dest(&lb, &syn(30000 + p)),
            s3,
            "no new flow to a draining server"
        );
    }
    // DOWN moves s3's flows, and only them.
    lb.set_server_state(IpAddr::V4(VIP4), 80, "s3", ServerState::Down)
        .unwrap();
    for (p, d) in before.iter().enumerate() {
        let now = dest(&lb, &ack(20000 + p as u16));
        if *d == s3 {
            assert_ne!(now, s3);
        } else {
            assert_eq!(now, *d);
        }
    }
    assert!(lb.counters().unwrap().event(Event::FlowServerDown) > 0);
    // All servers down: new flows are dropped and counted.
    for s in ["s1", "s2"] {
        lb.set_server_state(IpAddr::V4(VIP4), 80, s, ServerState::Down)
            .unwrap();
    }
    assert_eq!(lb.test_run(&syn(40000), 1).unwrap().0, XDP_DROP);
    assert_eq!(lb.counters().unwrap().event(Event::DropNoServer), 1);
    assert_eq!(FAMILY_V4, 4);
}

#[test]
fn decap_restores_the_original_packet() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    let decap = weir_kernel::XdpDecap::load().unwrap();
    for (l2, inner) in [
        (
            eth(0x0800, &[]),
            ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, b"hello")),
        ),
        (
            eth(0x86DD, &[]),
            ipv6(CLIENT6, VIP6, 6, &tcp(40000, 80, TCP_SYN, b"hello")),
        ),
        (
            eth(0x86DD, &[]),
            ipv6(CLIENT6, VIP6, 17, &udp(1000, 53, b"q")),
        ),
    ] {
        let (v, wrapped, _) = lb.test_run(&frame(l2, &inner), 1).unwrap();
        assert_eq!(v, XDP_TX);
        let (v, out) = decap.test_run(&wrapped).unwrap();
        assert_eq!(v, XDP_PASS);
        assert_eq!(
            &out[14..14 + inner.len()],
            &inner[..],
            "inner packet restored"
        );
        let et = if inner[0] >> 4 == 4 {
            0x0800u16
        } else {
            0x86DD
        };
        assert_eq!(u16::from_be_bytes([out[12], out[13]]), et);
    }
    // Plain traffic passes untouched.
    let plain = frame(
        eth(0x0800, &[]),
        &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(1, 80, TCP_SYN, &[])),
    );
    assert_eq!(decap.test_run(&plain).unwrap(), (XDP_PASS, plain.clone()));
    assert_eq!(decap.decapsulated().unwrap(), 3);
}

#[test]
fn pinned_maps_keep_flows_across_a_reload() {
    require_root!();
    with_private_bpffs(|bpffs| pinned_reload(&bpffs.join("weir").join("fixtures")));
}

fn pinned_reload(dir: &std::path::Path) {
    let mut cfg = config();
    cfg.pin = Some(dir.to_path_buf());
    let syn = |port: u16, flags: u8| {
        frame(
            eth(0x0800, &[]),
            &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(port, 80, flags, &[])),
        )
    };
    let dest = |lb: &XdpBalancer, f: &[u8]| -> IpAddr {
        let (v, out, _) = lb.test_run(f, 1).unwrap();
        assert_eq!(v, XDP_TX);
        check_encap(&out, 14, &f[14..], IpAddr::V4(SRC4))
    };
    let lb = load(&cfg);
    let before: Vec<IpAddr> = (0..50)
        .map(|p| dest(&lb, &syn(20000 + p, TCP_SYN)))
        .collect();
    drop(lb);
    assert!(
        dir.join("FLOWS").exists(),
        "maps pinned under the configured directory"
    );

    // The reload reorders the servers, changes weights and adds one: the
    // ring changes, recorded flows must not.
    let mut cfg2 = cfg.clone();
    let mut servers = cfg2.vips[0].servers.clone();
    servers.reverse();
    servers[0].weight = 7;
    servers.push(server("s9", "10.2.9.2", 3));
    cfg2.vips[0].servers = servers;
    cfg2.vips.remove(1); // the UDP VIP goes away
    let lb = load(&cfg2);
    assert_eq!(
        lb.flow_count().unwrap(),
        50,
        "connection table survived the reload"
    );
    for (p, d) in before.iter().enumerate() {
        assert_eq!(
            dest(&lb, &syn(20000 + p as u16, TCP_ACK)),
            *d,
            "flow {p} kept its server across the reload"
        );
    }
    let udp = frame(
        eth(0x0800, &[]),
        &ipv4(CLIENT4, VIP4, 17, &[], 0, &udp(5353, 53, b"q")),
    );
    assert_eq!(
        lb.test_run(&udp, 1).unwrap().0,
        XDP_PASS,
        "removed VIP is gone from the pinned map"
    );
    lb.unpin().unwrap();
    assert!(!dir.exists(), "unpin removed the directory");
}

#[test]
fn probe_reports_what_this_kernel_has() {
    require_root!();
    let p = weir_kernel::probe();
    // CI machines have all of these (see TOOLCHAIN.md); a "no" is a finding.
    assert!(p.xdp && p.sk_reuseport && p.btf && p.lru_and_lpm, "{p}");
    assert!(p.to_string().contains("xdp: yes"));
}

#[test]
fn config_errors_are_explicit() {
    let mut cfg = config();
    cfg.limits.ring_size = 65536;
    let e = XdpBalancer::load(&cfg)
        .err()
        .expect("non-prime ring rejected")
        .to_string();
    assert!(e.contains("65536 is not a prime"), "{e}");
    let mut cfg = config();
    cfg.source_v6 = None;
    let e = XdpBalancer::load(&cfg)
        .err()
        .expect("missing source rejected")
        .to_string();
    assert!(e.contains("no source-v6"), "{e}");
    assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    assert_eq!("fd00::/8".parse::<Cidr>().unwrap().len, 8);
}

const NAT4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

fn fullnat_config() -> XdpConfig {
    XdpConfig {
        name: "fullnat".into(),
        method: Method::FullNat,
        nat_source_v4: Some(NAT4),
        next_hop_mac: NEXT_HOP_MAC,
        vips: vec![
            VipConfig {
                addr: IpAddr::V4(VIP4),
                port: 80,
                proto: Proto::Tcp,
                hash: VipHash::FiveTuple,
                servers: vec![server("s1", "10.2.0.2", 1), server("s2", "10.2.1.2", 1)],
            },
            VipConfig {
                addr: IpAddr::V4(VIP4),
                port: 53,
                proto: Proto::Udp,
                hash: VipHash::FiveTuple,
                servers: vec![server("u1", "10.2.0.2", 1)],
            },
        ],
        limits: Limits {
            max_vips: 4,
            max_servers: 8,
            ring_size: RING,
            max_flows: 256,
            max_rate_sources: 16,
            max_src_prefixes: 16,
        },
        ..Default::default()
    }
}

fn v4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn port(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

#[test]
fn fullnat_translates_both_ways_with_valid_checksums() {
    require_root!();
    let cfg = fullnat_config();
    let lb = load(&cfg);
    let payload = b"GET / HTTP/1.1\r\n\r\n";
    let syn = with_l4_checksum(ipv4(
        CLIENT4,
        VIP4,
        6,
        &[],
        0,
        &tcp(40000, 80, TCP_SYN, payload),
    ));
    let (v, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &syn), 1).unwrap();
    assert_eq!(v, XDP_TX);
    assert_eq!(&out[0..6], &NEXT_HOP_MAC);
    assert_eq!(&out[6..12], &LB_MAC);
    let ip = &out[14..];
    assert!(
        checksums_ok(ip),
        "forward checksums valid after incremental update"
    );
    assert_eq!(v4(&ip[12..16]), NAT4, "source is the NAT address");
    let server = IpAddr::V4(v4(&ip[16..20]));
    assert_eq!(
        server,
        expected(&lb, &cfg, 0, IpAddr::V4(CLIENT4), 40000, 6)
    );
    let nat_port = port(&ip[20..22]);
    assert!(nat_port >= 1024);
    assert_eq!(port(&ip[22..24]), 80);
    assert_eq!(&ip[40..], payload, "payload untouched");

    // The same flow keeps its NAT port and server.
    let ack = with_l4_checksum(ipv4(
        CLIENT4,
        VIP4,
        6,
        &[],
        0,
        &tcp(40000, 80, TCP_ACK, &[]),
    ));
    let (_, out2, _) = lb.test_run(&frame(eth(0x0800, &[]), &ack), 1).unwrap();
    assert_eq!(
        (v4(&out2[30..34]), port(&out2[34..36])),
        (v4(&ip[16..20]), nat_port)
    );

    // The server's reply comes back to the NAT address and returns to the client from the VIP.
    let IpAddr::V4(s4) = server else {
        unreachable!()
    };
    let reply = with_l4_checksum(ipv4(
        s4,
        NAT4,
        6,
        &[],
        0,
        &tcp(80, nat_port, TCP_SYN | TCP_ACK, b"HTTP/1.1 200 OK"),
    ));
    let (v, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &reply), 1).unwrap();
    assert_eq!(v, XDP_TX);
    let ip = &out[14..];
    assert!(checksums_ok(ip), "reverse checksums valid");
    assert_eq!((v4(&ip[12..16]), port(&ip[20..22])), (VIP4, 80));
    assert_eq!((v4(&ip[16..20]), port(&ip[22..24])), (CLIENT4, 40000));
    assert_eq!(lb.counters().unwrap().event(Event::ReverseNat), 1);

    // A packet to the NAT address on a port weir did not hand out is the host's.
    let other = with_l4_checksum(ipv4(s4, NAT4, 6, &[], 0, &tcp(80, 999, TCP_ACK, &[])));
    assert_eq!(
        lb.test_run(&frame(eth(0x0800, &[]), &other), 1).unwrap().0,
        XDP_PASS
    );
}

#[test]
fn fullnat_udp_keeps_a_zero_checksum_zero() {
    require_root!();
    let cfg = fullnat_config();
    let lb = load(&cfg);
    let with = with_l4_checksum(ipv4(CLIENT4, VIP4, 17, &[], 0, &udp(5353, 53, b"query")));
    let (v, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &with), 1).unwrap();
    assert_eq!(v, XDP_TX);
    assert!(checksums_ok(&out[14..]));
    let without = ipv4(CLIENT4, VIP4, 17, &[], 0, &udp(5354, 53, b"query"));
    let (v, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &without), 1).unwrap();
    assert_eq!(v, XDP_TX);
    assert_eq!(
        &out[14 + 26..14 + 28],
        &[0, 0],
        "no UDP checksum stays none"
    );
    assert_eq!(checksum(&out[14..34]), 0);
    // Distinct flows to one server get distinct NAT ports.
    let p1 = port(&lb.test_run(&frame(eth(0x0800, &[]), &with), 1).unwrap().1[34..36]);
    let p2 = port(&out[34..36]);
    assert_ne!(p1, p2);
}

#[test]
fn fullnat_config_is_validated() {
    let mut cfg = fullnat_config();
    cfg.nat_source_v4 = None;
    assert!(XdpBalancer::load(&cfg)
        .err()
        .unwrap()
        .to_string()
        .contains("nat-source"));
    let mut cfg = fullnat_config();
    cfg.vips[0].servers.push(server("v6", "fd02::2", 1));
    let e = XdpBalancer::load(&cfg).err().unwrap().to_string();
    assert!(
        e.contains("does not translate between IPv4 and IPv6"),
        "{e}"
    );
}

#[test]
fn source_hash_vip_keeps_a_client_on_one_server() {
    require_root!();
    let mut cfg = config();
    cfg.vips[0].hash = VipHash::Source;
    let lb = load(&cfg);
    let dest = |src: Ipv4Addr, port: u16| {
        let inner = ipv4(src, VIP4, 6, &[], 0, &tcp(port, 80, TCP_SYN, &[]));
        let (v, out, _) = lb.test_run(&frame(eth(0x0800, &[]), &inner), 1).unwrap();
        assert_eq!(v, XDP_TX);
        check_encap(&out, 14, &inner, IpAddr::V4(SRC4))
    };
    for c in 1..20u8 {
        let src = Ipv4Addr::new(10, 1, 3, c);
        let first = dest(src, 1000);
        assert!(
            (1001..1030).all(|p| dest(src, p) == first),
            "client {src} always on {first}"
        );
    }
}

#[test]
fn a_full_flow_table_evicts_and_counts_it() {
    require_root!();
    let mut cfg = config();
    cfg.limits.max_flows = 128;
    let lb = load(&cfg);
    let pkt = |port: u16, flags: u8| {
        frame(
            eth(0x0800, &[]),
            &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(port, 80, flags, &[])),
        )
    };
    for p in 0..2000u16 {
        assert_eq!(lb.test_run(&pkt(10_000 + p, TCP_SYN), 1).unwrap().0, XDP_TX);
    }
    assert!(
        lb.flow_count().unwrap() <= 128,
        "LRU never grows past its size"
    );
    // The oldest flows were evicted: their next packet is a counted
    // mid-stream miss, re-picked (same ring, so the same server) and forwarded.
    for p in 0..100u16 {
        assert_eq!(lb.test_run(&pkt(10_000 + p, TCP_ACK), 1).unwrap().0, XDP_TX);
    }
    let c = lb.counters().unwrap();
    assert!(
        c.event(Event::FlowMissMidstream) >= 90,
        "{}",
        c.event(Event::FlowMissMidstream)
    );
    assert_eq!(
        c.event(Event::FlowInsertFailed),
        0,
        "eviction, not insert failures"
    );
}

#[test]
fn counters_dump_names_events_and_servers() {
    require_root!();
    let lb = load(&config());
    let inner = ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, &[]));
    lb.test_run(&frame(eth(0x0800, &[]), &inner), 1).unwrap();
    let dump = lb.counters().unwrap().to_string();
    assert!(
        dump.contains("event Forwarded 1")
            && dump.contains("vip 0 packets 1")
            && dump.contains("server s3"),
        "{dump}"
    );
}

/// Deterministic xorshift: the same "random" frames on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

#[test]
fn hostile_frames_get_a_verdict_and_never_a_half_rewritten_packet() {
    require_root!();
    let cfg = config();
    let lb = load(&cfg);
    let mut rng = Rng(0x05ee_d0f0_eb9f);
    let templates = [
        frame(
            eth(0x0800, &[]),
            &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, b"data")),
        ),
        frame(
            eth(0x0800, &[]),
            &ipv4(CLIENT4, VIP4, 17, &[], 0, &udp(5353, 53, b"q")),
        ),
        frame(
            eth(0x86DD, &[]),
            &ipv6(CLIENT6, VIP6, 6, &tcp(40000, 80, TCP_SYN, b"data")),
        ),
        frame(
            eth(0x0800, &[(0x8100, 5)]),
            &ipv4(CLIENT4, VIP4, 6, &[], 0, &tcp(40000, 80, TCP_SYN, &[])),
        ),
    ];
    let mut seen = [0usize; 4];
    for i in 0..3000 {
        let mut f = templates[i % templates.len()].clone();
        // Corrupt a few bytes in the headers, and sometimes cut the frame.
        for _ in 0..(1 + rng.next() % 4) {
            let at = 12 + (rng.next() as usize % (f.len() - 12).min(60));
            f[at] = rng.byte();
        }
        if rng.next().is_multiple_of(4) {
            let cut = 14 + rng.next() as usize % (f.len() - 14);
            f.truncate(cut);
        }
        let (v, out, _) = lb.test_run(&f, 1).unwrap();
        seen[v as usize] += 1;
        match v {
            XDP_PASS | XDP_DROP => {
                assert_eq!(out, f, "case {i}: frames not forwarded are not modified")
            }
            XDP_TX => {
                // Forwarded: a well-formed outer header followed by the
                // received L3 packet, unchanged.
                let tagged = |et: &[u8]| et == [0x81, 0x00] || et == [0x88, 0xa8];
                let l2 = if tagged(&f[12..14]) {
                    if f[16..18] == [0x81, 0x00] {
                        22
                    } else {
                        18
                    }
                } else {
                    14
                };
                let outer = out.len() - f.len();
                assert!(outer == 20 || outer == 40, "case {i}: one outer header");
                assert_eq!(&out[12..l2 - 2], &f[12..l2 - 2], "case {i}: tags kept");
                assert_eq!(&out[..6], &NEXT_HOP_MAC, "case {i}");
                assert!(out.ends_with(&f[l2..]), "case {i}: inner packet intact");
            }
            other => panic!("case {i}: unexpected verdict {other}"),
        }
    }
    assert!(
        seen[XDP_TX as usize] > 0 && seen[XDP_DROP as usize] > 0 && seen[XDP_PASS as usize] > 0,
        "{seen:?}"
    );
    assert!(lb.flow_count().unwrap() <= cfg.limits.max_flows as usize);
}

const NAT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3);

#[test]
fn fullnat_ipv6_translates_both_ways_with_valid_checksums() {
    require_root!();
    let mut cfg = fullnat_config();
    cfg.nat_source_v6 = Some(NAT6);
    cfg.vips.push(VipConfig {
        addr: IpAddr::V6(VIP6),
        port: 443,
        proto: Proto::Tcp,
        hash: VipHash::FiveTuple,
        servers: vec![server("a6", "fd02::2", 1), server("b6", "fd02:1::2", 1)],
    });
    let lb = load(&cfg);
    let v6 = |b: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap());
    let syn = with_l4_checksum6(ipv6(CLIENT6, VIP6, 6, &tcp(40000, 443, TCP_SYN, b"hello")));
    let (v, out, _) = lb.test_run(&frame(eth(0x86DD, &[]), &syn), 1).unwrap();
    assert_eq!(v, XDP_TX);
    let ip = &out[14..];
    assert!(checksum6_ok(ip), "forward TCP checksum valid");
    assert_eq!(v6(&ip[8..24]), NAT6);
    let server = v6(&ip[24..40]);
    assert_eq!(
        IpAddr::V6(server),
        expected(&lb, &cfg, 2, IpAddr::V6(CLIENT6), 40000, 6)
    );
    let nat_port = port(&ip[40..42]);
    assert_eq!(port(&ip[42..44]), 443);
    let reply = with_l4_checksum6(ipv6(
        server,
        NAT6,
        6,
        &tcp(443, nat_port, TCP_SYN | TCP_ACK, b"world"),
    ));
    let (v, out, _) = lb.test_run(&frame(eth(0x86DD, &[]), &reply), 1).unwrap();
    assert_eq!(v, XDP_TX);
    let ip = &out[14..];
    assert!(checksum6_ok(ip), "reverse TCP checksum valid");
    assert_eq!((v6(&ip[8..24]), port(&ip[40..42])), (VIP6, 443));
    assert_eq!((v6(&ip[24..40]), port(&ip[42..44])), (CLIENT6, 40000));
    // UDP over IPv6 as well.
    let mut cfg_udp = cfg.clone();
    cfg_udp.vips[2].proto = Proto::Udp;
    let lb = load(&cfg_udp);
    let dgram = with_l4_checksum6(ipv6(CLIENT6, VIP6, 17, &udp(5000, 443, b"quic-ish")));
    let (v, out, _) = lb.test_run(&frame(eth(0x86DD, &[]), &dgram), 1).unwrap();
    assert_eq!(v, XDP_TX);
    assert!(checksum6_ok(&out[14..]));
}
