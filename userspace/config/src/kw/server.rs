//! `server` and `default-server` (HAProxy configuration manual, section 4.2
//! "server" / "default-server" and section 5.2 "Server and default-server
//! options").
//!
//! A `default-server` line changes the defaults for the `server` lines that
//! follow it in the same section (and, in a `defaults` section, for the
//! proxies that inherit it). A server's port may be omitted (the port the
//! client connected to is used) or written `+N`/`-N` (an offset to it), as
//! HAProxy documents; [`ServerPort`] keeps the distinction.

use std::net::IpAddr;

use super::{Ctx, Keyword, Sections};
use crate::types::*;
use crate::units::{parse_time, parse_uint};

/// `server`, `default-server`.
pub static KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "server",
        sections: Sections::BE_NODEF,
        negatable: false,
        parse: kw_server,
        doc: "4.2 server, 5.2 server options",
    },
    Keyword {
        name: "default-server",
        sections: Sections::BE,
        negatable: false,
        parse: kw_default_server,
        doc: "4.2 default-server, 5.2 server options",
    },
];

/// Highest server weight (HAProxy: 0 to 256).
pub const MAX_WEIGHT: u32 = 256;

/// Server options HAProxy has and weir does not support yet.
const UNSUPPORTED: &[&str] = &[
    "ssl",
    "verify",
    "verifyhost",
    "sni",
    "ca-file",
    "crt",
    "crl-file",
    "alpn",
    "npn",
    "ciphers",
    "ciphersuites",
    "check-ssl",
    "check-sni",
    "check-alpn",
    "check-proto",
    "check-send-proxy",
    "check-via-socks4",
    "no-ssl-reuse",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-tlsv12",
    "ssl-min-ver",
    "ssl-max-ver",
    "ssl-reuse",
    "allow-0rtt",
    "cookie",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "proxy-v2-options",
    "resolvers",
    "resolve-prefer",
    "resolve-net",
    "resolve-opts",
    "init-addr",
    "agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
    "observe",
    "error-limit",
    "on-error",
    "redir",
    "track",
    "source",
    "usesrc",
    "namespace",
    "proto",
    "pool-max-conn",
    "pool-purge-delay",
    "pool-low-conn",
    "tfo",
    "max-reuse",
    "socks4",
    "ws",
    "id",
    "tcp-ut",
    "log-proto",
    "check-pool-conn-name",
    "set-proxy-v2-tlv-fmt",
    "shard",
    "hash-key",
    "guid",
    "pool-conn-name",
    "sni-auto",
    "no-check-ssl",
    "no-send-proxy",
    "no-ssl",
    "no-tls-tickets",
    "tls-tickets",
    "no-verifyhost",
    "check-reuse-pool",
    "stick",
    "non-stick",
    "persist",
    "no-agent-check",
    "maxconnrate",
];

/// Options taking no value, and options taking one.
const FLAGS: &[&str] = &[
    "backup",
    "no-backup",
    "disabled",
    "enabled",
    "check",
    "no-check",
];
const VALUED: &[&str] = &[
    "weight",
    "maxconn",
    "minconn",
    "maxqueue",
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "port",
    "addr",
    "slowstart",
    "on-marked-down",
    "on-marked-up",
];

/// Whether `w` is a server option (for a helpful error when one is written
/// as a line of its own).
pub fn is_server_option(w: &str) -> bool {
    FLAGS.contains(&w) || VALUED.contains(&w) || UNSUPPORTED.contains(&w)
}

