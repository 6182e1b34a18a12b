//! Durability at the edges (RELIABILITY.md, "Durability"; issue 17 items 3-5): an answered
//! event survives `kill -9` even when the store and the spool share a full disk (the emergency
//! journal; past it, events get their fail mode instead of a verdict that could be lost); an
//! event hookd committed whose reply was lost is recorded once, not again from the client's
//! spool; a store that filled its disk recovers by itself once space returns.
//!
//! File systems: tmpfs mounts in a private mount namespace of the test's thread (root, as here
//! and in CI); the tests that need one say SKIPPED when mounting is not permitted.

use std::path::Path;
use std::time::Duration;

use hook_protocol::spool::{self, SpoolRecord};
use hook_tests::harness::{TestDaemon, event_json, permission_decision as decision, wait_for};
use hook_tests::mounts::{Tmpfs, private_namespace};
use serde_json::{Value, json};

/// A force push (the default packs deny it) carrying about `kib` KiB of prose in its
/// description: a large event hookd answers with `deny`.
fn big_push(session: &str, kib: usize) -> Vec<u8> {
    let line = "the quick brown fox jumps over the lazy dog and writes another line\n";
    let text = line.repeat(kib * 1024 / line.len());
    event_json(
        "PreToolUse",
        session,
        &json!({"tool_name": "Bash", "tool_input": {"command": "git push -f origin main", "description": text}}),
    )
}

