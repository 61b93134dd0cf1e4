//! SK_REUSEPORT steering: a connection lands on the listening socket of the
//! worker pinned to the CPU that received it (loopback: the sending CPU).

mod common;

use common::nix_is_root;
use socket2::{Domain, Socket, Type};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use weir_kernel::{ReuseportMode, ReuseportSteering};

fn listeners(n: usize) -> Vec<TcpListener> {
    let mut port = 0;
    (0..n)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.set_reuse_port(true).unwrap();
            s.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())
                .unwrap();
            s.listen(128).unwrap();
            s.set_nonblocking(true).unwrap();
            let l: TcpListener = s.into();
            port = l.local_addr().unwrap().port();
            l
        })
        .collect()
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it;
    // sched_setaffinity(0, …) affects only the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

/// Index of the listener that holds the next accepted connection.
fn accepted_on(ls: &[TcpListener]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        for (i, l) in ls.iter().enumerate() {
            if l.accept().is_ok() {
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no listener accepted the connection"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn connections_land_on_the_receiving_cpus_socket() {
    if !nix_is_root() {
        eprintln!("skipped: loading eBPF needs root");
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let ls = listeners(cpus);
    let addr = ls[0].local_addr().unwrap();
    let mut steer = ReuseportSteering::load(ReuseportMode::ByCpu, cpus as u32).unwrap();
    for (i, l) in ls.iter().enumerate() {
        steer.set_socket(i as u32, l).unwrap();
    }
    steer.attach(&ls[0]).unwrap();
    for cpu in 0..cpus {
        let landed: Vec<usize> = std::thread::spawn(move || {
            pin_to_cpu(cpu);
            (0..20)
                .map(|_| TcpStream::connect(addr).unwrap())
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap()
        .iter()
        .map(|_| accepted_on(&ls))
        .collect();
        assert!(
            landed.iter().all(|&i| i == cpu),
            "connections from CPU {cpu} landed on {landed:?}"
        );
    }
    ReuseportSteering::detach(&ls[0]).unwrap();
}

#[test]
fn hash_mode_spreads_connections() {
    if !nix_is_root() {
        eprintln!("skipped: loading eBPF needs root");
        return;
    }
    let ls = listeners(2);
    let addr = ls[0].local_addr().unwrap();
    let mut steer = ReuseportSteering::load(ReuseportMode::ByHash, 2).unwrap();
    for (i, l) in ls.iter().enumerate() {
        steer.set_socket(i as u32, l).unwrap();
    }
    steer.attach(&ls[0]).unwrap();
    let mut per = [0; 2];
    let conns: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for _ in &conns {
        per[accepted_on(&ls)] += 1;
    }
    assert!(
        per[0] > 0 && per[1] > 0,
        "both sockets receive connections: {per:?}"
    );
}
