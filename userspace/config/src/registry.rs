//! The one place that lists what the parser knows: keyword tables, `option`
//! tables, extra section kinds, and the condition hook. Subsystems own their
//! tables in `src/kw/*.rs`; adding one is a line here.
//!
//! Planned additions (other issues): `kw::http` (the L7 rules:
//! `http-request`, … — remove those names from [`crate::kw::unsupported`]
//! when adding them; their `if`/`unless` conditions go through
//! [`CONDITION_CHECK`] like `use_backend`'s). `kw::acl` holds the `acl`
//! keyword; `kw::kernel` weir's own `xdp` section and its keywords.

use crate::error::SectionKind;
use crate::kw::{self, Ctx, Keyword, OptionKw};
use crate::types::Condition;

/// Every keyword table, searched in order.
pub static KEYWORD_TABLES: &[&[Keyword]] = &[
    kw::global::KEYWORDS,
    kw::log::KEYWORDS,
    kw::proxy::KEYWORDS,
    kw::bind::KEYWORDS,
    kw::server::KEYWORDS,
    kw::check::KEYWORDS,
    kw::acl::KEYWORDS,
    kw::http::KEYWORDS,
    kw::rules::KEYWORDS,
    kw::kernel::KEYWORDS,
];

/// Every `option` table, searched in order.
pub static OPTION_TABLES: &[&[OptionKw]] =
    &[kw::proxy::OPTIONS, kw::check::OPTIONS, kw::http::OPTIONS];

/// Section openers: the keyword starting a section and its kind.
///
/// To add a section kind of weir's own (the kernel issue's `xdp NAME`):
/// 1. add `SectionKind::Other("xdp")` here;
/// 2. give its keywords a table in `src/kw/kernel.rs` whose `sections` is
///    [`kw::Sections::EXT`] and list that table in [`KEYWORD_TABLES`];
/// 3. add the section's state to [`crate::parser::Current`] (a variant) and
///    its result to [`crate::Config`]; the driver's `open_section` /
///    `close_section` in `parser.rs` are the two places that create and
///    store it, and [`kw::Ctx`] is where keyword parsers reach it.
pub static SECTION_OPENERS: &[(&str, SectionKind)] = &[
    ("global", SectionKind::Global),
    ("defaults", SectionKind::Defaults),
    ("frontend", SectionKind::Frontend),
    ("backend", SectionKind::Backend),
    ("listen", SectionKind::Listen),
    ("xdp", SectionKind::Other("xdp")),
];

/// Validates a `use_backend … if|unless COND` condition by compiling it
/// with the ACL engine against the ACLs the section declared so far.
pub static CONDITION_CHECK: fn(&mut Ctx<'_, '_>, &Condition) -> Result<(), String> =
    kw::acl::check_condition;

/// Iterates over every keyword of every table.
pub fn all_keywords() -> impl Iterator<Item = &'static Keyword> {
    KEYWORD_TABLES.iter().flat_map(|t| t.iter())
}

/// The keyword `name` as allowed in a `kind` section, else any keyword of
/// that name (for the "not allowed here" message). A name may be in two
/// tables for disjoint sections: `server` in proxies and in `xdp`.
pub fn keyword(name: &str, kind: SectionKind) -> Option<&'static Keyword> {
    all_keywords()
        .find(|k| k.name == name && k.sections.contains(kind))
        .or_else(|| all_keywords().find(|k| k.name == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kw::unsupported;
    use std::collections::HashSet;

    /// Two tables claiming one keyword in one section kind would make the
    /// second unreachable: a name is owned by one table per section kind.
    #[test]
    fn keyword_names_are_unique() {
        let mut seen: Vec<&Keyword> = Vec::new();
        for k in all_keywords() {
            assert!(
                !seen
                    .iter()
                    .any(|o| o.name == k.name && o.sections.0 & k.sections.0 != 0),
                "keyword '{}' is in two tables for one section kind",
                k.name
            );
            seen.push(k);
            assert!(
                !k.doc.is_empty(),
                "keyword '{}' names no HAProxy doc section",
                k.name
            );
        }
        let mut seen = HashSet::new();
        for o in OPTION_TABLES.iter().flat_map(|t| t.iter()) {
            assert!(seen.insert(o.name), "option '{}' is in two tables", o.name);
            assert!(
                !o.doc.is_empty(),
                "option '{}' names no HAProxy doc section",
                o.name
            );
        }
    }

    /// A keyword that becomes supported must leave the "not supported yet"
    /// and "removed" lists, or messages would contradict each other.
    #[test]
    fn supported_names_are_not_listed_as_unsupported() {
        for k in all_keywords() {
            assert!(
                !unsupported::UNSUPPORTED.contains(&k.name)
                    && !unsupported::REMOVED.iter().any(|r| r.0 == k.name),
                "'{}' is supported and listed as unsupported or removed",
                k.name
            );
        }
        for o in OPTION_TABLES.iter().flat_map(|t| t.iter()) {
            assert!(
                !unsupported::UNSUPPORTED_OPTIONS.contains(&o.name),
                "'option {}' is supported and listed as unsupported",
                o.name
            );
        }
        for (name, _) in SECTION_OPENERS {
            assert!(!unsupported::UNSUPPORTED_SECTIONS.contains(name));
        }
    }
}
