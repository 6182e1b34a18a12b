//! Recovering from failures: a commit that fails sends its events to the emergency journal
//! (and, when even that fails, tells the callers they are not durable and holds the events in
//! memory for retry); the journal is moved into the store once it takes writes again; a
//! database file deleted or replaced while hookd runs is followed, a corrupt one moved aside
//! (kept for recovery) and replaced. Each incident is kept for `hookctl stats` and `doctor`.
//!
//! Must not lose or duplicate an answered event, and must not block a commit longer than one
//! bounded batch: the background thread ([`super::chores`]) drives the retries.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::commit::{Ack, MAX_GROUP, Writer};
use super::schema::{LAST_MIGRATION, configure_writer, open_connection};
use super::{EventRecord, Recorded, Store, StoreError, journal, lock, sqlite};
use crate::clock::now_ms;

/// Events held in memory when neither the store nor the emergency journal can take them
/// (~1 KiB each).
pub(super) const MAX_PENDING: usize = 100_000;

/// The identity (device, inode) of the file at `path`, to notice it deleted or replaced.
pub(super) fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether SQLite says the file is damaged or not a database at all.
pub(super) fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
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
pub(super) fn utc_now() -> String {
    crate::clock::utc(now_ms()).replacen(' ', "T", 1) + "Z"
}

pub(super) fn quarantine_note(path: &Path, aside: &Path, e: &dyn std::fmt::Display) -> String {
    format!(
        "{} was corrupt ({e}); moved aside to {} and a new store started at {} (recover older \
         events with `sqlite3 {} .recover`)",
        path.display(),
        aside.display(),
        utc_now(),
        aside.display()
    )
}

impl Store {
    /// Moves every event in the emergency journal into the store (a blocking thread; spool
    /// ingestion calls it first, so that a spooled copy of a journaled event finds it).
    ///
    /// # Errors
    ///
    /// The commit error (the rest stays in the journal), or [`StoreError::Stopped`].
    pub fn move_journal_blocking(&self) -> Result<(), StoreError> {
        super::assert_may_block();
        loop {
            match self.shared.with_writer(Writer::move_journal) {
                None => return Err(StoreError::Stopped),
                Some(Ok(true)) => {}
                Some(Ok(false)) => return Ok(()),
                Some(Err(e)) => return Err(e),
            }
        }
    }
}

