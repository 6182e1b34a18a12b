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

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// A tool call that ran without a PreToolUse in its session ([`Session::observe`] finds them;
/// the handler records, counts and reports them: docs/operations.md, "Bypass alarm").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bypass {
    /// The tool.
    pub tool: Arc<str>,
    /// The call's `tool_use_id`.
    pub tool_use_id: Box<str>,
    /// The event that showed it (PostToolUse, PostToolUseFailure, PostToolBatch).
    pub seen_in: &'static str,
}

/// What the bypass alarm keeps of a session: allocated at its first tool call with an id, so a
/// session without any costs one pointer.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    /// Its tool calls by `tool_use_id`.
    pub ids: CallIds,
    /// Its bypasses, allocated at the first one (most sessions never have one).
    pub bypass: Option<Box<BypassLog>>,
}

/// A session's bypasses.
#[derive(Debug, Clone, Default)]
pub struct BypassLog {
    /// Bypasses in all.
    pub total: u64,
    /// Found by the last [`Session::observe`] (the handler takes them).
    pub new: Vec<Bypass>,
    /// Not yet told to the model and the user (the next event that can carry a context tells
    /// them).
    pub untold: Vec<Bypass>,
}

/// The bounded memory of a session's tool calls by `tool_use_id`: those that passed
/// PreToolUse and have not finished, and those recently finished, as 32-bit hashes (the low
/// bit marks a finished call) in one vector, oldest first: 4 bytes a call, at most
/// `MAX_IN_FLIGHT` + `MAX_FINISHED` of them (10,000 live sessions: BENCHMARKS.md).
#[derive(Debug, Clone, Default)]
pub struct CallIds(Vec<u32>);

const FINISHED: u32 = 1;

fn call_key(id: &str) -> u32 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same in every process (replay rebuilds the same set).
    let mut h = std::hash::DefaultHasher::new();
    id.hash(&mut h);
    let h = h.finish();
    #[allow(clippy::cast_possible_truncation)] // folding 64 bits into 32 on purpose
    let folded = (h ^ (h >> 32)) as u32;
    folded & !FINISHED
}

impl CallIds {
    fn find(&self, key: u32) -> Option<usize> {
        self.0.iter().position(|e| e & !FINISHED == key)
    }

    /// Adds `entry`, dropping the oldest finished call past [`MAX_FINISHED`] and the oldest
    /// call in flight past [`MAX_IN_FLIGHT`].
    fn push(&mut self, entry: u32) {
        let finished = entry & FINISHED != 0;
        let (limit, same_kind) = if finished {
            (MAX_FINISHED, FINISHED)
        } else {
            (MAX_IN_FLIGHT, 0)
        };
        if self.0.iter().filter(|e| *e & FINISHED == same_kind).count() >= limit
            && let Some(i) = self.0.iter().position(|e| e & FINISHED == same_kind)
        {
            self.0.remove(i);
        }
        self.0.push(entry);
    }

    /// A PreToolUse for `id`.
    fn pre(&mut self, id: &str) {
        let key = call_key(id);
        if self.find(key).is_none() {
            self.push(key);
        }
    }

    /// A post event for `id`: false when the call never had a PreToolUse (a bypass). Either
    /// way the call is finished now.
    fn post(&mut self, id: &str) -> bool {
        let key = call_key(id);
        match self.find(key) {
            Some(i) if self.0[i] & FINISHED != 0 => true,
            Some(i) => {
                self.0.remove(i);
                self.push(key | FINISHED);
                true
            }
            None => {
                self.push(key | FINISHED);
                false
            }
        }
    }

    /// (calls in flight, finished calls) remembered.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        let finished = self.0.iter().filter(|e| *e & FINISHED != 0).count();
        (self.0.len() - finished, finished)
    }
}

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

/// A file the session touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileTouch {
    /// When (ms since the epoch).
    pub time_ms: i64,
    /// By which tool.
    pub tool: Arc<str>,
}

