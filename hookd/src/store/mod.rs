//! The SQLite store. Events are queued, and whoever finds the write connection free commits
//! everything queued so far in one transaction (group commit without a writer thread: an
//! uncontended event is committed by the task that evaluated it, with no thread hand-off; under
//! load one caller commits for many). A caller is told its event is committed before hookd
//! replies to the client, so an event whose verdict was delivered survives `kill -9` (WAL,
//! `synchronous=NORMAL`; `full` also survives power loss). Checkpoints and retention run on a
//! background thread, retention in short bounded steps between commits.
//!
//! When a commit fails (full disk, read-only file system), the events go to the spool and are
//! ingested again later; when the spool cannot be written either, they wait in memory (bounded)
//! and are retried: nothing recorded is lost. A database file deleted or replaced while hookd
//! runs is noticed before the next commit and a new store is started at the path; a corrupt
//! one (at start or on a commit) is moved aside, kept for recovery, and replaced by a new one.
//! Each such incident is reported in `hookctl stats` and `doctor`. Never sees protocol request
//! types.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use hook_protocol::spool::{self, SpoolRecord};
use hook_protocol::{EventQuery, EventRow, HookEnv, SessionRow};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::now_ms;

pub mod runs;
pub use runs::RunRecord;

/// Numbered migrations, applied in order; `PRAGMA user_version` records the last applied.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_sessions.sql")),
    (3, include_str!("migrations/0003_query.sql")),
    (4, include_str!("migrations/0004_lean_writes.sql")),
    (5, include_str!("migrations/0005_runs.sql")),
];

/// Events committed in one transaction at most (a longer queue is committed in several).
const MAX_GROUP: usize = 1024;
/// Events held in memory when neither the store nor the spool can take them (~1 KiB each).
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
    /// The spool record id, for exactly-once ingestion.
    pub spool_id: Option<String>,
    /// A short summary (command, path, prompt excerpt), already redacted.
    pub summary: Option<String>,
    /// Kinds redacted from the payload.
    pub redacted: Vec<String>,
    /// Whether to write the session's row (first sight, start/end, or every few seconds).
    pub touch_session: bool,
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

type Ack = oneshot::Sender<Result<(), String>>;