fn kw_server(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let (Some(name), Some(addr)) = (a.first(), a.get(1)) else {
        return Err("'server' expects <name> and <address>[:<port>] as arguments".into());
    };
    super::proxy::check_name("server", name)?;
    let addr = parse_server_addr(&ctx.env.expand_address(addr))?;
    let loc = ctx.loc.clone();
    let px = ctx.px()?;
    if let Some(prev) = px.servers.iter().find(|s| &s.name == name) {
        return Err(format!(
            "server '{name}' is already defined in this section (at {})",
            prev.loc
        ));
    }
    let mut d = px.default_server.clone();
    apply_options(&mut d, &a[2..], false)?;
    if d.check_enabled && d.check.port.is_none() && !matches!(addr.port, ServerPort::Fixed(_)) {
        // HAProxy refuses this too: a health check needs a port to probe.
        return Err(format!(
            "server '{name}' has neither a service port nor a check port: health checks need one (write '<address>:<port>' or add 'port <n>')"
        ));
    }
    px.servers.push(Server {
        name: name.clone(),
        loc,
        addr,
        weight: d.weight,
        maxconn: d.maxconn,
        minconn: d.minconn,
        maxqueue: d.maxqueue,
        backup: d.backup,
        disabled: d.disabled,
        check: d.check_enabled.then(|| d.check.clone()),
        slowstart: d.slowstart,
        shutdown_on_down: d.shutdown_on_down,
        shutdown_backup_on_up: d.shutdown_backup_on_up,
    });
    Ok(())
}

fn kw_default_server(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    // HAProxy accepts a `default-server` line without options (it changes nothing).
    let px = ctx.px()?;
    let mut d = px.default_server.clone();
    apply_options(&mut d, a, true)?;
    px.default_server = d;
    Ok(())
}

/// Applies `server`/`default-server` options to `d`.
pub fn apply_options(d: &mut ServerDefaults, a: &[String], is_default: bool) -> Result<(), String> {
    let who = if is_default {
        "default-server"
    } else {
        "server"
    };
    let mut i = 0;
    while i < a.len() {
        let opt = a[i].as_str();
        if FLAGS.contains(&opt) {
            match opt {
                "backup" => d.backup = true,
                "no-backup" => d.backup = false,
                "disabled" => d.disabled = true,
                "enabled" => d.disabled = false,
                "check" => d.check_enabled = true,
                _ => d.check_enabled = false,
            }
            i += 1;
            continue;
        }
        if VALUED.contains(&opt) {
            let v = a
                .get(i + 1)
                .ok_or_else(|| format!("'{who}' option '{opt}' expects an argument"))?;
            set_valued(d, opt, v)?;
            i += 2;
            continue;
        }
        if UNSUPPORTED.contains(&opt) {
            return Err(format!(
                "unsupported '{who}' option '{opt}' (not supported by weir yet)"
            ));
        }
        let hint = crate::suggest::closest(opt, FLAGS.iter().chain(VALUED).copied())
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        return Err(format!("unknown '{who}' option '{opt}'{hint}"));
    }
    Ok(())
}

fn positive(v: &str, what: &str) -> Result<u32, String> {
    let n: u32 = parse_uint(v, what)?;
    if n == 0 {
        return Err(format!("'{what}' must be greater than zero"));
    }
    Ok(n)
}

fn nonzero_time(v: &str, what: &str) -> Result<std::time::Duration, String> {
    let t = parse_time(v).map_err(|e| format!("'{what}': {e}"))?;
    if t.is_zero() {
        return Err(format!("'{what}' must be greater than zero"));
    }
    Ok(t)
}

fn set_valued(d: &mut ServerDefaults, opt: &str, v: &str) -> Result<(), String> {
    match opt {
        "weight" => {
            let w: u32 = parse_uint(v, "weight")?;
            if w > MAX_WEIGHT {
                return Err(format!(
                    "weight {w} is out of range: must be between 0 and {MAX_WEIGHT}"
                ));
            }
            d.weight = w;
        }
        "maxconn" => d.maxconn = Some(parse_uint(v, "maxconn")?),
        "minconn" => d.minconn = Some(parse_uint(v, "minconn")?),
        "maxqueue" => d.maxqueue = Some(parse_uint(v, "maxqueue")?),
        "inter" => d.check.inter = nonzero_time(v, "inter")?,
        "fastinter" => d.check.fastinter = Some(nonzero_time(v, "fastinter")?),
        "downinter" => d.check.downinter = Some(nonzero_time(v, "downinter")?),
        "rise" => d.check.rise = positive(v, "rise")?,
        "fall" => d.check.fall = positive(v, "fall")?,
        "port" => {
            let p: u32 = parse_uint(v, "port")?;
            if p > 65535 {
                return Err(format!("invalid check port '{v}': must not exceed 65535"));
            }
            // HAProxy: port 0 means the server's own port.
            d.check.port = (p != 0).then_some(p as u16);
        }
        "addr" => {
            d.check.addr =
                Some(v.parse::<IpAddr>().map_err(|_| {
                    format!("invalid check address '{v}' (an IP address is expected)")
                })?);
        }
        "slowstart" => d.slowstart = Some(parse_time(v).map_err(|e| format!("'slowstart': {e}"))?),
        "on-marked-down" => {
            if v != "shutdown-sessions" {
                return Err(format!(
                    "'on-marked-down' expects 'shutdown-sessions', got '{v}'"
                ));
            }
            d.shutdown_on_down = true;
        }
        "on-marked-up" => {
            if v != "shutdown-backup-sessions" {
                return Err(format!(
                    "'on-marked-up' expects 'shutdown-backup-sessions', got '{v}'"
                ));
            }
            d.shutdown_backup_on_up = true;
        }
        _ => return Err(format!("internal error: unhandled server option '{opt}'")),
    }
    Ok(())
}

