//! The consistent-hash ring of `hash-type consistent`.
//!
//! Each usable server owns `weight × POINTS_PER_WEIGHT` points on a 32-bit
//! circle; a key's hash designates the owner of the closest point, on either
//! side, as HAProxy documents for `hash-type consistent`. A point's position depends only on the server's
//! [`super::ServerSpec::hash_key`] and the point's number, never on the other
//! servers, so removing a server (or lowering its weight) moves only the keys
//! that landed on its points — ≈1/N of them — and adding it back restores
//! them. This is the property HAProxy documents for `consistent`.

/// Ring points per unit of weight, as HAProxy (16 per unit of its user
/// weight). More points would spread keys more evenly at the cost of memory
/// (8 bytes per point: weight 256 → 4096 points, 32 KiB per server) and of
/// HAProxy compatibility.
pub(super) const POINTS_PER_WEIGHT: u32 = 16;

/// Numbers reserved per server for its points (256 weights × 16).
const POINTS_RANGE: u32 = 256 * POINTS_PER_WEIGHT;

/// Position of point `replica` of the server whose ring identity is `key`
/// (HAProxy: the server's numeric id): the avalanche mix of
/// `key × 4096 + replica`. This is where HAProxy 2.6 places its points: the
/// golden test routes 1,200 keys exactly as a real HAProxy does, so keys
/// stay on the same servers when a configuration moves from HAProxy to weir.
/// Fixed forever for the same reason.
pub(super) fn point_position(key: u32, replica: u32) -> u32 {
    crate::hash::avalanche(key.wrapping_mul(POINTS_RANGE).wrapping_add(replica))
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
