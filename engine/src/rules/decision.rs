//! [`Decision`]: what the rules decided for one event (permission, blocks, contexts, runs…),
//! its one-word verdict, and the merge of a project's decision into the user's.

use std::sync::Arc;

use super::{Action, RunSpec, permission_rank};
use crate::verdict::Verdict;

/// One rule that matched, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The rule's name.
    pub rule: String,
    /// Its action.
    pub action: Action,
    /// What matched.
    pub why: String,
}

/// A `run` rule that matched: what to execute once the rules are evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCall {
    /// The rule's name.
    pub rule: String,
    /// What to run.
    pub spec: Arc<RunSpec>,
    /// Stop/SubagentStop: consecutive blocks so far (the loop guard's count).
    pub stop_blocks: u32,
    /// Most consecutive Stop/SubagentStop blocks the rule may cause.
    pub max_blocks: u32,
}

/// An `env` rule that matched: dotenv files to load into `CLAUDE_ENV_FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCall {
    /// The rule's name.
    pub rule: String,
    /// The files, relative to the project, in order (a later one overrides an earlier one).
    pub files: Arc<[String]>,
}

/// The combined outcome of every matching rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The winning permission decision (deny > defer > ask > allow) and its reasons.
    pub permission: Option<(Action, Vec<String>)>,
    /// Reasons of `block` rules.
    pub blocks: Vec<String>,
    /// Contexts, in rule order.
    pub contexts: Vec<String>,
    /// Warnings, in rule order.
    pub warnings: Vec<String>,
    /// Every matching rule.
    pub matched: Vec<Matched>,
    /// Blocks the loop guard let through (one message per rule).
    pub loop_guard: Vec<String>,
    /// Rules whose non-session conditions held (rate-limit attempts).
    pub attempts: Vec<String>,
    /// `run` rules that matched, in rule order (executed by `crate::run`).
    pub runs: Vec<RunCall>,
    /// `env` rules that matched, in rule order (carried out by `crate::envfile`).
    pub envs: Vec<EnvCall>,
    /// Top-level output keys passed through from a run's JSON (`continue`, `stopReason`,
    /// `suppressOutput`…); the first run to set a key wins.
    pub output: serde_json::Map<String, serde_json::Value>,
    /// `hookSpecificOutput` keys passed through from a run's JSON (`updatedInput`,
    /// `sessionTitle`, `watchPaths`…); the first run to set a key wins.
    pub specific: serde_json::Map<String, serde_json::Value>,
    /// A permission decision rests on what hookd could not check (a stateful rule failing
    /// closed, or the fail mode with no good rules): allow-once never lifts it.
    pub fail_closed: bool,
    /// What is recorded as the event's reason when it has no verdict reason: that an
    /// allow-once grant lifted the rules' deny or ask, or what `env` rules loaded (names and
    /// count, never values).
    pub note: Option<String>,
}

impl Decision {
    /// The verdict's one-word summary for the store (`deny`, `block`, `context`, `none`…).
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        if let Some((a, _)) = &self.permission {
            return a.verdict();
        }
        if !self.blocks.is_empty() {
            Verdict::Block
        } else if !self.contexts.is_empty() {
            Verdict::Context
        } else if !self.loop_guard.is_empty() {
            Verdict::LoopGuard
        } else if !self.warnings.is_empty() {
            Verdict::Warn
        } else if self.matched.is_empty() {
            Verdict::None
        } else {
            Verdict::Log
        }
    }

    /// Adds the decision of a lower-priority ruleset (a project's), with the same precedence.
    pub fn merge(&mut self, other: Decision) {
        if let Some((action, reasons)) = other.permission {
            match &mut self.permission {
                Some((cur, rs)) if permission_rank(*cur) == permission_rank(action) => {
                    rs.extend(reasons);
                }
                Some((cur, _)) if permission_rank(*cur) > permission_rank(action) => {}
                slot => *slot = Some((action, reasons)),
            }
        }
        self.blocks.extend(other.blocks);
        self.contexts.extend(other.contexts);
        self.warnings.extend(other.warnings);
        self.matched.extend(other.matched);
        self.loop_guard.extend(other.loop_guard);
        self.attempts.extend(other.attempts);
        self.runs.extend(other.runs);
        self.envs.extend(other.envs);
        self.fail_closed |= other.fail_closed;
        for (k, v) in other.output {
            self.output.entry(k).or_insert(v);
        }
        for (k, v) in other.specific {
            self.specific.entry(k).or_insert(v);
        }
    }

    /// The reason shown with the verdict, if any.
    #[must_use]
    pub fn reason(&self) -> Option<String> {
        if let Some((_, reasons)) = &self.permission
            && !reasons.is_empty()
        {
            return Some(reasons.join("\n"));
        }
        (!self.blocks.is_empty()).then(|| self.blocks.join("\n"))
    }
}
