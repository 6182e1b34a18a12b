//! Conditions and the per-event context they are evaluated in.
//!
//! Event-level conditions (`tool`, `prompt`, `content`, `field`) look at the event once.
//! Item-level conditions look at items: `command` and `fact` at each simple command the shell
//! analyser finds, `path`, `outside_project`, `build_output` and `write` at each target path.
//! A rule matches when some witness (a command, a path of that command) satisfies its
//! conditions and its `unless` table does not hold for that same witness; an `unless` item
//! condition the rule itself does not have must hold for *every* item (of the witness
//! command, when there is one) to cancel (fail safe: `ls && rm -rf /` is not excused by
//! `unless.command = '^ls'`).
//!
//! Here: the condition set ([`Conditions`], [`Facts`], [`OnUnparsed`]) and [`evaluate`], which
//! binds a rule's conditions and its `unless` table to one witness. Beside it: `ctx.rs` (the
//! per-event [`Ctx`] and what it computes once), `targets.rs` (the paths a tool call touches),
//! `paths.rs` (`path`, `outside_project`, `build_output`, `write`, `clobber` on a target),
//! `command.rs` (`command`, `fact`, `to_terminal`, `piped_from` on a simple command) and
//! `event.rs` (the event-level `tool`, `prompt`, `content`, `field`).

mod command;
mod ctx;
mod event;
mod paths;
mod targets;

pub use ctx::Ctx;
pub use paths::{PathGlobs, resolve};
pub use targets::Target;

use std::sync::Arc;

use regex::Regex;

use super::Matcher;
use crate::shell::{FactKind, SimpleCommand};

/// The `fact` condition: what the analyser knows it cannot check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Facts on simple commands.
    pub kinds: Vec<FactKind>,
    /// `unparsed`: the command could not be fully analysed.
    pub unparsed: bool,
}

impl Facts {
    /// The fact names rules may use, for messages.
    pub(crate) const NAMES: &'static str = "computed-command, piped-code, fork-bomb, unparsed";

    /// Parses fact names.
    ///
    /// # Errors
    ///
    /// The first unknown name.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        let mut f = Self::default();
        for n in names {
            if n == "unparsed" {
                f.unparsed = true;
            } else if let Some(k) = FactKind::ALL.into_iter().find(|k| k.as_str() == n) {
                f.kinds.push(k);
            } else {
                return Err(format!("unknown fact {n:?} (facts: {})", Self::NAMES));
            }
        }
        Ok(f)
    }

    /// The first of these facts `c` carries, as said for people.
    fn on<'c>(&self, c: &'c SimpleCommand) -> Option<&'c str> {
        c.facts
            .iter()
            .find(|f| self.kinds.contains(&f.kind))
            .map(|f| f.detail.as_str())
    }
}

/// A set of conditions (a rule's own, or its `unless` table).
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// `tool`: Claude Code matcher on the tool name.
    pub tool: Option<Matcher>,
    /// `command`: regex on each simple command's text.
    pub command: Option<super::CommandRegex>,
    /// `path`: globs on each target path (shared by the rules of a load that list the same).
    pub path: Option<Arc<PathGlobs>>,
    /// `outside_project`: a target path resolves outside (true) / inside (false) the project.
    pub(crate) outside_project: Option<bool>,
    /// `build_output`: a target path is (true) / is not (false) a regenerable build output
    /// of the project ([`super::outputs::is_build_output`]).
    pub(crate) build_output: Option<bool>,
    /// `write`: a target path is written (true) / only read (false).
    pub write: Option<bool>,
    /// `redirect`: a target path is a redirection's file (true) / an argument (false).
    pub redirect: Option<bool>,
    /// `fact`: a simple command carries one of these facts, or the command was not fully
    /// analysed.
    pub facts: Option<Facts>,
    /// `to_terminal`: a simple command's output reaches only the terminal (true), through
    /// local filters at most, or goes elsewhere (false): a file, another program, the
    /// network, a substitution.
    pub to_terminal: Option<bool>,
    /// `piped_from`: regex on the commands upstream of a simple command in its pipeline (what
    /// it reads through `|`, directly or through other commands).
    pub piped_from: Option<super::CommandRegex>,
    /// `clobber`: a target path is written in a way that can destroy what it holds (true: an
    /// existing file overwritten, moved or deleted) or not (false: created, appended to,
    /// touched).
    pub clobber: Option<bool>,
    /// `content`: regex on the text being written.
    pub content: Option<Regex>,
    /// `prompt`: regex on the prompt.
    pub prompt: Option<Regex>,
    /// `field`: dotted path into the event JSON → regex on its value.
    pub field: Vec<(Vec<String>, Regex)>,
}

impl Conditions {
    /// Whether any condition is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tool.is_none()
            && self.command.is_none()
            && self.path.is_none()
            && self.outside_project.is_none()
            && self.build_output.is_none()
            && self.write.is_none()
            && self.redirect.is_none()
            && self.clobber.is_none()
            && self.facts.is_none()
            && self.to_terminal.is_none()
            && self.piped_from.is_none()
            && self.content.is_none()
            && self.prompt.is_none()
            && self.field.is_empty()
    }

    fn has_path_items(&self) -> bool {
        self.path.is_some()
            || self.outside_project.is_some()
            || self.build_output.is_some()
            || self.write.is_some()
            || self.redirect.is_some()
            || self.clobber.is_some()
    }

    fn has_command_items(&self) -> bool {
        self.command.is_some()
            || self.facts.is_some()
            || self.to_terminal.is_some()
            || self.piped_from.is_some()
    }
}

