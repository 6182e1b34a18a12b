//! Per-session state: what a stateless hook script cannot know.
//!
//! A session is a fold over its events: [`Session::observe`] before rules run (prompts, tool
//! calls, files read and edited, commands and their exit status, subagents, turns) and
//! `Session::record_verdict` after (verdicts by rule, denials, consecutive Stop blocks, rule
//! fire times). Because every event is committed to the store before its verdict is sent, a
//! restarted hookd, or one that evicted an idle session, rebuilds the same state by replaying
//! the session's rows ([`SessionTable::insert_replayed`]): one mechanism, exact after `kill -9`.
//!
//! Pure: no I/O here; the handler loads rows and checks the filesystem.
//!
//! Here: the [`Session`] record and its fold. Beside it: `files` (the files a session
//! touched), `calls` (the bypass alarm's memory of tool calls), `table` (the live sessions and
//! their eviction), `replay` (a session rebuilt from its stored rows).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::event::{HookEvent, Value};
use crate::intern::intern;
use crate::paths::absolutize;
use crate::verdict::Verdict;

/// Commands kept per session (oldest dropped first).
const MAX_COMMANDS: usize = 512;
/// Fire times kept per rule (for rate limits).
const MAX_FIRES: usize = 1024;
/// Files kept per list.
const MAX_FILES: usize = 4096;
/// Tool calls kept per session that had a PreToolUse and no post event yet (oldest dropped
/// first). A call leaves when its PostToolUse, PostToolUseFailure or PostToolBatch arrives, so
/// only calls in flight (and denied calls before their batch ends) stay.
const MAX_IN_FLIGHT: usize = 256;
/// Tool calls kept per session whose PostToolUse (or PostToolBatch) was seen, so the batch's
/// PostToolBatch and duplicate deliveries find them.
const MAX_FINISHED: usize = 64;

mod calls;
mod files;
mod replay;
mod table;

pub use calls::{Bypass, BypassLog, CallIds, Calls};
use files::insert_bounded;
pub use files::{FileMap, FileTouch};
pub use replay::{BYPASS_EVENT, StoredEvent, replay};
pub use table::{MAX_SESSION_ID_LEN, SessionTable, SharedSession};

/// One Bash command the session ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRun {
    /// The command string.
    pub command: String,
    /// When it finished (ms since the epoch).
    pub time_ms: i64,
    /// Whether it succeeded (PostToolUse) or failed (PostToolUseFailure).
    pub ok: bool,
    /// The exit code, when Claude Code reported one.
    pub exit_code: Option<i64>,
}

/// The current turn: since the last UserPromptSubmit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// When it started.
    pub started_ms: i64,
    /// Tool calls in it.
    pub tool_calls: u64,
    /// Edits in it.
    pub edits: u64,
}

/// What hookd knows of one Claude Code session.
///
/// Laid out for 10,000s of live sessions: strings that sessions share (project, tools, rules,
/// model) are interned (`crate::intern`), small keyed counts are vectors, and "fired once"
/// is read off the verdict counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Session {
    /// The session id.
    pub id: Arc<str>,
    /// When it was first seen (ms since the epoch).
    pub started_ms: i64,
    /// The last event's time.
    pub last_ms: i64,
    /// `CLAUDE_PROJECT_DIR`, else the first cwd seen.
    pub project_dir: Option<Arc<str>>,
    /// The last cwd seen.
    pub cwd: Option<Arc<str>>,
    /// The transcript path.
    pub transcript_path: Option<Box<str>>,
    /// The model, when an event named it.
    pub model: Option<Arc<str>>,
    /// The agent type, when an event named it.
    pub agent_type: Option<Arc<str>>,
    /// SessionStart's `source` (startup, resume, …).
    pub(crate) start_source: Option<Arc<str>>,
    /// When SessionEnd arrived.
    pub ended_ms: Option<i64>,
    /// SessionEnd's `reason`.
    pub(crate) end_reason: Option<Arc<str>>,
    /// Events seen.
    pub events: u64,
    /// Prompts submitted.
    pub prompts: u64,
    /// When the last prompt was submitted.
    pub(crate) last_prompt_ms: Option<i64>,
    /// Tool calls requested (PreToolUse), by tool.
    #[serde(serialize_with = "as_map")]
    pub tool_calls: Vec<(Arc<str>, u64)>,
    /// Files read (or written, which also shows their content), by absolute path.
    pub files_read: FileMap,
    /// Files edited or written, by absolute path.
    pub files_edited: FileMap,
    /// Bash commands run, oldest first.
    pub commands: VecDeque<CommandRun>,
    /// Subagents started.
    pub subagents_started: u64,
    /// Subagents stopped.
    pub(crate) subagents_stopped: u64,
    /// Verdicts given, by rule (a rule listed here has fired at least once).
    #[serde(serialize_with = "as_map")]
    pub(crate) verdicts_by_rule: Vec<(Arc<str>, u64)>,
    /// deny and ask verdicts given.
    pub denials: u64,
    /// Consecutive Stop/SubagentStop blocks (reset when a stop passes or a prompt arrives).
    pub stop_blocks: u32,
    /// Stops the loop guard let through.
    pub loop_guard_releases: u64,
    /// The current turn.
    pub turn: Turn,
    /// Match times per rule (and per `tool:<name>`, `attempt:<rule>`), newest last (rate
    /// limits).
    #[serde(skip)]
    pub fires: Vec<(Arc<str>, VecDeque<i64>)>,
    /// When the session's store row was last written (0: never since loaded).
    #[serde(skip)]
    pub(crate) row_written_ms: i64,
    /// The last rules notice this session was told (`lastgood::notice_id`; 0: none).
    #[serde(skip)]
    pub rules_notice: u64,
    /// Tool calls by `tool_use_id` and those that ran without a PreToolUse (the bypass
    /// alarm); shown as the count of bypasses.
    #[serde(rename = "bypasses", serialize_with = "bypass_count")]
    pub calls: Option<Box<Calls>>,
}

