//! A `[[rule]]` table as written (the spec types serde reads) and its compilation into a
//! [`Rule`]: conditions, `unless`, `[rule.session]`, the action and its keys.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::globs::{globs, shared_globs};
use crate::events;
use crate::rules::cmdregex::CommandRegex;
use crate::rules::cond::{Conditions, Facts, OnUnparsed};
use crate::rules::runspec::{CommandSpec, RunKeys, TimeoutSpec};
use crate::rules::state::{Counter, Once, Op, RateOf, SessionCond, duration_ms, parse_duration_ms};
use crate::rules::{Action, EventFilter, Matcher, Rule};

/// Consecutive Stop/SubagentStop blocks a rule may cause before the loop guard lets one through.
pub(crate) const DEFAULT_MAX_STOP_BLOCKS: u32 = 3;

/// The largest compiled regex, in bytes: bounds memory and build time on hostile rules.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleSpec {
    name: String,
    event: Option<OneOrMany>,
    tool: Option<String>,
    command: Option<String>,
    path: Option<OneOrMany>,
    outside_project: Option<bool>,
    build_output: Option<bool>,
    write: Option<bool>,
    redirect: Option<bool>,
    clobber: Option<bool>,
    to_terminal: Option<bool>,
    piped_from: Option<String>,
    fact: Option<OneOrMany>,
    content: Option<String>,
    prompt: Option<String>,
    field: Option<BTreeMap<String, String>>,
    unless: Option<UnlessSpec>,
    on_unparsed: Option<String>,
    session: Option<SessionSpec>,
    max_blocks: Option<u32>,
    action: String,
    reason: Option<String>,
    context: Option<String>,
    // The `run` action's keys (see `runspec`).
    run: Option<CommandSpec>,
    mode: Option<String>,
    timeout: Option<TimeoutSpec>,
    priority: Option<i32>,
    env: Option<BTreeMap<String, String>>,
    pass_env: Option<Vec<String>>,
    retries: Option<u32>,
    on_failure: Option<String>,
    stdout: Option<String>,
    // The `env` action's key.
    files: Option<OneOrMany>,
}

