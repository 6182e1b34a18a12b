//! The words hookd records and sends about an event: its [`Verdict`], its [`Source`], and how
//! a `run` script ended ([`RunOutcome`]).
//!
//! Each is an enum whose `as_str()` is the exact text in the store, on the wire, in metrics
//! and in exports, so those formats never change with the code; `parse` reads the text back,
//! keeping a word this build does not know (written by a newer hookd) as `Other`. The
//! questions asked of them ("is it a denial?", "did the client answer it?") are answered here
//! once, for Rust code and for SQL alike.

use hook_protocol::failmode::FailMode;

/// What hookd (or, for [`Verdict::Fallback`], hook-client) answered for an event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Verdict {
    /// A permission decision: allow.
    Allow,
    /// A permission decision: deny.
    Deny,
    /// A permission decision: ask the user.
    Ask,
    /// A permission decision: defer to Claude Code's own handling.
    Defer,
    /// The event was blocked (Stop, PostToolUse, UserPromptSubmit…).
    Block,
    /// Context was added for the model.
    Context,
    /// A Stop block was let through by the loop guard.
    LoopGuard,
    /// A warning was shown to the user.
    Warn,
    /// Rules matched that only log.
    Log,
    /// A `run` script changed only the event's output (its effect; not an event verdict).
    Output,
    /// Nothing matched.
    #[default]
    None,
    /// hookd could not take the event (unparseable, or not durably recordable) and answered
    /// it by its fail mode.
    Error(FailMode),
    /// hook-client could not reach hookd and answered by its fail mode (recorded from the
    /// spool).
    Fallback(FailMode),
    /// A word this build does not know.
    Other(Box<str>),
}

/// The text prefix of [`Verdict::Fallback`]; `verdict LIKE 'fallback:%'` in SQL.
pub const FALLBACK_PREFIX: &str = "fallback:";

impl Verdict {
    /// The verdict's text, as stored and sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Ask => "ask",
            Self::Defer => "defer",
            Self::Block => "block",
            Self::Context => "context",
            Self::LoopGuard => "loop-guard",
            Self::Warn => "warn",
            Self::Log => "log",
            Self::Output => "output",
            Self::None => "none",
            Self::Error(FailMode::Pass) => "error:pass",
            Self::Error(FailMode::Ask) => "error:ask",
            Self::Error(FailMode::Deny) => "error:deny",
            Self::Fallback(FailMode::Pass) => "fallback:pass",
            Self::Fallback(FailMode::Ask) => "fallback:ask",
            Self::Fallback(FailMode::Deny) => "fallback:deny",
            Self::Other(s) => s,
        }
    }

    /// Reads a verdict's text back.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        let mode = |m: &str| match m {
            "pass" => Some(FailMode::Pass),
            "ask" => Some(FailMode::Ask),
            "deny" => Some(FailMode::Deny),
            _ => None,
        };
        match s {
            "allow" => Self::Allow,
            "deny" => Self::Deny,
            "ask" => Self::Ask,
            "defer" => Self::Defer,
            "block" => Self::Block,
            "context" => Self::Context,
            "loop-guard" => Self::LoopGuard,
            "warn" => Self::Warn,
            "log" => Self::Log,
            "output" => Self::Output,
            "none" => Self::None,
            _ => match s.split_once(':').and_then(|(k, m)| Some((k, mode(m)?))) {
                Some(("error", m)) => Self::Error(m),
                Some(("fallback", m)) => Self::Fallback(m),
                _ => Self::Other(s.into()),
            },
        }
    }

    /// A denial: the tool call (or the action) did not go ahead without the user (`deny`,
    /// `ask`). Counted per session (`denials`) and per store session row.
    #[must_use]
    pub fn is_denial(&self) -> bool {
        matches!(self, Self::Deny | Self::Ask)
    }

    /// The SQL condition for [`Verdict::is_denial`] on a `verdict` column.
    pub const DENIAL_SQL: &'static str = "verdict IN ('deny', 'ask')";

    /// Whether hook-client answered it by its fail mode (hookd was unreachable).
    #[must_use]
    pub fn is_fallback(&self) -> bool {
        matches!(self, Self::Fallback(_))
    }

    /// The SQL condition for [`Verdict::is_fallback`] on a `verdict` column.
    pub const FALLBACK_SQL: &'static str = "verdict LIKE 'fallback:%'";
}

