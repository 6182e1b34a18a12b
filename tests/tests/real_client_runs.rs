//! The real Claude Code CLI (2.1.332): a user's existing "lint after Write" hook, migrated
//! with `hookctl import --replace`, runs through hookd after the model writes a file, and its
//! output reaches the model.
//!
//! Skipped (loudly) only with `HOOKD_SKIP_CLAUDE=1`.

use hook_tests::claude::{skip_claude_tests, write_project_settings, write_script};
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::TestDaemon;
use serde_json::{Value, json};

/// A typical user lint hook: reads the written file's path from the event, and when the file
/// has a problem, reports it on stderr with exit 2 (which Claude Code shows the model).
const LINT_SH: &str = r#"#!/bin/sh
file=$(sed -n 's/.*"file_path":"\([^"]*\)".*/\1/p')
[ -n "$file" ] || exit 0
if grep -n 'TODO' "$file" >/tmp/lint.$$ 2>/dev/null; then
  echo "LINT-MARKER: $file:$(cut -d: -f1 /tmp/lint.$$ | head -1): TODO left in code" >&2
  rm -f /tmp/lint.$$
  exit 2
fi
rm -f /tmp/lint.$$
"#;

#[test]
fn an_imported_lint_hook_runs_through_hookd_and_the_model_sees_its_output() {
    if skip_claude_tests("an_imported_lint_hook_runs_through_hookd_and_the_model_sees_its_output") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().canonicalize().unwrap();
    write_script(&dir.join(".claude/hooks/lint.sh"), LINT_SH).unwrap();
    write_project_settings(
        &dir,
        &json!({"hooks": {"PostToolUse": [{"matcher": "Write|Edit", "hooks": [
            {"type": "command", "command": "\"$CLAUDE_PROJECT_DIR\"/.claude/hooks/lint.sh", "timeout": 30}
        ]}]}}),
    )
    .unwrap();
    let out = d
        .hookctl(&["import", "--project", dir.to_str().unwrap(), "--replace"])
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let settings = std::fs::read_to_string(dir.join(".claude/settings.json")).unwrap();
    assert!(
        settings.contains("hook-client --event PostToolUse --deadline 32s")
            && !settings.contains("lint.sh"),
        "{settings}"
    );

    let model = FakeModel::start(vec![
        Step::tool(
            "Write",
            json!({"file_path": "app.py", "content": "x = 1  # TODO remove\n"}),
        ),
        Step::text("done"),
    ])
    .unwrap();
    let run = d.run_claude(&dir, "write app.py", &model, &[]).unwrap();
    assert!(dir.join("app.py").exists(), "the Write went through");

    // The request after the write carries the lint output to the model.
    let bodies = model.main_requests();
    let last = bodies
        .last()
        .expect("a request after the tool call")
        .to_string();
    assert!(
        last.contains("LINT-MARKER:") && last.contains("app.py:1: TODO left in code"),
        "the lint output did not reach the model: {last}"
    );

    // hookd ran the script, and recorded it.
    let session = run.session_id().unwrap().to_string();
    let out = d
        .hookctl(&["runs", "--json", "--session", &session])
        .unwrap();
    let runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["rule"], json!("imported-posttooluse-lint"));
    assert_eq!(runs[0]["outcome"], json!("blocked"));
    assert_eq!(runs[0]["effect"], json!("block"));
    assert!(runs[0]["event_id"].is_i64(), "{}", runs[0]);
}
