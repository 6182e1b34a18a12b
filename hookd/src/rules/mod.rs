//! Rules: parse TOML, compile, evaluate an event into a [`Decision`].
//!
//! Pure: no I/O beyond reading the files handed to [`load`], no async, no store. The live
//! ruleset is an immutable [`Ruleset`], swapped whole on reload.

mod matcher;
mod parse;

use std::fmt;

use regex::Regex;

pub use matcher::Matcher;
pub use parse::{LoadReport, Source, load, parse_source};

use crate::event::HookEvent;
use crate::events::{self, Block, Permission};

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
}

impl Action {
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
            _ => return None,
        })
    }

    /// Whether `event` can express this action.
    #[must_use]
    pub fn supported_on(self, event: &events::EventSpec) -> bool {
        let perm = event.permission;
        match self {
            Self::Log => true,
            Self::Context | Self::Warn => event.output,
            Self::Allow | Self::Deny => perm != Permission::None,
            Self::Ask => matches!(perm, Permission::Decision { ask: true, .. }),
            Self::Defer => matches!(perm, Permission::Decision { defer: true, .. }),
            Self::Block => event.block != Block::None,
        }
    }

    /// Why `event` cannot express this action, or `None` when it can.
    #[must_use]
    pub fn unsupported_on(self, event: &events::EventSpec) -> Option<String> {
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
pub const ALL_ACTIONS: [Action; 8] = [
    Action::Allow,
    Action::Deny,
    Action::Ask,
    Action::Defer,
    Action::Block,
    Action::Context,
    Action::Warn,
    Action::Log,
];

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which events a rule applies to.
#[derive(Debug, Clone)]
pub enum EventFilter {
    /// Every event (`"*"`).
    All,
    /// Known events by index into [`events::EVENTS`], plus names of events this build does not
    /// know (accepted for `log` rules, so a rule can watch a future event).
    Some {
        /// Indexes of known events.
        known: Vec<usize>,
        /// Unknown event names.
        unknown: Vec<String>,
    },
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Where it was defined (file path or `pack:<name>`).
    pub source: String,
    /// Events it applies to.
    pub events: EventFilter,
    /// The `tool` condition.
    pub tool: Option<Matcher>,
    /// The `command` condition (v1: a regex searched in the whole Bash command).
    pub command: Option<Regex>,
    /// The `prompt` condition.
    pub prompt: Option<Regex>,
    /// What it does.
    pub action: Action,
    /// The reason shown with a decision.
    pub reason: Option<String>,
    /// The text added by `context` (and shown by `warn`).
    pub context: Option<String>,
}

impl Rule {
    fn applies_to(&self, event: &HookEvent) -> bool {
        match &self.events {
            EventFilter::All => true,
            EventFilter::Some { known, unknown } => match events::index(&event.name) {
                Some(i) => known.contains(&i),
                None => unknown.contains(&event.name),
            },
        }
    }

    /// Whether every condition holds for `event`; returns what matched, for the record.
    fn matches(&self, event: &HookEvent) -> Option<String> {
        let mut why = Vec::new();
        if let Some(m) = &self.tool {
            let tool = event.tool_name();
            if !m.matches(tool) {
                return None;
            }
            why.push(format!("tool {}", tool.unwrap_or("-")));
        }
        if let Some(re) = &self.command {
            let cmd = event.bash_command()?;
            let m = re.find(cmd)?;
            why.push(format!("command matched {:?}", excerpt(m.as_str())));
        }
        if let Some(re) = &self.prompt {
            let p = event.prompt()?;
            let m = re.find(p)?;
            why.push(format!("prompt matched {:?}", excerpt(m.as_str())));
        }
        if why.is_empty() {
            why.push(format!("event {}", event.name));
        }
        Some(why.join(", "))
    }

    /// The reason to show, with a default naming the rule.
    #[must_use]
    pub fn reason_text(&self) -> String {
        self.reason
            .clone()
            .unwrap_or_else(|| format!("Blocked by hookd rule `{}`", self.name))
    }
}

fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A compiled, immutable set of rules.
#[derive(Debug, Default)]
pub struct Ruleset {
    /// Rules in priority order (file order: packs, then hookd.toml, then rules.d by name).
    pub rules: Vec<Rule>,
    /// The files it was loaded from.
    pub sources: Vec<String>,
    /// For each known event, the indexes of rules that may apply.
    by_event: Vec<Vec<usize>>,
    /// Rules that apply to unknown events (`"*"` or named unknown events).
    for_unknown: Vec<usize>,
}

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
}

