//! hookd.toml's settings: one typed [`Settings`], its defaults, and its parse and validation.
//!
//! Every top-level key of `hookd.toml` but `[[rule]]` (the rules' own, [`crate::rules`]) is a
//! setting. [`parse`](fn@parse) reads them once from toml's spanned tree into typed values — durations
//! as [`Duration`] in the one grammar of [`hook_protocol::duration`] (a bare number is
//! seconds), sizes as bytes, choices as enums, addresses as [`SocketAddr`] — and reports every
//! problem at once, each as `file:line:column: what`, an unknown key with a "did you mean".
//!
//! A bad value is an error, never a silent default. The key keeps its default in the
//! [`Settings`] returned (so a file with errors still yields the settings that did validate),
//! and the error makes the whole load fail like a rule error: the daemon keeps the last good
//! set, settings included (docs/rules.md, "When rule files fail to load").
//!
//! `packs`, `disable_rules`, `[redact]`, `[run]` and `[session] bypass_alarm` apply on each
//! reload; `[store]`, the rest of `[session]`, `[server]`, `[http]` and `[ui]` are read only at start ([`Settings::start_only`]): a
//! reload that would change one of those is refused with an error saying to restart
//! ([`Settings::changes_needing_restart`]), so what runs never silently differs from the file.
//!
//! Pure: no I/O, no async. Depends on [`crate::redact`] (to compile `[redact]`) and the
//! protocol crate's duration grammar only.

mod fleet;
mod parse;
mod reader;
mod sections;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hook_protocol::duration;

use crate::redact::{RedactConfig, Redactor};

pub use fleet::{
    DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_EVENTS,
    DEFAULT_LAG_WARN, DEFAULT_LINGER, DEFAULT_SINK_TIMEOUT, FleetSettings, SinkKind, SinkSettings,
};
pub(crate) use parse::misplaced;
pub use parse::{parse, parse_text};
pub use reader::did_you_mean;
#[cfg(test)]
pub(crate) use reader::parse_size;

/// The top-level keys of hookd.toml that are settings (`rule` is the rules').
pub const TOP_KEYS: &[&str] = &[
    "packs",
    "disable_rules",
    "store",
    "session",
    "redact",
    "http",
    "run",
    "server",
    "ui",
    "fleet",
    "sink",
];

// Defaults and bounds, in one place. docs/operations.md lists them for users.

/// `[store] max_age`: events older than this are pruned.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);
/// `[store] max_size`: the store is kept under this many bytes.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
/// `[store] emergency_journal`: bytes set aside at start for answered events the store cannot
/// take.
pub const DEFAULT_EMERGENCY_JOURNAL: u64 = 4 << 20;
/// `[store] emergency_journal`: the smallest reserve accepted.
pub const MIN_EMERGENCY_JOURNAL: u64 = 64 << 10;
/// `[session] idle_ttl`: idle sessions leave memory after this long.
pub const DEFAULT_IDLE_TTL: Duration = Duration::from_secs(30 * 60);
/// `[session] max_live`: sessions kept in memory at most; well above the 10,000 live sessions
/// hookd is measured with (BENCHMARKS.md).
pub const DEFAULT_MAX_LIVE: usize = 50_000;
/// `[server] max_connections`: socket connections served at once.
pub const DEFAULT_SERVER_MAX_CONNECTIONS: usize = 1024;
/// `[server] idle_timeout`: a socket connection silent this long is closed.
pub const DEFAULT_SERVER_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// `[http] auth_timeout`: a new HTTP connection must send a request with the token within
/// this long.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// `[http] auth_timeout` at most: the HTTP listener's keep-alive idle timeout.
pub const MAX_AUTH_TIMEOUT: Duration = Duration::from_secs(60);
/// `[http] max_unauthenticated`: HTTP connections without the token yet, at most.
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 256;
/// `[http] max_connections`: HTTP connections that presented the token, at most.
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 1024;
/// `[ui] keepalive`: an open dashboard stream gets a comment this often when nothing happens.
pub const DEFAULT_UI_KEEPALIVE: Duration = Duration::from_secs(15);
/// `[ui] code_ttl`: a dashboard login code works for this long, and never longer.
pub const MAX_UI_CODE_TTL: Duration = Duration::from_secs(60);
/// `[run] max_background`: background runs executing at once.
pub const DEFAULT_MAX_BACKGROUND: usize = 4;
/// `[run] max_background` at most.
pub const MAX_MAX_BACKGROUND: usize = 1024;
/// `[run] retry_backoff`: the first retry's delay, doubled per retry.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// `[run] retry_backoff` at most; also the longest delay between retries.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(300);
/// Connection counts (`max_connections`, `max_unauthenticated`) at most.
pub const MAX_CONNECTION_COUNT: usize = 1_000_000;
/// `[session] max_live` at most.
pub const MAX_MAX_LIVE: usize = 100_000_000;
/// Durations in settings at most (100 years: whole milliseconds fit an `i64` many times over).
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);
/// Durations in settings at least, unless a key says otherwise.
pub const MIN_DURATION: Duration = Duration::from_millis(1);

