//! The SQLite store. Events are queued, and whoever finds the write connection free commits
//! everything queued so far in one transaction (group commit without a writer thread: an
//! uncontended event is committed by the task that evaluated it, with no thread hand-off; under
//! load one caller commits for many). A caller is told its event is committed before hookd
//! replies to the client, so an event whose verdict was delivered survives `kill -9` (WAL,
//! `synchronous=NORMAL`; `full` also survives power loss). Checkpoints and retention run on a
//! background thread, retention in short bounded steps between commits.
//!
//! When a commit fails (full disk, read-only file system), the events go to the emergency
//! journal ([`journal`]: space set aside at start, so a full disk does not stop it) and are
//! moved into the store, once each, when it can be written again. When even the journal cannot
//! take them, the caller is told so and answers by the event's fail mode instead of claiming
//! durability; those events wait in memory (bounded) and are retried. A spooled copy of an
//! event already committed (hook-client spooled it after its reply was lost) is recognised by
//! the delivery's id and dropped. On a tight disk the WAL is checkpointed and truncated every
//! 100 ms, and after a failure hookd keeps trying, so it recovers by itself once space returns. A database file deleted or replaced while hookd runs is noticed before the next
//! commit and a new store is started at the path; a corrupt one (at start or on a commit) is
//! moved aside, kept for recovery, and replaced by a new one. Each such incident is reported
//! in `hookctl stats` and `doctor`. Never sees protocol request types.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use hook_protocol::failmode::FailMode;
use hook_protocol::spool::SpoolRecord;
use hook_protocol::{EventQuery, EventRow, SessionRow};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::clock::now_ms;

pub mod journal;
pub mod runs;
pub use runs::RunRecord;

/// Numbered migrations, applied in order; `PRAGMA user_version` records the last applied.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_sessions.sql")),
    (3, include_str!("migrations/0003_query.sql")),
    (4, include_str!("migrations/0004_lean_writes.sql")),
    (5, include_str!("migrations/0005_runs.sql")),
    (6, include_str!("migrations/0006_client_id.sql")),
];
/// The last migration's number (a write of it proves the store can be written again).
const LAST_MIGRATION: u32 = 6;

/// Events committed in one transaction at most (a longer queue is committed in several).
const MAX_GROUP: usize = 1024;
/// Events held in memory when neither the store nor the emergency journal can take them
/// (~1 KiB each).
const MAX_PENDING: usize = 100_000;

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("store {}: {source}", .path.display())]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
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
    /// The store was closed.
    #[error("store closed")]
    Stopped,
}

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
    /// The verdict summary.
    pub verdict: String,
    /// The reason given.
    pub reason: Option<String>,
    /// Matched rule names.
    pub rules: Vec<String>,
    /// Processing time in µs.
    pub latency_us: i64,
    /// `socket` or `spool`.
    pub source: &'static str,
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

/// How much history the store keeps.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Events older than this (ms) are pruned.
    pub max_age_ms: i64,
    /// When the database grows past this (bytes), the oldest events are pruned.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age_ms: 30 * 86_400_000,
            max_bytes: 1 << 30,
        }
    }
}

/// How often the writer prunes, vacuums and optimizes.
const MAINTENANCE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Rows deleted per prune transaction (keeps each write short so verdicts never wait long).
const PRUNE_BATCH: i64 = 2000;

/// Answered once the records are durable ([`Recorded`]), or with why they are not.
type Ack = oneshot::Sender<Result<Recorded, String>>;

/// Events waiting for a commit. Each ack is answered once its record (and every record
/// queued before it) is committed or journaled, or cannot be.
#[derive(Default)]
struct Queue {
    recs: Vec<(EventRecord, Option<Ack>)>,
    /// `run` rule executions: written with the next commit, not acknowledged.
    runs: Vec<RunRecord>,
    closed: bool,
}

/// What the store's callers share: the queue and the write connection.
struct Shared {
    queue: Mutex<Queue>,
    /// Events being evaluated that will be recorded soon ([`Store::expect`]).
    expected: AtomicUsize,
    /// `None` once the store is closed.
    writer: Mutex<Option<Writer>>,
}

/// See [`Store::expect`].
pub struct Expected<'a> {
    store: &'a Store,
    n: usize,
}

impl Drop for Expected<'_> {
    fn drop(&mut self) {
        self.store
            .shared
            .expected
            .fetch_sub(self.n, Ordering::Relaxed);
    }
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
}

impl StoreStats {
    fn set_incident(&self, text: String) {
        tracing::error!(incident = %text, "store incident");
        if let Ok(mut i) = self.incident.lock() {
            *i = Some(text);
        }
    }
}

/// The identity (device, inode) of the file at `path`, to notice it deleted or replaced.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether SQLite says the file is damaged or not a database at all.
fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Moves a corrupt database aside with its WAL and shared-memory files (the WAL may hold the
/// latest events; `sqlite3 <aside> .recover` reads both). Returns the new name.
///
/// # Errors
///
/// The rename error.
pub fn quarantine(path: &Path) -> std::io::Result<PathBuf> {
    let aside = with_suffix(path, &format!(".corrupt-{}", now_ms()));
    std::fs::rename(path, &aside)?;
    for s in ["-wal", "-shm"] {
        let _ = std::fs::rename(with_suffix(path, s), with_suffix(&aside, s));
    }
    Ok(aside)
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (for incident notes).
fn utc_now() -> String {
    crate::clock::utc(now_ms()).replacen(' ', "T", 1) + "Z"
}

fn quarantine_note(path: &Path, aside: &Path, e: &dyn std::fmt::Display) -> String {
    format!(
        "{} was corrupt ({e}); moved aside to {} and a new store started at {} (recover older \
         events with `sqlite3 {} .recover`)",
        path.display(),
        aside.display(),
        utc_now(),
        aside.display()
    )
}

/// Handle to the store.
pub struct Store {
    shared: Arc<Shared>,
    path: PathBuf,
    stats: Arc<StoreStats>,
    /// Background chores (checkpoints, retention); told to stop by dropping the sender.
    chores: Mutex<Option<(mpsc::Sender<Chore>, JoinHandle<()>)>>,
}

/// Requests to the background thread.
enum Chore {
    /// Prune and vacuum now; answers the rows deleted.
    Maintain(oneshot::Sender<u64>),
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// The write connection's settings. Checkpoints run on their own connection (passive: they
/// never block a commit), so no commit pays for copying the WAL back and syncing the database.
/// Commits append at the right edge of each table and index and update a session row: 1 MiB
/// of page cache holds those (SQLite's default is 2 MiB, kept per connection).
fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_RESET_BYTES};
         PRAGMA cache_size = -1024;"
    ))
}

/// Opens (creating if needed) and migrates the database at `path`.
///
/// # Errors
///
/// SQLite errors, or a directory that cannot be created.
pub fn open_connection(path: &Path, synchronous_full: bool) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    let mut conn = Connection::open(path).map_err(sqlite(path))?;
    // SQLite falls back to read-only when it cannot write; such a connection never recovers,
    // so it is refused here and opened again later.
    if conn.is_readonly(rusqlite::MAIN_DB).map_err(sqlite(path))? {
        return Err(StoreError::ReadOnly {
            path: path.to_path_buf(),
        });
    }
    let sync = if synchronous_full { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000;"
    ))
    .map_err(sqlite(path))?;
    migrate(&mut conn).map_err(sqlite(path))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current == 0 {
        // Only takes effect before the first table exists: lets pruning give space back.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
    }
    Ok(())
}

impl Store {
    /// Opens the store and starts its background thread. Events whose commit fails go to the
    /// emergency journal at `journal_path` (with the default reserve).
    ///
    /// # Errors
    ///
    /// See [`open_connection`].
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

