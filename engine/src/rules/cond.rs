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

use std::cell::{OnceCell, RefCell};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::GlobSet;
use regex::Regex;

use super::Matcher;
use crate::event::{HookEvent, Value};
use crate::memo;
use crate::paths::{absolutize, normalize};
use crate::shell::{self, Analysis, FactKind, SimpleCommand};

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
    pub(crate) home_itself: bool,
    /// For each pattern of `absolute`, the directory its literal part names (`/tmp` for
    /// `/tmp/**`, `/` for `/**/.env`): see [`PathGlobs::absolute_hit`].
    pub(crate) absolute_dirs: Vec<PathBuf>,
    /// Those directories once each, `/` left out: the places a root could sit in.
    pub(crate) places: Vec<PathBuf>,
}

impl PathGlobs {
    /// Whether an absolute pattern matches `path`. A pattern that names a place (`/tmp/**`,
    /// `/usr/**`) does not reach into the home directory or the project when that place holds
    /// them: with `HOME=/tmp/ci/home`, `~/other-project` is the user's, not scratch space, and
    /// `/tmp/**` exempting scratch space must not exempt it. Patterns that name files anywhere
    /// (`/**/.aws/credentials`) and places inside the home or the project match as written.
    fn absolute_hit(&self, path: &Path, roots: [Option<&Path>; 2]) -> bool {
        // The roots that hold `path` (usually none, or the project, or the home).
        let holders = roots
            .into_iter()
            .flatten()
            .filter(|root| rel_under(path, root).is_some());
        // Whether the place `dir` holds a root that holds `path`.
        let shadowed = |dir: &Path| {
            dir.as_os_str() != "/" && holders.clone().any(|root| rel_under(root, dir).is_some())
        };
        // Usually no pattern is shadowed: one pass of the set, without listing its matches.
        if !self.places.iter().any(|d| shadowed(d)) {
            return self.absolute.is_match(path);
        }
        self.absolute
            .matches(path)
            .into_iter()
            .any(|i| !shadowed(&self.absolute_dirs[i]))
    }
}

/// `path` relative to `root`, when `root` holds it. Both are absolute and lexically normalised
/// (what targets and roots are here), so comparing bytes up to a separator says what
/// `Path::strip_prefix` says component by component, for a fraction of its cost: it runs for
/// every target of every rule with a `path` condition.
fn rel_under<'p>(path: &'p Path, root: &Path) -> Option<&'p Path> {
    use std::os::unix::ffi::OsStrExt;
    let (p, r) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
    let rest = p.strip_prefix(r)?;
    let rest = match rest {
        _ if r.ends_with(b"/") => rest,
        [] => rest,
        [b'/', tail @ ..] => tail,
        _ => return None,
    };
    Some(Path::new(std::ffi::OsStr::from_bytes(rest)))
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

    /// `command`, `fact`, `to_terminal` and `piped_from` on simple command `i` (`texts` are
    /// the match texts of the analysis's commands).
    fn command_holds(&self, a: &Analysis, i: usize, texts: &[String]) -> bool {
        let (Some(c), Some(text)) = (a.commands.get(i), texts.get(i)) else {
            return false;
        };
        self.command_ok(text)
            && self.facts.as_ref().is_none_or(|f| f.on(c).is_some())
            && self.to_terminal.is_none_or(|w| to_terminal(a, i) == w)
            && self.piped_from.as_ref().is_none_or(|re| {
                let mut up = c.stdin_pipe;
                for _ in 0..TERMINAL_CAP {
                    let Some(u) = up else { return false };
                    if texts.get(u).is_some_and(|t| re.is_match(t)) {
                        return true;
                    }
                    up = a.commands.get(u).and_then(|c| c.stdin_pipe);
                }
                false
            })
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
    pub(crate) once_memory: Option<&'a dyn super::state::OnceMemory>,
    /// Whether matching rules count a hit (off for `hookctl test`).
    pub count_hits: bool,
    analysed: OnceCell<Option<Arc<Analysed>>>,
    targets: OnceCell<Vec<Target>>,
    /// `project` and `home`, normalised (computed once, shared by every rule's path test).
    roots: OnceCell<(Option<PathBuf>, Option<PathBuf>)>,
    /// The project root with symlinks resolved (computed once, for `outside_project`).
    resolved_root: OnceCell<Option<PathBuf>>,
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
    /// The simple command it belongs to (an index into the analysis), for Bash.
    pub cmd: Option<usize>,
    /// It is written (created, changed, moved or deleted), not only read.
    pub write: bool,
    /// It is a redirection's file (`> out.log`, `2>>err`), not an argument of the command.
    pub redirect: bool,
    /// The write keeps what the file holds: an append (`>>`, `tee -a`), `touch`, `mkdir`.
    pub keeps: bool,
    /// Whether the write can destroy content (computed on first need).
    clobbers: OnceCell<bool>,
    /// `abs` with symlinks resolved (computed on first need, for `outside_project`).
    resolved: OnceCell<PathBuf>,
}

