//! The `xdp` sections at run time: loaded and attached at start-up (after
//! binding, before privileges are dropped: loading needs CAP_BPF and
//! CAP_NET_ADMIN), counters dumped to stderr on SIGUSR2, detached and their
//! pinned maps removed on stop, hard or soft.
//!
//! Reload (`-sf`/`-st`): with `pin`, the new process takes over the maps
//! (the flow table) and the attachments the old one pinned, swapping its
//! program in atomically, before it signals the old process. The old
//! process sees on its stop that its attachments run another program (the
//! kernel says which, per link): it then leaves them, and the maps, in
//! place. Without a successor a stop detaches and unpins as always.
//!
//! The balancer handles live in [`Xdp`], owned by `run` for the process
//! lifetime: dropping it is what detaches. A fork (`daemon`) keeps the
//! attachments: the child inherits the link descriptors and the parent
//! leaves by `_exit`, without running this drop.

use anyhow::Context as _;
use signal_hook::consts::SIGUSR2;
use weir_config::xdp::{Proto, XdpSection};
use weir_config::Config;
use weir_kernel::{Attached, Counters, Event, XdpBalancer};

use crate::Log;

/// The loaded XDP balancers, one per `xdp` section.
pub struct Xdp {
    loaded: Vec<(XdpSection, XdpBalancer)>,
    /// SIGUSR2, registered only when there is something to dump (its default
    /// action, terminating, is left alone otherwise).
    usr2: Option<signal_hook::iterator::Signals>,
    log: Log,
    /// Set once the old processes of a reload have been told to stop: from
    /// then on, attachments taken over from them are ours to keep. Before
    /// (a start that fails), they are given back to the old program.
    committed: bool,
}

/// Loads and attaches every `xdp` section, in file order. On failure the
/// sections loaded so far are detached and unpinned, and the error says
/// which section, which interface and the kernel's answer for each mode.
/// `reload`: started with `-sf`/`-st`, to replace an older process.
pub fn start(config: &Config, log: &Log, reload: bool) -> anyhow::Result<Xdp> {
    let mut xdp = Xdp {
        loaded: Vec::new(),
        usr2: None,
        log: *log,
        committed: false,
    };
    let front = if config.xdp.is_empty() {
        Vec::new()
    } else {
        weir_config::xdp::frontend_drops(config)
    };
    for s in &config.xdp {
        let what = || format!("xdp section '{}' ({})", s.cfg.name, s.loc);
        if let Some(pin) = s.cfg.pin.as_deref().filter(|p| !on_bpffs(p)) {
            // The loader would only say "No such file or directory".
            anyhow::bail!(
                "{}: pin {} is not on a mounted bpffs (mount one, e.g. `mount -t bpf bpf /sys/fs/bpf`)",
                what(),
                pin.display()
            );
        }
        if reload && s.cfg.pin.is_none() {
            log.info(&format!(
                "xdp '{}': no `pin` in the section: this reload cannot keep the old \
                 process's flows nor take over its attachment (add `pin` to the section \
                 for reloads that keep flows)",
                s.cfg.name
            ));
        }
        let mut lb = XdpBalancer::load(&s.cfg).with_context(what)?;
        if !front.is_empty() {
            let rules: Vec<_> = front
                .iter()
                .flat_map(|c| c.entries.iter().copied())
                .collect();
            if let Err(e) = lb.set_frontend_rules(&rules) {
                // Not fatal: the rules still run in userspace.
                log.info(&format!(
                    "xdp '{}': frontend rules not compiled to XDP: {e}",
                    s.cfg.name
                ));
            } else {
                for c in &front {
                    let binds: Vec<String> = c.binds.iter().map(ToString::to_string).collect();
                    log.debug(&format!(
                        "xdp '{}': frontend '{}': `tcp-request connection reject {}` ({}) \
                         compiled to XDP: {} (port, source) entries for {}",
                        s.cfg.name,
                        c.frontend,
                        c.cond,
                        c.loc,
                        c.entries.len(),
                        binds.join(", ")
                    ));
                }
            }
        }
        let attached = lb.attach_all();
        let took = lb.took_over().to_vec();
        // Kept even when attaching failed: dropping it through `xdp` detaches
        // what did attach and removes the pinned maps.
        xdp.loaded.push((s.clone(), lb));
        for (iface, mode) in attached.with_context(what)? {
            let note = match (mode, s.cfg.interfaces.iter().find(|i| i.name == iface)) {
                (Attached::Generic, Some(i)) if i.mode != weir_config::xdp::AttachMode::Generic => {
                    " (native mode refused by the driver: fell back to generic as configured)"
                }
                _ => "",
            };
            log.info(&format!(
                "xdp '{}': attached to {iface} in {} mode{note}",
                s.cfg.name,
                mode_name(mode)
            ));
        }
        if let Some((_, id)) = took.first() {
            let ifaces: Vec<&str> = took.iter().map(|(i, _)| i.as_str()).collect();
            log.info(&format!(
                "xdp '{}': took over the attachment of {} from the previous process \
                 (program {id}), with its pinned maps: flows kept",
                s.cfg.name,
                ifaces.join(", ")
            ));
        }
        if let Some(pin) = &s.cfg.pin {
            log.debug(&format!(
                "xdp '{}': maps pinned under {}",
                s.cfg.name,
                pin.display()
            ));
        }
    }
    if !xdp.loaded.is_empty() {
        xdp.usr2 = Some(
            signal_hook::iterator::Signals::new([SIGUSR2])
                .context("cannot install the SIGUSR2 handler (XDP counters)")?,
        );
    }
    Ok(xdp)
}

