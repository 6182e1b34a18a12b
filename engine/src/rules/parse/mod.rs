//! Rule files: TOML → compiled [`Rule`](super::Rule)s, with precise errors (`file:line:column: what`).
//!
//! Sources, in priority order: the built-in packs enabled in `hookd.toml` (embedded at build
//! time), `hookd.toml`'s own `[[rule]]` tables, then `rules.d/*.toml` in name order. The other
//! keys of `hookd.toml` are settings: [`crate::settings`] reads them from the same parsed
//! document.
//!
//! Here: the module map. `syntax.rs` reads one file (TOML, `[[rule]]` tables one at a time,
//! precise positions); `compile.rs` holds a `[[rule]]` table as written and compiles it into
//! a [`Rule`](super::Rule); `globs.rs` compiles `path` lists, shared within one load;
//! `load.rs` gathers the sources (packs, hookd.toml, rules.d, their owners' trust) and
//! compiles them into one ruleset.

mod compile;
mod globs;
mod load;
mod syntax;

pub use load::{LoadReport, PACKS, Source, foreign_writer, load, load_sources};
pub use syntax::{parse_source, rule_definition};
