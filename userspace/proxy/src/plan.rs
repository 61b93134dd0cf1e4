//! The configuration resolved into what the workers need: indices instead of
//! names, milliseconds instead of durations, addresses resolved, defaults
//! applied the way HAProxy applies them in `mode tcp`. Built once by
//! [`crate::bind`]; read-only afterwards and shared by every worker.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use weir_config::{Backend, BindAddr, Config, Frontend, Loc, Mode, ServerHost, ServerPort};
use weir_runtime::AddrId;

use crate::ProxyError;

/// Default `maxconn` when neither `global` nor the frontend sets one,
/// bounded by the file-descriptor limit at start-up (see [`default_maxconn`]).
const FALLBACK_MAXCONN: u32 = 4096;

/// Everything the workers read.
#[derive(Debug)]
pub struct Plan {
    /// Worker count.
    pub nbthread: usize,
    /// CPU to pin each worker to (`None`: leave it unpinned).
    pub cpus: Vec<Option<usize>>,
    /// Process-wide connection limit.
    pub global_maxconn: u32,
    /// Accepts per listener per loop turn.
    pub maxaccept: u32,
    /// `tune.bufsize`.
    pub bufsize: usize,
    /// `tune.pipesize` (0: kernel default).
    pub pipesize: usize,
    /// `hard-stop-after`, in ms.
    pub hard_stop_after_ms: Option<u64>,
    /// Frontends in file order (disabled ones are skipped).
    pub frontends: Vec<FrontendPlan>,
    /// Backends in file order.
    pub backends: Vec<BackendPlan>,
    /// The ring's address table (every server address).
    pub addrs: Vec<SocketAddr>,
}

/// A frontend.
#[derive(Debug)]
pub struct FrontendPlan {
    /// Section name.
    pub name: String,
    /// `listen` or `frontend` (for messages).
    pub section: &'static str,
    /// Concurrent connection limit.
    pub maxconn: u32,
    /// The backend every connection goes to (tcp mode has no content
    /// switching without ACLs): the unconditional `use_backend`, else
    /// `default_backend`. `None`: connections are closed at once.
    pub backend: Option<usize>,
    /// `timeout client`.
    pub client_ms: Option<u64>,
    /// `timeout client-fin`.
    pub client_fin_ms: Option<u64>,
    /// `option nolinger`.
    pub nolinger: bool,
    /// `option tcplog`.
    pub tcplog: bool,
    /// Bind lines, one per address.
    pub binds: Vec<BindPlan>,
    /// mode http: switching, rules, timeouts (`None`: mode tcp).
    pub http: Option<Box<crate::http::plan::HttpFrontendPlan>>,
    /// `tcp-request connection` rules (conditions on addresses only).
    pub tcp_connection: Vec<crate::http::plan::TcpRulePlan>,
    /// mode tcp: `tcp-request content` rules (addresses and payload; in
    /// mode http they are part of the http plan).
    pub tcp_content: Vec<crate::http::plan::TcpRulePlan>,
    /// `tcp-request inspect-delay`.
    pub inspect_ms: Option<u64>,
}

/// One listening address.
#[derive(Debug)]
pub struct BindPlan {
    /// The bind line.
    pub loc: Loc,
    /// The address as written.
    pub spec: String,
    /// Where to listen.
    pub addr: BindAddr,
    /// Listen backlog.
    pub backlog: i32,
}

/// A backend.
#[derive(Debug)]
pub struct BackendPlan {
    /// Section name.
    pub name: String,
    /// Servers in file order.
    pub servers: Vec<ServerPlan>,
    /// `retries`.
    pub retries: u32,
    /// `option redispatch` (on the last retry).
    pub redispatch: bool,
    /// `timeout connect` (`None`: wait forever, as HAProxy with a warning).
    pub connect_ms: Option<u64>,
    /// `timeout server`.
    pub server_ms: Option<u64>,
    /// `timeout server-fin`.
    pub server_fin_ms: Option<u64>,
    /// `timeout queue` (HAProxy: defaults to `timeout connect`).
    pub queue_ms: Option<u64>,
    /// `timeout tunnel`.
    pub tunnel_ms: Option<u64>,
    /// Splice client→server (`option splice-request` or `splice-auto`, on
    /// the frontend or the backend).
    pub splice_request: bool,
    /// Splice server→client.
    pub splice_response: bool,
    /// `option nolinger` on the server side.
    pub nolinger: bool,
    /// `option allbackups`.
    pub allbackups: bool,
    /// `balance`.
    pub algorithm: weir_core::balance::Algorithm,
    /// `hash-type`.
    pub hash_type: weir_core::balance::HashType,
    /// `balance uri`, `url_param`, `hdr(…)`: what each request hashes.
    pub lb_key: Option<crate::pick::HttpKey>,
    /// mode http: rules and options of the backend (`None`: mode tcp).
    pub http: Option<Box<crate::http::plan::HttpBackendPlan>>,
    /// `use-server` rules: condition and server index (in `mode tcp` the
    /// conditions read addresses only).
    pub use_server: Vec<(Option<weir_core::acl::Condition>, u16)>,
}

