//! Claude Code settings files: the hook schema check and the edits `hookctl install` makes.
//!
//! Pure: no file, process or environment access (`cmd/install.rs` does the I/O). Values are
//! `serde_json` maps with `preserve_order`, so an edit keeps the file's key order, and every
//! removal uses `shift_remove` for the same reason.
//!
//! Which entries are ours: a `command` handler (shell form, no `args`) whose command is
//! exactly `<absolute path ending in /hook-client> --event <the event it is listed under>`,
//! optionally followed by `--fail-mode <spec>` and `--deadline <secs>s` (each at most once),
//! quoted the way [`shell_quote`] quotes. That
//! is all `install` writes and all `uninstall` removes. Any other command naming hook-client
//! is the user's own wiring and is left alone.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::ser::PrettyFormatter;
use serde_json::{Map, Value, json};

/// The file name hook-client must have: how our entries are recognised.
pub const CLIENT_NAME: &str = "hook-client";

/// Timeout (seconds) for SessionEnd entries.
///
/// SessionEnd hooks share a 1.5 s budget by default, shorter than hook-client's 2 s deadline
/// (which includes autostarting hookd), so the client could be killed before it records the
/// event or falls back. A hook's own `timeout` extends the budget (docs/claude-code-hooks.md). 5 s
/// covers the deadline with room to spare while keeping a wedged exit short: Claude Code
/// waits only as long as the client actually runs.
pub const SESSION_END_TIMEOUT_SECS: u64 = 5;

/// Timeout (seconds) for guard events (PreToolUse, PermissionRequest, PreSkillShellCommand).
///
/// hook-client gives up after 2 s (autostart included) and then answers with its fail mode
/// itself, so 10 s is never reached in normal operation; it leaves room for a slow spawn on a
/// loaded machine, where being killed would turn the client's chosen answer (`ask` by
/// default) into Claude Code's "no verdict". The 600 s default would let a wedged client
/// hold a tool call for ten minutes.
pub const GUARD_TIMEOUT_SECS: u64 = 10;

/// Timeout (seconds) for every other event: the same reasoning as [`GUARD_TIMEOUT_SECS`]. It
/// is only an upper bound; hook-client normally exits within milliseconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// Events whose hooks take over what Claude Code would otherwise do itself, so `install`
/// never wires them: with a WorktreeCreate hook the CLI creates no git worktree and expects the
/// hook to print the new worktree's path (checked on 2.1.328: a hook that exits 0 silently makes
/// `claude --worktree` fail with "hook succeeded but returned no worktree path"); with a
/// WorktreeRemove hook it leaves removal to the hook. hook-client does neither.
pub const REPLACING_EVENTS: &[&str] = &["WorktreeCreate", "WorktreeRemove"];

/// The 34 known event names, in Claude Code's `HOOK_EVENTS` order.
pub fn event_names() -> impl Iterator<Item = &'static str> {
    hook_engine::events::EVENTS.iter().map(|e| e.name)
}

/// The timeout (seconds) `install` writes for `event`.
#[must_use]
pub fn timeout_secs(event: &str) -> u64 {
    match event {
        "SessionEnd" => SESSION_END_TIMEOUT_SECS,
        "PreToolUse" | "PermissionRequest" | "PreSkillShellCommand" => GUARD_TIMEOUT_SECS,
        _ => DEFAULT_TIMEOUT_SECS,
    }
}

/// Quotes `s` for `/bin/sh -c`: unchanged when it holds only characters the shell takes
/// literally, else in single quotes (an inner `'` becomes `'\''`).
#[must_use]
pub fn shell_quote(s: &str) -> Cow<'_, str> {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./,:+@%=".contains(c));
    if plain {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
    }
}

/// Splits a simple shell command into words, or `None` when it is not a plain word list
/// (unquoted operators, expansions, globs, comments, unterminated quotes).
///
/// Enough to recognise what [`shell_quote`] writes; not a shell parser.
fn shell_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next()? {
                    '\n' => {}
                    c => word.push(c),
                }
            }
            '#' | '~' if !in_word => return None,
            c if "|&;<>()$`*?[]{}!\n\r".contains(c) => return None,
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

fn names_client(path: &str) -> bool {
    Path::new(path)
        .file_name()
        .is_some_and(|n| n == CLIENT_NAME)
}

/// What `install` writes: the client's absolute path and an optional fail-mode spec.
#[derive(Debug, Clone, Copy)]
pub struct Wiring<'a> {
    /// hook-client's absolute path.
    pub client: &'a str,
    /// Appended as `--fail-mode SPEC` when set.
    pub fail_mode: Option<&'a str>,
    /// Appended as `--deadline <n>s` when set: hook-client waits this long for hookd (sync
    /// `run` rules need longer than the default 2 s); the entry's `timeout` grows to match.
    pub deadline_secs: Option<u64>,
}

