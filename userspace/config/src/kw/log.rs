//! The `log` keyword, in `global` and in proxies (HAProxy configuration
//! manual, section 3.1 "log" and section 4.2 "log"), and `no log`.
//!
//! `log <target> [len <length>] [format <format>] [sample <ranges>:<size>]
//! <facility> [<level> [<minlevel>]]`, or `log global` in a proxy.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::{Ctx, Keyword, Sections};
use crate::error::SectionKind;
use crate::types::*;
use crate::units::parse_uint;

/// `log`.
pub static KEYWORDS: &[Keyword] = &[Keyword {
    name: "log",
    sections: Sections(Sections::GLOBAL.0 | Sections::PROXIES.0),
    negatable: true,
    parse: kw_log,
    doc: "3.1 log, 4.2 log",
}];

const FACILITIES: [(&str, Facility); 24] = [
    ("kern", Facility::Kern),
    ("user", Facility::User),
    ("mail", Facility::Mail),
    ("daemon", Facility::Daemon),
    ("auth", Facility::Auth),
    ("syslog", Facility::Syslog),
    ("lpr", Facility::Lpr),
    ("news", Facility::News),
    ("uucp", Facility::Uucp),
    ("cron", Facility::Cron),
    ("auth2", Facility::Auth2),
    ("ftp", Facility::Ftp),
    ("ntp", Facility::Ntp),
    ("audit", Facility::Audit),
    ("alert", Facility::Alert),
    ("cron2", Facility::Cron2),
    ("local0", Facility::Local0),
    ("local1", Facility::Local1),
    ("local2", Facility::Local2),
    ("local3", Facility::Local3),
    ("local4", Facility::Local4),
    ("local5", Facility::Local5),
    ("local6", Facility::Local6),
    ("local7", Facility::Local7),
];

const LEVELS: [(&str, Level); 8] = [
    ("emerg", Level::Emerg),
    ("alert", Level::Alert),
    ("crit", Level::Crit),
    ("err", Level::Err),
    ("warning", Level::Warning),
    ("notice", Level::Notice),
    ("info", Level::Info),
    ("debug", Level::Debug),
];

fn kw_log(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let in_global = ctx.section.kind == SectionKind::Global;
    if ctx.negated {
        if in_global {
            return Err("'no log' is only allowed in proxy sections".into());
        }
        if !a.is_empty() {
            return Err("'no log' takes no argument".into());
        }
        ctx.px()?.logs.clear();
        return Ok(());
    }
    let Some(first) = a.first() else {
        return Err("'log' expects <address> [len <length>] [format <format>] <facility> [<level> [<minlevel>]], or 'global'".into());
    };
    if first == "global" {
        if in_global {
            return Err("'log global' is only allowed in proxy sections".into());
        }
        if a.len() > 1 {
            return Err(format!(
                "'log global' takes no more arguments, got '{}'",
                a[1]
            ));
        }
        let loc = ctx.loc.clone();
        ctx.px()?.logs.push(LogTarget::Global(loc));
        return Ok(());
    }
    // The target is an address: variables in it are expanded (HAProxy's
    // address parser does so even outside quotes).
    let mut words = a.to_vec();
    words[0] = ctx.env.expand_address(first);
    let spec = parse_log_spec(ctx.loc, &words)?;
    let t = LogTarget::Target(spec);
    if in_global {
        ctx.global.logs.push(t);
    } else {
        ctx.px()?.logs.push(t);
    }
    Ok(())
}

/// Parses the words of a `log` line (not `global`).
pub fn parse_log_spec(loc: &Loc, a: &[String]) -> Result<LogSpec, String> {
    let first = a.first().ok_or("'log' expects an address")?;
    let addr = parse_log_addr(first)?;
    let mut len = None;
    let mut format = LogFormat::Rfc3164;
    let mut i = 1;
    loop {
        match a.get(i).map(String::as_str) {
            Some("len") => {
                let v = a.get(i + 1).ok_or("'log len' expects a length")?;
                let n: u32 = parse_uint(v, "log len")?;
                if !(80..=65535).contains(&n) {
                    return Err(format!("'log len' must be between 80 and 65535, got {n}"));
                }
                len = Some(n);
                i += 2;
            }
            Some("format") => {
                let v = a.get(i + 1).ok_or("'log format' expects a format name")?;
                format = match v.as_str() {
                    "rfc3164" => LogFormat::Rfc3164,
                    "rfc5424" => LogFormat::Rfc5424,
                    "short" => LogFormat::Short,
                    "timed" => LogFormat::Timed,
                    "iso" => LogFormat::Iso,
                    "priority" => LogFormat::Priority,
                    "raw" => LogFormat::Raw,
                    "local" => LogFormat::Local,
                    other => return Err(format!("unknown log format '{other}'")),
                };
                i += 2;
            }
            Some("sample") => {
                return Err("'log … sample' is not supported by weir yet".into());
            }
            _ => break,
        }
    }
    let fac = a
        .get(i)
        .ok_or("'log' expects a facility (for example local0) after the address")?;
    let facility = FACILITIES
        .iter()
        .find(|(n, _)| n == fac)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            let hint = crate::suggest::closest(fac, FACILITIES.iter().map(|(n, _)| *n))
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            format!("unknown log facility '{fac}'{hint}")
        })?;
    let level = |w: &str| {
        LEVELS
            .iter()
            .find(|(n, _)| *n == w)
            .map(|(_, l)| *l)
            .ok_or_else(|| format!("unknown log level '{w}' (emerg, alert, crit, err, warning, notice, info, debug)"))
    };
    let max_level = a.get(i + 1).map(|w| level(w)).transpose()?;
    let min_level = a.get(i + 2).map(|w| level(w)).transpose()?;
    if let Some(extra) = a.get(i + 3) {
        return Err(format!("'log': unexpected extra argument '{extra}'"));
    }
    Ok(LogSpec {
        loc: loc.clone(),
        addr,
        len,
        format,
        facility,
        max_level,
        min_level,
    })
}

