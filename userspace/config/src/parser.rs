//! The parser driver: reads lines, tracks the current section, dispatches
//! keywords to the tables of [`crate::registry`], applies `defaults`
//! inheritance, and at the end resolves cross-references (backends named by
//! frontends) into a [`Config`].
//!
//! LIFECYCLE: [`Parser::new`] → [`Parser::feed`] once per file, in command
//! line order (sections may not span files, as in HAProxy) →
//! [`Parser::finish`]. The first error stops parsing.

use std::sync::Arc;

use crate::error::{ConfigError, SectionKind, SectionRef};
use crate::kw::{unsupported, Ctx, Env, ProxyDraft};
use crate::lexer::split_line;
use crate::registry;
use crate::types::*;

/// The section being parsed.
pub enum Current {
    /// Before the first section.
    None,
    /// In `global`.
    Global,
    /// In a proxy or `defaults` section.
    Proxy(Box<ProxyDraft>),
    /// In an `xdp` section (weir's own, see [`crate::kw::kernel`]).
    Xdp(Box<crate::kw::kernel::XdpDraft>),
}

/// State of a `.if` block (HAProxy's conditional blocks, manual section 2.4).
#[derive(Clone, Copy)]
struct CondFrame {
    /// Lines of the current branch are parsed.
    active: bool,
    /// A branch of this block was already taken.
    taken: bool,
    /// The enclosing block is active.
    parent_active: bool,
    /// `.else` was seen.
    in_else: bool,
    /// Where `.if` was.
    line: u32,
}

/// Parses configuration text into a [`Config`].
pub struct Parser<'e> {
    global: Global,
    /// Named and anonymous defaults sections, in order.
    defaults: Vec<ProxyDraft>,
    /// Settings a new proxy starts from (the last defaults section).
    last_defaults: Option<usize>,
    /// For each defaults section: (referenced with `from`, used implicitly).
    /// HAProxy forbids mixing both uses of one section.
    defaults_use: Vec<(bool, bool)>,
    current: Current,
    section: Option<SectionRef>,
    /// Finished frontend/backend/listen drafts, in file order.
    proxies: Vec<ProxyDraft>,
    /// Finished `xdp` sections, in file order.
    xdp: Vec<crate::xdp::XdpSection>,
    warnings: Vec<Warning>,
    env: Env<'e>,
    /// Errors so far.
    errors: Vec<ConfigError>,
    /// Lines are skipped until the next section (its opening line was bad).
    skipping: bool,
}

/// Parsing stops after this many errors.
pub const MAX_ERRORS: usize = 100;

fn at(loc: &Loc, section: &Option<SectionRef>, msg: impl Into<String>) -> ConfigError {
    ConfigError::At {
        loc: loc.clone(),
        section: section.clone(),
        msg: msg.into(),
    }
}

