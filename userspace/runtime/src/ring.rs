//! One io_uring per worker, with the only `unsafe` push of the runtime.
//!
//! Building an operation is safe; every method here checks what the kernel
//! will touch before pushing it (tokio io-uring's split). Memory the kernel
//! reads or writes after the push is owned by the ring itself: pool buffers
//! (lent until their completion is reaped) and the server address table
//! (allocated once, never changed while the ring lives).

use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::RawFd;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use socket2::SockAddr;

use crate::bufpool::{BufId, BufPool};
use crate::userdata::UserData;
use crate::RuntimeError;

/// Index into the ring's address table (a server's address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrId(pub u32);

/// One reaped completion.
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    /// What the submitter built (without the buffer).
    pub ud: UserData,
    /// The buffer the operation owned: now back with its holder (or freed
    /// if the holder released it meanwhile).
    pub buf: Option<BufId>,
    /// The syscall-style result: ≥ 0 success, < 0 is `-errno`.
    pub result: i32,
    /// A multishot operation will post more completions.
    pub more: bool,
}

/// A worker's ring, its buffer pool and its address table.
pub struct Ring {
    uring: IoUring,
    bufs: BufPool,
    addrs: Box<[SockAddr]>,
    /// Completions taken off the queue while pushing (the kernel refused a
    /// submission until the completion queue was drained); `reap` returns
    /// them first.
    parked: std::collections::VecDeque<Completion>,
}

