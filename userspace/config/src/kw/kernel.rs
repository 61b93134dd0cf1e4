//! The `xdp NAME` section: weir's own keywords (HAProxy has none for this)
//! configuring the XDP L4 balancer and early drop that weir-kernel loads.
//! The model is [`crate::xdp`]; the keyword reference is docs/xdp.md.
//!
//! LIFECYCLE: [`open`] (the `xdp NAME` line) creates an [`XdpDraft`];
//! each keyword line fills it through [`KEYWORDS`]; [`close`] (end of the
//! section or file) fills what defaults to the section name, checks what
//! needs the whole section (an interface, every server's family has an
//! outer source, [`XdpConfig::validate`]) and returns the finished
//! [`XdpSection`]. A `server` line belongs to the `vip` line above it.

use std::net::IpAddr;
use std::path::PathBuf;

use super::{expect_args, Ctx, Keyword, Sections};
use crate::types::Loc;
use crate::units::parse_uint;
use crate::xdp::*;

/// Where the maps of a section are pinned when `pin` has no path.
pub const DEFAULT_PIN_ROOT: &str = "/sys/fs/bpf/weir";

/// Highest Maglev weight of a server (HAProxy's range for weights).
pub const MAX_WEIGHT: u32 = 256;

/// An `xdp` section being parsed.
#[derive(Debug)]
pub struct XdpDraft {
    /// What the section says so far.
    pub cfg: XdpConfig,
    /// The `xdp NAME` line.
    pub loc: Loc,
    /// Keywords that may appear once, already seen (with their line).
    seen: Vec<(&'static str, u32)>,
    /// `pin` written without a path: the default under [`DEFAULT_PIN_ROOT`].
    pin_default: bool,
    /// `next-hop-mac` was written (all zeros is a valid-looking default
    /// that would send every forwarded frame nowhere).
    next_hop_set: bool,
}

/// Starts a section from its `xdp NAME` line. `done` are the sections
/// already finished (names are unique: they name pin directories).
pub fn open(loc: &Loc, args: &[String], done: &[XdpSection]) -> Result<XdpDraft, String> {
    let name = match args {
        [n] => n,
        [] => return Err("'xdp' expects a section name".into()),
        [_, x, ..] => return Err(format!("'xdp' takes a name only; unexpected '{x}'")),
    };
    super::proxy::check_name("xdp section", name)?;
    if name == "." || name == ".." {
        return Err(format!("'{name}' cannot name an xdp section"));
    }
    if let Some(prev) = done.iter().find(|s| &s.cfg.name == name) {
        return Err(format!(
            "xdp section '{name}' is already declared at {}",
            prev.loc
        ));
    }
    Ok(XdpDraft {
        cfg: XdpConfig {
            name: name.clone(),
            ..XdpConfig::default()
        },
        loc: loc.clone(),
        seen: Vec::new(),
        pin_default: false,
        next_hop_set: false,
    })
}

/// Ends a section: the checks that need all of it, then the model's own
/// [`XdpConfig::validate`] (the one the loader runs too). `done` are the
/// sections finished before (an interface takes one XDP program).
pub fn close(mut d: XdpDraft, done: &[XdpSection]) -> Result<XdpSection, String> {
    let c = &mut d.cfg;
    if c.interfaces.is_empty() {
        return Err(format!(
            "xdp section '{}' has no 'interface': nothing to attach to",
            c.name
        ));
    }
    for prev in done {
        if let Some(i) = c
            .interfaces
            .iter()
            .find(|i| prev.cfg.interfaces.iter().any(|p| p.name == i.name))
        {
            return Err(format!(
                "interface '{}' is already used by xdp section '{}' (declared at {}): an interface runs one XDP program",
                i.name, prev.cfg.name, prev.loc
            ));
        }
    }
    if d.pin_default {
        c.pin = Some(PathBuf::from(DEFAULT_PIN_ROOT).join(&c.name));
    }
    if let Some(pin) = &c.pin {
        if let Some(prev) = done.iter().find(|p| p.cfg.pin.as_ref() == Some(pin)) {
            return Err(format!(
                "pin directory '{}' is already used by xdp section '{}'",
                pin.display(),
                prev.cfg.name
            ));
        }
    }
    if !c.vips.is_empty() && !d.next_hop_set {
        return Err(
            "'next-hop-mac' is required when the section has a 'vip': forwarded frames go to that MAC"
                .into(),
        );
    }
    if let Some(v) = c.vips.iter().find(|v| v.servers.is_empty()) {
        return Err(format!(
            "vip {} has no 'server' line below it",
            vip_label(v.addr, v.port, v.proto)
        ));
    }
    c.validate()?;
    Ok(XdpSection {
        loc: d.loc,
        cfg: d.cfg,
    })
}

fn vip_label(addr: IpAddr, port: u16, proto: Proto) -> String {
    let p = match proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    match (addr, port) {
        (a, 0) => format!("{a} (every port) proto {p}"),
        (IpAddr::V6(a), port) => format!("[{a}]:{port} proto {p}"),
        (a, port) => format!("{a}:{port} proto {p}"),
    }
}

const DOC: &str = "weir's own: docs/xdp.md";

const fn kw(name: &'static str, parse: super::ParseFn) -> Keyword {
    Keyword {
        name,
        sections: Sections::EXT,
        negatable: false,
        parse,
        doc: DOC,
    }
}

/// The keywords of an `xdp` section.
pub static KEYWORDS: &[Keyword] = &[
    kw("interface", kw_interface),
    kw("method", kw_method),
    kw("nat-source", kw_nat_source),
    kw("source-v4", kw_source_v4),
    kw("source-v6", kw_source_v6),
    kw("next-hop-mac", kw_next_hop_mac),
    kw("ring-size", kw_ring_size),
    kw("max-flows", kw_max_flows),
    kw("max-vips", kw_max_vips),
    kw("max-servers", kw_max_servers),
    kw("blocklist", kw_blocklist),
    kw("allowlist", kw_allowlist),
    kw("allowlist-only", kw_allowlist_only),
    kw("new-flow-rate", kw_new_flow_rate),
    kw("pin", kw_pin),
    kw("vip", kw_vip),
    // `server` is also a proxy keyword: the parser picks the table entry
    // allowed in the current section.
    kw("server", kw_server),
];

/// The draft of the current section, with the keyword marked as seen when
/// it may appear once.
fn draft<'c>(
    ctx: &'c mut Ctx<'_, '_>,
    once: Option<&'static str>,
) -> Result<&'c mut XdpDraft, String> {
    let line = ctx.loc.line;
    let d = ctx
        .xdp
        .as_deref_mut()
        .ok_or_else(|| "internal error: xdp keyword outside an xdp section".to_owned())?;
    if let Some(k) = once {
        if let Some((_, prev)) = d.seen.iter().find(|(s, _)| *s == k) {
            return Err(format!(
                "'{k}' is already set in this section (line {prev})"
            ));
        }
        d.seen.push((k, line));
    }
    Ok(d)
}

