//! Conditions and the per-event context they are evaluated in.
//!
//! Event-level conditions (`tool`, `prompt`, `content`, `field`) look at the event once.
//! Item-level conditions look at items: `command` at each simple command the shell analyser
//! finds, `path` and `outside_project` at each target path. A rule matches when some witness
//! (a command, a path) satisfies its conditions and its `unless` table does not hold for that
//! same witness; an `unless` item condition the rule itself does not have must hold for
//! *every* item to cancel (fail safe: `ls && rm -rf /` is not excused by `unless.command = '^ls'`).

use std::cell::{OnceCell, RefCell};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::GlobSet;
use regex::Regex;

use super::Matcher;
use crate::event::{HookEvent, Value};
use crate::memo;
use crate::shell::{self, Analysis, SimpleCommand};

/// Glob patterns on target paths, compiled.
#[derive(Debug, Clone)]
pub struct PathGlobs {
    /// Patterns as written (for display).
    pub patterns: Vec<String>,
    /// Absolute patterns (and `~/…` expanded), matched against absolute paths.
    pub absolute: GlobSet,
    /// Relative patterns, matched against paths relative to the project root.
    pub relative: GlobSet,
    /// `~/…` patterns, matched against paths relative to the home directory.
    pub home: GlobSet,
    /// Whether `~` itself is a pattern.
    pub home_itself: bool,
}

/// A set of conditions (a rule's own, or its `unless` table).
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// `tool`: Claude Code matcher on the tool name.
    pub tool: Option<Matcher>,
    /// `command`: regex on each simple command's text.
    pub command: Option<Regex>,
    /// `path`: globs on each target path.
    pub path: Option<PathGlobs>,
    /// `outside_project`: a target path resolves outside (true) / inside (false) the project.
    pub outside_project: Option<bool>,
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
            && self.content.is_none()
            && self.prompt.is_none()
            && self.field.is_empty()
    }

    fn has_path_items(&self) -> bool {
        self.path.is_some() || self.outside_project.is_some()
    }
}

/// Everything conditions look at, computed at most once per event.
pub struct Ctx<'a> {
    /// The event.
    pub event: &'a HookEvent,
    /// The project root (`CLAUDE_PROJECT_DIR`, else the event's cwd).
    pub project: Option<&'a str>,
    /// The user's home directory.
    pub home: Option<&'a str>,
    /// The session's state so far (None without a session id).
    pub session: Option<&'a crate::session::Session>,
    /// The time of the event (ms since the epoch).
    pub now_ms: i64,
    /// Cross-session memory for `once = "project-day"`.
    pub once_memory: Option<&'a dyn super::state::OnceMemory>,
    analysed: OnceCell<Option<Arc<Analysed>>>,
    targets: OnceCell<Vec<Target>>,
    /// `project` and `home`, normalised (computed once, shared by every rule's path test).
    roots: OnceCell<(Option<PathBuf>, Option<PathBuf>)>,
}

/// A command's shell analysis and the text each of its simple commands is matched on.
#[derive(Debug)]
struct Analysed {
    analysis: Analysis,
    texts: Vec<String>,
}

thread_local! {
    /// Analyses by command text (a pure function of it: default limits). 128 slots of commands
    /// up to 1 KiB: Claude Code's sessions run the same commands again and again (`git status`,
    /// the project's test command).
    static ANALYSES: RefCell<memo::Table<Analysed>> = RefCell::new(memo::Table::new(128, 1, 1024));
}

/// A path a tool call touches.
#[derive(Debug, Clone)]
pub struct Target {
    /// As written.
    pub raw: String,
    /// Absolute and lexically normalised (`~`, `$HOME`, `.` and `..` resolved).
    pub abs: PathBuf,
}

