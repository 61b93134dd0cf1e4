//! Loads weir's eBPF programs (aya), owns their map handles and mirrors the
//! core's decisions (Maglev rings, server state, blocklists) into the maps.
//! Makes no policy decisions of its own: what goes into the maps comes from
//! the configuration and, at run time, from the caller.
//!
//! With weir-runtime, this is the userspace crate allowed `unsafe`: only for
//! the few syscalls aya does not wrap; every block says why it is sound.
//! Design notes: the `xdp` keyword spec is in [`config`]; the kernel side
//! lives in ebpf/programs, the shared layouts in weir-common.

mod balancer;
pub mod config;
mod decap;
mod error;
mod probe;
mod reuseport;

pub use balancer::{Attached, Counters, Finish, ServerState, XdpBalancer};
pub use decap::XdpDecap;
pub use error::KernelError;
pub use probe::{probe, KernelSupport};
pub use reuseport::{ReuseportMode, ReuseportSteering};
pub use weir_common::{Event, Traffic};

/// The compiled eBPF object (XDP and SK_REUSEPORT programs), built by build.rs.
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/weir-ebpf"));

/// Loads the object with every map at its minimum size except `sizes`: for
/// the programs that use only a few of the object's maps (decap, reuseport).
pub(crate) fn load_small(sizes: &[(&'static str, u32)]) -> Result<aya::Ebpf, KernelError> {
    use weir_common::maps as m;
    let mut loader = aya::EbpfLoader::new();
    for name in [
        m::RINGS,
        m::FLOWS,
        m::NAT_REV,
        m::RATE,
        m::SRC_V4,
        m::SRC_V6,
        m::VIPS,
        m::VIP_TABLE,
        m::SERVERS,
        m::VIP_STATS,
        m::SERVER_STATS,
        m::REUSEPORT_SOCKS,
    ] {
        loader.map_max_entries(name, 1);
    }
    for (name, size) in sizes {
        loader.map_max_entries(name, *size);
    }
    Ok(loader.load(EBPF_OBJECT)?)
}
