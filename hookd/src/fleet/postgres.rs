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

use std::future::Future;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, NoTls, TlsConnect};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Socket, Statement};

use super::{Origin, OutEvent, Outcome};

/// The central schema (`hookd_events`, documented in the file), embedded for `hookctl sink init
/// pg`. [`schema_sql`] renders it for a configured schema and table.
pub const SCHEMA_SQL: &str = include_str!("postgres.sql");
/// The least-privilege role's grants (role `hookd_writer`); [`grants_sql`] renders them.
pub const GRANTS_SQL: &str = include_str!("postgres-grants.sql");

/// How long opening a connection (TCP, TLS, authentication) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one batch may take by default (`timeout` in `[sink.NAME]` sets it), connection
/// included; past it the connection is dropped and the batch retried (a server that accepts and
/// never answers must not stall the sink).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// `[sink.NAME]` with `kind = "postgres"`: the PostgreSQL-specific settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgConfig {
    /// `postgres://USER@HOST:PORT/DB?sslmode=…` (or libpq's `key=value` form). No password:
    /// it belongs in `password_file`.
    pub url: String,
    /// A file holding the password (trailing newline ignored); must not be readable by group
    /// or others (0600 or stricter). Read on each connection, so a rotated password is used
    /// without restarting hookd.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA certificate(s) to verify the server with, instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The central table (default `hookd_events`).
    #[serde(default = "default_table")]
    pub table: String,
    /// The table's schema (default: the role's `search_path`, normally `public`).
    #[serde(default)]
    pub schema: Option<String>,
}

fn default_table() -> String {
    "hookd_events".to_string()
}

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

/// What `sslmode` asked for (tokio-postgres knows disable/prefer/require; verify-ca and
/// verify-full are accepted and mapped to require, since rustls always verifies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    Disable,
    Prefer,
    Require,
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
        if s.cert_file.is_some() || s.key_file.is_some() {
            return Err(
                "a postgres sink does not take cert_file/key_file (client certificates \
                        are not supported; use password_file)"
                    .into(),
            );
        }
        if !s.headers.is_empty() || s.gzip {
            return Err("headers and compression are for otlp sinks".into());
        }
        let cfg = PgConfig {
            url: s.endpoint.clone().ok_or("a postgres sink needs `url`")?,
            password_file: s.secret_file.as_deref().map(super::expand_home),
            ca_file: s.ca_file.as_deref().map(super::expand_home),
            table: s.table.clone().unwrap_or_else(default_table),
            schema: s.schema.clone(),
        };
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

/// Why a batch did not go in, before it is turned into an [`Outcome`].
#[derive(Debug)]
enum Failure {
    /// Settings or local files (password file, CA file): fixing them is an operator's job.
    Config(String),
    /// The TLS layer refused the server (certificate, name): a configuration error too.
    Tls(String),
    /// What PostgreSQL (or the connection to it) said, and what we were doing.
    Pg(&'static str, tokio_postgres::Error),
}

impl Failure {
    fn outcome(&self) -> Outcome {
        match self {
            Failure::Config(why) | Failure::Tls(why) => Outcome::Hold { why: why.clone() },
            Failure::Pg(doing, e) => {
                let why = format!("{doing}: {}", describe(e));
                match e.code() {
                    Some(code) => classify(code, why),
                    // No SQLSTATE: the connection failed or broke (refused, reset, closed, a
                    // TLS handshake that did not complete). A certificate that failed
                    // verification is a configuration error; anything else is transient.
                    None if is_certificate_error(e) => Outcome::Hold { why },
                    None => Outcome::Retry { after: None, why },
                }
            }
        }
    }
}

/// PostgreSQL's message with its SQLSTATE, or the I/O error's chain.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

fn is_certificate_error(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        if let Some(io) = cause.downcast_ref::<io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        source = cause.source();
    }
    false
}

/// What to do about a SQLSTATE:
///
/// - **Retry** (the same batch, after a backoff): class 08 (connection exception), 57P01–57P05
///   (server shutting down, cannot connect now, idle timeouts), 57014 (statement cancelled),
///   40001/40P01 (serialization failure, deadlock), 53 (insufficient resources: disk full, out
///   of memory, too many connections), 58 (system I/O error), 55P03 (lock not available),
///   25006 (read-only transaction: a standby during failover), XX (internal error), and any
///   code not listed here.
/// - **Rejected** (the forwarder bisects, a single bad event is counted and skipped): class 22
///   (data exception: bad JSON, a NUL byte in text, out-of-range values), class 23 except
///   23505 (integrity: NOT NULL, check, foreign key), class 54 (program limits: a row too big).
/// - **Hold** (keep every event, back off, report the sink failing): class 28 (invalid
///   authorization: wrong password, no such role, pg_hba refuses), 42501 (insufficient
///   privilege), 3D000 (no such database), 3F000 (no such schema), 42P01 (no such table), the
///   rest of class 42 (a table that does not match the schema), and 23505: a unique violation
///   despite `ON CONFLICT` on the key means another unique index on the table, which no retry
///   or skip can fix without losing data.
#[must_use]
pub fn classify(code: &SqlState, why: String) -> Outcome {
    let c = code.code();
    let class = &c[..2.min(c.len())];
    let retry = Outcome::Retry {
        after: None,
        why: why.clone(),
    };
    match (class, c) {
        (_, "23505") => Outcome::Hold { why },
        ("22" | "23" | "54", _) => Outcome::Rejected { why },
        ("28" | "42" | "3D" | "3F", _) => Outcome::Hold { why },
        _ => retry,
    }
}

