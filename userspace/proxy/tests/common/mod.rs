//! Shared helpers of the proxy's in-process tests: start weir's workers on a
//! configuration text, and small backends on 127.0.0.1 ports the OS picks.
#![allow(dead_code)] // Each test file uses a different subset.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use weir_proxy::Running;

/// Parses `cfg`, binds and runs. Returns the running proxy and the address
/// of the first bind entry.
///
/// The configuration language refuses port 0, so the listening socket is
/// made here on a port the OS picks and handed over as `bind fd@N` (the
/// text's `bind 127.0.0.1:0` is rewritten); the proxy duplicates it per
/// worker and this copy is closed, so a soft stop really stops listening.
pub fn start(cfg: &str) -> (Running, SocketAddr) {
    use std::os::fd::AsRawFd;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = cfg.replace("bind 127.0.0.1:0", &format!("bind fd@{}", l.as_raw_fd()));
    let config = weir_config::parse_str("test.cfg", &cfg)
        .unwrap_or_else(|e| panic!("bad test config: {e}\n{cfg}"));
    let bound = weir_proxy::bind(Arc::new(config)).expect("bind");
    drop(l);
    let addr = bound.local_addrs()[0].1;
    (bound.run().expect("run"), addr)
}

/// Stops the proxy hard and waits for the workers.
pub fn stop(r: Running) {
    r.hard_stop();
    r.wait().expect("workers exit cleanly");
}

/// A backend that echoes everything back, half-closing when the client does.
pub struct Echo {
    pub addr: SocketAddr,
    pub conns: Arc<AtomicUsize>,
    pub live: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
}

pub fn echo() -> Echo {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let live = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (c, lv, pk) = (conns.clone(), live.clone(), peak.clone());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            c.fetch_add(1, Ordering::SeqCst);
            let now = lv.fetch_add(1, Ordering::SeqCst) + 1;
            pk.fetch_max(now, Ordering::SeqCst);
            let lv = lv.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = s.shutdown(Shutdown::Write);
                lv.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Echo {
        addr,
        conns,
        live,
        peak,
    }
}

/// A 127.0.0.1 port with nothing listening (connections are refused).
pub fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Deterministic pseudo-random bytes (xorshift), no allocation per byte.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// FNV-1a 64 over `data`.
pub fn checksum(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Connects with a read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect to proxy");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `data` on a writer thread while reading everything back until EOF
/// on this thread; returns what was read.
pub fn round_trip(s: TcpStream, data: Arc<Vec<u8>>) -> Vec<u8> {
    let mut w = s.try_clone().unwrap();
    let writer: JoinHandle<()> = std::thread::spawn(move || {
        for chunk in data.chunks(256 * 1024) {
            w.write_all(chunk).unwrap();
        }
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut r = s;
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("read back");
    writer.join().unwrap();
    out
}

/// Polls `cond` every 5 ms until it holds or `within` passes.
pub fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < within {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// A `listen` section forwarding to `servers` (lines), with extra lines.
pub fn listen_cfg(global: &str, extra: &str, servers: &[String]) -> String {
    let mut s = format!("global\n{global}\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\nlisten l\n    bind 127.0.0.1:0\n{extra}\n");
    for line in servers {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}
