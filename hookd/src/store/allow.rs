//! The `allowances` table: allow-once approvals (`hookctl allow CODE`), with who granted them,
//! when, for how long, how often they were used, and revocations.
//!
//! Grants and revocations come from `hookctl` (written at once, off the async workers); a use
//! on the hook path is queued ([`super::Store::allowance_used`]) and written with the next
//! commit, before the event that used it is acknowledged.

use hook_protocol::AllowanceRow;
use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, assert_may_block, lock, sqlite};

/// One approval to record.
#[derive(Debug, Clone, Default)]
pub struct AllowanceRecord {
    /// The code it is granted with.
    pub code: String,
    /// The call's key (`crate::allow::key`).
    pub key: String,
    /// The project.
    pub project: String,
    /// The tool.
    pub tool: String,
    /// The command or path, redacted.
    pub summary: String,
    /// The rules whose verdict it lifts.
    pub rules: Vec<String>,
    /// `once`, `session` or `window`.
    pub scope: String,
    /// The session the code was given in.
    pub session_id: Option<String>,
    /// When it is granted.
    pub created_ms: i64,
    /// When it lapses.
    pub expires_ms: Option<i64>,
    /// Uses it allows (`None`: any number).
    pub max_uses: Option<u64>,
    /// Who: uid.
    pub uid: u32,
    /// Who: user name.
    pub user: String,
}

/// A live approval as loaded at start: its row, its key and the uses it has left.
#[derive(Debug, Clone)]
pub struct LiveAllowance {
    /// The row.
    pub row: AllowanceRow,
    /// The call's key.
    pub key: String,
    /// Uses left (`None`: any number).
    pub uses_left: Option<u64>,
}

const COLUMNS: &str = "id, code, project, tool, summary, rules, scope, session_id, created_ms,
    expires_ms, uid, user, uses, last_used_ms, revoked_ms, max_uses, key";

fn row(
    r: &rusqlite::Row<'_>,
    now_ms: i64,
) -> rusqlite::Result<(AllowanceRow, String, Option<u64>)> {
    let rules: String = r.get(5)?;
    let uses = u64::try_from(r.get::<_, i64>(12)?).unwrap_or(0);
    let max_uses: Option<u64> = r
        .get::<_, Option<i64>>(15)?
        .map(|n| u64::try_from(n).unwrap_or(0));
    let expires_ms: Option<i64> = r.get(9)?;
    let revoked_ms: Option<i64> = r.get(14)?;
    let status = if revoked_ms.is_some() {
        "revoked"
    } else if max_uses.is_some_and(|m| uses >= m) {
        "used"
    } else if expires_ms.is_some_and(|e| e <= now_ms) {
        "expired"
    } else {
        "live"
    };
    let row = AllowanceRow {
        id: r.get(0)?,
        code: r.get(1)?,
        project: r.get(2)?,
        tool: r.get(3)?,
        summary: r.get(4)?,
        rules: rules
            .split('\n')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        scope: r.get(6)?,
        session_id: r.get(7)?,
        created_ms: r.get(8)?,
        expires_ms,
        uid: r.get(10)?,
        user: r.get(11)?,
        uses,
        last_used_ms: r.get(13)?,
        revoked_ms,
        status: status.into(),
    };
    let left = max_uses.map(|m| m.saturating_sub(uses));
    Ok((row, r.get(16)?, left))
}

fn insert(conn: &Connection, a: &AllowanceRecord) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO allowances (code, key, project, tool, summary, rules, scope, session_id,
            created_ms, expires_ms, max_uses, uid, user)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            a.code,
            a.key,
            a.project,
            a.tool,
            a.summary,
            a.rules.join("\n"),
            a.scope,
            a.session_id,
            a.created_ms,
            a.expires_ms,
            a.max_uses.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            a.uid,
            a.user,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes queued uses: (id, time).
pub(super) fn write_uses(conn: &Connection, uses: &[(i64, i64)]) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(
        "UPDATE allowances SET uses = uses + 1, last_used_ms = max(coalesce(last_used_ms, 0), ?2)
         WHERE id = ?1",
    )?;
    for (id, at) in uses {
        st.execute(params![id, at])?;
    }
    Ok(())
}

