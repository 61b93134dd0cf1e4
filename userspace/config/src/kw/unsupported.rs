//! Keywords HAProxy has but weir does not implement (yet), and syntax that
//! HAProxy itself removed. Lines using them are errors that say which case
//! applies, never silently ignored. When a subsystem implements one of these,
//! it removes the name from here and adds it to its own table.

/// Removed pre-2.x syntax: keyword, HAProxy version that removed it, what to use.
pub static REMOVED: &[(&str, &str, &str)] = &[
    ("reqadd", "2.1", "'http-request add-header'"),
    ("reqdel", "2.1", "'http-request del-header'"),
    ("reqidel", "2.1", "'http-request del-header'"),
    (
        "reqrep",
        "2.1",
        "'http-request replace-header', 'replace-path' or 'replace-uri'",
    ),
    (
        "reqirep",
        "2.1",
        "'http-request replace-header', 'replace-path' or 'replace-uri'",
    ),
    ("reqdeny", "2.1", "'http-request deny'"),
    ("reqideny", "2.1", "'http-request deny'"),
    ("reqallow", "2.1", "'http-request allow'"),
    ("reqiallow", "2.1", "'http-request allow'"),
    ("reqpass", "2.1", "nothing (no longer needed)"),
    ("reqipass", "2.1", "nothing (no longer needed)"),
    ("reqtarpit", "2.1", "'http-request tarpit'"),
    ("reqitarpit", "2.1", "'http-request tarpit'"),
    ("rspadd", "2.1", "'http-response add-header'"),
    ("rspdel", "2.1", "'http-response del-header'"),
    ("rspidel", "2.1", "'http-response del-header'"),
    ("rsprep", "2.1", "'http-response replace-header'"),
    ("rspirep", "2.1", "'http-response replace-header'"),
    ("rspdeny", "2.1", "'http-response deny'"),
    ("rspideny", "2.1", "'http-response deny'"),
    ("block", "2.1", "'http-request deny'"),
    ("clitimeout", "2.1", "'timeout client'"),
    ("srvtimeout", "2.1", "'timeout server'"),
    ("contimeout", "2.1", "'timeout connect'"),
    ("redispatch", "2.1", "'option redispatch'"),
    ("appsession", "1.6", "stick tables"),
    (
        "monitor-net",
        "2.4",
        "'tcp-request connection' or 'http-request return' rules",
    ),
    ("nbproc", "2.5", "'nbthread'"),
    ("debug", "2.x", "the -d command-line flag"),
    ("tune.chksize", "2.x", "nothing (no longer needed)"),
];

/// Keywords HAProxy supports that weir does not support yet (any section).
pub static UNSUPPORTED: &[&str] = &[
    // L7 rules (the HTTP issue adds these).
    "http-after-response",
    "tcp-response",
    "retry-on",
    "tcp-check",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "capture",
    "log-format",
    "log-format-sd",
    "error-log-format",
    "unique-id-format",
    "unique-id-header",
    "compression",
    "filter",
    "cookie",
    "dynamic-cookie-key",
    "stick-table",
    "stick",
    "force-persist",
    "ignore-persist",
    "persist",
    "server-template",
    "email-alert",
    "use-fcgi-app",
    "http-send-name-header",
    "source",
    "description",
    "id",
    "rate-limit",
    "backlog",
    "grace",
    "hash-balance-factor",
    "hash-key",
    "declare",
    "external-check",
    "load-server-state-from-file",
    "server-state-file-name",
    "log-tag",
    "max-keep-alive-queue",
    "max-session-srv-conns",
    "log-steps",
    "guid",
    "http-restrict-req-hdr-names",
    "dispatch",
    "transparent",
    // Global keywords.
    "lua-load",
    "lua-load-per-thread",
    "lua-prepend-path",
    "master-worker",
    "mworker-max-reloads",
    "localpeer",
    "server-state-base",
    "server-state-file",
    "set-dumpable",
    "ulimit-n",
    "maxconnrate",
    "maxsessrate",
    "maxsslconn",
    "maxsslrate",
    "maxcomprate",
    "maxcompcpuusage",
    "maxpipes",
    "maxzlibmem",
    "spread-checks",
    "max-spread-checks",
    "noepoll",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "node",
    "log-send-hostname",
    "unix-bind",
    "zero-warning",
    "default-path",
    "issuers-chain-path",
    "resetenv",
    "quiet",
    "busy-polling",
    "h1-case-adjust",
    "h1-case-adjust-file",
    "insecure-fork-wanted",
    "insecure-setuid-wanted",
    "expose-experimental-directives",
    "strict-limits",
    "pp2-never-send-local",
    "presetenv-file",
    "hard-stop-after-grace",
    "numa-cpu-mapping",
    "thread-groups",
    "thread-group",
    "fd-hard-limit",
    "close-spread-time",
    "grace-period",
    "h2-workaround-bogus-websocket-clients",
    "limited-quic",
    "cluster-secret",
    "setcap",
    "chroot-wanted",
    "uid-wanted",
    "deviceatlas-json-file",
    "wurfl-data-file",
];

