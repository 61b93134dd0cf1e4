//! The configuration model: plain data, no behaviour beyond small accessors.
//!
//! Everything here is what the rest of weir codes against. Values are already
//! validated and resolved (defaults sections applied, `default-server` applied
//! to servers, units converted), so consumers never re-interpret text.
//! Field names follow HAProxy's keywords; each field says which keyword sets it.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where a configuration item was written: file name as given on the command
/// line (or to [`crate::parse_str`]) and 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loc {
    /// File name as the user spelled it (shared by every `Loc` of that file).
    pub file: Arc<str>,
    /// 1-based line number.
    pub line: u32,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The whole configuration after all `-f` files were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The `global` section(s), merged in file order.
    pub global: Global,
    /// Every `frontend`, plus one per `listen` section, in file order.
    pub frontends: Vec<Frontend>,
    /// Every `backend`, plus one per `listen` section, in file order.
    pub backends: Vec<Backend>,
    /// Non-fatal remarks, in file order (`weir -c` prints them).
    pub warnings: Vec<Warning>,
    /// `xdp` sections (weir's own: the XDP L4 balancer), in file order.
    pub xdp: Vec<crate::xdp::XdpSection>,
}

impl Config {
    /// The backend called `name`, if any.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }

    /// The frontend called `name`, if any.
    pub fn frontend(&self, name: &str) -> Option<&Frontend> {
        self.frontends.iter().find(|f| f.name == name)
    }
}

/// Process-wide settings (`global` section).
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    /// `nbthread N`: worker threads. `None` = one per online CPU (HAProxy's default).
    pub nbthread: Option<usize>,
    /// `cpu-map` lines, in file order.
    pub cpu_map: Vec<CpuMap>,
    /// `maxconn N`: process-wide concurrent connection limit.
    pub maxconn: Option<u32>,
    /// `user NAME`: user to switch to after binding.
    pub user: Option<String>,
    /// `group NAME`: group to switch to after binding.
    pub group: Option<String>,
    /// `uid N`: numeric user id to switch to. `user` and `uid` name the same
    /// thing: as in HAProxy the first one written is kept (the other gets a
    /// warning), so at most one of `user`/`uid` is set.
    pub uid: Option<u32>,
    /// `gid N`: numeric group id (at most one of `group`/`gid` is set).
    pub gid: Option<u32>,
    /// `chroot DIR`.
    pub chroot: Option<PathBuf>,
    /// `daemon`: fork into the background.
    pub daemon: bool,
    /// `pidfile PATH`.
    pub pidfile: Option<PathBuf>,
    /// `stats socket …` lines (the runtime API listeners).
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout T`: idle timeout of a stats socket connection
    /// (HAProxy's default is 10s when unset).
    pub stats_timeout: Option<Duration>,
    /// `tune.bufsize N` in bytes (default 16384).
    pub tune_bufsize: usize,
    /// `tune.maxaccept N`: connections accepted per listener per loop turn.
    /// `None` = HAProxy's default (64 with several threads). `-1` in the file
    /// means unlimited and is stored as `Some(u32::MAX)`.
    pub tune_maxaccept: Option<u32>,
    /// `tune.pipesize N` in bytes: size of splice pipes (`None` = kernel default).
    pub tune_pipesize: Option<usize>,
    /// `tune.maxpollevents N`: events handled per poll (per io_uring turn).
    pub tune_maxpollevents: Option<u32>,
    /// `hard-stop-after T`: after a soft stop, close what remains after T.
    pub hard_stop_after: Option<Duration>,
    /// `log …` lines of the global section (used by proxies with `log global`).
    pub logs: Vec<LogTarget>,
    /// `steer-connections cpu|source|off` (weir's own keyword): how a new
    /// connection picks a worker's listener. `None`: `cpu` when every
    /// worker is pinned to a CPU of its own, else the kernel's spreading.
    pub steer_connections: Option<SteerConnections>,
}

/// How new connections are spread over the workers' SO_REUSEPORT listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteerConnections {
    /// To the worker pinned to the CPU that received the packet.
    Cpu,
    /// By a hash of the connection's addresses and ports (the same client
    /// port lands on the same worker).
    Source,
    /// The kernel's own reuseport spreading.
    Off,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            nbthread: None,
            cpu_map: Vec::new(),
            maxconn: None,
            user: None,
            group: None,
            uid: None,
            gid: None,
            chroot: None,
            daemon: false,
            pidfile: None,
            stats_sockets: Vec::new(),
            stats_timeout: None,
            tune_bufsize: DEFAULT_BUFSIZE,
            tune_maxaccept: None,
            tune_pipesize: None,
            tune_maxpollevents: None,
            hard_stop_after: None,
            logs: Vec::new(),
            steer_connections: None,
        }
    }
}

/// HAProxy's default `tune.bufsize`.
pub const DEFAULT_BUFSIZE: usize = 16384;

/// One `cpu-map [auto:]PROCESS[/THREADS] CPUS…` line (HAProxy 2.6 syntax: the
/// process set must designate process 1, since nbproc is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMap {
    /// Where the line is.
    pub loc: Loc,
    /// `auto:` prefix: threads and CPUs are paired one to one, in order.
    pub auto: bool,
    /// 1-based thread numbers this line applies to; empty = all threads (the
    /// `1` or `1/all` form, binding every thread to the whole CPU set).
    /// `odd`/`even` expand over 64 threads, as in HAProxy; numbers above
    /// the real thread count are to be ignored, as HAProxy does.
    pub threads: Vec<u32>,
    /// CPU numbers (0-based, as the kernel counts them), in ascending order.
    pub cpus: Vec<u32>,
}

/// Address of a `stats socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAddr {
    /// A UNIX socket path (the usual form).
    Unix(PathBuf),
    /// `ipv4@`/`ipv6@`/plain `ADDR:PORT`.
    Inet(SocketAddr),
    /// `fd@N`: an inherited file descriptor.
    Fd(RawFd),
}

