use super::*;
use core::net::{IpAddr, Ipv4Addr};
use proptest::prelude::*;

fn cfg(algorithm: Algorithm) -> BalancerConfig {
    BalancerConfig {
        algorithm,
        seed: 42,
        ..BalancerConfig::default()
    }
}

fn hashed(algorithm: Algorithm, method: HashMethod) -> BalancerConfig {
    BalancerConfig {
        algorithm,
        hash_type: HashType {
            method,
            ..HashType::default()
        },
        seed: 7,
        ..BalancerConfig::default()
    }
}

fn weights(ws: &[u32]) -> Vec<ServerSpec> {
    ws.iter().map(|&w| ServerSpec::weighted(w)).collect()
}

fn pick(b: &mut Balancer) -> u32 {
    b.pick(PickCtx::default()).expect("a server").0
}

fn counts(b: &mut Balancer, n: usize, key: impl Fn(usize) -> HashKey<'static>) -> Vec<usize> {
    let mut c = vec![0; b.server_count()];
    for i in 0..n {
        let id = b
            .pick(PickCtx {
                key: key(i),
                avoid: None,
            })
            .unwrap();
        c[id.0 as usize] += 1;
    }
    c
}

/// Each count within `tol` (relative) of its weight's share of `n`.
fn assert_shares(c: &[usize], ws: &[u32], tol: f64) {
    let n: usize = c.iter().sum();
    let total: u32 = ws.iter().sum();
    for (i, (&got, &w)) in c.iter().zip(ws).enumerate() {
        let want = n as f64 * f64::from(w) / f64::from(total);
        assert!(
            (got as f64 - want).abs() <= want * tol + 1.0,
            "server {i}: {got} picks, want {want:.0} (±{:.0}%) — {c:?}",
            tol * 100.0
        );
    }
}

fn longest_run(seq: &[u32]) -> usize {
    seq.chunk_by(|a, b| a == b)
        .map(<[u32]>::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn roundrobin_follows_weights_within_one_percent() {
    let ws = [1, 2, 3, 4, 10];
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &weights(&ws)).unwrap();
    let c = counts(&mut b, 10_000, |_| HashKey::None);
    assert_shares(&c, &ws, 0.01);
}

#[test]
fn roundrobin_interleaves_smoothly() {
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &weights(&[5, 1, 1])).unwrap();
    let seq: Vec<u32> = (0..700).map(|_| pick(&mut b)).collect();
    // Every cycle of 7 picks gives exactly 5, 1, 1, and the light servers
    // are spread: no run of the heavy one longer than 4 across cycles (what
    // nginx's smooth round robin gives: 0 0 1 0 2 0 0 | 0 0 …).
    for cycle in seq.chunks(7) {
        let c = |s| cycle.iter().filter(|&&x| x == s).count();
        assert_eq!((c(0), c(1), c(2)), (5, 1, 1), "{cycle:?}");
    }
    assert!(longest_run(&seq) <= 4, "{:?}", &seq[..14]);
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &weights(&[100, 1])).unwrap();
    let seq: Vec<u32> = (0..202).map(|_| pick(&mut b)).collect();
    // The light server is placed mid-cycle, not at an end: no 200-long burst.
    assert!(longest_run(&seq) <= 101, "{}", longest_run(&seq));
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &weights(&[3, 3, 3])).unwrap();
    let seq: Vec<u32> = (0..90).map(|_| pick(&mut b)).collect();
    assert_eq!(longest_run(&seq), 1);
}

#[test]
fn roundrobin_weight_change_at_run_time() {
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &weights(&[1, 1])).unwrap();
    for _ in 0..1001 {
        pick(&mut b);
    }
    b.set_weight(ServerId(1), 3).unwrap();
    let seq: Vec<u32> = (0..8).map(|_| pick(&mut b)).collect();
    assert!(longest_run(&seq) <= 3, "burst after weight change: {seq:?}");
    let c = counts(&mut b, 10_000, |_| HashKey::None);
    assert_shares(&c, &[1, 3], 0.01);
    // Drain through weight 0.
    b.set_weight(ServerId(1), 0).unwrap();
    assert!(!b.is_in_use(ServerId(1)));
    assert!((0..100).all(|_| pick(&mut b) == 0));
    assert_eq!(
        b.set_weight(ServerId(1), 257),
        Err(BalanceError::WeightOutOfRange(257))
    );
}

#[test]
fn static_rr_follows_weights_and_refuses_weight_changes() {
    let ws = [1, 2, 7];
    let mut b = Balancer::new(cfg(Algorithm::StaticRr), &weights(&ws)).unwrap();
    let c = counts(&mut b, 10_000, |_| HashKey::None);
    assert_shares(&c, &ws, 0.01);
    let seq: Vec<u32> = (0..10).map(|_| pick(&mut b)).collect();
    assert!(longest_run(&seq) <= 3, "{seq:?}");
    assert_eq!(
        b.set_weight(ServerId(0), 5),
        Err(BalanceError::StaticWeight { initial: 1 })
    );
    b.set_weight(ServerId(2), 0).unwrap();
    let c = counts(&mut b, 3_000, |_| HashKey::None);
    assert_eq!(c[2], 0);
    assert_shares(&c[..2], &ws[..2], 0.01);
    b.set_weight(ServerId(2), 7).unwrap();
    assert!(b.is_in_use(ServerId(2)));
}

