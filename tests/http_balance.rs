//! `mode http` hash balancing (`balance uri`, `url_param`, `hdr(name)`,
//! `hash EXPR`)
//! through the real `weir` binary: the server chosen for a key is HAProxy
//! 2.6's (golden table), the same key always reaches the same server,
//! different keys spread, a missing key falls back to round robin, each
//! request of a keep-alive connection is balanced on its own key, and with
//! `hash-type consistent` removing one of N servers moves about 1/N of the
//! keys (only those of the removed server).

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::{HashMap, HashSet};

use common::Weir;
use http::{named, Client, HTTP_DEFAULTS};

/// The origin servers: `s0`…`s{n-1}`, each answering its own name.
fn origins(n: usize) -> Vec<common::backends::Backend> {
    const NAMES: [&str; 6] = ["s0", "s1", "s2", "s3", "s4", "s5"];
    NAMES[..n].iter().map(|id| named(id).0).collect()
}

/// `backend NAME` with `balance`/`hash-type` lines and one server per origin
/// (weights from `weights`, 1 when absent).
fn backend(name: &str, lines: &str, srv: &[common::backends::Backend], weights: &[u32]) -> String {
    let mut s = format!("\nbackend {name}\n    {lines}\n");
    for (i, b) in srv.iter().enumerate() {
        let w = weights.get(i).copied().unwrap_or(1);
        s.push_str(&format!("    server s{i} {} weight {w}\n", b.addr));
    }
    s
}

/// The server that answered `req` on a new connection to frontend 0.
fn who(w: &Weir, req: &str) -> String {
    let mut c = Client::new(w.connect(0));
    who_on(&mut c, req)
}

/// The server that answered `req` on connection `c`.
fn who_on(c: &mut Client, req: &str) -> String {
    let r = c.ask(req.as_bytes());
    assert_eq!(r.status, 200, "{req:?}: {}", r.head);
    let body = String::from_utf8_lossy(&r.body).into_owned();
    body.split(' ').next().unwrap_or_default().to_owned()
}

/// `GET path` with extra header lines.
fn req(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n")
}

/// The requests of one golden case (key `i` of 24) for backend `case`.
fn golden_req(case: char, i: usize) -> String {
    let sel = format!("X-Case: {case}\r\n");
    match case {
        'a' => req(&format!("/k{i}/x?q={i}"), &sel),
        'b' => req(&format!("/item/{i}"), &sel),
        'c' => req(&format!("/p?x=1&id=user{i}"), &sel),
        'd' => req("/", &format!("{sel}X-User: u{i}\r\n")),
        'e' => format!("GET / HTTP/1.1\r\nHost: www.site{i}.com\r\n{sel}\r\n"),
        'f' if i % 2 == 1 => req(&format!("/a/b{i}?v={i}"), &sel),
        'f' => req(&format!("/a/b/c{i}"), &sel),
        'g' => req(&format!("/ab{i}/cd"), &sel),
        'h' => req("/", &format!("{sel}X-K: User{i}\r\n")),
        'i' => req(&format!("/p{i}/q?z={i}"), &sel),
        'j' => req("/", &format!("{sel}{}", "X-N: a\r\n".repeat(i % 12))),
        _ => unreachable!(),
    }
}

/// Server indexes HAProxy 2.6.12 chose for keys 0..24 of each case, with
/// four servers s0..s3 (s1 of weight 2 in case `a`). Obtained by running
/// `/usr/sbin/haproxy` once on the equivalent configuration (servers were
/// `http-request return` listeners naming themselves) and asking each key
/// twice on new connections.
const GOLDEN: [(char, &str, &str); 10] = [
    ('a', "balance uri", "111111111122222222221111"),
    (
        'b',
        "balance uri\n    hash-type consistent",
        "200222313233003330001122",
    ),
    (
        'c',
        "balance url_param id\n    hash-type map-based djb2",
        "012301230112301230122301",
    ),
    (
        'd',
        "balance hdr(X-User)\n    hash-type consistent wt6",
        "222211122222233333322223",
    ),
    (
        'e',
        "balance hdr(Host) use_domain_only\n    hash-type map-based crc32 avalanche",
        "112212201010202032023031",
    ),
    (
        'f',
        "balance uri whole depth 2\n    hash-type consistent sdbm avalanche",
        "131011121010101113131313",
    ),
    ('g', "balance uri len 5", "321032103230123012302301"),
    (
        'h',
        "balance hash req.hdr(x-k),lower\n    hash-type consistent",
        "311233201022232321033221",
    ),
    ('i', "balance hash path", "123012301223012301231230"),
    // An integer sample hashes as 8 bytes, big endian (a count of 10
    // gives server 3 here; its decimal text would give 2).
    (
        'j',
        "balance hash req.hdr_cnt(x-n)\n    hash-type map-based djb2",
        "123012301230123012301230",
    ),
];

