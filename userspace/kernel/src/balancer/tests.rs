//! The mapped ring path against the kernel's own view of `RINGS`.

use super::*;
use crate::config::{Limits, Proto, ServerConfig, VipConfig};
use std::net::Ipv4Addr;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The live ring as the kernel reads it: one BPF_MAP_LOOKUP_ELEM per entry.
fn ring_by_syscalls(lb: &XdpBalancer, vip: IpAddr) -> Vec<u32> {
    let meta = lb.vips.iter().find(|v| v.addr == vip).unwrap().meta;
    let rings: Array<&MapData, u32> = Array::try_from(lb.ebpf.map(m::RINGS).unwrap()).unwrap();
    (0..meta.ring_size)
        .map(|pos| {
            rings
                .get(
                    &ring_index(meta.index, meta.ring_slot, meta.ring_size, pos),
                    0,
                )
                .unwrap()
        })
        .collect()
}

#[test]
fn rings_written_through_the_mapping_are_what_the_kernel_reads() {
    if !is_root() {
        eprintln!("skipped: needs root to load BPF");
        return;
    }
    let vip = |i: u8| IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100 + i));
    let cfg = XdpConfig {
        name: "ringmem".into(),
        source_v4: Some(Ipv4Addr::new(10, 0, 0, 2)),
        vips: (0..2)
            .map(|i| VipConfig {
                addr: vip(i),
                port: 80,
                proto: Proto::Tcp,
                hash: VipHash::FiveTuple,
                servers: (0..5)
                    .map(|k| ServerConfig {
                        name: format!("s{k}"),
                        addr: IpAddr::V4(Ipv4Addr::new(10, 2, i, k)),
                        weight: u32::from(k) + 1,
                        down: false,
                    })
                    .collect(),
            })
            .collect(),
        limits: Limits {
            max_vips: 3,
            max_servers: 16,
            ring_size: 4093,
            max_flows: 64,
            max_rate_sources: 16,
            max_src_prefixes: 16,
        },
        ..Default::default()
    };
    let mut lb = XdpBalancer::load(&cfg).unwrap();
    assert!(lb.rings.is_some(), "RINGS is created mmapable and mapped");
    for i in 0..2 {
        let mapped = lb.live_ring(vip(i), 80).unwrap();
        assert_eq!(mapped.len(), 4093);
        assert_eq!(mapped, ring_by_syscalls(&lb, vip(i)), "VIP {i}");
        assert!(mapped.iter().all(|&s| s != RING_EMPTY));
    }
    let other = lb.live_ring(vip(0), 80).unwrap();
    // Rebuilds alternate slots; each published ring is whole.
    let before = lb.live_ring(vip(1), 80).unwrap();
    let s2 = lb.server_index(vip(1), 80, "s2").unwrap();
    lb.set_server_state(vip(1), 80, "s2", ServerState::Down)
        .unwrap();
    let down = ring_by_syscalls(&lb, vip(1));
    assert_eq!(down, lb.live_ring(vip(1), 80).unwrap());
    assert!(!down.contains(&s2), "a DOWN server left the ring");
    assert_ne!(before, down);
    lb.set_server_state(vip(1), 80, "s2", ServerState::Up { weight: 3 })
        .unwrap();
    assert_eq!(
        ring_by_syscalls(&lb, vip(1)),
        before,
        "same weights, same ring"
    );
    // The other VIP's slots were not touched.
    assert_eq!(ring_by_syscalls(&lb, vip(0)), other);
}

#[test]
fn vip_table_plan_probes_like_the_program_and_overflows_to_the_hash() {
    let key = |port: u16| VipKey {
        addr: [u32::from_ne_bytes([10, 0, 0, 1]), 0, 0, 0],
        port: port.to_be(),
        proto: 6,
        family: FAMILY_V4,
    };
    let home = vip_slot(&key(1));
    let same: Vec<VipKey> = (1..=u16::MAX)
        .map(key)
        .filter(|k| vip_slot(k) == home)
        .take(VIP_TABLE_PROBES as usize + 1)
        .collect();
    assert_eq!(same.len(), VIP_TABLE_PROBES as usize + 1);
    let plan = plan_vip_table(&same);
    for (i, slot) in plan[..VIP_TABLE_PROBES as usize].iter().enumerate() {
        assert_eq!(*slot, Some((home + i as u32) & (VIP_TABLE_SLOTS - 1)));
    }
    assert_eq!(plan[VIP_TABLE_PROBES as usize], None);
    // Distinct homes take their own slots.
    let spread: Vec<VipKey> = (1..=64).map(key).collect();
    let plan = plan_vip_table(&spread);
    let mut slots: Vec<u32> = plan.iter().flatten().copied().collect();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(
        slots.len(),
        plan.iter().flatten().count(),
        "no slot used twice"
    );
}
