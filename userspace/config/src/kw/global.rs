//! Keywords of the `global` section (HAProxy configuration manual, section 3
//! "Global parameters": 3.1 process management and security, 3.2 performance
//! tuning). `log` lives in [`super::log`], `stats socket` here.

use std::path::PathBuf;

use super::{expect_args, Ctx, Keyword, Sections};
use crate::types::*;
use crate::units::{parse_size, parse_time, parse_uint};

/// Highest `nbthread` accepted (HAProxy 2.6 builds allow up to 64 by default;
/// weir's workers are independent so the limit is only a sanity bound).
pub const MAX_THREADS: usize = 4096;

/// The global keywords weir supports.
pub static KEYWORDS: &[Keyword] = &[
    kw("nbthread", kw_nbthread, "3.2 nbthread"),
    kw("cpu-map", kw_cpu_map, "3.1 cpu-map"),
    kw("user", kw_user, "3.1 user"),
    kw("group", kw_group, "3.1 group"),
    kw("uid", kw_uid, "3.1 uid"),
    kw("gid", kw_gid, "3.1 gid"),
    kw("chroot", kw_chroot, "3.1 chroot"),
    kw("daemon", kw_daemon, "3.1 daemon"),
    kw("pidfile", kw_pidfile, "3.1 pidfile"),
    // `stats` is also a proxy keyword family (the stats page), which weir
    // does not serve yet: listed for proxies so the error says so.
    Keyword {
        name: "stats",
        sections: Sections(Sections::GLOBAL.0 | Sections::PROXIES.0),
        negatable: false,
        parse: kw_stats,
        doc: "3.1 stats socket / stats timeout",
    },
    kw("tune.bufsize", kw_bufsize, "3.2 tune.bufsize"),
    kw("tune.maxaccept", kw_maxaccept, "3.2 tune.maxaccept"),
    kw("tune.pipesize", kw_pipesize, "3.2 tune.pipesize"),
    kw(
        "tune.maxpollevents",
        kw_maxpollevents,
        "3.2 tune.maxpollevents",
    ),
    kw("hard-stop-after", kw_hard_stop_after, "3.1 hard-stop-after"),
    // weir's own (no HAProxy equivalent): SK_REUSEPORT steering.
    kw(
        "steer-connections",
        kw_steer_connections,
        "weir: README, steer-connections",
    ),
    kw("setenv", kw_setenv, "3.1 setenv"),
    // TLS defaults: HAProxy applies them only to `ssl` binds and servers,
    // which weir refuses, so they can have no effect; accepted with a
    // warning so that stock configurations (Debian's among them) load.
    kw(
        "ca-base",
        |c, a| tls_default("ca-base", c, a),
        "3.1 ca-base",
    ),
    kw(
        "crt-base",
        |c, a| tls_default("crt-base", c, a),
        "3.1 crt-base",
    ),
    kw(
        "ssl-default-bind-ciphers",
        |c, a| tls_default("ssl-default-bind-ciphers", c, a),
        "3.1 ssl-default-bind-ciphers",
    ),
    kw(
        "ssl-default-bind-ciphersuites",
        |c, a| tls_default("ssl-default-bind-ciphersuites", c, a),
        "3.1 ssl-default-bind-ciphersuites",
    ),
    kw(
        "ssl-default-bind-options",
        |c, a| tls_default("ssl-default-bind-options", c, a),
        "3.1 ssl-default-bind-options",
    ),
    kw(
        "ssl-default-server-ciphers",
        |c, a| tls_default("ssl-default-server-ciphers", c, a),
        "3.1 ssl-default-server-ciphers",
    ),
    kw(
        "ssl-default-server-ciphersuites",
        |c, a| tls_default("ssl-default-server-ciphersuites", c, a),
        "3.1 ssl-default-server-ciphersuites",
    ),
    kw(
        "ssl-default-server-options",
        |c, a| tls_default("ssl-default-server-options", c, a),
        "3.1 ssl-default-server-options",
    ),
    kw(
        "tune.ssl.default-dh-param",
        |c, a| tls_default("tune.ssl.default-dh-param", c, a),
        "3.2 tune.ssl.default-dh-param",
    ),
    kw("presetenv", kw_presetenv, "3.1 presetenv"),
    kw("unsetenv", kw_unsetenv, "3.1 unsetenv"),
];