/// `[rule.session]`: conditions on the session's history.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionSpec {
    read_before_edit: Option<bool>,
    edited_since: Option<EditedSinceSpec>,
    rate: Option<RateSpec>,
    counters: Option<BTreeMap<String, String>>,
    once: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditedSinceSpec {
    path: OneOrMany,
    command: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSpec {
    max: u64,
    window: TimeoutSpec,
    of: Option<String>,
}

fn session_cond(spec: SessionSpec) -> Result<SessionCond, String> {
    let edited_since = spec
        .edited_since
        .map(|e| -> Result<_, String> {
            let paths = list(Some(e.path)).unwrap_or_default();
            Ok((
                globs(&paths)?,
                command_regex("session.edited_since.command", &e.command)?,
            ))
        })
        .transpose()?;
    let rate = spec
        .rate
        .map(|r| -> Result<_, String> {
            let window = match &r.window {
                TimeoutSpec::Secs(secs) => std::time::Duration::try_from_secs_f64(*secs)
                    .ok()
                    .and_then(duration_ms),
                TimeoutSpec::Text(t) => parse_duration_ms(t),
            }
            .ok_or_else(|| {
                let shown = match &r.window {
                    TimeoutSpec::Secs(secs) => secs.to_string(),
                    TimeoutSpec::Text(t) => format!("{t:?}"),
                };
                format!(
                    "bad `rate.window` {shown}: use {}, more than 0",
                    hook_protocol::duration::EXAMPLES
                )
            })?;
            let of = match r.of.as_deref() {
                None | Some("tool") => RateOf::Tool,
                Some("rule") => RateOf::Rule,
                Some(o) => {
                    return Err(format!(
                        "bad `rate.of` {o:?}: expected \"tool\" or \"rule\""
                    ));
                }
            };
            Ok((r.max, window, of))
        })
        .transpose()?;
    let mut counters = Vec::new();
    for (name, cmp) in spec.counters.unwrap_or_default() {
        let counter = Counter::parse(&name)
            .ok_or_else(|| format!("unknown counter {name:?} (counters: {})", Counter::NAMES))?;
        let (op, value) = Op::parse_comparison(&cmp).ok_or_else(|| {
            format!("bad comparison {cmp:?} for counter {name}: use e.g. \">= 3\"")
        })?;
        counters.push((counter, op, value));
    }
    let once = match spec.once.as_deref() {
        None => None,
        Some("session") => Some(Once::Session),
        Some("project-day") => Some(Once::ProjectDay),
        Some(o) => {
            return Err(format!(
                "bad `once` {o:?}: expected \"session\" or \"project-day\""
            ));
        }
    };
    Ok(SessionCond {
        read_before_edit: spec.read_before_edit.unwrap_or(false),
        edited_since,
        rate,
        counters,
        once,
    })
}

/// The conditions an `unless` table may hold (the same as a rule's). The fields repeat
/// [`RuleSpec`]'s condition fields on purpose: `#[serde(flatten)]` of one shared struct would
/// cost `deny_unknown_fields` (serde does not support the two together), and with it the
/// misspelt-key errors both tables give.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlessSpec {
    tool: Option<String>,
    command: Option<String>,
    path: Option<OneOrMany>,
    outside_project: Option<bool>,
    build_output: Option<bool>,
    write: Option<bool>,
    redirect: Option<bool>,
    clobber: Option<bool>,
    to_terminal: Option<bool>,
    piped_from: Option<String>,
    fact: Option<OneOrMany>,
    content: Option<String>,
    prompt: Option<String>,
    field: Option<BTreeMap<String, String>>,
}

fn regex(what: &str, pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("bad `{what}` regex {pattern:?}: {e}"))
}

/// A regex matched against simple commands' texts, which span lines (heredoc code fed to an
/// interpreter, multi-line quoted arguments): `.` matches newlines too, so `.*` sees the
/// text whole. `(?-s)` in a pattern turns it off. Its classes are ASCII ([`CommandRegex`]).
pub(super) fn command_regex(what: &str, pattern: &str) -> Result<CommandRegex, String> {
    CommandRegex::new(pattern, REGEX_SIZE_LIMIT)
        .map_err(|e| format!("bad `{what}` regex {pattern:?}: {e}"))
}

