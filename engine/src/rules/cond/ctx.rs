//! [`Ctx`]: everything conditions look at for one event, each part computed at most once (the
//! shell analysis, from this thread's memo when the command was seen before; the targets;
//! the normalised and resolved roots).

use std::cell::{OnceCell, RefCell};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::command::match_text;
use super::paths::resolved_root;
use super::targets::{
    CD_CAP, Target, bash_paths, cd_target, is_stream_device, keeps_content, redirect_paths,
};
use crate::event::{HookEvent, Value};
use crate::memo;
use crate::paths::{absolutize, normalize};
use crate::shell::{self, Analysis};

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
    pub(crate) once_memory: Option<&'a dyn crate::rules::state::OnceMemory>,
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

    pub(super) fn project_root(&self) -> Option<&Path> {
        self.roots().0.as_deref()
    }

    pub(super) fn resolved_root(&self) -> Option<&Path> {
        self.resolved_root
            .get_or_init(|| self.project_root().map(resolved_root))
            .as_deref()
    }

    pub(super) fn home_dir(&self) -> Option<&Path> {
        self.roots().1.as_deref()
    }

    fn roots(&self) -> &(Option<PathBuf>, Option<PathBuf>) {
        self.roots.get_or_init(|| {
            let n = |p: Option<&str>| p.map(|p| normalize(Path::new(p)));
            (n(self.project), n(self.home))
        })
    }
}
