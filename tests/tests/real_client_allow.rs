//! The real Claude Code CLI against a fake Messages API, for issue 18's allow-once round trip
//! and the SessionStart `env` action.
//!
//! Skipped (loudly) only with `HOOKD_SKIP_CLAUDE=1`.

use hook_tests::claude::{hooks_for_events, skip_claude_tests, write_hooks_settings};
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::{TestDaemon, bin};
use serde_json::{Value, json};

const RULES: &str = r#"
[[rule]]
name = "no-marker-echo"
event = "PreToolUse"
tool = "Bash"
command = 'echo\s+allow-once-marker'
action = "deny"
reason = "ALLOW-ONCE-REASON"
"#;

/// The tool results of a run, once each (later requests repeat earlier ones), as text, with
/// whether each was an error.
fn results(model: &FakeModel) -> Vec<(bool, String)> {
    let mut seen = std::collections::HashSet::new();
    model
        .tool_results()
        .iter()
        .filter(|r| seen.insert(r["tool_use_id"].to_string()))
        .map(|r| (r["is_error"] == json!(true), r["content"].to_string()))
        .collect()
}

#[test]
fn denied_then_allowed_once_then_denied_again_through_the_real_cli() {
    if skip_claude_tests("denied_then_allowed_once_then_denied_again_through_the_real_cli") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let client = bin("hook-client");
    write_hooks_settings(
        project.path(),
        &hooks_for_events(&["PreToolUse"], client.to_str().unwrap()),
    )
    .unwrap();
    let cmd = "echo allow-once-marker-output";

    // 1. Denied; the model sees the reason with its code.
    let model = FakeModel::start(vec![Step::bash(cmd), Step::text("blocked")]).unwrap();
    d.run_claude(project.path(), "print the marker", &model, &[])
        .unwrap();
    let first = results(&model);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].0, "denied: {first:?}");
    assert!(first[0].1.contains("ALLOW-ONCE-REASON"), "{first:?}");
    let code: String = first[0]
        .1
        .split("hookctl allow ")
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {first:?}"))
        .chars()
        .take(5)
        .collect();

    // 2. The user approves it once.
    let out = d.hookctl(&["allow", &code]).unwrap();
    assert!(out.status.success(), "{out:?}");

    // 3. The model retries twice: the first runs, the second is denied again.
    let model =
        FakeModel::start(vec![Step::bash(cmd), Step::bash(cmd), Step::text("done")]).unwrap();
    d.run_claude(project.path(), "print the marker again", &model, &[])
        .unwrap();
    let retried = results(&model);
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert!(!retried[0].0, "the approved call ran: {retried:?}");
    assert!(
        retried[0].1.contains("allow-once-marker-output"),
        "{retried:?}"
    );
    assert!(retried[1].0, "denied again: {retried:?}");
    assert!(retried[1].1.contains("ALLOW-ONCE-REASON"), "{retried:?}");

    let rows: Vec<Value> = serde_json::from_slice(
        &d.hookctl(&["allow", "--list", "--all", "--json"])
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "used");
    assert_eq!(rows[0]["uses"], 1);
}

/// A value a careless SessionStart script would break on: quotes, `$( )`, backticks, a
/// newline.
const HOSTILE: &str = "it's \"q\" $(touch /tmp/hookd-env-pwned) `id` \\ end\nline2";

#[test]
fn session_start_env_rule_reaches_the_bash_tool() {
    if skip_claude_tests("session_start_env_rule_reaches_the_bash_tool") {
        return;
    }
    let rules = r#"
[[rule]]
name = "dotenv"
event = "SessionStart"
action = "env"
files = [".env", ".env.local"]
"#;
    let _ = std::fs::remove_file("/tmp/hookd-env-pwned");
    let d = TestDaemon::start_with(&[("hookd.toml", rules)]).unwrap();
    let project = tempfile::tempdir().unwrap();
    // The value in dotenv's double-quoted form.
    let escaped = HOSTILE
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    std::fs::write(
        project.path().join(".env"),
        format!("HOOKD_ENV_HOSTILE=\"{escaped}\"\nHOOKD_ENV_PLAIN=from-env\n"),
    )
    .unwrap();
    std::fs::write(
        project.path().join(".env.local"),
        "HOOKD_ENV_PLAIN=from-local\n",
    )
    .unwrap();
    let client = bin("hook-client");
    write_hooks_settings(
        project.path(),
        &hooks_for_events(&["SessionStart", "PreToolUse"], client.to_str().unwrap()),
    )
    .unwrap();
    let model = FakeModel::start(vec![
        Step::bash("printf '<%s>\\n' \"$HOOKD_ENV_PLAIN\" \"$HOOKD_ENV_HOSTILE\""),
        Step::text("done"),
    ])
    .unwrap();
    let run = d
        .run_claude(project.path(), "show the environment", &model, &[])
        .unwrap();
    let out = results(&model);
    assert_eq!(out.len(), 1, "{out:?}");
    let text: Value = serde_json::from_str(&out[0].1).unwrap_or(Value::Null);
    let text = text
        .as_str()
        .map_or_else(|| out[0].1.clone(), str::to_string);
    assert!(text.contains("<from-local>"), "{text}");
    assert!(text.contains(&format!("<{HOSTILE}>")), "{text}");
    assert!(!std::path::Path::new("/tmp/hookd-env-pwned").exists());
    // Recorded: the names and the count, not the values.
    let session = run.session_id().unwrap().to_string();
    let rows = d
        .events(20, &["--session", &session, "--event", "SessionStart"])
        .unwrap();
    let reason = rows[0]["reason"].as_str().unwrap_or("").to_string();
    assert!(
        reason.contains("loaded 2 variables") && reason.contains("HOOKD_ENV_HOSTILE"),
        "{rows:?}"
    );
    let mut stored = Vec::new();
    for f in ["hookd.db", "hookd.db-wal"] {
        stored.extend(std::fs::read(d.home().join(f)).unwrap_or_default());
    }
    stored.extend(d.log().into_bytes());
    for needle in ["from-local", "from-env", "touch /tmp/hookd-env-pwned"] {
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} found in the store or the log"
        );
    }
}
