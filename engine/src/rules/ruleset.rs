//! [`Ruleset`]: the compiled, immutable set of rules, its prefilters (rules by event, the
//! shared command and tool regex sets) and the evaluation of an event against every rule.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use regex::{RegexSet, RegexSetBuilder};

use super::cmdregex;
use super::cond::Ctx;
use super::{
    Action, CommandRegex, Decision, EnvCall, EventFilter, Matched, Matcher, OnUnparsed, RateOf,
    Rule, RunCall, permission_rank,
};
use crate::event::HookEvent;
use crate::events::{self, Permission};

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
