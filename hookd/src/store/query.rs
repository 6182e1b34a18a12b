//! Queries for `hookctl` and the daemon (events, sessions, replay, `once = "project-day"`,
//! exactly-once checks), on read-only connections: they never take the write connection, so
//! commits never wait for them.
//!
//! Must not write, and must not run on an async worker (see the blocking policy in
//! [`super`]).

use hook_protocol::{EventQuery, EventRow, SessionRow};
use rusqlite::{Connection, params};

use super::{Store, StoreError, sqlite};
use crate::verdict::Verdict;

/// Bounds on event ids (both exclusive; `None`: unbounded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdRange {
    /// Only rows with an id above this.
    pub after: Option<i64>,
    /// Only rows with an id below this.
    pub before: Option<i64>,
}

impl Store {
    /// Lists events, newest first (blocks: call off the async workers).
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
        f: impl FnMut(EventRow) -> bool,
    ) -> Result<(), StoreError> {
        self.for_each_event_in(q, IdRange::default(), ascending, limit, f)
    }

    /// [`Store::for_each_event`] on the rows whose id is within `ids` (the dashboard's pages
    /// and its event stream read by id).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn for_each_event_in(
        &self,
        q: &EventQuery,
        ids: IdRange,
        ascending: bool,
        limit: Option<u32>,
        mut f: impl FnMut(EventRow) -> bool,
    ) -> Result<(), StoreError> {
        let conn = self.readers.get()?;
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
        if let Some(id) = ids.after {
            conds.push("id > ?");
            args.push(id.into());
        }
        if let Some(id) = ids.before {
            conds.push("id < ?");
            args.push(id.into());
        }
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events");
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
            let row = event_row(r, q.with_payload).map_err(sqlite(&self.path))?;
            if !f(row) {
                break;
            }
        }
        Ok(())
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
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT time_ms, payload, verdict, rules, project_dir FROM events
                 WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(sqlite(&self.path))?;
        let rows = stmt
            .query_map(params![id, limit], |r| {
                let rules: String = r.get(3)?;
                let verdict: String = r.get(2)?;
                Ok(crate::session::StoredEvent {
                    time_ms: r.get(0)?,
                    payload: bytes_at(r, 1)?.unwrap_or_default(),
                    verdict: Verdict::parse(&verdict),
                    rules: serde_json::from_str(&rules).unwrap_or_default(),
                    project_dir: r.get(4)?,
                })
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
        let conn = self.readers.get()?;
        let pattern = format!("%{}%", serde_json::to_string(rule).unwrap_or_default());
        let mut stmt = conn
            .prepare_cached(
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
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
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
        self.readers
            .get()?
            .prepare_cached(
                "SELECT count(*) FROM sessions WHERE ended_ms IS NULL AND last_ms >= ?1",
            )
            .and_then(|mut st| st.query_row([since_ms], |r| r.get(0)))
            .map_err(sqlite(&self.path))
    }

    /// Counts each listed session's events and denials (on the session index).
    pub(super) fn fill_counts(
        &self,
        conn: &Connection,
        rows: &mut [SessionRow],
    ) -> Result<(), StoreError> {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT count(*), coalesce(sum({}), 0) FROM events WHERE session_id = ?1",
                Verdict::DENIAL_SQL
            ))
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

    /// One session's verdicts with their counts, the most frequent first (on the session
    /// index), and its number of events.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn session_verdicts(&self, session: &str) -> Result<(u64, Vec<(String, u64)>), StoreError> {
        let conn = self.readers.get()?;
        let mut st = conn
            .prepare_cached(
                "SELECT verdict, count(*) FROM events WHERE session_id = ?1 GROUP BY verdict
                 ORDER BY count(*) DESC, verdict",
            )
            .map_err(sqlite(&self.path))?;
        let rows = st
            .query_map([session], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(sqlite(&self.path))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite(&self.path))?;
        let rows: Vec<(String, u64)> = rows
            .into_iter()
            .map(|(v, n)| (v, u64::try_from(n).unwrap_or(0)))
            .collect();
        Ok((rows.iter().map(|(_, n)| n).sum(), rows))
    }

    /// Sessions whose id starts with `prefix` (at most 2, to detect ambiguity).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn sessions_by_prefix(&self, prefix: &str) -> Result<Vec<SessionRow>, StoreError> {
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
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

    /// Counts rows with this spool id (tests and exactly-once checks).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    #[cfg(test)]
    pub fn count_spool_id(&self, id: &str) -> Result<u64, StoreError> {
        use rusqlite::OptionalExtension as _;
        let conn = self.readers.get()?;
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

impl Store {
    /// Read connections opened since start (tests: they are kept between queries).
    #[cfg(test)]
    pub(crate) fn read_connections_opened(&self) -> u64 {
        self.readers.opened()
    }
}

/// A BLOB or TEXT column as bytes (payloads are written as BLOB; accept TEXT from rows
/// written by other tools).
/// The columns of `events` that [`event_row`] reads, in its order.
pub(super) const EVENT_COLUMNS: &str = "id, time_ms, session_id, event, tool, project_dir, \
     verdict, reason, rules, latency_us, source, summary, redacted, payload";

/// An [`EventRow`] from a row of [`EVENT_COLUMNS`] (the payload only `with_payload`).
pub(super) fn event_row(r: &rusqlite::Row<'_>, with_payload: bool) -> rusqlite::Result<EventRow> {
    let rules: String = r.get(8)?;
    let redacted: Option<String> = r.get(12)?;
    let payload = if with_payload {
        use rusqlite::types::ValueRef;
        match r.get_ref(13)? {
            ValueRef::Null => None,
            ValueRef::Blob(b) | ValueRef::Text(b) => Some(String::from_utf8_lossy(b).into_owned()),
            ValueRef::Integer(n) => Some(n.to_string()),
            ValueRef::Real(f) => Some(f.to_string()),
        }
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
        payload,
    })
}