/// `ca-base`, `crt-base`, `ssl-default-{bind,server}-*` and
/// `tune.ssl.default-dh-param`: checked for the shape HAProxy requires, then
/// a warning that they apply to nothing (weir has no TLS binds or servers).
/// Not an error: a setting whose scope is empty behaves as documented.
fn tls_default(name: &str, ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    match name {
        "ca-base"
        | "crt-base"
        | "ssl-default-bind-ciphers"
        | "ssl-default-bind-ciphersuites"
        | "ssl-default-server-ciphers"
        | "ssl-default-server-ciphersuites" => {
            expect_args(name, a, 1, "<value> as argument")?;
        }
        "tune.ssl.default-dh-param" => {
            expect_args(name, a, 1, "<number> as argument")?;
            let bits: u32 = parse_uint(&a[0], name)?;
            if bits < 1024 {
                return Err(format!("'{name}' must be at least 1024, got {bits}"));
            }
        }
        _ => {
            if a.is_empty() {
                return Err(format!("'{name}' expects at least one option"));
            }
        }
    }
    ctx.warn(format!(
        "'{name}' has no effect: weir terminates no TLS ('ssl' on a bind or server is refused)"
    ));
    Ok(())
}

const fn kw(name: &'static str, parse: super::ParseFn, doc: &'static str) -> Keyword {
    Keyword {
        name,
        sections: Sections::GLOBAL,
        negatable: false,
        parse,
        doc,
    }
}

fn kw_nbthread(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("nbthread", a, 1, "<number> as argument")?;
    let n: usize = parse_uint(&a[0], "nbthread")?;
    if n == 0 || n > MAX_THREADS {
        return Err(format!(
            "'nbthread' must be between 1 and {MAX_THREADS}, got {n}"
        ));
    }
    ctx.global.nbthread = Some(n);
    Ok(())
}

/// Parses `N` or `N-M` into the list of numbers (inclusive), each within `max`.
fn parse_range(s: &str, what: &str, max: u32) -> Result<Vec<u32>, String> {
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (parse_uint::<u32>(a, what)?, parse_uint::<u32>(b, what)?),
        None => {
            let v = parse_uint::<u32>(s, what)?;
            (v, v)
        }
    };
    if lo > hi {
        return Err(format!(
            "invalid range '{s}' in '{what}': the first value must not exceed the second"
        ));
    }
    if hi > max {
        return Err(format!(
            "value {hi} in '{what}' is out of range (maximum {max})"
        ));
    }
    Ok((lo..=hi).collect())
}

/// HAProxy sizes `all`, `odd` and `even` process/thread sets on a 64-bit
/// word (`LONGBITS`): `cpu-map auto:` checks sizes with that width.
const SET_BITS: u32 = 64;

/// Parses a process or thread set: `all`, `odd`, `even`, `N` or `N-M`.
fn parse_set(s: &str, what: &str) -> Result<Vec<u32>, String> {
    let v: Vec<u32> = match s {
        "all" => (1..=SET_BITS).collect(),
        "odd" => (1..=SET_BITS).step_by(2).collect(),
        "even" => (2..=SET_BITS).step_by(2).collect(),
        r => parse_range(r, what, MAX_THREADS as u32)?,
    };
    if v.first() == Some(&0) {
        return Err(format!("'{what}' process and thread numbers start at 1"));
    }
    Ok(v)
}

