//! weir-config owns weir's configuration language: a large, honest subset of
//! HAProxy's dialect (sections `global`, `defaults`, `frontend`, `backend`,
//! `listen`) plus weir's own keywords, turned into the plain data model of
//! [`types`]. Every accepted keyword means what HAProxy documents; every
//! other line is an error naming `file:line`, the section and the reason —
//! nothing is silently ignored.
//!
//! It must not: open sockets, start anything, or know how the data path uses
//! the values. It reads files only in [`load_files`].
#![forbid(unsafe_code)]

pub mod error;
pub mod types;

pub use error::{ConfigError, SectionKind, SectionRef};
pub use types::*;