    /// [`Store::open`] with the emergency journal's reserve (bytes) and a retention policy.
    /// Events left in the journal by an earlier run are moved into the store first.
    ///
    /// # Errors
    ///
    /// See [`open_connection`].
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
                    "SELECT count(*), count(*) FILTER (WHERE verdict LIKE 'fallback:%') FROM events",
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
                    Err(e) => Err(StoreError::Dir {
                        path: path.to_path_buf(),
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
        let handle =
            spawn_chores(path, Arc::clone(&shared), Arc::clone(&stats), rx).map_err(|e| {
                StoreError::Dir {
                    path: path.to_path_buf(),
                    source: e,
                }
            })?;
        Ok(Self {
            shared,
            path: path.to_path_buf(),
            stats,
            chores: Mutex::new(Some((tx, handle))),
        })
    }

    /// Records one event and waits until it is committed (or, after a failed commit, in the
    /// emergency journal). Commits on the calling thread when no other commit is running (tens
    /// of µs without fsync); otherwise the running commit's owner takes it in its next group.
    ///
    /// # Errors
    ///
    /// Why the event is not durable (neither committed nor journaled: the caller must not
    /// claim it is; it is held in memory and retried), or [`StoreError::Stopped`].
    pub async fn record(&self, rec: EventRecord) -> Result<Recorded, String> {
        self.record_many(vec![rec]).await
    }

    /// Records events (in order, one ack) and waits until all are committed.
    ///
    /// # Errors
    ///
    /// As [`Store::record`].
    pub async fn record_many(&self, recs: Vec<EventRecord>) -> Result<Recorded, String> {
        let done = self.enqueue(recs)?;
        if self.shared.expected.load(Ordering::Relaxed) > 0 {
            // Other events are being evaluated right now and will be queued within
            // microseconds: let them (and whatever else is ready on this thread) go first, so
            // that one commit takes them all. Each commit rewrites the last, partly filled
            // page of the table and of each index, so fewer, larger commits write less. A lone
            // event never waits here.
            tokio::task::yield_now().await;
        }
        self.shared.drain();
        done.await.map_err(|_| StoreError::Stopped.to_string())?
    }

    /// Says that `n` events are being evaluated and will be recorded soon, until the guard
    /// is dropped (drop it before recording them). A commit about to start lets them join.
    #[must_use]
    pub fn expect(&self, n: usize) -> Expected<'_> {
        self.shared.expected.fetch_add(n, Ordering::Relaxed);
        Expected { store: self, n }
    }

    /// Records events and waits for the commit; used for spool ingestion (a blocking thread).
    /// Records from the spool are never journaled (the spool keeps them): a failed commit is an
    /// error.
    ///
    /// # Errors
    ///
    /// As [`Store::record`].
    pub fn record_blocking(&self, recs: Vec<EventRecord>) -> Result<Recorded, String> {
        let done = self.enqueue(recs)?;
        self.shared.drain();
        done.blocking_recv()
            .map_err(|_| StoreError::Stopped.to_string())?
    }

    /// Queues `recs`; the receiver is answered when the last of them is committed.
    fn enqueue(
        &self,
        recs: Vec<EventRecord>,
    ) -> Result<oneshot::Receiver<Result<Recorded, String>>, String> {
        let (ack, done) = oneshot::channel();
        let mut q = lock(&self.shared.queue);
        if q.closed {
            return Err(StoreError::Stopped.to_string());
        }
        let n = recs.len();
        if n == 0 {
            let _ = ack.send(Ok(Recorded::Committed));
            return Ok(done);
        }
        let mut ack = Some(ack);
        q.recs.extend(
            recs.into_iter()
                .enumerate()
                .map(|(i, r)| (r, if i + 1 == n { ack.take() } else { None })),
        );
        Ok(done)
    }

    /// The database path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the spooled events (from [`from_spool`]) whose delivery the store already holds:
    /// hookd committed them but its reply was lost, so the client spooled them too. The lookup
    /// (the rows within each event's delivery window, on `events_time`) runs on a read
    /// connection, so commits do not wait for it; the commit then checks only the rows added
    /// since ([`EventRecord::checked_through`]). Counted in `duplicates_dropped`.
    ///
    /// # Errors
    ///
    /// SQLite errors (the events are then checked in the commit instead).
    pub fn drop_recorded(
        &self,
        mut recs: Vec<EventRecord>,
    ) -> Result<Vec<EventRecord>, (StoreError, Vec<EventRecord>)> {
        let found = (|| {
            let mut conn = self.reader()?;
            let tx = conn.transaction().map_err(sqlite(&self.path))?;
            let last: i64 = tx
                .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))
                .map_err(sqlite(&self.path))?;
            let found = recorded_ids(&tx, recs.iter()).map_err(sqlite(&self.path))?;
            Ok((last, found))
        })();
        let (last, found) = match found {
            Ok(f) => f,
            Err(e) => return Err((e, recs)),
        };
        let before = recs.len();
        recs.retain(|r| r.client_id.as_ref().is_none_or(|id| !found.contains(id)));
        let dropped = (before - recs.len()) as u64;
        if dropped > 0 {
            tracing::info!(dropped, "spooled copies of events already recorded dropped");
            self.stats
                .duplicates_dropped
                .fetch_add(dropped, Ordering::Relaxed);
        }
        for r in &mut recs {
            r.checked_through = Some(last);
        }
        Ok(recs)
    }

    /// Moves every event in the emergency journal into the store (a blocking thread; spool
    /// ingestion calls it first, so that a spooled copy of a journaled event finds it).
    ///
    /// # Errors
    ///
    /// The commit error (the rest stays in the journal), or [`StoreError::Stopped`].
    pub fn move_journal_blocking(&self) -> Result<(), String> {
        loop {
            match self.shared.with_writer(Writer::move_journal) {
                None => return Err(StoreError::Stopped.to_string()),
                Some(Ok(true)) => {}
                Some(Ok(false)) => return Ok(()),
                Some(Err(e)) => return Err(e),
            }
        }
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

    /// Runs retention now and returns the events pruned (tests, `hookctl` maintenance).
    ///
    /// # Errors
    ///
    /// [`StoreError::Stopped`].
    pub fn maintain_blocking(&self) -> Result<u64, StoreError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.chores)
            .as_ref()
            .ok_or(StoreError::Stopped)?
            .0
            .send(Chore::Maintain(tx))
            .map_err(|_| StoreError::Stopped)?;
        rx.blocking_recv().map_err(|_| StoreError::Stopped)
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
            let (mut batch, runs) = {
                let mut q = lock(&self.shared.queue);
                (std::mem::take(&mut q.recs), std::mem::take(&mut q.runs))
            };
            if !runs.is_empty() {
                w.insert_runs(&runs);
            }
            if !batch.is_empty() {
                w.commit(&mut batch);
            }
            let _ = w
                .conn
                .execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }

    /// Lists events, newest first (opens its own read connection; call off the async workers).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn query_events(&self, q: &EventQuery) -> Result<Vec<EventRow>, StoreError> {
        let limit = if q.limit == 0 {
            50
        } else {
            q.limit.min(100_000)
        };
        let mut out = Vec::new();
        self.for_each_event(q, false, Some(limit), |row| {
            out.push(row);
            true
        })?;
        Ok(out)
    }

    /// Calls `f` for each event matching `q` (oldest first when `ascending`), streaming from
    /// one statement (constant memory), until `f` returns false or `limit` rows were seen.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn for_each_event(
        &self,
        q: &EventQuery,
        ascending: bool,
        limit: Option<u32>,
        mut f: impl FnMut(EventRow) -> bool,
    ) -> Result<(), StoreError> {
        let conn = self.reader()?;
        // Only the filters given, so SQLite can use the matching index.
        let mut conds: Vec<&str> = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut eq = |cond: &'static str, v: &Option<String>, conds: &mut Vec<&str>| {
            if let Some(v) = v {
                conds.push(cond);
                args.push(v.clone().into());
            }
        };
        eq("session_id = ?", &q.session, &mut conds);
        eq("event = ?", &q.event, &mut conds);
        eq("tool = ?", &q.tool, &mut conds);
        eq("project_dir = ?", &q.project, &mut conds);
        if let Some(v) = &q.verdict {
            conds.push("substr(verdict, 1, ?) = ?");
            args.push(i64::try_from(v.len()).unwrap_or(i64::MAX).into());
            args.push(v.clone().into());
        }
        if let Some(r) = &q.rule {
            conds.push("rules LIKE ? ESCAPE '\\'");
            let quoted = serde_json::to_string(r).unwrap_or_default();
            let escaped = quoted
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
        }
        if let Some(t) = q.since_ms {
            conds.push("time_ms >= ?");
            args.push(t.into());
        }
        if let Some(t) = q.until_ms {
            conds.push("time_ms < ?");
            args.push(t.into());
        }
        if let Some(text) = &q.text {
            conds.push("instr(payload, ?) > 0");
            args.push(rusqlite::types::Value::Blob(text.as_bytes().to_vec()));
        }
        let mut sql = String::from(
            "SELECT id, time_ms, session_id, event, tool, project_dir, verdict, reason, rules,
                    latency_us, source, summary, redacted, payload FROM events",
        );
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(if ascending {
            " ORDER BY id ASC"
        } else {
            " ORDER BY id DESC"
        });
        if let Some(l) = limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut stmt = conn.prepare(&sql).map_err(sqlite(&self.path))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .map_err(sqlite(&self.path))?;
        while let Some(r) = rows.next().map_err(sqlite(&self.path))? {
            let row = (|| -> rusqlite::Result<EventRow> {
                let rules: String = r.get(8)?;
                let redacted: Option<String> = r.get(12)?;
                let payload = if q.with_payload {
                    bytes_at(r, 13)?
                } else {
                    None
                };
                Ok(EventRow {
                    id: r.get(0)?,
                    time_ms: r.get(1)?,
                    session_id: r.get(2)?,
                    event: r.get(3)?,
                    tool: r.get(4)?,
                    project_dir: r.get(5)?,
                    verdict: r.get(6)?,
                    reason: r.get(7)?,
                    rules: serde_json::from_str(&rules).unwrap_or_default(),
                    latency_us: r.get(9)?,
                    source: r.get(10)?,
                    summary: r.get(11)?,
                    redacted: redacted
                        .map(|k| k.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                    payload: payload.map(|p| String::from_utf8_lossy(&p).into_owned()),
                })
            })()
            .map_err(sqlite(&self.path))?;
            if !f(row) {
                break;
            }
        }
        Ok(())
    }

    fn reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(&self.path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite(&self.path))?;
        Ok(conn)
    }

    /// A session's most recent events (at most `limit`), oldest first, for replay:
    /// `(time_ms, payload, verdict, rules, project_dir)`.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn session_rows(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<crate::session::StoredEvent>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare(
                "SELECT time_ms, payload, verdict, rules, project_dir FROM events
                 WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map(params![id, limit], |r| {
                let rules: String = r.get(3)?;
                Ok((
                    r.get(0)?,
                    bytes_at(r, 1)?.unwrap_or_default(),
                    r.get(2)?,
                    serde_json::from_str(&rules).unwrap_or_default(),
                    r.get(4)?,
                ))
            })
            .map_err(sqlite(&self.path))?;
        let mut out = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite(&self.path))?;
        out.reverse();
        Ok(out)
    }

    /// The projects `rule` matched for at or after `since_ms` (for `once = "project-day"`).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn projects_matched_since(
        &self,
        rule: &str,
        since_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        let conn = self.reader()?;
        let pattern = format!("%{}%", serde_json::to_string(rule).unwrap_or_default());
        let mut stmt = conn
            .prepare(
                "SELECT DISTINCT project_dir FROM events
                 WHERE time_ms >= ?1 AND project_dir IS NOT NULL AND rules LIKE ?2",
            )
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map(params![since_ms, pattern], |r| r.get::<_, String>(0))
            .map_err(sqlite(&self.path))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(&self.path))
    }

    /// Sessions by last activity, newest first; `active_only` skips ended ones.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn sessions(&self, limit: u32, active_only: bool) -> Result<Vec<SessionRow>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, project_dir, started_ms, last_ms, ended_ms, 0, 0 FROM sessions
                 WHERE (?2 = 0 OR ended_ms IS NULL) AND (?3 IS NULL OR id LIKE ?3 || '%')
                 ORDER BY last_ms DESC LIMIT ?1",
            )
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map(
                params![limit, active_only, Option::<String>::None],
                session_row,
            )
            .map_err(sqlite(&self.path))?;
        let mut rows = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite(&self.path))?;
        self.fill_counts(&conn, &mut rows)?;
        Ok(rows)
    }

    /// Sessions not ended with activity at or after `since_ms`.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn active_sessions(&self, since_ms: i64) -> Result<u64, StoreError> {
        self.reader()?
            .query_row(
                "SELECT count(*) FROM sessions WHERE ended_ms IS NULL AND last_ms >= ?1",
                [since_ms],
                |r| r.get(0),
            )
            .map_err(sqlite(&self.path))
    }

    /// Counts each listed session's events and denials (on the session index).
    fn fill_counts(&self, conn: &Connection, rows: &mut [SessionRow]) -> Result<(), StoreError> {
        let mut st = conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(verdict IN ('deny', 'ask')), 0) FROM events WHERE session_id = ?1",
            )
            .map_err(sqlite(&self.path))?;
        for r in rows {
            let (events, denials) = st
                .query_row([&r.id], |x| Ok((x.get(0)?, x.get(1)?)))
                .map_err(sqlite(&self.path))?;
            r.events = events;
            r.denials = denials;
        }
        Ok(())
    }

    /// Sessions whose id starts with `prefix` (at most 2, to detect ambiguity).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn sessions_by_prefix(&self, prefix: &str) -> Result<Vec<SessionRow>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, project_dir, started_ms, last_ms, ended_ms, 0, 0 FROM sessions
                 WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 2",
            )
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map(params![prefix], session_row)
            .map_err(sqlite(&self.path))?;
        let mut rows = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite(&self.path))?;
        self.fill_counts(&conn, &mut rows)?;
        Ok(rows)
    }

    /// Records `run` executions with the next commit (not waited for: a failed write is
    /// logged).
    pub fn record_runs(&self, recs: Vec<RunRecord>) {
        if recs.is_empty() {
            return;
        }
        {
            let mut q = lock(&self.shared.queue);
            if q.closed {
                tracing::warn!("store closed; run records dropped");
                return;
            }
            q.runs.extend(recs);
        }
        self.shared.drain();
    }

    /// Recorded runs, newest first (opens its own read connection; call off the async
    /// workers).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn query_runs(
        &self,
        q: &hook_protocol::RunQuery,
    ) -> Result<Vec<hook_protocol::RunRow>, StoreError> {
        runs::query(&self.reader()?, q).map_err(sqlite(&self.path))
    }

    /// Counts rows with this spool id (tests and exactly-once checks).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn count_spool_id(&self, id: &str) -> Result<u64, StoreError> {
        let conn = self.reader()?;
        conn.query_row(
            "SELECT count(*) FROM events WHERE spool_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(sqlite(&self.path))
    }
}

