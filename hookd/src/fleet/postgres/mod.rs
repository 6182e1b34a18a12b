//! The PostgreSQL sink: batches of stored events into one central table (issue 20).
//!
//! One connection per sink, opened on the first batch and again after any error that may have
//! broken it (no pool: exactly one request is in flight per sink). Each batch is one statement,
//! `INSERT … SELECT … FROM unnest($5::int8[], …) ON CONFLICT (host, store_id, local_id) DO
//! NOTHING`: the events travel as one array parameter per column, so a batch of any size is 21
//! parameters (far from PostgreSQL's 65,535-parameter limit) and data is never interpolated into
//! SQL. A batch sent again after a lost acknowledgement inserts nothing twice.
//!
//! Errors are classed by SQLSTATE (see [`classify`]): connection and resource trouble is
//! retried, a data error rejects the batch (the forwarder bisects down to the one bad event),
//! and authentication, privilege or schema trouble holds the data until an operator fixes it.
//!
//! TLS: `sslmode` in the URL is honoured. `disable` never uses TLS; `prefer` uses it when the
//! server offers it; `require`, `verify-ca` and `verify-full` insist on it. Whenever TLS is
//! used the server's certificate chain and host name are verified (rustls has no unverified
//! mode): `require` and `verify-ca` therefore behave as `verify-full`, stricter than libpq.
//! Roots are the system's (rustls-native-certs) or `ca_file`. A certificate that fails
//! verification holds the data (a configuration error), like a refused password.

mod config;
mod connect;
mod errors;

use std::path::PathBuf;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

pub use config::{GRANTS_SQL, PgConfig, SCHEMA_SQL, grants_sql, schema_sql, url_user};
pub use connect::apply_sql;
pub use errors::classify;

use super::{Origin, OutEvent, Outcome};
use config::{TlsMode, parse_url, qualified_table};
use connect::connect;
use errors::Failure;

/// How long one batch may take by default (`timeout` in `[sink.NAME]` sets it), connection
/// included; past it the connection is dropped and the batch retried (a server that accepts and
/// never answers must not stall the sink).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// A PostgreSQL sink: lazily connected, reconnecting after errors.
pub struct PgSink {
    /// Boxed: tokio-postgres's settings are large, and `Sink` holds one sink of either kind.
    config: Box<tokio_postgres::Config>,
    tls: TlsMode,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    insert_sql: String,
    conn: Option<Conn>,
    /// Where it sends, for status (the URL carries no password).
    target: String,
    /// The bound on one batch (connection included).
    timeout: Duration,
    /// A send is under way. Still set when the next one starts, the previous future was
    /// dropped mid-request (the forwarder's own timeout): its connection may be stuck behind
    /// that request, so the next send starts on a fresh one.
    in_flight: bool,
}

