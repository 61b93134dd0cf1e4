use super::*;

/// Algorithm 1 of the paper, written out literally and independently of the
/// module: materialised permutations, `next[i]` indices, `entry[]` of −1,
/// with the weighted variant's "w turns per round".
fn reference(prefs: &[(u32, u32, u32)], m: usize) -> Vec<i64> {
    let n = prefs.len();
    let permutation: Vec<Vec<usize>> = prefs
        .iter()
        .map(|&(offset, skip, _)| {
            (0..m)
                .map(|j| (offset as usize + j * skip as usize) % m)
                .collect()
        })
        .collect();
    let mut next = vec![0usize; n];
    let mut entry = vec![-1i64; m];
    let mut filled = 0;
    loop {
        for i in 0..n {
            for _ in 0..prefs[i].2 {
                let mut c = permutation[i][next[i]];
                while entry[c] >= 0 {
                    next[i] += 1;
                    c = permutation[i][next[i]];
                }
                entry[c] = i as i64;
                next[i] += 1;
                filled += 1;
                if filled == m {
                    return entry;
                }
            }
        }
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("10.0.{}.{}:80", i / 250, i % 250 + 1))
        .collect()
}

fn backends<'a>(names: &'a [String], weights: &[u32]) -> Vec<MaglevBackend<'a>> {
    names
        .iter()
        .zip(weights)
        .map(|(n, &w)| MaglevBackend {
            name: n.as_bytes(),
            weight: w,
        })
        .collect()
}

fn shares(table: &[u32], n: usize) -> Vec<usize> {
    let mut c = vec![0; n];
    for &e in table {
        c[e as usize] += 1;
    }
    c
}

#[test]
fn murmur3_reference_vectors() {
    // Published MurmurHash3_x86_32 test vectors, also checked with the
    // Python `mmh3` package.
    assert_eq!(murmur3_32(b"", 0), 0);
    assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
    assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
    assert_eq!(murmur3_32(&[0; 4], 0), 0x2362_f9de);
    assert_eq!(murmur3_32(b"aaaa", 0x9747_b28c), 0x5a97_808a);
    assert_eq!(murmur3_32(b"Hello, world!", 0x9747_b28c), 0x2488_4cba);
    assert_eq!(
        murmur3_32(b"The quick brown fox jumps over the lazy dog", 0x9747_b28c),
        0x2fa8_26cd
    );
    assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
    assert_eq!(murmur3_32(b"abcde", 0), 0xe89b_9af6);
}

#[test]
fn offsets_and_skips_are_pinned() {
    // Independent values: Python `mmh3.hash(name, seed, signed=False)`
    // reduced as documented. A change here moves every flow on upgrade.
    assert_eq!(offset_skip(b"10.0.0.1:80", 65_537), (2670, 6178));
    assert_eq!(offset_skip(b"10.0.0.2:80", 65_537), (51_668, 33_070));
    assert_eq!(offset_skip(b"backend/web1", 65_537), (3544, 990));
    assert_eq!(offset_skip(b"10.0.0.1:80", 13), (12, 10));
    assert_eq!(offset_skip(b"backend/web1", 13), (6, 2));
}

#[test]
fn primality() {
    let primes = [2u64, 3, 5, 7, 13, 251, 65_537, 655_373, 4_294_967_291];
    let composites = [0u64, 1, 4, 9, 25, 65_536, 65_535, 655_371, 4_294_967_295];
    assert!(primes.iter().all(|&p| is_prime(p)));
    assert!(composites.iter().all(|&c| !is_prime(c)));
}

/// The example of the paper (Table 1): M = 7; B0 offset 3 skip 4, B1 offset
/// 0 skip 2, B2 offset 3 skip 1. Lookup table before and after B1 is removed,
/// worked out by hand.
#[test]
fn paper_example_by_hand() {
    let p = |backend, offset, skip| Preference {
        backend,
        weight: 1,
        offset,
        skip,
    };
    let mut t = [9u32; 7];
    fill(&[p(0, 3, 4), p(1, 0, 2), p(2, 3, 1)], &mut t).unwrap();
    assert_eq!(t, [1, 0, 1, 0, 2, 2, 0]);
    fill(&[p(0, 3, 4), p(2, 3, 1)], &mut t).unwrap();
    assert_eq!(t, [0, 0, 0, 0, 2, 2, 2]);
}

#[test]
fn golden_against_literal_algorithm_1() {
    for (m, n) in [(13usize, 3usize), (251, 7), (65_537, 10), (65_537, 97)] {
        let names = names(n);
        let bs = backends(&names, &vec![1; n]);
        // Turns go in name order.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| names[i].as_bytes());
        let prefs: Vec<(u32, u32, u32)> = order
            .iter()
            .map(|&i| {
                let (o, s) = offset_skip(bs[i].name, m as u32);
                (o, s, 1)
            })
            .collect();
        let want = reference(&prefs, m);
        let got = build(&bs, m as u32).unwrap();
        assert!(
            got.iter()
                .zip(&want)
                .all(|(&g, &w)| g as usize == order[w as usize]),
            "M={m} N={n}"
        );
    }
}

