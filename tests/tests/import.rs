//! `hookctl import` against realistic settings files: a TAC-style layout (`uv run` python
//! hooks per event, per-tool matchers, an `if` condition, a bash dispatcher for several events,
//! an async observability forwarder, and prompt/http hooks that cannot be translated).
//!
//! The check: a small stand-in for Claude Code's command-hook runner (docs/claude-code-hooks.md,
//! §2.1, §4) runs every command hook of a settings file for an event and reduces the results to
//! a verdict. Run on the original settings, it runs the scripts directly; run on the settings
//! after `import --replace`, it runs hook-client, so hookd runs the imported rules. Both must
//! give the same verdict on every event. Then `--undo` restores the original file exactly.

use std::path::Path;
use std::process::{Command, Stdio};

use hook_tests::claude::write_script;
use hook_tests::harness::{TestDaemon, run_with_stdin, wait_for};
use serde_json::{Value, json};

/// Names a list-form Claude Code matcher matches (the only form these settings use).
fn matcher_matches(matcher: &str, value: Option<&str>) -> bool {
    if matches!(matcher, "" | "*" | ".*") {
        return true;
    }
    let Some(v) = value else { return false };
    matcher.split(['|', ',']).map(str::trim).any(|n| n == v)
}

/// `if` as these settings use it: `Bash(<prefix> *)`.
fn if_matches(cond: &str, event: &Value) -> bool {
    let Some(inner) = cond.strip_prefix("Bash(").and_then(|c| c.strip_suffix(')')) else {
        panic!("the stand-in runner handles only Bash(...) conditions, not {cond}");
    };
    let prefix = inner.trim_end_matches('*').trim_end();
    event["tool_name"] == "Bash"
        && event["tool_input"]["command"]
            .as_str()
            .is_some_and(|c| c == prefix || c.starts_with(&format!("{prefix} ")))
}

/// What a set of command hooks decided: `deny`, `ask`, `allow`, `block` or `none`, and the
/// contexts they added.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    decision: &'static str,
    contexts: Vec<String>,
}

/// Runs the command hooks of `settings` for `event` the way Claude Code 2.1.328 does (§2.1:
/// `/bin/sh -c`, cwd, stdin JSON + newline, CLAUDE_PROJECT_DIR / CLAUDE_CODE_SESSION_ID) and
/// reads their results (§4: exit 2, JSON, plain text on the events that take it).
fn claude_code_verdict(settings: &Value, event: &Value, project: &Path, path_env: &str) -> Verdict {
    let name = event["hook_event_name"].as_str().unwrap();
    let match_value = match name {
        "PreToolUse" | "PostToolUse" => event["tool_name"].as_str(),
        "Notification" => event["notification_type"].as_str(),
        "SessionStart" => event["source"].as_str(),
        _ => None,
    };
    let permission_event = name == "PreToolUse";
    let mut rank = 0;
    let mut decision = "none";
    let mut contexts = Vec::new();
    let mut set = |d: &'static str| {
        let r = match d {
            "deny" | "block" => 4,
            "defer" => 3,
            "ask" => 2,
            "allow" => 1,
            _ => 0,
        };
        if r > rank {
            rank = r;
            decision = d;
        }
    };
    let mut stdin = serde_json::to_vec(event).unwrap();
    stdin.push(b'\n');
    for group in settings["hooks"][name].as_array().into_iter().flatten() {
        let matcher = group["matcher"].as_str().unwrap_or("");
        if match_value.is_some() || !matcher.is_empty() {
            let applies = match name {
                "Stop" | "UserPromptSubmit" => true,
                _ => matcher_matches(matcher, match_value),
            };
            if !applies {
                continue;
            }
        }
        for h in group["hooks"].as_array().unwrap() {
            if h["type"] != "command" {
                continue;
            }
            if let Some(cond) = h["if"].as_str()
                && !if_matches(cond, event)
            {
                continue;
            }
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c")
                .arg(h["command"].as_str().unwrap())
                .current_dir(project)
                .env_clear()
                .env("PATH", path_env)
                .env("HOME", std::env::var("HOME").unwrap_or_default())
                .env("CLAUDE_PROJECT_DIR", project)
                .env(
                    "CLAUDE_CODE_SESSION_ID",
                    event["session_id"].as_str().unwrap(),
                )
                .stdin(Stdio::piped());
            let out = run_with_stdin(cmd, &stdin).unwrap();
            if h["async"] == json!(true) {
                continue; // Claude Code does not wait for async hooks' verdicts.
            }
            let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("could not answer"),
                "hook-client fell back: {stderr}"
            );
            match out.status.code() {
                Some(2) => set(if permission_event { "deny" } else { "block" }),
                Some(_) if stdout.starts_with('{') => {
                    let v: Value = serde_json::from_str(&stdout).unwrap();
                    match v["hookSpecificOutput"]["permissionDecision"].as_str() {
                        Some("deny") => set("deny"),
                        Some("ask") => set("ask"),
                        Some("allow") => set("allow"),
                        _ => {}
                    }
                    if v["decision"] == "block" {
                        set(if permission_event { "deny" } else { "block" });
                    }
                    if let Some(c) = v["hookSpecificOutput"]["additionalContext"].as_str() {
                        contexts.push(c.to_string());
                    }
                }
                Some(0) if !stdout.is_empty() && name == "UserPromptSubmit" => {
                    contexts.push(stdout);
                }
                _ => {}
            }
        }
    }
    Verdict { decision, contexts }
}

