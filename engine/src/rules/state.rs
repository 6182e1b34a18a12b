//! Stateful conditions (`[rule.session]`): what a rule can ask of the session's history.
//!
//! ```toml
//! [rule.session]
//! read_before_edit = true                                   # Edit/Write of an existing file not read
//! edited_since = { path = ["**/*.rs"], command = '^cargo\s+test\b' }   # the stop gate
//! rate = { max = 20, window = "10m", of = "tool" }          # or of = "rule"
//! counters = { denials = ">= 3", turn_tool_calls = "> 40" }
//! once = "session"                                          # or "project-day"
//! ```
//!
//! Pure: reads the [`Session`] and, for `read_before_edit`, whether the file exists.

use std::path::Path;

use globset::GlobSet;

use super::cond::{Ctx, PathGlobs};
use crate::paths::normalize;
use crate::session::Session;

/// Session counters a rule can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Tool calls requested in the session.
    ToolCalls,
    /// deny and ask verdicts given in the session.
    Denials,
    /// Files edited or written in the session.
    Edits,
    /// Prompts submitted.
    Prompts,
    /// Tool calls in the current turn.
    TurnToolCalls,
    /// Edits in the current turn.
    TurnEdits,
    /// Consecutive Stop blocks.
    StopBlocks,
    /// Events seen.
    Events,
    /// Subagents started.
    Subagents,
}

impl Counter {
    /// Every counter name, for error messages.
    pub(crate) const NAMES: &'static str = "tool_calls, denials, edits, prompts, turn_tool_calls, turn_edits, stop_blocks, events, subagents";

    /// Parses a counter name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "tool_calls" => Self::ToolCalls,
            "denials" => Self::Denials,
            "edits" => Self::Edits,
            "prompts" => Self::Prompts,
            "turn_tool_calls" => Self::TurnToolCalls,
            "turn_edits" => Self::TurnEdits,
            "stop_blocks" => Self::StopBlocks,
            "events" => Self::Events,
            "subagents" => Self::Subagents,
            _ => return None,
        })
    }

    fn value(self, s: &Session) -> i64 {
        let v = match self {
            Self::ToolCalls => s.total_tool_calls(),
            Self::Denials => s.denials,
            Self::Edits => s.files_edited.len() as u64,
            Self::Prompts => s.prompts,
            Self::TurnToolCalls => s.turn.tool_calls,
            Self::TurnEdits => s.turn.edits,
            Self::StopBlocks => u64::from(s.stop_blocks),
            Self::Events => s.events,
            Self::Subagents => s.subagents_started,
        };
        i64::try_from(v).unwrap_or(i64::MAX)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
}

impl Op {
    /// Parses `">= 3"` into an operator and a value.
    #[must_use]
    pub(crate) fn parse_comparison(s: &str) -> Option<(Self, i64)> {
        let s = s.trim();
        let (op, rest) = [
            (">=", Self::Ge),
            ("<=", Self::Le),
            ("==", Self::Eq),
            (">", Self::Gt),
            ("<", Self::Lt),
            ("=", Self::Eq),
        ]
        .iter()
        .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r)))?;
        Some((op, rest.trim().parse().ok()?))
    }

    fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Self::Gt => a > b,
            Self::Ge => a >= b,
            Self::Lt => a < b,
            Self::Le => a <= b,
            Self::Eq => a == b,
        }
    }
}

/// What a `rate` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateOf {
    /// Calls of this event's tool in the session.
    Tool,
    /// Times this rule's other conditions held.
    Rule,
}

/// How often a rule may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    /// At most once per session.
    Session,
    /// At most once per project per UTC day (across sessions).
    ProjectDay,
}

/// Compiled `[rule.session]` conditions.
#[derive(Debug, Clone, Default)]
pub struct SessionCond {
    /// `read_before_edit = true`.
    pub read_before_edit: bool,
    /// `edited_since = { path, command }`.
    pub edited_since: Option<(PathGlobs, super::CommandRegex)>,
    /// `rate = { max, window, of }`: (max, window in ms, what).
    pub(crate) rate: Option<(u64, i64, RateOf)>,
    /// `counters = { name = "op value" }`.
    pub(crate) counters: Vec<(Counter, Op, i64)>,
    /// `once`.
    pub once: Option<Once>,
}

/// Remembers `once = "project-day"` matches across sessions (implemented by the daemon).
pub trait OnceMemory {
    /// Whether `rule` matched for `project` on UTC day `day` already.
    fn matched_on(&self, rule: &str, project: &str, day: i64) -> bool;
}

/// The UTC day number of `ms`.
#[must_use]
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

fn glob_hit(g: &PathGlobs, path: &Path, project: Option<&str>, home: Option<&str>) -> bool {
    let under = |base: Option<&str>, set: &GlobSet| {
        !set.is_empty()
            && base.is_some_and(|b| {
                path.strip_prefix(normalize(Path::new(b)))
                    .is_ok_and(|r| set.is_match(r))
            })
    };
    g.absolute.is_match(path) || under(project, &g.relative) || under(home, &g.home)
}

