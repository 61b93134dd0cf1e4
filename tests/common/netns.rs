//! Throwaway network namespaces: a test that needs a fixed port (the
//! embedded quickstart listens on 127.0.0.1:8080) runs weir and its peers in
//! a namespace of its own, so nothing else on the machine can collide with
//! it. The namespace is deleted on drop.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::CloneFlags;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace with its loopback up.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `weir-test-PID-N` and brings `lo` up. Panics with the reason
    /// if the machine does not allow it (the suite runs as root in CI).
    pub fn new() -> Netns {
        let name = format!(
            "weir-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        run(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        run(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// `program` to be run inside the namespace (`ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `f` on a new thread that has entered the namespace (a network
    /// namespace is per thread), and returns its result.
    pub fn run_in<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("thread in namespace panicked")
    }

    /// Spawns `f` on a thread inside the namespace and returns its handle.
    pub fn spawn_in<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> std::thread::JoinHandle<R> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed (network namespaces need root and iproute2): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
