//! Parser tests: whole configurations in, model or exact error out.

use std::time::Duration;

use crate::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("8443".into()),
        "BACKENDS" => Some("10.0.0.1:80".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Config {
    match parse_str_with_env("t.cfg", text, &env) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The first error's text.
fn parse_err(text: &str) -> String {
    match parse_str_with_env("t.cfg", text, &env) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.errors()[0].to_string(),
    }
}

const FULL: &str = r#"
# A configuration using every keyword weir supports.
global
    nbthread 4
    cpu-map auto:1/1-4 0-3
    maxconn 50000
    user haproxy
    group haproxy
    chroot /var/empty
    daemon
    pidfile /run/weir.pid
    stats socket /run/weir.sock mode 600 level admin expose-fd listeners
    stats socket ipv4@127.0.0.1:9999 level operator
    stats timeout 30s
    tune.bufsize 32k
    tune.maxaccept 32
    tune.pipesize 1m
    tune.maxpollevents 100
    hard-stop-after 30s
    log 127.0.0.1:514 local0 info
    log stdout format raw daemon

defaults
    mode tcp
    log global
    option tcplog
    option dontlognull
    option redispatch
    retries 5
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout queue 10s
    timeout tunnel 1h
    timeout client-fin 1s
    timeout server-fin 2s
    timeout check 3s
    maxconn 1000
    default-server inter 3s fall 2 rise 4 weight 10

frontend web
    bind :80,[::]:80 name public backlog 1024
    bind 127.0.0.1:8000-8002
    bind "ipv4@:${PORT}"
    maxconn 2000
    option splice-auto
    option clitcpka
    use_backend static
    default_backend app

backend app
    balance leastconn
    hash-type consistent djb2 avalanche
    option allbackups
    option nolinger
    no option redispatch
    fullconn 500
    server a1 10.0.0.1:8080 check
    server a2 10.0.0.2:8080 weight 20 maxconn 100 check inter 1s
    server b1 10.0.0.3 backup disabled
    server h1 app-host:+10 check port 9000

backend static
    balance random(3)
    server s1 [::1]:81 weight 0

listen mysql
    bind 127.0.0.1:3306
    option tcpka
    option splice-request
    no option splice-request
    option splice-response
    server m1 127.0.0.1:3307
"#;

#[test]
fn full_configuration() {
    let c = parse(FULL);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let g = &c.global;
    assert_eq!(g.nbthread, Some(4));
    assert_eq!(g.cpu_map.len(), 1);
    assert!(g.cpu_map[0].auto);
    assert_eq!(g.cpu_map[0].threads, [1, 2, 3, 4]);
    assert_eq!(g.cpu_map[0].cpus, [0, 1, 2, 3]);
    assert_eq!(g.maxconn, Some(50000));
    assert_eq!(
        (g.user.as_deref(), g.group.as_deref()),
        (Some("haproxy"), Some("haproxy"))
    );
    assert_eq!((g.uid, g.gid), (None, None));
    assert_eq!(
        g.chroot.as_deref(),
        Some(std::path::Path::new("/var/empty"))
    );
    assert!(g.daemon);
    assert_eq!(
        g.pidfile.as_deref(),
        Some(std::path::Path::new("/run/weir.pid"))
    );
    assert_eq!(g.stats_sockets.len(), 2);
    let s = &g.stats_sockets[0];
    assert_eq!(s.addr, StatsAddr::Unix("/run/weir.sock".into()));
    assert_eq!(
        (s.mode, s.level, s.expose_fd_listeners),
        (Some(0o600), StatsLevel::Admin, true)
    );
    assert_eq!(
        g.stats_sockets[1].addr,
        StatsAddr::Inet("127.0.0.1:9999".parse().unwrap())
    );
    assert_eq!(g.stats_sockets[1].level, StatsLevel::Operator);
    let dflt = parse("global\n stats socket /s\n");
    assert_eq!(dflt.global.stats_sockets[0].level, StatsLevel::Operator);
    assert_eq!(g.stats_timeout, Some(Duration::from_secs(30)));
    assert_eq!(g.tune_bufsize, 32768);
    assert_eq!(g.tune_maxaccept, Some(32));
    assert_eq!(g.tune_pipesize, Some(1 << 20));
    assert_eq!(g.tune_maxpollevents, Some(100));
    assert_eq!(g.hard_stop_after, Some(Duration::from_secs(30)));
    assert_eq!(g.logs.len(), 2);

    assert_eq!(c.frontends.len(), 2);
    let fe = c.frontend("web").unwrap();
    assert_eq!(fe.mode, Mode::Tcp);
    assert_eq!(fe.binds.len(), 6);
    assert_eq!(
        fe.binds[0].addr,
        BindAddr::Inet("0.0.0.0:80".parse().unwrap())
    );
    assert_eq!(fe.binds[1].addr, BindAddr::Inet("[::]:80".parse().unwrap()));
    assert_eq!(fe.binds[1].name.as_deref(), Some("public"));
    assert_eq!(fe.binds[1].backlog, Some(1024));
    assert_eq!(
        fe.binds[4].addr,
        BindAddr::Inet("127.0.0.1:8002".parse().unwrap())
    );
    assert_eq!(
        fe.binds[5].addr,
        BindAddr::Inet("0.0.0.0:8443".parse().unwrap())
    );
    assert_eq!(fe.binds[5].loc.line, 44);
    assert_eq!(fe.maxconn, Some(2000));
    assert_eq!(fe.timeouts.client, Some(Duration::from_secs(30)));
    assert_eq!(fe.timeouts.client_fin, Some(Duration::from_secs(1)));
    assert_eq!(fe.default_backend.as_deref(), Some("app"));
    assert_eq!(fe.use_backend.len(), 1);
    assert_eq!(fe.use_backend[0].backend, "static");
    assert!(fe.use_backend[0].cond.is_none());
    assert!(fe.log_options.tcplog && fe.log_options.dontlognull);
    assert_eq!(fe.logs.len(), 1);
    assert!(matches!(fe.logs[0], LogTarget::Global(_)));
    assert!(fe.splice.auto && !fe.splice.request);
    assert!(fe.tcpka.client && !fe.tcpka.server);

    let app = c.backend("app").unwrap();
    assert_eq!(app.balance, Balance::LeastConn);
    assert_eq!(
        app.hash_type,
        HashType {
            method: HashMethod::Consistent,
            function: HashFunction::Djb2,
            avalanche: true
        }
    );
    assert_eq!(app.retries, 5);
    assert_eq!(app.redispatch, None);
    assert!(app.allbackups && app.nolinger);
    assert_eq!(app.fullconn, Some(500));
    assert_eq!(app.timeouts.connect, Some(Duration::from_secs(5)));
    assert_eq!(app.timeouts.server_fin, Some(Duration::from_secs(2)));
    assert_eq!(app.timeouts.check, Some(Duration::from_secs(3)));
    assert_eq!(app.servers.len(), 4);
    let a1 = &app.servers[0];
    assert_eq!(
        a1.addr.socket_addr(),
        Some("10.0.0.1:8080".parse().unwrap())
    );
    // default-server from the defaults section applies.
    assert_eq!(a1.weight, 10);
    let chk = a1.check.as_ref().unwrap();
    assert_eq!(
        (chk.inter, chk.rise, chk.fall),
        (Duration::from_secs(3), 4, 2)
    );
    let a2 = &app.servers[1];
    assert_eq!((a2.weight, a2.maxconn), (20, Some(100)));
    assert_eq!(a2.check.as_ref().unwrap().inter, Duration::from_secs(1));
    let b1 = &app.servers[2];
    assert!(b1.backup && b1.disabled && b1.check.is_none());
    assert_eq!(b1.addr.port, ServerPort::SameAsClient);
    let h1 = &app.servers[3];
    assert_eq!(h1.addr.host, ServerHost::Name("app-host".into()));
    assert_eq!(h1.addr.port, ServerPort::Offset(10));
    assert_eq!(h1.check.as_ref().unwrap().port, Some(9000));

    let st = c.backend("static").unwrap();
    assert_eq!(st.balance, Balance::Random { draws: 3 });
    assert_eq!(st.servers[0].weight, 0);
    assert_eq!(st.redispatch, Some(Redispatch { interval: -1 }));

    let my_fe = c.frontend("mysql").unwrap();
    assert!(my_fe.from_listen);
    assert_eq!(my_fe.default_backend.as_deref(), Some("mysql"));
    let my_be = c.backend("mysql").unwrap();
    assert!(my_be.from_listen);
    assert_eq!(
        my_be.splice,
        SpliceMode {
            request: false,
            response: true,
            auto: false
        }
    );
    assert_eq!(
        my_be.tcpka,
        TcpKeepalive {
            client: true,
            server: true
        }
    );
    assert_eq!(
        my_be.servers[0].addr.socket_addr(),
        Some("127.0.0.1:3307".parse().unwrap())
    );
}

#[test]
fn haproxy_defaults_when_unset() {
    let c = parse("frontend f\n bind :80\n default_backend b\nbackend b\n server s 1.2.3.4:80\n");
    let b = c.backend("b").unwrap();
    assert_eq!(b.balance, Balance::RoundRobin);
    assert_eq!(b.retries, 3);
    assert_eq!(b.mode, Mode::Tcp);
    assert_eq!(b.hash_type, HashType::default());
    assert_eq!(b.servers[0].weight, 1);
    assert_eq!(c.global.tune_bufsize, 16384);
    assert_eq!(c.global.nbthread, None);
    assert_eq!(c.frontends[0].timeouts, Timeouts::default());
}

#[test]
fn defaults_sections_reset_chain_and_name() {
    let c = parse(
        "defaults base\n mode http\n timeout client 10s\n\
         defaults\n timeout server 7s\n\
         backend b1\n\
         defaults fast from base\n timeout connect 1s\n\
         backend b2\n\
         backend b3 from base\n",
    );
    // b1 takes the anonymous defaults, which reset everything (mode tcp).
    let b1 = c.backend("b1").unwrap();
    assert_eq!(b1.mode, Mode::Tcp);
    assert_eq!(b1.timeouts.client, None);
    assert_eq!(b1.timeouts.server, Some(Duration::from_secs(7)));
    // b2 takes 'fast', which starts from 'base'.
    let b2 = c.backend("b2").unwrap();
    assert_eq!(b2.mode, Mode::Http);
    assert_eq!(b2.timeouts.client, Some(Duration::from_secs(10)));
    assert_eq!(b2.timeouts.connect, Some(Duration::from_secs(1)));
    // b3 names 'base' explicitly.
    let b3 = c.backend("b3").unwrap();
    assert_eq!(b3.mode, Mode::Http);
    assert_eq!(b3.timeouts.connect, None);
}

#[test]
fn default_server_applies_to_following_servers_only() {
    let c = parse(
        "backend b\n server s1 1.1.1.1:80\n default-server weight 50 check\n server s2 1.1.1.2:80\n server s3 1.1.1.3:80 weight 5 no-check\n",
    );
    let b = c.backend("b").unwrap();
    assert_eq!(b.servers[0].weight, 1);
    assert!(b.servers[0].check.is_none());
    assert_eq!(b.servers[1].weight, 50);
    assert!(b.servers[1].check.is_some());
    assert_eq!(b.servers[2].weight, 5);
    assert!(b.servers[2].check.is_none());
    assert_eq!(b.default_server.weight, 50);
}

#[test]
fn warnings_for_ignored_settings() {
    let c = parse("backend b\n timeout client 5s\n option httplog\n balance uri\n server s 1.1.1.1:80\nfrontend f\n timeout connect 1s\n");
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w[0].starts_with("t.cfg:2: [backend 'b'] 'timeout client' ignored"),
        "{w:?}"
    );
    assert!(
        w[1].starts_with("t.cfg:3: [backend 'b'] 'option httplog' ignored"),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|x| x.starts_with("t.cfg:7: [frontend 'f'] 'timeout connect' ignored")),
        "{w:?}"
    );
    assert!(w.iter().any(|x| x.contains("has no 'bind'")), "{w:?}");
    assert!(
        w.iter()
            .any(|x| x.starts_with("t.cfg:4:") && x.contains("falling back to round robin")),
        "{w:?}"
    );
    assert_eq!(c.backend("b").unwrap().balance, Balance::RoundRobin);
}

