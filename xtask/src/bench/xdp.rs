//! `cargo xtask bench xdp`: packets per second through weir's XDP L4 path
//! (`weir_kernel::XdpBalancer`, IPIP), nftables DNAT (the in-kernel L4 peer:
//! this kernel has no IPVS) and plain kernel routing, in one topology of
//! network namespaces that this process creates and removes:
//!
//! ```text
//!  gen ns ─(g0)──┐                      ┌──(s0)─ srv ns: 10.77.0.10, .11, VIP on lo;
//!                ├── sw ns: bridge br0 ─┤         netdev ingress rules count and drop
//!  lb ns ─(l<pid>)┘    (w<pid>: XDP pass)
//! ```
//!
//! One L2 segment: the balancer is one-armed, as weir's XDP path is (it
//! answers with XDP_TX out of the interface the packet came in on, towards
//! `next-hop-mac`). nftables and routing forward out of the same interface,
//! so every configuration crosses the same hops and differs only in what the
//! `lb` namespace does with the packet.
//!
//! CPU placement on this 2-core machine: the generator, the bridge and the
//! server's counting all run on CPU 0; the balancer's receive work runs in
//! the threaded-NAPI kernel thread of its veth, pinned to CPU 1. The
//! balancer's cost is that thread's CPU time (`/proc/TID/schedstat`), which
//! gives "packets per second per core" even when the generator on CPU 0,
//! not the balancer, sets the offered rate.
//!
//! Nothing leaves the namespaces; each is deleted on exit (a `Drop` guard,
//! also reached on Ctrl-C/SIGTERM: those signals only raise a stop flag).

use std::fmt::Write as _;
use std::io::IoSlice;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use nix::sys::socket::{self, MsgFlags, MultiHeaders, SockaddrIn};
use weir_kernel::config::{
    AttachMode, Fallback, InterfaceConfig, Limits, Method, Proto, ServerConfig, VipConfig, VipHash,
    XdpConfig,
};
use weir_kernel::{Event, XdpBalancer};

use super::report::min_med_max;

const USAGE: &str = "\
cargo xtask bench xdp [options]   (root; method in bench/XDP-RESULTS.md)
  --rounds N      interleaved rounds of xdp, nftables, routing (default 3)
  --seconds S     measured seconds per configuration (default 5, after 1 s warm-up)
  --flows N       UDP source ports, i.e. flows (default 1024)
  --batch N       packets per sendmmsg call (default 64)
  --rate N        offered packets per second (default 200000; 0: as fast as
                  the generator goes, which CPU 0 bounds at ≈ 250k here)
  --feed MODE     how frames reach the balancer's veth: redirect (default; an
                  XDP redirect in the switch namespace hands them over as raw
                  frames, as a NIC does) or bridge (as skbs through the bridge,
                  which veth must copy into a page before any XDP program runs)
  --conn-seconds S  connection-rate phase per round through xdp and routing
                  (default 3; 0 skips it)
  --weir PATH     also measure connections through this weir binary in tcp
                  mode (userspace proxy on CPU 1; e.g. target/release/weir)
  --coalesce-us N NAPI poll deferral on the veths (default 200; 0: a wake-up per packet)
  --targets LIST  comma-separated subset of xdp,xdp-tx-floor,nftables,routing
  --no-testrun    skip the BPF_PROG_TEST_RUN example
  --out FILE      results file (default bench/XDP-RESULTS.md)
  --no-save       print only
";

/// How the numbers are taken, written at the top of the results file.
const METHOD: &str = "\
## Method

Topology (network namespaces created and removed by the run; nothing leaves them):
generator ns → switch ns (bridge) → balancer ns (one veth, one-armed) → switch ns → server ns.
weir's XDP path answers with XDP_TX out of the interface a packet came in on,
so the balancer is one-armed in every configuration: nftables and routing
forward out of the same veth (ICMP redirects off). Only what the balancer
namespace does differs:

- **xdp**: `weir_kernel::XdpBalancer`, native XDP on the balancer's veth, one
  UDP VIP, two servers (Maglev, 65,537-entry ring, LRU flow table shared
  by the CPUs), IPIP towards the server (DSR).
- **nftables**: DNAT to the same two servers, `jhash` of source address and
  port; conntrack keeps each flow on its server. IPVS, the kernel's own L4
  balancer, is not available on this kernel (`CONFIG_IP_VS` is not set and
  the kernel has no loadable modules, `CONFIG_MODULES` is not set), which
  is why nftables NAT stands in as the in-kernel L4 peer.
- **xdp-tx-floor**: a few-line C XDP program that only rewrites the MACs
  and returns XDP_TX: what veth, NAPI and XDP_TX cost on this machine before
  any balancing work (the ceiling of any XDP balancer in this topology).
- **routing**: the VIP routed to the first server (the kernel's floor).

Traffic: 60-byte frames (64 on a wire with FCS), UDP to the VIP from many
source ports, from a raw IP socket with `sendmmsg` (one system call per
batch; pktgen is not built into this kernel and AF_PACKET needs `unsafe`,
which xtask forbids). The generator is paced to a fixed rate so that every
configuration gets the same offered load; unpaced, the generator, the
switch and the server counters on CPU 0 top out near 250k packets/s here,
far below what XDP can take, so the balancer is never the bottleneck and
packets/s delivered say little. What is compared is therefore the
**balancer's CPU time per packet**, two ways:

- *all-in*: the balancer thread's CPU time over the packets it received at
  the full rate. It includes a fixed cost paid whatever the traffic (the
  poll timer's wake-ups, ≈ 10% of a core here), so it overstates the cost
  per packet, and the more so the cheaper the path: ratios come out low.
- *marginal*: each configuration runs at half rate, then at full rate; the
  difference in CPU time over the difference in packets. This is the cost
  one more packet adds. It is the noisier figure (a difference of two
  measurements) and understates what a saturated core spends per packet.

**Packets/s per balancer core** is 1e9 / marginal ns: an optimistic
estimate of a saturated core's rate; the all-in ratio is the pessimistic
bound of the per-core comparison, the marginal ratio the optimistic one.
The xdp-tx-floor's marginal cost is within the noise of zero (tens of ns
from a difference of two ≈ 100 ms/s figures): its per-core figure means
nothing beyond “far above the others”; its all-in cost is the useful one.

CPU placement (2 CPUs): CPU 0 runs the generator, the switch and the server
side; the balancer's receive work runs in the threaded-NAPI kernel thread
of its veth, pinned to CPU 1 and timed from `/proc/TID/schedstat`. Both NAPI
threads run SCHED_FIFO (the machine is shared; a thread stuck behind a
compiler overflows its veth's 256-entry ring) with 200 µs poll deferral
(`gro_flush_timeout`/`napi_defer_hard_irqs`, a NIC's interrupt moderation):
without it a wake-up per packet (≈ 2.5 µs on this VM) is all one measures.
The generator's frames are handed to the balancer's veth by an XDP redirect
in the switch (`--feed redirect`), so the balancer receives raw frames as
from a NIC; through the bridge instead (`--feed bridge`) veth gives it skbs,
which it copies into a page before any XDP program runs, a cost that NIC
drivers do not have. nftables and routing get GRO-mode NAPI on the same
veth (no XDP program on their path); they pay for building the skb, as on a
NIC. What could not be pinned: the bridge and the server's counting share
CPU 0 with the generator, and other users of the machine share both CPUs
(the load average is in the header).

Delivered packets are counted at the server by nftables ingress rules that
match only a correct result of the configuration under test (IPIP for xdp,
UDP to a server address for nftables, UDP to the VIP for routing and the
floor) and drop
it there. Offered is the generator veth's transmit counter. Counters are
read one after the other, a few ms apart, hence loss figures slightly
below zero. Configurations are interleaved within each round; ratios are
taken within a round.

Connections: 4 client threads (closed loop, CPU 0) connect to VIP:80 and
close; the server (CPU 0) accepts and closes. Both xdp and routing are
direct server return (the server owns the VIP; weir's decap program
unwraps IPIP on the server's veth), so answers bypass the balancer; the
balancer's CPU per connection covers the client's SYN, ACK and FIN. The
rate is set by CPU 0 (clients and server), not by the balancer. nftables
DNAT needs the answers back through the balancer and is not measured
here. With `--weir PATH`, **weir-tcp** is the weir binary in tcp mode
(`nbthread 1`, on CPU 1, in the balancer namespace with the VIP on its
loopback) proxying VIP:80 to the first server: a full proxy, both
directions through the balancer; its CPU per connection is weir's process
time (clock ticks, 10 ms resolution) plus the veth's NAPI thread.
";

const GEN_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const LB_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const SERVERS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 77, 0, 10), Ipv4Addr::new(10, 77, 0, 11)];
const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 100, 1);
const VIP_PORT: u16 = 53;
const FIRST_SPORT: u16 = 10_000;
/// UDP payload giving a 60-byte frame (64 on a wire with its FCS).
const PAYLOAD: usize = 18;
const WARMUP: Duration = Duration::from_secs(1);
/// CPU of the generator, the bridge and the server side.
const CPU_GEN: usize = 0;
/// CPU of the balancer's receive thread.
const CPU_LB: usize = 1;

/// Set by the signal thread: every loop and sleep of the bench checks it.
static STOP: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Xdp,
    /// A few-line XDP program rewriting the MACs and returning XDP_TX: what
    /// veth, NAPI and XDP_TX cost here without weir's work.
    XdpTxFloor,
    Nftables,
    Routing,
    /// The `weir` binary in tcp mode on the balancer (connection phase only,
    /// with `--weir PATH`).
    WeirTcp,
}

