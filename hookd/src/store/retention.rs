//! Retention: events past the maximum age, or the oldest while the database is over its size
//! limit, are pruned in short transactions (commits run between them), with the runs and
//! sessions past the age; free pages are given back.
//!
//! Must not hold the write connection for more than one [`PRUNE_BATCH`] at a time, never
//! prunes what the policy keeps, and never prunes the newest event: SQLite gives a new row the
//! largest id plus one, so an empty table would hand out ids again from 1, and event ids must
//! grow for the life of the file (exports, `tail`, forwarding cursors rely on it).

use std::sync::atomic::Ordering;

use rusqlite::params;

use super::commit::{Shared, Writer};
use super::runs;
use crate::clock::now_ms;

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

/// Whether any event is older than `?1` (a lookup in the `time_ms` index).
const ANY_PAST_AGE: &str = "SELECT EXISTS (SELECT 1 FROM events WHERE time_ms < ?1)";

/// Rows deleted per prune transaction (keeps each write short so verdicts never wait long).
pub(super) const PRUNE_BATCH: i64 = 2000;

impl Shared {
    /// One bounded round of retention: at most a few short delete transactions, with the
    /// events queued meanwhile committed between them, then vacuum and optimize. Returns the
    /// rows deleted and whether there is more to prune.
    pub(super) fn maintain(&self) -> (u64, bool) {
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
}

impl Writer {
    /// One prune transaction of at most [`PRUNE_BATCH`] rows: the oldest events while the
    /// database is over its size limit, else events past the maximum age. Returns the rows
    /// deleted, `None` on error.
    pub(super) fn prune_step(&mut self) -> Option<u64> {
        match self.prune_tx() {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "pruning the store failed");
                None
            }
        }
    }

    /// [`Writer::prune_step`]'s transaction. Age pruning keeps every event a configured fleet
    /// sink has not delivered (a long outage loses nothing); the size cap still wins (the disk
    /// bound is a promise), and what it prunes undelivered is counted per sink first.
    fn prune_tx(&mut self) -> rusqlite::Result<u64> {
        let cutoff = now_ms() - self.retention.max_age_ms;
        let over_size = self.db_bytes() > self.retention.max_bytes;
        let hold = if over_size {
            i64::MAX
        } else {
            self.hold_from()?
        };
        // Nothing past the age (the usual case): the `time_ms` index says so in a lookup,
        // where the scan below would read every row in id order to find none, under the
        // write lock (a second or more with millions of events).
        if !over_size {
            let any_old: bool = self
                .conn
                .query_row(ANY_PAST_AGE, params![cutoff], |r| r.get(0))?;
            if !any_old {
                return Ok(0);
            }
        }
        let tx = self.conn.unchecked_transaction()?;
        // The newest id this step deletes (never the newest event: ids must keep growing).
        // One statement per case, each with the plan it had before the outbox (the age case
        // is also bounded by the slowest sink's cursor, `id <= hold`).
        let through: Option<i64> = if over_size {
            tx.query_row(
                "SELECT max(id) FROM (SELECT id FROM events
                   WHERE id < (SELECT max(id) FROM events) ORDER BY id LIMIT ?1)",
                params![PRUNE_BATCH],
                |r| r.get(0),
            )?
        } else {
            tx.query_row(
                "SELECT max(id) FROM (SELECT id FROM events
                   WHERE time_ms < ?2 AND id < (SELECT max(id) FROM events) AND id <= ?3
                   ORDER BY id LIMIT ?1)",
                params![PRUNE_BATCH, cutoff, hold],
                |r| r.get(0),
            )?
        };
        let Some(through) = through else {
            return Ok(0);
        };
        if over_size {
            self.count_dropped(&tx, through)?;
        }
        let n = if over_size {
            tx.execute("DELETE FROM events WHERE id <= ?1", params![through])?
        } else {
            tx.execute(
                "DELETE FROM events WHERE id <= ?1 AND time_ms < ?2",
                params![through, cutoff],
            )?
        } as u64;
        tx.commit()?;
        if over_size && n > 0 {
            // Freed pages only shrink the file after a vacuum step.
            let _ = self.conn.execute_batch("PRAGMA incremental_vacuum(2000);");
        }
        Ok(n)
    }

    /// After pruning `deleted` events: drop runs and sessions past the maximum age, give free
    /// pages back, `PRAGMA optimize`.
    pub(super) fn after_prune(&mut self, deleted: u64) {
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
        // A connection reads the statistics once, when it loads the schema, and `ANALYZE`
        // does not make others load them again: read connections kept from when the table
        // was small would go on planning `id > ?` as a scan of the whole table. They are
        // opened afresh (lazily, once a minute at most).
        self.readers.invalidate();
    }

    /// Bytes the database uses (pages in use, not counting free pages).
    pub(super) fn db_bytes(&self) -> u64 {
        self.conn
            .query_row(
                "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_or(0, |b| u64::try_from(b).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::Retention;
    use crate::store::Store;
    use crate::store::testutil::{rec, temp_store};

    /// The query plan of a kept read connection, for the outbox's batch read.
    fn reader_plan(store: &Store) -> String {
        let conn = store.readers.get().unwrap();
        conn.query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
            [1_i64, 512],
            |r| r.get(3),
        )
        .unwrap()
    }

    /// Read connections plan with the statistics the writer's last `PRAGMA optimize` made, not
    /// those they loaded when they opened: a reader kept from when the table was small planned
    /// `id > ?` as a scan of the whole table, and the fleet outbox's batch reads grew with the
    /// store (29 ms for 512 rows at id 225,000 of a PostgreSQL catch-up).
    #[test]
    fn readers_plan_with_the_statistics_of_the_last_optimize() {
        let (_dir, store) = temp_store();
        let now = crate::clock::now_ms();
        store.record_blocking(vec![rec(now)]).unwrap();
        // The statistics of a one-row table (as a store closed early in its life keeps them),
        // loaded by a read connection that stays in the pool.
        store
            .shared
            .with_writer(|w| w.conn.execute_batch("ANALYZE;"))
            .unwrap()
            .unwrap();
        assert!(
            reader_plan(&store).starts_with("SCAN"),
            "{}",
            reader_plan(&store)
        );
        // The table grows; the writer's maintenance runs `PRAGMA optimize`.
        for chunk in 0..20 {
            store
                .record_blocking((0..1000).map(|i| rec(now + chunk * 1000 + i)).collect())
                .unwrap();
        }
        store.maintain_blocking().unwrap();
        let plan = reader_plan(&store);
        assert!(plan.starts_with("SEARCH"), "{plan}");
    }

    /// Pruning every event past the age keeps the newest row, so the next event's id is larger
    /// than every id the file handed out before (it restarted at 1 when the table emptied).
    #[test]
    fn ids_keep_growing_after_everything_is_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(
            &dir.path().join("x.db"),
            &dir.path().join("journal"),
            0,
            false,
            None,
            Retention {
                max_age_ms: 1,
                max_bytes: 1 << 30,
            },
        )
        .unwrap();
        let max_id = || -> i64 {
            rusqlite::Connection::open(dir.path().join("x.db"))
                .unwrap()
                .query_row("SELECT max(id) FROM events", [], |r| r.get(0))
                .unwrap()
        };
        // Events from 1970: all far past the one-millisecond age.
        store.record_blocking((1..=5).map(rec).collect()).unwrap();
        assert_eq!(max_id(), 5);
        assert_eq!(store.maintain_blocking().unwrap(), 4, "the newest is kept");
        store.record_blocking(vec![rec(6)]).unwrap();
        assert_eq!(max_id(), 6, "an id was handed out again after a full prune");
    }

    /// Age pruning first asks the `time_ms` index whether anything is past the age: with
    /// nothing old (the usual case) it never scans the table under the write lock.
    #[test]
    fn the_age_check_is_an_index_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let _store = Store::open_with(
            &dir.path().join("x.db"),
            &dir.path().join("journal"),
            0,
            false,
            None,
            Retention::default(),
        )
        .unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("x.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::ANY_PAST_AGE))
            .unwrap()
            .query_map([0], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("USING COVERING INDEX events_time")),
            "{plan:?}"
        );
    }
}