#[test]
fn http_balance_kept_in_http_mode() {
    let c = parse("backend b\n mode http\n balance uri whole len 10 depth 2\nbackend c\n mode http\n balance hdr(Host) use_domain_only\nbackend d\n mode http\n balance url_param id\n");
    assert_eq!(
        c.backend("b").unwrap().balance,
        Balance::Uri {
            whole: true,
            len: 10,
            depth: 2,
            path_only: false
        }
    );
    assert_eq!(
        c.backend("c").unwrap().balance,
        Balance::Hdr {
            name: "Host".into(),
            use_domain_only: true
        }
    );
    assert_eq!(
        c.backend("d").unwrap().balance,
        Balance::UrlParam { name: "id".into() }
    );
}

#[test]
fn url_param_check_post_refused() {
    let e = parse_err("backend d\n mode http\n balance url_param id check_post\n");
    assert!(
        e.contains("t.cfg:3:") && e.contains("check_post") && e.contains("not supported"),
        "{e}"
    );
}

#[test]
fn environment_and_setenv() {
    let c = parse("global\n setenv NAME app\n presetenv PORT 1\n presetenv OTHER 9090\nfrontend \"f-${NAME}\"\n bind \":$PORT\"\n bind \":${OTHER}\"\n");
    let f = &c.frontends[0];
    assert_eq!(f.name, "f-app");
    assert_eq!(
        f.binds[0].addr,
        BindAddr::Inet("0.0.0.0:8443".parse().unwrap())
    );
    assert_eq!(
        f.binds[1].addr,
        BindAddr::Inet("0.0.0.0:9090".parse().unwrap())
    );
    let c = parse("global\n unsetenv PORT\nfrontend f\n bind \":${PORT-81}\"\n");
    assert_eq!(
        c.frontends[0].binds[0].addr,
        BindAddr::Inet("0.0.0.0:81".parse().unwrap())
    );
}