impl super::Store {
    /// Records a grant; its row id comes back (blocks: call off the async workers).
    ///
    /// # Errors
    ///
    /// SQLite errors, or the store closed.
    pub fn add_allowance_blocking(&self, a: &AllowanceRecord) -> Result<i64, StoreError> {
        assert_may_block();
        self.shared
            .with_writer(|w| insert(&w.conn, a))
            .ok_or(StoreError::Stopped)?
            .map_err(sqlite(&self.path))
    }

    /// Revokes the live grant with row id `id` (or granted with code `id`) at `now_ms`; its
    /// row comes back, `None` when there is no such live grant (blocks).
    ///
    /// # Errors
    ///
    /// SQLite errors, or the store closed.
    pub fn revoke_allowance_blocking(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<AllowanceRow>, StoreError> {
        assert_may_block();
        let num: i64 = id.parse().unwrap_or(-1);
        let path = self.path.clone();
        self.shared
            .with_writer(|w| -> rusqlite::Result<Option<AllowanceRow>> {
                let found: Option<i64> = w
                    .conn
                    .query_row(
                        "SELECT id FROM allowances WHERE (id = ?1 OR code = ?2)
                           AND revoked_ms IS NULL ORDER BY id DESC LIMIT 1",
                        params![num, id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(found) = found else {
                    return Ok(None);
                };
                w.conn.execute(
                    "UPDATE allowances SET revoked_ms = ?2 WHERE id = ?1",
                    params![found, now_ms],
                )?;
                w.conn
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM allowances WHERE id = ?1"),
                        params![found],
                        |r| row(r, now_ms),
                    )
                    .optional()
                    .map(|o| o.map(|(r, _, _)| r))
            })
            .ok_or(StoreError::Stopped)?
            .map_err(sqlite(&path))
    }

    /// Records one use of grant `id` with the next commit (queued, not waited for: the commit
    /// of the event that used it writes it first).
    pub fn allowance_used(&self, id: i64, at_ms: i64) {
        {
            let mut q = lock(&self.shared.queue);
            if q.closed {
                tracing::warn!("store closed; allowance use not recorded");
                return;
            }
            q.allow_uses.push((id, at_ms));
        }
        self.shared.drain();
    }

    /// Approvals, newest first (at most 200): live ones, or with `all` every one (blocks).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn allowances(&self, all: bool, now_ms: i64) -> Result<Vec<AllowanceRow>, StoreError> {
        let conn = self.readers.get()?;
        let run = || -> rusqlite::Result<Vec<AllowanceRow>> {
            let mut st = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM allowances ORDER BY id DESC LIMIT 200"
            ))?;
            let rows = st.query_map([], |r| row(r, now_ms))?;
            let mut out = Vec::new();
            for r in rows {
                let (r, _, _) = r?;
                if all || r.status == "live" {
                    out.push(r);
                }
            }
            Ok(out)
        };
        run().map_err(sqlite(&self.path))
    }

    /// Live approvals with their keys, for the memory hookd decides from (blocks: at start).
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn live_allowances(&self, now_ms: i64) -> Result<Vec<LiveAllowance>, StoreError> {
        let conn = self.readers.get()?;
        let run = || -> rusqlite::Result<Vec<LiveAllowance>> {
            let mut st = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM allowances WHERE revoked_ms IS NULL
                   AND (max_uses IS NULL OR uses < max_uses)
                   AND (expires_ms IS NULL OR expires_ms > ?1)"
            ))?;
            let rows = st.query_map(params![now_ms], |r| row(r, now_ms))?;
            rows.map(|r| {
                r.map(|(row, key, uses_left)| LiveAllowance {
                    row,
                    key,
                    uses_left,
                })
            })
            .collect()
        };
        run().map_err(sqlite(&self.path))
    }
}

impl super::commit::Writer {
    /// Writes queued allowance uses (a failure is logged: the grant was used in memory).
    pub(super) fn write_allow_uses(&mut self, uses: &[(i64, i64)]) {
        if let Err(e) = write_uses(&self.conn, uses) {
            tracing::warn!(error = %e, uses = uses.len(), "recording allowance uses failed");
        }
    }
}
