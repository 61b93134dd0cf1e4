//! The `mode http` keywords (HAProxy configuration manual 4.2): the
//! `http-request` and `http-response` rule lists, `http-reuse`,
//! `errorfile`, and the options `forwardfor`, `http-keep-alive`,
//! `http-server-close` and `httpclose`. Everything they produce lives in one
//! [`HttpSettings`] per proxy, so the rest of the parser only carries it.
//!
//! Header values and `set-path|set-query|set-uri` take HAProxy's log-format
//! strings ([`log_format`]: `%[fetch,conv…]` and the aliases of
//! [`LF_ALIASES`]); the other fields are literal, and a `%` expression
//! there is refused with a clear message rather than sent verbatim.
//! Files named by `errorfile` and `return … file` are read here, at parse
//! time, like HAProxy does (the workers never touch the file system).

use std::net::IpAddr;

use super::{split_cond, Ctx, Keyword, OptionKw, ProxyDraft, Sections};
use crate::types::{Condition, Loc};

// ---------------------------------------------------------------- types --

/// Everything the HTTP keywords of one proxy section set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpSettings {
    /// `http-request` rules in file order.
    pub request_rules: Vec<HttpRule>,
    /// `http-response` rules in file order.
    pub response_rules: Vec<HttpRule>,
    /// `option forwardfor`.
    pub forwardfor: Option<ForwardFor>,
    /// `option http-keep-alive|http-server-close|httpclose` (the last wins;
    /// `None`: HAProxy's default, keep-alive).
    pub conn_mode: Option<ConnMode>,
    /// `http-reuse` (`None`: HAProxy's default, `safe`).
    pub reuse: Option<Reuse>,
    /// `errorfile CODE FILE` and `http-error status CODE …`: the page
    /// weir sends instead of its own for that status (the last one wins).
    pub errorfiles: Vec<ErrorFile>,
    /// Proxy-level `redirect …` rules in file order (evaluated after the
    /// `http-request` rules of the same section; their action is always
    /// [`HttpAction::Redirect`]).
    pub redirect_rules: Vec<HttpRule>,
    /// `monitor-uri URI` (frontend side).
    pub monitor_uri: Option<String>,
    /// `monitor fail if|unless COND` lines (frontend side).
    pub monitor_fail: Vec<Condition>,
}

/// One `http-request` / `http-response` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    /// Where the line is.
    pub loc: Loc,
    /// What it does.
    pub action: HttpAction,
    /// `if`/`unless` condition.
    pub cond: Option<Condition>,
}

/// An HTTP rule action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAction {
    /// `allow`: stop evaluating the rules of this list.
    Allow,
    /// `deny [deny_status N]`: answer with the error page of status N (403).
    Deny {
        /// Status code of the answer.
        status: u16,
    },
    /// `return …`: answer with this response.
    Return(Box<ReturnSpec>),
    /// `redirect …`.
    Redirect(Box<RedirectSpec>),
    /// `set-header NAME VALUE`: replace every occurrence.
    SetHeader {
        /// Header name.
        name: String,
        /// New value.
        value: String,
    },
    /// `add-header NAME VALUE`: append one more.
    AddHeader {
        /// Header name.
        name: String,
        /// Value.
        value: String,
    },
    /// `del-header NAME`: remove every occurrence.
    DelHeader {
        /// Header name.
        name: String,
    },
    /// `set-path P`.
    SetPath(String),
    /// `set-query Q` (empty: an empty query, `?` kept).
    SetQuery(String),
    /// `set-uri U`.
    SetUri(String),
    /// `set-method M`.
    SetMethod(String),
    /// `replace-header NAME REGEX REPL`: every occurrence of NAME whose
    /// whole value the regex matches gets REPL (a log-format value, then
    /// `\1`…`\9` references to the groups).
    ReplaceHeader(Box<Replace>),
    /// `replace-value NAME REGEX REPL`: as `replace-header`, applied to each
    /// comma-separated value on its own.
    ReplaceValue(Box<Replace>),
    /// `replace-path REGEX REPL`: the path (without the query).
    ReplacePath(Box<Replace>),
    /// `replace-pathq REGEX REPL`: the path and the query.
    ReplacePathQ(Box<Replace>),
    /// `replace-uri REGEX REPL`: the whole request target.
    ReplaceUri(Box<Replace>),
    /// `set-pathq PQ`: the path and the query (no `?`: the query is removed).
    SetPathQ(String),
    /// `set-var(SCOPE.NAME) EXPR`: stores the first sample of EXPR.
    SetVar {
        /// `scope.name`.
        var: String,
        /// The sample expression.
        expr: String,
    },
    /// `unset-var(SCOPE.NAME)`.
    UnsetVar {
        /// `scope.name`.
        var: String,
    },
    /// `capture SAMPLE len N`: the first sample of SAMPLE as text, cut to
    /// N bytes, kept in the frontend's next capture slot for the rest of
    /// the transaction (read with `capture.req.hdr(SLOT)`).
    Capture {
        /// The sample expression.
        expr: String,
        /// Longest value kept.
        len: u32,
    },
    /// `tarpit [deny_status N]`: hold the request for `timeout tarpit`
    /// (default: `timeout connect`), then answer N (500).
    Tarpit {
        /// Status code of the answer.
        status: u16,
    },
    /// `silent-drop`: close the client connection without an answer and,
    /// as far as the system allows, without telling the client (see
    /// `weir_runtime::sys::prepare_silent_close`).
    SilentDrop,
    /// `set-status N [reason R]` (responses).
    SetStatus {
        /// New status code.
        code: u16,
        /// New reason phrase (default: the standard one).
        reason: Option<String>,
    },
}

/// The arguments of the `replace-*` actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    /// Header name (`replace-header`, `replace-value`; empty otherwise).
    pub name: String,
    /// The regular expression, checked when read.
    pub regex: String,
    /// The replacement: a log-format value with `\N` group references.
    pub repl: String,
}

