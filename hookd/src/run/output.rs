//! A sync run's result → its part of the verdict, read the way Claude Code reads a command
//! hook's result (docs/claude-code-hooks.md).
//!
//! - exit 2: a block (a deny on permission events) with stderr as the reason; stdout ignored
//! - exit 0: stdout parsed: JSON is hook output (decisions, context, messages, pass-through
//!   keys such as `updatedInput`); plain text becomes context where the event takes it
//! - anything else (other exits, signals, timeouts, no start, invalid JSON): a failure the user
//!   is warned about (or a block with `on_failure = "block"`); JSON on stdout of an exit
//!   other than 0 and 2 is still applied, as Claude Code does
//!
//! Pure: no I/O.

use serde_json::{Map, Value};

use super::process::{Exit, Status};
use crate::event::HookEvent;
use crate::events::{Block, Permission};
use crate::rules::{Action, Decision, OnFailure, RunCall, StdoutUse};
use crate::verdict::{RunOutcome, Verdict};

/// One run's contribution to the verdict.
#[derive(Debug, Clone, Default)]
pub struct Contribution {
    /// The part of the decision it adds (merged with the rules' by the same precedence).
    pub decision: Decision,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Its part of the verdict (`deny`, `block`, `context`, `output`, `none`…).
    pub effect: Verdict,
}

/// The outcome of `exit`, independent of the event (background runs use only this).
#[must_use]
pub fn outcome(exit: &Exit) -> (RunOutcome, Option<String>) {
    let stderr_line = || {
        let s = exit.stderr.text();
        let first = s.trim().lines().next().unwrap_or("").trim().to_string();
        if first.is_empty() {
            String::new()
        } else {
            format!(": {}", excerpt(&first, 200))
        }
    };
    match &exit.status {
        Status::Exited(0) => (RunOutcome::Ok, None),
        Status::Exited(2) => (RunOutcome::Blocked, None),
        Status::Exited(c) => (
            RunOutcome::Failed,
            Some(format!("exited with status {c}{}", stderr_line())),
        ),
        Status::Signaled(s) => (
            RunOutcome::Failed,
            Some(format!("killed by signal {s}{}", stderr_line())),
        ),
        Status::TimedOut => (
            RunOutcome::TimedOut,
            Some(format!(
                "timed out after {} ms; its process group was killed",
                exit.duration.as_millis()
            )),
        ),
        Status::Cancelled => (
            RunOutcome::Cancelled,
            Some("cancelled: hookd is shutting down".into()),
        ),
        Status::SpawnFailed(e) => (RunOutcome::Failed, Some(format!("could not start: {e}"))),
    }
}

fn excerpt(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    } else {
        s.to_string()
    }
}

/// Reads a sync run's result for `event` into its part of the verdict.
#[must_use]
pub fn interpret(event: &HookEvent, call: &RunCall, exit: &Exit) -> (RunOutcome, Contribution) {
    let (mut outcome, mut error) = outcome(exit);
    let mut c = Contribution::default();
    match outcome {
        RunOutcome::Blocked => {
            let stderr = exit.stderr.text();
            let reason = stderr.trim();
            let reason = if reason.is_empty() {
                format!(
                    "Blocked by hookd rule `{}` (exit 2, no stderr output)",
                    call.rule
                )
            } else {
                reason.to_string()
            };
            block(event, call, &mut c, reason);
        }
        RunOutcome::Ok | RunOutcome::Failed if exit_code(exit).is_some() => {
            let exit0 = outcome == RunOutcome::Ok;
            if let Err(e) = apply_stdout(event, call, exit, exit0, &mut c.decision) {
                outcome = RunOutcome::Failed;
                error = Some(match error {
                    Some(prev) => format!("{prev}; {e}"),
                    None => e,
                });
            }
        }
        _ => {}
    }
    if outcome.is_failure() {
        let msg = error.clone().unwrap_or_else(|| "failed".into());
        match call.spec.on_failure {
            OnFailure::Block => block(
                event,
                call,
                &mut c,
                format!(
                    "hookd run `{}` failed ({msg}); on_failure = \"block\"",
                    call.rule
                ),
            ),
            OnFailure::Continue => c
                .decision
                .warnings
                .push(format!("hookd: run `{}` failed: {msg}", call.rule)),
        }
    }
    c.error = error;
    c.effect = effect(&c.decision);
    (outcome, c)
}

fn exit_code(exit: &Exit) -> Option<i32> {
    match exit.status {
        Status::Exited(c) => Some(c),
        _ => None,
    }
}

