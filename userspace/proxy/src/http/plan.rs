//! The `mode http` part of the plan: conditions compiled by the ACL engine,
//! backend names turned into indices, timeouts in milliseconds, error pages
//! ready to send. Built once at start-up (see [`crate::plan::Plan::new`]),
//! read-only afterwards.

use std::net::IpAddr;

use weir_config::kw::http::{
    log_format, log_format_text, ConnMode, ErrorPage, ForwardFor, HttpAction, HttpRule,
    HttpSettings, LfPart, Reuse,
};
use weir_config::kw::rules::{TcpAction, TcpRule};
use weir_config::{AclDecl, Backend, Config, Frontend, Loc, Mode};
use weir_core::acl::{Condition, FetchKind, Loader, Rewrite, SampleExpr};

use crate::ProxyError;

/// One rule with its compiled condition.
#[derive(Debug)]
pub struct Rule {
    /// `None`: always applies.
    pub cond: Option<Condition>,
    /// What it does.
    pub action: HttpAction,
    /// The action's log-format value compiled (`set-header`, `add-header`,
    /// `set-path`, `set-pathq`, `set-query`, `set-uri`, the replacement of
    /// the `replace-*` actions).
    pub value: Option<Value>,
    /// The regex of the `replace-*` actions.
    pub rewrite: Option<Rewrite>,
    /// The expression of `set-var`.
    pub expr: Option<SampleExpr>,
    /// `tarpit`: how long to hold the request (`timeout tarpit`, else
    /// `timeout connect`, of the rule's section).
    pub tarpit_ms: Option<u64>,
    /// `capture … len N`: the frontend's slot (in rule order) and N.
    pub capture: Option<(usize, usize)>,
}

/// A compiled `tcp-request connection|content` rule.
#[derive(Debug)]
pub struct TcpRulePlan {
    /// `None`: always applies.
    pub cond: Option<Condition>,
    /// What it does.
    pub action: TcpAction,
}

/// Compiles the `use-server` rules of `be`: condition and server index.
///
/// # Errors
/// [`ProxyError::Unsupported`] for a condition that does not compile or an
/// unknown server.
pub fn use_server(be: &Backend) -> Result<Vec<(Option<Condition>, u16)>, ProxyError> {
    let mut needs = Needs::default();
    be.rules
        .use_server
        .iter()
        .map(|u| {
            let i = be
                .servers
                .iter()
                .position(|s| s.name == u.server)
                .and_then(|i| u16::try_from(i).ok())
                .ok_or_else(|| {
                    unsupported(
                        &u.loc,
                        "backend",
                        &be.name,
                        format!("no server '{}'", u.server),
                    )
                })?;
            let cond = match &u.cond {
                Some(c) => Some(compile(&be.acls, c, "backend", &be.name, &mut needs)?),
                None => None,
            };
            Ok((cond, i))
        })
        .collect()
}

/// Compiles `tcp-request` rules; `needs` learns what they read.
///
/// # Errors
/// [`ProxyError::Unsupported`] for a condition that does not compile.
pub fn tcp_rules(
    list: &[TcpRule],
    acls: &[AclDecl],
    section: &'static str,
    name: &str,
    needs: &mut Needs,
) -> Result<Vec<TcpRulePlan>, ProxyError> {
    list.iter()
        .map(|r| {
            Ok(TcpRulePlan {
                cond: match &r.cond {
                    Some(c) => Some(compile(acls, c, section, name, needs)?),
                    None => None,
                },
                action: r.action,
            })
        })
        .collect()
}

