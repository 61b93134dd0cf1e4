//! Shared helpers for weir-kernel's tests: frame builders for
//! BPF_PROG_TEST_RUN fixtures and the checks of encapsulated output.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub mod netns;

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

pub const LB_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0c];
pub const NEXT_HOP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;

/// Ethernet header with optional VLAN tags (TPID, TCI).
pub fn eth(ethertype: u16, tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&LB_MAC);
    f.extend_from_slice(&CLIENT_MAC);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

pub fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[0..2].copy_from_slice(&sport.to_be_bytes());
    h[2..4].copy_from_slice(&dport.to_be_bytes());
    h[12] = 5 << 4;
    h[13] = flags;
    h[14..16].copy_from_slice(&64240u16.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 8];
    h[0..2].copy_from_slice(&sport.to_be_bytes());
    h[2..4].copy_from_slice(&dport.to_be_bytes());
    h[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(payload);
    h
}

pub fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// IPv4 header (+ `options`, a multiple of 4 bytes) followed by `l4`.
pub fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    options: &[u8],
    frag: u16,
    l4: &[u8],
) -> Vec<u8> {
    let ihl = 20 + options.len();
    let mut h = vec![0u8; 20];
    h[0] = 0x40 | (ihl / 4) as u8;
    h[1] = 0x10;
    h[2..4].copy_from_slice(&((ihl + l4.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    h.extend_from_slice(options);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
    h[6] = next;
    h[7] = 64;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
    h.extend_from_slice(l4);
    h
}

pub fn frame(l2: Vec<u8>, l3: &[u8]) -> Vec<u8> {
    let mut f = l2;
    f.extend_from_slice(l3);
    f
}

/// The server address an encapsulated frame is sent to, after checking
/// every outer field: next-hop MAC, our MAC as source, VLAN tags kept,
/// outer header well formed (checksum, lengths, protocol, source) and the
/// inner packet byte-identical to `inner`.
pub fn check_encap(out: &[u8], l2_len: usize, inner: &[u8], outer_src: IpAddr) -> IpAddr {
    assert_eq!(&out[0..6], &NEXT_HOP_MAC, "destination MAC is the next hop");
    assert_eq!(
        &out[6..12],
        &LB_MAC,
        "source MAC is the receiving interface"
    );
    let et = u16::from_be_bytes([out[l2_len - 2], out[l2_len - 1]]);
    let inner_proto = if inner[0] >> 4 == 4 { 4 } else { 41 };
    match outer_src {
        IpAddr::V4(src) => {
            assert_eq!(et, 0x0800);
            let h = &out[l2_len..l2_len + 20];
            assert_eq!(h[0], 0x45);
            assert_eq!(checksum(h), 0, "outer IPv4 checksum");
            assert_eq!(
                usize::from(u16::from_be_bytes([h[2], h[3]])),
                20 + inner.len()
            );
            assert_eq!(h[9], inner_proto);
            assert_eq!(&h[12..16], &src.octets());
            assert_eq!(
                &out[l2_len + 20..l2_len + 20 + inner.len()],
                inner,
                "inner packet untouched"
            );
            IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]))
        }
        IpAddr::V6(src) => {
            assert_eq!(et, 0x86DD);
            let h = &out[l2_len..l2_len + 40];
            assert_eq!(h[0] >> 4, 6);
            assert_eq!(usize::from(u16::from_be_bytes([h[4], h[5]])), inner.len());
            assert_eq!(h[6], inner_proto);
            assert_eq!(&h[8..24], &src.octets());
            assert_eq!(
                &out[l2_len + 40..l2_len + 40 + inner.len()],
                inner,
                "inner packet untouched"
            );
            let mut d = [0u8; 16];
            d.copy_from_slice(&h[24..40]);
            IpAddr::V6(Ipv6Addr::from(d))
        }
    }
}