impl<'a> Ctx<'a> {
    /// A context for one event.
    #[must_use]
    pub fn new(event: &'a HookEvent, project: Option<&'a str>, home: Option<&'a str>) -> Self {
        Self {
            event,
            project,
            home,
            session: None,
            now_ms: 0,
            once_memory: None,
            analysed: OnceCell::new(),
            targets: OnceCell::new(),
            roots: OnceCell::new(),
        }
    }

    /// The text each simple command is matched on, in analysis order: `SimpleCommand::text`,
    /// plus the code fed on stdin for interpreters and database clients (`python - <<EOF`,
    /// `psql <<<'…'`), which is program text, not data.
    pub fn command_texts(&self) -> &[String] {
        self.analysed().map_or(&[], |a| &a.texts)
    }

    /// The shell analysis of a Bash tool call's command (None for other events).
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysed().map(|a| &a.analysis)
    }

    /// The analysis and match texts of the Bash command, from this thread's memo when the same
    /// command was analysed before.
    fn analysed(&self) -> Option<&Analysed> {
        self.analysed
            .get_or_init(|| {
                let cmd = self.event.bash_command()?;
                let a = memo::cached::<_, Infallible>(&ANALYSES, 0, cmd.as_bytes(), || {
                    let analysis = shell::analyze(cmd);
                    let texts = analysis.commands.iter().map(match_text).collect();
                    Ok(Analysed { analysis, texts })
                });
                Some(a.unwrap_or_else(|e| match e {}))
            })
            .as_deref()
    }

    fn cwd(&self) -> Option<&str> {
        self.event.cwd().or(self.project)
    }

    /// Target paths of the tool call: `file_path`, `path`, `notebook_path`, and for Bash the
    /// path arguments of file-touching commands and redirection targets.
    pub fn targets(&self) -> &[Target] {
        self.targets.get_or_init(|| {
            let mut raw: Vec<String> = Vec::new();
            if let Some(input) = self.event.value().get("tool_input") {
                for key in ["file_path", "path", "notebook_path"] {
                    if let Some(p) = input.get(key).and_then(Value::as_str) {
                        raw.push(p.to_string());
                    }
                }
            }
            if let Some(a) = self.analysis() {
                for c in &a.commands {
                    bash_paths(c, &mut raw);
                }
            }
            raw.into_iter()
                .filter(|r| !r.is_empty())
                .map(|r| {
                    let abs = absolutize(&r, self.cwd(), self.home);
                    Target { raw: r, abs }
                })
                .collect()
        })
    }

    fn project_root(&self) -> Option<&Path> {
        self.roots().0.as_deref()
    }

    fn home_dir(&self) -> Option<&Path> {
        self.roots().1.as_deref()
    }

    fn roots(&self) -> &(Option<PathBuf>, Option<PathBuf>) {
        self.roots.get_or_init(|| {
            let n = |p: Option<&str>| p.map(|p| normalize(Path::new(p)));
            (n(self.project), n(self.home))
        })
    }
}

/// Commands whose stdin is program text: interpreters and database clients.
const CODE_ON_STDIN: &[&str] = &[
    "python",
    "python2",
    "python3",
    "pypy",
    "pypy3",
    "node",
    "deno",
    "bun",
    "perl",
    "ruby",
    "php",
    "lua",
    "Rscript",
    "psql",
    "mysql",
    "mariadb",
    "sqlite3",
    "duckdb",
    "mongo",
    "mongosh",
    "redis-cli",
    "clickhouse-client",
    "sqlcmd",
];

fn match_text(c: &SimpleCommand) -> String {
    let mut text = c.text();
    if let Some(data) = &c.stdin_data {
        let base = c
            .name
            .trim_end_matches(|ch: char| ch.is_ascii_digit() || ch == '.');
        if CODE_ON_STDIN.contains(&c.name.as_str()) || CODE_ON_STDIN.contains(&base) {
            text.push(' ');
            text.push_str(data);
        }
    }
    text
}

