//! The database schema: numbered migrations applied in order (`PRAGMA user_version` records
//! the last applied), and opening a connection that may write (directory, WAL, migrations).
//!
//! Must not change what an existing store holds: a migration only adds (tables, columns,
//! indexes), so a store written by any earlier hookd opens. Knows nothing of events or commits.

use std::path::Path;

use rusqlite::Connection;

use super::chores::WAL_RESET_BYTES;
use super::{StoreError, sqlite};

/// Numbered migrations, applied in order; `PRAGMA user_version` records the last applied.
pub(super) const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_sessions.sql")),
    (3, include_str!("migrations/0003_query.sql")),
    (4, include_str!("migrations/0004_lean_writes.sql")),
    (5, include_str!("migrations/0005_runs.sql")),
    (6, include_str!("migrations/0006_client_id.sql")),
    (7, include_str!("migrations/0007_allowances.sql")),
    (8, include_str!("migrations/0008_outbox.sql")),
];

/// The last migration's number (a write of it proves the store can be written again).
pub(super) const LAST_MIGRATION: u32 = 8;

/// The write connection's settings. Checkpoints run on their own connection (passive: they
/// never block a commit), so no commit pays for copying the WAL back and syncing the database.
/// Commits append at the right edge of each table and index and update a session row: 1 MiB
/// of page cache holds those (SQLite's default is 2 MiB, kept per connection).
pub(super) fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_RESET_BYTES};
         PRAGMA cache_size = -1024;"
    ))
}

/// Opens (creating if needed) and migrates the database at `path`.
///
/// # Errors
///
/// SQLite errors, or a directory that cannot be created.
pub fn open_connection(path: &Path, synchronous_full: bool) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    let mut conn = Connection::open(path).map_err(sqlite(path))?;
    // SQLite falls back to read-only when it cannot write; such a connection never recovers,
    // so it is refused here and opened again later.
    if conn.is_readonly(rusqlite::MAIN_DB).map_err(sqlite(path))? {
        return Err(StoreError::ReadOnly {
            path: path.to_path_buf(),
        });
    }
    // Before WAL mode is set: on a new file, auto_vacuum only takes effect while nothing has
    // been written, and setting WAL writes the header (then every file stayed at auto_vacuum
    // 0 and pruning never gave space back).
    let fresh: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite(path))?;
    if fresh == 0 {
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
            .map_err(sqlite(path))?;
    }
    let sync = if synchronous_full { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000;"
    ))
    .map_err(sqlite(path))?;
    migrate(&mut conn).map_err(sqlite(path))?;
    if let Some(machine) = super::outbox::machine_id() {
        super::outbox::claim_machine(&conn, &machine).map_err(sqlite(path))?;
    }
    Ok(conn)
}

pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use hook_protocol::{EventQuery, RunQuery};
    use rusqlite::Connection;

    use super::LAST_MIGRATION;
    use crate::clock::now_ms;
    use crate::store::testutil::{rec, spooled};
    use crate::store::{Recorded, Store};

    /// A store as hookd left it at exit before the store was split into modules (build
    /// cd4d5d5, all six migrations): seven events of one session from hook-client (one spooled
    /// while hookd was down, then ingested; a deny; a `Stop` that ran a `run` rule; the session
    /// started and ended).
    const OLD_STORE: &[u8] = include_bytes!("testdata/store-v6.db");

    #[test]
    fn a_new_store_gives_pruned_space_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hookd.db");
        drop(Store::open(&db, &dir.path().join("journal"), false, None).unwrap());
        let conn = Connection::open(&db).unwrap();
        let mode: i64 = conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 2, "incremental auto_vacuum");
        let wal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(wal, "wal");
    }

    #[test]
    fn a_store_written_by_an_earlier_build_opens_reads_and_takes_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hookd.db");
        std::fs::write(&db, OLD_STORE).unwrap();
        let s = Store::open(&db, &dir.path().join("journal"), false, None).unwrap();
        assert!(
            s.stats().incident.lock().unwrap().is_none(),
            "not moved aside"
        );
        assert_eq!(s.stats().events_total.load(Ordering::Relaxed), 7);
        assert_eq!(s.stats().fallbacks.load(Ordering::Relaxed), 1);
        let rows = s
            .query_events(&EventQuery {
                limit: 100,
                with_payload: true,
                ..EventQuery::default()
            })
            .unwrap();
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .rev()
            .map(|r| (r.event.as_str(), r.verdict.as_str(), r.source.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("PreToolUse", "fallback:ask", "spool"),
                ("SessionStart", "none", "socket"),
                ("PreToolUse", "deny", "socket"),
                ("PreToolUse", "none", "socket"),
                ("PostToolUse", "none", "socket"),
                ("Stop", "log", "socket"),
                ("SessionEnd", "none", "socket"),
            ]
        );
        assert!(rows.iter().all(|r| r.payload.is_some()));
        assert_eq!(rows[4].rules, vec!["git-push-force", "no-force-push"]);
        let sessions = s.sessions(10, false).unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(
            (sessions[0].events, sessions[0].denials),
            (7, 1),
            "{sessions:?}"
        );
        assert!(sessions[0].ended_ms.is_some());
        assert_eq!(s.session_rows(&sessions[0].id, 100).unwrap().len(), 7);
        let runs = s.query_runs(&RunQuery::default()).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].rule.as_str(), runs[0].outcome.as_str()),
            ("note-stop", "ok")
        );
        assert_eq!(
            runs[0].event_id,
            Some(rows[1].id),
            "joined to its Stop event"
        );
        // The spooled event's delivery id still finds it: another copy is dropped.
        let (id, time_ms): (String, i64) = Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT client_id, time_ms FROM events WHERE source = 'spool'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(
            s.drop_recorded(vec![spooled(&id, time_ms)])
                .unwrap()
                .is_empty()
        );
        // Writes go on in the same file, without a migration.
        assert!(matches!(
            s.record_blocking(vec![rec(now_ms())]),
            Ok(Recorded::Committed)
        ));
        assert_eq!(s.stats().events_total.load(Ordering::Relaxed), 8);
        drop(s);
        let version: u32 = Connection::open(&db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, LAST_MIGRATION);
    }

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        {
            let s = Store::open(&p, &dir.path().join("spool"), false, None).unwrap();
            s.record_blocking(vec![rec(1)]).unwrap();
        }
        let s = Store::open(&p, &dir.path().join("spool"), false, None).unwrap();
        assert_eq!(s.stats().events_total.load(Ordering::Relaxed), 1);
    }
}