/// Parses the URL, refusing a password in it and mapping `sslmode`.
fn parse_url(url: &str) -> anyhow::Result<(tokio_postgres::Config, TlsMode)> {
    // tokio-postgres parses disable/prefer/require only; verify-ca and verify-full mean
    // "require, and verify", which is what rustls does for every TLS connection anyway.
    let (url, verify) = match ["sslmode=verify-full", "sslmode=verify-ca"]
        .iter()
        .find(|m| url.contains(**m))
    {
        Some(m) => (url.replacen(m, "sslmode=require", 1), true),
        None => (url.to_string(), false),
    };
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| anyhow::anyhow!("url: not a PostgreSQL connection URL: {e}"))?;
    if config.get_password().is_some() {
        bail!(
            "url: carries a password; put it in a file readable only by you and name it with \
             password_file"
        );
    }
    let tls = match config.get_ssl_mode() {
        SslMode::Disable => TlsMode::Disable,
        SslMode::Require => TlsMode::Require,
        _ if verify => TlsMode::Require,
        _ => TlsMode::Prefer,
    };
    let mut config = config;
    config.connect_timeout(CONNECT_TIMEOUT);
    if config.get_application_name().is_none() {
        config.application_name("hookd");
    }
    Ok((config, tls))
}

/// `"schema"."table"` or `"table"`, after checking both are plain identifiers.
fn qualified_table(cfg: &PgConfig) -> anyhow::Result<String> {
    check_ident("table", &cfg.table)?;
    match &cfg.schema {
        Some(schema) => {
            check_ident("schema", schema)?;
            Ok(format!("\"{schema}\".\"{}\"", cfg.table))
        }
        None => Ok(format!("\"{}\"", cfg.table)),
    }
}

/// Names are quoted in SQL, and limited to what needs no escaping: letters, digits and `_`,
/// not starting with a digit, at most 63 bytes (PostgreSQL's limit; a table name leaves room
/// for the index names derived from it).
fn check_ident(what: &str, name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!(
            "{what} {name:?}: use letters, digits and _ only (not starting with a digit, at \
             most 50 characters)"
        );
    }
    Ok(())
}

/// The schema DDL for `cfg`'s schema and table: [`SCHEMA_SQL`] with the names substituted, and
/// `CREATE SCHEMA IF NOT EXISTS` first when a schema is configured.
///
/// # Errors
///
/// A table or schema name that is not a plain identifier.
pub fn schema_sql(cfg: &PgConfig) -> anyhow::Result<String> {
    let table = qualified_table(cfg)?;
    let t = &cfg.table;
    // The index names contain the table's name: through placeholders, so the table's
    // substitution does not rewrite them a second time.
    let body = SCHEMA_SQL
        .replace("hookd_events_time_idx", "\u{1}time")
        .replace("hookd_events_session_idx", "\u{1}session")
        .replace("hookd_events", &table)
        .replace("\u{1}time", &format!("\"{t}_time_idx\""))
        .replace("\u{1}session", &format!("\"{t}_session_idx\""));
    Ok(match &cfg.schema {
        Some(schema) => format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\";\n\n{body}"),
        None => body,
    })
}

/// The grants for `role` on `cfg`'s table: [`GRANTS_SQL`] with the names substituted.
///
/// # Errors
///
/// A table, schema or role name that is not a plain identifier.
pub fn grants_sql(cfg: &PgConfig, role: &str) -> anyhow::Result<String> {
    let table = qualified_table(cfg)?;
    check_ident("role", role)?;
    let schema = cfg.schema.as_deref().unwrap_or("public");
    Ok(GRANTS_SQL
        .replace("SCHEMA public", &format!("SCHEMA \"{schema}\""))
        .replace("hookd_events", &table)
        .replace("ROLE hookd_writer", &format!("ROLE \"{role}\""))
        .replace("TO hookd_writer", &format!("TO \"{role}\"")))
}

/// The user name in `cfg`'s URL (the role the sink logs in as), if it names one.
///
/// # Errors
///
/// A URL that does not parse.
pub fn url_user(url: &str) -> anyhow::Result<Option<String>> {
    let (config, _) = parse_url(url)?;
    Ok(config.get_user().map(str::to_string))
}