#[allow(clippy::ref_option)] // serde's serialize_with passes `&Option<…>`
fn bypass_count<S: Serializer>(calls: &Option<Box<Calls>>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u64(
        calls
            .as_ref()
            .and_then(|c| c.bypass.as_ref())
            .map_or(0, |l| l.total),
    )
}

/// Serializes `(key, value)` pairs as a JSON object, as the maps they stand for.
fn as_map<S: Serializer, V: Serialize>(pairs: &[(Arc<str>, V)], ser: S) -> Result<S::Ok, S::Error> {
    ser.collect_map(pairs.iter().map(|(k, v)| (&**k, v)))
}

/// The value under `key` in a small keyed vector, added with `V::default()` if missing.
fn entry<'a, V: Default>(pairs: &'a mut Vec<(Arc<str>, V)>, key: &str) -> &'a mut V {
    let i = match pairs.iter().position(|(k, _)| &**k == key) {
        Some(i) => i,
        None => {
            // Sized to fit: a session has a few keys (tools, rules), and a vector's first
            // push would reserve room for four.
            pairs.reserve_exact(1);
            pairs.push((intern(key), V::default()));
            pairs.len() - 1
        }
    };
    &mut pairs[i].1
}

/// A session's store row is rewritten at most this often (ms), besides start and end.
pub(crate) const ROW_EVERY_MS: i64 = 10_000;

impl Session {
    /// Whether the store row should be written with this event; marks it written.
    pub fn take_row_update(&mut self, event: &str, now_ms: i64) -> bool {
        let due = self.row_written_ms == 0
            || matches!(event, "SessionStart" | "SessionEnd")
            || now_ms - self.row_written_ms >= ROW_EVERY_MS;
        if due {
            self.row_written_ms = now_ms;
        }
        due
    }
}

