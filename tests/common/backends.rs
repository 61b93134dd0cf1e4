//! In-process mock servers for the end-to-end tests. Each listens on
//! 127.0.0.1 with a port the kernel chose, serves every connection on its
//! own small thread, and stops when dropped.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::stream;

type Handler = Arc<dyn Fn(TcpStream) + Send + Sync>;

/// Counters a backend keeps about its connections.
#[derive(Default)]
pub struct Counters {
    /// Connections accepted so far.
    pub accepted: AtomicUsize,
    /// Connections being served now.
    pub active: AtomicUsize,
    /// Most connections served at once.
    pub peak: AtomicUsize,
}

/// A mock server; stops accepting when dropped (connections being served
/// finish on their own threads).
pub struct Backend {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Stack size of a connection thread: the handlers need little, and a
/// thousand concurrent connections must not reserve gigabytes.
const CONN_STACK: usize = 128 * 1024;

impl Backend {
    /// Serves every connection with `handler` on its own thread.
    pub fn serve(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Backend {
        Self::serve_on(IpAddr::V4(Ipv4Addr::LOCALHOST), handler)
    }

    /// As `serve`, on a given loopback address.
    pub fn serve_on(ip: IpAddr, handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Backend {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).expect("backend bind");
        Self::serve_listener(listener, handler)
    }

    /// As `serve`, on an existing listener.
    pub fn serve_listener(
        listener: TcpListener,
        handler: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> Backend {
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let handler: Handler = Arc::new(handler);
        let thread = {
            let stop = Arc::clone(&stop);
            let counters = Arc::clone(&counters);
            std::thread::spawn(move || accept_loop(&listener, &stop, &counters, &handler))
        };
        Backend {
            addr,
            counters,
            stop,
            thread: Some(thread),
        }
    }

    pub fn accepted(&self) -> usize {
        self.counters.accepted.load(Ordering::SeqCst)
    }

    pub fn active(&self) -> usize {
        self.counters.active.load(Ordering::SeqCst)
    }

    pub fn peak(&self) -> usize {
        self.counters.peak.load(Ordering::SeqCst)
    }

    /// Echoes every byte until the client half-closes, then half-closes too.
    pub fn echo() -> Backend {
        Self::serve(|mut s| {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = s.shutdown(Shutdown::Write);
        })
    }

    /// Writes `id` and closes: tells the client which server it reached.
    pub fn whoami(id: &str) -> Backend {
        Self::whoami_on(IpAddr::V4(Ipv4Addr::LOCALHOST), id)
    }

    /// As `whoami`, on a given loopback address.
    pub fn whoami_on(ip: IpAddr, id: &str) -> Backend {
        let id = id.as_bytes().to_vec();
        Self::serve_on(ip, move |mut s| {
            let _ = s.write_all(&id);
            let _ = s.shutdown(Shutdown::Write);
            // Drain until the client closes, so that closing never sends a
            // RST that could eat the id in flight.
            let mut buf = [0u8; 256];
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        })
    }

    /// Like `whoami`, but holds the connection open for `hold` after
    /// answering (for leastconn and maxconn tests).
    pub fn whoami_holding(id: &str, hold: Duration) -> Backend {
        let id = id.as_bytes().to_vec();
        Self::serve(move |mut s| {
            let _ = s.write_all(&id);
            std::thread::sleep(hold);
            let _ = s.shutdown(Shutdown::Write);
        })
    }

    /// Reads a `stream::header`, then sends that many bytes of that stream
    /// and closes (server → client payloads).
    pub fn source() -> Backend {
        Self::serve(|mut s| {
            let Ok((seed, len)) = stream::read_header(&mut s) else {
                return;
            };
            let _ = stream::send(&mut s, seed, len);
            let _ = s.shutdown(Shutdown::Write);
        })
    }

    /// Reads a `stream::header` and the stream until the client half-closes,
    /// verifies every byte, answers `OK <len>` or `BAD <reason>` and closes
    /// (client → server payloads, and the client-first half-close).
    pub fn sink() -> Backend {
        Self::serve(|mut s| {
            let Ok((seed, len)) = stream::read_header(&mut s) else {
                return;
            };
            let answer = match stream::receive(&mut s, seed, len) {
                Ok(()) => format!("OK {len}"),
                Err(e) => format!("BAD {e}"),
            };
            let _ = s.write_all(answer.as_bytes());
            let _ = s.shutdown(Shutdown::Write);
        })
    }

    /// Server-first half-close: writes `greeting`, half-closes, then reads
    /// what the client still sends until it closes and reports it on the
    /// returned channel.
    pub fn half_closer(greeting: &'static [u8]) -> (Backend, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let b = Self::serve(move |mut s| {
            let _ = s.write_all(greeting);
            let _ = s.shutdown(Shutdown::Write);
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            let _ = tx.lock().unwrap().send(got);
        });
        (b, rx)
    }

    /// Accepts and never writes; reads and discards until the peer closes
    /// (for idle-timeout tests), reporting when each connection ended.
    pub fn silent() -> (Backend, mpsc::Receiver<std::time::Instant>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let b = Self::serve(move |mut s| {
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.lock().unwrap().send(std::time::Instant::now());
        });
        (b, rx)
    }
}

impl Backend {
    /// Reads until the client half-closes, then holds the connection for
    /// `hold` without a byte or a FIN (a server that never answers).
    pub fn mute(hold: Duration) -> Backend {
        Self::serve(move |mut s| {
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            std::thread::sleep(hold);
        })
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; the loop sees `stop` and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, counters: &Arc<Counters>, h: &Handler) {
    loop {
        let Ok((s, _)) = listener.accept() else {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            continue;
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        counters.accepted.fetch_add(1, Ordering::SeqCst);
        let now = counters.active.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak.fetch_max(now, Ordering::SeqCst);
        let h = Arc::clone(h);
        let c = Arc::clone(counters);
        let spawned = std::thread::Builder::new()
            .stack_size(CONN_STACK)
            .spawn(move || {
                h(s);
                c.active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            counters.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// An address where nothing listens: connections to it are refused (RST).
pub fn refusing_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], super::free_port()))
}

/// A listener that never accepts, with its backlog filled so that further
/// SYNs are dropped and connects to it time out.
pub struct FullBacklog {
    pub addr: SocketAddr,
    _listener: Socket,
    _fillers: Vec<TcpStream>,
}

impl FullBacklog {
    pub fn new() -> FullBacklog {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        sock.listen(0).unwrap();
        let addr = sock.local_addr().unwrap().as_socket().unwrap();
        // With backlog 0 Linux queues one connection; fill until a connect
        // times out, bounded.
        let mut fillers = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => fillers.push(s),
                Err(_) => break,
            }
        }
        FullBacklog {
            addr,
            _listener: sock,
            _fillers: fillers,
        }
    }
}

/// Connects to `dst` from the loopback address `src` (any 127/8 address
/// works on Linux without configuration), with 10 s I/O timeouts.
pub fn connect_from(src: Ipv4Addr, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sock.bind(&SocketAddr::from((src, 0)).into())?;
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// Connects to `addr`, reads until EOF and returns what was read as text
/// (the id of a `whoami` backend).
pub fn ask(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// As `ask`, from the loopback address `src`.
pub fn ask_from(src: Ipv4Addr, addr: SocketAddr) -> std::io::Result<String> {
    let mut s = connect_from(src, addr)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
