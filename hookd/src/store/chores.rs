//! The background thread: passive checkpoints every second (and the WAL started over after one
//! that copied everything back, so that no event's commit waits for that), the WAL truncated
//! under pressure (a tight disk or a failing store), events held in memory or in the emergency
//! journal moved into the store once it takes writes, and retention ([`super::retention`])
//! every minute or when asked.
//!
//! Must not hold the write connection longer than one bounded step at a time (commits wait for
//! it), and never creates a database file: that is the writer's job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};
#[cfg(test)]
use tokio::sync::oneshot;

#[cfg(test)]
use super::StoreError;
use super::commit::{Shared, Writer};
use super::recover::file_id;
use super::{Store, StoreStats, lock};

/// How often the writer prunes, vacuums and optimizes.
pub(super) const MAINTENANCE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Requests to the background thread.
pub(super) enum Chore {
    /// Prune and vacuum now; answers the rows deleted.
    #[cfg(test)]
    Maintain(oneshot::Sender<u64>),
}

impl Store {
    /// Runs retention now and returns the events pruned (tests).
    ///
    /// # Errors
    ///
    /// [`StoreError::Stopped`].
    #[cfg(test)]
    pub fn maintain_blocking(&self) -> Result<u64, StoreError> {
        super::assert_may_block();
        let (tx, rx) = oneshot::channel();
        lock(&self.chores)
            .as_ref()
            .ok_or(StoreError::Stopped)?
            .0
            .send(Chore::Maintain(tx))
            .map_err(|_| StoreError::Stopped)?;
        rx.blocking_recv().map_err(|_| StoreError::Stopped)
    }
}

/// A WAL past this size is brought back to its start even under sustained load (see
/// [`checkpoint`]).
pub(super) const WAL_RESET_BYTES: u64 = 16 << 20;

/// The checkpoint connection. It follows the writer to a new file (the old one was deleted,
/// replaced or moved aside, or could not be opened before) but never creates one: that is the
/// writer's job.
pub(super) struct Checkpointer {
    pub(super) path: PathBuf,
    pub(super) conn: Option<Connection>,
    pub(super) file: Option<(u64, u64)>,
    /// The write connection's count of changed rows when a checkpoint last copied the whole
    /// WAL back: while it stays the same, the WAL holds nothing to copy.
    pub(super) copied_at: Option<u64>,
}

impl Checkpointer {
    pub(super) fn connection(&mut self) -> Option<&Connection> {
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
///
/// Returns whether the whole WAL is now copied back (the next commit would start it over:
/// [`start_wal_over`]). Skipped when the write connection has changed no row since the last
/// checkpoint that copied everything: the WAL then holds nothing new to copy (at most the page
/// [`start_wal_over`] wrote, which must stay there).
pub(super) fn checkpoint(checkpointer: &mut Checkpointer, shared: &Shared, wal: &Path) -> bool {
    let changes = shared.with_writer(|w| w.conn.total_changes());
    if changes.is_some() && changes == checkpointer.copied_at {
        return false;
    }
    let Some(conn) = checkpointer.connection() else {
        return false;
    };
    // (busy, frames in the WAL, frames copied back)
    let passive = || {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
    };
    let mut counts = match passive() {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "checkpoint deferred");
            // Busy is normal; anything else (I/O, read-only) gets a fresh connection next time.
            if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
                checkpointer.conn = None;
            }
            return false;
        }
    };
    if std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_RESET_BYTES) {
        match shared.with_writer(|_| passive()) {
            Some(Ok(c)) => counts = c,
            Some(Err(e)) => tracing::debug!(error = %e, "checkpoint deferred"),
            None => {}
        }
    }
    let (frames, copied) = counts;
    let whole = frames >= 0 && copied == frames;
    if whole {
        checkpointer.copied_at = changes;
    }
    whole
}

/// Starts the WAL over now, on the background thread, after a checkpoint copied all of it back.
///
/// SQLite starts a wholly copied WAL over at the next commit, and writes the new WAL's header
/// with an fsync before its first frame (so that no frame can reach the disk ahead of the
/// header that makes it valid). That next commit would otherwise be the next event's, whose
/// answer then waits for the fsync (0.2–0.9 ms measured on the project's VM, more on a slow
/// or busy disk): in a session whose events come more than a second apart, that was nearly
/// every event. This commit of one page (`user_version` set to its own value: a write that
/// changes no row, so [`checkpoint`] does not copy it back again while nothing else is
/// written) takes the fsync instead, where no answer waits for it; the events that follow
/// append to the WAL without one.
pub(super) fn start_wal_over(shared: &Shared) {
    let started = shared.with_writer(|w| {
        if w.stale {
            return Ok(());
        }
        let v: i64 = w.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        w.conn.execute_batch(&format!("PRAGMA user_version = {v}"))
    });
    if let Some(Err(e)) = started {
        tracing::debug!(error = %e, "could not start the WAL over ahead of the next commit");
    }
}

