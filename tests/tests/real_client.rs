//! The real Claude Code CLI (2.1.332) against a fake Messages API, with hook-client wired for
//! all 34 events in the project's `.claude/settings.json`, talking to a real hookd.
//!
//! Skipped (loudly) only with `HOOKD_SKIP_CLAUDE=1`.

use std::collections::HashSet;
use std::time::Duration;

use hook_tests::claude::{
    ALL_HOOK_EVENTS, hooks_for_events, skip_claude_tests, write_hooks_settings,
};
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::{TestDaemon, bin, wait_for};
use serde_json::json;

const RULES: &str = r#"
[[rule]]
name = "no-forbidden-echo"
event = "PreToolUse"
tool = "Bash"
command = 'echo\s+forbidden'
action = "deny"
reason = "REAL-DENY-REASON: print something else"

[[rule]]
name = "start-context"
event = "SessionStart"
action = "context"
context = "REAL-CTX-MARKER: branch policy says never commit to main"
"#;

#[test]
fn claude_code_runs_every_hook_through_hookd() {
    if skip_claude_tests("claude_code_runs_every_hook_through_hookd") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let client = bin("hook-client");
    write_hooks_settings(
        project.path(),
        &hooks_for_events(ALL_HOOK_EVENTS, client.to_str().unwrap()),
    )
    .unwrap();
    let model = FakeModel::start(vec![
        Step::bash("echo forbidden"),
        Step::bash("echo allowed-output-marker"),
        Step::text("all done"),
    ])
    .unwrap();
    let run = d
        .run_claude(project.path(), "run the two commands", &model, &[])
        .unwrap();
    let session = run
        .session_id()
        .expect("session id in the CLI's result")
        .to_string();

    // (a) The deny rule stopped the first Bash call; the model saw the rule's reason.
    let results = model.tool_results();
    let denied = results
        .iter()
        .find(|r| r.to_string().contains("REAL-DENY-REASON"))
        .unwrap_or_else(|| panic!("no tool_result carries the reason: {results:?}"));
    assert_eq!(denied["is_error"], json!(true), "{denied}");
    assert!(
        results
            .iter()
            .any(|r| r.to_string().contains("allowed-output-marker")),
        "{results:?}"
    );

    // (b) The SessionStart context reached the model.
    assert!(
        model.all_text().contains("REAL-CTX-MARKER"),
        "context not in any request"
    );

    // (c) Every lifecycle event is recorded with the CLI's session id (SessionEnd arrives as
    // the CLI exits, so wait for it).
    let wanted = [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ];
    let mut seen = HashSet::new();
    wait_for(Duration::from_secs(10), "SessionEnd recorded", || {
        let rows = d.events(1000, &["--session", &session]).unwrap();
        seen = rows
            .iter()
            .filter_map(|r| r["event"].as_str().map(str::to_string))
            .collect();
        wanted.iter().all(|w| seen.contains(*w))
    })
    .unwrap_or_else(|e| panic!("{e}: recorded {seen:?}"));
    let rows = d.events(1000, &["--session", &session]).unwrap();
    let pre: Vec<_> = rows.iter().filter(|r| r["event"] == "PreToolUse").collect();
    assert_eq!(pre.len(), 2, "{pre:?}");
    assert!(
        pre.iter()
            .any(|r| r["verdict"] == "deny" && r["rules"] == json!(["no-forbidden-echo"]))
    );
    assert!(
        rows.iter()
            .any(|r| r["event"] == "SessionStart" && r["verdict"] == "context")
    );
    assert!(rows.iter().all(|r| r["source"] == "socket"));
    let status = d.status().unwrap();
    assert_eq!(status["hookd"]["fallbacks_recorded"], json!(0));
}

#[test]
fn default_packs_stop_a_force_push_hidden_in_bash_c() {
    if skip_claude_tests("default_packs_stop_a_force_push_hidden_in_bash_c") {
        return;
    }
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    let client = bin("hook-client");
    write_hooks_settings(
        project.path(),
        &hooks_for_events(&["PreToolUse"], client.to_str().unwrap()),
    )
    .unwrap();
    let model = FakeModel::start(vec![
        Step::bash("bash -c \"cd repo && git push -f origin main\""),
        Step::text("ok"),
    ])
    .unwrap();
    let run = d
        .run_claude(project.path(), "push it", &model, &[])
        .unwrap();
    let results = model.tool_results();
    let denied = results
        .iter()
        .find(|r| r.to_string().contains("--force-with-lease"))
        .unwrap_or_else(|| panic!("the push was not denied with the pack's reason: {results:?}"));
    assert_eq!(denied["is_error"], json!(true));
    let session = run.session_id().unwrap().to_string();
    let rows = d
        .events(10, &["--session", &session, "--event", "PreToolUse"])
        .unwrap();
    assert_eq!(rows[0]["rules"], json!(["git-push-force"]));
}

#[test]
fn claude_code_accepts_what_hookctl_install_writes_and_every_fired_event_is_recorded() {
    if skip_claude_tests("claude_code_accepts_what_hookctl_install_writes") {
        return;
    }
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    let client = bin("hook-client");
    let out = d
        .hookctl(&[
            "install",
            "--project",
            "--dir",
            project.path().to_str().unwrap(),
            "--client",
            client.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = FakeModel::start(vec![Step::bash("echo installed"), Step::text("done")]).unwrap();
    let run = d
        .run_claude(project.path(), "check the install", &model, &[])
        .unwrap();
    let session = run.session_id().unwrap().to_string();
    // Every event type a `-p` run with one Bash call fires (docs/claude-code-hooks.md, verified).
    let fired = [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "PostToolBatch",
        "MessageDisplay",
        "Stop",
        "SessionEnd",
    ];
    let mut seen = HashSet::new();
    wait_for(
        Duration::from_secs(10),
        "every fired event recorded",
        || {
            let rows = d.events(1000, &["--session", &session]).unwrap();
            seen = rows
                .iter()
                .filter_map(|r| r["event"].as_str().map(str::to_string))
                .collect();
            fired.iter().all(|e| seen.contains(*e))
        },
    )
    .unwrap_or_else(|e| panic!("{e}: recorded {seen:?}"));
    assert_eq!(d.status().unwrap()["hookd"]["fallbacks_recorded"], json!(0));
}
