//! End-to-end tests of the ACL engine through its public API, with a mock
//! request as the sample source.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use super::*;

/// A request as a sample source, the way the proxy would present one.
#[derive(Debug, Clone)]
struct Req {
    src: IpAddr,
    dst_port: i64,
    method: &'static str,
    url: &'static str,
    version: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    /// Body bytes buffered so far, and whether the request is complete.
    len: i64,
    complete: bool,
    wait_end: bool,
    status: Option<i64>,
    /// Counts fetches, to check short-circuiting.
    fetches: usize,
}

impl Req {
    fn get(url: &'static str) -> Req {
        Req {
            src: "192.0.2.10".parse().unwrap(),
            dst_port: 80,
            method: "GET",
            url,
            version: "1.1",
            headers: vec![("Host", "www.example.com")],
            len: 0,
            complete: true,
            wait_end: false,
            status: None,
            fetches: 0,
        }
    }

    fn path(&self) -> Option<&'static [u8]> {
        http::path(self.url.as_bytes())
    }
}

fn hdr_values<'a>(
    headers: &'a [(&'static str, &'static str)],
    name: Option<&'a [u8]>,
    split: bool,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| name.is_none_or(|w| n.as_bytes().eq_ignore_ascii_case(w)))
        .flat_map(move |(_, v)| {
            let parts: Vec<&[u8]> = if split {
                http::header_values(v.as_bytes()).collect()
            } else {
                vec![v.as_bytes()]
            };
            parts
        })
}

