//! The store's one error type. Each variant carries what the user needs to act on it: the
//! file, the operation and SQLite's or the system's own error.
//!
//! Must not be turned into a string inside the store (callers print it with `Display`, which
//! is what `hookctl status` and the logs show); `last_error` and the other texts in
//! [`super::StoreStats`] are status lines, not errors.

use std::path::PathBuf;
use std::sync::Arc;

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed on the database at `path` (opening, migrating, a query).
    #[error("store {}: {source}", .path.display())]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A write transaction (a commit) failed; the text is SQLite's, as `status` shows it.
    #[error(transparent)]
    Write(rusqlite::Error),
    /// Creating the directory failed.
    #[error("creating store directory {}", .path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite could only open the database read-only (read-only file system, permissions).
    #[error("store {}: the database can only be opened read-only (read-only file system or permissions)", .path.display())]
    ReadOnly {
        /// The database path.
        path: PathBuf,
    },
    /// The database is corrupt and could not be moved aside to start a new one.
    #[error("{corrupt} (moving {} aside failed: {source})", .path.display())]
    Quarantine {
        /// The database path.
        path: PathBuf,
        /// What SQLite said about the file.
        corrupt: rusqlite::Error,
        /// Why the rename failed.
        #[source]
        source: std::io::Error,
    },
    /// The database file was deleted or replaced while hookd ran, and a new one cannot be
    /// created at the path.
    #[error("{} was {what} and cannot be re-created: {source}", .path.display())]
    Vanished {
        /// The database path.
        path: PathBuf,
        /// `deleted` or `replaced by another file`.
        what: &'static str,
        /// Why the new one cannot be opened.
        #[source]
        source: Box<StoreError>,
    },
    /// Reading the emergency journal, or starting it over, failed.
    #[error("{action} the emergency journal {}: {source}", .path.display())]
    Journal {
        /// What was being done (`reading`, `starting over`).
        action: &'static str,
        /// The journal's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A commit failed and the events are not durable: not journaled either (`journal` says
    /// why), or spooled events, which are never journaled (the spool keeps them). The callers
    /// must not claim durability: hook events are answered by their fail mode.
    #[error("store write failed: {cause}{}", .journal.as_ref().map(|j| format!("; {j}")).unwrap_or_default())]
    NotDurable {
        /// Why the commit failed (shared by every caller of the failed group).
        #[source]
        cause: Arc<StoreError>,
        /// Why the emergency journal could not take the events, when it was tried.
        journal: Option<String>,
    },
    /// The background thread could not be started.
    #[error("starting the store's background thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The store was closed.
    #[error("store closed")]
    Stopped,
}
