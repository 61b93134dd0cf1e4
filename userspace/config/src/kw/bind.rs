//! The `bind` keyword (HAProxy configuration manual, section 4.2 "bind" for
//! the address forms and section 5.1 "Bind options" for the options).
//!
//! Address forms accepted, as HAProxy documents them: `ADDR:PORT`,
//! `ADDR:PORT1-PORT2` (one listener per port), comma-separated lists of
//! those, an empty address or `*` (all IPv4 addresses), `[IPv6]:PORT` and
//! the unbracketed `:::PORT` form (the last colon separates the port),
//! `ipv4@`/`ipv6@` prefixes forcing the family, and `fd@N` (an inherited
//! listening socket).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Ctx, Keyword, Sections};
use crate::types::*;
use crate::units::parse_uint;

/// `bind`.
pub static KEYWORDS: &[Keyword] = &[Keyword {
    name: "bind",
    sections: Sections::FE_NODEF,
    negatable: false,
    parse: kw_bind,
    doc: "4.2 bind, 5.1 bind options",
}];

/// Bind options that HAProxy has and weir does not support yet.
const UNSUPPORTED_BIND_OPTIONS: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "ca-file",
    "alpn",
    "npn",
    "verify",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ssl-min-ver",
    "ssl-max-ver",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-tlsv12",
    "strict-sni",
    "crl-file",
    "accept-proxy",
    "accept-netscaler-cip",
    "proto",
    "process",
    "thread",
    "allow-0rtt",
    "generate-certificates",
    "no-tls-tickets",
    "prefer-client-ciphers",
    "quic-cc-algo",
    "quic-force-retry",
    "mode",
    "uid",
    "gid",
    "user",
    "group",
    "level",
    "severity-output",
    "expose-fd",
    "id",
    "mss",
    "nice",
    "tcp-ut",
    "namespace",
    "gssapi",
    "ca-ignore-err",
    "crt-ignore-err",
    "ca-sign-file",
    "ca-sign-pass",
    "ecdh",
    "sigalgs",
    "client-sigalgs",
    "ssl-default-bind-options",
];

fn kw_bind(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some(spec) = a.first() else {
        return Err(
            "'bind' expects [address:]port[-port][,...] followed by optional options".into(),
        );
    };
    let addrs = parse_bind_spec(&ctx.env.expand_address(spec))?;
    let mut tmpl = Bind {
        loc: ctx.loc.clone(),
        spec: spec.clone(),
        addr: BindAddr::Fd(0),
        name: None,
        backlog: None,
        maxconn: None,
        v4v6: false,
        v6only: false,
        interface: None,
        transparent: false,
        defer_accept: false,
        tfo: false,
    };
    let mut i = 1;
    while i < a.len() {
        let opt = a[i].as_str();
        let val = || {
            a.get(i + 1)
                .cloned()
                .ok_or_else(|| format!("'bind' option '{opt}' expects an argument"))
        };
        let mut used = 1;
        match opt {
            "name" => {
                tmpl.name = Some(val()?);
                used = 2;
            }
            "backlog" => {
                let v: u32 = parse_uint(&val()?, "backlog")?;
                if v == 0 {
                    return Err("'bind' option 'backlog' must be greater than zero".into());
                }
                tmpl.backlog = Some(v);
                used = 2;
            }
            "maxconn" => {
                let v: u32 = parse_uint(&val()?, "maxconn")?;
                if v == 0 {
                    return Err("'bind' option 'maxconn' must be greater than zero".into());
                }
                tmpl.maxconn = Some(v);
                used = 2;
            }
            "interface" => {
                tmpl.interface = Some(val()?);
                used = 2;
            }
            "v4v6" => tmpl.v4v6 = true,
            "v6only" => tmpl.v6only = true,
            "transparent" => tmpl.transparent = true,
            "defer-accept" => tmpl.defer_accept = true,
            "tfo" => tmpl.tfo = true,
            o if UNSUPPORTED_BIND_OPTIONS.contains(&o) => {
                return Err(format!(
                    "unsupported 'bind' option '{o}' (not supported by weir yet)"
                ))
            }
            o => {
                let known = [
                    "name",
                    "backlog",
                    "maxconn",
                    "interface",
                    "v4v6",
                    "v6only",
                    "transparent",
                    "defer-accept",
                    "tfo",
                ];
                let hint = crate::suggest::closest(o, known.iter().copied())
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                return Err(format!("unknown 'bind' option '{o}'{hint}"));
            }
        }
        i += used;
    }
    if tmpl.v4v6 && tmpl.v6only {
        return Err("'bind' options 'v4v6' and 'v6only' are mutually exclusive".into());
    }
    let px = ctx.px()?;
    for addr in addrs {
        let mut b = tmpl.clone();
        b.addr = addr;
        px.binds.push(b);
    }
    Ok(())
}

