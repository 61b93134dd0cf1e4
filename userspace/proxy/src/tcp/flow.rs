//! One direction of a TCP tunnel (client→server or server→client): a small
//! state machine that moves bytes from `src` to `dst` either by zero-copy
//! splice through a pipe or by copying through a pool buffer.
//!
//! Rules it keeps:
//! * An idle direction holds nothing: no pipe, no buffer, only a poll armed
//!   on `src`. Pipes and buffers are taken when data is readable and given
//!   back as soon as they are drained.
//! * Splice is a direct non-blocking syscall issued only when `src` is known
//!   readable (or `dst` writable). io_uring's own `IORING_OP_SPLICE` is
//!   always handed to an `iou-wrk` kernel thread (the kernel forces it
//!   async), even with data already waiting and `SPLICE_F_NONBLOCK`:
//!   checked on kernel 6.18 by submitting one such splice and finding an
//!   `iou-wrk-N` thread in `/proc/self/task` right after its completion. A
//!   thread hop per call is what a thread-per-core design must avoid.
//!   EAGAIN re-arms a poll.
//! * Buffered copy uses io_uring `recv`/`send`, the buffer owned by the ring
//!   while an operation is in flight.
//! * End of stream from `src` (after every byte is delivered) shuts down the
//!   write side of `dst` only: half-close.

use std::io;
use std::os::fd::RawFd;

use weir_runtime::{sys, BufId, OpKind, Pipe, PipePool, Ring, UserData};

/// First op kind of the flow kinds; each direction uses four.
pub const KIND_BASE: u8 = 8;
/// Offsets of the four kinds of a direction.
const READABLE: u8 = 0;
const WRITABLE: u8 = 1;
const RECV: u8 = 2;
const SEND: u8 = 3;

/// Poll mask for "readable or end of stream".
const POLL_READ: u32 = (libc::POLLIN | libc::POLLRDHUP) as u32;
/// Poll mask for "writable".
const POLL_WRITE: u32 = libc::POLLOUT as u32;
/// Splice rounds (pipe filled from `src`, emptied into `dst`) per event
/// before re-polling: other sessions get their turn, and in the forwarding
/// bench (benches/forward.rs) 2 rounds gave a better throughput than 16
/// (5.2 vs ≈4 Gbit/s on a loaded 2-core VM; noisy, same CPU per GiB).
const MAX_ROUNDS: u32 = 2;

/// Which direction a flow moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client → server ("request" in HAProxy's splice options).
    ClientToServer = 0,
    /// Server → client ("response").
    ServerToClient = 1,
}

/// What a completion means for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The poll on `src` fired.
    Readable,
    /// The poll on `dst` fired.
    Writable,
    /// The `recv` completed with this result.
    Received(i32),
    /// The `send` completed with this result.
    Sent(i32),
}

impl Event {
    /// Decodes a completion of `kind` for a flow: the direction and the event.
    #[must_use]
    pub fn decode(kind: OpKind, result: i32) -> Option<(Dir, Event)> {
        let k = kind.0.checked_sub(KIND_BASE)?;
        let dir = match k / 4 {
            0 => Dir::ClientToServer,
            1 => Dir::ServerToClient,
            _ => return None,
        };
        let ev = match k % 4 {
            READABLE => Event::Readable,
            WRITABLE => Event::Writable,
            RECV => Event::Received(result),
            _ => Event::Sent(result),
        };
        Some((dir, ev))
    }
}

/// Where a flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started (the session is not forwarding yet).
    Idle,
    /// A poll for readability of `src` is in flight. Holds nothing.
    WaitRead,
    /// A `recv` into the flow's buffer is in flight (copy mode).
    Reading,
    /// Bytes are held (pipe or buffer) and a poll for writability of `dst`
    /// is in flight (splice mode).
    WaitWrite,
    /// A `send` from the flow's buffer is in flight (copy mode).
    Writing,
    /// `src` ended, every byte was delivered and `dst`'s write side is shut.
    Done,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An operation is in flight; wait for its completion.
    Pending,
    /// End of stream forwarded (`dst` shut for writing).
    Done,
    /// `src` reset the connection.
    SrcReset,
    /// `dst` reset the connection (or is gone).
    DstReset,
    /// Some other failure (errno); the session closes.
    Failed(i32),
}