#[test]
fn leastconn_prefers_fewest_and_rotates_among_equals() {
    let mut b = Balancer::new(cfg(Algorithm::LeastConn), &weights(&[1, 1, 1])).unwrap();
    // Equals take turns (short connections: open and close between picks).
    let seq: Vec<u32> = (0..6)
        .map(|_| {
            let id = b.pick(PickCtx::default()).unwrap();
            b.on_conn_open(id);
            b.on_conn_close(id);
            id.0
        })
        .collect();
    assert_eq!(seq, [0, 1, 2, 0, 1, 2]);
    b.on_conn_open(ServerId(0));
    b.on_conn_open(ServerId(0));
    b.on_conn_open(ServerId(2));
    assert_eq!(pick(&mut b), 1);
    b.on_conn_open(ServerId(1));
    assert_eq!(pick(&mut b), 2, "1 and 2 tie at one connection; 0 has two");
    b.on_conn_close(ServerId(0));
    b.on_conn_close(ServerId(0));
    assert_eq!(pick(&mut b), 0);
}

#[test]
fn leastconn_with_many_servers_uses_the_heap() {
    let n = LEASTCONN_SCAN_MAX + 4;
    let mut b = Balancer::new(cfg(Algorithm::LeastConn), &weights(&vec![1; n])).unwrap();
    assert_eq!(b.heap_kind, heap::HeapKind::Lc);
    // Equals take turns with short connections.
    let seq: Vec<u32> = (0..2 * n)
        .map(|_| {
            let id = b.pick(PickCtx::default()).unwrap();
            b.on_conn_open(id);
            b.on_conn_close(id);
            id.0
        })
        .collect();
    let expect: Vec<u32> = (0..2 * n as u32).map(|i| i % n as u32).collect();
    assert_eq!(seq, expect);
    // Long connections fill evenly; a close makes that server the choice.
    for _ in 0..3 * n {
        let id = b.pick(PickCtx::default()).unwrap();
        b.on_conn_open(id);
    }
    assert!((0..n as u32).all(|i| b.conns(ServerId(i)) == 3));
    b.on_conn_close(ServerId(7));
    assert_eq!(pick(&mut b), 7);
    // Dropping to a few servers switches to the scan.
    for i in 0..n - 2 {
        b.set_state(ServerId(i as u32), ServerState::Maint).unwrap();
    }
    assert_eq!(b.heap_kind, heap::HeapKind::None);
    assert!(b.heap.is_empty());
}

#[test]
fn leastconn_is_weighted() {
    let ws = [1, 3];
    let mut b = Balancer::new(cfg(Algorithm::LeastConn), &weights(&ws)).unwrap();
    // Long-lived connections opened one after the other spread by weight.
    let mut c = [0usize; 2];
    for _ in 0..4_000 {
        let id = b.pick(PickCtx::default()).unwrap();
        b.on_conn_open(id);
        c[id.0 as usize] += 1;
    }
    assert_shares(&c, &ws, 0.01);
    assert_eq!(b.conns(ServerId(1)), 3_000);
}

#[test]
fn first_fills_servers_in_order() {
    let specs: Vec<ServerSpec> = (0..3)
        .map(|_| ServerSpec {
            maxconn: 2,
            ..ServerSpec::default()
        })
        .collect();
    let mut b = Balancer::new(cfg(Algorithm::First), &specs).unwrap();
    let mut got = Vec::new();
    for _ in 0..6 {
        let id = b.pick(PickCtx::default()).unwrap();
        b.on_conn_open(id);
        got.push(id.0);
    }
    assert_eq!(got, [0, 0, 1, 1, 2, 2]);
    assert_eq!(b.pick(PickCtx::default()), Err(PickError::Saturated));
    b.on_conn_close(ServerId(1));
    assert_eq!(pick(&mut b), 1);
    b.on_conn_close(ServerId(0));
    assert_eq!(pick(&mut b), 0);
}

#[test]
fn backups_take_over_only_when_no_active_is_usable() {
    let mut specs = weights(&[1, 1, 1, 1]);
    specs[2].backup = true;
    specs[3].backup = true;
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &specs).unwrap();
    let c = counts(&mut b, 100, |_| HashKey::None);
    assert_eq!(c, [50, 50, 0, 0]);
    b.set_state(ServerId(0), ServerState::Down).unwrap();
    assert_eq!(counts(&mut b, 100, |_| HashKey::None), [0, 100, 0, 0]);
    b.set_state(ServerId(1), ServerState::Maint).unwrap();
    // Without allbackups only the first usable backup.
    assert_eq!(counts(&mut b, 100, |_| HashKey::None), [0, 0, 100, 0]);
    b.set_state(ServerId(2), ServerState::Down).unwrap();
    assert_eq!(counts(&mut b, 100, |_| HashKey::None), [0, 0, 0, 100]);
    b.set_state(ServerId(3), ServerState::Down).unwrap();
    assert_eq!(b.pick(PickCtx::default()), Err(PickError::NoServer));
    b.set_state(ServerId(1), ServerState::Up).unwrap();
    assert_eq!(counts(&mut b, 10, |_| HashKey::None), [0, 10, 0, 0]);
}

