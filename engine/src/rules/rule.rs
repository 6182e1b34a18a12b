//! One compiled [`Rule`]: which events it applies to, whether it matches an event (its
//! conditions, then its `[rule.session]` conditions), and the why and reason texts of a match.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::Action;
use super::cmdregex::CommandRegex;
use super::cond::{self, Conditions, Ctx, OnUnparsed};
use super::runspec::RunSpec;
use super::state::{self, SessionCond};
use crate::event::HookEvent;
use crate::events;

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
    pub(super) fn command_regexes_mut(&mut self) -> impl Iterator<Item = &mut CommandRegex> {
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

    pub(super) fn applies_to(&self, event: &HookEvent) -> bool {
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
    pub(super) fn matches(&self, cx: &Ctx<'_>) -> RuleMatch {
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
    pub(super) fn reason_for(&self, m: &RuleMatch) -> String {
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
pub(super) struct RuleMatch {
    /// What matched, when the rule matched.
    pub(super) why: Option<String>,
    /// Whether the rule's non-session conditions held.
    pub(super) attempted: bool,
    /// Session conditions that could not be checked, and why (the rule applies regardless).
    pub(super) unchecked: Option<String>,
    /// The fact that matched, for `{fact}` in the reason.
    pub(super) fact: Option<String>,
}
