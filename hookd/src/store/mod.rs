//! The SQLite store: the handle ([`Store`]), what it records ([`EventRecord`]), its counters
//! ([`StoreStats`]), opening it and the blocking policy. Its jobs live in the modules below;
//! this one only wires them.
//!
//! Events are queued, and whoever finds the write connection free commits everything queued so
//! far in one transaction (`commit`: group commit without a writer thread). A caller is told
//! its event is committed before hookd replies to the client, so an event whose verdict was
//! delivered survives `kill -9` (WAL, `synchronous=NORMAL`; `full` also survives power loss).
//! When a commit fails, the events go to the emergency journal ([`journal`]) and are moved into
//! the store once it can be written again; a database file deleted, replaced or corrupt is
//! followed or moved aside (`recover`). Checkpoints and retention run on a background thread
//! (`chores`, `retention`). Spooled copies of committed events are recognised by their
//! delivery id (`insert`). Queries (`query`, [`runs`]) run on a few kept read-only
//! connections (`read`); the schema and its migrations are in `schema`; errors are one
//! type, [`StoreError`].
//!
//! The store does not see hook requests or spool records (ingestion, `crate::ingest`, turns
//! those into [`EventRecord`]s), rules, sessions in memory or sockets. Its query API answers in
//! the protocol's row types (`EventQuery`, `EventRow`, `SessionRow`, `RunQuery`, `RunRow`),
//! which `hookctl` receives as they are.
//!
//! # Blocking policy
//!
//! SQLite calls block the calling thread (file I/O, fsync, `busy_timeout` waits of up to 5 s).
//! Which [`Store`] methods may run where:
//!
//! - **On an async worker, by design**: the group-commit path, [`Store::record_many`] and
//!   [`Store::record_runs`]. An uncontended commit runs on the task
//!   that evaluated the event (tens of µs without fsync: cheaper than handing it to another
//!   thread), and a busy write connection is never waited for (`try_lock`: its holder commits
//!   the queued events). Also [`Store::expect`], [`Store::stats`], [`Store::path`] and
//!   [`Store::size_bytes`] (three `stat` calls), which do no SQLite I/O.
//! - **Off the async workers** (`tokio::task::spawn_blocking`, a plain thread, or before the
//!   runtime serves): everything else. The queries ([`Store::query_events`],
//!   [`Store::for_each_event`], [`Store::session_rows`], [`Store::projects_matched_since`],
//!   [`Store::sessions`], [`Store::active_sessions`], [`Store::sessions_by_prefix`],
//!   [`Store::query_runs`], [`Store::drop_recorded`]), the waits ([`Store::record_blocking`],
//!   [`Store::move_journal_blocking`]), [`Store::open_with`] and [`Store::close`], and the
//!   tests' helpers (`open`, `record`, `count_spool_id`, `maintain_blocking`).
//!
//! Enforced by `assert_may_block`, which every method of the second kind except `open` and
//! `close` calls first (the queries through `read::Readers::get`): in debug builds, the whole
//! test suite, it panics on a thread that drives async tasks. `open` runs at start-up, before
//! anything is served, and `close` is also called by `Drop`, wherever the last handle goes;
//! the daemon closes the store on a blocking thread first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use hook_protocol::failmode::FailMode;
use rusqlite::Connection;

pub mod allow;
mod chores;
mod commit;
pub mod dash;
mod error;
mod insert;
pub mod journal;
pub mod outbox;
mod query;
mod read;
mod recover;
mod retention;
pub mod runs;
mod schema;
#[cfg(test)]
pub(crate) mod testutil;

pub use error::StoreError;
pub use query::IdRange;
pub use retention::Retention;
pub use runs::RunRecord;

use chores::{Chore, spawn_chores};
use commit::{Queue, Shared, Writer};
use read::Readers;
use recover::{file_id, is_corrupt, quarantine, quarantine_note};
use schema::{configure_writer, open_connection};