/// `cpu-map [auto:]<process-set>[/<thread-set>] <cpu-set>...` as HAProxy 2.6
/// reads it: with `auto:`, the threads (or, without a thread set, the
/// processes) and the CPUs are paired one to one and the two sets must have
/// the same size; since nbproc is gone only process 1 matters, and lines for
/// other processes are ignored (with a warning here; HAProxy is silent).
fn kw_cpu_map(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    if a.len() < 2 {
        return Err("'cpu-map' expects [auto:]<process>[/<threads>] followed by a CPU set".into());
    }
    let (auto, set) = match a[0].strip_prefix("auto:") {
        Some(s) => (true, s),
        None => (false, a[0].as_str()),
    };
    let (proc_part, thr_part) = match set.split_once('/') {
        Some((p, t)) => (p, Some(t)),
        None => (set, None),
    };
    let procs = parse_set(proc_part, "cpu-map")?;
    let threads = thr_part.map(|t| parse_set(t, "cpu-map")).transpose()?;
    let mut cpus: Vec<u32> = Vec::new();
    for w in &a[1..] {
        for part in w.split(',') {
            cpus.extend(parse_range(part, "cpu-map", 4095)?);
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    if auto {
        let (n, what) = match &threads {
            Some(t) => (t.len(), "threads"),
            None => (procs.len(), "processes"),
        };
        if n != cpus.len() {
            return Err(format!(
                "'cpu-map auto:' needs as many CPUs as {what}: {n} {what} for {} CPUs (PROC/THREAD range and CPU sets must have the same size)",
                cpus.len()
            ));
        }
    }
    let Some(p1) = procs.iter().position(|&p| p == 1) else {
        ctx.warn(format!(
            "'cpu-map {}' ignored: only process 1 exists since HAProxy 2.5 removed nbproc",
            a[0]
        ));
        return Ok(());
    };
    let (threads, cpus, auto) = match (auto, threads) {
        // `auto:P` without threads pairs processes with CPUs: process 1
        // (all its threads) gets the CPU paired with it.
        (true, None) => (Vec::new(), vec![cpus[p1]], false),
        (auto, Some(t)) if thr_part == Some("all") && !auto => {
            drop(t);
            (Vec::new(), cpus, auto)
        }
        (auto, Some(t)) => (t, cpus, auto),
        (false, None) => (Vec::new(), cpus, false),
    };
    ctx.global.cpu_map.push(CpuMap {
        loc: ctx.loc.clone(),
        auto,
        threads,
        cpus,
    });
    Ok(())
}

/// `user`/`uid` (and `group`/`gid`) set the same thing: HAProxy keeps the
/// first one and reports the second ("already specified. Continuing.").
fn already(ctx: &mut Ctx<'_, '_>, set: bool, what: &str) -> bool {
    if set {
        ctx.warn(format!(
            "{what} already specified; this line is ignored (the first one is kept)"
        ));
    }
    set
}

fn kw_user(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("user", a, 1, "<user name> as argument")?;
    let set = ctx.global.user.is_some() || ctx.global.uid.is_some();
    if !already(ctx, set, "user/uid") {
        ctx.global.user = Some(a[0].clone());
    }
    Ok(())
}

fn kw_group(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("group", a, 1, "<group name> as argument")?;
    let set = ctx.global.group.is_some() || ctx.global.gid.is_some();
    if !already(ctx, set, "group/gid") {
        ctx.global.group = Some(a[0].clone());
    }
    Ok(())
}

fn kw_uid(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("uid", a, 1, "<number> as argument")?;
    let v = parse_uint(&a[0], "uid")?;
    let set = ctx.global.user.is_some() || ctx.global.uid.is_some();
    if !already(ctx, set, "user/uid") {
        ctx.global.uid = Some(v);
    }
    Ok(())
}

fn kw_gid(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("gid", a, 1, "<number> as argument")?;
    let v = parse_uint(&a[0], "gid")?;
    let set = ctx.global.group.is_some() || ctx.global.gid.is_some();
    if !already(ctx, set, "group/gid") {
        ctx.global.gid = Some(v);
    }
    Ok(())
}

fn kw_chroot(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("chroot", a, 1, "a directory as argument")?;
    if a[0].is_empty() {
        return Err("'chroot' expects a non-empty directory".into());
    }
    ctx.global.chroot = Some(PathBuf::from(&a[0]));
    Ok(())
}

fn kw_daemon(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("daemon", a, 0, "no argument")?;
    ctx.global.daemon = true;
    Ok(())
}

fn kw_steer_connections(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args(
        "steer-connections",
        a,
        1,
        "'cpu', 'source' or 'off' as argument",
    )?;
    let mode = match a[0].as_str() {
        "cpu" => SteerConnections::Cpu,
        "source" => SteerConnections::Source,
        "off" => SteerConnections::Off,
        x => {
            return Err(format!(
                "'steer-connections' expects 'cpu', 'source' or 'off', got '{x}'"
            ))
        }
    };
    if ctx.global.steer_connections.is_some() {
        return Err("'steer-connections' is already set".into());
    }
    ctx.global.steer_connections = Some(mode);
    Ok(())
}

fn kw_pidfile(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("pidfile", a, 1, "a file name as argument")?;
    if a[0].is_empty() {
        return Err("'pidfile' expects a non-empty file name".into());
    }
    ctx.global.pidfile = Some(PathBuf::from(&a[0]));
    Ok(())
}

fn kw_stats(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    if ctx.section.kind != crate::error::SectionKind::Global {
        let sub = a.first().map(String::as_str).unwrap_or("");
        return Err(format!(
            "unsupported keyword 'stats {sub}' (the statistics page is not supported by weir yet)"
        ));
    }
    match a.first().map(String::as_str) {
        Some("socket") => stats_socket(ctx, &a[1..]),
        Some("timeout") => {
            expect_args("stats timeout", &a[1..], 1, "<time> as argument")?;
            let t = parse_time(&a[1])?;
            if t.is_zero() {
                return Err("'stats timeout' must be greater than zero".into());
            }
            ctx.global.stats_timeout = Some(t);
            Ok(())
        }
        Some(other @ ("maxconn" | "bind-process")) => Err(format!(
            "unsupported keyword 'stats {other}' (not supported by weir yet)"
        )),
        Some(other) => Err(format!(
            "unknown keyword 'stats {other}' in 'global' section; expected 'stats socket' or 'stats timeout'"
        )),
        None => Err("'stats' expects 'socket' or 'timeout'".into()),
    }
}

fn stats_socket(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some(addr) = a.first() else {
        return Err("'stats socket' expects a path or an address".into());
    };
    let addr = parse_stats_addr(&ctx.env.expand_address(addr))?;
    let mut s = StatsSocket {
        loc: ctx.loc.clone(),
        addr,
        mode: None,
        level: StatsLevel::Operator,
        user: None,
        group: None,
        uid: None,
        gid: None,
        expose_fd_listeners: false,
    };
    let mut i = 1;
    while i < a.len() {
        let opt = a[i].as_str();
        let val = a.get(i + 1);
        let need = |v: Option<&String>| -> Result<String, String> {
            v.cloned()
                .ok_or_else(|| format!("'stats socket' option '{opt}' expects a value"))
        };
        match opt {
            "mode" => {
                let v = need(val)?;
                let m = u32::from_str_radix(&v, 8)
                    .map_err(|_| format!("'stats socket' mode '{v}' is not an octal number"))?;
                if m > 0o7777 {
                    return Err(format!("'stats socket' mode '{v}' is out of range"));
                }
                s.mode = Some(m);
            }
            "level" => {
                let v = need(val)?;
                s.level = match v.as_str() {
                    "user" => StatsLevel::User,
                    "operator" => StatsLevel::Operator,
                    "admin" => StatsLevel::Admin,
                    _ => {
                        return Err(format!(
                            "'stats socket' level '{v}' is invalid; expected 'user', 'operator' or 'admin'"
                        ))
                    }
                };
            }
            "user" => s.user = Some(need(val)?),
            "group" => s.group = Some(need(val)?),
            "uid" => s.uid = Some(parse_uint(&need(val)?, "uid")?),
            "gid" => s.gid = Some(parse_uint(&need(val)?, "gid")?),
            "expose-fd" => {
                let v = need(val)?;
                if v != "listeners" {
                    return Err(format!("'expose-fd' expects 'listeners', got '{v}'"));
                }
                s.expose_fd_listeners = true;
            }
            "process" | "thread" | "ssl" | "crt" | "accept-proxy" | "severity-output" | "name" => {
                return Err(format!(
                    "unsupported 'stats socket' option '{opt}' (not supported by weir yet)"
                ))
            }
            other => return Err(format!("unknown 'stats socket' option '{other}'")),
        }
        i += 2;
    }
    ctx.global.stats_sockets.push(s);
    Ok(())
}

fn parse_stats_addr(s: &str) -> Result<StatsAddr, String> {
    if let Some(p) = s.strip_prefix("unix@") {
        return Ok(StatsAddr::Unix(PathBuf::from(p)));
    }
    if s.starts_with('/') || s.starts_with('.') {
        return Ok(StatsAddr::Unix(PathBuf::from(s)));
    }
    match super::bind::parse_bind_spec(s)?.as_slice() {
        [BindAddr::Inet(sa)] => Ok(StatsAddr::Inet(*sa)),
        [BindAddr::Fd(fd)] => Ok(StatsAddr::Fd(*fd)),
        _ => Err(format!(
            "'stats socket' address '{s}' must be a single address, not a range"
        )),
    }
}

fn kw_bufsize(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("tune.bufsize", a, 1, "a size as argument")?;
    let v = parse_size(&a[0])?;
    if !(1024..=(i32::MAX as u64)).contains(&v) {
        return Err(format!(
            "'tune.bufsize' must be between 1024 and 2147483647 bytes, got {v}"
        ));
    }
    ctx.global.tune_bufsize = v as usize;
    Ok(())
}

fn kw_maxaccept(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args(
        "tune.maxaccept",
        a,
        1,
        "<number> as argument (-1 = unlimited)",
    )?;
    if a[0] == "-1" {
        ctx.global.tune_maxaccept = Some(u32::MAX);
        return Ok(());
    }
    let v: u32 = parse_uint(&a[0], "tune.maxaccept")?;
    if v == 0 || v > i32::MAX as u32 {
        return Err(format!(
            "'tune.maxaccept' must be -1 or between 1 and 2147483647, got {v}"
        ));
    }
    ctx.global.tune_maxaccept = Some(v);
    Ok(())
}

fn kw_pipesize(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("tune.pipesize", a, 1, "a size as argument")?;
    let v = parse_size(&a[0])?;
    if v == 0 || v > i32::MAX as u64 {
        return Err(format!(
            "'tune.pipesize' must be between 1 and 2147483647 bytes, got {v}"
        ));
    }
    ctx.global.tune_pipesize = Some(v as usize);
    Ok(())
}

fn kw_maxpollevents(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("tune.maxpollevents", a, 1, "<number> as argument")?;
    let v: u32 = parse_uint(&a[0], "tune.maxpollevents")?;
    if v == 0 {
        return Err("'tune.maxpollevents' must be greater than zero".into());
    }
    ctx.global.tune_maxpollevents = Some(v);
    Ok(())
}

fn kw_hard_stop_after(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("hard-stop-after", a, 1, "<time> as argument")?;
    ctx.global.hard_stop_after = Some(parse_time(&a[0])?);
    Ok(())
}

fn check_env_name(kw: &str, n: &str) -> Result<(), String> {
    let ok = n
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("'{kw}': invalid variable name '{n}'"))
    }
}

fn kw_setenv(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("setenv", a, 2, "<name> and <value> as arguments")?;
    check_env_name("setenv", &a[0])?;
    ctx.env.overlay.insert(a[0].clone(), Some(a[1].clone()));
    Ok(())
}

fn kw_presetenv(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    expect_args("presetenv", a, 2, "<name> and <value> as arguments")?;
    check_env_name("presetenv", &a[0])?;
    if ctx.env.get(&a[0]).is_none() {
        ctx.env.overlay.insert(a[0].clone(), Some(a[1].clone()));
    }
    Ok(())
}

fn kw_unsetenv(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    if a.is_empty() {
        return Err("'unsetenv' expects at least one variable name".into());
    }
    for n in a {
        check_env_name("unsetenv", n)?;
        ctx.env.overlay.insert(n.clone(), None);
    }
    Ok(())
}