/// Parses a server address: `IPv4[:PORT]`, `[IPv6][:PORT]`, `IPv6` with the
/// port after the last colon, `host[:PORT]`, `ipv4@`/`ipv6@` prefixes, and
/// `+N`/`-N` port offsets.
pub fn parse_server_addr(s: &str) -> Result<ServerAddr, String> {
    let (fam, rest) = if let Some(r) = s.strip_prefix("ipv4@") {
        (Some(4), r)
    } else if let Some(r) = s.strip_prefix("ipv6@") {
        (Some(6), r)
    } else if let Some((p, _)) = s.split_once('@') {
        return Err(format!(
            "server address family '{p}@' is not supported by weir yet"
        ));
    } else if s.starts_with('/') {
        return Err(format!(
            "UNIX socket server address '{s}' is not supported by weir yet"
        ));
    } else {
        (None, s)
    };
    if rest.is_empty() {
        return Err("empty server address".into());
    }
    // A whole IPv6 address without port (e.g. `::1`, `fe80::2`).
    // HAProxy reads the part after the last colon as the port, so `::1`
    // is host `:` and port 1, which it rejects; say how to write it.
    let whole_v6 = rest.parse::<std::net::Ipv6Addr>().is_ok();
    let (host, port) = match super::bind::split_host_port(rest) {
        Some((h, _)) if whole_v6 && h.parse::<std::net::Ipv6Addr>().is_err() => {
            return Err(format!(
                "ambiguous server address '{s}': the part after the last colon is the port; write '[{rest}]' or '[{rest}]:<port>'"
            ))
        }
        Some((h, p)) => (parse_host(h, s)?, parse_port(p, s)?),
        None => (parse_host(rest, s)?, ServerPort::SameAsClient),
    };
    match (fam, &host) {
        (Some(4), ServerHost::Ip(IpAddr::V6(_))) | (Some(6), ServerHost::Ip(IpAddr::V4(_))) => {
            return Err(format!(
                "address family prefix does not match the address in '{s}'"
            ))
        }
        _ => {}
    }
    Ok(ServerAddr { host, port })
}

fn parse_host(h: &str, whole: &str) -> Result<ServerHost, String> {
    let unbr = h.strip_prefix('[').and_then(|x| x.strip_suffix(']'));
    if let Some(v6) = unbr {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .map(|a| ServerHost::Ip(IpAddr::V6(a)))
            .map_err(|_| format!("invalid IPv6 address '{v6}' in '{whole}'"));
    }
    if h.is_empty() || h == "*" {
        return Err(format!("missing server address in '{whole}'"));
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(ServerHost::Ip(ip));
    }
    let looks_numeric = h.bytes().all(|c| c.is_ascii_digit() || c == b'.');
    let valid_name = h
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if looks_numeric || !valid_name {
        return Err(format!("invalid server address '{h}' in '{whole}'"));
    }
    Ok(ServerHost::Name(h.to_owned()))
}

