//! Queries for `hookctl` and the daemon (events, sessions, replay, `once = "project-day"`,
//! exactly-once checks), on read-only connections: they never take the write connection, so
//! commits never wait for them.
//!
//! Must not write, and must not run on an async worker (see the blocking policy in
//! [`super`]).

use hook_protocol::{EventQuery, EventRow, SessionRow};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{Store, StoreError, sqlite};

impl Store {
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

    pub(super) fn reader(&self) -> Result<Connection, StoreError> {
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
    pub(super) fn fill_counts(
        &self,
        conn: &Connection,
        rows: &mut [SessionRow],
    ) -> Result<(), StoreError> {
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