/// Commands whose non-option arguments are paths (reads and writes).
const FILE_COMMANDS: &[&str] = &[
    "rm", "rmdir", "unlink", "mv", "cp", "ln", "install", "chmod", "chown", "chgrp", "touch",
    "mkdir", "tee", "truncate", "shred", "cat", "less", "more", "head", "tail", "nano", "vi",
    "vim", "nvim", "emacs", "source", ".", "open", "xdg-open", "bat", "strings", "xxd", "od",
    "base64", "tar", "zip", "unzip", "scp", "rsync", "srm", "wipe",
];
/// Commands whose first non-option argument is a pattern or script, the rest paths.
const PATTERN_COMMANDS: &[&str] = &["grep", "egrep", "fgrep", "rg", "sed", "awk", "gawk"];
/// Commands taking an octal/symbolic mode or owner first.
const MODE_COMMANDS: &[&str] = &["chmod", "chown", "chgrp"];

fn bash_paths(c: &SimpleCommand, out: &mut Vec<String>) {
    for r in &c.redirects {
        let is_file = matches!(r.op.as_str(), ">" | ">>" | "<" | "&>" | "&>>" | ">|" | "<>")
            || (r.op.ends_with('>') && r.op.len() <= 3 && !r.op.starts_with('<'));
        if is_file && !r.target.starts_with('&') && !r.target.is_empty() {
            out.push(r.target.clone());
        }
    }
    let name = c.name.as_str();
    if name == "dd" {
        for a in &c.args {
            if let Some(p) = a.strip_prefix("of=").or_else(|| a.strip_prefix("if=")) {
                out.push(p.to_string());
            }
        }
        return;
    }
    let skip_first = if PATTERN_COMMANDS.contains(&name) || MODE_COMMANDS.contains(&name) {
        1
    } else if FILE_COMMANDS.contains(&name) {
        0
    } else {
        return;
    };
    let mut operands = Vec::new();
    let mut options_done = false;
    for a in &c.args {
        if !options_done && a == "--" {
            options_done = true;
            continue;
        }
        if !options_done && a.starts_with('-') && a.len() > 1 {
            continue;
        }
        operands.push(a.clone());
    }
    out.extend(operands.into_iter().skip(skip_first));
}

/// Expands `~`, `$HOME`, `${HOME}`, makes `p` absolute against `cwd` and normalises it.
#[must_use]
pub fn absolutize(p: &str, cwd: Option<&str>, home: Option<&str>) -> PathBuf {
    let tmp = ["${TMPDIR}", "$TMPDIR"]
        .iter()
        .find_map(|v| p.strip_prefix(v))
        .or_else(|| {
            p.strip_prefix("${TMPDIR:-")
                .and_then(|r| r.split_once('}').map(|(_, rest)| rest))
        });
    let expanded: String = if let Some(rest) = tmp {
        // The hook's TMPDIR is not known here; any value of it is a temp directory.
        format!("/tmp{rest}")
    } else if let (Some(h), Some(rest)) = (home, p.strip_prefix('~')) {
        if rest.is_empty() || rest.starts_with('/') {
            format!("{h}{rest}")
        } else {
            p.to_string()
        }
    } else if let (Some(h), Some(rest)) = (
        home,
        p.strip_prefix("$HOME")
            .or_else(|| p.strip_prefix("${HOME}")),
    ) {
        format!("{h}{rest}")
    } else {
        p.to_string()
    };
    let path = Path::new(&expanded);
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&Path::new(cwd.unwrap_or("/")).join(path))
    }
}