/// Files by absolute path (read, edited). Most sessions touch a few files: up to
/// 16 (`SMALL_FILES`) they sit in a vector sized to fit (48 bytes a file), past that in a hash
/// table. A table's smallest allocation was 224 bytes, and each session had two: with 10,000
/// live sessions, about a quarter of their memory (BENCHMARKS.md, issue 18).
#[derive(Debug, Clone)]
pub enum FileMap {
    /// Few files, in the order first touched.
    Small(Vec<(PathBuf, FileTouch)>),
    /// Many.
    Large(HashMap<PathBuf, FileTouch>),
}

/// Files kept in a vector before a [`FileMap`] becomes a hash table.
const SMALL_FILES: usize = 16;

impl Default for FileMap {
    fn default() -> Self {
        Self::Small(Vec::new())
    }
}

impl FileMap {
    /// How many files.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Small(v) => v.len(),
            Self::Large(m) => m.len(),
        }
    }

    /// Whether it holds no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `path` is in it.
    #[must_use]
    pub fn contains_key(&self, path: &Path) -> bool {
        self.get(path).is_some()
    }

    /// The touch of `path`.
    #[must_use]
    pub fn get(&self, path: &Path) -> Option<&FileTouch> {
        match self {
            Self::Small(v) => v.iter().find(|(p, _)| p == path).map(|(_, t)| t),
            Self::Large(m) => m.get(path),
        }
    }

    /// Every file and its touch (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&PathBuf, &FileTouch)> {
        let (small, large) = match self {
            Self::Small(v) => (Some(v.iter().map(|(p, t)| (p, t))), None),
            Self::Large(m) => (None, Some(m.iter())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }

    /// Sets the touch of `path`.
    pub fn insert(&mut self, path: PathBuf, touch: FileTouch) {
        match self {
            Self::Small(v) => {
                if let Some(slot) = v.iter_mut().find(|(p, _)| *p == path) {
                    slot.1 = touch;
                } else if v.len() < SMALL_FILES {
                    v.reserve_exact(1);
                    v.push((path, touch));
                } else {
                    let mut m: HashMap<PathBuf, FileTouch> = v.drain(..).collect();
                    m.insert(path, touch);
                    *self = Self::Large(m);
                }
            }
            Self::Large(m) => {
                m.insert(path, touch);
            }
        }
    }

    /// Forgets `path`.
    pub fn remove(&mut self, path: &Path) {
        match self {
            Self::Small(v) => v.retain(|(p, _)| p != path),
            Self::Large(m) => {
                m.remove(path);
            }
        }
    }
}

impl Serialize for FileMap {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_map(self.iter())
    }
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

    /// A post event for the call `id` of `tool`: a bypass when the call never had a PreToolUse.
    /// Only in a session whose PreToolUse events reach hookd at all (one was seen), so a
    /// set-up that sends hookd PostToolUse alone raises no alarm.
    fn check_call(&mut self, tool: &str, id: Option<&str>, event: &HookEvent) {
        let Some(id) = id.filter(|id| !id.is_empty()) else {
            return;
        };
        let calls = self.calls.get_or_insert_with(Box::default);
        if !calls.ids.post(id) && !self.tool_calls.is_empty() {
            let seen_in = match event.name.as_str() {
                "PostToolUse" => "PostToolUse",
                "PostToolUseFailure" => "PostToolUseFailure",
                _ => "PostToolBatch",
            };
            let log = calls.bypass.get_or_insert_with(Box::default);
            log.total += 1;
            log.new.push(Bypass {
                tool: intern(tool),
                tool_use_id: id.into(),
                seen_in,
            });
        }
    }

    /// Tool calls that ran without a PreToolUse in this session.
    #[must_use]
    pub fn bypasses(&self) -> u64 {
        self.calls
            .as_ref()
            .and_then(|c| c.bypass.as_ref())
            .map_or(0, |l| l.total)
    }

    /// The session's bypass log, if it has had a bypass.
    pub fn bypass_log(&mut self) -> Option<&mut BypassLog> {
        self.calls.as_deref_mut()?.bypass.as_deref_mut()
    }

    /// The bypasses the last [`Session::observe`] found.
    pub fn take_new_bypasses(&mut self) -> Vec<Bypass> {
        self.bypass_log()
            .map(|l| std::mem::take(&mut l.new))
            .unwrap_or_default()
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

fn insert_bounded(map: &mut FileMap, path: PathBuf, touch: FileTouch) {
    if map.len() >= MAX_FILES && !map.contains_key(&path) {
        // Drop the oldest entry: a long session keeps its recent files.
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, t)| t.time_ms)
            .map(|(p, _)| p.clone())
        {
            map.remove(&oldest);
        }
    }
    map.insert(path, touch);
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

