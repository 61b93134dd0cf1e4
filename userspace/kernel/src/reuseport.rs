//! SK_REUSEPORT steering for the userspace workers: new connections go to
//! the listening socket of the worker pinned to the receiving CPU (or by
//! 4-tuple hash). Where the program cannot load, workers fall back to
//! SO_INCOMING_CPU (the runtime's business).

use crate::KernelError;
use aya::maps::{Array, MapData, ReusePortSockArray};
use aya::programs::SkReuseport;
use std::os::fd::AsFd;
use weir_common::{maps as m, ReuseportConfig, REUSEPORT_BY_CPU, REUSEPORT_BY_HASH};

/// How a socket is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReuseportMode {
    /// Socket `i` belongs to the worker pinned to CPU `i`.
    ByCpu,
    /// The packet's 4-tuple hash picks the socket.
    ByHash,
}

/// A loaded SK_REUSEPORT program and its socket array. Sockets must be
/// registered before the program is attached to the group.
pub struct ReuseportSteering {
    ebpf: aya::Ebpf,
}

impl ReuseportSteering {
    /// Loads the program for `sockets` listeners.
    pub fn load(mode: ReuseportMode, sockets: u32) -> Result<Self, KernelError> {
        let mut ebpf = crate::load_small(&[(m::REUSEPORT_SOCKS, sockets.max(1))])?;
        let prog: &mut SkReuseport = ebpf
            .program_mut(m::PROG_REUSEPORT)
            .ok_or(KernelError::MissingMap(m::PROG_REUSEPORT))?
            .try_into()
            .map_err(KernelError::program(m::PROG_REUSEPORT))?;
        prog.load()
            .map_err(KernelError::program(m::PROG_REUSEPORT))?;
        let mode = match mode {
            ReuseportMode::ByCpu => REUSEPORT_BY_CPU,
            ReuseportMode::ByHash => REUSEPORT_BY_HASH,
        };
        let map = ebpf
            .map_mut(m::REUSEPORT_CFG)
            .ok_or(KernelError::MissingMap(m::REUSEPORT_CFG))?;
        let mut cfg: Array<&mut MapData, ReuseportConfig> =
            Array::try_from(map).map_err(KernelError::map(m::REUSEPORT_CFG))?;
        cfg.set(0, ReuseportConfig { mode, sockets }, 0)
            .map_err(KernelError::map(m::REUSEPORT_CFG))?;
        Ok(Self { ebpf })
    }

    /// Registers worker `index`'s listening socket (bound with SO_REUSEPORT).
    pub fn set_socket<S: std::os::fd::AsRawFd>(
        &mut self,
        index: u32,
        socket: &S,
    ) -> Result<(), KernelError> {
        let map = self
            .ebpf
            .map_mut(m::REUSEPORT_SOCKS)
            .ok_or(KernelError::MissingMap(m::REUSEPORT_SOCKS))?;
        let mut a: ReusePortSockArray<&mut MapData> =
            ReusePortSockArray::try_from(map).map_err(KernelError::map(m::REUSEPORT_SOCKS))?;
        a.set(index, socket, 0)
            .map_err(KernelError::map(m::REUSEPORT_SOCKS))
    }

    /// Attaches the program to the reuseport group of `socket` (any member).
    /// aya keeps no link for this attach type: the program stays with the
    /// group until `detach` or until the group's last socket closes.
    pub fn attach<S: AsFd>(&self, socket: S) -> Result<(), KernelError> {
        let prog: &SkReuseport = self
            .ebpf
            .program(m::PROG_REUSEPORT)
            .ok_or(KernelError::MissingMap(m::PROG_REUSEPORT))?
            .try_into()
            .map_err(KernelError::program(m::PROG_REUSEPORT))?;
        prog.attach(socket)
            .map_err(KernelError::program(m::PROG_REUSEPORT))
    }

    /// Detaches whatever program steers `socket`'s group.
    pub fn detach<S: AsFd>(socket: S) -> Result<(), KernelError> {
        SkReuseport::detach(socket).map_err(KernelError::program(m::PROG_REUSEPORT))
    }
}
