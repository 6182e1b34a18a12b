//! The catalogue of Claude Code hook events (2.1.332) and what each one can express.
//!
//! One table drives rule validation (which actions an event accepts) and rendering (which
//! output form carries a decision), so the two can never disagree. docs/claude-code-hooks.md describes the format; a test keeps its
//! events table equal to this catalogue.

/// How an event expresses a permission decision, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// No permission decision.
    None,
    /// `hookSpecificOutput.permissionDecision`: allow, deny, ask (and defer when `defer`).
    Decision {
        /// Whether `ask` is accepted.
        ask: bool,
        /// Whether `defer` is accepted.
        defer: bool,
    },
    /// PermissionRequest's `hookSpecificOutput.decision.behavior`: allow or deny.
    Behavior,
}

/// How an event expresses a block, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// The event cannot be blocked.
    None,
    /// Top-level `{"decision":"block","reason":…}` (verified on the real CLI).
    Json,
    /// Exit code 2 with the reason on stderr.
    Exit2,
    /// Blocked through the permission decision (`deny`).
    Permission,
}

/// What one event accepts.
#[derive(Debug, Clone, Copy)]
pub struct EventSpec {
    /// The event name, as in `hook_event_name`.
    pub name: &'static str,
    /// Permission decisions.
    pub permission: Permission,
    /// Blocking.
    pub block: Block,
    /// Whether `hookSpecificOutput.additionalContext` is accepted (else contexts become a
    /// `systemMessage`).
    pub context: bool,
    /// Whether Claude Code reads the hook's output at all.
    pub output: bool,
    /// The input field Claude Code's matcher applies to, if any.
    pub match_field: Option<&'static str>,
}

const fn spec(
    name: &'static str,
    permission: Permission,
    block: Block,
    context: bool,
    match_field: Option<&'static str>,
) -> EventSpec {
    EventSpec {
        name,
        permission,
        block,
        context,
        output: true,
        match_field,
    }
}

const NONE: Permission = Permission::None;
const FULL: Permission = Permission::Decision {
    ask: true,
    defer: true,
};

/// Every event of Claude Code 2.1.332, in `HOOK_EVENTS` order.
pub const EVENTS: [EventSpec; 34] = [
    spec(
        "PreToolUse",
        FULL,
        Block::Permission,
        true,
        Some("tool_name"),
    ),
    spec("PostToolUse", NONE, Block::Json, true, Some("tool_name")),
    spec(
        "PostToolUseFailure",
        NONE,
        Block::Exit2,
        true,
        Some("tool_name"),
    ),
    spec("PostToolBatch", NONE, Block::Exit2, true, None),
    spec(
        "Notification",
        NONE,
        Block::None,
        true,
        Some("notification_type"),
    ),
    spec("UserPromptSubmit", NONE, Block::Json, true, None),
    spec(
        "UserPromptExpansion",
        NONE,
        Block::Exit2,
        true,
        Some("command_name"),
    ),
    spec("SessionStart", NONE, Block::None, true, Some("source")),
    spec("SessionEnd", NONE, Block::None, false, Some("reason")),
    spec("Stop", NONE, Block::Json, true, None),
    EventSpec {
        output: false,
        ..spec("StopFailure", NONE, Block::None, false, Some("error"))
    },
    spec("SubagentStart", NONE, Block::None, true, Some("agent_type")),
    spec("SubagentStop", NONE, Block::Json, true, Some("agent_type")),
    spec("PreCompact", NONE, Block::Exit2, false, Some("trigger")),
    spec("PostCompact", NONE, Block::None, false, Some("trigger")),
    spec(
        "PreModelSwitch",
        Permission::Decision {
            ask: true,
            defer: false,
        },
        Block::Permission,
        false,
        Some("to_model"),
    ),
    spec("PostModelSwitch", NONE, Block::None, true, Some("to_model")),
    spec(
        "PermissionRequest",
        Permission::Behavior,
        Block::Permission,
        false,
        Some("tool_name"),
    ),
    spec(
        "PermissionDenied",
        NONE,
        Block::None,
        false,
        Some("tool_name"),
    ),
    spec("Setup", NONE, Block::None, true, Some("trigger")),
    spec("TeammateIdle", NONE, Block::Exit2, false, None),
    spec("TaskCreated", NONE, Block::Exit2, false, None),
    spec("TaskCompleted", NONE, Block::Exit2, false, None),
    spec(
        "Elicitation",
        NONE,
        Block::Exit2,
        false,
        Some("mcp_server_name"),
    ),
    spec(
        "ElicitationResult",
        NONE,
        Block::Exit2,
        false,
        Some("mcp_server_name"),
    ),
    spec("ConfigChange", NONE, Block::Exit2, false, Some("source")),
    spec("WorktreeCreate", NONE, Block::Exit2, false, None),
    spec("WorktreeRemove", NONE, Block::None, false, None),
    spec(
        "InstructionsLoaded",
        NONE,
        Block::None,
        false,
        Some("load_reason"),
    ),
    spec("CwdChanged", NONE, Block::None, false, None),
    spec("FileChanged", NONE, Block::None, false, Some("file_path")),
    spec("DirectoryAdded", NONE, Block::None, false, Some("source")),
    spec("MessageDisplay", NONE, Block::None, false, None),
    // 2.1.332: before each shell command embedded in a skill or slash command. Its
    // hookSpecificOutput takes no additionalContext; deny, ask and defer all keep the command
    // from running.
    spec(
        "PreSkillShellCommand",
        FULL,
        Block::Permission,
        false,
        Some("tool_name"),
    ),
];