/// The result of handling one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// How it ended.
    pub outcome: Outcome,
    /// Bytes were read from `src`.
    pub read: bool,
    /// Bytes were written to `dst`.
    pub wrote: bool,
}

/// Resources a flow borrows from its worker.
pub struct Io<'a> {
    /// The worker's ring (with its buffer pool).
    pub ring: &'a mut Ring,
    /// The worker's pipes.
    pub pipes: &'a mut PipePool,
    /// Bytes to request per splice from a socket into a pipe.
    pub splice_chunk: usize,
}

/// Identity of a flow in `user_data`.
#[derive(Debug, Clone, Copy)]
pub struct Tag {
    /// Session slot.
    pub slot: u32,
    /// Session generation.
    pub generation: u32,
    /// Direction.
    pub dir: Dir,
}

impl Tag {
    fn ud(self, op: u8) -> UserData {
        UserData::new(
            OpKind(KIND_BASE + self.dir as u8 * 4 + op),
            self.slot,
            self.generation,
        )
    }
}

/// One direction's forwarding state. 32 bytes.
#[derive(Debug)]
pub struct Flow {
    /// Pipe holding spliced bytes (splice mode, only while bytes are in flight).
    pipe: Option<Pipe>,
    /// Buffer holding copied bytes (copy mode, only while bytes are in flight).
    buf: Option<BufId>,
    /// Bytes in the pipe, or valid bytes in the buffer.
    pending: u32,
    /// Bytes of the buffer already sent.
    sent: u32,
    /// Where the flow is.
    state: State,
    /// Splice (true) or copy (false). May drop to copy if no pipe is available.
    splice: bool,
    /// `src` reached end of stream.
    eof: bool,
    /// Bytes forwarded so far (low 32 bits kept in the session's totals).
    pub(crate) chunk_bytes: u32,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn is_reset(errno: i32) -> bool {
    matches!(
        errno,
        libc::ECONNRESET
            | libc::EPIPE
            | libc::ECONNABORTED
            | libc::ETIMEDOUT
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
    )
}

impl Flow {
    /// A flow that will splice when `splice` is true, copy otherwise.
    #[must_use]
    pub fn new(splice: bool) -> Self {
        Flow {
            pipe: None,
            buf: None,
            pending: 0,
            sent: 0,
            state: State::Idle,
            splice,
            eof: false,
            chunk_bytes: 0,
        }
    }

    /// Where the flow is.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the flow moves bytes by splice (false: by copy).
    #[must_use]
    pub fn splices(&self) -> bool {
        self.splice
    }

    /// `src` has ended (its FIN was seen), whether or not everything was delivered.
    #[must_use]
    pub fn src_ended(&self) -> bool {
        self.eof
    }

    /// Starts forwarding: arms a poll on `src`. Holds nothing until data comes.
    pub fn start(&mut self, src: RawFd, tag: Tag, io: &mut Io<'_>) {
        self.state = State::WaitRead;
        io.ring.poll(src, POLL_READ, tag.ud(READABLE));
    }

    /// Takes bytes moved in this step (for the session's byte counters).
    pub fn take_moved(&mut self) -> u32 {
        std::mem::take(&mut self.chunk_bytes)
    }

