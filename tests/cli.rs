//! The command line and configuration checking of the real binary: `-c` on
//! valid and malformed configurations, `-v`/`-vv`, usage errors, and the
//! promise that a bad configuration binds nothing.

mod common;

use std::net::TcpListener;

use common::{check_config, run_weir, Weir};

/// A valid configuration used as the base of several tests.
const VALID: &str = "\
global
    maxconn 100

defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:{P0}
    default_backend be

backend be
    balance roundrobin
    server s1 127.0.0.1:9 weight 2
    server s2 127.0.0.1:10 backup
";

#[test]
fn check_accepts_a_valid_configuration() {
    let (f, _, _dir) = check_config(&VALID.replace("{P0}", "18080"));
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
    assert!(
        f.stdout.contains("Configuration file is valid"),
        "stdout: {}",
        f.stdout
    );
}

#[test]
fn quiet_check_says_nothing_but_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.cfg");
    std::fs::write(&path, VALID.replace("{P0}", "18080")).unwrap();
    let f = run_weir(&["-q", "-c", "-f", path.to_str().unwrap()]);
    assert_eq!(f.code(), Some(0));
    assert_eq!(f.stdout, "");
    std::fs::write(&path, "global\n    bogus\n").unwrap();
    let f = run_weir(&["-q", "-c", "-f", path.to_str().unwrap()]);
    assert_eq!(f.code(), Some(1));
    assert!(
        f.stderr.contains(":2"),
        "errors are still printed: {}",
        f.stderr
    );
}

#[test]
fn check_reads_a_directory_of_cfg_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // 10-global.cfg sorts before 20-proxies.cfg; notes.txt is not read (it
    // would not parse).
    std::fs::write(
        dir.path().join("10-global.cfg"),
        "global\n    maxconn 100\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("20-proxies.cfg"),
        "listen l\n    mode tcp\n    bind 127.0.0.1:18081\n    server s 127.0.0.1:9\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("notes.txt"),
        "this is not a configuration\n",
    )
    .unwrap();
    let f = run_weir(&["-c", "-f", dir.path().to_str().unwrap()]);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);

    // An error in the second file names that file and line.
    std::fs::write(
        dir.path().join("30-bad.cfg"),
        "\n\nfrontend x\n    bogus-keyword\n",
    )
    .unwrap();
    let f = run_weir(&["-c", "-f", dir.path().to_str().unwrap()]);
    assert_eq!(f.code(), Some(1));
    assert!(f.stderr.contains("30-bad.cfg:4"), "stderr: {}", f.stderr);
}

/// Malformed configurations and the line each error must name.
const MALFORMED: &[(&str, &str, u32)] = &[
    ("unknown global keyword", "global\n    frobnicate 1\n", 2),
    (
        "unknown frontend keyword",
        "frontend fe\n    bind 127.0.0.1:18000\n    no-such-thing yes\n",
        3,
    ),
    ("keyword outside any section", "maxconn 10\n", 1),
    ("maxconn not a number", "global\n    maxconn lots\n", 2),
    ("maxconn without value", "global\n\n    maxconn\n", 3),
    (
        "timeout with a bad unit",
        "defaults\n    timeout client 5parsecs\n",
        2,
    ),
    (
        "unknown timeout kind",
        "defaults\n    timeout forever 5s\n",
        2,
    ),
    (
        "bind without port",
        "frontend fe\n    bind 127.0.0.1\n    default_backend be\nbackend be\n",
        2,
    ),
    (
        "bind with a bad address",
        "frontend fe\n    bind 300.1.2.3:80\n",
        2,
    ),
    (
        "bind port out of range",
        "frontend fe\n    bind 127.0.0.1:70000\n",
        2,
    ),
    (
        "bind with an unknown option",
        "frontend fe\n    bind 127.0.0.1:18000 frobnicate\n",
        2,
    ),
    (
        "unterminated quote",
        "frontend fe\n    bind \"127.0.0.1:18000\n",
        2,
    ),
    ("server without address", "backend be\n    server s1\n", 2),
    (
        "server port out of range",
        "backend be\n    server s1 127.0.0.1:99999\n",
        2,
    ),
    (
        "server weight too large",
        "backend be\n    server s1 127.0.0.1:80 weight 1000\n",
        2,
    ),
    (
        "server with an unknown option",
        "backend be\n    server s1 127.0.0.1:80 sparkle\n",
        2,
    ),
    (
        "duplicate server name",
        "backend be\n    server s1 127.0.0.1:80\n    server s1 127.0.0.1:81\n",
        3,
    ),
    (
        "unknown balance algorithm",
        "backend be\n    balance dartboard\n",
        2,
    ),
    ("unknown mode", "backend be\n    mode udp\n", 2),
    ("unknown hash-type", "backend be\n    hash-type jenga\n", 2),
    ("negative retries", "backend be\n    retries -1\n", 2),
    ("unknown option", "defaults\n    option make-it-fast\n", 2),
    (
        "frontend without name",
        "frontend\n    bind 127.0.0.1:18000\n",
        1,
    ),
    (
        "server in a frontend",
        "frontend fe\n    bind 127.0.0.1:18000\n    server s1 127.0.0.1:80\n",
        3,
    ),
    (
        "bind in a backend",
        "backend be\n    bind 127.0.0.1:18000\n",
        2,
    ),
    (
        "default_backend naming no backend",
        "frontend fe\n    bind 127.0.0.1:18000\n    default_backend nowhere\n",
        3,
    ),
    (
        "defaults from an unknown defaults section",
        "defaults base\n    mode tcp\ndefaults child from nothing\n    mode tcp\n",
        3,
    ),
    ("nbthread zero", "global\n    nbthread 0\n", 2),
    (
        "tune.bufsize not a size",
        "global\n    tune.bufsize big\n",
        2,
    ),
    (
        "duplicate frontend name",
        "frontend fe\n    bind 127.0.0.1:18000\nfrontend fe\n    bind 127.0.0.1:18001\n",
        3,
    ),
];

