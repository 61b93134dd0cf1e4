//! The crate's error type. Its `Display` is HAProxy-like:
//! `FILE:LINE: [section 'name'] message`, so `weir -c` output reads like
//! `haproxy -c` output.

use std::fmt;
use std::path::PathBuf;

use crate::types::Loc;

/// Kind of configuration section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// `global`.
    Global,
    /// `defaults [NAME]`.
    Defaults,
    /// `frontend NAME`.
    Frontend,
    /// `backend NAME`.
    Backend,
    /// `listen NAME`.
    Listen,
    /// A section kind registered by an extension (see [`crate::registry`]),
    /// named by its keyword.
    Other(&'static str),
}

impl SectionKind {
    /// The keyword that opens such a section.
    pub fn keyword(self) -> &'static str {
        match self {
            SectionKind::Global => "global",
            SectionKind::Defaults => "defaults",
            SectionKind::Frontend => "frontend",
            SectionKind::Backend => "backend",
            SectionKind::Listen => "listen",
            SectionKind::Other(k) => k,
        }
    }
}

/// Which section an error is in: kind and name (`None` for `global` and
/// anonymous `defaults`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRef {
    /// Section kind.
    pub kind: SectionKind,
    /// Section name.
    pub name: Option<String>,
}

impl fmt::Display for SectionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "[{} '{}']", self.kind.keyword(), n),
            None => write!(f, "[{}]", self.kind.keyword()),
        }
    }
}

/// Everything that can go wrong while loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A problem at a given place of a configuration file.
    #[error("{loc}: {}{msg}", section_prefix(.section))]
    At {
        /// Where.
        loc: Loc,
        /// In which section (`None` outside any section).
        section: Option<SectionRef>,
        /// What is wrong, in words.
        msg: String,
    },
    /// A file could not be read.
    #[error("{}: cannot read configuration file: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No configuration file was given.
    #[error("no configuration file given")]
    NoFile,
    /// Several problems (each `At`), in file order; displayed one per line.
    #[error("{}", display_list(.0))]
    Multiple(Vec<ConfigError>),
}

fn display_list(v: &[ConfigError]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn section_prefix(s: &Option<SectionRef>) -> String {
    match s {
        Some(s) => format!("{s} "),
        None => String::new(),
    }
}

impl ConfigError {
    /// `Ok` for no error, the error itself for one, `Multiple` for more.
    pub fn from_list(mut v: Vec<ConfigError>) -> Result<(), ConfigError> {
        match v.len() {
            0 => Ok(()),
            1 => Err(v.remove(0)),
            _ => Err(ConfigError::Multiple(v)),
        }
    }

    /// A copy (`std::io::Error` is not `Clone`: its kind and text are kept).
    pub fn duplicate(&self) -> ConfigError {
        match self {
            ConfigError::At { loc, section, msg } => ConfigError::At {
                loc: loc.clone(),
                section: section.clone(),
                msg: msg.clone(),
            },
            ConfigError::Io { path, source } => ConfigError::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            ConfigError::NoFile => ConfigError::NoFile,
            ConfigError::Multiple(v) => {
                ConfigError::Multiple(v.iter().map(ConfigError::duplicate).collect())
            }
        }
    }

    /// The individual errors (one, or each of `Multiple`).
    pub fn errors(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Multiple(v) => v.iter().collect(),
            other => vec![other],
        }
    }

    /// The location of the (first) error, if it has one.
    pub fn loc(&self) -> Option<&Loc> {
        match self {
            ConfigError::At { loc, .. } => Some(loc),
            ConfigError::Multiple(v) => v.first().and_then(ConfigError::loc),
            _ => None,
        }
    }

    /// The message without location and section.
    pub fn message(&self) -> String {
        match self {
            ConfigError::At { msg, .. } => msg.clone(),
            other => other.to_string(),
        }
    }
}