impl Target {
    const ALL: [Target; 4] = [
        Target::Xdp,
        Target::XdpTxFloor,
        Target::Nftables,
        Target::Routing,
    ];
    fn name(self) -> &'static str {
        match self {
            Target::Xdp => "xdp",
            Target::XdpTxFloor => "xdp-tx-floor",
            Target::Nftables => "nftables",
            Target::Routing => "routing",
            Target::WeirTcp => "weir-tcp",
        }
    }
    /// The server-side counter rule (see `SRV_RULES`) a correctly
    /// forwarded packet of this configuration matches.
    fn rule(self) -> usize {
        match self {
            Target::Xdp => 0,
            Target::Routing | Target::XdpTxFloor | Target::WeirTcp => 1,
            Target::Nftables => 2,
        }
    }
}

/// How the generator's frames reach the balancer's veth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feed {
    /// XDP_REDIRECT from the generator's switch port straight into the
    /// balancer's veth: the balancer receives raw frames (no skb), like
    /// from a NIC; nftables and routing pay for building the skb, as they
    /// would on a NIC.
    Redirect,
    /// Through the bridge as skbs: veth copies each into a page before an
    /// XDP program may run (a cost a NIC driver does not have).
    Bridge,
}

/// The switch port's XDP program for `Feed::Redirect` (plain C, built with
/// Debian's clang and loaded by iproute2: it is test equipment, not weir).
/// The `xdp-tx-floor` program (test equipment, like `FEED_C`).
const FLOOR_C: &str = r#"#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp")
int weir_bench_floor(struct xdp_md *ctx)
{
	unsigned char *eth = (void *)(long)ctx->data;
	const unsigned char dst[6] = { DST_MAC }, src[6] = { SRC_MAC };
	if ((void *)(eth + 14) > (void *)(long)ctx->data_end)
		return XDP_PASS;
	__builtin_memcpy(eth, dst, 6);
	__builtin_memcpy(eth + 6, src, 6);
	return XDP_TX;
}
char _license[] SEC("license") = "GPL";
"#;

const FEED_C: &str = r#"#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp")
int weir_bench_feed(struct xdp_md *ctx)
{
	return bpf_redirect(TARGET_IFINDEX, 0);
}
char _license[] SEC("license") = "GPL";
"#;

struct Opts {
    rounds: usize,
    seconds: u64,
    flows: u16,
    batch: usize,
    rate: u64,
    coalesce_us: u64,
    feed: Feed,
    conn_seconds: u64,
    weir: Option<std::path::PathBuf>,
    targets: Vec<Target>,
    testrun: bool,
    out: Option<std::path::PathBuf>,
}