#[test]
fn allbackups_share_the_load() {
    let mut specs = weights(&[1, 1, 3]);
    specs[1].backup = true;
    specs[2].backup = true;
    let mut b = Balancer::new(
        BalancerConfig {
            allbackups: true,
            ..cfg(Algorithm::RoundRobin)
        },
        &specs,
    )
    .unwrap();
    assert_eq!(counts(&mut b, 100, |_| HashKey::None), [100, 0, 0]);
    b.set_state(ServerId(0), ServerState::Down).unwrap();
    assert_eq!(counts(&mut b, 100, |_| HashKey::None), [0, 25, 75]);
}

#[test]
fn full_actives_do_not_spill_to_backups() {
    let mut specs = weights(&[1, 1]);
    specs[0].maxconn = 1;
    specs[1].backup = true;
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &specs).unwrap();
    let id = ServerId(pick(&mut b));
    b.on_conn_open(id);
    assert_eq!(b.pick(PickCtx::default()), Err(PickError::Saturated));
}

#[test]
fn drain_and_weight_zero_take_no_new_traffic() {
    for algo in [
        Algorithm::RoundRobin,
        Algorithm::StaticRr,
        Algorithm::LeastConn,
        Algorithm::First,
        Algorithm::Random { draws: 2 },
        Algorithm::Source,
        Algorithm::Hash,
    ] {
        for method in [HashMethod::MapBased, HashMethod::Consistent] {
            let mut specs = weights(&[1, 1, 1]);
            specs[1].state = ServerState::Drain;
            specs[2].weight = 0;
            let mut b = Balancer::new(hashed(algo, method), &specs).unwrap();
            for i in 0..200u32 {
                let ip = IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(2_654_435_761)));
                let id = b
                    .pick(PickCtx {
                        key: HashKey::Addr(ip),
                        avoid: None,
                    })
                    .unwrap();
                assert_eq!(id, ServerId(0), "{algo:?} {method:?}");
            }
        }
    }
}

#[test]
fn avoid_is_honoured_unless_it_is_the_only_choice() {
    for algo in [
        Algorithm::RoundRobin,
        Algorithm::StaticRr,
        Algorithm::LeastConn,
        Algorithm::First,
        Algorithm::Random { draws: 2 },
        Algorithm::Hash,
    ] {
        for method in [HashMethod::MapBased, HashMethod::Consistent] {
            let mut b = Balancer::new(hashed(algo, method), &weights(&[1, 1])).unwrap();
            for i in 0..100u32 {
                let ctx = PickCtx {
                    key: HashKey::Hash(i.wrapping_mul(0x9e37_79b9)),
                    avoid: Some(ServerId(0)),
                };
                assert_eq!(b.pick(ctx), Ok(ServerId(1)), "{algo:?} {method:?}");
            }
            b.set_state(ServerId(1), ServerState::Down).unwrap();
            let ctx = PickCtx {
                key: HashKey::Hash(1),
                avoid: Some(ServerId(0)),
            };
            assert_eq!(b.pick(ctx), Ok(ServerId(0)), "{algo:?} {method:?}");
        }
    }
}

#[test]
fn source_is_sticky_and_weighted() {
    // Consistent hashing wants avalanche on short, similar keys such as
    // addresses (sdbm alone clusters them on one arc of the ring, which is
    // why HAProxy's documentation recommends it), and larger weights so the
    // ring has enough points (16 per unit of weight) for a tight share.
    for (method, ws) in [
        (HashMethod::MapBased, [1, 2, 5]),
        (HashMethod::Consistent, [10, 20, 50]),
    ] {
        let config = BalancerConfig {
            hash_type: HashType {
                method,
                avalanche: method == HashMethod::Consistent,
                ..HashType::default()
            },
            ..hashed(Algorithm::Source, method)
        };
        let mut b = Balancer::new(config, &weights(&ws)).unwrap();
        let addr = |i: usize| {
            HashKey::Addr(IpAddr::V4(Ipv4Addr::new(
                10,
                (i >> 16) as u8,
                (i >> 8) as u8,
                i as u8,
            )))
        };
        let first: Vec<u32> = (0..1000)
            .map(|i| {
                b.pick(PickCtx {
                    key: addr(i),
                    avoid: None,
                })
                .unwrap()
                .0
            })
            .collect();
        let again: Vec<u32> = (0..1000)
            .map(|i| {
                b.pick(PickCtx {
                    key: addr(i),
                    avoid: None,
                })
                .unwrap()
                .0
            })
            .collect();
        assert_eq!(first, again, "{method:?}: source hashing not sticky");
        let c = counts(&mut b, 20_000, addr);
        assert_shares(&c, &ws, 0.15);
    }
}

