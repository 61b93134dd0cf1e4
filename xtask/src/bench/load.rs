//! The load generator and the backend of the TCP benchmark, in-process.
//!
//! Protocol: the client sends 16 bytes (8 unused, then the length N as a
//! little-endian u64); the backend answers N bytes and waits for the client
//! to close; the client reads exactly N bytes and closes first, so TIME_WAIT
//! lands on the connecting sides (where loopback `tcp_tw_reuse` recycles it)
//! and ports do not run out during the connection-rate phase.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::pin_current_thread;

/// CPU of the load generator and the backends.
pub const LOAD_CPU: usize = 0;

/// A pool of threads serving the benchmark protocol on one listener.
pub struct Backend {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Backend {
    /// `threads` threads, each accepting and serving one connection at a
    /// time (no thread creation per connection: the connection-rate phase
    /// would measure thread spawning).
    pub fn start(threads: usize) -> anyhow::Result<Backend> {
        let listener = listener()?;
        let addr = listener.local_addr()?;
        let listener = Arc::new(listener);
        let stop = Arc::new(AtomicBool::new(false));
        let payload: Arc<Vec<u8>> = Arc::new(pseudo_random(1 << 20));
        let threads = (0..threads)
            .map(|_| {
                let l = Arc::clone(&listener);
                let stop = Arc::clone(&stop);
                let payload = Arc::clone(&payload);
                std::thread::spawn(move || {
                    pin_current_thread(LOAD_CPU);
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok((s, _)) = l.accept() {
                            serve(s, &payload);
                        }
                    }
                })
            })
            .collect();
        Ok(Backend {
            addr,
            stop,
            threads,
        })
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // One connection per thread wakes every blocked accept().
        for _ in 0..self.threads.len() {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A listener on 127.0.0.1 with a port chosen by the kernel and a deep
/// accept queue: std's backlog of 128 overflows when a proxy opens thousands
/// of connections at once, and dropped SYNs then look like proxy failures.
fn listener() -> anyhow::Result<TcpListener> {
    use nix::sys::socket::{
        bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn,
    };
    use std::os::fd::AsRawFd as _;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0))?;
    listen(&fd, Backlog::new(4096)?)?;
    Ok(TcpListener::from(fd))
}

fn serve(mut s: TcpStream, payload: &[u8]) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut h = [0u8; 16];
    if s.read_exact(&mut h).is_err() {
        return;
    }
    let mut left = u64::from_le_bytes(h[8..].try_into().unwrap_or([0; 8]));
    while left > 0 {
        let n = left.min(payload.len() as u64) as usize;
        if s.write_all(&payload[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
    // Wait for the client's close (it closes first, see the module note).
    let mut sink = [0u8; 64];
    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
}

fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One request: connect, ask for `len` bytes, read them, close.
pub fn fetch(target: SocketAddr, len: u64, buf: &mut [u8]) -> anyhow::Result<()> {
    let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(5))
        .with_context(|| format!("connect {target}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let _ = s.set_nodelay(true);
    let mut h = [0u8; 16];
    h[8..].copy_from_slice(&len.to_le_bytes());
    s.write_all(&h)?;
    let mut got = 0u64;
    while got < len {
        let want = (len - got).min(buf.len() as u64) as usize;
        let n = s.read(&mut buf[..want])?;
        if n == 0 {
            bail!("connection closed after {got} of {len} bytes");
        }
        got += n as u64;
    }
    Ok(())
}

/// Result of a timed phase.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub requests: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Sequential transfers of `len` bytes until `budget` is spent or `max`
/// transfers are done (at least one).
pub fn transfers(
    target: SocketAddr,
    len: u64,
    budget: Duration,
    max: u64,
) -> anyhow::Result<Phase> {
    pin_current_thread(LOAD_CPU);
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut n = 0;
    while n < max && (n == 0 || start.elapsed() < budget) {
        fetch(target, len, &mut buf)?;
        n += 1;
    }
    Ok(Phase {
        requests: n,
        bytes: n * len,
        elapsed: start.elapsed(),
    })
}

/// `clients` threads each doing connect / 16-byte request / 1-byte answer /
/// close in a loop for `budget`. Errors are counted, not fatal (a few are
/// expected when a proxy is saturated), but more than 1% fails the phase.
pub fn connection_rate(
    target: SocketAddr,
    clients: usize,
    budget: Duration,
) -> anyhow::Result<Phase> {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let ok = Arc::clone(&ok);
            let failed = Arc::clone(&failed);
            let first_error = Arc::clone(&first_error);
            std::thread::spawn(move || {
                pin_current_thread(LOAD_CPU);
                let mut buf = [0u8; 64];
                while start.elapsed() < budget {
                    match fetch(target, 1, &mut buf) {
                        Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert(format!("{e:#}"));
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = start.elapsed();
    let ok = ok.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    if failed * 100 > ok + failed {
        bail!(
            "{failed} of {} connections failed: {}",
            ok + failed,
            first_error.lock().unwrap().clone().unwrap_or_default()
        );
    }
    Ok(Phase {
        requests: ok,
        bytes: ok,
        elapsed,
    })
}

/// Connections at a fixed offered rate (`rate` per second, one at a time,
/// paced from the start so a slow one does not shift the schedule) for
/// `budget`. CPU time per connection at a fixed load is steadier than in a
/// closed loop, where the load generator saturates first.
pub fn paced_connections(target: SocketAddr, rate: u32, budget: Duration) -> anyhow::Result<Phase> {
    pin_current_thread(LOAD_CPU);
    let mut buf = [0u8; 64];
    let start = Instant::now();
    let interval = Duration::from_secs(1) / rate.max(1);
    let mut n: u64 = 0;
    while start.elapsed() < budget {
        let due = start + interval * u32::try_from(n).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        fetch(target, 1, &mut buf)?;
        n += 1;
    }
    Ok(Phase {
        requests: n,
        bytes: n,
        elapsed: start.elapsed(),
    })
}

/// A backend that accepts and holds connections without reading or writing
/// (for the idle-connection memory measure).
pub struct Holder {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Holder {
    pub fn start() -> anyhow::Result<Holder> {
        let listener = listener()?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, held, stop) =
                (Arc::clone(&accepted), Arc::clone(&held), Arc::clone(&stop));
            std::thread::spawn(move || {
                pin_current_thread(LOAD_CPU);
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((s, _)) = listener.accept() {
                        held.lock().unwrap().push(s);
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        Ok(Holder {
            addr,
            accepted,
            held,
            stop,
            thread: Some(thread),
        })
    }

    /// Closes every held connection.
    pub fn release(&self) {
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.release();
    }
}

/// Opens `n` connections to `target` and keeps them idle, in batches of
/// `BATCH`, each waited for until `reached` (the holder's accept count)
/// shows it arrived: this measures memory, not how a proxy absorbs a burst.
pub fn open_idle(
    target: SocketAddr,
    n: usize,
    reached: &AtomicUsize,
) -> anyhow::Result<Vec<TcpStream>> {
    const BATCH: usize = 200;
    pin_current_thread(LOAD_CPU);
    let base = reached.load(Ordering::Relaxed);
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let s = TcpStream::connect_timeout(&target, Duration::from_secs(5))
            .with_context(|| format!("idle connection {i} of {n}"))?;
        v.push(s);
        if v.len() % BATCH == 0 || v.len() == n {
            let deadline = Instant::now() + Duration::from_secs(10);
            while reached.load(Ordering::Relaxed) < base + v.len() {
                if Instant::now() > deadline {
                    bail!(
                        "only {} of {} connections reached the backend",
                        reached.load(Ordering::Relaxed) - base,
                        v.len()
                    );
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    Ok(v)
}