/// What the matching found, for the record.
pub type Why = Vec<String>;

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

/// How a rule treats a command the analyser could not fully analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnparsed {
    /// The `command` condition holds (fail safe; the default).
    Match,
    /// Judge only the commands that were found.
    Ignore,
}

/// What a match found.
#[derive(Debug, Default)]
pub struct Found {
    /// What matched, for the record.
    pub why: Why,
    /// The fact that matched (`fact` rules), as said for people: what `{fact}` in the
    /// rule's reason stands for.
    pub fact: Option<String>,
}

/// Evaluates `cond` (with `unless`) against the context; returns why it matched.
///
/// `approving` (an `allow` rule): a command the analyser could not fully analyse, or one with
/// a fact (something hookd cannot check), never matches.
pub fn evaluate(
    cond: &Conditions,
    unless: Option<&Conditions>,
    on_unparsed: OnUnparsed,
    approving: bool,
    cx: &Ctx<'_>,
) -> Option<Found> {
    if !cond.event_level(cx, None) {
        return None;
    }
    // What matched beyond the event-level conditions (those are described once it matched).
    let mut why = Why::new();
    // Witness commands (indices into the analysis), or `None`: no command to bind to.
    let mut commands: Vec<Option<usize>> = vec![None];
    let mut unparsed_hit = false;
    let mut fact_note = None;
    if cond.has_command_items() {
        let analysis = cx.analysis()?;
        if approving
            && (analysis.unparsed.is_some()
                || analysis.commands.iter().any(|c| !c.facts.is_empty()))
        {
            return None;
        }
        let texts = cx.command_texts();
        commands = analysis
            .commands
            .iter()
            .zip(texts)
            .enumerate()
            .filter(|(i, _)| cond.command_holds(analysis, *i, texts))
            .map(|(i, _)| Some(i))
            .collect();
        if let Some(reason) = &analysis.unparsed {
            if cond.facts.as_ref().is_some_and(|f| f.unparsed) && cond.command.is_none() {
                unparsed_hit = true;
                fact_note = Some(format!("could not be analysed: {reason}"));
                why.push(format!("command not fully analysed ({reason})"));
            } else if on_unparsed == OnUnparsed::Match
                && cond.command.is_some()
                && cond.facts.is_none()
                && !approving
            {
                unparsed_hit = true;
                why.push(format!("command not fully analysed ({reason})"));
            }
        }
        if commands.is_empty() && !unparsed_hit {
            return None;
        }
    }
    // Witness targets.
    let mut targets: Vec<Option<&Target>> = vec![None];
    if cond.has_path_items() {
        targets = cx
            .targets()
            .iter()
            .filter(|t| cond.path_ok(cx, t))
            .map(Some)
            .collect();
        if targets.is_empty() {
            return None;
        }
    }
    if unparsed_hit && commands.is_empty() {
        commands.push(None);
    }
    let texts = cx.command_texts();
    let cancels = |c: Option<usize>, t: Option<&Target>| -> bool {
        let Some(u) = unless else { return false };
        if u.is_empty() {
            return false;
        }
        if !u.event_level(cx, None) {
            return false;
        }
        let command_holds = |i: usize, u: &Conditions| {
            let Some(a) = cx.analysis() else { return false };
            u.command_holds(a, i, texts)
        };
        if u.has_command_items() {
            // The witness command, or the command the witness path belongs to.
            let bound = c.or_else(|| t.and_then(|t| t.cmd));
            let ok = match bound {
                Some(c) => command_holds(c, u),
                // No command to judge (the witness is an unanalysed command): every command
                // must match to excuse it.
                None => cx.analysis().is_some_and(|a| {
                    a.unparsed.is_none()
                        && !a.commands.is_empty()
                        && (0..a.commands.len()).all(|i| command_holds(i, u))
                }),
            };
            if !ok {
                return false;
            }
        }
        if u.has_path_items() {
            let ok = match (t, cond.has_path_items()) {
                (Some(t), true) => u.path_ok(cx, t),
                _ => {
                    // Every path of the witness command (of the event, without one).
                    let mut all = cx
                        .targets()
                        .iter()
                        .filter(|t| c.is_none() || t.cmd.is_none() || t.cmd == c)
                        .peekable();
                    all.peek().is_some() && all.all(|t| u.path_ok(cx, t))
                }
            };
            if !ok {
                return false;
            }
        }
        true
    };
    for &c in &commands {
        for &t in &targets {
            // A path binds to its own command.
            if let (Some(c), Some(t)) = (c, t)
                && t.cmd.is_some_and(|tc| tc != c)
            {
                continue;
            }
            if cancels(c, t) {
                continue;
            }
            if let Some(text) = c.and_then(|i| texts.get(i)) {
                why.push(format!("command {:?}", excerpt(text)));
            }
            if let Some(t) = t {
                why.push(format!("path {}", t.abs.display()));
            }
            let fact = match (c, &cond.facts) {
                (Some(i), Some(f)) => cx
                    .analysis()
                    .and_then(|a| a.commands.get(i))
                    .and_then(|cmd| f.on(cmd))
                    .map(str::to_owned),
                _ => fact_note.take(),
            };
            if let Some(f) = &fact {
                why.push(f.clone());
            }
            let mut all = Why::new();
            cond.event_level(cx, Some(&mut all));
            all.append(&mut why);
            return Some(Found { why: all, fact });
        }
    }
    None
}
