//! Start-up and ring-rebuild cost of an XDP balancer.
//!
//! `cargo run --release -p weir-kernel --example xdp_load_time` (root).
//!
//! Loads a balancer with 0, 1 and 4 VIPs of 16 servers each at the default
//! limits (64 VIPs, rings of 65,537 entries), 3 times each, and reports the
//! time of `XdpBalancer::load` (object load, map creation, verifier, map
//! filling); then times `set_server_state` (one Maglev build plus writing
//! the spare slot and flipping the live one) 20 times. Nothing is attached.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use weir_kernel::config::*;
use weir_kernel::{ServerState, XdpBalancer};

fn config(vips: u8) -> XdpConfig {
    XdpConfig {
        name: "loadtime".into(),
        source_v4: Some(Ipv4Addr::new(10, 0, 0, 2)),
        next_hop_mac: [2, 0, 0, 0, 0, 1],
        vips: (0..vips)
            .map(|v| VipConfig {
                addr: IpAddr::V4(Ipv4Addr::new(10, 0, v, 100)),
                port: 80,
                proto: Proto::Tcp,
                hash: VipHash::FiveTuple,
                servers: (0..16)
                    .map(|i| ServerConfig {
                        name: format!("s{i}"),
                        addr: IpAddr::V4(Ipv4Addr::new(10, 2, i, 2)),
                        weight: 1,
                        down: false,
                    })
                    .collect(),
            })
            .collect(),
        ..Default::default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for vips in [0u8, 1, 4] {
        let cfg = config(vips);
        let mut runs = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let lb = XdpBalancer::load(&cfg)?;
            runs.push(ms(t.elapsed()));
            drop(lb);
        }
        println!("load with {vips} VIP(s): {runs:.1?} ms");
    }
    let mut lb = XdpBalancer::load(&config(1))?;
    let vip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));
    let mut runs = Vec::new();
    for i in 0..20 {
        let state = if i % 2 == 0 {
            ServerState::Down
        } else {
            ServerState::Up { weight: 1 }
        };
        let t = Instant::now();
        lb.set_server_state(vip, 80, "s3", state)?;
        runs.push(t.elapsed());
    }
    runs.sort_unstable();
    println!(
        "set_server_state (ring of 65537): min {:.2} median {:.2} max {:.2} ms",
        ms(runs[0]),
        ms(runs[runs.len() / 2]),
        ms(runs[runs.len() - 1])
    );
    Ok(())
}