#[cfg(test)]
mod outbox_tests {
    use std::sync::atomic::Ordering;

    use super::Retention;
    use crate::store::Store;
    use crate::store::testutil::rec;

    fn open(dir: &std::path::Path, retention: Retention) -> Store {
        Store::open_with(
            &dir.join("x.db"),
            &dir.join("journal"),
            0,
            false,
            None,
            retention,
        )
        .unwrap()
    }

    /// Age pruning stops at the slowest configured sink's cursor: an outage loses nothing.
    #[test]
    fn age_pruning_keeps_what_a_sink_has_not_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(
            dir.path(),
            Retention {
                max_age_ms: 1,
                max_bytes: 1 << 30,
            },
        );
        s.set_sinks(vec!["a".into(), "b".into()], Vec::new());
        s.record_blocking((1..=10).map(rec).collect()).unwrap();
        let (id, _, _) = s.outbox_cursor("a", None).unwrap();
        s.ack_cursor("a", &id.store_id, 8);
        s.ack_cursor("b", &id.store_id, 3);
        assert_eq!(s.maintain_blocking().unwrap(), 3, "up to b's cursor");
        s.ack_cursor("b", &id.store_id, 10);
        assert_eq!(s.maintain_blocking().unwrap(), 5, "up to a's cursor");
        assert_eq!(s.outbox_cursor("a", None).unwrap().1.dropped, 0);
    }

    /// The size cap still wins, and counts per sink what it pruned before delivery.
    #[test]
    fn the_size_cap_wins_and_counts_what_it_dropped_per_sink() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(
            dir.path(),
            Retention {
                max_age_ms: i64::MAX / 2,
                max_bytes: 1,
            },
        );
        s.set_sinks(vec!["a".into(), "b".into()], Vec::new());
        s.record_blocking((1..=10).map(rec).collect()).unwrap();
        let (id, _, _) = s.outbox_cursor("a", None).unwrap();
        s.ack_cursor("a", &id.store_id, 4);
        assert_eq!(s.maintain_blocking().unwrap(), 9);
        let (a, b) = (
            s.outbox_cursor("a", None).unwrap().1,
            s.outbox_cursor("b", None).unwrap().1,
        );
        assert_eq!((a.dropped, b.dropped), (5, 9));
        assert_eq!((a.acked_id, b.acked_id), (9, 9));
        assert_eq!(s.stats().events_total.load(Ordering::Relaxed), 1);
        // What is left is still delivered.
        let left = s.outbox_read("b", None, 10, 1 << 20).unwrap();
        assert_eq!(left.events.iter().map(|e| e.id).collect::<Vec<_>>(), [10]);
    }
}
