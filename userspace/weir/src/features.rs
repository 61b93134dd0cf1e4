//! `-v` / `-vv`: the version, and what this build and this kernel support.
//!
//! Every feature line is probed on the running kernel, not assumed: an
//! io_uring opcode is "yes" only if the kernel's probe lists it.

use std::fmt::Write as _;

use io_uring::opcode;

/// The one-line version, as `-v` prints it.
pub fn version_line() -> String {
    format!(
        "weir version {} - kernel-accelerated L4/L7 load balancer",
        env!("CARGO_PKG_VERSION")
    )
}

/// The `-vv` report: version, build profile and probed kernel features.
pub fn report() -> String {
    let mut out = version_line();
    out.push('\n');
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let _ = writeln!(out, "Build: {profile}, target {}", std::env::consts::ARCH);
    match nix::sys::utsname::uname() {
        Ok(u) => {
            let _ = writeln!(
                out,
                "Running on: {} {} {}",
                u.sysname().to_string_lossy(),
                u.release().to_string_lossy(),
                u.machine().to_string_lossy()
            );
        }
        Err(e) => {
            let _ = writeln!(out, "Running on: unknown ({e})");
        }
    }
    out.push_str(&io_uring_report());
    let _ = writeln!(out, "SO_REUSEPORT: {}", yes_no(reuseport_works()));
    // Loads tiny test programs: needs CAP_BPF (root here) to say yes.
    let k = weir_kernel::probe();
    let _ = writeln!(out, "BPF/XDP (probed by loading test programs): {k}");
    out
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The io_uring opcodes weir's data path relies on, probed on this kernel.
fn io_uring_report() -> String {
    let ring = match io_uring::IoUring::new(2) {
        Ok(ring) => ring,
        Err(e) => return format!("io_uring: unavailable ({e})\n"),
    };
    let mut probe = io_uring::Probe::new();
    if let Err(e) = ring.submitter().register_probe(&mut probe) {
        return format!("io_uring: available, opcode probe failed ({e})\n");
    }
    let ops: [(&str, u8); 10] = [
        ("accept", opcode::Accept::CODE),
        ("connect", opcode::Connect::CODE),
        ("recv", opcode::Recv::CODE),
        ("send", opcode::Send::CODE),
        ("splice", opcode::Splice::CODE),
        ("poll_add", opcode::PollAdd::CODE),
        ("timeout", opcode::Timeout::CODE),
        ("async_cancel", opcode::AsyncCancel::CODE),
        ("shutdown", opcode::Shutdown::CODE),
        ("close", opcode::Close::CODE),
    ];
    let mut yes = Vec::new();
    let mut no = Vec::new();
    for (name, code) in ops {
        if probe.is_supported(code) {
            yes.push(name);
        } else {
            no.push(name);
        }
    }
    let mut out = format!("io_uring: available; ops supported: {}\n", yes.join(" "));
    if !no.is_empty() {
        let _ = writeln!(out, "io_uring ops missing: {}", no.join(" "));
    }
    let _ = writeln!(
        out,
        "splice (socket -> pipe -> socket through io_uring): {}",
        yes_no(probe.is_supported(opcode::Splice::CODE))
    );
    out
}

/// Whether a TCP socket accepts SO_REUSEPORT, which the per-worker
/// listeners need.
fn reuseport_works() -> bool {
    use nix::sys::socket::{setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType};
    let Ok(fd) = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    ) else {
        return false;
    };
    setsockopt(&fd, sockopt::ReusePort, &true).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_every_probed_feature() {
        let r = report();
        for key in [
            "weir version",
            "io_uring",
            "SO_REUSEPORT",
            "btf",
            "BPF/XDP",
            "xdp",
        ] {
            assert!(r.contains(key), "missing {key} in {r}");
        }
    }
}