#[test]
fn conditional_blocks() {
    let c = parse(
        ".if defined(PORT)\nfrontend a\n bind :1\n.elif streq(x,x)\nfrontend b\n bind :2\n.else\nfrontend c\n bind :3\n.endif\n\
         .if version_atleast(2.4)\n.if !feature(QUIC)\nbackend q\n.endif\n.endif\n.if 0\nthis line is never parsed\n.endif\n",
    );
    let names: Vec<&str> = c.frontends.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a"]);
    assert!(c.backend("q").is_some());
    assert!(parse_err(".if 1\nfrontend a\n").contains(".endif"));
    assert!(parse_err(".endif\n").starts_with("t.cfg:1: "));
    assert!(parse_err(".if 1\n.alert stop here\n.endif\n").starts_with("t.cfg:2: stop here"));
    let c = parse(".warning look at me\n");
    assert_eq!(c.warnings[0].to_string(), "t.cfg:1: warning: look at me");
}

#[test]
fn several_files_are_one_stream() {
    let mut p = parser::Parser::new(&env);
    p.feed(
        "a.cfg",
        "defaults\n mode http\nbackend b\n server s 1.1.1.1:80\n",
    )
    .unwrap();
    // The second file inherits the last defaults of the first one, but the
    // section of the first file ended with it.
    p.feed("b.cfg", " server t 1.1.1.2:80\n").unwrap_err();
    let mut p = parser::Parser::new(&env);
    p.feed(
        "a.cfg",
        "defaults\n mode http\nbackend b\n server s 1.1.1.1:80\n",
    )
    .unwrap();
    p.feed("b.cfg", "frontend f\n bind :80\n default_backend b\n")
        .unwrap();
    let c = p.finish().unwrap();
    assert_eq!(c.frontends[0].mode, Mode::Http);
    assert_eq!(c.frontends[0].binds[0].loc.file.as_ref(), "b.cfg");
}

#[test]
fn error_display_is_haproxy_like() {
    assert_eq!(
        parse_err("frontend web\n bindd :80\n"),
        "t.cfg:2: [frontend 'web'] unknown keyword 'bindd'; did you mean 'bind'?"
    );
    assert_eq!(
        parse_err("global\n nbthread zero\n"),
        "t.cfg:2: [global] 'nbthread' expects an unsigned integer, got 'zero'"
    );
    assert_eq!(
        parse_err("backend b\n bind :80\n"),
        "t.cfg:2: [backend 'b'] 'bind' is not allowed in a 'backend' section (allowed in: frontend, listen)"
    );
}