/// Whether `name` is a Stop-like event: the end of a turn (Stop) or of a subagent's
/// (SubagentStop). Blocking one keeps the agent going; both carry `stop_hook_active` and share
/// the loop guard, and Claude Code may send them twice.
#[must_use]
pub fn is_stop_like(name: &str) -> bool {
    matches!(name, "Stop" | "SubagentStop")
}

/// The index of `name` in [`EVENTS`].
#[must_use]
pub fn index(name: &str) -> Option<usize> {
    EVENTS.iter().position(|e| e.name == name)
}

/// The spec of `name`, if it is a known event.
#[must_use]
pub fn lookup(name: &str) -> Option<&'static EventSpec> {
    index(name).map(|i| &EVENTS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events table of docs/claude-code-hooks.md, rendered from this catalogue.
    fn table_row(e: &EventSpec) -> String {
        let permission = match e.permission {
            Permission::None => "–".to_string(),
            Permission::Behavior => "behavior".to_string(),
            Permission::Decision { ask, defer } => {
                let mut s = "decision".to_string();
                if ask {
                    s.push_str(", ask");
                }
                if defer {
                    s.push_str(", defer");
                }
                s
            }
        };
        let block = match e.block {
            Block::None => "–",
            Block::Json => "json",
            Block::Exit2 => "exit2",
            Block::Permission => "permission",
        };
        let yes = |b: bool| if b { "yes" } else { "no" };
        format!(
            "| {} | {permission} | {block} | {} | {} | {} |",
            e.name,
            yes(e.context),
            yes(e.output),
            e.match_field.unwrap_or("–")
        )
    }

    #[test]
    fn the_documented_events_table_is_this_catalogue() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/claude-code-hooks.md"),
        )
        .unwrap();
        let start = doc.find("<!-- events-table").unwrap();
        let end = doc.find("<!-- /events-table -->").unwrap();
        let rows: Vec<&str> = doc[start..end]
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| event ") && !l.starts_with("|---"))
            .collect();
        let want: Vec<String> = EVENTS.iter().map(table_row).collect();
        assert_eq!(
            rows, want,
            "docs/claude-code-hooks.md's table and the catalogue differ"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = EVENTS.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 34);
    }
}
