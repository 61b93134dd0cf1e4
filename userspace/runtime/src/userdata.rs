//! The 64-bit `user_data` carried by every submission and its completion.
//!
//! Layout (most significant first): `kind:6 | generation:24 | slot:20 | aux:14`.
//! The generation is the low 24 bits of the slot's generation: a completion
//! could only be mistaken for a live one after 16 million reuses of its slot
//! while it was in flight.
//! The slot index and its generation let the loop recognise a completion for a
//! slot that has been freed (and maybe reused) since the operation was
//! submitted: such a completion is stale and is dropped. `aux` carries the
//! pool buffer an operation owns (index + 1, 0 = none) so the ring can take the
//! buffer back from the kernel whatever happened to the slot.

/// Largest slot index that fits the encoding.
pub const MAX_SLOT: u32 = (1 << 20) - 1;
/// Mask of the generation bits kept.
pub const GEN_MASK: u32 = (1 << 24) - 1;
/// Largest kind number.
pub const MAX_KIND: u8 = (1 << 6) - 1;
/// Number of pool buffers the encoding can name.
pub const MAX_BUFS: usize = (1 << 14) - 1;
const AUX_MASK: u64 = (1 << 14) - 1;

/// What an operation is, as the loop needs to dispatch its completion.
/// The runtime reserves kind 0 for completions nobody waits for (cancels,
/// closes); the proxy numbers the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpKind(pub u8);

impl OpKind {
    /// A completion nobody waits for: cancels, closes.
    pub const IGNORE: OpKind = OpKind(0);
}

/// Encoded `user_data`. Build with [`UserData::new`]; decode with the getters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserData(u64);

impl UserData {
    /// The completion of an operation nobody waits for.
    pub const IGNORE: UserData = UserData(0);

    /// Encodes an operation of `kind` for `slot` at `generation` (only its
    /// low 24 bits are kept). `slot` must be ≤ [`MAX_SLOT`] and `kind` ≤
    /// [`MAX_KIND`] (higher bits are masked off; debug-asserted).
    #[must_use]
    pub const fn new(kind: OpKind, slot: u32, generation: u32) -> Self {
        debug_assert!(slot <= MAX_SLOT && kind.0 <= MAX_KIND);
        UserData(
            (((kind.0 & MAX_KIND) as u64) << 58)
                | (((generation & GEN_MASK) as u64) << 34)
                | (((slot & MAX_SLOT) as u64) << 14),
        )
    }

    /// Same operation, carrying buffer `buf` (stored as index + 1; `buf` <
    /// [`MAX_BUFS`], which the pool guarantees).
    #[must_use]
    pub(crate) const fn with_buf(self, buf: u16) -> Self {
        UserData((self.0 & !AUX_MASK) | ((buf as u64 + 1) & AUX_MASK))
    }

    /// The raw 64-bit value.
    #[must_use]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Rebuilds from a completion's raw value.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        UserData(raw)
    }

    /// The operation kind.
    #[must_use]
    pub const fn kind(self) -> OpKind {
        OpKind((self.0 >> 58) as u8)
    }

    /// The low 24 bits of the slot generation at submission.
    #[must_use]
    pub const fn generation(self) -> u32 {
        ((self.0 >> 34) as u32) & GEN_MASK
    }

    /// Whether this completion belongs to the slot's current `generation`.
    #[must_use]
    pub const fn is_generation(self, generation: u32) -> bool {
        self.generation() == generation & GEN_MASK
    }

    /// The slot index.
    #[must_use]
    pub const fn slot(self) -> u32 {
        ((self.0 >> 14) as u32) & MAX_SLOT
    }

    /// The pool buffer the operation owned, if any.
    #[must_use]
    pub const fn buf(self) -> Option<u16> {
        match (self.0 & AUX_MASK) as u16 {
            0 => None,
            n => Some(n - 1),
        }
    }

    /// The same user_data without its buffer: what the submitter built.
    #[must_use]
    pub const fn without_buf(self) -> Self {
        UserData(self.0 & !AUX_MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ignore_is_kind_zero() {
        assert_eq!(UserData::IGNORE.kind(), OpKind::IGNORE);
        assert_eq!(UserData::IGNORE.buf(), None);
    }

    #[test]
    fn buffer_index_zero_is_distinct_from_none() {
        let ud = UserData::new(OpKind(3), 7, 9).with_buf(0);
        assert_eq!(ud.buf(), Some(0));
        assert_eq!(ud.without_buf(), UserData::new(OpKind(3), 7, 9));
    }

    proptest! {
        #[test]
        fn round_trip(kind in 0u8..=MAX_KIND, slot in 0u32..=MAX_SLOT, generation in 0u32.., buf in 0u16..(MAX_BUFS as u16)) {
            let ud = UserData::new(OpKind(kind), slot, generation);
            prop_assert_eq!(ud.kind(), OpKind(kind));
            prop_assert_eq!(ud.slot(), slot);
            prop_assert_eq!(ud.generation(), generation & GEN_MASK);
            prop_assert!(ud.is_generation(generation));
            prop_assert!(!ud.is_generation(generation.wrapping_add(1)));
            prop_assert_eq!(ud.buf(), None);
            let b = UserData::from_raw(ud.with_buf(buf).raw());
            prop_assert_eq!(b.buf(), Some(buf));
            prop_assert_eq!(b.slot(), slot);
            prop_assert_eq!(b.generation(), generation & GEN_MASK);
            prop_assert_eq!(b.kind(), OpKind(kind));
        }
    }
}
