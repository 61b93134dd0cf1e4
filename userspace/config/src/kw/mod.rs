//! Keyword tables. Each subsystem file owns the keywords of its area as a
//! static table of [`Keyword`] entries (keyword, sections where it is
//! allowed, parse function, HAProxy manual section it follows);
//! [`crate::registry`] lists the tables. The parser driver knows no keyword
//! by name except the section openers.
//!
//! To add keywords: write `src/kw/<area>.rs` with a `pub static KEYWORDS:
//! &[Keyword]` (and `OPTIONS: &[OptionKw]` for `option …` names), then add
//! the table to [`crate::registry::KEYWORD_TABLES`] / `OPTION_TABLES`. A
//! parse function receives a [`Ctx`] (the section being built, the
//! location, a place for warnings) and the words after the keyword, and
//! returns `Err(message)` on a bad value; the driver adds `file:line` and
//! the section to the message.

pub mod acl;
pub mod bind;
pub mod check;
pub mod global;
pub mod http;
pub mod kernel;
pub mod log;
pub mod proxy;
pub mod rules;
pub mod server;
pub mod unsupported;

use std::collections::HashMap;

use crate::error::{SectionKind, SectionRef};
use crate::types::*;

/// A set of section kinds, as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections(pub u8);

impl Sections {
    /// `global`.
    pub const GLOBAL: Sections = Sections(1);
    /// `defaults`.
    pub const DEFAULTS: Sections = Sections(2);
    /// `frontend`.
    pub const FRONTEND: Sections = Sections(4);
    /// `backend`.
    pub const BACKEND: Sections = Sections(8);
    /// `listen`.
    pub const LISTEN: Sections = Sections(16);
    /// Every proxy section (defaults, frontend, backend, listen).
    pub const PROXIES: Sections = Sections(2 | 4 | 8 | 16);
    /// Sections with a frontend side (defaults, frontend, listen).
    pub const FE: Sections = Sections(2 | 4 | 16);
    /// Sections with a backend side (defaults, backend, listen).
    pub const BE: Sections = Sections(2 | 8 | 16);
    /// Frontend and listen only (no defaults).
    pub const FE_NODEF: Sections = Sections(4 | 16);
    /// Backend and listen only (no defaults).
    pub const BE_NODEF: Sections = Sections(8 | 16);
    /// Extension sections (weir's own section kinds; see
    /// [`crate::registry::SECTION_OPENERS`]).
    pub const EXT: Sections = Sections(32);

    /// The bit of a section kind (extension kinds have none).
    pub fn of(kind: SectionKind) -> Sections {
        match kind {
            SectionKind::Global => Self::GLOBAL,
            SectionKind::Defaults => Self::DEFAULTS,
            SectionKind::Frontend => Self::FRONTEND,
            SectionKind::Backend => Self::BACKEND,
            SectionKind::Listen => Self::LISTEN,
            SectionKind::Other(_) => Self::EXT,
        }
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: SectionKind) -> bool {
        self.0 & Self::of(kind).0 != 0
    }