/// Malformed configurations: (text, line of the error, fragment of the message).
const MALFORMED: &[(&str, u32, &str)] = &[
    (
        "frontend web\n bindd :80\n",
        2,
        "unknown keyword 'bindd'; did you mean 'bind'?",
    ),
    (
        "backend b\n bind :80\n",
        2,
        "'bind' is not allowed in a 'backend' section",
    ),
    (
        "defaults\n bind :80\n",
        2,
        "'bind' is not allowed in a 'defaults' section",
    ),
    (
        "defaults\n server s 1.1.1.1:80\n",
        2,
        "'server' is not allowed in a 'defaults' section",
    ),
    (
        "frontend f\n server s 1.1.1.1:80\n",
        2,
        "not allowed in a 'frontend' section",
    ),
    (
        "global\n balance roundrobin\n",
        2,
        "'balance' is not allowed in a 'global' section",
    ),
    (
        "frontend f\n balance roundrobin\n",
        2,
        "'balance' is not allowed in a 'frontend' section",
    ),
    (
        "listen app 0.0.0.0:80\n",
        1,
        "removed in HAProxy 2.x; use a 'bind 0.0.0.0:80' line",
    ),
    (
        "frontend f\n reqadd X-Foo:\\ bar\n",
        2,
        "'reqadd' was removed in HAProxy 2.1; use 'http-request add-header'",
    ),
    (
        "backend b\n rspadd X-Foo:\\ bar\n",
        2,
        "'rspadd' was removed in HAProxy 2.1",
    ),
    ("frontend f\n block if TRUE\n", 2, "'block' was removed"),
    (
        "defaults\n contimeout 5000\n",
        2,
        "'contimeout' was removed in HAProxy 2.1; use 'timeout connect'",
    ),
    (
        "global\n nbproc 2\n",
        2,
        "'nbproc' was removed in HAProxy 2.5; use 'nbthread'",
    ),
    (
        "frontend f\n acl x pathh /a\n",
        2,
        "'acl x': unknown fetch method 'pathh' in ACL expression; did you mean 'path'?",
    ),
    (
        "frontend f\n filter spoe engine x\n",
        2,
        "unsupported keyword 'filter' (not supported by weir yet)",
    ),
    (
        "backend b\n option mysql-check\n",
        2,
        "unsupported keyword 'option mysql-check' (not supported by weir yet)",
    ),
    (
        "global\n ssl-engine rdrand\n",
        2,
        "not supported by weir yet",
    ),
    (
        "listen s\n stats uri /stats\n",
        2,
        "unsupported keyword 'stats uri'",
    ),
    (
        "frontend f\n bind :80\n use_backend b if { path -m nope /x }\nbackend b\n",
        3,
        "unknown match method 'nope'",
    ),
    (
        "frontend f\n bind :80\n use_backend b unless x\n acl x path /x\nbackend b\n",
        3,
        "no such ACL: 'x'",
    ),
    (
        "frontend f\n bind :80\n use_backend b if\nbackend b\n",
        3,
        "missing condition after 'if'",
    ),
    (
        "frontend f\n bind :80\n use_backend b when x\n",
        3,
        "expected 'if' or 'unless'",
    ),
    (
        "frontend f\n bind :80\n default_backend nope\n",
        3,
        "unable to find required default_backend: 'nope'",
    ),
    (
        "frontend f\n bind :80\n use_backend nope\n",
        3,
        "unable to find required use_backend: 'nope'",
    ),
    (
        "frontend f\n mode http\n bind :80\n default_backend b\nbackend b\n mode tcp\n",
        4,
        "is in mode tcp and cannot be used",
    ),
    (
        "backend b\nbackend b\n",
        2,
        "backend 'b' has the same name as backend 'b' declared at t.cfg:1",
    ),
    (
        "frontend b\nlisten b\n",
        2,
        "has the same name as frontend 'b'",
    ),
    (
        "backend b\n server s 1.1.1.1:80\n server s 1.1.1.2:80\n",
        3,
        "server 's' is already defined",
    ),
    ("frontend f\n bind 127.0.0.1\n", 2, "missing port number"),
    (
        "frontend f\n bind :99999\n",
        2,
        "must be between 1 and 65535",
    ),
    ("frontend f\n bind :90-80\n", 2, "must not exceed"),
    (
        "frontend f\n bind :80 ssl crt /x.pem\n",
        2,
        "unsupported 'bind' option 'ssl'",
    ),
    (
        "frontend f\n bind :80 nmae x\n",
        2,
        "unknown 'bind' option 'nmae'; did you mean 'name'?",
    ),
    ("frontend f\n mode udp\n", 2, "unknown proxy mode 'udp'"),
    ("defaults\n mode health\n", 2, "'mode health' was removed"),
    (
        "defaults\n timeout client\n",
        2,
        "'timeout client' expects <time>",
    ),
    (
        "defaults\n timeout client 5x\n",
        2,
        "unexpected character 'x'",
    ),
    (
        "defaults\n timeout clinet 5s\n",
        2,
        "unknown timeout 'clinet'; did you mean 'client'?",
    ),
    ("defaults\n timeout client 30d\n", 2, "timer overflow"),
    (
        "defaults\n timeout client 5s 6s\n",
        2,
        "unexpected extra argument '6s'",
    ),
    ("defaults\n maxconn -1\n", 2, "unsigned integer"),
    ("defaults\n maxconn 0\n", 2, "between 1 and"),
    (
        "defaults\n retries many\n",
        2,
        "'retries' expects an unsigned integer",
    ),
    (
        "defaults\n balance roundrobbin\n",
        2,
        "unknown balance algorithm 'roundrobbin'; did you mean 'roundrobin'?",
    ),
    ("defaults\n balance random(0)\n", 2, "at least one draw"),
    (
        "defaults\n balance rdp-cookie(x)\n",
        2,
        "'rdp-cookie(x)' (not supported by weir yet)",
    ),
    (
        "defaults\n hash-type ring\n",
        2,
        "unknown hash method 'ring'",
    ),
    (
        "defaults\n hash-type consistent md5\n",
        2,
        "unknown argument 'md5'",
    ),
    ("defaults\n option redispatch x\n", 2, "non-zero integer interval"),
    (
        "defaults\n option tcplogg\n",
        2,
        "unknown option 'tcplogg'; did you mean 'tcplog'?",
    ),
    (
        "defaults\n option forceclose\n",
        2,
        "'option forceclose' was removed",
    ),
    ("defaults\n no retries\n", 2, "'retries' cannot be negated"),
    ("defaults\n option tcplog extra\n", 2, "takes no argument"),
    (
        "backend b\n server s 1.1.1.1:80 weight 300\n",
        2,
        "weight 300 is out of range",
    ),
    (
        "backend b\n server s 1.1.1.1:80 inter\n",
        2,
        "'inter' expects an argument",
    ),
    (
        "backend b\n server s 1.1.1.1:80 chekc\n",
        2,
        "did you mean 'check'?",
    ),
    (
        "backend b\n server s 1.1.1.1:80 ssl verify none\n",
        2,
        "unsupported 'server' option 'ssl'",
    ),
    (
        "backend b\n server s\n",
        2,
        "'server' expects <name> and <address>",
    ),
    ("backend b\n server s 1.1.1.1:65536\n", 2, "must not exceed 65535"),
    (
        "backend b\n server s 1.1.1.1 check\n",
        2,
        "server 's' has neither a service port nor a check port",
    ),
    (
        "backend b\n default-server check\n server s 1.1.1.1:+1\n",
        3,
        "health checks need one",
    ),
    (
        "backend b\n server s/1 1.1.1.1:80\n",
        2,
        "character '/' is invalid in server name",
    ),
    ("backend b\n rise 2\n", 2, "it is a server option"),
    (
        "backend b\n default-server weight x\n",
        2,
        "'weight' expects an unsigned integer",
    ),
    ("global\n nbthread 0\n", 2, "between 1 and"),
    (
        "global\n cpu-map auto:1/all 0-3\n",
        2,
        "as many CPUs as threads: 64 threads for 4 CPUs",
    ),
    (
        "global\n cpu-map auto:1/1-4 0-1\n",
        2,
        "as many CPUs as threads",
    ),
    ("global\n cpu-map 1/1\n", 2, "followed by a CPU set"),
    (
        "global\n stats socket /run/s level root\n",
        2,
        "level 'root' is invalid",
    ),
    (
        "global\n stats socket /run/s mode 999\n",
        2,
        "not an octal number",
    ),
    ("global\n stats timeout 0\n", 2, "greater than zero"),
    ("global\n tune.bufsize 100\n", 2, "between 1024"),
    ("global\n tune.maxaccept 0\n", 2, "-1 or between 1"),
    (
        "global\n log 127.0.0.1 local9\n",
        2,
        "unknown log facility 'local9'",
    ),
    ("global\n log global\n", 2, "only allowed in proxy sections"),
    (
        "global\n daemon yes\n",
        2,
        "unexpected extra argument 'yes'",
    ),
    ("global foo\n", 1, "'global' takes no argument"),
    ("global\n user\n", 2, "'user' expects <user name>"),
    ("global\n hard-stop-after soon\n", 2, "invalid time value"),
    ("global\n setenv 1X y\n", 2, "invalid variable name"),
    ("bind :80\n", 1, "unknown keyword 'bind' out of section"),
    ("globl\n", 1, "did you mean 'global'?"),
    (
        "resolvers dns\n nameserver d 1.1.1.1:53\n",
        1,
        "section 'resolvers' is not supported by weir yet",
    ),
    (
        "defaults x\ndefaults x\nbackend b from x\n",
        3,
        "ambiguous defaults section name 'x' referenced by backend: it exists at least at t.cfg:1 and t.cfg:2",
    ),
    (
        "backend b from nope\n",
        1,
        "defaults section 'nope' not found",
    ),
    ("frontend\n", 1, "'frontend' expects a name"),
    ("frontend f\n bind \":80\n", 2, "unmatched quote"),
    ("frontend f\n bind :80 name \"${X\"\n", 2, "missing '}'"),
    (
        "frontend f\n bind :80\n\n\n default_backend %[req.hdr(host)]\n",
        5,
        "dynamic backend names",
    ),
    ("global\n daemon", 2, "missing LF on last line"),
    (
        "frontend f\n bind :80\n no log x\n",
        3,
        "'no log' takes no argument",
    ),
    (
        "frontend f\n bind :80\n no\n",
        3,
        "'no' must be followed by a keyword",
    ),
];