impl<'e> Parser<'e> {
    /// A parser that looks environment variables up with `env`.
    pub fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Parser {
            global: Global::default(),
            defaults: Vec::new(),
            last_defaults: None,
            defaults_use: Vec::new(),
            current: Current::None,
            section: None,
            proxies: Vec::new(),
            xdp: Vec::new(),
            warnings: Vec::new(),
            env: Env {
                base: env,
                overlay: Default::default(),
            },
            errors: Vec::new(),
            skipping: false,
        }
    }

    /// Parses one file's text. `file` names it in locations. Parsing goes on
    /// after an error (the faulty line is skipped, or the whole section when
    /// its opening line is faulty), so that every problem is reported at once,
    /// as HAProxy does; returns this file's errors, if any. [`Parser::finish`]
    /// fails if any file had errors.
    pub fn feed(&mut self, file: &str, text: &str) -> Result<(), ConfigError> {
        let before = self.errors.len();
        let file: Arc<str> = Arc::from(file);
        let mut conds: Vec<CondFrame> = Vec::new();
        let mut lineno = 0u32;
        let mut rest = text;
        while !rest.is_empty() && self.errors.len() < MAX_ERRORS {
            lineno += 1;
            let (line, next, has_lf) = match rest.find('\n') {
                Some(i) => (&rest[..i], &rest[i + 1..], true),
                None => (rest, "", false),
            };
            rest = next;
            let loc = Loc {
                file: file.clone(),
                line: lineno,
            };
            if let Err(e) = self.step(&loc, line, &mut conds) {
                self.errors.push(e);
            }
            if !has_lf {
                // HAProxy refuses a last line without LF: the file may have
                // been truncated while being written.
                self.errors.push(at(
                    &loc,
                    &None,
                    "missing LF on last line, file might have been truncated",
                ));
            }
        }
        if let Some(c) = conds.last() {
            let loc = Loc {
                file: file.clone(),
                line: c.line,
            };
            self.errors.push(at(
                &loc,
                &None,
                "'.if' block is not terminated by '.endif' before the end of the file",
            ));
        }
        // Sections end with their file (HAProxy semantics for several -f).
        self.close_section();
        self.skipping = false;
        ConfigError::from_list(
            self.errors[before..]
                .iter()
                .map(ConfigError::duplicate)
                .collect(),
        )
    }

    /// Parses one line.
    fn step(
        &mut self,
        loc: &Loc,
        line: &str,
        conds: &mut Vec<CondFrame>,
    ) -> Result<(), ConfigError> {
        let mut words = split_line(line, &|n| self.env.get(n))
            .map_err(|e| at(loc, &self.section, e.to_string()))?;
        // HAProxy's keyword parsers take an empty argument for an absent one
        // (they test `*args[n]`): trailing empty words (`""`, an empty
        // variable in quotes) count as nothing, so `daemon ""` is `daemon`
        // and `name ""` lacks its value.
        while words.last().is_some_and(|w| w.text.is_empty()) {
            words.pop();
        }
        let Some(first) = words.first() else {
            return Ok(());
        };
        if first.text.starts_with('.') && !first.quoted {
            let w: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
            return self.directive(loc, &w, conds);
        }
        if conds.last().is_some_and(|c| !c.active) {
            return Ok(());
        }
        let literal_vars: Vec<String> = words
            .iter()
            .filter(|w| w.unexpanded_var)
            .map(|w| w.text.clone())
            .collect();
        let words: Vec<String> = words.into_iter().map(|w| w.text).collect();
        let r = self.line(loc, &words);
        let Some(first_var) = literal_vars.first() else {
            return r;
        };
        // Outside double quotes HAProxy leaves variables literal (addresses
        // aside): when such a line fails, say so.
        match r {
            Err(ConfigError::At { loc, section, msg }) => Err(ConfigError::At {
                loc,
                section,
                msg: format!(
                    "{msg} (note: '{first_var}' is literal here: outside double quotes, variables are expanded only in addresses)"
                ),
            }),
            other => other,
        }
    }

    /// Handles `.if`, `.elif`, `.else`, `.endif`, `.diag`, `.notice`,
    /// `.warning`, `.alert` (HAProxy manual section 2.4).
    fn directive(
        &mut self,
        loc: &Loc,
        w: &[String],
        conds: &mut Vec<CondFrame>,
    ) -> Result<(), ConfigError> {
        let active = conds.last().is_none_or(|c| c.active);
        let err = |m: String| at(loc, &None, m);
        match w[0].as_str() {
            ".if" => {
                let v = if active {
                    eval_cond(&w[1..], &|n| self.env.get(n)).map_err(err)?
                } else {
                    false
                };
                conds.push(CondFrame {
                    active: active && v,
                    taken: v,
                    parent_active: active,
                    in_else: false,
                    line: loc.line,
                });
            }
            ".elif" => {
                let Some(c) = conds.last_mut() else {
                    return Err(err("'.elif' without a matching '.if'".into()));
                };
                if c.in_else {
                    return Err(err("'.elif' after '.else'".into()));
                }
                let v = if c.parent_active && !c.taken {
                    eval_cond(&w[1..], &|n| self.env.get(n)).map_err(err)?
                } else {
                    false
                };
                c.active = c.parent_active && !c.taken && v;
                c.taken |= v;
            }
            ".else" => {
                let Some(c) = conds.last_mut() else {
                    return Err(err("'.else' without a matching '.if'".into()));
                };
                if c.in_else {
                    return Err(err("several '.else' in the same '.if' block".into()));
                }
                c.in_else = true;
                c.active = c.parent_active && !c.taken;
                c.taken = true;
            }
            ".endif" => {
                if conds.pop().is_none() {
                    return Err(err("'.endif' without a matching '.if'".into()));
                }
            }
            d @ (".diag" | ".notice" | ".warning") => {
                if active {
                    self.warnings.push(Warning {
                        loc: loc.clone(),
                        section: None,
                        msg: format!("{}: {}", &d[1..], w[1..].join(" ")),
                    });
                }
            }
            ".alert" => {
                if active {
                    return Err(err(w[1..].join(" ")));
                }
            }
            other => return Err(err(format!("unknown directive '{other}'"))),
        }
        Ok(())
    }

    /// Parses one non-empty line of words.
    fn line(&mut self, loc: &Loc, w: &[String]) -> Result<(), ConfigError> {
        let kw = w[0].as_str();
        if let Some((_, kind)) = registry::SECTION_OPENERS.iter().find(|(k, _)| *k == kw) {
            self.close_section();
            self.skipping = false;
            let r = self.open_section(loc, *kind, &w[1..]);
            if r.is_err() {
                // The section's lines would only repeat the error.
                self.current = Current::None;
                self.skipping = true;
            }
            return r;
        }
        if unsupported::UNSUPPORTED_SECTIONS.contains(&kw) {
            self.close_section();
            self.skipping = true;
            return Err(at(
                loc,
                &None,
                format!("section '{kw}' is not supported by weir yet"),
            ));
        }
        if self.skipping {
            return Ok(());
        }
        let Some(section) = self.section.clone() else {
            let msg = match unsupported::keyword_message(kw) {
                Some(m) => format!("{m}; and it appears out of any section"),
                None => {
                    let all = registry::SECTION_OPENERS.iter().map(|(k, _)| *k);
                    let hint = crate::suggest::closest(kw, all)
                        .map(|s| format!("; did you mean '{s}'?"))
                        .unwrap_or_default();
                    format!("unknown keyword '{kw}' out of section{hint}")
                }
            };
            return Err(at(loc, &None, msg));
        };
        let (negated, kw, args) = if kw == "no" {
            match w.get(1) {
                Some(k) => (true, k.as_str(), &w[2..]),
                None => return Err(at(loc, &self.section, "'no' must be followed by a keyword")),
            }
        } else {
            (false, kw, &w[1..])
        };
        let Some(k) = registry::keyword(kw, section.kind) else {
            let msg = match unsupported::keyword_message(kw) {
                Some(m) => m,
                None if crate::kw::server::is_server_option(kw) => format!(
                    "unknown keyword '{kw}': it is a server option, write it on a 'server' or 'default-server' line"
                ),
                None => {
                    let here = registry::all_keywords()
                        .filter(|k| k.sections.contains(section.kind))
                        .map(|k| k.name)
                        .chain(registry::SECTION_OPENERS.iter().map(|(k, _)| *k));
                    let hint = crate::suggest::closest(kw, here)
                        .map(|s| format!("; did you mean '{s}'?"))
                        .unwrap_or_default();
                    format!("unknown keyword '{kw}'{hint}")
                }
            };
            return Err(at(loc, &self.section, msg));
        };
        if !k.sections.contains(section.kind) {
            return Err(at(
                loc,
                &self.section,
                format!(
                    "'{kw}' is not allowed in a '{}' section (allowed in: {})",
                    section.kind.keyword(),
                    k.sections.names()
                ),
            ));
        }
        if negated && !k.negatable {
            return Err(at(
                loc,
                &self.section,
                format!("'no {kw}' is not supported: '{kw}' cannot be negated"),
            ));
        }
        let (proxy, xdp) = match &mut self.current {
            Current::Proxy(p) => (Some(&mut **p), None),
            Current::Xdp(x) => (None, Some(&mut **x)),
            _ => (None, None),
        };
        let mut ctx = Ctx {
            loc,
            section: &section,
            negated,
            global: &mut self.global,
            proxy,
            xdp,
            warnings: &mut self.warnings,
            env: &mut self.env,
        };
        (k.parse)(&mut ctx, args).map_err(|m| at(loc, &self.section, m))
    }

    fn open_section(
        &mut self,
        loc: &Loc,
        kind: SectionKind,
        args: &[String],
    ) -> Result<(), ConfigError> {
        let sec = |name: Option<String>| SectionRef { kind, name };
        match kind {
            SectionKind::Global => {
                self.section = Some(sec(None));
                if let Some(x) = args.first() {
                    return Err(at(
                        loc,
                        &self.section,
                        format!("'global' takes no argument, got '{x}'"),
                    ));
                }
                self.current = Current::Global;
            }
            SectionKind::Defaults => {
                let (name, from) = match args {
                    [] => (None, None),
                    [f, n] if f == "from" => (None, Some(n)),
                    [n] => (Some(n.clone()), None),
                    [n, f, d] if f == "from" => (Some(n.clone()), Some(d)),
                    _ => {
                        self.section = Some(sec(None));
                        return Err(at(
                            loc,
                            &self.section,
                            "'defaults' expects [<name>] [from <defaults name>]",
                        ));
                    }
                };
                self.section = Some(sec(name.clone()));
                if let Some(n) = &name {
                    crate::kw::proxy::check_name("defaults", n)
                        .map_err(|m| at(loc, &self.section, m))?;
                    // HAProxy accepts two defaults sections with one name;
                    // referencing that name is the error (find_defaults).
                }
                let base = match from {
                    Some(f) => self.find_defaults(loc, f, "defaults section")?,
                    None => ProxyDraft::new(kind, None, loc.clone()),
                };
                let mut d = base;
                d.kind = kind;
                d.name = name;
                d.loc = loc.clone();
                self.current = Current::Proxy(Box::new(d));
            }
            SectionKind::Frontend | SectionKind::Backend | SectionKind::Listen => {
                let Some(name) = args.first() else {
                    self.section = Some(sec(None));
                    return Err(at(
                        loc,
                        &self.section,
                        format!("'{}' expects a name", kind.keyword()),
                    ));
                };
                self.section = Some(sec(Some(name.clone())));
                crate::kw::proxy::check_name("proxy", name)
                    .map_err(|m| at(loc, &self.section, m))?;
                let from = match &args[1..] {
                    [] => None,
                    [f, d] if f == "from" => Some(d),
                    [addr, ..] if kind != SectionKind::Backend => {
                        return Err(at(loc, &self.section, format!(
                            "a listening address on the '{}' line ('{addr}') was removed in HAProxy 2.x; use a 'bind {addr}' line inside the section",
                            kind.keyword()
                        )))
                    }
                    [x, ..] => {
                        return Err(at(
                            loc,
                            &self.section,
                            format!("'backend' takes a name and optionally 'from <defaults name>'; unexpected '{x}'"),
                        ))
                    }
                };
                let fe_cap = matches!(kind, SectionKind::Frontend | SectionKind::Listen);
                let be_cap = matches!(kind, SectionKind::Backend | SectionKind::Listen);
                if let Some(prev) = self.proxies.iter().find(|p| {
                    p.name.as_deref() == Some(name)
                        && ((fe_cap
                            && matches!(p.kind, SectionKind::Frontend | SectionKind::Listen))
                            || (be_cap
                                && matches!(p.kind, SectionKind::Backend | SectionKind::Listen)))
                }) {
                    return Err(at(
                        loc,
                        &self.section,
                        format!(
                            "{} '{name}' has the same name as {} '{name}' declared at {}",
                            kind.keyword(),
                            prev.kind.keyword(),
                            prev.loc
                        ),
                    ));
                }
                let base = match (from, self.last_defaults) {
                    (Some(f), _) => self.find_defaults(loc, f, kind.keyword())?,
                    (None, Some(i)) => {
                        if self.defaults_use[i].0 {
                            // HAProxy 2.6 raises an alert and goes on with
                            // this defaults section: a warning here.
                            let msg = format!(
                                "defaults section '{}' (declared at {}) is explicitly referenced by another proxy and implicitly used here; to avoid any ambiguity, add a last defaults section that is not referenced explicitly, or always use explicit references",
                                self.defaults[i].name.as_deref().unwrap_or(""),
                                self.defaults[i].loc
                            );
                            self.warnings.push(Warning {
                                loc: loc.clone(),
                                section: self.section.clone(),
                                msg,
                            });
                        }
                        self.defaults_use[i].1 = true;
                        self.defaults[i].clone()
                    }
                    (None, None) => ProxyDraft::new(kind, None, loc.clone()),
                };
                let d = ProxyDraft::inherit(&base, kind, name.clone(), loc.clone());
                self.current = Current::Proxy(Box::new(d));
            }
            SectionKind::Other("xdp") => {
                self.section = Some(sec(args.first().cloned()));
                let d = crate::kw::kernel::open(loc, args, &self.xdp)
                    .map_err(|m| at(loc, &self.section, m))?;
                self.current = Current::Xdp(Box::new(d));
            }
            SectionKind::Other(k) => {
                self.section = Some(sec(args.first().cloned()));
                return Err(at(
                    loc,
                    &self.section,
                    format!("internal error: section '{k}' has no handler"),
                ));
            }
        }
        Ok(())
    }

    /// The named defaults section `name`, for a `from` reference by `who`
    /// (a section kind). Enforces HAProxy's rules: the name must exist
    /// before, be unique, and not also be used implicitly.
    fn find_defaults(
        &mut self,
        loc: &Loc,
        name: &str,
        who: &str,
    ) -> Result<ProxyDraft, ConfigError> {
        let found: Vec<usize> = (0..self.defaults.len())
            .filter(|&i| self.defaults[i].name.as_deref() == Some(name))
            .collect();
        let i = match found.as_slice() {
            [] => {
                return Err(at(loc, &self.section, format!(
                    "defaults section '{name}' not found (it must be declared before being used)"
                )))
            }
            [i] => *i,
            [a, b, ..] => {
                return Err(at(loc, &self.section, format!(
                    "ambiguous defaults section name '{name}' referenced by {who}: it exists at least at {} and {}",
                    self.defaults[*a].loc, self.defaults[*b].loc
                )))
            }
        };
        if self.defaults_use[i].1 {
            // HAProxy 2.6 raises an alert and goes on: a warning here.
            let msg = format!(
                "defaults section '{name}' (declared at {}) is implicitly used by another proxy and explicitly referenced here; to avoid any ambiguity, add a last defaults section that is not referenced explicitly, or always use explicit references",
                self.defaults[i].loc
            );
            self.warnings.push(Warning {
                loc: loc.clone(),
                section: self.section.clone(),
                msg,
            });
        }
        self.defaults_use[i].0 = true;
        Ok(self.defaults[i].clone())
    }

    fn close_section(&mut self) {
        match std::mem::replace(&mut self.current, Current::None) {
            Current::None | Current::Global => {}
            Current::Xdp(d) => {
                let loc = d.loc.clone();
                match crate::kw::kernel::close(*d, &self.xdp) {
                    Ok(s) => self.xdp.push(s),
                    Err(m) => self.errors.push(at(&loc, &self.section, m)),
                }
            }
            Current::Proxy(d) => {
                if d.kind == SectionKind::Defaults {
                    self.last_defaults = Some(self.defaults.len());
                    self.defaults.push(*d);
                    self.defaults_use.push((false, false));
                } else {
                    self.proxies.push(*d);
                }
            }
        }
        self.section = None;
    }

    /// Records an error found outside the parser (e.g. an unreadable file).
    pub fn push_error(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    /// Ends parsing: checks references between sections and builds the
    /// [`Config`].
    pub fn finish(mut self) -> Result<Config, ConfigError> {
        self.close_section();
        if !self.errors.is_empty() {
            // Cross-reference checks would mostly echo the errors already found.
            return Err(ConfigError::from_list(std::mem::take(&mut self.errors))
                .err()
                .unwrap_or(ConfigError::NoFile));
        }
        let mut frontends = Vec::new();
        let mut backends = Vec::new();
        for d in &self.proxies {
            let name = d.name.clone().unwrap_or_default();
            let sref = Some(SectionRef {
                kind: d.kind,
                name: Some(name.clone()),
            });
            // Accepted lines that cannot act, said as HAProxy says them (it
            // warns the same way about HTTP rules in a TCP proxy).
            if d.mode == Mode::Tcp {
                for (rules, kw) in [
                    (&d.http.request_rules, "http-request"),
                    (&d.http.response_rules, "http-response"),
                ] {
                    if let Some(r) = rules.first() {
                        self.warnings.push(Warning {
                            loc: r.loc.clone(),
                            section: sref.clone(),
                            msg: format!(
                                "'{kw}' rules ignored for {} '{name}': they require 'mode http'",
                                d.kind.keyword()
                            ),
                        });
                    }
                }
            }
            for b in &d.binds {
                let inert: Vec<&str> = [
                    (b.maxconn.is_some(), "maxconn"),
                    (b.interface.is_some(), "interface"),
                    (b.v4v6, "v4v6"),
                    (b.v6only, "v6only"),
                    (b.transparent, "transparent"),
                    (b.defer_accept, "defer-accept"),
                    (b.tfo, "tfo"),
                ]
                .into_iter()
                .filter_map(|(set, o)| set.then_some(o))
                .collect();
                if !inert.is_empty() {
                    self.warnings.push(Warning {
                        loc: b.loc.clone(),
                        section: sref.clone(),
                        msg: format!(
                            "'bind' option(s) {} have no effect in weir yet",
                            inert.join(", ")
                        ),
                    });
                }
            }
            for sv in &d.servers {
                let inert: Vec<&str> = [
                    (sv.minconn.is_some(), "minconn"),
                    (sv.maxqueue.is_some(), "maxqueue"),
                    (sv.slowstart.is_some(), "slowstart"),
                ]
                .into_iter()
                .filter_map(|(set, o)| set.then_some(o))
                .collect();
                if !inert.is_empty() {
                    self.warnings.push(Warning {
                        loc: sv.loc.clone(),
                        section: sref.clone(),
                        msg: format!(
                            "server '{}': option(s) {} have no effect in weir yet",
                            sv.name,
                            inert.join(", ")
                        ),
                    });
                }
            }
            // kw::rules: content rules need a parsed request (mode http);
            // use-server names one of this section's servers.
            if let (Some(r), Mode::Tcp) = (d.rules.tcp_content.first(), d.mode) {
                if d.kind == SectionKind::Backend {
                    return Err(at(
                        &r.loc,
                        &sref,
                        "'tcp-request content' in a 'mode tcp' backend is not supported by weir yet \
                         (put the rules in the frontend)",
                    ));
                }
                if let Some(r) = d.rules.tcp_content.iter().find(|r| !r.payload_only) {
                    return Err(at(
                        &r.loc,
                        &sref,
                        "'tcp-request content' in 'mode tcp': the condition may only read src, \
                         src_port, dst, dst_port, req.len, req.payload and wait_end",
                    ));
                }
            }
            // kw::http: `redirect` and `monitor-uri` act on HTTP requests;
            // HAProxy ignores them in mode tcp with a warning.
            if d.mode == Mode::Tcp {
                let fe_side = matches!(d.kind, SectionKind::Frontend | SectionKind::Listen);
                if let Some(r) = d.http.redirect_rules.first() {
                    self.warnings.push(Warning {
                        loc: r.loc.clone(),
                        section: sref.clone(),
                        msg: "'redirect' rules ignored: they require 'mode http'".into(),
                    });
                }
                if d.http.monitor_uri.is_some() && fe_side {
                    self.warnings.push(Warning {
                        loc: d.loc.clone(),
                        section: sref.clone(),
                        msg: "'monitor-uri' ignored: it requires 'mode http'".into(),
                    });
                }
            }
            if let (Some(u), Mode::Tcp) = (d.rules.use_server.iter().find(|u| !u.layer4), d.mode) {
                return Err(at(
                    &u.loc,
                    &sref,
                    "'use-server' in a 'mode tcp' section: the condition may only read src, src_port, dst and dst_port",
                ));
            }
            if let Some(u) = d
                .rules
                .use_server
                .iter()
                .find(|u| !d.servers.iter().any(|s| s.name == u.server))
            {
                return Err(at(
                    &u.loc,
                    &sref,
                    format!(
                        "'use-server': no server '{}' in {} '{name}'",
                        u.server,
                        d.kind.keyword()
                    ),
                ));
            }
            if matches!(d.kind, SectionKind::Frontend | SectionKind::Listen) {
                if d.binds.is_empty() && !d.disabled {
                    self.warnings.push(Warning {
                        loc: d.loc.clone(),
                        section: sref.clone(),
                        msg: format!("{} '{name}' has no 'bind' directive", d.kind.keyword()),
                    });
                }
                let default_backend = match (&d.default_backend, d.kind) {
                    (Some((b, _)), _) => Some(b.clone()),
                    (None, SectionKind::Listen) => Some(name.clone()),
                    (None, _) => None,
                };
                frontends.push(Frontend {
                    name: name.clone(),
                    loc: d.loc.clone(),
                    from_listen: d.kind == SectionKind::Listen,
                    mode: d.mode,
                    binds: d.binds.clone(),
                    maxconn: d.maxconn,
                    timeouts: d.timeouts,
                    default_backend,
                    use_backend: d.use_backend.clone(),
                    acls: d.acls.clone(),
                    log_options: d.log_options,
                    logs: d.logs.clone(),
                    splice: d.splice,
                    tcpka: d.tcpka,
                    nolinger: d.nolinger,
                    disabled: d.disabled,
                    http: d.http.clone(),
                    rules: d.rules.clone(),
                });
            }
            if matches!(d.kind, SectionKind::Backend | SectionKind::Listen) {
                let mut balance = d.balance.clone();
                let l7 = matches!(
                    balance,
                    Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. }
                );
                if l7 && d.mode != Mode::Http {
                    self.warnings.push(Warning {
                        loc: d.balance_loc.clone().unwrap_or_else(|| d.loc.clone()),
                        section: sref.clone(),
                        msg: "layer 7 hash not possible without 'mode http'; falling back to round robin".into(),
                    });
                    balance = Balance::RoundRobin;
                }
                let mut check_kind = d.check_kind.clone();
                match (&mut check_kind, &d.check_expect) {
                    (CheckKind::Http(h), e) => h.expect = e.clone(),
                    (CheckKind::Tcp, Some(_)) => self.warnings.push(Warning {
                        loc: d.check_expect_loc.clone().unwrap_or_else(|| d.loc.clone()),
                        section: sref.clone(),
                        msg: "'http-check expect' ignored without 'option httpchk'".into(),
                    }),
                    (CheckKind::Tcp, None) => {}
                }
                match (&mut check_kind, &d.check_send) {
                    (CheckKind::Http(h), Some((send, _))) => {
                        if let Some(m) = &send.method {
                            h.method.clone_from(m);
                        }
                        if let Some(u) = &send.uri {
                            h.uri.clone_from(u);
                        }
                        if let Some(v) = &send.version {
                            h.version.clone_from(v);
                        }
                        h.headers.extend(send.headers.iter().cloned());
                        h.body.clone_from(&send.body);
                    }
                    (CheckKind::Tcp, Some((_, loc))) => self.warnings.push(Warning {
                        loc: loc.clone(),
                        section: sref.clone(),
                        msg: "'http-check send' ignored without 'option httpchk'".into(),
                    }),
                    (_, None) => {}
                }
                backends.push(Backend {
                    name: name.clone(),
                    loc: d.loc.clone(),
                    from_listen: d.kind == SectionKind::Listen,
                    mode: d.mode,
                    balance,
                    hash_type: d.hash_type,
                    servers: d.servers.clone(),
                    default_server: d.default_server.clone(),
                    retries: d.retries,
                    redispatch: d.redispatch,
                    allbackups: d.allbackups,
                    check_kind,
                    timeouts: d.timeouts,
                    fullconn: d.fullconn,
                    maxconn: d.maxconn,
                    log_options: d.log_options,
                    logs: d.logs.clone(),
                    splice: d.splice,
                    tcpka: d.tcpka,
                    nolinger: d.nolinger,
                    disabled: d.disabled,
                    acls: d.acls.clone(),
                    http: d.http.clone(),
                    rules: d.rules.clone(),
                });
            }
        }
        // HAProxy's warning about missing timeouts (infinite waits on dead peers).
        for d in &self.proxies {
            let t = &d.timeouts;
            let mut missing = Vec::new();
            let fe = matches!(d.kind, SectionKind::Frontend | SectionKind::Listen);
            let be = matches!(d.kind, SectionKind::Backend | SectionKind::Listen);
            if fe && t.client.is_none() {
                missing.push("client");
            }
            if be && t.connect.is_none() {
                missing.push("connect");
            }
            if be && t.server.is_none() {
                missing.push("server");
            }
            if !missing.is_empty() && !d.disabled {
                self.warnings.push(Warning {
                    loc: d.loc.clone(),
                    section: Some(SectionRef {
                        kind: d.kind,
                        name: d.name.clone(),
                    }),
                    msg: format!(
                        "missing timeouts ({}): connections may wait forever; set them to a non-zero value",
                        missing.join(", ")
                    ),
                });
            }
        }
        // Cross-references: every backend a frontend names must exist, and an
        // HTTP frontend cannot hand its traffic to a TCP backend.
        for (fe, d) in frontends.iter().zip(
            self.proxies
                .iter()
                .filter(|d| d.kind != SectionKind::Backend),
        ) {
            let sref = Some(SectionRef {
                kind: d.kind,
                name: Some(fe.name.clone()),
            });
            let mut refs: Vec<(&str, &Loc, &str)> = fe
                .use_backend
                .iter()
                .map(|u| (u.backend.as_str(), &u.loc, "use_backend"))
                .collect();
            if let Some((b, l)) = &d.default_backend {
                refs.push((b.as_str(), l, "default_backend"));
            }
            for (b, l, what) in refs {
                let Some(be) = backends.iter().find(|x| x.name == b) else {
                    return Err(at(
                        l,
                        &sref,
                        format!("unable to find required {what}: '{b}'"),
                    ));
                };
                if fe.mode == Mode::Http && be.mode == Mode::Tcp {
                    return Err(at(
                        l,
                        &sref,
                        format!(
                        "{what} '{b}' is in mode tcp and cannot be used by {} '{}' in mode http",
                        d.kind.keyword(),
                        fe.name
                    ),
                    ));
                }
            }
        }
        Ok(Config {
            global: self.global,
            frontends,
            backends,
            warnings: self.warnings,
            xdp: self.xdp,
        })
    }
}

