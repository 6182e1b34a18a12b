//! [`Action`]: what a rule does when it matches, which events can carry it, and the rank of
//! permission decisions.

use std::fmt;

use crate::events::{self, Block, Permission};
use crate::verdict::Verdict;

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Approve (skips Claude Code's permission prompt).
    Allow,
    /// Let a human decide.
    Ask,
    /// Defer the call (`-p`: ends the run with the call deferred).
    Defer,
    /// Refuse the call.
    Deny,
    /// Block the event (prompt, stop, compaction, …).
    Block,
    /// Add context for the model (or a user message where the event takes no context).
    Context,
    /// Show a warning to the user.
    Warn,
    /// Only record the match.
    Log,
    /// Run a command (the user's own hook script); see [`RunSpec`](super::RunSpec).
    Run,
    /// SessionStart: load the project's dotenv files into `CLAUDE_ENV_FILE` (`crate::envfile`).
    Env,
}

impl Action {
    /// The verdict an event gets when this action decides it.
    #[must_use]
    pub fn verdict(self) -> Verdict {
        match self {
            Self::Allow => Verdict::Allow,
            Self::Ask => Verdict::Ask,
            Self::Defer => Verdict::Defer,
            Self::Deny => Verdict::Deny,
            Self::Block => Verdict::Block,
            Self::Context => Verdict::Context,
            Self::Warn => Verdict::Warn,
            Self::Log | Self::Run | Self::Env => Verdict::Log,
        }
    }

    /// The action's name in rule files.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Defer => "defer",
            Self::Deny => "deny",
            Self::Block => "block",
            Self::Context => "context",
            Self::Warn => "warn",
            Self::Log => "log",
            Self::Run => "run",
            Self::Env => "env",
        }
    }

    /// Parses an action name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "allow" => Self::Allow,
            "ask" => Self::Ask,
            "defer" => Self::Defer,
            "deny" => Self::Deny,
            "block" => Self::Block,
            "context" => Self::Context,
            "warn" => Self::Warn,
            "log" => Self::Log,
            "run" => Self::Run,
            "env" => Self::Env,
            _ => return None,
        })
    }

    /// Whether `event` can express this action.
    #[must_use]
    pub(crate) fn supported_on(self, event: &events::EventSpec) -> bool {
        let perm = event.permission;
        match self {
            Self::Log | Self::Run => true,
            // Claude Code gives SessionStart hooks a `CLAUDE_ENV_FILE`.
            Self::Env => event.name == "SessionStart",
            Self::Context | Self::Warn => event.output,
            Self::Allow | Self::Deny => perm != Permission::None,
            Self::Ask => matches!(perm, Permission::Decision { ask: true, .. }),
            Self::Defer => matches!(perm, Permission::Decision { defer: true, .. }),
            Self::Block => event.block != Block::None,
        }
    }

    /// Why `event` cannot express this action, or `None` when it can.
    #[must_use]
    pub(crate) fn unsupported_on(self, event: &events::EventSpec) -> Option<String> {
        if self.supported_on(event) {
            return None;
        }
        let accepted: Vec<&str> = ALL_ACTIONS
            .into_iter()
            .filter(|a| a.supported_on(event))
            .map(Self::as_str)
            .collect();
        Some(format!(
            "{} cannot express `{}` (it accepts: {})",
            event.name,
            self.as_str(),
            accepted.join(", ")
        ))
    }
}

/// Every action, in documentation order.
pub(crate) const ALL_ACTIONS: [Action; 10] = [
    Action::Allow,
    Action::Deny,
    Action::Ask,
    Action::Defer,
    Action::Block,
    Action::Context,
    Action::Warn,
    Action::Log,
    Action::Run,
    Action::Env,
];

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rank of a permission decision: deny > defer > ask > allow.
#[must_use]
pub(crate) fn permission_rank(a: Action) -> u8 {
    match a {
        Action::Deny => 4,
        Action::Defer => 3,
        Action::Ask => 2,
        Action::Allow => 1,
        _ => 0,
    }
}
