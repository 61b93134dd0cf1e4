//! The indexed min-heap behind `roundrobin` and `leastconn`: O(log N) picks
//! instead of a scan over every server.
//!
//! The heap holds exactly the servers that can take a connection now: in
//! the set taking traffic and below their maxconn. A server reaching its
//! maxconn leaves it; it comes back when a connection closes. So the top is
//! always the answer (or, when the top is to be avoided, the better of its
//! two children), and no pick ever walks past full servers.
//!
//! Ordering, per [`HeapKind`]:
//! * `Rr` — earliest virtual deadline first (weighted fair queueing's
//!   "virtual finish time"): each pick moves the server's deadline on by
//!   `VT_SCALE / weight`, so over any window each server gets picks in
//!   proportion to its weight, evenly spaced. Deadlines are compared with
//!   wrapping arithmetic, so the u64 clock may wrap; all live deadlines stay
//!   within a few increments of each other. Ties go to the lower position.
//! * `Lc` — fewest `(conns + 1) / weight` first; ties go to the server whose
//!   count changed least recently (a sequence number), then to the lower
//!   position, which makes equals take turns as HAProxy's tree does.

use super::{Balancer, Server, NIL};

/// Virtual-time units one pick of a weight-1 server costs (`roundrobin`).
/// 2^32 / weight keeps the rounding error below 1e-7 of a pick.
pub(super) const VT_SCALE: u64 = 1 << 32;

/// Which order the heap keeps, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeapKind {
    /// No heap (other algorithms).
    None,
    /// Earliest virtual deadline.
    Rr,
    /// Least connections per weight.
    Lc,
}

/// True if `a` is strictly earlier than `b` on a wrapping clock.
pub(super) fn earlier(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

impl Balancer {
    // Forced: without it LLVM stopped inlining the comparison into the sift
    // loops once the leastconn arm grew, costing ~45 instructions per
    // round-robin pick under callgrind.
    #[inline(always)]
    pub(super) fn heap_before(&self, a: u32, b: u32) -> bool {
        let (sa, sb): (&Server, &Server) = (&self.servers[a as usize], &self.servers[b as usize]);
        match self.heap_kind {
            HeapKind::Rr => {
                earlier(sa.deadline, sb.deadline) || (sa.deadline == sb.deadline && a < b)
            }
            HeapKind::Lc => {
                let l = (u64::from(sa.conns) + 1) * u64::from(sb.weight);
                let r = (u64::from(sb.conns) + 1) * u64::from(sa.weight);
                l < r || (l == r && (earlier(sa.seq, sb.seq) || (sa.seq == sb.seq && a < b)))
            }
            HeapKind::None => false,
        }
    }

    fn heap_set(&mut self, pos: usize, id: u32) {
        self.heap[pos] = id;
        self.servers[id as usize].heap_pos = pos as u32;
    }

    pub(super) fn heap_sift_up(&mut self, mut pos: usize) {
        let id = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !self.heap_before(id, self.heap[parent]) {
                break;
            }
            self.heap_set(pos, self.heap[parent]);
            pos = parent;
        }
        self.heap_set(pos, id);
    }

    pub(super) fn heap_sift_down(&mut self, mut pos: usize) {
        let id = self.heap[pos];
        let n = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.heap_before(self.heap[right], self.heap[left]) {
                right
            } else {
                left
            };
            if !self.heap_before(self.heap[child], id) {
                break;
            }
            self.heap_set(pos, self.heap[child]);
            pos = child;
        }
        self.heap_set(pos, id);
    }

    /// Restores order around `id` after its key changed either way.
    pub(super) fn heap_fix(&mut self, id: u32) {
        let pos = self.servers[id as usize].heap_pos;
        if pos == NIL {
            return;
        }
        let pos = pos as usize;
        if pos > 0 && self.heap_before(id, self.heap[(pos - 1) / 2]) {
            self.heap_sift_up(pos);
        } else {
            self.heap_sift_down(pos);
        }
    }

    pub(super) fn heap_insert(&mut self, id: u32) {
        if self.servers[id as usize].heap_pos != NIL {
            return;
        }
        self.heap.push(id);
        let pos = self.heap.len() - 1;
        self.servers[id as usize].heap_pos = pos as u32;
        self.heap_sift_up(pos);
    }

    pub(super) fn heap_remove(&mut self, id: u32) {
        let pos = self.servers[id as usize].heap_pos;
        if pos == NIL {
            return;
        }
        let pos = pos as usize;
        self.servers[id as usize].heap_pos = NIL;
        let last = self.heap.pop().expect("server in heap");
        if last != id {
            self.heap_set(pos, last);
            self.heap_fix(last);
        }
    }

    /// Position of the best heap entry that is not `avoid`: the top, or the
    /// better of its children when the top is avoided.
    pub(super) fn heap_best(&self, avoid: Option<u32>) -> Option<usize> {
        let top = *self.heap.first()?;
        if Some(top) != avoid {
            return Some(0);
        }
        match (self.heap.get(1), self.heap.get(2)) {
            (Some(&l), Some(&r)) => Some(if self.heap_before(r, l) { 2 } else { 1 }),
            (Some(_), None) => Some(1),
            _ => None,
        }
    }

    /// Refills the heap from scratch (control plane).
    pub(super) fn heap_rebuild(&mut self) {
        for &id in &self.heap {
            self.servers[id as usize].heap_pos = NIL;
        }
        self.heap.clear();
        if self.heap_kind == HeapKind::None {
            return;
        }
        for k in 0..self.lb.len() {
            let id = self.lb[k];
            if self.servers[id as usize].has_slot() {
                self.heap_insert(id);
            }
        }
    }

    /// Keeps heap membership and order right after `id`'s connection count
    /// changed (`opened`: +1, else −1).
    pub(super) fn heap_on_count(&mut self, id: u32, opened: bool) {
        let kind = self.heap_kind;
        // Round robin only cares about maxconn transitions.
        if !self.heap_tracks(id) {
            return;
        }
        if kind == HeapKind::Lc {
            self.seq = self.seq.wrapping_add(1);
            self.servers[id as usize].seq = self.seq;
        }
        let s = &self.servers[id as usize];
        let (in_heap, wants_in) = (s.heap_pos != NIL, s.in_lb && s.has_slot());
        match (in_heap, wants_in) {
            (true, false) => self.heap_remove(id),
            (false, true) => {
                if kind == HeapKind::Rr {
                    // Back from maxconn: no catching up on missed turns.
                    let s = &mut self.servers[id as usize];
                    if earlier(s.deadline, self.vt) {
                        s.deadline = self.vt;
                    }
                }
                self.heap_insert(id);
            }
            (true, true) if kind == HeapKind::Lc => {
                if opened {
                    let pos = self.servers[id as usize].heap_pos as usize;
                    self.heap_sift_down(pos);
                } else {
                    self.heap_fix(id);
                }
            }
            _ => {}
        }
    }
}
