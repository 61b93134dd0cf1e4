//! Health-check method keywords (HAProxy configuration manual, section 4.2
//! "option httpchk" and "http-check expect"). The check schedule itself
//! (`check`, `inter`, `rise`, `fall`, `port`) is on server lines, see
//! [`super::server`].
//!
//! Supported: `option httpchk [<method>] [<uri>] [<version>]` (with the
//! legacy `HTTP/1.1\r\nHost:\ x` form carrying headers) and `http-check
//! expect [!] status <codes> | string <text> | rstatus <regex> | rstring
//! <regex>`. Other `http-check` actions (`send`, `connect`) and matches
//! (`hdr`, `fhdr`), and the other check protocols (`tcp-check`,
//! `mysql-check`, …) are rejected as not supported yet.

use super::proxy::opt;
use super::{Ctx, Keyword, OptionKw, ProxyDraft, Sections};
use crate::types::*;
use crate::units::parse_uint;

/// `http-check`.
pub static KEYWORDS: &[Keyword] = &[Keyword {
    name: "http-check",
    sections: Sections::BE,
    negatable: false,
    parse: kw_http_check,
    doc: "4.2 http-check expect",
}];

/// `option httpchk`.
pub static OPTIONS: &[OptionKw] = &[opt(
    "httpchk",
    Sections::BE,
    opt_httpchk,
    "4.2 option httpchk",
)];

fn default_http() -> HttpCheck {
    HttpCheck {
        method: "OPTIONS".into(),
        uri: "/".into(),
        version: "HTTP/1.0".into(),
        headers: Vec::new(),
        body: None,
        expect: None,
    }
}