fn kw_interface(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    const USAGE: &str =
        "'interface' expects NAME [mode native|generic|auto] [fallback generic|refuse]";
    let Some(name) = a.first() else {
        return Err(USAGE.into());
    };
    // IFNAMSIZ is 16 with the terminating NUL.
    if name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
    {
        return Err(format!(
            "'{name}' is not a valid interface name (at most 15 bytes, no '/', ':' or spaces)"
        ));
    }
    let mut mode = None;
    let mut fallback = None;
    let mut rest = &a[1..];
    while let Some(k) = rest.first() {
        let v = rest
            .get(1)
            .ok_or_else(|| format!("'interface {name}': '{k}' expects a value; {USAGE}"))?;
        match k.as_str() {
            "mode" if mode.is_none() => {
                mode = Some(match v.as_str() {
                    "native" => AttachMode::Native,
                    "generic" => AttachMode::Generic,
                    "auto" => AttachMode::Auto,
                    x => return Err(format!("unknown XDP mode '{x}' (native, generic or auto)")),
                })
            }
            "fallback" if fallback.is_none() => {
                fallback = Some(match v.as_str() {
                    "generic" => Fallback::Generic,
                    "refuse" => Fallback::Refuse,
                    x => return Err(format!("unknown fallback '{x}' (generic or refuse)")),
                })
            }
            "mode" | "fallback" => return Err(format!("'interface {name}': '{k}' given twice")),
            x => {
                return Err(format!(
                    "'interface {name}': unknown argument '{x}'; {USAGE}"
                ))
            }
        }
        rest = &rest[2..];
    }
    let mode = mode.unwrap_or_default();
    let fallback = match (mode, fallback) {
        (AttachMode::Generic, Some(_)) => {
            return Err(format!(
                "'interface {name}': 'fallback' applies only when native mode is tried (mode auto or native)"
            ))
        }
        // `mode native` means native: falling back takes an explicit word.
        (AttachMode::Native, None) => Fallback::Refuse,
        (_, f) => f.unwrap_or_default(),
    };
    let d = draft(ctx, None)?;
    if d.cfg.interfaces.iter().any(|i| &i.name == name) {
        return Err(format!(
            "interface '{name}' is already listed in this section"
        ));
    }
    d.cfg.interfaces.push(InterfaceConfig {
        name: name.clone(),
        mode,
        fallback,
    });
    Ok(())
}