/// Free space on the store's file system (bytes) below which the WAL is checkpointed and
/// truncated every second: a WAL kept at its full size would hold space the database needs to
/// grow into, and a checkpoint that cannot grow the database never lets the WAL start over.
pub(super) const PRESSURE_FREE_BYTES: u64 = 2 * WAL_RESET_BYTES;

/// Bytes available to this user on the file system holding `path`.
pub(super) fn free_bytes(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    #[allow(clippy::useless_conversion)] // 64-bit on Linux, 32-bit fields on macOS
    Some(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// Under pressure (a tight disk, or the last write failed): copies the WAL back and truncates
/// it to nothing, holding the write connection so no commit runs meanwhile. Gives the WAL's
/// space back to the file system; a checkpoint that cannot complete (the database cannot grow)
/// is tried again next time. Returns whether there is pressure (the background thread then
/// comes back every [`PRESSURE_TICK`]).
pub(super) fn relieve_pressure(
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
pub(super) const PRESSURE_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Journal batches moved per round at most by the background thread (queued verdicts commit
/// between batches).
pub(super) const JOURNAL_BATCHES_PER_ROUND: usize = 16;

/// The background thread: a passive checkpoint every second while rows are written (it never
/// blocks a commit; once it has copied every frame back, the WAL starts over from its
/// beginning, here rather than in the next commit: [`start_wal_over`]; so the file stays
/// bounded), the WAL truncated under pressure, events held in memory or in the emergency
/// journal committed as soon as the store takes writes again, and retention every
/// [`MAINTENANCE_EVERY`] (sooner while there is more to prune) or when asked. Ends when the
/// store closes (the sender is dropped).
pub(super) fn spawn_chores(
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
                copied_at: None,
            };
            // Prune soon after start (a store past its limits shrinks without waiting a minute).
            let start = std::time::Instant::now();
            let mut next_maintenance = start + std::time::Duration::from_secs(2);
            let mut next_checkpoint = start;
            loop {
                let wake = next_checkpoint.min(next_maintenance);
                match rx.recv_timeout(wake.saturating_duration_since(std::time::Instant::now())) {
                    #[cfg(test)]
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
                    let whole = checkpoint(&mut checkpointer, &shared, &wal);
                    let failing = lock(&stats.last_error).is_some();
                    let pressure = relieve_pressure(&mut checkpointer, &shared, &wal, failing);
                    if whole && !pressure {
                        start_wal_over(&shared);
                    }
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

#[cfg(test)]
mod tests {
    use crate::store::testutil::{rec, temp_store};
    use std::time::{Duration, Instant};

    #[allow(clippy::disallowed_methods)] // a plain test thread, not a tokio worker
    fn pause(d: Duration) {
        std::thread::sleep(d);
    }

    /// The WAL's header: its checkpoint sequence number and salts change each time SQLite
    /// starts the WAL over (and only then), and starting over is what syncs the file.
    fn wal_header(dir: &std::path::Path) -> Vec<u8> {
        use std::io::Read;
        let mut h = Vec::with_capacity(32);
        if let Ok(f) = std::fs::File::open(dir.join("x.db-wal")) {
            let _ = f.take(32).read_to_end(&mut h);
        }
        h
    }

    /// Waits until the WAL's header has stayed the same for `quiet` (rounds of the background
    /// thread passed with nothing to do), and at least until `not_before`; returns it.
    fn wait_for_quiet(dir: &std::path::Path, quiet: Duration, not_before: Instant) -> Vec<u8> {
        let until = Instant::now() + Duration::from_secs(30);
        let mut last = wal_header(dir);
        let mut since = Instant::now();
        while Instant::now() < until {
            pause(Duration::from_millis(20));
            let h = wal_header(dir);
            if h != last {
                (last, since) = (h, Instant::now());
            } else if since.elapsed() >= quiet && Instant::now() >= not_before {
                return last;
            }
        }
        panic!("the WAL kept being started over while nothing was written");
    }

    /// After the background thread's checkpoint has copied the whole WAL back, it starts the
    /// WAL over itself: the next event's commit appends to it and does not start it over (and
    /// so does not wait for the fsync that comes with that). While nothing else is written, it
    /// is not done again.
    #[test]
    fn the_wal_is_started_over_by_the_background_thread_not_by_the_next_event() {
        let (dir, store) = temp_store();
        // After the first rounds (a checkpoint at once, retention 2 s after opening, which
        // writes without changing a row).
        pause(Duration::from_millis(2300));
        store.record_blocking(vec![rec(1)]).unwrap();
        let recorded = Instant::now();
        // The next round copies it back (and starts the WAL over); then the store idles, and
        // must stay idle.
        let idle = wait_for_quiet(
            dir.path(),
            Duration::from_millis(1500),
            recorded + Duration::from_millis(1500),
        );
        // The next event appends to the WAL the background thread started for it.
        store.record_blocking(vec![rec(2)]).unwrap();
        assert_eq!(
            wal_header(dir.path()),
            idle,
            "the event's own commit started the WAL over"
        );
    }
}
