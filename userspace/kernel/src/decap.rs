//! `XdpDecap`: the server-side XDP program that unwraps what the balancer
//! encapsulated, for hosts without ipip / ip6tnl devices (this CI kernel has
//! neither). See ebpf/programs/src/decap.rs for what it accepts.

use crate::config::{AttachMode, Fallback, InterfaceConfig};
use crate::{Attached, KernelError};
use aya::maps::{MapData, PerCpuArray};
use aya::programs::{TestRun, TestRunOptions, Xdp, XdpMode};
use weir_common::{maps as m, Event};

/// A loaded decapsulation program; dropping it detaches it.
pub struct XdpDecap {
    ebpf: aya::Ebpf,
}

impl XdpDecap {
    /// Loads the program (not attached yet).
    pub fn load() -> Result<Self, KernelError> {
        let mut ebpf = crate::load_small(&[])?;
        let prog: &mut Xdp = ebpf
            .program_mut(m::PROG_DECAP)
            .ok_or(KernelError::MissingMap(m::PROG_DECAP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_DECAP))?;
        prog.load().map_err(KernelError::program(m::PROG_DECAP))?;
        Ok(Self { ebpf })
    }

    /// Attaches to `iface` (in the caller's network namespace).
    pub fn attach(&mut self, iface: &InterfaceConfig) -> Result<Attached, KernelError> {
        let prog: &mut Xdp = self
            .ebpf
            .program_mut(m::PROG_DECAP)
            .ok_or(KernelError::MissingMap(m::PROG_DECAP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_DECAP))?;
        let mut tried = Vec::new();
        if iface.mode != AttachMode::Generic {
            match prog.attach(&iface.name, XdpMode::Driver) {
                Ok(_) => return Ok(Attached::Native),
                Err(e) => tried.push(format!("native: {e}")),
            }
        }
        if iface.mode == AttachMode::Generic || iface.fallback == Fallback::Generic {
            match prog.attach(&iface.name, XdpMode::Skb) {
                Ok(_) => return Ok(Attached::Generic),
                Err(e) => tried.push(format!("generic: {e}")),
            }
        }
        Err(KernelError::Attach {
            interface: iface.name.clone(),
            reason: tried.join("; "),
        })
    }

    /// Packets unwrapped so far (summed over CPUs).
    pub fn decapsulated(&self) -> Result<u64, KernelError> {
        let map = self
            .ebpf
            .map(m::EVENTS)
            .ok_or(KernelError::MissingMap(m::EVENTS))?;
        let a: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(map).map_err(KernelError::map(m::EVENTS))?;
        let v = a
            .get(&(Event::Decapsulated as u32), 0)
            .map_err(KernelError::map(m::EVENTS))?;
        Ok(v.iter().sum())
    }

    /// One BPF_PROG_TEST_RUN: verdict and frame out.
    pub fn test_run(&self, frame: &[u8]) -> Result<(u32, Vec<u8>), KernelError> {
        let prog: &Xdp = self
            .ebpf
            .program(m::PROG_DECAP)
            .ok_or(KernelError::MissingMap(m::PROG_DECAP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_DECAP))?;
        let mut out = vec![0u8; frame.len() + 256];
        let r = prog
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ..Default::default()
            })
            .map_err(KernelError::program(m::PROG_DECAP))?;
        out.truncate(r.data_size_out as usize);
        Ok((r.return_value, out))
    }
}