/// Privilege level of a stats socket (`level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsLevel {
    /// `level user`: read-only, no sensitive data.
    User,
    /// `level operator`: read-only plus a few harmless actions.
    Operator,
    /// `level admin`: everything.
    Admin,
}

/// One `stats socket ADDR [options…]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    /// Where the line is.
    pub loc: Loc,
    /// Where to listen.
    pub addr: StatsAddr,
    /// `mode OCTAL`: permissions of the UNIX socket file.
    pub mode: Option<u32>,
    /// `level L`; HAProxy documents `operator` as the default (section 5.1,
    /// bind option "level").
    pub level: StatsLevel,
    /// `user NAME`: owner of the UNIX socket file.
    pub user: Option<String>,
    /// `group NAME`: group of the UNIX socket file.
    pub group: Option<String>,
    /// `uid N`.
    pub uid: Option<u32>,
    /// `gid N`.
    pub gid: Option<u32>,
    /// `expose-fd listeners`: the socket may pass listening fds (seamless reload).
    pub expose_fd_listeners: bool,
}

/// Syslog facility of a `log` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // The names are syslog's own.
pub enum Facility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Auth2,
    Ftp,
    Ntp,
    Audit,
    Alert,
    Cron2,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

/// Syslog severity of a `log` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)] // The names are syslog's own; Emerg = 0 … Debug = 7.
pub enum Level {
    Emerg,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

/// Where a `log` line sends messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogAddr {
    /// `stdout` (the `fd@1` shortcut).
    Stdout,
    /// `stderr` (the `fd@2` shortcut).
    Stderr,
    /// `fd@N`.
    Fd(RawFd),
    /// A UNIX datagram socket path (for example `/dev/log`).
    Unix(PathBuf),
    /// UDP syslog (port 514 when omitted).
    Udp(SocketAddr),
    /// A host name to resolve at start-up, with its UDP port.
    UdpHost(String, u16),
}

