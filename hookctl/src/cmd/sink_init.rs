//! `hookctl sink init pg`: the PostgreSQL sink's central table and its least-privilege grants
//! (docs/fleet.md), printed for an admin to apply or applied directly.
//!
//! The names come from the sink's `[sink.NAME]` table in hookd.toml (`table`, `schema`, the
//! role in `url`), or the defaults (`hookd_events`, role `hookd_writer`) when none is
//! configured. Applying connects as an admin (`--admin-url`, default the sink's own URL, which
//! works only if that role may create tables) and grants the sink's role when it is not the
//! admin itself. Everything is `IF NOT EXISTS` / idempotent: running it twice is harmless.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use hookd::fleet_pg::{PgConfig, apply_sql, grants_sql, schema_sql, url_user};

/// The role the grants name when neither `--role` nor the sink's URL says.
const DEFAULT_ROLE: &str = "hookd_writer";

/// Create (or print) a sink's central schema
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The kind of sink: `pg` (PostgreSQL)
    #[arg(value_parser = ["pg", "postgres"])]
    kind: String,
    /// The `[sink.NAME]` in hookd.toml to take the URL, table and schema from (default: the
    /// only PostgreSQL sink configured)
    #[arg(long)]
    sink: Option<String>,
    /// Print the SQL (schema, then the role's grants) instead of applying it
    #[arg(long)]
    print: bool,
    /// Connect as this role to create the table (default: the sink's url)
    #[arg(long, value_name = "URL")]
    admin_url: Option<String>,
    /// The admin's password, from a 0600 file (default: the sink's password_file when
    /// --admin-url is not given)
    #[arg(long, value_name = "FILE")]
    admin_password_file: Option<PathBuf>,
    /// The role to grant INSERT and key-column SELECT to (default: the sink URL's user)
    #[arg(long)]
    role: Option<String>,
}

/// Runs `hookctl sink init pg`.
///
/// # Errors
///
/// An unreadable hookd.toml, no such sink, bad names, or PostgreSQL refusing the SQL.
pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let config_file = hook_protocol::paths::config_dir().join("hookd.toml");
    let sink = find_sink(&config_file, args.sink.as_deref())?;
    let sink_cfg = match &sink {
        Some((_, cfg)) => cfg.clone(),
        None if args.print => PgConfig {
            url: String::new(),
            password_file: None,
            ca_file: None,
            table: "hookd_events".into(),
            schema: None,
        },
        None => match &args.admin_url {
            Some(url) => PgConfig {
                url: url.clone(),
                password_file: None,
                ca_file: None,
                table: "hookd_events".into(),
                schema: None,
            },
            None => bail!(
                "no PostgreSQL sink in {}: add a [sink.NAME] with kind = \"postgres\", or give \
                 --admin-url (or --print the SQL)",
                config_file.display()
            ),
        },
    };
    let sink_role = if sink_cfg.url.is_empty() {
        None
    } else {
        url_user(&sink_cfg.url)?
    };
    let role = args
        .role
        .clone()
        .or(sink_role)
        .unwrap_or_else(|| DEFAULT_ROLE.to_string());
    let schema = schema_sql(&sink_cfg)?;
    let grants = grants_sql(&sink_cfg, &role)?;
    if args.print {
        println!("{schema}\n{grants}");
        return Ok(ExitCode::SUCCESS);
    }
    let admin = match &args.admin_url {
        Some(url) => PgConfig {
            url: url.clone(),
            password_file: args.admin_password_file.clone(),
            ..sink_cfg.clone()
        },
        None => PgConfig {
            password_file: args
                .admin_password_file
                .clone()
                .or_else(|| sink_cfg.password_file.clone()),
            ..sink_cfg.clone()
        },
    };
    let admin_role = url_user(&admin.url)?;
    let grant = admin_role.as_deref() != Some(role.as_str());
    let sql = if grant {
        format!("{schema}\n{grants}")
    } else {
        schema
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start a runtime")?;
    rt.block_on(apply_sql(&admin, &sql))
        .context("create the PostgreSQL sink's schema")?;
    let table = match &sink_cfg.schema {
        Some(s) => format!("{s}.{}", sink_cfg.table),
        None => sink_cfg.table.clone(),
    };
    println!("table      {table} ready");
    if grant {
        println!("role       {role}: INSERT, SELECT (host, store_id, local_id)");
    } else {
        println!(
            "role       {role} is the admin itself: no grants made (print them with --print \
             --role NAME)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The `[sink.NAME]` with `kind = "postgres"` (the one named, or the only one).
fn find_sink(path: &Path, name: Option<&str>) -> anyhow::Result<Option<(String, PgConfig)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && name.is_none() => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    let sinks = doc.get("sink").and_then(toml::Value::as_table);
    let mut found = Vec::new();
    for (sink_name, value) in sinks.into_iter().flatten() {
        let Some(table) = value.as_table() else {
            continue;
        };
        if table.get("kind").and_then(toml::Value::as_str) != Some("postgres") {
            if name == Some(sink_name.as_str()) {
                bail!("[sink.{sink_name}] is not kind = \"postgres\"");
            }
            continue;
        }
        if name.is_some_and(|n| n != sink_name) {
            continue;
        }
        let get = |key: &str| table.get(key).and_then(toml::Value::as_str);
        let cfg = PgConfig {
            url: get("url")
                .with_context(|| format!("[sink.{sink_name}] has no url"))?
                .to_string(),
            password_file: get("password_file").map(PathBuf::from),
            ca_file: get("ca_file").map(PathBuf::from),
            table: get("table").unwrap_or("hookd_events").to_string(),
            schema: get("schema").map(str::to_string),
        };
        found.push((sink_name.clone(), cfg));
    }
    match (found.len(), name) {
        (0, Some(n)) => bail!("no [sink.{n}] in {}", path.display()),
        (0 | 1, _) => Ok(found.pop()),
        _ => bail!(
            "several PostgreSQL sinks in {} ({}): name one with --sink",
            path.display(),
            found
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