impl Ring {
    /// A ring of `entries` submission slots (completion queue 4× larger),
    /// owning `bufs` and the addresses operations may connect to. Must be
    /// created, used and dropped on one thread (single issuer); completions
    /// are only produced while that thread is in [`Ring::submit_and_wait`].
    ///
    /// # Errors
    /// `io_uring_setup` failures (io_uring disabled, memlock limits).
    pub fn new(entries: u32, bufs: BufPool, addrs: &[SocketAddr]) -> Result<Ring, RuntimeError> {
        let uring = IoUring::builder()
            .setup_cqsize(entries * 4)
            // One thread submits and reaps (thread-per-core): completions'
            // task work runs only when that thread waits for completions,
            // never as an interruption in the middle of a loop turn.
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries)
            .map_err(|e| RuntimeError::Io {
                op: "io_uring_setup",
                source: e,
            })?;
        let addrs = addrs.iter().map(|a| SockAddr::from(*a)).collect();
        Ok(Ring {
            uring,
            bufs,
            addrs,
            parked: std::collections::VecDeque::new(),
        })
    }

    /// The buffer pool.
    #[must_use]
    pub fn bufs(&self) -> &BufPool {
        &self.bufs
    }

    /// The buffer pool, mutably.
    pub fn bufs_mut(&mut self) -> &mut BufPool {
        &mut self.bufs
    }

    /// Size of the completion queue: the capacity [`Ring::reap`] needs.
    #[must_use]
    pub fn cq_capacity(&self) -> usize {
        self.uring.params().cq_entries() as usize
    }

    fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: every entry built by this module refers only to memory
            // owned by the ring for as long as the operation can run: pool
            // buffers are marked in flight (and so neither reused nor exposed
            // to userspace) until their completion is reaped, the address
            // table is never modified or freed while the ring lives, and the
            // other operations carry no pointers. On drop the ring waits for
            // the kernel to give lent buffers back (or leaks them).
            let pushed = unsafe { self.uring.submission().push(entry) };
            if pushed.is_ok() {
                return;
            }
            // Queue full: hand what is queued to the kernel and retry.
            match self.uring.submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // The kernel wants the completion queue drained first:
                    // park the completions (rare: a few per overload) for the
                    // next `reap` and retry.
                    self.park_completions();
                }
                // EINTR and the like: retry.
                Err(_) => {}
            }
        }
    }

    fn park_completions(&mut self) {
        for cqe in self.uring.completion() {
            self.parked.push_back(completion(&mut self.bufs, &cqe));
        }
    }

    /// Multishot accept on listener `fd`: one completion per connection (the
    /// result is the new fd, non-blocking and close-on-exec) until
    /// cancelled or failed (`more == false`).
    pub fn accept_multi(&mut self, fd: RawFd, ud: UserData) {
        let e = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(ud.raw());
        self.push(&e);
    }

    /// One-shot poll of `fd` for `events` (`libc::POLLIN`…); the result is
    /// the returned event mask.
    pub fn poll(&mut self, fd: RawFd, events: u32, ud: UserData) {
        let e = opcode::PollAdd::new(types::Fd(fd), events)
            .build()
            .user_data(ud.raw());
        self.push(&e);
    }

    /// Multishot poll (used for wake-up eventfds).
    pub fn poll_multi(&mut self, fd: RawFd, events: u32, ud: UserData) {
        let e = opcode::PollAdd::new(types::Fd(fd), events)
            .multi(true)
            .build()
            .user_data(ud.raw());
        self.push(&e);
    }

    /// Receives into `buf[offset..]`; the buffer belongs to the kernel until
    /// the completion is reaped.
    ///
    /// # Errors
    /// [`RuntimeError::BufferNotOwned`] if `buf` is free or already in flight.
    pub fn recv(
        &mut self,
        fd: RawFd,
        buf: BufId,
        offset: usize,
        ud: UserData,
    ) -> Result<(), RuntimeError> {
        let size = self.bufs.buf_size();
        if offset >= size {
            return Err(RuntimeError::BufferRange);
        }
        let ptr = self.bufs.lend(buf).ok_or(RuntimeError::BufferNotOwned)?;
        // SAFETY: `offset < size`, so the pointer stays inside this buffer.
        let ptr = unsafe { ptr.add(offset) };
        let e = opcode::Recv::new(types::Fd(fd), ptr, (size - offset) as u32)
            .build()
            .user_data(ud.with_buf(buf.0).raw());
        self.push(&e);
        Ok(())
    }

    /// Sends `buf[range]` (MSG_NOSIGNAL: a reset peer is an error, not a
    /// signal); the buffer belongs to the kernel until the completion.
    ///
    /// # Errors
    /// [`RuntimeError::BufferNotOwned`] or [`RuntimeError::BufferRange`].
    pub fn send(
        &mut self,
        fd: RawFd,
        buf: BufId,
        range: Range<usize>,
        ud: UserData,
    ) -> Result<(), RuntimeError> {
        if range.start >= range.end || range.end > self.bufs.buf_size() {
            return Err(RuntimeError::BufferRange);
        }
        let ptr = self.bufs.lend(buf).ok_or(RuntimeError::BufferNotOwned)?;
        // SAFETY: `range` was checked to lie inside this buffer.
        let ptr = unsafe { ptr.add(range.start) };
        let e = opcode::Send::new(types::Fd(fd), ptr, range.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(ud.with_buf(buf.0).raw());
        self.push(&e);
        Ok(())
    }

    /// Connects `fd` to address `addr` of the table; the result is 0 or `-errno`.
    ///
    /// # Errors
    /// [`RuntimeError::NoSuchAddress`] for an index outside the table.
    pub fn connect(&mut self, fd: RawFd, addr: AddrId, ud: UserData) -> Result<(), RuntimeError> {
        let a = self
            .addrs
            .get(addr.0 as usize)
            .ok_or(RuntimeError::NoSuchAddress)?;
        let e = opcode::Connect::new(types::Fd(fd), a.as_ptr().cast(), a.len())
            .build()
            .user_data(ud.raw());
        self.push(&e);
        Ok(())
    }

    /// The address behind `addr`.
    #[must_use]
    pub fn addr(&self, addr: AddrId) -> Option<SocketAddr> {
        self.addrs
            .get(addr.0 as usize)
            .and_then(SockAddr::as_socket)
    }

    /// Cancels every operation on `fd`, then closes it, in this order in the
    /// submission queue, so that the fd number cannot be reused by an accept
    /// before the cancellation has found its operations. The cancelled
    /// operations complete with `-ECANCELED` (their buffers come back then).
    pub fn cancel_and_close(&mut self, fd: RawFd) {
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
            .build()
            .user_data(UserData::IGNORE.raw());
        self.push(&cancel);
        let close = opcode::Close::new(types::Fd(fd))
            .build()
            .user_data(UserData::IGNORE.raw());
        self.push(&close);
    }

    /// Cancels every operation on `fd` without closing it.
    pub fn cancel_fd(&mut self, fd: RawFd) {
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
            .build()
            .user_data(UserData::IGNORE.raw());
        self.push(&cancel);
    }

    /// Submits what is queued and waits for at least one completion, or for
    /// `timeout` (None: forever). Interruptions and timeouts are not errors.
    ///
    /// # Errors
    /// Other `io_uring_enter` failures.
    pub fn submit_and_wait(&mut self, timeout: Option<Duration>) -> Result<(), RuntimeError> {
        let r = match timeout {
            Some(t) => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.uring.submitter().submit_with_args(1, &args)
            }
            None => self.uring.submit_and_wait(1),
        };
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(RuntimeError::Io {
                op: "io_uring_enter",
                source: e,
            }),
        }
    }

    /// Submits what is queued without waiting.
    ///
    /// # Errors
    /// `io_uring_enter` failures other than EBUSY/EINTR.
    pub fn submit(&mut self) -> Result<(), RuntimeError> {
        match self.uring.submit() {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => Ok(()),
            Err(e) => Err(RuntimeError::Io {
                op: "io_uring_enter",
                source: e,
            }),
        }
    }

    /// Moves every available completion into `out` (cleared first; give it
    /// [`Ring::cq_capacity`] so it never grows), taking lent buffers back.
    pub fn reap(&mut self, out: &mut Vec<Completion>) {
        out.clear();
        let cap = out.capacity().max(1);
        while out.len() < cap {
            let Some(c) = self.parked.pop_front() else {
                break;
            };
            out.push(c);
        }
        let mut cq = self.uring.completion();
        while out.len() < cap {
            let Some(cqe) = cq.next() else { break };
            out.push(completion(&mut self.bufs, &cqe));
        }
    }
}

/// Decodes a completion and takes its buffer back from the kernel.
fn completion(bufs: &mut BufPool, cqe: &cqueue::Entry) -> Completion {
    let raw = UserData::from_raw(cqe.user_data());
    let buf = raw.buf();
    if let Some(b) = buf {
        bufs.returned(b);
    }
    Completion {
        ud: raw.without_buf(),
        buf: buf.map(BufId),
        result: cqe.result(),
        more: cqueue::more(cqe.flags()),
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.bufs.in_flight() == 0 {
            return;
        }
        // The kernel still owns some buffers: cancel everything and wait a
        // bounded time for the completions; if they do not all come, leak the
        // buffer memory rather than free memory the kernel may write to.
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(UserData::IGNORE.raw());
        self.push(&cancel);
        let mut out = Vec::with_capacity(self.cq_capacity());
        for _ in 0..100 {
            if self
                .submit_and_wait(Some(Duration::from_millis(10)))
                .is_err()
            {
                break;
            }
            self.reap(&mut out);
            if self.bufs.in_flight() == 0 {
                return;
            }
        }
        let bufs = std::mem::replace(&mut self.bufs, BufPool::new(0, 0));
        std::mem::forget(bufs);
    }
}

#[cfg(test)]
mod tests;