fn parse(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts {
        rounds: 3,
        seconds: 5,
        flows: 1024,
        batch: 64,
        rate: 200_000,
        coalesce_us: 200,
        feed: Feed::Redirect,
        conn_seconds: 3,
        weir: None,
        targets: Target::ALL.to_vec(),
        testrun: true,
        out: Some(crate::workspace_root().join("bench/XDP-RESULTS.md")),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--rounds" => o.rounds = val()?.parse()?,
            "--seconds" => o.seconds = val()?.parse()?,
            "--flows" => o.flows = val()?.parse()?,
            "--batch" => o.batch = val()?.parse()?,
            "--rate" => o.rate = val()?.parse()?,
            "--coalesce-us" => o.coalesce_us = val()?.parse()?,
            "--conn-seconds" => o.conn_seconds = val()?.parse()?,
            "--weir" => o.weir = Some(val()?.into()),
            "--feed" => {
                o.feed = match val()?.as_str() {
                    "redirect" => Feed::Redirect,
                    "bridge" => Feed::Bridge,
                    f => bail!("unknown feed {f}"),
                }
            }
            "--targets" => {
                o.targets = val()?
                    .split(',')
                    .map(|t| {
                        Target::ALL
                            .into_iter()
                            .find(|x| x.name() == t)
                            .with_context(|| format!("unknown target {t}"))
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--no-testrun" => o.testrun = false,
            "--out" => o.out = Some(val()?.into()),
            "--no-save" => o.out = None,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            _ => bail!("unknown option {a}\n{USAGE}"),
        }
    }
    if o.rounds == 0 || o.seconds == 0 || o.flows == 0 || o.batch == 0 || o.targets.is_empty() {
        bail!("rounds, seconds, flows, batch and targets must be non-zero");
    }
    if u32::from(o.flows) + u32::from(FIRST_SPORT) > 65_535 {
        bail!("--flows at most {}", 65_535 - FIRST_SPORT);
    }
    Ok(o)
}

// ---------------------------------------------------------------------------
// Commands and namespaces

/// Runs a command, failing with its stderr.
fn run(cmd: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd args…` inside namespace `ns` (`ip netns exec`, which also
/// gives it the namespace's /sys).
fn ns_run(ns: &str, cmd: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut a = vec!["netns", "exec", ns, cmd];
    a.extend_from_slice(args);
    run("ip", &a)
}

/// `ip -n ns args…`
fn ip(ns: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    run("ip", &a).map(drop)
}

/// Runs `f` on a thread that has entered namespace `ns`: XDP attachments
/// and sockets it makes belong to that namespace.
fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> anyhow::Result<T> + Send) -> anyhow::Result<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("setns {path}"))?;
            f()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("thread in {ns} panicked"))?
    })
}

fn sysctl(ns: &str, kv: &str) -> anyhow::Result<()> {
    ns_run(ns, "sysctl", &["-qw", kv]).map(drop)
}

fn mac(ns: &str, dev: &str) -> anyhow::Result<[u8; 6]> {
    let text = run("ip", &["-n", ns, "-o", "link", "show", dev])?;
    let m = text
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .context("no link/ether in ip output")?;
    let mut b = [0u8; 6];
    let parts: Vec<&str> = m.split(':').collect();
    if parts.len() != 6 {
        bail!("bad MAC {m}");
    }
    for (i, p) in parts.iter().enumerate() {
        b[i] = u8::from_str_radix(p, 16)?;
    }
    Ok(b)
}

fn iface(name: &str) -> InterfaceConfig {
    InterfaceConfig {
        name: name.into(),
        mode: AttachMode::Native,
        fallback: Fallback::Refuse,
    }
}

/// The namespaces and devices of one run. Dropping it detaches the bridge
/// port's program and deletes every namespace (with its veths).
struct Topo {
    /// Namespaces created so far, deleted on drop.
    created: Vec<String>,
    gen: String,
    lb: String,
    srv: String,
    sw: String,
    /// The balancer's veth (in `lb`) and its peer (bridge port in `sw`).
    lb_dev: String,
    sw_lb_dev: String,
    srv_mac: [u8; 6],
    /// XDP pass program on `sw_lb_dev`: a veth receiving XDP_TX frames
    /// needs NAPI on its side, which an XDP program provides.
    bridge_pass: Option<XdpBalancer>,
    /// Test-equipment BPF sources and objects (removed on drop).
    bpf_dir: std::path::PathBuf,
    /// The `xdp-tx-floor` object.
    floor_obj: String,
}

impl Drop for Topo {
    fn drop(&mut self) {
        drop(self.bridge_pass.take());
        let _ = std::fs::remove_dir_all(&self.bpf_dir);
        for ns in &self.created {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Rules of the server's ingress counter chain, in order (see
/// `Target::rule`): UDP in IPIP from weir (TCP passes, for the connection
/// phase), UDP to the VIP (routing), UDP to a
/// server address (DNAT). Everything counted is dropped right there, so
/// the server's stack costs nothing; ARP passes.
fn srv_rules() -> String {
    format!(
        "table netdev weirbench {{\n\
         \tchain in {{\n\
         \t\ttype filter hook ingress device \"s0\" priority 0; policy accept;\n\
         \t\tip protocol 4 @nh,232,8 17 counter drop\n\
         \t\tip daddr {VIP} udp dport {VIP_PORT} counter drop\n\
         \t\tip daddr {{ {}, {} }} udp dport {VIP_PORT} counter drop\n\
         \t}}\n\
         }}\n",
        SERVERS[0], SERVERS[1]
    )
}

/// nftables DNAT configured like the XDP VIP: the same two servers, picked
/// by a hash of the flow; conntrack keeps each flow on its server (the
/// counterpart of weir's connection table).
fn dnat_rules() -> String {
    format!(
        "table ip weirbench {{\n\
         \tchain pre {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tip daddr {VIP} udp dport {VIP_PORT} dnat to jhash ip saddr . udp sport mod 2 map {{ 0 : {}, 1 : {} }}\n\
         \t}}\n\
         }}\n",
        SERVERS[0], SERVERS[1]
    )
}

fn nft_apply(ns: &str, rules: &str) -> anyhow::Result<()> {
    let path = std::env::temp_dir().join(format!("weir-xdpbench-{}.nft", std::process::id()));
    std::fs::write(&path, rules)?;
    let r = ns_run(ns, "nft", &["-f", &path.to_string_lossy()]);
    let _ = std::fs::remove_file(&path);
    r.map(drop).with_context(|| format!("nft rules:\n{rules}"))
}

impl Topo {
    fn build(coalesce_us: u64, feed: Feed) -> anyhow::Result<Topo> {
        let pid = std::process::id();
        let mut t = Topo {
            created: Vec::new(),
            gen: format!("weirxb-{pid}-gen"),
            lb: format!("weirxb-{pid}-lb"),
            srv: format!("weirxb-{pid}-srv"),
            sw: format!("weirxb-{pid}-sw"),
            // Unique among all namespaces: the NAPI thread is named after it.
            lb_dev: format!("l{pid}"),
            sw_lb_dev: format!("w{pid}"),
            srv_mac: [0; 6],
            bridge_pass: None,
            bpf_dir: std::env::temp_dir().join(format!("weir-xdpbench-{pid}")),
            floor_obj: String::new(),
        };
        for ns in [&t.gen, &t.lb, &t.srv, &t.sw].map(String::clone) {
            // A leftover of a crashed run with a recycled pid would fail the add.
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
            run("ip", &["netns", "add", &ns])?;
            t.created.push(ns.clone());
            ip(&ns, &["link", "set", "lo", "up"])?;
        }
        let (sw, lb, srv, gen) = (&t.sw, &t.lb, &t.srv, &t.gen);
        ip(sw, &["link", "add", "br0", "type", "bridge"])?;
        ip(sw, &["link", "set", "br0", "up"])?;
        for (port, peer_ns, peer) in [
            ("wg", gen.as_str(), "g0"),
            (t.sw_lb_dev.as_str(), lb.as_str(), t.lb_dev.as_str()),
            ("ws", srv.as_str(), "s0"),
        ] {
            ip(
                sw,
                &[
                    "link", "add", port, "type", "veth", "peer", "name", peer, "netns", peer_ns,
                ],
            )?;
            ip(sw, &["link", "set", port, "master", "br0"])?;
            ip(sw, &["link", "set", port, "up"])?;
            ip(peer_ns, &["link", "set", peer, "up"])?;
        }
        ip(
            gen,
            &["addr", "add", &format!("{GEN_ADDR}/24"), "dev", "g0"],
        )?;
        ip(
            gen,
            &[
                "route",
                "add",
                &format!("{VIP}/32"),
                "via",
                &LB_ADDR.to_string(),
            ],
        )?;
        ip(
            lb,
            &["addr", "add", &format!("{LB_ADDR}/24"), "dev", &t.lb_dev],
        )?;
        ip(
            srv,
            &["addr", "add", &format!("{}/24", SERVERS[0]), "dev", "s0"],
        )?;
        ip(
            srv,
            &["addr", "add", &format!("{}/32", SERVERS[1]), "dev", "s0"],
        )?;
        ip(srv, &["addr", "add", &format!("{VIP}/32"), "dev", "lo"])?;
        // Plain routing: the VIP is routed to the first server, which owns it.
        ip(
            lb,
            &[
                "route",
                "add",
                &format!("{VIP}/32"),
                "via",
                &SERVERS[0].to_string(),
            ],
        )?;
        sysctl(lb, "net.ipv4.ip_forward=1")?;
        // One-armed forwarding would otherwise send an ICMP redirect per packet.
        for dev in ["all", "default", t.lb_dev.as_str()] {
            sysctl(lb, &format!("net.ipv4.conf.{dev}.send_redirects=0"))?;
            sysctl(lb, &format!("net.ipv4.conf.{dev}.rp_filter=0"))?;
        }
        // GRO gives the balancer's veth NAPI without an XDP program, so
        // nftables and routing get the same threaded receive as XDP, and no
        // XDP program (with veth's copy of every skb into a page) on their path.
        // weir in tcp mode sends from here through the switch port's XDP
        // program: complete checksums, as for the client (see below).
        ns_run(lb, "ethtool", &["-K", &t.lb_dev, "tx", "off"])?;
        ns_run(lb, "ethtool", &["-K", &t.lb_dev, "gro", "on"])
            .context("ethtool (apt-get install ethtool)")?;
        // veth hands a sender's skb to the receiver's NAPI only if the
        // sender cannot make TSO packets; otherwise it takes the backlog of
        // the sending CPU (CPU 0 here) and the balancer's work could not be
        // pinned or measured apart. The bridge port forwards UDP only.
        ns_run(sw, "ethtool", &["-K", &t.sw_lb_dev, "tso", "off"])?;
        nft_apply(srv, &srv_rules())?;
        t.srv_mac = mac(srv, "s0")?;
        if feed == Feed::Redirect {
            let ifindex = ns_run(
                sw,
                "cat",
                &[&format!("/sys/class/net/{}/ifindex", t.sw_lb_dev)],
            )?;
            let obj = build_bpf(
                &t.bpf_dir,
                "feed",
                FEED_C,
                &[format!("-DTARGET_IFINDEX={}", ifindex.trim())],
            )?;
            ip(
                sw,
                &[
                    "link", "set", "dev", "wg", "xdpdrv", "obj", &obj, "sec", "xdp",
                ],
            )?;
        }
        // The XDP_TX floor: same MAC rewrite weir does, nothing else.
        let c_mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:#04x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let lb_mac = mac(lb, &t.lb_dev)?;
        t.floor_obj = build_bpf(
            &t.bpf_dir,
            "floor",
            FLOOR_C,
            &[
                format!("-DDST_MAC={}", c_mac(t.srv_mac)),
                format!("-DSRC_MAC={}", c_mac(lb_mac)),
            ],
        )?;
        let sw_dev = t.sw_lb_dev.clone();
        t.bridge_pass = Some(in_ns(sw, || {
            let mut p = XdpBalancer::load(&XdpConfig {
                name: "bridge-pass".into(),
                limits: small_limits(64),
                ..Default::default()
            })?;
            p.attach(&iface(&sw_dev))?;
            Ok(p)
        })?);
        // Threaded NAPI (a kernel thread we can pin and time) with
        // interrupt coalescing: after a poll the device waits `coalesce_us`
        // before polling again instead of waking the thread per packet. A
        // NIC's interrupt moderation does the same; without it, a VM's
        // wake-up per packet (≈ 2.5 µs here) is all one would measure.
        let coalesce_ns = coalesce_us * 1000;
        for dev in [&t.lb_dev, &t.sw_lb_dev] {
            let ns = if dev == &t.lb_dev { lb } else { sw };
            let d = format!("/sys/class/net/{dev}");
            ns_run(
                ns,
                "sh",
                &[
                    "-c",
                    &format!(
                        "echo 1 > {d}/threaded && echo {coalesce_ns} > {d}/gro_flush_timeout && echo 1000 > {d}/napi_defer_hard_irqs"
                    ),
                ],
            )
            .context("threaded NAPI")?;
        }
        // Neighbours and the bridge's forwarding table set statically before
        // any measurement: an unknown MAC would be flooded to every port.
        let fmt_mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let lb_mac = fmt_mac(mac(lb, &t.lb_dev)?);
        let gen_mac = fmt_mac(mac(gen, "g0")?);
        let srv_mac = fmt_mac(t.srv_mac);
        for s in SERVERS {
            ip(
                lb,
                &[
                    "neigh",
                    "replace",
                    &s.to_string(),
                    "lladdr",
                    &srv_mac,
                    "dev",
                    &t.lb_dev,
                    "nud",
                    "permanent",
                ],
            )?;
        }
        ip(
            gen,
            &[
                "neigh",
                "replace",
                &LB_ADDR.to_string(),
                "lladdr",
                &lb_mac,
                "dev",
                "g0",
                "nud",
                "permanent",
            ],
        )?;
        // Connection phase: the server answers the client directly (DSR);
        // the feed program would send the client's ARP answers to the
        // balancer, so the server knows the client's MAC statically.
        ip(
            srv,
            &[
                "neigh",
                "replace",
                &GEN_ADDR.to_string(),
                "lladdr",
                &gen_mac,
                "dev",
                "s0",
                "nud",
                "permanent",
            ],
        )?;
        // The client's TCP checksums must be complete: the feed's XDP
        // redirect turns the skb into a raw frame, and a checksum left to
        // "hardware" (veth's default offload) would reach the server unfinished.
        ns_run(gen, "ethtool", &["-K", "g0", "tx", "off"])?;
        sysctl(gen, "net.ipv4.ip_local_port_range=1024 65000")?;
        sysctl(gen, "net.ipv4.tcp_tw_reuse=1")?;
        for (m, port) in [
            (&gen_mac, "wg"),
            (&lb_mac, t.sw_lb_dev.as_str()),
            (&srv_mac, "ws"),
        ] {
            let mut a = vec!["netns", "exec", sw.as_str(), "bridge", "fdb", "replace"];
            a.extend_from_slice(&[m.as_str(), "dev", port, "master", "static"]);
            run("ip", &a)?;
        }
        Ok(t)
    }

    /// Pins the NAPI threads: the balancer's to `CPU_LB`, the bridge port's
    /// to `CPU_GEN`. Returns the balancer's thread id. Called before every
    /// measurement: attaching or detaching XDP may re-create the thread.
    fn pin_napi(&self, cpus: usize) -> anyhow::Result<i32> {
        let lb = napi_thread(&self.lb_dev)?;
        let sw = napi_thread(&self.sw_lb_dev)?;
        set_affinity(lb, if cpus > 1 { CPU_LB } else { 0 })?;
        set_affinity(sw, CPU_GEN)?;
        // Real-time priority: the machine is shared, and a NAPI thread
        // waiting behind a compiler for a few ms overflows its veth's
        // 256-entry ring (the loss would be the scheduler's, not the
        // balancer's). The generator is an ordinary thread, so these win.
        for tid in [lb, sw] {
            run("chrt", &["-f", "-p", "50", &tid.to_string()])?;
        }
        Ok(lb)
    }
}

/// Compiles a test-equipment XDP program with clang into `dir` (created on
/// first use, removed with the topology); returns the object's path.
fn build_bpf(
    dir: &std::path::Path,
    name: &str,
    source: &str,
    defines: &[String],
) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let (src, obj) = (dir.join(format!("{name}.c")), dir.join(format!("{name}.o")));
    std::fs::write(&src, source)?;
    let (src, obj) = (
        src.to_string_lossy().into_owned(),
        obj.to_string_lossy().into_owned(),
    );
    let mut args: Vec<&str> = vec![
        "-O2",
        "-g",
        "-target",
        "bpf",
        "-I/usr/include/x86_64-linux-gnu",
    ];
    args.extend(defines.iter().map(String::as_str));
    args.extend(["-c", &src, "-o", &obj]);
    run("clang", &args).context("clang (apt-get install clang libbpf-dev) for test programs")?;
    Ok(obj)
}

/// weir's XDP configuration for the bench: one VIP, both servers, IPIP.
fn xdp_config(t: &Topo, proto: Proto, port: u16, flows: u32) -> XdpConfig {
    XdpConfig {
        name: "bench".into(),
        interfaces: vec![iface(&t.lb_dev)],
        method: Method::Ipip,
        source_v4: Some(LB_ADDR),
        next_hop_mac: t.srv_mac,
        vips: vec![VipConfig {
            addr: VIP.into(),
            port,
            proto,
            hash: VipHash::FiveTuple,
            servers: SERVERS
                .iter()
                .enumerate()
                .map(|(i, a)| ServerConfig {
                    name: format!("s{i}"),
                    addr: (*a).into(),
                    weight: 1,
                    down: false,
                })
                .collect(),
        }],
        limits: small_limits(flows.max(1024)),
        ..Default::default()
    }
}

fn small_limits(flows: u32) -> Limits {
    Limits {
        max_vips: 4,
        max_servers: 16,
        ring_size: 65_537,
        max_flows: flows,
        max_rate_sources: 64,
        max_src_prefixes: 16,
    }
}

/// The kernel thread `napi/DEV-ID` of `dev`.
fn napi_thread(dev: &str) -> anyhow::Result<i32> {
    let prefix = format!("napi/{dev}-");
    for e in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) {
            if comm.trim_end().starts_with(&prefix) {
                return Ok(pid);
            }
        }
    }
    bail!("no NAPI thread for {dev} (threaded NAPI not enabled?)")
}

fn set_affinity(tid: i32, cpu: usize) -> anyhow::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(tid), &set)
        .with_context(|| format!("pin thread {tid} to CPU {cpu}"))
}

/// Nanoseconds thread `tid` has spent on a CPU.
fn thread_cpu_ns(tid: i32) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/schedstat"))?;
    Ok(s.split_whitespace()
        .next()
        .context("empty schedstat")?
        .parse()?)
}

fn read_u64(ns: &str, path: &str) -> anyhow::Result<u64> {
    Ok(ns_run(ns, "cat", &[path])?.trim().parse()?)
}

/// The server's counter rules, in order.
fn srv_counters(srv: &str) -> anyhow::Result<Vec<u64>> {
    let text = ns_run(srv, "nft", &["list", "chain", "netdev", "weirbench", "in"])?;
    let v: Vec<u64> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().skip_while(|w| *w != "packets");
            w.next()?;
            w.next()?.parse().ok()
        })
        .collect();
    if v.len() != 3 {
        bail!("expected 3 counters in:\n{text}");
    }
    Ok(v)
}

// ---------------------------------------------------------------------------
// Generator

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    for c in data.chunks(2) {
        let hi = u32::from(c[0]) << 8;
        let lo = c.get(1).map_or(0, |b| u32::from(*b));
        sum += hi | lo;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One IPv4/UDP packet (the kernel fills in the IP checksum and id of an
/// IP_HDRINCL packet); the UDP checksum is complete, so no device on the
/// way has a checksum left to do (see weir-kernel's netns notes).
fn packet(sport: u16) -> Vec<u8> {
    let udp_len = 8 + PAYLOAD;
    let total = 20 + udp_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&GEN_ADDR.octets());
    p[16..20].copy_from_slice(&VIP.octets());
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&VIP_PORT.to_be_bytes());
    p[24..26].copy_from_slice(&(udp_len as u16).to_be_bytes());
    let mut sum = csum_add(0, &p[12..20]);
    sum += 17 + udp_len as u32;
    sum = csum_add(sum, &p[20..]);
    let c = match csum_fold(sum) {
        0 => 0xffff,
        c => c,
    };
    p[26..28].copy_from_slice(&c.to_be_bytes());
    p
}

/// Sends 64-byte UDP frames to the VIP from `flows` source ports, cycling
/// through them, at `rate` packets per second (0: unpaced) until `until`,
/// `max` packets or a stop. A raw IP socket (IP_HDRINCL) with `sendmmsg`:
/// one system call per `batch` packets and no UDP socket per flow. Returns
/// packets handed to the kernel.
fn generate(flows: u16, batch: usize, rate: u64, until: Instant, max: u64) -> anyhow::Result<u64> {
    let fd = socket::socket(
        socket::AddressFamily::Inet,
        socket::SockType::Raw,
        socket::SockFlag::empty(),
        socket::SockProtocol::Raw,
    )
    .context("raw socket")?;
    socket::connect(fd.as_raw_fd(), &SockaddrIn::from(SocketAddrV4::new(VIP, 0)))
        .context("connect raw socket")?;
    let packets: Vec<Vec<u8>> = (0..flows).map(|i| packet(FIRST_SPORT + i)).collect();
    // Twice over, so that any window of `batch` starting below `flows` exists.
    let iovs: Vec<[IoSlice<'_>; 1]> = packets
        .iter()
        .chain(packets.iter())
        .cycle()
        .take(usize::from(flows) + batch)
        .map(|p| [IoSlice::new(p)])
        .collect();
    let addrs: Vec<Option<SockaddrIn>> = vec![None; batch];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(batch, None);
    let mut sent = 0u64;
    let mut at = 0usize;
    let mut calls = 0u32;
    let start = Instant::now();
    while sent < max {
        if let Some(ns_per_packet) = 1_000_000_000u64.checked_div(rate) {
            // One clock read per batch (a system call on this VM).
            let now = Instant::now();
            if now >= until || STOP.load(Ordering::Relaxed) {
                break;
            }
            let due = start + Duration::from_nanos(sent.saturating_mul(ns_per_packet));
            if due > now {
                std::thread::sleep(due - now);
            }
        } else {
            // Unpaced: look at the clock every 64 calls.
            calls = calls.wrapping_add(1);
            if calls.is_multiple_of(64) && (Instant::now() >= until || STOP.load(Ordering::Relaxed))
            {
                break;
            }
        }
        match socket::sendmmsg(
            fd.as_raw_fd(),
            &mut headers,
            &iovs[at..at + batch],
            &addrs,
            [],
            MsgFlags::empty(),
        ) {
            Ok(_) => sent += batch as u64,
            // A full device backlog: the offered rate is counted on the
            // generator's veth anyway.
            Err(nix::errno::Errno::ENOBUFS | nix::errno::Errno::EAGAIN) => {}
            Err(e) => return Err(e).context("sendmmsg"),
        }
        at = (at + batch) % usize::from(flows);
    }
    Ok(sent)
}

// ---------------------------------------------------------------------------
// Measurement

/// One configuration's measurement.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Frames the generator's veth sent, per second.
    offered_pps: f64,
    /// Correctly forwarded packets counted at the server, per second.
    delivered_pps: f64,
    /// Share of the offered packets that did not reach the server.
    loss: f64,
    /// Share of one CPU used by the balancer's receive thread.
    lb_busy: f64,
    /// CPU nanoseconds of the balancer per packet it received.
    lb_ns_per_packet: f64,
    /// Marginal CPU ns per packet: between half rate and full rate.
    marginal_ns: f64,
    /// Packets per second one balancer core handles (`1e9 / marginal`).
    per_core_pps: f64,
}

fn sleep_checked(d: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if STOP.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    Ok(())
}

struct Snap {
    at: Instant,
    offered: u64,
    /// Packets the bridge handed to the balancer's veth.
    lb_in: u64,
    srv: Vec<u64>,
    lb_ns: u64,
}

fn snap(t: &Topo, lb_tid: i32) -> anyhow::Result<Snap> {
    Ok(Snap {
        at: Instant::now(),
        offered: read_u64(&t.gen, "/sys/class/net/g0/statistics/tx_packets")?,
        lb_in: read_u64(
            &t.sw,
            &format!("/sys/class/net/{}/statistics/tx_packets", t.sw_lb_dev),
        )?,
        srv: srv_counters(&t.srv)?,
        lb_ns: thread_cpu_ns(lb_tid)?,
    })
}

/// Offers `rate` packets/s for warm-up + `o.seconds`; returns the counters
/// at the start and the end of the measured part and the packets sent.
/// Fails if the server saw nothing, or the wrong kind of packet.
fn window(
    t: &Topo,
    target: Target,
    lb_tid: i32,
    o: &Opts,
    rate: u64,
) -> anyhow::Result<(Snap, Snap, u64)> {
    let until =
        Instant::now() + WARMUP + Duration::from_secs(o.seconds) + Duration::from_millis(300);
    // Bounded by time and by count: the most this machine could send.
    let max = (o.seconds + 2) * 20_000_000;
    let (flows, batch) = (o.flows, o.batch);
    let gen_ns = t.gen.clone();
    let gen = std::thread::spawn(move || {
        super::pin_current_thread(CPU_GEN);
        in_ns(&gen_ns, || generate(flows, batch, rate, until, max))
    });
    let r = (|| {
        sleep_checked(WARMUP)?;
        let a = snap(t, lb_tid)?;
        sleep_checked(Duration::from_secs(o.seconds))?;
        let b = snap(t, lb_tid)?;
        Ok::<_, anyhow::Error>((a, b))
    })();
    let sent = gen
        .join()
        .map_err(|_| anyhow::anyhow!("generator panicked"))??;
    let (a, b) = r?;
    let rule = target.rule();
    let delivered = b.srv[rule] - a.srv[rule];
    let wrong: u64 = (0..3)
        .filter(|&i| i != rule)
        .map(|i| b.srv[i] - a.srv[i])
        .sum();
    if delivered == 0 {
        bail!(
            "{}: nothing reached the server (counters {:?})",
            target.name(),
            b.srv
        );
    }
    if wrong > delivered / 100 {
        bail!(
            "{}: {wrong} packets of another configuration's kind reached the server",
            target.name()
        );
    }
    Ok((a, b, sent))
}

/// Sets `target` up in the balancer namespace, offers load for warm-up +
/// `o.seconds`, measures over the last `o.seconds`, and tears it down.
fn measure(t: &Topo, target: Target, o: &Opts, cpus: usize) -> anyhow::Result<(Sample, String)> {
    let mut note = String::new();
    let lb_prog = match target {
        Target::Xdp => {
            let cfg = xdp_config(t, Proto::Udp, VIP_PORT, u32::from(o.flows) * 4);
            Some(in_ns(&t.lb, || {
                let mut lb = XdpBalancer::load(&cfg)?;
                lb.attach_all()?;
                Ok(lb)
            })?)
        }
        Target::Nftables => {
            nft_apply(&t.lb, &dnat_rules())?;
            None
        }
        Target::XdpTxFloor => {
            ip(
                &t.lb,
                &[
                    "link",
                    "set",
                    "dev",
                    &t.lb_dev,
                    "xdpdrv",
                    "obj",
                    &t.floor_obj,
                    "sec",
                    "xdp",
                ],
            )?;
            None
        }
        Target::Routing => None,
        Target::WeirTcp => bail!("weir-tcp has no packet-rate phase"),
    };
    let result = (|| {
        let lb_tid = t.pin_napi(cpus)?;
        // Half the rate first: the difference between the two windows gives
        // the balancer's marginal cost per packet, free of what it pays per
        // poll whatever the traffic (timer wake-ups: ≈ 10% of a core here).
        let (lo_a, lo_b, _) = window(t, target, lb_tid, o, o.rate / 2)?;
        let (a, b, sent) = window(t, target, lb_tid, o, o.rate)?;
        let secs = (b.at - a.at).as_secs_f64();
        let lo_secs = (lo_b.at - lo_a.at).as_secs_f64();
        let rule = target.rule();
        let delivered = b.srv[rule] - a.srv[rule];
        let lb_ns = (b.lb_ns - a.lb_ns) as f64;
        let lb_in = (b.lb_in - a.lb_in).max(1) as f64;
        // CPU ns per second and packets per second at each rate.
        let (cpu_hi, pps_hi) = (lb_ns / secs, lb_in / secs);
        let (cpu_lo, pps_lo) = (
            (lo_b.lb_ns - lo_a.lb_ns) as f64 / lo_secs,
            (lo_b.lb_in - lo_a.lb_in) as f64 / lo_secs,
        );
        let marginal = if o.rate > 0 && pps_hi > pps_lo * 1.2 {
            (cpu_hi - cpu_lo) / (pps_hi - pps_lo)
        } else {
            f64::NAN
        };
        let s = Sample {
            offered_pps: (b.offered - a.offered) as f64 / secs,
            delivered_pps: delivered as f64 / secs,
            loss: 1.0 - delivered as f64 / (b.offered - a.offered).max(1) as f64,
            lb_busy: lb_ns / 1e9 / secs,
            lb_ns_per_packet: lb_ns / lb_in,
            marginal_ns: marginal,
            per_core_pps: 1e9 / marginal,
        };
        let _ = write!(
            note,
            "generator handed {sent} packets to sendmmsg; at half rate: {pps_lo:.0} packets/s, LB core busy {:.1}%",
            cpu_lo / 1e7
        );
        Ok(s)
    })();
    if let Some(lb) = &lb_prog {
        if let Ok(c) = lb.counters() {
            let _ = write!(
                note,
                "; weir XDP counters: forwarded {}, passed (not VIP) {}",
                c.event(Event::Forwarded),
                c.event(Event::PassNotVip)
            );
        }
    }
    if std::env::var_os("WEIR_XDPBENCH_DEBUG").is_some() {
        for (ns, dev) in [
            (&t.gen, "g0"),
            (&t.sw, "wg"),
            (&t.sw, t.sw_lb_dev.as_str()),
            (&t.lb, t.lb_dev.as_str()),
            (&t.sw, "ws"),
            (&t.srv, "s0"),
        ] {
            eprintln!(
                "--- {ns} {dev}\n{}{}",
                run("ip", &["-n", ns, "-s", "link", "show", dev]).unwrap_or_default(),
                ns_run(ns, "ethtool", &["-S", dev]).unwrap_or_default()
            );
        }
    }
    drop(lb_prog);
    if target == Target::Nftables {
        ns_run(&t.lb, "nft", &["delete", "table", "ip", "weirbench"])?;
    }
    if target == Target::XdpTxFloor {
        ip(&t.lb, &["link", "set", "dev", &t.lb_dev, "xdpdrv", "off"])?;
    }
    result.map(|s| (s, note))
}

// ---------------------------------------------------------------------------
// Connection rate

const TCP_PORT: u16 = 80;
/// Client threads of the closed loop.
const CONN_CLIENTS: usize = 4;

/// Enters namespace `ns` on the calling thread.
fn enter(ns: &str) -> anyhow::Result<()> {
    let file = std::fs::File::open(format!("/var/run/netns/{ns}"))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("setns {ns}"))
}

/// One connection-rate measurement.
#[derive(Debug, Clone, Copy)]
struct ConnSample {
    per_sec: f64,
    failed: u64,
    /// Balancer CPU per connection (its NAPI thread).
    lb_us_per_conn: f64,
}

/// TCP connections (SYN → established, then closed by the client) per
/// second to VIP:80 through weir's XDP path or plain routing, closed loop
/// from `CONN_CLIENTS` threads on CPU 0, for `secs`. Both are DSR: the
/// server owns the VIP and answers the client directly. (nftables DNAT
/// would need the answers back through the balancer; not measured.)
fn conn_phase(
    t: &Topo,
    target: Target,
    secs: u64,
    cpus: usize,
    weir: Option<&std::path::Path>,
) -> anyhow::Result<ConnSample> {
    let lb_prog = match target {
        Target::Xdp => {
            let cfg = xdp_config(t, Proto::Tcp, TCP_PORT, 65_536);
            Some(in_ns(&t.lb, || {
                let mut lb = XdpBalancer::load(&cfg)?;
                lb.attach_all()?;
                Ok(lb)
            })?)
        }
        Target::Routing => None,
        Target::WeirTcp => None,
        other => bail!("no connection phase for {}", other.name()),
    };
    let weir = match (target, weir) {
        (Target::WeirTcp, Some(path)) => Some(WeirProc::start(t, path)?),
        (Target::WeirTcp, None) => bail!("weir-tcp needs --weir PATH"),
        _ => None,
    };
    // The server decapsulates IPIP (this kernel has no ipip device).
    let decap = in_ns(&t.srv, || {
        let mut d = weir_kernel::XdpDecap::load()?;
        d.attach(&iface("s0"))?;
        Ok(d)
    })?;
    let listener = in_ns(&t.srv, || {
        // Any address: the VIP for the DSR paths, the server's own for weir.
        Ok(std::net::TcpListener::bind(SocketAddrV4::new(
            Ipv4Addr::UNSPECIFIED,
            TCP_PORT,
        ))?)
    })?;
    listener.set_nonblocking(true)?;
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let server = {
        let done = done.clone();
        std::thread::spawn(move || {
            super::pin_current_thread(CPU_GEN);
            while !done.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => drop(s),
                    Err(_) => std::thread::sleep(Duration::from_micros(200)),
                }
            }
        })
    };
    let r = (|| {
        let lb_tid = t.pin_napi(cpus)?;
        let until = Instant::now() + Duration::from_secs(secs);
        let cpu0 = thread_cpu_ns(lb_tid)?;
        let weir0 = weir
            .as_ref()
            .map(|w| super::proc::cpu_seconds(w.pid()))
            .transpose()?;
        let start = Instant::now();
        let clients: Vec<_> = (0..CONN_CLIENTS)
            .map(|_| {
                let ns = t.gen.clone();
                std::thread::spawn(move || -> anyhow::Result<(u64, u64)> {
                    super::pin_current_thread(CPU_GEN);
                    enter(&ns)?;
                    let (mut ok, mut failed) = (0u64, 0u64);
                    let to = std::net::SocketAddr::V4(SocketAddrV4::new(VIP, TCP_PORT));
                    // Bounded by time and by count.
                    while Instant::now() < until && ok + failed < 1_000_000 {
                        if STOP.load(Ordering::Relaxed) {
                            break;
                        }
                        match std::net::TcpStream::connect_timeout(&to, Duration::from_secs(1)) {
                            Ok(c) => {
                                ok += 1;
                                drop(c);
                            }
                            Err(_) => failed += 1,
                        }
                    }
                    Ok((ok, failed))
                })
            })
            .collect();
        let (mut ok, mut failed) = (0, 0);
        for c in clients {
            let (o, f) = c.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
            ok += o;
            failed += f;
        }
        let secs = start.elapsed().as_secs_f64();
        let mut lb_ns = thread_cpu_ns(lb_tid)? - cpu0;
        if let (Some(w), Some(c0)) = (&weir, weir0) {
            lb_ns += ((super::proc::cpu_seconds(w.pid())? - c0) * 1e9) as u64;
        }
        if ok == 0 {
            bail!(
                "{}: no connection established ({failed} failed)",
                target.name()
            );
        }
        Ok(ConnSample {
            per_sec: ok as f64 / secs,
            failed,
            lb_us_per_conn: lb_ns as f64 / 1e3 / ok as f64,
        })
    })();
    done.store(true, Ordering::Relaxed);
    let _ = server.join();
    if let (Ok(_), Some(lb)) = (&r, &lb_prog) {
        let c = lb.counters()?;
        if c.event(Event::Forwarded) == 0 || decap.decapsulated()? == 0 {
            bail!("xdp connection phase: nothing went through weir's XDP path");
        }
    }
    drop(decap);
    drop(lb_prog);
    drop(weir);
    r
}

/// The `weir` binary proxying VIP:80 to the first server in tcp mode, on
/// CPU 1 in the balancer namespace (the VIP on its loopback meanwhile).
struct WeirProc {
    child: std::process::Child,
    lb: String,
    cfg: std::path::PathBuf,
}

impl WeirProc {
    fn start(t: &Topo, path: &std::path::Path) -> anyhow::Result<WeirProc> {
        std::fs::create_dir_all(&t.bpf_dir)?;
        let cfg = t.bpf_dir.join("weir.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n    nbthread 1\n\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\nfrontend vip\n    bind {VIP}:{TCP_PORT}\n    default_backend servers\n\nbackend servers\n    server s0 {}:{TCP_PORT}\n",
                SERVERS[0]
            ),
        )?;
        ip(&t.lb, &["addr", "add", &format!("{VIP}/32"), "dev", "lo"])?;
        // `ip netns exec` and `taskset` exec: the child's pid is weir's.
        let child = Command::new("ip")
            .args(["netns", "exec", &t.lb, "taskset", "-c", &CPU_LB.to_string()])
            .arg(path)
            .args(["-db", "-q", "-f"])
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", path.display()))?;
        let mut w = WeirProc {
            child,
            lb: t.lb.clone(),
            cfg,
        };
        std::thread::sleep(Duration::from_millis(500));
        if let Some(st) = w.child.try_wait()? {
            bail!("weir exited at start: {st}");
        }
        Ok(w)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for WeirProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.cfg);
        let _ = ip(
            &self.lb,
            &["addr", "del", &format!("{VIP}/32"), "dev", "lo"],
        );
    }
}

// ---------------------------------------------------------------------------
// Entry point and report

/// Runs the existing BPF_PROG_TEST_RUN example and returns its output.
fn testrun() -> anyhow::Result<String> {
    eprintln!("xtask: BPF_PROG_TEST_RUN example (cargo run --release -p weir-kernel --example xdp_bench)…");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "run",
            "--release",
            "-q",
            "-p",
            "weir-kernel",
            "--example",
            "xdp_bench",
        ])
        .current_dir(crate::workspace_root())
        .output()
        .context("cargo run xdp_bench")?;
    if !out.status.success() {
        bail!("xdp_bench: {}", String::from_utf8_lossy(&out.stderr));
    }
    // When and from what: the figures move with the program.
    let line = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .current_dir(crate::workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    let date = line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = line("git", &["rev-parse", "--short", "HEAD"]);
    Ok(format!(
        "run {date}, commit {commit}\n{}",
        String::from_utf8_lossy(&out.stdout)
    ))
}

/// Blocks SIGINT/SIGTERM/SIGHUP in every thread (children inherit the mask,
/// so this comes after every long child) and turns them into `STOP` from a
/// dedicated thread: the topology's `Drop` then runs on the way out.
fn catch_signals() -> anyhow::Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    std::thread::spawn(move || {
        if let Ok(sig) = set.wait() {
            eprintln!("xtask: {sig}, stopping and removing the namespaces…");
            STOP.store(true, Ordering::SeqCst);
        }
    });
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .unwrap_or_default();
    let kernel = run("uname", &["-r"]).unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} CPUs ({cpu}), {} MiB, kernel {}, load average at start: {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        mem.parse::<u64>().unwrap_or(0) / 1024,
        kernel.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn fmt3(v: &[f64], scale: f64, decimals: usize) -> String {
    if v.is_empty() {
        return "–".into();
    }
    let (a, b, c) = min_med_max(v);
    format!(
        "{:.d$} / {:.d$} / {:.d$}",
        a / scale,
        b / scale,
        c / scale,
        d = decimals
    )
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let o = parse(args)?;
    if !nix::unistd::geteuid().is_root() {
        bail!("bench xdp needs root (namespaces, XDP)");
    }
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let machine = machine();
    let test_run = if o.testrun { Some(testrun()?) } else { None };
    catch_signals()?;
    eprintln!("xtask: building the namespaces…");
    let topo = Topo::build(o.coalesce_us, o.feed)?;
    let mut samples: Vec<Vec<(Target, Sample)>> = Vec::new();
    let mut notes = Vec::new();
    let mut conns: Vec<Vec<(Target, ConnSample)>> = Vec::new();
    let mut failures = Vec::new();
    for round in 0..o.rounds {
        let mut this = Vec::new();
        for &target in &o.targets {
            if STOP.load(Ordering::SeqCst) {
                bail!("interrupted");
            }
            match measure(&topo, target, &o, cpus) {
                Ok((s, note)) => {
                    eprintln!(
                        "round {}: {:<8} offered {:>9.0} pps, delivered {:>9.0} pps (loss {:.2}%), LB core busy {:>5.1}%, {:>6.0} ns/packet, marginal {:>5.0} ns/packet, {:>9.0} pps per core",
                        round + 1,
                        target.name(),
                        s.offered_pps,
                        s.delivered_pps,
                        s.loss * 100.0,
                        s.lb_busy * 100.0,
                        s.lb_ns_per_packet,
                        s.marginal_ns,
                        s.per_core_pps
                    );
                    notes.push(format!("round {}, {}: {note}", round + 1, target.name()));
                    this.push((target, s));
                }
                Err(e) => {
                    eprintln!("round {}: {}: {e:#}", round + 1, target.name());
                    failures.push(format!("round {}, {}: {e:#}", round + 1, target.name()));
                }
            }
        }
        samples.push(this);
        let mut this = Vec::new();
        for target in [Target::Xdp, Target::Routing, Target::WeirTcp] {
            let wanted = if target == Target::WeirTcp {
                o.weir.is_some()
            } else {
                o.targets.contains(&target)
            };
            if o.conn_seconds == 0 || !wanted || STOP.load(Ordering::SeqCst) {
                continue;
            }
            match conn_phase(&topo, target, o.conn_seconds, cpus, o.weir.as_deref()) {
                Ok(c) => {
                    eprintln!(
                        "round {}: {:<8} {:>7.0} connections/s ({} failed), LB core {:.2} µs per connection",
                        round + 1,
                        target.name(),
                        c.per_sec,
                        c.failed,
                        c.lb_us_per_conn
                    );
                    this.push((target, c));
                }
                Err(e) => {
                    eprintln!("round {}: connections {}: {e:#}", round + 1, target.name());
                    failures.push(format!(
                        "round {}, connections {}: {e:#}",
                        round + 1,
                        target.name()
                    ));
                }
            }
        }
        conns.push(this);
    }
    drop(topo);

    let mut t = String::new();
    let _ = writeln!(
        t,
        "| configuration | offered pps | delivered pps | loss % | LB core busy % | LB core ns / packet | marginal LB ns / packet | pps per LB core (1e9 / marginal) |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|");
    let col = |target: Target, f: fn(&Sample) -> f64| -> Vec<f64> {
        samples
            .iter()
            .flat_map(|r| r.iter().filter(|(x, _)| *x == target).map(|(_, s)| f(s)))
            .collect()
    };
    for &target in &o.targets {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            target.name(),
            fmt3(&col(target, |s| s.offered_pps), 1e3, 0) + " k",
            fmt3(&col(target, |s| s.delivered_pps), 1e3, 0) + " k",
            fmt3(&col(target, |s| s.loss * 100.0), 1.0, 2),
            fmt3(&col(target, |s| s.lb_busy * 100.0), 1.0, 1),
            fmt3(&col(target, |s| s.lb_ns_per_packet), 1.0, 0),
            fmt3(&col(target, |s| s.marginal_ns), 1.0, 0),
            fmt3(&col(target, |s| s.per_core_pps), 1e3, 0) + " k",
        );
    }
    let ratio = |a: Target, b: Target, f: fn(&Sample) -> f64| -> Vec<f64> {
        samples
            .iter()
            .filter_map(|r| {
                let x = r.iter().find(|(t, _)| *t == a)?.1;
                let y = r.iter().find(|(t, _)| *t == b)?.1;
                Some(f(&x) / f(&y))
            })
            .collect()
    };
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "| ratio, same round (min / median / max) | per LB core (marginal cost) | per LB core (all-in cost at full rate) | delivered |"
    );
    let _ = writeln!(t, "|---|---|---|---|");
    for b in [Target::Nftables, Target::Routing, Target::XdpTxFloor] {
        let _ = writeln!(
            t,
            "| xdp / {} | {} | {} | {} |",
            b.name(),
            fmt3(&ratio(Target::Xdp, b, |s| s.per_core_pps), 1.0, 2),
            fmt3(&ratio(Target::Xdp, b, |s| 1.0 / s.lb_ns_per_packet), 1.0, 2),
            fmt3(&ratio(Target::Xdp, b, |s| s.delivered_pps), 1.0, 2),
        );
    }
    if conns.iter().any(|r| !r.is_empty()) {
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "| connections (SYN → established → client close), {CONN_CLIENTS} client threads, closed loop | per second | failed | LB core µs / connection |"
        );
        let _ = writeln!(t, "|---|---|---|---|");
        for target in [Target::Xdp, Target::Routing, Target::WeirTcp] {
            let v: Vec<ConnSample> = conns
                .iter()
                .flat_map(|r| r.iter().filter(|(x, _)| *x == target).map(|(_, c)| *c))
                .collect();
            if v.is_empty() {
                continue;
            }
            let f = |g: fn(&ConnSample) -> f64| v.iter().map(g).collect::<Vec<f64>>();
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} |",
                target.name(),
                fmt3(&f(|c| c.per_sec), 1.0, 0),
                fmt3(&f(|c| c.failed as f64), 1.0, 0),
                fmt3(&f(|c| c.lb_us_per_conn), 1.0, 2),
            );
        }
    }
    print!("{t}");
    let mut md = String::new();
    let _ = writeln!(md, "# XDP packet-rate benchmark\n");
    let _ = writeln!(
        md,
        "Command: `{}` (root). Machine: {machine}.\n",
        ["cargo xtask bench xdp"]
            .iter()
            .copied()
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        md,
        "{} rounds, each running {} in turn for 1 s warm-up + {} s measured; {} flows (UDP source ports), 60-byte frames (64 with FCS), sendmmsg batches of {}, offered at {} packets/s (0: unpaced); feed: {:?}; NAPI coalescing {} µs. Values are min / median / max over rounds.\n",
        o.rounds,
        o.targets.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
        o.seconds,
        o.flows,
        o.batch,
        o.rate,
        o.feed,
        o.coalesce_us
    );
    md.push_str(&t);
    let _ = writeln!(md, "\n{METHOD}");
    if !failures.is_empty() {
        let _ = writeln!(md, "\nFailures:\n");
        for f in &failures {
            let _ = writeln!(md, "- {f}");
        }
    }
    let _ = writeln!(md, "\nPer-run notes:\n");
    for n in &notes {
        let _ = writeln!(md, "- {n}");
    }
    if let Some(tr) = &test_run {
        let _ = writeln!(
            md,
            "\n## BPF_PROG_TEST_RUN (`cargo run --release -p weir-kernel --example xdp_bench`)\n\n```text\n{}```",
            tr
        );
        print!("\n{tr}");
    }
    if let Some(path) = &o.out {
        std::fs::write(path, &md).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("xtask: wrote {}", path.display());
    }
    if !failures.is_empty() {
        bail!("{} measurement(s) failed", failures.len());
    }
    Ok(())
}