fn opt_httpchk(p: &mut ProxyDraft, negated: bool, a: &[String]) -> Result<(), String> {
    super::proxy::no_negation(negated, "httpchk")?;
    let mut h = default_http();
    match a {
        [] => {}
        // A single argument is the URI (HAProxy's documented short form).
        [uri] => h.uri = uri.clone(),
        [m, uri] => {
            h.method = check_method(m)?;
            h.uri = uri.clone();
        }
        [m, uri, ver] => {
            h.method = check_method(m)?;
            h.uri = uri.clone();
            let mut parts = ver.split("\r\n");
            h.version = parts.next().unwrap_or_default().to_owned();
            for hdr in parts.filter(|x| !x.is_empty()) {
                let (n, v) = hdr.split_once(':').ok_or_else(|| {
                    format!("'option httpchk': malformed header '{hdr}' in version string")
                })?;
                h.headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
        }
        [_, _, _, x, ..] => return Err(format!("'option httpchk': unexpected argument '{x}'")),
    }
    // Like HAProxy, the URI and version are sent as written (HAProxy accepts
    // `option httpchk GET`, taking `GET` as the URI).
    p.check_kind = CheckKind::Http(h);
    Ok(())
}

fn check_method(m: &str) -> Result<String, String> {
    if m.is_empty()
        || !m
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
    {
        return Err(format!("'option httpchk': invalid method '{m}'"));
    }
    Ok(m.to_owned())
}

fn kw_http_check(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    match a.first().map(String::as_str) {
        Some("expect") => {}
        Some("send") => return http_check_send(ctx, &a[1..]),
        Some(
            other @ ("connect" | "comment" | "set-var" | "unset-var" | "send-state"
            | "disable-on-404"),
        ) => {
            return Err(format!(
                "unsupported keyword 'http-check {other}' (not supported by weir yet)"
            ))
        }
        Some(other) => return Err(format!("unknown 'http-check' action '{other}'")),
        None => return Err("'http-check' expects an action ('expect')".into()),
    }
    let mut rest = &a[1..];
    let negate = rest.first().is_some_and(|x| x == "!");
    if negate {
        rest = &rest[1..];
    }
    let rule = match rest {
        [k, v] if k == "status" => ExpectRule::Status(parse_status_list(v)?),
        [k, v] if k == "string" => ExpectRule::String(v.clone()),
        [k, v] if k == "rstatus" || k == "rstring" => {
            weir_core::acl::Rewrite::new(v)
                .map_err(|e| format!("'http-check expect {k}': {e}"))?;
            if k == "rstatus" {
                ExpectRule::RStatus(v.clone())
            } else {
                ExpectRule::RString(v.clone())
            }
        }
        [k, ..] if matches!(k.as_str(), "hdr" | "fhdr" | "custom") =>
        {
            return Err(format!(
                "unsupported 'http-check expect {k}' (not supported by weir yet)"
            ))
        }
        [k, _] => {
            return Err(format!(
                "unknown 'http-check expect' match '{k}' (status, string, rstatus, rstring)"
            ))
        }
        _ => {
            return Err(
                "'http-check expect' expects [!] status <codes> | string <text> | rstatus <regex> | rstring <regex>"
                    .into(),
            )
        }
    };
    // Kept apart from `option httpchk` (either may come first, or come from
    // a defaults section); joined when the backend is built.
    let loc = ctx.loc.clone();
    let px = ctx.px()?;
    // HAProxy runs several expect rules in sequence; weir keeps one. A
    // section's own rule replaces the one of its defaults section.
    if let Some(prev) = &px.check_expect_loc {
        if prev.file == px.loc.file && prev.line > px.loc.line {
            return Err(format!(
                "a second 'http-check expect' in one section is not supported by weir yet (the first is at {prev})"
            ));
        }
    }
    px.check_expect = Some(HttpExpect { negate, rule });
    px.check_expect_loc = Some(loc);
    Ok(())
}

/// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]… [body B]`.
/// `uri-lf`, `body-lf` and values with log-format `%` fields are not
/// supported (weir sends check requests as written).
fn http_check_send(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let mut send = HttpSend::default();
    let mut i = 0;
    let val = |i: usize, what: &str| {
        a.get(i + 1)
            .cloned()
            .ok_or_else(|| format!("'http-check send {what}' expects a value"))
    };
    let literal = |what: &str, v: &str| {
        if v.contains('%') {
            Err(format!(
                "'http-check send {what}': log-format values are not supported by weir yet"
            ))
        } else {
            Ok(())
        }
    };
    while i < a.len() {
        match a[i].as_str() {
            "meth" => {
                send.method = Some(check_method(&val(i, "meth")?)?);
                i += 2;
            }
            "uri" => {
                send.uri = Some(val(i, "uri")?);
                i += 2;
            }
            "ver" => {
                send.version = Some(val(i, "ver")?);
                i += 2;
            }
            "hdr" => {
                let (Some(n), Some(v)) = (a.get(i + 1), a.get(i + 2)) else {
                    return Err("'http-check send hdr' expects a name and a value".into());
                };
                literal("hdr", v)?;
                if n.is_empty() || n.bytes().any(|c| c <= b' ' || c == b':' || c >= 0x7f) {
                    return Err(format!("'http-check send hdr': invalid header name '{n}'"));
                }
                send.headers.push((n.clone(), v.clone()));
                i += 3;
            }
            // A note for the check's log lines: weir does not log checks.
            "comment" => {
                val(i, "comment")?;
                i += 2;
            }
            "body" => {
                let b = val(i, "body")?;
                literal("body", &b)?;
                send.body = Some(b);
                i += 2;
            }
            k @ ("uri-lf" | "body-lf") => {
                return Err(format!(
                    "unsupported 'http-check send {k}' (not supported by weir yet)"
                ))
            }
            k => {
                return Err(format!(
                    "unknown 'http-check send' argument '{k}' (meth, uri, ver, hdr, body)"
                ))
            }
        }
    }
    let loc = ctx.loc.clone();
    ctx.px()?.check_send = Some((send, loc));
    Ok(())
}

/// Parses `200`, `200-399`, `200,301,302-304`.
fn parse_status_list(s: &str) -> Result<Vec<(u16, u16)>, String> {
    s.split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u16 = parse_uint(a, "http-check expect status")?;
            let b: u16 = parse_uint(b, "http-check expect status")?;
            if !(100..=599).contains(&a) || !(100..=599).contains(&b) || a > b {
                return Err(format!(
                    "invalid status range '{part}' in 'http-check expect status'"
                ));
            }
            Ok((a, b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::*;

    fn be(text: &str) -> Backend {
        parse_str_with_env("t.cfg", text, &|_| None)
            .unwrap()
            .backends
            .remove(0)
    }

    #[test]
    fn httpchk_forms() {
        let b = be("backend b\n option httpchk\n");
        let CheckKind::Http(h) = b.check_kind else {
            panic!()
        };
        assert_eq!(
            (h.method.as_str(), h.uri.as_str(), h.version.as_str()),
            ("OPTIONS", "/", "HTTP/1.0")
        );
        let b = be("backend b\n option httpchk /health\n");
        let CheckKind::Http(h) = b.check_kind else {
            panic!()
        };
        assert_eq!(h.uri, "/health");
        // HAProxy takes a lone argument as the URI, even `GET`.
        let b = be("backend b\n option httpchk GET\n");
        let CheckKind::Http(h) = b.check_kind else {
            panic!()
        };
        assert_eq!((h.method.as_str(), h.uri.as_str()), ("OPTIONS", "GET"));
        let b = be("backend b\n option httpchk HEAD /about HTTP/1.1\\r\\nHost:localhost\n http-check expect ! status 500-599\n");
        let CheckKind::Http(h) = b.check_kind else {
            panic!()
        };
        assert_eq!(
            (h.method.as_str(), h.version.as_str()),
            ("HEAD", "HTTP/1.1")
        );
        assert_eq!(h.headers, [("Host".to_owned(), "localhost".to_owned())]);
        assert_eq!(
            h.expect,
            Some(HttpExpect {
                negate: true,
                rule: ExpectRule::Status(vec![(500, 599)])
            })
        );
        let b = be("backend b\n http-check expect string pong\n option httpchk GET /ping\n");
        let CheckKind::Http(h) = b.check_kind else {
            panic!()
        };
        assert_eq!(h.expect.unwrap().rule, ExpectRule::String("pong".into()));
        let b = be("backend b\n option httpchk\n http-check expect ! rstatus ^5\n");
        let CheckKind::Http(h) = b.check_kind else {
            panic!()
        };
        assert_eq!(
            h.expect,
            Some(HttpExpect {
                negate: true,
                rule: ExpectRule::RStatus("^5".into())
            })
        );
    }

    #[test]
    fn send_changes_the_request() {
        let b = be("backend b\n option httpchk OPTIONS * HTTP/1.1\n http-check send meth GET uri /health hdr Host www hdr X-A b body ping\n");
        let CheckKind::Http(h) = b.check_kind else {
            panic!()
        };
        assert_eq!(
            (h.method.as_str(), h.uri.as_str(), h.version.as_str()),
            ("GET", "/health", "HTTP/1.1")
        );
        assert_eq!(
            h.headers,
            [("Host".into(), "www".into()), ("X-A".into(), "b".into())]
        );
        assert_eq!(h.body.as_deref(), Some("ping"));
        let c = parse_str_with_env("t.cfg", "backend b\n http-check send hdr Host x\n", &|_| {
            None
        })
        .unwrap();
        assert!(c.warnings[0]
            .to_string()
            .contains("'http-check send' ignored without 'option httpchk'"));
    }

    #[test]
    fn expect_without_httpchk_warns() {
        let c = parse_str_with_env(
            "t.cfg",
            "backend b\n http-check expect status 200\n",
            &|_| None,
        )
        .unwrap();
        assert_eq!(c.backends[0].check_kind, CheckKind::Tcp);
        assert!(c.warnings[0]
            .to_string()
            .starts_with("t.cfg:2: [backend 'b'] 'http-check expect' ignored"));
    }

    #[test]
    fn bad_checks() {
        for (t, frag) in [
            (
                "backend b\n option httpchk G(T / HTTP/1.0\n",
                "invalid method",
            ),
            (
                "backend b\n http-check expect status 99\n",
                "invalid status range",
            ),
            (
                "backend b\n http-check expect hdr name x\n",
                "not supported by weir yet",
            ),
            ("backend b\n http-check expect rstring (\n", "invalid regex"),
            (
                "backend b\n http-check send uri-lf /%[src]\n",
                "not supported by weir yet",
            ),
            (
                "backend b\n http-check send hdr Host %[src]\n",
                "log-format values are not supported",
            ),
            (
                "backend b\n http-check send hdr Host\n",
                "expects a name and a value",
            ),
            (
                "backend b\n http-check send verb GET\n",
                "unknown 'http-check send' argument",
            ),
            (
                "backend b\n http-check connect\n",
                "not supported by weir yet",
            ),
            ("backend b\n http-check expect\n", "expects"),
            (
                "backend b\n http-check expect status 200\n http-check expect string ok\n",
                "second 'http-check expect'",
            ),
            ("backend b\n no option httpchk\n", "negation"),
            (
                "frontend f\n http-check expect status 200\n",
                "not allowed in a 'frontend'",
            ),
            (
                "backend b\n option httpchk GET / HTTP/1.0 x\n",
                "unexpected argument 'x'",
            ),
        ] {
            let e = parse_str_with_env("t.cfg", t, &|_| None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(frag), "{t}: {e}");
        }
    }
}