fn list(v: Option<OneOrMany>) -> Option<Vec<String>> {
    v.map(|v| match v {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The condition keys of a rule or its `unless` table.
struct CondKeys<'a> {
    tool: Option<&'a str>,
    command: Option<&'a str>,
    path: Option<OneOrMany>,
    outside_project: Option<bool>,
    build_output: Option<bool>,
    write: Option<bool>,
    redirect: Option<bool>,
    clobber: Option<bool>,
    to_terminal: Option<bool>,
    piped_from: Option<&'a str>,
    fact: Option<OneOrMany>,
    content: Option<&'a str>,
    prompt: Option<&'a str>,
    field: Option<BTreeMap<String, String>>,
}

fn conditions(keys: CondKeys<'_>) -> Result<Conditions, String> {
    let CondKeys {
        tool,
        command,
        path,
        outside_project,
        build_output,
        write,
        redirect,
        clobber,
        to_terminal,
        piped_from,
        fact,
        content,
        prompt,
        field,
    } = keys;
    let tool = tool
        .map(Matcher::new)
        .transpose()
        .map_err(|e| format!("bad `tool` matcher: {e}"))?;
    let command = command.map(|p| command_regex("command", p)).transpose()?;
    let piped_from = piped_from
        .map(|p| command_regex("piped_from", p))
        .transpose()?;
    let facts = list(fact)
        .map(|names| Facts::parse(&names).map_err(|e| format!("bad `fact`: {e}")))
        .transpose()?;
    let content = content.map(|p| regex("content", p)).transpose()?;
    let prompt = prompt.map(|p| regex("prompt", p)).transpose()?;
    let path = list(path).map(|p| shared_globs(&p)).transpose()?;
    let mut fields = Vec::new();
    for (k, v) in field.unwrap_or_default() {
        let keys: Vec<String> = k.split('.').map(str::to_string).collect();
        if keys.iter().any(String::is_empty) {
            return Err(format!(
                "bad `field` path {k:?}: use dotted keys like tool_input.url"
            ));
        }
        fields.push((keys, regex(&format!("field.{k}"), &v)?));
    }
    Ok(Conditions {
        tool,
        command,
        path,
        outside_project,
        build_output,
        write,
        redirect,
        clobber,
        to_terminal,
        piped_from,
        facts,
        content,
        prompt,
        field: fields,
    })
}

pub(super) fn compile(spec: RuleSpec, source: &str) -> Result<Rule, String> {
    let name = spec.name.trim().to_string();
    if name.is_empty() {
        return Err("rule `name` is empty".into());
    }
    let ctx = |m: String| format!("rule `{name}`: {m}");
    let action = Action::parse(&spec.action).ok_or_else(|| {
        ctx(format!(
            "unknown action {:?} (expected allow, deny, ask, defer, block, context, warn, log, run or env)",
            spec.action
        ))
    })?;
    let read_before_edit = spec
        .session
        .as_ref()
        .is_some_and(|s| s.read_before_edit == Some(true));
    let tool_like = read_before_edit
        || spec.tool.is_some()
        || spec.command.is_some()
        || spec.path.is_some()
        || spec.outside_project.is_some()
        || spec.build_output.is_some()
        || spec.write.is_some()
        || spec.redirect.is_some()
        || spec.clobber.is_some()
        || spec.to_terminal.is_some()
        || spec.piped_from.is_some()
        || spec.fact.is_some()
        || spec.content.is_some();
    let event_names: Vec<String> = match list(spec.event) {
        Some(v) => v,
        None if tool_like => vec!["PreToolUse".into()],
        None if action == Action::Env => vec!["SessionStart".into()],
        None if spec.prompt.is_some() => vec!["UserPromptSubmit".into()],
        None => {
            return Err(ctx(
                "`event` is required (a name, a list of names, or \"*\")".into(),
            ));
        }
    };
    let events = if event_names.iter().any(|e| e == "*") {
        if !matches!(
            action,
            Action::Context | Action::Warn | Action::Log | Action::Run
        ) {
            return Err(ctx(format!(
                "`{action}` cannot apply to every event (\"*\"); name the events it is for"
            )));
        }
        EventFilter::All
    } else {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for e in &event_names {
            match events::index(e) {
                Some(i) => {
                    if let Some(why) = action.unsupported_on(&events::EVENTS[i]) {
                        return Err(ctx(why));
                    }
                    known.push(i);
                }
                None if action == Action::Log => unknown.push(e.clone()),
                None => {
                    let hint =
                        crate::settings::did_you_mean(e, events::EVENTS.iter().map(|s| s.name))
                            .map(|s| format!(" (did you mean {s}?)"))
                            .unwrap_or_default();
                    return Err(ctx(format!("unknown event {e:?}{hint}")));
                }
            }
        }
        EventFilter::Some { known, unknown }
    };
    let run_keys = RunKeys {
        run: spec.run,
        mode: spec.mode,
        timeout: spec.timeout,
        priority: spec.priority,
        env: spec.env,
        pass_env: spec.pass_env,
        retries: spec.retries,
        on_failure: spec.on_failure,
        stdout: spec.stdout,
    };
    let run = if action == Action::Run {
        if source.starts_with("pack:") {
            return Err(ctx("built-in packs never run commands".into()));
        }
        Some(std::sync::Arc::new(run_keys.compile().map_err(&ctx)?))
    } else if run_keys.any() {
        return Err(ctx(
            "`run`, `mode`, `timeout`, `priority`, `env`, `pass_env`, `retries`, `on_failure` and `stdout` belong to `action = \"run\"` rules".into(),
        ));
    } else {
        None
    };
    let env_files = if action == Action::Env {
        if source.starts_with("pack:") {
            return Err(ctx("built-in packs never load environment files".into()));
        }
        let files = list(spec.files).unwrap_or_else(|| vec![".env".into()]);
        if files.is_empty() {
            return Err(ctx("`files` is empty: name the dotenv files to load".into()));
        }
        for f in &files {
            let p = Path::new(f);
            if f.is_empty()
                || p.is_absolute()
                || p.components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(ctx(format!(
                    "bad `files` entry {f:?}: a path inside the project, like \".env\" or \"config/.env.local\" (no `..`, not absolute)"
                )));
            }
        }
        Some(files.into())
    } else if spec.files.is_some() {
        return Err(ctx("`files` belongs to `action = \"env\"` rules".into()));
    } else {
        None
    };
    if matches!(action, Action::Context) && spec.context.is_none() && spec.reason.is_none() {
        return Err(ctx("a `context` rule needs `context` text".into()));
    }
    if matches!(action, Action::Warn) && spec.context.is_none() && spec.reason.is_none() {
        return Err(ctx("a `warn` rule needs `reason` text".into()));
    }
    let on_unparsed = match spec.on_unparsed.as_deref() {
        None | Some("match") => OnUnparsed::Match,
        Some("ignore") => OnUnparsed::Ignore,
        Some(other) => {
            return Err(ctx(format!(
                "bad `on_unparsed` {other:?}: expected \"match\" or \"ignore\""
            )));
        }
    };
    let session = spec
        .session
        .map(session_cond)
        .transpose()
        .map_err(|e| ctx(format!("in `[rule.session]`: {e}")))?
        .unwrap_or_default();
    if read_before_edit && !matches!(&events, EventFilter::Some { known, .. } if known.contains(&0))
    {
        return Err(ctx("`read_before_edit` applies to PreToolUse events".into()));
    }
    let cond = conditions(CondKeys {
        tool: spec.tool.as_deref(),
        command: spec.command.as_deref(),
        path: spec.path,
        outside_project: spec.outside_project,
        build_output: spec.build_output,
        write: spec.write,
        redirect: spec.redirect,
        clobber: spec.clobber,
        to_terminal: spec.to_terminal,
        piped_from: spec.piped_from.as_deref(),
        fact: spec.fact,
        content: spec.content.as_deref(),
        prompt: spec.prompt.as_deref(),
        field: spec.field,
    })
    .map_err(ctx)?;
    let unless = spec
        .unless
        .map(|u| {
            conditions(CondKeys {
                tool: u.tool.as_deref(),
                command: u.command.as_deref(),
                path: u.path,
                outside_project: u.outside_project,
                build_output: u.build_output,
                write: u.write,
                redirect: u.redirect,
                clobber: u.clobber,
                to_terminal: u.to_terminal,
                piped_from: u.piped_from.as_deref(),
                fact: u.fact,
                content: u.content.as_deref(),
                prompt: u.prompt.as_deref(),
                field: u.field,
            })
        })
        .transpose()
        .map_err(|e| ctx(format!("in `unless`: {e}")))?;
    Ok(Rule {
        name,
        source: source.to_string(),
        events,
        cond,
        unless,
        on_unparsed,
        session,
        max_blocks: spec.max_blocks.unwrap_or(DEFAULT_MAX_STOP_BLOCKS),
        action,
        reason: spec.reason,
        context: spec.context,
        run,
        env_files,
        hits: AtomicU64::new(0),
    })
}