/// Message format of a `log` line (`format …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // Names are HAProxy's keywords.
pub enum LogFormat {
    Rfc3164,
    Rfc5424,
    Short,
    Timed,
    Iso,
    Priority,
    Raw,
    Local,
}

/// One `log` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// `log global` in a proxy: use the global section's targets.
    Global(Loc),
    /// A concrete target.
    Target(LogSpec),
}

/// `log ADDR [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSpec {
    /// Where the line is.
    pub loc: Loc,
    /// Destination.
    pub addr: LogAddr,
    /// `len N`: maximum line length (HAProxy's default 1024).
    pub len: Option<u32>,
    /// `format F` (default `rfc3164`).
    pub format: LogFormat,
    /// Syslog facility.
    pub facility: Facility,
    /// Most verbose level sent (`None` = all).
    pub max_level: Option<Level>,
    /// Levels more urgent than this are lowered to it (`None` = unchanged).
    pub min_level: Option<Level>,
}

/// Proxy mode (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `mode tcp`: HAProxy's default.
    #[default]
    Tcp,
    /// `mode http`.
    Http,
}

/// The timeouts a proxy may set (`timeout KIND T`). `None` = no timeout: not
/// set, or set to 0, which HAProxy treats as infinite too. (HAProxy then
/// applies its own fallbacks, e.g. `http-request` falls back to `client`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// `timeout connect`.
    pub connect: Option<Duration>,
    /// `timeout client` (also `clitimeout` in old configs, which we reject).
    pub client: Option<Duration>,
    /// `timeout server`.
    pub server: Option<Duration>,
    /// `timeout queue`: how long a connection may wait for a server slot.
    pub queue: Option<Duration>,
    /// `timeout tunnel`: bidirectional inactivity once a tunnel is set up.
    pub tunnel: Option<Duration>,
    /// `timeout client-fin`: inactivity after the client half-closed.
    pub client_fin: Option<Duration>,
    /// `timeout server-fin`: inactivity after the server half-closed.
    pub server_fin: Option<Duration>,
    /// `timeout http-request`: time to receive a complete request head.
    pub http_request: Option<Duration>,
    /// `timeout http-keep-alive`: wait for the next request on a kept-alive connection.
    pub http_keep_alive: Option<Duration>,
    /// `timeout check`: extra read timeout of health checks.
    pub check: Option<Duration>,
    /// `timeout tarpit`.
    pub tarpit: Option<Duration>,
}

/// Logging options of a proxy (`option tcplog|httplog|dontlognull…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogOptions {
    /// `option tcplog`.
    pub tcplog: bool,
    /// `option httplog` (`clf` variant in `httplog_clf`).
    pub httplog: bool,
    /// `option httplog clf`.
    pub httplog_clf: bool,
    /// `option dontlognull`: don't log connections without data.
    pub dontlognull: bool,
    /// `option dontlog-normal`: log only errors.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`.
    pub log_separate_errors: bool,
    /// `option logasap`.
    pub logasap: bool,
    /// `option log-health-checks`: log health check state changes in detail.
    pub log_health_checks: bool,
}

/// Splice use, resolved from `option splice-auto|splice-request|splice-response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpliceMode {
    /// `option splice-request`: splice client→server always.
    pub request: bool,
    /// `option splice-response`: splice server→client always.
    pub response: bool,
    /// `option splice-auto`: let weir decide (both directions, when it pays).
    pub auto: bool,
}

/// TCP keep-alive options (`option tcpka|clitcpka|srvtcpka`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpKeepalive {
    /// SO_KEEPALIVE on client-side sockets (`clitcpka`, or `tcpka`).
    pub client: bool,
    /// SO_KEEPALIVE on server-side sockets (`srvtcpka`, or `tcpka`).
    pub server: bool,
}