/// A line and column (1-based, columns in characters) in hookd.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Location {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where.
    pub at: Location,
}

/// SQLite's `synchronous` for the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Survives a crash of hookd, not a power loss (the default).
    #[default]
    Normal,
    /// Also survives a power loss; slower.
    Full,
}

impl Synchronous {
    /// The name in hookd.toml.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Full => "full",
        }
    }
}

/// `[store]`: durability and retention (read at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// SQLite `synchronous`.
    pub synchronous: Synchronous,
    /// Events older than this are pruned.
    pub max_age: Duration,
    /// The store is kept under this many bytes.
    pub max_size: u64,
    /// Bytes set aside at start for the emergency journal.
    pub emergency_journal: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            max_age: DEFAULT_MAX_AGE,
            max_size: DEFAULT_MAX_SIZE,
            emergency_journal: DEFAULT_EMERGENCY_JOURNAL,
        }
    }
}

/// `[session]`: sessions in memory (read at start), and the bypass alarm (applied on reload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Idle sessions leave memory after this long (rebuilt from the store when they come
    /// back).
    pub idle_ttl: Duration,
    /// The most sessions kept in memory; past it the least recently active leave first.
    pub max_live: usize,
    /// Whether a tool call that ran without a PreToolUse is told to the model and the user
    /// (it is recorded and counted either way; docs/operations.md, "Bypass alarm").
    pub bypass_alarm: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_ttl: DEFAULT_IDLE_TTL,
            max_live: DEFAULT_MAX_LIVE,
            bypass_alarm: true,
        }
    }
}

/// `[server]`: limits on the Unix socket's connections (read at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    /// Connections served at once; one more is answered with an error and closed.
    pub max_connections: usize,
    /// A connection that sends nothing (or not a whole frame) for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_SERVER_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_SERVER_IDLE_TIMEOUT,
        }
    }
}

/// `[http]`: the opt-in HTTP listener for Claude Code's `http` hooks (read at start;
/// docs/http.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// The address to listen on; `None`: no HTTP listener. Outside the loopback range only
    /// with `allow_non_loopback`.
    pub listen: Option<SocketAddr>,
    /// Whether a `listen` address outside the loopback range was allowed.
    pub allow_non_loopback: bool,
    /// A connection that has not sent a request with the token within this long is closed.
    pub auth_timeout: Duration,
    /// Connections without a request with the token yet, at most; one more sheds the oldest.
    pub max_unauthenticated: usize,
    /// Connections that have presented the token, at most; past it a request is answered 503.
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: None,
            allow_non_loopback: false,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            max_unauthenticated: DEFAULT_MAX_UNAUTHENTICATED,
            max_connections: DEFAULT_HTTP_MAX_CONNECTIONS,
        }
    }
}

/// `[ui]`: the dashboard, a web page served by hookd on loopback (read at start; docs/ui.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiSettings {
    /// The loopback address to listen on; `None`: no dashboard. Never outside the loopback
    /// range (no override: the page shows every event).
    pub listen: Option<SocketAddr>,
    /// An open event stream gets a keepalive comment this often.
    pub keepalive: Duration,
    /// A login code from `hookctl ui` works for this long (at most [`MAX_UI_CODE_TTL`]).
    pub code_ttl: Duration,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            listen: None,
            keepalive: DEFAULT_UI_KEEPALIVE,
            code_ttl: MAX_UI_CODE_TTL,
        }
    }
}

/// `[run]`: background slots and retries of `run` rules (applied on reload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSettings {
    /// Background runs executing at once.
    pub max_background: usize,
    /// The first retry's delay, doubled for each further retry (at most
    /// [`MAX_RETRY_BACKOFF`]).
    pub retry_backoff: Duration,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            max_background: DEFAULT_MAX_BACKGROUND,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
        }
    }
}

/// `[redact]`: what is removed before anything is written (applied on reload), as written and
/// compiled.
#[derive(Debug, Clone)]
pub struct RedactSettings {
    /// The table as written.
    pub config: RedactConfig,
    /// It compiled.
    pub redactor: Arc<Redactor>,
}

impl Default for RedactSettings {
    fn default() -> Self {
        // Compiled once per process: every load without `[redact]` shares it.
        static DEFAULT: std::sync::OnceLock<Arc<Redactor>> = std::sync::OnceLock::new();
        Self {
            config: RedactConfig::default(),
            redactor: Arc::clone(DEFAULT.get_or_init(|| Arc::new(Redactor::default()))),
        }
    }
}

