//! Maglev consistent-hash lookup tables for the kernel (XDP) L4 balancer.
//!
//! Construction follows Eisenbud et al., "Maglev: A Fast and Reliable
//! Software Network Load Balancer" (NSDI 2016), §3.4, Algorithm 1: each
//! backend `i` has a preference list over the `M` slots (M prime),
//! `permutation[i][j] = (offset_i + j · skip_i) mod M` with
//! `offset_i = h1(name_i) mod M` and `skip_i = h2(name_i) mod (M − 1) + 1`;
//! backends take turns claiming their next preferred free slot until the
//! table is full. Because `skip_i` is in `1..M` and M is prime, each list is
//! a permutation of all slots, so every turn finds a free slot.
//!
//! Backends take their turns in the byte order of their names (not the
//! order of the caller's slice), so the table depends only on the set of
//! identities and weights.
//!
//! Weights, as Katran does it: in each round a backend of weight `w` takes
//! `w` turns (weight 0: none, it is absent from the table). Shares are
//! proportional to weight; with all weights equal this is exactly
//! Algorithm 1. Preference lists are walked incrementally (one addition per
//! step) instead of being materialised: O(N) memory instead of O(N·M).
//!
//! # Hashing of backend identity
//! `h1` and `h2` are MurmurHash3 x86_32 (Appleby, public domain) of the
//! backend's name bytes with the seeds [`SEED_OFFSET`] and [`SEED_SKIP`].
//! Both are fixed here forever: the kernel table is rebuilt on every reload
//! and by every process, and any change would move flows. The golden tests
//! pin them.
//!
//! The result is a table of indices into the caller's backend slice, built
//! into a caller-provided slice when wanted ([`build_into`]) so the loader
//! can fill a spare map slot and switch atomically.

#[cfg(test)]
mod tests;

/// Default table size: the prime Katran and weir's XDP path use. Larger
/// tables (e.g. 655,373) cut the imbalance between backends further.
pub const DEFAULT_TABLE_SIZE: u32 = 65_537;

/// Seed of `h1` (offset): ASCII "magl".
pub const SEED_OFFSET: u32 = 0x6d61_676c;
/// Seed of `h2` (skip): ASCII "ev-1".
pub const SEED_SKIP: u32 = 0x6576_2d31;

/// One backend as the table needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaglevBackend<'a> {
    /// Stable identity of the backend (e.g. `"10.0.0.1:80"` or the server's
    /// `backend/server` name). Not its position: positions change when the
    /// configuration is edited, identities should not.
    pub name: &'a [u8],
    /// Relative weight; 0 = absent from the table.
    pub weight: u32,
}

/// Why a table could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MaglevError {
    /// The table size must be a prime (so every skip generates a full
    /// permutation).
    #[error("maglev table size {0} is not a prime")]
    NotPrime(u64),
    /// Table size does not fit in `u32`.
    #[error("maglev table size {0} is too large")]
    TooLarge(u64),
    /// No backend has a weight above 0.
    #[error("no backend with a weight above 0")]
    NoBackends,
    /// More weighted backends than table slots.
    #[error("{backends} backends do not fit in a table of {size} slots")]
    TooManyBackends {
        /// Backends with a weight above 0.
        backends: usize,
        /// Table size.
        size: u32,
    },
}

