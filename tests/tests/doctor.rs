//! `hookctl doctor`: each check, with the thing it checks broken, gives the right diagnosis
//! and a fix; a healthy setup passes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hook_protocol::spool::{self, SpoolRecord};
use hook_tests::harness::TestDaemon;
use serde_json::{Value, json};

/// Runs `hookctl doctor --json` for `project`; returns (exit code, checks by name).
fn doctor(d: &TestDaemon, project: &Path) -> (i32, Vec<Value>) {
    let out = d
        .hookctl(&["doctor", "--json", "--project", project.to_str().unwrap()])
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap(),
        v["checks"].as_array().unwrap().clone(),
    )
}

fn find<'a>(checks: &'a [Value], name: &str) -> Vec<&'a Value> {
    checks.iter().filter(|c| c["name"] == name).collect()
}

fn level(checks: &[Value], name: &str) -> String {
    find(checks, name).first().map_or("absent".into(), |c| {
        c["level"].as_str().unwrap().to_string()
    })
}

fn install(d: &TestDaemon, project: &Path) {
    let client = hook_tests::harness::bin("hook-client");
    let out = d
        .hookctl(&[
            "install",
            "--project",
            "--dir",
            project.to_str().unwrap(),
            "--client",
            client.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn healthy_setup_passes() {
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    install(&d, project.path());
    let (code, checks) = doctor(&d, project.path());
    assert_eq!(code, 0, "{checks:#?}");
    for name in [
        "hookd", "versions", "wiring", "rules", "store", "socket", "spool", "service",
    ] {
        assert_eq!(level(&checks, name), "ok", "{name}: {checks:#?}");
    }
    assert_eq!(level(&checks, "unwired"), "absent");
}

#[test]
fn daemon_down_and_spool_backlog_are_diagnosed() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let project = tempfile::tempdir().unwrap();
    spool::append(
        &d.home().join("state/spool"),
        &SpoolRecord {
            id: "x".into(),
            event: b"{}".to_vec(),
            ..SpoolRecord::default()
        },
    )
    .unwrap();
    let (code, checks) = doctor(&d, project.path());
    assert_eq!(code, 1);
    assert_eq!(level(&checks, "hookd"), "fail");
    assert!(
        find(&checks, "hookd")[0]["fix"]
            .as_str()
            .unwrap()
            .contains("hookd")
    );
    assert_eq!(level(&checks, "spool"), "fail");
    assert_eq!(
        level(&checks, "settings"),
        "warn",
        "no settings file at all"
    );
}

#[test]
fn broken_settings_duplicates_and_unwired_events_are_diagnosed() {
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    let claude = project.path().join(".claude");
    std::fs::create_dir(&claude).unwrap();
    std::fs::write(claude.join("settings.local.json"), "{\"hooks\": {").unwrap();
    let (code, checks) = doctor(&d, project.path());
    assert_eq!(code, 1);
    assert!(
        find(&checks, "settings")
            .iter()
            .any(|c| c["level"] == "fail"
                && c["detail"].as_str().unwrap().contains("not valid JSON"))
    );

    std::fs::write(
        claude.join("settings.local.json"),
        json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "/x/hook-client --fail-mode deny"}]}]}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        claude.join("settings.json"),
        json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "/x/hook-client"}]}],
                         "PreToolUse": [{"hooks": [{"type": "command", "command": "/x/hook-client", "timeout": -1}]}]}}).to_string(),
    )
    .unwrap();
    let (_, checks) = doctor(&d, project.path());
    assert!(
        find(&checks, "settings")
            .iter()
            .any(|c| c["level"] == "fail" && c["detail"].as_str().unwrap().contains("timeout")),
        "{checks:#?}"
    );
    assert_eq!(level(&checks, "duplicates"), "warn");
    assert_eq!(level(&checks, "unwired"), "warn");
    assert!(
        find(&checks, "unwired")[0]["detail"]
            .as_str()
            .unwrap()
            .contains("SessionStart")
    );
}

#[test]
fn rule_errors_are_diagnosed() {
    let d = TestDaemon::start_with(&[(
        "rules.d/bad.toml",
        "[[rule]]\nname='x'\nevent='Stop'\naction='ask'\n",
    )])
    .unwrap();
    let project = tempfile::tempdir().unwrap();
    let (code, checks) = doctor(&d, project.path());
    assert_eq!(code, 1);
    assert_eq!(level(&checks, "rules"), "fail");
    assert!(
        find(&checks, "rules")[0]["detail"]
            .as_str()
            .unwrap()
            .contains("bad.toml:1:1")
    );
}

#[test]
fn loose_socket_directory_is_diagnosed() {
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.home(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, checks) = doctor(&d, project.path());
    assert_eq!(code, 1);
    assert_eq!(level(&checks, "socket"), "fail");
    assert!(
        find(&checks, "socket")[0]["fix"]
            .as_str()
            .unwrap()
            .contains("chmod 700")
    );
}

#[test]
fn failing_store_is_diagnosed() {
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    // Break the store under the running daemon: its next commit fails (and spools).
    let conn = rusqlite::Connection::open(d.home().join("hookd.db")).unwrap();
    conn.execute_batch("DROP TABLE events;").unwrap();
    let ev = hook_tests::harness::event_json("Stop", "st", &json!({}));
    d.hook(&ev, &[]).unwrap();
    let (code, checks) = doctor(&d, project.path());
    assert_eq!(code, 1);
    assert_eq!(level(&checks, "store"), "fail", "{checks:#?}");
    assert!(
        find(&checks, "store")[0]["detail"]
            .as_str()
            .unwrap()
            .contains("spooled")
    );
}