/// Variable scopes weir keeps: `sess` (the client connection), `txn` (one
/// request and its response), `req` (request rules), `res` (response
/// rules). HAProxy's `proc` scope is shared by every thread, which weir's
/// workers are not, so it is refused.
pub const VAR_SCOPES: &[&str] = &["sess", "txn", "req", "res"];

/// Checks a variable name `scope.name`.
///
/// # Errors
/// A message naming the problem.
pub fn check_var_name(v: &str) -> Result<(), String> {
    let Some((scope, name)) = v.split_once('.') else {
        return Err(format!(
            "variable '{v}' needs a scope: one of {} followed by '.' and a name",
            VAR_SCOPES.join(", ")
        ));
    };
    if scope == "proc" {
        return Err(format!(
            "variable '{v}': the 'proc' scope is not supported by weir yet (its workers share no state); use {}",
            VAR_SCOPES.join(", ")
        ));
    }
    if !VAR_SCOPES.contains(&scope) {
        return Err(format!(
            "variable '{v}': unknown scope '{scope}' (one of {})",
            VAR_SCOPES.join(", ")
        ));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        return Err(format!(
            "variable '{v}': a name is made of letters, digits, '_' and '.'"
        ));
    }
    Ok(())
}

/// `return status N [content-type T] [string S | file F] [hdr N V]*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnSpec {
    /// Status code.
    pub status: u16,
    /// `content-type`.
    pub content_type: Option<String>,
    /// The body (`string` or the file's contents; with `body_log_format`,
    /// the log-format text of `lf-string` / `lf-file`).
    pub body: Vec<u8>,
    /// The body is a log-format string evaluated for each answer
    /// (`http-request return` only).
    pub body_log_format: bool,
    /// Extra `hdr NAME VALUE` headers.
    pub headers: Vec<(String, String)>,
}

/// Which `redirect` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `redirect location L`: exactly L.
    Location,
    /// `redirect prefix P`: P followed by the original path (and query).
    Prefix,
    /// `redirect scheme S`: `S://HOST` followed by the original target.
    Scheme,
}

/// `redirect location|prefix|scheme TARGET [code N] [drop-query]
/// [append-slash] [set-cookie NAME[=VALUE] | clear-cookie NAME[=]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectSpec {
    /// The form.
    pub kind: RedirectKind,
    /// Its argument.
    pub target: String,
    /// 301, 302 (default), 303, 307 or 308.
    pub code: u16,
    /// Drop the query string of the original target.
    pub drop_query: bool,
    /// Add a `/` to a path that does not end with one.
    pub append_slash: bool,
    /// True for `http-request redirect`, whose target is a log-format
    /// string (the proxy-level `redirect` takes it as written).
    pub log_format: bool,
    /// The value of a `Set-Cookie` header added to the answer: `NAME[=VALUE]`
    /// for `set-cookie`, `NAME[=]; Max-Age=0` for `clear-cookie`.
    pub cookie: Option<String>,
}

/// `option forwardfor [except NET] [header NAME] [if-none]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFor {
    /// Sources in this network get no header.
    pub except: Option<(IpAddr, u8)>,
    /// Header name (default `X-Forwarded-For`).
    pub header: String,
    /// Only add the header when the request has none.
    pub if_none: bool,
}

/// How connections are kept open around transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnMode {
    /// `option http-keep-alive`: both sides stay open.
    KeepAlive,
    /// `option http-server-close`: the server side closes after each response.
    ServerClose,
    /// `option httpclose`: both sides close after each transaction.
    Close,
}

/// `http-reuse never|safe|aggressive|always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Never share an idle server connection.
    Never,
    /// Reuse for requests that follow the first of a client connection.
    Safe,
    /// As HAProxy's `aggressive` (treated like `safe` by weir).
    Aggressive,
    /// As HAProxy's `always` (treated like `safe` by weir).
    Always,
}

/// `errorfile CODE FILE` or `http-error status CODE …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFile {
    /// The status it replaces.
    pub code: u16,
    /// What is sent instead.
    pub page: ErrorPage,
}

/// A custom error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorPage {
    /// A file's bytes, sent as-is: a complete HTTP response (`errorfile`,
    /// `http-error … errorfile F`).
    Raw(Vec<u8>),
    /// A response built like `http-request return` builds one (`http-error
    /// … [content-type T] [string S | file F] [hdr N V]*`).
    Reply(ReturnSpec),
    /// weir's own page (`http-error … default-errorfiles`): it still
    /// takes precedence over a frontend's page when set in a backend.
    Default,
}

/// Status codes `errorfile` and `deny_status` accept (HAProxy's list).
pub const ERROR_CODES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

// --------------------------------------------------------------- tables --

/// The HTTP keywords.
pub static KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "http-request",
        sections: Sections(Sections::FE_NODEF.0 | Sections::BE_NODEF.0),
        negatable: false,
        parse: kw_http_request,
        doc: "4.2 http-request",
    },
    Keyword {
        name: "http-response",
        sections: Sections(Sections::FE_NODEF.0 | Sections::BE_NODEF.0),
        negatable: false,
        parse: kw_http_response,
        doc: "4.2 http-response",
    },
    Keyword {
        name: "http-reuse",
        sections: Sections::BE,
        negatable: false,
        parse: kw_http_reuse,
        doc: "4.2 http-reuse",
    },
    Keyword {
        name: "errorfile",
        sections: Sections::PROXIES,
        negatable: false,
        parse: kw_errorfile,
        doc: "4.2 errorfile",
    },
    Keyword {
        name: "http-error",
        sections: Sections::PROXIES,
        negatable: false,
        parse: kw_http_error,
        doc: "4.2 http-error",
    },
    Keyword {
        name: "redirect",
        sections: Sections(Sections::FE_NODEF.0 | Sections::BE_NODEF.0),
        negatable: false,
        parse: kw_redirect,
        doc: "4.2 redirect",
    },
    Keyword {
        name: "monitor-uri",
        sections: Sections::FE,
        negatable: false,
        parse: kw_monitor_uri,
        doc: "4.2 monitor-uri",
    },
    Keyword {
        name: "monitor",
        sections: Sections::FE_NODEF,
        negatable: false,
        parse: kw_monitor,
        doc: "4.2 monitor fail",
    },
];