impl Writer {
    /// Notices the database file deleted or replaced since it was opened and opens the one at
    /// the path now (creating it), so commits never go to a file no one will read again.
    pub(super) fn follow_file(&mut self) -> Result<(), StoreError> {
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
            Some(what) => StoreError::Vanished {
                path: self.path.clone(),
                what,
                source: Box::new(e),
            },
            None => e,
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
    pub(super) fn reopen(&mut self) -> Result<(), StoreError> {
        // Close the old connection first: SQLite shares one shared-memory (-shm) mapping per
        // file within a process, and one opened read-only would keep the new one read-only.
        self.conn = Connection::open_in_memory().map_err(sqlite(&self.path))?;
        // The read connections too (the same shared memory), and those opened on the old file.
        self.readers.invalidate();
        let conn = open_connection(&self.path, self.synchronous_full)?;
        configure_writer(&conn).map_err(sqlite(&self.path))?;
        let (total, fallbacks): (u64, u64) = conn
            .query_row(
                &format!(
                    "SELECT count(*), count(*) FILTER (WHERE {}) FROM events",
                    crate::verdict::Verdict::FALLBACK_SQL
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sqlite(&self.path))?;
        self.stats.events_total.store(total, Ordering::Relaxed);
        self.stats.fallbacks.store(fallbacks, Ordering::Relaxed);
        super::outbox::publish_file(&self.stats, &conn);
        self.conn = conn;
        self.file = file_id(&self.path);
        self.stale = false;
        Ok(())
    }

    /// Commits the events held in memory, if any (the background thread, once the store
    /// takes writes).
    pub(super) fn retry_pending(&mut self) {
        if !self.pending.is_empty() {
            let mut batch = self.pending.drain(..).map(|r| (r, None)).collect();
            self.commit(&mut batch);
        }
    }

    /// Whether the store takes writes. After a failure, a small write (the schema version
    /// again) proves it before anything larger is tried (events held in memory, the journal:
    /// re-inserting thousands of events that cannot be committed would only burn CPU); with
    /// nothing else waiting, it clears the error without waiting for the next event.
    pub(super) fn writable(&mut self) -> bool {
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
    pub(super) fn keep_reserve(&mut self) {
        if let Some(j) = &mut self.journal {
            j.retry_reserve();
        }
        self.refresh_durability();
    }

    /// Moves one batch of the emergency journal into the store. Returns whether more is left.
    pub(super) fn move_journal(&mut self) -> Result<bool, StoreError> {
        let Some(j) = &self.journal else {
            return Ok(false);
        };
        if j.held() == 0 {
            return Ok(false);
        }
        let (recs, to) = j
            .next_batch(MAX_GROUP)
            .map_err(|source| StoreError::Journal {
                action: "reading",
                path: j.path().to_path_buf(),
                source,
            })?;
        let n = recs.len() as u64;
        match self.insert(recs.iter()) {
            Ok(done) => {
                tracing::info!(events = n, "journaled events moved into the store");
                self.inserted(done);
                let left = self.journal.as_mut().map_or(Ok(0), |j| {
                    j.moved(to, n)
                        .map(|()| j.held())
                        .map_err(|source| StoreError::Journal {
                            action: "starting over",
                            path: j.path().to_path_buf(),
                            source,
                        })
                });
                self.refresh_durability();
                left.map(|left| left > 0)
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
    pub(super) fn refresh_durability(&mut self) {
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

    /// After a failed commit: each caller's events go to the emergency journal (one write per
    /// caller: all of them, or none); what the journal cannot take is not durable, its callers
    /// are told so (they answer by the fail mode) and the events wait in memory, recorded with
    /// the verdict given. Events from the spool or the journal are still there: left alone.
    pub(super) fn commit_failed(
        &mut self,
        batch: &mut Vec<(EventRecord, Option<Ack>)>,
        e: &Arc<StoreError>,
    ) {
        // Open the file again before the next commit: a connection that failed (read only,
        // I/O error) may not recover by itself once the cause is gone.
        self.stale = true;
        let n = batch.len();
        tracing::error!(error = %e, events = n, "store write failed; journaling events");
        let mut outcome: Vec<Option<Result<Recorded, StoreError>>> = (0..n).map(|_| None).collect();
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
                Err(StoreError::NotDurable {
                    cause: Arc::clone(e),
                    journal: None,
                })
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
                        Err(StoreError::NotDurable {
                            cause: Arc::clone(e),
                            journal: Some(why),
                        })
                    }
                }
            };
            outcome[i] = Some(result);
        }
        let mut dropped = 0u64;
        // Answered once the store's error says why (below): a caller told `Journaled` may look
        // at the status at once.
        let mut answers = Vec::new();
        for (k, ((mut rec, ack), lost)) in batch.drain(..).zip(lost).enumerate() {
            if lost {
                if let Some(mode) = rec.fail_mode {
                    rec.verdict = crate::verdict::Verdict::Error(mode);
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
                answers.push((a, o));
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
        for (a, o) in answers {
            let _ = a.send(o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{answered, break_table, rows};

    #[test]
    fn a_failed_commit_goes_to_the_journal_and_into_the_store_once_it_works() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let journal = dir.path().join("journal");
        let s = Store::open(&db, &journal, false, None).unwrap();
        break_table(&db, true);
        assert!(matches!(
            s.record_blocking(vec![answered(1, "a"), answered(2, "b")]),
            Ok(Recorded::Journaled)
        ));
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
        // The caller learns both causes: the failed commit and why the journal could not help.
        let StoreError::NotDurable {
            cause,
            journal: Some(journal),
        } = &err
        else {
            panic!("not a NotDurable error: {err:?}");
        };
        assert!(matches!(**cause, StoreError::Write(_)), "{cause:?}");
        assert!(
            journal.contains("cannot open the emergency journal"),
            "{journal}"
        );
        assert!(
            err.to_string().starts_with(
                "store write failed: no such table: events; cannot open the emergency journal"
            ),
            "{err}"
        );
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
}