#[test]
fn golden_weighted_against_reference() {
    let names = names(5);
    let weights = [1, 2, 3, 0, 5];
    let bs = backends(&names, &weights);
    let m = 65_537;
    // The reference sees only weighted backends, in name order; map its
    // indices back.
    let mut live: Vec<usize> = (0..5).filter(|&i| weights[i] > 0).collect();
    live.sort_by_key(|&i| names[i].as_bytes());
    let prefs: Vec<(u32, u32, u32)> = live
        .iter()
        .map(|&i| {
            let (o, s) = offset_skip(bs[i].name, m as u32);
            (o, s, weights[i])
        })
        .collect();
    let want = reference(&prefs, m);
    let got = build(&bs, m as u32).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(*g as usize, live[*w as usize]);
    }
}

#[test]
fn equal_weights_are_balanced_to_one_entry() {
    let m = DEFAULT_TABLE_SIZE;
    for n in [1, 2, 3, 10, 100] {
        let names = names(n);
        let t = build(&backends(&names, &vec![1; n]), m).unwrap();
        let c = shares(&t, n);
        let (lo, hi) = (c.iter().min().unwrap(), c.iter().max().unwrap());
        assert!(hi - lo <= 1, "n={n}: {lo}..{hi}");
    }
}

#[test]
fn weights_are_proportional() {
    let m = DEFAULT_TABLE_SIZE;
    let weights = [1, 2, 3, 4, 10];
    let names = names(5);
    let t = build(&backends(&names, &weights), m).unwrap();
    let c = shares(&t, 5);
    let total: u32 = weights.iter().sum();
    for (got, w) in c.iter().zip(weights) {
        let want = f64::from(m) * f64::from(w) / f64::from(total);
        assert!((*got as f64 - want).abs() <= want * 0.01 + 1.0, "{c:?}");
    }
}

/// Removing one of N backends re-assigns its ≈1/N of the entries and
/// disturbs few of the others (the paper's Figure 11 reports well under 2%
/// for M = 65537 and small failure counts).
#[test]
fn removing_one_backend_disrupts_about_one_nth() {
    let m = DEFAULT_TABLE_SIZE;
    for n in [5usize, 10, 50] {
        let names = names(n);
        let mut weights = vec![1; n];
        let before = build(&backends(&names, &weights), m).unwrap();
        let removed = n / 2;
        weights[removed] = 0;
        let after = build(&backends(&names, &weights), m).unwrap();
        let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let others_moved = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| **a as usize != removed && a != b)
            .count();
        let frac = changed as f64 / f64::from(m);
        let ideal = 1.0 / n as f64;
        assert!(
            frac >= ideal * 0.99 && frac <= ideal * 1.6,
            "n={n}: {frac} changed"
        );
        assert!(after.iter().all(|&e| e as usize != removed));
        let collateral = others_moved as f64 / f64::from(m);
        eprintln!(
            "n={n}: {frac:.4} of entries changed (ideal {ideal:.4}), {collateral:.4} collateral"
        );
        assert!(
            collateral < 0.05,
            "n={n}: {collateral} of entries of remaining backends moved"
        );
    }
}

#[test]
fn identities_not_positions_decide() {
    // Reordering the backend slice permutes the values but not the owner of
    // each slot.
    let names = names(6);
    let bs = backends(&names, &[1; 6]);
    let mut rev = bs.clone();
    rev.reverse();
    let a = build(&bs, 251).unwrap();
    let b = build(&rev, 251).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(*x, 5 - *y);
    }
}

#[test]
fn errors() {
    let names = names(3);
    let bs = backends(&names, &[1, 1, 1]);
    assert_eq!(build(&bs, 65_536), Err(MaglevError::NotPrime(65_536)));
    assert_eq!(build(&bs, 1), Err(MaglevError::NotPrime(1)));
    assert_eq!(
        build(&bs, 2),
        Err(MaglevError::TooManyBackends {
            backends: 3,
            size: 2
        })
    );
    assert_eq!(
        build(&backends(&names, &[0, 0, 0]), 7),
        Err(MaglevError::NoBackends)
    );
    assert_eq!(build(&[], 7), Err(MaglevError::NoBackends));
    let mut t = [7u32; 11];
    assert_eq!(
        build_into(&backends(&names, &[0, 0, 0]), &mut t),
        Err(MaglevError::NoBackends)
    );
    assert_eq!(t, [7; 11], "untouched on error");
}

#[test]
fn build_into_matches_build() {
    let names = names(4);
    let bs = backends(&names, &[3, 1, 4, 1]);
    let mut t = vec![0u32; 65_537];
    build_into(&bs, &mut t).unwrap();
    assert_eq!(t, build(&bs, 65_537).unwrap());
}
