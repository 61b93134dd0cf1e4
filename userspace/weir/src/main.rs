//! The `weir` binary: CLI, signals, privileges, reload and wiring.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    Ok(())
}