/// A BLOB or TEXT column as bytes (payloads are written as BLOB; accept TEXT from rows
/// written by other tools).
fn bytes_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(n) => Some(n.to_string().into_bytes()),
        ValueRef::Real(f) => Some(f.to_string().into_bytes()),
    })
}

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        project_dir: r.get(1)?,
        started_ms: r.get(2)?,
        last_ms: r.get(3)?,
        ended_ms: r.get(4)?,
        events: r.get(5)?,
        denials: r.get(6)?,
    })
}

/// A mutex's guard, whether or not a panicking holder poisoned it (every holder leaves the
/// data whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Commits everything queued, in groups, unless another caller is committing already: that
    /// one looks at the queue again after it lets go of the connection, so nothing queued is
    /// left behind.
    fn drain(&self) {
        loop {
            let mut guard = match self.writer.try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            let Some(writer) = guard.as_mut() else {
                return;
            };
            loop {
                let (mut batch, runs) = {
                    let mut q = lock(&self.queue);
                    let batch = if q.recs.len() <= MAX_GROUP {
                        std::mem::take(&mut q.recs)
                    } else {
                        let rest = q.recs.split_off(MAX_GROUP);
                        std::mem::replace(&mut q.recs, rest)
                    };
                    (batch, std::mem::take(&mut q.runs))
                };
                if batch.is_empty() && runs.is_empty() {
                    break;
                }
                if !runs.is_empty() {
                    writer.insert_runs(&runs);
                }
                if !batch.is_empty() {
                    writer.commit(&mut batch);
                }
            }
            drop(guard);
            // A record queued after the last look, whose caller found the connection busy.
            let q = lock(&self.queue);
            if q.recs.is_empty() && q.runs.is_empty() {
                return;
            }
        }
    }

    /// One bounded round of retention: at most a few short delete transactions, with the
    /// events queued meanwhile committed between them, then vacuum and optimize. Returns the
    /// rows deleted and whether there is more to prune.
    fn maintain(&self) -> (u64, bool) {
        let (mut deleted, mut more) = (0, false);
        for _ in 0..5 {
            let Some(n) = self.with_writer(Writer::prune_step).flatten() else {
                more = false;
                break;
            };
            deleted += n;
            more = n == PRUNE_BATCH as u64;
            if !more {
                break;
            }
        }
        self.with_writer(|w| w.after_prune(deleted));
        (deleted, more)
    }

    /// Runs `f` on the write connection (after a running commit), then commits what was
    /// queued meanwhile.
    fn with_writer<R>(&self, f: impl FnOnce(&mut Writer) -> R) -> Option<R> {
        let r = lock(&self.writer).as_mut().map(f);
        self.drain();
        r
    }
}

/// A WAL past this size is brought back to its start even under sustained load (see
/// [`checkpoint`]).
const WAL_RESET_BYTES: u64 = 16 << 20;

