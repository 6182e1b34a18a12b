//! hookd: the per-user daemon that answers Claude Code hook events.
//!
//! What is decided lives in the engine crate (`hook-engine`, pure: no tokio, no SQLite, no
//! sockets); this crate is everything around it that waits, writes or listens. The code map
//! with each module's invariants is docs/architecture.md. In short:
//!
//! - The daemon: `daemon` (boot, background chores, shutdown), `state` (what connection
//!   tasks share), [`lifecycle`] (private directories, pidfile, socket file), `config`
//!   (paths), `watcher` (hot reload), [`alloc`] (giving memory back after large evictions).
//! - Requests: `server` (Unix socket and HTTP listeners, one task per connection), `ui`
//!   (the dashboard's listener, off by default) and
//!   `handler` (request → response: the hook path, admin queries, streams, upkeep),
//!   `ingest` (spooled events → store records).
//! - Side effects of a verdict: `store` (SQLite group commit, journal, queries), `run`
//!   (the user's hook scripts), `dedup` (duplicate deliveries answered once), `metrics`.

pub mod alloc;
mod allow;
mod config;
mod daemon;
mod dedup;
mod envfile;
mod fleet;
/// The PostgreSQL sink and the contract it implements: the test suite's surface (tests/ drives
/// the sink directly against a real server, and its benchmark too). Nothing else uses it:
/// `hookd sink-init` ([`sink_init`]) is inside the crate.
pub mod fleet_pg {
    pub use crate::fleet::postgres::{
        GRANTS_SQL, PgConfig, PgSink, SCHEMA_SQL, apply_sql, classify, grants_sql, schema_sql,
        url_user,
    };
    pub use crate::fleet::{Origin, OutEvent, Outcome};
}
mod handler;
mod ingest;
pub mod lifecycle;
mod metrics;
mod run;
mod server;
mod state;
mod store;
mod swap;
mod ui;
mod watcher;

// The engine's modules, under the crate root as before the split: `crate::rules`,
// `crate::session`… name the engine's.
pub(crate) use hook_engine::{
    clock, decide, event, events, lastgood, project, redact, render, rules, session, settings,
    verdict,
};

pub use config::Config;
pub use daemon::run;
pub use fleet::init as sink_init;
pub(crate) use state::State;
