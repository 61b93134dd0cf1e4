//! A frontend's `tcp-request connection reject if { src … }` compiled down
//! to XDP by the real `weir` binary, in network namespaces the test creates
//! (and removes):
//!
//! ```text
//!  client ns (10.98.7.2 = A, 10.98.7.3 = B) ──(cw/wc, weir's XDP on wc)── weir ns
//! ```
//! weir's namespace runs two `mode tcp` frontends on wildcard binds, both
//! forwarding to an echo server on its loopback; the first rejects A. A's
//! SYNs to that port are dropped in XDP (the connection attempt times out
//! instead of being accepted and closed by userspace, and the
//! `DropFrontendRule` counter grows), B connects there, and A still
//! connects to the other frontend's port.

#[allow(dead_code, reason = "shared with xdp_live, which uses all of it")]
mod xdp_netns;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use xdp_netns::{veth, Netns, WeirProc};

const A: Ipv4Addr = Ipv4Addr::new(10, 98, 7, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 98, 7, 3);
const WEIR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 98, 7, 1);
const GUARDED: u16 = 8401;
const OPEN: u16 = 8402;

/// The last value of `weir: xdp 't' event NAME N` in the output.
fn event(out: &str, name: &str) -> u64 {
    let prefix = format!("weir: xdp 't' event {name} ");
    out.lines()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{out}"))
}

/// From `from` (in the client namespace) to weir's `port`: connect within
/// `timeout`, send a line, read the echo.
fn try_echo(client: &Netns, from: Ipv4Addr, port: u16, timeout: Duration) -> std::io::Result<()> {
    client.enter(move || {
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        s.bind(&SocketAddr::V4(SocketAddrV4::new(from, 0)).into())?;
        s.connect_timeout(
            &SocketAddr::V4(SocketAddrV4::new(WEIR_ADDR, port)).into(),
            timeout,
        )?;
        let mut t: TcpStream = s.into();
        t.set_read_timeout(Some(Duration::from_secs(3)))?;
        t.write_all(b"ping\n")?;
        let mut buf = [0u8; 5];
        t.read_exact(&mut buf)?;
        assert_eq!(&buf, b"ping\n");
        Ok(())
    })
}

#[test]
fn a_source_reject_rule_of_a_frontend_drops_that_source_in_xdp_on_its_port_only() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root for network namespaces and XDP");
        return;
    }
    let client = Netns::new("fec");
    let wns = Netns::new("few");
    veth(
        &client,
        "cw",
        "10.98.7.2/24",
        &wns,
        "wc",
        "10.98.7.1/24",
        1500,
    );
    client.ip(&["addr", "add", "10.98.7.3/24", "dev", "cw"]);

    // The echo server, on weir's loopback (a socket stays in the namespace
    // that created it). Bounded: it exits with the test process.
    let listener = wns.enter(|| TcpListener::bind("127.0.0.1:0").expect("bind echo"));
    let echo_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });

    let config = format!(
        "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend guarded\n    bind 0.0.0.0:{GUARDED}\n    \
         tcp-request connection reject if {{ src {A} }}\n    default_backend echo\n\
         frontend open\n    bind 0.0.0.0:{OPEN}\n    default_backend echo\n\
         backend echo\n    server e 127.0.0.1:{echo_port}\n\
         xdp t\n    interface wc mode generic\n"
    );
    let weir = WeirProc::spawn_with(&wns, &config, &["-d"]);
    assert!(
        weir.wait_output("started", 1, Duration::from_secs(15)),
        "{}",
        weir.output()
    );
    let out = weir.output();
    assert!(
        out.contains(&format!(
            "xdp 't': frontend 'guarded': `tcp-request connection reject if {{ src {A} }}`"
        )) && out.contains(&format!(
            "compiled to XDP: 1 (port, source) entries for 0.0.0.0:{GUARDED}"
        )),
        "{out}"
    );
    assert!(!out.contains("frontend 'open': "), "{out}");

    // B reaches the guarded frontend, A reaches the other one.
    try_echo(&client, B, GUARDED, Duration::from_secs(3)).expect("B to the guarded port");
    try_echo(&client, A, OPEN, Duration::from_secs(3)).expect("A to the other port");

    // A's SYNs to the guarded port never reach a listener: the connection
    // attempt times out (a userspace reject would accept, then close).
    let e = try_echo(&client, A, GUARDED, Duration::from_millis(1500))
        .expect_err("A must not connect to the guarded port");
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ),
        "A's connection must time out, got {e:?}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(weir.child.id() as i32),
        nix::sys::signal::Signal::SIGUSR2,
    )
    .expect("SIGUSR2");
    assert!(
        weir.wait_output("event DropFrontendRule", 1, Duration::from_secs(5)),
        "{}",
        weir.output()
    );
    std::thread::sleep(Duration::from_millis(200));
    let out = weir.output();
    assert!(event(&out, "DropFrontendRule") >= 1, "{out}");
    assert_eq!(event(&out, "DropBlocklist"), 0, "{out}");

    // Still serving B afterwards.
    try_echo(&client, B, GUARDED, Duration::from_secs(3)).expect("B again");
}