/// Where a listener listens (`bind` address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindAddr {
    /// An IPv4 or IPv6 address and port (wildcards already resolved to
    /// `0.0.0.0` / `::`).
    Inet(SocketAddr),
    /// `fd@N`: an already-open listening socket inherited from the parent.
    Fd(RawFd),
}

/// One listening address (a `bind` line with a comma list or a port range
/// becomes one `Bind` per address and port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Where the `bind` line is.
    pub loc: Loc,
    /// The address as written for this entry (for error messages naming the
    /// bind line, e.g. "address in use").
    pub spec: String,
    /// The address.
    pub addr: BindAddr,
    /// `name NAME`.
    pub name: Option<String>,
    /// `backlog N`: listen backlog (default: the frontend's maxconn).
    pub backlog: Option<u32>,
    /// `maxconn N`: per-listener limit.
    pub maxconn: Option<u32>,
    /// `v4v6`: an IPv6 wildcard also accepts IPv4.
    pub v4v6: bool,
    /// `v6only`: an IPv6 socket accepts only IPv6.
    pub v6only: bool,
    /// `interface NAME`: SO_BINDTODEVICE.
    pub interface: Option<String>,
    /// `transparent`: IP_TRANSPARENT (bind a non-local address).
    pub transparent: bool,
    /// `defer-accept`: TCP_DEFER_ACCEPT.
    pub defer_accept: bool,
    /// `tfo`: TCP fast open.
    pub tfo: bool,
}

/// A condition (`if …` / `unless …`) kept as its tokens until the ACL engine
/// evaluates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Where the condition is written.
    pub loc: Loc,
    /// `if` (false) or `unless` (true).
    pub negate: bool,
    /// The words after `if`/`unless`, already unquoted.
    pub tokens: Vec<String>,
}

/// `acl NAME FETCH …`: one declaration, kept as its words (already checked
/// by the ACL engine); lines with the same name OR together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclDecl {
    /// Where the line is.
    pub loc: Loc,
    /// The ACL name.
    pub name: String,
    /// The words after the name, already unquoted.
    pub words: Vec<String>,
}

/// `use_backend NAME [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    /// Where the line is.
    pub loc: Loc,
    /// Target backend (checked to exist).
    pub backend: String,
    /// Condition, if any.
    pub cond: Option<Condition>,
}

/// A `frontend` (or the listening half of a `listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct Frontend {
    /// Section name.
    pub name: String,
    /// Where the section starts.
    pub loc: Loc,
    /// True when this frontend came from a `listen` section (the backend of the
    /// same name is its other half).
    pub from_listen: bool,
    /// `mode`.
    pub mode: Mode,
    /// Listening addresses, one entry per address/port.
    pub binds: Vec<Bind>,
    /// `maxconn N` (HAProxy's per-frontend default applies when `None`).
    pub maxconn: Option<u32>,
    /// Timeouts (the client-side ones matter here).
    pub timeouts: Timeouts,
    /// `default_backend NAME` (checked to exist).
    pub default_backend: Option<String>,
    /// `use_backend` rules in file order.
    pub use_backend: Vec<UseBackend>,
    /// `acl` declarations in file order (conditions above refer to them).
    pub acls: Vec<AclDecl>,
    /// Logging options.
    pub log_options: LogOptions,
    /// `log` lines (empty = no logging).
    pub logs: Vec<LogTarget>,
    /// Splice policy.
    pub splice: SpliceMode,
    /// TCP keep-alive.
    pub tcpka: TcpKeepalive,
    /// `option nolinger`: close with RST (SO_LINGER 0) on client side.
    pub nolinger: bool,
    /// `disabled`: the frontend is defined but not started.
    pub disabled: bool,
    /// `mode http` settings (see [`crate::kw::http`]).
    pub http: crate::kw::http::HttpSettings,
    /// `tcp-request` and `use-server` rules (see [`crate::kw::rules`]).
    pub rules: crate::kw::rules::RuleSettings,
}