/// The HTTP `option` names.
pub static OPTIONS: &[OptionKw] = &[
    OptionKw {
        name: "forwardfor",
        sections: Sections::PROXIES,
        side: Sections::PROXIES,
        parse: opt_forwardfor,
        doc: "4.2 option forwardfor",
    },
    OptionKw {
        name: "http-keep-alive",
        sections: Sections::PROXIES,
        side: Sections::PROXIES,
        parse: opt_keep_alive,
        doc: "4.2 option http-keep-alive",
    },
    OptionKw {
        name: "http-server-close",
        sections: Sections::PROXIES,
        side: Sections::PROXIES,
        parse: opt_server_close,
        doc: "4.2 option http-server-close",
    },
    OptionKw {
        name: "httpclose",
        sections: Sections::PROXIES,
        side: Sections::PROXIES,
        parse: opt_httpclose,
        doc: "4.2 option httpclose",
    },
];

// -------------------------------------------------------------- parsers --

fn set_mode(
    p: &mut ProxyDraft,
    negated: bool,
    a: &[String],
    name: &str,
    m: ConnMode,
) -> Result<(), String> {
    if let Some(x) = a.first() {
        return Err(format!("'option {name}' takes no argument, got '{x}'"));
    }
    if negated {
        if p.http.conn_mode == Some(m) {
            p.http.conn_mode = None;
        }
    } else {
        p.http.conn_mode = Some(m);
    }
    Ok(())
}

fn opt_keep_alive(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    set_mode(p, negated, a, "http-keep-alive", ConnMode::KeepAlive)
}

fn opt_server_close(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    set_mode(p, negated, a, "http-server-close", ConnMode::ServerClose)
}

fn opt_httpclose(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    set_mode(p, negated, a, "httpclose", ConnMode::Close)
}

fn parse_net(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("'{s}' is not an address or network"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => {
            if let Ok(n) = l.parse::<u8>() {
                if n > max {
                    return Err(format!("'{s}': prefix length above {max}"));
                }
                n
            } else if let Ok(std::net::IpAddr::V4(m)) = l.parse::<IpAddr>() {
                // Dotted mask, as HAProxy accepts.
                let bits = u32::from(m);
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return Err(format!("'{s}': mask is not contiguous"));
                }
                bits.leading_ones() as u8
            } else {
                return Err(format!("'{s}': bad prefix length"));
            }
        }
    };
    Ok((ip, len))
}

fn opt_forwardfor(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    if negated {
        p.http.forwardfor = None;
        return Ok(());
    }
    let mut ff = ForwardFor {
        except: None,
        header: "X-Forwarded-For".into(),
        if_none: false,
    };
    let mut i = 0;
    while i < a.len() {
        match a[i].as_str() {
            "except" => {
                let v = a.get(i + 1).ok_or("'option forwardfor except' expects a network")?;
                ff.except = Some(parse_net(v).map_err(|e| format!("'option forwardfor': {e}"))?);
                i += 2;
            }
            "header" => {
                let v = a.get(i + 1).ok_or("'option forwardfor header' expects a name")?;
                if !is_token(v) {
                    return Err(format!("'option forwardfor header': '{v}' is not a header name"));
                }
                ff.header.clone_from(v);
                i += 2;
            }
            "if-none" => {
                ff.if_none = true;
                i += 1;
            }
            x => {
                return Err(format!(
                    "'option forwardfor': unknown argument '{x}' (expects 'except', 'header' or 'if-none')"
                ))
            }
        }
    }
    p.http.forwardfor = Some(ff);
    Ok(())
}

fn kw_http_reuse(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let r = match a {
        [m] => match m.as_str() {
            "never" => Reuse::Never,
            "safe" => Reuse::Safe,
            "aggressive" => Reuse::Aggressive,
            "always" => Reuse::Always,
            x => {
                return Err(format!(
                    "'http-reuse': unknown mode '{x}' (never, safe, aggressive, always)"
                ))
            }
        },
        _ => return Err("'http-reuse' expects one of never, safe, aggressive, always".into()),
    };
    ctx.px()?.http.reuse = Some(r);
    Ok(())
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what}: cannot read file '{path}': {e}"))
}

fn kw_errorfile(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let [code, file] = a else {
        return Err("'errorfile' expects <code> <file>".into());
    };
    let code: u16 = code
        .parse()
        .map_err(|_| format!("'errorfile': '{code}' is not a status code"))?;
    if !ERROR_CODES.contains(&code) {
        return Err(format!(
            "'errorfile': status code {code} cannot be customised (one of {ERROR_CODES:?})"
        ));
    }
    let bytes = read_file(file, "'errorfile'")?;
    let http = &mut ctx.px()?.http;
    http.errorfiles.retain(|e| e.code != code);
    http.errorfiles.push(ErrorFile {
        code,
        page: ErrorPage::Raw(bytes),
    });
    Ok(())
}

