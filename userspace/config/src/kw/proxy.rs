//! Proxy keywords (HAProxy configuration manual, section 4 "Proxies", 4.2
//! "Alphabetically sorted keywords reference"): `mode`, `maxconn`,
//! `timeout`, `default_backend`, `use_backend`, `balance`, `hash-type`,
//! `retries`, `fullconn`, `disabled`/`enabled`, and the `option` names of
//! [`OPTIONS`].

use super::{expect_args, Ctx, Keyword, OptionKw, ProxyDraft, Sections};
use crate::types::*;
use crate::units::{parse_time, parse_uint};

/// The proxy keywords weir supports.
pub static KEYWORDS: &[Keyword] = &[
    kw("mode", Sections::PROXIES, kw_mode, "4.2 mode"),
    kw(
        "maxconn",
        Sections(Sections::GLOBAL.0 | Sections::PROXIES.0),
        kw_maxconn,
        "3.2 maxconn, 4.2 maxconn",
    ),
    kw("timeout", Sections::PROXIES, kw_timeout, "4.2 timeout *"),
    kw(
        "default_backend",
        Sections::FE,
        kw_default_backend,
        "4.2 default_backend",
    ),
    kw(
        "use_backend",
        Sections::FE_NODEF,
        kw_use_backend,
        "4.2 use_backend",
    ),
    kw("balance", Sections::BE, kw_balance, "4.2 balance"),
    kw("hash-type", Sections::BE, kw_hash_type, "4.2 hash-type"),
    kw("retries", Sections::BE, kw_retries, "4.2 retries"),
    kw("fullconn", Sections::BE, kw_fullconn, "4.2 fullconn"),
    kw("disabled", Sections::PROXIES, kw_disabled, "4.2 disabled"),
    kw("enabled", Sections::PROXIES, kw_enabled, "4.2 enabled"),
    kw(
        "bind-process",
        Sections::PROXIES,
        kw_bind_process,
        "4.2 bind-process",
    ),
    Keyword {
        name: "option",
        sections: Sections::PROXIES,
        negatable: true,
        parse: kw_option,
        doc: "4.2 option *",
    },
];

const fn kw(
    name: &'static str,
    sections: Sections,
    parse: super::ParseFn,
    doc: &'static str,
) -> Keyword {
    Keyword {
        name,
        sections,
        negatable: false,
        parse,
        doc,
    }
}

fn kw_mode(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("mode", a, 1, "'tcp' or 'http' as argument")?;
    let m = match a[0].as_str() {
        "tcp" => Mode::Tcp,
        "http" => Mode::Http,
        "health" => {
            return Err("'mode health' was removed in HAProxy 2.4; use 'monitor-uri' or a 'http-request return' rule".into())
        }
        other => return Err(format!("unknown proxy mode '{other}'; expected 'tcp' or 'http'")),
    };
    ctx.px()?.mode = m;
    Ok(())
}

fn kw_maxconn(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("maxconn", a, 1, "<number> as argument")?;
    let v: u32 = parse_uint(&a[0], "maxconn")?;
    if v == 0 || v > i32::MAX as u32 {
        return Err(format!(
            "'maxconn' must be between 1 and 2147483647, got {v}"
        ));
    }
    if ctx.section.kind == crate::error::SectionKind::Global {
        ctx.global.maxconn = Some(v);
    } else {
        ctx.warn_cap("maxconn", Sections::FE);
        ctx.px()?.maxconn = Some(v);
    }
    Ok(())
}

/// Timeout kinds: name, field, which side uses it (for HAProxy's warning).
type TimeoutField = fn(&mut Timeouts) -> &mut Option<std::time::Duration>;
const TIMEOUTS: &[(&str, TimeoutField, Sections)] = &[
    ("client", |t| &mut t.client, Sections::FE),
    ("server", |t| &mut t.server, Sections::BE),
    ("connect", |t| &mut t.connect, Sections::BE),
    ("queue", |t| &mut t.queue, Sections::BE),
    ("tunnel", |t| &mut t.tunnel, Sections::BE),
    ("client-fin", |t| &mut t.client_fin, Sections::FE),
    ("server-fin", |t| &mut t.server_fin, Sections::BE),
    ("http-request", |t| &mut t.http_request, Sections::PROXIES),
    (
        "http-keep-alive",
        |t| &mut t.http_keep_alive,
        Sections::PROXIES,
    ),
    ("check", |t| &mut t.check, Sections::BE),
    ("tarpit", |t| &mut t.tarpit, Sections::PROXIES),
];

