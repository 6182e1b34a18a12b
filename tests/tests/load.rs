//! Load (RELIABILITY.md, "Load"), the fast version: 64 concurrent clients send a realistic
//! event mix (`hook-bench load`: sessions of prompts, tool calls, notifications, stops); zero
//! errors, and the store holds every answered event exactly once (`hook-bench verify`).
//! `scripts/reliability.sh` runs the same with 1,000,000 events on a release build.

use std::process::Stdio;

use hook_tests::harness::TestDaemon;
use serde_json::{Value, json};

#[test]
fn sixty_four_clients_twenty_thousand_events_zero_errors_zero_lost() {
    let d = TestDaemon::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = d
        .command("hook-bench")
        .args([
            "load",
            "--run",
            "fast",
            "--clients",
            "64",
            "--events",
            "20000",
        ])
        .arg("--acked-out")
        .arg(dir.path().join("acked"))
        .arg("--json-out")
        .arg(dir.path().join("load.json"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let load: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("load.json")).unwrap()).unwrap();
    assert_eq!(load["answered"], json!(20_000), "{load:#}");
    assert_eq!(load["failed"], json!(0), "{load:#}");
    let out = d
        .command("hook-bench")
        .arg("verify")
        .arg("--db")
        .arg(d.home().join("hookd.db"))
        .arg("--acked")
        .arg(dir.path().join("acked"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{load:#}\n{v:#}");
    assert!(out.status.success(), "{v:#}");
    assert_eq!(v["answered_stored_once"], json!(20_000));
    assert_eq!(v["lost"], json!(0));
    assert_eq!(v["duplicated"], json!(0));
    // Besides the load's events, the store holds hookd's `bypass` rows: the load's PostToolUse
    // events carry tool_use_ids no PreToolUse had (docs/operations.md, "Bypass alarm").
    let stats: Value =
        serde_json::from_slice(&d.hookctl(&["stats", "--json"]).unwrap().stdout).unwrap();
    let bypasses = stats["bypasses"].as_u64().unwrap();
    let status = d.status().unwrap();
    assert_eq!(status["hookd"]["events_total"], json!(20_000 + bypasses));
}