/// Balancing algorithm (`balance`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Balance {
    /// `roundrobin` (dynamic, weighted): HAProxy's default.
    #[default]
    RoundRobin,
    /// `static-rr`.
    StaticRr,
    /// `leastconn`.
    LeastConn,
    /// `first`.
    First,
    /// `source`: hash of the client address.
    Source,
    /// `random[(draws)]`: pick the least loaded of `draws` random servers
    /// (default 2, "power of two choices").
    Random {
        /// Number of draws (>= 1).
        draws: u32,
    },
    /// `uri [whole] [len N] [depth N] [path-only]` (mode http).
    Uri {
        /// `whole`: hash the query string too.
        whole: bool,
        /// `len N`: hash only the first N characters (0 = all).
        len: u32,
        /// `depth N`: hash only the first N directories (0 = all).
        depth: u32,
        /// `path-only`: ignore scheme and authority of absolute URIs.
        path_only: bool,
    },
    /// `url_param NAME` (mode http; `check_post` is refused: weir does
    /// not search request bodies before balancing).
    UrlParam {
        /// Parameter name.
        name: String,
    },
    /// `hash EXPR`: the binary form of a sample expression (mode http; in
    /// mode tcp there is no key and round robin picks).
    Hash {
        /// The expression, validated when parsed.
        expr: String,
    },
    /// `hdr(NAME) [use_domain_only]` (mode http).
    Hdr {
        /// Header name.
        name: String,
        /// `use_domain_only`: hash only the domain part.
        use_domain_only: bool,
    },
}

/// How hash-based algorithms map a hash to a server (`hash-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashMethod {
    /// `map-based`: hash modulo the total weight (HAProxy's default).
    #[default]
    MapBased,
    /// `consistent`: a ring; changing servers moves few keys.
    Consistent,
}

/// Hash function of `hash-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashFunction {
    /// `sdbm` (default).
    #[default]
    Sdbm,
    /// `djb2`.
    Djb2,
    /// `wt6`.
    Wt6,
    /// `crc32`.
    Crc32,
    /// `none`: the key is already an integer hash. HAProxy 2.6 does not have
    /// it and the parser never produces it; kept for the balancer's API.
    None,
}

/// `hash-type METHOD [FUNCTION] [avalanche]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashType {
    /// map-based or consistent.
    pub method: HashMethod,
    /// Hash function.
    pub function: HashFunction,
    /// `avalanche` modifier: mix the hash before use.
    pub avalanche: bool,
}

/// `option redispatch [INTERVAL]`: on a retry, give up the assigned server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redispatch {
    /// Redispatch on every Nth retry (positive), or on the Nth before the last
    /// (negative); HAProxy's default is -1: the last retry.
    pub interval: i32,
}

/// How a server's port is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPort {
    /// An explicit port.
    Fixed(u16),
    /// No port written: use the port the client connected to.
    SameAsClient,
    /// `+N` / `-N`: the client's destination port plus this offset.
    Offset(i32),
}

/// How a server's host is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHost {
    /// A literal IP address.
    Ip(IpAddr),
    /// A host name, resolved at start-up (HAProxy resolves with libc; weir's
    /// binary does the same, [`crate::resolve`] helps).
    Name(String),
}

/// A server's address as written: host and port kinds are explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// Host.
    pub host: ServerHost,
    /// Port.
    pub port: ServerPort,
}

impl ServerAddr {
    /// The socket address when the host is a literal IP and the port fixed.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match (&self.host, self.port) {
            (ServerHost::Ip(ip), ServerPort::Fixed(p)) => Some(SocketAddr::new(*ip, p)),
            _ => None,
        }
    }
}

