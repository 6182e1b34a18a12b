//! Session state with a live daemon: it survives restarts (SIGTERM and `kill -9`) because it
//! is rebuilt from the store; `hookctl sessions` and `hookctl session` show it.

#![allow(clippy::needless_pass_by_value)] // test helpers take json!() values

use hook_tests::harness::{TestDaemon, event_json};
use serde_json::{Value, json};

const RULES: &str = r#"
packs = []
[[rule]]
name = "read-first"
tool = "Edit|Write|MultiEdit"
action = "deny"
reason = "Read the file before editing it."
[rule.session]
read_before_edit = true
"#;

fn verdict(d: &TestDaemon, ev: &[u8]) -> String {
    let out = d.hook(ev, &["--no-autostart"]).unwrap();
    if out.stdout.is_empty() {
        return "none".into();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["hookSpecificOutput"]["permissionDecision"]
        .as_str()
        .unwrap_or("?")
        .to_string()
}

fn tool(name: &str, session: &str, project: &str, tool: &str, input: Value) -> Vec<u8> {
    let mut e = event_json(
        name,
        session,
        &json!({"tool_name": tool, "tool_input": input}),
    );
    // event_json uses a fixed cwd; point it at the project.
    let mut v: Value = serde_json::from_slice(&e).unwrap();
    v["cwd"] = json!(project);
    e = serde_json::to_vec(&v).unwrap();
    e
}

#[test]
fn read_state_survives_sigterm_and_kill_9() {
    let mut d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let proj = tempfile::tempdir().unwrap();
    let p = proj.path().to_str().unwrap();
    for (i, sig) in [libc::SIGTERM, libc::SIGKILL].into_iter().enumerate() {
        let session = format!("restart-{i}");
        let file = format!("{p}/f{i}.rs");
        std::fs::write(&file, "x").unwrap();
        let edit = tool(
            "PreToolUse",
            &session,
            p,
            "Edit",
            json!({"file_path": file, "old_string": "x", "new_string": "y"}),
        );
        assert_eq!(verdict(&d, &edit), "deny");
        verdict(
            &d,
            &tool(
                "PostToolUse",
                &session,
                p,
                "Read",
                json!({"file_path": file}),
            ),
        );
        d.signal_and_wait(sig).unwrap();
        d.spawn().unwrap();
        assert_eq!(
            verdict(&d, &edit),
            "none",
            "signal {sig}: the read was remembered"
        );
        // Another session in the same project has not read it.
        let other = tool(
            "PreToolUse",
            &format!("{session}-other"),
            p,
            "Edit",
            json!({"file_path": file}),
        );
        assert_eq!(verdict(&d, &other), "deny");
    }
}

#[test]
fn sessions_and_session_show_state_and_timeline() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let proj = tempfile::tempdir().unwrap();
    let p = proj.path().to_str().unwrap();
    let id = "5e55-10n-abcdef";
    d.hook(
        &event_json("SessionStart", id, &json!({"source": "startup"})),
        &[],
    )
    .unwrap();
    d.hook(
        &tool(
            "PostToolUse",
            id,
            p,
            "Read",
            json!({"file_path": format!("{p}/a.rs")}),
        ),
        &[],
    )
    .unwrap();
    d.hook(
        &tool(
            "PostToolUse",
            id,
            p,
            "Bash",
            json!({"command": "cargo test"}),
        ),
        &[],
    )
    .unwrap();
    let out = d.hookctl(&["sessions", "--json"]).unwrap();
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["id"], json!(id));
    assert_eq!(rows[0]["events"], json!(3));
    let out = d.hookctl(&["session", "5e55", "--json"]).unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["timeline"].as_array().unwrap().len(), 3);
    assert!(
        v["state"]["files_read"]
            .as_object()
            .unwrap()
            .contains_key(&format!("{p}/a.rs"))
    );
    assert_eq!(v["state"]["commands"][0]["command"], json!("cargo test"));
    let human = d.hookctl(&["session", id]).unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("timeline") && text.contains("ok   cargo test"),
        "{text}"
    );
    d.hook(
        &event_json("SessionEnd", id, &json!({"reason": "other"})),
        &[],
    )
    .unwrap();
    let active = d.hookctl(&["sessions", "--json"]).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&active.stdout).unwrap(),
        json!([])
    );
    let all = d.hookctl(&["sessions", "--all", "--json"]).unwrap();
    let rows: Value = serde_json::from_slice(&all.stdout).unwrap();
    assert!(rows[0]["ended_ms"].is_number());
    let missing = d.hookctl(&["session", "nope"]).unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no session with id"));
}

/// `once = "project-day"`: the rule fires once per project per day across sessions, and the
/// memory survives a restart (loaded from the store before hookd serves, never asked of the
/// store while an event is being evaluated).
#[test]
fn once_a_day_per_project_holds_across_sessions_and_restarts() {
    const ONCE: &str = r#"
packs = []
[[rule]]
name = "daily-reminder"
tool = "Bash"
action = "ask"
reason = "First command in this project today: check the branch."
[rule.session]
once = "project-day"
"#;
    let mut d = TestDaemon::start_with(&[("hookd.toml", ONCE)]).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    let ls = |session: &str, project: &str| {
        tool(
            "PreToolUse",
            session,
            project,
            "Bash",
            json!({"command": "ls"}),
        )
    };
    assert_eq!(verdict(&d, &ls("day-1", a)), "ask");
    assert_eq!(verdict(&d, &ls("day-1", a)), "none", "once a day");
    assert_eq!(verdict(&d, &ls("day-2", a)), "none", "across sessions");
    assert_eq!(verdict(&d, &ls("day-3", b)), "ask", "per project");
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        d.signal_and_wait(sig).unwrap();
        d.spawn().unwrap();
        assert_eq!(verdict(&d, &ls("day-4", a)), "none", "after signal {sig}");
        assert_eq!(verdict(&d, &ls("day-4", b)), "none", "after signal {sig}");
    }
    // A reload that adds another once-a-day rule loads its memory too.
    std::fs::write(
        d.home().join("hookd.toml"),
        ONCE.replace("daily-reminder", "daily-reminder-2"),
    )
    .unwrap();
    assert_eq!(d.hookctl(&["reload"]).unwrap().status.code(), Some(0));
    assert_eq!(verdict(&d, &ls("day-5", a)), "ask", "a new rule fires once");
    assert_eq!(verdict(&d, &ls("day-5", a)), "none");
}