fn golden_config(srv: &[common::backends::Backend]) -> String {
    let mut s = format!("{HTTP_DEFAULTS}\nfrontend web\n    bind 127.0.0.1:{{P0}}\n");
    for (case, _, _) in GOLDEN {
        s.push_str(&format!(
            "    use_backend {case} if {{ req.hdr(x-case) -m str {case} }}\n"
        ));
    }
    for (case, lines, _) in GOLDEN {
        let weights: &[u32] = if case == 'a' { &[1, 2, 1, 1] } else { &[] };
        s.push_str(&backend(&case.to_string(), lines, srv, weights));
    }
    s
}

#[test]
fn server_choice_matches_haproxy() {
    let srv = origins(4);
    let w = Weir::start(&golden_config(&srv));
    for (case, lines, want) in GOLDEN {
        let got: String = (0..24)
            .map(|i| {
                who(&w, &golden_req(case, i))
                    .trim_start_matches('s')
                    .to_owned()
            })
            .collect();
        assert_eq!(got, want, "case {case} ({lines})");
    }
}

#[test]
fn keep_alive_requests_are_balanced_one_by_one() {
    let srv = origins(4);
    let w = Weir::start(&golden_config(&srv));
    // Every key of case `b` on one connection, twice: each request goes to
    // its key's server, not to the server the connection used last.
    let want = GOLDEN[1].2;
    let mut c = Client::new(w.connect(0));
    for _ in 0..2 {
        let got: String = (0..24)
            .map(|i| {
                who_on(&mut c, &golden_req('b', i))
                    .trim_start_matches('s')
                    .to_owned()
            })
            .collect();
        assert_eq!(got, want);
    }
}

fn single(lines: &str, srv: &[common::backends::Backend]) -> String {
    format!(
        "{HTTP_DEFAULTS}\nfrontend web\n    bind 127.0.0.1:{{P0}}\n    default_backend b\n{}",
        backend("b", lines, srv, &[])
    )
}

#[test]
fn same_key_same_server_and_keys_spread() {
    let srv = origins(3);
    for (lines, keyed) in [
        (
            "balance url_param id",
            (|k: usize| req(&format!("/x?a=1&id=user{k}"), "")) as fn(usize) -> String,
        ),
        ("balance uri", |k| req(&format!("/obj/{k}?t=1"), "")),
        ("balance hdr(X-Tenant)\n    hash-type consistent", |k| {
            req("/", &format!("X-Tenant: tenant-{k}\r\n"))
        }),
    ] {
        let w = Weir::start(&single(lines, &srv));
        for k in [3, 17] {
            let first = who(&w, &keyed(k));
            for _ in 0..20 {
                assert_eq!(who(&w, &keyed(k)), first, "{lines}: key {k}");
            }
        }
        let mut per: HashMap<String, usize> = HashMap::new();
        for k in 0..60 {
            *per.entry(who(&w, &keyed(k))).or_default() += 1;
        }
        assert_eq!(per.len(), 3, "{lines}: 60 keys over 3 servers: {per:?}");
        assert!(per.values().all(|&n| n >= 5), "{lines}: {per:?}");
    }
}

#[test]
fn absent_key_falls_back_to_round_robin() {
    let srv = origins(3);
    for (lines, absent) in [
        ("balance url_param id", req("/x?other=1", "")),
        ("balance url_param id", req("/x", "")),
        ("balance hdr(X-Tenant)", req("/y", "")),
        ("balance hash req.hdr(x-k),lower", req("/y", "")),
        (
            "balance hdr(X-Tenant)\n    hash-type consistent",
            req("/y", "X-Tenant:\r\n"),
        ),
    ] {
        let w = Weir::start(&single(lines, &srv));
        let mut per: HashMap<String, usize> = HashMap::new();
        for _ in 0..9 {
            *per.entry(who(&w, &absent)).or_default() += 1;
        }
        let counts: HashSet<usize> = per.values().copied().collect();
        assert!(
            per.len() == 3 && counts == HashSet::from([3]),
            "{lines}, {absent:?}: {per:?}"
        );
    }
}

/// Key → server for keys 0..n of `balance url_param id` with `hash_type`.
fn mapping(hash_type: &str, srv: &[common::backends::Backend], n: usize) -> Vec<String> {
    let w = Weir::start(&single(
        &format!("balance url_param id\n    hash-type {hash_type}"),
        srv,
    ));
    (0..n)
        .map(|k| who(&w, &req(&format!("/?id=key{k}"), "")))
        .collect()
}

#[test]
fn consistent_hashing_moves_only_the_removed_servers_keys() {
    const N: usize = 200;
    let srv = origins(5);
    let before = mapping("consistent", &srv, N);
    // Restart without s4 (the other servers keep their ids 1..4).
    let after = mapping("consistent", &srv[..4], N);
    let mut moved = 0;
    for (b, a) in before.iter().zip(&after) {
        if b != a {
            assert_eq!(b, "s4", "a key of {b} moved to {a}");
            moved += 1;
        }
    }
    // s4 held about 1/5 of the keys.
    assert!(
        (N / 10..=N * 3 / 10).contains(&moved),
        "moved {moved} of {N}"
    );
    // map-based remaps most keys on the same change.
    let before = mapping("map-based", &srv, N);
    let after = mapping("map-based", &srv[..4], N);
    let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    assert!(moved > N / 2, "map-based moved only {moved} of {N}");
}
