//! The insert transaction and exactly-once ingestion: a spooled copy of an event already in
//! the store (hookd committed it, but its reply was lost and hook-client spooled it) is
//! recognised by its delivery id within the delivery's time window and dropped, whichever of
//! the two arrives first.
//!
//! Must not decide when to commit or what to do on failure ([`super::commit`],
//! [`super::recover`]); only writes rows in the transaction it is given.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use rusqlite::{Connection, params};

use super::{EventRecord, Store, StoreError, sqlite};

impl Store {
    /// Drops the spooled events (from `crate::ingest::from_spool`) whose delivery the store already holds:
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
            let mut conn = self.readers.get()?;
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
}

/// How long after its client started an event can still be delivered, in ms (hook-client's
/// deadline is below an hour).
pub(super) const MAX_DELIVERY_MS: i64 = 3_600_000;

/// Clock leeway around a delivery's window, in ms.
pub(super) const DELIVERY_SLACK_MS: i64 = 5_000;

/// The times (ms) within which hookd can have received the event whose client id is `id`,
/// spooled by the client at `spooled_ms`: from the client's start (the id's first part, its
/// clock in ns, hex) to its giving up, with leeway.
pub(super) fn delivery_window(id: &str, spooled_ms: i64) -> (i64, i64) {
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
pub(super) struct Inserted {
    pub(super) inserted: u64,
    pub(super) fallbacks: u64,
    /// Spooled copies of events already recorded, not inserted.
    pub(super) dropped: u64,
    /// Client ids (and times) of the spooled events inserted.
    pub(super) spooled_ids: Vec<(String, i64)>,
}

/// The client ids among the spooled `recs` that events already in the store carry. Events
/// already looked up ([`EventRecord::checked_through`]) are checked against the rows added
/// since (a rowid range: a few rows); the others by one range scan on `events_time` per
/// stretch of time their delivery windows cover (they overlap after a crash, so usually one),
/// rather than one per event.
pub(super) fn recorded_ids<'a>(
    tx: &rusqlite::Transaction<'_>,
    recs: impl Iterator<Item = &'a EventRecord>,
) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut wanted = std::collections::HashSet::new();
    let mut windows = Vec::new();
    let mut since: Option<i64> = None;
    for r in recs.filter(|r| r.source == crate::verdict::Source::Spool) {
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
pub(super) fn insert_all<'a>(
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
                let duplicate = if r.source == crate::verdict::Source::Spool {
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
                r.verdict.as_str(),
                r.reason,
                rules,
                r.latency_us,
                r.source.as_str(),
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
                let denial = i64::from(r.verdict.is_denial());
                session.execute(params![
                    id,
                    r.project_dir,
                    r.time_ms,
                    ended,
                    denial,
                    r.event
                ])?;
            }
            if n > 0 && r.verdict.is_fallback() {
                done.fallbacks += 1;
            }
            if n > 0
                && r.source == crate::verdict::Source::Spool
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_ms;
    use crate::store::testutil::{answered, client_id, rows, spooled, temp_store};

    #[test]
    fn spooled_copies_are_found_before_the_commit_and_in_it() {
        let (dir, s) = temp_store();
        let t = now_ms();
        let (a, b) = (client_id(t - 30, 1), client_id(t - 20, 2));
        s.record_blocking(vec![answered(t, &a)]).unwrap();
        let recs = s
            .drop_recorded(vec![spooled(&a, t + 100), spooled(&b, t + 100)])
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
        s.record_blocking(vec![spooled(&id, t - 1000)]).unwrap();
        s.record_blocking(vec![answered(t - 2500, &id)]).unwrap();
        assert_eq!(rows(&dir.path().join("x.db")).len(), 1);
        assert_eq!(s.stats().duplicates_dropped.load(Ordering::Relaxed), 1);
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