#[test]
fn map_based_is_hash_modulo_total_weight() {
    let mut b = Balancer::new(
        hashed(Algorithm::Hash, HashMethod::MapBased),
        &weights(&[1, 1]),
    )
    .unwrap();
    // Two equal servers: even hashes on one, odd on the other.
    let even = b
        .pick(PickCtx {
            key: HashKey::Hash(0),
            avoid: None,
        })
        .unwrap();
    for h in 0..100u32 {
        let got = b
            .pick(PickCtx {
                key: HashKey::Hash(h),
                avoid: None,
            })
            .unwrap();
        assert_eq!(got == even, h % 2 == 0);
    }
    // Bytes go through the configured function.
    let h = hash::sdbm(b"/index.html");
    assert_eq!(b.hash_of(HashKey::Bytes(b"/index.html")), Some(h));
    assert_eq!(
        b.pick(PickCtx {
            key: HashKey::Bytes(b"/index.html"),
            avoid: None
        }),
        b.pick(PickCtx {
            key: HashKey::Hash(h),
            avoid: None
        })
    );
}

#[test]
fn hash_functions_and_avalanche_are_selected_by_hash_type() {
    let mk = |function, avalanche| {
        Balancer::new(
            BalancerConfig {
                algorithm: Algorithm::Hash,
                hash_type: HashType {
                    method: HashMethod::Consistent,
                    function,
                    avalanche,
                },
                ..BalancerConfig::default()
            },
            &weights(&[1]),
        )
        .unwrap()
    };
    let k = HashKey::Bytes(b"abc");
    assert_eq!(
        mk(HashFunction::Djb2, false).hash_of(k),
        Some(hash::djb2(b"abc"))
    );
    assert_eq!(
        mk(HashFunction::Wt6, false).hash_of(k),
        Some(hash::wt6(b"abc"))
    );
    assert_eq!(
        mk(HashFunction::Crc32, true).hash_of(k),
        Some(hash::avalanche(hash::crc32(b"abc")))
    );
    assert_eq!(
        mk(HashFunction::None, false).hash_of(HashKey::Bytes(b"1234x")),
        Some(1234)
    );
    assert_eq!(
        mk(HashFunction::Sdbm, true).hash_of(HashKey::Hash(5)),
        Some(hash::avalanche(5))
    );
    assert_eq!(
        mk(HashFunction::Sdbm, false).hash_of(HashKey::Addr(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)))),
        Some(0x0102_0304)
    );
    assert_eq!(
        mk(HashFunction::Wt6, true).hash_of(HashKey::Addr("::1:2:3:4".parse().unwrap())),
        Some(hash::avalanche(0x1_0002 ^ 0x3_0004))
    );
    assert_eq!(mk(HashFunction::Sdbm, false).hash_of(HashKey::None), None);
}

#[test]
fn hash_without_key_falls_back_to_round_robin() {
    for method in [HashMethod::MapBased, HashMethod::Consistent] {
        let mut b = Balancer::new(hashed(Algorithm::Hash, method), &weights(&[1, 1])).unwrap();
        assert_eq!(counts(&mut b, 100, |_| HashKey::None), [50, 50]);
    }
}

#[test]
fn hash_choice_at_maxconn_queues_on_that_server() {
    let mut specs = weights(&[1, 1]);
    specs[0].maxconn = 1;
    specs[1].maxconn = 1;
    let mut b = Balancer::new(hashed(Algorithm::Hash, HashMethod::Consistent), &specs).unwrap();
    let key = PickCtx {
        key: HashKey::Bytes(b"k"),
        avoid: None,
    };
    let id = b.pick(key).unwrap();
    b.on_conn_open(id);
    assert_eq!(b.pick(key), Err(PickError::ServerFull(id)));
}

/// Consistent hashing: removing one of N servers moves exactly the keys it
/// owned (≈1/N) and no other; adding it back restores the original mapping.
#[test]
fn consistent_removal_moves_only_about_one_nth() {
    const N: u32 = 10;
    const KEYS: u32 = 10_000;
    // `hash-type consistent` as written without a function: sdbm with
    // avalanche (sdbm alone clusters similar keys on a few arcs).
    let config = BalancerConfig {
        hash_type: HashType::unspecified_function(HashMethod::Consistent),
        ..hashed(Algorithm::Hash, HashMethod::Consistent)
    };
    let mut b = Balancer::new(config, &weights(&[1; N as usize])).unwrap();
    let key = |i: u32| format!("/object/{i}");
    let map = |b: &mut Balancer| -> Vec<u32> {
        (0..KEYS)
            .map(|i| {
                b.pick(PickCtx {
                    key: HashKey::Bytes(key(i).as_bytes()),
                    avoid: None,
                })
                .unwrap()
                .0
            })
            .collect()
    };
    let before = map(&mut b);
    let removed = ServerId(3);
    b.set_state(removed, ServerState::Down).unwrap();
    let after = map(&mut b);
    let mut moved = 0;
    for (x, y) in before.iter().zip(&after) {
        if x != y {
            moved += 1;
            assert_eq!(*x, removed.0, "a key of a remaining server moved");
        }
        assert_ne!(*y, removed.0);
    }
    let frac = f64::from(moved) / f64::from(KEYS);
    assert!(
        (0.5 / f64::from(N)..=1.6 / f64::from(N)).contains(&frac),
        "moved {frac}"
    );
    b.set_state(removed, ServerState::Up).unwrap();
    assert_eq!(map(&mut b), before, "re-adding a server restores its keys");
}

