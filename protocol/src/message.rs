//! Messages exchanged over the hookd socket.
//!
//! One [`Request`] and one [`Response`] per frame. Hook payloads travel as opaque bytes:
//! `hook-client` never parses the event. [`Response::Mismatch`] is variant 0 and its shape is
//! frozen, so any version of a peer can decode it and say clearly what is wrong.

use hook_protocol_core::{Reply, wire};
use serde::{Deserialize, Serialize};

/// A message sent to `hookd` by `hook-client` or `hookctl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Evaluates one hook event. Answered by [`Response::Verdict`].
    Hook(HookRequest),
    /// Reports the daemon's state. Answered by [`Response::Status`].
    Status,
    /// Reloads rules from disk now. Answered by [`Response::Reloaded`].
    Reload,
    /// Lists recorded events, newest first. Answered by [`Response::Events`].
    Events(EventQuery),
    /// Shuts the daemon down gracefully. Answered by [`Response::Stopping`].
    ///
    /// Frozen like [`Response::Mismatch`]: variant 4 with no body in every protocol version, so
    /// a newer hook-client or hookctl can ask an older daemon to hand over ([`stop_frame`]).
    Stop,
    /// Evaluates an event without recording it or touching session state. Answered by
    /// [`Response::Tested`].
    Test(HookRequest),
    /// Lists the loaded rules. Answered by [`Response::Rules`].
    Rules,
    /// Trusts (or revokes trust in) a project's `.claude/hookd.toml`. Answered by
    /// [`Response::Trusted`].
    Trust(TrustRequest),
    /// Reports counters, latencies, rates and health. Answered by [`Response::Stats`].
    Stats,
    /// Streams the most recent events matching the query, then (with `follow`) every new one as
    /// it is answered, until the client leaves. Answered by [`Response::Events`] (recent, oldest
    /// first) then one [`Response::Live`] per new event.
    Tail(TailRequest),
    /// Streams every event matching the query, oldest first, in batches. Answered by
    /// [`Response::Events`] frames, then [`Response::End`].
    Export(EventQuery),
    /// Lists sessions by last activity. Answered by [`Response::Sessions`].
    Sessions(SessionQuery),
    /// One session in detail (an id or a unique prefix). Answered by [`Response::Session`].
    Session(String),
    /// Lists recorded executions of `run` rules, newest first. Answered by
    /// [`Response::Runs`].
    Runs(RunQuery),
    /// Allow-once: approves a denied or asked command by the code its reason ended with, lists
    /// the approvals, or revokes one (protocol 5). Answered by [`Response::Allowances`].
    Allow(AllowRequest),
    /// What Claude Code's status line shows (`hookctl statusline`): one session's verdict
    /// counts (by its id; empty: none) and hookd's health, in one cheap round trip. Answered by
    /// [`Response::Statusline`].
    Statusline(String),
    /// A one-time login code for the dashboard (`hookctl ui`; protocol 6): 128 random bits,
    /// valid for at most 60 s and one use, minted only for a peer of hookd's own uid (the
    /// socket's peer check). Answered by [`Response::UiLogin`], or an error naming `[ui]
    /// listen` when the dashboard is off.
    UiLogin,
    /// Waits until every fleet sink has delivered every stored event (lag 0), or the timeout
    /// (ms) passes (`hookctl sink flush`). Answered by [`Response::SinkFlushed`].
    SinkFlush(u64),
}

/// A [`Request::Allow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllowRequest {
    /// Approve the command behind `code`.
    Grant {
        /// The code from the reason (`hookctl allow CODE`).
        code: String,
        /// For the rest of the session the code was given in, not once.
        session: bool,
        /// For this many milliseconds, not once.
        for_ms: Option<u64>,
    },
    /// List approvals, newest first: live ones, or with `all` every one recorded.
    List {
        /// Include used, expired and revoked approvals.
        all: bool,
    },
    /// Revoke an approval, by its id (or the code it was granted with).
    Revoke(String),
}