struct Conn {
    client: Client,
    insert: Statement,
    /// The task driving the connection: aborted when the connection is dropped, so a server
    /// that stopped answering cannot keep it alive.
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl PgSink {
    /// Checks the configuration (URL syntax, no password in it, table and schema names). No
    /// I/O: the connection is opened by the first [`PgSink::send`], and files are read then.
    ///
    /// # Errors
    ///
    /// A URL that does not parse or carries a password, an unknown `sslmode`, or a table or
    /// schema name that is not a plain identifier.
    pub fn new(cfg: &PgConfig) -> anyhow::Result<Self> {
        let (config, tls) = parse_url(&cfg.url)?;
        let insert_sql = insert_sql(&qualified_table(cfg)?);
        Ok(Self {
            config: Box::new(config),
            tls,
            password_file: cfg.password_file.clone(),
            ca_file: cfg.ca_file.clone(),
            insert_sql,
            conn: None,
            target: cfg.url.clone(),
            timeout: SEND_TIMEOUT,
            in_flight: false,
        })
    }

    /// The sink `[sink.NAME]` with `kind = "postgres"` describes (hookd.toml's settings).
    ///
    /// # Errors
    ///
    /// What [`PgSink::new`] refuses, and settings a PostgreSQL sink cannot use (client
    /// certificates, gzip, headers).
    pub fn from_settings(s: &crate::settings::SinkSettings) -> Result<Self, String> {
        let cfg = PgConfig::from_settings(s)?;
        let mut sink = Self::new(&cfg).map_err(|e| format!("{e:#}"))?;
        sink.timeout = s.timeout;
        Ok(sink)
    }

    /// Where it sends (the URL; it never carries a password).
    #[must_use]
    pub fn target(&self) -> String {
        self.target.clone()
    }

    /// Inserts `batch`; every event whose key is already present counts as delivered.
    pub async fn send(&mut self, origin: &Origin, batch: &[OutEvent]) -> Outcome {
        if batch.is_empty() {
            return Outcome::Delivered;
        }
        if self.in_flight {
            self.conn = None;
        }
        self.in_flight = true;
        let result = tokio::time::timeout(self.timeout, self.try_send(origin, batch)).await;
        self.in_flight = false;
        match result {
            Ok(Ok(())) => Outcome::Delivered,
            Ok(Err(failure)) => {
                let outcome = failure.outcome();
                // A rejected batch leaves the connection healthy (one statement, no
                // transaction); anything else may have broken it: reconnect next time.
                if !matches!(outcome, Outcome::Rejected { .. }) {
                    self.conn = None;
                }
                outcome
            }
            Err(_) => {
                self.conn = None;
                Outcome::Retry {
                    after: None,
                    why: format!("no answer from PostgreSQL within {:?}", self.timeout),
                }
            }
        }
    }

    async fn try_send(&mut self, origin: &Origin, batch: &[OutEvent]) -> Result<(), Failure> {
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            self.conn = None;
            let client = connect(
                &self.config,
                self.tls,
                self.password_file.as_deref(),
                self.ca_file.as_deref(),
            )
            .await?;
            let insert = client
                .0
                .prepare_typed(&self.insert_sql, &INSERT_TYPES)
                .await
                .map_err(|e| Failure::Pg("prepare the insert", e))?;
            self.conn = Some(Conn {
                client: client.0,
                insert,
                driver: client.1,
            });
        }
        let conn = self.conn.as_ref().expect("connected above");
        let cols = Columns::of(batch);
        let labels = labels_json(&origin.labels);
        let epoch = i32::try_from(origin.epoch).unwrap_or(i32::MAX);
        conn.client
            .execute(
                &conn.insert,
                &[
                    &origin.host,
                    &origin.store_id,
                    &epoch,
                    &labels,
                    &cols.local_id,
                    &cols.time_ms,
                    &cols.session_id,
                    &cols.event,
                    &cols.tool,
                    &cols.project,
                    &cols.verdict,
                    &cols.reason,
                    &cols.rules,
                    &cols.latency_us,
                    &cols.source,
                    &cols.summary,
                    &cols.redacted,
                    &cols.prompt_id,
                    &cols.tool_use_id,
                    &cols.uid,
                    &cols.payload,
                ],
            )
            .await
            .map_err(|e| Failure::Pg("insert the batch", e))?;
        Ok(())
    }
}

/// The insert's parameter types, in order (see [`insert_sql`]).
const INSERT_TYPES: [Type; 21] = [
    Type::TEXT,
    Type::TEXT,
    Type::INT4,
    Type::TEXT,
    Type::INT8_ARRAY,
    Type::INT8_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::TEXT_ARRAY,
];

/// One statement per batch: the origin as scalars ($1–$4), the events as one array per column
/// ($5–$21) unnested into rows. `rules` and `redacted` are lists per event, which a flat
/// `text[]` cannot carry row by row, so each travels as a JSON array text.
fn insert_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} (host, store_id, epoch, labels, local_id, time, session_id, event, \
         tool, project, verdict, reason, rules, latency_us, source, summary, redacted, prompt_id, \
         tool_use_id, uid, payload) \
         SELECT $1, $2, $3, $4::jsonb, u.local_id, \
         'epoch'::timestamptz + u.time_ms * interval '1 millisecond', u.session_id, u.event, \
         u.tool, u.project, u.verdict, u.reason, \
         ARRAY(SELECT jsonb_array_elements_text(u.rules::jsonb)), u.latency_us, u.source, \
         u.summary, ARRAY(SELECT jsonb_array_elements_text(u.redacted::jsonb)), u.prompt_id, \
         u.tool_use_id, u.uid, u.payload::jsonb \
         FROM unnest($5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21) AS u(local_id, time_ms, session_id, event, tool, project, verdict, reason, rules, \
         latency_us, source, summary, redacted, prompt_id, tool_use_id, uid, payload) \
         ON CONFLICT (host, store_id, local_id) DO NOTHING"
    )
}

