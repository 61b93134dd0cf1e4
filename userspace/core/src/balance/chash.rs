//! The consistent-hash ring of `hash-type consistent`.
//!
//! Each usable server owns `weight × POINTS_PER_WEIGHT` points on a 32-bit
//! circle; a key's hash designates the owner of the closest point, on either
//! side, as HAProxy documents for `hash-type consistent`. A point's position depends only on the server's
//! [`super::ServerSpec::hash_key`] and the point's number, never on the other
//! servers, so removing a server (or lowering its weight) moves only the keys
//! that landed on its points — ≈1/N of them — and adding it back restores
//! them. This is the property HAProxy documents for `consistent`.

/// Ring points per unit of weight. HAProxy also uses 16 (its weight scale);
/// more points would spread keys more evenly at the cost of memory (8 bytes
/// per point: weight 256 → 4096 points, 32 KiB per server).
pub(super) const POINTS_PER_WEIGHT: u32 = 16;

/// Position of point `replica` of the server whose ring identity is `key`:
/// the SplitMix64 finaliser (Steele, Lea, Flood 2014) of `key << 32 |
/// replica`, high half. Fixed here forever: changing it would remap every
/// key of every deployment on upgrade.
pub(super) fn point_position(key: u32, replica: u32) -> u32 {
    let mut z = (u64::from(key) << 32) | u64::from(replica);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 32) as u32
}

/// Sorted ring of (position, server index) points.
#[derive(Debug, Default)]
pub(super) struct Ring {
    points: Vec<(u32, u32)>,
}

impl Ring {
    /// Rebuilds from `(server index, ring key, weight)` triples. Reuses the
    /// vector's memory; allocates only if the ring grows past its largest
    /// size so far.
    pub(super) fn rebuild(&mut self, servers: impl Iterator<Item = (u32, u32, u32)>) {
        self.points.clear();
        for (id, key, weight) in servers {
            for r in 0..weight * POINTS_PER_WEIGHT {
                self.points.push((point_position(key, r), id));
            }
        }
        self.points.sort_unstable();
    }

    /// Number of points.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.points.len()
    }

    /// The owner of `hash`: the server of the point closest to it on the
    /// circle, either side (HAProxy's documented rule: "the closest server is
    /// chosen"; a tie goes to the point before), skipping points of `avoid`
    /// unless it is the only server. `None` on an empty ring.
    /// O(log points).
    pub(super) fn lookup(&self, hash: u32, avoid: Option<u32>) -> Option<u32> {
        let n = self.points.len();
        if n == 0 {
            return None;
        }
        let mut next = self.points.partition_point(|&(pos, _)| pos < hash) % n;
        let mut prev = (next + n - 1) % n;
        if avoid.is_some() {
            // Walk outwards past the avoided server's points. Bounded by the
            // ring size; a few steps in practice since points interleave.
            let mut steps = 0;
            while Some(self.points[next].1) == avoid && steps < n {
                next = (next + 1) % n;
                steps += 1;
            }
            if steps == n {
                return avoid;
            }
            while Some(self.points[prev].1) == avoid {
                prev = (prev + n - 1) % n;
            }
        }
        let (p, q) = (self.points[prev], self.points[next]);
        // Distances on the circle, wrapping.
        let before = hash.wrapping_sub(p.0);
        let after = q.0.wrapping_sub(hash);
        Some(if before <= after { p.1 } else { q.1 })
    }
}