/// `http-error status CODE [content-type T] [default-errorfiles |
/// errorfile F | file F | string S] [hdr N V]*`: like `errorfile`, the
/// page replaces weir's own for CODE (the last of the two keywords wins).
/// `errorfiles NAME` (an `http-errors` section) and the log-format bodies
/// `lf-file` / `lf-string` are refused.
fn kw_http_error(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    const KW: &str = "http-error";
    let (Some(k), Some(code)) = (a.first(), a.get(1)) else {
        return Err(format!("'{KW}' expects status <code> [options]"));
    };
    if k != "status" {
        return Err(format!("'{KW}' expects status <code> [options], got '{k}'"));
    }
    let code: u16 = code
        .parse()
        .map_err(|_| format!("'{KW}': '{code}' is not a status code"))?;
    if !ERROR_CODES.contains(&code) {
        return Err(format!(
            "'{KW}': status code {code} cannot be customised (one of {ERROR_CODES:?})"
        ));
    }
    let rest = &a[2..];
    let page = if let Some(i) = rest
        .iter()
        .position(|w| w == "default-errorfiles" || w == "errorfile" || w == "errorfiles")
    {
        let w = rest[i].as_str();
        let others: Vec<&String> = rest
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i && !(w != "default-errorfiles" && *j == i + 1))
            .map(|(_, x)| x)
            .collect();
        if let Some(x) = others.first() {
            return Err(format!(
                "'{KW}': '{w}' sends a page as it is; '{x}' cannot be combined with it"
            ));
        }
        match w {
            "default-errorfiles" => ErrorPage::Default,
            "errorfile" => {
                let f = rest
                    .get(i + 1)
                    .ok_or_else(|| format!("'{KW}': 'errorfile' expects a file"))?;
                ErrorPage::Raw(read_file(f, "'http-error'")?)
            }
            _ => {
                return Err(format!(
                    "'{KW}': 'errorfiles' names an 'http-errors' section, which is not supported by weir yet"
                ))
            }
        }
    } else {
        if let Some(x) = rest.iter().find(|w| *w == "status") {
            return Err(format!("'{KW}': unexpected argument '{x}'"));
        }
        let mut spec = parse_return(KW, rest)?;
        spec.status = code;
        ErrorPage::Reply(spec)
    };
    let http = &mut ctx.px()?.http;
    http.errorfiles.retain(|e| e.code != code);
    http.errorfiles.push(ErrorFile { code, page });
    Ok(())
}

/// The proxy-level `redirect`: as `http-request redirect` with a target
/// taken as written (no log-format), evaluated after the section's
/// `http-request` rules.
fn kw_redirect(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let (words, cond) = split_cond(ctx, "redirect", a)?;
    let spec = parse_redirect("redirect", words, true)?;
    let rule = HttpRule {
        loc: ctx.loc.clone(),
        action: HttpAction::Redirect(Box::new(spec)),
        cond,
    };
    ctx.px()?.http.redirect_rules.push(rule);
    Ok(())
}

fn kw_monitor_uri(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let [uri] = a else {
        return Err("'monitor-uri' expects an URI".into());
    };
    if uri.is_empty() || uri.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "'monitor-uri': '{uri}' cannot be a request target (empty, or spaces or control characters)"
        ));
    }
    ctx.px()?.http.monitor_uri = Some(uri.clone());
    Ok(())
}

fn kw_monitor(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some((first, rest)) = a.split_first() else {
        return Err("'monitor' expects 'fail' followed by if|unless <condition>".into());
    };
    if first != "fail" {
        return Err(format!(
            "'monitor': unknown argument '{first}' (expects 'fail' followed by if|unless <condition>)"
        ));
    }
    let (words, cond) = split_cond(ctx, "monitor fail", rest)?;
    if let Some(x) = words.first() {
        return Err(format!(
            "'monitor fail': unexpected argument '{x}' (expects if|unless <condition>)"
        ));
    }
    let cond = cond.ok_or("'monitor fail' expects if|unless <condition>")?;
    ctx.px()?.http.monitor_fail.push(cond);
    Ok(())
}

fn kw_http_request(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let rule = parse_rule(ctx, "http-request", a, true)?;
    ctx.px()?.http.request_rules.push(rule);
    Ok(())
}

fn kw_http_response(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let rule = parse_rule(ctx, "http-response", a, false)?;
    ctx.px()?.http.response_rules.push(rule);
    Ok(())
}

/// RFC 9110 token characters (header names, methods).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A value that will be written into a header or the request line: refuse
/// line breaks (header injection) and log-format expressions (this field
/// does not evaluate them).
fn literal(kw: &str, v: &str) -> Result<String, String> {
    if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("'{kw}': value contains a line break or NUL"));
    }
    if has_log_format(v) {
        return Err(format!(
            "'{kw}': log-format expressions ('%[…]', '%ci'…) in this field are not supported by weir yet; \
             write '%%' for a literal '%'"
        ));
    }
    Ok(v.replace("%%", "%"))
}

/// One piece of a log-format value (HAProxy configuration manual 8.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LfPart {
    /// Literal text (`%%` already turned into `%`).
    Lit(String),
    /// `%[fetch,conv…]`: a sample expression.
    Expr(String),
    /// `%ci`, `%HM`…: one of [`LF_ALIASES`].
    Alias(&'static str),
}

/// The `%` aliases weir evaluates in log-format values: client and frontend
/// address and port, method, URI, path, query, version, status, frontend
/// and backend names.
pub const LF_ALIASES: &[&str] = &[
    "ci", "cp", "fi", "fp", "HM", "HU", "HP", "HQ", "HV", "ST", "f", "b",
];

/// Splits a log-format value into parts, checking every expression with
/// the ACL engine.
///
/// # Errors
/// A message for unknown aliases, `%{…}` flags, unterminated `%[`, bad
/// expressions, line breaks.
pub fn log_format(v: &str) -> Result<Vec<LfPart>, String> {
    if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("value contains a line break or NUL".into());
    }
    log_format_text(v)
}