/// Lexical normalisation: drops `.`, resolves `..` (never above `/`).
#[must_use]
pub fn normalize(p: &Path) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    // On the bytes, into one buffer: `PathBuf::push` per component cost about 1,000
    // instructions for a project path, and this runs for every target and root of every event.
    let bytes = p.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for c in bytes.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                let parent = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(parent);
            }
            name => {
                out.push(b'/');
                out.extend_from_slice(name);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Resolves symlinks in the longest existing prefix of `p` (which must be absolute).
#[must_use]
pub fn resolve(p: &Path) -> PathBuf {
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normalize(&out);
        }
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

fn inside(root: &Path, p: &Path) -> bool {
    p.starts_with(root)
}

fn field_value<'v>(v: Value<'v>, path: &[String]) -> Option<std::borrow::Cow<'v, str>> {
    let mut cur = v;
    for key in path {
        cur = if cur.is_object() {
            cur.get(key)?
        } else {
            cur.index(key.parse::<usize>().ok()?)?
        };
    }
    crate::event::json::text_of(cur)
}

/// The text a Write/Edit/MultiEdit/NotebookEdit call writes.
fn written_texts(event: &HookEvent) -> Vec<&str> {
    let Some(input) = event.value().get("tool_input") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in ["content", "new_string", "new_source"] {
        if let Some(s) = input.get(key).and_then(Value::as_str) {
            out.push(s);
        }
    }
    if let Some(edits) = input.get("edits").and_then(Value::as_array) {
        out.extend(edits.filter_map(|e| e.get("new_string").and_then(Value::as_str)));
    }
    out
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

impl Conditions {
    /// Event-level conditions: `tool`, `prompt`, `content`, `field`.
    fn event_level(&self, cx: &Ctx<'_>, why: &mut Why) -> bool {
        let event = cx.event;
        if let Some(m) = &self.tool {
            let tool = event.tool_name();
            if !m.matches(tool) {
                return false;
            }
            why.push(format!("tool {}", tool.unwrap_or("-")));
        }
        if let Some(re) = &self.prompt {
            let Some(m) = event.prompt().and_then(|p| re.find(p)) else {
                return false;
            };
            why.push(format!("prompt matched {:?}", excerpt(m.as_str())));
        }
        if let Some(re) = &self.content {
            let Some(m) = written_texts(event).into_iter().find_map(|t| re.find(t)) else {
                return false;
            };
            why.push(format!("content matched {:?}", excerpt(m.as_str())));
        }
        for (path, re) in &self.field {
            let Some(v) = field_value(event.value(), path) else {
                return false;
            };
            let Some(m) = re.find(&v) else { return false };
            why.push(format!(
                "{} matched {:?}",
                path.join("."),
                excerpt(m.as_str())
            ));
        }
        true
    }

    fn command_ok(&self, text: &str) -> bool {
        self.command.as_ref().is_none_or(|re| re.is_match(text))
    }

    fn path_ok(&self, cx: &Ctx<'_>, t: &Target) -> bool {
        if let Some(g) = &self.path {
            let under = |base: Option<&Path>, set: &GlobSet| {
                !set.is_empty()
                    && base.is_some_and(|b| t.abs.strip_prefix(b).is_ok_and(|r| set.is_match(r)))
            };
            let home = cx.home_dir();
            let hit = g.absolute.is_match(&t.abs)
                || under(cx.project_root(), &g.relative)
                || (g.home_itself && home.is_some_and(|h| *h == t.abs))
                || under(home, &g.home);
            if !hit {
                return false;
            }
        }
        if let Some(want_outside) = self.outside_project {
            let Some(root) = cx.project_root() else {
                return false;
            };
            let outside = !inside(&resolve(root), &resolve(&t.abs));
            if outside != want_outside {
                return false;
            }
        }
        true
    }
}

/// How a rule treats a command the analyser could not fully analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnparsed {
    /// The `command` condition holds (fail safe; the default).
    Match,
    /// Judge only the commands that were found.
    Ignore,
}

