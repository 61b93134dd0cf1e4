//! `cargo xtask`: runs weir's benchmarks, netns helpers and packaging.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    Ok(())
}