/// As [`log_format`], for a body: line breaks are allowed.
///
/// # Errors
/// As [`log_format`].
pub fn log_format_text(v: &str) -> Result<Vec<LfPart>, String> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('%') {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            lit.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('[') {
            let end = r.find(']').ok_or("unterminated '%[' expression")?;
            let expr = &r[..end];
            let loader = weir_core::acl::Loader {
                read_file: &|p: &str| std::fs::read_to_string(p),
                env: &|n: &str| std::env::var(n).ok(),
            };
            weir_core::acl::SampleExpr::parse(expr, &loader)
                .map_err(|e| format!("in '%[{expr}]': {e}"))?;
            if !lit.is_empty() {
                parts.push(LfPart::Lit(std::mem::take(&mut lit)));
            }
            parts.push(LfPart::Expr(expr.to_string()));
            rest = &r[end + 1..];
        } else if after.starts_with('{') {
            return Err("log-format flags ('%{…}') are not supported by weir yet".into());
        } else {
            let name_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
            // The longest alias that prefixes the letters (`%HUx` is `%HU` then `x`).
            let alias = (1..=name_len)
                .rev()
                .find_map(|n| LF_ALIASES.iter().find(|a| **a == &after[..n]).copied())
                .ok_or_else(|| {
                    format!(
                        "log-format alias '%{}' is not supported by weir yet (supported: {})",
                        &after[..name_len],
                        LF_ALIASES.join(", ")
                    )
                })?;
            if !lit.is_empty() {
                parts.push(LfPart::Lit(std::mem::take(&mut lit)));
            }
            parts.push(LfPart::Alias(alias));
            rest = &after[alias.len()..];
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(LfPart::Lit(lit));
    }
    Ok(parts)
}

/// A log-format value: checked now, kept as written (the proxy compiles it
/// again with [`log_format`]).
fn fmt_value(kw: &str, v: &str) -> Result<String, String> {
    log_format(v).map_err(|e| format!("'{kw}': {e}"))?;
    Ok(v.to_string())
}

fn has_log_format(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if b.get(i + 1) == Some(&b'%') {
                i += 2;
                continue;
            }
            return true;
        }
        i += 1;
    }
    false
}

fn status_code(kw: &str, v: &str, range: std::ops::RangeInclusive<u16>) -> Result<u16, String> {
    let n: u16 = v
        .parse()
        .map_err(|_| format!("'{kw}': '{v}' is not a status code"))?;
    if !range.contains(&n) {
        return Err(format!(
            "'{kw}': status {n} out of range {}..={}",
            range.start(),
            range.end()
        ));
    }
    Ok(n)
}

/// Splits `ACTION ARGS… [if|unless COND]`, parses the action, checks the
/// condition with the ACL engine.
fn parse_rule(
    ctx: &mut Ctx<'_, '_>,
    kw: &str,
    a: &[String],
    request: bool,
) -> Result<HttpRule, String> {
    let split = a
        .iter()
        .position(|w| w == "if" || w == "unless")
        .unwrap_or(a.len());
    let (words, cond_words) = a.split_at(split);
    let cond = match cond_words.split_first() {
        None => None,
        Some((w, rest)) => {
            if rest.is_empty() {
                return Err(format!("'{kw}': missing condition after '{w}'"));
            }
            Some(Condition {
                loc: ctx.loc.clone(),
                negate: w == "unless",
                tokens: rest.to_vec(),
            })
        }
    };
    let Some((action, args)) = words.split_first() else {
        return Err(format!("'{kw}' expects an action"));
    };
    let full = format!("{kw} {action}");
    let action = parse_action(&full, action, args, request)?;
    if matches!(action, HttpAction::Capture { .. })
        && ctx.section.kind == crate::error::SectionKind::Backend
    {
        return Err(format!(
            "'{full} … len' is only allowed in a frontend or listen section (it adds a capture slot to the frontend)"
        ));
    }
    if let Some(c) = &cond {
        (crate::registry::CONDITION_CHECK)(ctx, c)?;
    }
    Ok(HttpRule {
        loc: ctx.loc.clone(),
        action,
        cond,
    })
}