    /// Names of the sections in the set, for messages.
    pub fn names(self) -> String {
        let all = [
            (Self::GLOBAL, "global"),
            (Self::DEFAULTS, "defaults"),
            (Self::FRONTEND, "frontend"),
            (Self::BACKEND, "backend"),
            (Self::LISTEN, "listen"),
            (Self::EXT, "xdp"),
        ];
        all.iter()
            .filter(|(s, _)| self.0 & s.0 != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Signature of a keyword parser: `args` are the words after the keyword.
pub type ParseFn = fn(&mut Ctx<'_, '_>, &[String]) -> Result<(), String>;

/// One keyword of a table.
#[derive(Debug)]
pub struct Keyword {
    /// The first word of the line.
    pub name: &'static str,
    /// Where it may appear.
    pub sections: Sections,
    /// Whether `no KEYWORD …` is accepted (the parser sees `ctx.negated`).
    pub negatable: bool,
    /// The parser.
    pub parse: ParseFn,
    /// The HAProxy manual section this keyword follows.
    pub doc: &'static str,
}

/// Signature of an `option` parser: `negated` is true for `no option X`.
pub type OptionFn = fn(&mut ProxyDraft, bool, &[String]) -> Result<(), String>;

/// One `option NAME` of a table.
#[derive(Debug)]
pub struct OptionKw {
    /// The option name (second word).
    pub name: &'static str,
    /// Where it may appear.
    pub sections: Sections,
    /// Where it has an effect (FE, BE or PROXIES); elsewhere it is accepted
    /// with HAProxy's "ignored because … has no … capability" warning.
    pub side: Sections,
    /// The parser.
    pub parse: OptionFn,
    /// The HAProxy manual section.
    pub doc: &'static str,
}

/// A proxy section being built (also used for `defaults`). Converted into
/// [`Frontend`] and/or [`Backend`] when the section ends.
#[derive(Debug, Clone)]
pub struct ProxyDraft {
    /// Section kind.
    pub kind: SectionKind,
    /// Name (`None` only for anonymous defaults).
    pub name: Option<String>,
    /// Where the section starts.
    pub loc: Loc,
    /// `mode`.
    pub mode: Mode,
    /// `maxconn`.
    pub maxconn: Option<u32>,
    /// `timeout …`.
    pub timeouts: Timeouts,
    /// `default_backend` and where it was written.
    pub default_backend: Option<(String, Loc)>,
    /// `use_backend` rules.
    pub use_backend: Vec<UseBackend>,
    /// `acl` declarations in file order.
    pub acls: Vec<AclDecl>,
    /// `bind` entries.
    pub binds: Vec<Bind>,
    /// `balance`.
    pub balance: Balance,
    /// Where `balance` was written (for the mode check at the end).
    pub balance_loc: Option<Loc>,
    /// `hash-type`.
    pub hash_type: HashType,
    /// `server` lines.
    pub servers: Vec<Server>,
    /// `default-server` settings in effect.
    pub default_server: ServerDefaults,
    /// `retries`.
    pub retries: u32,
    /// `option redispatch`.
    pub redispatch: Option<Redispatch>,
    /// `option allbackups`.
    pub allbackups: bool,
    /// `option httpchk`.
    pub check_kind: CheckKind,
    /// `http-check expect` and where it was written.
    pub check_expect: Option<HttpExpect>,
    /// Where `http-check expect` was written.
    pub check_expect_loc: Option<Loc>,
    /// `http-check send` and where it was written.
    pub check_send: Option<(HttpSend, Loc)>,
    /// `fullconn`.
    pub fullconn: Option<u32>,
    /// Log options.
    pub log_options: LogOptions,
    /// `log` lines.
    pub logs: Vec<LogTarget>,
    /// Splice options.
    pub splice: SpliceMode,
    /// TCP keep-alive options.
    pub tcpka: TcpKeepalive,
    /// `option nolinger`.
    pub nolinger: bool,
    /// `disabled`.
    pub disabled: bool,
    /// `mode http` settings (rules, options, error files): see [`http`].
    pub http: http::HttpSettings,
    /// `tcp-request` and `use-server` rules: see [`rules`].
    pub rules: rules::RuleSettings,
}

impl ProxyDraft {
    /// A fresh draft with HAProxy's documented defaults.
    pub fn new(kind: SectionKind, name: Option<String>, loc: Loc) -> Self {
        ProxyDraft {
            kind,
            name,
            loc,
            mode: Mode::Tcp,
            maxconn: None,
            timeouts: Timeouts::default(),
            default_backend: None,
            use_backend: Vec::new(),
            acls: Vec::new(),
            binds: Vec::new(),
            balance: Balance::RoundRobin,
            balance_loc: None,
            hash_type: HashType::default(),
            servers: Vec::new(),
            default_server: ServerDefaults::default(),
            retries: DEFAULT_RETRIES,
            redispatch: None,
            allbackups: false,
            check_kind: CheckKind::Tcp,
            check_expect: None,
            check_expect_loc: None,
            check_send: None,
            fullconn: None,
            log_options: LogOptions::default(),
            logs: Vec::new(),
            splice: SpliceMode::default(),
            tcpka: TcpKeepalive::default(),
            nolinger: false,
            disabled: false,
            http: http::HttpSettings::default(),
            rules: rules::RuleSettings::default(),
        }
    }

    /// A proxy section starting from the settings of a defaults section.
    pub fn inherit(defaults: &ProxyDraft, kind: SectionKind, name: String, loc: Loc) -> Self {
        let mut d = defaults.clone();
        d.kind = kind;
        d.name = Some(name);
        d.loc = loc;
        d
    }
}

/// Environment seen by the lexer: the process environment overlaid with
/// `setenv`/`presetenv`/`unsetenv` from the global section (which HAProxy
/// applies immediately, so that the next lines see them).
pub struct Env<'a> {
    /// The base lookup (the process environment, or a test's map).
    pub base: &'a dyn Fn(&str) -> Option<String>,
    /// Overrides: `Some(value)` set, `None` unset.
    pub overlay: HashMap<String, Option<String>>,
}

impl Env<'_> {
    /// Expands `$NAME`/`${NAME}` in an address (see
    /// [`crate::lexer::expand_address`]).
    pub fn expand_address(&self, s: &str) -> String {
        crate::lexer::expand_address(s, &|n| self.get(n))
    }

    /// Looks a variable up.
    pub fn get(&self, name: &str) -> Option<String> {
        match self.overlay.get(name) {
            Some(v) => v.clone(),
            None => (self.base)(name),
        }
    }
}

/// What a keyword parser may touch.
pub struct Ctx<'a, 'e> {
    /// Where the line is.
    pub loc: &'a Loc,
    /// The section the line is in.
    pub section: &'a SectionRef,
    /// True when the line started with `no`.
    pub negated: bool,
    /// The global settings (always available; `global` keywords write here).
    pub global: &'a mut Global,
    /// The proxy being built, for proxy sections.
    pub proxy: Option<&'a mut ProxyDraft>,
    /// The `xdp` section being built, in such a section.
    pub xdp: Option<&'a mut kernel::XdpDraft>,
    /// Collected warnings.
    pub warnings: &'a mut Vec<Warning>,
    /// The environment (for `setenv` and friends).
    pub env: &'a mut Env<'e>,
}

impl Ctx<'_, '_> {
    /// The proxy being built. Fails only if a table allows a proxy keyword
    /// outside proxy sections, which is a bug reported as an error rather than
    /// a panic.
    pub fn px(&mut self) -> Result<&mut ProxyDraft, String> {
        self.proxy
            .as_deref_mut()
            .ok_or_else(|| "internal error: proxy keyword outside a proxy section".to_owned())
    }

