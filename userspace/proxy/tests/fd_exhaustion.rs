//! Running out of file descriptors: the proxy stops accepting for a moment
//! (connections wait in the listen backlog), sessions already established
//! keep working, and accepting resumes once descriptors are available.
//! Alone in its test binary because it lowers the process's fd limit.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use socket2::{Domain, Socket, Type};

/// The fd limit that leaves exactly `slack` descriptors free: the limit
/// bounds fd *numbers*, so holes below it count as free and open fds above
/// it do not block anything.
fn limit_leaving(slack: u64) -> u64 {
    let open: Vec<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0u64..)
        .find(|l| l - open.iter().filter(|fd| **fd < *l).count() as u64 == slack)
        .unwrap()
}

#[test]
fn out_of_fds_pauses_accepting_and_spares_sessions() {
    use std::os::fd::AsRawFd;
    let e = echo();
    // A backend that never accepts: the kernel completes handshakes into its
    // backlog, so flooding it costs the proxy fds but the backend none.
    let never = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    never
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    never.listen(1024).unwrap();
    let never_addr = never.local_addr().unwrap().as_socket().unwrap();

    let la = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lb = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr_a, addr_b) = (la.local_addr().unwrap(), lb.local_addr().unwrap());
    let cfg = format!(
        "global\n    nbthread 1\n    maxconn 1000\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         listen a\n    bind fd@{}\n    server e {}\nlisten b\n    bind fd@{}\n    server n {never_addr}\n",
        la.as_raw_fd(),
        e.addr,
        lb.as_raw_fd()
    );
    let config = weir_config::parse_str("fd.cfg", &cfg).unwrap();
    let bound = weir_proxy::bind(Arc::new(config)).unwrap();
    drop((la, lb));
    // Sockets made now, connected once the limit is low (no new fd then).
    let flood: Vec<Socket> = (0..40)
        .map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).unwrap())
        .collect();
    // io_uring's multishot accept reads the fd limit when it is armed, so
    // the limit drops before the worker starts: room for the worker's ring,
    // the first session (client, proxy's two sockets, the echo's socket)
    // and `flood_room` more.
    let flood_room = 4;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(
        Resource::RLIMIT_NOFILE,
        limit_leaving(1 + 4 + flood_room),
        hard,
    )
    .unwrap();
    let r = bound.run().unwrap();

    let mut s1 = connect(addr_a);
    s1.write_all(b"one").unwrap();
    let mut b = [0u8; 3];
    s1.read_exact(&mut b).unwrap();
    assert_eq!(r.stats().accepted, 1);

    for s in &flood {
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr_b.into());
    }
    std::thread::sleep(Duration::from_millis(500));
    let accepted = r.stats().accepted;
    assert!(
        // s1, plus at most the free fds (and the one the fd listing itself
        // held while counting).
        accepted <= 1 + flood_room + 1,
        "the proxy cannot have accepted more than the fds allow: {accepted} {:?}",
        r.stats()
    );
    assert!(r.stats().connect_errors >= 1, "{:?}", r.stats());

    // The established session is unharmed.
    s1.write_all(b"two").unwrap();
    s1.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"two");

    // Descriptors come back: accepting resumes and every waiting connection
    // is taken from the backlog.
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || r.stats().accepted == 41),
        "{:?}",
        r.stats()
    );
    s1.write_all(b"three!").unwrap();
    let mut b = [0u8; 6];
    s1.read_exact(&mut b).unwrap();
    drop(flood);
    stop(r);
}
