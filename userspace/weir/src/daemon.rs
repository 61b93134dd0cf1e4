//! Daemonizing and the PID file.
//!
//! The PID file is opened before privileges are dropped (its directory is
//! usually root's, and after `chroot` the path would not resolve) and
//! written after the fork, so it holds the daemon's PID, not the parent's.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// An opened, truncated PID file waiting for its PID.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    /// Creates or truncates `path` (mode 0644).
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)
            .with_context(|| format!("cannot create pidfile '{}'", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Writes the calling process's PID and closes the file.
    pub fn write_own_pid(mut self) -> anyhow::Result<()> {
        let pid = std::process::id();
        writeln!(self.file, "{pid}")
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write pidfile '{}'", self.path.display()))
    }
}

/// Detaches from the terminal: fork (the parent exits 0), new session, and
/// standard streams to /dev/null. Must run before any thread is spawned,
/// since only the calling thread survives a fork. The working directory is
/// kept (a `chroot` already moved it to `/`).
pub fn daemonize() -> anyhow::Result<()> {
    nix::unistd::daemon(true, false).context("cannot daemonize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_holds_our_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.pid");
        std::fs::write(&path, "stale contents that are longer\n").unwrap();
        PidFile::create(&path).unwrap().write_own_pid().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
    }

    #[test]
    fn unwritable_pidfile_is_an_error_naming_it() {
        let e = PidFile::create(Path::new("/nonexistent-dir/weir.pid")).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent-dir/weir.pid"));
    }
}