fn parse_action(
    kw: &str,
    action: &str,
    args: &[String],
    request: bool,
) -> Result<HttpAction, String> {
    let n = |count: usize, usage: &str| -> Result<(), String> {
        if args.len() == count {
            Ok(())
        } else {
            Err(format!("'{kw}' expects {usage}"))
        }
    };
    Ok(match action {
        "allow" => {
            n(0, "no argument")?;
            HttpAction::Allow
        }
        "deny" => {
            // HAProxy: 403 for requests, 502 for responses.
            let status = deny_status(kw, args, if request { 403 } else { 502 })?;
            HttpAction::Deny { status }
        }
        "return" => HttpAction::Return(Box::new(parse_return(kw, args)?)),
        "redirect" if request => HttpAction::Redirect(Box::new(parse_redirect(kw, args, false)?)),
        "set-header" | "add-header" => {
            n(2, "<name> <value>")?;
            if !is_token(&args[0]) {
                return Err(format!("'{kw}': '{}' is not a valid header name (HAProxy sends it as written; that is not supported by weir yet)", args[0]));
            }
            let name = args[0].clone();
            let value = fmt_value(kw, &args[1])?;
            if action == "set-header" {
                HttpAction::SetHeader { name, value }
            } else {
                HttpAction::AddHeader { name, value }
            }
        }
        "del-header" => {
            n(1, "<name>")?;
            if !is_token(&args[0]) {
                return Err(format!("'{kw}': '{}' is not a valid header name (HAProxy sends it as written; that is not supported by weir yet)", args[0]));
            }
            HttpAction::DelHeader {
                name: args[0].clone(),
            }
        }
        "set-path" if request => {
            n(1, "<path>")?;
            let v = fmt_value(kw, &args[0])?;
            if v.bytes().any(|b| b == b' ' || b == b'?') {
                return Err(format!("'{kw}': path must not contain spaces or '?'"));
            }
            HttpAction::SetPath(v)
        }
        "set-query" if request => {
            n(1, "<query>")?;
            let v = fmt_value(kw, &args[0])?;
            if v.bytes().any(|b| b == b' ') {
                return Err(format!("'{kw}': query must not contain spaces"));
            }
            HttpAction::SetQuery(v)
        }
        "set-uri" if request => {
            n(1, "<uri>")?;
            let v = fmt_value(kw, &args[0])?;
            if v.is_empty() || v.bytes().any(|b| b == b' ') {
                return Err(format!("'{kw}': uri must be non-empty without spaces"));
            }
            HttpAction::SetUri(v)
        }
        "set-method" if request => {
            n(1, "<method>")?;
            if !is_token(&args[0]) {
                return Err(format!("'{kw}': '{}' is not a method token", args[0]));
            }
            HttpAction::SetMethod(args[0].clone())
        }
        "set-status" if !request => {
            let (code, reason) = match args {
                [c] => (c, None),
                [c, r, v] if r == "reason" => (c, Some(literal(kw, v)?)),
                _ => return Err(format!("'{kw}' expects <status> [reason <text>]")),
            };
            HttpAction::SetStatus {
                code: status_code(kw, code, 100..=999)?,
                reason,
            }
        }
        "replace-header" | "replace-value" => {
            n(3, "<name> <regex> <replacement>")?;
            if !is_token(&args[0]) {
                return Err(format!("'{kw}': '{}' is not a valid header name", args[0]));
            }
            let r = replace(kw, &args[0], &args[1], &args[2])?;
            if action == "replace-header" {
                HttpAction::ReplaceHeader(r)
            } else {
                HttpAction::ReplaceValue(r)
            }
        }
        "replace-path" | "replace-pathq" | "replace-uri" if request => {
            n(2, "<regex> <replacement>")?;
            let r = replace(kw, "", &args[0], &args[1])?;
            match action {
                "replace-path" => HttpAction::ReplacePath(r),
                "replace-pathq" => HttpAction::ReplacePathQ(r),
                _ => HttpAction::ReplaceUri(r),
            }
        }
        "set-pathq" if request => {
            n(1, "<path>")?;
            let v = fmt_value(kw, &args[0])?;
            if v.bytes().any(|b| b == b' ') {
                return Err(format!("'{kw}': path must not contain spaces"));
            }
            HttpAction::SetPathQ(v)
        }
        "tarpit" if request => {
            let status = deny_status(kw, args, 500)?;
            HttpAction::Tarpit { status }
        }
        a if a.starts_with("set-var(") || a.starts_with("unset-var(") => {
            let unset = a.starts_with("unset-var(");
            let inner = a
                .split_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .ok_or_else(|| format!("'{kw}': missing ')' after the variable name"))?;
            if inner.contains(',') {
                return Err(format!(
                    "'{kw}': conditions after the variable name ('ifexists'…) are not supported by weir yet"
                ));
            }
            check_var_name(inner).map_err(|e| format!("'{kw}': {e}"))?;
            let var = inner.to_string();
            if unset {
                n(0, "no argument")?;
                HttpAction::UnsetVar { var }
            } else {
                n(1, "<expression>")?;
                let loader = weir_core::acl::Loader {
                    read_file: &|p: &str| std::fs::read_to_string(p),
                    env: &|n: &str| std::env::var(n).ok(),
                };
                weir_core::acl::SampleExpr::parse(&args[0], &loader)
                    .map_err(|e| format!("'{kw}': {e}"))?;
                HttpAction::SetVar {
                    var,
                    expr: args[0].clone(),
                }
            }
        }
        "capture" if request => {
            let (expr, len) = match args {
                [e, k, v] if k == "len" => (e, v),
                [_, k, _] if k == "id" => {
                    return Err(format!(
                        "'{kw} … id' needs 'declare capture', which is not supported by weir yet; use 'len'"
                    ))
                }
                _ => return Err(format!("'{kw}' expects <sample> len <length>")),
            };
            let len: u32 = len
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("'{kw}': length '{len}' is not a positive integer"))?;
            let loader = weir_core::acl::Loader {
                read_file: &|p: &str| std::fs::read_to_string(p),
                env: &|n: &str| std::env::var(n).ok(),
            };
            weir_core::acl::SampleExpr::parse(expr, &loader).map_err(|e| format!("'{kw}': {e}"))?;
            HttpAction::Capture {
                expr: expr.clone(),
                len,
            }
        }
        "capture" => {
            return Err(format!(
                "'{kw}' needs 'id' and 'declare capture', which are not supported by weir yet"
            ))
        }
        "silent-drop" => {
            if let Some(x) = args.first() {
                return Err(if x == "rst-ttl" {
                    format!("'{kw} rst-ttl' is not supported by weir yet")
                } else {
                    format!("'{kw}': unexpected argument '{x}'")
                });
            }
            HttpAction::SilentDrop
        }
        "set-log-level" => {
            return Err(format!(
                "'{kw}' is not supported by weir yet: weir writes no per-request log whose level it could change"
            ))
        }
        other => {
            let list = if request {
                "allow, deny, tarpit, return, redirect, set-header, add-header, del-header, \
                 replace-header, replace-value, set-path, set-pathq, set-query, set-uri, \
                 replace-path, replace-pathq, replace-uri, set-method, set-var, unset-var, capture, \
                 silent-drop"
            } else {
                "allow, deny, return, set-header, add-header, del-header, replace-header, \
                 replace-value, set-status, set-var, unset-var, silent-drop"
            };
            return Err(format!(
                "'{}': unknown action '{other}', or not supported by weir yet (supported: {list})",
                kw.split(' ').next().unwrap_or(kw)
            ));
        }
    })
}

fn replace(kw: &str, name: &str, regex: &str, repl: &str) -> Result<Box<Replace>, String> {
    weir_core::acl::Rewrite::new(regex).map_err(|e| format!("'{kw}': {e}"))?;
    Ok(Box::new(Replace {
        name: name.to_string(),
        regex: regex.to_string(),
        repl: fmt_value(kw, repl)?,
    }))
}

/// `[deny_status N]` of `deny` and `tarpit`: `default` without it, else one
/// of the error codes weir has a page for.
fn deny_status(kw: &str, args: &[String], default: u16) -> Result<u16, String> {
    match args {
        [] => Ok(default),
        [k, v] if k == "deny_status" => {
            let s = status_code(kw, v, 200..=599)?;
            if ERROR_CODES.contains(&s) {
                Ok(s)
            } else {
                Err(format!(
                    "'{kw}': deny_status {s} is not one of {ERROR_CODES:?}"
                ))
            }
        }
        _ => Err(format!(
            "'{kw}': options other than deny_status are not supported by weir yet"
        )),
    }
}

