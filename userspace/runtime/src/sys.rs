//! Every direct system call the workers make, in one place (aya's rule).
//! File descriptors are plain `RawFd`s: their lifetime is managed by the
//! session tables, and they are closed through the ring so that a close is
//! ordered after the cancellation of the operations that use them.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Creates a listening TCP socket bound to `addr` with SO_REUSEADDR and
/// SO_REUSEPORT (one per worker per bind line), non-blocking, close-on-exec.
pub fn listen_reuseport(addr: SocketAddr, backlog: i32) -> io::Result<RawFd> {
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // HAProxy binds v6 sockets v6-only unless told otherwise ("v4v6").
        sock.set_only_v6(true)?;
    }
    sock.bind(&SockAddr::from(addr))?;
    sock.listen(backlog)?;
    Ok(sock.into_raw_fd())
}

/// SO_INCOMING_CPU on a listener: the kernel prefers, within a reuseport
/// group, the socket whose CPU is the one that received the connection.
pub fn set_incoming_cpu(fd: RawFd, cpu: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(cpu).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `v` is a live c_int whose size is passed with it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_INCOMING_CPU,
            (&raw const v).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The local address a socket is bound to.
pub fn local_addr(fd: RawFd) -> io::Result<SocketAddr> {
    with_socket(fd, Socket::local_addr).and_then(|a| {
        a.as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an inet socket"))
    })
}

/// The peer address of a connected socket.
pub fn peer_addr(fd: RawFd) -> io::Result<SocketAddr> {
    with_socket(fd, Socket::peer_addr).and_then(|a| {
        a.as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an inet socket"))
    })
}

/// Runs `f` on a borrowed `Socket` view of `fd` without taking ownership.
fn with_socket<T>(fd: RawFd, f: impl FnOnce(&Socket) -> io::Result<T>) -> io::Result<T> {
    // socket2 has no borrowed form; build a Socket and forget it afterwards.
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` is an open socket owned by the caller; the Socket is
    // turned back into a raw fd below and never closes it.
    let sock = std::mem::ManuallyDrop::new(unsafe { Socket::from_raw_fd(fd) });
    f(&sock)
}

/// A new non-blocking, close-on-exec TCP socket for connecting to `addr`,
/// with TCP_NODELAY (the proxy forwards what it receives at once).
pub fn connect_socket(addr: &SocketAddr) -> io::Result<RawFd> {
    let sock = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    sock.set_tcp_nodelay(true)?;
    Ok(sock.into_raw_fd())
}

/// Sets TCP_NODELAY on an accepted socket.
pub fn set_nodelay(fd: RawFd) -> io::Result<()> {
    with_socket(fd, |s| s.set_tcp_nodelay(true))
}

/// Shuts down the write side: the peer reads end-of-stream.
pub fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // SAFETY: shutdown(2) takes no pointers; an invalid fd yields EBADF.
    cvt(unsafe { libc::shutdown(fd, libc::SHUT_WR) }).map(drop)
}

/// Copies up to `buf.len()` of the bytes the peer sent into `buf` without
/// consuming them (MSG_PEEK) and without blocking: `Ok(0)` is end of
/// stream, `ErrorKind::WouldBlock` means nothing is queued.
pub fn peek(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole
    // call; recv(2) writes at most that many.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Sets SO_RCVLOWAT: a poll reports the socket readable only once `n`
/// bytes are queued (or at end of stream).
pub fn set_rcvlowat(fd: RawFd, n: i32) -> io::Result<()> {
    let v: libc::c_int = n.max(1);
    // SAFETY: the option value points to a live c_int of the given size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            std::ptr::from_ref(&v).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Makes the next close send a RST instead of a FIN (SO_LINGER with 0 s).
pub fn set_linger_zero(fd: RawFd) -> io::Result<()> {
    with_socket(fd, |s| s.set_linger(Some(std::time::Duration::ZERO)))
}

fn set_int_opt(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt reads size_of::<c_int>() bytes from `&v`, which
    // lives across the call; `fd` is an open socket owned by the caller.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            std::ptr::from_ref(&v).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// Prepares the close of a connected TCP socket so that the peer is not
/// told (`http-request silent-drop`). With TCP_REPAIR (it needs
/// CAP_NET_ADMIN) the kernel forgets the connection without sending a
/// thing; otherwise the close sends a RST with a hop limit of 1, which the
/// first router drops (a peer on the same host or link still sees it).
/// Returns true when TCP_REPAIR took.
pub fn prepare_silent_close(fd: RawFd) -> io::Result<bool> {
    if set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_REPAIR, 1).is_ok() {
        return Ok(true);
    }
    // One of the two applies (an IPv6 socket may carry IPv4-mapped peers:
    // then both do).
    let v4 = set_int_opt(fd, libc::IPPROTO_IP, libc::IP_TTL, 1);
    let v6 = set_int_opt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 1);
    v4.or(v6)?;
    set_linger_zero(fd)?;
    Ok(false)
}

/// The pending error of a socket (SO_ERROR), clearing it.
pub fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    with_socket(fd, Socket::take_error)
}

/// A duplicate of `fd` (close-on-exec).
pub fn dup(fd: RawFd) -> io::Result<RawFd> {
    // SAFETY: fcntl F_DUPFD_CLOEXEC takes an integer argument.
    cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })
}

/// Closes `fd` now. Only for fds no ring operation refers to.
pub fn close(fd: RawFd) {
    // SAFETY: close(2) takes no pointers; the caller owns `fd`.
    unsafe { libc::close(fd) };
}

/// Moves up to `len` bytes from `fd_in` to `fd_out` (one of them a pipe)
/// without blocking: `Ok(0)` is end of stream on `fd_in`,
/// `ErrorKind::WouldBlock` means nothing could be moved now.
pub fn splice(fd_in: RawFd, fd_out: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets are allowed for sockets and pipes; splice(2)
    // reads no other user memory.
    let n = unsafe {
        libc::splice(
            fd_in,
            std::ptr::null_mut(),
            fd_out,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MOVE,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A non-blocking, close-on-exec pipe `(read end, write end)`, sized to
/// `size` bytes when the kernel allows it.
pub fn pipe(size: usize) -> io::Result<(RawFd, RawFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid 2-element array for pipe2 to fill.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    if size > 0 {
        // Best effort: the default (64 KiB) is kept if the size is refused.
        // SAFETY: fcntl F_SETPIPE_SZ takes an integer argument.
        let _ = unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, size as libc::c_int) };
    }
    Ok((fds[0], fds[1]))
}

/// An eventfd (non-blocking, close-on-exec) used to wake a worker's ring.
pub fn eventfd() -> io::Result<RawFd> {
    // SAFETY: eventfd(2) takes no pointers.
    cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })
}

/// Adds 1 to an eventfd, waking whoever polls it.
pub fn eventfd_signal(fd: RawFd) -> io::Result<()> {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64.
    let n = unsafe { libc::write(fd, (&raw const one).cast(), 8) };
    if n == 8 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Resets an eventfd's counter (after its poll fired).
pub fn eventfd_drain(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64.
    let _ = unsafe { libc::read(fd, (&raw mut v).cast(), 8) };
}

/// Keeps a socket from being closed by accident: a tiny owned wrapper used
/// where ownership is linear (listeners before they are handed to a worker).
#[derive(Debug)]
pub struct OwnedSocket(RawFd);

impl OwnedSocket {
    /// Takes ownership of `fd`.
    #[must_use]
    pub fn new(fd: RawFd) -> Self {
        OwnedSocket(fd)
    }

    /// Gives the fd up without closing it.
    #[must_use]
    pub fn into_raw(self) -> RawFd {
        let fd = self.0;
        std::mem::forget(self);
        fd
    }
}

impl AsRawFd for OwnedSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl AsFd for OwnedSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd stays open for as long as `self` lives (closed only
        // by `drop`; `into_raw` consumes `self`).
        unsafe { BorrowedFd::borrow_raw(self.0) }
    }
}

impl Drop for OwnedSocket {
    fn drop(&mut self) {
        close(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn splice_through_pipe_moves_bytes_and_reports_eof_and_eagain() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        b.set_nonblocking(true).unwrap();
        let (rd, wr) = pipe(0).unwrap();
        let e = splice(b.as_raw_fd(), wr, 4096).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        a.write_all(b"hello").unwrap();
        let mut n = 0;
        for _ in 0..1000 {
            match splice(b.as_raw_fd(), wr, 4096) {
                Ok(k) => {
                    n += k;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(n, 5);
        let l2 = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l2.local_addr().unwrap()).unwrap();
        let (mut d, _) = l2.accept().unwrap();
        assert_eq!(splice(rd, c.as_raw_fd(), 4096).unwrap(), 5);
        let mut got = [0u8; 5];
        d.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        drop(a);
        let mut eof = false;
        for _ in 0..1000 {
            match splice(b.as_raw_fd(), wr, 4096) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => panic!("no data expected"),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(eof);
        close(rd);
        close(wr);
    }

    #[test]
    fn reuseport_allows_two_listeners_on_one_port() {
        let a = OwnedSocket::new(listen_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap());
        let addr = local_addr(a.as_raw_fd()).unwrap();
        let b = OwnedSocket::new(listen_reuseport(addr, 16).unwrap());
        assert_eq!(local_addr(b.as_raw_fd()).unwrap(), addr);
    }
}
