//! Throwaway network namespaces for the live XDP tests of the binary (after
//! weir-kernel's tests/common/netns.rs, which another crate's tests cannot
//! import). Every namespace is named after the test tag and the pid and is
//! deleted on drop, taking its veths and XDP attachments with it. No
//! traffic leaves these namespaces.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use nix::sched::CloneFlags;

/// A network namespace that exists while this value lives.
pub struct Netns {
    pub name: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// Creates `wx-<pid>-<tag>` with loopback up.
    pub fn new(tag: &str) -> Self {
        let name = format!("wx-{}-{tag}", std::process::id());
        // A leftover from a crashed run with a recycled pid would fail the add.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Runs `ip -n <ns> args…`, panicking with its stderr on failure.
    pub fn ip(&self, args: &[&str]) {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        ip(&a);
    }

    /// `ip -n <ns> args…`'s standard output.
    pub fn ip_out(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .expect("run ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command inside the namespace (`ip netns exec`), panicking on failure.
    pub fn exec(&self, args: &[&str]) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("run ip netns exec");
        assert!(
            out.status.success(),
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sets a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")]);
    }

    /// Runs `f` on a thread that has entered this namespace (only the
    /// network namespace: the mount namespace, hence /sys/fs/bpf, stays the
    /// host's). Sockets it creates, XDP programs it attaches and processes
    /// it spawns belong to the namespace.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path).expect("open netns");
                nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .expect("netns thread")
        })
    }

    /// The MAC address of `dev` in this namespace.
    pub fn mac(&self, dev: &str) -> String {
        let text = self.ip_out(&["-o", "link", "show", dev]);
        text.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .expect("link/ether in ip output")
            .to_string()
    }

    /// Whether an XDP program is attached to `dev` (`ip link` shows `xdp`).
    pub fn has_xdp(&self, dev: &str) -> bool {
        self.ip_out(&["link", "show", dev])
            .split_whitespace()
            .any(|w| w.starts_with("xdp") || w.starts_with("prog/xdp"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Links `a_dev` in `a` with `b_dev` in `b` by a veth pair, addresses them,
/// sets the MTU and brings both up.
pub fn veth(a: &Netns, a_dev: &str, a_addr: &str, b: &Netns, b_dev: &str, b_addr: &str, mtu: u32) {
    a.ip(&[
        "link", "add", a_dev, "type", "veth", "peer", "name", b_dev, "netns", &b.name,
    ]);
    let mtu = mtu.to_string();
    for (ns, dev, addr) in [(a, a_dev, a_addr), (b, b_dev, b_addr)] {
        ns.ip(&["link", "set", dev, "mtu", &mtu]);
        ns.ip(&["addr", "add", addr, "dev", dev]);
        ns.ip(&["link", "set", dev, "up"]);
    }
}

/// Turns off transmit checksum offload of `dev` in `ns`: a veth sender
/// otherwise leaves TCP checksums to "hardware" (CHECKSUM_PARTIAL); XDP_TX
/// on the way turns the skb into a raw frame and the half-done checksum
/// reaches the server, which drops it. Real NICs deliver full checksums.
pub fn tx_checksum_off(ns: &Netns, dev: &str) {
    ns.exec(&["ethtool", "-K", dev, "tx", "off"]);
}

/// A `weir` process started inside a namespace; killed on drop.
pub struct WeirProc {
    pub child: Child,
    out: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

// Each test crate that includes this module uses a different subset.
#[allow(dead_code, reason = "shared by several test crates")]
impl WeirProc {
    /// Writes `config` to a temporary file and starts `weir -f` on it from
    /// a thread inside `ns` (so weir runs in that network namespace but
    /// sees the host's /sys/fs/bpf for pinning).
    pub fn spawn(ns: &Netns, config: &str) -> Self {
        Self::spawn_with(ns, config, &[])
    }

    /// `spawn` with extra arguments before `-f` (e.g. `-sf PID`).
    pub fn spawn_with(ns: &Netns, config: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.cfg");
        std::fs::write(&path, config).unwrap();
        let mut child = ns.enter(|| {
            Command::new(env!("CARGO_BIN_EXE_weir"))
                .args(args)
                .arg("-f")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn weir")
        });
        let out = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        WeirProc {
            child,
            out,
            _dir: dir,
        }
    }

    pub fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits at most `d` for `needle` to appear `count` times in stderr.
    pub fn wait_output(&self, needle: &str, count: usize, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if self.output().matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig)
            .expect("signal weir");
    }

    pub fn wait_exit(&mut self, d: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + d;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for WeirProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