    /// Records a warning at the current line.
    pub fn warn(&mut self, msg: String) {
        self.warnings.push(Warning {
            loc: self.loc.clone(),
            section: Some(self.section.clone()),
            msg,
        });
    }

    /// Warns, as HAProxy does, when a frontend-only setting is used in a
    /// backend or the reverse. `need` is FE or BE.
    pub fn warn_cap(&mut self, what: &str, need: Sections) {
        let kind = self.section.kind;
        if need.contains(kind) {
            return;
        }
        let side = if need == Sections::FE {
            "frontend"
        } else {
            "backend"
        };
        self.warn(format!(
            "'{what}' ignored because {} has no {side} capability",
            kind.keyword()
        ));
    }
}

/// Fails unless `args` has exactly `n` words.
pub fn expect_args(kw: &str, args: &[String], n: usize, usage: &str) -> Result<(), String> {
    if args.len() < n {
        return Err(format!("'{kw}' expects {usage}"));
    }
    if args.len() > n {
        return Err(format!(
            "'{kw}' takes {usage}; unexpected extra argument '{}'",
            args[n]
        ));
    }
    Ok(())
}

/// Splits `WORDS… [if|unless COND]` and checks the condition (the rule
/// keywords of [`http`] and [`rules`] share it).
pub fn split_cond<'w>(
    ctx: &mut Ctx<'_, '_>,
    kw: &str,
    a: &'w [String],
) -> Result<(&'w [String], Option<Condition>), String> {
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
            let c = Condition {
                loc: ctx.loc.clone(),
                negate: w == "unless",
                tokens: rest.to_vec(),
            };
            (crate::registry::CONDITION_CHECK)(ctx, &c)?;
            Some(c)
        }
    };
    Ok((words, cond))
}
