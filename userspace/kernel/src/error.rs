//! weir-kernel's error type. Each variant says what failed and why, in
//! words an operator can act on (attach failures name the interface, the
//! mode and the kernel's answer).

use std::net::IpAddr;

/// Errors of loading, attaching and driving weir's eBPF programs.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The object or a program failed to load (verifier, capabilities…).
    #[error("loading the eBPF object failed: {0}")]
    Load(#[from] aya::EbpfError),
    /// A program failed to load or attach.
    #[error("eBPF program {program}: {source}")]
    Program {
        /// Program name.
        program: &'static str,
        /// aya's error.
        #[source]
        source: aya::programs::ProgramError,
    },
    /// XDP could not attach to an interface in any allowed mode.
    #[error("cannot attach XDP to {interface}: {reason}")]
    Attach {
        /// Interface name.
        interface: String,
        /// Every mode tried and the kernel's answer for each.
        reason: String,
    },
    /// A map is missing from the object or has an unexpected type.
    #[error("map {map}: {source}")]
    Map {
        /// Map name.
        map: &'static str,
        /// aya's error.
        #[source]
        source: aya::maps::MapError,
    },
    /// A map the object must contain is absent.
    #[error("map {0} is missing from the eBPF object")]
    MissingMap(&'static str),
    /// A configuration value the kernel side cannot represent.
    #[error("invalid XDP configuration: {0}")]
    Config(String),
    /// A VIP named in a call is not configured.
    #[error("unknown VIP {addr} port {port}")]
    UnknownVip {
        /// VIP address.
        addr: IpAddr,
        /// VIP port (0 for address-wide).
        port: u16,
    },
    /// A server named in a call is not configured for the VIP.
    #[error("unknown server {0}")]
    UnknownServer(String),
    /// Pinning or reusing a pinned map failed.
    #[error("pinning under {path}: {reason}")]
    Pin {
        /// Pin directory.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// An I/O error from the system (reading a prefix file, sysfs…).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl KernelError {
    pub(crate) fn map(map: &'static str) -> impl FnOnce(aya::maps::MapError) -> Self {
        move |source| Self::Map { map, source }
    }
    pub(crate) fn program(
        program: &'static str,
    ) -> impl FnOnce(aya::programs::ProgramError) -> Self {
        move |source| Self::Program { program, source }
    }
}