/// A batch turned into one vector per column.
struct Columns<'a> {
    local_id: Vec<i64>,
    time_ms: Vec<i64>,
    session_id: Vec<Option<&'a str>>,
    event: Vec<&'a str>,
    tool: Vec<Option<&'a str>>,
    project: Vec<Option<&'a str>>,
    verdict: Vec<&'a str>,
    reason: Vec<Option<&'a str>>,
    rules: Vec<String>,
    latency_us: Vec<i64>,
    source: Vec<&'a str>,
    summary: Vec<Option<&'a str>>,
    redacted: Vec<String>,
    prompt_id: Vec<Option<&'a str>>,
    tool_use_id: Vec<Option<&'a str>>,
    uid: Vec<i64>,
    payload: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn of(batch: &'a [OutEvent]) -> Self {
        let n = batch.len();
        let mut c = Columns {
            local_id: Vec::with_capacity(n),
            time_ms: Vec::with_capacity(n),
            session_id: Vec::with_capacity(n),
            event: Vec::with_capacity(n),
            tool: Vec::with_capacity(n),
            project: Vec::with_capacity(n),
            verdict: Vec::with_capacity(n),
            reason: Vec::with_capacity(n),
            rules: Vec::with_capacity(n),
            latency_us: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            summary: Vec::with_capacity(n),
            redacted: Vec::with_capacity(n),
            prompt_id: Vec::with_capacity(n),
            tool_use_id: Vec::with_capacity(n),
            uid: Vec::with_capacity(n),
            payload: Vec::with_capacity(n),
        };
        for e in batch {
            c.local_id.push(e.id);
            c.time_ms.push(e.time_ms);
            c.session_id.push(e.session_id.as_deref());
            c.event.push(&e.event);
            c.tool.push(e.tool.as_deref());
            c.project.push(e.project_dir.as_deref());
            c.verdict.push(&e.verdict);
            c.reason.push(e.reason.as_deref());
            c.rules.push(json_list(&e.rules));
            c.latency_us.push(e.latency_us);
            c.source.push(&e.source);
            c.summary.push(e.summary.as_deref());
            c.redacted.push(json_list(&e.redacted));
            c.prompt_id.push(e.prompt_id.as_deref());
            c.tool_use_id.push(e.tool_use_id.as_deref());
            c.uid.push(i64::from(e.uid));
            c.payload.push(e.payload.as_deref());
        }
        c
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("a list of strings serialises")
}

fn labels_json(labels: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> PgConfig {
        PgConfig::with_url(url)
    }

    #[test]
    fn url_with_a_password_is_refused() {
        let e = PgSink::new(&cfg("postgres://w:secret@db/x")).err().unwrap();
        assert!(e.to_string().contains("password_file"), "{e}");
    }

    #[test]
    fn sslmode_is_honoured() {
        for (url, mode) in [
            ("postgres://w@db/x?sslmode=disable", TlsMode::Disable),
            ("postgres://w@db/x?sslmode=prefer", TlsMode::Prefer),
            ("postgres://w@db/x", TlsMode::Prefer),
            ("postgres://w@db/x?sslmode=require", TlsMode::Require),
            ("postgres://w@db/x?sslmode=verify-ca", TlsMode::Require),
            ("postgres://w@db/x?sslmode=verify-full", TlsMode::Require),
        ] {
            assert_eq!(PgSink::new(&cfg(url)).unwrap().tls, mode, "{url}");
        }
        assert!(PgSink::new(&cfg("postgres://w@db/x?sslmode=bogus")).is_err());
    }

    #[test]
    fn names_must_be_plain_identifiers() {
        let mut c = cfg("postgres://w@db/x");
        c.table = "events; drop table x".into();
        assert!(PgSink::new(&c).is_err());
        c.table = "events".into();
        c.schema = Some("a\"b".into());
        assert!(PgSink::new(&c).is_err());
        c.schema = Some("fleet".into());
        let sql = schema_sql(&c).unwrap();
        assert!(
            sql.contains("CREATE TABLE IF NOT EXISTS \"fleet\".\"events\""),
            "{sql}"
        );
        assert!(
            sql.contains("\"events_time_idx\" ON \"fleet\".\"events\""),
            "{sql}"
        );
        let grants = grants_sql(&c, "writer").unwrap();
        assert!(
            grants.contains("GRANT USAGE ON SCHEMA \"fleet\" TO \"writer\""),
            "{grants}"
        );
        assert!(
            grants.contains("GRANT SELECT (host, store_id, local_id) ON \"fleet\".\"events\""),
            "{grants}"
        );
    }
}