/// Whether `path` lies under a mounted bpffs (per /proc/mounts).
fn on_bpffs(path: &std::path::Path) -> bool {
    std::fs::read_to_string("/proc/mounts").is_ok_and(|m| {
        m.lines().any(|l| {
            let mut w = l.split_whitespace().skip(1);
            matches!((w.next(), w.next()), (Some(dir), Some("bpf")) if path.starts_with(dir))
        })
    })
}

fn mode_name(m: Attached) -> &'static str {
    match m {
        Attached::Native => "native",
        Attached::Generic => "generic",
    }
}

impl Xdp {
    /// Dumps the counters if SIGUSR2 arrived since the last call. Called
    /// from the supervisor's loop (every few tens of milliseconds).
    pub fn poll(&mut self) {
        let requested = self.usr2.as_mut().is_some_and(|s| s.pending().count() > 0);
        if requested {
            eprint!("{}", self.report());
        }
    }

    /// The start went through (the old processes were signalled): the
    /// attachments taken over are kept from now on, whatever happens.
    pub fn commit(&mut self) {
        self.committed = true;
    }

    /// On a stop signal: sections whose attachments a reload's new process
    /// has taken over are let go of at once (a soft stop may last: this
    /// process must not hold the successor's links meanwhile). The others
    /// stay until the process ends.
    pub fn stop_requested(&mut self) {
        let mut i = 0;
        while i < self.loaded.len() {
            if matches!(self.loaded[i].1.successor(), Ok(Some(_))) {
                let (s, lb) = self.loaded.remove(i);
                finish(&self.log, s, lb, false);
            } else {
                i += 1;
            }
        }
    }

    /// The counter dump: per section, every event (drop reasons included,
    /// zeros too, so a reader can grep any of them), then traffic per VIP
    /// and per server. One `weir: xdp 'NAME' …` line each.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (s, lb) in &self.loaded {
            let name = &s.cfg.name;
            match lb.counters() {
                Ok(c) => out.push_str(&format_counters(name, s, &c)),
                Err(e) => out.push_str(&format!("weir: xdp '{name}': cannot read counters: {e}\n")),
            }
        }
        out
    }
}

fn format_counters(name: &str, s: &XdpSection, c: &Counters) -> String {
    let mut out = format!("weir: xdp '{name}' counters (summed over CPUs):\n");
    for ev in Event::ALL {
        out.push_str(&format!(
            "weir: xdp '{name}' event {} {}\n",
            ev.name(),
            c.event(*ev)
        ));
    }
    for ((v, t), servers) in s.cfg.vips.iter().zip(&c.vips).zip(&c.servers) {
        let proto = match v.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let vip = match (v.addr, v.port) {
            (a, 0) => format!("{a}/{proto}"),
            (std::net::IpAddr::V6(a), p) => format!("[{a}]:{p}/{proto}"),
            (a, p) => format!("{a}:{p}/{proto}"),
        };
        out.push_str(&format!(
            "weir: xdp '{name}' vip {vip} packets {} bytes {}\n",
            t.packets, t.bytes
        ));
        for (server, t) in servers {
            out.push_str(&format!(
                "weir: xdp '{name}' vip {vip} server {server} packets {} bytes {}\n",
                t.packets, t.bytes
            ));
        }
    }
    out
}

impl Drop for Xdp {
    /// Stops every section (see `finish`), after giving back what a start
    /// that did not get through took over from the old process.
    fn drop(&mut self) {
        for (s, mut lb) in self.loaded.drain(..) {
            let give_back = !self.committed && !lb.took_over().is_empty();
            if give_back {
                for p in lb.give_back() {
                    self.log.info(&format!("xdp '{}': {p}", s.cfg.name));
                }
                self.log.info(&format!(
                    "xdp '{}': start failed: attachment given back to the previous process",
                    s.cfg.name
                ));
            }
            finish(&self.log, s, lb, give_back);
        }
    }
}

/// Stops one section: left in place for a successor that took it over (or,
/// `gave_back`, for the previous process it was given back to), else
/// detached with its pinned maps removed. After `user`/`chroot` the pin
/// directory may be out of reach: that is said, not hidden.
fn finish(log: &Log, s: XdpSection, lb: XdpBalancer, gave_back: bool) {
    let name = s.cfg.name;
    let f = lb.finish();
    for p in &f.problems {
        log.info(&format!("xdp '{name}': {p}"));
    }
    match (f.successor, gave_back) {
        // The caller said it was given back.
        (Some(_), true) => {}
        (Some(id), false) => log.info(&format!(
            "xdp '{name}': handed over to the new process (program {id} now runs on {}): \
             attachment and pinned maps left to it",
            f.handed_over.join(", ")
        )),
        (None, _) => {
            if let Some(p) = s.cfg.pin.filter(|p| p.exists()) {
                log.info(&format!(
                    "xdp '{name}': pinned maps left under {} (no permission after dropping privileges?)",
                    p.display()
                ));
            }
        }
    }
    if !f.detached.is_empty() {
        log.info(&format!(
            "xdp '{name}': detached from {}",
            f.detached.join(", ")
        ));
    }
}