#[test]
fn consistent_weights_shape_the_share() {
    let ws = [10, 30, 60];
    let mut b = Balancer::new(
        BalancerConfig {
            algorithm: Algorithm::Hash,
            hash_type: HashType {
                method: HashMethod::Consistent,
                function: HashFunction::Sdbm,
                avalanche: true,
            },
            ..BalancerConfig::default()
        },
        &weights(&ws),
    )
    .unwrap();
    assert_eq!(b.ring.len(), 100 * chash::POINTS_PER_WEIGHT as usize);
    let c = counts(&mut b, 20_000, |i| HashKey::Hash(i as u32));
    assert_shares(&c, &ws, 0.15);
    // Lowering a weight moves only that server's keys.
    let before: Vec<u32> = (0..5_000u32)
        .map(|i| {
            b.pick(PickCtx {
                key: HashKey::Hash(i),
                avoid: None,
            })
            .unwrap()
            .0
        })
        .collect();
    b.set_weight(ServerId(2), 20).unwrap();
    for i in 0..5_000u32 {
        let now = b
            .pick(PickCtx {
                key: HashKey::Hash(i),
                avoid: None,
            })
            .unwrap()
            .0;
        if now != before[i as usize] {
            assert_eq!(before[i as usize], 2);
        }
    }
}

#[test]
fn ring_identity_follows_hash_key_not_position() {
    let a = [
        ServerSpec {
            hash_key: Some(100),
            ..ServerSpec::default()
        },
        ServerSpec {
            hash_key: Some(200),
            ..ServerSpec::default()
        },
    ];
    let b_specs = [a[1], a[0]];
    let mut x = Balancer::new(hashed(Algorithm::Hash, HashMethod::Consistent), &a).unwrap();
    let mut y = Balancer::new(hashed(Algorithm::Hash, HashMethod::Consistent), &b_specs).unwrap();
    for h in 0..1000u32 {
        let k = PickCtx {
            key: HashKey::Hash(h.wrapping_mul(0x9e37_79b9)),
            avoid: None,
        };
        assert_eq!(x.pick(k).unwrap().0, 1 - y.pick(k).unwrap().0);
    }
}

#[test]
fn random_follows_weights() {
    let ws = [1, 4];
    let mut b = Balancer::new(cfg(Algorithm::Random { draws: 1 }), &weights(&ws)).unwrap();
    let c = counts(&mut b, 20_000, |_| HashKey::None);
    assert_shares(&c, &ws, 0.05);
}

#[test]
fn random_two_choices_balances_load() {
    let mut b = Balancer::new(cfg(Algorithm::Random { draws: 2 }), &weights(&[1; 8])).unwrap();
    for _ in 0..8_000 {
        let id = b.pick(PickCtx::default()).unwrap();
        b.on_conn_open(id);
    }
    let loads: Vec<u32> = (0..8).map(|i| b.conns(ServerId(i))).collect();
    let spread = loads.iter().max().unwrap() - loads.iter().min().unwrap();
    // One draw would leave a spread of ~±3σ ≈ 90 here; two draws keep it tiny.
    assert!(spread <= 8, "{loads:?}");
}

#[test]
fn random_is_deterministic_per_seed() {
    let run = |seed| {
        let mut b = Balancer::new(
            BalancerConfig {
                seed,
                ..cfg(Algorithm::Random { draws: 1 })
            },
            &weights(&[1, 1, 1]),
        )
        .unwrap();
        (0..50).map(|_| pick(&mut b)).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn construction_errors() {
    assert_eq!(
        Balancer::new(cfg(Algorithm::Random { draws: 0 }), &weights(&[1])).unwrap_err(),
        BalanceError::ZeroDraws
    );
    assert_eq!(
        Balancer::new(cfg(Algorithm::RoundRobin), &weights(&[257])).unwrap_err(),
        BalanceError::WeightOutOfRange(257)
    );
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &[]).unwrap();
    assert_eq!(b.pick(PickCtx::default()), Err(PickError::NoServer));
    assert_eq!(
        b.set_state(ServerId(0), ServerState::Up),
        Err(BalanceError::UnknownServer(ServerId(0)))
    );
}

/// The heap holds exactly the servers in use with a free slot, in heap
/// order, with correct back-pointers.
fn check_heap(b: &Balancer) {
    if b.heap_kind == heap::HeapKind::None {
        assert!(b.heap.is_empty());
        return;
    }
    for (pos, &id) in b.heap.iter().enumerate() {
        assert_eq!(b.servers[id as usize].heap_pos as usize, pos);
        if pos > 0 {
            assert!(!b.heap_before(id, b.heap[(pos - 1) / 2]), "heap order");
        }
    }
    for (i, s) in b.servers.iter().enumerate() {
        let want = s.in_lb && s.has_slot();
        assert_eq!(s.heap_pos != NIL, want, "membership of server {i}");
    }
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::RoundRobin),
        Just(Algorithm::StaticRr),
        Just(Algorithm::LeastConn),
        Just(Algorithm::First),
        Just(Algorithm::Source),
        Just(Algorithm::Hash),
        (1u32..4).prop_map(|draws| Algorithm::Random { draws }),
    ]
}