#[test]
fn check_rejects_malformed_configurations_naming_file_and_line() {
    assert!(MALFORMED.len() >= 20);
    let mut failures = Vec::new();
    for (what, text, line) in MALFORMED {
        let (f, path, _dir) = check_config(text);
        let want = format!("{}:{line}", path.display());
        if f.code() != Some(1) || !f.stderr.contains(&want) || f.stdout.contains("is valid") {
            failures.push(format!(
                "{what}: want exit 1 and '{want}', got {:?}\n  stdout: {}\n  stderr: {}",
                f.code(),
                f.stdout.trim(),
                f.stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_keyword_error_names_the_keyword_and_section() {
    let (f, path, _dir) = check_config("frontend web\n    bind 127.0.0.1:18000\n    maxconnn 10\n");
    assert_eq!(f.code(), Some(1));
    let want = format!("{}:3: [frontend 'web']", path.display());
    assert!(f.stderr.contains(&want), "stderr: {}", f.stderr);
    assert!(f.stderr.contains("maxconnn"), "stderr: {}", f.stderr);
}

#[test]
fn a_bad_configuration_binds_nothing() {
    // Hold the port weir's (valid) first frontend would bind. If weir bound
    // anything before it finished reading the configuration, it would report
    // "address in use" instead of the configuration error on line 7.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.cfg");
    let text = format!(
        "listen ok\n    mode tcp\n    bind 127.0.0.1:{port}\n    server s 127.0.0.1:9\n\n\
         frontend broken\n    no-such-keyword\n"
    );
    std::fs::write(&path, text).unwrap();
    let f = run_weir(&["-db", "-f", path.to_str().unwrap()]);
    assert_eq!(f.code(), Some(1), "stderr: {}", f.stderr);
    assert!(
        f.stderr.contains(&format!("{}:7", path.display())),
        "stderr: {}",
        f.stderr
    );
    assert!(!f.stderr.contains("in use"), "stderr: {}", f.stderr);
}

#[test]
fn missing_configuration_file_is_an_error() {
    let f = run_weir(&["-c", "-f", "/nonexistent/weir.cfg"]);
    assert_eq!(f.code(), Some(1));
    assert!(f.stderr.contains("/nonexistent/weir.cfg"), "{}", f.stderr);
}

#[test]
fn unknown_option_prints_usage_and_exits_1() {
    for bad in [&["-x"][..], &["--bogus"], &["-f"], &["-sf", "notapid"]] {
        let f = run_weir(bad);
        assert_eq!(f.code(), Some(1), "{bad:?}");
        assert!(f.stderr.contains("Usage: weir"), "{bad:?}: {}", f.stderr);
    }
}

#[test]
fn version_and_build_features() {
    let f = run_weir(&["-v"]);
    assert_eq!(f.code(), Some(0));
    assert!(f.stdout.starts_with("weir version "), "{}", f.stdout);
    let f = run_weir(&["-vv"]);
    assert_eq!(f.code(), Some(0));
    for key in ["io_uring", "splice", "SO_REUSEPORT", "BPF/XDP"] {
        assert!(f.stdout.contains(key), "-vv lacks {key}: {}", f.stdout);
    }
}

#[test]
fn check_validates_the_embedded_quickstart() {
    let f = run_weir(&["-c"]);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
    assert!(f.stdout.contains("Configuration file is valid"));
}

#[test]
fn sf_signals_the_old_processes_and_reports_those_it_cannot() {
    let backend = common::backends::Backend::echo();
    let cfg = format!(
        "listen l\n    mode tcp\n    bind 127.0.0.1:{{P0}}\n    server s {}\n",
        backend.addr
    );
    // An old process of our own: `sleep` dies of the SIGUSR1 it gets.
    let mut old = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let pid = old.id().to_string();
    let w = Weir::start_with_args(&cfg, &["-d", "-sf", &pid, "999999"]);
    let status = (0..100)
        .find_map(|_| {
            let st = old.try_wait().expect("try_wait");
            if st.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            st
        })
        .unwrap_or_else(|| {
            let _ = old.kill();
            panic!("the old process was not signalled: {}", w.output())
        });
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(10), "killed by SIGUSR1");
    assert!(
        w.wait_output(
            "-sf: cannot signal old process 999999",
            std::time::Duration::from_secs(5)
        ),
        "output: {}",
        w.output()
    );
    assert!(
        w.output()
            .contains(&format!("-sf: sent SIGUSR1 to old process {pid}")),
        "output: {}",
        w.output()
    );
}

#[test]
fn the_packaged_default_configuration_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/weir.cfg");
    let f = run_weir(&["-c", "-f", path]);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
}

#[test]
fn check_prints_warnings_with_file_and_line_and_still_accepts() {
    // A frontend without `bind` is accepted with a warning, as HAProxy does.
    let cfg = format!(
        "{}\nfrontend lonely\n    default_backend be\n",
        VALID.replace("{P0}", "18080")
    );
    let (f, path, _dir) = check_config(&cfg);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
    let line = cfg.lines().position(|l| l == "frontend lonely").unwrap() + 1;
    let want = format!("{}:{line}:", path.display());
    assert!(
        f.stderr.contains("warning: ")
            && f.stderr.contains(&want)
            && f.stderr.contains("no 'bind'"),
        "want a warning naming {want}: {}",
        f.stderr
    );
    // -q hides warnings.
    let q = run_weir(&["-q", "-c", "-f", path.to_str().unwrap()]);
    assert_eq!(q.code(), Some(0));
    assert_eq!(q.stderr, "");
}

#[test]
fn tls_defaults_of_stock_configurations_load_with_a_warning() {
    // The global section of Debian's stock haproxy.cfg: its TLS defaults
    // apply only to `ssl` binds and servers, which weir has none of.
    let cfg = format!(
        "global\n    ca-base /etc/ssl/certs\n    crt-base /etc/ssl/private\n    \
         ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256\n    \
         ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256\n    \
         ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n    \
         tune.ssl.default-dh-param 2048\n{}",
        VALID.replace("{P0}", "18080").replacen("global\n", "", 1)
    );
    let (f, path, _dir) = check_config(&cfg);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
    for (line, kw) in [
        (2, "ca-base"),
        (6, "ssl-default-bind-options"),
        (7, "tune.ssl.default-dh-param"),
    ] {
        let want = format!("{}:{line}: [global] '{kw}' has no effect", path.display());
        assert!(f.stderr.contains(&want), "want {want}: {}", f.stderr);
    }
    // Their shape is still checked.
    let (f, path, _dir) = check_config("global\n    ssl-default-bind-options\n");
    assert_eq!(f.code(), Some(1));
    assert!(
        f.stderr.contains(&format!("{}:2:", path.display())),
        "{}",
        f.stderr
    );
    // And TLS itself is refused where it would matter.
    let (f, _, _dir) = check_config(&VALID.replace("{P0}", "18080 ssl crt /x.pem"));
    assert_eq!(f.code(), Some(1), "stderr: {}", f.stderr);
}

#[test]
fn accepted_lines_that_cannot_act_are_warned_about() {
    let cfg = VALID
        .replace("{P0}", "18080")
        .replace(
            "    default_backend be\n",
            "    http-request deny\n    default_backend be\n",
        )
        .replace("weight 2\n", "weight 2 check\n")
        .replace("127.0.0.1:18080\n", "127.0.0.1:18080 tfo\n")
        .replace(" backup\n", " backup minconn 2\n");
    let (f, path, _dir) = check_config(&cfg);
    assert_eq!(f.code(), Some(0), "stderr: {}", f.stderr);
    let line_of = |needle: &str| cfg.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (needle, what) in [
        (
            "http-request deny",
            "'http-request' rules ignored for frontend 'fe'",
        ),
        ("bind 127.0.0.1", "'bind' option(s) tfo have no effect"),
        ("server s2", "server 's2': option(s) minconn have no effect"),
    ] {
        let want = format!("{}:{}:", path.display(), line_of(needle));
        assert!(
            f.stderr
                .lines()
                .any(|l| l.contains(&want) && l.contains(what)),
            "want '{what}' at {want}: {}",
            f.stderr
        );
    }
    // Health checks run: `check` is not one of them.
    assert!(!f.stderr.contains("health check"), "{}", f.stderr);
}
