//! The `xdp` sections at run time: loaded and attached at start-up (after
//! binding, before privileges are dropped: loading needs CAP_BPF and
//! CAP_NET_ADMIN), counters dumped to stderr on SIGUSR2, detached and their
//! pinned maps removed on stop, hard or soft.
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
}

/// Loads and attaches every `xdp` section, in file order. On failure the
/// sections loaded so far are detached and unpinned, and the error says
/// which section, which interface and the kernel's answer for each mode.
pub fn start(config: &Config, log: &Log) -> anyhow::Result<Xdp> {
    let mut xdp = Xdp {
        loaded: Vec::new(),
        usr2: None,
        log: *log,
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
        let mut lb = XdpBalancer::load(&s.cfg).with_context(what)?;
        let attached = lb.attach_all();
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
    /// Detaches every program and removes pinned maps (a stop is final:
    /// nothing hands them over yet). After `user`/`chroot` the pin
    /// directory may be out of reach: that is said, not hidden.
    fn drop(&mut self) {
        for (s, lb) in self.loaded.drain(..) {
            let name = s.cfg.name;
            let ifaces: Vec<String> = lb.attached().iter().map(|(i, _)| i.clone()).collect();
            let pin = s.cfg.pin.clone();
            // Dropping the balancer closes its links: the programs detach.
            match lb.unpin() {
                Ok(()) => {}
                Err(e) => self
                    .log
                    .info(&format!("xdp '{name}': cannot remove the pinned maps: {e}")),
            }
            if let Some(p) = pin.filter(|p| p.exists()) {
                self.log.info(&format!(
                    "xdp '{name}': pinned maps left under {} (no permission after dropping privileges?)",
                    p.display()
                ));
            }
            if !ifaces.is_empty() {
                self.log.info(&format!(
                    "xdp '{name}': detached from {}",
                    ifaces.join(", ")
                ));
            }
        }
    }
}