impl SampleSource for Req {
    fn fetch(
        &mut self,
        call: &FetchCall,
        visit: &mut dyn FnMut(Sample<'_>) -> Visit,
    ) -> FetchStatus {
        self.fetches += 1;
        let one = |visit: &mut dyn FnMut(Sample<'_>) -> Visit, s: Sample<'_>| {
            visit(s);
        };
        match call.kind {
            FetchKind::Src => one(visit, Sample::Ip(self.src)),
            FetchKind::DstPort => one(visit, Sample::Int(self.dst_port)),
            FetchKind::Method => one(visit, Sample::Str(self.method.as_bytes())),
            FetchKind::Url => one(visit, Sample::Str(self.url.as_bytes())),
            FetchKind::Path => {
                if let Some(p) = self.path() {
                    one(visit, Sample::Str(p));
                }
            }
            FetchKind::Query => {
                if let Some(q) = http::query(self.url.as_bytes()) {
                    one(visit, Sample::Str(q));
                }
            }
            FetchKind::ReqVer => one(visit, Sample::Str(self.version.as_bytes())),
            FetchKind::ReqProtoHttp => one(visit, Sample::Bool(true)),
            FetchKind::ReqLen => {
                one(visit, Sample::Int(self.len));
                if !self.complete {
                    return FetchStatus::MayChange;
                }
            }
            FetchKind::WaitEnd => {
                if self.wait_end {
                    one(visit, Sample::Bool(true));
                } else {
                    return FetchStatus::MayChange;
                }
            }
            FetchKind::Status => match self.status {
                Some(s) => one(visit, Sample::Int(s)),
                None => return FetchStatus::MayChange,
            },
            FetchKind::ReqHdr | FetchKind::ReqFhdr => {
                let split = call.kind == FetchKind::ReqHdr;
                let vals: Vec<&[u8]> = hdr_values(&self.headers, call.name(), split).collect();
                match call.occurrence() {
                    None => {
                        for v in vals {
                            if visit(Sample::Str(v)) == Visit::Stop {
                                break;
                            }
                        }
                    }
                    Some(n) => {
                        let idx = if n > 0 { n - 1 } else { vals.len() as i64 + n };
                        if let Some(v) = usize::try_from(idx).ok().and_then(|i| vals.get(i)) {
                            one(visit, Sample::Str(v));
                        }
                    }
                }
            }
            FetchKind::ReqHdrCnt => one(
                visit,
                Sample::Int(hdr_values(&self.headers, call.name(), true).count() as i64),
            ),
            FetchKind::UrlParam => {
                let name = call.name().unwrap_or_default();
                let delim = call.delimiter().and_then(|d| d.first().copied());
                if let Some(v) = http::url_param(self.url.as_bytes(), name, delim) {
                    one(visit, Sample::Str(v));
                }
            }
            FetchKind::ReqCook => {
                let name = call.name();
                let all = hdr_values(&self.headers, Some(b"cookie"), false).flat_map(http::cookies);
                for (k, v) in all {
                    if name.is_none_or(|n| n == k) && visit(Sample::Str(v)) == Visit::Stop {
                        break;
                    }
                }
            }
            _ => {}
        }
        FetchStatus::Final
    }
}

fn files(map: HashMap<&'static str, &'static str>) -> impl Fn(&str) -> io::Result<String> {
    move |p| {
        map.get(p)
            .map(|s| (*s).to_string())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// Declares `acl` lines ("name words…") and compiles a condition.
fn cond(acls: &[&str], c: &str) -> Result<Condition, AclError> {
    let mut set = AclSet::new();
    for line in acls {
        let w = words(line);
        set.declare(w[0], &w[1..], &Loader::none())?;
    }
    set.compile_cond(&words(c), &Loader::none())
}

fn eval(c: &Condition, req: &mut Req) -> Verdict {
    c.eval(req, &mut Scratch::new())
}

#[test]
fn derived_keywords_and_flags_table() {
    // (acl expression, url, expected)
    let cases: &[(&str, &str, Verdict)] = &[
        ("path_beg /api/", "/api/v1/users", Verdict::True),
        ("path_beg /api/", "/apix", Verdict::False),
        ("path_end .php", "/index.php?x=1", Verdict::True),
        ("path_sub admin", "/x/admin/y", Verdict::True),
        ("path_reg ^/img/[0-9]+$", "/img/42", Verdict::True),
        ("path_dir img", "/static/img/a.png", Verdict::True),
        ("path_len 5", "/abcd", Verdict::True),
        ("path_len gt 5", "/abcd", Verdict::False),
        ("path -i /LOGIN", "/login", Verdict::True),
        ("path /LOGIN", "/login", Verdict::False),
        ("path -m beg -i /STATIC", "/static/x", Verdict::True),
        ("url_beg /", "/x", Verdict::True),
        ("url_beg /", "http://h/x", Verdict::False),
        ("url_param(id) 42", "/p?a=1&id=42", Verdict::True),
        ("url_param(id) -m int gt 40", "/p?id=42", Verdict::True),
        ("urlp_val(id) 40:50", "/p?id=42", Verdict::True),
        ("query -m sub id=", "/p?a=1&id=42", Verdict::True),
        ("query -m found", "/p", Verdict::False),
        ("query -m found", "/p?", Verdict::True),
        ("hdr(host) www.example.com", "/", Verdict::True),
        ("hdr(HOST) -i WWW.EXAMPLE.COM", "/", Verdict::True),
        ("hdr_dom(host) example.com", "/", Verdict::True),
        ("hdr_beg(host) www.", "/", Verdict::True),
        ("hdr_end(host) .org", "/", Verdict::False),
        ("hdr_cnt(host) eq 1", "/", Verdict::True),
        ("hdr_cnt(x-missing) 0", "/", Verdict::True),
        ("hdr(x-missing) -m found", "/", Verdict::False),
        ("hdr(host) -m found", "/", Verdict::True),
        ("hdr(host) -m len 15", "/", Verdict::True),
        ("src 192.0.2.0/24", "/", Verdict::True),
        ("src 10.0.0.0/8 2001:db8::/32", "/", Verdict::False),
        ("src -f nope -n 192.0.2.10", "/", Verdict::True),
        ("dst_port 80 443", "/", Verdict::True),
        ("dst_port 8000:9000", "/", Verdict::False),
        ("method GET HEAD", "/", Verdict::True),
        ("always_true", "/", Verdict::True),
        ("always_false", "/", Verdict::False),
        ("int(5) 5", "/", Verdict::True),
        ("int(5) -m bool", "/", Verdict::True),
        ("int(0) -m bool", "/", Verdict::False),
        ("str(abc) -m beg ab", "/", Verdict::True),
        ("str(ABC),lower abc", "/", Verdict::True),
        ("path,field(2,/) api", "/api/v1", Verdict::True),
        ("path,length 7", "/api/v1", Verdict::True),
        ("path,length,mul(2) 14", "/api/v1", Verdict::True),
        ("src,ipmask(16) 192.0.0.0/16", "/", Verdict::True),
        ("src,ipmask(16) 192.0.2.10", "/", Verdict::False),
        ("path,regsub(^/v[0-9]+,) /users", "/v2/users", Verdict::True),
        ("str(-x) -- -x", "/", Verdict::True),
        ("str(-x) -m beg -- -", "/", Verdict::True),
        ("int(-3) -3:-1", "/", Verdict::True),
    ];
    let fs = files(HashMap::from([("nope", "# only a comment\n\n")]));
    let loader = Loader {
        read_file: &fs,
        env: &|_| None,
    };
    for (i, (acl, url, want)) in cases.iter().enumerate() {
        let mut set = AclSet::new();
        set.declare("x", &words(acl), &loader)
            .unwrap_or_else(|e| panic!("case {i} `{acl}`: {e}"));
        let c = set.compile_cond(&["if", "x"], &loader).unwrap();
        let mut req = Req::get(url);
        assert_eq!(eval(&c, &mut req), *want, "case {i}: acl x {acl} on {url}");
    }
}

#[test]
fn multi_valued_headers_and_occurrences() {
    let mut req = Req::get("/");
    req.headers = vec![
        ("X-Fwd", "10.0.0.1, 10.0.0.2"),
        ("x-fwd", "10.0.0.3"),
        ("Cookie", "a=1; sid=xyz"),
    ];
    let cases: &[(&str, Verdict)] = &[
        ("hdr(x-fwd) 10.0.0.2", Verdict::True),
        ("hdr(x-fwd,1) 10.0.0.2", Verdict::False),
        ("hdr(x-fwd,2) 10.0.0.2", Verdict::True),
        ("hdr(x-fwd,-1) 10.0.0.3", Verdict::True),
        ("hdr_ip(x-fwd) 10.0.0.3/32", Verdict::True),
        ("req.fhdr(x-fwd) 10.0.0.2", Verdict::False),
        ("req.fhdr(x-fwd,1) -m sub 10.0.0.2", Verdict::True),
        ("hdr_cnt(x-fwd) 3", Verdict::True),
        ("cook(sid) xyz", Verdict::True),
        ("cook(SID) xyz", Verdict::False),
        ("cook_beg(a) 1", Verdict::True),
    ];
    for (acl, want) in cases {
        let c = cond(&[&format!("x {acl}")], "if x").unwrap();
        assert_eq!(eval(&c, &mut req.clone()), *want, "acl x {acl}");
    }
}

#[test]
fn condition_grammar_and_precedence() {
    let acls = [
        "t always_true",
        "f always_false",
        "api path_beg /api",
        "local src 192.0.2.0/24",
    ];
    // (condition, expected on GET /api/x from 192.0.2.10)
    let cases: &[(&str, Verdict)] = &[
        ("if t", Verdict::True),
        ("if f", Verdict::False),
        ("unless f", Verdict::True),
        ("unless t", Verdict::False),
        ("if t f", Verdict::False),
        ("if t t", Verdict::True),
        ("if f || t", Verdict::True),
        ("if f or t", Verdict::True),
        // AND binds tighter than OR: (t AND f) OR t.
        ("if t f || t", Verdict::True),
        // f AND (anything) || f AND t.
        ("if f t || f t", Verdict::False),
        // t OR (f AND t) — OR of a true group.
        ("if t || f t", Verdict::True),
        ("if !f", Verdict::True),
        ("if !t || !f", Verdict::True),
        ("if !t !f", Verdict::False),
        ("if ! f", Verdict::True),
        ("if !!t", Verdict::True),
        ("if api local", Verdict::True),
        ("if api !local", Verdict::False),
        ("if { path_beg /api } { src 192.0.2.10 }", Verdict::True),
        ("if !{ path_beg /api }", Verdict::False),
        ("if ! { path_beg /x } api", Verdict::True),
        ("if { path_beg /x } || { method GET }", Verdict::True),
        ("if TRUE", Verdict::True),
        ("if FALSE || METH_GET", Verdict::True),
        ("unless METH_POST", Verdict::True),
    ];
    for (c, want) in cases {
        let compiled = cond(&acls, c).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!(eval(&compiled, &mut Req::get("/api/x")), *want, "{c}");
    }
}

#[test]
fn condition_errors() {
    let acls = ["api path_beg /api"];
    let cases: &[(&str, &str)] = &[
        ("", "must start with 'if' or 'unless'"),
        ("when api", "found 'when'"),
        ("if", "empty condition after 'if'"),
        ("if || api", "empty condition before '||'"),
        ("if api ||", "empty condition after '||'"),
        ("if api || || api", "empty condition before '||'"),
        ("if { path_beg /x", "missing '}'"),
        ("if { }", "empty condition inside '{ }'"),
        ("if }", "unexpected '}'"),
        ("if { { path } }", "unexpected '{'"),
        ("if apii", "no such ACL: 'apii'; did you mean 'api'?"),
        ("if METH_GTE", "did you mean 'METH_GET'?"),
        ("if !", "empty condition after '!'"),
        (
            "if { pathh /x }",
            "unknown fetch method 'pathh' in ACL expression; did you mean 'path'?",
        ),
    ];
    for (c, msg) in cases {
        let err = cond(&acls, c).expect_err(c).to_string();
        assert!(err.contains(msg), "{c}: got {err:?}, want {msg:?}");
    }
}

#[test]
fn declaration_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "x pathh /a",
            "unknown fetch method 'pathh' in ACL expression; did you mean 'path'?",
        ),
        ("x path -m foo /a", "unknown match method 'foo'"),
        ("x path -z /a", "unknown ACL flag '-z'"),
        ("x path -m", "missing argument after ACL flag '-m'"),
        ("x path -f", "missing argument after ACL flag '-f'"),
        (
            "x path -f /no/such/file",
            "cannot read pattern file '/no/such/file'",
        ),
        (
            "x src not-an-ip",
            "invalid pattern 'not-an-ip' for match method 'ip'",
        ),
        (
            "x dst_port http",
            "invalid pattern 'http' for match method 'int'",
        ),
        ("x path_reg ([a-", "invalid regex '([a-'"),
        ("x src -m beg 10.", ""),
        (
            "x always_true -m ip 10.0.0.1",
            "match method 'ip' cannot apply to a boolean sample",
        ),
        (
            "x path -m found /a",
            "match method 'found' takes no pattern",
        ),
        ("b@d path /", "invalid ACL name 'b@d'"),
        ("x hdr(host,zero) a", "invalid arguments to 'hdr'"),
        ("x path,nosuch a", "unknown converter 'nosuch'"),
        ("x path -u abc a", "invalid arguments to '-u'"),
    ];
    for (line, msg) in cases {
        let w = words(line);
        let r = AclSet::new().declare(w[0], &w[1..], &Loader::none());
        if msg.is_empty() {
            assert!(r.is_ok(), "{line}: {r:?}");
        } else {
            let err = r.expect_err(line).to_string();
            assert!(err.contains(msg), "{line}: got {err:?}, want {msg:?}");
        }
    }
    assert!(AclSet::new().declare("x", &[], &Loader::none()).is_err());
}

#[test]
fn same_name_acls_or_together() {
    let acls = [
        "static path_beg /static",
        "static path_end .css",
        "static hdr(host) cdn.example.com",
    ];
    let c = cond(&acls, "if static").unwrap();
    assert_eq!(eval(&c, &mut Req::get("/static/x")), Verdict::True);
    assert_eq!(eval(&c, &mut Req::get("/a/b.css")), Verdict::True);
    assert_eq!(eval(&c, &mut Req::get("/a/b.js")), Verdict::False);
    let mut cdn = Req::get("/a/b.js");
    cdn.headers = vec![("Host", "cdn.example.com")];
    assert_eq!(eval(&c, &mut cdn), Verdict::True);
    let neg = cond(&acls, "if !static").unwrap();
    assert_eq!(eval(&neg, &mut Req::get("/a/b.js")), Verdict::True);
    assert_eq!(eval(&neg, &mut Req::get("/a/b.css")), Verdict::False);
}

#[test]
fn user_acl_shadows_predefined() {
    let c = cond(&["TRUE always_false"], "if TRUE").unwrap();
    assert_eq!(eval(&c, &mut Req::get("/")), Verdict::False);
}

#[test]
fn predefined_acls() {
    let mut post = Req::get("http://h/x");
    post.method = "POST";
    post.version = "1.0";
    post.headers.push(("Content-Length", "12"));
    post.len = 12;
    post.src = "127.0.0.1".parse().unwrap();
    let mut star = Req::get("*");
    star.method = "OPTIONS";
    star.src = "::1".parse().unwrap();
    // (name, on GET / HTTP/1.1, on POST http://h/x HTTP/1.0, on OPTIONS *)
    let cases: &[(&str, Verdict, Verdict, Verdict)] = &[
        ("TRUE", Verdict::True, Verdict::True, Verdict::True),
        ("FALSE", Verdict::False, Verdict::False, Verdict::False),
        ("LOCALHOST", Verdict::False, Verdict::True, Verdict::True),
        ("HTTP", Verdict::True, Verdict::True, Verdict::True),
        ("HTTP_1.0", Verdict::False, Verdict::True, Verdict::False),
        ("HTTP_1.1", Verdict::True, Verdict::False, Verdict::True),
        (
            "HTTP_CONTENT",
            Verdict::False,
            Verdict::True,
            Verdict::False,
        ),
        (
            "HTTP_URL_ABS",
            Verdict::False,
            Verdict::True,
            Verdict::False,
        ),
        (
            "HTTP_URL_SLASH",
            Verdict::True,
            Verdict::False,
            Verdict::False,
        ),
        (
            "HTTP_URL_STAR",
            Verdict::False,
            Verdict::False,
            Verdict::True,
        ),
        ("METH_GET", Verdict::True, Verdict::False, Verdict::False),
        ("METH_POST", Verdict::False, Verdict::True, Verdict::False),
        (
            "METH_OPTIONS",
            Verdict::False,
            Verdict::False,
            Verdict::True,
        ),
        (
            "METH_CONNECT",
            Verdict::False,
            Verdict::False,
            Verdict::False,
        ),
        ("REQ_CONTENT", Verdict::False, Verdict::True, Verdict::False),
        ("RDP_COOKIE", Verdict::False, Verdict::False, Verdict::False),
        (
            "WAIT_END",
            Verdict::NeedMoreData,
            Verdict::NeedMoreData,
            Verdict::NeedMoreData,
        ),
    ];
    for (name, get, p, s) in cases {
        let c = cond(&[], &format!("if {name}")).unwrap();
        assert_eq!(eval(&c, &mut Req::get("/")), *get, "{name} on GET");
        assert_eq!(eval(&c, &mut post.clone()), *p, "{name} on POST");
        assert_eq!(eval(&c, &mut star.clone()), *s, "{name} on OPTIONS *");
    }
    for (name, _) in predef::PREDEFINED {
        assert!(cond(&[], &format!("if {name}")).is_ok(), "{name} compiles");
    }
    let mut req = Req::get("/");
    req.wait_end = true;
    assert_eq!(
        eval(&cond(&[], "if WAIT_END").unwrap(), &mut req),
        Verdict::True
    );
}

#[test]
fn tri_state_need_more_data() {
    let acls = [
        "body req.len gt 100",
        "t always_true",
        "f always_false",
        "ok status 200",
    ];
    let mut partial = Req::get("/");
    partial.len = 10;
    partial.complete = false;
    let cases: &[(&str, Verdict)] = &[
        ("if body", Verdict::NeedMoreData),
        ("if !body", Verdict::NeedMoreData),
        ("unless body", Verdict::NeedMoreData),
        ("if body t", Verdict::NeedMoreData),
        ("if body f", Verdict::False),
        ("if f body", Verdict::False),
        ("if body || t", Verdict::True),
        ("if body || f", Verdict::NeedMoreData),
        ("if { req.len gt 5 }", Verdict::True),
        ("if ok", Verdict::NeedMoreData),
        ("if WAIT_END || t", Verdict::True),
    ];
    for (c, want) in cases {
        let compiled = cond(&acls, c).unwrap();
        assert_eq!(eval(&compiled, &mut partial.clone()), *want, "{c}");
    }
    let mut done = partial.clone();
    done.complete = true;
    assert_eq!(
        eval(&cond(&acls, "if body").unwrap(), &mut done),
        Verdict::False
    );
    done.len = 101;
    assert_eq!(
        eval(&cond(&acls, "if body").unwrap(), &mut done),
        Verdict::True
    );
}

#[test]
fn short_circuit_skips_fetches() {
    let c = cond(&["f always_false"], "if f { path /x } { method GET }").unwrap();
    let mut req = Req::get("/x");
    assert_eq!(eval(&c, &mut req), Verdict::False);
    assert_eq!(req.fetches, 0, "AND stops at the first false term");
    let c = cond(&[], "if { path /x } || { method GET } { src 0.0.0.0/0 }").unwrap();
    let mut req = Req::get("/x");
    assert_eq!(eval(&c, &mut req), Verdict::True);
    assert_eq!(req.fetches, 1, "OR stops at the first true group");
}

#[test]
fn pattern_files_through_the_loader() {
    let fs = files(HashMap::from([
        (
            "/etc/weir/bad-agents.lst",
            "# scanners\n  sqlmap \n\nnikto\n",
        ),
        ("/etc/weir/more.lst", "masscan\n"),
        ("/etc/weir/nets.lst", "10.0.0.0/8\n192.0.2.0/24\n"),
        (
            "/etc/weir/hosts.map",
            "www.example.com be_www\napi.example.com be_api\n",
        ),
    ]));
    let loader = Loader {
        read_file: &fs,
        env: &|_| None,
    };
    let mut set = AclSet::new();
    set.declare(
        "bad",
        &words("hdr_sub(user-agent) -i -f /etc/weir/bad-agents.lst -f /etc/weir/more.lst curl"),
        &loader,
    )
    .unwrap();
    set.declare("internal", &words("src -f /etc/weir/nets.lst"), &loader)
        .unwrap();
    set.declare(
        "known",
        &words("hdr(host) -M -f /etc/weir/hosts.map"),
        &loader,
    )
    .unwrap();
    let c = set.compile_cond(&words("if bad"), &loader).unwrap();
    for (ua, want) in [
        ("SQLMap/1.0", Verdict::True),
        ("Nikto", Verdict::True),
        ("masscan", Verdict::True),
        ("curl/8", Verdict::True),
        ("Mozilla", Verdict::False),
    ] {
        let mut req = Req::get("/");
        req.headers.push(("User-Agent", ua));
        assert_eq!(eval(&c, &mut req), want, "{ua}");
    }
    let c = set
        .compile_cond(&words("if internal known"), &loader)
        .unwrap();
    assert_eq!(eval(&c, &mut Req::get("/")), Verdict::True);
    let err = set
        .declare("y", &words("src -f /etc/weir/missing.lst"), &loader)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read pattern file '/etc/weir/missing.lst': No such file or directory"
    );
}