/// A server.
#[derive(Debug)]
pub struct ServerPlan {
    /// Server name.
    pub name: String,
    /// `weight`.
    pub weight: u32,
    /// `maxconn` (0: unlimited).
    pub maxconn: u32,
    /// `backup`.
    pub backup: bool,
    /// `disabled`.
    pub disabled: bool,
    /// `on-marked-down shutdown-sessions`.
    pub shutdown_on_down: bool,
    /// `on-marked-up shutdown-backup-sessions`.
    pub shutdown_backup_on_up: bool,
    /// Its address: fixed, or depending on the port the client connected to.
    pub addr: ServerAddrPlan,
}

/// Which address table entry to connect to.
#[derive(Debug)]
pub enum ServerAddrPlan {
    /// Always this one.
    Fixed(AddrId),
    /// One per listening port (the server has no port or a `+N` offset).
    ByPort(Vec<(u16, AddrId)>),
}

impl ServerAddrPlan {
    /// The address to use for a connection that came in on `port`.
    #[must_use]
    pub fn for_port(&self, port: u16) -> Option<AddrId> {
        match self {
            ServerAddrPlan::Fixed(a) => Some(*a),
            ServerAddrPlan::ByPort(v) => v.iter().find(|(p, _)| *p == port).map(|(_, a)| *a),
        }
    }
}

fn ms(d: Option<Duration>) -> Option<u64> {
    // 0 means "no timeout" in HAProxy; sub-ms values round up to 1 ms.
    d.filter(|d| !d.is_zero())
        .map(|d| u64::try_from(d.as_millis().max(1)).unwrap_or(u64::MAX))
}

/// HAProxy derives its default maxconn from the fd limit; weir does the
/// same: each proxied connection needs two sockets and up to two pipes
/// (four fds) while data is in flight, so a third of the limit is kept for
/// sockets and the rest for pipes and listeners.
#[must_use]
pub fn default_maxconn(nofile: u64) -> u32 {
    if nofile == 0 || nofile == u64::MAX {
        return FALLBACK_MAXCONN;
    }
    u32::try_from(nofile.saturating_sub(64) / 3)
        .unwrap_or(u32::MAX)
        .max(1)
}

fn nofile_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn section(fe: &Frontend) -> &'static str {
    if fe.from_listen {
        "listen"
    } else {
        "frontend"
    }
}

