//! Group commit: events are queued, and whoever finds the write connection free commits
//! everything queued so far in one transaction, without a writer thread (an uncontended event
//! is committed by the task that evaluated it, with no thread hand-off; under load one caller
//! commits for many). Each caller's ack is answered once its events are committed, journaled
//! ([`super::recover`]) or known not to be durable.
//!
//! Must not wait on anything but the write connection: no reads, no network, no lock held
//! across an await. What to do when a commit fails is [`super::recover`]'s job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::insert::{Inserted, MAX_DELIVERY_MS, insert_all};
use super::recover::{is_corrupt, quarantine, quarantine_note};
use super::{
    EventRecord, Recorded, Retention, RunRecord, Store, StoreError, StoreStats, journal, lock,
};
use crate::clock::now_ms;

/// Events committed in one transaction at most (a longer queue is committed in several).
pub(super) const MAX_GROUP: usize = 1024;

/// Answered once the records are durable ([`Recorded`]), or with why they are not.
pub(super) type Ack = oneshot::Sender<Result<Recorded, StoreError>>;

/// Events waiting for a commit. Each ack is answered once its record (and every record
/// queued before it) is committed or journaled, or cannot be.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) recs: Vec<(EventRecord, Option<Ack>)>,
    /// `run` rule executions: written with the next commit, not acknowledged.
    pub(super) runs: Vec<RunRecord>,
    /// Allow-once grants used (row id, time): written with the next commit, before its
    /// events.
    pub(super) allow_uses: Vec<(i64, i64)>,
    /// Fleet sink cursors (sink → (store_id, last delivered id)): written with the next
    /// commit, not acknowledged ([`super::outbox`]).
    pub(super) cursors: HashMap<String, (String, i64)>,
    pub(super) closed: bool,
}

/// What the store's callers share: the queue and the write connection.
pub(super) struct Shared {
    pub(super) queue: Mutex<Queue>,
    /// Events being evaluated that will be recorded soon ([`Store::expect`]).
    pub(super) expected: AtomicUsize,
    /// `None` once the store is closed.
    pub(super) writer: Mutex<Option<Writer>>,
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

impl Store {
    /// [`Store::record_many`] for one event (the tests' shorthand).
    ///
    /// # Errors
    ///
    /// As [`Store::record_many`].
    #[cfg(test)]
    pub async fn record(&self, rec: EventRecord) -> Result<Recorded, StoreError> {
        self.record_many(vec![rec]).await
    }

