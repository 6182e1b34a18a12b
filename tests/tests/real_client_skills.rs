//! The real Claude Code CLI (2.1.332) running a slash command whose text embeds shell
//! commands (`` !`cmd` ``): each one is sent to hookd as PreSkillShellCommand (wired by
//! `hookctl install`), a hookd rule's deny and a Bash pack's deny keep theirs from running, and
//! an allowed one runs.
//!
//! Skipped (loudly) only with `HOOKD_SKIP_CLAUDE=1`.

use std::time::Duration;

use hook_tests::claude::skip_claude_tests;
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::{TestDaemon, bin, wait_for};
use serde_json::json;

const RULES: &str = r#"
[[rule]]
name = "no-denied-marker"
event = "PreSkillShellCommand"
tool = "Bash"
command = 'touch\s+\S*denied-marker'
action = "deny"
reason = "SKILL-DENY-REASON: not this marker"
"#;

#[test]
fn a_skill_shell_command_denied_by_hookd_does_not_run_and_an_allowed_one_does() {
    if skip_claude_tests("a_skill_shell_command_denied_by_hookd_does_not_run") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let client = bin("hook-client");
    let out = d
        .hookctl(&[
            "install",
            "--project",
            "--dir",
            p.to_str().unwrap(),
            "--client",
            client.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let allowed = p.join("allowed-marker");
    let denied = p.join("denied-marker");
    let by_pack = p.join("pack-marker");
    std::fs::create_dir_all(p.join(".claude/commands")).unwrap();
    // The git pack's `git-reset-hard` guards skill commands too; outside a repository git
    // fails, so without the deny the `||` would create the marker.
    std::fs::write(
        p.join(".claude/commands/markers.md"),
        format!(
            "---\ndescription: make markers\nallowed-tools: Bash\n---\n\
             Allowed: !`touch {}`\n\
             Denied: !`touch {}`\n\
             Pack: !`git reset --hard || touch {}`\n",
            allowed.display(),
            denied.display(),
            by_pack.display()
        ),
    )
    .unwrap();
    let model = FakeModel::start(vec![Step::text("done")]).unwrap();
    let run = d.run_claude(p, "/markers", &model, &[]).unwrap();

    assert!(allowed.exists(), "the allowed command did not run: {run}");
    assert!(!denied.exists(), "the command hookd denied ran");
    assert!(!by_pack.exists(), "the command the git pack denied ran");
    // The model gets the expanded command text with hookd's reasons in place of the output.
    let text = model.all_text();
    assert!(text.contains("SKILL-DENY-REASON"), "{text}");
    assert!(text.contains("git-reset-hard"), "{text}");

    let session = run.session_id().unwrap().to_string();
    let mut rows = Vec::new();
    wait_for(
        Duration::from_secs(10),
        "three PreSkillShellCommand rows",
        || {
            rows = d
                .events(
                    10,
                    &["--session", &session, "--event", "PreSkillShellCommand"],
                )
                .unwrap();
            rows.len() == 3
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {rows:?}"));
    let verdict_of = |marker: &str| {
        rows.iter()
            .find(|r| r["summary"].as_str().unwrap_or("").contains(marker))
            .unwrap_or_else(|| panic!("no row for {marker}: {rows:?}"))
            .clone()
    };
    assert_eq!(verdict_of("allowed-marker")["verdict"], json!("none"));
    let r = verdict_of("denied-marker");
    assert_eq!(
        (&r["verdict"], &r["rules"], &r["tool"]),
        (&json!("deny"), &json!(["no-denied-marker"]), &json!("Bash"))
    );
    let r = verdict_of("pack-marker");
    assert_eq!(
        (&r["verdict"], &r["rules"]),
        (&json!("deny"), &json!(["git-reset-hard"]))
    );
    // No tool call ran without PreToolUse: skill commands are not tool calls.
    assert!(d.events(10, &["--event", "bypass"]).unwrap().is_empty());
}