/// Seconds of an entry's `timeout` beyond hook-client's `--deadline`, so Claude Code never
/// kills the client before it answers (or falls back) itself.
pub const DEADLINE_HEADROOM_SECS: u64 = 5;

impl Wiring<'_> {
    /// The shell command for `event`: `<client> --event <event> [--fail-mode <spec>]`.
    #[must_use]
    pub fn command(&self, event: &str) -> String {
        let mut cmd = format!(
            "{} --event {}",
            shell_quote(self.client),
            shell_quote(event)
        );
        if let Some(spec) = self.fail_mode {
            cmd.push_str(" --fail-mode ");
            cmd.push_str(&shell_quote(spec));
        }
        if let Some(secs) = self.deadline_secs {
            cmd.push_str(&format!(" --deadline {secs}s"));
        }
        cmd
    }

    /// The `timeout` (seconds) written for `event`: [`timeout_secs`], raised to cover the
    /// deadline.
    #[must_use]
    pub fn timeout(&self, event: &str) -> u64 {
        let base = timeout_secs(event);
        self.deadline_secs
            .map_or(base, |d| base.max(d + DEADLINE_HEADROOM_SECS))
    }

    /// The handler object for `event`, keys in the order written.
    #[must_use]
    pub fn handler(&self, event: &str) -> Value {
        json!({"type": "command", "command": self.command(event), "timeout": self.timeout(event)})
    }
}

/// Whether `handler`, listed under `event`, is an entry `install` writes.
#[must_use]
pub fn is_ours(handler: &Value, event: &str) -> bool {
    let Some(h) = handler.as_object() else {
        return false;
    };
    if h.get("type").and_then(Value::as_str) != Some("command") || h.contains_key("args") {
        return false;
    }
    let Some(words) = h
        .get("command")
        .and_then(Value::as_str)
        .and_then(shell_words)
    else {
        return false;
    };
    let [client, flag, ev, rest @ ..] = words.as_slice() else {
        return false;
    };
    let flags: Vec<&str> = rest.iter().step_by(2).map(String::as_str).collect();
    let rest_ok = rest.len() % 2 == 0
        && rest.len() <= 4
        && flags
            .iter()
            .all(|f| matches!(*f, "--fail-mode" | "--deadline"))
        && !(flags.len() == 2 && flags[0] == flags[1]);
    client.starts_with('/') && names_client(client) && flag == "--event" && ev == event && rest_ok
}

/// The hook-client a `command` handler runs (exec form's `command`, or the first word of a
/// shell command), when it names one.
#[must_use]
pub fn client_of(handler: &Value) -> Option<String> {
    let h = handler.as_object()?;
    if h.get("type").and_then(Value::as_str) != Some("command") {
        return None;
    }
    let command = h.get("command").and_then(Value::as_str)?;
    let first = if h.contains_key("args") {
        Some(command.to_string())
    } else {
        shell_words(command).and_then(|w| w.into_iter().next())
    };
    first.filter(|w| names_client(w))
}

/// A hook-client command under `event` that `install` did not write (e.g. hand-edited with
/// extra flags), returned as its command text.
fn foreign_client_command(handler: &Value, event: &str) -> Option<String> {
    let h = handler.as_object()?;
    if h.get("type").and_then(Value::as_str) != Some("command") || is_ours(handler, event) {
        return None;
    }
    let command = h.get("command").and_then(Value::as_str)?;
    let first = if h.contains_key("args") {
        Some(command.to_string())
    } else {
        shell_words(command)
            .and_then(|w| w.into_iter().next())
            .or_else(|| {
                command
                    .split_whitespace()
                    .next()
                    .map(|w| w.trim_matches(['\'', '"']).to_string())
            })
    };
    first
        .filter(|w| names_client(w))
        .map(|_| command.to_string())
}

/// How a file was laid out, so a rewrite looks like the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// One level of indentation (spaces and/or tabs).
    pub indent: String,
    /// Lines end in `\r\n`.
    pub crlf: bool,
    /// The text ends with a line break.
    pub trailing_newline: bool,
}

impl Default for Style {
    /// Two spaces, `\n`, trailing newline: what a new file gets.
    fn default() -> Self {
        Self {
            indent: "  ".into(),
            crlf: false,
            trailing_newline: true,
        }
    }
}

impl Style {
    fn detect(text: &str) -> Self {
        let indent = text
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| &l[..l.len() - l.trim_start().len()])
            .find(|ws| !ws.is_empty())
            .filter(|ws| ws.len() <= 16 && ws.chars().all(|c| c == ' ' || c == '\t'))
            .unwrap_or("  ");
        Self {
            indent: indent.to_string(),
            crlf: text.contains("\r\n"),
            trailing_newline: text.ends_with('\n'),
        }
    }
}

/// A parsed settings file.
#[derive(Debug, Clone)]
pub struct Document {
    /// The top-level object.
    pub root: Map<String, Value>,
    /// How the file was laid out.
    pub style: Style,
}

