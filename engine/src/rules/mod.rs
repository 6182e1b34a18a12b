//! Rules: parse TOML, compile, evaluate an event into a [`Decision`].
//!
//! Pure: no I/O beyond reading the files handed to [`load`], no async, no store. The live
//! ruleset is an immutable [`Ruleset`], swapped whole on reload.
//!
//! Here: the module map and what the crate sees. The rule model is `action.rs` ([`Action`])
//! and `rule.rs` ([`Rule`]: matching one event, the why and reason texts); `ruleset.rs` compiles
//! rules into a [`Ruleset`] and evaluates an event against it; `decision.rs` is the
//! [`Decision`] that comes out. Loading is `parse.rs`, conditions `cond.rs`.

mod action;
mod cmdregex;
pub mod cond;
mod decision;
mod matcher;
pub mod outputs;
mod parse;
mod rule;
mod ruleset;
pub mod runspec;
pub mod state;

pub use action::Action;
pub(crate) use action::permission_rank;
pub use cmdregex::CommandRegex;
pub use cond::{Conditions, Ctx, Facts, OnUnparsed};
pub use decision::{Decision, EnvCall, Matched, RunCall};
pub use matcher::Matcher;
pub use parse::{
    LoadReport, PACKS, Source, foreign_writer, load, load_sources, parse_source, rule_definition,
};
pub use rule::{EventFilter, Rule};
pub use ruleset::Ruleset;
pub use runspec::{OnFailure, RunCommand, RunMode, RunSpec, StdoutUse};
pub(crate) use state::RateOf;
pub use state::{Check, Once, OnceMemory, SessionCond};

#[cfg(test)]
mod tests;