fn kw_timeout(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some(kind) = a.first() else {
        return Err(
            "'timeout' expects a kind ('client', 'server', 'connect', …) and a time".into(),
        );
    };
    let Some((name, field, side)) = TIMEOUTS.iter().find(|(n, _, _)| n == kind) else {
        let removed = match kind.as_str() {
            "clitimeout" | "srvtimeout" | "contimeout" => Some("its modern form"),
            "appsession" => Some("stick tables"),
            _ => None,
        };
        if let Some(r) = removed {
            return Err(format!(
                "'timeout {kind}' was removed in HAProxy 2.x; use {r}"
            ));
        }
        if kind == "resolve" || kind == "retry" {
            return Err(format!("'timeout {kind}' belongs to a 'resolvers' section"));
        }
        let hint = crate::suggest::closest(kind, TIMEOUTS.iter().map(|(n, _, _)| *n))
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        return Err(format!("unknown timeout '{kind}'{hint}"));
    };
    expect_args(&format!("timeout {name}"), &a[1..], 1, "<time> as argument")?;
    let t = parse_time(&a[1]).map_err(|e| format!("'timeout {name}': {e}"))?;
    ctx.warn_cap(&format!("timeout {name}"), *side);
    // HAProxy stores timeouts as ticks where 0 means "eternity": a zero
    // timeout is the same as none.
    *field(&mut ctx.px()?.timeouts) = (!t.is_zero()).then_some(t);
    Ok(())
}

/// Characters HAProxy allows in proxy, server and backend names.
pub fn check_name(what: &str, n: &str) -> Result<(), String> {
    if n.is_empty() {
        return Err(format!("{what} name must not be empty"));
    }
    if let Some(c) = n
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!("character '{c}' is invalid in {what} name '{n}'"));
    }
    Ok(())
}

fn kw_default_backend(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("default_backend", a, 1, "<backend name> as argument")?;
    if a[0].contains("%[") {
        return Err(
            "dynamic backend names (log-format) in 'default_backend' are not supported by weir yet"
                .into(),
        );
    }
    check_name("backend", &a[0])?;
    let loc = ctx.loc.clone();
    ctx.px()?.default_backend = Some((a[0].clone(), loc));
    Ok(())
}

fn kw_use_backend(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some(name) = a.first() else {
        return Err("'use_backend' expects <backend name> [{if | unless} <condition>]".into());
    };
    if name.contains("%[") {
        return Err(
            "dynamic backend names (log-format) in 'use_backend' are not supported by weir yet"
                .into(),
        );
    }
    check_name("backend", name)?;
    let cond = match a.get(1).map(String::as_str) {
        None => None,
        Some(w @ ("if" | "unless")) => {
            if a.len() < 3 {
                return Err(format!("'use_backend': missing condition after '{w}'"));
            }
            Some(Condition {
                loc: ctx.loc.clone(),
                negate: w == "unless",
                tokens: a[2..].to_vec(),
            })
        }
        Some(other) => {
            return Err(format!(
                "'use_backend': expected 'if' or 'unless' after the backend name, got '{other}'"
            ))
        }
    };
    if let Some(c) = &cond {
        (crate::registry::CONDITION_CHECK)(ctx, c)?;
    }
    let loc = ctx.loc.clone();
    ctx.px()?.use_backend.push(UseBackend {
        loc,
        backend: name.clone(),
        cond,
    });
    Ok(())
}