/// Every setting of hookd.toml, typed and validated.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The file they were read from; `None`: there was none (all defaults).
    pub file: Option<String>,
    /// Built-in packs to enable, in order; `None`: all of them.
    pub packs: Option<Vec<Located<String>>>,
    /// Names of pack rules to turn off.
    pub disable_rules: Vec<Located<String>>,
    /// `[store]`.
    pub store: StoreSettings,
    /// `[session]`.
    pub session: SessionSettings,
    /// `[redact]`.
    pub redact: RedactSettings,
    /// `[http]`.
    pub http: HttpSettings,
    /// `[run]`.
    pub run: RunSettings,
    /// `[server]`.
    pub server: ServerSettings,
    /// `[ui]`.
    pub ui: UiSettings,
    /// `[fleet]` (read at start).
    pub fleet: FleetSettings,
    /// `[sink.NAME]` tables, in the file's order (read at start).
    pub sinks: Vec<SinkSettings>,
    /// Where each key given was written, by `section.key` (or the top-level key).
    locations: BTreeMap<String, Location>,
}

impl Settings {
    /// The defaults, as for a `file` that sets nothing (or could not be read as TOML).
    #[must_use]
    pub fn defaults_for(file: &str) -> Self {
        Self {
            file: Some(file.to_string()),
            ..Self::default()
        }
    }

    /// `file:line:column: msg` for a problem found later at `at` (an unknown pack, a
    /// `disable_rules` entry naming no pack rule).
    #[must_use]
    pub fn error_at(&self, at: Location, msg: &str) -> String {
        format!(
            "{}:{at}: {msg}",
            self.file
                .as_deref()
                .unwrap_or(hook_protocol::paths::CONFIG_FILE)
        )
    }

    /// Where `key` (`section.key`, or a top-level key) was written, if it was.
    #[must_use]
    pub fn location(&self, key: &str) -> Option<Location> {
        self.locations.get(key).copied()
    }

    /// The settings read only at start (`[store]`, `[session]`, `[server]`, `[http]`, `[ui]`; the
    /// others apply on each reload), as (`section.key`, the value as hookd.toml writes it),
    /// for the log and for [`Settings::changes_needing_restart`].
    #[must_use]
    pub fn start_only(&self) -> Vec<(&'static str, String)> {
        let d = |d: Duration| format!("{:?}", duration::format(d));
        let (st, se, sv, h) = (&self.store, &self.session, &self.server, &self.http);
        vec![
            (
                "store.synchronous",
                format!("{:?}", st.synchronous.as_str()),
            ),
            ("store.max_age", d(st.max_age)),
            ("store.max_size", st.max_size.to_string()),
            ("store.emergency_journal", st.emergency_journal.to_string()),
            ("session.idle_ttl", d(se.idle_ttl)),
            ("session.max_live", se.max_live.to_string()),
            ("server.max_connections", sv.max_connections.to_string()),
            ("server.idle_timeout", d(sv.idle_timeout)),
            (
                "http.listen",
                h.listen
                    .map_or_else(|| "(none)".to_string(), |a| format!("\"{a}\"")),
            ),
            ("http.allow_non_loopback", h.allow_non_loopback.to_string()),
            ("http.auth_timeout", d(h.auth_timeout)),
            (
                "http.max_unauthenticated",
                h.max_unauthenticated.to_string(),
            ),
            ("http.max_connections", h.max_connections.to_string()),
            (
                "ui.listen",
                self.ui
                    .listen
                    .map_or_else(|| "(none)".to_string(), |a| format!("\"{a}\"")),
            ),
            ("ui.keepalive", d(self.ui.keepalive)),
            ("ui.code_ttl", d(self.ui.code_ttl)),
            ("fleet", format!("{:?}", self.fleet)),
            ("sink", format!("{:?}", self.sinks)),
        ]
    }

    /// One error per start-only setting ([`Settings::start_only`]) that `new` (read on a reload)
    /// sets differently from these settings, in force since the start: a reload cannot apply
    /// it, so the reload is refused and says to restart.
    #[must_use]
    pub fn changes_needing_restart(&self, new: &Self) -> Vec<String> {
        let now = self.start_only();
        new.start_only()
            .into_iter()
            .zip(now)
            .filter(|((_, want), (_, have))| want != have)
            .map(|((key, want), (_, have))| {
                let msg = format!(
                    "`{key}` = {want} is read only at start: hookd keeps {have} and the rules \
                     and settings it loaded before until `hookctl restart`"
                );
                match new.location(key).or_else(|| {
                    key.split_once('.')
                        .and_then(|(section, _)| new.location(section))
                }) {
                    Some(at) => new.error_at(at, &msg),
                    None => format!(
                        "{}: {msg} (removed from the file: its default applies after a restart)",
                        new.file
                            .as_deref()
                            .unwrap_or(hook_protocol::paths::CONFIG_FILE)
                    ),
                }
            })
            .collect()
    }
}