/// Events waiting for a commit. Each ack is answered once its record (and every record
/// queued before it) is committed or spooled.
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
    /// Events waiting in memory because neither the store nor the spool could take them.
    pub pending: AtomicU64,
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
    crate::utc(now_ms()).replacen(' ', "T", 1) + "Z"
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
    /// Opens the store and starts its background thread. Failed commits go to `spool_path`.
    ///
    /// # Errors
    ///
    /// See [`open_connection`].
    pub fn open(
        path: &Path,
        spool_path: &Path,
        synchronous_full: bool,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Result<Self, StoreError> {
        Self::open_with(
            path,
            spool_path,
            synchronous_full,
            metrics,
            Retention::default(),
        )
    }

    /// [`Store::open`] with a retention policy.
    ///
    /// # Errors
    ///
    /// See [`open_connection`].
    pub fn open_with(
        path: &Path,
        spool_path: &Path,
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
        // keep hookd from answering either: it starts without one, events go to the spool,
        // `status` says why, and every commit tries to open it again.
        let (conn, file) = match opened {
            Ok((conn, total, fallbacks)) => {
                stats.events_total.store(total, Ordering::Relaxed);
                stats.fallbacks.store(fallbacks, Ordering::Relaxed);
                (conn, file_id(path))
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot open the store; answering anyway and spooling events until it opens");
                if let Ok(mut le) = stats.last_error.lock() {
                    *le = Some(format!("cannot open the store: {e}"));
                }
                // A stand-in nothing is written to: `follow_file` sees no file and reopens.
                let conn = Connection::open_in_memory().map_err(sqlite(path))?;
                (conn, None)
            }
        };
        configure_writer(&conn).map_err(sqlite(path))?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            expected: AtomicUsize::new(0),
            writer: Mutex::new(Some(Writer {
                conn,
                file,
                stale: false,
                path: path.to_path_buf(),
                synchronous_full,
                pending: Vec::new(),
                stats: Arc::clone(&stats),
                spool: spool_path.to_path_buf(),
                metrics,
                retention,
            })),
        });
        let (tx, rx) = mpsc::channel();
        let handle = spawn_chores(path, Arc::clone(&shared), rx).map_err(|e| StoreError::Dir {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(Self {
            shared,
            path: path.to_path_buf(),
            stats,
            chores: Mutex::new(Some((tx, handle))),
        })
    }

    /// Records one event and waits until it is committed (or spooled after a failed commit).
    /// Commits on the calling thread when no other commit is running (tens of µs without
    /// fsync); otherwise the running commit's owner takes it in its next group.
    ///
    /// # Errors
    ///
    /// The commit error (the event was then spooled), or [`StoreError::Stopped`].
    pub async fn record(&self, rec: EventRecord) -> Result<(), String> {
        self.record_many(vec![rec]).await
    }

    /// Records events (in order, one ack) and waits until all are committed.
    ///
    /// # Errors
    ///
    /// As [`Store::record`].
    pub async fn record_many(&self, recs: Vec<EventRecord>) -> Result<(), String> {
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
    ///
    /// # Errors
    ///
    /// As [`Store::record`].
    pub fn record_blocking(&self, recs: Vec<EventRecord>) -> Result<(), String> {
        let done = self.enqueue(recs)?;
        self.shared.drain();
        done.blocking_recv()
            .map_err(|_| StoreError::Stopped.to_string())?
    }

    /// Queues `recs`; the receiver is answered when the last of them is committed.
    fn enqueue(
        &self,
        recs: Vec<EventRecord>,
    ) -> Result<oneshot::Receiver<Result<(), String>>, String> {
        let (ack, done) = oneshot::channel();
        let mut q = lock(&self.shared.queue);
        if q.closed {
            return Err(StoreError::Stopped.to_string());
        }
        let n = recs.len();
        if n == 0 {
            let _ = ack.send(Ok(()));
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

    /// Whether `rule` matched an event of `project` at or after `since_ms`.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn rule_matched_since(
        &self,
        rule: &str,
        project: &str,
        since_ms: i64,
    ) -> Result<bool, StoreError> {
        let conn = self.reader()?;
        let pattern = format!("%{}%", serde_json::to_string(rule).unwrap_or_default());
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE project_dir = ?1 AND time_ms >= ?2 AND rules LIKE ?3)",
            params![project, since_ms, pattern],
            |r| r.get(0),
        )
        .map_err(sqlite(&self.path))
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

/// The background thread: a passive checkpoint every second (it never blocks a commit; once
/// it has copied every frame back, SQLite starts the WAL over from its beginning, so the file
/// stays bounded), and retention every [`MAINTENANCE_EVERY`] (sooner while there is more to
/// prune) or when asked. Ends when the store closes (the sender is dropped).
fn spawn_chores(
    path: &Path,
    shared: Arc<Shared>,
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
                    next_checkpoint = now + std::time::Duration::from_secs(1);
                    checkpoint(&mut checkpointer, &shared, &wal);
                    shared.with_writer(Writer::retry_pending);
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
    /// Events neither committed nor spooled: retried with every commit, and every second by
    /// the background thread.
    pending: Vec<EventRecord>,
    stats: Arc<StoreStats>,
    spool: PathBuf,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    retention: Retention,
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

    /// Commits the events held in memory, if any (the background thread, every second).
    fn retry_pending(&mut self) {
        if !self.pending.is_empty() {
            self.commit(&mut Vec::new());
        }
    }

    fn commit(&mut self, batch: &mut Vec<(EventRecord, Option<Ack>)>) {
        // Events held in memory ride along with the next commit.
        batch.extend(self.pending.drain(..).map(|r| (r, None)));
        let t0 = std::time::Instant::now();
        let result = match self.follow_file() {
            Err(e) => Err(e),
            Ok(()) => match insert_all(&mut self.conn, batch.iter().map(|(r, _)| r)) {
                // Corrupt: keep the damaged file for recovery, start a new one, retry once.
                Err(e) if is_corrupt(&e) => match quarantine(&self.path) {
                    Ok(aside) => {
                        self.stats
                            .set_incident(quarantine_note(&self.path, &aside, &e));
                        self.reopen().map_err(|e| e.to_string()).and_then(|()| {
                            insert_all(&mut self.conn, batch.iter().map(|(r, _)| r))
                                .map_err(|e| e.to_string())
                        })
                    }
                    Err(io) => Err(format!("{e} (moving it aside failed: {io})")),
                },
                other => other.map_err(|e| e.to_string()),
            },
        };
        if let Some(m) = &self.metrics {
            m.record_store_write(t0.elapsed());
        }
        let outcome = match result {
            Ok((inserted, fallbacks)) => {
                self.stats
                    .events_total
                    .fetch_add(inserted, Ordering::Relaxed);
                self.stats.fallbacks.fetch_add(fallbacks, Ordering::Relaxed);
                if let Ok(mut e) = self.stats.last_error.lock() {
                    *e = None;
                }
                Ok(())
            }
            Err(e) => {
                // Open the file again before the next commit: a connection that failed (read
                // only, I/O error) may not recover by itself once the cause is gone.
                self.stale = true;
                let mut msg = format!("store write failed: {e}");
                tracing::error!(error = %e, events = batch.len(), "store write failed; spooling events");
                let mut spool_error = None;
                let mut dropped = 0u64;
                for (rec, _) in batch.iter() {
                    // Events read from the spool are still in the file being ingested, which
                    // is kept until they commit: spooling them again would repeat them.
                    if rec.source == "spool" {
                        continue;
                    }
                    if let Err(se) = spool::append(&self.spool, &to_spool(rec, &msg)) {
                        if self.pending.len() < MAX_PENDING {
                            self.pending.push(rec.clone());
                        } else {
                            dropped += 1;
                        }
                        spool_error = Some(se);
                    }
                }
                if let Some(se) = spool_error {
                    tracing::error!(error = %se, held = self.pending.len(), dropped, "spooling after a failed store write failed too; holding events in memory");
                    msg.push_str(&format!(
                        "; the spool {} failed too ({se}): {} events held in memory for retry",
                        self.spool.display(),
                        self.pending.len()
                    ));
                    if dropped > 0 {
                        msg.push_str(&format!(", {dropped} dropped (memory bound reached)"));
                    }
                }
                if let Ok(mut le) = self.stats.last_error.lock() {
                    *le = Some(msg.clone());
                }
                Err(msg)
            }
        };
        self.stats
            .pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
        for (_, ack) in batch.drain(..) {
            if let Some(a) = ack {
                let _ = a.send(outcome.clone());
            }
        }
    }
}

fn insert_all<'a>(
    conn: &mut Connection,
    recs: impl Iterator<Item = &'a EventRecord>,
) -> rusqlite::Result<(u64, u64)> {
    let tx = conn.transaction()?;
    let (mut inserted, mut fallbacks) = (0, 0);
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
                latency_us, source, spool_id, summary, redacted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for r in recs {
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
            ])?;
            inserted += n as u64;
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
                fallbacks += 1;
            }
        }
    }
    tx.commit()?;
    Ok((inserted, fallbacks))
}