fn kw_balance(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some(algo) = a.first() else {
        return Err("'balance' expects an algorithm (roundrobin, static-rr, leastconn, first, source, random, uri, url_param, hdr(name))".into());
    };
    let rest = &a[1..];
    let no_args = |b: Balance| -> Result<Balance, String> {
        if let Some(x) = rest.first() {
            return Err(format!("'balance {algo}' takes no argument, got '{x}'"));
        }
        Ok(b)
    };
    let b = match algo.as_str() {
        "roundrobin" => no_args(Balance::RoundRobin)?,
        "static-rr" => no_args(Balance::StaticRr)?,
        "leastconn" => no_args(Balance::LeastConn)?,
        "first" => no_args(Balance::First)?,
        "source" => no_args(Balance::Source)?,
        "random" => no_args(Balance::Random { draws: 2 })?,
        s if s.starts_with("random(") => {
            let inner = s
                .strip_prefix("random(")
                .and_then(|x| x.strip_suffix(')'))
                .ok_or_else(|| format!("'balance {s}': missing ')'"))?;
            let draws: u32 = parse_uint(inner, "balance random")?;
            if draws == 0 {
                return Err("'balance random(N)' needs at least one draw".into());
            }
            no_args(Balance::Random { draws })?
        }
        "uri" => {
            let (mut whole, mut len, mut depth, mut path_only) = (false, 0, 0, false);
            let mut i = 0;
            while i < rest.len() {
                match rest[i].as_str() {
                    "whole" => whole = true,
                    "path-only" => path_only = true,
                    w @ ("len" | "depth") => {
                        let v = rest
                            .get(i + 1)
                            .ok_or_else(|| format!("'balance uri {w}' expects a number"))?;
                        let n: u32 = parse_uint(v, &format!("balance uri {w}"))?;
                        if w == "len" {
                            len = n;
                        } else {
                            depth = n;
                        }
                        i += 1;
                    }
                    other => return Err(format!("'balance uri': unknown option '{other}'")),
                }
                i += 1;
            }
            Balance::Uri {
                whole,
                len,
                depth,
                path_only,
            }
        }
        "url_param" => {
            let name = rest
                .first()
                .ok_or("'balance url_param' expects a parameter name")?
                .clone();
            match rest.get(1).map(String::as_str) {
                None => {}
                Some("check_post") => {
                    return Err("'balance url_param NAME check_post' is not supported by weir (it would search the request body before balancing); without 'check_post' the query string parameter is hashed".into());
                }
                Some(x) => return Err(format!("'balance url_param': unknown option '{x}'")),
            }
            Balance::UrlParam { name }
        }
        s if s.starts_with("hdr(") => {
            let name = s
                .strip_prefix("hdr(")
                .and_then(|x| x.strip_suffix(')'))
                .filter(|x| !x.is_empty())
                .ok_or_else(|| format!("'balance {s}': expected hdr(<name>)"))?
                .to_owned();
            let use_domain_only = match rest.first().map(String::as_str) {
                None => false,
                Some("use_domain_only") if rest.len() == 1 => true,
                Some(x) => return Err(format!("'balance hdr': unexpected argument '{x}'")),
            };
            Balance::Hdr {
                name,
                use_domain_only,
            }
        }
        "hash" => {
            let expr = match rest {
                [e] => e.clone(),
                [] => return Err("'balance hash' expects a sample expression".into()),
                [_, x, ..] => {
                    return Err(format!(
                        "'balance hash': unexpected argument '{x}' (the expression is one word)"
                    ))
                }
            };
            let loader = weir_core::acl::Loader {
                read_file: &|p: &str| std::fs::read_to_string(p),
                env: &|n: &str| std::env::var(n).ok(),
            };
            weir_core::acl::SampleExpr::parse(&expr, &loader)
                .map_err(|e| format!("'balance hash {expr}': {e}"))?;
            Balance::Hash { expr }
        }
        s if s == "rdp-cookie"
            || s.starts_with("rdp-cookie(")
            || s == "log-hash"
            || s == "sticky" =>
        {
            return Err(format!(
                "unsupported balance algorithm '{s}' (not supported by weir yet)"
            ))
        }
        other => {
            let algos = [
                "roundrobin",
                "static-rr",
                "leastconn",
                "first",
                "source",
                "random",
                "uri",
                "url_param",
                "hdr",
                "hash",
            ];
            let hint = crate::suggest::closest(other, algos.iter().copied())
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            return Err(format!("unknown balance algorithm '{other}'{hint}"));
        }
    };
    let loc = ctx.loc.clone();
    let px = ctx.px()?;
    px.balance = b;
    px.balance_loc = Some(loc);
    Ok(())
}

