//! Rules: parse TOML, compile, evaluate an event into a [`Decision`].
//!
//! Pure: no I/O beyond reading the files handed to [`load`], no async, no store. The live
//! ruleset is an immutable [`Ruleset`], swapped whole on reload.

mod cmdregex;
pub mod cond;
mod matcher;
pub mod outputs;
mod parse;
pub mod runspec;
pub mod state;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::{RegexSet, RegexSetBuilder};

pub use cmdregex::CommandRegex;

pub use cond::{Conditions, Ctx, Facts, OnUnparsed};
pub use matcher::Matcher;
pub use parse::{LoadReport, PACKS, Source, load, load_sources, parse_source, rule_definition};
pub use runspec::{OnFailure, RunCommand, RunMode, RunSpec, StdoutUse};
pub(crate) use state::RateOf;
pub use state::{Check, Once, OnceMemory, SessionCond};

use crate::event::HookEvent;
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
    /// Run a command (the user's own hook script); see [`RunSpec`].
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
#[derive(Debug)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Where it was defined (file path or `pack:<name>`).
    pub source: String,
    /// Events it applies to.
    pub events: EventFilter,
    /// Its conditions (all must hold).
    pub cond: Conditions,
    /// Conditions that cancel a match.
    pub unless: Option<Conditions>,
    /// How a command the analyser could not fully analyse is treated.
    pub on_unparsed: OnUnparsed,
    /// `[rule.session]` conditions on the session's history.
    pub session: SessionCond,
    /// Most consecutive Stop/SubagentStop blocks this rule may cause (loop guard).
    pub max_blocks: u32,
    /// What it does.
    pub action: Action,
    /// The reason shown with a decision.
    pub reason: Option<String>,
    /// The text added by `context` (and shown by `warn`).
    pub context: Option<String>,
    /// What an `action = "run"` rule executes.
    pub run: Option<Arc<RunSpec>>,
    /// The dotenv files an `action = "env"` rule loads, relative to the project, in order.
    pub env_files: Option<Arc<[String]>>,
    /// Times it matched since it was loaded (carried over across reloads by name).
    pub hits: AtomicU64,
}

impl Rule {
    /// Every command regex of the rule: its own and its `unless` table's `command` and
    /// `piped_from`, and `session.edited_since.command`.
    fn command_regexes_mut(&mut self) -> impl Iterator<Item = &mut CommandRegex> {
        let unless = self.unless.as_mut();
        let (uc, up) = match unless {
            Some(u) => (u.command.as_mut(), u.piped_from.as_mut()),
            None => (None, None),
        };
        [
            self.cond.command.as_mut(),
            self.cond.piped_from.as_mut(),
            uc,
            up,
            self.session.edited_since.as_mut().map(|(_, re)| re),
        ]
        .into_iter()
        .flatten()
    }

    fn applies_to(&self, event: &HookEvent) -> bool {
        match &self.events {
            EventFilter::All => true,
            EventFilter::Some { known, unknown } => match events::index(&event.name) {
                Some(i) => known.contains(&i),
                None => unknown.contains(&event.name),
            },
        }
    }

    /// Whether the rule matches: what matched, for the record; whether its non-session
    /// conditions held (an attempt, for `rate = { of = "rule" }`); and, when it matched only
    /// because `[rule.session]` conditions could not be checked, why not.
    ///
    /// Session conditions that cannot be checked (no usable `session_id`, no project for
    /// `once = "project-day"`) fail closed: the rule applies, its reason saying so, except an
    /// `allow` rule, which never approves on state hookd cannot see.
    fn matches(&self, cx: &Ctx<'_>) -> RuleMatch {
        let approving = self.action == Action::Allow;
        let found = cond::evaluate(
            &self.cond,
            self.unless.as_ref(),
            self.on_unparsed,
            approving,
            cx,
        );
        let Some(cond::Found { mut why, fact }) = found else {
            return RuleMatch::default();
        };
        let mut unchecked = None;
        if !self.session.is_empty() {
            match self.session.check(&self.name, cx) {
                state::Check::Holds(w) => why.extend(w),
                state::Check::Fails => {
                    return RuleMatch {
                        attempted: true,
                        ..RuleMatch::default()
                    };
                }
                state::Check::Unknown {
                    held,
                    missing,
                    conditions,
                } => {
                    if self.action == Action::Allow {
                        return RuleMatch {
                            attempted: true,
                            ..RuleMatch::default()
                        };
                    }
                    why.extend(held);
                    let note =
                        format!("hookd could not check {}: {missing}", conditions.join(", "));
                    why.push(note.clone());
                    unchecked = Some(note);
                }
            }
        }
        RuleMatch {
            why: Some(Self::finish_why(why, cx)),
            attempted: true,
            unchecked,
            fact,
        }
    }