/// One event to record.
#[derive(Debug, Clone, Default)]
pub struct EventRecord {
    /// When hookd received it.
    pub time_ms: i64,
    /// The session id.
    pub session_id: Option<String>,
    /// The event name.
    pub event: String,
    /// The tool name.
    pub tool: Option<String>,
    /// The project directory.
    pub project_dir: Option<String>,
    /// Raw payload bytes.
    pub payload: Vec<u8>,
    /// The verdict.
    pub verdict: crate::verdict::Verdict,
    /// The reason given.
    pub reason: Option<String>,
    /// Matched rule names.
    pub rules: Vec<String>,
    /// Processing time in µs.
    pub latency_us: i64,
    /// Where it came from.
    pub source: crate::verdict::Source,
    /// The spool record's (or emergency journal record's) id, for exactly-once ingestion.
    pub spool_id: Option<String>,
    /// A short summary (command, path, prompt excerpt), already redacted.
    pub summary: Option<String>,
    /// Kinds redacted from the payload.
    pub redacted: Vec<String>,
    /// Whether to write the session's row (first sight, start/end, or every few seconds).
    pub touch_session: bool,
    /// The delivery's identity (hook-client's invocation id), when the sender gave one.
    pub client_id: Option<String>,
    /// How the event is answered if it cannot be recorded durably (its fail mode); `None` for
    /// events recorded after the fact (spool, journal).
    pub fail_mode: Option<FailMode>,
    /// For a spooled event: the store's last row id when [`Store::drop_recorded`] looked its
    /// client id up; the commit then checks only the rows after it.
    pub checked_through: Option<i64>,
}

/// Where a recorded event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Committed to the store.
    Committed,
    /// The commit failed; the event is in the emergency journal and will be moved into the
    /// store once it can be written.
    Journaled,
}

/// Counters the writer keeps for `status`.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Rows in `events`.
    pub events_total: AtomicU64,
    /// Rows whose verdict is a client fallback.
    pub fallbacks: AtomicU64,
    /// The last write error, cleared by the next successful commit.
    pub last_error: Mutex<Option<String>>,
    /// The last incident the store recovered from (database deleted, replaced or corrupt),
    /// kept until hookd restarts so `stats` and `doctor` can say what happened.
    pub incident: Mutex<Option<String>>,
    /// Events waiting in memory because neither the store nor the emergency journal could
    /// take them.
    pub pending: AtomicU64,
    /// Spooled copies of events already in the store, dropped (since start).
    pub duplicates_dropped: AtomicU64,
    /// Events their callers answered by the fail mode because nothing could record them
    /// durably (since start).
    pub not_durable: AtomicU64,
    /// Events waiting in the emergency journal.
    pub journal_events: AtomicU64,
    /// Bytes set aside for the emergency journal (0: none).
    pub journal_reserved: AtomicU64,
    /// Why an answered event may not survive a crash now, if so.
    pub durability: Mutex<Option<String>>,
    /// The newest event id committed to the file open now (the forwarder's lag).
    pub last_id: std::sync::atomic::AtomicI64,
    /// The store id of the file open now (empty before one is open): `last_id` is in it.
    pub store_id: Mutex<String>,
}

impl StoreStats {
    fn set_incident(&self, text: String) {
        tracing::error!(incident = %text, "store incident");
        if let Ok(mut i) = self.incident.lock() {
            *i = Some(text);
        }
    }
}