fn kw_hash_type(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some(m) = a.first() else {
        return Err(
            "'hash-type' expects 'map-based' or 'consistent' [function] [avalanche]".into(),
        );
    };
    let method = match m.as_str() {
        "map-based" => HashMethod::MapBased,
        "consistent" => HashMethod::Consistent,
        other => {
            return Err(format!(
                "unknown hash method '{other}'; expected 'map-based' or 'consistent'"
            ))
        }
    };
    let mut ht = HashType {
        method,
        ..HashType::default()
    };
    let mut rest = &a[1..];
    if let Some(f) = rest.first() {
        let func = match f.as_str() {
            "sdbm" => Some(HashFunction::Sdbm),
            "djb2" => Some(HashFunction::Djb2),
            "wt6" => Some(HashFunction::Wt6),
            "crc32" => Some(HashFunction::Crc32),
            _ => None,
        };
        if let Some(func) = func {
            ht.function = func;
            rest = &rest[1..];
        }
    }
    if rest.len() == a.len() - 1 {
        // No function written: the method's default applies, and for
        // `consistent` that includes avalanche (HAProxy documents it and
        // haproxy 2.6 behaves so). The rule lives in weir-core, whose
        // balancer applies it; mapped here so both read it the same way.
        let core_method = match method {
            HashMethod::MapBased => weir_core::balance::HashMethod::MapBased,
            HashMethod::Consistent => weir_core::balance::HashMethod::Consistent,
        };
        ht.avalanche = weir_core::balance::HashType::unspecified_function(core_method).avalanche;
    }
    match rest {
        [] => {}
        [m] if m == "avalanche" => ht.avalanche = true,
        [x, ..] => {
            return Err(format!(
                "'hash-type': unknown argument '{x}' (functions: sdbm, djb2, wt6, crc32; modifier: avalanche)"
            ))
        }
    }
    ctx.px()?.hash_type = ht;
    Ok(())
}

fn kw_retries(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("retries", a, 1, "<number> as argument")?;
    ctx.px()?.retries = parse_uint(&a[0], "retries")?;
    Ok(())
}

fn kw_fullconn(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("fullconn", a, 1, "<number> as argument")?;
    ctx.px()?.fullconn = Some(parse_uint(&a[0], "fullconn")?);
    Ok(())
}

/// HAProxy 2.6 still accepts `bind-process` in proxies with a warning (it
/// has no effect since nbproc is gone); so do we.
fn kw_bind_process(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    if a.is_empty() {
        return Err("'bind-process' expects a process set".into());
    }
    ctx.warn(
        "'bind-process' has no effect (multi-process mode is gone) and was removed in HAProxy 2.7"
            .into(),
    );
    Ok(())
}

fn kw_disabled(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("disabled", a, 0, "no argument")?;
    ctx.px()?.disabled = true;
    Ok(())
}

fn kw_enabled(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("enabled", a, 0, "no argument")?;
    ctx.px()?.disabled = false;
    Ok(())
}

/// `option NAME …` / `no option NAME`: dispatches to the option tables.
fn kw_option(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some(name) = a.first() else {
        return Err("'option' expects an option name".into());
    };
    let kind = ctx.section.kind;
    let negated = ctx.negated;
    let all = || crate::registry::OPTION_TABLES.iter().flat_map(|t| t.iter());
    if let Some(opt) = all().find(|o| o.name == name) {
        if !opt.sections.contains(kind) {
            return Err(format!(
                "'option {name}' is not allowed in a '{}' section (allowed in: {})",
                kind.keyword(),
                opt.sections.names()
            ));
        }
        (opt.parse)(ctx.px()?, negated, &a[1..])?;
        ctx.warn_cap(&format!("option {name}"), opt.side);
        return Ok(());
    }
    if let Some(msg) = super::unsupported::option_message(name) {
        return Err(msg);
    }
    let hint = crate::suggest::closest(name, all().map(|o| o.name))
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_default();
    Err(format!("unknown option '{name}'{hint}"))
}

