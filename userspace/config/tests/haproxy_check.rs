//! Differential test against the real HAProxy (Debian's 2.6, a peer the
//! project installs for benchmarks): configurations weir accepts must pass
//! `haproxy -c`, and the mistakes weir rejects (other than features weir
//! lacks) must fail it too. This pins the dialect details that HAProxy's
//! manual leaves vague (environment expansion outside quotes, `cpu-map
//! auto:` sizes, defaults references…) to what HAProxy actually does.
//! Skips, saying so, when `haproxy` is not installed.

use std::path::PathBuf;
use std::process::Command;

/// Environment given to both parsers.
const ENV: &[(&str, &str)] = &[("PORT", "8443"), ("LIST", "a b"), ("EMPTY", "")];

fn env(name: &str) -> Option<String> {
    ENV.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| (*v).to_owned())
}

/// Configurations both accept.
const VALID: &[&str] = &[
    // Most of weir's keywords at once.
    "global\n nbthread 4\n cpu-map auto:1/1-4 0-3\n maxconn 50000\n user nobody\n group nogroup\n chroot /\n daemon\n pidfile /run/w.pid\n \
     stats socket /run/w.sock mode 600 level admin expose-fd listeners\n stats socket ipv4@127.0.0.1:9999 level operator\n stats timeout 30s\n \
     tune.bufsize 32768\n tune.maxaccept 32\n tune.pipesize 1048576\n tune.maxpollevents 100\n hard-stop-after 30s\n log 127.0.0.1:514 local0 info\n log stdout format raw daemon\n\
     defaults\n mode tcp\n log global\n option tcplog\n option dontlognull\n option redispatch\n retries 5\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n \
     timeout queue 10s\n timeout tunnel 1h\n timeout client-fin 1s\n timeout server-fin 2s\n timeout check 3s\n maxconn 1000\n default-server inter 3s fall 2 rise 4 weight 10\n\
     frontend web\n bind :80,[::]:80 name public backlog 1024\n bind 127.0.0.1:8000-8002\n bind \"ipv4@:${PORT}\"\n maxconn 2000\n option splice-auto\n option clitcpka\n use_backend static\n default_backend app\n\
     backend app\n balance leastconn\n hash-type consistent djb2 avalanche\n option allbackups\n option nolinger\n no option redispatch\n fullconn 500\n \
     server a1 10.0.0.1:8080 check\n server a2 10.0.0.2:8080 weight 20 maxconn 100 check inter 1s\n server b1 10.0.0.3 backup disabled\n server h1 10.0.0.4:+10 check port 9000\n\
     backend static\n balance random(3)\n server s1 [::1]:81 weight 0\n\
     listen mysql\n bind 127.0.0.1:3306\n option tcpka\n option splice-request\n no option splice-request\n option splice-response\n server m1 127.0.0.1:3307\n",
    // Environment variables: expanded within double quotes (with defaults
    // and [*]); outside quotes only addresses expand them; elsewhere the
    // text stays literal (`name $NOPE` is a name, then `v4v6` a flag).
    "frontend f\n bind :${PORT}\n bind :$PORT\n bind :80 name $NOPE v4v6\n bind \":${NOPE-81}\" name \"${EMPTY-x}y\"\n bind :82 name ${LIST[*]}\n timeout client 1s\n default_backend b\n\
     backend b\n server s ${NOPE}127.0.0.1:$PORT\n timeout connect 1s\n timeout server 1s\n",
    "global\n log ${NOPE}127.0.0.1:${PORT} local0\n stats socket ${NOPE}/tmp/weir-check.sock\n",
    // HAProxy's leniencies weir shares.
    "backend b\n option redispatch 0\n default-server\n server s 1.1.1.1:80 check port 0\n server t 1.1.1.1:0 check port 81\n server u 1.1.1.1:0\n option httpchk GET\n timeout connect 1s\n timeout server 1s\n",
    // cpu-map forms; other processes are ignored.
    "global\n cpu-map 2 0\n cpu-map auto:1-2 4-5\n cpu-map auto:1/1-2 6,7\n cpu-map 1/all 0-3\n cpu-map auto:1/odd 0-31\n",
    // A last anonymous defaults makes explicit and implicit uses legal; named
    // duplicates are fine until referenced.
    "defaults d\n retries 7\nbackend a from d\ndefaults\nbackend b\ndefaults x\ndefaults x\nbackend c\n",
    // Mixing explicit and implicit uses is an alert HAProxy 2.6 does not
    // treat as fatal (a warning in weir).
    "defaults d\nbackend a from d\nbackend b\n",
    "defaults d\nbackend b\nbackend a from d\n",
    // Conditional blocks.
    ".if version_atleast(2.4)\nglobal\n maxconn 10\n.elif defined(PORT)\nthis is skipped\n.else\nthis too\n.endif\n.if streq(a,b)\nskipped\n.endif\n",
    // Listen with health checks and expectations.
    "listen l\n bind :9000\n option httpchk HEAD /health HTTP/1.1\n http-check expect status 200-399\n server s 127.0.0.1:9001 check\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n",
];

