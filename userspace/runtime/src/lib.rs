//! weir's per-core io_uring runtime: one ring per worker ([`Ring`]), MRU pools
//! of I/O buffers ([`BufPool`]) and pipes ([`PipePool`]), the `user_data`
//! encoding that recognises stale completions ([`UserData`]), worker wake-ups
//! ([`Waker`]), CPU pinning and every direct system call of the data path
//! ([`sys`]).
//!
//! This crate (with `weir-kernel`) is where userspace `unsafe` lives; every
//! block carries a `// SAFETY:` comment and the pushes that hand memory to the
//! kernel are confined to `ring.rs`. It knows nothing of HTTP or of sessions:
//! the proxy crate drives it.

mod bufpool;
mod pipepool;
mod ring;
pub mod sys;
mod userdata;

use std::io;
use std::os::fd::RawFd;

pub use bufpool::{BufId, BufPool};
pub use pipepool::{Pipe, PipePool};
pub use ring::{AddrId, Completion, Ring};
pub use userdata::{OpKind, UserData, GEN_MASK, MAX_BUFS, MAX_KIND, MAX_SLOT};

/// Errors of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A system call failed.
    #[error("{op}: {source}")]
    Io {
        /// The failing call.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A buffer given to an operation is free or already in flight.
    #[error("buffer not owned by the caller")]
    BufferNotOwned,
    /// A byte range outside the buffer (or empty).
    #[error("byte range outside the buffer")]
    BufferRange,
    /// An address index outside the ring's table.
    #[error("no such address in the ring's table")]
    NoSuchAddress,
}

/// Wakes a worker blocked in its ring from another thread (a signal handler
/// thread, the stats socket): an eventfd the worker polls.
#[derive(Debug)]
pub struct Waker {
    fd: RawFd,
}

impl Waker {
    /// A new waker.
    ///
    /// # Errors
    /// `eventfd` failures.
    pub fn new() -> Result<Self, RuntimeError> {
        sys::eventfd()
            .map(|fd| Waker { fd })
            .map_err(|e| RuntimeError::Io {
                op: "eventfd",
                source: e,
            })
    }

    /// The fd the worker polls.
    #[must_use]
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Wakes the worker (async-signal-safe: one `write`).
    pub fn wake(&self) {
        let _ = sys::eventfd_signal(self.fd);
    }

    /// Resets the counter after the worker's poll fired.
    pub fn drain(&self) {
        sys::eventfd_drain(self.fd);
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        sys::close(self.fd);
    }
}

/// Pins the calling thread to CPU `cpu`. Returns false if the CPU does not
/// exist or the pinning failed (the worker then runs unpinned).
#[must_use]
pub fn pin_current_thread(cpu: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
}

/// Number of CPUs this process may run on (the default `nbthread`).
#[must_use]
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Monotonic milliseconds since an arbitrary origin: the loop reads it once
/// per turn (`clock_gettime` is a real system call on some VMs).
#[must_use]
pub fn monotonic_ms() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}
