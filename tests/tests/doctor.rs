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
    let mut d = TestDaemon::unstarted(&[]).unwrap();
    // Down for good: no hook may start it (with autostart, not running is fine; first_run.rs).
    d.set_env("HOOKD_NO_AUTOSTART", "1");
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
    // Break the store under the running daemon: its next commit fails (the event goes to the
    // emergency journal).
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
            .contains("kept in the emergency journal")
    );
    assert_eq!(level(&checks, "journal"), "warn", "{checks:#?}");
}

#[test]
fn a_daemon_from_another_build_is_diagnosed() {
    use hook_protocol::{Request, Response, StatusReport};
    let d = TestDaemon::unstarted(&[]).unwrap();
    let project = tempfile::tempdir().unwrap();
    // A stand-in hookd of another build answering on the socket.
    let listener = std::os::unix::net::UnixListener::bind(d.socket()).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            while let Ok(req) = hook_protocol::read_message::<_, Request>(&mut s) {
                let resp = match req {
                    Request::Status => Response::Status(Box::new(StatusReport {
                        pid: 1,
                        version: "9.9.9".into(),
                        build_id: "another-build".into(),
                        protocol: hook_protocol::PROTOCOL_VERSION,
                        ..StatusReport::default()
                    })),
                    _ => Response::Events(Vec::new()),
                };
                if hook_protocol::write_message(&mut s, &resp).is_err() {
                    break;
                }
            }
        }
    });
    let (code, checks) = doctor(&d, project.path());
    assert_eq!(level(&checks, "hookd"), "ok");
    // Issue 17 (upgrades): builds that differ are a failure, with `hookctl restart` as the fix.
    assert_eq!(level(&checks, "versions"), "fail", "{checks:#?}");
    assert_ne!(code, 0);
    let v = find(&checks, "versions")[0];
    assert!(v["detail"].as_str().unwrap().contains("9.9.9"));
    assert!(v["fix"].as_str().unwrap().contains("hookctl restart"));
}

#[test]
fn service_install_writes_units_with_real_paths_and_uninstall_removes_them() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let units = tempfile::tempdir().unwrap();
    let dir = units.path().to_str().unwrap();
    let hookd = hook_tests::harness::bin("hookd");
    let out = d
        .hookctl(&[
            "service",
            "install",
            "--no-start",
            "--unit-dir",
            dir,
            "--hookd",
            hookd.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let service = std::fs::read_to_string(units.path().join("hookd.service")).unwrap();
    let socket = std::fs::read_to_string(units.path().join("hookd.socket")).unwrap();
    let canonical = hookd.canonicalize().unwrap();
    assert!(
        service.contains(&format!("ExecStart={}", canonical.display())),
        "{service}"
    );
    assert!(
        service.contains(&format!("Environment=HOOKD_HOME={}", d.home().display())),
        "{service}"
    );
    assert!(
        socket.contains(&format!("ListenStream={}", d.socket().display())),
        "{socket}"
    );
    let status = d
        .hookctl(&["service", "status", "--unit-dir", dir])
        .unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("installed"),
        "{status:?}"
    );
    let out = d
        .hookctl(&["service", "uninstall", "--no-start", "--unit-dir", dir])
        .unwrap();
    assert!(out.status.success());
    assert!(
        !units.path().join("hookd.service").exists() && !units.path().join("hookd.socket").exists()
    );
    let status = d
        .hookctl(&["service", "status", "--unit-dir", dir])
        .unwrap();
    assert_eq!(status.status.code(), Some(1), "missing units are reported");
}

#[test]
fn bare_number_and_refused_deadlines_are_diagnosed() {
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    install(&d, project.path());
    let claude = project.path().join(".claude");
    let client = hook_tests::harness::bin("hook-client");
    let client = client.to_str().unwrap();
    std::fs::write(
        claude.join("settings.local.json"),
        json!({"hooks": {
            "Stop": [{"hooks": [{"type": "command",
                "command": format!("{client} --event Stop --deadline 500")}]}],
            "Notification": [{"hooks": [{"type": "command",
                "command": format!("{client} --event Notification --deadline=2h")}]}],
        }})
        .to_string(),
    )
    .unwrap();
    let (code, checks) = doctor(&d, project.path());
    assert_ne!(code, 0, "{checks:#?}");
    let found = find(&checks, "deadline");
    assert_eq!(found.len(), 2, "{checks:#?}");
    let all: Vec<String> = found.iter().map(|c| c.to_string()).collect();
    assert!(
        all.iter().any(|c| c.contains("\"fail\"")
            && c.contains("--deadline 2h")
            && c.contains("Notification")),
        "{all:#?}"
    );
    assert!(
        all.iter().any(|c| c.contains("\"warn\"")
            && c.contains("a bare number is seconds")
            && c.contains("--deadline 500")
            && c.contains("Stop")),
        "{all:#?}"
    );
}