/// Mistakes both reject (weir's reason in a comment where not obvious).
const BOTH_REJECT: &[&str] = &[
    "frontend f\n bindd :80\n",
    "frontend f\n bind 127.0.0.1\n",
    "frontend f\n bind :0\n",
    "frontend f\n bind :65536\n",
    "frontend f\n bind :${NOPE-80}\n",
    "defaults\n timeout client ${PORT}\n", // literal outside quotes
    "defaults\n mode \"a$1\"\n",           // `$` in double quotes must start a name
    "defaults\n mode \"${PORT\"\n",        // unmatched brace // literal outside quotes
    "frontend f\n bind :80 name \"${LIST[*]}\"\n", // splits into "a" "b": unknown option b
    "frontend f\n mode udp\n",
    "defaults\n timeout client 5x\n",
    "defaults\n timeout client 30d\n",
    "defaults\n balance roundrobbin\n",
    "backend b\n rise 1\n",
    "backend b\n server s 1.1.1.1:80\n server s 1.1.1.2:80\n",
    "backend b\n server s 1.1.1.1:80 weight 300\n",
    "backend b\n server s 1.1.1.1:80 inter\n",
    "global\n cpu-map auto:1/all 0-3\n",
    "global\n cpu-map auto:1 0-3\n",
    "defaults x\ndefaults x\nbackend b from x\n",
    "backend b from nope\n",
    "frontend f\n bind :80\n default_backend nope\n",
    "frontend f\n bind :80\n use_backend nope\n",
    "frontend f\n mode http\n bind :80\n default_backend b\nbackend b\n mode tcp\n",
    "listen l 127.0.0.1:80\n timeout client 1s\n",
    "frontend f\n reqadd X-Foo:\\ bar\n",
    "global\n nbproc 2\n",
    "global\n log 127.0.0.1 local9\n",
    "global\n stats socket /run/s level root\n",
    "global\n daemon",
    ".if 1\nglobal\n",
    ".endif\n",
    "backend b\n hash-type consistent none\n", // no `none` function in 2.6
    "defaults\n no option tcplog\n",
    "defaults\n no option httplog\n",
    "defaults\n no option httpchk\n",
    "defaults\n no option tcpka\n",
    "backend b\n server s ::1\n", // the port is after the last colon
    "backend b\n server s 1.1.1.1 check\n", // a check needs a port
    "backend b\n server s 1.1.1.1:0 check port 0\n",
];

