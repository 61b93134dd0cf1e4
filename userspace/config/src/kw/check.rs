//! Health-check method keywords (HAProxy configuration manual, section 4.2
//! "option httpchk" and "http-check expect"). The check schedule itself
//! (`check`, `inter`, `rise`, `fall`, `port`) is on server lines, see
//! [`super::server`].
//!
//! Supported: `option httpchk [<method>] [<uri>] [<version>]` (with the
//! legacy `HTTP/1.1\r\nHost:\ x` form carrying headers), `http-check expect
//! [!] status <codes>` and `http-check expect [!] string <text>`. Other
//! `http-check` actions (`send`, `connect`, regex matches) and the other
//! check protocols (`tcp-check`, `mysql-check`, …) are rejected as not
//! supported yet.

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
        Some(
            other @ ("send" | "connect" | "comment" | "set-var" | "unset-var" | "send-state"
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
        [k, ..]
            if matches!(
                k.as_str(),
                "rstatus" | "rstring" | "hdr" | "fhdr" | "custom"
            ) =>
        {
            return Err(format!(
                "unsupported 'http-check expect {k}' (not supported by weir yet)"
            ))
        }
        [k, _] => {
            return Err(format!(
                "unknown 'http-check expect' match '{k}' (status, string)"
            ))
        }
        _ => return Err("'http-check expect' expects [!] status <codes> | string <text>".into()),
    };
    // Kept apart from `option httpchk` (either may come first, or come from
    // a defaults section); joined when the backend is built.
    let loc = ctx.loc.clone();
    let px = ctx.px()?;
    px.check_expect = Some(HttpExpect { negate, rule });
    px.check_expect_loc = Some(loc);
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
                "backend b\n http-check expect rstatus ^2\n",
                "not supported by weir yet",
            ),
            (
                "backend b\n http-check send meth GET\n",
                "not supported by weir yet",
            ),
            ("backend b\n http-check expect\n", "expects"),
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