impl Decision {
    /// The verdict's one-word summary for the store (`deny`, `block`, `context`, `none`…).
    #[must_use]
    pub fn verdict(&self) -> &'static str {
        if let Some((a, _)) = &self.permission {
            return a.as_str();
        }
        if !self.blocks.is_empty() {
            return "block";
        }
        if !self.contexts.is_empty() {
            return "context";
        }
        if !self.warnings.is_empty() {
            return "warn";
        }
        if self.matched.is_empty() {
            "none"
        } else {
            "log"
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

fn permission_rank(a: Action) -> u8 {
    match a {
        Action::Deny => 4,
        Action::Defer => 3,
        Action::Ask => 2,
        Action::Allow => 1,
        _ => 0,
    }
}

impl Ruleset {
    /// Builds a ruleset from compiled rules (in priority order).
    #[must_use]
    pub fn new(rules: Vec<Rule>, sources: Vec<String>) -> Self {
        let mut by_event = vec![Vec::new(); events::EVENTS.len()];
        let mut for_unknown = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match &r.events {
                EventFilter::All => {
                    by_event.iter_mut().for_each(|v| v.push(i));
                    for_unknown.push(i);
                }
                EventFilter::Some { known, unknown } => {
                    for &k in known {
                        by_event[k].push(i);
                    }
                    if !unknown.is_empty() {
                        for_unknown.push(i);
                    }
                }
            }
        }
        Self {
            rules,
            sources,
            by_event,
            for_unknown,
        }
    }

    /// Evaluates `event` against every rule and combines the matches.
    #[must_use]
    pub fn evaluate(&self, event: &HookEvent) -> Decision {
        let candidates = match events::index(&event.name) {
            Some(i) => &self.by_event[i],
            None => &self.for_unknown,
        };
        let mut d = Decision::default();
        let perm_kind = event.spec.map_or(Permission::None, |s| s.permission);
        for &i in candidates {
            let rule = &self.rules[i];
            if !rule.applies_to(event) {
                continue;
            }
            let Some(why) = rule.matches(event) else {
                continue;
            };
            let mut action = rule.action;
            // `block` on an event that blocks through its permission decision is a deny.
            if action == Action::Block && perm_kind != Permission::None {
                action = Action::Deny;
            }
            match action {
                Action::Allow | Action::Ask | Action::Defer | Action::Deny => {
                    let reason = rule.reason_text();
                    match &mut d.permission {
                        Some((cur, reasons))
                            if permission_rank(*cur) == permission_rank(action) =>
                        {
                            reasons.push(reason);
                        }
                        Some((cur, _)) if permission_rank(*cur) > permission_rank(action) => {}
                        slot => *slot = Some((action, vec![reason])),
                    }
                }
                Action::Block => d.blocks.push(rule.reason_text()),
                Action::Context => {
                    if let Some(c) = rule.context.clone().or_else(|| rule.reason.clone()) {
                        d.contexts.push(c);
                    }
                }
                Action::Warn => {
                    if let Some(c) = rule.reason.clone().or_else(|| rule.context.clone()) {
                        d.warnings.push(c);
                    }
                }
                Action::Log => {}
            }
            d.matched.push(Matched {
                rule: rule.name.clone(),
                action,
                why,
            });
        }
        d
    }
}

#[cfg(test)]
mod tests;
