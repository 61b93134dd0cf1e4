//! `cargo xtask deb`: a Debian package of weir with `dpkg-deb`: the release
//! binary, the default configuration (a conffile), the systemd unit, the
//! sysctl profile (shipped, not applied) and the maintainer scripts from
//! packaging/.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

/// Where each shipped file goes: (source relative to the workspace root,
/// destination inside the package, mode).
const FILES: &[(&str, &str, u32)] = &[
    ("packaging/weir.cfg", "etc/weir/weir.cfg", 0o644),
    (
        "packaging/weir.service",
        "lib/systemd/system/weir.service",
        0o644,
    ),
    (
        "tuning/weir-sysctl.conf",
        "usr/share/weir/sysctl/60-weir.conf",
        0o644,
    ),
    ("README.md", "usr/share/doc/weir/README.md", 0o644),
    ("packaging/debian/postinst", "DEBIAN/postinst", 0o755),
    ("packaging/debian/postrm", "DEBIAN/postrm", 0o755),
];

/// The `DEBIAN/control` file.
pub fn control(version: &str, arch: &str, installed_kib: u64) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "Package: weir");
    let _ = writeln!(c, "Version: {version}");
    let _ = writeln!(c, "Architecture: {arch}");
    let _ = writeln!(c, "Maintainer: weir developers <weir@example.invalid>");
    let _ = writeln!(c, "Installed-Size: {installed_kib}");
    let _ = writeln!(c, "Depends: libc6 (>= 2.36), adduser");
    let _ = writeln!(c, "Section: net");
    let _ = writeln!(c, "Priority: optional");
    let _ = writeln!(c, "Homepage: https://example.invalid/weir");
    let _ = writeln!(
        c,
        "Description: kernel-accelerated L4/L7 load balancer\n \
         weir balances and proxies TCP (and, as it grows, HTTP/1.1) with\n \
         thread-per-core io_uring workers and XDP/eBPF programs. It reads\n \
         HAProxy's configuration dialect and speaks HAProxy's runtime API."
    );
    c
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let mut weir: Option<PathBuf> = None;
    let mut out_dir: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--weir" => weir = Some(PathBuf::from(it.next().context("--weir needs a path")?)),
            "--out" => out_dir = Some(PathBuf::from(it.next().context("--out needs a directory")?)),
            other => bail!("unknown option '{other}'"),
        }
    }
    let root = crate::workspace_root();
    let weir = match weir {
        Some(p) => p,
        None => crate::build_release_weir(&root)?,
    };
    let target = crate::target_dir(&root);
    let out_dir = out_dir.unwrap_or_else(|| target.join("deb"));
    let version = env!("CARGO_PKG_VERSION");
    let arch = String::from_utf8(
        Command::new("dpkg")
            .arg("--print-architecture")
            .output()
            .context("dpkg --print-architecture (is this Debian?)")?
            .stdout,
    )?
    .trim()
    .to_owned();
    let stage = out_dir.join(format!("weir_{version}_{arch}"));
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    install(&weir, &stage.join("usr/sbin/weir"), 0o755)?;
    for (src, dst, mode) in FILES {
        install(&root.join(src), &stage.join(dst), *mode)?;
    }
    std::fs::write(stage.join("DEBIAN/conffiles"), "/etc/weir/weir.cfg\n")?;
    let kib = dir_size(&stage)? / 1024 + 1;
    std::fs::write(stage.join("DEBIAN/control"), control(version, &arch, kib))?;
    let deb = out_dir.join(format!("weir_{version}_{arch}.deb"));
    let st = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&stage)
        .arg(&deb)
        .status()
        .context("dpkg-deb")?;
    if !st.success() {
        bail!("dpkg-deb failed");
    }
    println!("{}", deb.display());
    Ok(())
}

fn install(src: &Path, dst: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(src, dst)
        .with_context(|| format!("copy {} to {}", src.display(), dst.display()))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() {
            dir_size(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_has_the_fields_dpkg_requires() {
        let c = control("0.1.0", "amd64", 1234);
        for f in [
            "Package: weir\n",
            "Version: 0.1.0\n",
            "Architecture: amd64\n",
            "Maintainer: ",
            "Description: ",
        ] {
            assert!(c.contains(f), "{f} missing in\n{c}");
        }
        // Continuation lines of the description start with a space.
        for l in c
            .lines()
            .skip_while(|l| !l.starts_with("Description"))
            .skip(1)
        {
            assert!(l.starts_with(' '), "{l:?}");
        }
    }

    #[test]
    fn every_shipped_file_exists() {
        let root = crate::workspace_root();
        for (src, _, _) in FILES {
            assert!(root.join(src).is_file(), "{src} missing");
        }
    }

    #[test]
    fn sysctl_profile_names_only_real_keys_each_with_a_reason() {
        let root = crate::workspace_root();
        let text = std::fs::read_to_string(root.join("tuning/weir-sysctl.conf")).unwrap();
        let mut prev_comment = false;
        let mut keys = 0;
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() {
                prev_comment = false;
                continue;
            }
            if t.starts_with('#') {
                prev_comment = true;
                continue;
            }
            let (k, v) = t
                .split_once('=')
                .unwrap_or_else(|| panic!("not key = value: {t}"));
            let (k, v) = (k.trim(), v.trim());
            assert!(!v.is_empty(), "{k} has no value");
            assert!(prev_comment, "{k} has no comment saying why");
            let path = format!("/proc/sys/{}", k.replace('.', "/"));
            assert!(Path::new(&path).exists(), "{k}: no {path} on this kernel");
            keys += 1;
        }
        assert!(keys >= 10, "only {keys} settings");
    }
}