#[test]
fn malformed_configs_report_file_line_and_reason() {
    assert!(MALFORMED.len() >= 30);
    for (text, line, frag) in MALFORMED {
        let e = parse_err(text);
        let prefix = format!("t.cfg:{line}: ");
        assert!(
            e.starts_with(&prefix),
            "expected line {line} for:\n{text}\ngot: {e}"
        );
        assert!(e.contains(frag), "expected '{frag}' for:\n{text}\ngot: {e}");
    }
}

#[test]
fn io_errors_name_the_file() {
    let e = load_files(&["/nonexistent/weir.cfg"]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/weir.cfg: cannot read"),
        "{e}"
    );
    let none: &[&str] = &[];
    assert!(matches!(load_files(none), Err(ConfigError::NoFile)));
}

#[test]
fn every_error_is_reported_and_bad_sections_are_skipped() {
    let text = "global\n nbthread x\nfrontend f\n bindd :80\nresolvers dns\n nameserver a 1.1.1.1:53\nlisten l 1.2.3.4:80\n bind :81\nbackend b\n retries x\n";
    let e = parse_str_with_env("t.cfg", text, &env).unwrap_err();
    let lines: Vec<String> = e.errors().iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert!(lines[0].starts_with("t.cfg:2: [global]"));
    assert!(lines[1].starts_with("t.cfg:4: [frontend 'f']"));
    assert!(lines[2].starts_with("t.cfg:5: section 'resolvers'"));
    assert!(lines[3].starts_with("t.cfg:7: [listen 'l']"));
    assert!(lines[4].starts_with("t.cfg:10: [backend 'b']"));
    assert_eq!(e.to_string(), lines.join("\n"));
    assert_eq!(e.loc().map(|l| l.line), Some(2));
}

