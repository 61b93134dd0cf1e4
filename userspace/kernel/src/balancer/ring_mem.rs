//! `RingMem`: the `RINGS` array map mapped into weir's memory
//! (`BPF_F_MMAPABLE`), so a whole Maglev ring is written with one memory
//! copy instead of one `BPF_MAP_UPDATE_ELEM` system call per entry (65,537
//! of them for a default ring: most of the start-up time of a VIP).
//!
//! The kernel lays an array's values out back to back, each rounded up to
//! 8 bytes (`array_map_alloc`: `elem_size = round_up(value_size, 8)`), so the
//! `u32` of entry `i` sits at byte `8 * i` of the mapping.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, Ordering};

/// Bytes between consecutive `u32` values of a BPF array map.
const STRIDE: usize = 8;

/// A shared, writable mapping of the whole `RINGS` map. Unmapped on drop.
pub(super) struct RingMem {
    base: NonNull<u8>,
    /// Mapped length in bytes (whole pages).
    len: usize,
    /// Number of `u32` entries in the map.
    entries: usize,
}

impl RingMem {
    /// Maps `entries` `u32` values (`value_size` 4) of the array map `fd`. `None` when the map was
    /// not created mmapable (e.g. pinned by an older weir) or mmap fails:
    /// the caller then writes entries through system calls.
    pub(super) fn map(
        fd: BorrowedFd<'_>,
        entries: u32,
        value_size: u32,
        map_flags: u32,
    ) -> Option<Self> {
        if map_flags & weir_common::maps::MAP_F_MMAPABLE == 0 || entries == 0 || value_size != 4 {
            return None;
        }
        let entries = entries as usize;
        let bytes = entries.checked_mul(STRIDE)?;
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        let len = bytes.div_ceil(page).checked_mul(page)?;
        // SAFETY: a fresh shared mapping of a BPF map fd at offset 0 for at
        // most the map's (page-rounded) value area, which the kernel checks
        // (`array_map_mmap` refuses a longer one); no existing memory is
        // touched. The mapping stays valid after `fd` closes.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        Some(RingMem {
            base: NonNull::new(p.cast::<u8>())?,
            len,
            entries,
        })
    }

    /// Writes `values` at entries `start..start + values.len()` and makes the
    /// stores visible before any later publication (the caller flips the
    /// VIP's live slot with a map update afterwards). Panics on a range
    /// outside the map: the caller computes it from the sizes it created the
    /// map with, so that is a bug of weir, not input.
    pub(super) fn write(&mut self, start: usize, values: &[u32]) {
        let end = start.checked_add(values.len()).expect("ring range");
        assert!(
            end <= self.entries,
            "ring range {start}..{end} outside the map"
        );
        for (i, &v) in values.iter().enumerate() {
            // SAFETY: `start + i < entries`, so the 4 bytes at
            // `(start + i) * STRIDE` lie inside the mapping, aligned for a
            // u32 (page-aligned base, stride 8). The kernel may read them
            // concurrently only if they belong to a live slot, which weir
            // never writes (it writes the spare slot); volatile keeps the
            // stores from being elided or merged across the fence.
            unsafe {
                self.base
                    .as_ptr()
                    .add((start + i) * STRIDE)
                    .cast::<u32>()
                    .write_volatile(v);
            }
        }
        fence(Ordering::Release);
    }

    /// Reads entries `start..start + n`.
    pub(super) fn read(&self, start: usize, n: usize) -> Vec<u32> {
        let end = start.checked_add(n).expect("ring range");
        assert!(
            end <= self.entries,
            "ring range {start}..{end} outside the map"
        );
        fence(Ordering::Acquire);
        (start..end)
            .map(|i| {
                // SAFETY: `i < entries`: inside the mapping and aligned, as in
                // `write`.
                unsafe {
                    self.base
                        .as_ptr()
                        .add(i * STRIDE)
                        .cast::<u32>()
                        .read_volatile()
                }
            })
            .collect()
    }
}

impl Drop for RingMem {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly the mapping made in `map`, and no
        // reference into it outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

// SAFETY: the mapping is plain shared memory owned by this value; moving it
// to another thread moves the only handle.
unsafe impl Send for RingMem {}

// SAFETY: through `&self` the mapping is only read (volatile loads); all
// writes need `&mut self`.
unsafe impl Sync for RingMem {}
