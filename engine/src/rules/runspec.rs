//! The `run` action's settings: what to execute, how, and for how long.
//!
//! Pure data parsed from a rule's `run`, `mode`, `timeout`, `priority`, `env`, `pass_env`,
//! `retries`, `on_failure` and `stdout` keys. Executing it is `crate::run`'s job; nothing here
//! spawns, waits or reads the environment.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A run's timeout when the rule gives none.
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 60_000;
/// The longest timeout a rule may set (Claude Code's own default for command hooks).
pub(crate) const MAX_TIMEOUT_MS: u64 = 600_000;
/// The most retries a background run may ask for.
pub(crate) const MAX_RETRIES: u32 = 10;

/// What a `run` rule executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunCommand {
    /// Executed directly, no shell (`run = ["prog", "arg"]`).
    Argv(Vec<String>),
    /// Run with `/bin/sh -c` (`run = "prog arg | other"`), as Claude Code runs command hooks.
    Shell(String),
}

impl RunCommand {
    /// The command as one line of text, for records and listings.
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::Shell(s) => s.clone(),
            Self::Argv(v) => v
                .iter()
                .map(|a| {
                    let plain = !a.is_empty()
                        && a.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-./,:+@%=".contains(c));
                    if plain {
                        a.clone()
                    } else {
                        format!("'{}'", a.replace('\'', r"'\''"))
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// When a run's result is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// hookd waits for it; its result joins the verdict.
    Sync,
    /// hookd answers at once; the run is queued, retried on failure, and recorded.
    Background,
}

impl RunMode {
    /// The mode's name in rule files and records.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Background => "background",
        }
    }
}

/// What a failed sync run (no start, timeout, killed, exit other than 0 and 2, bad JSON) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// The event goes ahead; the user sees a warning (Claude Code's default).
    Continue,
    /// The event is blocked (denied for permission events), like Claude Code's
    /// `onFailure: "block"`.
    Block,
}

/// What plain (non-JSON) stdout of a sync run becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutUse {
    /// Context for the model on events that take `additionalContext`.
    Context,
    /// Nothing (it is still recorded).
    Ignore,
}

/// A compiled `run` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// What to execute.
    pub command: RunCommand,
    /// Sync or background.
    pub mode: RunMode,
    /// Kill the process group after this long (ms).
    pub timeout_ms: u64,
    /// Higher runs first among an event's runs; ties keep rule order.
    pub priority: i32,
    /// Variables added to the script's environment.
    pub env: Vec<(String, String)>,
    /// Variables of hookd's environment passed through even though their names look secret.
    pub pass_env: Vec<String>,
    /// Background only: attempts after a failed one, with exponential backoff.
    pub retries: u32,
    /// What a failed sync run does.
    pub on_failure: OnFailure,
    /// What plain stdout becomes.
    pub stdout: StdoutUse,
}

/// A rule's `timeout`: seconds (as Claude Code writes it) or a duration string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TimeoutSpec {
    /// Seconds.
    Secs(f64),
    /// `"30s"`, `"500ms"`, `"2m"`.
    Text(String),
}

/// A rule's `run`: a shell string or an argv list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum CommandSpec {
    /// `/bin/sh -c`.
    Shell(String),
    /// Exec form.
    Argv(Vec<String>),
}

/// The `run` keys of one rule, as written.
#[derive(Debug, Default)]
pub(crate) struct RunKeys {
    pub run: Option<CommandSpec>,
    pub mode: Option<String>,
    pub timeout: Option<TimeoutSpec>,
    pub priority: Option<i32>,
    pub env: Option<BTreeMap<String, String>>,
    pub pass_env: Option<Vec<String>>,
    pub retries: Option<u32>,
    pub on_failure: Option<String>,
    pub stdout: Option<String>,
}

impl RunKeys {
    /// Whether any `run` key is present.
    pub fn any(&self) -> bool {
        self.run.is_some()
            || self.mode.is_some()
            || self.timeout.is_some()
            || self.priority.is_some()
            || self.env.is_some()
            || self.pass_env.is_some()
            || self.retries.is_some()
            || self.on_failure.is_some()
            || self.stdout.is_some()
    }

