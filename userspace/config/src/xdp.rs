//! The model of an `xdp` section (weir's XDP L4 balancer): plain data that
//! the keyword parsers of [`crate::kw::kernel`] fill and weir-kernel loads
//! into its maps. It lives here, free of aya, so that `weir -c` checks an
//! `xdp` section with the same [`XdpConfig::validate`] the loader runs.
//!
//! # Keywords (weir's own; HAProxy has none for this)
//!
//! ```text
//! xdp NAME
//!     interface IF [mode native|generic|auto] [fallback generic|refuse]
//!     method ipip|fullnat                 # DSR by IPIP / IPv6-in-IPv6, or full NAT
//!     nat-source ADDR                     # full NAT: weir's source towards servers (one per family)
//!     source-v4 ADDR                      # outer source of IPv4 encapsulation
//!     source-v6 ADDR                      # outer source of IPv6 encapsulation
//!     next-hop-mac MAC                    # destination MAC of forwarded packets
//!     ring-size PRIME                     # Maglev ring entries per VIP (65537)
//!     max-flows N                         # connection table size (LRU, 262144)
//!     max-vips N / max-servers N          # map sizes (64 / 1024)
//!     blocklist CIDR|file@PATH ...        # drop these sources
//!     allowlist CIDR|file@PATH ...        # with allowlist-only: drop all others
//!     allowlist-only
//!     new-flow-rate N/s [burst M] per-source   # TCP SYNs and UDP new flows
//!     pin PATH                            # pin maps under PATH (/sys/fs/bpf/weir/NAME)
//!     vip ADDR[:PORT] proto tcp|udp [hash 5-tuple|source]
//!         server NAME ADDR [weight N] [down]  # repeated, belongs to the vip above
//! ```
//!
//! A VIP without a port takes every port of the address. `weight 0` drains
//! (existing flows stay, no new ones); `down` takes the server out and moves
//! its flows.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// How to attach XDP to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AttachMode {
    /// In the driver (fastest; needs driver support).
    Native,
    /// In the kernel's generic path (any device, slower).
    Generic,
    /// Native, else as `Fallback` says.
    #[default]
    Auto,
}

/// What to do when native XDP cannot attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Attach in generic mode and say so.
    #[default]
    Generic,
    /// Fail with the reason.
    Refuse,
}

/// One `interface` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// Interface name.
    pub name: String,
    /// Requested mode.
    pub mode: AttachMode,
    /// Behaviour when native mode fails (`Auto`/`Native` only).
    pub fallback: Fallback,
}

/// Forwarding method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    /// IPIP / IPv6-in-IPv6 encapsulation, servers reply directly.
    #[default]
    Ipip,
    /// Full NAT (IPv4 and IPv6; a VIP and its servers share a family):
    /// source and destination rewritten, replies come back through weir
    /// and are translated back in XDP.
    FullNat,
}

/// VIP protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// IP protocol number.
    pub const fn number(self) -> u8 {
        match self {
            Proto::Tcp => weir_common::PROTO_TCP,
            Proto::Udp => weir_common::PROTO_UDP,
        }
    }
}

/// What the Maglev ring position is hashed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VipHash {
    /// Source, destination, ports and protocol.
    #[default]
    FiveTuple,
    /// Source address only (all of a client's connections on one server).
    Source,
}

/// A server line under a VIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Server name (unique within its VIP).
    pub name: String,
    /// Server address: the outer destination.
    pub addr: IpAddr,
    /// Maglev weight; 0 drains.
    pub weight: u32,
    /// Administratively down.
    pub down: bool,
}

/// A `vip` line with its servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipConfig {
    /// VIP address.
    pub addr: IpAddr,
    /// Port, 0 for every port.
    pub port: u16,
    /// Protocol.
    pub proto: Proto,
    /// Ring hashing.
    pub hash: VipHash,
    /// Servers.
    pub servers: Vec<ServerConfig>,
}

/// An IPv4 or IPv6 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("bad address in prefix {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("bad prefix length in {s:?}"))?,
            None => max,
        };
        Ok(Cidr { addr, len })
    }
}

/// New-flow token bucket per source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained new flows per second per source.
    pub per_sec: u32,
    /// Burst (bucket depth).
    pub burst: u32,
}

/// Map sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// VIPs.
    pub max_vips: u32,
    /// Servers over all VIPs.
    pub max_servers: u32,
    /// Maglev ring entries per slot (prime).
    pub ring_size: u32,
    /// Connection-table capacity.
    pub max_flows: u32,
    /// Rate-limited sources tracked.
    pub max_rate_sources: u32,
    /// Entries per source trie.
    pub max_src_prefixes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        use weir_common::maps::*;
        Limits {
            max_vips: DEFAULT_MAX_VIPS,
            max_servers: DEFAULT_MAX_SERVERS,
            ring_size: DEFAULT_RING_SIZE,
            max_flows: DEFAULT_MAX_FLOWS,
            max_rate_sources: DEFAULT_MAX_RATE_SOURCES,
            max_src_prefixes: DEFAULT_MAX_SRC_PREFIXES,
        }
    }
}

