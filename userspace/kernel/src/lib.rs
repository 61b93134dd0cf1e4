//! Loads weir's eBPF programs (aya), owns their map handles and mirrors the
//! core's decisions (Maglev rings, server state, blocklists) into the maps.
//! Makes no policy decisions of its own.
//!
//! With weir-runtime, this is the userspace crate allowed `unsafe`: only for
//! the few syscalls aya does not wrap; every block says why it is sound.

/// The compiled eBPF object (XDP and SK_REUSEPORT programs), built by build.rs.
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/weir-ebpf"));

#[cfg(test)]
mod tests {
    use aya::programs::{TestRun, TestRunOptions, Xdp};

    #[test]
    fn object_loads_and_passes() {
        let mut ebpf = aya::Ebpf::load(super::EBPF_OBJECT).expect("load object");
        let prog: &mut Xdp = ebpf.program_mut("weir_xdp").unwrap().try_into().unwrap();
        prog.load().expect("verifier");
        let pkt = [0u8; 64];
        let r = prog
            .test_run(TestRunOptions {
                data_in: Some(&pkt),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.return_value, 2);
    }
}