fn to_spool(rec: &EventRecord, reason: &str) -> SpoolRecord {
    SpoolRecord {
        id: rec.spool_id.clone().unwrap_or_else(|| {
            format!(
                "hookd-{:x}-{:x}-{}",
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos(),
                std::process::id(),
                rec.time_ms
            )
        }),
        time_ms: u64::try_from(rec.time_ms).unwrap_or_default(),
        reason: reason.to_string(),
        answered: rec.verdict.clone(),
        event: rec.payload.clone(),
        truncated_from: None,
        env: HookEnv {
            project_dir: rec.project_dir.clone(),
            session_id: rec.session_id.clone(),
            cwd: None,
        },
    }
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
    let answered = if rec.answered.contains(':')
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
        spool_id: Some(rec.id),
        summary: parsed.as_ref().and_then(crate::event::HookEvent::summary),
        redacted: Vec::new(),
        touch_session: true,
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
        assert_eq!(pending.blocking_recv().unwrap(), Ok(()));
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

    #[test]
    fn failed_commit_spools_the_events() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        let spool_path = dir.path().join("spool");
        let s = Store::open(&p, &spool_path, false, None).unwrap();
        // Break the table under the writer: every insert now fails.
        Connection::open(&p)
            .unwrap()
            .execute_batch("DROP TABLE events;")
            .unwrap();
        let err = s.record_blocking(vec![rec(1)]).unwrap_err();
        assert!(err.contains("store write failed"), "{err}");
        assert!(s.stats().last_error.lock().unwrap().is_some());
        let taken = spool::take(&spool_path).unwrap();
        assert_eq!(taken.records.len(), 1);
        assert_eq!(taken.records[0].answered, "none");
    }
}