fn str_at<'a>(v: Value<'a>, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl Session {
    /// A new session first seen at `now_ms`.
    #[must_use]
    pub fn new(id: &str, now_ms: i64) -> Self {
        Self {
            id: Arc::from(id),
            started_ms: now_ms,
            turn: Turn {
                started_ms: now_ms,
                ..Turn::default()
            },
            ..Self::default()
        }
    }

    /// Total tool calls.
    #[must_use]
    pub(crate) fn total_tool_calls(&self) -> u64 {
        self.tool_calls.iter().map(|(_, n)| n).sum()
    }

    /// Folds in one event, before rules run. `home` resolves `~` in paths.
    pub fn observe(
        &mut self,
        event: &HookEvent,
        project_dir: Option<&str>,
        home: Option<&str>,
        now_ms: i64,
    ) {
        let v = event.value();
        self.events += 1;
        if let Some(log) = self.bypass_log() {
            log.new.clear();
        }
        self.last_ms = self.last_ms.max(now_ms);
        if let Some(cwd) = event.cwd()
            && self.cwd.as_deref() != Some(cwd)
        {
            self.cwd = Some(intern(cwd));
        }
        if self.project_dir.is_none() {
            self.project_dir = project_dir.map(intern).or_else(|| self.cwd.clone());
        }
        if let Some(t) = str_at(v, "transcript_path")
            && self.transcript_path.as_deref() != Some(t)
        {
            self.transcript_path = Some(t.into());
        }
        if let Some(m) = str_at(v, "model").or_else(|| str_at(v, "to_model"))
            && self.model.as_deref() != Some(m)
        {
            self.model = Some(intern(m));
        }
        if self.agent_type.is_none()
            && let Some(a) = str_at(v, "agent_type")
        {
            self.agent_type = Some(intern(a));
        }
        let tool = event.tool_name().unwrap_or("");
        let input = v.get("tool_input");
        let file = input
            .and_then(|i| str_at(i, "file_path").or_else(|| str_at(i, "notebook_path")))
            .map(|p| absolutize(p, event.cwd().or(self.cwd.as_deref()), home));
        match event.name.as_str() {
            "SessionStart" => {
                self.ended_ms = None;
                self.end_reason = None;
                self.start_source = str_at(v, "source").map(intern);
            }
            "SessionEnd" => {
                self.ended_ms = Some(now_ms);
                self.end_reason = str_at(v, "reason").map(intern);
            }
            "UserPromptSubmit" => {
                self.prompts += 1;
                self.last_prompt_ms = Some(now_ms);
                self.turn = Turn {
                    started_ms: now_ms,
                    ..Turn::default()
                };
                self.stop_blocks = 0;
            }
            "PreToolUse" => {
                if let Some(id) = str_at(v, "tool_use_id") {
                    self.calls.get_or_insert_with(Box::default).ids.pre(id);
                }
                *entry(&mut self.tool_calls, tool) += 1;
                self.turn.tool_calls += 1;
                push_bounded(entry(&mut self.fires, &format!("tool:{tool}")), now_ms);
            }
            "PostToolUse" | "PostToolUseFailure" => {
                self.check_call(tool, str_at(v, "tool_use_id"), event);
                let ok = event.name == "PostToolUse";
                if ok && let Some(path) = file {
                    let touch = FileTouch {
                        time_ms: now_ms,
                        tool: intern(tool),
                    };
                    match tool {
                        "Read" => insert_bounded(&mut self.files_read, path, touch),
                        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => {
                            insert_bounded(&mut self.files_read, path.clone(), touch.clone());
                            insert_bounded(&mut self.files_edited, path, touch);
                            self.turn.edits += 1;
                        }
                        _ => {}
                    }
                }
                if tool == "Bash"
                    && let Some(cmd) = input.and_then(|i| str_at(i, "command"))
                {
                    let exit_code = exit_code(v);
                    self.commands.push_back(CommandRun {
                        command: cmd.to_string(),
                        time_ms: now_ms,
                        ok: ok && exit_code.is_none_or(|c| c == 0),
                        exit_code,
                    });
                    if self.commands.len() > MAX_COMMANDS {
                        self.commands.pop_front();
                    }
                }
            }
            "PostToolBatch" => {
                for call in v
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let tool = str_at(call, "tool_name").unwrap_or("");
                    self.check_call(tool, str_at(call, "tool_use_id"), event);
                }
            }
            "SubagentStart" => self.subagents_started += 1,
            "SubagentStop" => self.subagents_stopped += 1,
            _ => {}
        }
    }

    /// Folds in the verdict given for an event: `rules` matched, `verdict` summarises it.
    pub(crate) fn record_verdict(
        &mut self,
        event_name: &str,
        verdict: &Verdict,
        rules: &[String],
        now_ms: i64,
    ) {
        for r in rules {
            *entry(&mut self.verdicts_by_rule, r) += 1;
            push_bounded(entry(&mut self.fires, r), now_ms);
        }
        if verdict.is_denial() {
            self.denials += 1;
        }
        if crate::events::is_stop_like(event_name) {
            match verdict {
                Verdict::Block => self.stop_blocks += 1,
                Verdict::LoopGuard => {
                    self.loop_guard_releases += 1;
                    self.stop_blocks = 0;
                }
                _ => self.stop_blocks = 0,
            }
        }
    }

    /// Whether `path` (absolute) was read or written earlier in the session.
    #[must_use]
    pub(crate) fn has_read(&self, path: &Path) -> bool {
        self.files_read.contains_key(path)
    }

    /// Whether `rule` has matched before in this session.
    #[must_use]
    pub(crate) fn has_fired(&self, rule: &str) -> bool {
        self.verdicts_by_rule.iter().any(|(r, _)| &**r == rule)
    }

    /// Fires of `rule` at or after `since_ms`.
    #[must_use]
    pub(crate) fn fires_since(&self, rule: &str, since_ms: i64) -> usize {
        self.fires
            .iter()
            .find(|(r, _)| &**r == rule)
            .map_or(0, |(_, q)| {
                q.iter().rev().take_while(|t| **t >= since_ms).count()
            })
    }

    /// Calls of `tool` requested at or after `since_ms`; tool calls are not timed individually,
    /// so this counts rule-independent calls through the fires of the pseudo-rule `tool:<name>`.
    #[must_use]
    pub(crate) fn tool_fires_since(&self, tool: &str, since_ms: i64) -> usize {
        self.fires_since(&format!("tool:{tool}"), since_ms)
    }
}

fn push_bounded(q: &mut VecDeque<i64>, t: i64) {
    q.push_back(t);
    if q.len() > MAX_FIRES {
        q.pop_front();
    }
}

/// Records that `rule`'s other conditions held now (for `rate = { of = "rule" }`).
pub(crate) fn record_attempt(s: &mut Session, rule: &str, now_ms: i64) {
    push_bounded(entry(&mut s.fires, &format!("attempt:{rule}")), now_ms);
}

/// The exit code of a Bash PostToolUse/PostToolUseFailure, where Claude Code reports one.
fn exit_code(v: Value<'_>) -> Option<i64> {
    let resp = v.get("tool_response");
    if let Some(code) = resp
        .and_then(|r| r.get("exitCode").or_else(|| r.get("exit_code")))
        .and_then(Value::as_i64)
    {
        return Some(code);
    }
    // PostToolUseFailure: "error": "Exit code 1\n…"
    let err = str_at(v, "error")?;
    let rest = err.split("Exit code ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit() && c != '-')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests;
