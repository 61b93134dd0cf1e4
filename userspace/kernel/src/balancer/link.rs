//! The bpf_link commands aya does not offer on a link it did not create:
//! open a pinned link, read which program it runs, swap that program
//! atomically, detach it for good. Used for reload hand-overs, where the
//! link was created by another process and pinned on a bpffs.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_LINK_UPDATE: libc::c_long = 29;
const BPF_LINK_DETACH: libc::c_long = 34;

/// `bpf(cmd, attr, size_of(attr))`. `A` is the prefix of `union bpf_attr`
/// the command reads (the kernel zero-fills the rest).
///
/// # Safety
/// `attr` must be the command's layout; any pointer inside it must be valid
/// for the access the command makes.
unsafe fn bpf<A>(cmd: libc::c_long, attr: &mut A) -> io::Result<libc::c_long> {
    // SAFETY: per the caller, `attr` is a valid prefix of the command's
    // bpf_attr; the kernel reads (and for some commands writes) at most
    // `size_of::<A>()` bytes of it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut A as *mut libc::c_void,
            std::mem::size_of::<A>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Opens the object pinned at `path` (BPF_OBJ_GET).
pub(super) fn open_pinned(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in the pin path"))?;
    #[repr(C)]
    struct ObjGet {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
    }
    let mut attr = ObjGet {
        pathname: c.as_ptr() as u64,
        bpf_fd: 0,
        file_flags: 0,
    };
    // SAFETY: the BPF_OBJ_GET layout; `pathname` points to `c`, a
    // NUL-terminated string alive for the call.
    let fd = unsafe { bpf(BPF_OBJ_GET, &mut attr)? };
    // SAFETY: on success BPF_OBJ_GET returns a new descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The id of the program a link runs now (BPF_OBJ_GET_INFO_BY_FD).
pub(super) fn program_id(link: BorrowedFd<'_>) -> io::Result<u32> {
    // struct bpf_link_info starts with type, id, prog_id; the rest (the
    // per-type union) is left zero and ignored.
    let mut info = [0u32; 16];
    #[repr(C)]
    struct GetInfo {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    let mut attr = GetInfo {
        bpf_fd: link.as_raw_fd() as u32,
        info_len: std::mem::size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: the BPF_OBJ_GET_INFO_BY_FD layout; `info` points to
    // `info_len` writable bytes alive for the call.
    unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)? };
    Ok(info[2])
}

/// Makes `link` run `prog` from now on: one atomic swap, no packet sees
/// the interface without a program (BPF_LINK_UPDATE).
pub(super) fn update(link: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    #[repr(C)]
    struct LinkUpdate {
        link_fd: u32,
        new_prog_fd: u32,
        flags: u32,
        old_prog_fd: u32,
    }
    let mut attr = LinkUpdate {
        link_fd: link.as_raw_fd() as u32,
        new_prog_fd: prog.as_raw_fd() as u32,
        flags: 0,
        old_prog_fd: 0,
    };
    // SAFETY: the BPF_LINK_UPDATE layout; no pointers.
    unsafe { bpf(BPF_LINK_UPDATE, &mut attr)? };
    Ok(())
}

/// Takes the program off the link's interface now, whatever other
/// descriptors or pins the link has (BPF_LINK_DETACH, Linux 5.9).
pub(super) fn detach(link: BorrowedFd<'_>) -> io::Result<()> {
    #[repr(C)]
    struct LinkDetach {
        link_fd: u32,
    }
    let mut attr = LinkDetach {
        link_fd: link.as_raw_fd() as u32,
    };
    // SAFETY: the BPF_LINK_DETACH layout; no pointers.
    unsafe { bpf(BPF_LINK_DETACH, &mut attr)? };
    Ok(())
}

/// A descriptor of the loaded program `id` (BPF_PROG_GET_FD_BY_ID; needs
/// CAP_SYS_ADMIN).
pub(super) fn program_by_id(id: u32) -> io::Result<OwnedFd> {
    #[repr(C)]
    struct GetFdById {
        prog_id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut attr = GetFdById {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    // SAFETY: the BPF_PROG_GET_FD_BY_ID layout; no pointers.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)? };
    // SAFETY: on success the command returns a new descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
