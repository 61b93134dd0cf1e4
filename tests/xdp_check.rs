//! `weir -c` on `xdp` sections: a valid one passes, each bad keyword value
//! fails with `file:line`, the section and the reason, and the checks that
//! need the whole section (the loader's own `XdpConfig::validate`) name the
//! section's line. Nothing here loads BPF: no root needed.

mod common;

use common::check_config;

const GOOD: &str = "\
global
    maxconn 100

xdp edge
    interface eth0 mode auto fallback generic
    method ipip
    source-v4 192.0.2.10
    next-hop-mac 02:00:00:00:00:01
    blocklist 10.0.0.0/8
    new-flow-rate 100/s burst 20 per-source
    vip 198.51.100.1:80 proto tcp
        server a 10.9.0.1 weight 2
        server b 10.9.0.2
";

#[test]
fn check_accepts_a_valid_xdp_section() {
    let (f, _, _dir) = check_config(GOOD);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
    assert!(
        f.stdout.contains("Configuration file is valid"),
        "{}",
        f.stdout
    );
}

#[test]
fn check_rejects_bad_xdp_keywords_with_their_line() {
    // (replace this line of GOOD, by this one; expected line, message)
    let cases: &[(&str, &str, u32, &str)] = &[
        (
            "    method ipip",
            "    method dsr",
            6,
            "unknown forwarding method 'dsr'",
        ),
        (
            "    interface eth0 mode auto fallback generic",
            "    interface eth0 mode turbo",
            5,
            "unknown XDP mode 'turbo'",
        ),
        (
            "    next-hop-mac 02:00:00:00:00:01",
            "    next-hop-mac 02:00:00:00:01",
            8,
            "is not a MAC address",
        ),
        (
            "    blocklist 10.0.0.0/8",
            "    blocklist 10.0.0.0/40",
            9,
            "bad prefix length",
        ),
        (
            "    new-flow-rate 100/s burst 20 per-source",
            "    new-flow-rate fast",
            10,
            "is not a rate",
        ),
        (
            "    vip 198.51.100.1:80 proto tcp",
            "    vip 198.51.100.1:80 proto icmp",
            11,
            "unknown protocol 'icmp'",
        ),
        (
            "        server a 10.9.0.1 weight 2",
            "        server a 10.9.0.1 weight 1000",
            12,
            "above 256",
        ),
        (
            "        server b 10.9.0.2",
            "        server a 10.9.0.2",
            13,
            "already declared",
        ),
        ("    method ipip", "    ring-size 65536", 6, "not a prime"),
        // Whole-section checks report the `xdp` line.
        ("    source-v4 192.0.2.10", "", 4, "no source-v4 is set"),
        (
            "    interface eth0 mode auto fallback generic",
            "",
            4,
            "has no 'interface'",
        ),
        (
            "    next-hop-mac 02:00:00:00:00:01",
            "",
            4,
            "'next-hop-mac' is required",
        ),
    ];
    for (from, to, line, want) in cases {
        assert!(GOOD.contains(from), "{from}");
        let cfg = GOOD.replacen(from, to, 1);
        let (f, path, _dir) = check_config(&cfg);
        assert_eq!(f.code(), Some(1), "{to:?} accepted: {}", f.stdout);
        let prefix = format!("{}:{line}: [xdp 'edge'] ", path.display());
        assert!(
            f.stderr.contains(&prefix) && f.stderr.contains(want),
            "{to:?}: expected {prefix}…{want}, got: {}",
            f.stderr
        );
    }
}

#[test]
fn check_reads_prefix_files() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("block.txt");
    std::fs::write(&list, "# sources\n203.0.113.0/24\n203.0.113.300\n").unwrap();
    let cfg = GOOD.replace(
        "    blocklist 10.0.0.0/8",
        &format!("    blocklist file@{}", list.display()),
    );
    let (f, path, _d) = check_config(&cfg);
    assert_eq!(f.code(), Some(1));
    assert!(
        f.stderr.contains(&format!("{}:9:", path.display()))
            && f.stderr.contains(&format!("{}:3:", list.display())),
        "{}",
        f.stderr
    );
}