impl Target {
    fn new(raw: String, abs: PathBuf, cmd: Option<usize>, write: bool) -> Self {
        Self {
            raw,
            abs,
            cmd,
            write,
            redirect: false,
            keeps: false,
            clobbers: OnceCell::new(),
            resolved: OnceCell::new(),
        }
    }

    /// Whether writing it can destroy content: it is written, not only appended to or
    /// touched, and something is there (a `stat`, on first need).
    fn clobbers(&self) -> bool {
        *self.clobbers.get_or_init(|| {
            self.write && !self.keeps && std::fs::symlink_metadata(&self.abs).is_ok()
        })
    }

    /// `abs` with symlinks resolved.
    fn resolved(&self) -> &Path {
        self.resolved.get_or_init(|| resolve(&self.abs))
    }
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
            count_hits: true,
            analysed: OnceCell::new(),
            targets: OnceCell::new(),
            roots: OnceCell::new(),
            resolved_root: OnceCell::new(),
        }
    }

    /// The text each simple command is matched on, in analysis order: `SimpleCommand::text`,
    /// plus the code fed on stdin for interpreters and database clients (`python - <<EOF`,
    /// `psql <<<'…'`), which is program text, not data.
    pub(crate) fn command_texts(&self) -> &[String] {
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
    /// path arguments of file-touching commands, redirection targets, files uploaded by
    /// `curl`/`wget`/`http`, and what `find -delete` deletes. A relative path after a literal
    /// `cd DIR` counts from DIR too (both readings are targets: the `cd` may have been in a
    /// subshell).
    pub fn targets(&self) -> &[Target] {
        self.targets.get_or_init(|| {
            let mut out = Vec::new();
            if let Some(input) = self.event.value().get("tool_input") {
                let write = matches!(
                    self.event.tool_name(),
                    Some("Write" | "Edit" | "MultiEdit" | "NotebookEdit")
                );
                for key in ["file_path", "path", "notebook_path"] {
                    if let Some(p) = input.get(key).and_then(Value::as_str)
                        && !p.is_empty()
                    {
                        let abs = absolutize(p, self.cwd(), self.home);
                        out.push(Target::new(p.to_string(), abs, None, write));
                    }
                }
            }
            let Some(a) = self.analysis() else {
                return out;
            };
            let mut cwds: Vec<String> = Vec::new();
            let mut paths = Vec::new();
            let mut appends = Vec::new();
            for (i, c) in a.commands.iter().enumerate() {
                paths.clear();
                appends.clear();
                redirect_paths(c, &mut paths, &mut appends);
                let redirects = paths.len();
                bash_paths(c, &mut paths);
                let args_keep = keeps_content(c);
                for (k, (raw, write)) in paths.drain(..).enumerate() {
                    if raw.is_empty() || is_stream_device(&raw) {
                        continue;
                    }
                    let redirect = k < redirects;
                    let keeps = if redirect { appends[k] } else { args_keep };
                    let abs = absolutize(&raw, self.cwd(), self.home);
                    for cwd in &cwds {
                        let other = absolutize(&raw, Some(cwd), self.home);
                        if other != abs {
                            let mut t = Target::new(raw.clone(), other, Some(i), write);
                            t.redirect = redirect;
                            t.keeps = keeps;
                            out.push(t);
                        }
                    }
                    let mut t = Target::new(raw, abs, Some(i), write);
                    t.redirect = redirect;
                    t.keeps = keeps;
                    out.push(t);
                }
                if let Some(dir) = cd_target(c)
                    && cwds.len() < CD_CAP
                {
                    let base = cwds.last().map(String::as_str).or(self.cwd());
                    let abs = absolutize(dir, base, self.home);
                    cwds.push(abs.to_string_lossy().into_owned());
                }
            }
            out
        })
    }

    fn project_root(&self) -> Option<&Path> {
        self.roots().0.as_deref()
    }

    fn resolved_root(&self) -> Option<&Path> {
        self.resolved_root
            .get_or_init(|| self.project_root().map(resolved_root))
            .as_deref()
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

/// Most `cd` directories followed in one command.
const CD_CAP: usize = 8;

/// The directory a literal `cd DIR` or `pushd DIR` changes to (not `cd -`, not computed).
fn cd_target(c: &SimpleCommand) -> Option<&str> {
    if !matches!(c.name.as_str(), "cd" | "pushd") {
        return None;
    }
    let dir = c
        .args
        .iter()
        .find(|a| !a.starts_with('-') || a.len() == 1)?;
    let literal = !dir.contains(['$', '`']) && dir != "-";
    literal.then_some(dir.as_str())
}

/// The text `command` rules match: the command's text, plus the code or queries it reads on
/// stdin when it is an interpreter or a database client (`python - <<EOF`, `psql <<<…`,
/// `echo 'DROP TABLE t' | psql`).
fn match_text(c: &SimpleCommand) -> String {
    let mut text = c.text();
    if let Some(data) = &c.stdin_data
        && shell::code_on_stdin(&c.name)
    {
        text.push(' ');
        text.push_str(data);
    }
    text
}

/// Commands whose non-option arguments are all written (created, changed or deleted).
const WRITE_COMMANDS: &[&str] = &[
    "rm",
    "rmdir",
    "unlink",
    "touch",
    "mkdir",
    "tee",
    "truncate",
    "shred",
    "srm",
    "wipe",
    "rimraf",
    "del-cli",
    "trash-put",
];
/// Commands whose last operand is written and the others read (`mv` also removes its
/// sources, so they count as written).
const COPY_COMMANDS: &[&str] = &["cp", "mv", "ln", "install", "scp", "rsync"];
/// Commands whose non-option arguments are read.
const READ_COMMANDS: &[&str] = &[
    "cat",
    "less",
    "more",
    "head",
    "tail",
    "nano",
    "vi",
    "vim",
    "nvim",
    "emacs",
    "source",
    ".",
    "open",
    "xdg-open",
    "bat",
    "strings",
    "xxd",
    "od",
    "hexdump",
    "base64",
    "tar",
    "zip",
    "unzip",
    "7z",
    "7za",
    "gzip",
    "bzip2",
    "xz",
    "zstd",
    "lz4",
    "gpg",
    "gpg2",
    "age",
    "tac",
    "nl",
    "sort",
    "uniq",
    "diff",
    "cmp",
    "cut",
    "wc",
    "md5sum",
    "sha256sum",
    "sha1sum",
];
/// Commands whose first non-option argument is a pattern or script, the rest paths (read,
/// or written with `sed -i`).
const PATTERN_COMMANDS: &[&str] = &["grep", "egrep", "fgrep", "rg", "sed", "awk", "gawk", "jq"];
/// Commands taking an octal/symbolic mode or owner first, then paths they change.
const MODE_COMMANDS: &[&str] = &["chmod", "chown", "chgrp"];

/// Device files that are streams, never files whose content can be lost or leaked:
/// `/dev/null`, `/dev/zero`, the standard streams, `/dev/fd/N`, the terminal, the random
/// sources. Redirecting to or from them (`2>/dev/null`, `</dev/null`) or naming them
/// (`cp /dev/null log`) touches no file, so they are never targets. (Disks, `/dev/sd*`, and
/// bash's `/dev/tcp/…` are not in this list.)
fn is_stream_device(p: &str) -> bool {
    let Some(dev) = p.strip_prefix("/dev/") else {
        return false;
    };
    matches!(
        dev,
        "null" | "zero" | "full" | "stdin" | "stdout" | "stderr" | "tty" | "random" | "urandom"
    ) || dev
        .strip_prefix("fd/")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The files `c`'s redirections open, each with whether it is written, and in `appends`
/// whether it is appended to (`>>`).
fn redirect_paths(c: &SimpleCommand, out: &mut Vec<(String, bool)>, appends: &mut Vec<bool>) {
    for r in &c.redirects {
        let is_file = matches!(r.op.as_str(), ">" | ">>" | "<" | "&>" | "&>>" | ">|" | "<>")
            || (r.op.ends_with('>') && r.op.len() <= 3 && !r.op.starts_with('<'));
        if is_file && !r.target.starts_with('&') && !r.target.is_empty() {
            out.push((r.target.clone(), !r.op.ends_with('<')));
            appends.push(r.op.ends_with(">>"));
        }
    }
}

/// Whether the paths `c`'s arguments write keep what they hold: `touch`, `mkdir`,
/// `tee -a`.
fn keeps_content(c: &SimpleCommand) -> bool {
    match c.name.as_str() {
        "touch" | "mkdir" => true,
        "tee" => c.args.iter().any(|a| {
            a == "--append" || (a.starts_with('-') && !a.starts_with("--") && a.contains('a'))
        }),
        _ => false,
    }
}

/// Most simple commands a dump's output is followed through, downstream.
const TERMINAL_CAP: usize = 16;

/// Commands that only filter or page what they read, to their output: no files written, no
/// commands run, no network.
const LOCAL_FILTERS: &[&str] = &[
    "grep", "egrep", "fgrep", "rg", "ag", "sort", "uniq", "head", "tail", "wc", "cut", "tr",
    "less", "more", "column", "nl", "cat", "tac", "fold", "fmt", "comm", "jq", "bat",
];

/// Whether a redirection sends the command's output to a file (not a stream device, not
/// stderr alone).
fn output_to_file(c: &SimpleCommand) -> bool {
    c.redirects.iter().any(|r| {
        matches!(
            r.op.as_str(),
            ">" | ">>" | ">|" | "&>" | "&>>" | "1>" | "1>>"
        ) && !r.target.starts_with('&')
            && !is_stream_device(&r.target)
    })
}

/// Whether the output of simple command `i` reaches only the terminal: it is not in a
/// substitution, not redirected to a file, and every command downstream of it in its
/// pipeline is a local filter ([`LOCAL_FILTERS`]) that does not write a file either.
fn to_terminal(a: &Analysis, i: usize) -> bool {
    let Some(c) = a.commands.get(i) else {
        return false;
    };
    if !matches!(
        c.context,
        shell::Context::TopLevel | shell::Context::ShellBody
    ) || output_to_file(c)
    {
        return false;
    }
    let mut at = i;
    for _ in 0..TERMINAL_CAP {
        let Some((j, next)) = a
            .commands
            .iter()
            .enumerate()
            .skip(at + 1)
            .find(|(_, n)| n.stdin_pipe == Some(at))
        else {
            return true;
        };
        if !LOCAL_FILTERS.contains(&next.name.as_str())
            || !next.wrappers.is_empty()
            || output_to_file(next)
        {
            return false;
        }
        at = j;
    }
    false
}

/// The paths `c`'s arguments name, each with whether it is written.
fn bash_paths(c: &SimpleCommand, out: &mut Vec<(String, bool)>) {
    let name = c.name.as_str();
    match name {
        "dd" => {
            for a in &c.args {
                if let Some(p) = a.strip_prefix("of=") {
                    out.push((p.to_string(), true));
                } else if let Some(p) = a.strip_prefix("if=") {
                    out.push((p.to_string(), false));
                }
            }
            return;
        }
        "find" => {
            if find_deletes(&c.args) {
                out.extend(shell::find_matches(&c.args).into_iter().map(|p| (p, true)));
            }
            return;
        }
        "curl" | "wget" | "http" | "https" | "xh" | "xhs" => {
            upload_paths(name, &c.args, out);
            return;
        }
        _ if shell::code_on_stdin(name) => {
            // Interpreter code: the paths its delete calls name.
            out.extend(shell::code_deleted_paths(c).into_iter().map(|p| (p, true)));
            return;
        }
        "aws" | "gcloud" | "gsutil" | "rclone" | "azcopy" | "s3cmd" | "mc" | "az" | "gh"
        | "croc" | "wormhole" | "ffsend" => {
            cloud_copy_paths(name, &c.args, out);
            return;
        }
        "openssl" => {
            let mut it = c.args.iter();
            while let Some(a) = it.next() {
                if matches!(a.as_str(), "-in" | "-inkey" | "-key" | "-out" | "-keyout")
                    && let Some(p) = it.next()
                {
                    out.push((p.clone(), matches!(a.as_str(), "-out" | "-keyout")));
                }
            }
            return;
        }
        _ => {}
    }
    let pattern_first = PATTERN_COMMANDS.contains(&name);
    let known = pattern_first
        || MODE_COMMANDS.contains(&name)
        || WRITE_COMMANDS.contains(&name)
        || COPY_COMMANDS.contains(&name)
        || READ_COMMANDS.contains(&name);
    if !known {
        return;
    }
    // Short options whose argument follows (in the word or the next one): not paths.
    let with_arg = short_options_with_argument(name);
    let mut operands = Vec::new();
    let mut options_done = false;
    let mut in_place = false;
    // A pattern or script given by option (`grep -e PAT`, `sed -e SCRIPT`): operands are
    // all files.
    let mut pattern_given = false;
    let mut target_dir = None;
    let mut args = c.args.iter();
    while let Some(a) = args.next() {
        if !options_done && a == "--" {
            options_done = true;
            continue;
        }
        if options_done || !a.starts_with('-') || a.len() == 1 {
            operands.push(a.clone());
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            in_place |= name == "sed" && long.starts_with("in-place");
            pattern_given |= pattern_first
                && ["expression", "regexp", "file"]
                    .iter()
                    .any(|k| long.starts_with(k));
            if let Some(dir) = long.strip_prefix("target-directory=") {
                target_dir = Some(dir.to_owned());
            } else if long == "target-directory" {
                target_dir = args.next().cloned();
            }
            continue;
        }
        for (k, ch) in a.char_indices().skip(1) {
            in_place |= name == "sed" && ch == 'i';
            if !with_arg.contains(ch) {
                continue;
            }
            pattern_given |= pattern_first && matches!(ch, 'e' | 'f');
            let value = if k + 1 < a.len() {
                Some(a[k + 1..].to_owned())
            } else {
                args.next().cloned()
            };
            if ch == 't' && COPY_COMMANDS.contains(&name) {
                target_dir = value;
            }
            break;
        }
    }
    let skip = usize::from((pattern_first && !pattern_given) || MODE_COMMANDS.contains(&name));
    let operands = operands.into_iter().skip(skip);
    if COPY_COMMANDS.contains(&name) {
        let ops: Vec<String> = operands.collect();
        let n = ops.len();
        for (k, p) in ops.into_iter().enumerate() {
            // `host:path` is on another machine.
            if !remote_path(&p) {
                let dest = target_dir.is_none() && k + 1 == n;
                out.push((p, dest || name == "mv"));
            }
        }
        out.extend(target_dir.filter(|d| !remote_path(d)).map(|d| (d, true)));
        return;
    }
    let write = WRITE_COMMANDS.contains(&name) || MODE_COMMANDS.contains(&name) || in_place;
    out.extend(operands.map(|p| (p, write)));
}

/// Short options of `name` that take an argument, so the argument is not a path operand.
fn short_options_with_argument(name: &str) -> &'static str {
    match name {
        "truncate" => "sr",
        "shred" => "ns",
        "touch" => "trd",
        "mkdir" => "m",
        "install" => "mogtS",
        "cp" | "mv" | "ln" => "tS",
        "scp" => "iPocFlSJ",
        "rsync" => "eBf",
        "head" | "tail" => "nc",
        "grep" | "egrep" | "fgrep" => "efmABCd",
        "rg" => "egtTmABCMj",
        "sed" => "ef",
        "awk" | "gawk" => "Fvf",
        "jq" => "",
        "sort" => "ktoS",
        "cut" => "dfbc",
        "gpg" | "gpg2" => "oruk",
        "age" => "rRio",
        "diff" => "UCxXI",
        "base64" => "w",
        "tar" => "fCTXbHKg",
        "zip" => "nxib",
        "split" => "lbna",
        _ => "",
    }
}

/// `[user@]host:path`: a path on another machine (scp, rsync).
fn remote_path(p: &str) -> bool {
    match p.find(':') {
        Some(k) => !p[..k].contains('/'),
        None => false,
    }
}

/// Whether `find ARGS` deletes what it finds (`-delete`, or `-exec rm …`).
fn find_deletes(args: &[String]) -> bool {
    args.iter().enumerate().any(|(k, a)| {
        a == "-delete"
            || (matches!(a.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir")
                && args.get(k + 1).is_some_and(|c| {
                    matches!(
                        c.rsplit('/').next().unwrap_or(c),
                        "rm" | "rmdir" | "unlink" | "shred" | "srm"
                    )
                }))
    })
}

/// curl's short options that take an argument.
const CURL_ARG: &str = "AbcCdDeEFHKmoPQrtTuUwxXyYz";

/// Whether `p` names a place in cloud storage or on a remote (`s3://b/k`, `gs://b`,
/// `remote:path`), not a local path.
fn cloud_path(p: &str) -> bool {
    p.contains("://") || remote_path(p)
}

/// The local paths a cloud-storage, sync or sharing tool copies (`aws s3 cp`, `gsutil cp`,
/// `gcloud storage cp`, `rclone copy`, `azcopy copy`, `s3cmd put`, `mc cp`, `az storage … upload
/// -f FILE`, `gh gist create`, `gh release upload`, `croc send`, `wormhole send`): sources are read (uploaded), a local last operand after a remote source is
/// written (downloaded). Options' values may be counted as paths too; they only ever add
/// read targets.
fn cloud_copy_paths(name: &str, args: &[String], out: &mut Vec<(String, bool)>) {
    let copy_at = match name {
        "aws" => args
            .windows(2)
            .position(|w| w[0] == "s3" && matches!(w[1].as_str(), "cp" | "mv" | "sync"))
            .map(|k| k + 2),
        "gcloud" => args
            .windows(2)
            .position(|w| w[0] == "storage" && matches!(w[1].as_str(), "cp" | "mv" | "rsync"))
            .map(|k| k + 2),
        // Sharing tools: what they send is read.
        "gh" => (args.len() >= 2
            && matches!(
                (args[0].as_str(), args[1].as_str()),
                ("gist", "create" | "edit") | ("release", "upload" | "create")
            ))
        .then_some(2),
        "croc" | "wormhole" | "ffsend" => args
            .iter()
            .position(|a| matches!(a.as_str(), "send" | "upload"))
            .map(|k| k + 1),
        "gsutil" | "rclone" | "azcopy" | "s3cmd" | "mc" => args
            .iter()
            .position(|a| {
                matches!(
                    a.as_str(),
                    "cp" | "mv"
                        | "rsync"
                        | "copy"
                        | "copyto"
                        | "sync"
                        | "move"
                        | "moveto"
                        | "put"
                        | "mirror"
                        | "bisync"
                )
            })
            .map(|k| k + 1),
        "az" => {
            // `az storage blob upload -f FILE`, `upload-batch -s DIR`, `az storage file upload
            // --source FILE`.
            if !args.iter().any(|a| a.starts_with("upload")) {
                return;
            }
            let mut it = args.iter();
            while let Some(a) = it.next() {
                let (opt, v) = match a.split_once('=') {
                    Some((o, v)) => (o, Some(v.to_owned())),
                    None => (a.as_str(), None),
                };
                if matches!(opt, "-f" | "--file" | "-s" | "--source")
                    && let Some(v) = v.or_else(|| it.next().cloned())
                {
                    out.push((v, false));
                }
            }
            return;
        }
        _ => None,
    };
    let Some(at) = copy_at else { return };
    let ops: Vec<&String> = args[at.min(args.len())..]
        .iter()
        .filter(|a| !a.starts_with('-'))
        .collect();
    let remote_source = ops.len() > 1 && ops[..ops.len() - 1].iter().any(|p| cloud_path(p));
    for (k, p) in ops.iter().enumerate() {
        if !cloud_path(p) {
            let download = remote_source && k + 1 == ops.len();
            out.push(((*p).clone(), download));
        }
    }
}

/// Files `curl`, `wget` or `httpie` send (read): `-F name=@file`, `-d @file`,
/// `--data-binary @file`, `-T file`, `--post-file=file`, `field@file`.
fn upload_paths(name: &str, args: &[String], out: &mut Vec<(String, bool)>) {
    let mut it = args.iter().peekable();
    let at_file = |v: &str| -> Option<String> {
        let p = v.split_once('@').map(|(_, p)| p)?;
        let p = p.split(';').next().unwrap_or(p);
        (!p.is_empty() && p != "-").then(|| p.to_owned())
    };
    while let Some(a) = it.next() {
        match name {
            "curl" => {
                let short;
                let (opt, attached) = if a.starts_with("--") {
                    match a.split_once('=') {
                        Some((o, v)) => (o, Some(v.to_owned())),
                        None => (a.as_str(), None),
                    }
                } else if a.len() > 2 && a.starts_with('-') {
                    // A cluster of short flags (`-sSLT file`, `-sd@.env`): the first option
                    // that takes an argument takes the rest of the word, or the next word.
                    match a
                        .char_indices()
                        .skip(1)
                        .find(|(_, c)| CURL_ARG.contains(*c))
                    {
                        Some((k, c)) => {
                            short = format!("-{c}");
                            let rest = &a[k + c.len_utf8()..];
                            (short.as_str(), (!rest.is_empty()).then(|| rest.to_owned()))
                        }
                        None => continue,
                    }
                } else {
                    (a.as_str(), None)
                };
                let value = |it: &mut std::iter::Peekable<std::slice::Iter<'_, String>>| {
                    attached.clone().or_else(|| it.next().cloned())
                };
                match opt {
                    "-F" | "--form" | "--form-string" => {
                        if let Some(v) = value(&mut it) {
                            let file = v
                                .split_once("=@")
                                .or_else(|| v.split_once("=<"))
                                .map(|(_, p)| p.split(';').next().unwrap_or(p).to_owned());
                            out.extend(
                                file.filter(|p| !p.is_empty() && p != "-")
                                    .map(|p| (p, false)),
                            );
                        }
                    }
                    "-d" | "--data" | "--data-binary" | "--data-ascii" | "--data-urlencode"
                    | "--json" => {
                        if let Some(v) = value(&mut it)
                            && (v.starts_with('@') || opt == "--data-urlencode")
                        {
                            out.extend(at_file(&v).map(|p| (p, false)));
                        }
                    }
                    "-T" | "--upload-file" => {
                        if let Some(v) = value(&mut it)
                            && v != "-"
                        {
                            out.push((v, false));
                        }
                    }
                    _ => {}
                }
            }
            "wget" => {
                for key in ["--post-file", "--body-file"] {
                    if let Some(v) = a.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                        out.push((v.to_owned(), false));
                    } else if a == key
                        && let Some(v) = it.next()
                    {
                        out.push((v.clone(), false));
                    }
                }
            }
            _ => {
                // httpie and xh: `field@path` uploads a file, `@path` sends it as the body.
                if a.starts_with('-') {
                    continue;
                }
                let before_at = a.split('@').next().unwrap_or("");
                if a.contains('@') && !before_at.contains(['=', ':', '/']) {
                    out.extend(at_file(a).map(|p| (p, false)));
                }
            }
        }
    }
}

/// How long a project root's resolved path is reused on one thread.
const ROOT_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

thread_local! {
    /// The last project root resolved on this thread: a session's events all have the same
    /// one, and resolving it costs a `stat` per component.
    static LAST_ROOT: RefCell<Option<(PathBuf, std::time::Instant, PathBuf)>> =
        const { RefCell::new(None) };
}

/// [`resolve`] for a project root, reused for [`ROOT_RECHECK`] on this thread.
fn resolved_root(root: &Path) -> PathBuf {
    let now = std::time::Instant::now();
    LAST_ROOT.with_borrow_mut(|last| {
        if let Some((r, at, resolved)) = last.as_ref()
            && r == root
            && now.duration_since(*at) < ROOT_RECHECK
        {
            return resolved.clone();
        }
        let resolved = resolve(root);
        *last = Some((root.to_path_buf(), now, resolved.clone()));
        resolved
    })
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
    /// Whether the event-level conditions hold (tool, prompt, content, fields). With `why`,
    /// also says what matched: only for a rule that matched as a whole, so the many rules
    /// that fail a later condition build no text.
    fn event_level(&self, cx: &Ctx<'_>, mut why: Option<&mut Why>) -> bool {
        let event = cx.event;
        if let Some(m) = &self.tool {
            let tool = event.tool_name();
            if !m.matches(tool) {
                return false;
            }
            if let Some(why) = why.as_deref_mut() {
                why.push(format!("tool {}", tool.unwrap_or("-")));
            }
        }
        if let Some(re) = &self.prompt {
            let Some(m) = event.prompt().and_then(|p| re.find(p)) else {
                return false;
            };
            if let Some(why) = why.as_deref_mut() {
                why.push(format!("prompt matched {:?}", excerpt(m.as_str())));
            }
        }
        if let Some(re) = &self.content {
            let Some(m) = written_texts(event).into_iter().find_map(|t| re.find(t)) else {
                return false;
            };
            if let Some(why) = why.as_deref_mut() {
                why.push(format!("content matched {:?}", excerpt(m.as_str())));
            }
        }
        for (path, re) in &self.field {
            let Some(v) = field_value(event.value(), path) else {
                return false;
            };
            let Some(m) = re.find(&v) else { return false };
            if let Some(why) = why.as_deref_mut() {
                why.push(format!(
                    "{} matched {:?}",
                    path.join("."),
                    excerpt(m.as_str())
                ));
            }
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
                    && base.is_some_and(|b| rel_under(&t.abs, b).is_some_and(|r| set.is_match(r)))
            };
            let home = cx.home_dir();
            let hit = g.absolute_hit(&t.abs, [cx.project_root(), home])
                || under(cx.project_root(), &g.relative)
                || (g.home_itself && home.is_some_and(|h| *h == t.abs))
                || under(home, &g.home);
            if !hit {
                return false;
            }
        }
        if let Some(want_outside) = self.outside_project {
            let Some(root) = cx.resolved_root() else {
                return false;
            };
            let outside = !inside(root, t.resolved());
            if outside != want_outside {
                return false;
            }
        }
        if self.write.is_some_and(|w| w != t.write) {
            return false;
        }
        if self.redirect.is_some_and(|r| r != t.redirect) {
            return false;
        }
        if self.clobber.is_some_and(|c| c != t.clobbers()) {
            return false;
        }
        if let Some(want) = self.build_output {
            let is = cx
                .project_root()
                .is_some_and(|root| super::outputs::is_build_output(root, &t.abs));
            if is != want {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_under_agrees_with_strip_prefix_on_normalised_paths() {
        let paths = [
            "/",
            "/a",
            "/ab",
            "/a/b",
            "/a/b/c",
            "/ab/c",
            "/a/bc",
            "/tmp/x/.env",
        ];
        for p in paths {
            for r in paths {
                let (p, r) = (Path::new(p), Path::new(r));
                assert_eq!(rel_under(p, r), p.strip_prefix(r).ok(), "{p:?} under {r:?}");
            }
        }
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