    /// Handles `ev` (a completion for this flow).
    pub fn handle(&mut self, ev: Event, src: RawFd, dst: RawFd, tag: Tag, io: &mut Io<'_>) -> Step {
        let mut step = Step {
            outcome: Outcome::Pending,
            read: false,
            wrote: false,
        };
        step.outcome = match ev {
            Event::Readable | Event::Writable if self.splice => {
                self.pump_splice(src, dst, tag, io, &mut step)
            }
            Event::Readable => self.copy_start_read(src, dst, tag, io),
            Event::Writable => Outcome::Failed(libc::EINVAL),
            Event::Received(n) => self.copy_received(n, src, dst, tag, io, &mut step),
            Event::Sent(n) => self.copy_sent(n, src, dst, tag, io, &mut step),
        };
        step
    }

    fn finish(&mut self, dst: RawFd) -> Outcome {
        self.state = State::Done;
        // ENOTCONN: the peer is already gone; the other direction will see it.
        let _ = sys::shutdown_write(dst);
        Outcome::Done
    }

    fn wait_read(&mut self, src: RawFd, tag: Tag, io: &mut Io<'_>) -> Outcome {
        self.state = State::WaitRead;
        io.ring.poll(src, POLL_READ, tag.ud(READABLE));
        Outcome::Pending
    }

    fn pump_splice(
        &mut self,
        src: RawFd,
        dst: RawFd,
        tag: Tag,
        io: &mut Io<'_>,
        step: &mut Step,
    ) -> Outcome {
        for _ in 0..MAX_ROUNDS {
            if self.pending > 0 {
                let Some(pipe) = &self.pipe else {
                    return Outcome::Failed(libc::EINVAL);
                };
                match sys::splice(pipe.rd, dst, self.pending as usize) {
                    Ok(n) => {
                        self.pending -= n as u32;
                        self.chunk_bytes = self.chunk_bytes.wrapping_add(n as u32);
                        step.wrote = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if is_reset(errno(&e)) => return Outcome::DstReset,
                    Err(e) => return Outcome::Failed(errno(&e)),
                }
                if self.pending > 0 {
                    self.state = State::WaitWrite;
                    io.ring.poll(dst, POLL_WRITE, tag.ud(WRITABLE));
                    return Outcome::Pending;
                }
            }
            // The pipe is empty here.
            if self.eof {
                if let Some(p) = self.pipe.take() {
                    io.pipes.put(p, true);
                }
                return self.finish(dst);
            }
            if self.pipe.is_none() {
                match io.pipes.get() {
                    Some(p) => self.pipe = Some(p),
                    None => {
                        // No pipe (limit or fds): fall back to copying.
                        self.splice = false;
                        return self.copy_start_read(src, dst, tag, io);
                    }
                }
            }
            let Some(pipe) = &self.pipe else {
                return Outcome::Failed(libc::EINVAL);
            };
            match sys::splice(src, pipe.wr, io.splice_chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.pending = n as u32;
                    step.read = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Drained: give the empty pipe back and wait.
                    if let Some(p) = self.pipe.take() {
                        io.pipes.put(p, true);
                    }
                    return self.wait_read(src, tag, io);
                }
                Err(e) if is_reset(errno(&e)) => return Outcome::SrcReset,
                Err(e) => return Outcome::Failed(errno(&e)),
            }
        }
        // Still busy after MAX_ROUNDS: let other sessions run. Bytes held
        // wait for writability, otherwise the next poll fires at once.
        if self.pending > 0 {
            self.state = State::WaitWrite;
            io.ring.poll(dst, POLL_WRITE, tag.ud(WRITABLE));
            return Outcome::Pending;
        }
        if let Some(p) = self.pipe.take() {
            io.pipes.put(p, true);
        }
        if self.eof {
            return self.finish(dst);
        }
        self.wait_read(src, tag, io)
    }

    fn copy_start_read(&mut self, src: RawFd, _dst: RawFd, tag: Tag, io: &mut Io<'_>) -> Outcome {
        let buf = match self.buf {
            Some(b) => b,
            None => match io.ring.bufs_mut().get() {
                Some(b) => {
                    self.buf = Some(b);
                    b
                }
                None => return Outcome::Failed(libc::ENOBUFS),
            },
        };
        if io.ring.recv(src, buf, 0, tag.ud(RECV)).is_err() {
            return Outcome::Failed(libc::EINVAL);
        }
        self.state = State::Reading;
        Outcome::Pending
    }