/// Handle to the store.
pub struct Store {
    shared: Arc<Shared>,
    path: PathBuf,
    stats: Arc<StoreStats>,
    /// Background chores (checkpoints, retention); told to stop by dropping the sender.
    chores: Mutex<Option<(mpsc::Sender<Chore>, JoinHandle<()>)>>,
    /// The read-only connections queries use.
    readers: Arc<Readers>,
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// [`Store::open_with`] with the default journal reserve and retention (the tests'
    /// shorthand).
    ///
    /// # Errors
    ///
    /// As [`Store::open_with`].
    #[cfg(test)]
    pub fn open(
        path: &Path,
        journal_path: &Path,
        synchronous_full: bool,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Result<Self, StoreError> {
        Self::open_with(
            path,
            journal_path,
            journal::DEFAULT_RESERVE,
            synchronous_full,
            metrics,
            Retention::default(),
        )
    }

    /// Opens (or creates) the store at `path` and starts its background thread, with the
    /// emergency journal at `journal_path` (`journal_reserve` bytes set aside) and a retention
    /// policy. Events left in the journal by an earlier run are moved into the store first.
    ///
    /// # Errors
    ///
    /// Only when the background thread cannot start (or SQLite cannot even open an in-memory
    /// stand-in): a database that cannot be opened (read-only or full file system,
    /// permissions) does not fail `open_with` (events are answered and journaled until it
    /// opens, and `status` says why), and a corrupt one is moved aside and a new one started.
    pub fn open_with(
        path: &Path,
        journal_path: &Path,
        journal_reserve: u64,
        synchronous_full: bool,
        metrics: Option<Arc<crate::metrics::Metrics>>,
        retention: Retention,
    ) -> Result<Self, StoreError> {
        let stats = Arc::new(StoreStats::default());
        let open_counted = || -> Result<(Connection, u64, u64), StoreError> {
            let conn = open_connection(path, synchronous_full)?;
            let (total, fallbacks) = conn
                .query_row(
                    &format!(
                        "SELECT count(*), count(*) FILTER (WHERE {}) FROM events",
                        crate::verdict::Verdict::FALLBACK_SQL
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(sqlite(path))?;
            Ok((conn, total, fallbacks))
        };
        // A corrupt database must not keep hookd from starting (every hook would fall back):
        // it is moved aside, kept for recovery, and a new one is started.
        let opened = match open_counted() {
            Err(StoreError::Sqlite { source, .. }) if is_corrupt(&source) => {
                match quarantine(path) {
                    Ok(aside) => {
                        stats.set_incident(quarantine_note(path, &aside, &source));
                        open_counted()
                    }
                    Err(e) => Err(StoreError::Quarantine {
                        path: path.to_path_buf(),
                        corrupt: source,
                        source: e,
                    }),
                }
            }
            other => other,
        };
        // A store that cannot be opened (read-only or full file system, permissions) must not
        // keep hookd from answering either: it starts without one, events go to the emergency
        // journal, `status` says why, and every commit tries to open it again.
        let (conn, file) = match opened {
            Ok((conn, total, fallbacks)) => {
                stats.events_total.store(total, Ordering::Relaxed);
                outbox::publish_file(&stats, &conn);
                stats.fallbacks.store(fallbacks, Ordering::Relaxed);
                (conn, file_id(path))
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot open the store; answering anyway and journaling events until it opens");
                if let Ok(mut le) = stats.last_error.lock() {
                    *le = Some(format!("cannot open the store: {e}"));
                }
                // A stand-in nothing is written to: `follow_file` sees no file and reopens.
                let conn = Connection::open_in_memory().map_err(sqlite(path))?;
                (conn, None)
            }
        };
        configure_writer(&conn).map_err(sqlite(path))?;
        let (journal, journal_error) =
            match journal::Journal::open(journal_path, journal_reserve, synchronous_full) {
                Ok(j) => (Some(j), None),
                Err(e) => {
                    let text = format!(
                        "cannot open the emergency journal {}: {e}",
                        journal_path.display()
                    );
                    tracing::error!(error = %text, "no emergency journal");
                    (None, Some(text))
                }
            };
        let readers = Arc::new(Readers::new(path.to_path_buf()));
        let mut writer = Writer {
            conn,
            file,
            stale: false,
            path: path.to_path_buf(),
            synchronous_full,
            pending: Vec::new(),
            stats: Arc::clone(&stats),
            metrics,
            retention,
            journal,
            journal_error,
            ingested: HashMap::new(),
            undurable: None,
            readers: Arc::clone(&readers),
            sinks: Vec::new(),
            wake: Vec::new(),
        };
        // Events answered before a crash while the store could not take them.
        while let Ok(true) = writer.move_journal() {}
        writer.refresh_durability();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            expected: AtomicUsize::new(0),
            writer: Mutex::new(Some(writer)),
        });
        let (tx, rx) = mpsc::channel();
        let handle = spawn_chores(path, Arc::clone(&shared), Arc::clone(&stats), rx)
            .map_err(StoreError::Thread)?;
        Ok(Self {
            shared,
            path: path.to_path_buf(),
            stats,
            chores: Mutex::new(Some((tx, handle))),
            readers,
        })
    }

    /// The database path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters for `status`.
    #[must_use]
    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// Bytes on disk (database, WAL and shared memory files).
    #[must_use]
    pub fn size_bytes(&self) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut p = self.path.as_os_str().to_owned();
                p.push(suffix);
                std::fs::metadata(PathBuf::from(p)).ok()
            })
            .map(|m| m.len())
            .sum()
    }

    /// Commits queued events, stops the background thread and closes the write connection.
    /// Later records fail with [`StoreError::Stopped`]. Idempotent.
    pub fn close(&self) {
        lock(&self.shared.queue).closed = true;
        if let Some((tx, handle)) = lock(&self.chores).take() {
            drop(tx);
            let _ = handle.join();
        }
        let mut writer = lock(&self.shared.writer);
        if let Some(mut w) = writer.take() {
            let (mut batch, runs, uses, cursors) = {
                let mut q = lock(&self.shared.queue);
                (
                    std::mem::take(&mut q.recs),
                    std::mem::take(&mut q.runs),
                    std::mem::take(&mut q.allow_uses),
                    std::mem::take(&mut q.cursors),
                )
            };
            if !cursors.is_empty() {
                w.write_cursors(&cursors);
            }
            if !runs.is_empty() {
                w.insert_runs(&runs);
            }
            if !uses.is_empty() {
                w.write_allow_uses(&uses);
            }
            if !batch.is_empty() {
                w.commit(&mut batch);
            }
            let _ = w
                .conn
                .execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// A mutex's guard, whether or not a panicking holder poisoned it (every holder leaves the
/// data whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Asserts (debug builds) that the calling thread may block: that it is not a thread driving
/// async tasks (a tokio worker, or inside `block_on`). See the blocking policy above.
///
/// It asks tokio itself: waiting on an already-answered channel with `blocking_recv` makes the
/// check tokio makes before any blocking wait, and panics ("Cannot block the current thread
/// from within a runtime") on such a thread. A `spawn_blocking` thread or a plain thread
/// passes. Costs a small allocation; nothing in release builds.
#[inline]
pub(crate) fn assert_may_block() {
    #[cfg(debug_assertions)]
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let _ = tx.send(());
        let _ = rx.blocking_recv();
    }
}

#[cfg(test)]
mod tests {
    /// The module header's promise: the store never sees hook requests or spool records (nor
    /// parses events); ingestion turns them into `EventRecord`s.
    #[test]
    fn the_store_never_sees_hook_requests_or_spool_records() {
        let sources = [
            ("mod.rs", include_str!("mod.rs")),
            ("allow.rs", include_str!("allow.rs")),
            ("chores.rs", include_str!("chores.rs")),
            ("commit.rs", include_str!("commit.rs")),
            ("dash.rs", include_str!("dash.rs")),
            ("error.rs", include_str!("error.rs")),
            ("insert.rs", include_str!("insert.rs")),
            ("journal.rs", include_str!("journal.rs")),
            ("outbox.rs", include_str!("outbox.rs")),
            ("query.rs", include_str!("query.rs")),
            ("read.rs", include_str!("read.rs")),
            ("recover.rs", include_str!("recover.rs")),
            ("retention.rs", include_str!("retention.rs")),
            ("runs.rs", include_str!("runs.rs")),
            ("schema.rs", include_str!("schema.rs")),
            ("testutil.rs", include_str!("testutil.rs")),
        ];
        // Spelled in pieces so this file does not name them itself.
        let banned = [
            ["Spool", "Record"].concat(),
            ["hook_protocol::", "spool"].concat(),
            ["Hook", "Request"].concat(),
            ["crate::", "event::"].concat(),
        ];
        for (file, text) in sources {
            for b in &banned {
                assert!(!text.contains(b.as_str()), "store/{file} uses {b}");
            }
        }
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "rs")
            })
            .count();
        assert_eq!(files, sources.len(), "every store source is checked");
    }
}