fn spec() -> impl Strategy<Value = ServerSpec> {
    (
        0u32..5,
        any::<bool>(),
        0u32..3,
        prop_oneof![
            4 => Just(ServerState::Up),
            1 => Just(ServerState::Down),
            1 => Just(ServerState::Maint),
            1 => Just(ServerState::Drain),
        ],
    )
        .prop_map(|(weight, backup, maxconn, state)| ServerSpec {
            weight,
            backup,
            maxconn,
            state,
            hash_key: None,
        })
}

#[derive(Debug, Clone)]
enum Op {
    Pick(u32, Option<u32>),
    Close(u32),
    State(u32, ServerState),
    Weight(u32, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u32>(), proptest::option::of(0u32..14)).prop_map(|(h, a)| Op::Pick(h, a)),
        2 => (0u32..14).prop_map(Op::Close),
        1 => (0u32..14, prop_oneof![Just(ServerState::Up), Just(ServerState::Down)]).prop_map(|(i, s)| Op::State(i, s)),
        1 => (0u32..14, 0u32..5).prop_map(|(i, w)| Op::Weight(i, w)),
    ]
}

proptest! {
    /// Whatever happens, a pick returns a server that is usable, in the
    /// right tier (actives before backups), with a free slot, not the
    /// avoided one unless it is the only one with a slot; and each error is
    /// the one the state calls for.
    #[test]
    fn picks_respect_usability_tiers_and_limits(
        algo in algorithm(),
        consistent in any::<bool>(),
        allbackups in any::<bool>(),
        specs in proptest::collection::vec(spec(), 0..14),
        ops in proptest::collection::vec(op(), 0..150),
    ) {
        let method = if consistent { HashMethod::Consistent } else { HashMethod::MapBased };
        let config = BalancerConfig { allbackups, ..hashed(algo, method) };
        let mut b = Balancer::new(config, &specs).unwrap();
        let n = specs.len() as u32;
        let mut conns = vec![0u32; specs.len()];
        for op in ops {
            match op {
                Op::Pick(h, avoid) => {
                    let avoid = avoid.filter(|&a| a < n).map(ServerId);
                    let got = b.pick(PickCtx { key: HashKey::Hash(h), avoid });
                    // The model: which servers take traffic now?
                    let usable = |i: usize| b.servers[i].usable();
                    let actives: Vec<usize> = (0..specs.len()).filter(|&i| !b.servers[i].backup && usable(i)).collect();
                    let tier: Vec<usize> = if !actives.is_empty() {
                        actives
                    } else {
                        let backups = (0..specs.len()).filter(|&i| b.servers[i].backup && usable(i));
                        if allbackups { backups.collect() } else { backups.take(1).collect() }
                    };
                    let free = |i: usize| b.servers[i].maxconn == 0 || conns[i] < b.servers[i].maxconn;
                    match got {
                        Ok(id) => {
                            let i = id.0 as usize;
                            prop_assert!(tier.contains(&i), "{id} not in tier {tier:?}");
                            prop_assert!(free(i));
                            if Some(id) == avoid {
                                prop_assert!(tier.iter().all(|&j| j == i || !free(j)) || matches!(algo, Algorithm::Source | Algorithm::Hash));
                            }
                            if algo == Algorithm::LeastConn && Some(id) != avoid {
                                let load = |j: usize| (u64::from(conns[j]) + 1, u64::from(b.servers[j].weight));
                                let (li, wi) = load(i);
                                for &j in &tier {
                                    if free(j) && Some(ServerId(j as u32)) != avoid {
                                        let (lj, wj) = load(j);
                                        prop_assert!(li * wj <= lj * wi, "leastconn picked {i} over less loaded {j}");
                                    }
                                }
                            }
                            b.on_conn_open(id);
                            conns[i] += 1;
                        }
                        Err(PickError::NoServer) => prop_assert!(tier.is_empty()),
                        Err(PickError::Saturated) => {
                            prop_assert!(!tier.is_empty());
                            prop_assert!(tier.iter().all(|&j| !free(j)), "saturated with free servers");
                        }
                        Err(PickError::ServerFull(id)) => {
                            prop_assert!(matches!(algo, Algorithm::Source | Algorithm::Hash));
                            prop_assert!(tier.contains(&(id.0 as usize)));
                            prop_assert!(!free(id.0 as usize));
                        }
                    }
                }
                Op::Close(i) if i < n && conns[i as usize] > 0 => {
                    b.on_conn_close(ServerId(i));
                    conns[i as usize] -= 1;
                }
                Op::State(i, s) if i < n => b.set_state(ServerId(i), s).unwrap(),
                Op::Weight(i, w) if i < n => {
                    let r = b.set_weight(ServerId(i), w);
                    prop_assert_eq!(r.is_err(), algo.is_static(config.hash_type) && w != 0 && w != specs[i as usize].weight);
                }
                _ => {}
            }
            check_heap(&b);
        }
    }
}

