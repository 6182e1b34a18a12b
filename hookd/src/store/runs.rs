//! The `runs` table: one row per execution (attempt) of a `run` rule.
//!
//! Rows are written with the store's next commit (queued with [`super::Store::record_runs`],
//! never waited for) and read on the store's read-only connections.
//!
//! Must not commit by itself or wait for a commit: a run's record never holds up a verdict.

use crate::verdict::RunOutcome;
use hook_protocol::{RunQuery, RunRow};
use rusqlite::{Connection, params};

use super::{StoreError, lock, sqlite};

/// One run attempt to record (text fields already redacted).
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// When the attempt started (ms since the epoch).
    pub time_ms: i64,
    /// The session id.
    pub session_id: Option<String>,
    /// The event that triggered it.
    pub event: String,
    /// That event's `time_ms`.
    pub event_time_ms: i64,
    /// The tool, for tool events.
    pub tool: Option<String>,
    /// The rule.
    pub rule: String,
    /// The command as text.
    pub command: String,
    /// `sync` or `background`.
    pub mode: crate::rules::RunMode,
    /// From 1.
    pub attempt: u32,
    /// How long it ran.
    pub duration_ms: i64,
    /// Its exit status, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Its part of the verdict (sync runs).
    pub effect: Option<crate::verdict::Verdict>,
    /// What went wrong.
    pub error: Option<String>,
    /// The end of stdout.
    pub stdout_tail: Option<String>,
    /// The end of stderr.
    pub stderr_tail: Option<String>,
    /// Bytes of stdout.
    pub stdout_bytes: u64,
    /// Bytes of stderr.
    pub stderr_bytes: u64,
}

/// Outcomes counted as failures by `hookctl runs --failed` and `doctor`.
pub const FAILED_OUTCOMES: &str = RunOutcome::FAILURE_SQL;

/// Inserts `recs` in one transaction.
pub(super) fn insert(conn: &mut Connection, recs: &[RunRecord]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO runs (time_ms, session_id, event, event_time_ms, tool, rule, command,
                mode, attempt, duration_ms, exit_code, signal, outcome, effect, error,
                stdout_tail, stderr_tail, stdout_bytes, stderr_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19)",
        )?;
        for r in recs {
            st.execute(params![
                r.time_ms,
                r.session_id,
                r.event,
                r.event_time_ms,
                r.tool,
                r.rule,
                r.command,
                r.mode.as_str(),
                r.attempt,
                r.duration_ms,
                r.exit_code,
                r.signal,
                r.outcome.as_str(),
                r.effect.as_ref().map(crate::verdict::Verdict::as_str),
                r.error,
                r.stdout_tail,
                r.stderr_tail,
                i64::try_from(r.stdout_bytes).unwrap_or(i64::MAX),
                i64::try_from(r.stderr_bytes).unwrap_or(i64::MAX),
            ])?;
        }
    }
    tx.commit()
}

/// Deletes runs older than `cutoff_ms` (retention, with the events).
pub(super) fn prune(conn: &Connection, cutoff_ms: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM runs WHERE time_ms < ?1", [cutoff_ms])
}

/// Runs matching `q`, newest first; each with the id of its event's row when it is found.
pub(super) fn query(conn: &Connection, q: &RunQuery) -> rusqlite::Result<Vec<RunRow>> {
    let limit = if q.limit == 0 {
        50
    } else {
        q.limit.min(100_000)
    };
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(s) = &q.session {
        conds.push("r.session_id = ?".into());
        args.push(s.clone().into());
    }
    if let Some(rule) = &q.rule {
        conds.push("r.rule = ?".into());
        args.push(rule.clone().into());
    }
    if q.failed_only {
        conds.push(format!("r.{FAILED_OUTCOMES}"));
    }
    if let Some(t) = q.since_ms {
        conds.push("r.time_ms >= ?".into());
        args.push(t.into());
    }
    let mut sql = String::from(
        "SELECT r.id, r.time_ms, r.session_id, r.event, r.event_time_ms,
            (SELECT e.id FROM events e WHERE e.session_id IS r.session_id
               AND e.time_ms = r.event_time_ms AND e.event = r.event ORDER BY e.id LIMIT 1),
            r.tool, r.rule, r.command, r.mode, r.attempt, r.duration_ms, r.exit_code, r.signal,
            r.outcome, r.effect, r.error, r.stdout_tail, r.stderr_tail, r.stdout_bytes,
            r.stderr_bytes
         FROM runs r",
    );
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY r.id DESC LIMIT {limit}"));
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(RunRow {
            id: r.get(0)?,
            time_ms: r.get(1)?,
            session_id: r.get(2)?,
            event: r.get(3)?,
            event_time_ms: r.get(4)?,
            event_id: r.get(5)?,
            tool: r.get(6)?,
            rule: r.get(7)?,
            command: r.get(8)?,
            mode: r.get(9)?,
            attempt: r.get(10)?,
            duration_ms: r.get(11)?,
            exit_code: r.get(12)?,
            signal: r.get(13)?,
            outcome: r.get(14)?,
            effect: r.get(15)?,
            error: r.get(16)?,
            stdout_tail: r.get(17)?,
            stderr_tail: r.get(18)?,
            stdout_bytes: u64::try_from(r.get::<_, i64>(19)?).unwrap_or(0),
            stderr_bytes: u64::try_from(r.get::<_, i64>(20)?).unwrap_or(0),
        })
    })?;
    rows.collect()
}

impl super::Store {
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

    /// Recorded runs, newest first (blocks: call off the async workers).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn query_runs(
        &self,
        q: &hook_protocol::RunQuery,
    ) -> Result<Vec<hook_protocol::RunRow>, StoreError> {
        let conn = self.readers.get()?;
        query(&conn, q).map_err(sqlite(&self.path))
    }
}

impl super::commit::Writer {
    pub(super) fn insert_runs(&mut self, recs: &[RunRecord]) {
        if let Err(e) = insert(&mut self.conn, recs) {
            tracing::warn!(error = %e, runs = recs.len(), "recording runs failed");
        }
    }
}