/// The `option` names weir supports.
pub static OPTIONS: &[OptionKw] = &[
    opt(
        "redispatch",
        Sections::BE,
        opt_redispatch,
        "4.2 option redispatch",
    ),
    opt(
        "allbackups",
        Sections::BE,
        |p, n, a| flag(&mut p.allbackups, n, a, "allbackups"),
        "4.2 option allbackups",
    ),
    opt("tcplog", Sections::FE, opt_tcplog, "4.2 option tcplog"),
    opt("httplog", Sections::FE, opt_httplog, "4.2 option httplog"),
    opt(
        "dontlognull",
        Sections::FE,
        |p, n, a| flag(&mut p.log_options.dontlognull, n, a, "dontlognull"),
        "4.2 option dontlognull",
    ),
    opt(
        "dontlog-normal",
        Sections::FE,
        |p, n, a| flag(&mut p.log_options.dontlog_normal, n, a, "dontlog-normal"),
        "4.2 option dontlog-normal",
    ),
    opt(
        "log-separate-errors",
        Sections::FE,
        |p, n, a| {
            flag(
                &mut p.log_options.log_separate_errors,
                n,
                a,
                "log-separate-errors",
            )
        },
        "4.2 option log-separate-errors",
    ),
    opt(
        "logasap",
        Sections::FE,
        |p, n, a| flag(&mut p.log_options.logasap, n, a, "logasap"),
        "4.2 option logasap",
    ),
    opt(
        "splice-auto",
        Sections::PROXIES,
        |p, n, a| flag(&mut p.splice.auto, n, a, "splice-auto"),
        "4.2 option splice-auto",
    ),
    opt(
        "splice-request",
        Sections::PROXIES,
        |p, n, a| flag(&mut p.splice.request, n, a, "splice-request"),
        "4.2 option splice-request",
    ),
    opt(
        "splice-response",
        Sections::PROXIES,
        |p, n, a| flag(&mut p.splice.response, n, a, "splice-response"),
        "4.2 option splice-response",
    ),
    opt(
        "clitcpka",
        Sections::FE,
        |p, n, a| flag(&mut p.tcpka.client, n, a, "clitcpka"),
        "4.2 option clitcpka",
    ),
    opt(
        "srvtcpka",
        Sections::BE,
        |p, n, a| flag(&mut p.tcpka.server, n, a, "srvtcpka"),
        "4.2 option srvtcpka",
    ),
    opt("tcpka", Sections::PROXIES, opt_tcpka, "4.2 option tcpka"),
    opt(
        "nolinger",
        Sections::PROXIES,
        |p, n, a| flag(&mut p.nolinger, n, a, "nolinger"),
        "4.2 option nolinger",
    ),
    opt(
        "log-health-checks",
        Sections::BE,
        |p, n, a| {
            flag(
                &mut p.log_options.log_health_checks,
                n,
                a,
                "log-health-checks",
            )
        },
        "4.2 option log-health-checks",
    ),
];

/// Every option is accepted in every proxy section, as HAProxy does; one used
/// on the side where it has no effect gets HAProxy's warning (`side`).
pub(crate) const fn opt(
    name: &'static str,
    side: Sections,
    parse: super::OptionFn,
    doc: &'static str,
) -> OptionKw {
    OptionKw {
        name,
        sections: Sections::PROXIES,
        side,
        parse,
        doc,
    }
}

fn flag(f: &mut bool, negated: bool, a: &[String], name: &str) -> Result<(), String> {
    if let Some(x) = a.first() {
        return Err(format!("'option {name}' takes no argument, got '{x}'"));
    }
    *f = !negated;
    Ok(())
}

/// HAProxy refuses `no option X` for the options that are not simple flags
/// (tcplog, httplog, httpchk, tcpka).
pub(crate) fn no_negation(negated: bool, name: &str) -> Result<(), String> {
    if negated {
        return Err(format!(
            "negation ('no option {name}') is not supported for option '{name}'"
        ));
    }
    Ok(())
}

fn opt_tcpka(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    no_negation(negated, "tcpka")?;
    let mut v = false;
    flag(&mut v, negated, a, "tcpka")?;
    p.tcpka.client = v;
    p.tcpka.server = v;
    Ok(())
}

