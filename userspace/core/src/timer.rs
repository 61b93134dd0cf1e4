//! Timer queue with lazy re-queueing, in the spirit of HAProxy's wait queue.
//!
//! # The trick
//! A proxy arms a timeout on almost every event (read, write, connect) and
//! pushes it further on almost every byte that moves; almost none of these
//! timeouts ever fire. Moving the timer in an ordered structure on each
//! postponement would cost a tree (here: heap) operation per event for
//! nothing. Instead, the *owner* keeps its current deadline in its own
//! state, and postponing is a plain store to that field. The queued entry is
//! left where it is. When the entry reaches the front and is due, the queue
//! asks the owner for its current deadline (see [`TimerQueue::pop_expired`]):
//!
//! * `None`: the owner disarmed it: the entry is dropped silently;
//! * a later instant than the one queued: the entry is re-queued there (one
//!   heap operation per *expiry* of a postponed timer, instead of one per
//!   postponement), and it comes back in order if that instant is also past;
//! * otherwise it fires and its key is returned.
//!
//! Moving a deadline *earlier* cannot be lazy (the entry would fire late):
//! [`TimerQueue::arm`] detects it and repositions the entry.
//!
//! What it saves, with 10,000 timers queued and ~100 postponements per
//! timeout period: about 56 instructions per postponement through
//! [`TimerQueue::arm`] (including its share of the re-queues at expiry and
//! the bench loop) against about 676 when every postponement moves the entry
//! ([`TimerQueue::reschedule`]); counted with callgrind on
//! `cargo bench -p weir-core --bench core -- "timer: postpone" --iters N`
//! (see the bench's header).
//!
//! # Structure
//! HAProxy uses an elastic binary tree; here an indexed binary min-heap
//! ordered by (deadline, sequence number) does the same job with O(log n)
//! insert, cancel and reposition, O(1) access to the next expiry, and two
//! flat vectors instead of a node per timer: entries live in a slab whose
//! handles are generation-checked, like [`crate::pool`] keys, so a stale
//! handle can never cancel somebody else's timer. The sequence number makes
//! the order among equal deadlines first-scheduled-first-fired, so runs are
//! deterministic. Memory grows only when more timers are live than ever
//! before ([`TimerQueue::with_capacity`] reserves up front); there is no
//! allocation in steady state.

#[cfg(test)]
mod tests;

use core::ops::Add;
use core::time::Duration;

/// An instant on the caller's clock, in milliseconds since an arbitrary
/// origin (typically the worker's start). The queue never reads a clock: the
/// event loop reads it once per turn and passes it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ticks(pub u64);

impl Ticks {
    /// The instant `ms` milliseconds after `self`, saturating (an "infinite"
    /// timeout stays at the far end instead of wrapping to the past).
    #[must_use]
    pub const fn after_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_ms_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Ticks {
    type Output = Ticks;
    /// Saturating; sub-millisecond parts are rounded up so a timeout never
    /// fires early.
    fn add(self, d: Duration) -> Ticks {
        let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
        self.after_ms(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

/// Names one queued timer. Generation-checked: once the timer has fired,
/// been dropped or been cancelled, the handle goes stale and every operation
/// on it is a no-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerHandle {
    index: u32,
    gen: u32,
}

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Entry<K> {
    /// `Some` while queued.
    key: Option<K>,
    gen: u32,
    /// Position in `heap` while queued; next free entry while vacant.
    link: u32,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    when: Ticks,
    seq: u64,
    entry: u32,
}

impl Node {
    fn before(&self, other: &Node) -> bool {
        (self.when, self.seq) < (other.when, other.seq)
    }
}

/// Ordered queue of timers keyed by a caller key `K` (e.g. a
/// [`crate::pool::SlotKey`]). One per worker; not shared.
#[derive(Debug)]
pub struct TimerQueue<K> {
    entries: Vec<Entry<K>>,
    heap: Vec<Node>,
    free_head: u32,
    next_seq: u64,
}

impl<K: Copy> Default for TimerQueue<K> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<K: Copy> TimerQueue<K> {
    /// An empty queue with room for `capacity` timers before it allocates.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
            heap: Vec::with_capacity(capacity),
            free_head: NIL,
            next_seq: 0,
        }
    }

    /// Number of queued timers (including postponed or disarmed ones that
    /// have not yet been examined).
    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The earliest queued instant: how long the event loop may sleep. It may
    /// be earlier than any owner's real deadline (a postponed entry); waking
    /// then costs one re-queue.
    #[must_use]
    pub fn next_expiry(&self) -> Option<Ticks> {
        self.heap.first().map(|n| n.when)
    }

    /// Queues `key` to be examined at `when`. O(log n).
    pub fn schedule(&mut self, key: K, when: Ticks) -> TimerHandle {
        let index = if self.free_head == NIL {
            let i = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i < NIL)
                .expect("more than 2^32-1 timers");
            self.entries.push(Entry {
                key: None,
                gen: 0,
                link: NIL,
            });
            i
        } else {
            let i = self.free_head;
            self.free_head = self.entries[i as usize].link;
            i
        };
        let pos = self.heap.len();
        let entry = &mut self.entries[index as usize];
        entry.key = Some(key);
        entry.link = pos as u32;
        let gen = entry.gen;
        let seq = self.bump_seq();
        self.heap.push(Node {
            when,
            seq,
            entry: index,
        });
        self.sift_up(pos);
        TimerHandle { index, gen }
    }

    /// The instant at which `handle` is queued, `None` if stale.
    #[must_use]
    pub fn queued_at(&self, handle: TimerHandle) -> Option<Ticks> {
        self.heap_pos(handle).map(|p| self.heap[p].when)
    }