fn kw_method(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("method", a, 1, "'ipip' or 'fullnat'")?;
    let m = match a[0].as_str() {
        "ipip" => Method::Ipip,
        "fullnat" => Method::FullNat,
        x => return Err(format!("unknown forwarding method '{x}' (ipip or fullnat)")),
    };
    draft(ctx, Some("method"))?.cfg.method = m;
    Ok(())
}

fn addr(s: &str, what: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("'{what}' expects an IP address, got '{s}'"))
}

/// An address usable as a packet source: not unspecified, multicast or
/// broadcast.
fn source_addr(s: &str, what: &str) -> Result<IpAddr, String> {
    let a = addr(s, what)?;
    let bad =
        a.is_unspecified() || a.is_multicast() || matches!(a, IpAddr::V4(v) if v.is_broadcast());
    if bad {
        return Err(format!("'{what}' {a} cannot be the source of packets"));
    }
    Ok(a)
}

fn kw_nat_source(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("nat-source", a, 1, "an IPv4 or IPv6 address")?;
    let d = draft(ctx, None)?;
    match source_addr(&a[0], "nat-source")? {
        IpAddr::V4(v) => {
            if let Some(prev) = d.cfg.nat_source_v4 {
                return Err(format!(
                    "'nat-source' for IPv4 is already set ({prev}); one per family"
                ));
            }
            d.cfg.nat_source_v4 = Some(v);
        }
        IpAddr::V6(v) => {
            if let Some(prev) = d.cfg.nat_source_v6 {
                return Err(format!(
                    "'nat-source' for IPv6 is already set ({prev}); one per family"
                ));
            }
            d.cfg.nat_source_v6 = Some(v);
        }
    }
    Ok(())
}

fn kw_source_v4(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("source-v4", a, 1, "an IPv4 address")?;
    let IpAddr::V4(v) = source_addr(&a[0], "source-v4")? else {
        return Err(format!(
            "'source-v4' expects an IPv4 address, got '{}'",
            a[0]
        ));
    };
    draft(ctx, Some("source-v4"))?.cfg.source_v4 = Some(v);
    Ok(())
}

fn kw_source_v6(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("source-v6", a, 1, "an IPv6 address")?;
    let IpAddr::V6(v) = source_addr(&a[0], "source-v6")? else {
        return Err(format!(
            "'source-v6' expects an IPv6 address, got '{}'",
            a[0]
        ));
    };
    draft(ctx, Some("source-v6"))?.cfg.source_v6 = Some(v);
    Ok(())
}

/// `aa:bb:cc:dd:ee:ff` (or with `-`), a unicast, non-zero address.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad =
        || format!("'{s}' is not a MAC address (expected six hex bytes like 02:00:00:00:00:01)");
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *m = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac == [0; 6] {
        return Err(format!("'{s}': the all-zero MAC cannot be a next hop"));
    }
    if mac[0] & 1 == 1 {
        return Err(format!(
            "'{s}' is a multicast/broadcast MAC, not a next hop"
        ));
    }
    Ok(mac)
}

fn kw_next_hop_mac(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("next-hop-mac", a, 1, "a MAC address")?;
    let mac = parse_mac(&a[0])?;
    let d = draft(ctx, Some("next-hop-mac"))?;
    d.cfg.next_hop_mac = mac;
    d.next_hop_set = true;
    Ok(())
}

/// A positive map size.
fn size(kw: &str, a: &[String]) -> Result<u32, String> {
    expect_args(kw, a, 1, "a positive integer")?;
    let n: u32 = parse_uint(&a[0], kw)?;
    if n == 0 {
        return Err(format!("'{kw}' must be at least 1"));
    }
    Ok(n)
}

fn kw_ring_size(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let n = size("ring-size", a)?;
    // validate() says it again at the end of the section; here it is located.
    if !weir_core::maglev::is_prime(u64::from(n)) {
        return Err(format!(
            "ring-size {n} is not a prime (65537 is the usual choice)"
        ));
    }
    draft(ctx, Some("ring-size"))?.cfg.limits.ring_size = n;
    Ok(())
}

fn kw_max_flows(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let n = size("max-flows", a)?;
    draft(ctx, Some("max-flows"))?.cfg.limits.max_flows = n;
    Ok(())
}