/// Writes a TAC-style `.claude/` layout into `project` and returns its settings.
fn write_layout(project: &Path) -> Value {
    let hooks = project.join(".claude/hooks");
    // `uv run` python hook: blocks dangerous rm and .env access with exit 2, logs every call.
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(
        hooks.join("pre_tool_use.py"),
        r#"import json, os, re, sys
data = json.load(sys.stdin)
os.makedirs("logs", exist_ok=True)
with open("logs/pre_tool_use.jsonl", "a") as f:
    f.write(json.dumps(data) + "\n")
tool = data.get("tool_name")
inp = data.get("tool_input", {})
if tool == "Bash" and re.search(r"\brm\s+-[a-z]*r[a-z]*f", inp.get("command", "")):
    print("BLOCKED: dangerous rm command", file=sys.stderr)
    sys.exit(2)
if ".env" in inp.get("file_path", "") and not inp.get("file_path", "").endswith(".env.sample"):
    print("BLOCKED: access to .env files is prohibited", file=sys.stderr)
    sys.exit(2)
sys.exit(0)
"#,
    )
    .unwrap();
    // Per-tool matcher, JSON deny.
    std::fs::write(
        hooks.join("protect.py"),
        r#"import json, sys
data = json.load(sys.stdin)
path = data["tool_input"].get("file_path", "")
if path.startswith("secrets/") or "/secrets/" in path:
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse",
        "permissionDecision": "deny", "permissionDecisionReason": "secrets/ is read-only"}}))
"#,
    )
    .unwrap();
    // A dispatcher for several events.
    write_script(
        &hooks.join("dispatch.sh"),
        r#"#!/bin/bash
input=$(cat)
event=$(printf '%s' "$input" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hook_event_name"])')
case "$event" in
  PostToolUse)
    printf '%s' "$input" | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["tool_input"].get("file_path", "")
if p.endswith(".py"):
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "DISPATCH: run ruff on " + p}}))
' ;;
  UserPromptSubmit)
    if printf '%s' "$input" | grep -q 'deploy'; then
      echo '{"decision": "block", "reason": "DISPATCH: deploys go through CI"}'
    else
      echo "DISPATCH: conventions apply"
    fi ;;
  Stop) exit 0 ;;
esac
"#,
    )
    .unwrap();
    write_script(
        &hooks.join("guard.sh"),
        "#!/bin/sh\ncat > /dev/null\necho '{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"deny\",\"permissionDecisionReason\":\"GUARD: no pushes from agents\"}}'\n",
    )
    .unwrap();
    // An observability forwarder (async): appends the event to a file.
    std::fs::write(
        hooks.join("send_event.py"),
        "import json, sys\nd = json.load(sys.stdin)\nopen('logs/events.jsonl', 'a').write(json.dumps({'app': sys.argv[2], 'event': d['hook_event_name']}) + '\\n')\n",
    )
    .unwrap();
    let settings = json!({
        "permissions": {"allow": ["Bash(ls:*)"]},
        "hooks": {
            "PreToolUse": [
                {"matcher": "", "hooks": [
                    {"type": "command", "command": "uv run .claude/hooks/pre_tool_use.py"},
                    {"type": "command", "command": "uv run .claude/hooks/send_event.py --source-app demo --event-type PreToolUse", "async": true}
                ]},
                {"matcher": "Write|Edit", "hooks": [
                    {"type": "command", "command": "python3 \"$CLAUDE_PROJECT_DIR\"/.claude/hooks/protect.py", "timeout": 10}
                ]},
                {"matcher": "Bash", "hooks": [
                    {"type": "command", "command": "\"$CLAUDE_PROJECT_DIR\"/.claude/hooks/guard.sh", "if": "Bash(git push *)"}
                ]}
            ],
            "PostToolUse": [
                {"matcher": "Write|Edit|MultiEdit", "hooks": [
                    {"type": "command", "command": ".claude/hooks/dispatch.sh", "timeout": 30}
                ]}
            ],
            "UserPromptSubmit": [
                {"hooks": [{"type": "command", "command": ".claude/hooks/dispatch.sh"}]}
            ],
            "Stop": [
                {"hooks": [
                    {"type": "command", "command": ".claude/hooks/dispatch.sh"},
                    {"type": "prompt", "prompt": "Did the assistant finish? $ARGUMENTS"}
                ]}
            ],
            "Notification": [
                {"matcher": "permission_prompt", "hooks": [
                    {"type": "command", "command": "uv run .claude/hooks/send_event.py --source-app demo --event-type Notification", "async": true},
                    {"type": "http", "url": "http://127.0.0.1:9/notify"}
                ]}
            ]
        }
    });
    let file = project.join(".claude/settings.json");
    std::fs::write(&file, serde_json::to_string_pretty(&settings).unwrap()).unwrap();
    settings
}