#[test]
fn out_of_range_ids_are_harmless() {
    let mut b = Balancer::new(cfg(Algorithm::RoundRobin), &weights(&[1])).unwrap();
    let ctx = PickCtx {
        key: HashKey::None,
        avoid: Some(ServerId(99)),
    };
    assert_eq!(b.pick(ctx), Ok(ServerId(0)));
    assert!(!b.is_in_use(ServerId(99)));
    assert_eq!(b.conns(ServerId(99)), 0);
    assert_eq!(b.weight(ServerId(99)), None);
    assert_eq!(
        b.set_weight(ServerId(99), 1),
        Err(BalanceError::UnknownServer(ServerId(99)))
    );
}

proptest! {
    /// Weighted round robin is exact: after k full cycles (k × total weight
    /// picks) every server has k × its weight picks, give or take one, for
    /// any weights, also after a run-time weight change.
    #[test]
    fn roundrobin_is_exact_per_cycle(
        ws in proptest::collection::vec(1u32..=256, 1..10),
        k in 1usize..4,
        change in proptest::option::of((0usize..10, 1u32..=256)),
        statik in any::<bool>(),
    ) {
        let algo = if statik { Algorithm::StaticRr } else { Algorithm::RoundRobin };
        let mut b = Balancer::new(cfg(algo), &weights(&ws)).unwrap();
        let mut ws = ws;
        let check = |b: &mut Balancer, ws: &[u32]| -> Result<(), TestCaseError> {
            let total: usize = ws.iter().map(|&w| w as usize).sum();
            let c = counts(b, k * total, |_| HashKey::None);
            for (i, (&got, &w)) in c.iter().zip(ws).enumerate() {
                let want = k * w as usize;
                prop_assert!(got.abs_diff(want) <= 1, "server {i}: {got} vs {want} ({c:?}, weights {ws:?})");
            }
            Ok(())
        };
        check(&mut b, &ws)?;
        if let (Some((i, w)), false) = (change, statik) {
            if i < ws.len() {
                b.set_weight(ServerId(i as u32), w).unwrap();
                ws[i] = w;
                // The first cycle after a change may be uneven by a turn;
                // full cycles after it are exact again.
                let total: usize = ws.iter().map(|&w| w as usize).sum();
                counts(&mut b, total, |_| HashKey::None);
                check(&mut b, &ws)?;
            }
        }
    }
}

#[test]
fn ring_picks_the_closest_point_either_side() {
    let mut r = chash::Ring::default();
    r.rebuild([(0u32, 1u32, 1u32), (1, 2, 1)].into_iter());
    // Brute force: the closest point on the circle.
    let pts: Vec<(u32, u32)> = (0..chash::POINTS_PER_WEIGHT)
        .map(|i| (chash::point_position(1, i), 0))
        .chain((0..chash::POINTS_PER_WEIGHT).map(|i| (chash::point_position(2, i), 1)))
        .collect();
    for k in 0..5_000u32 {
        let h = k.wrapping_mul(0x9e37_79b9);
        let dist = |p: u32| h.wrapping_sub(p).min(p.wrapping_sub(h));
        let best = pts.iter().map(|&(p, _)| dist(p)).min().unwrap();
        let owners: Vec<u32> = pts
            .iter()
            .filter(|&&(p, _)| dist(p) == best)
            .map(|&(_, s)| s)
            .collect();
        let got = r.lookup(h, None).unwrap();
        assert!(
            owners.contains(&got),
            "hash {h:#x}: got {got}, closest {owners:?}"
        );
        assert_eq!(r.lookup(h, Some(got)), Some(1 - got), "avoid");
    }
    let mut one = chash::Ring::default();
    one.rebuild([(3u32, 9u32, 2u32)].into_iter());
    assert_eq!(one.lookup(7, Some(3)), Some(3), "only server");
    assert_eq!(chash::Ring::default().lookup(7, None), None);
}

#[test]
fn consistent_without_a_function_means_sdbm_with_avalanche() {
    let c = HashType::unspecified_function(HashMethod::Consistent);
    assert_eq!((c.function, c.avalanche), (HashFunction::Sdbm, true));
    let m = HashType::unspecified_function(HashMethod::MapBased);
    assert_eq!(m, HashType::default());
}