/// MurmurHash3 x86_32 (Austin Appleby, public domain).
#[must_use]
pub fn murmur3_32(key: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut blocks = key.chunks_exact(4);
    for b in &mut blocks {
        let mut k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, &byte) in tail.iter().enumerate() {
            k |= u32::from(byte) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= key.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// True if `n` is prime (deterministic trial division; `n` is a table size,
/// checked once per build).
#[must_use]
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n < 4 {
        return true;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    let mut d = 5u64;
    while d * d <= n {
        if n.is_multiple_of(d) || n.is_multiple_of(d + 2) {
            return false;
        }
        d += 6;
    }
    true
}

/// `(offset, skip)` of a backend named `name` in a table of `size` slots.
#[must_use]
pub fn offset_skip(name: &[u8], size: u32) -> (u32, u32) {
    let offset = murmur3_32(name, SEED_OFFSET) % size;
    let skip = murmur3_32(name, SEED_SKIP) % (size - 1) + 1;
    (offset, skip)
}

/// Builds a table of `size` slots. Each entry is an index into `backends`.
///
/// # Errors
/// See [`MaglevError`].
pub fn build(backends: &[MaglevBackend<'_>], size: u32) -> Result<Vec<u32>, MaglevError> {
    let mut table = vec![0; size as usize];
    build_into(backends, &mut table)?;
    Ok(table)
}

/// Builds into `table`, whose length is the table size (must be prime).
/// On error `table` is left untouched.
///
/// # Errors
/// See [`MaglevError`].
pub fn build_into(backends: &[MaglevBackend<'_>], table: &mut [u32]) -> Result<(), MaglevError> {
    let size = check_size(table.len() as u64)?;
    // Turns are taken in name order, not slice order: the table then depends
    // only on the set of (name, weight), so reordering servers in the
    // configuration moves no flow.
    let mut order: Vec<usize> = (0..backends.len())
        .filter(|&i| backends[i].weight > 0)
        .collect();
    order.sort_by(|&a, &b| backends[a].name.cmp(backends[b].name).then(a.cmp(&b)));
    let prefs: Vec<Preference> = order
        .into_iter()
        .map(|i| (i, &backends[i]))
        .map(|(i, b)| {
            let (offset, skip) = offset_skip(b.name, size);
            Preference {
                backend: i as u32,
                weight: b.weight,
                offset,
                skip,
            }
        })
        .collect();
    fill(&prefs, table)
}

/// A backend's preference list, given directly: for callers that hash
/// identities their own way, and for tests of the published examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preference {
    /// Value written in the slots this backend wins.
    pub backend: u32,
    /// Turns per round (0 = none).
    pub weight: u32,
    /// First preferred slot, `< M`.
    pub offset: u32,
    /// Step between preferred slots, `1..M`.
    pub skip: u32,
}

/// Algorithm 1 (weighted) over explicit preference lists.
///
/// # Errors
/// Table size not prime or too large; no backend with weight; more
/// backends than slots. `offset`/`skip` out of range are reduced mod M
/// (and a skip of 0 mod M becomes 1) so the loop always terminates.
pub fn fill(prefs: &[Preference], table: &mut [u32]) -> Result<(), MaglevError> {
    let size = check_size(table.len() as u64)?;
    let active = prefs.iter().filter(|p| p.weight > 0).count();
    if active == 0 {
        return Err(MaglevError::NoBackends);
    }
    if active > size as usize {
        return Err(MaglevError::TooManyBackends {
            backends: active,
            size,
        });
    }
    // `taken` rather than a sentinel in `table`: backend values are the
    // caller's and may be anything, including u32::MAX.
    let mut taken = vec![false; size as usize];
    // Next preferred slot of each backend (the walk of its permutation).
    let mut next: Vec<u32> = prefs.iter().map(|p| p.offset % size).collect();
    let skips: Vec<u32> = prefs
        .iter()
        .map(|p| match p.skip % size {
            0 => 1,
            s => s,
        })
        .collect();
    let mut filled = 0u32;
    loop {
        for (i, p) in prefs.iter().enumerate() {
            for _ in 0..p.weight {
                let mut c = next[i];
                while taken[c as usize] {
                    c = step(c, skips[i], size);
                }
                taken[c as usize] = true;
                table[c as usize] = p.backend;
                next[i] = step(c, skips[i], size);
                filled += 1;
                if filled == size {
                    return Ok(());
                }
            }
        }
    }
}

/// `(c + skip) mod size` without overflow (`c, skip < size ≤ u32::MAX`).
fn step(c: u32, skip: u32, size: u32) -> u32 {
    let n = u64::from(c) + u64::from(skip);
    let size = u64::from(size);
    (if n >= size { n - size } else { n }) as u32
}

fn check_size(size: u64) -> Result<u32, MaglevError> {
    let s = u32::try_from(size).map_err(|_| MaglevError::TooLarge(size))?;
    if !is_prime(size) {
        return Err(MaglevError::NotPrime(size));
    }
    Ok(s)
}