/// Why a settings file could not be parsed.
#[derive(Debug)]
pub enum ParseError {
    /// Not JSON; `line` and `column` are 1-based.
    Syntax {
        /// serde_json's message (with the position).
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The text of that line, for context.
        excerpt: String,
    },
    /// JSON, but the top level is not an object.
    NotObject(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax {
                message,
                line,
                column,
                excerpt,
            } => {
                write!(f, "{message}")?;
                if !excerpt.is_empty() {
                    // A caret under the column (tabs kept so it lines up).
                    let pad: String = excerpt
                        .chars()
                        .take(column.saturating_sub(1))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    write!(f, "\n  {line:>4} | {excerpt}\n       | {pad}^")?;
                }
                Ok(())
            }
            Self::NotObject(kind) => {
                write!(
                    f,
                    "the top level is {kind}, but settings must be a JSON object"
                )
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a settings file. An empty or all-whitespace file counts as `{}`.
///
/// # Errors
///
/// [`ParseError`] when the bytes are not JSON or not an object.
pub fn parse(bytes: &[u8]) -> Result<Document, ParseError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Document {
            root: Map::new(),
            style: Style::default(),
        });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let text = String::from_utf8_lossy(bytes);
        let excerpt = text
            .lines()
            .nth(e.line().saturating_sub(1))
            .unwrap_or("")
            .chars()
            .take(120)
            .collect();
        ParseError::Syntax {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
            excerpt,
        }
    })?;
    let Value::Object(root) = value else {
        return Err(ParseError::NotObject(kind(&value)));
    };
    // from_slice succeeded, so the bytes are UTF-8.
    let style = Style::detect(&String::from_utf8_lossy(bytes));
    Ok(Document { root, style })
}

/// Serialises `root` in `style`.
///
/// # Errors
///
/// Only if serde_json fails, which it does not for a `Value` map.
pub fn render(root: &Map<String, Value>, style: &Style) -> serde_json::Result<String> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        PrettyFormatter::with_indent(style.indent.as_bytes()),
    );
    root.serialize(&mut ser)?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if style.trailing_newline {
        text.push('\n');
    }
    if style.crlf {
        text = text.replace('\n', "\r\n");
    }
    Ok(text)
}

/// One place where a settings file breaks Claude Code's hook schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Where, e.g. `hooks.PreToolUse[0].hooks[1]`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn key_path(base: &str, key: &str) -> String {
    let ident = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        format!("{base}.{key}")
    } else {
        format!("{base}[{}]", Value::from(key))
    }
}

/// Checks the hook parts of a settings file (`hooks` and `disableAllHooks`) against Claude
/// Code's schema (docs/claude-code-hooks.md, and the 2.1.328 CLI's zod schema).
///
/// What the 2.1.328 CLI does with a bad entry (`-p` runs): an invalid PreToolUse handler makes
/// it skip every hook in the file; elsewhere it silently drops the invalid handler (or, for a
/// non-string matcher, the whole group). Either way a hook is lost without a word, so `install`
/// refuses such files. This check is deliberately stricter than the CLI in two ways that the
/// CLI tolerates: keys the schema does not list (the CLI strips them) and event names outside
/// the 33 known ones (the CLI ignores them). A URL is taken to be `scheme://rest`.
#[must_use]
pub fn validate(root: &Map<String, Value>) -> Vec<SchemaError> {
    let mut errors = Vec::new();
    let mut err = |path: String, message: String| errors.push(SchemaError { path, message });
    if let Some(v) = root.get("disableAllHooks")
        && !v.is_boolean()
    {
        err(
            "disableAllHooks".into(),
            format!("must be true or false, not {}", kind(v)),
        );
    }
    let Some(hooks) = root.get("hooks") else {
        return errors;
    };
    let Some(hooks) = hooks.as_object() else {
        err(
            "hooks".into(),
            format!("must be an object of events, not {}", kind(hooks)),
        );
        return errors;
    };
    for (event, groups) in hooks {
        let path = key_path("hooks", event);
        if hook_engine::events::lookup(event).is_none() {
            let hint = event_names()
                .find(|n| n.eq_ignore_ascii_case(event))
                .map(|n| format!(" (did you mean {n}?)"))
                .unwrap_or_default();
            err(
                path,
                format!("unknown event {}{hint}", Value::from(event.as_str())),
            );
            continue;
        }
        let Some(groups) = groups.as_array() else {
            err(
                path,
                format!("must be an array of matcher groups, not {}", kind(groups)),
            );
            continue;
        };
        for (gi, group) in groups.iter().enumerate() {
            let gpath = format!("{path}[{gi}]");
            let Some(group) = group.as_object() else {
                err(
                    gpath,
                    format!("a matcher group must be an object, not {}", kind(group)),
                );
                continue;
            };
            for (k, v) in group {
                match k.as_str() {
                    "matcher" if !v.is_string() => {
                        err(
                            format!("{gpath}.matcher"),
                            format!("must be a string, not {}", kind(v)),
                        );
                    }
                    "matcher" | "hooks" => {}
                    other => err(
                        gpath.clone(),
                        format!(
                            "unknown key {} (a group has only matcher and hooks)",
                            Value::from(other)
                        ),
                    ),
                }
            }
            match group.get("hooks") {
                None => err(gpath, "has no \"hooks\" array".into()),
                Some(Value::Array(handlers)) => {
                    for (hi, h) in handlers.iter().enumerate() {
                        for (p, m) in handler_errors(h) {
                            let hpath = format!("{gpath}.hooks[{hi}]");
                            err(
                                if p.is_empty() {
                                    hpath
                                } else {
                                    format!("{hpath}.{p}")
                                },
                                m,
                            );
                        }
                    }
                }
                Some(other) => {
                    err(
                        format!("{gpath}.hooks"),
                        format!("must be an array, not {}", kind(other)),
                    );
                }
            }
        }
    }
    errors
}