    fn finish_why(mut why: Vec<String>, cx: &Ctx<'_>) -> String {
        if why.is_empty() {
            why.push(format!("event {}", cx.event.name));
        }
        why.join(", ")
    }

    /// The reason given to Claude Code for a match: `hookd: <rule> — <reason>`, with the fact
    /// that matched in place of `{fact}` and what could not be checked (see
    /// [`Rule::matches`]).
    fn reason_for(&self, m: &RuleMatch) -> String {
        let mut reason = self.reason_text();
        if let Some(fact) = &m.fact {
            reason = reason.replace("{fact}", fact);
        }
        let reason = match &m.unchecked {
            Some(note) => format!("{reason} ({note}, so the rule applies)"),
            None => reason,
        };
        format!("hookd: {} — {reason}", self.name)
    }

    /// The rule's reason text, with a default that says where to look the rule up.
    #[must_use]
    pub(crate) fn reason_text(&self) -> String {
        self.reason.clone().unwrap_or_else(|| {
            format!(
                "no reason given; `hookctl rules {}` shows the rule",
                self.name
            )
        })
    }
}

/// What [`Rule::matches`] found.
#[derive(Debug, Default)]
struct RuleMatch {
    /// What matched, when the rule matched.
    why: Option<String>,
    /// Whether the rule's non-session conditions held.
    attempted: bool,
    /// Session conditions that could not be checked, and why (the rule applies regardless).
    unchecked: Option<String>,
    /// The fact that matched, for `{fact}` in the reason.
    fact: Option<String>,
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
    /// Every command regex of the rules (`command`, `piped_from`, `unless`, `edited_since`) in
    /// one set, which answers for each of them ([`cmdregex::share`]): one pass over each simple
    /// command tells which rules' `command` can match, so cost stays flat as rules grow.
    command_set: Option<Arc<cmdregex::SharedSet>>,
    /// For each pattern of `command_set`, the rules whose `command` it is.
    command_rules: Vec<Vec<usize>>,
    /// Rules whose `command` is not in `command_set` (a pattern that needs Unicode): the
    /// prefilter cannot rule them out.
    command_unshared: Vec<usize>,
    /// Every rule's `tool` regex (a matcher that is not a list of names) in one set: one
    /// pass over the tool name tells which can match (MCP rules are often regexes).
    tool_set: Option<RegexSet>,
    /// For each pattern of `tool_set`, the rule it belongs to.
    tool_rules: Vec<usize>,
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

/// Consecutive Stop/SubagentStop blocks so far in the session of `cx`; Claude Code's
/// `stop_hook_active: true` counts as at least one.
fn stop_blocks(cx: &Ctx<'_>) -> u32 {
    let active = cx
        .event
        .value()
        .get("stop_hook_active")
        .and_then(crate::event::Value::as_bool)
        == Some(true);
    cx.session
        .map_or(0, |s| s.stop_blocks)
        .max(u32::from(active))
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

impl Ruleset {
    /// Carries hit counts over from `old` for rules of the same name.
    pub fn inherit_hits(&self, old: &Ruleset) {
        for r in &self.rules {
            if let Some(o) = old.rules.iter().find(|o| o.name == r.name) {
                r.hits
                    .store(o.hits.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
    }

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
        let mut rules = rules;
        let mut regexes: Vec<&mut CommandRegex> = rules
            .iter_mut()
            .flat_map(Rule::command_regexes_mut)
            .collect();
        // A set too large to compile only costs the prefilter and the sharing, never
        // correctness.
        let command_set = cmdregex::share(&mut regexes, 64 << 20);
        drop(regexes);
        let mut command_rules = vec![Vec::new(); command_set.as_ref().map_or(0, |s| s.len())];
        let mut command_unshared = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let Some(re) = &r.cond.command else { continue };
            match command_set.as_ref().and_then(|set| re.index_in(set)) {
                Some(k) => command_rules[k].push(i),
                None => command_unshared.push(i),
            }
        }
        let (tool_rules, tool_patterns): (Vec<usize>, Vec<&str>) = rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.cond.tool {
                Some(Matcher::Regex(re)) => Some((i, re.as_str())),
                _ => None,
            })
            .unzip();
        let tool_set = RegexSetBuilder::new(&tool_patterns)
            .size_limit(64 << 20)
            .build()
            .ok();
        Self {
            rules,
            sources,
            by_event,
            for_unknown,
            command_set,
            command_rules,
            command_unshared,
            tool_set,
            tool_rules,
        }
    }

    /// Evaluates the event of `cx` against several rulesets (the user's, then a project's) and
    /// merges their decisions with Claude Code's precedence.
    #[must_use]
    pub(crate) fn evaluate_all(rulesets: &[&Ruleset], cx: &Ctx<'_>) -> Decision {
        let mut d = Decision::default();
        for rs in rulesets {
            d.merge(rs.evaluate_in(cx));
        }
        d
    }

    /// Evaluates `event` (no project root or home known): for tests and simple callers.
    #[must_use]
    pub fn evaluate(&self, event: &HookEvent) -> Decision {
        self.evaluate_in(&Ctx::new(event, None, None))
    }

    /// Evaluates the event of `cx` against every rule and combines the matches.
    #[must_use]
    pub fn evaluate_in(&self, cx: &Ctx<'_>) -> Decision {
        let event = cx.event;
        let known = events::index(&event.name);
        let candidates = match known {
            Some(i) => &self.by_event[i],
            None => &self.for_unknown,
        };
        let mut d = Decision::default();
        let perm_kind = event.spec.map_or(Permission::None, |s| s.permission);
        // Which rules' `command` regex matches some simple command (computed on first need).
        let mut command_hits: Option<Vec<bool>> = None;
        // Which rules' `tool` regex matches the tool name (computed on first need).
        let mut tool_hits: Option<Vec<bool>> = None;
        for &i in candidates {
            let rule = &self.rules[i];
            // `by_event` holds only the rules of a known event.
            if known.is_none() && !rule.applies_to(event) {
                continue;
            }
            if let (Some(Matcher::Regex(_)), Some(set)) = (&rule.cond.tool, &self.tool_set) {
                let hits = tool_hits.get_or_insert_with(|| {
                    let mut hits = vec![false; self.rules.len()];
                    if let Some(tool) = event.tool_name() {
                        for m in set.matches(tool).iter() {
                            hits[self.tool_rules[m]] = true;
                        }
                    }
                    hits
                });
                if !hits[i] {
                    continue;
                }
            }
            if rule.cond.command.is_some() {
                let Some(analysis) = cx.analysis() else {
                    continue;
                };
                let unparsed_match =
                    analysis.unparsed.is_some() && rule.on_unparsed == OnUnparsed::Match;
                if let Some(set) = &self.command_set
                    && !unparsed_match
                {
                    let hits = command_hits.get_or_insert_with(|| {
                        let mut hits = vec![false; self.rules.len()];
                        for &r in &self.command_unshared {
                            hits[r] = true;
                        }
                        for t in cx.command_texts() {
                            for &m in set.matches(t.as_bytes()).iter() {
                                for &r in &self.command_rules[m] {
                                    hits[r] = true;
                                }
                            }
                        }
                        hits
                    });
                    if !hits[i] {
                        continue;
                    }
                }
            }
            let m = rule.matches(cx);
            if m.attempted && matches!(rule.session.rate, Some((_, _, RateOf::Rule))) {
                d.attempts.push(rule.name.clone());
            }
            let Some(why) = m.why.clone() else {
                continue;
            };
            if cx.count_hits {
                rule.hits.fetch_add(1, Ordering::Relaxed);
            }
            let mut action = rule.action;
            let is_stop = crate::events::is_stop_like(&event.name);
            if action == Action::Block && is_stop {
                // Loop guard: never block a stop more than `max_blocks` times in a row. Without
                // a session the blocks cannot be counted: once Claude Code says a stop hook is
                // already active, the stop is let through.
                let blocks = stop_blocks(cx);
                let uncounted = cx.session.is_none() && blocks > 0;
                if blocks >= rule.max_blocks || uncounted {
                    let msg = if uncounted {
                        format!(
                            "hookd loop guard: let {} through (stop_hook_active, and without a session id consecutive blocks cannot be counted; rule `{}`)",
                            event.name, rule.name
                        )
                    } else {
                        format!(
                            "hookd loop guard: let {} through after {blocks} consecutive blocks (rule `{}` allows {})",
                            event.name, rule.name, rule.max_blocks
                        )
                    };
                    d.warnings.push(msg.clone());
                    d.loop_guard.push(msg);
                    d.matched.push(Matched {
                        rule: rule.name.clone(),
                        action: Action::Log,
                        why,
                    });
                    continue;
                }
            }
            // `block` on an event that blocks through its permission decision is a deny.
            if action == Action::Block && perm_kind != Permission::None {
                action = Action::Deny;
            }
            match action {
                Action::Allow | Action::Ask | Action::Defer | Action::Deny => {
                    if m.unchecked.is_some() {
                        d.fail_closed = true;
                    }
                    let reason = rule.reason_for(&m);
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
                Action::Block => d.blocks.push(rule.reason_for(&m)),
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
                Action::Env => {
                    if let Some(files) = &rule.env_files {
                        d.envs.push(EnvCall {
                            rule: rule.name.clone(),
                            files: Arc::clone(files),
                        });
                    }
                }
                Action::Run => {
                    if let Some(spec) = &rule.run {
                        d.runs.push(RunCall {
                            rule: rule.name.clone(),
                            spec: Arc::clone(spec),
                            stop_blocks: if is_stop { stop_blocks(cx) } else { 0 },
                            max_blocks: rule.max_blocks,
                        });
                    }
                }
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