/// A session behind its own lock: events of one session are handled in order, sessions in
/// parallel.
pub type SharedSession = Arc<Mutex<Session>>;

pub use crate::event::MAX_SESSION_ID_LEN;

/// Sessions kept in memory unless `[session] max_live` says.
pub(crate) const DEFAULT_MAX_LIVE: usize = crate::settings::DEFAULT_MAX_LIVE;

/// Every session in memory: at most `max_live`, the least recently active evicted first.
#[derive(Debug)]
pub struct SessionTable {
    /// Keyed by the session's own id (one allocation for both).
    sessions: HashMap<Arc<str>, SharedSession>,
    /// The most sessions kept in memory.
    max_live: usize,
}

impl Default for SessionTable {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LIVE)
    }
}

impl SessionTable {
    /// An empty table keeping at most `max_live` sessions (at least 1).
    #[must_use]
    pub fn new(max_live: usize) -> Self {
        Self {
            sessions: HashMap::new(),
            max_live: max_live.max(1),
        }
    }

    /// The most sessions kept in memory.
    #[must_use]
    pub fn max_live(&self) -> usize {
        self.max_live
    }

    /// The session, if it is in memory.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<SharedSession> {
        self.sessions.get(id).cloned()
    }

    /// Whether the session is in memory.
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.sessions.contains_key(id)
    }

    /// The session, created empty if unknown (evicting the least recently active sessions
    /// when the table is full).
    pub fn get_or_create(&mut self, id: &str, now_ms: i64) -> SharedSession {
        if let Some(s) = self.sessions.get(id) {
            return Arc::clone(s);
        }
        self.make_room();
        let s = Session::new(id, now_ms);
        let key = Arc::clone(&s.id);
        let shared = Arc::new(Mutex::new(s));
        self.sessions.insert(key, Arc::clone(&shared));
        shared
    }

    /// Adds a session rebuilt from the store, unless one appeared meanwhile.
    pub fn insert_replayed(&mut self, s: Session) {
        if self.sessions.contains_key(&s.id) {
            return;
        }
        self.make_room();
        self.sessions
            .insert(Arc::clone(&s.id), Arc::new(Mutex::new(s)));
    }

    /// With the table full, evicts the least recently active sessions not in use: a batch of
    /// 1/64 of the cap at once, so a stream of new sessions costs one scan per batch, not one
    /// per session. Evicted sessions are rebuilt from the store if they come back.
    fn make_room(&mut self) -> usize {
        if self.sessions.len() < self.max_live {
            return 0;
        }
        let want = (self.sessions.len() + 1 - self.max_live)
            .max(self.max_live / 64)
            .max(1);
        // (last activity, id) of sessions no event is using (the table holds the only handle).
        let mut idle: Vec<(i64, Arc<str>)> = self
            .sessions
            .iter()
            .filter(|(_, s)| Arc::strong_count(s) == 1)
            .map(|(k, s)| {
                let last = s.lock().map_or(i64::MIN, |s| s.last_ms.max(s.started_ms));
                (last, Arc::clone(k))
            })
            .collect();
        let n = want.min(idle.len());
        if n == 0 {
            return 0;
        }
        if n < idle.len() {
            idle.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        }
        for (_, k) in idle.iter().take(n) {
            self.sessions.remove(k);
        }
        drop(idle);
        self.after_eviction();
        n
    }

    /// Sessions in memory and not ended.
    #[must_use]
    pub fn active(&self) -> usize {
        self.sessions
            .values()
            .filter(|s| s.lock().map(|s| s.ended_ms.is_none()).unwrap_or(false))
            .count()
    }

    /// Sessions in memory.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is in memory.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The table's capacity (for tests: it shrinks after evictions).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.sessions.capacity()
    }

    /// Drops sessions idle for `ttl_ms` (they are rebuilt from the store if they come back).
    pub fn evict_idle(&mut self, now_ms: i64, ttl_ms: i64) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| {
            Arc::strong_count(s) > 1
                || s.lock()
                    .map(|s| now_ms - s.last_ms < ttl_ms)
                    .unwrap_or(false)
        });
        let evicted = before - self.sessions.len();
        if evicted > 0 {
            self.after_eviction();
        }
        evicted
    }

    /// Gives back what evicted sessions held: strings only they used, and the table's own
    /// slots once it is mostly empty (a `HashMap` never shrinks by itself: after a flood of
    /// 100,000 sessions its 100,000 slots would stay).
    fn after_eviction(&mut self) {
        crate::intern::purge();
        let len = self.sessions.len();
        if self.sessions.capacity() > 1024 && len * 4 < self.sessions.capacity() {
            self.sessions.shrink_to((len * 2).max(1024));
        }
    }
}

