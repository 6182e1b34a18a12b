//! Bash command analysis (pure, no I/O): finds every simple command in a command string.
//!
//! A `command = '<regex>'` rule is matched against [`SimpleCommand::text`] of every simple
//! command [`analyze`] finds, so the analyser's job is to find them all, with clean names and
//! arguments: through lists and pipelines, compound commands (`( )`, `{ }`, `if`, `while`,
//! `for`, `case`, function bodies), substitutions (`$( )`, backticks, `<( )`, `>( )`), shell
//! bodies (`bash -c`, `eval`, heredocs and here-strings fed to a shell), wrappers (`sudo`,
//! `env`, `nice`, `timeout`, `xargs`…) and commands run by others (`find -exec`, `parallel`,
//! `watch`), while keeping data as data (quoted arguments, heredoc bodies given to `cat`).
//!
//! Module map: `parse` is the command-list parser (lists, compound commands,
//! simple commands, redirections, heredocs); `word` reads one word (quoting,
//! escapes, expansions, substitutions); `wrappers` strips wrappers and finds
//! the bodies and commands that a command runs; `code` finds the commands that
//! interpreter code runs (`os.system`, `execSync`, perl backticks…); [`explain`](fn@explain) renders an
//! analysis for people.
//!
//! Why a hand-written analyser rather than a bash parser crate: the parser crates build a full
//! syntax tree and stop at the first syntax error, while a hook must answer for every string,
//! including broken and hostile ones, in a few microseconds, with bounded work and stack (every
//! recursion here is checked against [`Limits::max_depth`]; compound commands use an explicit
//! stack). The interesting part is not bash's grammar but what a general parser does not do:
//! looking inside the strings that `bash -c`, `eval`, `sudo`, `xargs`, `find -exec` or a
//! heredoc-fed shell will run, and telling a heredoc given to `cat` from one given to `bash`.
//! A single-pass lexer over bytes does both with no dependency and no regex in the hot path.

mod code;
mod explain;
mod parse;
mod word;
mod wrappers;

#[cfg(test)]
mod tests;

pub(crate) use code::code_on_stdin;

/// The paths interpreter code in `c` deletes (`shutil.rmtree('build')`, `fs.rmSync('dist')`,
/// `FileUtils.rm_rf`…, in an inline program or one read on stdin): each a literal, or `$__`
/// when the code computes it. Empty for other commands.
#[must_use]
pub fn code_deleted_paths(c: &SimpleCommand) -> Vec<String> {
    code::deleted_paths(&c.name, &c.args, c.stdin_data.as_deref())
}
pub use explain::{explain, render};
pub(crate) use wrappers::find_matches;

/// Bounds on the analysis of hostile input.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of `$( )`, `bash -c`, `eval`, subshells… analysed. Values above 100 are
    /// treated as 100, which keeps the stack used by the analyser small.
    pub max_depth: usize,
    /// Most simple commands reported.
    pub max_commands: usize,
    /// Longest input analysed, in bytes.
    pub max_input: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_commands: 1024,
            max_input: 1 << 20,
        }
    }
}

/// How a simple command was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Directly in the command string (lists, pipelines, `( )`, `{ }`).
    TopLevel,
    /// Inside `$( )` or backticks.
    Substitution,
    /// Inside `<( )` or `>( )`.
    ProcessSubstitution,
    /// A body run by a shell: `bash -c`, `sh -c`, `eval`, a heredoc or here-string fed to a shell.
    ShellBody,
    /// Run by another command: `find -exec`, `xargs`, `parallel`.
    Exec,
    /// Run by interpreter code: `python -c "os.system('…')"`, `node -e "execSync('…')"`, perl
    /// and ruby backticks, awk's `system()`.
    Code,
}

impl Context {
    /// A short lower-case label (`top-level`, `substitution`…).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::TopLevel => "top-level",
            Self::Substitution => "substitution",
            Self::ProcessSubstitution => "process-substitution",
            Self::ShellBody => "shell-body",
            Self::Exec => "exec",
            Self::Code => "code",
        }
    }
}

/// A redirection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The operator: `>`, `>>`, `<`, `2>`, `&>`, `>|`, `<<`, `<<<`…
    pub op: String,
    /// The target word with quotes removed (for `<<`, the heredoc body).
    pub target: String,
}

/// What the analyser knows it cannot check about a command: facts rules can match with the
/// `fact` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    /// What runs is computed when the command runs: the command name is an expansion (`$X`,
    /// `$(…)`, backticks, `${X:-rm}`, `"${cmd[@]}"`), or interpreter code runs a command built
    /// at run time (`os.system(cmd)`).
    ComputedCommand,
    /// The command's output is run as code by a shell or an interpreter downstream of a pipe,
    /// and hookd cannot see that text (`base64 -d | sh`, `rev | bash`, `curl … | sh`).
    PipedCode,
    /// A function that pipes into itself (`bomb() { bomb | bomb & }; bomb`).
    ForkBomb,
}

impl FactKind {
    /// Every kind, in documentation order.
    pub const ALL: [FactKind; 3] = [Self::ComputedCommand, Self::PipedCode, Self::ForkBomb];

    /// The kind's name in rule files (`computed-command`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComputedCommand => "computed-command",
            Self::PipedCode => "piped-code",
            Self::ForkBomb => "fork-bomb",
        }
    }
}

/// One fact about a simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// What kind of fact.
    pub kind: FactKind,
    /// Says it for people: ``the command name comes from `$X` ``.
    pub detail: String,
}

/// One simple command, wrappers stripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The command name: quotes and a leading `\` removed, directory stripped (`/usr/bin/rm` →
    /// `rm`). Empty for a bare assignment.
    pub name: String,
    /// The words after the name, quotes removed (`$VAR`, `$(…)` kept as written).
    pub args: Vec<String>,
    /// Redirections.
    pub redirects: Vec<Redirect>,
    /// `VAR=value` prefixes.
    pub assignments: Vec<String>,
    /// Wrapper commands stripped, outermost first (`sudo`, `env`, `nice`, `xargs`…).
    pub wrappers: Vec<String>,
    /// Data fed on stdin by a heredoc or here-string (never analysed as commands unless the
    /// command is a shell).
    pub stdin_data: Option<String>,
    /// How it was reached.
    pub context: Context,
    /// Nesting depth (0 at top level).
    pub depth: usize,
    /// The command whose output this one reads through a pipe (an index into
    /// [`Analysis::commands`]).
    pub stdin_pipe: Option<usize>,
    /// What hookd cannot check about it.
    pub facts: Vec<Fact>,
}

impl SimpleCommand {
    /// `name` and `args` joined by single spaces: what the `command` condition matches.
    #[must_use]
    pub fn text(&self) -> String {
        let mut s = self.name.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// The result of analysing a command string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Every simple command found, in source order (outer before inner).
    pub commands: Vec<SimpleCommand>,
    /// Why the analysis is incomplete (unterminated quote, limit reached…), if it is.
    pub unparsed: Option<String>,
}

/// Analyses `src` with default limits.
#[must_use]
pub fn analyze(src: &str) -> Analysis {
    analyze_with(src, &Limits::default())
}

/// Analyses `src` within `limits`.
///
/// Never panics; the work done is linear in the input (times the nesting depth for bodies that
/// are re-read, such as `bash -c` strings), and the recursion depth is at most
/// [`Limits::max_depth`].
#[must_use]
pub fn analyze_with(src: &str, limits: &Limits) -> Analysis {
    parse::run(src, limits)
}