/// `option tcplog` and `option httplog` choose one log format: the last wins.
fn opt_tcplog(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    no_negation(negated, "tcplog")?;
    flag(&mut p.log_options.tcplog, negated, a, "tcplog")?;
    if !negated {
        p.log_options.httplog = false;
        p.log_options.httplog_clf = false;
    }
    Ok(())
}

fn opt_httplog(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    no_negation(negated, "httplog")?;
    match a {
        [] => {
            p.log_options.httplog = !negated;
            p.log_options.httplog_clf = false;
        }
        [c] if c == "clf" && !negated => {
            p.log_options.httplog = true;
            p.log_options.httplog_clf = true;
        }
        [x, ..] => {
            return Err(format!(
                "'option httplog': unexpected argument '{x}' (only 'clf' is allowed)"
            ))
        }
    }
    if !negated {
        p.log_options.tcplog = false;
    }
    Ok(())
}

fn opt_redispatch(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    if negated {
        if let Some(x) = a.first() {
            return Err(format!(
                "'no option redispatch' takes no argument, got '{x}'"
            ));
        }
        p.redispatch = None;
        return Ok(());
    }
    let interval = match a {
        [] => -1,
        [v] => {
            let n: i32 = v.parse().map_err(|_| {
                format!("'option redispatch' expects a non-zero integer interval, got '{v}'")
            })?;
            if n == 0 {
                // HAProxy: "You can disable redispatches with a value of 0."
                p.redispatch = None;
                return Ok(());
            }
            n
        }
        [_, x, ..] => return Err(format!("'option redispatch': unexpected argument '{x}'")),
    };
    p.redispatch = Some(Redispatch { interval });
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::types::{HashFunction, HashMethod, HashType};

    fn hash_type(line: &str) -> HashType {
        let text = format!("backend b\n {line}\n server s 127.0.0.1:80\n");
        let c = crate::parse_str("t.cfg", &text).unwrap_or_else(|e| panic!("{line}: {e}"));
        c.backends[0].hash_type
    }

    /// `consistent` with no function written means sdbm with avalanche
    /// (HAProxy's manual, confirmed with haproxy 2.6); any written function
    /// turns that default off unless `avalanche` is written too.
    #[test]
    fn consistent_without_function_turns_avalanche_on() {
        let t = |method, function, avalanche| HashType {
            method,
            function,
            avalanche,
        };
        use HashFunction::*;
        use HashMethod::*;
        for (line, want) in [
            ("hash-type consistent", t(Consistent, Sdbm, true)),
            ("hash-type consistent avalanche", t(Consistent, Sdbm, true)),
            ("hash-type consistent sdbm", t(Consistent, Sdbm, false)),
            ("hash-type consistent djb2", t(Consistent, Djb2, false)),
            (
                "hash-type consistent wt6 avalanche",
                t(Consistent, Wt6, true),
            ),
            ("hash-type map-based", t(MapBased, Sdbm, false)),
            ("hash-type map-based avalanche", t(MapBased, Sdbm, true)),
            ("hash-type map-based crc32", t(MapBased, Crc32, false)),
        ] {
            assert_eq!(hash_type(line), want, "{line}");
        }
    }

    #[test]
    fn balance_hash_takes_one_valid_expression() {
        let parse = |line: &str| {
            let text = format!("backend b\n mode http\n {line}\n server s 127.0.0.1:80\n");
            crate::parse_str("t.cfg", &text).map(|c| c.backends[0].balance.clone())
        };
        assert_eq!(
            parse("balance hash req.hdr(host),lower").unwrap(),
            crate::types::Balance::Hash {
                expr: "req.hdr(host),lower".into()
            }
        );
        for (line, want) in [
            ("balance hash", "expects a sample expression"),
            ("balance hash path lower", "unexpected argument 'lower'"),
            ("balance hash nosuchfetch", "balance hash nosuchfetch"),
            (
                "balance hash path,nosuchconv",
                "balance hash path,nosuchconv",
            ),
        ] {
            let e = parse(line).unwrap_err().to_string();
            assert!(e.contains("t.cfg:3:") && e.contains(want), "{line}: {e}");
        }
    }
}
