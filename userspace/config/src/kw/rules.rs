//! Layer-4 rules and server selection (HAProxy configuration manual 4.2):
//! `tcp-request connection accept|reject`, `tcp-request content
//! accept|reject`, `tcp-request inspect-delay`, and `use-server`. What they
//! produce lives in one [`RuleSettings`] per proxy section.
//!
//! `tcp-request connection` runs when a connection is accepted, before any
//! byte is read: its conditions may only use the layer-4 fetches (`src`,
//! `src_port`, `dst`, `dst_port`), which is checked here. `tcp-request
//! content` rules are evaluated, in `mode http`, once the request head is
//! parsed (the inspect delay then has nothing left to wait for); in `mode
//! tcp`, on the bytes the client sent, waiting for more up to the inspect
//! delay while a rule cannot decide yet. There they may read the addresses,
//! `req.len`, `req.payload` and `wait_end` (checked at the end of the
//! section, once its mode is known: see [`crate::parser`]), and only a
//! frontend's or listen's rules run.

use std::time::Duration;

use weir_core::acl::FetchKind;

use super::{split_cond, Ctx, Keyword, Sections};
use crate::types::{Condition, Loc};

/// What the keywords of this file set in one proxy section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSettings {
    /// `tcp-request connection` rules in file order.
    pub tcp_connection: Vec<TcpRule>,
    /// `tcp-request content` rules in file order.
    pub tcp_content: Vec<TcpRule>,
    /// `tcp-request inspect-delay`.
    pub inspect_delay: Option<Duration>,
    /// `use-server` rules in file order.
    pub use_server: Vec<UseServer>,
}

/// One `tcp-request connection|content` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRule {
    /// Where the line is.
    pub loc: Loc,
    /// What it does.
    pub action: TcpAction,
    /// `if`/`unless` condition.
    pub cond: Option<Condition>,
    /// The condition reads only what a `mode tcp` connection has: the
    /// addresses, `req.len`, `req.payload` and `wait_end`.
    pub payload_only: bool,
}

/// A `tcp-request` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpAction {
    /// `accept`: stop evaluating this rule list; the connection goes on.
    Accept,
    /// `reject`: close the connection at once, sending nothing.
    Reject,
}

/// `use-server NAME [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseServer {
    /// Where the line is.
    pub loc: Loc,
    /// The server (checked against the section's servers at its end).
    pub server: String,
    /// `if`/`unless` condition.
    pub cond: Option<Condition>,
    /// The condition reads addresses only (it can run in `mode tcp`).
    pub layer4: bool,
}

/// The keywords.
pub static KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "tcp-request",
        sections: Sections(Sections::FE_NODEF.0 | Sections::BE_NODEF.0),
        negatable: false,
        parse: kw_tcp_request,
        doc: "4.2 tcp-request connection, tcp-request content, tcp-request inspect-delay",
    },
    Keyword {
        name: "use-server",
        sections: Sections::BE_NODEF,
        negatable: false,
        parse: kw_use_server,
        doc: "4.2 use-server",
    },
];

/// Whether a fetch is available when a connection is accepted.
fn layer4(k: FetchKind) -> bool {
    matches!(
        k,
        FetchKind::Src | FetchKind::SrcPort | FetchKind::Dst | FetchKind::DstPort
    )
}

fn kw_tcp_request(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some((which, rest)) = a.split_first() else {
        return Err("'tcp-request' expects 'connection', 'content' or 'inspect-delay'".into());
    };
    match which.as_str() {
        "inspect-delay" => {
            let [t] = rest else {
                return Err("'tcp-request inspect-delay' expects a time".into());
            };
            let d = crate::units::parse_time(t)
                .map_err(|e| format!("'tcp-request inspect-delay': {e}"))?;
            ctx.px()?.rules.inspect_delay = Some(d);
            Ok(())
        }
        "connection" | "content" => {
            let kw = format!("tcp-request {which}");
            let connection = which == "connection";
            if connection && ctx.section.kind == crate::error::SectionKind::Backend {
                return Err(format!(
                    "'{kw}' is not allowed in a backend (it runs when a frontend accepts)"
                ));
            }
            let (words, cond) = split_cond(ctx, &kw, rest)?;
            let action = match words {
                [w] if w == "accept" => TcpAction::Accept,
                [w] if w == "reject" => TcpAction::Reject,
                [] => return Err(format!("'{kw}' expects an action")),
                [w, ..] if w == "accept" || w == "reject" => {
                    return Err(format!(
                        "'{kw} {w}' takes no argument, got '{}'",
                        words[1]
                    ))
                }
                [w, ..] => {
                    return Err(format!(
                        "'{kw}': action '{w}' is unknown or not supported by weir yet (supported: accept, reject)"
                    ))
                }
            };
            if connection {
                if let Some(c) = &cond {
                    if let Some(k) = non_layer4(ctx, c, false)? {
                        return Err(format!(
                            "'{kw}': the condition reads '{k:?}', which does not exist when a connection is accepted (only src, src_port, dst, dst_port do)"
                        ));
                    }
                }
            }
            let payload_only = match &cond {
                Some(c) => non_layer4(ctx, c, true)?.is_none(),
                None => true,
            };
            let rule = TcpRule {
                loc: ctx.loc.clone(),
                action,
                cond,
                payload_only,
            };
            let r = &mut ctx.px()?.rules;
            if connection {
                r.tcp_connection.push(rule);
            } else {
                r.tcp_content.push(rule);
            }
            Ok(())
        }
        x => Err(format!(
            "'tcp-request {x}' is unknown or not supported by weir yet (supported: connection, content, inspect-delay)"
        )),
    }
}