/// A run's part of the verdict: what its contribution decides, or `output` when it only
/// changes the event's output.
fn effect(d: &Decision) -> Verdict {
    match d.verdict() {
        Verdict::None | Verdict::Log if !d.output.is_empty() || !d.specific.is_empty() => {
            Verdict::Output
        }
        v => v,
    }
}

/// A block from this run: a deny on permission events, a block where the event blocks, a
/// user warning elsewhere; the Stop loop guard applies as it does to `block` rules.
fn block(event: &HookEvent, call: &RunCall, c: &mut Contribution, reason: String) {
    let d = &mut c.decision;
    let Some(spec) = event.spec else {
        d.warnings.push(reason);
        return;
    };
    let is_stop = crate::events::is_stop_like(&event.name);
    if is_stop && call.stop_blocks >= call.max_blocks {
        let msg = format!(
            "hookd loop guard: let {} through after {} consecutive blocks (rule `{}` allows {})",
            event.name, call.stop_blocks, call.rule, call.max_blocks
        );
        d.warnings.push(msg.clone());
        d.loop_guard.push(msg);
        return;
    }
    if spec.permission != Permission::None {
        d.permission = Some((Action::Deny, vec![reason]));
    } else if spec.block != Block::None {
        d.blocks.push(reason);
    } else {
        d.warnings.push(reason);
    }
}

/// Applies stdout: JSON hook output, or plain text (only after exit 0).
fn apply_stdout(
    event: &HookEvent,
    call: &RunCall,
    exit: &Exit,
    exit0: bool,
    d: &mut Decision,
) -> Result<(), String> {
    let text = exit.stdout.text();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(());
    }
    if exit.stdout.truncated() {
        return Err(format!(
            "stdout is over the {} KiB limit ({} bytes) and was ignored",
            super::process::CAPTURE_LIMIT / 1024,
            exit.stdout.total
        ));
    }
    if trimmed.starts_with('{') {
        let mut docs = serde_json::Deserializer::from_str(trimmed).into_iter::<Value>();
        match (docs.next(), docs.next()) {
            (Some(Ok(Value::Object(obj))), None) => return apply_json(event, call, &obj, d),
            // Several JSON documents: plain text, as Claude Code reads them.
            (Some(Ok(_)), Some(_)) => {}
            (Some(Ok(v)), None) => {
                return Err(format!(
                    "stdout JSON is not an object: {}",
                    excerpt(&v.to_string(), 80)
                ));
            }
            (Some(Err(e)), _) if trimmed.ends_with('}') => {
                return Err(format!("stdout is not valid JSON: {e}"));
            }
            _ => {}
        }
    }
    if exit0 && call.spec.stdout == StdoutUse::Context && event.spec.is_some_and(|s| s.context) {
        d.contexts.push(trimmed.to_string());
    }
    Ok(())
}