/// One allow-once approval, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AllowanceRow {
    /// The store's row id.
    pub id: i64,
    /// The code it was granted with.
    pub code: String,
    /// The project it applies to.
    pub project: String,
    /// The tool (`Bash`, `Write`…).
    pub tool: String,
    /// What it approves: the command or path (redacted).
    pub summary: String,
    /// The rules whose verdict it lifts.
    pub rules: Vec<String>,
    /// `once`, `session` or `window`.
    pub scope: String,
    /// The session a `session` approval is bound to (and the one the code was given in).
    pub session_id: Option<String>,
    /// When it was granted (ms since the epoch).
    pub created_ms: i64,
    /// When it stops applying, if it has an end.
    pub expires_ms: Option<i64>,
    /// Who granted it: uid.
    pub uid: u32,
    /// Who granted it: user name.
    pub user: String,
    /// Times it let the command through.
    pub uses: u64,
    /// The last time it did.
    pub last_used_ms: Option<i64>,
    /// When it was revoked.
    pub revoked_ms: Option<i64>,
    /// `live`, `used`, `expired` or `revoked`.
    pub status: String,
}

/// A filter for [`Request::Runs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunQuery {
    /// Only runs for events of this session id.
    pub session: Option<String>,
    /// Only runs of this rule.
    pub rule: Option<String>,
    /// Only failures (exit other than 0 and 2, killed, timed out, could not start, dropped).
    pub failed_only: bool,
    /// Only runs started at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// At most this many rows (newest first; 0: 50).
    pub limit: u32,
}

/// One recorded execution (attempt) of a `run` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunRow {
    /// The store's row id.
    pub id: i64,
    /// When the attempt started, ms since the epoch.
    pub time_ms: i64,
    /// The Claude Code session id.
    pub session_id: Option<String>,
    /// The hook event that triggered it.
    pub event: String,
    /// That event's `time_ms`.
    pub event_time_ms: i64,
    /// That event's row id in the event store, when found.
    pub event_id: Option<i64>,
    /// The tool, for tool events.
    pub tool: Option<String>,
    /// The rule.
    pub rule: String,
    /// The command (redacted).
    pub command: String,
    /// `sync` or `background`.
    pub mode: String,
    /// 1 for the first attempt, then 2, 3… for background retries.
    pub attempt: u32,
    /// How long it ran, in ms.
    pub duration_ms: i64,
    /// Its exit status, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// `ok`, `blocked`, `failed`, `timeout`, `cancelled` or `dropped`.
    pub outcome: String,
    /// Its part of the verdict (`deny`, `block`, `context`, `none`…); sync runs only.
    pub effect: Option<String>,
    /// What went wrong (redacted).
    pub error: Option<String>,
    /// The last 4 KiB of stdout (redacted).
    pub stdout_tail: Option<String>,
    /// The last 4 KiB of stderr (redacted).
    pub stderr_tail: Option<String>,
    /// Bytes written to stdout in all.
    pub stdout_bytes: u64,
    /// Bytes written to stderr in all.
    pub stderr_bytes: u64,
}

/// A [`Request::Tail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TailRequest {
    /// Filters (and `limit`: how many recent events to send first; 0 sends none).
    pub query: EventQuery,
    /// Keep streaming new events.
    pub follow: bool,
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Sum of the samples (the Prometheus summary's `_sum`; protocol 4).
    pub sum: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

/// What [`Request::Stats`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatsReport {
    /// Events answered since start.
    pub events: u64,
    /// Events recorded in the store in all.
    pub events_total: u64,
    /// Counts by event name, since start.
    pub by_event: Vec<(String, u64)>,
    /// Counts by tool, since start.
    pub by_tool: Vec<(String, u64)>,
    /// Counts by verdict, since start.
    pub by_verdict: Vec<(String, u64)>,
    /// Matches by rule, since start.
    pub by_rule: Vec<(String, u64)>,
    /// hookd's processing time per event (parse, session, rules, render).
    pub processing_us: Latency,
    /// The whole request, store commit included.
    pub request_us: Latency,
    /// Store commit time per group.
    pub store_write_us: Latency,
    /// Events per second over the last minute.
    pub rate_1m: f64_bits::F64,
    /// Events per second over the last five minutes.
    pub rate_5m: f64_bits::F64,
    /// Fallbacks recorded (events hook-client answered by its fail mode).
    pub fallbacks: u64,
    /// Bytes waiting in the spool.
    pub spool_backlog_bytes: u64,
    /// Events the dedup window answered from an identical earlier delivery.
    pub deduplicated: u64,
    /// Events redacted before storage, by kind.
    pub redactions: Vec<(String, u64)>,
    /// `healthy`, `degraded` or `unhealthy`.
    pub health: String,
    /// Why it is not healthy.
    pub health_reasons: Vec<String>,
    /// `run` rule executions (attempts) finished since start.
    pub runs: u64,
    /// Of those, failures (exit other than 0 and 2, killed, could not start, bad output).
    pub run_failures: u64,
    /// Of those, timeouts (the process group was killed).
    pub run_timeouts: u64,
    /// Background runs waiting for a slot or a retry now.
    pub runs_pending: u64,
    /// Spooled copies of events already in the store, dropped since start (the client spooled
    /// an event whose reply was lost after hookd committed it).
    pub duplicates_dropped: u64,
    /// Answered events waiting in the emergency journal for the store to take them.
    pub journal_events: u64,
    /// Events answered by their fail mode since start because neither the store nor the
    /// emergency journal could record them.
    pub not_durable: u64,
    /// Tool calls seen in a post event without a PreToolUse in their session, since start
    /// (bypass alarms).
    pub bypasses: u64,
    /// Fleet sinks (`[sink.NAME]`).
    pub sinks: Vec<SinkReport>,
}