#[test]
fn dynamic_expression_with_map_and_env() {
    let fs = files(HashMap::from([(
        "/etc/weir/hosts.map",
        "www.example.com be_www\n# c\napi.example.com be_api\n",
    )]));
    let env = |v: &str| (v == "TENANT").then(|| "acme".to_string());
    let loader = Loader {
        read_file: &fs,
        env: &env,
    };
    let e = SampleExpr::parse(
        "req.hdr(host),lower,map(/etc/weir/hosts.map,be_default)",
        &loader,
    )
    .unwrap();
    assert_eq!(e.output(), SampleType::Str);
    let mut scratch = Scratch::new();
    let mut got = Vec::new();
    for host in ["WWW.example.com", "api.example.com", "other"] {
        let mut req = Req::get("/");
        req.headers = vec![("Host", host)];
        e.eval(&mut req, &mut scratch, &mut |s| {
            if let Sample::Str(t) = s {
                got.push(String::from_utf8_lossy(t).into_owned());
            }
            Visit::Stop
        });
    }
    assert_eq!(got, ["be_www", "be_api", "be_default"]);
    // env() is read once, at compile time.
    let mut set = AclSet::new();
    set.declare("acme", &words("env(TENANT) acme"), &loader)
        .unwrap();
    set.declare("unset", &words("env(NOPE) -m found"), &loader)
        .unwrap();
    assert_eq!(
        eval(
            &set.compile_cond(&["if", "acme"], &loader).unwrap(),
            &mut Req::get("/")
        ),
        Verdict::True
    );
    assert_eq!(
        eval(
            &set.compile_cond(&["if", "unset"], &loader).unwrap(),
            &mut Req::get("/")
        ),
        Verdict::False
    );
}