/// The value types a handler key may take.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    NonEmptyStr,
    Bool,
    PositiveNumber,
    StrArray,
    StrMap,
    Object,
    OneOf(&'static [&'static str]),
    Url,
    Any,
}

const COMMON: &[(&str, Ty)] = &[
    ("type", Ty::Str),
    ("if", Ty::Str),
    ("timeout", Ty::PositiveNumber),
    ("statusMessage", Ty::Str),
    ("once", Ty::Bool),
];
const ON_FAILURE: (&str, Ty) = ("onFailure", Ty::OneOf(&["continue", "block"]));

/// Handler keys with the type of value each takes.
type Keys = &'static [(&'static str, Ty)];

/// Required keys and optional keys of each handler type.
fn handler_schema(ty: &str) -> Option<(Keys, Keys)> {
    Some(match ty {
        "command" => (
            &[("command", Ty::Str)],
            &[
                ("args", Ty::StrArray),
                ("shell", Ty::OneOf(&["bash", "powershell"])),
                ON_FAILURE,
                ("async", Ty::Bool),
                ("asyncRewake", Ty::Bool),
                ("rewakeMessage", Ty::NonEmptyStr),
                ("rewakeSummary", Ty::NonEmptyStr),
                ("cloud", Ty::Any),
            ],
        ),
        "http" => (
            &[("url", Ty::Url)],
            &[
                ON_FAILURE,
                ("headers", Ty::StrMap),
                ("allowedEnvVars", Ty::StrArray),
                ("cloud", Ty::Any),
            ],
        ),
        "prompt" => (
            &[("prompt", Ty::Str)],
            &[("model", Ty::Str), ("continueOnBlock", Ty::Bool)],
        ),
        "agent" => (&[("prompt", Ty::Str)], &[("model", Ty::Str)]),
        "mcp_tool" => (
            &[("server", Ty::Str), ("tool", Ty::Str)],
            &[("input", Ty::Object), ON_FAILURE],
        ),
        _ => return None,
    })
}

fn type_error(v: &Value, ty: Ty) -> Option<String> {
    let ok = match ty {
        Ty::Any => true,
        Ty::Str => v.is_string(),
        Ty::NonEmptyStr => v.as_str().is_some_and(|s| !s.is_empty()),
        Ty::Bool => v.is_boolean(),
        Ty::PositiveNumber => v.as_f64().is_some_and(|n| n > 0.0),
        Ty::StrArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Ty::StrMap => v
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string)),
        Ty::Object => v.is_object(),
        Ty::OneOf(allowed) => v.as_str().is_some_and(|s| allowed.contains(&s)),
        Ty::Url => v.as_str().is_some_and(|s| {
            s.split_once("://").is_some_and(|(scheme, rest)| {
                scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                    && !rest.is_empty()
                    && !rest.contains(char::is_whitespace)
            })
        }),
    };
    if ok {
        return None;
    }
    Some(match ty {
        Ty::Any => unreachable!("Ty::Any accepts everything"),
        Ty::Str => format!("must be a string, not {}", kind(v)),
        Ty::NonEmptyStr => "must be a non-empty string".into(),
        Ty::Bool => format!("must be true or false, not {}", kind(v)),
        Ty::PositiveNumber => format!("must be a positive number (seconds), not {v}"),
        Ty::StrArray => "must be an array of strings".into(),
        Ty::StrMap => "must be an object whose values are strings".into(),
        Ty::Object => format!("must be an object, not {}", kind(v)),
        Ty::OneOf(allowed) => format!("must be one of {}, not {v}", allowed.join(", ")),
        Ty::Url => format!("must be a URL like http://127.0.0.1:8080/hook, not {v}"),
    })
}