/// An `f64` that keeps `Eq` for the report types (compared by bits).
pub mod f64_bits {
    use serde::{Deserialize, Serialize};

    /// An `f64` compared by its bits.
    #[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct F64(pub f64);

    impl PartialEq for F64 {
        fn eq(&self, other: &Self) -> bool {
            self.0.to_bits() == other.0.to_bits()
        }
    }

    impl Eq for F64 {}
}

/// A filter for [`Request::Sessions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionQuery {
    /// At most this many.
    pub limit: u32,
    /// Only sessions not ended.
    pub active_only: bool,
}

/// One session, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionRow {
    /// The session id.
    pub id: String,
    /// The project directory.
    pub project_dir: Option<String>,
    /// First event (ms since the epoch).
    pub started_ms: i64,
    /// Last event.
    pub last_ms: i64,
    /// SessionEnd time, if ended.
    pub ended_ms: Option<i64>,
    /// Events recorded.
    pub events: i64,
    /// deny/ask verdicts given.
    pub denials: i64,
}

/// One session in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionReport {
    /// The listing row.
    pub row: SessionRow,
    /// hookd's state of the session (files read and edited, commands, counters, turn…), as
    /// JSON.
    pub state_json: String,
    /// The session's events, oldest first (at most 1,000, the most recent).
    pub timeline: Vec<EventRow>,
}

/// A message sent by `hookd` in answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// The request's protocol version differs from the daemon's. Frozen: always variant 0.
    Mismatch(Mismatch),
    /// The verdict for a [`Request::Hook`]: exactly what hook-client must print and exit with.
    Verdict(HookReply),
    /// The answer to [`Request::Status`].
    Status(Box<StatusReport>),
    /// The answer to [`Request::Reload`].
    Reloaded(ReloadReport),
    /// The answer to [`Request::Events`].
    Events(Vec<EventRow>),
    /// The answer to [`Request::Stop`]: the daemon is draining and will exit.
    Stopping,
    /// The request was understood but could not be carried out.
    Error(String),
    /// The answer to [`Request::Test`].
    Tested(TestReport),
    /// The answer to [`Request::Rules`].
    Rules(Vec<RuleInfo>),
    /// The answer to [`Request::Trust`].
    Trusted(TrustReport),
    /// One new event, for [`Request::Tail`] with `follow`.
    Live(EventRow),
    /// The end of a stream ([`Request::Export`]).
    End,
    /// The answer to [`Request::Stats`].
    Stats(Box<StatsReport>),
    /// The answer to [`Request::Sessions`].
    Sessions(Vec<SessionRow>),
    /// The answer to [`Request::Session`].
    Session(Box<SessionReport>),
    /// The answer to [`Request::Runs`].
    Runs(Vec<RunRow>),
    /// The answer to [`Request::Allow`]: the approval granted or revoked, or the list.
    Allowances(Vec<AllowanceRow>),
    /// The answer to [`Request::Statusline`].
    Statusline(StatuslineReport),
    /// The answer to [`Request::UiLogin`].
    UiLogin(UiLogin),
    /// The answer to [`Request::SinkFlush`]: each sink as it stands when the flush ended
    /// (every lag 0: flushed).
    SinkFlushed(Vec<SinkReport>),
}

