//! A broken rule file never means "no rules" (docs/rules.md, "When rule files fail to load"):
//! hookd saves each rule set that loads without errors and, when the files fail to load at a
//! later start, keeps that last good set whole, saying so in `status`, `doctor`, the log and
//! once per session to Claude Code; with no good set ever loaded, guard events get the fail
//! mode with the load error as the reason. Project rule files keep their last good rules for
//! the run and are surfaced the same way.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, permission_decision as decision, wait_for};
use serde_json::{Value, json};

const MINE: &str =
    "[[rule]]\nname = 'no-rm'\ncommand = '^rm\\s+-rf\\b'\naction = 'deny'\nreason = 'not here'\n";
const TYPO: &str =
    "[[rule]]\nname = 'no-rm'\ncomand = '^rm\\s+-rf\\b'\naction = 'deny'\nreason = 'not here'\n";

fn bash(session: &str, command: &str) -> Vec<u8> {
    event_json(
        "PreToolUse",
        session,
        &json!({"tool_name": "Bash", "tool_input": {"command": command}}),
    )
}

fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn system_message(out: &std::process::Output) -> String {
    stdout_json(out)["systemMessage"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_restart_with_a_broken_rule_file_keeps_the_last_good_rules() {
    let d = TestDaemon::unstarted(&[("hookd.toml", "packs = []\n"), ("rules.d/mine.toml", MINE)])
        .unwrap();
    // Autostarted by the first event: the rule denies, and the set is saved.
    let out = d.hook(&bash("s0", "rm -rf build"), &[]).unwrap();
    assert_eq!(decision(&out), "deny", "{out:?}");
    let saved = d.home().join("state/last-good-rules.json");
    let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(&saved).unwrap().contains("no-rm"));
    assert!(d.hookctl(&["stop"]).unwrap().status.success());
    wait_for(Duration::from_secs(20), "hookd to stop", || {
        !d.socket().exists()
    })
    .unwrap();

    // A typo, then the next event autostarts hookd again.
    std::fs::write(d.home().join("rules.d/mine.toml"), TYPO).unwrap();
    let first = d.hook(&bash("s1", "rm -rf build"), &[]).unwrap();
    assert_eq!(
        decision(&first),
        "deny",
        "the last good rules still deny: {first:?}"
    );
    let notice = system_message(&first);
    assert!(
        notice.contains("last good rules") && notice.contains("comand"),
        "the first event of a session says so: {notice:?}"
    );
    // Once per session.
    let again = d.hook(&bash("s1", "rm -rf build"), &[]).unwrap();
    assert_eq!(decision(&again), "deny");
    assert_eq!(system_message(&again), "", "told once: {again:?}");
    let other = d.hook(&bash("s2", "ls"), &[]).unwrap();
    assert!(
        system_message(&other).contains("last good rules"),
        "{other:?}"
    );

    // status, doctor and the log say so.
    let status = d.status().unwrap();
    let fallback = status["hookd"]["rules_fallback"].as_str().unwrap_or("");
    assert!(fallback.contains("last good rules"), "{status}");
    let human = d.hookctl(&["status"]).unwrap();
    assert!(!human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("RULES FALLBACK") && text.contains("comand"),
        "{text}"
    );
    let doctor = d.hookctl(&["doctor"]).unwrap();
    assert!(!doctor.status.success());
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("last good rules"), "{text}");
    let log = std::fs::read_to_string(d.home().join("state/hookd.log")).unwrap();
    assert!(log.contains("using the last good rules"), "{log}");

    // Fixed (with an edit): reloaded, in force, saved; the fallback is gone.
    std::fs::write(
        d.home().join("rules.d/mine.toml"),
        MINE.replace("not here", "fixed"),
    )
    .unwrap();
    assert!(d.hookctl(&["reload"]).unwrap().status.success());
    let status = d.status().unwrap();
    assert!(status["hookd"]["rules_fallback"].is_null(), "{status}");
    let out = d.hook(&bash("s3", "rm -rf build"), &[]).unwrap();
    assert_eq!(decision(&out), "deny");
    assert_eq!(system_message(&out), "");
    assert!(std::fs::read_to_string(&saved).unwrap().contains("fixed"));
    assert!(d.hookctl(&["stop"]).unwrap().status.success());
    wait_for(Duration::from_secs(20), "hookd to stop", || {
        !d.socket().exists()
    })
    .unwrap();
}

#[test]
fn with_no_good_rules_ever_loaded_guard_events_get_the_fail_mode_with_the_error() {
    let d = TestDaemon::start_with(&[("rules.d/mine.toml", TYPO)]).unwrap();
    let out = d.hook(&bash("n1", "ls"), &[]).unwrap();
    assert_eq!(decision(&out), "ask", "{out:?}");
    let reason = stdout_json(&out)["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        reason.contains("no good rules") && reason.contains("comand"),
        "{reason}"
    );
    // The rules that did load (the built-in packs) still deny what they deny.
    let out = d
        .hook(&bash("n1", "git push --force origin main"), &[])
        .unwrap();
    assert_eq!(decision(&out), "deny", "{out:?}");
    // PermissionRequest: no decision (Claude Code asks), with the reason.
    let pr = event_json(
        "PermissionRequest",
        "n2",
        &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
    );
    let out = d.hook(&pr, &[]).unwrap();
    let v = stdout_json(&out);
    assert!(v["hookSpecificOutput"].is_null(), "{v}");
    assert!(
        v["systemMessage"].as_str().unwrap_or("").contains("comand"),
        "{v}"
    );
    // Other events pass (their fail mode).
    let stop = event_json("Stop", "n1", &json!({"stop_hook_active": false}));
    let out = d.hook(&stop, &[]).unwrap();
    assert_eq!(stdout_json(&out)["decision"], Value::Null, "{out:?}");
    let status = d.status().unwrap();
    assert!(
        status["hookd"]["rules_fallback"]
            .as_str()
            .unwrap_or("")
            .contains("no good rules"),
        "{status}"
    );
    assert!(!d.hookctl(&["doctor"]).unwrap().status.success());
    assert!(!d.home().join("state/last-good-rules.json").exists());
}

#[test]
fn a_broken_project_rule_file_keeps_its_rules_and_is_surfaced() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let proj = d.home().join("proj");
    std::fs::create_dir_all(proj.join(".claude")).unwrap();
    let file = proj.join(".claude/hookd.toml");
    std::fs::write(&file, MINE).unwrap();
    let cwd = proj.display().to_string();
    let ev = |session: &str| {
        event_json(
            "PreToolUse",
            session,
            &json!({"cwd": cwd, "tool_name": "Bash", "tool_input": {"command": "rm -rf x"}}),
        )
    };
    assert_eq!(decision(&d.hook(&ev("p1"), &[]).unwrap()), "deny");
    // A broken edit: the project's rules loaded before stay, and the next session is told.
    std::fs::write(&file, TYPO).unwrap();
    let mut out = d.hook(&ev("p2"), &[]).unwrap();
    wait_for(Duration::from_secs(10), "the edit to be seen", || {
        out = d.hook(&ev("p3"), &[]).unwrap();
        system_message(&out).contains("comand")
    })
    .unwrap();
    assert_eq!(decision(&out), "deny", "{out:?}");
    assert!(system_message(&out).contains("stay in force"), "{out:?}");
    let status = d.status().unwrap();
    let errors = status["hookd"]["projects"][0]["errors"].to_string();
    assert!(errors.contains("comand"), "{status}");
}
