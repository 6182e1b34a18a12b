//! hook-engine: what hookd decides, without doing any of hookd's I/O.
//!
//! No tokio, no SQLite, no sockets, no libc: the daemon (`hookd`) wraps this crate in its
//! server, store and scripts, and hookctl uses it directly (`check`, `rules`, `explain`,
//! `trust`, `doctor`). The code map with each module's invariants is docs/architecture.md. In
//! short:
//!
//! - Events: [`events`] (the catalogue: every event Claude Code sends, what it may carry and how
//!   its answer is rendered), [`event`] (one event's JSON, parsed once into a borrowed tree).
//! - Settings and rules: [`settings`] (every key of hookd.toml but `[[rule]]`, typed and
//!   validated once), [`rules`] (rule files → a compiled [`rules::Ruleset`]; evaluation),
//!   [`project`] (project rule files and their trust), [`lastgood`] (the last rule set that
//!   loaded cleanly).
//! - Deciding: [`decide`] (event + session + rules → decision), [`shell`] (the shell command
//!   analyser), [`session`] (what hookd remembers per Claude Code session), [`render`]
//!   (decision → Claude Code's output), [`verdict`] (the words recorded about an event).
//! - Helpers: [`redact`] (secrets out of what is stored), `paths` (lexical path arithmetic),
//!   `memo`, `intern`, [`clock`].

pub mod clock;
pub mod decide;
pub mod event;
pub mod events;
pub(crate) mod intern;
pub mod lastgood;
pub(crate) mod memo;
pub(crate) mod paths;
pub mod project;
pub mod redact;
pub mod render;
pub mod rules;
pub mod session;
pub mod settings;
pub mod shell;
pub mod verdict;
