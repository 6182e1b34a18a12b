//! The outbox for fleet sinks (issue 20): the file's identity (`store_id`, the machine it was
//! last opened on, an epoch bumped when that changes), one delivery cursor per sink, and the
//! short read-only queries the forwarder makes (`crate::fleet`).
//!
//! Cursors are written by the store's single writer ([`Store::ack_cursor`] queues the update
//! and it rides along like `runs`), never by a second write connection. Each read is one short
//! transaction on a read connection, finished before the caller does any network I/O, so no
//! read pins the WAL. Retention ([`super::retention`]) keeps undelivered events from age
//! pruning and counts in `sink_cursor.dropped` what the size cap prunes before delivery.
//!
//! Must not parse payloads (the forwarder does) and knows nothing of sinks but their names.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::{Connection, OptionalExtension, params};

use super::commit::Writer;
use super::{Store, StoreError, lock, sqlite};
use crate::clock::now_ms;
use crate::fleet::OutEvent;

/// The identity of the store file events are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Random, 32 hex digits, new for every new database file.
    pub store_id: String,
    /// Bumped each time the file is opened on a machine with another machine id.
    pub epoch: u32,
}

/// One sink's cursor as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Every event with an id up to this one is delivered (or was dropped, counted).
    pub acked_id: i64,
    /// Events the size cap pruned before this sink got them.
    pub dropped: u64,
}

/// A batch read for one sink, with what its lag is made of.
#[derive(Debug, Clone)]
pub struct OutboxBatch {
    pub identity: Identity,
    /// The sink's cursor in this file.
    pub cursor: Cursor,
    /// The events after the cursor, oldest first.
    pub events: Vec<OutEvent>,
}

/// The machine's identity: `/etc/machine-id` (systemd), else the host name.
#[must_use]
pub fn machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .or_else(|| {
            ["/proc/sys/kernel/hostname", "/etc/hostname"]
                .iter()
                .filter_map(|p| std::fs::read_to_string(p).ok())
                .map(|s| s.trim().to_string())
                .find(|s| !s.is_empty())
                .map(|h| format!("host:{h}"))
        })
}

/// Records `machine` as the machine the file is open on; when the file was last opened on
/// another one (a copied or cloned image), starts a new epoch so events from the two copies
/// never share a key centrally. Runs on the write connection when it opens the file.
///
/// # Errors
///
/// SQLite errors.
pub(super) fn claim_machine(conn: &Connection, machine: &str) -> rusqlite::Result<()> {
    let recorded: Option<String> = conn
        .query_row(
            "SELECT value FROM fleet_meta WHERE key = 'machine_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match recorded {
        Some(m) if m == machine => Ok(()),
        None => conn
            .execute(
                "INSERT INTO fleet_meta (key, value) VALUES ('machine_id', ?1)",
                [machine],
            )
            .map(drop),
        Some(other) => {
            tracing::warn!(
                was = %other,
                now = %machine,
                "the store was last opened on another machine (a cloned image?): a new epoch starts"
            );
            conn.execute_batch(
                "UPDATE fleet_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'epoch'",
            )?;
            conn.execute(
                "UPDATE fleet_meta SET value = ?1 WHERE key = 'machine_id'",
                [machine],
            )
            .map(drop)
        }
    }
}

/// Publishes the file `conn` has open as the store's current one: its store id first, then its
/// newest id. A reader between the two sees the old file's newest id under the new store id,
/// which no cursor of the old file matches: it counts lag, never less.
pub(super) fn publish_file(stats: &super::StoreStats, conn: &Connection) {
    if let (Ok(identity), Ok(mut sid)) = (identity(conn), stats.store_id.lock()) {
        *sid = identity.store_id;
    }
    stats.last_id.store(max_id(conn), Ordering::Relaxed);
}

/// The newest event id in the file `conn` has open (0: none).
pub(super) fn max_id(conn: &Connection) -> i64 {
    conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))
        .unwrap_or(0)
}

