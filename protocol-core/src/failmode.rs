//! What to answer when hookd cannot: the per-event fail mode.
//!
//! Shared by hook-client (daemon unreachable, version mismatch, oversized event) and hookd
//! (malformed event JSON), so both answer the same way. Nothing here parses JSON: the event
//! name is found by a bounded scan for the `hook_event_name` key.
//!
//! A specification is a comma list of `MODE` or `Event=MODE` items, e.g.
//! `PreToolUse=deny,Stop=pass`; a bare `MODE` sets the default for events not named.
//! Without one, guard events (PreToolUse, PermissionRequest, PreSkillShellCommand) answer
//! `ask` and every other event passes.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What hook-client prints and exits with: `hook-protocol`'s `HookReply` without serde.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// The process exit code.
    pub exit_code: i32,
    /// Bytes for stdout (JSON for Claude Code, or empty).
    pub stdout: Vec<u8>,
    /// Bytes for stderr.
    pub stderr: Vec<u8>,
}

/// How an event is answered when hookd cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Exit 0 with empty stdout: Claude Code goes ahead as if there were no hook.
    Pass,
    /// Let a human decide: PreToolUse answers `ask`; PermissionRequest shows its prompt;
    /// PreSkillShellCommand answers `ask`, which keeps the command from running (a skill cannot
    /// wait for a human).
    /// On other events this is the same as [`FailMode::Pass`].
    Ask,
    /// Fail closed: deny guard events, block (exit 2) events that can block.
    Deny,
}

impl FailMode {
    /// The mode's name as written in a specification.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "pass" | "allow" | "continue" => Some(Self::Pass),
            "ask" => Some(Self::Ask),
            "deny" | "block" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// The default mode of `event` when no specification names it.
#[must_use]
pub fn default_mode(event: &str) -> FailMode {
    match event {
        "PreToolUse" | "PermissionRequest" | "PreSkillShellCommand" => FailMode::Ask,
        _ => FailMode::Pass,
    }
}

/// Checks a specification and returns a description of the first problem.
///
/// # Errors
///
/// A message naming the bad item.
pub fn validate_spec(spec: &str) -> Result<(), String> {
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mode = item.split_once('=').map_or(item, |(_, m)| m);
        if FailMode::parse(mode).is_none() {
            return Err(format!(
                "bad fail mode {item:?}: expected pass, ask or deny (optionally Event=mode)"
            ));
        }
    }
    Ok(())
}

/// The mode for `event` under `spec` (items for the event win over a bare default).
#[must_use]
pub fn mode_for(event: &str, spec: Option<&str>) -> FailMode {
    let mut default = None;
    for item in spec
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match item.split_once('=') {
            Some((ev, m)) if ev.trim() == event => {
                if let Some(mode) = FailMode::parse(m) {
                    return mode;
                }
            }
            Some(("*", m)) if default.is_none() => default = FailMode::parse(m),
            None if default.is_none() => default = FailMode::parse(item),
            _ => {}
        }
    }
    default.unwrap_or_else(|| default_mode(event))
}

/// Finds the value of the `"hook_event_name"` key in raw event bytes without parsing JSON.
///
/// Returns `None` when the key is absent or its value is not a plain string.
#[must_use]
pub fn scan_event_name(bytes: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"hook_event_name\"";
    // Compared only where a quote starts (a few dozen places in an event), not at every byte.
    let at = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'"')
        .map(|(i, _)| i)
        .find(|&i| bytes[i..].starts_with(KEY))?;
    let mut rest = &bytes[at + KEY.len()..];
    rest = rest.trim_ascii_start();
    rest = rest.strip_prefix(b":")?.trim_ascii_start();
    rest = rest.strip_prefix(b"\"")?;
    let end = rest
        .iter()
        .take(128)
        .position(|&b| b == b'"' || b == b'\\')?;
    if rest[end] != b'"' {
        return None;
    }
    core::str::from_utf8(&rest[..end])
        .ok()
        .filter(|s| !s.is_empty())
}