#[test]
fn unquoted_variables_follow_haproxy() {
    // Addresses expand $NAME and ${NAME} even outside quotes (HAProxy's
    // address parser does)…
    let c = parse("frontend f\n bind :${PORT}\n bind :$PORT\n timeout client 1s\n default_backend b\nbackend b\n server s \"10.0.0.1\":$PORT\n timeout connect 1s\n timeout server 1s\n");
    assert_eq!(
        c.frontends[0].binds[1].addr,
        BindAddr::Inet("0.0.0.0:8443".parse().unwrap())
    );
    assert_eq!(c.backends[0].servers[0].addr.port, ServerPort::Fixed(8443));
    // …other words keep the text as written.
    let c = parse("frontend f\n bind :80 name $PORT\n timeout client 1s\n");
    assert_eq!(c.frontends[0].binds[0].name.as_deref(), Some("$PORT"));
    // A failing line with literal variable syntax gets a hint.
    let e = parse_err("defaults\n timeout client ${PORT}\n");
    assert!(
        e.starts_with("t.cfg:2: [defaults] 'timeout client': invalid time value '${PORT}'"),
        "{e}"
    );
    assert!(
        e.contains("outside double quotes, variables are expanded only in addresses"),
        "{e}"
    );
}

#[test]
fn last_log_format_option_wins() {
    let c = parse(
        "defaults\n option httplog\nfrontend a\n bind :80\n option tcplog\nfrontend b\n bind :81\n",
    );
    let a = c.frontend("a").unwrap().log_options;
    assert!(a.tcplog && !a.httplog);
    let b = c.frontend("b").unwrap().log_options;
    assert!(b.httplog && !b.tcplog);
    let c =
        parse("backend b\n option log-health-checks\n timeout connect 1s\n timeout server 1s\n");
    assert!(c.backends[0].log_options.log_health_checks && c.warnings.is_empty());
}

mod props {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Any text, valid or not, gives a config or located errors: no panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            if let Err(e) = crate::parse_str_with_env("p.cfg", &text, &|_| None) {
                for one in e.errors() {
                    prop_assert!(one.to_string().starts_with("p.cfg:"), "{one}");
                }
            }
        }

        /// Lines built from configuration-like pieces (keywords, quotes,
        /// escapes, variables, numbers with units) never panic either.
        #[test]
        fn config_like_text_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("global"), Just("defaults"), Just("frontend f"), Just("backend b"), Just("listen l"),
            Just("bind"), Just(":80"), Just("[::]:1-3,"), Just("server s"), Just("1.2.3.4:+1"),
            Just("timeout"), Just("client"), Just("5s"), Just("99999999999d"), Just("balance"),
            Just("random("), Just(")"), Just("\""), Just("'"), Just("\\"), Just("\\x"), Just("${"),
            Just("$A"), Just("[*]}"), Just("#"), Just("\n"), Just(" "), Just("option"), Just("no"),
            Just("use_backend"), Just("if"), Just("cpu-map"), Just("auto:1/1-64"), Just("0-4095"),
            Just("log"), Just("local0"), Just(".if"), Just(".endif"), Just("stats socket"), Just("mode"),
            Just("fd@"), Just("ipv6@"), Just("weight"), Just("257"), Just("default-server"),
        ], 0..40)) {
            let text: String = parts.concat();
            let env = |n: &str| (n == "A").then(|| "x y".to_owned());
            let _ = crate::parse_str_with_env("p.cfg", &text, &env);
        }

        /// Times in any unit convert exactly (below the overflow bound).
        #[test]
        fn times_convert_exactly(n in 0u64..100_000, unit in 0usize..6) {
            let (suffix, us) = [("us", 1u64), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000), ("d", 86_400_000_000)][unit];
            let r = crate::units::parse_time(&format!("{n}{suffix}"));
            if n * us / 1000 <= crate::units::MAX_TIMER_MS {
                prop_assert_eq!(r, Ok(std::time::Duration::from_micros(n * us)));
            } else {
                prop_assert!(r.is_err());
            }
        }
    }
}

#[test]
fn zero_timeouts_are_infinite_and_missing_ones_warned() {
    let c = parse("frontend f\n bind :80\n timeout client 0\n default_backend b\nbackend b\n timeout connect 5s\n timeout server 5s\n");
    assert_eq!(c.frontends[0].timeouts.client, None);
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w, ["t.cfg:1: [frontend 'f'] missing timeouts (client): connections may wait forever; set them to a non-zero value"]);
}