impl SessionCond {
    /// Whether any session condition is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.read_before_edit
            && self.edited_since.is_none()
            && self.rate.is_none()
            && self.counters.is_empty()
            && self.once.is_none()
    }

    /// Whether the conditions hold for `rule` now ([`Check`]), with what held, for the record.
    ///
    /// A condition that needs what the event did not give (a session: no usable `session_id`;
    /// a project, for `once = "project-day"`) cannot be checked: [`Check::Unknown`], unless
    /// another condition already fails. The rule decides what that means ([`super::Rule`]): it
    /// never silently passes.
    pub fn check(&self, rule: &str, cx: &Ctx<'_>) -> Check {
        let mut why = Vec::new();
        let mut unknown: Vec<&'static str> = Vec::new();
        let mut no_project = false;
        let session = cx.session;
        if self.read_before_edit {
            if !matches!(
                cx.event.tool_name(),
                Some("Edit" | "Write" | "MultiEdit" | "NotebookEdit")
            ) {
                return Check::Fails;
            }
            let unread = cx
                .targets()
                .iter()
                .find(|t| t.abs.exists() && session.is_none_or(|s| !s.has_read(&t.abs)));
            let Some(unread) = unread else {
                return Check::Fails;
            };
            if session.is_some() {
                why.push(format!(
                    "{} was not read in this session",
                    unread.abs.display()
                ));
            } else {
                unknown.push("read_before_edit");
            }
        }
        if let Some((globs, re)) = &self.edited_since {
            if let Some(s) = session {
                let last_ok = s
                    .commands
                    .iter()
                    .rev()
                    .find(|c| {
                        c.ok && crate::shell::analyze(&c.command)
                            .commands
                            .iter()
                            .any(|sc| re.is_match(&sc.text()))
                    })
                    .map(|c| c.time_ms);
                let Some(edited) = s
                    .files_edited
                    .iter()
                    .filter(|(p, t)| {
                        last_ok.is_none_or(|ok| t.time_ms > ok)
                            && glob_hit(globs, p, cx.project, cx.home)
                    })
                    .max_by_key(|(_, t)| t.time_ms)
                else {
                    return Check::Fails;
                };
                why.push(match last_ok {
                    Some(_) => format!(
                        "{} edited after the last successful matching command",
                        edited.0.display()
                    ),
                    None => format!(
                        "{} edited and no matching command has run",
                        edited.0.display()
                    ),
                });
            } else {
                unknown.push("edited_since");
            }
        }
        if let Some((max, window, of)) = self.rate {
            let tool = cx.event.tool_name();
            if of == RateOf::Tool && tool.is_none() {
                return Check::Fails;
            }
            if let Some(s) = session {
                let since = cx.now_ms - window;
                let (n, what) = match (of, tool) {
                    (RateOf::Tool, Some(tool)) => (
                        s.tool_fires_since(tool, since) as u64,
                        format!("{tool} calls"),
                    ),
                    // The current attempt is recorded after evaluation: count it here.
                    _ => (
                        s.fires_since(&format!("attempt:{rule}"), since) as u64 + 1,
                        "matches".to_string(),
                    ),
                };
                if n <= max {
                    return Check::Fails;
                }
                why.push(format!(
                    "{n} {what} within {} s (limit {max})",
                    window / 1000
                ));
            } else {
                unknown.push("rate");
            }
        }
        for (counter, op, value) in &self.counters {
            if let Some(s) = session {
                let v = counter.value(s);
                if !op.holds(v, *value) {
                    return Check::Fails;
                }
                why.push(format!("{counter:?} = {v}"));
            } else if !unknown.contains(&"counters") {
                unknown.push("counters");
            }
        }
        match self.once {
            Some(Once::Session) => match session {
                Some(s) if s.has_fired(rule) => return Check::Fails,
                Some(_) => why.push("first time in this session".into()),
                None => unknown.push("once = \"session\""),
            },
            Some(Once::ProjectDay) => match cx.project {
                Some(project) => {
                    if cx
                        .once_memory
                        .is_some_and(|m| m.matched_on(rule, project, day_of(cx.now_ms)))
                    {
                        return Check::Fails;
                    }
                    why.push("first time today in this project".into());
                }
                None => {
                    no_project = true;
                    unknown.push("once = \"project-day\"");
                }
            },
            None => {}
        }
        if unknown.is_empty() {
            return Check::Holds(why);
        }
        let mut missing = Vec::new();
        if session.is_none() && unknown.len() > usize::from(no_project) {
            missing.push(cx.event.session_id_problem());
        }
        if no_project {
            missing.push("the event has no project directory");
        }
        Check::Unknown {
            held: why,
            missing: missing.join(", and "),
            conditions: unknown,
        }
    }
}

/// The outcome of [`SessionCond::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Every condition holds; what held, for the record.
    Holds(Vec<String>),
    /// Some condition does not hold.
    Fails,
    /// No condition fails, but some cannot be checked: the event lacks what they need.
    Unknown {
        /// What held of the conditions that could be checked.
        held: Vec<String>,
        /// What the event lacks ("the event's session_id is a number").
        missing: String,
        /// The conditions that could not be checked (`read_before_edit`, `rate` …).
        conditions: Vec<&'static str>,
    },
}

/// Parses a rule's duration (`rate.window`, a run's `timeout`) in the one grammar of
/// [`hook_protocol::duration`] (`30s`, `10m`, `1m30s`, `0.5s`; a bare number is seconds) into
/// whole milliseconds, rounded up. `None` when it does not parse or is zero.
#[must_use]
pub(crate) fn parse_duration_ms(s: &str) -> Option<i64> {
    hook_protocol::duration::parse(s).ok().and_then(duration_ms)
}

/// `d` in whole milliseconds, rounded up; `None` for zero or a duration past `i64`
/// milliseconds.
#[must_use]
pub fn duration_ms(d: std::time::Duration) -> Option<i64> {
    if d.is_zero() {
        return None;
    }
    i64::try_from(d.as_nanos().div_ceil(1_000_000)).ok()
}