    fn release_buf(&mut self, io: &mut Io<'_>) {
        if let Some(b) = self.buf.take() {
            io.ring.bufs_mut().release(b);
        }
    }

    fn copy_received(
        &mut self,
        n: i32,
        src: RawFd,
        dst: RawFd,
        tag: Tag,
        io: &mut Io<'_>,
        step: &mut Step,
    ) -> Outcome {
        match n {
            0 => {
                self.eof = true;
                self.release_buf(io);
                self.finish(dst)
            }
            n if n > 0 => {
                step.read = true;
                self.pending = n as u32;
                self.sent = 0;
                self.send_rest(dst, tag, io)
            }
            n if n == -libc::EAGAIN => self.wait_read(src, tag, io),
            n if is_reset(-n) => Outcome::SrcReset,
            n => Outcome::Failed(-n),
        }
    }

    fn send_rest(&mut self, dst: RawFd, tag: Tag, io: &mut Io<'_>) -> Outcome {
        let Some(buf) = self.buf else {
            return Outcome::Failed(libc::EINVAL);
        };
        if io
            .ring
            .send(
                dst,
                buf,
                self.sent as usize..self.pending as usize,
                tag.ud(SEND),
            )
            .is_err()
        {
            return Outcome::Failed(libc::EINVAL);
        }
        self.state = State::Writing;
        Outcome::Pending
    }

    fn copy_sent(
        &mut self,
        n: i32,
        src: RawFd,
        dst: RawFd,
        tag: Tag,
        io: &mut Io<'_>,
        step: &mut Step,
    ) -> Outcome {
        if n < 0 {
            if n == -libc::EAGAIN {
                return self.send_rest(dst, tag, io);
            }
            return if is_reset(-n) {
                Outcome::DstReset
            } else {
                Outcome::Failed(-n)
            };
        }
        step.wrote = n > 0;
        self.sent += n as u32;
        self.chunk_bytes = self.chunk_bytes.wrapping_add(n as u32);
        if self.sent < self.pending {
            return self.send_rest(dst, tag, io);
        }
        let was_full = self.pending as usize == io.ring.bufs().buf_size();
        self.pending = 0;
        self.sent = 0;
        if was_full {
            // A full buffer suggests more is waiting: read again at once.
            return self.copy_start_read(src, dst, tag, io);
        }
        self.release_buf(io);
        self.wait_read(src, tag, io)
    }

    /// Gives the pipe and buffer back (the session is closing). A pipe that
    /// still holds bytes is destroyed; an in-flight buffer is parked by the
    /// pool until its completion.
    pub fn release(&mut self, io: &mut Io<'_>) {
        if let Some(p) = self.pipe.take() {
            io.pipes.put(p, self.pending == 0);
        }
        self.release_buf(io);
        self.pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_is_small() {
        assert!(
            std::mem::size_of::<Flow>() <= 32,
            "{}",
            std::mem::size_of::<Flow>()
        );
    }

    #[test]
    fn kinds_round_trip() {
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            let tag = Tag {
                slot: 3,
                generation: 4,
                dir,
            };
            for (op, ev) in [
                (READABLE, Event::Readable),
                (WRITABLE, Event::Writable),
                (RECV, Event::Received(5)),
                (SEND, Event::Sent(5)),
            ] {
                let ud = tag.ud(op);
                assert_eq!(Event::decode(ud.kind(), 5), Some((dir, ev)));
            }
        }
        assert_eq!(Event::decode(OpKind(3), 0), None);
        assert_eq!(Event::decode(OpKind(KIND_BASE + 8), 0), None);
    }
}