#[test]
fn fetches_and_describe() {
    let c = cond(
        &["api path_beg /api"],
        "unless api || !{ hdr(host) -i a } TRUE",
    )
    .unwrap();
    let kinds: Vec<FetchKind> = c.fetches().map(|f| f.kind).collect();
    assert_eq!(kinds, [FetchKind::Path, FetchKind::ReqHdr]);
    assert_eq!(c.describe(), "unless api || !{ hdr(host) -i a } TRUE");
    let c = cond(&[], "if { always_true }").unwrap();
    assert_eq!(c.describe(), "if { always_true }");
}

/// Builds a 10,000-pattern ACL and checks that one match costs a bounded
/// number of steps (trie probes, hash lookups, tree levels), far below one
/// comparison per pattern.
#[test]
fn ten_thousand_patterns_match_in_bounded_work() {
    const N: usize = 10_000;
    let strs: Vec<String> = (0..N).map(|i| format!("/tenant/{i:05}/")).collect();
    let nets: Vec<String> = (0..N)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let cases: &[(&str, &[String], &str, Verdict, u64)] = &[
        // (method, patterns, sample url/ip, expected, max steps)
        ("str", &strs, "/tenant/09999/", Verdict::True, 1),
        ("str", &strs, "/tenant/10000/", Verdict::False, 1),
        (
            "beg",
            &strs,
            "/tenant/04242/index.html",
            Verdict::True,
            8 * 15,
        ),
        (
            "beg",
            &strs,
            "/other/path/that/is/long",
            Verdict::False,
            8 * 25,
        ),
        ("end", &strs, "/x/tenant/00001/", Verdict::True, 8 * 15),
        ("ip", &nets, "10.39.15.7", Verdict::True, 32),
        ("ip", &nets, "11.0.0.1", Verdict::False, 32),
    ];
    for (method, pats, sample, want, max_steps) in cases {
        let mut w: Vec<&str> = vec![if *method == "ip" { "src" } else { "path" }, "-m", method];
        w.extend(pats.iter().map(String::as_str));
        let mut set = AclSet::new();
        set.declare("big", &w, &Loader::none()).unwrap();
        let c = set.compile_cond(&["if", "big"], &Loader::none()).unwrap();
        let mut req = Req::get(sample);
        if *method == "ip" {
            req.src = sample.parse().unwrap();
        }
        let mut scratch = Scratch::new();
        assert_eq!(c.eval(&mut req, &mut scratch), *want, "{method} {sample}");
        let steps = scratch.match_steps();
        assert!(steps > 0, "the work counter is live");
        assert!(
            steps <= *max_steps,
            "{method} {sample}: {steps} steps > {max_steps}"
        );
        assert!(
            steps < (N as u64) / 50,
            "{method}: {steps} steps is not sub-linear"
        );
    }
}