fn kw_max_vips(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let n = size("max-vips", a)?;
    draft(ctx, Some("max-vips"))?.cfg.limits.max_vips = n;
    Ok(())
}

fn kw_max_servers(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let n = size("max-servers", a)?;
    draft(ctx, Some("max-servers"))?.cfg.limits.max_servers = n;
    Ok(())
}

/// The prefixes of a `blocklist`/`allowlist` line: CIDRs and `file@PATH`
/// entries, the files read now (as HAProxy reads `-f` pattern files) so
/// that `weir -c` checks them.
fn prefixes(kw: &str, a: &[String]) -> Result<Vec<Cidr>, String> {
    if a.is_empty() {
        return Err(format!("'{kw}' expects one or more CIDR or file@PATH"));
    }
    let mut out = Vec::new();
    for w in a {
        match w.strip_prefix("file@") {
            Some("") => return Err(format!("'{kw}': 'file@' needs a path")),
            Some(path) => out.extend(read_prefix_file(std::path::Path::new(path))?),
            None => out.push(w.parse::<Cidr>().map_err(|e| format!("'{kw}': {e}"))?),
        }
    }
    Ok(out)
}

fn kw_blocklist(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let p = prefixes("blocklist", a)?;
    draft(ctx, None)?.cfg.blocklist.extend(p);
    Ok(())
}

fn kw_allowlist(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let p = prefixes("allowlist", a)?;
    draft(ctx, None)?.cfg.allowlist.extend(p);
    Ok(())
}

fn kw_allowlist_only(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("allowlist-only", a, 0, "no argument")?;
    draft(ctx, Some("allowlist-only"))?.cfg.allowlist_only = true;
    Ok(())
}

fn kw_new_flow_rate(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    const USAGE: &str = "'new-flow-rate' expects N/s [burst M] per-source";
    let (rate, rest) = a.split_first().ok_or(USAGE)?;
    let n = rate.strip_suffix("/s").ok_or_else(|| {
        format!("'new-flow-rate': '{rate}' is not a rate (write it N/s); {USAGE}")
    })?;
    let per_sec: u32 = parse_uint(n, "new-flow-rate")?;
    if per_sec == 0 {
        return Err("'new-flow-rate' must be at least 1/s".into());
    }
    let (burst, rest) = match rest {
        [b, m, tail @ ..] if b == "burst" => {
            let m: u32 = parse_uint(m, "new-flow-rate burst")?;
            if m == 0 {
                return Err("'new-flow-rate': burst must be at least 1".into());
            }
            (m, tail)
        }
        [b] if b == "burst" => {
            return Err(format!(
                "'new-flow-rate': 'burst' expects a number; {USAGE}"
            ))
        }
        // One second's worth by default.
        _ => (per_sec, rest),
    };
    match rest {
        [s] if s == "per-source" => {}
        [] => {
            return Err(format!(
                "'new-flow-rate' must say its scope: 'per-source' (the only one); {USAGE}"
            ))
        }
        [x, ..] => return Err(format!("'new-flow-rate': unexpected '{x}'; {USAGE}")),
    }
    draft(ctx, Some("new-flow-rate"))?.cfg.new_flow_rate = Some(RateLimit { per_sec, burst });
    Ok(())
}

fn kw_pin(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let d = draft(ctx, Some("pin"))?;
    match a {
        [] => d.pin_default = true,
        [p] => {
            let path = PathBuf::from(p);
            if !path.is_absolute() {
                return Err(format!(
                    "'pin' expects an absolute path (on a bpffs), got '{p}'"
                ));
            }
            d.cfg.pin = Some(path);
        }
        [_, x, ..] => return Err(format!("'pin' takes at most one path; unexpected '{x}'")),
    }
    Ok(())
}

/// `ADDR`, `IPV4:PORT` or `[IPV6]:PORT`; no port is port 0 (every port).
fn parse_vip_addr(s: &str) -> Result<(IpAddr, u16), String> {
    let bad = || format!("'vip' expects ADDR, IPV4:PORT or [IPV6]:PORT, got '{s}'");
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok((a, 0));
    }
    let (a, p) = if let Some(r) = s.strip_prefix('[') {
        let (a, p) = r.split_once("]:").ok_or_else(bad)?;
        (
            a.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?.into(),
            p,
        )
    } else {
        let (a, p) = s.rsplit_once(':').ok_or_else(bad)?;
        (IpAddr::V4(a.parse().map_err(|_| bad())?), p)
    };
    let port: u16 = parse_uint(p, "vip port")?;
    if port == 0 {
        return Err(format!(
            "'vip {s}': port 0; leave the port out to take every port"
        ));
    }
    Ok((a, port))
}

