//! Read queries for the dashboard (`crate::ui`): the newest id, latencies and verdicts over a
//! time window (on the `events_time` index), rule matches per hour, and refusals grouped by
//! rule. Rows themselves are read with [`Store::for_each_event_in`].
//!
//! Must not write, and must not run on an async worker (see the blocking policy in
//! [`super`]).

use rusqlite::params;

use super::query::bytes_at;
use super::{Store, StoreError, sqlite};

/// Verdicts the dashboard's refusals screen groups (`deny`, `ask`, `block`).
pub const REFUSAL_SQL: &str = "verdict IN ('deny', 'ask', 'block')";

/// Refusals of one rule with one verdict, over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalGroup {
    /// The first (deciding) rule; `None` when no rule is recorded.
    pub rule: Option<String>,
    /// `deny`, `ask` or `block`.
    pub verdict: String,
    /// Events in the window.
    pub count: u64,
    /// The newest one's time (ms since the epoch).
    pub last_ms: i64,
    /// The newest one's reason.
    pub reason: Option<String>,
}

/// One refused event, with what its explanation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalExample {
    /// The store's row id.
    pub id: i64,
    /// When (ms since the epoch).
    pub time_ms: i64,
    /// Its session.
    pub session_id: Option<String>,
    /// Its tool.
    pub tool: Option<String>,
    /// Its summary (redacted).
    pub summary: Option<String>,
    /// Its reason.
    pub reason: Option<String>,
    /// Its payload (redacted).
    pub payload: Option<Vec<u8>>,
}

/// The deciding rule of a row: the first of its JSON list of rules.
const FIRST_RULE: &str = "json_extract(rules, '$[0]')";

