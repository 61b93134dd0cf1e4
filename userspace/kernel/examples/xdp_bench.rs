//! Per-packet cost of the XDP program under BPF_PROG_TEST_RUN.
//!
//! `cargo run --release -p weir-kernel --example xdp_bench [ROUNDS]` (root;
//! 5 rounds by default).
//!
//! Three measurements, because the kernel's repeat loop does not reset the
//! frame between runs: after the first XDP_TX the head has moved and later
//! runs would see the outer header. So:
//! - paths that leave the frame as it is (pass, drop) use `repeat` and the
//!   kernel's per-run average;
//! - the forwarding path (VIP hit on an established flow) is timed in
//!   live-frames mode, where the data pointers are reset before every run
//!   but the bytes are not: a recycled page holds what the previous run
//!   left. After IPIP encapsulation the original frame's first 14 bytes are
//!   the outer IPv4 header's bytes 6..20, so the "ethertype" the next run
//!   reads is the last two bytes of the server address; with servers at
//!   x.y.8.0 that is 0x0800 and the inner IPv4 packet is intact behind it:
//!   every run forwards the same established flow (checked with the
//!   Forwarded counter). Live mode adds a per-frame overhead, measured on
//!   the blocklisted-drop path (live minus plain repeat) and subtracted for
//!   the "BPF work" figure; XDP_TX costs the harness more than a drop (a
//!   redirect to `lo`, which refuses it), so that figure is an upper bound;
////! - single runs (one syscall each) of a new and an established flow report
//!   the median of the kernel-measured durations (which include two clock
//!   reads, ~tens of ns, so they over-state the program's cost).
//!
//! The repeat and live figures are taken in interleaved rounds (the machine
//! is shared: every figure of a round sees the same neighbours) and printed
//! as min / median / max over rounds.

use std::net::{IpAddr, Ipv4Addr};
use weir_kernel::config::*;
use weir_kernel::XdpBalancer;

fn frame(dst: Ipv4Addr, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20 + 6];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xb]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xc]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[10, 1, 0, 2]);
    ip[16..20].copy_from_slice(&dst.octets());
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = flags;
    f
}

fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    // Server addresses end in 8.0 so that a forwarded live frame still
    // reads as the same packet on its next run (see the module note).
    let servers = (0..16)
        .map(|i| ServerConfig {
            name: format!("s{i}"),
            addr: IpAddr::V4(Ipv4Addr::new(10, 2 + i, 8, 0)),
            weight: 1,
            down: false,
        })
        .collect();
    let cfg = XdpConfig {
        name: "bench".into(),
        source_v4: Some(Ipv4Addr::new(10, 0, 0, 2)),
        next_hop_mac: [2, 0, 0, 0, 0, 1],
        vips: vec![VipConfig {
            addr: IpAddr::V4(vip),
            port: 80,
            proto: Proto::Tcp,
            hash: VipHash::FiveTuple,
            servers,
        }],
        limits: Limits {
            max_vips: 4,
            ..Limits::default()
        },
        ..Default::default()
    };
    let rounds: usize = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|_| format!("rounds: not a number: {a}"))?,
        None => 5,
    };
    let n = 200_000u32;
    let pass = frame(Ipv4Addr::new(10, 0, 0, 2), 1234, 22, 0x10);
    let mut cfg_bl = cfg.clone();
    cfg_bl.blocklist = vec!["10.1.0.0/16".parse()?];
    let lb_bl = XdpBalancer::load(&cfg_bl)?;
    let lb = XdpBalancer::load(&cfg)?;

    let runs = 20_000u16;
    let mut new_flow = Vec::new();
    for p in 0..runs {
        let (v, _, d) = lb.test_run(&frame(vip, 10_000 + p, 80, 0x02), 1)?;
        assert_eq!(v, 3);
        new_flow.push(d.as_nanos());
    }
    let mut established = Vec::new();
    for round in 0..5 {
        for p in 0..runs {
            let (v, _, d) = lb.test_run(&frame(vip, 10_000 + p, 80, 0x10), 1)?;
            assert_eq!(v, 3);
            if round > 0 {
                established.push(d.as_nanos());
            }
        }
    }
    let mut empty = Vec::new();
    for _ in 0..runs {
        let (_, _, d) = lb.test_run(&pass, 1)?;
        empty.push(d.as_nanos());
    }

    // Interleaved rounds: the machine is shared, so every figure of a round
    // sees the same neighbours; min / median / max over rounds.
    // Live frames on `lo`: every run sees the original frame; XDP_TX frames
    // are freed (lo has no XDP transmit), a cost included in the figure.
    let est = frame(vip, 10_000, 80, 0x10);
    let blocked = frame(vip, 1, 80, 0x02);
    let mut rows: [(&str, Vec<u128>); 6] = [
        ("non-VIP pass (repeat)", Vec::new()),
        ("blocklisted source drop (repeat)", Vec::new()),
        ("blocklisted source drop (live frames)", Vec::new()),
        ("VIP hit, established flow (live frames)", Vec::new()),
        (
            "VIP hit, established flow, BPF work (live minus live-frame overhead)",
            Vec::new(),
        ),
        (
            "non-VIP pass (live frames; includes building an skb for the stack)",
            Vec::new(),
        ),
    ];
    for _ in 0..rounds {
        let (v, _, d) = lb.test_run(&pass, n)?;
        assert_eq!(v, 2);
        let pass_ns = d.as_nanos();
        let (v, _, d) = lb_bl.test_run(&blocked, n)?;
        assert_eq!(v, 1);
        let drop_ns = d.as_nanos();
        let drop_live = lb_bl.time_live(&blocked, n, 1)?.as_nanos();
        let before = lb.counters()?.event(weir_kernel::Event::Forwarded);
        let est_live = lb.time_live(&est, n, 1)?.as_nanos();
        let fwd = lb.counters()?.event(weir_kernel::Event::Forwarded) - before;
        if fwd != u64::from(n) {
            return Err(format!("live established run forwarded {fwd} of {n} frames").into());
        }
        let pass_live = lb.time_live(&pass, n, 1)?.as_nanos();
        let overhead = drop_live.saturating_sub(drop_ns);
        for (row, v) in rows.iter_mut().zip([
            pass_ns,
            drop_ns,
            drop_live,
            est_live,
            est_live.saturating_sub(overhead),
            pass_live,
        ]) {
            row.1.push(v);
        }
    }
    println!("{rounds} interleaved rounds, repeat {n} each; ns/packet min / median / max:");
    for (name, mut v) in rows {
        v.sort_unstable();
        println!("{name}: {} / {} / {}", v[0], v[v.len() / 2], v[v.len() - 1]);
    }
    println!(
        "VIP hit, new flow (single runs, median of {runs}): {} ns",
        median(new_flow)
    );
    println!(
        "VIP hit, established flow (single runs, median of {}): {} ns",
        established.len(),
        median(established)
    );
    println!(
        "non-VIP pass (single runs, median of {runs}; timer overhead reference): {} ns",
        median(empty)
    );
    let c = lb.counters()?;
    println!(
        "flows in table: {}, forwarded: {}",
        lb.flow_count()?,
        c.event(weir_kernel::Event::Forwarded)
    );
    Ok(())
}