#[test]
fn warm_evaluation_reuses_scratch() {
    let c = cond(&[], "if { path,lower,regsub(/+,/,g),upper -m beg /A/B }").unwrap();
    let mut scratch = Scratch::new();
    let mut req = Req::get("//a///b/c");
    assert_eq!(c.eval(&mut req, &mut scratch), Verdict::True);
    let caps: Vec<usize> = scratch.conv.bufs.iter().map(Vec::capacity).collect();
    for _ in 0..100 {
        assert_eq!(c.eval(&mut req, &mut scratch), Verdict::True);
    }
    let after: Vec<usize> = scratch.conv.bufs.iter().map(Vec::capacity).collect();
    assert_eq!(caps, after, "buffers do not grow once warm");
    assert_eq!(
        scratch.matcher.captures.len(),
        1,
        "one set of capture slots per regsub"
    );
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    const VOCAB: &[&str] = &[
        "if",
        "unless",
        "{",
        "}",
        "||",
        "or",
        "!",
        "!a",
        "a",
        "b",
        "TRUE",
        "path",
        "path_beg",
        "hdr(host)",
        "hdr(host,-1)",
        "-i",
        "-m",
        "beg",
        "int",
        "ip",
        "found",
        "-f",
        "-u",
        "1",
        "--",
        "-",
        "/x",
        "10.0.0.0/8",
        "gt",
        "3:5",
        ":",
        "x(",
        "a,lower",
        "path,field(1,/)",
        "path,map(f)",
        "str(a),regsub(a,\\1)",
        "int(1),div(0)",
        "src,ipmask(33)",
        "(",
        ")",
        "\\",
        "\"",
    ];

    proptest! {
        /// Whatever words a configuration holds, compiling returns Ok or an
        /// error; it never panics, and what compiles evaluates.
        #[test]
        fn arbitrary_words_never_panic(
            decl in proptest::collection::vec(proptest::sample::select(VOCAB), 0..8),
            condw in proptest::collection::vec(proptest::sample::select(VOCAB), 0..10),
            raw in "\\PC{0,24}",
        ) {
            let mut set = AclSet::new();
            let _ = set.declare("a", &decl, &Loader::none());
            let _ = set.declare("b", &["path", raw.as_str()], &Loader::none());
            let _ = SampleExpr::parse(&raw, &Loader::none());
            if let Ok(c) = set.compile_cond(&condw, &Loader::none()) {
                let _ = c.eval(&mut Req::get("/x"), &mut Scratch::new());
            }
        }
    }
}

