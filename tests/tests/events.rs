//! Every one of the 34 events, through the real hook-client and hookd, answered with output
//! that matches docs/claude-code-hooks.md: exactly one JSON document or nothing on stdout, the right
//! `hookEventName`, the right decision form, and exit 2 only for exit-2 blocks.

#![allow(clippy::needless_pass_by_value)] // test helpers take json!() values

use std::collections::BTreeSet;

use hook_tests::harness::{TestDaemon, event_json};
use serde_json::{Value, json};

/// A realistic payload per event (docs/claude-code-hooks.md).
fn sample(name: &str) -> Value {
    let bash = json!({"command": "rm -rf build"});
    match name {
        "PreToolUse" => json!({"tool_name": "Bash", "tool_input": bash, "tool_use_id": "toolu_1",
            "permission_mode": "default", "effort": {"level": "medium"}}),
        "PostToolUse" => json!({"tool_name": "Bash", "tool_input": bash, "tool_use_id": "toolu_1",
            "tool_response": {"stdout": "", "stderr": "", "interrupted": false, "isImage": false}}),
        "PostToolUseFailure" => json!({"tool_name": "Bash", "tool_input": bash,
            "tool_use_id": "toolu_1", "error": "exit 1", "is_interrupt": false}),
        "PostToolBatch" => json!({"tool_calls": [{"tool_name": "Bash", "tool_input": bash,
            "tool_use_id": "toolu_1", "tool_response": "ok"}]}),
        "Notification" => json!({"message": "needs input", "notification_type": "idle_prompt"}),
        "UserPromptSubmit" => json!({"prompt": "deploy it", "source": "user"}),
        "UserPromptExpansion" => {
            json!({"expansion_type": "slash_command", "command_name": "deploy",
            "command_args": "", "prompt": "deploy"})
        }
        "SessionStart" => json!({"source": "startup"}),
        "SessionEnd" => json!({"reason": "other"}),
        "Stop" | "SubagentStop" => json!({"stop_hook_active": false, "agent_id": "a1",
            "agent_type": "general-purpose", "last_assistant_message": "done"}),
        "StopFailure" => json!({"error": "rate_limit"}),
        "SubagentStart" => json!({"agent_id": "a1", "agent_type": "general-purpose"}),
        "PreCompact" => json!({"trigger": "manual", "custom_instructions": null}),
        "PostCompact" => json!({"trigger": "auto", "compact_summary": "summary"}),
        "PreModelSwitch" | "PostModelSwitch" => json!({"from_model": "a", "to_model": "b",
            "requested_model": "b", "source": "command"}),
        "PermissionRequest" => json!({"tool_name": "Bash", "tool_input": bash}),
        "PermissionDenied" => json!({"tool_name": "Bash", "tool_input": bash, "tool_use_id": "t",
            "reason": "classifier"}),
        "Setup" => json!({"trigger": "init"}),
        "TeammateIdle" => json!({"teammate_name": "t", "team_name": "team"}),
        "TaskCreated" | "TaskCompleted" => json!({"task_id": "1", "task_subject": "s"}),
        "Elicitation" => json!({"mcp_server_name": "srv", "message": "pick"}),
        "ElicitationResult" => json!({"mcp_server_name": "srv", "action": "accept"}),
        "ConfigChange" => json!({"source": "user_settings", "file_path": "/x/settings.json"}),
        "WorktreeCreate" => json!({"name": "wt"}),
        "WorktreeRemove" => json!({"worktree_path": "/wt"}),
        "InstructionsLoaded" => json!({"file_path": "/p/CLAUDE.md", "memory_type": "Project",
            "load_reason": "session_start"}),
        "CwdChanged" => json!({"old_cwd": "/a", "new_cwd": "/b"}),
        "FileChanged" => json!({"file_path": "/p/.env", "event": "change"}),
        "DirectoryAdded" => json!({"directory": "/d", "source": "add_dir"}),
        "MessageDisplay" => json!({"turn_id": "t", "message_id": "m", "index": 0, "final": true,
            "delta": "hi"}),
        "PreSkillShellCommand" => {
            json!({"tool_name": "Bash", "tool_input": {"command": "git status"},
            "tool_use_id": "9f1c:inner:preamble-0", "command_name": "status",
            "command_source": "projectSettings", "invoked_by": "user"})
        }
        other => panic!("no sample for {other}"),
    }
}