/// An `xdp` section.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct XdpConfig {
    /// Section name (also the pin sub-directory).
    pub name: String,
    /// Interfaces to attach to.
    pub interfaces: Vec<InterfaceConfig>,
    /// Forwarding method.
    pub method: Method,
    /// Outer source for IPv4 encapsulation.
    pub source_v4: Option<Ipv4Addr>,
    /// Outer source for IPv6 encapsulation.
    pub source_v6: Option<Ipv6Addr>,
    /// Full NAT: weir's own address, source of translated packets and
    /// destination of replies (give weir a dedicated one).
    pub nat_source_v4: Option<Ipv4Addr>,
    /// Full NAT: the same for IPv6 VIPs.
    pub nat_source_v6: Option<Ipv6Addr>,
    /// Destination MAC of forwarded packets.
    pub next_hop_mac: [u8; 6],
    /// VIPs.
    pub vips: Vec<VipConfig>,
    /// Blocked source prefixes.
    pub blocklist: Vec<Cidr>,
    /// Allowed source prefixes (override blocklist entries they are longer than).
    pub allowlist: Vec<Cidr>,
    /// Drop every source the allowlist does not cover.
    pub allowlist_only: bool,
    /// Per-source new-flow limit.
    pub new_flow_rate: Option<RateLimit>,
    /// Map sizes.
    pub limits: Limits,
    /// Pin the maps under this directory (a reload reuses them).
    pub pin: Option<PathBuf>,
}

impl XdpConfig {
    /// Checks what the kernel side cannot represent (for `weir -c`, and
    /// before every load): ring size prime, sizes within the map limits,
    /// an outer source for every server family, full NAT's constraints.
    pub fn validate(&self) -> Result<(), String> {
        let cfg = self;
        let bad = |s: String| Err(s);
        let l = cfg.limits;
        if cfg.method == Method::FullNat {
            for v in &cfg.vips {
                let has_source = if v.addr.is_ipv4() {
                    cfg.nat_source_v4.is_some()
                } else {
                    cfg.nat_source_v6.is_some()
                };
                if !has_source {
                    return bad(format!(
                        "method fullnat: VIP {} needs a nat-source of its family",
                        v.addr
                    ));
                }
                if let Some(s) = v
                    .servers
                    .iter()
                    .find(|s| s.addr.is_ipv4() != v.addr.is_ipv4())
                {
                    return bad(format!(
                        "method fullnat does not translate between IPv4 and IPv6: server {} of VIP {}",
                        s.name, v.addr
                    ));
                }
            }
        }
        if !weir_core::maglev::is_prime(u64::from(l.ring_size)) {
            return bad(format!("ring-size {} is not a prime", l.ring_size));
        }
        if cfg.vips.len() > l.max_vips as usize {
            return bad(format!(
                "{} VIPs exceed max-vips {}",
                cfg.vips.len(),
                l.max_vips
            ));
        }
        let total: usize = cfg.vips.iter().map(|v| v.servers.len()).sum();
        if total > l.max_servers as usize {
            return bad(format!(
                "{total} servers exceed max-servers {}",
                l.max_servers
            ));
        }
        for v in &cfg.vips {
            if v.servers.len() >= l.ring_size as usize {
                return bad(format!("VIP {}: more servers than ring entries", v.addr));
            }
            for s in &v.servers {
                if cfg.method == Method::FullNat {
                    continue;
                }
                if s.addr.is_ipv4() && cfg.source_v4.is_none() {
                    return bad(format!("server {} is IPv4 but no source-v4 is set", s.name));
                }
                if s.addr.is_ipv6() && cfg.source_v6.is_none() {
                    return bad(format!("server {} is IPv6 but no source-v6 is set", s.name));
                }
            }
            let mut names: Vec<&str> = v.servers.iter().map(|s| s.name.as_str()).collect();
            names.sort_unstable();
            if names.windows(2).any(|w| w[0] == w[1]) {
                return bad(format!("VIP {}: duplicate server name", v.addr));
            }
        }
        if let Some(r) = cfg.new_flow_rate {
            if r.per_sec == 0 {
                return bad("new-flow-rate must be at least 1/s".into());
            }
        }
        Ok(())
    }
}

/// A parsed `xdp` section: the model and where the section starts (errors
/// found when loading it name that line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdpSection {
    /// The `xdp NAME` line.
    pub loc: crate::types::Loc,
    /// What the section configures.
    pub cfg: XdpConfig,
}