/// Server chosen by HAProxy 2.6.12 for `GET /k0` … `GET /k299` with
/// `balance uri` (one digit per request), for the weights given, with
/// `hash-type map-based` and `hash-type consistent` (no function: sdbm with
/// avalanche). Servers were `listen` sections answering their own name;
/// `userspace/core/testdata/haproxy_golden.py` regenerates the data.
const HAPROXY_URI: &[(&[u32], &str, &str)] = &[
    (
        &[1, 1, 1],
        "201201201220120120120120120120120120120120120120120120120120120120120120120120120120120120120120120112012012012012012012012012012012012012012012012012012012012012012012012012012012012012012012012012011201201201201201201201201201201201201201201201201201201201201201201201201201201201201201201201201201",
        "021221122211211022112210101112021122210220012022120101010201202102100021012112102112222020020102002210110100010001110112220020010122011200202012000021021012020011122022200001112210211211121112021202112211022110202211101200120100022100221001002102210122200121112201012000010100122102121021222210012100",
    ),
    (
        &[1, 2, 3],
        "121202121220212120210212120212212120212112120212122120212120120212120220212120210212120212212120212121212021211212021212212021212012021212022021212021021212021221212021211212021212212021212012021212021202121202202121202102121202122121202121121202121221202121201202121202202121202102121202122121202121",
        "021221121121211022112112202211221121210220212222210101210102202202120021012111102122212022020121202212212100020001112112220220220122011220202012222021021112220112222022200001212210111212121122021202111111022112202211101200210100022102221001022102220122222121112202012202010102122102121011222210212100",
    ),
    (
        &[5, 1, 1],
        "100200010001002000100020001002200010020000100200011002000100020001002000010020000100200010002000100210020001000200010020000100200001002000100020001002200010020000100200011002000100020001002000010020001002000100020001002000010020000100200010002000100220001002000010020001100200010002000100200001002000",
        "001201100000010020002200000110020000010220000020000101010200000002100001010010002110202020000102002210000000000001110112000000010002001000200002000001020010000010120000200000100200010010100012000000012010000110200201100000000100002100000000000100000000200120000001010000010000100002000021000210010000",
    ),
    (
        &[2, 3],
        "101101011010101101011101011010011010110110110101100101101011101011010111010110100110101101101101011010101101011101011010011010110110110101100101101011101011010111010110100110101101101101011001011010111010110101110101101001101011011011010110010110101110101101011101011010011010110110110101100101101011",
        "001101101110010010101101100111110101010111110000111101110101000101100011011111000110111000000111101111101100000001111111010100110001001110110001100011010110000110111001100010101111111110101111000000011110000111100001101100111100011101101000011110011101110101100001111100010001111101100011000110110100",
    ),
];

#[test]
fn uri_hashing_routes_keys_as_haproxy_does() {
    for (ws, map_based, consistent) in HAPROXY_URI {
        for (method, want) in [
            (HashMethod::MapBased, map_based),
            (HashMethod::Consistent, consistent),
        ] {
            let config = BalancerConfig {
                algorithm: Algorithm::Hash,
                hash_type: HashType::unspecified_function(method),
                ..BalancerConfig::default()
            };
            let mut b = Balancer::new(config, &weights(ws)).unwrap();
            let got: String = (0..want.len())
                .map(|k| {
                    let uri = format!("/k{k}");
                    let id = b
                        .pick(PickCtx {
                            key: HashKey::Bytes(uri.as_bytes()),
                            avoid: None,
                        })
                        .unwrap();
                    char::from_digit(id.0, 10).unwrap()
                })
                .collect();
            assert_eq!(&got, want, "{method:?} weights {ws:?}");
        }
    }
}

/// `static-rr` (and HAProxy's map) order, observed on HAProxy 2.6.12 with
/// 24 requests in a row (same script).
#[test]
fn static_rr_cycles_in_haproxy_order() {
    for (ws, want) in [
        (&[1u32, 2, 3][..], "021212021212021212021212"),
        (&[5, 1, 1][..], "000100200010020001002000"),
    ] {
        let mut b = Balancer::new(cfg(Algorithm::StaticRr), &weights(ws)).unwrap();
        let got: String = (0..want.len())
            .map(|_| char::from_digit(pick(&mut b), 10).unwrap())
            .collect();
        assert_eq!(got, want, "weights {ws:?}");
    }
}

/// Server chosen by HAProxy 2.6.12 with `balance source` for 120 client
/// addresses 127.(i % 7).(37 i % 256).(101 i % 254 + 1), i = 0..120 (one
/// digit per client), connecting from those loopback addresses, with
/// `hash-type map-based` and `consistent` (sdbm with avalanche).
const HAPROXY_SOURCE: &[(&[u32], &str, &str)] = &[
    (
        &[1, 1, 1],
        "201012102010102020201121202001212121010121020101020202011212020012121210101210201010202010012020222121201101212001010112",
        "110200221000211020011222201210101202211000200021020122102112100022101201122202010202022012110011211222210022102012221210",
    ),
    (
        &[1, 2, 3],
        "202021202020202020202121202021212121212121212121212121212121212021212120202120202020202020212020212121202121212021212121",
        "220100121000211020211222221210111222211200100021021222101122122122121111122111010122021112120211211122211222101222121220",
    ),
];

#[test]
fn source_hashing_routes_clients_as_haproxy_does() {
    for (ws, map_based, consistent) in HAPROXY_SOURCE {
        for (method, want) in [
            (HashMethod::MapBased, map_based),
            (HashMethod::Consistent, consistent),
        ] {
            let config = BalancerConfig {
                algorithm: Algorithm::Source,
                hash_type: HashType::unspecified_function(method),
                ..BalancerConfig::default()
            };
            let mut b = Balancer::new(config, &weights(ws)).unwrap();
            let got: String = (0..want.len() as u32)
                .map(|i| {
                    let ip = Ipv4Addr::new(
                        127,
                        (i % 7) as u8,
                        (i * 37 % 256) as u8,
                        (i * 101 % 254 + 1) as u8,
                    );
                    let id = b
                        .pick(PickCtx {
                            key: HashKey::Addr(IpAddr::V4(ip)),
                            avoid: None,
                        })
                        .unwrap();
                    char::from_digit(id.0, 10).unwrap()
                })
                .collect();
            assert_eq!(&got, want, "{method:?} weights {ws:?}");
        }
    }
}