/// Problems with one handler as (key, message); an empty key means the handler itself.
fn handler_errors(h: &Value) -> Vec<(String, String)> {
    let Some(h) = h.as_object() else {
        return vec![(
            String::new(),
            format!("a hook must be an object, not {}", kind(h)),
        )];
    };
    let ty = match h.get("type") {
        None => return vec![(String::new(), "has no \"type\"".into())],
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return vec![(
                "type".into(),
                format!("must be a string, not {}", kind(other)),
            )];
        }
    };
    let Some((required, optional)) = handler_schema(ty) else {
        return vec![(
            "type".into(),
            format!(
                "unknown hook type {} (expected command, http, prompt, agent or mcp_tool)",
                Value::from(ty)
            ),
        )];
    };
    let mut out = Vec::new();
    for (key, _) in required {
        if !h.contains_key(*key) {
            out.push((
                String::new(),
                format!("a {ty} hook needs {}", Value::from(*key)),
            ));
        }
    }
    for (k, v) in h {
        let spec = required
            .iter()
            .chain(optional)
            .chain(COMMON)
            .find(|(name, _)| name == k);
        match spec {
            Some((_, t)) => {
                if let Some(m) = type_error(v, *t) {
                    out.push((key_path("", k).trim_start_matches('.').to_string(), m));
                }
            }
            None => out.push((
                String::new(),
                format!("unknown key {} for a {ty} hook", Value::from(k.as_str())),
            )),
        }
    }
    out
}

/// What `install` did for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// A new matcher group with our handler was appended.
    Added,
    /// Our handler was already there, unchanged.
    Present,
    /// Our handler was there with another client path, fail mode or timeout, and was
    /// rewritten in place (its other keys and its position kept).
    Updated,
    /// The event already runs hook-client through an entry `install` did not write (its
    /// command text); nothing was added, so events are not handled twice.
    Foreign(String),
}

/// Why an edit could not be applied.
#[derive(Debug)]
pub struct ShapeError(String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} does not have the shape of Claude Code hooks", self.0)
    }
}

impl std::error::Error for ShapeError {}

fn hooks_mut(
    root: &mut Map<String, Value>,
    create: bool,
) -> Result<Option<&mut Map<String, Value>>, ShapeError> {
    if create && !root.contains_key("hooks") {
        root.insert("hooks".into(), Value::Object(Map::new()));
    }
    match root.get_mut("hooks") {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(ShapeError("hooks".into())),
    }
}

fn handlers_mut<'a>(
    groups: &'a mut [Value],
    event: &str,
) -> Result<impl Iterator<Item = &'a mut Value>, ShapeError> {
    let mut all = Vec::new();
    for (i, g) in groups.iter_mut().enumerate() {
        match g.get_mut("hooks") {
            Some(Value::Array(hs)) => all.push(hs.iter_mut()),
            _ => return Err(ShapeError(format!("{}[{i}]", key_path("hooks", event)))),
        }
    }
    Ok(all.into_iter().flatten())
}

/// Adds our handler for each of `events` (valid names, in the order given) unless present.
///
/// # Errors
///
/// [`ShapeError`] when `root` was not validated first and its hooks have the wrong shape.
pub fn install(
    root: &mut Map<String, Value>,
    events: &[&str],
    wiring: &Wiring<'_>,
) -> Result<Vec<Installed>, ShapeError> {
    let mut out = Vec::with_capacity(events.len());
    for &event in events {
        let desired = wiring.command(event);
        let timeout = wiring.timeout(event);
        let mut found = None;
        let mut foreign = None;
        if let Some(hooks) = hooks_mut(root, false)? {
            match hooks.get_mut(event) {
                None => {}
                Some(Value::Array(groups)) => {
                    for h in handlers_mut(groups, event)? {
                        if is_ours(h, event) {
                            let same = h.get("command").and_then(Value::as_str)
                                == Some(desired.as_str())
                                && h.get("timeout").and_then(Value::as_u64) == Some(timeout);
                            if !same {
                                h["command"] = Value::from(desired.as_str());
                                h["timeout"] = Value::from(timeout);
                            }
                            found = Some(found.unwrap_or(Installed::Present));
                            if !same {
                                found = Some(Installed::Updated);
                            }
                        } else if foreign.is_none() {
                            foreign = foreign_client_command(h, event);
                        }
                    }
                }
                Some(_) => return Err(ShapeError(key_path("hooks", event))),
            }
        }
        let outcome = match (found, foreign) {
            (Some(done), _) => done,
            (None, Some(command)) => Installed::Foreign(command),
            (None, None) => {
                let hooks = hooks_mut(root, true)?.ok_or_else(|| ShapeError("hooks".into()))?;
                let groups = hooks
                    .entry(event)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(groups) = groups else {
                    return Err(ShapeError(key_path("hooks", event)));
                };
                groups.push(json!({"hooks": [wiring.handler(event)]}));
                Installed::Added
            }
        };
        out.push(outcome);
    }
    Ok(out)
}