/// One piece of a compiled log-format value.
#[derive(Debug)]
pub enum Part {
    /// Literal bytes.
    Lit(Box<[u8]>),
    /// `%[…]`: its first sample.
    Expr(Box<SampleExpr>),
    /// `%ci`, `%HM`… (see `weir_config::kw::http::LF_ALIASES`).
    Alias(&'static str),
}

/// A compiled log-format value.
pub type Value = Vec<Part>;

/// `multiline`: a body, where line breaks are allowed.
fn compile_value(
    text: &str,
    multiline: bool,
    loc: &Loc,
    section: &'static str,
    name: &str,
) -> Result<Value, ProxyError> {
    let parts = if multiline {
        log_format_text(text)
    } else {
        log_format(text)
    }
    .map_err(|e| unsupported(loc, section, name, e))?;
    let loader = Loader {
        read_file: &|p: &str| std::fs::read_to_string(p),
        env: &env,
    };
    parts
        .into_iter()
        .map(|p| {
            Ok(match p {
                LfPart::Lit(s) => Part::Lit(s.into_bytes().into_boxed_slice()),
                LfPart::Alias(a) => Part::Alias(a),
                LfPart::Expr(e) => {
                    Part::Expr(Box::new(SampleExpr::parse(&e, &loader).map_err(|err| {
                        unsupported(loc, section, name, format!("'%[{e}]': {err}"))
                    })?))
                }
            })
        })
        .collect()
}

/// What a list of conditions needs from the connection (addresses cost a
/// system call each, so they are read only when some rule needs them).
#[derive(Debug, Default, Clone, Copy)]
pub struct Needs {
    /// `src`, `src_port` or `option forwardfor`.
    pub src: bool,
    /// `dst`, `dst_port`.
    pub dst: bool,
}

impl Needs {
    fn add(&mut self, c: &Condition) {
        for f in c.fetches() {
            match f.kind {
                FetchKind::Src | FetchKind::SrcPort => self.src = true,
                FetchKind::Dst | FetchKind::DstPort => self.dst = true,
                _ => {}
            }
        }
    }
}

/// Settings both sides have; the effective value combines the two.
#[derive(Debug)]
pub struct Common {
    /// `http-request` rules.
    pub request: Vec<Rule>,
    /// `http-response` rules.
    pub response: Vec<Rule>,
    /// `option forwardfor`.
    pub forwardfor: Option<ForwardFor>,
    /// Connection mode as configured on this side.
    pub mode: Option<ConnMode>,
    /// `errorfile`s and `http-error`s: status and the raw response.
    pub errorfiles: Vec<(u16, Box<[u8]>)>,
    /// Proxy-level `redirect` rules (after the `http-request` rules).
    pub redirect: Vec<Rule>,
    /// `tcp-request content` rules (evaluated once the request head is
    /// parsed, before the `http-request` rules).
    pub content: Vec<TcpRulePlan>,
}

/// A `mode http` frontend.
#[derive(Debug)]
pub struct HttpFrontendPlan {
    /// `use_backend` rules in order: condition (None: unconditional) and backend index.
    pub switching: Vec<(Option<Condition>, usize)>,
    /// For a `listen`, its own backend half: the rules of the section run
    /// once, as the frontend's, when a request stays in it.
    pub own_backend: Option<usize>,
    /// `default_backend`.
    pub default_backend: Option<usize>,
    /// Rules, options, error pages.
    pub common: Common,
    /// `timeout http-request` (else `timeout client`).
    pub http_request_ms: Option<u64>,
    /// `timeout http-keep-alive` (else `timeout http-request`).
    pub keep_alive_ms: Option<u64>,
    /// Parser settings (`tune.bufsize`).
    pub opts: weir_http::Options,
    /// `monitor-uri` and its `monitor fail` conditions.
    pub monitor: Option<Monitor>,
    /// What the conditions read.
    pub needs: Needs,
}

/// `monitor-uri URI` with its `monitor fail` conditions: a request whose
/// target is exactly URI is answered 200 (503 when a condition holds),
/// before the `http-request` rules, and never forwarded.
#[derive(Debug)]
pub struct Monitor {
    /// The URI, as written.
    pub uri: Box<[u8]>,
    /// `monitor fail if|unless COND`, in order (any true: 503).
    pub fail: Vec<Condition>,
}

/// The http side of a backend.
#[derive(Debug)]
pub struct HttpBackendPlan {
    /// Rules, options, error pages.
    pub common: Common,
    /// `http-reuse` (`never` disables reuse across requests).
    pub reuse: Reuse,
    /// What the conditions read.
    pub needs: Needs,
}

fn env(v: &str) -> Option<String> {
    std::env::var(v).ok()
}

fn unsupported(loc: &Loc, section: &'static str, name: &str, what: String) -> ProxyError {
    ProxyError::Unsupported {
        loc: loc.clone(),
        section,
        name: name.to_string(),
        what,
    }
}

fn compile(
    acls: &[AclDecl],
    c: &weir_config::Condition,
    section: &'static str,
    name: &str,
    needs: &mut Needs,
) -> Result<Condition, ProxyError> {
    let cond = weir_config::kw::acl::compile_condition(acls, c, &env)
        .map_err(|e| unsupported(&c.loc, section, name, e))?;
    needs.add(&cond);
    Ok(cond)
}

fn expr_needs(e: &SampleExpr, needs: &mut Needs) {
    if let Some(f) = e.fetch() {
        match f.kind {
            FetchKind::Src | FetchKind::SrcPort => needs.src = true,
            FetchKind::Dst | FetchKind::DstPort => needs.dst = true,
            _ => {}
        }
    }
}

fn rules(
    list: &[HttpRule],
    acls: &[AclDecl],
    section: &'static str,
    name: &str,
    needs: &mut Needs,
    tarpit_ms: Option<u64>,
) -> Result<Vec<Rule>, ProxyError> {
    let mut slots = 0usize;
    list.iter()
        .map(|r| {
            let capture = match &r.action {
                HttpAction::Capture { len, .. } => {
                    slots += 1;
                    Some((slots - 1, usize::try_from(*len).unwrap_or(usize::MAX)))
                }
                _ => None,
            };
            let mut rewrite = None;
            let text = match &r.action {
                HttpAction::SetHeader { value, .. } | HttpAction::AddHeader { value, .. } => {
                    Some(value)
                }
                HttpAction::SetPath(v)
                | HttpAction::SetQuery(v)
                | HttpAction::SetUri(v)
                | HttpAction::SetPathQ(v) => Some(v),
                // `http-request redirect`: a log-format target.
                HttpAction::Redirect(spec) if spec.log_format => Some(&spec.target),
                HttpAction::ReplaceHeader(x)
                | HttpAction::ReplaceValue(x)
                | HttpAction::ReplacePath(x)
                | HttpAction::ReplacePathQ(x)
                | HttpAction::ReplaceUri(x) => {
                    rewrite = Some(
                        Rewrite::new(&x.regex)
                            .map_err(|e| unsupported(&r.loc, section, name, e))?,
                    );
                    Some(&x.repl)
                }
                _ => None,
            };
            let expr = match &r.action {
                HttpAction::SetVar { expr, .. } | HttpAction::Capture { expr, .. } => {
                    let loader = Loader {
                        read_file: &|p: &str| std::fs::read_to_string(p),
                        env: &env,
                    };
                    let e = SampleExpr::parse(expr, &loader).map_err(|err| {
                        unsupported(&r.loc, section, name, format!("'{expr}': {err}"))
                    })?;
                    expr_needs(&e, needs);
                    Some(e)
                }
                _ => None,
            };
            // `http-request return … lf-string|lf-file`: a log-format body.
            let body = match &r.action {
                HttpAction::Return(spec) if spec.body_log_format => {
                    Some(String::from_utf8_lossy(&spec.body).into_owned())
                }
                _ => None,
            };
            let value = match text
                .map(|t| (t.as_str(), false))
                .or(body.as_deref().map(|b| (b, true)))
            {
                Some((t, multiline)) => {
                    let v = compile_value(t, multiline, &r.loc, section, name)?;
                    for p in &v {
                        match p {
                            Part::Alias("ci" | "cp") => needs.src = true,
                            Part::Alias("fi" | "fp") => needs.dst = true,
                            Part::Expr(e) => expr_needs(e, needs),
                            _ => {}
                        }
                    }
                    Some(v)
                }
                None => None,
            };
            Ok(Rule {
                cond: match &r.cond {
                    Some(c) => Some(compile(acls, c, section, name, needs)?),
                    None => None,
                },
                action: r.action.clone(),
                value,
                rewrite,
                expr,
                tarpit_ms,
                capture,
            })
        })
        .collect()
}

fn common(
    h: &HttpSettings,
    content: &[TcpRule],
    acls: &[AclDecl],
    section: &'static str,
    name: &str,
    needs: &mut Needs,
    timeouts: &weir_config::Timeouts,
) -> Result<Common, ProxyError> {
    if h.forwardfor.is_some() {
        needs.src = true;
    }
    let tarpit_ms = ms(timeouts.tarpit).or(ms(timeouts.connect));
    Ok(Common {
        content: tcp_rules(content, acls, section, name, needs)?,
        request: rules(&h.request_rules, acls, section, name, needs, tarpit_ms)?,
        response: rules(&h.response_rules, acls, section, name, needs, tarpit_ms)?,
        forwardfor: h.forwardfor.clone(),
        mode: h.conn_mode,
        errorfiles: h
            .errorfiles
            .iter()
            .map(|e| (e.code, error_page(e.code, &e.page)))
            .collect(),
        redirect: rules(&h.redirect_rules, acls, section, name, needs, tarpit_ms)?,
    })
}

/// The bytes of a custom error page (an `http-error` reply is composed
/// once, here, closing the connection like weir's own pages).
fn error_page(code: u16, p: &ErrorPage) -> Box<[u8]> {
    match p {
        ErrorPage::Raw(b) => b.clone().into_boxed_slice(),
        ErrorPage::Default => {
            let mut buf = vec![0u8; 1024];
            let mut o = super::compose::Out::new(&mut buf);
            // weir's pages are a few hundred bytes.
            let n = match super::compose::error_page(&mut o, code, None) {
                Ok(()) => o.len(),
                Err(_) => 0,
            };
            buf.truncate(n);
            buf.into_boxed_slice()
        }
        ErrorPage::Reply(r) => {
            let size = 256
                + r.body.len()
                + r.content_type.as_ref().map_or(0, String::len)
                + r.headers
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 4)
                    .sum::<usize>();
            let mut buf = vec![0u8; size];
            let mut o = super::compose::Out::new(&mut buf);
            // The size above leaves room for the status line and the
            // fixed headers, so this cannot overflow.
            let n = match super::compose::returned(&mut o, r, &r.body, false, true) {
                Ok(()) => o.len(),
                Err(_) => 0,
            };
            buf.truncate(n);
            buf.into_boxed_slice()
        }
    }
}