/// Parses a bind address specification (comma list, ranges, prefixes) into
/// one address per listener.
pub fn parse_bind_spec(spec: &str) -> Result<Vec<BindAddr>, String> {
    let mut out = Vec::new();
    for item in spec.split(',') {
        parse_one(item, &mut out)?;
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    Any,
    V4,
    V6,
}

fn parse_one(item: &str, out: &mut Vec<BindAddr>) -> Result<(), String> {
    if let Some(fd) = item.strip_prefix("fd@") {
        let n: i32 = parse_uint(fd, "fd@")?;
        out.push(BindAddr::Fd(n));
        return Ok(());
    }
    let (family, rest) = if let Some(r) = item.strip_prefix("ipv4@") {
        (Family::V4, r)
    } else if let Some(r) = item.strip_prefix("ipv6@") {
        (Family::V6, r)
    } else if let Some((p, _)) = item.split_once('@') {
        return Err(match p {
            "unix" | "abns" | "sockpair" | "udp" | "udp4" | "udp6" | "quic4" | "quic6" | "tcp"
            | "tcp4" | "tcp6" | "uxst" | "uxdg" => {
                format!("address family '{p}@' in '{item}' is not supported by weir yet")
            }
            _ => format!("unknown address family '{p}@' in '{item}'"),
        });
    } else if item.starts_with('/') {
        return Err(format!(
            "UNIX socket path '{item}' as a listening address is not supported by weir yet"
        ));
    } else {
        (Family::Any, item)
    };
    let (host, ports) = split_host_port(rest)
        .ok_or_else(|| format!("missing port number in '{item}' (expected [address]:port)"))?;
    let ip: IpAddr = match host {
        "" | "*" => match family {
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        },
        "::" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        h => {
            let h6 = h.strip_prefix('[').and_then(|x| x.strip_suffix(']'));
            match h6 {
                Some(v6) => IpAddr::V6(
                    v6.parse()
                        .map_err(|_| format!("invalid IPv6 address '{v6}' in '{item}'"))?,
                ),
                None => h.parse::<IpAddr>().map_err(|_| {
                    if h.bytes().any(|c| c.is_ascii_alphabetic()) && !h.contains(':') {
                        format!("host names in bind addresses ('{h}') are not supported by weir yet; use an IP address")
                    } else {
                        format!("invalid address '{h}' in '{item}'")
                    }
                })?,
            }
        }
    };
    let ip = match (family, ip) {
        (Family::V4, IpAddr::V6(_)) => {
            return Err(format!("'ipv4@' used with an IPv6 address in '{item}'"))
        }
        (Family::V6, IpAddr::V4(v4)) if v4.is_unspecified() => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        (Family::V6, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (_, ip) => ip,
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse_port(a, item)?, parse_port(b, item)?),
        None => {
            let p = parse_port(ports, item)?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(format!(
            "invalid port range '{ports}' in '{item}': the first port must not exceed the second"
        ));
    }
    for p in lo..=hi {
        out.push(BindAddr::Inet(SocketAddr::new(ip, p)));
    }
    Ok(())
}

fn parse_port(s: &str, item: &str) -> Result<u16, String> {
    if s.is_empty() {
        return Err(format!("missing port number in '{item}'"));
    }
    let p: u32 = parse_uint(s, "port").map_err(|_| format!("invalid port '{s}' in '{item}'"))?;
    if p == 0 || p > 65535 {
        return Err(format!(
            "invalid port '{s}' in '{item}': must be between 1 and 65535"
        ));
    }
    Ok(p as u16)
}

/// Splits `host:port` where the last colon separates the port (HAProxy's
/// rule, which makes `:::80` the IPv6 wildcard on port 80); `[v6]:port`
/// keeps its brackets in the host part. `None` when there is no colon.
pub fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let rest = &s[end + 1..];
        let port = rest.strip_prefix(':')?;
        return Some((&s[..=end], port));
    }
    let i = s.rfind(':')?;
    Some((&s[..i], &s[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> SocketAddr {
        match parse_bind_spec(s).unwrap().as_slice() {
            [BindAddr::Inet(a)] => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(one(":80"), "0.0.0.0:80".parse().unwrap());
        assert_eq!(one("*:80"), "0.0.0.0:80".parse().unwrap());
        assert_eq!(one("127.0.0.1:8080"), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(one("[::]:80"), "[::]:80".parse().unwrap());
        assert_eq!(one(":::80"), "[::]:80".parse().unwrap());
        assert_eq!(one("[::1]:443"), "[::1]:443".parse().unwrap());
        assert_eq!(one("::1:443"), "[::1]:443".parse().unwrap());
        assert_eq!(one("ipv6@:80"), "[::]:80".parse().unwrap());
        assert_eq!(one("ipv4@0.0.0.0:80"), "0.0.0.0:80".parse().unwrap());
        assert_eq!(parse_bind_spec("fd@3").unwrap(), [BindAddr::Fd(3)]);
    }

    #[test]
    fn lists_and_ranges() {
        let v = parse_bind_spec(":8000-8002,[::]:9000").unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[2], BindAddr::Inet("0.0.0.0:8002".parse().unwrap()));
        assert_eq!(v[3], BindAddr::Inet("[::]:9000".parse().unwrap()));
    }

    #[test]
    fn bad() {
        for (s, frag) in [
            ("127.0.0.1", "missing port"),
            (":0", "between 1 and 65535"),
            (":65536", "between 1 and 65535"),
            (":80-70", "must not exceed"),
            (":x", "invalid port"),
            ("1.2.3.400:80", "invalid address"),
            ("ipv4@[::1]:80", "IPv6"),
            ("unix@/tmp/s", "not supported"),
            ("/tmp/s", "not supported"),
            ("foo@:80", "unknown address family"),
            ("fd@x", "unsigned integer"),
            ("localhost:80", "host names"),
            ("[::1:80", "missing port"),
            (":", "missing port"),
        ] {
            let e = parse_bind_spec(s).unwrap_err();
            assert!(e.contains(frag), "{s}: {e}");
        }
    }
}