impl From<&str> for Verdict {
    fn from(s: &str) -> Self {
        Self::parse(s)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Verdict {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Verdict {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Where an event reached hookd from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// hook-client, over the Unix socket.
    #[default]
    Socket,
    /// An HTTP hook.
    Http,
    /// The spool hook-client writes when hookd cannot answer.
    Spool,
}

impl Source {
    /// The source's text, as stored and sent.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Socket => "socket",
            Self::Http => "http",
            Self::Spool => "spool",
        }
    }

    /// Reads a source's text back (an unknown word reads as [`Source::Socket`]).
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "http" => Self::Http,
            "spool" => Self::Spool,
            _ => Self::Socket,
        }
    }
}

/// How one attempt of a `run` script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Exit 0 and usable output.
    Ok,
    /// Exit 2: a deliberate block.
    Blocked,
    /// A failure: exit other than 0/2, killed by a signal, could not start, bad output.
    Failed,
    /// Killed at its timeout.
    TimedOut,
    /// Killed because hookd was shutting down.
    Cancelled,
    /// Never started: too many background runs waiting, or hookd shutting down.
    Dropped,
}

impl RunOutcome {
    /// The outcome's text in records (`ok`, `blocked`, `failed`, `timeout`, `cancelled`,
    /// `dropped`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::TimedOut => "timeout",
            Self::Cancelled => "cancelled",
            Self::Dropped => "dropped",
        }
    }

    /// Whether this counts as a failure (counted, shown by `doctor`, retried in background).
    #[must_use]
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::Dropped)
    }

    /// The SQL condition for [`RunOutcome::is_failure`] on an `outcome` column.
    pub const FAILURE_SQL: &'static str = "outcome IN ('failed', 'timeout', 'dropped')";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_back_what_they_write() {
        let all = [
            Verdict::Allow,
            Verdict::Deny,
            Verdict::Ask,
            Verdict::Defer,
            Verdict::Block,
            Verdict::Context,
            Verdict::LoopGuard,
            Verdict::Warn,
            Verdict::Log,
            Verdict::Output,
            Verdict::None,
            Verdict::Error(FailMode::Pass),
            Verdict::Error(FailMode::Ask),
            Verdict::Error(FailMode::Deny),
            Verdict::Fallback(FailMode::Pass),
            Verdict::Fallback(FailMode::Ask),
            Verdict::Fallback(FailMode::Deny),
        ];
        for v in &all {
            assert_eq!(&Verdict::parse(v.as_str()), v);
        }
        assert_eq!(
            Verdict::parse("newer-word"),
            Verdict::Other("newer-word".into())
        );
        assert_eq!(Verdict::parse("fallback:maybe").as_str(), "fallback:maybe");
        // The SQL conditions say what the methods say.
        for v in &all {
            let s = v.as_str();
            assert_eq!(v.is_denial(), s == "deny" || s == "ask", "{s}");
            assert_eq!(v.is_fallback(), s.starts_with(FALLBACK_PREFIX), "{s}");
        }
        assert!(Verdict::DENIAL_SQL.contains("'deny', 'ask'"));
        assert!(Verdict::FALLBACK_SQL.contains(FALLBACK_PREFIX));
    }

    #[test]
    fn sources_and_outcomes_read_back() {
        for s in [Source::Socket, Source::Http, Source::Spool] {
            assert_eq!(Source::parse(s.as_str()), s);
        }
        for o in [
            RunOutcome::Ok,
            RunOutcome::Blocked,
            RunOutcome::Failed,
            RunOutcome::TimedOut,
            RunOutcome::Cancelled,
            RunOutcome::Dropped,
        ] {
            assert_eq!(
                RunOutcome::FAILURE_SQL.contains(&format!("'{}'", o.as_str())),
                o.is_failure()
            );
        }
    }
}
