//! Weighted Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4).
//!
//! Interim: weir-core's `maglev` module (being written by the core
//! engineer) is the policy home of this algorithm; this private copy keeps
//! the kernel path usable until it lands and is then replaced by it.

/// FNV-1a 64 with a seed, for the per-server offset and skip.
fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Builds a table of `size` entries (prime) from `(key, weight)` backends;
/// entries are backend indices, `None` when no backend has weight. Each
/// round every backend claims its next preferred free entries, `weight`
/// of them, so shares follow weights.
pub(crate) fn table(backends: &[(&[u8], u32)], size: u32) -> Vec<Option<u32>> {
    let m = u64::from(size);
    let mut out = vec![None; size as usize];
    let live: Vec<(usize, u64, u64, u32)> = backends
        .iter()
        .enumerate()
        .filter(|(_, (_, w))| *w > 0)
        .map(|(i, (k, w))| {
            (
                i,
                fnv(0x6d61676c, k) % m,
                fnv(0x65762121, k) % (m - 1) + 1,
                *w,
            )
        })
        .collect();
    if live.is_empty() {
        return out;
    }
    let mut next = vec![0u64; live.len()];
    let mut filled = 0u64;
    'fill: loop {
        for (b, &(idx, offset, skip, weight)) in live.iter().enumerate() {
            for _ in 0..weight {
                let mut c = (offset + next[b] * skip) % m;
                while out[c as usize].is_some() {
                    next[b] += 1;
                    c = (offset + next[b] * skip) % m;
                }
                out[c as usize] = Some(idx as u32);
                next[b] += 1;
                filled += 1;
                if filled == m {
                    break 'fill;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn shares_follow_weights_and_removal_moves_little() {
        let a: &[u8] = b"a";
        let b: &[u8] = b"b";
        let c: &[u8] = b"c";
        let t = table(&[(a, 1), (b, 1), (c, 2)], 65537);
        let count = |t: &[Option<u32>], i| t.iter().filter(|&&e| e == Some(i)).count();
        assert!((count(&t, 2) as f64 / 65537.0 - 0.5).abs() < 0.01);
        assert!((count(&t, 0) as f64 / 65537.0 - 0.25).abs() < 0.01);
        let u = table(&[(a, 1), (b, 0), (c, 2)], 65537);
        assert_eq!(count(&u, 1), 0);
        let moved = t
            .iter()
            .zip(&u)
            .filter(|(x, y)| x != y && **x != Some(1))
            .count();
        // Maglev is not perfectly minimal-disruption, but close.
        assert!(moved < 65537 / 20, "moved {moved}");
    }

    #[test]
    fn empty_when_no_weight() {
        assert!(table(&[(b"a", 0)], 7).iter().all(Option::is_none));
    }
}