fn ms(d: Option<std::time::Duration>) -> Option<u64> {
    d.filter(|d| !d.is_zero())
        .map(|d| u64::try_from(d.as_millis().max(1)).unwrap_or(u64::MAX))
}

/// Builds the http plan of frontend `fe` (which is `mode http`). Its
/// backends must be `mode http` too (HAProxy refuses the mix as well).
///
/// # Errors
/// [`ProxyError::Unsupported`] for a condition that does not compile or a
/// tcp backend behind an http frontend.
pub fn frontend(
    fe: &Frontend,
    section: &'static str,
    cfg: &Config,
    bufsize: usize,
) -> Result<HttpFrontendPlan, ProxyError> {
    let mut needs = Needs::default();
    let find = |n: &str, loc: &Loc| -> Result<usize, ProxyError> {
        let i = cfg
            .backends
            .iter()
            .position(|b| b.name == n)
            .ok_or_else(|| unsupported(loc, section, &fe.name, format!("no backend '{n}'")))?;
        if cfg.backends[i].mode != Mode::Http {
            return Err(unsupported(
                loc,
                section,
                &fe.name,
                format!("backend '{n}' is not 'mode http' but this frontend is"),
            ));
        }
        Ok(i)
    };
    let mut switching = Vec::with_capacity(fe.use_backend.len());
    for ub in &fe.use_backend {
        let cond = match &ub.cond {
            Some(c) => Some(compile(&fe.acls, c, section, &fe.name, &mut needs)?),
            None => None,
        };
        switching.push((cond, find(&ub.backend, &ub.loc)?));
    }
    let default_backend = match &fe.default_backend {
        Some(n) => Some(find(n, &fe.loc)?),
        None => None,
    };
    let common = common(
        &fe.http,
        &fe.rules.tcp_content,
        &fe.acls,
        section,
        &fe.name,
        &mut needs,
        &fe.timeouts,
    )?;
    let http_request_ms = ms(fe.timeouts.http_request);
    let monitor = match &fe.http.monitor_uri {
        Some(uri) => Some(Monitor {
            uri: uri.as_bytes().into(),
            fail: fe
                .http
                .monitor_fail
                .iter()
                .map(|c| compile(&fe.acls, c, section, &fe.name, &mut needs))
                .collect::<Result<_, _>>()?,
        }),
        None => None,
    };
    let own_backend = if fe.from_listen {
        cfg.backends
            .iter()
            .position(|b| b.from_listen && b.name == fe.name)
    } else {
        None
    };
    Ok(HttpFrontendPlan {
        switching,
        own_backend,
        default_backend,
        common,
        http_request_ms,
        keep_alive_ms: ms(fe.timeouts.http_keep_alive).or(http_request_ms),
        monitor,
        opts: weir_http::Options {
            max_head: u32::try_from(bufsize).unwrap_or(u32::MAX),
            accept_invalid: false,
        },
        needs,
    })
}