/// Happy paths of the keywords and options the full configuration above
/// does not use.
#[test]
fn remaining_keywords_happy_paths() {
    let c = parse(
        "global\n cpu-map 1/all 0-1\n cpu-map 1 2,3\n cpu-map auto:1/odd 0-31\n unsetenv HOME\n\
         defaults d\n option logasap\n option dontlog-normal\n option log-separate-errors\n option httplog clf\n\
         frontend f from d\n bind [::]:443 v6only interface lo transparent defer-accept tfo maxconn 10\n bind :::444 v4v6\n disabled\n enabled\n option nolinger\n no option nolinger\n\
         backend b from d\n option srvtcpka\n hash-type map-based wt6\n balance source\n disabled\n timeout connect 1s\n timeout server 1s\n\
         default-server minconn 1 maxqueue 5 fastinter 500ms downinter 10s addr 10.9.9.9 slowstart 30s on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions backup\n\
         server s 10.0.0.1:80 no-backup enabled weight 256 check\n",
    );
    let g = &c.global;
    assert_eq!(g.cpu_map[0].threads, Vec::<u32>::new());
    assert_eq!(g.cpu_map[0].cpus, [0, 1]);
    assert_eq!(g.cpu_map[1].cpus, [2, 3]);
    assert!(g.cpu_map[2].auto && g.cpu_map[2].threads.starts_with(&[1, 3, 5]));
    let f = &c.frontends[0];
    let lo = f.log_options;
    assert!(
        lo.logasap && lo.dontlog_normal && lo.log_separate_errors && lo.httplog && lo.httplog_clf
    );
    assert!(!f.disabled && !f.nolinger);
    let b0 = &f.binds[0];
    assert!(b0.v6only && b0.transparent && b0.defer_accept && b0.tfo && !b0.v4v6);
    assert_eq!(
        (b0.interface.as_deref(), b0.maxconn),
        (Some("lo"), Some(10))
    );
    assert_eq!(f.binds[1].addr, BindAddr::Inet("[::]:444".parse().unwrap()));
    assert!(f.binds[1].v4v6);
    let b = &c.backends[0];
    assert!(b.disabled && b.tcpka.server && !b.tcpka.client);
    assert_eq!(b.balance, Balance::Source);
    assert_eq!(
        b.hash_type,
        HashType {
            method: HashMethod::MapBased,
            function: HashFunction::Wt6,
            avalanche: false
        }
    );
    let s = &b.servers[0];
    assert_eq!(
        (s.weight, s.minconn, s.maxqueue, s.backup, s.disabled),
        (256, Some(1), Some(5), false, false)
    );
    assert!(s.shutdown_on_down && s.shutdown_backup_on_up);
    assert_eq!(s.slowstart, Some(Duration::from_secs(30)));
    let chk = s.check.as_ref().unwrap();
    assert_eq!(chk.fastinter, Some(Duration::from_millis(500)));
    assert_eq!(chk.downinter, Some(Duration::from_secs(10)));
    assert_eq!(chk.addr, Some("10.9.9.9".parse().unwrap()));
    assert!(b.default_server.backup);
}

#[test]
fn remaining_bad_values() {
    for (text, frag) in [
        ("frontend f\n bind :80 v4v6 v6only\n", "mutually exclusive"),
        ("frontend f\n bind :80 backlog 0\n", "greater than zero"),
        ("frontend f\n bind :80 name\n", "expects an argument"),
        ("frontend f\n disabled now\n", "unexpected extra argument"),
        (
            "backend b\n server s 1.1.1.1:80 on-marked-down nothing\n",
            "expects 'shutdown-sessions'",
        ),
        (
            "backend b\n server s 1.1.1.1:80 addr host\n",
            "invalid check address",
        ),
        (
            "backend b\n server s 1.1.1.1:80 slowstart x\n",
            "'slowstart'",
        ),
        ("backend b\n option httplog clf extra\n", "only 'clf'"),
        ("backend b\n balance uri depth\n", "expects a number"),
        (
            "backend b\n balance url_param\n",
            "expects a parameter name",
        ),
        ("backend b\n balance hdr()\n", "expected hdr(<name>)"),
        ("backend b\n balance leastconn now\n", "takes no argument"),
        ("backend b\n fullconn lots\n", "unsigned integer"),
        ("global\n cpu-map 1/0 0\n", "start at 1"),
        ("global\n cpu-map auto:1 0-3\n", "as many CPUs as processes"),
        ("global\n cpu-map 1/4-2 0\n", "must not exceed"),
        ("global\n cpu-map 1 5000\n", "out of range"),
        ("global\n tune.pipesize 0\n", "between 1 and"),
        ("global\n tune.maxpollevents 0\n", "greater than zero"),
        ("global\n stats socket\n", "expects a path or an address"),
        (
            "global\n stats socket /s expose-fd all\n",
            "expects 'listeners'",
        ),
        ("global\n stats socket /s level\n", "expects a value"),
        (
            "global\n stats bogus\n",
            "expected 'stats socket' or 'stats timeout'",
        ),
        ("global\n unsetenv\n", "at least one variable name"),
        ("global\n uid -1\n", "unsigned integer"),
    ] {
        let e = parse_err(text);
        assert!(e.starts_with("t.cfg:2: "), "{text}: {e}");
        assert!(e.contains(frag), "{text}: {e}");
    }
}

