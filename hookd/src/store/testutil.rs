//! Helpers for the store's unit tests.

use std::path::Path;

use hook_protocol::failmode::FailMode;
use rusqlite::Connection;

use super::{EventRecord, Store};

/// A store in a new temporary directory (kept as long as the guard).
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("x.db"),
        &dir.path().join("spool"),
        false,
        None,
    )
    .unwrap();
    (dir, store)
}

pub fn rec(n: i64) -> EventRecord {
    EventRecord {
        time_ms: n,
        session_id: Some("s".into()),
        event: "Stop".into(),
        payload: b"{}".to_vec(),
        verdict: "none".into(),
        source: crate::verdict::Source::Socket,
        ..EventRecord::default()
    }
}

/// Makes every insert fail (the table renamed away) or work again.
pub fn break_table(db: &Path, broken: bool) {
    let sql = if broken {
        "ALTER TABLE events RENAME TO events_away;"
    } else {
        "ALTER TABLE events_away RENAME TO events;"
    };
    Connection::open(db).unwrap().execute_batch(sql).unwrap();
}

pub fn rows(db: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = Connection::open(db).unwrap();
    let mut st = conn
        .prepare("SELECT verdict, source, client_id FROM events ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub fn answered(n: i64, client_id: &str) -> EventRecord {
    EventRecord {
        verdict: "deny".into(),
        client_id: Some(client_id.into()),
        fail_mode: Some(FailMode::Ask),
        ..rec(n)
    }
}

/// A client id as hook-client makes it, for a client started at `ms`.
pub fn client_id(ms: i64, pid: u32) -> String {
    format!("{:x}-{pid:x}", i128::from(ms) * 1_000_000)
}

/// What ingestion makes of an event hook-client spooled (`crate::ingest::from_spool`): a
/// client's fallback `ask`, with its delivery id.
pub fn spooled(id: &str, time_ms: i64) -> EventRecord {
    EventRecord {
        time_ms,
        session_id: Some("s".into()),
        event: "Stop".into(),
        payload: br#"{"hook_event_name":"Stop","session_id":"s"}"#.to_vec(),
        verdict: "fallback:ask".into(),
        reason: Some("no answer from hookd".into()),
        source: crate::verdict::Source::Spool,
        spool_id: Some(id.into()),
        client_id: Some(id.into()),
        touch_session: true,
        ..EventRecord::default()
    }
}
