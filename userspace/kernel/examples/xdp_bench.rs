//! Per-packet cost of the XDP program under BPF_PROG_TEST_RUN.
//!
//! `cargo run --release -p weir-kernel --example xdp_bench` (root).
//!
//! Two measurements, because the kernel's repeat loop does not reset the
//! frame between runs: after the first XDP_TX the head has moved and later
//! runs would see the outer header. So:
//! - paths that leave the frame as it is (pass, drop) use `repeat` and the
//!   kernel's per-run average;
//! - the forwarding path (VIP hit on an established flow, and a new flow)
//!   runs once per syscall, many times, and reports the median of the
//!   kernel-measured durations (which include two clock reads, ~tens of ns,
//!   so it over-states the program's cost).

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
    let servers = (0..16)
        .map(|i| ServerConfig {
            name: format!("s{i}"),
            addr: IpAddr::V4(Ipv4Addr::new(10, 2, i, 2)),
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
    let lb = XdpBalancer::load(&cfg)?;
    let n = 200_000u32;

    let pass = frame(Ipv4Addr::new(10, 0, 0, 2), 1234, 22, 0x10);
    let (v, _, d) = lb.test_run(&pass, n)?;
    println!(
        "non-VIP pass (repeat {n}): {} ns/packet (verdict {v})",
        d.as_nanos()
    );

    let mut cfg_rl = cfg.clone();
    cfg_rl.blocklist = vec!["10.1.0.0/16".parse()?];
    drop(lb);
    let lb_bl = XdpBalancer::load(&cfg_rl)?;
    let (v, _, d) = lb_bl.test_run(&frame(vip, 1, 80, 0x02), n)?;
    println!(
        "blocklisted source drop (repeat {n}): {} ns/packet (verdict {v})",
        d.as_nanos()
    );
    let live = lb_bl.time_live(&frame(vip, 1, 80, 0x02), n, 1)?;
    println!(
        "blocklisted source drop (live frames, repeat {n}): {} ns/packet -> live-frame overhead ≈ {} ns",
        live.as_nanos(),
        live.as_nanos().saturating_sub(d.as_nanos())
    );
    drop(lb_bl);

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
    // Live frames on `lo`: every run sees the original frame; XDP_TX frames
    // are freed (lo has no XDP transmit), a cost included in the figure.
    let est = frame(vip, 10_000, 80, 0x10);
    for _ in 0..3 {
        let d = lb.time_live(&est, n, 1)?;
        println!(
            "VIP hit, established flow (live frames, repeat {n}): {} ns/packet",
            d.as_nanos()
        );
    }
    let d = lb.time_live(&pass, n, 1)?;
    println!("non-VIP pass (live frames, repeat {n}; includes building an skb for the stack): {} ns/packet", d.as_nanos());
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