/// Every event of Claude Code 2.1.332, in `HOOK_EVENTS` order.
const EVENTS: &[&str] = hook_tests::claude::ALL_HOOK_EVENTS;

/// One rule per event with an action that event can express; the expected result kind.
fn rule_for(name: &str) -> (&'static str, Expect) {
    match name {
        "PreToolUse" | "PermissionRequest" | "PreSkillShellCommand" => {
            ("deny", Expect::Permission("deny"))
        }
        "PreModelSwitch" => ("ask", Expect::Permission("ask")),
        "PostToolUse" | "UserPromptSubmit" | "Stop" | "SubagentStop" => {
            ("block", Expect::JsonBlock)
        }
        "PostToolUseFailure"
        | "PostToolBatch"
        | "UserPromptExpansion"
        | "PreCompact"
        | "TeammateIdle"
        | "TaskCreated"
        | "TaskCompleted"
        | "Elicitation"
        | "ElicitationResult"
        | "ConfigChange"
        | "WorktreeCreate" => ("block", Expect::Exit2),
        "Notification" | "SessionStart" | "SubagentStart" | "PostModelSwitch" | "Setup" => {
            ("context", Expect::Context)
        }
        "StopFailure" => ("log", Expect::Nothing),
        _ => ("warn", Expect::SystemMessage),
    }
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Permission(&'static str),
    JsonBlock,
    Exit2,
    Context,
    SystemMessage,
    Nothing,
}

fn rules_toml() -> String {
    let mut s = String::from("packs = []\n");
    for e in EVENTS.iter().copied() {
        let (action, _) = rule_for(e);
        s.push_str(&format!(
            "[[rule]]\nname = \"r-{e}\"\nevent = \"{e}\"\naction = \"{action}\"\nreason = \"REASON-{e}\"\ncontext = \"CONTEXT-{e}\"\n"
        ));
    }
    s
}

/// Checks stdout is empty or exactly one JSON object (plus a newline), and returns it.
fn single_json(name: &str, stdout: &[u8]) -> Option<Value> {
    if stdout.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(stdout).unwrap_or_else(|_| panic!("{name}: stdout not UTF-8"));
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{name}: {text:?}"
    );
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"));
    assert!(v.is_object(), "{name}: not an object");
    Some(v)
}

/// hookSpecificOutput keys each event accepts (docs/claude-code-hooks.md).
fn allowed_specific_keys(name: &str) -> BTreeSet<&'static str> {
    let mut keys: BTreeSet<&str> = ["hookEventName"].into();
    let extra: &[&str] = match name {
        "PreToolUse" => &[
            "permissionDecision",
            "permissionDecisionReason",
            "updatedInput",
            "additionalContext",
        ],
        "PreModelSwitch" => &["permissionDecision", "permissionDecisionReason"],
        // 2.1.332: updatedInput is accepted but never applied (it keeps the command from
        // running); hookd never writes it.
        "PreSkillShellCommand" => &["permissionDecision", "permissionDecisionReason"],
        "PermissionRequest" => &["decision"],
        "PostToolUse" => &[
            "additionalContext",
            "updatedToolOutput",
            "updatedMCPToolOutput",
            "classifierContext",
        ],
        "PostToolUseFailure" | "PostToolBatch" | "Notification" | "SubagentStart"
        | "SubagentStop" | "PostModelSwitch" | "Setup" | "Stop" => &["additionalContext"],
        "UserPromptSubmit" => &[
            "additionalContext",
            "sessionTitle",
            "suppressOriginalPrompt",
        ],
        "UserPromptExpansion" => &["additionalContext", "suppressOriginalPrompt"],
        "SessionStart" => &[
            "additionalContext",
            "initialUserMessage",
            "sessionTitle",
            "watchPaths",
            "reloadSkills",
        ],
        _ => &[],
    };
    keys.extend(extra);
    keys
}

/// The reason hookd gives Claude Code for the rule of event `name`: it names hookd and the
/// rule.
fn reason_of(name: &str) -> String {
    format!("hookd: r-{name} — REASON-{name}")
}