/// What [`Request::UiLogin`] answers: where to log in to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UiLogin {
    /// `http://127.0.0.1:PORT/ui/login?code=…`: the one-time code is in the URL.
    pub url: String,
    /// When the code stops working, ms since the epoch.
    pub expires_ms: i64,
}

/// One fleet sink (`[sink.NAME]`) as `status`, `stats` and the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SinkReport {
    /// `NAME`.
    pub name: String,
    /// `otlp` or `postgres`.
    pub kind: String,
    /// Where it sends (the endpoint, or the URL without a password).
    pub target: String,
    /// Running and its last request succeeded (or none was needed).
    pub ok: bool,
    /// Why not: a configuration error (the sink is not running), an authentication failure, or
    /// the last failed request.
    pub error: Option<String>,
    /// The error is a configuration or authentication problem (doctor FAIL; events are held).
    pub config_error: bool,
    /// Stored events not delivered yet.
    pub lag_events: u64,
    /// Age of the oldest undelivered event (ms; 0: none).
    pub lag_ms: u64,
    /// `lag_warn` (ms): past it hookd reports itself degraded.
    pub lag_warn_ms: u64,
    /// Events delivered since start.
    pub sent: u64,
    /// Requests since start by outcome (`ok`, `retry`, `too_large`, `rejected`, `hold`).
    pub requests: Vec<(String, u64)>,
    /// Requests retried since start.
    pub retries: u64,
    /// Events the receiver refused permanently (skipped, counted) since start.
    pub rejected: u64,
    /// Events the store's size cap pruned before this sink delivered them (this store file).
    pub dropped: u64,
    /// The last successful delivery (ms since the epoch), if any since start.
    pub last_success_ms: Option<i64>,
}

/// What [`Request::Statusline`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatuslineReport {
    /// The session's recorded events.
    pub events: u64,
    /// The session's verdicts given (`deny`, `ask`, `block`, `fallback:ask`…), each with its
    /// count; the most frequent first.
    pub verdicts: Vec<(String, u64)>,
    /// What is wrong with hookd, in a few words (its rules fall back, its store fails…).
    pub problem: Option<String>,
}

/// What [`Request::Test`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TestReport {
    /// The event name.
    pub event: String,
    /// The verdict summary (`deny`, `ask`, `block`, `context`, `none`, `error:<mode>`…).
    pub verdict: String,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// Every rule that matched, in priority order.
    pub matched: Vec<MatchedRule>,
    /// Exactly what hook-client would print and exit with.
    pub reply: HookReply,
    /// The project directory whose `.claude/hookd.toml` applied, if any.
    pub project_rules: Option<String>,
}

/// One rule that matched an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MatchedRule {
    /// The rule's name.
    pub rule: String,
    /// The action it contributed.
    pub action: String,
    /// What matched.
    pub why: String,
}

/// One loaded rule, for `hookctl rules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RuleInfo {
    /// The rule's name.
    pub name: String,
    /// Where it came from (`pack:git`, a file path, `project:<dir>`).
    pub source: String,
    /// The events it applies to (`*` for all).
    pub events: Vec<String>,
    /// Its action.
    pub action: String,
    /// Matches since it was loaded.
    pub hits: u64,
    /// Its reason text.
    pub reason: Option<String>,
}

/// A [`Request::Trust`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TrustRequest {
    /// The project directory (holding `.claude/hookd.toml`).
    pub dir: String,
    /// Revoke trust instead of granting it.
    pub revoke: bool,
}

/// The result of a [`Request::Trust`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TrustReport {
    /// The canonical project directory.
    pub dir: String,
    /// Whether it is trusted now.
    pub trusted: bool,
    /// The SHA-256 of the trusted file.
    pub sha256: Option<String>,
    /// Rules the project file now contributes.
    pub rules: u64,
    /// Problems in the file.
    pub errors: Vec<String>,
}

// The frozen stop request (`Request::Stop`), shared with hook-client.
pub use hook_protocol_core::frame::{STOP_VARIANT, stop_frame};

/// Sent when the peer's protocol version is not the daemon's. Its shape never changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The protocol version the daemon speaks.
    pub daemon_protocol: u32,
    /// The daemon's package version.
    pub daemon_version: String,
    /// The protocol version the daemon received.
    pub peer_protocol: u32,
}