/// Connects with `cfg`'s URL, password file and CA file and runs `sql` (several statements),
/// for `hookctl sink init pg`.
///
/// # Errors
///
/// The connection or a statement failing, with PostgreSQL's message and SQLSTATE.
pub async fn apply_sql(cfg: &PgConfig, sql: &str) -> anyhow::Result<()> {
    let (config, tls) = parse_url(&cfg.url)?;
    let (client, driver) = connect(
        &config,
        tls,
        cfg.password_file.as_deref(),
        cfg.ca_file.as_deref(),
    )
    .await
    .map_err(|f| match f {
        Failure::Config(w) | Failure::Tls(w) => anyhow::anyhow!(w),
        Failure::Pg(doing, e) => anyhow::anyhow!("{doing}: {}", describe(&e)),
    })?;
    let result = client.batch_execute(sql).await;
    drop(client);
    driver.abort();
    result.map_err(|e| anyhow::anyhow!("{}", describe(&e)))
}

/// Opens a connection and spawns the task that drives it.
async fn connect(
    config: &tokio_postgres::Config,
    tls: TlsMode,
    password_file: Option<&Path>,
    ca_file: Option<&Path>,
) -> Result<(Client, JoinHandle<()>), Failure> {
    let mut config = config.clone();
    if let Some(path) = password_file {
        config.password(read_password(path).map_err(|e| Failure::Config(format!("{e:#}")))?);
    }
    if tls == TlsMode::Disable {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| Failure::Pg("connect", e))?;
        return Ok((client, spawn_driver(connection)));
    }
    let tls_config = client_config(ca_file).map_err(|e| Failure::Tls(format!("{e:#}")))?;
    let (client, connection) = config
        .connect(MakeRustls(Arc::new(tls_config)))
        .await
        .map_err(|e| Failure::Pg("connect", e))?;
    Ok((client, spawn_driver(connection)))
}

fn spawn_driver<S, T>(connection: tokio_postgres::Connection<S, T>) -> JoinHandle<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres sink: connection ended: {e}");
        }
    })
}

/// The password from `path`, refusing a file that group or others may read or write.
fn read_password(path: &Path) -> anyhow::Result<String> {
    let path = expand_home(path);
    let meta =
        std::fs::metadata(&path).with_context(|| format!("password_file {}", path.display()))?;
    if meta.mode() & 0o077 != 0 {
        bail!(
            "password_file {}: mode {:o} lets other users read it; chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        );
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("password_file {}", path.display()))?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("password_file {}: empty", path.display());
    }
    Ok(password.to_string())
}

/// `~/…` → `$HOME/…`.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// rustls with ring, verifying the server against `ca_file` or the system's roots.
fn client_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let path = expand_home(path);
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                .with_context(|| format!("ca_file {}", path.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("ca_file {}: not PEM certificates", path.display()))?;
            if certs.is_empty() {
                bail!("ca_file {}: no certificate in it", path.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("ca_file {}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                bail!("no system CA certificates found; set ca_file");
            }
        }
    }
    // ring, not aws-lc-rs (a C/cmake build); rustls 0.23.48 deprecates ring's provider only
    // for lacking post-quantum key exchange, which PostgreSQL clients do not need yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// tokio-postgres's TLS hook, implemented over tokio-rustls.
#[derive(Clone)]
struct MakeRustls(Arc<rustls::ClientConfig>);

struct RustlsConnect {
    name: rustls::pki_types::ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = rustls::pki_types::ServerName::try_from(domain.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect {
            name,
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.0)),
        })
    }
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let tls = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(Box::new(tls)))
        })
    }
}

/// A TLS connection to the server. No channel binding is offered (SCRAM still authenticates;
/// binding would need the certificate's signature algorithm parsed from DER).
struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl tokio_postgres::tls::TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> PgConfig {
        PgConfig {
            url: url.to_string(),
            password_file: None,
            ca_file: None,
            table: default_table(),
            schema: None,
        }
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

    #[test]
    fn sqlstates_are_classed() {
        let class = |code: &str| match classify(&SqlState::from_code(code), String::new()) {
            Outcome::Retry { .. } => "retry",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Hold { .. } => "hold",
            other => panic!("{other:?}"),
        };
        for code in [
            "08006", "08001", "57P01", "57P03", "40001", "40P01", "53100", "53300",
        ] {
            assert_eq!(class(code), "retry", "{code}");
        }
        for code in ["22P02", "22021", "23502", "23514", "54000"] {
            assert_eq!(class(code), "rejected", "{code}");
        }
        for code in [
            "28P01", "28000", "42501", "3D000", "42P01", "3F000", "23505",
        ] {
            assert_eq!(class(code), "hold", "{code}");
        }
    }

    #[test]
    fn password_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_password(&path).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password(&path).unwrap(), "s3cret");
    }
}