/// Appends `s` to `out` as a JSON string literal (quotes included).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use core::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Builds the reply for `event` answered by `mode`; `why` says what went wrong.
///
/// The reply's stderr always carries one line saying why; `spooled` (where the event was
/// kept) is added to it when given.
#[must_use]
pub fn fallback_reply(event: &str, mode: FailMode, why: &str, spooled: Option<&str>) -> Reply {
    let mut stderr = format!(
        "hook-client: {why}; {event} answered '{}' (fail mode)",
        mode.as_str()
    );
    if let Some(path) = spooled {
        stderr.push_str("; event spooled to ");
        stderr.push_str(path);
    }
    stderr.push('\n');
    let mut reply = Reply {
        exit_code: 0,
        stdout: Vec::new(),
        stderr: stderr.into_bytes(),
    };
    let mut out = String::new();
    match (mode, event) {
        (FailMode::Pass, _) => {}
        (FailMode::Ask, "PreToolUse") => {
            out.push_str(
                r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"ask","permissionDecisionReason":"#,
            );
            push_json_string(&mut out, &format!("{why}; a human decides"));
            out.push_str("}}");
        }
        // Claude Code cannot ask about a skill's shell command: `ask` keeps it from running.
        (FailMode::Ask, "PreSkillShellCommand") => {
            out.push_str(
                r#"{"hookSpecificOutput":{"hookEventName":"PreSkillShellCommand","permissionDecision":"ask","permissionDecisionReason":"#,
            );
            push_json_string(&mut out, &format!("{why}; the command was not run"));
            out.push_str("}}");
        }
        (FailMode::Ask, "PermissionRequest") => {
            // No decision: Claude Code shows its own permission prompt.
            out.push_str(r#"{"systemMessage":"#);
            push_json_string(&mut out, &format!("{why}; asking you instead"));
            out.push('}');
        }
        (FailMode::Ask, _) => {}
        (FailMode::Deny, "PreToolUse") => {
            out.push_str(
                r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"#,
            );
            push_json_string(&mut out, why);
            out.push_str("}}");
        }
        (FailMode::Deny, "PreSkillShellCommand") => {
            out.push_str(
                r#"{"hookSpecificOutput":{"hookEventName":"PreSkillShellCommand","permissionDecision":"deny","permissionDecisionReason":"#,
            );
            push_json_string(&mut out, why);
            out.push_str("}}");
        }
        (FailMode::Deny, "PermissionRequest") => {
            out.push_str(
                r#"{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"#,
            );
            push_json_string(&mut out, why);
            out.push_str("}}}");
        }
        (FailMode::Deny, _) => {
            reply.exit_code = 2;
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    reply.stdout = out.into_bytes();
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_events_default_to_ask_and_others_pass() {
        assert_eq!(mode_for("PreToolUse", None), FailMode::Ask);
        assert_eq!(mode_for("PermissionRequest", None), FailMode::Ask);
        assert_eq!(mode_for("Stop", None), FailMode::Pass);
        assert_eq!(mode_for("Whatever", Some("")), FailMode::Pass);
    }

    #[test]
    fn spec_items_for_the_event_win_over_the_bare_default() {
        let spec = Some("pass,PreToolUse=deny");
        assert_eq!(mode_for("PreToolUse", spec), FailMode::Deny);
        assert_eq!(mode_for("PermissionRequest", spec), FailMode::Pass);
        assert_eq!(mode_for("Stop", Some("*=deny")), FailMode::Deny);
        assert_eq!(mode_for("Stop", Some("deny")), FailMode::Deny);
        assert!(validate_spec("PreToolUse=deny, ask").is_ok());
        assert!(validate_spec("PreToolUse=maybe").is_err());
    }

    #[test]
    fn scan_finds_the_event_name_without_parsing() {
        let ev = br#"{"session_id":"s","hook_event_name" : "PreToolUse","tool_name":"Bash"}"#;
        assert_eq!(scan_event_name(ev), Some("PreToolUse"));
        assert_eq!(scan_event_name(b"{\"hook_event_name\":3}"), None);
        assert_eq!(scan_event_name(b"not json"), None);
        assert_eq!(scan_event_name(b"{\"hook_event_name\":\"Sto"), None);
    }

    #[test]
    fn ask_on_pre_tool_use_is_a_json_ask_with_the_reason() {
        let r = fallback_reply(
            "PreToolUse",
            FailMode::Ask,
            "connect: \"refused\"",
            Some("/s"),
        );
        let out = String::from_utf8(r.stdout).unwrap();
        assert!(
            out.starts_with(
                r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"ask""#
            ),
            "{out}"
        );
        assert!(out.contains(r#"connect: \"refused\""#), "{out}");
        assert_eq!(r.exit_code, 0);
        let err = String::from_utf8(r.stderr).unwrap();
        assert!(
            err.ends_with("event spooled to /s\n") && err.lines().count() == 1,
            "{err}"
        );
    }

    #[test]
    fn deny_blocks_with_exit_two_on_blockable_events_and_pass_prints_nothing() {
        assert_eq!(
            fallback_reply("Stop", FailMode::Deny, "x", None).exit_code,
            2
        );
        let pass = fallback_reply("Stop", FailMode::Pass, "x", None);
        assert!(pass.stdout.is_empty() && pass.exit_code == 0);
        let pr = fallback_reply("PermissionRequest", FailMode::Deny, "x", None);
        assert!(
            String::from_utf8(pr.stdout)
                .unwrap()
                .contains(r#""behavior":"deny""#)
        );
    }

    #[test]
    fn json_strings_escape_controls() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\nd\u{1}");
        assert_eq!(s, r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn skill_shell_commands_fail_closed_by_default() {
        assert_eq!(mode_for("PreSkillShellCommand", None), FailMode::Ask);
        for (mode, word) in [(FailMode::Ask, "ask"), (FailMode::Deny, "deny")] {
            let r = fallback_reply("PreSkillShellCommand", mode, "hookd is down", None);
            let out = String::from_utf8(r.stdout).unwrap();
            assert_eq!(r.exit_code, 0, "{out}");
            assert!(
                out.starts_with(&format!(
                    r#"{{"hookSpecificOutput":{{"hookEventName":"PreSkillShellCommand","permissionDecision":"{word}""#
                )),
                "{out}"
            );
        }
    }
}