#[test]
fn pure_source_conditions_reduce_to_networks() {
    let fs = files(HashMap::from([(
        "/etc/weir/block.lst",
        "192.0.2.0/24\n2001:db8::/32\n",
    )]));
    let loader = Loader {
        read_file: &fs,
        env: &|_| None,
    };
    let mut set = AclSet::new();
    set.declare("blocked", &words("src -f /etc/weir/block.lst"), &loader)
        .unwrap();
    set.declare("blocked", &words("src 10.0.0.1"), &loader)
        .unwrap();
    set.declare("other", &words("src 198.51.100.0/24"), &loader)
        .unwrap();
    set.declare("api", &words("path_beg /api"), &loader)
        .unwrap();
    set.declare("masked", &words("src,ipmask(24) 10.0.0.0"), &loader)
        .unwrap();
    let net = |s: &str, l: u8| (s.parse::<IpAddr>().unwrap(), l);
    let sm = |c: &str| {
        set.compile_cond(&words(c), &loader)
            .unwrap()
            .source_networks()
    };
    let block = vec![
        net("192.0.2.0", 24),
        net("2001:db8::", 32),
        net("10.0.0.1", 32),
    ];
    assert_eq!(
        sm("if blocked"),
        Some(SourceMatch {
            networks: block.clone(),
            negate: false
        })
    );
    assert_eq!(
        sm("unless blocked"),
        Some(SourceMatch {
            networks: block.clone(),
            negate: true
        })
    );
    assert_eq!(
        sm("if !blocked"),
        Some(SourceMatch {
            networks: block.clone(),
            negate: true
        })
    );
    assert_eq!(
        sm("unless !blocked"),
        Some(SourceMatch {
            networks: block.clone(),
            negate: false
        })
    );
    let mut both = block.clone();
    both.push(net("198.51.100.0", 24));
    assert_eq!(
        sm("if blocked || other"),
        Some(SourceMatch {
            networks: both,
            negate: false
        })
    );
    assert_eq!(
        sm("if { src 127.0.0.1 }"),
        Some(SourceMatch {
            networks: vec![net("127.0.0.1", 32)],
            negate: false
        })
    );
    for not_pure in [
        "if blocked api",
        "if blocked || api",
        "if blocked || !other",
        "if masked",
        "if { src -m str 10.0.0.1 }",
        "if TRUE",
    ] {
        assert_eq!(sm(not_pure), None, "{not_pure}");
    }
    assert!(sm("if LOCALHOST").is_some(), "LOCALHOST is a plain src ACL");
}

#[test]
fn compiled_conditions_are_shareable_between_workers() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Condition>();
    assert_send_sync::<SampleExpr>();
    assert_send_sync::<AclSet>();
}