pub(super) fn bytes_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(n) => Some(n.to_string().into_bytes()),
        ValueRef::Real(f) => Some(f.to_string().into_bytes()),
    })
}

pub(super) fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hook_protocol::EventQuery;

    use super::super::{EventRecord, Recorded};
    use crate::store::testutil::{rec, temp_store};

    fn all() -> EventQuery {
        EventQuery {
            limit: 1000,
            ..EventQuery::default()
        }
    }

    #[test]
    fn queries_keep_their_read_connection_and_follow_a_new_file() {
        let (dir, store) = temp_store();
        let touching = |n| EventRecord {
            touch_session: true,
            ..rec(n)
        };
        store
            .record_blocking((0..3).map(touching).collect())
            .unwrap();
        for _ in 0..10 {
            assert_eq!(store.query_events(&all()).unwrap().len(), 3);
            assert_eq!(store.sessions(10, false).unwrap()[0].events, 3);
            assert_eq!(store.session_rows("s", 100).unwrap().len(), 3);
            assert_eq!(store.active_sessions(0).unwrap(), 1);
        }
        assert_eq!(
            store.read_connections_opened(),
            1,
            "one read connection, kept between queries"
        );
        // The database deleted while hookd runs: the writer starts a new one at the path with
        // its next commit, and queries read that one, not the deleted file they had open.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("x.db{suffix}")));
        }
        store.record_blocking(vec![rec(10)]).unwrap();
        let times: Vec<i64> = store
            .query_events(&all())
            .unwrap()
            .iter()
            .map(|r| r.time_ms)
            .collect();
        assert_eq!(times, vec![10]);
        assert_eq!(store.read_connections_opened(), 2);
    }

    /// The blocking policy (`store` module header), as debug builds enforce it.
    #[cfg(debug_assertions)]
    #[test]
    fn blocking_calls_refuse_an_async_worker_and_the_commit_path_does_not() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let s = Arc::clone(&store);
        let query = rt.block_on(rt.spawn(async move { s.sessions(10, false).map(|r| r.len()) }));
        assert!(query.is_err_and(|e| e.is_panic()), "a query on a worker");
        let s = Arc::clone(&store);
        let wait = rt.block_on(rt.spawn(async move { s.record_blocking(vec![rec(1)]).is_ok() }));
        assert!(
            wait.is_err_and(|e| e.is_panic()),
            "a blocking wait on a worker"
        );
        // The group-commit path is designed for the workers.
        let s = Arc::clone(&store);
        let committed = rt.block_on(rt.spawn(async move { s.record(rec(2)).await }));
        assert!(matches!(committed, Ok(Ok(Recorded::Committed))));
        // Off the workers, queries run.
        let s = Arc::clone(&store);
        let rows = rt.block_on(async move {
            tokio::task::spawn_blocking(move || s.query_events(&all()))
                .await
                .unwrap()
        });
        assert_eq!(rows.unwrap().len(), 1);
        drop(rt);
    }
}
