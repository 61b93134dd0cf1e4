//! The flow hash that picks a Maglev ring position. Kernel and userspace
//! share this one definition so tests can predict the kernel's pick.

#[inline(always)]
const fn mix(h: u64, v: u64) -> u64 {
    let x = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

/// Hash of a flow: source, destination (address words as on the wire),
/// ports (network order) and protocol. A murmur-style multiply/xor mix:
/// branch-free, a handful of 64-bit multiplies, stable across versions
/// (changing it moves every flow that is not in the connection table).
#[inline(always)]
pub const fn flow_hash(src: &[u32; 4], dst: &[u32; 4], sport: u16, dport: u16, proto: u8) -> u64 {
    let mut h = 0x5157_4549_5200_0000 ^ proto as u64;
    h = mix(h, ((src[0] as u64) << 32) | src[1] as u64);
    h = mix(h, ((src[2] as u64) << 32) | src[3] as u64);
    h = mix(h, ((dst[0] as u64) << 32) | dst[1] as u64);
    h = mix(h, ((dst[2] as u64) << 32) | dst[3] as u64);
    h = mix(h, ((sport as u64) << 16) | dport as u64);
    // fmix64 finaliser: spreads the last mix over all bits before the modulo.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::flow_hash;

    #[test]
    fn hash_is_stable_and_sensitive() {
        let a = flow_hash(&[1, 0, 0, 0], &[2, 0, 0, 0], 10, 80, 6);
        assert_eq!(a, flow_hash(&[1, 0, 0, 0], &[2, 0, 0, 0], 10, 80, 6));
        assert_ne!(a, flow_hash(&[1, 0, 0, 0], &[2, 0, 0, 0], 11, 80, 6));
        assert_ne!(a, flow_hash(&[1, 0, 0, 0], &[2, 0, 0, 0], 10, 80, 17));
        assert_ne!(a, flow_hash(&[3, 0, 0, 0], &[2, 0, 0, 0], 10, 80, 6));
    }

    #[test]
    fn hash_spreads_over_a_prime_ring() {
        // 65537 buckets, 20000 sequential ports: no bucket should be hot.
        let mut hits = [0u8; 4096];
        for port in 0..20_000u16 {
            let h = flow_hash(
                &[0x0a00_0001, 0, 0, 0],
                &[0x0a00_0002, 0, 0, 0],
                port,
                80,
                6,
            );
            let b = (h % 65537) as usize % 4096;
            hits[b] = hits[b].saturating_add(1);
        }
        assert!(
            hits.iter().all(|&n| n < 20),
            "max {}",
            hits.iter().max().unwrap()
        );
    }
}
