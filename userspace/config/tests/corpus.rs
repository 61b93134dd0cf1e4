//! Runs the parser over the shared corpus of 50 real HAProxy configurations
//! (`../shared/compat/haproxy-configs`, beside the repository). Every file
//! must be either accepted or rejected with errors that start with the file's
//! path and a line number — never a panic, never a location-less error — and
//! every error must say why: not supported by weir yet, removed from
//! HAProxy, a truncated file, or one of the genuine mistakes listed below
//! (which HAProxy rejects too, or which come from unset environment
//! variables). Writes nothing.

use std::path::PathBuf;

/// Files accepted today; raise it when support grows so that regressions fail.
const ACCEPTED_FLOOR: usize = 2;

/// Genuine errors in the corpus: (file number, line, message fragment).
const GENUINE: &[(&str, u32, &str)] = &[
    // `maxconn "${HAPROXY_MAXCONN}"` with the variable unset.
    ("08", 6, "'maxconn' expects <number> as argument"),
    // `http-response set-header X-Server-CN "${HAPROXY_CONTINENT}"`, unset:
    // an empty last argument is an absent one (HAProxy refuses it too).
    ("08", 147, "expects <name> <value>"),
    // `server s1 ${WEBAPP_1_IP}:3000` with the variable unset.
    ("19", 110, "missing server address in ':3000'"),
    ("19", 111, "missing server address in ':3000'"),
    // `inter 1s[` (stray character at the end of the file).
    ("24", 62, "unexpected character '['"),
    // Three servers named 'nomad' in one backend (HAProxy 2.6 rejects it too).
    ("38", 89, "server 'nomad' is already defined"),
    ("38", 90, "server 'nomad' is already defined"),
    // `rise 1` as a backend keyword (HAProxy 2.6 rejects it too).
    ("44", 18, "it is a server option"),
];

/// Reasons that are not mistakes of the file but limits of weir (or of
/// HAProxy 2.x), or files the corpus does not ship.
const EXPLAINED: &[&str] = &[
    "not supported by weir yet",
    "ACLs not supported yet",
    "was removed in HAProxy",
    "missing LF on last line",
    // The ACL engine's wording (HAProxy's) for a fetch it does not know.
    "unknown fetch method",
    // The same for a converter (`digest`, `sha2`…).
    "unknown converter",
    // An ACL whose declaration failed above, used in a condition.
    "no such ACL",
    // Map and pattern files are not part of the corpus (HAProxy's check of
    // the files as they are fails the same way).
    "cannot read pattern file",
    // Files of `errorfile` / `http-request return … file` (kw/http.rs): not
    // shipped with the corpus either.
    "cannot read file",
];

#[test]
fn corpus_is_accepted_or_rejected_with_reasons() {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/haproxy-configs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIP: corpus folder {} is absent", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .cfg file in {}", dir.display());
    // What HAProxy 2.6.12 said of each file as it is (`haproxy -c`), from
    // the corpus' own results table: weir must never accept a file HAProxy
    // rejects.
    let verdicts =
        std::fs::read_to_string(dir.join("../haproxy-2.6-check-results.tsv")).unwrap_or_default();
    let haproxy_valid = |nn: &str| {
        verdicts
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .any(|c| c.first() == Some(&nn) && c.get(2).is_some_and(|v| v.starts_with("valid")))
    };
    let started = std::time::Instant::now();
    let mut accepted = 0;
    let mut errors = 0;
    for f in &files {
        let nn: String = f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .take(2)
            .collect();
        // No environment: corpus files must not depend on the test machine.
        let r = weir_config::load_files_with_env(std::slice::from_ref(f), &|_| None);
        let Err(e) = r else {
            if !verdicts.is_empty() {
                assert!(
                    haproxy_valid(&nn),
                    "{} is accepted by weir but not by HAProxy 2.6",
                    f.display()
                );
            }
            accepted += 1;
            eprintln!("ACCEPT {}", f.display());
            continue;
        };
        for one in e.errors() {
            errors += 1;
            let text = one.to_string();
            let prefix = format!("{}:", f.display());
            let rest = text
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("error does not start with the path: {text}"));
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            assert!(
                digits > 0 && rest[digits..].starts_with(": "),
                "no line number: {text}"
            );
            let line: u32 = rest[..digits].parse().unwrap();
            let explained = EXPLAINED.iter().any(|x| text.contains(x))
                || GENUINE
                    .iter()
                    .any(|(n, l, frag)| *n == nn && *l == line && text.contains(frag));
            assert!(explained, "error without a known reason: {text}");
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "corpus: accepted {accepted} of {} ({errors} errors in the others) in {elapsed:?}",
        files.len()
    );
    assert!(
        accepted >= ACCEPTED_FLOOR,
        "accepted {accepted}, floor {ACCEPTED_FLOOR}"
    );
}
