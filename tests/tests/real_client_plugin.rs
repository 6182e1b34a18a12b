//! The real Claude Code CLI (2.1.332) with hookd as a plugin: `claude --plugin-dir <plugin>`,
//! no hooks in any settings file. The plugin is the source tree's `plugin/` (manifest and
//! `hooks/hooks.json`) with `bin/` filled as scripts/release.sh fills it; its hooks run the
//! plugin's own hook-client in exec form through `${CLAUDE_PLUGIN_ROOT}`. A session's events
//! are recorded by hookd, a deny rule blocks a Bash call, and `bin/` is on the Bash tool's PATH.
//!
//! Skipped (loudly) only with `HOOKD_SKIP_CLAUDE=1`.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use hook_tests::claude::{run_claude_args, skip_claude_tests};
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::{TestDaemon, bin, wait_for};
use serde_json::json;

const RULES: &str = r#"
packs = []

[[rule]]
name = "no-forbidden-echo"
event = "PreToolUse"
tool = "Bash"
command = 'echo\s+forbidden'
action = "deny"
reason = "PLUGIN-DENY-REASON: print something else"
"#;

/// Copies the source tree's plugin into `dest` and fills `bin/` with the suite's binaries
/// (symbolic links: a copy could still be open for writing when the CLI runs it).
fn plugin_at(dest: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin");
    for rel in [".claude-plugin/plugin.json", "hooks/hooks.json"] {
        let to = dest.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), &to).unwrap();
    }
    std::fs::create_dir_all(dest.join("bin")).unwrap();
    for b in ["hook-client", "hookd", "hookctl"] {
        std::os::unix::fs::symlink(bin(b), dest.join("bin").join(b)).unwrap();
    }
}

#[test]
fn claude_code_with_the_plugin_records_and_guards_a_session() {
    if skip_claude_tests("claude_code_with_the_plugin_records_and_guards_a_session") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let plugin = tempfile::tempdir().unwrap();
    plugin_at(plugin.path());
    // No settings file anywhere: the project and HOME are empty.
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let model = FakeModel::start(vec![
        Step::bash("echo forbidden"),
        Step::bash("echo allowed-output-marker"),
        Step::bash("hookctl --version"),
        Step::text("all done"),
    ])
    .unwrap();
    let hookd_home = d.home().to_str().unwrap().to_string();
    let run = run_claude_args(
        project.path(),
        home.path(),
        "run the three commands",
        &model.base_url(),
        &[("HOOKD_HOME", &hookd_home), ("HOOKD_NO_AUTOSTART", "1")],
        &["--plugin-dir", plugin.path().to_str().unwrap()],
        Duration::from_secs(90),
    )
    .unwrap();
    run.ensure_success().unwrap();
    let session = run.session_id().expect("session id").to_string();
    assert!(!project.path().join(".claude").exists());

    // (a) The deny rule stopped the first Bash call; the model saw its reason. The second ran.
    let results = model.tool_results();
    let denied = results
        .iter()
        .find(|r| r.to_string().contains("PLUGIN-DENY-REASON"))
        .unwrap_or_else(|| panic!("no tool_result carries the reason: {results:#?}\n{run}"));
    assert_eq!(denied["is_error"], json!(true), "{denied}");
    assert!(
        results
            .iter()
            .any(|r| r.to_string().contains("allowed-output-marker")),
        "{results:#?}"
    );
    // (b) The plugin's bin/ is on the Bash tool's PATH.
    assert!(
        results.iter().any(|r| r
            .to_string()
            .contains(&format!("hookctl {}", env!("CARGO_PKG_VERSION")))),
        "hookctl not found on PATH: {results:#?}"
    );

    // (c) The session's events are recorded with the CLI's session id.
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
        seen = d
            .events(1000, &["--session", &session])
            .unwrap()
            .iter()
            .filter_map(|r| r["event"].as_str().map(str::to_string))
            .collect();
        wanted.iter().all(|w| seen.contains(*w))
    })
    .unwrap_or_else(|e| panic!("{e}: recorded {seen:?}\n{}", d.log()));
    let rows = d.events(1000, &["--session", &session]).unwrap();
    let pre: Vec<_> = rows.iter().filter(|r| r["event"] == "PreToolUse").collect();
    assert_eq!(pre.len(), 3, "{pre:#?}");
    assert!(
        pre.iter()
            .any(|r| r["verdict"] == "deny" && r["rules"] == json!(["no-forbidden-echo"])),
        "{pre:#?}"
    );
    // Nothing fell back: every event reached hookd.
    assert!(
        !run.stderr.contains("hook-client: hookd could not answer"),
        "{run}"
    );
}
