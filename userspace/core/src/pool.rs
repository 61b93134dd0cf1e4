//! MRU slab pool: a fixed-capacity store of `T` allocated once, handing out
//! the most recently freed slot first, addressed by generation-checked keys.
//!
//! Why MRU (LIFO) rather than FIFO reuse: a slot freed a moment ago is still
//! in the CPU cache; giving it to the next session saves cache misses on the
//! hottest path of a proxy (accept → allocate session). HAProxy's pools do the
//! same for the same reason.
//!
//! Why generations: a completion or timer may carry the key of a session that
//! has since been freed and its slot reused. The key's generation no longer
//! matches the slot's, so the stale key finds nothing instead of reaching the
//! new occupant.

#[cfg(test)]
mod tests;

use core::fmt;

/// Key of an occupied slot: slot index plus the generation the slot had when
/// the value was inserted. Fits in a `u64` (see [`SlotKey::to_u64`]) so it
/// can travel as io_uring `user_data` or a timer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    index: u32,
    gen: u32,
}

impl SlotKey {
    /// Slot index, `0..capacity`. Stable while the value lives; useful as an
    /// index into side tables sized like the pool.
    #[must_use]
    pub const fn index(self) -> u32 {
        self.index
    }

    /// Generation of the slot when the value was inserted.
    #[must_use]
    pub const fn generation(self) -> u32 {
        self.gen
    }

    /// Packs the key as `gen << 32 | index`.
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        ((self.gen as u64) << 32) | self.index as u64
    }

    /// Inverse of [`SlotKey::to_u64`]. Any `u64` gives a key; a forged or
    /// stale one simply finds nothing in the pool.
    #[must_use]
    pub const fn from_u64(raw: u64) -> Self {
        Self {
            index: raw as u32,
            gen: (raw >> 32) as u32,
        }
    }
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.index, self.gen)
    }
}

/// The pool has no free slot; the rejected value is handed back.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("pool is full")]
pub struct Full<T>(pub T);

/// Sentinel for "end of the free list".
const NIL: u32 = u32::MAX;

#[derive(Debug)]
enum Slot<T> {
    Occupied { gen: u32, value: T },
    Vacant { gen: u32, next_free: u32 },
}

/// Fixed-capacity slab with a LIFO free list.
///
/// All memory is reserved in [`Pool::with_capacity`]; no operation allocates
/// afterwards. Every operation is O(1).
#[derive(Debug)]
pub struct Pool<T> {
    slots: Vec<Slot<T>>,
    /// Head of the free list: the most recently freed slot.
    free_head: u32,
    len: u32,
}

impl<T> Pool<T> {
    /// Creates a pool of exactly `capacity` slots, all free. Slots are first
    /// handed out in index order (0, 1, 2, …), then most-recently-freed first.
    ///
    /// # Panics
    /// If `capacity` does not fit in `u32` minus one (the free-list sentinel):
    /// a configuration error caught at start-up, never at run time.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let cap = u32::try_from(capacity)
            .ok()
            .filter(|&c| c < NIL)
            .expect("pool capacity must be below u32::MAX");
        let mut slots = Vec::with_capacity(capacity);
        for i in 0..cap {
            let next_free = if i + 1 < cap { i + 1 } else { NIL };
            slots.push(Slot::Vacant { gen: 0, next_free });
        }
        Self {
            slots,
            free_head: if cap == 0 { NIL } else { 0 },
            len: 0,
        }
    }

    /// Number of occupied slots.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when no slot is occupied.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when every slot is occupied (the next insert fails).
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.free_head == NIL
    }

    /// Total number of slots, fixed at construction.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Key the next [`Pool::insert`] will return, if a slot is free. Lets a
    /// caller build a value that must know its own key (or use
    /// [`Pool::insert_with`]).
    #[must_use]
    pub fn next_key(&self) -> Option<SlotKey> {
        match self.slots.get(self.free_head as usize)? {
            Slot::Vacant { gen, .. } => Some(SlotKey {
                index: self.free_head,
                gen: *gen,
            }),
            Slot::Occupied { .. } => None,
        }
    }

    /// Stores `value` in the most recently freed slot.
    ///
    /// # Errors
    /// [`Full`] with the value when no slot is free.
    pub fn insert(&mut self, value: T) -> Result<SlotKey, Full<T>> {
        match self.take_free() {
            Some(key) => {
                self.slots[key.index as usize] = Slot::Occupied {
                    gen: key.gen,
                    value,
                };
                Ok(key)
            }
            None => Err(Full(value)),
        }
    }

    /// Like [`Pool::insert`], building the value from its key.
    ///
    /// # Errors
    /// [`Full`] (with no value) when no slot is free; `make` is not called.
    pub fn insert_with(&mut self, make: impl FnOnce(SlotKey) -> T) -> Result<SlotKey, Full<()>> {
        let key = self.take_free().ok_or(Full(()))?;
        self.slots[key.index as usize] = Slot::Occupied {
            gen: key.gen,
            value: make(key),
        };
        Ok(key)
    }

    /// Pops the free-list head, leaving the slot marked vacant until the
    /// caller fills it.
    fn take_free(&mut self) -> Option<SlotKey> {
        let index = self.free_head;
        match self.slots.get(index as usize)? {
            Slot::Vacant { gen, next_free } => {
                let key = SlotKey { index, gen: *gen };
                self.free_head = *next_free;
                self.len += 1;
                Some(key)
            }
            Slot::Occupied { .. } => {
                debug_assert!(false, "free list points at an occupied slot");
                None
            }
        }
    }

    /// The value under `key`, or `None` if the key is stale or out of range.
    #[must_use]
    pub fn get(&self, key: SlotKey) -> Option<&T> {
        match self.slots.get(key.index as usize)? {
            Slot::Occupied { gen, value } if *gen == key.gen => Some(value),
            _ => None,
        }
    }

    /// Mutable access to the value under `key`, or `None` if stale.
    #[must_use]
    pub fn get_mut(&mut self, key: SlotKey) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize)? {
            Slot::Occupied { gen, value } if *gen == key.gen => Some(value),
            _ => None,
        }
    }

    /// True if `key` names a live value.
    #[must_use]
    pub fn contains(&self, key: SlotKey) -> bool {
        self.get(key).is_some()
    }

    /// Removes and returns the value under `key`; the slot becomes the head
    /// of the free list (handed out next) and its generation moves on, so
    /// `key` and every copy of it go stale. `None` if `key` is stale.
    pub fn remove(&mut self, key: SlotKey) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Occupied { gen, .. } if *gen == key.gen => {}
            _ => return None,
        }
        let vacant = Slot::Vacant {
            // Wrapping: after 2^32 reuses of one slot a key could alias, far
            // beyond the life of any completion or timer that holds one.
            gen: key.gen.wrapping_add(1),
            next_free: self.free_head,
        };
        let old = core::mem::replace(slot, vacant);
        self.free_head = key.index;
        self.len -= 1;
        match old {
            Slot::Occupied { value, .. } => Some(value),
            Slot::Vacant { .. } => None,
        }
    }

    /// Iterates over live values with their keys, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (SlotKey, &T)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Occupied { gen, value } => Some((
                SlotKey {
                    index: i as u32,
                    gen: *gen,
                },
                value,
            )),
            Slot::Vacant { .. } => None,
        })
    }

    /// Iterates mutably over live values with their keys, in slot order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SlotKey, &mut T)> + '_ {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Occupied { gen, value } => Some((
                    SlotKey {
                        index: i as u32,
                        gen: *gen,
                    },
                    value,
                )),
                Slot::Vacant { .. } => None,
            })
    }
}
