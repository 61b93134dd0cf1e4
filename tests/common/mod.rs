//! Shared harness of the end-to-end tests: starts the real `weir` binary on a
//! configuration written to a temporary directory, and runs in-process mock
//! backends on ports chosen at run time.
//!
//! Every wait here is time-boxed and every loop bounded; `Weir` kills the
//! process when dropped, so a failing assertion leaves nothing behind.
#![allow(dead_code)] // Each test binary uses its own subset of the harness.

pub mod backends;
pub mod netns;
pub mod stream;

use std::collections::HashSet;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use nix::sys::signal::Signal;

/// The binary under test.
pub const WEIR: &str = env!("CARGO_BIN_EXE_weir");

/// How long weir may take to start before a test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Ports handed out by this process, so two tests of one binary never get
/// the same one even when the kernel would hand it out again.
static GIVEN_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port that was free a moment ago on 127.0.0.1: bound to :0, read,
/// released. Another process may take it in between; `Weir::start` retries
/// on "address in use".
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut given = GIVEN_PORTS.lock().unwrap();
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no free port after 100 tries");
}

/// A running `weir` process, killed on drop.
pub struct Weir {
    child: Option<Child>,
    output: Arc<Mutex<String>>,
    /// The frontend ports, in the order of `{P0}`, `{P1}`… in the template.
    pub ports: Vec<u16>,
    pub config_path: PathBuf,
    dir: tempfile::TempDir,
}

/// The output and status of a weir run that finished.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs weir with `args` to completion (at most 20 s) and returns its output.
pub fn run_weir(args: &[&str]) -> Finished {
    let mut child = Command::new(WEIR)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir");
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let status = wait_timeout(&mut child, Duration::from_secs(20)).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("weir {args:?} did not finish within 20 s");
    });
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    Finished {
        status,
        stdout,
        stderr,
    }
}

/// `weir -c -f FILE` on `config` written to a temporary file.
pub fn check_config(config: &str) -> (Finished, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.cfg");
    std::fs::write(&path, config).unwrap();
    let f = run_weir(&["-c", "-f", path.to_str().unwrap()]);
    (f, path, dir)
}

fn collect(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Waits for the child at most `d`; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, d: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + d;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Replaces `{P0}`…`{P9}` in `template` with the given ports.
fn fill(template: &str, ports: &[u16]) -> String {
    let mut s = template.to_owned();
    for (i, p) in ports.iter().enumerate() {
        s = s.replace(&format!("{{P{i}}}"), &p.to_string());
    }
    s
}

/// How many `{Pn}` placeholders `template` uses.
fn placeholders(template: &str) -> usize {
    (0..10)
        .take_while(|i| template.contains(&format!("{{P{i}}}")))
        .count()
}

impl Weir {
    /// Starts `weir -d -f CONFIG` where CONFIG is `template` with `{P0}`,
    /// `{P1}`… replaced by free ports, and waits until it says it started
    /// (its listeners are bound and listening by then). Retries with other
    /// ports if one was taken meanwhile.
    pub fn start(template: &str) -> Weir {
        Self::start_with_args(template, &["-d"])
    }

    /// As `start`, with other command-line flags before `-f`.
    pub fn start_with_args(template: &str, args: &[&str]) -> Weir {
        let mut last = String::new();
        for _attempt in 0..3 {
            let ports: Vec<u16> = (0..placeholders(template)).map(|_| free_port()).collect();
            match Self::try_start(&fill(template, &ports), args, ports) {
                Ok(w) => return w,
                Err(out) if out.contains("in use") => last = out,
                Err(out) => panic!("weir did not start:\n{out}"),
            }
        }
        panic!("weir did not start (ports kept colliding):\n{last}");
    }

    /// Starts weir and returns `Err(output)` if it exits before saying it
    /// started.
    fn try_start(config: &str, args: &[&str], ports: Vec<u16>) -> Result<Weir, String> {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("weir.cfg");
        std::fs::write(&config_path, config).unwrap();
        let mut cmd = Command::new(WEIR);
        cmd.args(args).arg("-f").arg(&config_path);
        let mut w = Self::spawn(cmd, dir, config_path, ports);
        w.wait_started()?;
        Ok(w)
    }

    /// Spawns a prepared command, capturing its output.
    pub fn spawn(
        mut cmd: Command,
        dir: tempfile::TempDir,
        config_path: PathBuf,
        ports: Vec<u16>,
    ) -> Weir {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weir");
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = Arc::clone(&output);
            std::thread::spawn(move || pump(stream, &output));
        }
        Weir {
            child: Some(child),
            output,
            ports,
            config_path,
            dir,
        }
    }

    /// Waits for the "started" line; `Err(output)` if weir exits first or
    /// takes longer than `START_TIMEOUT`.
    pub fn wait_started(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.output().contains("weir: started") {
                return Ok(());
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                // Let the pumps drain what was written before the exit.
                std::thread::sleep(Duration::from_millis(50));
                return Err(format!("exited with {st}:\n{}", self.output()));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no 'started' line within {START_TIMEOUT:?}:\n{}",
                    self.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything weir printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// `127.0.0.1:{Pn}`.
    pub fn addr(&self, n: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[n]))
    }

    /// A connection to frontend port `n`, with 10 s read/write timeouts so a
    /// broken proxy fails the test instead of hanging it.
    pub fn connect(&self, n: usize) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr(n), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to weir {}: {e}\n{}", self.addr(n), self.output()));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.as_ref().unwrap().id()).unwrap()
    }

    pub fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("kill");
    }

    /// Waits at most `d` for weir to exit.
    pub fn wait_exit(&mut self, d: Duration) -> Option<ExitStatus> {
        let st = wait_timeout(self.child.as_mut().unwrap(), d);
        if st.is_some() {
            std::thread::sleep(Duration::from_millis(50));
        }
        st
    }

    /// Waits at most `d` for `needle` to appear in the output.
    pub fn wait_output(&self, needle: &str, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if self.output().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.output().contains(needle)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pump(mut r: Box<dyn std::io::Read + Send>, out: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => out
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}

/// Whether something accepts TCP connections on `addr` right now.
pub fn is_listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Polls `f` every 10 ms for at most `d`; true once it holds.
pub fn eventually(d: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

static HEAVY: Mutex<()> = Mutex::new(());

/// Serialises the load-heavy tests of one test binary (thousands of
/// connections each): run at once they would compete for the two CPUs and
/// for ephemeral ports, and their time boxes would become flaky.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `global`/`defaults` preamble for tcp-mode tests: generous timeouts, a
/// process maxconn that fits the 20,000 open-files limit, one worker per
/// CPU (the proxy's default).
pub const TCP_DEFAULTS: &str = "\
global
    maxconn 3000

defaults
    mode tcp
    timeout connect 2s
    timeout client 20s
    timeout server 20s
";
