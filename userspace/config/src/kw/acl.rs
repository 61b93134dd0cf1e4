//! The `acl` keyword (HAProxy configuration manual, 7.1 "ACL basics") and
//! the compilation of rule conditions (`use_backend … if|unless COND`)
//! through weir-core's ACL engine.
//!
//! Declarations are compiled when read, so a bad fetch, flag, pattern or
//! pattern file is reported at its own line; they are then kept as words
//! with their location ([`AclDecl`]) in the proxy, in file order, and the
//! proxy compiles its conditions again at start-up with
//! [`compile_condition`]. As in HAProxy, a condition may only name ACLs
//! declared above it in the same section (or predefined ones).
//!
//! Pattern files (`-f`) and maps are read here, at parse time, with the
//! process's view of the file system; `env(VAR)` sees the configuration
//! environment (`setenv` included).

use weir_core::acl::{AclSet, Loader};

use super::{Ctx, Env, Keyword, Sections};
use crate::types::{AclDecl, Condition};

/// The ACL keywords.
pub static KEYWORDS: &[Keyword] = &[Keyword {
    name: "acl",
    sections: Sections(Sections::FE_NODEF.0 | Sections::BE_NODEF.0),
    negatable: false,
    parse: kw_acl,
    doc: "7.1 acl",
}];

fn read_file(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Builds the ACL set of a proxy from its declarations, in file order.
pub fn acl_set(acls: &[AclDecl], env: &dyn Fn(&str) -> Option<String>) -> Result<AclSet, String> {
    let loader = Loader {
        read_file: &read_file,
        env,
    };
    let mut set = AclSet::new();
    for d in acls {
        let words: Vec<&str> = d.words.iter().map(String::as_str).collect();
        set.declare(&d.name, &words, &loader)
            .map_err(|e| format!("acl '{}' at {}: {e}", d.name, d.loc))?;
    }
    Ok(set)
}

/// Compiles a rule's condition against the ACLs declared before it.
pub fn compile_condition(
    acls: &[AclDecl],
    cond: &Condition,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<weir_core::acl::Condition, String> {
    let set = acl_set(acls, env)?;
    let mut words: Vec<&str> = Vec::with_capacity(cond.tokens.len() + 1);
    words.push(if cond.negate { "unless" } else { "if" });
    words.extend(cond.tokens.iter().map(String::as_str));
    set.compile_cond(
        &words,
        &Loader {
            read_file: &read_file,
            env,
        },
    )
    .map_err(|e| format!("condition: {e}"))
}

/// The condition check the rule keywords call (see
/// [`crate::registry::CONDITION_CHECK`]): compiles `cond` with the ACLs the
/// section declared so far.
pub fn check_condition(ctx: &mut Ctx<'_, '_>, cond: &Condition) -> Result<(), String> {
    let env: &Env<'_> = ctx.env;
    let lookup = |v: &str| env.get(v);
    let acls = match ctx.proxy.as_deref() {
        Some(p) => p.acls.as_slice(),
        None => &[],
    };
    compile_condition(acls, cond, &lookup).map(drop)
}

fn kw_acl(ctx: &mut Ctx<'_, '_>, a: &[String]) -> Result<(), String> {
    let Some((name, words)) = a.split_first() else {
        return Err("'acl' expects <name> <criterion> [flags] [operator] [<value>] ...".into());
    };
    if words.is_empty() {
        return Err(format!("'acl {name}': missing fetch method"));
    }
    let decl = AclDecl {
        loc: ctx.loc.clone(),
        name: name.clone(),
        words: words.to_vec(),
    };
    {
        let env: &Env<'_> = ctx.env;
        let lookup = |v: &str| env.get(v);
        let loader = Loader {
            read_file: &read_file,
            env: &lookup,
        };
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        AclSet::new()
            .declare(name, &refs, &loader)
            .map_err(|e| format!("'acl {name}': {e}"))?;
    }
    ctx.px()?.acls.push(decl);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::*;

    fn env(name: &str) -> Option<String> {
        (name == "TENANT").then(|| "acme".to_string())
    }

    const CFG: &str = "\
frontend web
    mode http
    bind :8080
    acl api path_beg /api/
    acl api hdr(host) -i api.example.com
    acl tenant env(TENANT) acme
    use_backend be_api if api tenant || { path /status }
    use_backend be_web unless api
    default_backend be_web
backend be_api
    mode http
    acl local src 127.0.0.0/8
    server a 127.0.0.1:9001
backend be_web
    mode http
    server w 127.0.0.1:9002
";

    #[test]
    fn acls_are_kept_with_their_location_and_conditions_compile() {
        let c = parse_str_with_env("t.cfg", CFG, &env).unwrap_or_else(|e| panic!("{e}"));
        let fe = &c.frontends[0];
        let names: Vec<&str> = fe.acls.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["api", "api", "tenant"]);
        assert_eq!(fe.acls[1].loc.line, 5);
        assert_eq!(&*fe.acls[1].loc.file, "t.cfg");
        assert_eq!(fe.acls[1].words, ["hdr(host)", "-i", "api.example.com"]);
        let be = c.backends.iter().find(|b| b.name == "be_api").unwrap();
        assert_eq!(be.acls.len(), 1);
        // The proxy compiles the same conditions at start-up.
        for ub in &fe.use_backend {
            let cond = ub.cond.as_ref().unwrap();
            let compiled = super::compile_condition(&fe.acls, cond, &env).unwrap();
            assert!(!compiled.describe().is_empty());
        }
    }

    #[test]
    fn acl_errors_name_file_line_and_token() {
        let cases: &[(&str, &str)] = &[
            ("frontend f\n acl\n", "t.cfg:2: "),
            ("frontend f\n acl x\n", "'acl x': missing fetch method"),
            (
                "frontend f\n acl x path -f /nonexistent/weir.lst\n",
                "cannot read pattern file '/nonexistent/weir.lst'",
            ),
            (
                "frontend f\n acl x src 10.0.0.300\n",
                "invalid pattern '10.0.0.300' for match method 'ip'",
            ),
            ("frontend f\n acl b@d path /\n", "invalid ACL name 'b@d'"),
            ("defaults\n acl x path /\n", "t.cfg:2: "),
            (
                "frontend f\n bind :80\n use_backend b if apii\n acl api path /\nbackend b\n",
                "no such ACL: 'apii'",
            ),
        ];
        for (text, frag) in cases {
            let e = match parse_str_with_env("t.cfg", text, &env) {
                Ok(_) => panic!("accepted:\n{text}"),
                Err(e) => e.errors()[0].to_string(),
            };
            assert!(e.starts_with("t.cfg:"), "{e}");
            assert!(e.contains(frag), "expected '{frag}' for:\n{text}\ngot: {e}");
        }
    }
}
