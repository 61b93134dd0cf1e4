//! The model of an `xdp` section. It lives in weir-config
//! (`weir_config::xdp`, which also documents the keywords), so that the
//! parser and `weir -c` check it without aya; it is re-exported here so the
//! loader's callers need one import.

pub use weir_config::xdp::*;

/// Reads a prefix file: one CIDR per line, `#` comments and blank lines
/// ignored. Errors name the file and line.
pub fn read_prefix_file(path: &std::path::Path) -> Result<Vec<Cidr>, crate::KernelError> {
    weir_config::xdp::read_prefix_file(path).map_err(crate::KernelError::Config)
}