fn identity(conn: &Connection) -> rusqlite::Result<Identity> {
    let mut st = conn.prepare_cached(
        "SELECT (SELECT value FROM fleet_meta WHERE key = 'store_id'),
                (SELECT CAST(value AS INTEGER) FROM fleet_meta WHERE key = 'epoch')",
    )?;
    st.query_row([], |r| {
        Ok(Identity {
            store_id: r.get(0)?,
            epoch: r.get::<_, Option<u32>>(1)?.unwrap_or(0),
        })
    })
}

fn cursor(conn: &Connection, sink: &str) -> rusqlite::Result<Cursor> {
    let mut st =
        conn.prepare_cached("SELECT acked_id, dropped FROM sink_cursor WHERE sink = ?1")?;
    Ok(st
        .query_row([sink], |r| {
            Ok(Cursor {
                acked_id: r.get(0)?,
                dropped: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// The file's identity, `sink`'s stored cursor in it, and where to read from: after the
/// cursor, or after `after` (the caller's own position in the file `store_id`) when that is
/// ahead of it.
fn position(
    conn: &Connection,
    sink: &str,
    after: Option<(&str, i64)>,
) -> rusqlite::Result<(Identity, Cursor, i64)> {
    let identity = identity(conn)?;
    let cursor = cursor(conn, sink)?;
    let from = match after {
        Some((store_id, id)) if store_id == identity.store_id => id.max(cursor.acked_id),
        _ => cursor.acked_id,
    };
    Ok((identity, cursor, from))
}

/// Bytes an event adds to a batch, roughly (its text fields plus a fixed overhead): the
/// forwarder's `batch_bytes` bound.
#[must_use]
pub fn approx_bytes(e: &OutEvent) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    160 + e.event.len()
        + e.verdict.len()
        + e.source.len()
        + opt(&e.session_id)
        + opt(&e.tool)
        + opt(&e.project_dir)
        + opt(&e.reason)
        + opt(&e.summary)
        + opt(&e.payload)
        + e.rules.iter().map(|r| r.len() + 4).sum::<usize>()
        + e.redacted.iter().map(|r| r.len() + 4).sum::<usize>()
}

impl Store {
    /// Up to `limit` events (and about `max_bytes`, at least one) after `sink`'s cursor — or
    /// after `after` when the caller is ahead of the stored cursor (it delivered more than was
    /// persisted yet) — with the file's identity, in one short read transaction. Payloads are
    /// returned as text in [`OutEvent::payload`] (the forwarder takes what it needs and drops
    /// them unless asked). Blocking.
    ///
    /// # Errors
    ///
    /// SQLite errors (no file, a store without the outbox tables yet).
    pub fn outbox_read(
        &self,
        sink: &str,
        after: Option<(&str, i64)>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<OutboxBatch, StoreError> {
        let mut conn = self.readers.get()?;
        let path = self.path.clone();
        let tx = conn.transaction().map_err(sqlite(&path))?;
        let (identity, cursor, from) = position(&tx, sink, after).map_err(sqlite(&path))?;
        let mut events = Vec::new();
        {
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {} FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
                    super::query::EVENT_COLUMNS
                ))
                .map_err(sqlite(&path))?;
            let mut rows = st
                .query(params![from, i64::try_from(limit).unwrap_or(i64::MAX)])
                .map_err(sqlite(&path))?;
            let uid = rustix::process::getuid().as_raw();
            let mut bytes = 0;
            while let Some(r) = rows.next().map_err(sqlite(&path))? {
                let row = super::query::event_row(r, true).map_err(sqlite(&path))?;
                let e = OutEvent::from_row(row, uid);
                bytes += approx_bytes(&e);
                if !events.is_empty() && bytes > max_bytes {
                    break;
                }
                events.push(e);
            }
        }
        tx.finish().map_err(sqlite(&path))?;
        Ok(OutboxBatch {
            identity,
            cursor,
            events,
        })
    }

    /// `sink`'s stored cursor in the file now, the file's identity and, when events wait
    /// after the cursor (or after `after`, the caller's own position in the file `store_id`,
    /// when it is ahead), the time (ms) of the oldest. Blocking.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn outbox_cursor(
        &self,
        sink: &str,
        after: Option<(&str, i64)>,
    ) -> Result<(Identity, Cursor, Option<i64>), StoreError> {
        let mut conn = self.readers.get()?;
        let path = self.path.clone();
        let tx = conn.transaction().map_err(sqlite(&path))?;
        let (identity, cursor, from) = position(&tx, sink, after).map_err(sqlite(&path))?;
        let oldest: Option<i64> = tx
            .query_row(
                "SELECT time_ms FROM events WHERE id > ?1 ORDER BY id LIMIT 1",
                [from],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite(&path))?;
        tx.finish().map_err(sqlite(&path))?;
        Ok((identity, cursor, oldest))
    }

    /// Notes that `sink` delivered every event up to `id` of the file `store_id`. The update
    /// is queued and written by the store's writer with the next commit (now, when the writer
    /// is free); a cursor for another file (the store was replaced meanwhile) is ignored there.
    pub fn ack_cursor(&self, sink: &str, store_id: &str, id: i64) {
        {
            let mut q = lock(&self.shared.queue);
            if q.closed {
                return;
            }
            let slot = q
                .cursors
                .entry(sink.to_string())
                .or_insert_with(|| (store_id.to_string(), id));
            if slot.0 == store_id {
                slot.1 = slot.1.max(id);
            } else {
                *slot = (store_id.to_string(), id);
            }
        }
        self.shared.drain();
    }

    /// The sinks configured: age pruning keeps what the slowest has not delivered, and the
    /// size cap counts per sink what it prunes undelivered. `wake` is poked (a few atomics)
    /// after each commit that added events.
    pub fn set_sinks(&self, names: Vec<String>, wake: Vec<Arc<tokio::sync::Notify>>) {
        self.shared.with_writer(|w| {
            w.sinks = names;
            w.wake = wake;
        });
    }

    /// The newest event id committed to the file open now (0: none).
    #[must_use]
    pub fn last_id(&self) -> i64 {
        self.stats.last_id.load(Ordering::Relaxed)
    }

    /// The store id of the file open now (empty before one is open).
    #[must_use]
    pub fn store_id(&self) -> String {
        self.stats
            .store_id
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

impl Writer {
    /// Writes queued cursor updates (sink → (store_id, id)), each only into the file it is
    /// for, and never backwards.
    pub(super) fn write_cursors(
        &mut self,
        cursors: &std::collections::HashMap<String, (String, i64)>,
    ) {
        let write = |conn: &Connection| -> rusqlite::Result<()> {
            let mut st = conn.prepare_cached(
                "INSERT INTO sink_cursor (sink, acked_id, updated_ms)
                 SELECT ?1, ?2, ?4 WHERE (SELECT value FROM fleet_meta WHERE key = 'store_id') = ?3
                 ON CONFLICT(sink) DO UPDATE SET
                   acked_id = max(acked_id, excluded.acked_id), updated_ms = excluded.updated_ms",
            )?;
            let now = now_ms();
            for (sink, (store_id, id)) in cursors {
                st.execute(params![sink, id, store_id, now])?;
            }
            Ok(())
        };
        if let Err(e) = self
            .follow_file()
            .map_err(|e| e.to_string())
            .and_then(|()| {
                let tx = self
                    .conn
                    .unchecked_transaction()
                    .map_err(|e| e.to_string())?;
                write(&tx).map_err(|e| e.to_string())?;
                tx.commit().map_err(|e| e.to_string())
            })
        {
            // The forwarder resends from the stored cursor: at-least-once, same keys.
            tracing::warn!(error = %e, "writing sink cursors failed");
        }
    }

    /// Wakes the forwarder's sinks (after a commit that added events).
    pub(super) fn wake_sinks(&self) {
        for n in &self.wake {
            n.notify_one();
        }
    }

    /// The oldest id age pruning may delete: events after the slowest configured sink's
    /// cursor are kept (`i64::MAX`: no sink).
    pub(super) fn hold_from(&self) -> rusqlite::Result<i64> {
        let mut hold = i64::MAX;
        for sink in &self.sinks {
            hold = hold.min(cursor(&self.conn, sink)?.acked_id);
        }
        Ok(hold)
    }

    /// Before the size cap prunes every event up to `through`: counts, per configured sink,
    /// the events it had not delivered as `dropped` and moves its cursor past them.
    pub(super) fn count_dropped(&self, tx: &Connection, through: i64) -> rusqlite::Result<()> {
        for sink in &self.sinks {
            let c = cursor(tx, sink)?;
            if c.acked_id >= through {
                continue;
            }
            let n: i64 = tx.query_row(
                "SELECT count(*) FROM events WHERE id > ?1 AND id <= ?2",
                params![c.acked_id, through],
                |r| r.get(0),
            )?;
            if n > 0 {
                tracing::error!(
                    sink = %sink,
                    events = n,
                    "the store's size cap pruned events this sink had not delivered"
                );
            }
            tx.execute(
                "INSERT INTO sink_cursor (sink, acked_id, dropped, updated_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(sink) DO UPDATE SET acked_id = max(acked_id, excluded.acked_id),
                   dropped = dropped + excluded.dropped",
                params![sink, through, n, now_ms()],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{rec, temp_store};

    #[test]
    fn a_new_file_gets_a_new_store_id_and_a_cursor_starts_at_zero() {
        let (_d1, a) = temp_store();
        let (_d2, b) = temp_store();
        a.record_blocking(vec![rec(now_ms())]).unwrap();
        let (ia, ca, oldest) = a.outbox_cursor("otel", None).unwrap();
        let (ib, _, _) = b.outbox_cursor("otel", None).unwrap();
        assert_eq!(ia.store_id.len(), 32);
        assert_ne!(ia.store_id, ib.store_id);
        assert_eq!(ca, Cursor::default());
        assert!(oldest.is_some());
    }

    #[test]
    fn a_cursor_rides_on_the_writer_and_never_goes_back_or_into_another_file() {
        let (_d, s) = temp_store();
        s.record_blocking((0..5).map(|i| rec(now_ms() + i)).collect())
            .unwrap();
        let (id, _, _) = s.outbox_cursor("otel", None).unwrap();
        s.ack_cursor("otel", &id.store_id, 3);
        s.ack_cursor("otel", &id.store_id, 2);
        s.ack_cursor("pg", "another-file", 5);
        assert_eq!(s.outbox_cursor("otel", None).unwrap().1.acked_id, 3);
        assert_eq!(s.outbox_cursor("pg", None).unwrap().1.acked_id, 0);
        let b = s.outbox_read("otel", None, 10, 1 << 20).unwrap();
        assert_eq!(b.events.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(s.last_id(), 5);
        // The caller ahead of the stored cursor (delivered, not persisted yet).
        let b = s
            .outbox_read("otel", Some((&id.store_id, 4)), 10, 1 << 20)
            .unwrap();
        assert_eq!(b.events.iter().map(|e| e.id).collect::<Vec<_>>(), [5]);
    }

    #[test]
    fn a_batch_stops_at_its_byte_bound_but_holds_one_event_at_least() {
        let (_d, s) = temp_store();
        s.record_blocking((0..10).map(|i| rec(now_ms() + i)).collect())
            .unwrap();
        assert_eq!(s.outbox_read("x", None, 512, 1).unwrap().events.len(), 1);
        let one = approx_bytes(&s.outbox_read("x", None, 1, 1).unwrap().events[0]);
        assert_eq!(
            s.outbox_read("x", None, 512, one * 3).unwrap().events.len(),
            3
        );
    }

    #[test]
    fn opening_the_file_on_another_machine_starts_a_new_epoch() {
        let (dir, s) = temp_store();
        drop(s);
        let conn = Connection::open(dir.path().join("x.db")).unwrap();
        let before = identity(&conn).unwrap();
        claim_machine(&conn, "machine-a").unwrap();
        claim_machine(&conn, "machine-a").unwrap();
        let same = identity(&conn).unwrap();
        claim_machine(&conn, "machine-b").unwrap();
        let after = identity(&conn).unwrap();
        assert_eq!(same.store_id, before.store_id);
        assert_eq!(after.store_id, before.store_id);
        // `before` was claimed by this machine at open; a-then-b are two changes at most.
        assert!(after.epoch > same.epoch, "{same:?} → {after:?}");
    }
}
