//! Bash command analysis (pure, no I/O): finds every simple command in a command string.
//!
//! Placeholder API; the real analyser replaces the body of `analyze_with`.

/// Bounds on the analysis of hostile input.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of `$( )`, `bash -c`, `eval`, subshells… analysed.
    pub max_depth: usize,
    /// Most simple commands reported.
    pub max_commands: usize,
    /// Longest input analysed, in bytes.
    pub max_input: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 32, max_commands: 1024, max_input: 1 << 20 }
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
}

/// A redirection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The operator: `>`, `>>`, `<`, `2>`, `&>`, `>|`, `<<`, `<<<`…
    pub op: String,
    /// The target word with quotes removed (for `<<`, the heredoc body).
    pub target: String,
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
#[must_use]
pub fn analyze_with(src: &str, limits: &Limits) -> Analysis {
    let _ = limits;
    let mut words = src.split_whitespace().map(str::to_string);
    let Some(name) = words.next() else { return Analysis::default() };
    Analysis {
        commands: vec![SimpleCommand {
            name,
            args: words.collect(),
            redirects: Vec::new(),
            assignments: Vec::new(),
            wrappers: Vec::new(),
            stdin_data: None,
            context: Context::TopLevel,
            depth: 0,
        }],
        unparsed: None,
    }
}