    /// Removes the timer; returns its key, or `None` if the handle is stale.
    /// O(log n). Usually unnecessary: disarming the owner's deadline is
    /// enough and costs nothing until the entry comes up.
    pub fn cancel(&mut self, handle: TimerHandle) -> Option<K> {
        let pos = self.heap_pos(handle)?;
        Some(self.remove_at(pos))
    }

    /// Moves a queued timer to `when` (earlier or later). Returns false if
    /// the handle is stale. O(log n).
    pub fn reschedule(&mut self, handle: TimerHandle, when: Ticks) -> bool {
        let Some(pos) = self.heap_pos(handle) else {
            return false;
        };
        let seq = self.bump_seq();
        let node = &mut self.heap[pos];
        let later = when >= node.when;
        node.when = when;
        node.seq = seq;
        if later {
            self.sift_down(pos);
        } else {
            self.sift_up(pos);
        }
        true
    }

    /// Makes sure `key` will be examined no later than `deadline`, doing as
    /// little as possible. `slot` is the owner's record of its queued timer.
    ///
    /// * queued at or before `deadline`: nothing (the lazy case — the caller
    ///   has stored `deadline` in its own state, and [`Self::pop_expired`]
    ///   will re-queue);
    /// * queued after `deadline`: repositioned earlier;
    /// * not queued (`None` or stale): scheduled, and `slot` updated.
    pub fn arm(&mut self, slot: &mut Option<TimerHandle>, key: K, deadline: Ticks) {
        if let Some(h) = *slot {
            match self.queued_at(h) {
                Some(at) if at <= deadline => return,
                Some(_) => {
                    self.reschedule(h, deadline);
                    return;
                }
                None => {}
            }
        }
        *slot = Some(self.schedule(key, deadline));
    }

    /// Pops the next timer that truly fires at `now`, or `None` when nothing
    /// more is due. `deadline_of(key)` must return the owner's *current*
    /// deadline (`None` once disarmed or if the owner is gone).
    ///
    /// Entries whose owner disarmed them are dropped; entries whose owner
    /// postponed them are re-queued at the new deadline (and come back in
    /// this same call, in deadline order, if that is also past). A fired or
    /// dropped entry's handle goes stale. Call in a loop, bounded by the
    /// caller if it wants to split long work:
    ///
    /// ```
    /// # use weir_core::timer::{TimerQueue, Ticks};
    /// let mut q = TimerQueue::with_capacity(4);
    /// let deadlines = [Some(Ticks(10)), Some(Ticks(50))];
    /// q.schedule(0usize, Ticks(10));
    /// q.schedule(1usize, Ticks(10)); // postponed to 50 by its owner
    /// let mut fired = Vec::new();
    /// while let Some(k) = q.pop_expired(Ticks(20), |k| deadlines[k]) {
    ///     fired.push(k);
    /// }
    /// assert_eq!(fired, [0]);
    /// assert_eq!(q.next_expiry(), Some(Ticks(50)));
    /// ```
    pub fn pop_expired(
        &mut self,
        now: Ticks,
        mut deadline_of: impl FnMut(K) -> Option<Ticks>,
    ) -> Option<K> {
        loop {
            let top = *self.heap.first()?;
            if top.when > now {
                return None;
            }
            let key = self.entries[top.entry as usize]
                .key
                .expect("queued entry holds a key");
            match deadline_of(key) {
                None => {
                    self.remove_at(0);
                }
                Some(d) if d > top.when => {
                    let seq = self.bump_seq();
                    self.heap[0].when = d;
                    self.heap[0].seq = seq;
                    self.sift_down(0);
                }
                // Due now, or moved earlier without `arm` (fires late).
                Some(_) => {
                    self.remove_at(0);
                    return Some(key);
                }
            }
        }
    }

    fn bump_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        s
    }

    fn heap_pos(&self, h: TimerHandle) -> Option<usize> {
        let e = self.entries.get(h.index as usize)?;
        (e.gen == h.gen && e.key.is_some()).then_some(e.link as usize)
    }

    /// Removes the node at heap position `pos`, frees its entry, returns the
    /// key.
    fn remove_at(&mut self, pos: usize) -> K {
        let node = self.heap.swap_remove(pos);
        if pos < self.heap.len() {
            let moved = self.heap[pos].entry;
            self.entries[moved as usize].link = pos as u32;
            // The node moved into `pos` came from the bottom: it may belong
            // above or below.
            if pos > 0 && self.heap[pos].before(&self.heap[(pos - 1) / 2]) {
                self.sift_up(pos);
            } else {
                self.sift_down(pos);
            }
        }
        let e = &mut self.entries[node.entry as usize];
        let key = e.key.take().expect("queued entry holds a key");
        e.gen = e.gen.wrapping_add(1);
        e.link = self.free_head;
        self.free_head = node.entry;
        key
    }

    fn sift_up(&mut self, mut pos: usize) {
        let node = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !node.before(&self.heap[parent]) {
                break;
            }
            self.heap[pos] = self.heap[parent];
            self.entries[self.heap[pos].entry as usize].link = pos as u32;
            pos = parent;
        }
        self.heap[pos] = node;
        self.entries[node.entry as usize].link = pos as u32;
    }

    fn sift_down(&mut self, mut pos: usize) {
        let node = self.heap[pos];
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.heap[right].before(&self.heap[left]) {
                right
            } else {
                left
            };
            if !self.heap[child].before(&node) {
                break;
            }
            self.heap[pos] = self.heap[child];
            self.entries[self.heap[pos].entry as usize].link = pos as u32;
            pos = child;
        }
        self.heap[pos] = node;
        self.entries[node.entry as usize].link = pos as u32;
    }
}