/// The event name of a bypass record in the store (`hookctl events --event bypass`).
pub const BYPASS_EVENT: &str = "bypass";

/// One stored event as replay needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// When it was answered (ms since the epoch).
    pub time_ms: i64,
    /// The stored (redacted) event JSON.
    pub payload: Vec<u8>,
    /// What hookd answered.
    pub verdict: Verdict,
    /// The rules that matched.
    pub rules: Vec<String>,
    /// Its project directory.
    pub project_dir: Option<String>,
}

/// Rebuilds a session from its stored rows (oldest first). `home` turns `/home/[USER]/`
/// (redacted paths) back into the real home.
#[must_use]
pub fn replay(id: &str, rows: &[StoredEvent], home: Option<&str>) -> Session {
    let mut s = Session::new(id, rows.first().map_or(0, |r| r.time_ms));
    for StoredEvent {
        time_ms,
        payload,
        verdict,
        rules,
        project_dir: project,
    } in rows
    {
        let text = String::from_utf8_lossy(payload);
        let text = match home {
            Some(h) => text.replace("/home/[USER]", h.trim_end_matches('/')),
            None => text.into_owned(),
        };
        let Ok(event) = HookEvent::parse(text.as_bytes(), None) else {
            continue;
        };
        if event.name == BYPASS_EVENT {
            continue;
        }
        s.observe(&event, project.as_deref(), home, *time_ms);
        s.record_verdict(&event.name, verdict, rules, *time_ms);
    }
    // Bypasses found again while replaying were recorded and told when they happened.
    s.take_new_bypasses();
    s
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod file_map_tests {
    use super::*;

    fn touch(time_ms: i64) -> FileTouch {
        FileTouch {
            time_ms,
            tool: intern("Read"),
        }
    }

    #[test]
    fn a_file_map_answers_the_same_small_and_large() {
        let mut m = FileMap::default();
        for i in 0..40_i64 {
            m.insert(PathBuf::from(format!("/p/f{}", i % 30)), touch(i));
            assert!(matches!(m, FileMap::Small(_)) == (m.len() <= SMALL_FILES));
        }
        assert_eq!(m.len(), 30);
        assert!(matches!(m, FileMap::Large(_)));
        assert_eq!(m.get(Path::new("/p/f3")).map(|t| t.time_ms), Some(33));
        assert_eq!(m.get(Path::new("/p/f29")).map(|t| t.time_ms), Some(29));
        m.remove(Path::new("/p/f3"));
        assert!(!m.contains_key(Path::new("/p/f3")));
        assert_eq!(m.iter().count(), 29);

        let mut small = FileMap::default();
        small.insert("/a".into(), touch(1));
        small.insert("/b".into(), touch(2));
        small.insert("/a".into(), touch(3));
        assert_eq!(small.len(), 2);
        assert_eq!(small.get(Path::new("/a")).map(|t| t.time_ms), Some(3));
        let FileMap::Small(v) = &small else {
            panic!("two files are kept in a vector")
        };
        assert_eq!(v.capacity(), 2, "sized to fit");
        let json = serde_json::to_value(&small).unwrap();
        assert_eq!(json["/a"]["time_ms"], 3);
        small.remove(Path::new("/a"));
        assert_eq!(
            small.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            [PathBuf::from("/b")]
        );
    }
}