/// Evaluates `cond` (with `unless`) against the context; returns why it matched.
pub fn evaluate(
    cond: &Conditions,
    unless: Option<&Conditions>,
    on_unparsed: OnUnparsed,
    cx: &Ctx<'_>,
) -> Option<Why> {
    let mut why = Why::new();
    if !cond.event_level(cx, &mut why) {
        return None;
    }
    // Witness commands.
    let mut commands: Vec<Option<&str>> = vec![None];
    let mut unparsed_hit = false;
    if let Some(re) = &cond.command {
        let analysis = cx.analysis()?;
        commands = cx
            .command_texts()
            .iter()
            .filter(|t| re.is_match(t))
            .map(|t| Some(t.as_str()))
            .collect();
        if let Some(reason) = &analysis.unparsed
            && on_unparsed == OnUnparsed::Match
        {
            unparsed_hit = true;
            why.push(format!("command not fully analysed ({reason})"));
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
    let cancels = |c: Option<&str>, t: Option<&Target>| -> bool {
        let Some(u) = unless else { return false };
        if u.is_empty() {
            return false;
        }
        let mut scratch = Why::new();
        if !u.event_level(cx, &mut scratch) {
            return false;
        }
        if u.command.is_some() {
            let ok = match (c, &cond.command) {
                (Some(c), Some(_)) => u.command_ok(c),
                // The rule has no command condition of its own (or the witness is an
                // unanalysed command): every command must match to excuse it.
                _ => cx.analysis().is_some_and(|a| {
                    a.unparsed.is_none()
                        && !a.commands.is_empty()
                        && cx.command_texts().iter().all(|t| u.command_ok(t))
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
                    let all = cx.targets();
                    !all.is_empty() && all.iter().all(|t| u.path_ok(cx, t))
                }
            };
            if !ok {
                return false;
            }
        }
        true
    };
    for c in &commands {
        for t in &targets {
            if cancels(*c, *t) {
                continue;
            }
            if let Some(c) = c {
                why.push(format!("command {:?}", excerpt(c)));
            }
            if let Some(t) = t {
                why.push(format!("path {}", t.abs.display()));
            }
            return Some(why);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_agrees_with_path_components() {
        use std::path::Component;
        let by_components = |p: &str| {
            let mut out = PathBuf::from("/");
            for c in Path::new(p).components() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(s) => out.push(s),
                    _ => {}
                }
            }
            out
        };
        for p in [
            "/",
            "",
            ".",
            "..",
            "/..",
            "/a/b/../c",
            "a/./b//c/",
            "/a/../../b",
            "./x/..",
            "/home/me/.ssh/",
            "/a/b/..",
            "/a/..b/.c/...",
            "//x",
            "/a/b/../../..",
        ] {
            assert_eq!(normalize(Path::new(p)), by_components(p), "{p:?}");
        }
    }

    #[test]
    fn absolutize_expands_home_and_normalises() {
        let h = Some("/home/me");
        assert_eq!(
            absolutize("~/.ssh/id_rsa", None, h),
            PathBuf::from("/home/me/.ssh/id_rsa")
        );
        assert_eq!(absolutize("$HOME/x", None, h), PathBuf::from("/home/me/x"));
        assert_eq!(absolutize("${HOME}", None, h), PathBuf::from("/home/me"));
        assert_eq!(
            absolutize("a/../../b", Some("/p/q"), h),
            PathBuf::from("/p/b")
        );
        assert_eq!(
            absolutize("../../../../x", Some("/p"), h),
            PathBuf::from("/x")
        );
        assert_eq!(
            absolutize("~other/x", Some("/p"), h),
            PathBuf::from("/p/~other/x")
        );
    }

    #[test]
    fn field_values_follow_dotted_paths_and_indexes() {
        let doc =
            crate::event::json::Doc::parse(r#"{"a": {"b": [{"c": "x"}, 5]}, "n": null}"#).unwrap();
        let v = doc.root();
        assert_eq!(
            field_value(v, &["a".into(), "b".into(), "0".into(), "c".into()]).as_deref(),
            Some("x")
        );
        assert_eq!(
            field_value(v, &["a".into(), "b".into(), "1".into()]).as_deref(),
            Some("5")
        );
        assert_eq!(field_value(v, &["n".into()]), None);
        assert_eq!(field_value(v, &["zz".into()]), None);
    }
}
