//! `cargo xtask`: runs weir's benchmarks (and, later, netns helpers and
//! packaging). Everything it starts is bounded in time and count and talks
//! only to 127.0.0.1.
#![forbid(unsafe_code)]

mod bench;

use anyhow::bail;

const USAGE: &str = "\
Usage: cargo xtask <command>
  bench tcp [options]   weir vs HAProxy vs direct, TCP forwarding (see bench/README.md)
      --rounds N        interleaved rounds (default 3)
      --targets LIST    comma-separated subset of weir,haproxy,direct
      --seconds S       length of each timed phase (default 3)
      --idle N          idle proxied connections for the RSS measure (default 3000: what both proxies fit in 20,000 fds, see bench/README.md)
      --weir PATH       use this weir binary instead of building one (release)
      --out FILE        where to write the results (default bench/RESULTS.md)
      --no-save         print only
";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("tcp") => bench::tcp::main(&args[2..]),
            _ => bail!("unknown bench\n{USAGE}"),
        },
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command '{other}'\n{USAGE}"),
    }
}
