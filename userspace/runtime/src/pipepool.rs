//! Per-worker pool of kernel pipes for zero-copy splicing.
//!
//! A session holds a pipe only while bytes are in it; an empty pipe goes back
//! to the pool, most recently used first (its pages are still warm). A pipe
//! that still holds bytes when its session dies is closed, never reused: the
//! next session would otherwise receive another session's data.

use std::io;
use std::os::fd::RawFd;

use crate::sys;

/// A pipe: read end and write end.
#[derive(Debug, PartialEq, Eq)]
pub struct Pipe {
    /// Read end.
    pub rd: RawFd,
    /// Write end.
    pub wr: RawFd,
}

/// Pool of pipes, created on demand up to `max`, kept when returned empty.
pub struct PipePool {
    free: Vec<Pipe>,
    /// Pipes in existence (free + lent).
    live: usize,
    max: usize,
    size: usize,
}

impl PipePool {
    /// A pool of at most `max` pipes of `size` bytes (0: kernel default),
    /// `prealloc` of them created now.
    ///
    /// # Errors
    /// The `pipe2` error if pre-allocation fails (fd limit).
    pub fn new(max: usize, size: usize, prealloc: usize) -> io::Result<Self> {
        let mut pool = PipePool {
            free: Vec::with_capacity(max),
            live: 0,
            max,
            size,
        };
        for _ in 0..prealloc.min(max) {
            let (rd, wr) = sys::pipe(size)?;
            pool.free.push(Pipe { rd, wr });
            pool.live += 1;
        }
        Ok(pool)
    }

    /// An empty pipe, or `None` when `max` pipes are lent or the system is out
    /// of file descriptors (the caller falls back to buffered copy or waits).
    pub fn get(&mut self) -> Option<Pipe> {
        if let Some(p) = self.free.pop() {
            return Some(p);
        }
        if self.live >= self.max {
            return None;
        }
        let (rd, wr) = sys::pipe(self.size).ok()?;
        self.live += 1;
        Some(Pipe { rd, wr })
    }

    /// Returns a pipe; `empty` says whether all bytes spliced in were spliced out.
    pub fn put(&mut self, pipe: Pipe, empty: bool) {
        if empty && self.free.len() < self.max {
            self.free.push(pipe);
        } else {
            sys::close(pipe.rd);
            sys::close(pipe.wr);
            self.live -= 1;
        }
    }

    /// Pipes currently lent out.
    #[must_use]
    pub fn lent(&self) -> usize {
        self.live - self.free.len()
    }
}

impl Drop for PipePool {
    fn drop(&mut self) {
        for p in self.free.drain(..) {
            sys::close(p.rd);
            sys::close(p.wr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mru_reuse_and_limit() {
        let mut pool = PipePool::new(2, 0, 1).unwrap();
        let a = pool.get().unwrap();
        let a_rd = a.rd;
        let b = pool.get().unwrap();
        assert!(pool.get().is_none(), "limit reached");
        assert_eq!(pool.lent(), 2);
        pool.put(b, true);
        pool.put(a, true);
        assert_eq!(pool.get().unwrap().rd, a_rd, "most recently returned first");
    }

    #[test]
    fn dirty_pipe_is_closed_not_reused() {
        let mut pool = PipePool::new(1, 0, 0).unwrap();
        let a = pool.get().unwrap();
        pool.put(a, false);
        assert_eq!(pool.lent(), 0);
        assert!(
            pool.free.is_empty(),
            "a pipe with bytes in it never goes back to the free list"
        );
        let b = pool.get().unwrap();
        pool.put(b, true);
    }
}