impl Plan {
    /// Resolves `cfg`.
    ///
    /// # Errors
    /// [`ProxyError::Unsupported`] for what this version cannot run yet
    /// (`mode http`, conditional `use_backend`), [`ProxyError::Resolve`] for
    /// server names that do not resolve.
    pub fn new(cfg: &Config) -> Result<Plan, ProxyError> {
        let g = &cfg.global;
        let nbthread = g.nbthread.unwrap_or_else(weir_runtime::online_cpus).max(1);
        let ncpu = weir_runtime::online_cpus();
        let mut cpus: Vec<Option<usize>> = (0..nbthread).map(|i| Some(i % ncpu)).collect();
        for m in &g.cpu_map {
            let threads: Vec<usize> = if m.threads.is_empty() {
                (0..nbthread).collect()
            } else {
                m.threads
                    .iter()
                    .map(|t| (*t as usize).saturating_sub(1))
                    .filter(|t| *t < nbthread)
                    .collect()
            };
            for (k, t) in threads.iter().enumerate() {
                // Without `auto:` HAProxy binds each listed thread to the
                // whole set; one pinned CPU per worker is what weir does, so
                // the first CPU of the set is used, or the k-th with `auto:`.
                let cpu = if m.auto {
                    m.cpus.get(k)
                } else {
                    m.cpus.first()
                };
                cpus[*t] = cpu.map(|c| *c as usize);
            }
        }
        let global_maxconn = g.maxconn.unwrap_or_else(|| default_maxconn(nofile_limit()));

        let mut addrs = Vec::new();
        // Ports clients may connect on: servers without a fixed port need one
        // address per listening port.
        let mut ports: Vec<u16> = Vec::new();
        for fe in cfg.frontends.iter().filter(|f| !f.disabled) {
            for b in &fe.binds {
                if let BindAddr::Inet(a) = b.addr {
                    if !ports.contains(&a.port()) {
                        ports.push(a.port());
                    }
                }
            }
        }
        let mut backends = Vec::with_capacity(cfg.backends.len());
        for be in &cfg.backends {
            let plan = Self::backend(be, cfg, &ports, &mut addrs)?;
            // Build the balancer once to refuse what the core refuses now,
            // not in a worker.
            crate::pick::balancer(&plan, 0).map_err(|e| ProxyError::Unsupported {
                loc: be.loc.clone(),
                section: "backend",
                name: be.name.clone(),
                what: e.to_string(),
            })?;
            backends.push(plan);
        }
        let mut frontends = Vec::new();
        for fe in cfg.frontends.iter().filter(|f| !f.disabled) {
            let maxconn = fe.maxconn.unwrap_or(global_maxconn).min(global_maxconn);
            let binds = fe
                .binds
                .iter()
                .map(|b| BindPlan {
                    loc: b.loc.clone(),
                    spec: b.spec.clone(),
                    addr: b.addr,
                    // HAProxy: the backlog defaults to the frontend's maxconn.
                    backlog: i32::try_from(b.backlog.unwrap_or(maxconn)).unwrap_or(i32::MAX),
                })
                .collect();
            let tcp_connection = crate::http::plan::tcp_rules(
                &fe.rules.tcp_connection,
                &fe.acls,
                section(fe),
                &fe.name,
                &mut crate::http::plan::Needs::default(),
            )?;
            // mode http: the backend is chosen per request (crate::http::plan).
            if fe.mode == Mode::Http {
                let bufsize = g.tune_bufsize.max(1024);
                let http = crate::http::plan::frontend(fe, section(fe), cfg, bufsize)?;
                frontends.push(FrontendPlan {
                    name: fe.name.clone(),
                    section: section(fe),
                    maxconn,
                    backend: None,
                    client_ms: ms(fe.timeouts.client),
                    client_fin_ms: ms(fe.timeouts.client_fin),
                    nolinger: fe.nolinger,
                    tcplog: false,
                    binds,
                    http: Some(Box::new(http)),
                    tcp_connection,
                    tcp_content: Vec::new(),
                    inspect_ms: ms(fe.rules.inspect_delay),
                });
                continue;
            }
            let mut target = None;
            for ub in &fe.use_backend {
                if ub.cond.is_some() {
                    return Err(ProxyError::Unsupported {
                        loc: ub.loc.clone(),
                        section: section(fe),
                        name: fe.name.clone(),
                        what: "'use_backend … if/unless' needs ACLs, not supported yet".into(),
                    });
                }
                target.get_or_insert(ub.backend.clone());
            }
            let target = target.or_else(|| fe.default_backend.clone());
            let backend = target.and_then(|n| cfg.backends.iter().position(|b| b.name == n));
            if let Some(bi) = backend {
                let be = &cfg.backends[bi];
                if be.mode == Mode::Http {
                    return Err(ProxyError::Unsupported {
                        loc: be.loc.clone(),
                        section: "backend",
                        name: be.name.clone(),
                        what: format!(
                            "'mode http' backend used by 'mode tcp' {} '{}' (HAProxy refuses this mix too)",
                            section(fe),
                            fe.name
                        ),
                    });
                }
                if fe.splice.auto || fe.splice.request {
                    backends[bi].splice_request = true;
                }
                if fe.splice.auto || fe.splice.response {
                    backends[bi].splice_response = true;
                }
            }
            frontends.push(FrontendPlan {
                name: fe.name.clone(),
                section: section(fe),
                maxconn,
                backend,
                client_ms: ms(fe.timeouts.client),
                client_fin_ms: ms(fe.timeouts.client_fin),
                nolinger: fe.nolinger,
                tcplog: fe.log_options.tcplog,
                binds,
                http: None,
                tcp_connection,
                tcp_content: crate::http::plan::tcp_rules(
                    &fe.rules.tcp_content,
                    &fe.acls,
                    section(fe),
                    &fe.name,
                    &mut crate::http::plan::Needs::default(),
                )?,
                inspect_ms: ms(fe.rules.inspect_delay),
            });
        }
        Ok(Plan {
            nbthread,
            cpus,
            global_maxconn,
            maxaccept: g.tune_maxaccept.unwrap_or(64).max(1),
            bufsize: g.tune_bufsize.max(1024),
            pipesize: g.tune_pipesize.unwrap_or(0),
            hard_stop_after_ms: ms(g.hard_stop_after),
            frontends,
            backends,
            addrs,
        })
    }

