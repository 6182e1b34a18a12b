//! Crash and restart under load (RELIABILITY.md, "Crash and restart"): many concurrent clients
//! through the real hook-client while hookd is killed (`kill -9`) or stopped (SIGTERM) again
//! and again; afterwards every event a client got a verdict for is in the store exactly once,
//! every event a client answered by its fail mode is in it exactly once too (from the spool, or
//! hookd's own commit when only the reply was lost: the spooled copy is dropped), and sessions
//! resume. `scripts/reliability.sh` runs the long version (25 cycles, 16 clients).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use hook_tests::harness::{TestDaemon, bin, event_json, pause, wait_for};
use serde_json::{Value, json};

/// Starts `hook-bench load` through the real hook-client against `d` (no autostart: the test
/// restarts hookd itself). It sends at most `events` events and stops early once
/// `dir/stop` exists, so a fast machine cannot finish the load before the crashes are done.
fn start_load(d: &TestDaemon, dir: &Path, clients: usize, events: u64) -> Child {
    d.command("hook-bench")
        .env("HOOKD_NO_AUTOSTART", "1")
        .args(["load", "--run", "crash", "--allow-failures"])
        .arg("--stop-file")
        .arg(dir.join("stop"))
        .args(["--clients", &clients.to_string()])
        .args(["--events", &events.to_string()])
        .arg("--via-client")
        .arg(bin("hook-client"))
        .arg("--acked-out")
        .arg(dir.join("acked"))
        .arg("--failed-out")
        .arg(dir.join("failed"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn events_since_start(d: &TestDaemon) -> u64 {
    d.status()
        .ok()
        .and_then(|s| s["hookd"]["events_since_start"].as_u64())
        .unwrap_or(0)
}

/// Waits for the load to end (bounded) and returns its report.
fn finish_load(child: Child) -> String {
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("load did not finish within 10 minutes");
        }
        pause(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "load failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `hook-bench verify` on the store once the spool is drained; returns its JSON.
fn verify(d: &TestDaemon, dir: &Path) -> Value {
    wait_for(Duration::from_secs(30), "spool drained", || {
        d.status().is_ok_and(|s| {
            s["hookd"]["spool_backlog_bytes"] == json!(0)
                && s["hookd"]["journal_events"] == json!(0)
        })
    })
    .unwrap();
    let out = d
        .command("hook-bench")
        .arg("verify")
        .arg("--db")
        .arg(d.home().join("hookd.db"))
        .arg("--acked")
        .arg(dir.join("acked"))
        .arg("--failed")
        .arg(dir.join("failed"))
        .arg("--spooled")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "{v:#}");
    v
}

/// One crash: `signal` while the load runs, a pause long enough for some clients to fall back
/// and spool, then a restart.
fn crash_and_restart(d: &mut TestDaemon, signal: i32, cycle: usize) {
    let before = events_since_start(d);
    wait_for(Duration::from_secs(60), "events flowing", || {
        events_since_start(d) >= before.max(1) + 30
    })
    .unwrap();
    d.signal_and_wait(signal).unwrap();
    let spool = d.home().join("state/spool");
    wait_for(
        Duration::from_secs(30),
        "a client to fall back and spool",
        || spool.exists(),
    )
    .unwrap();
    d.spawn()
        .unwrap_or_else(|e| panic!("restart after cycle {cycle}: {e}"));
}

/// 8 clients send `events` events while hookd gets `signal` and is restarted `cycles` times;
/// then nothing answered is lost or duplicated and nothing spooled is missing. Returns the
/// verify report.
///
/// The load must outlast the cycles: while hookd is down every client falls back at once, so
/// each restart uses up events as fast as hook-client starts. With the static client (no
/// dynamic loader, no Rust runtime start-up) a restart of the debug hookd here took about 640
/// of them, so `events` leaves room for several times that per cycle.
fn crash_under_load(signal: i32, cycles: usize, events: u64) -> serde_json::Value {
    let mut d = TestDaemon::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let load = start_load(&d, dir.path(), 8, events);
    for cycle in 0..cycles {
        crash_and_restart(&mut d, signal, cycle);
    }
    // Some events after the last restart too, then the clients stop.
    let after = events_since_start(&d);
    wait_for(
        Duration::from_secs(60),
        "events after the last restart",
        || events_since_start(&d) >= after + 30,
    )
    .unwrap();
    std::fs::write(dir.path().join("stop"), "").unwrap();
    let report = finish_load(load);
    let v = verify(&d, dir.path());
    eprintln!("{report}{v:#}");
    assert_eq!(v["lost"], json!(0), "{v:#}");
    assert_eq!(v["duplicated"], json!(0), "{v:#}");
    assert_eq!(v["failed_missing"], json!(0), "{v:#}");
    v
}

#[test]
fn kill_9_under_load_loses_no_answered_event_and_ingests_the_spool_once() {
    let v = crash_under_load(libc::SIGKILL, 3, 100_000);
    assert!(v["answered"].as_u64().unwrap() > 0);
    assert!(
        v["failed_spooled_once"].as_u64().unwrap() > 0,
        "each crash made some client fall back: {v:#}"
    );
}

#[test]
fn sigterm_in_bursts_keeps_every_answered_event_and_ingests_the_spool_once() {
    crash_under_load(libc::SIGTERM, 2, 100_000);
}

#[test]
fn sessions_resume_after_kill_9() {
    let rules = "[[rule]]\nname = 'read-first'\ntool = 'Edit'\naction = 'deny'\n\
                 reason = 'read it first'\n[rule.session]\nread_before_edit = true\n";
    let mut d = TestDaemon::start_with(&[("rules.d/read.toml", rules)]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("lib.rs");
    std::fs::write(&file, "fn main() {}\n").unwrap();
    let other = project.path().join("other.rs");
    std::fs::write(&other, "fn other() {}\n").unwrap();
    let cwd = json!(project.path());
    let call = |phase: &str, tool: &str, path: &Path| {
        event_json(
            phase,
            "resume",
            &json!({"cwd": cwd, "tool_name": tool, "tool_input": {"file_path": path}}),
        )
    };
    let verdict = |d: &TestDaemon, ev: &[u8]| -> String {
        let out = d.hook(ev, &["--no-autostart"]).unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v["hookSpecificOutput"]["permissionDecision"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    };
    d.hook(
        &event_json(
            "SessionStart",
            "resume",
            &json!({"cwd": cwd, "source": "startup"}),
        ),
        &[],
    )
    .unwrap();
    assert_eq!(verdict(&d, &call("PreToolUse", "Read", &file)), "none");
    d.hook(&call("PostToolUse", "Read", &file), &[]).unwrap();
    d.kill9().unwrap();
    d.spawn().unwrap();
    // Rebuilt from the store: the Read before the crash counts, the other file was never read.
    assert_eq!(verdict(&d, &call("PreToolUse", "Edit", &file)), "none");
    assert_eq!(verdict(&d, &call("PreToolUse", "Edit", &other)), "deny");
}