/// Removes our handlers under each of `events`; returns how many went per event.
///
/// Then drops, in this order and only where a removal caused it: matcher groups whose
/// `hooks` array became empty, event arrays that became empty, and `hooks` if it became
/// empty. Groups, arrays or a `hooks` object that were already empty stay. What cannot be
/// told apart: a `hooks` object or event array that was empty *before* `install` filled it
/// is dropped too, since a file records no history.
///
/// # Errors
///
/// [`ShapeError`] when `root` was not validated first and its hooks have the wrong shape.
pub fn uninstall(root: &mut Map<String, Value>, events: &[&str]) -> Result<Vec<usize>, ShapeError> {
    let mut out = vec![0; events.len()];
    let Some(hooks) = hooks_mut(root, false)? else {
        return Ok(out);
    };
    let mut any = false;
    for (n, &event) in out.iter_mut().zip(events) {
        let Some(groups) = hooks.get_mut(event) else {
            continue;
        };
        let Value::Array(groups) = groups else {
            return Err(ShapeError(key_path("hooks", event)));
        };
        let mut emptied = vec![false; groups.len()];
        for (i, g) in groups.iter_mut().enumerate() {
            let Some(Value::Array(hs)) = g.get_mut("hooks") else {
                return Err(ShapeError(format!("{}[{i}]", key_path("hooks", event))));
            };
            let before = hs.len();
            hs.retain(|h| !is_ours(h, event));
            *n += before - hs.len();
            emptied[i] = before > 0 && hs.is_empty();
        }
        if *n == 0 {
            continue;
        }
        any = true;
        let mut flags = emptied.into_iter();
        groups.retain(|_| !flags.next().unwrap_or(false));
        if groups.is_empty() {
            hooks.shift_remove(event);
        }
    }
    if any && hooks.is_empty() {
        root.shift_remove("hooks");
    }
    Ok(out)
}

