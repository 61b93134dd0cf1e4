//! What the running kernel supports, for `weir -vv` and for tests that
//! must say what is missing rather than fail obscurely.

use aya::programs::ProgramType;

/// Kernel features relevant to weir's eBPF side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSupport {
    /// XDP programs load (generic mode then works on any device; native
    /// mode depends on each driver and is reported at attach time).
    pub xdp: bool,
    /// SK_REUSEPORT programs load.
    pub sk_reuseport: bool,
    /// SK_LOOKUP programs load.
    pub sk_lookup: bool,
    /// Kernel BTF is exposed (/sys/kernel/btf/vmlinux).
    pub btf: bool,
    /// bpffs is mounted at /sys/fs/bpf (needed for pinning).
    pub bpffs: bool,
    /// LRU hash and LPM trie maps are available.
    pub lru_and_lpm: bool,
}

impl std::fmt::Display for KernelSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let yn = |b: bool| if b { "yes" } else { "no" };
        write!(
            f,
            "xdp: {} (generic always, native per driver), sk_reuseport: {}, sk_lookup: {}, btf: {}, bpffs: {}, lru+lpm maps: {}",
            yn(self.xdp),
            yn(self.sk_reuseport),
            yn(self.sk_lookup),
            yn(self.btf),
            yn(self.bpffs),
            yn(self.lru_and_lpm)
        )
    }
}

/// Probes the kernel (loads tiny test programs; needs CAP_BPF to say yes).
pub fn probe() -> KernelSupport {
    let prog = |t| aya::sys::is_program_supported(t).unwrap_or(false);
    let map = |t| aya::sys::is_map_supported(t).unwrap_or(false);
    KernelSupport {
        xdp: prog(ProgramType::Xdp),
        sk_reuseport: prog(ProgramType::SkReuseport),
        sk_lookup: prog(ProgramType::SkLookup),
        btf: std::path::Path::new("/sys/kernel/btf/vmlinux").exists(),
        bpffs: std::fs::read_to_string("/proc/mounts").is_ok_and(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
        }),
        lru_and_lpm: map(aya::maps::MapType::LruHash) && map(aya::maps::MapType::LpmTrie),
    }
}