fn events(project: &Path) -> Vec<Value> {
    let base = |name: &str, extra: Value| {
        let mut v = json!({"session_id": "imp-1", "transcript_path": "/tmp/t.jsonl",
            "cwd": project, "permission_mode": "default", "hook_event_name": name});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let bash = |c: &str, id: &str| {
        base(
            "PreToolUse",
            json!({"tool_name": "Bash", "tool_input": {"command": c}, "tool_use_id": id}),
        )
    };
    let file = |tool: &str, p: &str, id: &str| {
        base(
            "PreToolUse",
            json!({"tool_name": tool, "tool_input": {"file_path": p, "content": "x"}, "tool_use_id": id}),
        )
    };
    vec![
        bash("ls -la", "t1"),
        bash("rm -rf build", "t2"),
        bash("git push origin main", "t3"),
        bash("git status", "t4"),
        file("Read", ".env", "t5"),
        file("Write", "secrets/key.txt", "t6"),
        file("Write", "src/app.py", "t7"),
        base(
            "PostToolUse",
            json!({"tool_name": "Write", "tool_input": {"file_path": "src/app.py"}, "tool_response": {"success": true}, "tool_use_id": "t7"}),
        ),
        base("UserPromptSubmit", json!({"prompt": "deploy to prod"})),
        base("UserPromptSubmit", json!({"prompt": "hello"})),
        base("Stop", json!({"stop_hook_active": false})),
        base(
            "Notification",
            json!({"message": "Claude needs permission", "notification_type": "permission_prompt"}),
        ),
    ]
}

#[test]
fn imported_rules_reproduce_the_original_scripts_verdicts_and_undo_restores_the_file() {
    let shim = tempfile::tempdir().unwrap();
    // `uv run x.py …` → python3 x.py … (uv itself is not needed to test the layout).
    write_script(
        &shim.path().join("uv"),
        "#!/bin/sh\n[ \"$1\" = run ] && shift\nexec python3 \"$@\"\n",
    )
    .unwrap();
    let path_env = format!(
        "{}:{}",
        shim.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut d = TestDaemon::unstarted(&[("hookd.toml", "packs = []\n")]).unwrap();
    d.set_env("PATH", &path_env);
    d.spawn().unwrap();
    let project = tempfile::tempdir().unwrap();
    let project = project.path().canonicalize().unwrap();
    let original = write_layout(&project);
    let original_bytes = std::fs::read(project.join(".claude/settings.json")).unwrap();

    let before: Vec<Verdict> = events(&project)
        .iter()
        .map(|e| claude_code_verdict(&original, e, &project, &path_env))
        .collect();
    let expected = [
        "none", "deny", "deny", "none", "deny", "deny", "none", "none", "block", "none", "none",
        "none",
    ];
    assert_eq!(
        before.iter().map(|v| v.decision).collect::<Vec<_>>(),
        expected,
        "the scripts themselves"
    );

    // Dry run: the rules and the diff are shown, nothing is written.
    let dry = d
        .hookctl(&[
            "import",
            "--project",
            project.to_str().unwrap(),
            "--replace",
            "--dry-run",
        ])
        .unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        text.contains("action = \"run\"") && text.contains("+"),
        "{text}"
    );
    assert!(!project.join(".claude/hookd.toml").exists());
    assert_eq!(
        std::fs::read(project.join(".claude/settings.json")).unwrap(),
        original_bytes
    );

    let out = d
        .hookctl(&[
            "import",
            "--project",
            project.to_str().unwrap(),
            "--replace",
            "--json",
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rules"].as_array().unwrap().len(), 8, "{report:#}");
    let skipped: Vec<&str> = report["not_translated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["why"].as_str().unwrap())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped.iter().any(|w| w.contains("`prompt` hook")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|w| w.contains("`http` hook")),
        "{skipped:?}"
    );

    let after: Value =
        serde_json::from_slice(&std::fs::read(project.join(".claude/settings.json")).unwrap())
            .unwrap();
    // The prompt and http hooks stay; every command hook is gone; hook-client is wired.
    let text = after.to_string();
    assert!(text.contains("Did the assistant finish?") && text.contains("127.0.0.1:9/notify"));
    assert!(!text.contains("pre_tool_use.py") && !text.contains("dispatch.sh"));
    assert!(
        text.contains("hook-client --event PreToolUse --deadline"),
        "{text}"
    );
    assert_eq!(after["permissions"], original["permissions"]);

    // The project file was new, so the import trusted it and hookd runs its rules.
    let home = d.home().to_string_lossy().into_owned();
    let after_verdicts: Vec<Verdict> = events(&project)
        .iter()
        .map(|e| {
            // The same settings, with hook-client pointed at this test's daemon.
            let mut settings = after.clone();
            for groups in settings["hooks"].as_object_mut().unwrap().values_mut() {
                for g in groups.as_array_mut().unwrap() {
                    for h in g["hooks"].as_array_mut().unwrap() {
                        if let Some(c) = h["command"].as_str()
                            && c.contains("hook-client")
                        {
                            h["command"] =
                                json!(format!("HOOKD_HOME='{home}' HOOKD_NO_AUTOSTART=1 {c}"));
                        }
                    }
                }
            }
            claude_code_verdict(&settings, e, &project, &path_env)
        })
        .collect();
    assert_eq!(
        after_verdicts
            .iter()
            .map(|v| v.decision)
            .collect::<Vec<_>>(),
        expected,
        "through hookd"
    );
    // Contexts reach the model as before (PostToolUse JSON; UserPromptSubmit plain text).
    assert_eq!(after_verdicts[7].contexts, before[7].contexts);
    assert_eq!(after_verdicts[9].contexts, before[9].contexts);

    // hookd ran them: one run per script per event, recorded.
    let runs: Vec<Value> = serde_json::from_slice(
        &d.hookctl(&["runs", "--json", "--limit", "200", "--session", "imp-1"])
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(runs.len() >= 15, "{}", runs.len());
    // The async forwarder ran in the background for every PreToolUse and the Notification.
    wait_for(
        std::time::Duration::from_secs(20),
        "forwarded events",
        || {
            std::fs::read_to_string(project.join("logs/events.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0)
                >= 2 * 8
        },
    )
    .unwrap();

    // One command undoes it all.
    let undo = d
        .hookctl(&["import", "--undo", "--project", project.to_str().unwrap()])
        .unwrap();
    assert!(
        undo.status.success(),
        "{}",
        String::from_utf8_lossy(&undo.stderr)
    );
    assert_eq!(
        std::fs::read(project.join(".claude/settings.json")).unwrap(),
        original_bytes
    );
    assert!(!project.join(".claude/hookd.toml").exists());
    // Nothing recorded is left to undo.
    let again = d
        .hookctl(&["import", "--undo", "--project", project.to_str().unwrap()])
        .unwrap();
    assert!(!again.status.success());
}

#[test]
fn user_settings_import_into_rules_d_and_undo_refuses_edited_files() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let claude = d.home().join(".claude");
    std::fs::create_dir_all(&claude).unwrap();
    let settings = json!({"hooks": {
        "PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "~/bin/fmt.sh", "timeout": 20}]}],
        "SessionEnd": [{"hooks": [{"type": "command", "command": "~/bin/backup.sh"}]}]
    }});
    std::fs::write(claude.join("settings.json"), settings.to_string()).unwrap();
    let out = d.hookctl(&["import", "--user"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("runs in the background: SessionEnd"),
        "{text}"
    );
    assert!(text.contains("still runs these hooks itself"), "{text}");
    let rules_file = d.home().join("rules.d/imported.toml");
    let rules = std::fs::read_to_string(&rules_file).unwrap();
    assert!(
        rules.contains("name = 'imported-posttooluse-fmt'"),
        "{rules}"
    );
    assert!(rules.contains("timeout = 20"), "{rules}");
    let check = d.hookctl(&["check", rules_file.to_str().unwrap()]).unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    wait_for(
        std::time::Duration::from_secs(10),
        "the imported rules loaded",
        || {
            let out = d.hookctl(&["rules"]).unwrap();
            String::from_utf8_lossy(&out.stdout).contains("imported-sessionend-backup")
        },
    )
    .unwrap();
    // Importing twice is refused; an edited rules file is not removed without --force.
    assert!(!d.hookctl(&["import", "--user"]).unwrap().status.success());
    std::fs::write(&rules_file, rules + "\n# my edit\n").unwrap();
    let undo = d.hookctl(&["import", "--undo", "--user"]).unwrap();
    assert!(!undo.status.success());
    assert!(String::from_utf8_lossy(&undo.stderr).contains("--force"));
    let undo = d
        .hookctl(&["import", "--undo", "--user", "--force"])
        .unwrap();
    assert!(
        undo.status.success(),
        "{}",
        String::from_utf8_lossy(&undo.stderr)
    );
    assert!(!rules_file.exists());
}