#[test]
fn identity_and_cpu_map_follow_haproxy() {
    // user/uid (group/gid) name one setting: the first is kept, with a warning.
    let c = parse("global\n user haproxy\n uid 99\n gid 98\n group staff\n");
    let g = &c.global;
    assert_eq!(
        (g.user.as_deref(), g.uid, g.gid, g.group.as_deref()),
        (Some("haproxy"), None, Some(98), None)
    );
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w[0].starts_with("t.cfg:3: [global] user/uid already specified"),
        "{w:?}"
    );
    assert!(
        w[1].starts_with("t.cfg:5: [global] group/gid already specified"),
        "{w:?}"
    );
    // cpu-map: other processes are ignored; auto pairs in order.
    let c = parse("global\n cpu-map 2 0\n cpu-map auto:1-2 4-5\n cpu-map auto:1/1-2 6,7\n cpu-map 1/all 0-3\n");
    let m = &c.global.cpu_map;
    assert_eq!(m.len(), 3);
    assert!(c.warnings[0].to_string().contains("'cpu-map 2' ignored"));
    assert_eq!(
        (m[0].auto, m[0].threads.clone(), m[0].cpus.clone()),
        (false, vec![], vec![4])
    );
    assert_eq!(
        (m[1].auto, m[1].threads.clone(), m[1].cpus.clone()),
        (true, vec![1, 2], vec![6, 7])
    );
    assert_eq!(
        (m[2].threads.clone(), m[2].cpus.clone()),
        (vec![], vec![0, 1, 2, 3])
    );
}

#[test]
fn defaults_references_follow_haproxy_rules() {
    // Explicit then implicit use of one section: HAProxy 2.6 alerts and
    // goes on, so a warning at the implicit use.
    let c = parse("defaults d\n retries 9\nbackend a from d\nbackend b\n");
    assert_eq!(c.backends[1].retries, 9);
    let w = c.warnings[0].to_string();
    assert!(w.starts_with("t.cfg:4: [backend 'b'] defaults section 'd' (declared at t.cfg:1) is explicitly referenced"), "{w}");
    // Implicit then explicit: the warning is at the explicit reference.
    let c = parse("defaults d\nbackend b\nbackend a from d\n");
    let w = c.warnings[0].to_string();
    assert!(
        w.starts_with(
            "t.cfg:3: [backend 'a'] defaults section 'd' (declared at t.cfg:1) is implicitly used"
        ),
        "{w}"
    );
    // A later anonymous defaults section makes both uses legal.
    let c = parse("defaults d\n retries 7\nbackend a from d\ndefaults\nbackend b\n");
    assert_eq!((c.backends[0].retries, c.backends[1].retries), (7, 3));
    assert!(!c
        .warnings
        .iter()
        .any(|w| w.msg.contains("defaults section")));
    // `defaults X from Y` is an explicit reference too.
    let c = parse("defaults d\nbackend b\ndefaults e from d\n");
    assert!(c.warnings[0]
        .to_string()
        .starts_with("t.cfg:3: [defaults 'e'] defaults section 'd'"));
    // Two defaults sections may share a name until it is referenced.
    parse("defaults x\ndefaults x\nbackend b\n");
}

#[test]
fn lenient_where_haproxy_is() {
    let c = parse("backend b\n option redispatch 0\n default-server\n server s 1.1.1.1:0\n timeout connect 1s\n timeout server 1s\n");
    let b = &c.backends[0];
    assert_eq!(b.redispatch, None);
    assert_eq!(b.servers[0].addr.port, ServerPort::SameAsClient);
}

#[test]
fn bind_process_is_a_no_op_with_a_warning() {
    let c = parse("frontend f\n bind-process 1\n bind :80\n timeout client 1s\n");
    assert!(c.warnings[0]
        .to_string()
        .starts_with("t.cfg:2: [frontend 'f'] 'bind-process' has no effect"));
    assert!(parse_err("global\n bind-process 1\n")
        .contains("'bind-process' is not allowed in a 'global' section"));
}

#[test]
fn trailing_empty_arguments_are_absent() {
    let c = parse("global\n daemon \"\"\n");
    assert!(c.global.daemon);
    let e = parse_err("frontend f\n bind :80 name \"$EMPTY\"\n");
    assert!(
        e.starts_with("t.cfg:2: [frontend 'f'] 'bind' option 'name' expects an argument"),
        "{e}"
    );
    // An empty word in the middle stays (and is refused where it matters).
    assert!(
        parse_err("backend b\n server \"\" 1.1.1.1:80\n").contains("server name must not be empty")
    );
}

#[test]
fn extra_words_on_a_backend_line() {
    let e = parse_err("backend b extra\n");
    assert_eq!(e, "t.cfg:1: [backend 'b'] 'backend' takes a name and optionally 'from <defaults name>'; unexpected 'extra'");
}

#[test]
fn steer_connections() {
    assert_eq!(parse("global\n").global.steer_connections, None);
    for (w, m) in [
        ("cpu", SteerConnections::Cpu),
        ("source", SteerConnections::Source),
        ("off", SteerConnections::Off),
    ] {
        let c = parse(&format!("global\n steer-connections {w}\n"));
        assert_eq!(c.global.steer_connections, Some(m));
    }
    assert_eq!(
        parse_err("global\n steer-connections rss\n"),
        "t.cfg:2: [global] 'steer-connections' expects 'cpu', 'source' or 'off', got 'rss'"
    );
    assert_eq!(
        parse_err("global\n steer-connections\n"),
        "t.cfg:2: [global] 'steer-connections' expects 'cpu', 'source' or 'off' as argument"
    );
    assert_eq!(
        parse_err("global\n steer-connections cpu\n steer-connections off\n"),
        "t.cfg:3: [global] 'steer-connections' is already set"
    );
    assert!(parse_err("frontend f\n steer-connections cpu\n").starts_with("t.cfg:2: "));
}