impl Mismatch {
    /// Describes the mismatch from the point of view of a peer speaking `ours`.
    #[must_use]
    pub fn describe(&self, ours: u32) -> String {
        wire::describe_mismatch(ours, self.daemon_protocol, &self.daemon_version)
    }
}

impl From<wire::Mismatch> for Mismatch {
    fn from(m: wire::Mismatch) -> Self {
        Self {
            daemon_protocol: m.daemon_protocol,
            daemon_version: m.daemon_version,
            peer_protocol: m.peer_protocol,
        }
    }
}

/// One hook event forwarded by `hook-client`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookRequest {
    /// The exact bytes Claude Code wrote on the hook's stdin (not parsed by the client).
    #[serde(with = "serde_bytes")]
    pub event: Vec<u8>,
    /// Environment values of the hook process that hookd needs.
    pub env: HookEnv,
    /// The client's own options.
    pub options: ClientOptions,
    /// This delivery's identity, made once per hook-client invocation
    /// (`<nanoseconds since the epoch, hex>-<pid, hex>`). The spool record of the same
    /// invocation carries the same id ([`crate::spool::SpoolRecord::id`]), so hookd records an
    /// event it committed and the client then spooled (the reply was lost) once. `None` from
    /// senders without one (the HTTP endpoint, `hookctl test`).
    pub id: Option<String>,
    /// `CLAUDE_ENV_FILE`, which Claude Code sets for SessionStart, CwdChanged and
    /// FileChanged hooks: where `export NAME=value` lines for later Bash calls go (the `env`
    /// action). Protocol 5. Not part of [`HookEnv`], so spool records keep their format.
    pub env_file: Option<String>,
}

impl<'a> From<&'a HookRequest> for wire::HookRequest<'a> {
    fn from(r: &'a HookRequest) -> Self {
        Self {
            event: &r.event,
            env: (&r.env).into(),
            options: (&r.options).into(),
            id: r.id.as_deref(),
            env_file: r.env_file.as_deref(),
        }
    }
}

/// Environment values of the hook process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookEnv {
    /// `CLAUDE_PROJECT_DIR`.
    pub project_dir: Option<String>,
    /// `CLAUDE_CODE_SESSION_ID`.
    pub session_id: Option<String>,
    /// The hook process's working directory.
    pub cwd: Option<String>,
}

impl<'a> From<&'a HookEnv> for wire::HookEnv<'a> {
    fn from(e: &'a HookEnv) -> Self {
        Self {
            project_dir: e.project_dir.as_deref(),
            session_id: e.session_id.as_deref(),
            cwd: e.cwd.as_deref(),
        }
    }
}

/// Options `hook-client` was started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClientOptions {
    /// The event name given with `--event`, when the settings entry names one.
    pub event: Option<String>,
    /// The fail-mode specification in force (`--fail-mode` or `HOOKD_FAIL_MODE`).
    pub fail_mode: Option<String>,
    /// The client's deadline in milliseconds; hookd answers well before it.
    pub deadline_ms: u32,
}

impl<'a> From<&'a ClientOptions> for wire::ClientOptions<'a> {
    fn from(o: &'a ClientOptions) -> Self {
        Self {
            event: o.event.as_deref(),
            fail_mode: o.fail_mode.as_deref(),
            deadline_ms: o.deadline_ms,
        }
    }
}

/// What `hook-client` must print and exit with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookReply {
    /// The process exit code.
    pub exit_code: i32,
    /// Bytes for stdout (JSON for Claude Code, or empty).
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    /// Bytes for stderr.
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
}

impl From<Reply> for HookReply {
    fn from(r: Reply) -> Self {
        Self {
            exit_code: r.exit_code,
            stdout: r.stdout,
            stderr: r.stderr,
        }
    }
}