/// The checkpoint connection. It follows the writer to a new file (the old one was deleted,
/// replaced or moved aside, or could not be opened before) but never creates one: that is the
/// writer's job.
struct Checkpointer {
    path: PathBuf,
    conn: Option<Connection>,
    file: Option<(u64, u64)>,
}

impl Checkpointer {
    fn connection(&mut self) -> Option<&Connection> {
        let now = file_id(&self.path);
        if (self.conn.is_none() || now != self.file)
            && now.is_some()
            && let Ok(c) = Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        {
            // Never keep a read-only connection: it would make the process's shared -shm
            // mapping read-only for the writer too.
            if c.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
                drop(c);
            } else {
                let _ = c.busy_timeout(std::time::Duration::from_millis(100));
                self.conn = Some(c);
                self.file = now;
            }
        }
        self.conn.as_ref()
    }
}

/// A passive checkpoint: copies committed frames back without blocking a commit. Under
/// sustained load it never catches up with the frames being appended, and SQLite only starts
/// the WAL over once every frame is copied back, so the WAL would grow without bound: past
/// [`WAL_RESET_BYTES`], the rest is copied while holding the write connection (commits wait
/// for that short copy; the passive pass just did most of the work), and the next commit
/// starts the WAL over (`journal_size_limit` then trims the file).
fn checkpoint(checkpointer: &mut Checkpointer, shared: &Shared, wal: &Path) {
    let Some(conn) = checkpointer.connection() else {
        return;
    };
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
        tracing::debug!(error = %e, "checkpoint deferred");
        // Busy is normal; anything else (I/O, read-only) gets a fresh connection next time.
        if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
            checkpointer.conn = None;
        }
        return;
    }
    if std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_RESET_BYTES) {
        let _ = shared.with_writer(|_| {
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::debug!(error = %e, "checkpoint deferred");
            }
        });
    }
}

/// Free space on the store's file system (bytes) below which the WAL is checkpointed and
/// truncated every second: a WAL kept at its full size would hold space the database needs to
/// grow into, and a checkpoint that cannot grow the database never lets the WAL start over.
const PRESSURE_FREE_BYTES: u64 = 2 * WAL_RESET_BYTES;

/// Bytes available to this user on the file system holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    #[allow(unsafe_code)]
    // SAFETY: statvfs is plain old data (all-zero is valid); the path is NUL-terminated and the
    // struct outlives the call.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &raw mut st) == 0).then_some(st)
    }?;
    #[allow(clippy::useless_conversion)] // 64-bit on Linux, 32-bit fields on macOS
    Some(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// Under pressure (a tight disk, or the last write failed): copies the WAL back and truncates
/// it to nothing, holding the write connection so no commit runs meanwhile. Gives the WAL's
/// space back to the file system; a checkpoint that cannot complete (the database cannot grow)
/// is tried again next time. Returns whether there is pressure (the background thread then
/// comes back every [`PRESSURE_TICK`]).
fn relieve_pressure(
    checkpointer: &mut Checkpointer,
    shared: &Shared,
    wal: &Path,
    failing: bool,
) -> bool {
    let dir = wal.parent().unwrap_or(Path::new("."));
    let tight = free_bytes(dir).is_some_and(|f| f < PRESSURE_FREE_BYTES);
    if !(tight || failing) {
        return false;
    }
    let wal_len = std::fs::metadata(wal).map_or(0, |m| m.len());
    if wal_len == 0 {
        return true;
    }
    let Some(conn) = checkpointer.connection() else {
        return true;
    };
    let done = shared.with_writer(|_| {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        })
    });
    match done {
        Some(Ok(0)) => tracing::debug!(wal_bytes = wal_len, "WAL truncated under pressure"),
        Some(Ok(_)) => tracing::debug!("WAL truncation deferred (readers)"),
        Some(Err(e)) => {
            tracing::debug!(error = %e, "WAL truncation failed; trying again");
            checkpointer.conn = None;
        }
        None => {}
    }
    true
}