/// Skips (with the reason) when not root: loading BPF needs CAP_BPF and
/// CAP_NET_ADMIN. CI runs as root, so a skip there is a failure to look at.
#[macro_export]
macro_rules! require_root {
    () => {
        if !nix_is_root() {
            eprintln!("skipped: loading eBPF needs root (CAP_BPF, CAP_NET_ADMIN)");
            return;
        }
    };
}

pub fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `f` on a thread with its own mount namespace and a fresh bpffs
/// mounted on a temporary directory, passed to `f`. Pins made there vanish
/// with the thread's namespace: nothing is left on the host, and the test
/// does not depend on /sys/fs/bpf being mounted.
pub fn with_private_bpffs<T: Send>(f: impl FnOnce(&std::path::Path) -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: unshare affects only this thread (CLONE_FS unshares its
            // fs struct first, which CLONE_NEWNS needs in a threaded process).
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_FS) };
            assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
            let root = std::ffi::CString::new("/").unwrap();
            // SAFETY: valid C strings; makes mounts below private to this namespace.
            let rc = unsafe {
                libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                )
            };
            assert_eq!(rc, 0, "make / private: {}", std::io::Error::last_os_error());
            let dir = std::env::temp_dir().join(format!(
                "weir-bpffs-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let target = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
            let fstype = std::ffi::CString::new("bpf").unwrap();
            // SAFETY: valid C strings; a bpffs instance private to this namespace.
            let rc = unsafe {
                libc::mount(
                    fstype.as_ptr(),
                    target.as_ptr(),
                    fstype.as_ptr(),
                    0,
                    std::ptr::null(),
                )
            };
            assert_eq!(rc, 0, "mount bpffs: {}", std::io::Error::last_os_error());
            let out = f(&dir);
            // SAFETY: valid C string; undoes the mount above.
            unsafe { libc::umount(target.as_ptr()) };
            let _ = std::fs::remove_dir(&dir);
            out
        })
        .join()
        .expect("bpffs thread")
    })
}

/// Fills in the TCP or UDP checksum of an IPv4 packet (no options) and
/// returns it; `l4_checksum_ok` verifies one.
pub fn with_l4_checksum(mut ip: Vec<u8>) -> Vec<u8> {
    let proto = ip[9];
    let off = if proto == 6 { 20 + 16 } else { 20 + 6 };
    ip[off] = 0;
    ip[off + 1] = 0;
    let c = l4_sum(&ip);
    let c = if proto == 17 && c == 0 { 0xffff } else { c };
    ip[off..off + 2].copy_from_slice(&c.to_be_bytes());
    ip
}

fn l4_sum(ip: &[u8]) -> u16 {
    let l4 = &ip[20..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&ip[12..20]);
    pseudo.extend_from_slice(&[0, ip[9]]);
    pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(l4);
    checksum(&pseudo)
}

/// Both checksums of an IPv4 packet (no options) verify.
pub fn checksums_ok(ip: &[u8]) -> bool {
    checksum(&ip[..20]) == 0 && l4_sum(ip) == 0
}

fn l4_sum6(ip: &[u8]) -> u16 {
    let l4 = &ip[40..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&ip[8..40]);
    pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, ip[6]]);
    pseudo.extend_from_slice(l4);
    checksum(&pseudo)
}

/// Fills in the TCP or UDP checksum of an IPv6 packet (no extension headers).
pub fn with_l4_checksum6(mut ip: Vec<u8>) -> Vec<u8> {
    let off = if ip[6] == 6 { 40 + 16 } else { 40 + 6 };
    ip[off] = 0;
    ip[off + 1] = 0;
    let c = l4_sum6(&ip);
    let c = if ip[6] == 17 && c == 0 { 0xffff } else { c };
    ip[off..off + 2].copy_from_slice(&c.to_be_bytes());
    ip
}

/// The TCP/UDP checksum of an IPv6 packet verifies.
pub fn checksum6_ok(ip: &[u8]) -> bool {
    l4_sum6(ip) == 0
}