/// The daemon's state, for `hookctl status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatusReport {
    /// The daemon's process id.
    pub pid: u32,
    /// The daemon's package version.
    pub version: String,
    /// The daemon's build id.
    pub build_id: String,
    /// The daemon's protocol version.
    pub protocol: u32,
    /// Milliseconds since the daemon started.
    pub uptime_ms: u64,
    /// The socket path the daemon listens on.
    pub socket: String,
    /// The configuration directory.
    pub config_dir: String,
    /// The SQLite store path.
    pub store_path: String,
    /// The store's size on disk in bytes (database plus WAL).
    pub store_bytes: u64,
    /// Events recorded in the store.
    pub events_total: u64,
    /// Events answered since the daemon started.
    pub events_since_start: u64,
    /// Sessions not ended with activity in the last 24 hours.
    pub sessions_active: u64,
    /// Rules in the active ruleset.
    pub rules_loaded: u64,
    /// Files the active ruleset was loaded from.
    pub rule_sources: Vec<String>,
    /// Errors from the last load; the previous good ruleset stays active.
    pub rule_errors: Vec<String>,
    /// Events hook-client answered by its fail mode and spooled, ingested into the store.
    pub fallbacks_recorded: u64,
    /// Bytes waiting in the spool file.
    pub spool_backlog_bytes: u64,
    /// The last store error, if the store is failing.
    pub store_error: Option<String>,
    /// Project rule files seen (`.claude/hookd.toml`), with their trust and errors.
    pub projects: Vec<ProjectStatus>,
    /// Answered events whose store commit failed, waiting in the emergency journal; moved into
    /// the store (once each) as soon as it can be written.
    pub journal_events: u64,
    /// Bytes set aside for the emergency journal (`[store] emergency_journal`); 0 when none
    /// could be reserved.
    pub journal_reserved_bytes: u64,
    /// Why an answered event may not survive a crash now (no emergency reserve, or the store
    /// and the journal both full: events then get their fail mode), if so.
    pub durability_error: Option<String>,
    /// Events answered by their fail mode since start because neither the store nor the
    /// emergency journal could record them.
    pub not_durable: u64,
    /// Spooled copies of events already in the store, dropped since start.
    pub duplicates_dropped: u64,
    /// Set while the rule files fail to load: what is in force instead (the last good rules,
    /// or, when none were ever loaded, the fail mode for guard events).
    pub rules_fallback: Option<String>,
    /// The dashboard's address (`http://127.0.0.1:PORT/ui/`) when `[ui] listen` is set
    /// (protocol 6).
    pub ui_url: Option<String>,
    /// Fleet sinks (`[sink.NAME]`).
    pub sinks: Vec<SinkReport>,
}

/// A project's `.claude/hookd.toml` as hookd sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProjectStatus {
    /// The project directory.
    pub dir: String,
    /// Whether the file is trusted (its hash matches `hookctl trust`).
    pub trusted: bool,
    /// Rules it contributes.
    pub rules: u64,
    /// Problems (including rules refused because the file is not trusted).
    pub errors: Vec<String>,
}

/// The result of a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReloadReport {
    /// Rules active after the reload.
    pub rules_loaded: u64,
    /// Errors; when not empty, the previous ruleset stays active.
    pub errors: Vec<String>,
}

/// A filter for [`Request::Events`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EventQuery {
    /// Only events of this session id.
    pub session: Option<String>,
    /// Only events with this event name.
    pub event: Option<String>,
    /// Only events whose verdict starts with this (`deny`, `fallback:`, …).
    pub verdict: Option<String>,
    /// Only events of this tool.
    pub tool: Option<String>,
    /// Only events this rule matched.
    pub rule: Option<String>,
    /// Only events of this project directory.
    pub project: Option<String>,
    /// Only events at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only events before this time (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Only events whose payload contains this text.
    pub text: Option<String>,
    /// At most this many rows (newest first).
    pub limit: u32,
    /// Include the raw payload of each event.
    pub with_payload: bool,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EventRow {
    /// The store's row id.
    pub id: i64,
    /// When hookd received it, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The Claude Code session id.
    pub session_id: Option<String>,
    /// The hook event name.
    pub event: String,
    /// The tool name, for tool events.
    pub tool: Option<String>,
    /// The project directory.
    pub project_dir: Option<String>,
    /// The verdict given (`allow`, `deny`, `ask`, `defer`, `block`, `none`, `error`, …).
    pub verdict: String,
    /// The reason shown with the verdict.
    pub reason: Option<String>,
    /// Names of the rules that matched.
    pub rules: Vec<String>,
    /// hookd's processing time in microseconds.
    pub latency_us: i64,
    /// Where the event came from: `socket` or `spool`.
    pub source: String,
    /// A short summary: the command, path or prompt excerpt (redacted).
    pub summary: Option<String>,
    /// The kinds of data redacted from the stored payload, if any.
    pub redacted: Vec<String>,
    /// The raw payload, when asked for.
    pub payload: Option<String>,
}