/// Prefixes of keyword families HAProxy has and weir does not support yet.
pub static UNSUPPORTED_PREFIXES: &[&str] = &[
    "ssl-",
    "tune.",
    "lua-",
    "httpclient.",
    "51degrees-",
    "deviceatlas-",
    "wurfl-",
    "ocsp-",
    "tune.ssl.",
    "h2-",
    "quic-",
    "profiling.",
    "stats-file",
    "ssl.",
];

/// HAProxy section kinds weir does not support yet.
pub static UNSUPPORTED_SECTIONS: &[&str] = &[
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "log-forward",
    "cache",
    "fcgi-app",
    "crt-store",
    "traces",
    "acme",
    "dynamic-update",
    "uuid",
];

/// `option` names HAProxy has and weir does not support yet.
pub static UNSUPPORTED_OPTIONS: &[&str] = &[
    "http-pretend-keepalive",
    "http-buffer-request",
    "http-no-delay",
    "http-use-htx",
    "tcp-check",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "smtpchk",
    "ldap-check",
    "spop-check",
    "ssl-hello-chk",
    "external-check",
    "abortonclose",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "checkcache",
    "contstats",
    "disable-h2-upgrade",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "http-ignore-probes",
    "http-restrict-req-hdr-names",
    "http_proxy",
    "idle-close-on-response",
    "independent-streams",
    "originalto",
    "persist",
    "prefer-last-server",
    "socket-stats",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "transparent",
    "allredisp",
    "log-separate-errors-legacy",
];

/// `option` names removed from HAProxy: name, version, replacement.
static REMOVED_OPTIONS: &[(&str, &str, &str)] = &[
    ("forceclose", "2.0", "'option httpclose'"),
    (
        "http-tunnel",
        "2.1",
        "nothing (tunnel mode is gone; use 'option http-keep-alive')",
    ),
    ("httpclose-legacy", "2.1", "'option httpclose'"),
    ("http-use-proxy-header", "2.x", "nothing"),
];

/// The message for a keyword HAProxy has (or had) but weir does not accept,
/// or `None` when HAProxy does not know it either.
pub fn keyword_message(kw: &str) -> Option<String> {
    if let Some((_, v, instead)) = REMOVED.iter().find(|(k, _, _)| *k == kw) {
        return Some(format!(
            "keyword '{kw}' was removed in HAProxy {v}; use {instead}"
        ));
    }
    if UNSUPPORTED.contains(&kw) || UNSUPPORTED_PREFIXES.iter().any(|p| kw.starts_with(p)) {
        return Some(format!(
            "unsupported keyword '{kw}' (not supported by weir yet)"
        ));
    }
    None
}

/// The message for an `option` weir does not accept, or `None` when unknown.
pub fn option_message(name: &str) -> Option<String> {
    if let Some((_, v, instead)) = REMOVED_OPTIONS.iter().find(|(k, _, _)| *k == name) {
        return Some(format!(
            "'option {name}' was removed in HAProxy {v}; use {instead}"
        ));
    }
    if UNSUPPORTED_OPTIONS.contains(&name) {
        return Some(format!(
            "unsupported keyword 'option {name}' (not supported by weir yet)"
        ));
    }
    None
}