fn check(name: &str, expect: Expect, out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Expect::Exit2 = expect {
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            out.stdout.is_empty(),
            "{name}: stdout must be empty with exit 2"
        );
        assert_eq!(stderr, format!("{}\n", reason_of(name)), "{name}");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
    assert!(out.stderr.is_empty(), "{name}: unexpected stderr {stderr}");
    let v = single_json(name, &out.stdout);
    if let Some(spec) = v.as_ref().and_then(|v| v.get("hookSpecificOutput")) {
        assert_eq!(spec["hookEventName"], json!(name), "{name}");
        let keys: BTreeSet<&str> = spec
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let allowed = allowed_specific_keys(name);
        assert!(
            keys.is_subset(&allowed),
            "{name}: {keys:?} not within {allowed:?}"
        );
    }
    let top_keys: BTreeSet<&str> = v
        .as_ref()
        .map(|v| v.as_object().unwrap().keys().map(String::as_str).collect())
        .unwrap_or_default();
    let allowed_top: BTreeSet<&str> = [
        "continue",
        "stopReason",
        "suppressOutput",
        "systemMessage",
        "decision",
        "reason",
        "hookSpecificOutput",
    ]
    .into();
    assert!(top_keys.is_subset(&allowed_top), "{name}: {top_keys:?}");
    match expect {
        Expect::Permission(d) => {
            let v = v.unwrap_or_else(|| panic!("{name}: no output"));
            let spec = &v["hookSpecificOutput"];
            if name == "PermissionRequest" {
                assert_eq!(
                    spec["decision"],
                    json!({"behavior": d, "message": reason_of(name)})
                );
            } else {
                assert_eq!(spec["permissionDecision"], json!(d), "{name}");
                let got = spec["permissionDecisionReason"]
                    .as_str()
                    .unwrap_or_default();
                if name == "PreToolUse" {
                    // A deny ends with its allow-once code (docs/rules.md, "Allow once").
                    let code = got
                        .strip_prefix(&format!("{} (allow once: hookctl allow ", reason_of(name)))
                        .and_then(|r| r.strip_suffix(')'));
                    assert!(code.is_some_and(|c| c.len() == 5), "{name}: {got}");
                } else {
                    assert_eq!(got, reason_of(name), "{name}");
                }
            }
        }
        Expect::JsonBlock => {
            let v = v.unwrap_or_else(|| panic!("{name}: no output"));
            assert_eq!(v["decision"], json!("block"), "{name}");
            assert_eq!(v["reason"], json!(reason_of(name)), "{name}");
        }
        Expect::Context => {
            let v = v.unwrap_or_else(|| panic!("{name}: no output"));
            assert_eq!(
                v["hookSpecificOutput"]["additionalContext"],
                json!(format!("CONTEXT-{name}"))
            );
        }
        Expect::SystemMessage => {
            let v = v.unwrap_or_else(|| panic!("{name}: no output"));
            assert_eq!(
                v,
                json!({"systemMessage": format!("REASON-{name}")}),
                "{name}"
            );
        }
        Expect::Nothing => assert!(v.is_none(), "{name}: {v:?}"),
        Expect::Exit2 => unreachable!(),
    }
}

#[test]
fn all_34_events_are_answered_in_the_form_each_accepts() {
    let d = TestDaemon::start_with(&[("hookd.toml", &rules_toml())]).unwrap();
    let status = d.status().unwrap();
    assert_eq!(status["hookd"]["rule_errors"], json!([]), "{status}");
    assert_eq!(status["hookd"]["rules_loaded"], json!(34));
    for name in EVENTS.iter().copied() {
        let out = d
            .hook(&event_json(name, "sess-all", &sample(name)), &[])
            .unwrap();
        check(name, rule_for(name).1, &out);
    }
    let rows = d.events(100, &["--session", "sess-all"]).unwrap();
    assert_eq!(rows.len(), 34);
    for row in &rows {
        let name = row["event"].as_str().unwrap();
        assert_eq!(row["rules"], json!([format!("r-{name}")]), "{row}");
    }
}

#[test]
fn with_no_rules_every_event_passes_silently_and_is_recorded() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    for name in EVENTS.iter().copied() {
        let out = d
            .hook(&event_json(name, "sess-none", &sample(name)), &[])
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "{name}: {out:?}"
        );
    }
    let rows = d.events(100, &["--session", "sess-none"]).unwrap();
    assert_eq!(rows.len(), 34);
    assert!(rows.iter().all(|r| r["verdict"] == json!("none")));
}

