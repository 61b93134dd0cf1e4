//! Fixed-size I/O buffers allocated once at start-up, handed out most recently
//! freed first (the cache-hot one), and owned by the kernel while an operation
//! that reads or writes them is in flight.
//!
//! Ownership rule (monoio's): a buffer given to an operation stays with the
//! kernel until that operation's completion is reaped, even if the session
//! that asked for it has gone; [`BufPool::release`] of an in-flight buffer
//! parks it and the completion returns it to the free list.

/// Index of a buffer in its pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufId(pub u16);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// On the free list.
    Free,
    /// Held by userspace; readable and writable through the pool.
    Owned,
    /// Owned by the kernel until its completion arrives.
    InFlight,
    /// In flight and already released by its holder: freed by the completion.
    Parked,
}

/// A pool of `count` buffers of `size` bytes in one allocation.
pub struct BufPool {
    mem: Box<[u8]>,
    size: usize,
    free: Vec<u16>,
    state: Box<[State]>,
}

impl BufPool {
    /// Allocates `count` buffers of `size` bytes (count is capped at
    /// [`crate::MAX_BUFS`], what `user_data` can name).
    /// Pages are only touched (and so only resident) once a buffer is used.
    #[must_use]
    pub fn new(count: usize, size: usize) -> Self {
        let count = count.min(crate::MAX_BUFS);
        // Free list in reverse so that the first `get` returns buffer 0: the
        // pool then touches as few pages as the load needs.
        let free = (0..count as u16).rev().collect();
        BufPool {
            mem: vec![0u8; count * size].into_boxed_slice(),
            size,
            free,
            state: vec![State::Free; count].into_boxed_slice(),
        }
    }

    /// Size of every buffer.
    #[must_use]
    pub fn buf_size(&self) -> usize {
        self.size
    }

    /// Buffers on the free list.
    #[must_use]
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Takes the most recently freed buffer, or `None` when all are in use.
    pub fn get(&mut self) -> Option<BufId> {
        let id = self.free.pop()?;
        self.state[usize::from(id)] = State::Owned;
        Some(BufId(id))
    }

    /// Gives a buffer back. An in-flight buffer is parked until its completion.
    pub fn release(&mut self, id: BufId) {
        let i = usize::from(id.0);
        match self.state[i] {
            State::Owned => {
                self.state[i] = State::Free;
                self.free.push(id.0);
            }
            State::InFlight => self.state[i] = State::Parked,
            // Double release: a caller bug, harmless to ignore in release builds.
            State::Free | State::Parked => debug_assert!(false, "buffer {i} released twice"),
        }
    }

    /// The buffer's bytes, unless the kernel owns it now.
    #[must_use]
    pub fn bytes(&self, id: BufId) -> Option<&[u8]> {
        let i = usize::from(id.0);
        (self.state[i] == State::Owned).then(|| &self.mem[i * self.size..(i + 1) * self.size])
    }

    /// The buffer's bytes, mutably, unless the kernel owns it now.
    pub fn bytes_mut(&mut self, id: BufId) -> Option<&mut [u8]> {
        let i = usize::from(id.0);
        (self.state[i] == State::Owned).then(|| &mut self.mem[i * self.size..(i + 1) * self.size])
    }

    /// Marks `id` kernel-owned and returns its address, for the ring only.
    /// Returns `None` when the caller does not own it.
    pub(crate) fn lend(&mut self, id: BufId) -> Option<*mut u8> {
        let i = usize::from(id.0);
        if self.state.get(i) != Some(&State::Owned) {
            return None;
        }
        self.state[i] = State::InFlight;
        Some(self.mem[i * self.size..].as_mut_ptr())
    }

    /// The kernel has finished with `id` (its completion was reaped).
    pub(crate) fn returned(&mut self, id: u16) {
        let i = usize::from(id);
        match self.state.get(i) {
            Some(State::InFlight) => self.state[i] = State::Owned,
            Some(State::Parked) => {
                self.state[i] = State::Free;
                self.free.push(id);
            }
            _ => debug_assert!(false, "completion for buffer {i} not in flight"),
        }
    }

    /// Buffers the kernel still owns.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.state
            .iter()
            .filter(|s| matches!(s, State::InFlight | State::Parked))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mru_order() {
        let mut p = BufPool::new(4, 16);
        let a = p.get().unwrap();
        let b = p.get().unwrap();
        assert_eq!((a, b), (BufId(0), BufId(1)));
        p.release(a);
        assert_eq!(p.get(), Some(a), "most recently freed comes back first");
    }

    #[test]
    fn exhaustion() {
        let mut p = BufPool::new(2, 8);
        assert!(p.get().is_some());
        assert!(p.get().is_some());
        assert!(p.get().is_none());
    }

    #[test]
    fn in_flight_buffer_is_parked_until_completion() {
        let mut p = BufPool::new(1, 8);
        let a = p.get().unwrap();
        assert!(p.lend(a).is_some());
        assert!(p.bytes(a).is_none(), "kernel owns it");
        assert!(p.lend(a).is_none(), "cannot lend twice");
        p.release(a);
        assert_eq!(p.available(), 0, "parked, not free");
        p.returned(a.0);
        assert_eq!(p.available(), 1);
        assert_eq!(p.in_flight(), 0);
    }

    #[test]
    fn completion_gives_buffer_back_to_holder() {
        let mut p = BufPool::new(1, 8);
        let a = p.get().unwrap();
        p.lend(a).unwrap();
        p.returned(a.0);
        assert_eq!(p.bytes(a).map(<[u8]>::len), Some(8));
    }
}