fn parse_return(kw: &str, a: &[String]) -> Result<ReturnSpec, String> {
    let mut spec = ReturnSpec {
        status: 200,
        content_type: None,
        body: Vec::new(),
        body_log_format: false,
        headers: Vec::new(),
    };
    let mut has_body = false;
    let mut i = 0;
    let arg = |i: usize, what: &str| -> Result<&String, String> {
        a.get(i + 1)
            .ok_or_else(|| format!("'{kw}': '{what}' expects a value"))
    };
    while i < a.len() {
        match a[i].as_str() {
            "status" => {
                spec.status = status_code(kw, arg(i, "status")?, 200..=599)?;
                i += 2;
            }
            "content-type" => {
                spec.content_type = Some(literal(kw, arg(i, "content-type")?)?);
                i += 2;
            }
            "string" | "lf-string" | "file" | "lf-file" | "errorfile" | "errorfiles" => {
                if has_body {
                    return Err(format!("'{kw}': only one body source may be given"));
                }
                has_body = true;
                let v = arg(i, &a[i])?;
                match a[i].as_str() {
                    "string" => {
                        spec.body = literal(kw, v).map(String::into_bytes).or_else(|_| {
                            // Bodies may contain line breaks; only refuse log-format.
                            if has_log_format(v) {
                                Err(format!(
                                    "'{kw}': use 'string' without log-format expressions"
                                ))
                            } else {
                                Ok(v.clone().into_bytes())
                            }
                        })?
                    }
                    "file" => spec.body = read_file(v, kw)?,
                    "lf-string" | "lf-file" => {
                        // A log-format body: weir composes these answers
                        // once, so only a constant one (`%%` for `%`).
                        let text = if a[i] == "lf-string" {
                            v.clone()
                        } else {
                            String::from_utf8(read_file(v, kw)?)
                                .map_err(|_| format!("'{kw}': '{v}' is not UTF-8 text"))?
                        };
                        if !has_log_format(&text) {
                            spec.body = text.replace("%%", "%").into_bytes();
                        } else if kw.starts_with("http-request") {
                            // Evaluated for each answer (see the proxy's plan).
                            log_format_text(&text).map_err(|e| format!("'{kw}': {e}"))?;
                            spec.body = text.into_bytes();
                            spec.body_log_format = true;
                        } else {
                            return Err(format!(
                                "'{kw}': log-format expressions ('%[…]', '%ci'…) in '{}' bodies are \
                                 not supported by weir yet here (only in 'http-request return'); \
                                 write '%%' for a literal '%'",
                                a[i]
                            ));
                        }
                    }
                    w => {
                        return Err(format!(
                            "'{kw}': '{w}' is not supported by weir yet (use 'string', 'file', \
                             'lf-string' or 'lf-file')"
                        ))
                    }
                }
                i += 2;
            }
            "hdr" => {
                let (Some(name), Some(value)) = (a.get(i + 1), a.get(i + 2)) else {
                    return Err(format!("'{kw}': 'hdr' expects <name> <value>"));
                };
                if !is_token(name) {
                    return Err(format!("'{kw}': '{name}' is not a header name"));
                }
                spec.headers.push((name.clone(), literal(kw, value)?));
                i += 3;
            }
            x => return Err(format!("'{kw}': unexpected argument '{x}'")),
        }
    }
    if has_body && spec.content_type.is_none() && !spec.body.is_empty() {
        return Err(format!("'{kw}': a body needs a 'content-type'"));
    }
    Ok(spec)
}

