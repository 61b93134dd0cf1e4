//! Runs the parser over the shared corpus of 50 real HAProxy configurations
//! (`../shared/compat/haproxy-configs`, beside the repository). Every file
//! must be either accepted or rejected with an error that starts with the
//! file's path and a line number — never a panic, never a location-less
//! error. Writes nothing.

use std::path::PathBuf;

/// Files accepted today; raise it when support grows so that regressions fail.
const ACCEPTED_FLOOR: usize = 0;

#[test]
fn corpus_is_accepted_or_rejected_with_location() {
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
    let started = std::time::Instant::now();
    let mut accepted = 0;
    for f in &files {
        // No environment: corpus files must not depend on the test machine.
        let r = weir_config::load_files_with_env(std::slice::from_ref(f), &|_| None);
        match r {
            Ok(_) => {
                accepted += 1;
                eprintln!("ACCEPT {}", f.display());
            }
            Err(e) => {
                let text = e.to_string();
                let prefix = format!("{}:", f.display());
                let rest = text
                    .strip_prefix(&prefix)
                    .unwrap_or_else(|| panic!("error does not start with the path: {text}"));
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                assert!(
                    digits > 0 && rest[digits..].starts_with(": "),
                    "no line number: {text}"
                );
                eprintln!("REJECT {text}");
            }
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "corpus: accepted {accepted} of {} in {elapsed:?}",
        files.len()
    );
    assert!(
        accepted >= ACCEPTED_FLOOR,
        "accepted {accepted}, floor {ACCEPTED_FLOOR}"
    );
}