fn parse_port(p: &str, whole: &str) -> Result<ServerPort, String> {
    if p.is_empty() {
        return Ok(ServerPort::SameAsClient);
    }
    if let Some(off) = p.strip_prefix('+').or_else(|| p.strip_prefix('-')) {
        let v: u32 = parse_uint(off, "port offset")?;
        if v > 65535 {
            return Err(format!("port offset '{p}' is out of range in '{whole}'"));
        }
        let v = v as i32;
        return Ok(ServerPort::Offset(if p.starts_with('-') { -v } else { v }));
    }
    if p.contains('-') {
        return Err(format!(
            "port ranges are not allowed in server address '{whole}'"
        ));
    }
    let v: u32 = parse_uint(p, "port").map_err(|_| format!("invalid port '{p}' in '{whole}'"))?;
    if v == 0 {
        // HAProxy stores an absent port as 0: `:0` means the same.
        return Ok(ServerPort::SameAsClient);
    }
    if v > 65535 {
        return Err(format!(
            "invalid port '{p}' in '{whole}': must not exceed 65535"
        ));
    }
    Ok(ServerPort::Fixed(v as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = parse_server_addr("10.0.0.1:80").unwrap();
        assert_eq!(a.socket_addr(), Some("10.0.0.1:80".parse().unwrap()));
        let a = parse_server_addr("10.0.0.1").unwrap();
        assert_eq!(a.port, ServerPort::SameAsClient);
        let a = parse_server_addr("10.0.0.1:").unwrap();
        assert_eq!(a.port, ServerPort::SameAsClient);
        let a = parse_server_addr("10.0.0.1:0").unwrap();
        assert_eq!(a.port, ServerPort::SameAsClient);
        assert_eq!(
            parse_server_addr("10.0.0.1:+1000").unwrap().port,
            ServerPort::Offset(1000)
        );
        assert_eq!(
            parse_server_addr("10.0.0.1:-10").unwrap().port,
            ServerPort::Offset(-10)
        );
        let a = parse_server_addr("[::1]:8080").unwrap();
        assert_eq!(a.socket_addr(), Some("[::1]:8080".parse().unwrap()));
        assert!(parse_server_addr("::1")
            .unwrap_err()
            .contains("write '[::1]'"));
        let a = parse_server_addr("[::1]").unwrap();
        assert_eq!(a.host, ServerHost::Ip("::1".parse().unwrap()));
        assert_eq!(a.port, ServerPort::SameAsClient);
        // As in HAProxy, the last colon separates the port.
        let a = parse_server_addr("fe80::1:80").unwrap();
        assert_eq!(a.socket_addr(), Some("[fe80::1]:80".parse().unwrap()));
        let a = parse_server_addr("app-1.internal:8080").unwrap();
        assert_eq!(a.host, ServerHost::Name("app-1.internal".into()));
        assert_eq!(a.port, ServerPort::Fixed(8080));
        assert!(parse_server_addr("ipv6@127.0.0.1:80").is_err());
        for bad in [
            "",
            ":80",
            "1.2.3.4:70000",
            "1.2.3.4:80-90",
            "a b:80",
            "unix@/x",
            "/x",
            "999.1.1.1:80",
            "[::zz]:80",
        ] {
            assert!(parse_server_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options() {
        let mut d = ServerDefaults::default();
        let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        apply_options(
            &mut d,
            &w("weight 10 maxconn 100 check inter 3s rise 5 fall 4 port 9000 backup"),
            false,
        )
        .unwrap();
        assert_eq!(d.weight, 10);
        assert_eq!(d.maxconn, Some(100));
        assert!(d.check_enabled && d.backup);
        assert_eq!(d.check.inter, std::time::Duration::from_secs(3));
        assert_eq!(
            (d.check.rise, d.check.fall, d.check.port),
            (5, 4, Some(9000))
        );
        for (bad, frag) in [
            ("weight 257", "out of range"),
            ("weight -1", "unsigned integer"),
            ("rise 0", "greater than zero"),
            ("inter 0", "greater than zero"),
            ("inter", "expects an argument"),
            ("ssl", "not supported by weir yet"),
            ("chek", "did you mean 'check'"),
            ("port 65536", "must not exceed 65535"),
        ] {
            let e = apply_options(&mut d, &w(bad), false).unwrap_err();
            assert!(e.contains(frag), "{bad}: {e}");
        }
    }
}