/// `verbatim`: the proxy-level `redirect` keyword, whose target is used as
/// written (`http-request redirect` takes a log-format string).
fn parse_redirect(kw: &str, a: &[String], verbatim: bool) -> Result<RedirectSpec, String> {
    let mut spec = RedirectSpec {
        kind: RedirectKind::Location,
        target: String::new(),
        code: 302,
        drop_query: false,
        append_slash: false,
        log_format: !verbatim,
        cookie: None,
    };
    let mut have_target = false;
    let mut i = 0;
    // HAProxy accepts the options in any order (`redirect code 301 location /x`).
    while i < a.len() {
        let w = a[i].as_str();
        match w {
            "location" | "prefix" | "scheme" => {
                let t = a
                    .get(i + 1)
                    .ok_or_else(|| format!("'{kw}': '{w}' expects a value"))?;
                if have_target {
                    return Err(format!("'{kw}': only one of location, prefix, scheme"));
                }
                have_target = true;
                spec.kind = match w {
                    "location" => RedirectKind::Location,
                    "prefix" => RedirectKind::Prefix,
                    _ => RedirectKind::Scheme,
                };
                spec.target = if verbatim {
                    if t.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                        return Err(format!("'{kw}': value contains a line break or NUL"));
                    }
                    t.clone()
                } else {
                    let v = fmt_value(kw, t)?;
                    if v.is_empty() {
                        return Err(format!("'{kw}': '{w}' expects a value"));
                    }
                    v
                };
                i += 2;
            }
            "code" => {
                let v = a
                    .get(i + 1)
                    .ok_or_else(|| format!("'{kw}': 'code' expects a value"))?;
                let c = status_code(kw, v, 301..=308)?;
                if !matches!(c, 301 | 302 | 303 | 307 | 308) {
                    return Err(format!("'{kw}': code must be 301, 302, 303, 307 or 308"));
                }
                spec.code = c;
                i += 2;
            }
            "drop-query" => {
                spec.drop_query = true;
                i += 1;
            }
            "append-slash" => {
                spec.append_slash = true;
                i += 1;
            }
            "set-cookie" | "clear-cookie" => {
                let c = a
                    .get(i + 1)
                    .ok_or_else(|| format!("'{kw}': '{w}' expects NAME[=value]"))?;
                let name = c.split('=').next().unwrap_or("");
                if !is_token(name)
                    || c.bytes()
                        .any(|b| b.is_ascii_control() || b == b';' || b == b' ')
                {
                    return Err(format!("'{kw}': '{c}' is not a cookie NAME[=value]"));
                }
                if spec.cookie.is_some() {
                    return Err(format!(
                        "'{kw}': only one of set-cookie, clear-cookie may be given"
                    ));
                }
                // HAProxy: the cookie as written, no other attribute (a
                // session cookie); clear-cookie adds max-age=0.
                spec.cookie = Some(if w == "set-cookie" {
                    c.clone()
                } else {
                    format!("{c}; Max-Age=0")
                });
                i += 2;
            }
            x => return Err(format!("'{kw}': unexpected argument '{x}'")),
        }
    }
    if !have_target {
        return Err(format!(
            "'{kw}' expects location|prefix|scheme <target> [options]"
        ));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn parse(text: &str) -> Result<Config, String> {
        crate::parse_str("t.cfg", text).map_err(|e| e.to_string())
    }

    const HEAD: &str = "defaults\n mode http\n timeout client 1s\n timeout server 1s\n timeout connect 1s\nbackend b\n server s 127.0.0.1:1\nfrontend f\n bind 127.0.0.1:8080\n default_backend b\n";

    #[test]
    fn rules_and_options_parse() {
        let cfg = parse(&format!(
            "{HEAD} acl adm path_beg /admin\n http-request deny deny_status 404 if adm\n \
             http-request return status 200 content-type text/plain string ok hdr x-a b\n \
             http-request redirect scheme https code 301 drop-query unless adm\n \
             http-request set-header X-Y z\n http-response del-header server\n \
             option forwardfor except 127.0.0.0/8 header X-Real-IP\n option http-server-close\n"
        ))
        .unwrap();
        let h = &cfg.frontends[0].http;
        assert_eq!(h.request_rules.len(), 4);
        assert_eq!(h.response_rules.len(), 1);
        assert!(matches!(
            h.request_rules[0].action,
            HttpAction::Deny { status: 404 }
        ));
        assert!(h.request_rules[0].cond.is_some());
        assert_eq!(h.conn_mode, Some(ConnMode::ServerClose));
        let ff = h.forwardfor.as_ref().unwrap();
        assert_eq!(ff.header, "X-Real-IP");
        assert_eq!(ff.except.unwrap().1, 8);
    }

    #[test]
    fn l7_actions_parse() {
        let cfg = parse(&format!(
            "{HEAD} http-request replace-header X-A ^a(.*) b\\1\n \
             http-request replace-value X-F ^1\\.(.*)$ 2.\\1\n \
             http-request replace-path /old/(.*) /new/\\1\n \
             http-request replace-uri ^http://[^/]*(.*) \\1\n \
             http-request set-pathq /p?q=%[src]\n \
             http-request set-var(txn.who) req.hdr(x-who),lower\n \
             http-request unset-var(sess.x)\n \
             http-request tarpit deny_status 403 if {{ path /t }}\n \
             http-response replace-header Server (.*) x\n \
             http-response set-var(res.s) status\n"
        ))
        .unwrap();
        let h = &cfg.frontends[0].http;
        assert_eq!(h.request_rules.len(), 8);
        match &h.request_rules[0].action {
            HttpAction::ReplaceHeader(r) => {
                assert_eq!(
                    (r.name.as_str(), r.regex.as_str(), r.repl.as_str()),
                    ("X-A", "^a(.*)", "b\\1")
                );
            }
            a => panic!("{a:?}"),
        }
        assert!(matches!(
            &h.request_rules[5].action,
            HttpAction::SetVar { var, expr } if var == "txn.who" && expr == "req.hdr(x-who),lower"
        ));
        assert!(matches!(
            h.request_rules[7].action,
            HttpAction::Tarpit { status: 403 }
        ));
        assert_eq!(h.response_rules.len(), 2);
    }

    #[test]
    fn log_format_values() {
        assert_eq!(
            log_format("a%%b %ci:%cp/%[req.hdr(host),lower]%HUx").unwrap(),
            vec![
                LfPart::Lit("a%b ".into()),
                LfPart::Alias("ci"),
                LfPart::Lit(":".into()),
                LfPart::Alias("cp"),
                LfPart::Lit("/".into()),
                LfPart::Expr("req.hdr(host),lower".into()),
                LfPart::Alias("HU"),
                LfPart::Lit("x".into()),
            ]
        );
        assert!(log_format("%[src").is_err());
        assert!(log_format("%Zq").is_err());
    }

    #[test]
    fn bad_rules_are_errors() {
        for bad in [
            " http-request\n",
            " http-request frobnicate\n",
            " http-request deny deny_status 999\n",
            " http-request set-header X\n",
            " http-request set-header X-Y %[nosuchfetch]\n",
            " http-request set-header X-Y %{+Q}ci\n",
            " http-request set-header X-Y %zz\n",
            " http-request set-header X-Y %[src\n",
            " http-request redirect location /x code 305\n",
            " http-request deny if nosuchacl\n",
            " http-request deny if\n",
            " http-response redirect location /\n",
            " http-request return status 200 string x\n",
            " option forwardfor except 1.2.3.4/40\n",
            " http-request set-status 200\n",
            " http-request replace-header X-A ( b\n",
            " http-request replace-value X-A a\n",
            " http-response replace-path a b\n",
            " http-request set-var(proc.x) src\n",
            " http-request set-var(x) src\n",
            " http-request set-var(txn.x) nosuchfetch\n",
            " http-request set-var(txn.x,ifexists) src\n",
            " http-request unset-var(txn.x) src\n",
            " http-request tarpit deny_status 999\n",
            " http-request capture req.hdr(host) id 0\n",
            " http-request capture req.hdr(host) len 0\n",
            " http-response capture res.hdr(server) len 10\n",
            " http-request set-log-level silent\n",
            " http-request set-header X %[var(proc.x)]\n",
        ] {
            assert!(parse(&format!("{HEAD}{bad}")).is_err(), "accepted: {bad}");
        }
    }
}