impl Store {
    /// The newest event's id (0: none). Blocks.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn max_event_id(&self) -> Result<i64, StoreError> {
        self.readers
            .get()?
            .prepare_cached("SELECT coalesce(max(id), 0) FROM events")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(sqlite(&self.path))
    }

    /// Calls `f(time_ms, latency_us)` for every event hookd answered itself (not spooled
    /// fallbacks, which carry no hookd latency) at or after `since_ms`, oldest first. Blocks.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn for_each_latency(
        &self,
        since_ms: i64,
        mut f: impl FnMut(i64, i64),
    ) -> Result<(), StoreError> {
        let conn = self.readers.get()?;
        let mut st = conn
            .prepare_cached(
                "SELECT time_ms, latency_us FROM events INDEXED BY events_time
                 WHERE time_ms >= ?1 AND source != 'spool'",
            )
            .map_err(sqlite(&self.path))?;
        let mut rows = st.query([since_ms]).map_err(sqlite(&self.path))?;
        while let Some(r) = rows.next().map_err(sqlite(&self.path))? {
            f(
                r.get(0).map_err(sqlite(&self.path))?,
                r.get(1).map_err(sqlite(&self.path))?,
            );
        }
        Ok(())
    }

    /// Events at or after `since_ms` counted by (bucket, verdict), where bucket is
    /// `(time_ms - since_ms) / step_ms`. Blocks.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn verdict_counts(
        &self,
        since_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<(i64, String, u64)>, StoreError> {
        let conn = self.readers.get()?;
        let mut st = conn
            .prepare_cached(
                "SELECT (time_ms - ?1) / ?2 AS b, verdict, count(*) FROM events
                 INDEXED BY events_time WHERE time_ms >= ?1 GROUP BY b, verdict ORDER BY b",
            )
            .map_err(sqlite(&self.path))?;
        let rows = st
            .query_map(params![since_ms, step_ms.max(1)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?))
            })
            .map_err(sqlite(&self.path))?;
        rows.map(|r| r.map(|(b, v, n)| (b, v, u64::try_from(n).unwrap_or(0))))
            .collect::<Result<_, _>>()
            .map_err(sqlite(&self.path))
    }

    /// Calls `f(time_ms, rules)` (the JSON list of matched rules) for every event at or after
    /// `since_ms` that some rule matched. Blocks.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn for_each_rule_match(
        &self,
        since_ms: i64,
        mut f: impl FnMut(i64, &str),
    ) -> Result<(), StoreError> {
        let conn = self.readers.get()?;
        let mut st = conn
            .prepare_cached(
                "SELECT time_ms, rules FROM events INDEXED BY events_time
                 WHERE time_ms >= ?1 AND rules != '[]'",
            )
            .map_err(sqlite(&self.path))?;
        let mut rows = st.query([since_ms]).map_err(sqlite(&self.path))?;
        while let Some(r) = rows.next().map_err(sqlite(&self.path))? {
            let t: i64 = r.get(0).map_err(sqlite(&self.path))?;
            let rules: String = r.get(1).map_err(sqlite(&self.path))?;
            f(t, &rules);
        }
        Ok(())
    }

    /// Refusals (deny, ask, block) at or after `since_ms` grouped by their deciding rule and
    /// verdict, the largest groups first (at most `limit`). Blocks.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn refusal_groups(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<RefusalGroup>, StoreError> {
        let conn = self.readers.get()?;
        // SQLite's bare columns with max(): `reason` comes from the row holding max(id).
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {FIRST_RULE} AS rule, verdict, count(*), max(time_ms), max(id), reason
                 FROM events INDEXED BY events_time WHERE time_ms >= ?1 AND {REFUSAL_SQL}
                 GROUP BY rule, verdict ORDER BY count(*) DESC, max(id) DESC LIMIT ?2"
            ))
            .map_err(sqlite(&self.path))?;
        let rows = st
            .query_map(params![since_ms, limit], |r| {
                Ok(RefusalGroup {
                    rule: r.get(0)?,
                    verdict: r.get(1)?,
                    count: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    last_ms: r.get(3)?,
                    reason: r.get(5)?,
                })
            })
            .map_err(sqlite(&self.path))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(&self.path))
    }

    /// The newest `limit` refusals of one group ([`Store::refusal_groups`]), with payloads.
    /// Blocks.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn refusal_examples(
        &self,
        since_ms: i64,
        rule: Option<&str>,
        verdict: &str,
        limit: u32,
    ) -> Result<Vec<RefusalExample>, StoreError> {
        let conn = self.readers.get()?;
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT id, time_ms, session_id, tool, summary, reason, payload FROM events
                 INDEXED BY events_time WHERE time_ms >= ?1 AND verdict = ?2
                 AND {FIRST_RULE} IS ?3 ORDER BY id DESC LIMIT ?4"
            ))
            .map_err(sqlite(&self.path))?;
        let rows = st
            .query_map(params![since_ms, verdict, rule, limit], |r| {
                Ok(RefusalExample {
                    id: r.get(0)?,
                    time_ms: r.get(1)?,
                    session_id: r.get(2)?,
                    tool: r.get(3)?,
                    summary: r.get(4)?,
                    reason: r.get(5)?,
                    payload: bytes_at(r, 6)?,
                })
            })
            .map_err(sqlite(&self.path))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::super::EventRecord;
    use crate::store::testutil::{rec, temp_store};

    #[test]
    fn refusals_group_by_their_deciding_rule_and_verdict() {
        let (_dir, store) = temp_store();
        let refused = |t: i64, rules: &[&str], verdict: &str| EventRecord {
            rules: rules.iter().map(|r| (*r).to_string()).collect(),
            verdict: crate::verdict::Verdict::parse(verdict),
            reason: Some(format!("r{t}")),
            ..rec(t)
        };
        store
            .record_blocking(vec![
                refused(10, &["a", "b"], "deny"),
                refused(11, &["a"], "deny"),
                refused(12, &["b"], "ask"),
                refused(13, &[], "block"),
                refused(14, &["a"], "allow"),
                refused(1, &["a"], "deny"),
            ])
            .unwrap();
        let g = store.refusal_groups(5, 10).unwrap();
        let keys: Vec<_> = g
            .iter()
            .map(|g| (g.rule.as_deref(), g.verdict.as_str(), g.count))
            .collect();
        assert_eq!(
            keys,
            vec![
                (Some("a"), "deny", 2),
                (None, "block", 1),
                (Some("b"), "ask", 1)
            ]
        );
        assert_eq!(g[0].last_ms, 11);
        assert_eq!(
            g[0].reason.as_deref(),
            Some("r11"),
            "the newest one's reason"
        );
        let ex = store.refusal_examples(5, Some("a"), "deny", 5).unwrap();
        assert_eq!(ex.iter().map(|e| e.time_ms).collect::<Vec<_>>(), [11, 10]);
        let ex = store.refusal_examples(5, None, "block", 5).unwrap();
        assert_eq!(ex.len(), 1);
        assert_eq!(store.max_event_id().unwrap(), 6);
        let counts = store.verdict_counts(10, 2).unwrap();
        assert_eq!(
            counts,
            vec![
                (0, "deny".to_string(), 2),
                (1, "ask".to_string(), 1),
                (1, "block".to_string(), 1),
                (2, "allow".to_string(), 1),
            ]
        );
    }
}