/// Deliberate differences: HAProxy 2.6 accepts these (often with a warning,
/// or by reading garbage as 0), weir refuses them. Listed so that each one is
/// a decision, checked to still hold on both sides.
const WEIR_STRICTER: &[(&str, &str)] = &[
    // HAProxy warns and ignores the line; weir says where it belongs.
    (
        "backend b\n bind :80\n",
        "'bind' is not allowed in a 'backend' section",
    ),
    (
        "frontend f\n balance roundrobin\n",
        "'balance' is not allowed in a 'frontend' section",
    ),
    // HAProxy reads these numbers with atol(): garbage becomes 0 or -1.
    ("defaults\n maxconn -1\n", "unsigned integer"),
    ("defaults\n maxconn 0\n", "between 1 and"),
    ("defaults\n retries many\n", "unsigned integer"),
    ("global\n tune.maxaccept 0\n", "-1 or between 1"),
    // Literal `$PORT` outside quotes: HAProxy reads it with atol() as 0.
    ("global\n maxconn $PORT\n", "unsigned integer"),
    // A variable that no `$NAME` could ever reference.
    ("global\n setenv 1X y\n", "invalid variable name"),
    // HAProxy warns that it will refuse trailing characters after a time.
    (
        "defaults\n timeout client 1s5\n",
        "unexpected character '5'",
    ),
    // HAProxy keeps both flags; they contradict each other.
    (
        "frontend f\n bind :80 v4v6 v6only\n timeout client 1s\n",
        "mutually exclusive",
    ),
    // An empty host means "the address the client connected to" in HAProxy,
    // which weir does not model (it reads as a mistake, often an unset variable).
    ("backend b\n server s :80\n", "missing server address"),
    // An empty condition: HAProxy takes it as always true.
    (
        "frontend f\n bind :80\n use_backend b if\nbackend b\n",
        "missing condition",
    ),
];

/// Deliberate differences the other way: weir accepts, HAProxy 2.6 does not.
const WEIR_LENIENT: &[&str] = &[
    // A build limit of HAProxy (MAX_THREADS 64), not of weir.
    "global\n nbthread 128\n",
    // Size units: HAProxy 2.6 reads `32k` as 32 bytes and crashes; weir reads
    // 32768, as later HAProxy versions do.
    "global\n tune.bufsize 32k\n",
];

fn haproxy() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join("haproxy"))
        .find(|p| p.is_file())
}

/// Runs `haproxy -c` on `text`; true when HAProxy accepts it (exit 0, or 2:
/// "valid but will not start (no listener)").
fn haproxy_accepts(bin: &PathBuf, dir: &std::path::Path, n: usize, text: &str) -> (bool, String) {
    let path = dir.join(format!("case{n}.cfg"));
    std::fs::write(&path, text).unwrap();
    let out = Command::new(bin)
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .env_clear()
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (code == 0 || code == 2, text)
}

#[test]
fn weir_and_haproxy_agree() {
    let Some(bin) = haproxy() else {
        eprintln!("SKIP: haproxy is not installed (Debian package 'haproxy')");
        return;
    };
    let dir =
        std::env::temp_dir().join(format!("weir-config-haproxy-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for (n, text) in VALID.iter().enumerate() {
        if let Err(e) = weir_config::parse_str_with_env("t.cfg", text, &env) {
            failures.push(format!("weir rejects valid case {n}: {e}"));
        }
        let (ok, out) = haproxy_accepts(&bin, &dir, n, text);
        if !ok {
            failures.push(format!("haproxy rejects valid case {n}:\n{out}"));
        }
    }
    for (n, text) in BOTH_REJECT.iter().enumerate() {
        if weir_config::parse_str_with_env("t.cfg", text, &env).is_ok() {
            failures.push(format!("weir accepts bad case {n}: {text:?}"));
        }
        let (ok, _) = haproxy_accepts(&bin, &dir, 1000 + n, text);
        if ok {
            failures.push(format!("haproxy accepts bad case {n}: {text:?}"));
        }
    }
    for (n, (text, why)) in WEIR_STRICTER.iter().enumerate() {
        match weir_config::parse_str_with_env("t.cfg", text, &env) {
            Ok(_) => failures.push(format!("weir accepts stricter case {n}: {text:?}")),
            Err(e) if !e.to_string().contains(why) => {
                failures.push(format!("stricter case {n}: expected '{why}', got: {e}"))
            }
            Err(_) => {}
        }
        let (ok, out) = haproxy_accepts(&bin, &dir, 2000 + n, text);
        if !ok {
            failures.push(format!(
                "haproxy now rejects stricter case {n} (move it to BOTH_REJECT):\n{out}"
            ));
        }
    }
    for (n, text) in WEIR_LENIENT.iter().enumerate() {
        if let Err(e) = weir_config::parse_str_with_env("t.cfg", text, &env) {
            failures.push(format!("weir rejects lenient case {n}: {e}"));
        }
        let (ok, _) = haproxy_accepts(&bin, &dir, 3000 + n, text);
        if ok {
            failures.push(format!(
                "haproxy now accepts lenient case {n} (move it to VALID): {text:?}"
            ));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