/// Claude Code's hook output (docs/claude-code-hooks.md) into `d`; nothing is applied when the
/// output is invalid.
fn apply_json(
    event: &HookEvent,
    call: &RunCall,
    obj: &Map<String, Value>,
    d: &mut Decision,
) -> Result<(), String> {
    let mut out = Decision::default();
    let spec = event.spec;
    let perm = spec.map_or(Permission::None, |s| s.permission);
    let string = |v: &Value, key: &str| -> Result<String, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{key}` must be a string"))
    };
    let reason = obj.get("reason").map(|v| string(v, "reason")).transpose()?;
    for (k, v) in obj {
        match k.as_str() {
            "continue" => {
                let b = v.as_bool().ok_or("`continue` must be true or false")?;
                if !b {
                    out.output.insert(k.clone(), v.clone());
                }
            }
            "stopReason" | "suppressOutput" => {
                out.output.insert(k.clone(), v.clone());
            }
            "systemMessage" => out.warnings.push(string(v, k)?),
            "decision" => match v.as_str() {
                Some("block") => {
                    let r = reason
                        .clone()
                        .unwrap_or_else(|| format!("Blocked by hookd rule `{}`", call.rule));
                    let mut c = Contribution::default();
                    block(event, call, &mut c, r);
                    out.merge(c.decision);
                }
                Some("approve") => {
                    if perm != Permission::None {
                        out.merge(Decision {
                            permission: Some((Action::Allow, reason.iter().cloned().collect())),
                            ..Decision::default()
                        });
                    }
                }
                _ => {
                    return Err(format!(
                        "`decision` must be \"approve\" or \"block\", not {v}"
                    ));
                }
            },
            "hookSpecificOutput" => {
                let h = v
                    .as_object()
                    .ok_or("`hookSpecificOutput` must be an object")?;
                apply_specific(event, call, h, &mut out)?;
            }
            // `reason` goes with `decision`; `async` forms and terminal sequences are not
            // carried through hookd.
            _ => {}
        }
    }
    d.merge(out);
    Ok(())
}

fn apply_specific(
    event: &HookEvent,
    call: &RunCall,
    h: &Map<String, Value>,
    out: &mut Decision,
) -> Result<(), String> {
    match h.get("hookEventName").and_then(Value::as_str) {
        Some(n) if n == event.name => {}
        Some(n) => {
            return Err(format!(
                "hookSpecificOutput.hookEventName {n:?} does not match the event {}",
                event.name
            ));
        }
        None => return Err("hookSpecificOutput needs hookEventName".into()),
    }
    let perm = event.spec.map_or(Permission::None, |s| s.permission);
    let reason = h
        .get("permissionDecisionReason")
        .and_then(Value::as_str)
        .map(str::to_string);
    for (k, v) in h {
        match k.as_str() {
            "hookEventName" | "permissionDecisionReason" => {}
            "permissionDecision" => {
                let action = v
                    .as_str()
                    .and_then(Action::parse)
                    .filter(|a| {
                        matches!(
                            a,
                            Action::Allow | Action::Deny | Action::Ask | Action::Defer
                        )
                    })
                    .ok_or_else(|| {
                        format!("permissionDecision must be allow, deny, ask or defer, not {v}")
                    })?;
                let ok = match perm {
                    Permission::Decision { ask, defer } => match action {
                        Action::Ask => ask,
                        Action::Defer => defer,
                        _ => true,
                    },
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "{} does not take permissionDecision {:?}",
                        event.name,
                        action.as_str()
                    ));
                }
                let r = reason
                    .clone()
                    .unwrap_or_else(|| default_reason(action, &call.rule));
                out.merge(Decision {
                    permission: Some((action, vec![r])),
                    ..Decision::default()
                });
            }
            "decision" if perm == Permission::Behavior => {
                let behavior = v.get("behavior").and_then(Value::as_str);
                let action = match behavior {
                    Some("allow") => Action::Allow,
                    Some("deny") => Action::Deny,
                    _ => return Err(format!("decision.behavior must be allow or deny, not {v}")),
                };
                let msg = v
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| default_reason(action, &call.rule), str::to_string);
                out.merge(Decision {
                    permission: Some((action, vec![msg])),
                    ..Decision::default()
                });
                // updatedInput / updatedPermissions ride along with an allow.
                if action == Action::Allow
                    && let Some(o) = v.as_object()
                {
                    for key in ["updatedInput", "updatedPermissions"] {
                        if let Some(x) = o.get(key) {
                            out.specific.insert(format!("decision.{key}"), x.clone());
                        }
                    }
                }
            }
            "additionalContext" => out.contexts.push(
                v.as_str()
                    .ok_or("additionalContext must be a string")?
                    .to_string(),
            ),
            _ => {
                out.specific.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}

fn default_reason(action: Action, rule: &str) -> String {
    match action {
        Action::Allow => format!("Allowed by hookd rule `{rule}`"),
        _ => format!("hookd rule `{rule}`"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::process::Capture;
    use super::*;
    use crate::rules::{RunCommand, RunMode, RunSpec};

    fn call(on_failure: OnFailure) -> RunCall {
        RunCall {
            rule: "r".into(),
            spec: Arc::new(RunSpec {
                command: RunCommand::Shell("x".into()),
                mode: RunMode::Sync,
                timeout_ms: 1000,
                priority: 0,
                env: Vec::new(),
                pass_env: Vec::new(),
                retries: 0,
                on_failure,
                stdout: StdoutUse::Context,
            }),
            stop_blocks: 0,
            max_blocks: 3,
        }
    }

    fn ev(name: &str) -> HookEvent {
        HookEvent::parse(
            format!(r#"{{"hook_event_name":"{name}"}}"#).as_bytes(),
            None,
        )
        .unwrap()
    }

    fn exit(status: Status, stdout: &str, stderr: &str) -> Exit {
        let cap = |s: &str| {
            let mut c = Capture::default();
            if !s.is_empty() {
                c.head = s.as_bytes().to_vec();
                c.tail = c.head.clone();
                c.total = s.len() as u64;
            }
            c
        };
        Exit {
            status,
            duration: Duration::from_millis(5),
            stdout: cap(stdout),
            stderr: cap(stderr),
        }
    }

    fn run(event: &str, status: Status, stdout: &str, stderr: &str) -> (RunOutcome, Contribution) {
        interpret(
            &ev(event),
            &call(OnFailure::Continue),
            &exit(status, stdout, stderr),
        )
    }

    #[test]
    fn exit_2_denies_or_blocks_with_stderr() {
        let (o, c) = run(
            "PreToolUse",
            Status::Exited(2),
            r#"{"decision":"approve"}"#,
            "no rm\n",
        );
        assert_eq!(o, RunOutcome::Blocked);
        assert_eq!(
            c.decision.permission,
            Some((Action::Deny, vec!["no rm".into()]))
        );
        let (_, c) = run("Stop", Status::Exited(2), "", "tests fail");
        assert_eq!(c.decision.blocks, vec!["tests fail".to_string()]);
        let (_, c) = run("SessionStart", Status::Exited(2), "", "note");
        assert_eq!(c.decision.warnings, vec!["note".to_string()]);
        assert_eq!(c.effect, "warn");
    }

    #[test]
    fn json_output_is_read_like_claude_code() {
        let deny = r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"nope","updatedInput":{"command":"ls"}},"systemMessage":"hi"}"#;
        let (o, c) = run("PreToolUse", Status::Exited(0), deny, "");
        assert_eq!(o, RunOutcome::Ok);
        assert_eq!(
            c.decision.permission,
            Some((Action::Deny, vec!["nope".into()]))
        );
        assert_eq!(c.decision.warnings, vec!["hi".to_string()]);
        assert_eq!(
            c.decision.specific["updatedInput"],
            serde_json::json!({"command": "ls"})
        );
        // Exit 1 with a JSON deny still denies (verified on the CLI), and is a failure.
        let (o, c) = run("PreToolUse", Status::Exited(1), deny, "oops");
        assert_eq!(o, RunOutcome::Failed);
        assert_eq!(
            c.decision.permission.as_ref().map(|p| p.0),
            Some(Action::Deny)
        );
        // Legacy decision block on Stop.
        let (_, c) = run(
            "Stop",
            Status::Exited(0),
            r#"{"decision":"block","reason":"more"}"#,
            "",
        );
        assert_eq!(c.decision.blocks, vec!["more".to_string()]);
        // A mismatched event name is a failure with nothing applied.
        let bad = r#"{"hookSpecificOutput":{"hookEventName":"Stop","additionalContext":"x"}}"#;
        let (o, c) = run("PostToolUse", Status::Exited(0), bad, "");
        assert_eq!(o, RunOutcome::Failed);
        assert!(c.decision.contexts.is_empty());
        assert_eq!(c.decision.warnings.len(), 1);
        // PermissionRequest behaviour.
        let allow = r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow"}}}"#;
        let (_, c) = run("PermissionRequest", Status::Exited(0), allow, "");
        assert_eq!(
            c.decision.permission.as_ref().map(|p| p.0),
            Some(Action::Allow)
        );
    }

    #[test]
    fn plain_stdout_is_context_where_the_event_takes_it() {
        let (_, c) = run("PostToolUse", Status::Exited(0), "lint: 2 warnings\n", "");
        assert_eq!(c.decision.contexts, vec!["lint: 2 warnings".to_string()]);
        let (_, c) = run("PreCompact", Status::Exited(0), "text", "");
        assert!(c.decision.contexts.is_empty());
        // Text that only starts like JSON is text; two JSON documents are text.
        let (o, c) = run("PostToolUse", Status::Exited(0), "{not json", "");
        assert_eq!((o, c.decision.contexts.len()), (RunOutcome::Ok, 1));
        let (o, c) = run("PostToolUse", Status::Exited(0), "{\"a\":1}\n{\"b\":2}", "");
        assert_eq!((o, c.decision.contexts.len()), (RunOutcome::Ok, 1));
        let (o, _) = run("PostToolUse", Status::Exited(0), "{bad json}", "");
        assert_eq!(o, RunOutcome::Failed);
    }

    #[test]
    fn failures_warn_or_block_per_on_failure() {
        let (o, c) = run("PreToolUse", Status::TimedOut, "", "");
        assert_eq!(o, RunOutcome::TimedOut);
        assert!(c.decision.permission.is_none());
        assert!(c.decision.warnings[0].contains("timed out"));
        let (o, c) = interpret(
            &ev("PreToolUse"),
            &call(OnFailure::Block),
            &exit(Status::SpawnFailed("No such file".into()), "", ""),
        );
        assert_eq!(o, RunOutcome::Failed);
        assert_eq!(
            c.decision.permission.as_ref().map(|p| p.0),
            Some(Action::Deny)
        );
    }

    #[test]
    fn stop_blocks_respect_the_loop_guard() {
        let mut call = call(OnFailure::Continue);
        call.stop_blocks = 3;
        let (_, c) = interpret(&ev("Stop"), &call, &exit(Status::Exited(2), "", "again"));
        assert!(c.decision.blocks.is_empty());
        assert_eq!(c.decision.loop_guard.len(), 1);
        assert_eq!(c.effect, "loop-guard");
    }
}
