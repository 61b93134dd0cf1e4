//! Builds weir's eBPF programs (ebpf/programs, target bpfel-unknown-none)
//! through aya-build and leaves the object in OUT_DIR for `include_bytes_aligned!`.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = manifest_dir.join("../..");
    let programs = root.join("ebpf/programs");
    let common = root.join("ebpf/common");
    // Any change to the kernel programs or to the shared layouts rebuilds the object.
    for dir in [
        programs.join("src"),
        programs.join("Cargo.toml"),
        programs.join(".cargo"),
        common.join("src"),
        common.join("Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    // weir-ebpf is excluded from the host workspace (it only builds for BPF), so
    // the nested cargo must run from its own directory, where it is the root.
    std::env::set_current_dir(&programs).expect("ebpf/programs exists");
    let package = aya_build::Package {
        name: "weir-ebpf",
        root_dir: programs.to_str().expect("utf-8 path"),
        ..Default::default()
    };
    if let Err(e) = aya_build::build_ebpf([package], aya_build::Toolchain::Custom("stable")) {
        panic!("building the eBPF programs failed: {e:#}");
    }
}