/// How often the background thread checkpoints under pressure (instead of every second): the
/// WAL then holds at most this long's commits, which a nearly full disk must still be able to
/// copy into the database.
const PRESSURE_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Journal batches moved per round at most by the background thread (queued verdicts commit
/// between batches).
const JOURNAL_BATCHES_PER_ROUND: usize = 16;

/// The background thread: a passive checkpoint every second (it never blocks a commit; once
/// it has copied every frame back, SQLite starts the WAL over from its beginning, so the file
/// stays bounded), the WAL truncated under pressure, events held in memory or in the emergency
/// journal committed as soon as the store takes writes again, and retention every
/// [`MAINTENANCE_EVERY`] (sooner while there is more to prune) or when asked. Ends when the
/// store closes (the sender is dropped).
fn spawn_chores(
    path: &Path,
    shared: Arc<Shared>,
    stats: Arc<StoreStats>,
    rx: mpsc::Receiver<Chore>,
) -> std::io::Result<JoinHandle<()>> {
    let path = path.to_path_buf();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    std::thread::Builder::new()
        .name("hookd-store".into())
        .spawn(move || {
            let mut checkpointer = Checkpointer {
                path,
                conn: None,
                file: None,
            };
            // Prune soon after start (a store past its limits shrinks without waiting a minute).
            let start = std::time::Instant::now();
            let mut next_maintenance = start + std::time::Duration::from_secs(2);
            let mut next_checkpoint = start;
            loop {
                let wake = next_checkpoint.min(next_maintenance);
                match rx.recv_timeout(wake.saturating_duration_since(std::time::Instant::now())) {
                    Ok(Chore::Maintain(done)) => {
                        let n = shared.maintain().0;
                        let _ = done.send(n);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                let now = std::time::Instant::now();
                if now >= next_checkpoint {
                    checkpoint(&mut checkpointer, &shared, &wal);
                    let failing = lock(&stats.last_error).is_some();
                    let pressure = relieve_pressure(&mut checkpointer, &shared, &wal, failing);
                    next_checkpoint = now
                        + if pressure {
                            PRESSURE_TICK
                        } else {
                            std::time::Duration::from_secs(1)
                        };
                    if shared.with_writer(Writer::writable) == Some(true) {
                        shared.with_writer(Writer::retry_pending);
                        for _ in 0..JOURNAL_BATCHES_PER_ROUND {
                            if !matches!(shared.with_writer(Writer::move_journal), Some(Ok(true))) {
                                break;
                            }
                        }
                    }
                    shared.with_writer(Writer::keep_reserve);
                }
                if now >= next_maintenance {
                    let more = shared.maintain().1;
                    // More to prune: come back within a second, after queued events commit.
                    next_maintenance = now
                        + if more {
                            std::time::Duration::from_secs(1)
                        } else {
                            MAINTENANCE_EVERY
                        };
                }
            }
        })
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// The write connection and what a commit needs.
struct Writer {
    conn: Connection,
    /// The database path and the identity of the file `conn` has open.
    path: PathBuf,
    file: Option<(u64, u64)>,
    /// Open the file again before the next commit (the last one failed).
    stale: bool,
    synchronous_full: bool,
    /// Events neither committed nor journaled (their callers answered by the fail mode):
    /// retried with every commit, and every second by the background thread.
    pending: Vec<EventRecord>,
    stats: Arc<StoreStats>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    retention: Retention,
    /// Where events go when a commit fails; `None` when it could not be opened
    /// (`journal_error` says why).
    journal: Option<journal::Journal>,
    journal_error: Option<String>,
    /// Client ids of spooled events recorded since start, with their spooling time: an event
    /// hookd answers (or moves from the journal) after its spooled copy was recorded is that
    /// copy's duplicate. Empty unless the spool held events hookd was still answering.
    ingested: HashMap<String, i64>,
    /// Why events were last answered by the fail mode, until events can be recorded again.
    undurable: Option<String>,
}

impl Writer {
    /// One prune transaction of at most [`PRUNE_BATCH`] rows: the oldest events while the
    /// database is over its size limit, else events past the maximum age. Returns the rows
    /// deleted, `None` on error.
    fn prune_step(&mut self) -> Option<u64> {
        let cutoff = now_ms() - self.retention.max_age_ms;
        let over_size = self.db_bytes() > self.retention.max_bytes;
        let sql = if over_size {
            "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?1)"
        } else {
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ms < ?2 ORDER BY id LIMIT ?1)"
        };
        let n = match self.conn.prepare_cached(sql).and_then(|mut st| {
            if over_size {
                st.execute(params![PRUNE_BATCH])
            } else {
                st.execute(params![PRUNE_BATCH, cutoff])
            }
        }) {
            Ok(n) => n as u64,
            Err(e) => {
                tracing::warn!(error = %e, "pruning the store failed");
                return None;
            }
        };
        if over_size && n > 0 {
            // Freed pages only shrink the file after a vacuum step.
            let _ = self.conn.execute_batch("PRAGMA incremental_vacuum(2000);");
        }
        Some(n)
    }

    /// After pruning `deleted` events: drop runs and sessions past the maximum age, give free
    /// pages back, `PRAGMA optimize`.
    fn after_prune(&mut self, deleted: u64) {
        let cutoff = now_ms() - self.retention.max_age_ms;
        if let Err(e) = runs::prune(&self.conn, cutoff) {
            tracing::warn!(error = %e, "pruning runs failed");
        }
        if deleted > 0 {
            let _ = self
                .conn
                .execute("DELETE FROM sessions WHERE last_ms < ?1", [cutoff]);
            self.stats.events_total.fetch_sub(
                deleted.min(self.stats.events_total.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
            tracing::info!(deleted, "pruned old events");
        }
        let _ = self
            .conn
            .execute_batch("PRAGMA incremental_vacuum(2000); PRAGMA optimize;");
    }

    fn insert_runs(&mut self, recs: &[RunRecord]) {
        if let Err(e) = runs::insert(&mut self.conn, recs) {
            tracing::warn!(error = %e, runs = recs.len(), "recording runs failed");
        }
    }

    /// Bytes the database uses (pages in use, not counting free pages).
    fn db_bytes(&self) -> u64 {
        self.conn
            .query_row(
                "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_or(0, |b| u64::try_from(b).unwrap_or(0))
    }

    /// Notices the database file deleted or replaced since it was opened and opens the one at
    /// the path now (creating it), so commits never go to a file no one will read again.
    fn follow_file(&mut self) -> Result<(), String> {
        let now = file_id(&self.path);
        if !self.stale && now.is_some() && now == self.file {
            return Ok(());
        }
        let what = match (self.file, now) {
            (Some(_), None) => Some("deleted"),
            (Some(a), Some(b)) if a != b => Some("replaced by another file"),
            // Never opened (the store could not be opened at start), or the last commit
            // failed: open it again, no incident.
            _ => None,
        };
        self.reopen().map_err(|e| match what {
            Some(what) => format!(
                "{} was {what} and cannot be re-created: {e}",
                self.path.display()
            ),
            None => e.to_string(),
        })?;
        if let Some(what) = what {
            self.stats.set_incident(format!(
                "{} was {what} while hookd ran; recording continues in the file now there (since {}); \
                 events recorded before are not in it",
                self.path.display(),
                utc_now()
            ));
        }
        Ok(())
    }

    /// Opens (creating and migrating if needed) the database at the path and recounts it.
    fn reopen(&mut self) -> Result<(), StoreError> {
        // Close the old connection first: SQLite shares one shared-memory (-shm) mapping per
        // file within a process, and one opened read-only would keep the new one read-only.
        self.conn = Connection::open_in_memory().map_err(sqlite(&self.path))?;
        let conn = open_connection(&self.path, self.synchronous_full)?;
        configure_writer(&conn).map_err(sqlite(&self.path))?;
        let (total, fallbacks): (u64, u64) = conn
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE verdict LIKE 'fallback:%') FROM events",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sqlite(&self.path))?;
        self.stats.events_total.store(total, Ordering::Relaxed);
        self.stats.fallbacks.store(fallbacks, Ordering::Relaxed);
        self.conn = conn;
        self.file = file_id(&self.path);
        self.stale = false;
        Ok(())
    }

    /// Commits the events held in memory, if any (the background thread, once the store
    /// takes writes).
    fn retry_pending(&mut self) {
        if !self.pending.is_empty() {
            let mut batch = self.pending.drain(..).map(|r| (r, None)).collect();
            self.commit(&mut batch);
        }
    }

    /// Whether the store takes writes. After a failure, a small write (the schema version
    /// again) proves it before anything larger is tried (events held in memory, the journal:
    /// re-inserting thousands of events that cannot be committed would only burn CPU); with
    /// nothing else waiting, it clears the error without waiting for the next event.
    fn writable(&mut self) -> bool {
        if lock(&self.stats.last_error).is_none() {
            return true;
        }
        let ok = self.follow_file().is_ok()
            && self
                .conn
                .execute_batch(&format!("PRAGMA user_version = {LAST_MIGRATION}"))
                .is_ok();
        if !ok {
            self.stale = true;
            return false;
        }
        if self.pending.is_empty() && self.journal.as_ref().is_none_or(|j| j.held() == 0) {
            tracing::info!("the store takes writes again");
            *lock(&self.stats.last_error) = None;
            self.undurable = None;
        }
        true
    }

    /// Sets the emergency journal's reserve aside again if it could not be made before
    /// (space has returned), and publishes the journal's state.
    fn keep_reserve(&mut self) {
        if let Some(j) = &mut self.journal {
            j.retry_reserve();
        }
        self.refresh_durability();
    }

    /// Inserts `recs` in one transaction, following the file to a new one (deleted, replaced)
    /// and moving a corrupt one aside first.
    fn insert<'a>(
        &mut self,
        recs: impl Iterator<Item = &'a EventRecord> + Clone,
    ) -> Result<Inserted, String> {
        self.follow_file()?;
        match insert_all(&mut self.conn, recs.clone(), &self.ingested) {
            // Corrupt: keep the damaged file for recovery, start a new one, retry once.
            Err(e) if is_corrupt(&e) => match quarantine(&self.path) {
                Ok(aside) => {
                    self.stats
                        .set_incident(quarantine_note(&self.path, &aside, &e));
                    self.reopen().map_err(|e| e.to_string())?;
                    insert_all(&mut self.conn, recs, &self.ingested).map_err(|e| e.to_string())
                }
                Err(io) => Err(format!("{e} (moving it aside failed: {io})")),
            },
            other => other.map_err(|e| e.to_string()),
        }
    }

    /// Counts what a successful insert did and clears the store error.
    fn inserted(&mut self, done: Inserted) {
        self.stats
            .events_total
            .fetch_add(done.inserted, Ordering::Relaxed);
        self.stats
            .fallbacks
            .fetch_add(done.fallbacks, Ordering::Relaxed);
        if done.dropped > 0 {
            tracing::info!(
                dropped = done.dropped,
                "spooled copies of events already recorded dropped"
            );
            self.stats
                .duplicates_dropped
                .fetch_add(done.dropped, Ordering::Relaxed);
        }
        if !done.spooled_ids.is_empty() {
            // Only a copy spooled lately can still meet its original (hookd answering it
            // after the client gave up): keep the last hour's, at most 65,536.
            let horizon = now_ms() - MAX_DELIVERY_MS;
            self.ingested.retain(|_, t| *t >= horizon);
            for (id, t) in done.spooled_ids {
                if t >= horizon && self.ingested.len() < 65_536 {
                    self.ingested.insert(id, t);
                }
            }
        }
        *lock(&self.stats.last_error) = None;
        self.undurable = None;
    }

    /// Moves one batch of the emergency journal into the store. Returns whether more is left.
    fn move_journal(&mut self) -> Result<bool, String> {
        let Some(j) = &self.journal else {
            return Ok(false);
        };
        if j.held() == 0 {
            return Ok(false);
        }
        let (recs, to) = j
            .next_batch(MAX_GROUP)
            .map_err(|e| format!("reading the emergency journal: {e}"))?;
        let n = recs.len() as u64;
        match self.insert(recs.iter()) {
            Ok(done) => {
                tracing::info!(events = n, "journaled events moved into the store");
                self.inserted(done);
                let left = self
                    .journal
                    .as_mut()
                    .map_or(Ok(0), |j| j.moved(to, n).map(|()| j.held()));
                self.refresh_durability();
                match left {
                    Ok(left) => Ok(left > 0),
                    Err(e) => Err(format!("starting the emergency journal over: {e}")),
                }
            }
            Err(e) => {
                self.stale = true;
                let held = self.journal.as_ref().map_or(0, journal::Journal::held);
                let mut le = lock(&self.stats.last_error);
                if le.is_none() {
                    *le = Some(format!(
                        "store write failed: {e}; {held} answered events kept in the emergency journal until it recovers"
                    ));
                }
                Err(e)
            }
        }
    }

    /// Publishes the journal's state and why durability is not assured, if it is not.
    fn refresh_durability(&mut self) {
        let (held, reserved, reserve_error) = match &self.journal {
            Some(j) => (
                j.held(),
                j.reserved(),
                j.reserve_error().map(str::to_string),
            ),
            None => (0, 0, self.journal_error.clone()),
        };
        self.stats.journal_events.store(held, Ordering::Relaxed);
        self.stats
            .journal_reserved
            .store(reserved, Ordering::Relaxed);
        *lock(&self.stats.durability) = self.undurable.clone().or(reserve_error);
    }

    fn commit(&mut self, batch: &mut Vec<(EventRecord, Option<Ack>)>) {
        // Events held in memory ride along with the next commit, unless the store is failing:
        // the background thread retries them once a small write works (`writable`).
        if lock(&self.stats.last_error).is_none() {
            batch.extend(self.pending.drain(..).map(|r| (r, None)));
        }
        let t0 = std::time::Instant::now();
        let result = self.insert(batch.iter().map(|(r, _)| r));
        if let Some(m) = &self.metrics {
            m.record_store_write(t0.elapsed());
        }
        match result {
            Ok(done) => {
                self.inserted(done);
                for (_, ack) in batch.drain(..) {
                    if let Some(a) = ack {
                        let _ = a.send(Ok(Recorded::Committed));
                    }
                }
            }
            Err(e) => self.commit_failed(batch, &e),
        }
        self.stats
            .pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
        self.refresh_durability();
    }

    /// After a failed commit: each caller's events go to the emergency journal (one write per
    /// caller: all of them, or none); what the journal cannot take is not durable, its callers
    /// are told so (they answer by the fail mode) and the events wait in memory, recorded with
    /// the verdict given. Events from the spool or the journal are still there: left alone.
    fn commit_failed(&mut self, batch: &mut Vec<(EventRecord, Option<Ack>)>, e: &str) {
        // Open the file again before the next commit: a connection that failed (read only,
        // I/O error) may not recover by itself once the cause is gone.
        self.stale = true;
        let n = batch.len();
        tracing::error!(error = %e, events = n, "store write failed; journaling events");
        let mut outcome: Vec<Option<Result<Recorded, String>>> = vec![None; n];
        let mut lost = vec![false; n];
        let mut journal_failure = None;
        let (mut journaled, mut not_durable) = (0u64, 0u64);
        let mut start = 0;
        for i in 0..n {
            if batch[i].1.is_none() && i + 1 < n {
                continue;
            }
            // One caller's events (or, at the end, those held in memory).
            let unit: Vec<usize> = (start..=i)
                .filter(|&k| batch[k].0.spool_id.is_none())
                .collect();
            let caller = batch[i].1.is_some();
            start = i + 1;
            let result = if unit.is_empty() {
                Err(format!("store write failed: {e}"))
            } else {
                let recs: Vec<&EventRecord> = unit.iter().map(|&k| &batch[k].0).collect();
                match self.journal.as_mut().map(|j| j.append(&recs)) {
                    Some(Ok(())) => {
                        journaled += unit.len() as u64;
                        Ok(Recorded::Journaled)
                    }
                    failed => {
                        let why = match failed {
                            Some(Err(je)) => format!(
                                "the emergency journal {} cannot take them either ({je})",
                                self.journal
                                    .as_ref()
                                    .map_or(Path::new(""), |j| j.path())
                                    .display()
                            ),
                            _ => self
                                .journal_error
                                .clone()
                                .unwrap_or_else(|| "there is no emergency journal".into()),
                        };
                        for &k in &unit {
                            lost[k] = true;
                        }
                        if caller {
                            not_durable += unit.len() as u64;
                        }
                        journal_failure = Some(why.clone());
                        Err(format!("store write failed: {e}; {why}"))
                    }
                }
            };
            outcome[i] = Some(result);
        }
        let mut dropped = 0u64;
        for (k, ((mut rec, ack), lost)) in batch.drain(..).zip(lost).enumerate() {
            if lost {
                if let Some(mode) = rec.fail_mode {
                    rec.verdict = format!("error:{}", mode.as_str());
                    rec.reason = Some(format!(
                        "answered by the fail mode: the event could not be recorded durably ({e})"
                    ));
                }
                if self.pending.len() < MAX_PENDING {
                    self.pending.push(rec);
                } else {
                    dropped += 1;
                }
            }
            if let (Some(a), Some(o)) = (ack, outcome[k].take()) {
                let _ = a.send(o);
            }
        }
        let held = self.journal.as_ref().map_or(0, journal::Journal::held);
        let mut msg = format!("store write failed: {e}");
        if held > 0 {
            msg.push_str(&format!(
                "; {held} answered events kept in the emergency journal until it recovers"
            ));
        }
        if let Some(why) = &journal_failure {
            tracing::error!(error = %why, held = self.pending.len(), dropped, "the emergency journal failed too; events answered by their fail mode");
            msg.push_str(&format!(
                "; {why}: events are answered by their fail mode, {} held in memory for retry",
                self.pending.len()
            ));
            if dropped > 0 {
                msg.push_str(&format!(", {dropped} dropped (memory bound reached)"));
            }
            if not_durable > 0 {
                self.stats
                    .not_durable
                    .fetch_add(not_durable, Ordering::Relaxed);
                self.undurable = Some(format!(
                    "since {}, answered events cannot be recorded durably (store: {e}; {why}): \
                     guard events get their fail mode (ask) until space returns",
                    utc_now()
                ));
            }
        } else if journaled > 0 {
            self.undurable = None;
        }
        *lock(&self.stats.last_error) = Some(msg);
    }
}

/// How long after its client started an event can still be delivered, in ms (hook-client's
/// deadline is below an hour).
const MAX_DELIVERY_MS: i64 = 3_600_000;
/// Clock leeway around a delivery's window, in ms.
const DELIVERY_SLACK_MS: i64 = 5_000;

/// The times (ms) within which hookd can have received the event whose client id is `id`,
/// spooled by the client at `spooled_ms`: from the client's start (the id's first part, its
/// clock in ns, hex) to its giving up, with leeway.
fn delivery_window(id: &str, spooled_ms: i64) -> (i64, i64) {
    let started = id
        .split_once('-')
        .and_then(|(ns, _)| u128::from_str_radix(ns, 16).ok())
        .and_then(|ns| i64::try_from(ns / 1_000_000).ok())
        .filter(|&ms| ms <= spooled_ms + DELIVERY_SLACK_MS && ms >= spooled_ms - MAX_DELIVERY_MS)
        .unwrap_or(spooled_ms - MAX_DELIVERY_MS);
    (started - DELIVERY_SLACK_MS, spooled_ms + DELIVERY_SLACK_MS)
}

/// What one insert transaction did.
#[derive(Default)]
struct Inserted {
    inserted: u64,
    fallbacks: u64,
    /// Spooled copies of events already recorded, not inserted.
    dropped: u64,
    /// Client ids (and times) of the spooled events inserted.
    spooled_ids: Vec<(String, i64)>,
}

/// The client ids among the spooled `recs` that events already in the store carry. Events
/// already looked up ([`EventRecord::checked_through`]) are checked against the rows added
/// since (a rowid range: a few rows); the others by one range scan on `events_time` per
/// stretch of time their delivery windows cover (they overlap after a crash, so usually one),
/// rather than one per event.
fn recorded_ids<'a>(
    tx: &rusqlite::Transaction<'_>,
    recs: impl Iterator<Item = &'a EventRecord>,
) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut wanted = std::collections::HashSet::new();
    let mut windows = Vec::new();
    let mut since: Option<i64> = None;
    for r in recs.filter(|r| r.source == "spool") {
        if let Some(id) = &r.client_id {
            wanted.insert(id.as_str());
            match r.checked_through {
                Some(last) => since = Some(since.map_or(last, |s| s.min(last))),
                None => windows.push(delivery_window(id, r.time_ms)),
            }
        }
    }
    let mut found = std::collections::HashSet::new();
    if let Some(last) = since {
        let mut st = tx.prepare_cached(
            "SELECT client_id FROM events WHERE id > ?1 AND client_id IS NOT NULL",
        )?;
        let mut rows = st.query([last])?;
        while let Some(row) = rows.next()? {
            let id = row.get_ref(0)?.as_str().unwrap_or_default();
            if wanted.contains(id) {
                found.insert(id.to_string());
            }
        }
    }
    if windows.is_empty() {
        return Ok(found);
    }
    windows.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (lo, hi) in windows {
        match merged.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    let mut st = tx.prepare_cached(
        "SELECT client_id FROM events WHERE time_ms BETWEEN ?1 AND ?2 AND client_id IS NOT NULL",
    )?;
    for (lo, hi) in merged {
        let mut rows = st.query(params![lo, hi])?;
        while let Some(row) = rows.next()? {
            let id = row.get_ref(0)?.as_str().unwrap_or_default();
            if wanted.contains(id) {
                found.insert(id.to_string());
            }
        }
    }
    Ok(found)
}

/// Inserts `recs` in one transaction. Spooled events whose delivery is already recorded
/// (the same client id within its time window, [`recorded_ids`]), and events whose spooled
/// copy was recorded meanwhile (`ingested`), are dropped and counted.
fn insert_all<'a>(
    conn: &mut Connection,
    recs: impl Iterator<Item = &'a EventRecord> + Clone,
    ingested: &HashMap<String, i64>,
) -> rusqlite::Result<Inserted> {
    let tx = conn.transaction()?;
    let mut done = Inserted::default();
    let mut recorded = recorded_ids(&tx, recs.clone())?;
    {
        let mut session = tx.prepare_cached(
            "INSERT INTO sessions (id, project_dir, started_ms, last_ms, ended_ms, events, denials)
             VALUES (?1, ?2, ?3, ?3, ?4, 1, ?5)
             ON CONFLICT(id) DO UPDATE SET
               last_ms = max(last_ms, excluded.last_ms),
               project_dir = coalesce(project_dir, excluded.project_dir),

               ended_ms = CASE WHEN ?6 = 'SessionStart' THEN NULL
                               ELSE coalesce(excluded.ended_ms, ended_ms) END",
        )?;
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO events
               (time_ms, session_id, event, tool, project_dir, payload, verdict, reason, rules,
                latency_us, source, spool_id, summary, redacted, client_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for r in recs {
            if let Some(id) = &r.client_id {
                let duplicate = if r.source == "spool" {
                    recorded.contains(id)
                } else {
                    !ingested.is_empty() && ingested.contains_key(id)
                };
                if duplicate {
                    done.dropped += 1;
                    continue;
                }
            }
            let rules = serde_json::to_string(&r.rules).unwrap_or_else(|_| "[]".into());
            let n = stmt.execute(params![
                r.time_ms,
                r.session_id,
                r.event,
                r.tool,
                r.project_dir,
                r.payload,
                r.verdict,
                r.reason,
                rules,
                r.latency_us,
                r.source,
                r.spool_id,
                r.summary,
                (!r.redacted.is_empty()).then(|| r.redacted.join(",")),
                r.client_id,
            ])?;
            done.inserted += n as u64;
            if n > 0
                && r.touch_session
                && let Some(id) = &r.session_id
            {
                let ended = (r.event == "SessionEnd").then_some(r.time_ms);
                let denial = i64::from(matches!(r.verdict.as_str(), "deny" | "ask"));
                session.execute(params![
                    id,
                    r.project_dir,
                    r.time_ms,
                    ended,
                    denial,
                    r.event
                ])?;
            }
            if n > 0 && r.verdict.starts_with("fallback:") {
                done.fallbacks += 1;
            }
            if n > 0
                && r.source == "spool"
                && let Some(id) = &r.client_id
            {
                recorded.insert(id.clone());
                done.spooled_ids.push((id.clone(), r.time_ms));
            }
        }
    }
    tx.commit()?;
    Ok(done)
}

/// Turns a spool record into an event record (source `spool`).
#[must_use]
pub fn from_spool(rec: SpoolRecord) -> EventRecord {
    let parsed = crate::event::HookEvent::parse(&rec.event, None).ok();
    let event = parsed
        .as_ref()
        .map(|e| e.name.clone())
        .or_else(|| hook_protocol::failmode::scan_event_name(&rec.event).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    // Before the emergency journal, hookd spooled the events it had answered itself when a
    // commit failed (ids `hookd-…`): their verdict is hookd's, not a client's fallback.
    let by_hookd = rec.id.starts_with("hookd-");
    let answered = if by_hookd
        || rec.answered.contains(':')
        || !matches!(rec.answered.as_str(), "ask" | "pass" | "deny")
    {
        rec.answered
    } else {
        format!("fallback:{}", rec.answered)
    };
    let mut reason = rec.reason;
    if let Some(n) = rec.truncated_from {
        reason.push_str(&format!(" (event cut from {n} bytes)"));
    }
    EventRecord {
        time_ms: i64::try_from(rec.time_ms).unwrap_or(now_ms()),
        // Bounded as on the socket (`event::MAX_SESSION_ID_LEN`): a spooled event cannot make
        // the store keep a session key of its choosing either.
        session_id: rec
            .env
            .session_id
            .filter(|id| !id.is_empty() && id.len() <= crate::event::MAX_SESSION_ID_LEN)
            .or_else(|| {
                parsed
                    .as_ref()
                    .and_then(|e| e.session_id().map(str::to_string))
            }),
        tool: parsed
            .as_ref()
            .and_then(|e| e.tool_name().map(str::to_string)),
        event,
        project_dir: rec.env.project_dir,
        payload: rec.event,
        verdict: answered,
        reason: Some(reason),
        rules: Vec::new(),
        latency_us: 0,
        source: "spool",
        client_id: (!by_hookd).then(|| rec.id.clone()),
        spool_id: Some(rec.id),
        summary: parsed.as_ref().and_then(crate::event::HookEvent::summary),
        redacted: Vec::new(),
        touch_session: true,
        fail_mode: None,
        checked_through: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a new temporary directory (kept as long as the guard).
    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("x.db"),
            &dir.path().join("spool"),
            false,
            None,
        )
        .unwrap();
        (dir, store)
    }

    fn rec(n: i64) -> EventRecord {
        EventRecord {
            time_ms: n,
            session_id: Some("s".into()),
            event: "Stop".into(),
            payload: b"{}".to_vec(),
            verdict: "none".into(),
            source: "socket",
            ..EventRecord::default()
        }
    }

    #[test]
    fn records_are_committed_before_the_ack_and_counted() {
        let (_dir, store) = temp_store();
        store.record_blocking((0..10).map(rec).collect()).unwrap();
        assert_eq!(store.stats().events_total.load(Ordering::Relaxed), 10);
        let rows = store
            .query_events(&EventQuery {
                session: Some("s".into()),
                limit: 3,
                ..EventQuery::default()
            })
            .unwrap();
        assert_eq!(
            rows.iter().map(|r| r.time_ms).collect::<Vec<_>>(),
            vec![9, 8, 7]
        );
    }

    #[test]
    fn concurrent_callers_each_see_their_events_committed_once() {
        let (_dir, store) = temp_store();
        // Recent times: the retention rounds below must not prune them.
        let base = now_ms();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let store = &store;
                scope.spawn(move || {
                    for i in 0..200 {
                        // Every ack means committed: the row count can only be at least ours.
                        store
                            .record_blocking(vec![rec(base + t * 1000 + i)])
                            .unwrap();
                    }
                });
            }
            // Retention rounds take the connection between commits.
            scope.spawn(|| {
                for _ in 0..20 {
                    store.maintain_blocking().unwrap();
                }
            });
        });
        assert_eq!(store.stats().events_total.load(Ordering::Relaxed), 1600);
        let rows = store
            .query_events(&EventQuery {
                session: Some("s".into()),
                limit: 5000,
                ..EventQuery::default()
            })
            .unwrap();
        let mut times: Vec<i64> = rows.iter().map(|r| r.time_ms).collect();
        times.sort_unstable();
        times.dedup();
        assert_eq!(times.len(), 1600);
    }

    #[test]
    fn close_commits_what_is_queued_and_refuses_later_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let store = Store::open(&path, &dir.path().join("spool"), false, None).unwrap();
        // Queued but not yet committed: as when the caller found the connection busy.
        let pending = store.enqueue((0..5).map(rec).collect()).unwrap();
        store.close();
        assert_eq!(pending.blocking_recv().unwrap(), Ok(Recorded::Committed));
        assert_eq!(
            store.record_blocking(vec![rec(9)]),
            Err(StoreError::Stopped.to_string())
        );
        store.close();
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 5);
    }

    #[test]
    fn spool_ids_are_recorded_once() {
        let (_dir, store) = temp_store();
        let r = EventRecord {
            spool_id: Some("abc".into()),
            verdict: "fallback:ask".into(),
            ..rec(1)
        };
        store.record_blocking(vec![r.clone(), r]).unwrap();
        assert_eq!(store.count_spool_id("abc").unwrap(), 1);
        assert_eq!(store.stats().fallbacks.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        {
            let s = Store::open(&p, &dir.path().join("spool"), false, None).unwrap();
            s.record_blocking(vec![rec(1)]).unwrap();
        }
        let s = Store::open(&p, &dir.path().join("spool"), false, None).unwrap();
        assert_eq!(s.stats().events_total.load(Ordering::Relaxed), 1);
    }

    /// Makes every insert fail (the table renamed away) or work again.
    fn break_table(db: &Path, broken: bool) {
        let sql = if broken {
            "ALTER TABLE events RENAME TO events_away;"
        } else {
            "ALTER TABLE events_away RENAME TO events;"
        };
        Connection::open(db).unwrap().execute_batch(sql).unwrap();
    }

    fn rows(db: &Path) -> Vec<(String, String, Option<String>)> {
        let conn = Connection::open(db).unwrap();
        let mut st = conn
            .prepare("SELECT verdict, source, client_id FROM events ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn answered(n: i64, client_id: &str) -> EventRecord {
        EventRecord {
            verdict: "deny".into(),
            client_id: Some(client_id.into()),
            fail_mode: Some(FailMode::Ask),
            ..rec(n)
        }
    }

    #[test]
    fn a_failed_commit_goes_to_the_journal_and_into_the_store_once_it_works() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let journal = dir.path().join("journal");
        let s = Store::open(&db, &journal, false, None).unwrap();
        break_table(&db, true);
        assert_eq!(
            s.record_blocking(vec![answered(1, "a"), answered(2, "b")]),
            Ok(Recorded::Journaled)
        );
        let err = s.stats().last_error.lock().unwrap().clone().unwrap();
        assert!(
            err.contains("2 answered events kept in the emergency journal"),
            "{err}"
        );
        assert_eq!(s.stats().journal_events.load(Ordering::Relaxed), 2);
        assert!(s.move_journal_blocking().is_err(), "still broken");
        break_table(&db, false);
        s.move_journal_blocking().unwrap();
        assert_eq!(s.stats().journal_events.load(Ordering::Relaxed), 0);
        assert!(s.stats().last_error.lock().unwrap().is_none());
        assert_eq!(
            rows(&db),
            vec![
                ("deny".into(), "socket".into(), Some("a".into())),
                ("deny".into(), "socket".into(), Some("b".into()))
            ]
        );
        drop(s);
        // Nothing is moved twice: not after a restart, nor when the journal was moved but
        // not started over (a crash in between): its records' ids are in the store.
        let s = Store::open(&db, &journal, false, None).unwrap();
        assert_eq!(s.stats().events_total.load(Ordering::Relaxed), 2);
        break_table(&db, true);
        s.record_blocking(vec![answered(3, "c")]).unwrap();
        drop(s);
        let copy = dir.path().join("journal.copy");
        std::fs::copy(&journal, &copy).unwrap();
        break_table(&db, false);
        drop(Store::open(&db, &journal, false, None).unwrap());
        std::fs::copy(&copy, &journal).unwrap();
        drop(Store::open(&db, &journal, false, None).unwrap());
        assert_eq!(rows(&db).len(), 3, "{:?}", rows(&db));
    }

    #[test]
    fn events_nothing_can_record_are_not_durable_and_kept_with_their_fail_mode() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        // A directory where the journal should be: it cannot be opened.
        let journal = dir.path().join("journal");
        std::fs::create_dir(&journal).unwrap();
        let s = Store::open(&db, &journal, false, None).unwrap();
        assert!(s.stats().durability.lock().unwrap().is_some());
        break_table(&db, true);
        let err = s.record_blocking(vec![answered(1, "a")]).unwrap_err();
        assert!(err.contains("cannot open the emergency journal"), "{err}");
        assert_eq!(s.stats().not_durable.load(Ordering::Relaxed), 1);
        assert_eq!(s.stats().pending.load(Ordering::Relaxed), 1);
        let le = s.stats().last_error.lock().unwrap().clone().unwrap();
        assert!(
            le.contains("answered by their fail mode, 1 held in memory"),
            "{le}"
        );
        break_table(&db, false);
        s.record_blocking(vec![answered(2, "b")]).unwrap();
        // The background thread commits what was held once a small write works.
        let start = std::time::Instant::now();
        while s.stats().pending.load(Ordering::Relaxed) > 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "held events not retried"
            );
            #[allow(clippy::disallowed_methods)] // a plain test thread, not a tokio worker
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(s.stats().last_error.lock().unwrap().is_none());
        // Recorded as answered: by the fail mode, not with the verdict it could not keep.
        let r = rows(&db);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.contains(&("error:ask".into(), "socket".into(), Some("a".into()))));
        assert!(r.contains(&("deny".into(), "socket".into(), Some("b".into()))));
    }

    fn spooled(id: &str, time_ms: i64) -> SpoolRecord {
        SpoolRecord {
            id: id.into(),
            time_ms: u64::try_from(time_ms).unwrap(),
            reason: "no answer from hookd".into(),
            answered: "ask".into(),
            event: br#"{"hook_event_name":"Stop","session_id":"s"}"#.to_vec(),
            ..SpoolRecord::default()
        }
    }

    /// A client id as hook-client makes it, for a client started at `ms`.
    fn client_id(ms: i64, pid: u32) -> String {
        format!("{:x}-{pid:x}", i128::from(ms) * 1_000_000)
    }

    #[test]
    fn a_spooled_copy_of_a_committed_event_is_dropped_and_counted() {
        let (dir, s) = temp_store();
        let db = dir.path().join("x.db");
        let t = now_ms();
        let id = client_id(t - 30, 77);
        // hookd committed it, then died before replying; the client spooled it.
        s.record_blocking(vec![answered(t, &id)]).unwrap();
        let other = client_id(t - 10, 78);
        s.record_blocking(vec![
            from_spool(spooled(&id, t + 2000)),
            from_spool(spooled(&other, t + 2000)),
        ])
        .unwrap();
        let r = rows(&db);
        assert_eq!(
            r,
            vec![
                ("deny".into(), "socket".into(), Some(id)),
                ("fallback:ask".into(), "spool".into(), Some(other))
            ]
        );
        assert_eq!(s.stats().duplicates_dropped.load(Ordering::Relaxed), 1);
        assert_eq!(s.stats().fallbacks.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn spooled_copies_are_found_before_the_commit_and_in_it() {
        let (dir, s) = temp_store();
        let t = now_ms();
        let (a, b) = (client_id(t - 30, 1), client_id(t - 20, 2));
        s.record_blocking(vec![answered(t, &a)]).unwrap();
        let recs = s
            .drop_recorded(vec![
                from_spool(spooled(&a, t + 100)),
                from_spool(spooled(&b, t + 100)),
            ])
            .unwrap();
        assert_eq!(recs.len(), 1, "a's copy is dropped before the commit");
        // b's original is committed after the lookup (hookd was still answering it when its
        // client gave up): the commit checks the rows added since and finds it.
        s.record_blocking(vec![answered(t + 50, &b)]).unwrap();
        s.record_blocking(recs).unwrap();
        assert_eq!(
            rows(&dir.path().join("x.db")),
            vec![
                ("deny".into(), "socket".into(), Some(a)),
                ("deny".into(), "socket".into(), Some(b))
            ]
        );
        assert_eq!(s.stats().duplicates_dropped.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn an_event_committed_after_its_spooled_copy_is_dropped() {
        let (dir, s) = temp_store();
        let t = now_ms();
        let id = client_id(t - 3000, 90);
        // The client gave up and its copy was recorded while hookd was still answering.
        s.record_blocking(vec![from_spool(spooled(&id, t - 1000))])
            .unwrap();
        s.record_blocking(vec![answered(t - 2500, &id)]).unwrap();
        assert_eq!(rows(&dir.path().join("x.db")).len(), 1);
        assert_eq!(s.stats().duplicates_dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn spool_records_hookd_wrote_itself_keep_its_verdict() {
        let mut r = spooled("hookd-18a2b3c4d5e6f708-3039-1700000000000", 1);
        r.answered = "deny".into();
        let e = from_spool(r);
        assert_eq!(e.verdict, "deny");
        assert_eq!(e.client_id, None);
        let e = from_spool(spooled("18a2b3c4d5e6f708-3039-3e8", 1));
        assert_eq!(e.verdict, "fallback:ask");
        assert_eq!(e.client_id.as_deref(), Some("18a2b3c4d5e6f708-3039-3e8"));
    }

    #[test]
    fn a_delivery_window_runs_from_the_client_start_to_its_spooling() {
        let t = 1_700_000_000_000;
        assert_eq!(
            delivery_window(&client_id(t - 2000, 5), t),
            (t - 2000 - DELIVERY_SLACK_MS, t + DELIVERY_SLACK_MS)
        );
        // Ids of another form (or a start after the spooling) get the widest window.
        let widest = (
            t - MAX_DELIVERY_MS - DELIVERY_SLACK_MS,
            t + DELIVERY_SLACK_MS,
        );
        assert_eq!(delivery_window("not-hex", t), widest);
        assert_eq!(delivery_window(&client_id(t + 60_000, 5), t), widest);
    }
}
