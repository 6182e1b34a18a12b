//! Session rules with the real Claude Code CLI: (a) an Edit of a file the model never Read is
//! denied, then allowed after a Read; (b) a Stop is blocked after an edit until the test
//! command ran; (c) the loop guard lets Stop through after `max_blocks`.

use std::time::Duration;

use hook_tests::claude::{ClaudeRun, hooks_for_events, skip_claude_tests, write_hooks_settings};
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::{TestDaemon, bin, wait_for};
use serde_json::{Value, json};

const RULES: &str = r#"
packs = []
[[rule]]
name = "read-first"
tool = "Edit|Write|MultiEdit"
action = "deny"
reason = "READ-FIRST: use the Read tool on this file before editing it."
[rule.session]
read_before_edit = true

[[rule]]
name = "tests-before-stop"
event = "Stop"
action = "block"
reason = "TESTS-FIRST: you changed code after the last test run; run `sh run-tests.sh` and fix failures before stopping."
[rule.session]
edited_since = { path = ["**/*.rs"], command = '^sh\s+run-tests\.sh\b' }
"#;

struct Run {
    daemon: TestDaemon,
    model: FakeModel,
    run: ClaudeRun,
    project: tempfile::TempDir,
}

fn run(script: Vec<Step>, setup: impl FnOnce(&std::path::Path)) -> Option<Run> {
    if skip_claude_tests("real_client_sessions") {
        return None;
    }
    let daemon = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let project = tempfile::tempdir().unwrap();
    setup(project.path());
    let client = bin("hook-client");
    let events = [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "PostToolUseFailure",
        "Stop",
        "SessionEnd",
    ];
    write_hooks_settings(
        project.path(),
        &hooks_for_events(&events, client.to_str().unwrap()),
    )
    .unwrap();
    let model = FakeModel::start(script).unwrap();
    let run = daemon
        .run_claude(project.path(), "do the task", &model, &[])
        .unwrap();
    Some(Run {
        daemon,
        model,
        run,
        project,
    })
}

fn verdicts(r: &Run, event: &str) -> Vec<String> {
    let session = r.run.session_id().unwrap().to_string();
    wait_for(Duration::from_secs(10), "SessionEnd recorded", || {
        r.daemon
            .events(1000, &["--session", &session, "--event", "SessionEnd"])
            .is_ok_and(|v| !v.is_empty())
    })
    .unwrap();
    let mut rows = r
        .daemon
        .events(1000, &["--session", &session, "--event", event])
        .unwrap();
    rows.reverse();
    rows.iter()
        .map(|r| r["verdict"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn edit_of_an_unread_file_is_denied_until_it_is_read() {
    if skip_claude_tests("edit_of_an_unread_file_is_denied_until_it_is_read") {
        return;
    }
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("notes.md");
    std::fs::write(&file, "a\n").unwrap();
    let f = file.to_str().unwrap();
    let daemon = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let client = bin("hook-client");
    write_hooks_settings(
        project.path(),
        &hooks_for_events(
            &["PreToolUse", "PostToolUse", "SessionEnd"],
            client.to_str().unwrap(),
        ),
    )
    .unwrap();
    let model = FakeModel::start(vec![
        Step::tool(
            "Edit",
            json!({"file_path": f, "old_string": "a", "new_string": "b"}),
        ),
        Step::tool("Read", json!({"file_path": f})),
        Step::tool(
            "Edit",
            json!({"file_path": f, "old_string": "a", "new_string": "b"}),
        ),
        Step::text("done"),
    ])
    .unwrap();
    let run = daemon
        .run_claude(project.path(), "edit notes", &model, &[])
        .unwrap();
    let results = model.tool_results();
    let first = results
        .iter()
        .find(|r| r.to_string().contains("READ-FIRST"))
        .expect("first edit denied with the reason");
    assert_eq!(first["is_error"], json!(true));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "b\n",
        "the second edit went through"
    );
    let session = run.session_id().unwrap().to_string();
    let mut rows = daemon
        .events(100, &["--session", &session, "--event", "PreToolUse"])
        .unwrap();
    rows.reverse();
    let v: Vec<&str> = rows
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(v, ["deny", "none", "none"]);
}

#[test]
fn stop_is_blocked_after_an_edit_until_the_tests_ran() {
    let Some(r) = run(
        vec![
            Step::tool(
                "Write",
                json!({"file_path": "src/lib.rs", "content": "pub fn f() {}\n"}),
            ),
            Step::text("finished"),
            Step::bash("sh run-tests.sh"),
            Step::text("finished, tests pass"),
        ],
        |p| std::fs::write(p.join("run-tests.sh"), "echo all tests passed\n").unwrap(),
    ) else {
        return;
    };
    let stops = verdicts(&r, "Stop");
    assert_eq!(stops, ["block", "none"], "{stops:?}");
    assert!(
        r.model.all_text().contains("TESTS-FIRST"),
        "the model saw the block reason"
    );
    assert!(r.project.path().join("src/lib.rs").exists());
}

#[test]
fn loop_guard_lets_stop_through_after_max_blocks() {
    let Some(r) = run(
        vec![
            Step::tool(
                "Write",
                json!({"file_path": "src/lib.rs", "content": "pub fn f() {}\n"}),
            ),
            Step::text("finished"),
            Step::text("finished"),
            Step::text("finished"),
            Step::text("finished"),
            Step::text("finished"),
        ],
        |_| {},
    ) else {
        return;
    };
    let stops = verdicts(&r, "Stop");
    assert_eq!(
        stops,
        ["block", "block", "block", "loop-guard"],
        "{stops:?}"
    );
    let session = r.run.session_id().unwrap().to_string();
    let out = r.daemon.hookctl(&["session", &session, "--json"]).unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"]["loop_guard_releases"], json!(1));
}
