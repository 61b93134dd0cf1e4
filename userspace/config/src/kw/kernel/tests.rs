//! `xdp` section tests: whole configurations in, model or located error out.

use std::net::{IpAddr, Ipv4Addr};

use crate::xdp::*;
use crate::*;

const GOOD: &str = "\
xdp edge
    interface eth0
    interface eth1 mode native
    interface eth2 mode generic
    interface eth3 mode auto fallback refuse
    method ipip
    source-v4 192.0.2.10
    source-v6 2001:db8::10
    next-hop-mac 02:00:00:00:00:01
    ring-size 13
    max-flows 1000
    max-vips 8
    max-servers 32
    blocklist 10.0.0.0/8 2001:db8:bad::/48
    blocklist 192.0.2.99
    allowlist 10.1.0.0/16
    new-flow-rate 100/s burst 20 per-source
    pin
    vip 198.51.100.1:80 proto tcp
        server a 10.9.0.1
        server b 10.9.0.2 weight 3
        server c 2001:db8::c weight 0 down
    vip 198.51.100.1 proto udp hash source
        server a 10.9.0.1
    vip [2001:db8::1]:443 proto tcp hash 5-tuple
        server v6 2001:db8::2
";

fn parse(text: &str) -> Config {
    parse_str("t.cfg", text).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn err(text: &str) -> String {
    match parse_str("t.cfg", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.errors()[0].to_string(),
    }
}

#[test]
fn a_full_section_parses_into_the_model() {
    let c = parse(GOOD);
    assert_eq!(c.xdp.len(), 1);
    let s = &c.xdp[0];
    assert_eq!(s.loc.line, 1);
    let x = &s.cfg;
    assert_eq!(x.name, "edge");
    let modes: Vec<_> = x
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.mode, i.fallback))
        .collect();
    assert_eq!(
        modes,
        [
            ("eth0", AttachMode::Auto, Fallback::Generic),
            ("eth1", AttachMode::Native, Fallback::Refuse),
            ("eth2", AttachMode::Generic, Fallback::Generic),
            ("eth3", AttachMode::Auto, Fallback::Refuse),
        ]
    );
    assert_eq!(x.method, Method::Ipip);
    assert_eq!(x.source_v4, Some(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(x.source_v6, Some("2001:db8::10".parse().unwrap()));
    assert_eq!(x.next_hop_mac, [2, 0, 0, 0, 0, 1]);
    assert_eq!(x.limits.ring_size, 13);
    assert_eq!(x.limits.max_flows, 1000);
    assert_eq!(x.limits.max_vips, 8);
    assert_eq!(x.limits.max_servers, 32);
    assert_eq!(x.blocklist.len(), 3);
    assert_eq!(x.blocklist[2].len, 32);
    assert_eq!(x.allowlist.len(), 1);
    assert!(!x.allowlist_only);
    assert_eq!(
        x.new_flow_rate,
        Some(RateLimit {
            per_sec: 100,
            burst: 20
        })
    );
    assert_eq!(
        x.pin.as_deref(),
        Some(std::path::Path::new("/sys/fs/bpf/weir/edge"))
    );
    assert_eq!(x.vips.len(), 3);
    let v = &x.vips[0];
    assert_eq!(
        (v.addr, v.port, v.proto, v.hash),
        (
            "198.51.100.1".parse().unwrap(),
            80,
            Proto::Tcp,
            VipHash::FiveTuple
        )
    );
    assert_eq!(v.servers.len(), 3);
    assert_eq!(v.servers[0].weight, 1, "weight defaults to 1");
    assert_eq!(v.servers[1].weight, 3);
    assert!(v.servers[2].down && v.servers[2].weight == 0);
    assert_eq!(
        (x.vips[1].port, x.vips[1].proto, x.vips[1].hash),
        (0, Proto::Udp, VipHash::Source)
    );
    assert_eq!(x.vips[2].addr, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(x.vips[2].port, 443);
    assert!(x.validate().is_ok());
}

#[test]
fn defaults_and_fullnat() {
    let c = parse(
        "xdp n\n interface veth0\n method fullnat\n nat-source 10.0.0.3\n nat-source fd00::3\n next-hop-mac 02-00-00-00-00-02\n pin /sys/fs/bpf/x\n allowlist-only\n allowlist 10.0.0.0/8\n vip 10.0.0.1:53 proto udp\n server s 10.1.0.1\n",
    );
    let x = &c.xdp[0].cfg;
    assert_eq!(x.method, Method::FullNat);
    assert_eq!(x.nat_source_v4, Some(Ipv4Addr::new(10, 0, 0, 3)));
    assert!(x.nat_source_v6.is_some());
    assert_eq!(x.limits, Limits::default());
    assert!(x.allowlist_only);
    assert_eq!(
        x.pin.as_deref(),
        Some(std::path::Path::new("/sys/fs/bpf/x"))
    );
    // Without a vip, next-hop-mac is not needed; burst defaults to a second's worth.
    let c =
        parse("xdp n\n interface lo\n new-flow-rate 50/s per-source\n blocklist 192.0.2.0/24\n");
    assert_eq!(
        c.xdp[0].cfg.new_flow_rate,
        Some(RateLimit {
            per_sec: 50,
            burst: 50
        })
    );
    assert_eq!(c.xdp[0].cfg.pin, None);
}

#[test]
fn prefix_files_are_read_and_their_errors_located() {
    let dir = std::env::temp_dir().join(format!("weir-config-xdp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good");
    std::fs::write(&good, "# list\n10.0.0.0/8\n203.0.113.7\n").unwrap();
    let bad = dir.join("bad");
    std::fs::write(&bad, "10.0.0.0/8\nnot-a-prefix\n").unwrap();
    let c = parse(&format!(
        "xdp n\n interface lo\n blocklist 192.0.2.0/24 file@{}\n",
        good.display()
    ));
    assert_eq!(c.xdp[0].cfg.blocklist.len(), 3);
    let e = err(&format!(
        "xdp n\n interface lo\n allowlist file@{}\n",
        bad.display()
    ));
    assert!(
        e.starts_with("t.cfg:3: [xdp 'n'] ") && e.contains("bad:2:"),
        "{e}"
    );
    let e = err(&format!(
        "xdp n\n interface lo\n allowlist file@{}/missing\n",
        dir.display()
    ));
    assert!(e.contains("t.cfg:3:") && e.contains("missing"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every bad value is refused with `file:line`, the section and the reason.
#[test]
fn bad_values_are_located() {
    const HEAD: &str =
        "xdp n\n interface veth0\n source-v4 10.0.0.2\n next-hop-mac 02:00:00:00:00:01\n";
    let cases: &[(&str, u32, &str)] = &[
        ("interface\n", 5, "'interface' expects NAME"),
        ("interface eth0 mode fast\n", 5, "unknown XDP mode 'fast'"),
        (
            "interface eth0 fallback maybe\n",
            5,
            "unknown fallback 'maybe'",
        ),
        (
            "interface eth0 mode generic fallback refuse\n",
            5,
            "'fallback' applies only",
        ),
        ("interface eth0 mode\n", 5, "'mode' expects a value"),
        ("interface eth0 speed 10\n", 5, "unknown argument 'speed'"),
        ("interface veth0\n", 5, "already listed"),
        ("interface a/b\n", 5, "not a valid interface name"),
        (
            "interface abcdefghijklmnop\n",
            5,
            "not a valid interface name",
        ),
        ("method dsr\n", 5, "unknown forwarding method 'dsr'"),
        (
            "method ipip\n method ipip\n",
            6,
            "'method' is already set in this section (line 5)",
        ),
        (
            "source-v4 fd00::1\n",
            5,
            "'source-v4' expects an IPv4 address",
        ),
        (
            "source-v6 10.0.0.1\n",
            5,
            "'source-v6' expects an IPv6 address",
        ),
        ("source-v6 0.0.0\n", 5, "expects an IP address, got '0.0.0'"),
        ("nat-source 0.0.0.0\n", 5, "cannot be the source"),
        (
            "nat-source 10.0.0.3\n nat-source 10.0.0.4\n",
            6,
            "one per family",
        ),
        ("next-hop-mac 02:00:00:00:01\n", 5, "is not a MAC address"),
        ("next-hop-mac 00:00:00:00:00:00\n", 5, "all-zero MAC"),
        ("next-hop-mac ff:ff:ff:ff:ff:ff\n", 5, "multicast/broadcast"),
        ("ring-size 65536\n", 5, "ring-size 65536 is not a prime"),
        ("ring-size 0\n", 5, "'ring-size' must be at least 1"),
        ("max-flows -1\n", 5, "expects an unsigned integer"),
        ("max-vips 99999999999\n", 5, "out of range"),
        (
            "max-servers\n",
            5,
            "'max-servers' expects a positive integer",
        ),
        ("blocklist\n", 5, "one or more CIDR"),
        ("blocklist 10.0.0.0/33\n", 5, "bad prefix length"),
        ("allowlist nope\n", 5, "bad address in prefix"),
        ("allowlist file@\n", 5, "'file@' needs a path"),
        ("allowlist-only yes\n", 5, "unexpected extra argument 'yes'"),
        ("new-flow-rate 100 per-source\n", 5, "is not a rate"),
        ("new-flow-rate 0/s per-source\n", 5, "at least 1/s"),
        ("new-flow-rate 10/s\n", 5, "must say its scope"),
        (
            "new-flow-rate 10/s burst 0 per-source\n",
            5,
            "burst must be at least 1",
        ),
        ("new-flow-rate 10/s per-vip\n", 5, "unexpected 'per-vip'"),
        ("pin relative/dir\n", 5, "absolute path"),
        ("pin\n pin\n", 6, "'pin' is already set"),
        ("vip\n", 5, "'vip' expects ADDR"),
        ("vip 10.0.0.1:80\n", 5, "needs 'proto tcp' or 'proto udp'"),
        ("vip 10.0.0.1:80 proto sctp\n", 5, "unknown protocol 'sctp'"),
        ("vip 10.0.0.1:0 proto tcp\n", 5, "leave the port out"),
        (
            "vip 10.0.0.1:http proto tcp\n",
            5,
            "expects an unsigned integer",
        ),
        (
            "vip fd00::1:80 proto tcp hash\n",
            5,
            "'hash' expects a value",
        ),
        (
            "vip 10.0.0.1:80 proto tcp hash random\n",
            5,
            "unknown hash 'random'",
        ),
        ("vip 0.0.0.0:80 proto tcp\n", 5, "cannot be a VIP"),
        ("vip [fd00::1]80 proto tcp\n", 5, "'vip' expects ADDR"),
        (
            "vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n vip 10.0.0.1:80 proto tcp\n",
            7,
            "already declared",
        ),
        ("server a 10.1.0.1\n", 5, "must follow a 'vip' line"),
        (
            "vip 10.0.0.1:80 proto tcp\n server a\n",
            6,
            "'server' expects NAME ADDR",
        ),
        (
            "vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1:80\n",
            6,
            "an xdp server is an address only",
        ),
        (
            "vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1 weight 257\n",
            6,
            "above 256",
        ),
        (
            "vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1 weight\n",
            6,
            "'weight' expects a number",
        ),
        (
            "vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1 check\n",
            6,
            "unknown argument 'check'",
        ),
        (
            "vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n server a 10.1.0.2\n",
            7,
            "already declared for vip 10.0.0.1:80 proto tcp",
        ),
        (
            "balance roundrobin\n",
            5,
            "'balance' is not allowed in a 'xdp' section",
        ),
        ("bogus\n", 5, "unknown keyword 'bogus'"),
    ];
    for (tail, line, want) in cases {
        let text = format!("{HEAD} {tail}");
        let e = err(&text);
        let prefix = format!("t.cfg:{line}: [xdp 'n'] ");
        assert!(
            e.starts_with(&prefix) && e.contains(want),
            "{tail:?}: got {e}"
        );
    }
}

/// Checks that need the whole section report the `xdp` line.
#[test]
fn section_checks_report_the_section_line() {
    let cases: &[(&str, &str)] = &[
        ("xdp n\n vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n", "has no 'interface'"),
        ("xdp n\n interface lo\n source-v4 10.0.0.2\n vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n", "'next-hop-mac' is required"),
        ("xdp n\n interface lo\n next-hop-mac 02:00:00:00:00:01\n source-v4 10.0.0.2\n vip 10.0.0.1:80 proto tcp\n", "has no 'server'"),
        // XdpConfig::validate, the loader's own check.
        ("xdp n\n interface lo\n next-hop-mac 02:00:00:00:00:01\n vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n", "server a is IPv4 but no source-v4 is set"),
        ("xdp n\n interface lo\n next-hop-mac 02:00:00:00:00:01\n method fullnat\n vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n", "needs a nat-source of its family"),
        ("xdp n\n interface lo\n next-hop-mac 02:00:00:00:00:01\n method fullnat\n nat-source 10.0.0.3\n vip 10.0.0.1:80 proto tcp\n server a fd00::1\n", "does not translate between IPv4 and IPv6"),
        ("xdp n\n interface lo\n max-vips 1\n source-v4 10.0.0.2\n next-hop-mac 02:00:00:00:00:01\n vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n vip 10.0.0.1:81 proto tcp\n server a 10.1.0.1\n", "2 VIPs exceed max-vips 1"),
        ("xdp n\n interface lo\n ring-size 2\n source-v4 10.0.0.2\n next-hop-mac 02:00:00:00:00:01\n vip 10.0.0.1:80 proto tcp\n server a 10.1.0.1\n server b 10.1.0.2\n", "more servers than ring entries"),
    ];
    for (text, want) in cases {
        let e = err(text);
        assert!(
            e.starts_with("t.cfg:1: [xdp 'n'] ") && e.contains(want),
            "{text:?}: got {e}"
        );
    }
}

#[test]
fn sections_are_checked_against_each_other() {
    assert!(err("xdp\n").contains("'xdp' expects a section name"));
    assert!(err("xdp a b\n").contains("unexpected 'b'"));
    assert!(err("xdp a/b\n").contains("invalid in xdp section name"));
    let e = err("xdp a\n interface lo\nxdp a\n interface lo2\n");
    assert!(
        e.starts_with("t.cfg:3: [xdp 'a'] ") && e.contains("already declared at t.cfg:1"),
        "{e}"
    );
    let e = err("xdp a\n interface lo\nxdp b\n interface lo\n");
    assert!(
        e.starts_with("t.cfg:3:")
            && e.contains("interface 'lo' is already used by xdp section 'a'"),
        "{e}"
    );
    let e = err(
        "xdp a\n interface lo\n pin /sys/fs/bpf/p\nxdp b\n interface lo2\n pin /sys/fs/bpf/p\n",
    );
    assert!(
        e.contains("pin directory '/sys/fs/bpf/p' is already used"),
        "{e}"
    );
    // xdp keywords stay in xdp sections, and `server` keeps its proxy meaning.
    let e = err("backend b\n vip 10.0.0.1:80 proto tcp\n");
    assert!(
        e.contains("'vip' is not allowed in a 'backend' section (allowed in: xdp)"),
        "{e}"
    );
    let c = parse("backend b\n server s 127.0.0.1:80\nxdp x\n interface lo\n");
    assert_eq!(c.backends[0].servers.len(), 1);
    assert_eq!(c.xdp.len(), 1);
}