    /// Compiles the keys of an `action = "run"` rule.
    pub fn compile(self) -> Result<RunSpec, String> {
        let command = match self.run {
            None => {
                return Err(
                    "a `run` rule needs `run`: a shell command string, or an argv list like [\"prog\", \"arg\"]"
                        .into(),
                );
            }
            Some(CommandSpec::Shell(s)) if s.trim().is_empty() => {
                return Err("`run` is empty".into());
            }
            Some(CommandSpec::Shell(s)) => RunCommand::Shell(s),
            Some(CommandSpec::Argv(v)) if v.first().is_none_or(|p| p.trim().is_empty()) => {
                return Err("`run` needs a program as its first element".into());
            }
            Some(CommandSpec::Argv(v)) => RunCommand::Argv(v),
        };
        let mode = match self.mode.as_deref() {
            None | Some("sync") => RunMode::Sync,
            Some("background") => RunMode::Background,
            Some(m) => {
                return Err(format!(
                    "bad `mode` {m:?}: expected \"sync\" or \"background\""
                ));
            }
        };
        let timeout_ms = match self.timeout {
            None => DEFAULT_TIMEOUT_MS,
            Some(TimeoutSpec::Secs(s)) if s > 0.0 && s.is_finite() => {
                // Whole milliseconds; the cast is bounded by the check below.
                let ms = (s * 1000.0).ceil();
                if ms > MAX_TIMEOUT_MS as f64 {
                    u64::MAX
                } else {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let ms = ms as u64;
                    ms
                }
            }
            Some(TimeoutSpec::Secs(s)) => {
                return Err(format!(
                    "bad `timeout` {s}: a positive number of seconds, or a duration like \"30s\""
                ));
            }
            Some(TimeoutSpec::Text(t)) => crate::rules::state::parse_duration_ms(&t)
                .and_then(|ms| u64::try_from(ms).ok())
                .ok_or_else(|| {
                    format!("bad `timeout` {t:?}: use seconds (30) or a duration (\"30s\", \"500ms\", \"2m\")")
                })?,
        };
        if timeout_ms > MAX_TIMEOUT_MS {
            return Err(format!(
                "`timeout` is over the {} s limit",
                MAX_TIMEOUT_MS / 1000
            ));
        }
        let retries = self.retries.unwrap_or(0);
        if retries > 0 && mode == RunMode::Sync {
            return Err(
                "`retries` applies to background runs (`mode = \"background\"`): a sync run answers once"
                    .into(),
            );
        }
        if retries > MAX_RETRIES {
            return Err(format!("`retries` is over the limit of {MAX_RETRIES}"));
        }
        let on_failure = match self.on_failure.as_deref() {
            None | Some("continue") => OnFailure::Continue,
            Some("block") if mode == RunMode::Sync => OnFailure::Block,
            Some("block") => {
                return Err(
                    "`on_failure = \"block\"` needs a sync run: a background run cannot block"
                        .into(),
                );
            }
            Some(o) => {
                return Err(format!(
                    "bad `on_failure` {o:?}: expected \"continue\" or \"block\""
                ));
            }
        };
        let stdout = match self.stdout.as_deref() {
            None | Some("context") => StdoutUse::Context,
            Some("ignore") => StdoutUse::Ignore,
            Some(o) => {
                return Err(format!(
                    "bad `stdout` {o:?}: expected \"context\" or \"ignore\""
                ));
            }
        };
        let env: Vec<(String, String)> = self.env.unwrap_or_default().into_iter().collect();
        for (k, _) in &env {
            if !valid_env_name(k) {
                return Err(format!(
                    "bad `env` name {k:?}: letters, digits and _, not starting with a digit"
                ));
            }
        }
        let pass_env = self.pass_env.unwrap_or_default();
        if let Some(k) = pass_env.iter().find(|k| !valid_env_name(k)) {
            return Err(format!("bad `pass_env` name {k:?}"));
        }
        Ok(RunSpec {
            command,
            mode,
            timeout_ms,
            priority: self.priority.unwrap_or(0),
            env,
            pass_env,
            retries,
            on_failure,
            stdout,
        })
    }
}

fn valid_env_name(k: &str) -> bool {
    !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
