//! Expansion of `-f` arguments into the list of configuration files.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Turns `-f` arguments into files, in order: a file stays as given; a
/// directory becomes its non-hidden regular `*.cfg` files sorted by byte
/// value of their names (HAProxy sorts with `LC_COLLATE=C`, which is the same).
///
/// Errors name the path that could not be read.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot open configuration '{}'", path.display()))?;
        if meta.is_dir() {
            files.extend(cfg_files_of(path)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn cfg_files_of(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read configuration directory '{}'", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read directory '{}'", dir.display()))?;
        let name = entry.file_name();
        let bytes = name.as_encoded_bytes();
        if bytes.starts_with(b".") || !bytes.ends_with(b".cfg") {
            continue;
        }
        // Follow symlinks, as HAProxy's stat() does: a link to a file counts.
        let path = entry.path();
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            names.push(path);
        }
    }
    names.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_gives_its_cfg_files_in_lexical_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.cfg",
            "a.cfg",
            "10-x.cfg",
            ".hidden.cfg",
            "notes.txt",
            "B.cfg",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.cfg")).unwrap();
        let single = dir.path().join("notes.txt");
        let got = expand(&[single.clone(), dir.path().to_path_buf()]).unwrap();
        let names: Vec<String> = got
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["notes.txt", "10-x.cfg", "B.cfg", "a.cfg", "b.cfg"]);
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = expand(&[PathBuf::from("/nonexistent/weir.cfg")]).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/weir.cfg"));
    }
}
