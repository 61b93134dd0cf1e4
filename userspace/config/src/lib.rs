//! weir-config owns weir's configuration language: a large, honest subset of
//! HAProxy's dialect (sections `global`, `defaults`, `frontend`, `backend`,
//! `listen`) plus weir's own `xdp` section ([`kw::kernel`], model in
//! [`xdp`]), turned into the plain data model of [`types`]. Every accepted
//! keyword means what HAProxy documents; every other line is an error naming
//! `file:line`, the section and the reason — nothing is silently ignored.
//!
//! It must not: open sockets, start anything, or know how the data path uses
//! the values. It reads files only in [`load_files`] and for keywords that
//! name files (ACL `-f`, `errorfile`, `xdp` prefix lists), and resolves host
//! names only in [`resolve`], when the caller asks.
//!
//! Layout: [`lexer`] (quoting, escapes, environment), [`units`] (times,
//! sizes), [`kw`] (one keyword table per subsystem), [`registry`] (the list
//! of tables and extension points), [`parser`] (sections, defaults,
//! cross-references).
//!
//! Fidelity: where HAProxy's manual is vague, the behaviour follows what
//! `haproxy -c` 2.6.12 (Debian's package) actually does, and
//! `tests/haproxy_check.rs` runs both on the same configurations to keep it
//! so; it also lists the deliberate differences (weir refuses numbers
//! HAProxy reads as 0 with `atol()`, keywords in the wrong section that
//! HAProxy only warns about, an empty server address; weir accepts more than
//! 64 threads and size units in `tune.bufsize`). `tests/corpus.rs` checks 50
//! real configurations: each is accepted (only if HAProxy accepts it too) or
//! rejected with located, explained errors. Non-fatal findings (HAProxy's
//! warnings) are in [`Config::warnings`]; errors are all reported at once
//! ([`ConfigError::Multiple`]).
#![forbid(unsafe_code)]

pub mod error;
pub mod kw;
pub mod lexer;
pub mod parser;
pub mod registry;
pub mod resolve;
pub mod suggest;
pub mod types;
pub mod units;
pub mod xdp;

use std::path::Path;

pub use error::{ConfigError, SectionKind, SectionRef};
pub use types::*;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads and parses several configuration files, in order, as one stream of
/// sections (HAProxy's semantics for several `-f`; a section ends with its
/// file). Environment variables come from the process environment.
pub fn load_files(paths: &[impl AsRef<Path>]) -> Result<Config, ConfigError> {
    load_files_with_env(paths, &process_env)
}

/// [`load_files`] with an explicit environment lookup.
pub fn load_files_with_env(
    paths: &[impl AsRef<Path>],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    if paths.is_empty() {
        return Err(ConfigError::NoFile);
    }
    let mut p = parser::Parser::new(env);
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path.display().to_string();
        match utf8_or_error(&name, &bytes) {
            // Errors are collected by the parser and returned by `finish`.
            Ok(text) => drop(p.feed(&name, text)),
            Err(e) => p.push_error(e),
        }
    }
    p.finish()
}

/// Parses configuration text. `file_name` names it in error messages.
/// Environment variables come from the process environment.
pub fn parse_str(file_name: &str, text: &str) -> Result<Config, ConfigError> {
    parse_str_with_env(file_name, text, &process_env)
}

/// [`parse_str`] with an explicit environment lookup (tests use this instead
/// of changing the process environment).
pub fn parse_str_with_env(
    file_name: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut p = parser::Parser::new(env);
    // Errors are collected by the parser and returned by `finish`.
    drop(p.feed(file_name, text));
    p.finish()
}

/// The text of a file, or an error naming the first line that is not UTF-8.
fn utf8_or_error<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str, ConfigError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            + 1;
        ConfigError::At {
            loc: Loc {
                file: std::sync::Arc::from(name),
                line: line as u32,
            },
            section: None,
            msg: "invalid UTF-8 in line".into(),
        }
    })
}

#[cfg(test)]
mod tests;
