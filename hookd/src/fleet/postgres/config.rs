//! The PostgreSQL sink's settings and names: [`PgConfig`] from hookd.toml, the URL (no
//! password, `sslmode`), the table's quoted name, and the schema and grants SQL that `hookd
//! sink-init pg` prints or applies.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;
use tokio_postgres::config::SslMode;

/// The central schema (`hookd_events`, documented in the file), embedded for `hookd sink-init
/// pg`. [`schema_sql`] renders it for a configured schema and table.
pub const SCHEMA_SQL: &str = include_str!("../postgres.sql");
/// The least-privilege role's grants (role `hookd_writer`); [`grants_sql`] renders them.
pub const GRANTS_SQL: &str = include_str!("../postgres-grants.sql");

/// How long opening a connection (TCP, TLS, authentication) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

pub(super) fn default_table() -> String {
    "hookd_events".to_string()
}

impl PgConfig {
    /// The PostgreSQL settings of `[sink.NAME]` with `kind = "postgres"` (hookd.toml's typed
    /// settings), for the sink and for `hookd sink-init pg`.
    ///
    /// # Errors
    ///
    /// Settings a PostgreSQL sink cannot use (client certificates, gzip, headers), or no `url`.
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
        Ok(PgConfig {
            url: s.endpoint.clone().ok_or("a postgres sink needs `url`")?,
            password_file: s.secret_file.as_deref().map(crate::fleet::expand_home),
            ca_file: s.ca_file.as_deref().map(crate::fleet::expand_home),
            table: s.table.clone().unwrap_or_else(default_table),
            schema: s.schema.clone(),
        })
    }

    /// The defaults (`hookd_events`, no schema, no files) with `url`, when no sink is
    /// configured.
    #[must_use]
    pub fn with_url(url: &str) -> Self {
        PgConfig {
            url: url.to_string(),
            password_file: None,
            ca_file: None,
            table: default_table(),
            schema: None,
        }
    }
}

/// What `sslmode` asked for (tokio-postgres knows disable/prefer/require; verify-ca and
/// verify-full are accepted and mapped to require, since rustls always verifies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsMode {
    Disable,
    Prefer,
    Require,
}

/// Parses the URL, refusing a password in it and mapping `sslmode`.
pub(super) fn parse_url(url: &str) -> anyhow::Result<(tokio_postgres::Config, TlsMode)> {
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
pub(super) fn qualified_table(cfg: &PgConfig) -> anyhow::Result<String> {
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