    /// Records events (in order, one ack) and waits until all are committed (or, after a
    /// failed commit, in the emergency journal). Commits on the calling thread when no other
    /// commit is running (tens of µs without fsync); otherwise the running commit's owner
    /// takes them in its next group.
    ///
    /// # Errors
    ///
    /// Why the events are not durable (neither committed nor journaled: the caller must not
    /// claim they are; they are held in memory and retried), or [`StoreError::Stopped`].
    pub async fn record_many(&self, recs: Vec<EventRecord>) -> Result<Recorded, StoreError> {
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
        done.await.map_err(|_| StoreError::Stopped)?
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
    /// As [`Store::record_many`].
    pub fn record_blocking(&self, recs: Vec<EventRecord>) -> Result<Recorded, StoreError> {
        super::assert_may_block();
        let done = self.enqueue(recs)?;
        self.shared.drain();
        done.blocking_recv().map_err(|_| StoreError::Stopped)?
    }

    /// Queues `recs`; the receiver is answered when the last of them is committed.
    pub(super) fn enqueue(
        &self,
        recs: Vec<EventRecord>,
    ) -> Result<oneshot::Receiver<Result<Recorded, StoreError>>, StoreError> {
        let (ack, done) = oneshot::channel();
        let mut q = lock(&self.shared.queue);
        if q.closed {
            return Err(StoreError::Stopped);
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
}

impl Shared {
    /// Commits everything queued, in groups, unless another caller is committing already: that
    /// one looks at the queue again after it lets go of the connection, so nothing queued is
    /// left behind.
    pub(super) fn drain(&self) {
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
                let (mut batch, runs, uses, cursors) = {
                    let mut q = lock(&self.queue);
                    let batch = if q.recs.len() <= MAX_GROUP {
                        std::mem::take(&mut q.recs)
                    } else {
                        let rest = q.recs.split_off(MAX_GROUP);
                        std::mem::replace(&mut q.recs, rest)
                    };
                    (
                        batch,
                        std::mem::take(&mut q.runs),
                        std::mem::take(&mut q.allow_uses),
                        std::mem::take(&mut q.cursors),
                    )
                };
                if batch.is_empty() && runs.is_empty() && uses.is_empty() && cursors.is_empty() {
                    break;
                }
                if !cursors.is_empty() {
                    writer.write_cursors(&cursors);
                }
                if !runs.is_empty() {
                    writer.insert_runs(&runs);
                }
                if !uses.is_empty() {
                    writer.write_allow_uses(&uses);
                }
                if !batch.is_empty() {
                    writer.commit(&mut batch);
                }
            }
            drop(guard);
            // A record queued after the last look, whose caller found the connection busy.
            let q = lock(&self.queue);
            if q.recs.is_empty()
                && q.runs.is_empty()
                && q.allow_uses.is_empty()
                && q.cursors.is_empty()
            {
                return;
            }
        }
    }

    /// Runs `f` on the write connection (after a running commit), then commits what was
    /// queued meanwhile.
    pub(super) fn with_writer<R>(&self, f: impl FnOnce(&mut Writer) -> R) -> Option<R> {
        let r = lock(&self.writer).as_mut().map(f);
        self.drain();
        r
    }
}

/// The write connection and what a commit needs.
pub(super) struct Writer {
    pub(super) conn: Connection,
    /// The database path and the identity of the file `conn` has open.
    pub(super) path: PathBuf,
    pub(super) file: Option<(u64, u64)>,
    /// Open the file again before the next commit (the last one failed).
    pub(super) stale: bool,
    pub(super) synchronous_full: bool,
    /// Events neither committed nor journaled (their callers answered by the fail mode):
    /// retried with every commit, and every second by the background thread.
    pub(super) pending: Vec<EventRecord>,
    pub(super) stats: Arc<StoreStats>,
    pub(super) metrics: Option<Arc<crate::metrics::Metrics>>,
    pub(super) retention: Retention,
    /// Where events go when a commit fails; `None` when it could not be opened
    /// (`journal_error` says why).
    pub(super) journal: Option<journal::Journal>,
    pub(super) journal_error: Option<String>,
    /// Client ids of spooled events recorded since start, with their spooling time: an event
    /// hookd answers (or moves from the journal) after its spooled copy was recorded is that
    /// copy's duplicate. Empty unless the spool held events hookd was still answering.
    pub(super) ingested: HashMap<String, i64>,
    /// Why events were last answered by the fail mode, until events can be recorded again.
    pub(super) undurable: Option<String>,
    /// The read connections, closed whenever this connection is opened again.
    pub(super) readers: Arc<super::Readers>,
    /// The fleet sinks configured (retention holds what they have not delivered).
    pub(super) sinks: Vec<String>,
    /// Poked after each commit that added events (the forwarder's sinks).
    pub(super) wake: Vec<Arc<tokio::sync::Notify>>,
}

impl Writer {
    /// Inserts `recs` in one transaction, following the file to a new one (deleted, replaced)
    /// and moving a corrupt one aside first.
    pub(super) fn insert<'a>(
        &mut self,
        recs: impl Iterator<Item = &'a EventRecord> + Clone,
    ) -> Result<Inserted, StoreError> {
        self.follow_file()?;
        match insert_all(&mut self.conn, recs.clone(), &self.ingested) {
            // Corrupt: keep the damaged file for recovery, start a new one, retry once.
            Err(e) if is_corrupt(&e) => match quarantine(&self.path) {
                Ok(aside) => {
                    self.stats
                        .set_incident(quarantine_note(&self.path, &aside, &e));
                    self.reopen()?;
                    insert_all(&mut self.conn, recs, &self.ingested).map_err(StoreError::Write)
                }
                Err(io) => Err(StoreError::Quarantine {
                    path: self.path.clone(),
                    corrupt: e,
                    source: io,
                }),
            },
            other => other.map_err(StoreError::Write),
        }
    }

    /// Counts what a successful insert did and clears the store error.
    pub(super) fn inserted(&mut self, done: Inserted) {
        if done.inserted > 0 {
            self.stats
                .last_id
                .store(self.conn.last_insert_rowid(), Ordering::Relaxed);
            self.wake_sinks();
        }
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

    pub(super) fn commit(&mut self, batch: &mut Vec<(EventRecord, Option<Ack>)>) {
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
            Err(e) => self.commit_failed(batch, &Arc::new(e)),
        }
        self.stats
            .pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
        self.refresh_durability();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{rec, temp_store};
    use hook_protocol::EventQuery;
    use rusqlite::Connection;

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
        assert!(matches!(
            pending.blocking_recv().unwrap(),
            Ok(Recorded::Committed)
        ));
        assert!(matches!(
            store.record_blocking(vec![rec(9)]),
            Err(StoreError::Stopped)
        ));
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
}