    fn backend(
        be: &Backend,
        _cfg: &Config,
        ports: &[u16],
        addrs: &mut Vec<SocketAddr>,
    ) -> Result<BackendPlan, ProxyError> {
        let mut servers = Vec::with_capacity(be.servers.len());
        for s in &be.servers {
            let resolve_err = |reason: String| ProxyError::Resolve {
                loc: s.loc.clone(),
                backend: be.name.clone(),
                server: s.name.clone(),
                reason,
            };
            let ip = match &s.addr.host {
                ServerHost::Ip(ip) => *ip,
                ServerHost::Name(n) => (n.as_str(), 0)
                    .to_socket_addrs()
                    .map_err(|e| resolve_err(e.to_string()))?
                    .next()
                    .ok_or_else(|| resolve_err("no address".into()))?
                    .ip(),
            };
            let mut push = |port: u16| {
                addrs.push(SocketAddr::new(ip, port));
                AddrId(u32::try_from(addrs.len() - 1).unwrap_or(u32::MAX))
            };
            let addr = match s.addr.port {
                ServerPort::Fixed(p) => ServerAddrPlan::Fixed(push(p)),
                ServerPort::SameAsClient => {
                    ServerAddrPlan::ByPort(ports.iter().map(|p| (*p, push(*p))).collect())
                }
                ServerPort::Offset(off) => ServerAddrPlan::ByPort(
                    ports
                        .iter()
                        .filter_map(|p| {
                            u16::try_from(i32::from(*p) + off)
                                .ok()
                                .map(|q| (*p, push(q)))
                        })
                        .collect(),
                ),
            };
            servers.push(ServerPlan {
                name: s.name.clone(),
                weight: s.weight,
                maxconn: s.maxconn.unwrap_or(0),
                backup: s.backup,
                disabled: s.disabled,
                shutdown_on_down: s.shutdown_on_down,
                shutdown_backup_on_up: s.shutdown_backup_on_up,
                addr,
            });
        }
        let connect_ms = ms(be.timeouts.connect);
        Ok(BackendPlan {
            name: be.name.clone(),
            servers,
            retries: be.retries,
            redispatch: be.redispatch.is_some(),
            connect_ms,
            server_ms: ms(be.timeouts.server),
            server_fin_ms: ms(be.timeouts.server_fin),
            queue_ms: ms(be.timeouts.queue).or(connect_ms),
            tunnel_ms: ms(be.timeouts.tunnel),
            splice_request: be.splice.auto || be.splice.request,
            splice_response: be.splice.auto || be.splice.response,
            nolinger: be.nolinger,
            allbackups: be.allbackups,
            algorithm: crate::pick::algorithm(&be.balance),
            hash_type: crate::pick::hash_type(&be.hash_type),
            lb_key: crate::pick::HttpKey::of(&be.balance),
            use_server: crate::http::plan::use_server(be)?,
            // mode http: the backend's rules and options.
            http: if be.mode == Mode::Http {
                Some(Box::new(crate::http::plan::backend(be)?))
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_maxconn_follows_fd_limit() {
        assert_eq!(default_maxconn(20_000), (20_000 - 64) / 3);
        assert_eq!(default_maxconn(0), FALLBACK_MAXCONN);
        assert_eq!(default_maxconn(10), 1);
    }

    #[test]
    fn zero_timeout_means_none() {
        assert_eq!(ms(Some(Duration::ZERO)), None);
        assert_eq!(ms(Some(Duration::from_micros(10))), Some(1));
        assert_eq!(ms(Some(Duration::from_secs(2))), Some(2000));
    }
}
