//! Event filters shared by `events`, `tail` and `export`.

use anyhow::anyhow;
use hook_protocol::EventQuery;

use crate::format;

/// Which events to show. Each value is checked before anything is asked of hookd: a value no
/// event can have is an error that lists the valid ones, never an empty table.
#[derive(Debug, Clone, clap::Args)]
pub struct Filters {
    /// Only this session id
    #[arg(long, value_parser = not_empty)]
    pub session: Option<String>,
    /// Only this event name (e.g. PreToolUse; `hookctl events --event x` lists them)
    #[arg(long, value_parser = event_name)]
    pub event: Option<String>,
    /// Only this tool, exactly as Claude Code names it (Bash, Edit, mcp__github__create_issue)
    #[arg(long, value_parser = tool_name)]
    pub tool: Option<String>,
    /// Only this verdict: allow, deny, ask, defer, block, context, loop-guard, warn, log,
    /// output, none, error (error:pass, error:ask, error:deny) or fallback (fallback:pass, …)
    #[arg(long, value_parser = verdict)]
    pub verdict: Option<String>,
    /// Only events this rule matched
    #[arg(long, value_parser = not_empty)]
    pub rule: Option<String>,
    /// Only events of this project directory (a relative path is taken from the current one)
    #[arg(long, value_parser = project_dir)]
    pub project: Option<String>,
    /// Only events since this time: a duration ago (30m, 1h30m, 2d; a bare number is seconds), or RFC 3339
    #[arg(long, value_parser = time)]
    pub since: Option<String>,
    /// Only events before this time: a duration ago (30m, 1h30m, 2d; a bare number is seconds), or RFC 3339
    #[arg(long, value_parser = time)]
    pub until: Option<String>,
    /// Only events whose (redacted) payload contains this text
    #[arg(long, value_parser = not_empty)]
    pub text: Option<String>,
}

/// Every verdict hookd records (`hook_engine::verdict::Verdict::as_str`).
pub const VERDICTS: &[&str] = &[
    "allow",
    "deny",
    "ask",
    "defer",
    "block",
    "context",
    "loop-guard",
    "warn",
    "log",
    "output",
    "none",
    "error:pass",
    "error:ask",
    "error:deny",
    "fallback:pass",
    "fallback:ask",
    "fallback:deny",
];

pub fn not_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("empty; give a value or leave the filter out".into())
    } else {
        Ok(s.to_string())
    }
}

/// A verdict, or `error`/`fallback` (with or without `:`) for all of that kind.
fn verdict(s: &str) -> Result<String, String> {
    if VERDICTS.contains(&s) {
        return Ok(s.to_string());
    }
    if let Some(kind) = ["error", "fallback"]
        .into_iter()
        .find(|k| s == *k || s.strip_prefix(*k) == Some(":"))
    {
        return Ok(format!("{kind}:"));
    }
    // A close spelling, or the verdict a word like `denied`, `allowed`, `blocked` starts as.
    let hint = hook_engine::settings::did_you_mean(s, VERDICTS.iter().copied())
        .or_else(|| {
            let stem = s.get(..3)?;
            VERDICTS.iter().copied().find(|v| v.starts_with(stem))
        })
        .map(|v| format!(" (did you mean {v}?)"))
        .unwrap_or_default();
    Err(format!(
        "no event has this verdict{hint}; valid: {}, error, fallback",
        VERDICTS.join(", ")
    ))
}

/// A known event name, one of hookd's own records (`bypass`), or one shaped like an event name
/// (`FutureEvent`: hookd records events this build does not know yet) that is not a near miss
/// of a known one.
fn event_name(s: &str) -> Result<String, String> {
    let names = hook_engine::events::EVENTS
        .iter()
        .map(|e| e.name)
        .chain([hook_engine::session::BYPASS_EVENT]);
    if names.clone().any(|n| n == s) {
        return Ok(s.to_string());
    }
    if let Some(v) = hook_engine::settings::did_you_mean(s, names.clone()) {
        return Err(format!("not an event name (did you mean {v}?)"));
    }
    let shaped = s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric());
    if shaped {
        return Ok(s.to_string());
    }
    Err(format!(
        "not an event name; event names are written like PreToolUse: {}",
        names.collect::<Vec<_>>().join(", ")
    ))
}

/// Claude Code's built-in tools, for a hint when a name is spelled in another case.
const TOOLS: &[&str] = &[
    "Bash",
    "BashOutput",
    "Edit",
    "ExitPlanMode",
    "Glob",
    "Grep",
    "KillShell",
    "LS",
    "MultiEdit",
    "NotebookEdit",
    "NotebookRead",
    "Read",
    "Skill",
    "SlashCommand",
    "Task",
    "TodoWrite",
    "WebFetch",
    "WebSearch",
    "Write",
];

fn tool_name(s: &str) -> Result<String, String> {
    if let Some(t) = TOOLS.iter().find(|t| t.eq_ignore_ascii_case(s) && **t != s) {
        return Err(format!("tool names are case-sensitive: did you mean {t}?"));
    }
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(
            "a tool name is letters, digits, `_` and `-`, as Claude Code names it (Bash, Edit, \
             Read, mcp__github__create_issue); one name, not a pattern"
                .into(),
        );
    }
    Ok(s.to_string())
}

/// A project directory as hookd records it: absolute, without a trailing `/`.
fn project_dir(s: &str) -> Result<String, String> {
    let s = not_empty(s)?;
    let p = std::path::Path::new(&s);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot resolve a relative path: {e}"))?
            .join(p)
    };
    let abs = abs.canonicalize().unwrap_or(abs);
    Ok(abs.display().to_string())
}

pub fn time(s: &str) -> Result<String, String> {
    format::parse_time(s, format::now_ms()).map(|_| s.to_string())
}

impl Filters {
    /// The query these filters describe.
    ///
    /// # Errors
    ///
    /// A time range no event can be in.
    pub fn query(&self, limit: u32, with_payload: bool) -> anyhow::Result<EventQuery> {
        let now = format::now_ms();
        let time = |t: &Option<String>| {
            t.as_deref()
                .map(|s| format::parse_time(s, now))
                .transpose()
                .map_err(|e| anyhow!(e))
        };
        let (since_ms, until_ms) = (time(&self.since)?, time(&self.until)?);
        if let (Some(a), Some(b)) = (since_ms, until_ms)
            && a >= b
        {
            return Err(anyhow!(
                "--since {} is not before --until {}: no event can match",
                format::utc(a),
                format::utc(b)
            ));
        }
        Ok(EventQuery {
            session: self.session.clone(),
            event: self.event.clone(),
            verdict: self.verdict.clone(),
            tool: self.tool.clone(),
            rule: self.rule.clone(),
            project: self.project.clone(),
            since_ms,
            until_ms,
            text: self.text.clone(),
            limit,
            with_payload,
        })
    }
}

/// `--limit`: from 1 to hookd's cap on one answer.
pub fn limit() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=100_000)
}