/// Evaluates a `.if` condition: HAProxy's predicates `defined(NAME)`,
/// `feature(NAME)`, `streq(A,B)`, `strneq(A,B)`, `version_atleast(V)`,
/// `version_before(V)`, or a plain word (true unless empty or `0`). weir
/// answers version predicates as the HAProxy 2.6 dialect it implements and
/// reports no optional feature.
fn eval_cond(w: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<bool, String> {
    let expr = w.join(" ");
    let expr = expr.trim();
    if expr.is_empty() {
        return Err("'.if' expects a condition".into());
    }
    let (neg, e) = match expr.strip_prefix('!') {
        Some(r) => (true, r.trim()),
        None => (false, expr),
    };
    let v = if let Some(open) = e.find('(') {
        let pred = &e[..open];
        let inner = e[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| format!("missing ')' in condition '{e}'"))?;
        let args: Vec<&str> = inner.split(',').map(str::trim).collect();
        match (pred, args.as_slice()) {
            ("defined", [n]) => env(n).is_some(),
            ("feature", [_]) => false,
            ("streq", [a, b]) => a == b,
            ("strneq", [a, b]) => a != b,
            ("version_atleast", [v]) => cmp_version("2.6", v)? >= std::cmp::Ordering::Equal,
            ("version_before", [v]) => cmp_version("2.6", v)? == std::cmp::Ordering::Less,
            _ => return Err(format!("unsupported condition '{e}' in '.if' (weir knows defined, feature, streq, strneq, version_atleast, version_before)")),
        }
    } else {
        !(e.is_empty() || e == "0")
    };
    Ok(v != neg)
}

fn cmp_version(ours: &str, theirs: &str) -> Result<std::cmp::Ordering, String> {
    let parse = |s: &str| -> Result<Vec<u32>, String> {
        s.split(['.', '-'])
            .take_while(|p| p.bytes().all(|c| c.is_ascii_digit()) && !p.is_empty())
            .map(|p| {
                p.parse::<u32>()
                    .map_err(|_| format!("invalid version '{s}'"))
            })
            .collect()
    };
    let (a, b) = (parse(ours)?, parse(theirs)?);
    if b.is_empty() {
        return Err(format!("invalid version '{theirs}'"));
    }
    Ok(a.cmp(&b))
}