/// Lines of context around each change in [`unified_diff`].
const DIFF_CONTEXT: usize = 3;
/// Past this, the diff is finished coarsely (larger hunks) instead of minimally: settings
/// files are small, but a hand-edited one may not be (the old hand-written LCS was O(n·m)).
const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// A unified-style line diff (`---`/`+++` headers, `@@` hunks, 3 lines of context); empty
/// when the texts have the same lines.
#[must_use]
pub fn unified_diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    if old.lines().eq(new.lines()) {
        return String::new();
    }
    similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(DIFF_DEADLINE)
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(DIFF_CONTEXT)
        .header(old_label, new_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    const W: Wiring<'static> = Wiring {
        client: "/opt/hookd/bin/hook-client",
        fail_mode: None,
        deadline_secs: None,
    };

    #[test]
    fn quoted_paths_split_back_to_the_same_word() {
        for s in [
            "/usr/local/bin/hook-client",
            "/home/a b/hook-client",
            "/x/it's/hook-client",
            "/x/$HOME/`id`/hook-client",
            "/x/a;b|c&d/hook-client",
            "/x/*?[]{}~#!/hook-client",
            "/x/\"q\"\\/hook-client",
            "PreToolUse=deny,*=ask",
        ] {
            let cmd = format!("{} --event Stop", shell_quote(s));
            assert_eq!(
                shell_words(&cmd),
                Some(vec![s.to_string(), "--event".into(), "Stop".into()]),
                "{cmd}"
            );
        }
        assert_eq!(shell_quote("/usr/bin/hook-client"), "/usr/bin/hook-client");
        assert_eq!(shell_quote("/a b/hook-client"), "'/a b/hook-client'");
    }

    #[test]
    fn shell_words_refuses_what_is_not_a_plain_word_list() {
        for s in [
            "hook-client --event Stop; rm -rf /",
            "hook-client --event $EV",
            "hook-client --event \"$EV\"",
            "hook-client 'unterminated",
            "hook-client > /dev/null",
            "hook-client --event Stop # comment",
            "~/bin/hook-client --event Stop",
        ] {
            assert_eq!(shell_words(s), None, "{s}");
        }
        assert_eq!(
            shell_words(r#"a "b c" d\ e 'f'"g""#),
            Some(vec!["a".into(), "b c".into(), "d e".into(), "fg".into()])
        );
    }

    #[test]
    fn recognises_exactly_what_install_writes() {
        let ours = W.handler("Stop");
        assert!(is_ours(&ours, "Stop"));
        assert!(
            !is_ours(&ours, "SubagentStop"),
            "listed under another event"
        );
        let with_mode = Wiring {
            fail_mode: Some("deny"),
            ..W
        }
        .handler("PreToolUse");
        let with_deadline = Wiring {
            fail_mode: Some("deny"),
            deadline_secs: Some(30),
            ..W
        }
        .handler("PreToolUse");
        assert!(is_ours(&with_deadline, "PreToolUse"));
        assert_eq!(with_deadline["timeout"], 35);
        assert!(
            with_deadline["command"]
                .as_str()
                .unwrap()
                .ends_with("--fail-mode deny --deadline 30s")
        );
        let twice = json!({"type": "command",
            "command": "/opt/hookd/bin/hook-client --event Stop --deadline 3s --deadline 4s"});
        assert!(!is_ours(&twice, "Stop"));
        assert!(is_ours(&with_mode, "PreToolUse"));
        for (cmd, why) in [
            ("hook-client --event Stop", "relative path"),
            ("/x/hook-client --event Stop --socket /tmp/s", "extra flag"),
            ("/x/hook-client", "no --event"),
            ("/x/hook-client-old --event Stop", "other file name"),
            ("/x/hook-client --event Stop && echo", "operator"),
        ] {
            let h = json!({"type": "command", "command": cmd});
            assert!(!is_ours(&h, "Stop"), "{why}");
        }
        let exec =
            json!({"type": "command", "command": "/x/hook-client", "args": ["--event", "Stop"]});
        assert!(!is_ours(&exec, "Stop"));
        assert!(foreign_client_command(&exec, "Stop").is_some());
        let extra = json!({"type": "command", "command": "'/a b/hook-client' --event Stop --socket /tmp/s"});
        assert!(foreign_client_command(&extra, "Stop").is_some());
        let other = json!({"type": "command", "command": "python3 lint.py"});
        assert!(foreign_client_command(&other, "Stop").is_none());
    }

    #[test]
    fn timeouts_follow_the_event_budget() {
        assert_eq!(timeout_secs("SessionEnd"), 5);
        assert_eq!(timeout_secs("PreToolUse"), 10);
        assert_eq!(timeout_secs("PermissionRequest"), 10);
        assert_eq!(timeout_secs("Stop"), 10);
        assert_eq!(event_names().count(), 34);
    }

    #[test]
    fn install_appends_and_uninstall_restores_key_order() {
        let original = obj(json!({
            "model": "opus",
            "hooks": {"PostToolUse": [{"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "lint"}]}]},
            "env": {"B": "1", "A": "2"}
        }));
        let mut root = original.clone();
        let got = install(&mut root, &["PreToolUse", "PostToolUse"], &W).unwrap();
        assert_eq!(got, vec![Installed::Added, Installed::Added]);
        assert!(validate(&root).is_empty());
        let keys: Vec<_> = root["hooks"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["PostToolUse", "PreToolUse"]);
        assert_eq!(root["hooks"]["PostToolUse"].as_array().unwrap().len(), 2);
        assert_eq!(
            install(&mut root, &["PreToolUse"], &W).unwrap(),
            vec![Installed::Present]
        );
        let removed = uninstall(&mut root, &["PreToolUse", "PostToolUse", "Stop"]).unwrap();
        assert_eq!(removed, vec![1, 1, 0]);
        assert_eq!(
            serde_json::to_string(&root).unwrap(),
            serde_json::to_string(&original).unwrap()
        );
    }

    #[test]
    fn reinstall_with_other_flags_updates_in_place() {
        let mut root = Map::new();
        install(&mut root, &["Stop"], &W).unwrap();
        root["hooks"]["Stop"][0]["hooks"][0]["statusMessage"] = json!("hookd");
        let moved = Wiring {
            client: "/new/hook-client",
            fail_mode: Some("deny"),
            deadline_secs: None,
        };
        assert_eq!(
            install(&mut root, &["Stop"], &moved).unwrap(),
            vec![Installed::Updated]
        );
        let h = &root["hooks"]["Stop"][0]["hooks"][0];
        assert_eq!(
            h["command"],
            json!("/new/hook-client --event Stop --fail-mode deny")
        );
        assert_eq!(h["statusMessage"], json!("hookd"));
        assert_eq!(root["hooks"]["Stop"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn foreign_client_entries_block_a_second_one() {
        let mut root = obj(json!({"hooks": {"Stop": [{"hooks": [
            {"type": "command", "command": "/x/hook-client --event Stop --socket /tmp/s"}
        ]}]}}));
        let before = root.clone();
        let got = install(&mut root, &["Stop"], &W).unwrap();
        assert!(matches!(&got[0], Installed::Foreign(c) if c.contains("--socket")));
        assert_eq!(root, before);
        assert_eq!(uninstall(&mut root, &["Stop"]).unwrap(), vec![0]);
        assert_eq!(root, before);
    }

    #[test]
    fn uninstall_keeps_groups_that_were_already_empty() {
        let mut root = obj(json!({"hooks": {
            "Stop": [{"matcher": "", "hooks": []}],
            "Notification": []
        }}));
        let before = root.clone();
        install(&mut root, &["Stop"], &W).unwrap();
        uninstall(&mut root, &["Stop", "Notification"]).unwrap();
        assert_eq!(
            serde_json::to_string(&root).unwrap(),
            serde_json::to_string(&before).unwrap()
        );
    }

    #[test]
    fn validate_names_the_failing_path() {
        let cases = [
            (json!({"hooks": []}), "hooks"),
            (json!({"hooks": {"PreToolUSE": []}}), "hooks.PreToolUSE"),
            (json!({"hooks": {"Stop": {}}}), "hooks.Stop"),
            (
                json!({"hooks": {"Stop": [{"matcher": 1, "hooks": []}]}}),
                "hooks.Stop[0].matcher",
            ),
            (
                json!({"hooks": {"Stop": [{"matcher": "x"}]}}),
                "hooks.Stop[0]",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [], "extra": 1}]}}),
                "hooks.Stop[0]",
            ),
            (
                json!({"hooks": {"PreToolUse": [{"hooks": [{"type": "command", "command": "a"}, {"type": "command"}]}]}}),
                "hooks.PreToolUse[0].hooks[1]",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"command": "a"}]}]}}),
                "hooks.Stop[0].hooks[0]",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "shell", "command": "a"}]}]}}),
                "hooks.Stop[0].hooks[0].type",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "a", "timeout": 0}]}]}}),
                "hooks.Stop[0].hooks[0].timeout",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "a", "timeout": "5"}]}]}}),
                "hooks.Stop[0].hooks[0].timeout",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "a", "bogus": true}]}]}}),
                "hooks.Stop[0].hooks[0]",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "http"}]}]}}),
                "hooks.Stop[0].hooks[0]",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "http", "url": "localhost"}]}]}}),
                "hooks.Stop[0].hooks[0].url",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "a", "onFailure": "explode"}]}]}}),
                "hooks.Stop[0].hooks[0].onFailure",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [{"type": "mcp_tool", "server": "s"}]}]}}),
                "hooks.Stop[0].hooks[0]",
            ),
            (
                json!({"hooks": {"Stop": [{"hooks": [7]}]}}),
                "hooks.Stop[0].hooks[0]",
            ),
            (json!({"hooks": {"odd key": []}}), r#"hooks["odd key"]"#),
            (json!({"disableAllHooks": "yes"}), "disableAllHooks"),
        ];
        for (v, path) in cases {
            let errors = validate(&obj(v.clone()));
            assert_eq!(
                errors.first().map(|e| e.path.as_str()),
                Some(path),
                "{v}: {errors:?}"
            );
        }
    }

    #[test]
    fn validate_accepts_every_handler_type() {
        let v = json!({"disableAllHooks": false, "hooks": {
            "PreToolUse": [{"matcher": "Bash", "hooks": [
                {"type": "command", "command": "a", "args": ["x"], "shell": "bash", "if": "Bash(git *)",
                 "timeout": 1.5, "onFailure": "block", "statusMessage": "s", "once": true,
                 "async": false, "asyncRewake": false, "rewakeMessage": "m", "rewakeSummary": "s", "cloud": "device"},
                {"type": "http", "url": "http://127.0.0.1:1/h", "headers": {"A": "b"}, "allowedEnvVars": ["X"],
                 "timeout": 2, "onFailure": "continue"},
                {"type": "prompt", "prompt": "p $ARGUMENTS", "model": "m", "continueOnBlock": true},
                {"type": "agent", "prompt": "p", "model": "m", "timeout": 60},
                {"type": "mcp_tool", "server": "s", "tool": "t", "input": {"p": "${tool_input.file_path}"}}
            ]}],
            "Stop": []
        }});
        assert_eq!(validate(&obj(v)), vec![]);
    }

    #[test]
    fn parse_reports_line_and_column_and_keeps_style() {
        let Err(ParseError::Syntax {
            line,
            column,
            excerpt,
            ..
        }) = parse(b"{\n  \"a\": 1,\n}\n")
        else {
            panic!("trailing comma parsed");
        };
        assert_eq!((line, column), (3, 1));
        assert_eq!(excerpt, "}");
        assert!(matches!(
            parse(b"[]"),
            Err(ParseError::NotObject("an array"))
        ));
        assert!(parse(b"  \n").unwrap().root.is_empty());
        let text = "{\r\n\t\"a\": [\r\n\t\t1\r\n\t]\r\n}";
        let doc = parse(text.as_bytes()).unwrap();
        assert_eq!(
            doc.style,
            Style {
                indent: "\t".into(),
                crlf: true,
                trailing_newline: false
            }
        );
        assert_eq!(render(&doc.root, &doc.style).unwrap(), text);
    }

    #[test]
    fn diff_shows_hunks_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\nl\n";
        // Six unchanged lines between two changes: the hunks touch, so they merge.
        assert_eq!(
            unified_diff(old, new, "old", "new"),
            "--- old\n+++ new\n@@ -2,10 +2,11 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n k\n+l\n"
        );
        // Seven: two hunks.
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "0\n1\n2\n3\n4\n5\n6\n7\n8\n";
        assert_eq!(
            unified_diff(old, new, "old", "new"),
            "--- old\n+++ new\n@@ -1,3 +1,4 @@\n+0\n 1\n 2\n 3\n@@ -6,4 +7,3 @@\n 6\n 7\n 8\n-9\n"
        );
        assert_eq!(unified_diff("x\n", "x\n", "a", "b"), "");
        let created = unified_diff("", "{\n}\n", "/dev/null", "new");
        assert_eq!(created, "--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+{\n+}\n");
    }
}