#[test]
fn unknown_future_event_is_recorded_and_passed() {
    let d = TestDaemon::start().unwrap();
    let out = d
        .hook(
            &event_json("FutureEvent", "sess-f", &json!({"novel": {"deep": [1, 2]}})),
            &[],
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let rows = d.events(10, &["--event", "FutureEvent"]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["session_id"], json!("sess-f"));
    assert_eq!(rows[0]["verdict"], json!("none"));
    assert!(rows[0]["payload"].as_str().unwrap().contains("novel"));
}

#[test]
fn default_packs_deny_force_push_with_the_rule_reason() {
    let d = TestDaemon::start().unwrap();
    let ev = event_json(
        "PreToolUse",
        "sess-p",
        &json!({"tool_name": "Bash", "tool_input": {"command": "git push --force origin main"}}),
    );
    let out = d.hook(&ev, &[]).unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], json!("deny"));
    assert!(
        v["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("--force-with-lease")
    );
    let rows = d.events(1, &["--session", "sess-p"]).unwrap();
    assert_eq!(rows[0]["rules"], json!(["git-push-force"]));
    assert_eq!(rows[0]["tool"], json!("Bash"));
    assert_eq!(rows[0]["verdict"], json!("deny"));
}

#[test]
fn a_duplicate_delivery_is_recorded_once_and_answered_identically() {
    let d = TestDaemon::start().unwrap();
    let ev = hook_tests::harness::raw_event_json(
        "PreToolUse",
        "dup",
        &json!({"tool_name": "Bash", "tool_use_id": "toolu_dup", "tool_input": {"command": "git push -f origin main"}}),
    );
    // Wired twice (user + project settings): both arrive at once.
    let (a, b) = std::thread::scope(|s| {
        let one = s.spawn(|| d.hook(&ev, &[]).unwrap());
        let two = s.spawn(|| d.hook(&ev, &["--event", "PreToolUse"]).unwrap());
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.status.code(), b.status.code());
    assert!(String::from_utf8_lossy(&a.stdout).contains("\"deny\""));
    assert_eq!(d.events(10, &["--session", "dup"]).unwrap().len(), 1);
    let stats: Value =
        serde_json::from_slice(&d.hookctl(&["stats", "--json"]).unwrap().stdout).unwrap();
    assert_eq!(stats["deduplicated"], json!(1));
    // A different call (another tool_use_id) is a different event.
    let other = hook_tests::harness::raw_event_json(
        "PreToolUse",
        "dup",
        &json!({"tool_name": "Bash", "tool_use_id": "toolu_dup2", "tool_input": {"command": "git push -f origin main"}}),
    );
    d.hook(&other, &[]).unwrap();
    assert_eq!(d.events(10, &["--session", "dup"]).unwrap().len(), 2);
}

#[test]
fn the_default_bash_packs_guard_skill_shell_commands() {
    let d = TestDaemon::start().unwrap();
    let skill = |command: &str| {
        json!({"tool_name": "Bash", "tool_input": {"command": command},
            "tool_use_id": "9f1c:inner:preamble-0", "command_name": "deploy",
            "command_source": "projectSettings", "invoked_by": "claude"})
    };
    let out = d
        .hook(
            &event_json(
                "PreSkillShellCommand",
                "sess-skill",
                &skill("git push -f origin main"),
            ),
            &[],
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let spec = &v["hookSpecificOutput"];
    assert_eq!(spec["hookEventName"], json!("PreSkillShellCommand"), "{v}");
    assert_eq!(spec["permissionDecision"], json!("deny"), "{v}");
    assert!(
        spec["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("git-push-force"),
        "{v}"
    );
    let out = d
        .hook(
            &event_json("PreSkillShellCommand", "sess-skill", &skill("git status")),
            &[],
        )
        .unwrap();
    assert!(
        out.stdout.is_empty() && out.status.code() == Some(0),
        "{out:?}"
    );
    // A PowerShell command is not a Bash command: the Bash packs leave it alone.
    let mut ps = skill("git push -f origin main");
    ps["tool_name"] = json!("PowerShell");
    let out = d
        .hook(&event_json("PreSkillShellCommand", "sess-skill", &ps), &[])
        .unwrap();
    assert!(out.stdout.is_empty(), "{out:?}");
}