fn parse_log_addr(s: &str) -> Result<LogAddr, String> {
    match s {
        "stdout" => return Ok(LogAddr::Stdout),
        "stderr" => return Ok(LogAddr::Stderr),
        _ => {}
    }
    if let Some(fd) = s.strip_prefix("fd@") {
        return Ok(LogAddr::Fd(parse_uint(fd, "fd@")?));
    }
    if let Some(p) = s.strip_prefix("unix@") {
        return Ok(LogAddr::Unix(PathBuf::from(p)));
    }
    if s.starts_with('/') {
        return Ok(LogAddr::Unix(PathBuf::from(s)));
    }
    let rest = if let Some(r) = s
        .strip_prefix("udp@")
        .or_else(|| s.strip_prefix("udp4@"))
        .or_else(|| s.strip_prefix("udp6@"))
        .or_else(|| s.strip_prefix("ipv4@"))
        .or_else(|| s.strip_prefix("ipv6@"))
    {
        r
    } else if let Some((p, _)) = s.split_once('@') {
        return Err(format!(
            "log target family '{p}@' is not supported by weir yet (use a UDP address, a UNIX socket, stdout or stderr)"
        ));
    } else {
        s
    };
    if rest.is_empty() {
        return Err("'log' expects an address".into());
    }
    // A bare IPv6 address without port, or IPv4/host with optional port.
    if let Ok(ip) = rest.parse::<IpAddr>() {
        return Ok(LogAddr::Udp(SocketAddr::new(ip, 514)));
    }
    let (host, port) = match super::bind::split_host_port(rest) {
        Some((h, p)) => {
            let port = if p.is_empty() {
                514
            } else {
                let v: u32 = parse_uint(p, "log port")?;
                if v == 0 || v > 65535 {
                    return Err(format!("invalid port '{p}' in log address '{s}'"));
                }
                v as u16
            };
            (h, port)
        }
        None => (rest, 514),
    };
    let host_unbr = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = host_unbr.parse::<IpAddr>() {
        return Ok(LogAddr::Udp(SocketAddr::new(ip, port)));
    }
    if host.is_empty()
        || !host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_')
    {
        return Err(format!("invalid log address '{s}'"));
    }
    Ok(LogAddr::UdpHost(host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn spec(line: &str) -> Result<LogSpec, String> {
        let loc = Loc {
            file: Arc::from("t"),
            line: 1,
        };
        let w: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_log_spec(&loc, &w)
    }

    #[test]
    fn good() {
        let s = spec("127.0.0.1 local0").unwrap();
        assert_eq!(s.addr, LogAddr::Udp("127.0.0.1:514".parse().unwrap()));
        assert_eq!(s.facility, Facility::Local0);
        let s = spec("127.0.0.1:1514 len 4096 format rfc5424 local2 info notice").unwrap();
        assert_eq!(s.addr, LogAddr::Udp("127.0.0.1:1514".parse().unwrap()));
        assert_eq!((s.len, s.format), (Some(4096), LogFormat::Rfc5424));
        assert_eq!(
            (s.max_level, s.min_level),
            (Some(Level::Info), Some(Level::Notice))
        );
        assert_eq!(
            spec("/dev/log local0").unwrap().addr,
            LogAddr::Unix("/dev/log".into())
        );
        assert_eq!(
            spec("stdout format raw local0").unwrap().addr,
            LogAddr::Stdout
        );
        assert_eq!(
            spec("::1 daemon").unwrap().addr,
            LogAddr::Udp("[::1]:514".parse().unwrap())
        );
        assert_eq!(
            spec("logs.example.com:601 user").unwrap().addr,
            LogAddr::UdpHost("logs.example.com".into(), 601)
        );
        assert_eq!(
            spec("rsyslog local1").unwrap().addr,
            LogAddr::UdpHost("rsyslog".into(), 514)
        );
    }

    #[test]
    fn bad() {
        for (l, frag) in [
            ("127.0.0.1", "facility"),
            (
                "127.0.0.1 local9",
                "unknown log facility 'local9'; did you mean",
            ),
            ("127.0.0.1 local0 loud", "unknown log level"),
            ("127.0.0.1 len 10 local0", "between 80 and 65535"),
            ("127.0.0.1 format json local0", "unknown log format"),
            ("127.0.0.1:99999 local0", "invalid port"),
            ("ring@buf local0", "not supported"),
            ("127.0.0.1 local0 info info info", "extra argument"),
            ("", "expects an address"),
        ] {
            let e = spec(l).unwrap_err();
            assert!(e.contains(frag), "{l}: {e}");
        }
    }
}
