//! hookd: the per-user daemon that answers Claude Code hook events.
//!
//! The code map with each module's invariants is docs/architecture.md. In short:
//!
//! - The daemon: [`daemon`] (boot, background chores, shutdown), [`state`] (what connection
//!   tasks share), [`lifecycle`] (private directories, pidfile, socket file), [`config`]
//!   (paths), [`watcher`] (hot reload), [`lastgood`] (the last rule set that loaded cleanly),
//!   [`alloc`] (giving memory back after large evictions).
//! - Requests: [`server`] (Unix socket and HTTP listeners, one task per connection) and
//!   [`handler`] (request → response: the hook path, admin queries, streams, upkeep),
//!   [`ingest`] (spooled events → store records).
//! - Settings, pure: [`settings`] (every key of hookd.toml but `[[rule]]`, typed and
//!   validated once; defaults in one place).
//! - Deciding, pure (no I/O, no async): [`decide`] (event + session + rules → decision),
//!   [`rules`], [`shell`], [`session`], [`event`], [`events`] (the event catalogue),
//!   [`render`] (decision → Claude Code output), [`project`] (project rule files), [`redact`],
//!   [`memo`], [`intern`], [`clock`], [`verdict`] (the words recorded about an event).
//! - Side effects of a verdict: [`store`] (SQLite group commit, journal, queries), [`run`]
//!   (the user's hook scripts), [`dedup`] (duplicate deliveries answered once), [`metrics`].

pub mod alloc;
pub mod allow;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod decide;
pub mod dedup;
pub mod envfile;
pub mod event;
pub mod events;
pub mod handler;
pub mod ingest;
pub mod intern;
pub mod lastgood;
pub mod lifecycle;
pub mod memo;
pub mod metrics;
pub mod project;
pub mod redact;
pub mod render;
pub mod rules;
pub mod run;
pub mod server;
pub mod session;
pub mod settings;
pub mod shell;
pub mod state;
pub mod store;
pub mod verdict;
pub mod watcher;

pub use config::Config;
pub use daemon::run;
pub use state::State;
