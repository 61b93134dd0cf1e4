//! `cargo xtask`: runs weir's benchmarks (and, later, netns helpers and
//! packaging). Everything it starts is bounded in time and count and talks
//! only to 127.0.0.1.
#![forbid(unsafe_code)]

mod bench;
mod deb;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

const USAGE: &str = "\
Usage: cargo xtask <command>
  bench tcp [options]   weir vs HAProxy vs direct, TCP forwarding (see bench/README.md)
      --rounds N        interleaved rounds (default 3)
      --targets LIST    comma-separated subset of weir,haproxy,direct
      --seconds S       length of each timed phase (default 3)
      --idle N          idle proxied connections for the RSS measure (default 7500, see bench/README.md)
      --rate N          offered rate of the fixed-rate phase (default 500 conn/s)
      --weir PATH       use this weir binary instead of building one (release)
      --out FILE        where to write the results (default bench/RESULTS.md)
      --no-save         print only
  bench xdp [options]   packets/s through weir's XDP path, nftables DNAT, routing (--help)
  deb [--weir PATH] [--out DIR]
                        build a .deb (binary, /etc/weir/weir.cfg, systemd unit,
                        sysctl profile) with dpkg-deb
";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("tcp") => bench::tcp::main(&args[2..]),
            Some("xdp") => bench::xdp::main(&args[2..]),
            _ => bail!("unknown bench\n{USAGE}"),
        },
        Some("deb") => deb::main(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command '{other}'\n{USAGE}"),
    }
}

/// The workspace root (xtask lives in its `xtask/` directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` or `<root>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Builds the release `weir` binary and returns its path.
pub fn build_release_weir(root: &Path) -> anyhow::Result<PathBuf> {
    eprintln!("xtask: building weir (release)…");
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "weir"])
        .current_dir(root)
        .status()
        .context("cargo build")?;
    if !st.success() {
        bail!("cargo build --release -p weir failed");
    }
    Ok(target_dir(root).join("release").join("weir"))
}