/// Builds the http side of backend `be` (which is `mode http`).
///
/// # Errors
/// [`ProxyError::Unsupported`] for a condition that does not compile.
pub fn backend(be: &Backend) -> Result<HttpBackendPlan, ProxyError> {
    let mut needs = Needs::default();
    let common = common(
        &be.http,
        &be.rules.tcp_content,
        &be.acls,
        "backend",
        &be.name,
        &mut needs,
        &be.timeouts,
    )?;
    for u in &be.rules.use_server {
        if let Some(c) = &u.cond {
            compile(&be.acls, c, "backend", &be.name, &mut needs)?;
        }
    }
    Ok(HttpBackendPlan {
        common,
        reuse: be.http.reuse.unwrap_or(Reuse::Safe),
        needs,
    })
}

/// The connection mode in effect for a transaction: the strictest of the
/// two sides (HAProxy: `httpclose` beats `http-server-close` beats
/// `http-keep-alive`).
#[must_use]
pub fn effective_mode(fe: &Common, be: Option<&Common>) -> ConnMode {
    let rank = |m: Option<ConnMode>| match m {
        Some(ConnMode::Close) => 2,
        Some(ConnMode::ServerClose) => 1,
        _ => 0,
    };
    let r = rank(fe.mode).max(be.map_or(0, |b| rank(b.mode)));
    match r {
        2 => ConnMode::Close,
        1 => ConnMode::ServerClose,
        _ => ConnMode::KeepAlive,
    }
}

/// Whether `ip` is inside `net` (for `forwardfor except`).
#[must_use]
pub fn in_net(ip: IpAddr, net: (IpAddr, u8)) -> bool {
    match (ip, net.0) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = u32::from(net.1.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = u32::from(net.1.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|v4| in_net(IpAddr::V4(v4), net)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n = ("10.1.0.0".parse().unwrap(), 16);
        assert!(in_net("10.1.2.3".parse().unwrap(), n));
        assert!(!in_net("10.2.2.3".parse().unwrap(), n));
        assert!(in_net("::ffff:10.1.9.9".parse().unwrap(), n));
        assert!(in_net(
            "1.2.3.4".parse().unwrap(),
            ("0.0.0.0".parse().unwrap(), 0)
        ));
        let v6 = ("2001:db8::".parse().unwrap(), 32);
        assert!(in_net("2001:db8::1".parse().unwrap(), v6));
        assert!(!in_net("2001:db9::1".parse().unwrap(), v6));
    }
}