/// Sends `event` through the real hook-client and checks hookd itself denied it.
fn send_denied(d: &TestDaemon, event: &[u8]) {
    let out = d.hook(event, &["--no-autostart"]).unwrap();
    assert!(
        decision(&out) == "deny" && out.stderr.is_empty(),
        "answered by hookd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn status(d: &TestDaemon) -> Value {
    d.status().unwrap()["hookd"].clone()
}

/// Rows per session id in the store.
fn rows_of(d: &TestDaemon, session: &str) -> usize {
    d.events(100, &["--session", session]).unwrap().len()
}

/// Every row in the store: (session, verdict, source).
fn all_rows(d: &TestDaemon) -> Vec<(String, String, String)> {
    d.events(100_000, &[])
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["session_id"].as_str().unwrap_or("").to_string(),
                r["verdict"].as_str().unwrap_or("").to_string(),
                r["source"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn answered_events_survive_kill_9_when_store_and_spool_share_a_full_disk() {
    if private_namespace().is_err() {
        eprintln!(
            "SKIPPED store and spool on one full disk: needs a mount (root or CAP_SYS_ADMIN)"
        );
        return;
    }
    // The default layout: store, spool and journal on one file system; a small reserve so
    // the test also runs past it.
    let mut d =
        TestDaemon::unstarted(&[("hookd.toml", "[store]\nemergency_journal = \"256KiB\"\n")])
            .unwrap();
    let fs = Tmpfs::mount(&d.home().join("data"), "4m").unwrap();
    d.set_env("HOOKD_DB", fs.path().join("hookd.db").to_str().unwrap());
    d.set_env("HOOKD_STATE_DIR", fs.path().join("state").to_str().unwrap());
    d.spawn().unwrap();
    fs.fill("filler").unwrap();
    // Through the real hook-client: hookd denies while it can keep the event, then (the
    // journal full too) answers by the fail mode, ask, rather than give a verdict it could lose.
    let (mut acked, mut fail_mode) = (Vec::new(), Vec::new());
    for i in 0..600 {
        let session = format!("full-{i}");
        let out = d.hook(&big_push(&session, 2), &["--no-autostart"]).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        match decision(&out).as_str() {
            "deny" if stderr.is_empty() => acked.push(session),
            "ask" => {
                assert!(
                    stderr.contains("hookd could not answer durably"),
                    "{stderr}"
                );
                fail_mode.push(session);
            }
            other => panic!("{session}: {other:?}: {stderr}"),
        }
        if fail_mode.len() >= 5 {
            break;
        }
    }
    eprintln!(
        "{} answered by hookd, {} by the fail mode once the journal was full",
        acked.len(),
        fail_mode.len()
    );
    let full = d.hookctl(&["status", "--json"]).unwrap();
    let s: Value = serde_json::from_slice(&full.stdout).unwrap();
    d.kill9().unwrap();
    // Restart on the still-full disk: the journal is read back and waits; then space returns.
    d.spawn().unwrap();
    std::fs::remove_file(fs.path().join("filler")).unwrap();
    wait_for(Duration::from_secs(60), "recovery", || {
        let s = status(&d);
        s["store_error"].is_null() && s["journal_events"].as_u64().unwrap_or(0) == 0
    })
    .unwrap_or_else(|e| panic!("{e}: {:#}\n{}", status(&d), d.log()));
    let rows = all_rows(&d);
    let lost: Vec<&String> = acked
        .iter()
        .filter(|s| rows.iter().filter(|r| &r.0 == *s).count() != 1)
        .collect();
    eprintln!(
        "after kill -9 and recovery: {} of {} answered events stored exactly once, {} lost or repeated",
        acked.len() - lost.len(),
        acked.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "answered events lost or repeated: {lost:?}"
    );
    assert!(
        rows.iter()
            .filter(|r| acked.contains(&r.0))
            .all(|r| r.1 == "deny" && r.2 == "socket"),
        "recorded with hookd's verdict"
    );
    assert!(acked.len() > 20, "{acked:?}");
    // Before the kill: no durability claimed once the journal was full, and status said why.
    assert!(!fail_mode.is_empty(), "the journal never filled up");
    assert!(!full.status.success(), "status exits non-zero");
    let why = s["hookd"]["durability_error"].as_str().unwrap_or("");
    assert!(why.contains("fail mode"), "{s:#}");
    assert!(s["hookd"]["not_durable"].as_u64().unwrap() >= 5, "{s:#}");
    // And afterwards the reserve is back and durability claimed again.
    let s = status(&d);
    assert!(s["durability_error"].is_null(), "{s:#}");
    assert_eq!(s["journal_reserved_bytes"], json!(256 * 1024));
    drop(d);
    drop(fs);
}

fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The id hookd recorded with the event of `session` (hook-client's invocation id).
fn client_id_of(d: &TestDaemon, session: &str) -> String {
    let conn = rusqlite::Connection::open_with_flags(
        d.home().join("hookd.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT client_id FROM events WHERE session_id = ?1",
        [session],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn an_event_committed_whose_reply_was_lost_is_recorded_once() {
    let d = TestDaemon::start().unwrap();
    // hookd commits the event and answers; say its reply was lost (hookd killed between the
    // commit and the reply): hook-client then spools it under the id it sent with it.
    let event = big_push("lost-reply", 1);
    let out = d.hook(&event, &["--no-autostart"]).unwrap();
    assert_eq!(decision(&out), "deny");
    let id = client_id_of(&d, "lost-reply");
    let now = now_ms();
    let spooled = |id: &str, session: &str, event: Vec<u8>| SpoolRecord {
        id: id.into(),
        time_ms: now,
        reason: "hookd at hookd.sock closed the connection without answering".into(),
        answered: "ask".into(),
        event,
        truncated_from: None,
        env: hook_protocol::HookEnv {
            session_id: Some(session.into()),
            ..hook_protocol::HookEnv::default()
        },
    };
    let spool_path = d.home().join("state/spool");
    spool::append(&spool_path, &spooled(&id, "lost-reply", event)).unwrap();
    // A real fallback beside it (hookd never saw it), and a record of the format written
    // before ids were sent (made at spooling time, with the uid): both are recorded.
    let other = format!("{:x}-{:x}", u128::from(now) * 1_000_000, 4242);
    spool::append(
        &spool_path,
        &spooled(&other, "fell-back", big_push("fell-back", 1)),
    )
    .unwrap();
    let old = format!("{:x}-{:x}-{:x}", u128::from(now) * 1_000_000, 4243, 1000);
    spool::append(
        &spool_path,
        &spooled(&old, "old-format", big_push("old-format", 1)),
    )
    .unwrap();
    wait_for(Duration::from_secs(30), "spool ingested", || {
        status(&d)["spool_backlog_bytes"] == json!(0)
    })
    .unwrap();
    let rows = all_rows(&d);
    let of = |s: &str| -> Vec<(String, String)> {
        rows.iter()
            .filter(|r| r.0 == s)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect()
    };
    assert_eq!(
        of("lost-reply"),
        vec![("deny".into(), "socket".into())],
        "{rows:?}"
    );
    assert_eq!(
        of("fell-back"),
        vec![("fallback:ask".into(), "spool".into())]
    );
    assert_eq!(
        of("old-format"),
        vec![("fallback:ask".into(), "spool".into())]
    );
    let s = status(&d);
    assert_eq!(s["duplicates_dropped"], json!(1), "{s:#}");
    assert_eq!(s["fallbacks_recorded"], json!(2), "{s:#}");
    let stats: Value =
        serde_json::from_slice(&d.hookctl(&["stats", "--json"]).unwrap().stdout).unwrap();
    assert_eq!(stats["duplicates_dropped"], json!(1));
}

#[test]
fn a_full_store_disk_heals_without_a_restart_once_space_returns() {
    if private_namespace().is_err() {
        eprintln!("SKIPPED full store disk heals: needs a mount (root or CAP_SYS_ADMIN)");
        return;
    }
    let mut d = TestDaemon::unstarted(&[]).unwrap();
    let data = Tmpfs::mount(&d.home().join("data"), "24m").unwrap();
    let state = Tmpfs::mount(&d.home().join("state"), "8m").unwrap();
    let db = data.path().join("hookd.db");
    let wal = data.path().join("hookd.db-wal");
    d.set_env("HOOKD_DB", db.to_str().unwrap());
    d.set_env("HOOKD_STATE_DIR", state.path().to_str().unwrap());
    d.spawn().unwrap();

    // The store fills its own disk: 64 KiB events until a commit fails.
    let mut filled = 0;
    let mut wal_max = 0;
    while filled < 2000 {
        send_denied(&d, &big_push(&format!("fill-{filled}"), 64));
        filled += 1;
        wal_max = wal_max.max(file_len(&wal));
        if !status(&d)["store_error"].is_null() {
            break;
        }
    }
    let s = status(&d);
    eprintln!(
        "store failed after {filled} events: {}; WAL at most {wal_max} bytes; db {} bytes",
        s["store_error"],
        file_len(&db)
    );
    assert!(!s["store_error"].is_null(), "the store never failed");
    // A few more while it is full, and hook-client fallbacks (hookd unreachable) spooled.
    for i in 0..5 {
        send_denied(&d, &big_push(&format!("full-{i}"), 16));
        wal_max = wal_max.max(file_len(&wal));
    }
    let dead = d.home().join("nobody-listens.sock");
    for i in 0..3 {
        let out = d
            .hook(
                &big_push(&format!("fallback-{i}"), 1),
                &["--no-autostart", "--socket", dead.to_str().unwrap()],
            )
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("spooled to"));
    }
    assert!(
        wal_max <= 17 << 20,
        "the WAL grew past its 16 MiB cap: {wal_max} bytes"
    );
    // While full: the spool waits, doctor does not tell to start the running hookd.
    pause_for_ingestion();
    assert!(status(&d)["spool_backlog_bytes"].as_u64().unwrap() > 0);
    let out = d.hookctl(&["doctor", "--json"]).unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in v["checks"].as_array().unwrap() {
        assert!(
            !c["fix"].as_str().unwrap_or("").contains("start hookd"),
            "doctor tells to start the hookd that runs: {c}"
        );
    }

    // Space returns: the volume is grown in place. No restart.
    data.resize("64m").unwrap();
    wait_for(Duration::from_secs(60), "recovery", || {
        let s = status(&d);
        s["store_error"].is_null()
            && s["spool_backlog_bytes"] == json!(0)
            && s["journal_events"].as_u64().unwrap_or(0) == 0
    })
    .unwrap_or_else(|e| panic!("{e}: {:#}\n{}", status(&d), d.log()));
    for i in 0..filled {
        assert_eq!(rows_of(&d, &format!("fill-{i}")), 1, "fill-{i}");
    }
    for i in 0..5 {
        assert_eq!(rows_of(&d, &format!("full-{i}")), 1, "full-{i}");
    }
    for i in 0..3 {
        assert_eq!(rows_of(&d, &format!("fallback-{i}")), 1, "fallback-{i}");
    }
    // Only the client's fallbacks count as fallbacks: hookd answered the others itself.
    assert_eq!(
        status(&d)["fallbacks_recorded"],
        json!(3),
        "{:#}",
        status(&d)
    );
    eprintln!(
        "after the volume grew: error cleared, journal and spool drained, all {} events stored once; WAL {} bytes",
        filled + 5 + 3,
        file_len(&wal)
    );
    drop(d);
    drop(state);
    drop(data);
}

fn pause_for_ingestion() {
    // Spool ingestion runs every second: give it two tries.
    hook_tests::harness::pause(Duration::from_millis(2500));
}