/// Reads a prefix file: one CIDR per line, `#` comments and blank lines
/// ignored. Errors name the file and line.
pub fn read_prefix_file(path: &std::path::Path) -> Result<Vec<Cidr>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(
            line.parse()
                .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?,
        );
    }
    Ok(out)
}

/// One entry of the XDP frontend-rule tries: TCP SYNs to `port` from a
/// source in `addr`/`len` are dropped (`drop`), or let through (an
/// exception inside a shorter dropping prefix of the same port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontEntry {
    /// TCP destination port.
    pub port: u16,
    /// Source network address.
    pub addr: IpAddr,
    /// Source prefix length.
    pub len: u8,
    /// Drop (true) or pass (false).
    pub drop: bool,
}

/// A frontend's `tcp-request connection reject` rule compiled to XDP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontDrop {
    /// The frontend.
    pub frontend: String,
    /// Where the rule is.
    pub loc: crate::Loc,
    /// The condition as written (`if { src … }`).
    pub cond: String,
    /// The frontend's (wildcard) binds the entries cover.
    pub binds: Vec<std::net::SocketAddr>,
    /// The trie entries.
    pub entries: Vec<FrontEntry>,
}

/// The frontends' `tcp-request connection` rules that XDP can enforce
/// exactly, as (port, source prefix) entries (docs/xdp.md, "Frontend rules
/// compiled to XDP"). A rule compiles only when: it is the frontend's first
/// `tcp-request connection` rule, it is `reject if|unless COND` with COND a
/// pure source-address test (named or anonymous `src` ACLs with IP
/// patterns, inline or `-f`, possibly OR-ed, all with the same polarity),
/// every `bind` of the frontend is a wildcard address (`0.0.0.0:P` or
/// `[::]:P`) without `interface` or `transparent`, no other frontend binds
/// any of those ports and none uses `fd@`. Entries go only to the family of
/// each wildcard (IPv4 sources for `0.0.0.0`, IPv6 for `[::]`); `unless`
/// (drop everything except the networks) compiles only when all the
/// networks are of that family. Anything else stays in userspace only.
pub fn frontend_drops(config: &crate::Config) -> Vec<FrontDrop> {
    use crate::kw::rules::TcpAction;
    use crate::BindAddr;
    use std::collections::HashMap;
    use std::net::SocketAddr;
    let live: Vec<_> = config.frontends.iter().filter(|f| !f.disabled).collect();
    if live
        .iter()
        .any(|f| f.binds.iter().any(|b| matches!(b.addr, BindAddr::Fd(_))))
    {
        return Vec::new();
    }
    // Port → how many frontends bind it.
    let mut owners: HashMap<u16, usize> = HashMap::new();
    for f in &live {
        let mut ports: Vec<u16> = f
            .binds
            .iter()
            .filter_map(|b| match b.addr {
                BindAddr::Inet(a) => Some(a.port()),
                BindAddr::Fd(_) => None,
            })
            .collect();
        ports.sort_unstable();
        ports.dedup();
        for p in ports {
            *owners.entry(p).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for f in &live {
        let Some(rule) = f.rules.tcp_connection.first() else {
            continue;
        };
        let (TcpAction::Reject, Some(cond)) = (rule.action, &rule.cond) else {
            continue;
        };
        let Ok(c) = crate::kw::acl::compile_condition(&f.acls, cond, &|v| std::env::var(v).ok())
        else {
            continue;
        };
        let Some(m) = c.source_networks() else {
            continue;
        };
        let mut binds: Vec<SocketAddr> = Vec::new();
        let ok = f.binds.iter().all(|b| match b.addr {
            BindAddr::Inet(a) => {
                binds.push(a);
                a.ip().is_unspecified()
                    && b.interface.is_none()
                    && !b.transparent
                    && owners.get(&a.port()) == Some(&1)
            }
            BindAddr::Fd(_) => false,
        });
        if !ok {
            continue;
        }
        binds.sort_unstable();
        binds.dedup();
        let mut entries = Vec::new();
        for a in &binds {
            let v4 = a.is_ipv4();
            let same = |ip: &IpAddr| ip.is_ipv4() == v4;
            if m.negate {
                if !m.networks.iter().all(|(ip, _)| same(ip)) {
                    continue;
                }
                entries.push(FrontEntry {
                    port: a.port(),
                    addr: a.ip(),
                    len: 0,
                    drop: true,
                });
            }
            for (ip, len) in m.networks.iter().filter(|(ip, _)| same(ip)) {
                entries.push(FrontEntry {
                    port: a.port(),
                    addr: *ip,
                    len: *len,
                    drop: !m.negate,
                });
            }
        }
        if entries.is_empty() {
            continue;
        }
        out.push(FrontDrop {
            frontend: f.name.clone(),
            loc: rule.loc.clone(),
            cond: c.describe(),
            binds,
            entries,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_files_parse_with_comments_and_report_lines() {
        let dir = std::env::temp_dir().join(format!("weir-config-prefix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(
            &good,
            "# blocklist\n10.0.0.0/8\n\n192.0.2.1 # one host\nfd00::/8\n",
        )
        .unwrap();
        let list = read_prefix_file(&good).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(
            list[1],
            Cidr {
                addr: "192.0.2.1".parse().unwrap(),
                len: 32
            }
        );
        let bad = dir.join("bad");
        std::fs::write(&bad, "10.0.0.0/8\n10.0.0.0/40\n").unwrap();
        let e = read_prefix_file(&bad).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("prefix length"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn drops(body: &str) -> Vec<FrontDrop> {
        let text = format!(
            "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
             {body}backend b\n    server s 127.0.0.1:9\n"
        );
        let cfg = crate::parse_str("t.cfg", &text).unwrap_or_else(|e| panic!("{e}"));
        frontend_drops(&cfg)
    }

    fn entry(port: u16, addr: &str, len: u8, drop: bool) -> FrontEntry {
        FrontEntry {
            port,
            addr: addr.parse().unwrap(),
            len,
            drop,
        }
    }

    #[test]
    fn a_first_source_reject_on_wildcard_binds_compiles_per_port_and_family() {
        let d = drops(
            "frontend f\n    bind 0.0.0.0:80,0.0.0.0:81\n    bind [::]:80\n    \
             acl bad src 10.0.0.0/8 2001:db8::/32\n    \
             tcp-request connection reject if bad || { src 192.0.2.1 }\n    default_backend b\n",
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].frontend, "f");
        assert_eq!(d[0].loc.line, 10);
        assert_eq!(d[0].cond, "if bad || { src 192.0.2.1 }");
        assert_eq!(
            d[0].entries,
            [
                entry(80, "10.0.0.0", 8, true),
                entry(80, "192.0.2.1", 32, true),
                entry(81, "10.0.0.0", 8, true),
                entry(81, "192.0.2.1", 32, true),
                entry(80, "2001:db8::", 32, true),
            ]
        );
    }

    #[test]
    fn unless_drops_the_port_except_the_networks_of_one_family_only() {
        let d = drops(
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject unless { src 10.0.0.0/8 }\n    default_backend b\n",
        );
        assert_eq!(
            d[0].entries,
            [
                entry(80, "0.0.0.0", 0, true),
                entry(80, "10.0.0.0", 8, false)
            ]
        );
        // An IPv6 network might cover IPv4 clients in userspace: not compiled.
        let d = drops(
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject unless { src 10.0.0.0/8 ::1 }\n    default_backend b\n",
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn rules_that_xdp_cannot_scope_exactly_stay_in_userspace() {
        let cases = [
            // Not the first rule: an earlier accept changes the outcome.
            "frontend f\n    bind 0.0.0.0:80\n    tcp-request connection accept if { src 10.1.0.0/16 }\n    \
             tcp-request connection reject if { src 10.0.0.0/8 }\n    default_backend b\n",
            // Another fetch ANDed.
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject if { src 10.0.0.0/8 } { dst_port 80 }\n    default_backend b\n",
            // Not a source test.
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject if { dst 10.0.0.1 }\n    default_backend b\n",
            // A converter on src.
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject if { src,ipmask(8) 10.0.0.0/8 }\n    default_backend b\n",
            // Mixed polarity.
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject if { src 10.0.0.0/8 } || !{ src 10.1.0.0/16 }\n    default_backend b\n",
            // A bind on a specific address: other local addresses share the port.
            "frontend f\n    bind 10.0.0.1:80\n    \
             tcp-request connection reject if { src 10.0.0.0/8 }\n    default_backend b\n",
            // Another frontend listens on the same port.
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject if { src 10.0.0.0/8 }\n    default_backend b\n\
             frontend g\n    bind 127.0.0.1:80\n    default_backend b\n",
            // Bound to an interface.
            "frontend f\n    bind 0.0.0.0:80 interface eth1\n    \
             tcp-request connection reject if { src 10.0.0.0/8 }\n    default_backend b\n",
            // Only IPv6 networks for an IPv4 wildcard: nothing to do.
            "frontend f\n    bind 0.0.0.0:80\n    \
             tcp-request connection reject if { src 2001:db8::/32 }\n    default_backend b\n",
        ];
        for c in cases {
            assert!(drops(c).is_empty(), "{c}");
        }
    }
}