fn kw_vip(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    const USAGE: &str = "'vip' expects ADDR[:PORT] proto tcp|udp [hash 5-tuple|source]";
    let Some(first) = a.first() else {
        return Err(USAGE.into());
    };
    let (addr, port) = parse_vip_addr(first)?;
    if addr.is_unspecified() || addr.is_multicast() {
        return Err(format!("'vip {first}': {addr} cannot be a VIP"));
    }
    let mut proto = None;
    let mut hash = None;
    let mut rest = &a[1..];
    while let Some(k) = rest.first() {
        let v = rest
            .get(1)
            .ok_or_else(|| format!("'vip {first}': '{k}' expects a value; {USAGE}"))?;
        match k.as_str() {
            "proto" if proto.is_none() => {
                proto = Some(match v.as_str() {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    x => {
                        return Err(format!(
                            "'vip {first}': unknown protocol '{x}' (tcp or udp)"
                        ))
                    }
                })
            }
            "hash" if hash.is_none() => {
                hash = Some(match v.as_str() {
                    "5-tuple" => VipHash::FiveTuple,
                    "source" => VipHash::Source,
                    x => {
                        return Err(format!(
                            "'vip {first}': unknown hash '{x}' (5-tuple or source)"
                        ))
                    }
                })
            }
            "proto" | "hash" => return Err(format!("'vip {first}': '{k}' given twice")),
            x => return Err(format!("'vip {first}': unknown argument '{x}'; {USAGE}")),
        }
        rest = &rest[2..];
    }
    let proto = proto.ok_or_else(|| format!("'vip {first}' needs 'proto tcp' or 'proto udp'"))?;
    let d = draft(ctx, None)?;
    if d.cfg
        .vips
        .iter()
        .any(|v| v.addr == addr && v.port == port && v.proto == proto)
    {
        return Err(format!(
            "vip {} is already declared in this section",
            vip_label(addr, port, proto)
        ));
    }
    d.cfg.vips.push(VipConfig {
        addr,
        port,
        proto,
        hash: hash.unwrap_or_default(),
        servers: Vec::new(),
    });
    Ok(())
}

fn kw_server(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    const USAGE: &str = "'server' expects NAME ADDR [weight N] [down]";
    let (name, addr_s) = match a {
        [n, ad, ..] => (n, ad),
        _ => return Err(USAGE.into()),
    };
    super::proxy::check_name("server", name)?;
    let addr = addr(addr_s, "server").map_err(|e| {
        if addr_s.contains(':') && addr_s.parse::<std::net::SocketAddr>().is_ok() {
            format!("{e}: an xdp server is an address only (packets keep the VIP's port)")
        } else {
            e
        }
    })?;
    if addr.is_unspecified() || addr.is_multicast() {
        return Err(format!(
            "server '{name}': {addr} cannot be a server address"
        ));
    }
    let mut weight = None;
    let mut down = false;
    let mut rest = &a[2..];
    while let Some(k) = rest.first() {
        match k.as_str() {
            "weight" if weight.is_none() => {
                let v = rest
                    .get(1)
                    .ok_or_else(|| format!("server '{name}': 'weight' expects a number"))?;
                let w: u32 = parse_uint(v, "weight")?;
                if w > MAX_WEIGHT {
                    return Err(format!("server '{name}': weight {w} is above {MAX_WEIGHT}"));
                }
                weight = Some(w);
                rest = &rest[2..];
            }
            "down" if !down => {
                down = true;
                rest = &rest[1..];
            }
            "weight" | "down" => return Err(format!("server '{name}': '{k}' given twice")),
            x => return Err(format!("server '{name}': unknown argument '{x}'; {USAGE}")),
        }
    }
    let d = draft(ctx, None)?;
    let Some(vip) = d.cfg.vips.last_mut() else {
        return Err(format!(
            "server '{name}' must follow a 'vip' line (it belongs to the vip above it)"
        ));
    };
    if vip.servers.iter().any(|s| &s.name == name) {
        return Err(format!(
            "server '{name}' is already declared for vip {}",
            vip_label(vip.addr, vip.port, vip.proto)
        ));
    }
    vip.servers.push(ServerConfig {
        name: name.clone(),
        addr,
        weight: weight.unwrap_or(1),
        down,
    });
    Ok(())
}

#[cfg(test)]
mod tests;
