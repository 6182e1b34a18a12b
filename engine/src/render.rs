//! Decision → the exact output Claude Code accepts for that event (docs/claude-code-hooks.md).
//!
//! Pure. `hookSpecificOutput.hookEventName` always equals the event; nothing but one JSON
//! document (or nothing) goes to stdout; exit 2 is used only for blocks on events whose JSON
//! block form is not verified.

use hook_protocol::HookReply;
use serde_json::{Map, Value, json};

use crate::event::HookEvent;
use crate::events::{Block, Permission};
use crate::rules::{Action, Decision};

/// Renders `decision` for `event`.
#[must_use]
pub fn render(event: &HookEvent, decision: &Decision) -> HookReply {
    let Some(spec) = event.spec else {
        // An event this build does not know: only a user-facing message is safe.
        let msgs: Vec<&str> = decision
            .warnings
            .iter()
            .chain(&decision.contexts)
            .map(String::as_str)
            .collect();
        return json_reply(&system_message_only(&msgs));
    };
    if !spec.output {
        return HookReply::default();
    }
    let mut top = Map::new();
    let mut specific = Map::new();
    let mut system: Vec<&str> = decision.warnings.iter().map(String::as_str).collect();

    if !decision.blocks.is_empty() {
        let reason = decision.blocks.join("\n");
        match spec.block {
            Block::Exit2 => {
                return HookReply {
                    exit_code: 2,
                    stdout: Vec::new(),
                    stderr: format!("{reason}\n").into_bytes(),
                };
            }
            Block::Json => {
                top.insert("decision".into(), json!("block"));
                top.insert("reason".into(), json!(reason));
            }
            // Rules validation and evaluation never produce these; see rules::Action.
            Block::None | Block::Permission => {}
        }
    }

    if let Some((action, reasons)) = &decision.permission {
        let reason = reasons.join("\n");
        match spec.permission {
            Permission::Decision { .. } => {
                specific.insert("permissionDecision".into(), json!(action.as_str()));
                specific.insert("permissionDecisionReason".into(), json!(reason));
            }
            Permission::Behavior => {
                let d = if *action == Action::Allow {
                    let mut allow = json!({"behavior": "allow"});
                    // `updatedInput`/`updatedPermissions` a run returned with its allow.
                    for (k, v) in &decision.specific {
                        if let Some(key) = k.strip_prefix("decision.") {
                            allow[key] = v.clone();
                        }
                    }
                    allow
                } else {
                    json!({"behavior": "deny", "message": reason})
                };
                specific.insert("decision".into(), d);
            }
            Permission::None => {}
        }
    }

    if !decision.contexts.is_empty() {
        if spec.context {
            specific.insert(
                "additionalContext".into(),
                json!(decision.contexts.join("\n\n")),
            );
        } else {
            system.extend(decision.contexts.iter().map(String::as_str));
        }
    }

    // Keys a `run` script returned that rules cannot express (updatedInput, sessionTitle…);
    // what the rules decided wins.
    for (k, v) in &decision.specific {
        if !k.starts_with("decision.") {
            specific.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for (k, v) in &decision.output {
        top.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if !specific.is_empty() {
        specific.insert("hookEventName".into(), json!(spec.name));
        top.insert("hookSpecificOutput".into(), Value::Object(specific));
    }
    if !system.is_empty() {
        top.insert("systemMessage".into(), json!(system.join("\n")));
    }
    if top.is_empty() {
        return HookReply::default();
    }
    json_reply(&Value::Object(top))
}

fn system_message_only(msgs: &[&str]) -> Value {
    if msgs.is_empty() {
        return Value::Null;
    }
    json!({"systemMessage": msgs.join("\n")})
}

fn json_reply(v: &Value) -> HookReply {
    if v.is_null() {
        return HookReply::default();
    }
    let mut stdout = serde_json::to_vec(v).unwrap_or_default();
    stdout.push(b'\n');
    HookReply {
        exit_code: 0,
        stdout,
        stderr: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Matched;

    fn ev(name: &str) -> HookEvent {
        HookEvent::parse(
            format!(r#"{{"hook_event_name":"{name}"}}"#).as_bytes(),
            None,
        )
        .unwrap()
    }

    fn out(r: &HookReply) -> Value {
        serde_json::from_slice(&r.stdout).unwrap()
    }

    fn decision(f: impl FnOnce(&mut Decision)) -> Decision {
        let mut d = Decision::default();
        f(&mut d);
        d.matched.push(Matched {
            rule: "r".into(),
            action: Action::Log,
            why: String::new(),
        });
        d
    }

    #[test]
    fn no_decision_prints_nothing() {
        for e in crate::events::EVENTS {
            let r = render(&ev(e.name), &Decision::default());
            assert!(
                r.stdout.is_empty() && r.stderr.is_empty() && r.exit_code == 0,
                "{}",
                e.name
            );
        }
    }

    #[test]
    fn pre_tool_use_deny_carries_reason_and_event_name() {
        let d = decision(|d| d.permission = Some((Action::Deny, vec!["no".into()])));
        let v = out(&render(&ev("PreToolUse"), &d));
        assert_eq!(
            v,
            json!({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                "permissionDecision": "deny", "permissionDecisionReason": "no"}})
        );
    }

    #[test]
    fn pre_skill_shell_command_takes_a_permission_decision_and_no_context() {
        // 2.1.332's schema: permissionDecision (allow, deny, ask, defer) and its reason; no
        // additionalContext, so contexts go to the user.
        for action in [Action::Deny, Action::Ask, Action::Defer] {
            let d = decision(|d| d.permission = Some((action, vec!["no".into()])));
            let v = out(&render(&ev("PreSkillShellCommand"), &d));
            assert_eq!(
                v,
                json!({"hookSpecificOutput": {"hookEventName": "PreSkillShellCommand",
                    "permissionDecision": action.as_str(), "permissionDecisionReason": "no"}})
            );
        }
        let d = decision(|d| d.contexts.push("c".into()));
        let v = out(&render(&ev("PreSkillShellCommand"), &d));
        assert_eq!(v, json!({"systemMessage": "c"}));
    }

    #[test]
    fn permission_request_uses_decision_behavior() {
        let d = decision(|d| d.permission = Some((Action::Deny, vec!["no".into()])));
        let v = out(&render(&ev("PermissionRequest"), &d));
        assert_eq!(
            v["hookSpecificOutput"],
            json!({"hookEventName": "PermissionRequest", "decision": {"behavior": "deny", "message": "no"}})
        );
        let d = decision(|d| d.permission = Some((Action::Allow, vec![])));
        let v = out(&render(&ev("PermissionRequest"), &d));
        assert_eq!(
            v["hookSpecificOutput"]["decision"],
            json!({"behavior": "allow"})
        );
    }

    #[test]
    fn json_blocks_and_exit2_blocks() {
        let d = decision(|d| d.blocks.push("run the tests".into()));
        for name in ["Stop", "SubagentStop", "UserPromptSubmit", "PostToolUse"] {
            let v = out(&render(&ev(name), &d));
            assert_eq!(
                v,
                json!({"decision": "block", "reason": "run the tests"}),
                "{name}"
            );
        }
        let r = render(&ev("PreCompact"), &d);
        assert_eq!((r.exit_code, r.stdout.is_empty()), (2, true));
        assert_eq!(r.stderr, b"run the tests\n");
    }

    #[test]
    fn context_goes_to_additional_context_or_system_message() {
        let d = decision(|d| d.contexts.push("policy".into()));
        let v = out(&render(&ev("SessionStart"), &d));
        assert_eq!(
            v,
            json!({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "policy"}})
        );
        let v = out(&render(&ev("SessionEnd"), &d));
        assert_eq!(v, json!({"systemMessage": "policy"}));
    }

    #[test]
    fn stop_failure_output_is_never_written() {
        let d = decision(|d| d.warnings.push("w".into()));
        assert!(render(&ev("StopFailure"), &d).stdout.is_empty());
    }

    #[test]
    fn unknown_event_gets_only_a_system_message() {
        let d = decision(|d| d.warnings.push("w".into()));
        assert_eq!(
            out(&render(&ev("FutureEvent"), &d)),
            json!({"systemMessage": "w"})
        );
        assert!(
            render(&ev("FutureEvent"), &Decision::default())
                .stdout
                .is_empty()
        );
    }
}