/// Health-check parameters (`check`, `inter`, `fastinter`, `downinter`,
/// `rise`, `fall`, `port`, `addr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `inter T`: interval between checks (default 2s).
    pub inter: Duration,
    /// `fastinter T`: interval while transitioning (default `inter`).
    pub fastinter: Option<Duration>,
    /// `downinter T`: interval while down (default `inter`).
    pub downinter: Option<Duration>,
    /// `rise N`: consecutive successes to go up (default 2).
    pub rise: u32,
    /// `fall N`: consecutive failures to go down (default 3).
    pub fall: u32,
    /// `port N`: check this port instead of the server's.
    pub port: Option<u16>,
    /// `addr IP`: check this address instead of the server's.
    pub addr: Option<IpAddr>,
}

impl Default for Check {
    fn default() -> Self {
        Check {
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            port: None,
            addr: None,
        }
    }
}

/// How health checks probe a server (`option httpchk`, `http-check expect`);
/// plain TCP connect checks when nothing else is configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CheckKind {
    /// A TCP connection that opens is a success (HAProxy's default).
    #[default]
    Tcp,
    /// An HTTP request (`option httpchk`).
    Http(HttpCheck),
}

/// `option httpchk [<method>] [<uri>] [<version>]` and `http-check expect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// Request method (default `OPTIONS`).
    pub method: String,
    /// Request URI (default `/`).
    pub uri: String,
    /// HTTP version (default `HTTP/1.0`).
    pub version: String,
    /// Headers given with the legacy `HTTP/1.1\r\nHost:\ x` version trick
    /// or `http-check send hdr`.
    pub headers: Vec<(String, String)>,
    /// `http-check send body` (sent with a `Content-Length`).
    pub body: Option<String>,
    /// `http-check expect …` (`None`: any 2xx or 3xx status passes).
    pub expect: Option<HttpExpect>,
}

/// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]… [body B]`:
/// what it changes in the `option httpchk` request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpSend {
    /// `meth`: the request method.
    pub method: Option<String>,
    /// `uri`: the request URI.
    pub uri: Option<String>,
    /// `ver`: the HTTP version.
    pub version: Option<String>,
    /// `hdr NAME VALUE`, in order.
    pub headers: Vec<(String, String)>,
    /// `body`: the request body.
    pub body: Option<String>,
}

/// What a successful HTTP check response looks like (`http-check expect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExpect {
    /// `!`: the check passes when the rule does *not* match.
    pub negate: bool,
    /// The rule.
    pub rule: ExpectRule,
}

/// An `http-check expect` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectRule {
    /// `status <codes>`: inclusive ranges, from `200`, `200-399`, `200,301`.
    Status(Vec<(u16, u16)>),
    /// `string <text>`: the body contains the text.
    String(String),
    /// `rstatus <regex>`: the regex matches the status code (3 digits).
    RStatus(String),
    /// `rstring <regex>`: the regex matches the body.
    RString(String),
}

/// Server options that `default-server` may set and `server` may override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDefaults {
    /// `weight N` (0..=256, default 1).
    pub weight: u32,
    /// `maxconn N` (`None` or 0 = unlimited).
    pub maxconn: Option<u32>,
    /// `minconn N` (dynamic limit with `fullconn`).
    pub minconn: Option<u32>,
    /// `maxqueue N`.
    pub maxqueue: Option<u32>,
    /// `backup` / `no-backup`.
    pub backup: bool,
    /// `disabled` / `enabled`.
    pub disabled: bool,
    /// `check` / `no-check`.
    pub check_enabled: bool,
    /// Check parameters (kept even when checks are off, as HAProxy does).
    pub check: Check,
    /// `slowstart T`.
    pub slowstart: Option<Duration>,
    /// `on-marked-down shutdown-sessions`.
    pub shutdown_on_down: bool,
    /// `on-marked-up shutdown-backup-sessions`.
    pub shutdown_backup_on_up: bool,
}