/// The first fetch of `c` that reads more than the addresses (nothing
/// else exists when a connection is accepted), or with `payload`, more
/// than the addresses and the buffered bytes (`mode tcp` content rules).
fn non_layer4(
    ctx: &mut Ctx<'_, '_>,
    c: &Condition,
    payload: bool,
) -> Result<Option<FetchKind>, String> {
    let env = &*ctx.env;
    let lookup = |v: &str| env.get(v);
    let acls = match ctx.proxy.as_deref() {
        Some(p) => p.acls.as_slice(),
        None => &[],
    };
    let compiled = super::acl::compile_condition(acls, c, &lookup)?;
    let k = compiled.fetches().map(|f| f.kind).find(|k| {
        !(layer4(*k)
            || payload
                && matches!(
                    k,
                    FetchKind::ReqLen | FetchKind::ReqPayload | FetchKind::WaitEnd
                ))
    });
    Ok(k)
}

fn kw_use_server(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let (words, cond) = split_cond(ctx, "use-server", a)?;
    let [server] = words else {
        return Err("'use-server' expects <server> [if|unless <condition>]".into());
    };
    let layer4 = match &cond {
        Some(c) => non_layer4(ctx, c, false)?.is_none(),
        None => true,
    };
    let rule = UseServer {
        loc: ctx.loc.clone(),
        server: server.clone(),
        cond,
        layer4,
    };
    ctx.px()?.rules.use_server.push(rule);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn parse(text: &str) -> Result<Config, String> {
        crate::parse_str("t.cfg", text).map_err(|e| e.to_string())
    }

    const HEAD: &str = "defaults\n mode http\n timeout client 1s\n timeout server 1s\n timeout connect 1s\nbackend b\n server s 127.0.0.1:1\n server t 127.0.0.1:2\n";

    #[test]
    fn rules_parse() {
        let cfg = parse(&format!(
            "{HEAD} use-server t if {{ path /t }}\n use-server s\nfrontend f\n bind 127.0.0.1:8080\n default_backend b\n \
             tcp-request inspect-delay 2s\n tcp-request connection reject if {{ src 10.0.0.0/8 }}\n \
             tcp-request connection accept\n tcp-request content reject if {{ path /x }}\n"
        ))
        .unwrap();
        let r = &cfg.frontends[0].rules;
        assert_eq!(r.tcp_connection.len(), 2);
        assert_eq!(r.tcp_connection[0].action, TcpAction::Reject);
        assert_eq!(r.tcp_content.len(), 1);
        assert_eq!(r.inspect_delay, Some(Duration::from_secs(2)));
        let b = &cfg.backends[0].rules;
        assert_eq!(b.use_server.len(), 2);
        assert_eq!(b.use_server[0].server, "t");
    }

    #[test]
    fn bad_rules_are_errors() {
        let fe = "frontend f\n bind 127.0.0.1:8080\n default_backend b\n";
        for (bad, want) in [
            (
                format!("{fe} tcp-request connection reject if {{ path /x }}\n"),
                "does not exist when a connection is accepted",
            ),
            (
                format!("{fe} tcp-request connection track-sc0 src\n"),
                "not supported by weir yet",
            ),
            (
                format!("{fe} tcp-request connection\n"),
                "expects an action",
            ),
            (
                format!("{fe} tcp-request inspect-delay\n"),
                "expects a time",
            ),
            (
                format!("{fe} tcp-request session accept\n"),
                "not supported",
            ),
            (
                format!("{fe} tcp-request content reject if\n"),
                "missing condition",
            ),
            (
                " tcp-request connection reject\n".to_string(),
                "not allowed in a backend",
            ),
            (" use-server nosuch\n".to_string(), "no server 'nosuch'"),
            (" use-server\n".to_string(), "expects <server>"),
            (
                format!("{fe} use-server s\n"),
                "not allowed in a 'frontend' section",
            ),
        ] {
            let e = parse(&format!("{HEAD}{bad}")).expect_err(&bad);
            assert!(e.contains(want), "{bad}: {e}");
            assert!(e.starts_with("t.cfg:"), "{e}");
        }
    }

    #[test]
    fn content_rules_in_mode_tcp_read_the_payload_only() {
        let head = "defaults\n timeout client 1s\n timeout server 1s\n timeout connect 1s\nbackend b\n server s 127.0.0.1:1\n\
             frontend f\n bind 127.0.0.1:8080\n default_backend b\n";
        let cfg = parse(&format!(
            "{head} tcp-request content reject if {{ req.payload(0,3) -m str GET }} {{ req.len ge 3 }} || WAIT_END\n"
        ))
        .unwrap();
        assert!(cfg.frontends[0].rules.tcp_content[0].payload_only);
        let e = parse(&format!(
            "{head} tcp-request content reject if {{ path / }}\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("t.cfg:10:") && e.contains("may only read"),
            "{e}"
        );
        let e = parse(&format!("{head}backend c\n tcp-request content reject\n")).unwrap_err();
        assert!(
            e.contains("t.cfg:11:") && e.contains("mode tcp' backend"),
            "{e}"
        );
    }
}
