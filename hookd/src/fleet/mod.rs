//! Forwarding stored events to the central systems teams run (OTLP, PostgreSQL).
//!
//! This file is the contract between the forwarder and its sinks. The forwarder reads batches
//! of stored (already redacted) events after a sink's cursor with short read-only queries, hands
//! each batch to the sink, and moves the cursor only on [`Outcome::Delivered`]. A sink never
//! reads the store, never sees a verdict being made and never holds more than the batch it was
//! given. Central deduplication rests on the key `(host, store_id, id)`: every event is
//! delivered at least once with it, so a sink that inserts with "on conflict do nothing" (or a
//! receiver that dedups on the key) stores each event exactly once.

use std::time::Duration;

pub mod forwarder;
pub mod init;
pub mod otlp;
pub mod postgres;

pub use forwarder::Fleet;

/// Where a batch comes from. `(host, store_id, id)` is an event's idempotency key centrally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `[fleet] host`, defaulting to the machine's host name.
    pub host: String,
    /// The store file's identity: new for every new database file (random, 32 hex digits).
    pub store_id: String,
    /// Bumped when the store file is seen on a machine with a different machine id (a cloned
    /// image), so two clones of one file stay apart centrally: `store_id` + `epoch`.
    pub epoch: u32,
    /// `[fleet] labels`, sorted by name.
    pub labels: Vec<(String, String)>,
}

/// One stored event as a sink sees it. Everything here is as the store holds it: redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutEvent {
    /// The event's id in this store file (monotonic for the file's life).
    pub id: i64,
    /// When hookd received it, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub session_id: Option<String>,
    /// The hook event name (`PreToolUse`, …).
    pub event: String,
    pub tool: Option<String>,
    pub project_dir: Option<String>,
    /// `allow`, `deny`, `ask`, `block`, `context`, `none`, `error`, `fallback:<mode>`, …
    pub verdict: String,
    pub reason: Option<String>,
    /// Names of the rules that matched.
    pub rules: Vec<String>,
    pub latency_us: i64,
    /// `socket`, `http` or `spool`.
    pub source: String,
    /// Command / path / prompt excerpt (redacted).
    pub summary: Option<String>,
    /// Kinds of secret redacted from this event, if any.
    pub redacted: Vec<String>,
    /// From the payload, when present (Claude Code's own OTel events use these names).
    pub prompt_id: Option<String>,
    pub tool_use_id: Option<String>,
    /// The uid of the user whose hookd stored it.
    pub uid: u32,
    /// The redacted payload (JSON text), only when the sink's configuration asks for it.
    pub payload: Option<String>,
}

impl OutEvent {
    /// A stored event as read from the store (`row`, its payload included) for a sink, by the
    /// user `uid`; `prompt_id` and `tool_use_id` are filled by `prepare`.
    #[must_use]
    pub fn from_row(row: hook_protocol::EventRow, uid: u32) -> Self {
        Self {
            id: row.id,
            time_ms: row.time_ms,
            session_id: row.session_id,
            event: row.event,
            tool: row.tool,
            project_dir: row.project_dir,
            verdict: row.verdict,
            reason: row.reason,
            rules: row.rules,
            latency_us: row.latency_us,
            source: row.source,
            summary: row.summary,
            redacted: row.redacted,
            prompt_id: None,
            tool_use_id: None,
            uid,
            payload: row.payload,
        }
    }
}

/// What became of one batch handed to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every event of the batch is stored centrally (already-present keys count as delivered).
    Delivered,
    /// Nothing was stored, or not knowably: send the same batch again after a backoff (network
    /// errors, timeouts, 5xx, 429, connection refused, `partial_success` that asks for a retry).
    /// `after` is the receiver's `Retry-After`, when it gave one.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// The receiver refuses the batch for its size (HTTP 413): split it in halves and retry.
    TooLarge,
    /// The receiver permanently refuses the batch's content (a data error). The forwarder
    /// bisects; a single event refused this way is counted as rejected and skipped.
    Rejected { why: String },
    /// Authentication, authorisation or configuration failure: keep every event, back off and
    /// retry, and report the sink as failing (never skip data for this).
    Hold { why: String },
    /// The batch is stored except `rejected` events the receiver refused permanently (OTLP
    /// `partial_success`): the cursor moves past the batch, the refused ones are counted as
    /// rejected and not sent again (the receiver does not say which they were).
    Partial { rejected: u64, why: String },
}

/// A configured sink, by kind. Each kind's `send` takes one batch and says what became of it;
/// the forwarder ([`forwarder`]) does the batching, retries, splitting and cursor.
pub enum Sink {
    /// OTLP/HTTP protobuf logs ([`otlp`]).
    Otlp(otlp::OtlpSink),
    /// Rows of one central PostgreSQL table ([`postgres`]).
    Postgres(postgres::PgSink),
}

impl Sink {
    /// Builds the sink `s` describes.
    ///
    /// # Errors
    ///
    /// A configuration problem: the sink is not started; status and doctor show it.
    pub fn build(s: &crate::settings::SinkSettings) -> Result<Self, String> {
        use crate::settings::SinkKind;
        match s.kind {
            Some(SinkKind::Otlp) => otlp::OtlpSink::new(s).map(Self::Otlp),
            Some(SinkKind::Postgres) => postgres::PgSink::from_settings(s).map(Self::Postgres),
            None => Err("no kind".into()),
        }
    }

    /// Where it sends (no secrets).
    #[must_use]
    pub fn target(&self) -> String {
        match self {
            Self::Otlp(s) => s.target(),
            Self::Postgres(s) => s.target(),
        }
    }

    /// Sends one batch.
    pub async fn send(&mut self, origin: &Origin, batch: &[OutEvent]) -> Outcome {
        match self {
            Self::Otlp(s) => s.send(origin, batch).await,
            Self::Postgres(s) => s.send(origin, batch).await,
        }
    }
}

/// An event as read from the store made ready for a sink: `prompt_id` and `tool_use_id` taken
/// from its (redacted) payload, which is kept only when the sink asks for it.
#[must_use]
pub fn prepare(mut e: OutEvent, with_payload: bool) -> OutEvent {
    #[derive(serde::Deserialize)]
    struct Ids {
        prompt_id: Option<String>,
        tool_use_id: Option<String>,
    }
    if let Some(p) = &e.payload
        && let Ok(ids) = serde_json::from_str::<Ids>(p)
    {
        e.prompt_id = ids.prompt_id;
        e.tool_use_id = ids.tool_use_id;
    }
    if !with_payload {
        e.payload = None;
    }
    e
}

/// `~/…` in a configured path, from `$HOME`.
#[must_use]
pub fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(path),
    }
}