impl Default for ServerDefaults {
    fn default() -> Self {
        ServerDefaults {
            weight: 1,
            maxconn: None,
            minconn: None,
            maxqueue: None,
            backup: false,
            disabled: false,
            check_enabled: false,
            check: Check::default(),
            slowstart: None,
            shutdown_on_down: false,
            shutdown_backup_on_up: false,
        }
    }
}

/// A `server` line, with `default-server` already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Server name (unique in its backend).
    pub name: String,
    /// Where the line is.
    pub loc: Loc,
    /// Address.
    pub addr: ServerAddr,
    /// `weight N` (0..=256, default 1).
    pub weight: u32,
    /// `maxconn N`.
    pub maxconn: Option<u32>,
    /// `minconn N`.
    pub minconn: Option<u32>,
    /// `maxqueue N`.
    pub maxqueue: Option<u32>,
    /// `backup`.
    pub backup: bool,
    /// `disabled`: starts in maintenance.
    pub disabled: bool,
    /// Health checks, present iff `check` is on for this server.
    pub check: Option<Check>,
    /// `slowstart T`.
    pub slowstart: Option<Duration>,
    /// `on-marked-down shutdown-sessions`.
    pub shutdown_on_down: bool,
    /// `on-marked-up shutdown-backup-sessions`.
    pub shutdown_backup_on_up: bool,
}

/// A `backend` (or the server half of a `listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    /// Section name.
    pub name: String,
    /// Where the section starts.
    pub loc: Loc,
    /// True when this backend came from a `listen` section.
    pub from_listen: bool,
    /// `mode`.
    pub mode: Mode,
    /// `balance`.
    pub balance: Balance,
    /// `hash-type`.
    pub hash_type: HashType,
    /// Servers in file order.
    pub servers: Vec<Server>,
    /// The `default-server` settings in effect at the end of the section
    /// (already applied to each server as it was declared).
    pub default_server: ServerDefaults,
    /// `retries N` (default 3).
    pub retries: u32,
    /// `option redispatch [N]` (`None` = off).
    pub redispatch: Option<Redispatch>,
    /// `option allbackups`: use all backups at once, not only the first.
    pub allbackups: bool,
    /// How health checks probe servers.
    pub check_kind: CheckKind,
    /// Timeouts (the server-side ones matter here).
    pub timeouts: Timeouts,
    /// `fullconn N`.
    pub fullconn: Option<u32>,
    /// `maxconn N` set on a listen/defaults (backend's own concurrency; HAProxy
    /// only uses it for fullconn's default).
    pub maxconn: Option<u32>,
    /// Logging options.
    pub log_options: LogOptions,
    /// `log` lines.
    pub logs: Vec<LogTarget>,
    /// Splice policy.
    pub splice: SpliceMode,
    /// TCP keep-alive.
    pub tcpka: TcpKeepalive,
    /// `option nolinger` on server side.
    pub nolinger: bool,
    /// `disabled`.
    pub disabled: bool,
    /// `acl` declarations in file order (for backend-side rules).
    pub acls: Vec<AclDecl>,
    /// `mode http` settings (see [`crate::kw::http`]).
    pub http: crate::kw::http::HttpSettings,
    /// `tcp-request` and `use-server` rules (see [`crate::kw::rules`]).
    pub rules: crate::kw::rules::RuleSettings,
}

/// HAProxy's default `retries`.
pub const DEFAULT_RETRIES: u32 = 3;

/// A non-fatal remark about the configuration (HAProxy prints these as
/// `[WARNING]` and starts anyway): e.g. a `timeout client` in a backend,
/// which has no effect there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub loc: Loc,
    /// In which section.
    pub section: Option<crate::error::SectionRef>,
    /// What, in words.
    pub msg: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.section {
            Some(s) => write!(f, "{}: {} {}", self.loc, s, self.msg),
            None => write!(f, "{}: {}", self.loc, self.msg),
        }
    }
}
