//! Dropping privileges after binding: `chroot`, `group`/`gid`, `user`/`uid`.
//!
//! Names are resolved before `chroot`, because `/etc/passwd` and
//! `/etc/group` are usually not inside the jail.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use nix::unistd::{Gid, Group, Uid, User};
use weir_config::Global;

/// What to change, with names already resolved to ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub chroot: Option<PathBuf>,
    pub uid: Option<Uid>,
    pub gid: Option<Gid>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.chroot.is_none() && self.uid.is_none() && self.gid.is_none()
    }
}

/// Resolves the global section's privilege keywords. `uid`/`gid` win over
/// `user`/`group` when both are given.
pub fn plan(global: &Global) -> anyhow::Result<Plan> {
    let uid = match (global.uid, &global.user) {
        (Some(uid), _) => Some(Uid::from_raw(uid)),
        (None, Some(name)) => Some(
            User::from_name(name)
                .with_context(|| format!("cannot look up user '{name}'"))?
                .with_context(|| format!("global: unknown user '{name}'"))?
                .uid,
        ),
        (None, None) => None,
    };
    let gid = match (global.gid, &global.group) {
        (Some(gid), _) => Some(Gid::from_raw(gid)),
        (None, Some(name)) => Some(
            Group::from_name(name)
                .with_context(|| format!("cannot look up group '{name}'"))?
                .with_context(|| format!("global: unknown group '{name}'"))?
                .gid,
        ),
        (None, None) => None,
    };
    Ok(Plan {
        chroot: global.chroot.clone(),
        uid,
        gid,
    })
}

/// Applies the plan: chroot (and chdir to the new root), then drop the
/// supplementary groups and set the gid, then set the uid — the gid first,
/// because after setuid the process may no longer change it.
pub fn apply(plan: &Plan) -> anyhow::Result<()> {
    if let Some(dir) = &plan.chroot {
        nix::unistd::chroot(dir)
            .with_context(|| format!("global: cannot chroot to '{}'", dir.display()))?;
        nix::unistd::chdir("/").context("cannot chdir to / after chroot")?;
    }
    let running_as_root = Uid::effective().is_root();
    if let Some(gid) = plan.gid {
        if running_as_root {
            nix::unistd::setgroups(&[gid]).context("cannot drop supplementary groups")?;
        }
        nix::unistd::setgid(gid).with_context(|| format!("global: cannot set gid {gid}"))?;
    }
    if let Some(uid) = plan.uid {
        if running_as_root && plan.gid.is_none() {
            // Keep no root group membership behind a non-root uid.
            nix::unistd::setgroups(&[Gid::current()])
                .context("cannot drop supplementary groups")?;
        }
        nix::unistd::setuid(uid).with_context(|| format!("global: cannot set uid {uid}"))?;
        if !uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            bail!("setuid({uid}) did not drop root: refusing to run");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_win_and_names_resolve() {
        let mut g = Global {
            user: Some("root".into()),
            group: Some("root".into()),
            ..Global::default()
        };
        let p = plan(&g).unwrap();
        assert_eq!(p.uid, Some(Uid::from_raw(0)));
        assert_eq!(p.gid, Some(Gid::from_raw(0)));
        g.uid = Some(65534);
        g.gid = Some(65534);
        let p = plan(&g).unwrap();
        assert_eq!(p.uid, Some(Uid::from_raw(65534)));
        assert_eq!(p.gid, Some(Gid::from_raw(65534)));
    }

    #[test]
    fn unknown_names_are_errors_naming_them() {
        let g = Global {
            user: Some("no-such-user-weir".into()),
            ..Global::default()
        };
        let e = plan(&g).unwrap_err();
        assert!(format!("{e:#}").contains("no-such-user-weir"));
    }

    #[test]
    fn nothing_configured_is_an_empty_plan() {
        assert!(plan(&Global::default()).unwrap().is_empty());
    }
}
