//! `hookd sink-init pg`: the PostgreSQL sink's central table and its least-privilege grants
//! (docs/fleet.md), printed for an admin to apply or applied directly. `hookctl sink init pg`
//! runs this mode of hookd, so hookctl carries no database client, TLS stack or runtime.
//!
//! The names come from the sink's `[sink.NAME]` table in hookd.toml (`table`, `schema`, the
//! role in `url`), read by the same typed settings parse hookd uses at start (its errors as
//! `file:line:column`), or the defaults (`hookd_events`, role `hookd_writer`) when none is
//! configured. Applying connects as an admin (`--admin-url`, default the sink's own URL, which
//! works only if that role may create tables) and grants the sink's role when it is not the
//! admin itself. Everything is `IF NOT EXISTS` / idempotent: running it twice is harmless.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::postgres::{PgConfig, apply_sql, grants_sql, schema_sql, url_user};
use crate::settings::{SinkKind, SinkSettings};

/// The role the grants name when neither `--role` nor the sink's URL says.
const DEFAULT_ROLE: &str = "hookd_writer";

/// `hookd sink-init`'s usage (also part of `hookd --help`).
pub const USAGE: &str = "\
usage: hookd sink-init pg [--sink NAME] [--print] [--admin-url URL]
                          [--admin-password-file FILE] [--role NAME] [--config-dir DIR]

Creates (or, with --print, prints) the PostgreSQL sink's central table and its
least-privilege grants from the [sink.NAME] in hookd.toml, then exits (`hookctl sink init pg`
runs this).
";

/// Exit codes (hookctl's for errors, hookd's for bad arguments).
mod exit {
    /// The SQL could not be made or applied.
    pub const ERROR: u8 = 1;
    /// Bad arguments.
    pub const USAGE: u8 = 64;
}

/// `hookd sink-init`'s arguments.
#[derive(Debug, Default)]
struct Args {
    sink: Option<String>,
    print: bool,
    admin_url: Option<String>,
    admin_password_file: Option<PathBuf>,
    role: Option<String>,
    config_dir: Option<PathBuf>,
}

/// Reads the arguments after `sink-init`: `Ok(None)` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut kind = None;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--print" => a.print = true,
            "--sink" => a.sink = Some(value("--sink")?),
            "--admin-url" => a.admin_url = Some(value("--admin-url")?),
            "--admin-password-file" => {
                a.admin_password_file = Some(value("--admin-password-file")?.into());
            }
            "--role" => a.role = Some(value("--role")?),
            "--config-dir" => a.config_dir = Some(value("--config-dir")?.into()),
            "pg" | "postgres" if kind.is_none() => kind = Some(arg),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if kind.is_none() {
        return Err("which kind of sink? `pg` (PostgreSQL) is the one there is".into());
    }
    Ok(Some(a))
}

/// Runs `hookd sink-init` with the arguments after `sink-init`; prints errors itself.
#[must_use]
pub fn main(args: impl Iterator<Item = String>) -> ExitCode {
    let args = match parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("hookd sink-init: error: {e}\n\n{USAGE}");
            return ExitCode::from(exit::USAGE);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookd sink-init: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let config_dir = args
        .config_dir
        .clone()
        .unwrap_or_else(hook_protocol::paths::config_dir);
    let config_file = config_dir.join(hook_protocol::paths::CONFIG_FILE);
    let sink_cfg = match find_sink(&config_file, args.sink.as_deref())? {
        Some(cfg) => cfg,
        None if args.print => PgConfig::with_url(""),
        None => match &args.admin_url {
            Some(url) => PgConfig::with_url(url),
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
        return Ok(());
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
    Ok(())
}

/// The `[sink.NAME]` with `kind = "postgres"` in hookd.toml at `path` (the one named, or the
/// only one), read by hookd's own settings parse. Its problems are errors here, with those of
/// the file's other settings (a file with errors is not one hookd would start with) and of
/// any sink whose kind is unreadable (it may be the one meant).
fn find_sink(path: &Path, name: Option<&str>) -> anyhow::Result<Option<PgConfig>> {
    // Trusted as hookd trusts it: a file another user can write could send the admin's
    // password to a server of their choosing.
    if let Some(why) = crate::rules::foreign_writer(path) {
        bail!("{why}");
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && name.is_none() => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    let (settings, mut errors) = crate::settings::parse_text(&path.display().to_string(), &text);
    errors.extend(settings.fleet.errors.iter().cloned());
    let mut found: Vec<&SinkSettings> = Vec::new();
    for s in &settings.sinks {
        if name.is_some_and(|n| n != s.name) {
            continue;
        }
        match s.kind {
            Some(SinkKind::Postgres) => found.push(s),
            None => {}
            Some(_) if name.is_some() => {
                bail!("[sink.{}] is not kind = \"postgres\"", s.name);
            }
            Some(_) => continue,
        }
        errors.extend(s.errors.iter().cloned());
    }
    if !errors.is_empty() {
        bail!(
            "{} has errors (hookd reports the same):\n  {}",
            path.display(),
            errors.join("\n  ")
        );
    }
    let sink = match (found.len(), name) {
        (0, Some(n)) if !settings.sinks.iter().any(|s| s.name == n) => {
            bail!("no [sink.{n}] in {}", path.display())
        }
        (0, _) => return Ok(None),
        (1, _) => found[0],
        _ => bail!(
            "several PostgreSQL sinks in {} ({}): name one with --sink",
            path.display(),
            found
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    PgConfig::from_settings(sink)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("[sink.{}] in {}: {e}", sink.name, path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(toml: &str, name: Option<&str>) -> anyhow::Result<Option<PgConfig>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookd.toml");
        std::fs::write(&path, toml).unwrap();
        find_sink(&path, name)
    }

    const TWO: &str = "[sink.a]\nkind = \"postgres\"\nurl = \"postgres://w@db/x\"\n\
                       [sink.b]\nkind = \"postgres\"\nurl = \"postgres://v@db/y\"\n\
                       table = \"t2\"\n[sink.o]\nkind = \"otlp\"\n";

    #[test]
    fn the_sink_is_the_named_one_or_the_only_one() {
        let b = sink(TWO, Some("b")).unwrap().unwrap();
        assert_eq!(
            (b.url.as_str(), b.table.as_str()),
            ("postgres://v@db/y", "t2")
        );
        let e = sink(TWO, None).unwrap_err().to_string();
        assert!(
            e.contains("several PostgreSQL sinks") && e.contains("a, b"),
            "{e}"
        );
        let e = sink(TWO, Some("o")).unwrap_err().to_string();
        assert_eq!(e, "[sink.o] is not kind = \"postgres\"");
        let e = sink(TWO, Some("zz")).unwrap_err().to_string();
        assert!(e.starts_with("no [sink.zz] in "), "{e}");
        assert_eq!(sink("[sink.o]\nkind = \"otlp\"\n", None).unwrap(), None);
    }

    /// A bad value is the settings parse's error, where it is written; a sink whose kind is
    /// misspelt is not skipped as "not postgres".
    #[test]
    fn bad_values_are_reported_where_they_are() {
        let e = sink(
            "[sink.a]\nkind = \"postgres\"\nurl = \"postgres://w@db/x\"\ntable = 5\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("hookd.toml:4:9: "), "{e}");
        let e = sink("[sink.a]\nkind = \"postgress\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hookd.toml:2:8: ") && e.contains("postgres"),
            "{e}"
        );
    }

    #[test]
    fn arguments_are_read() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| (*s).to_string()));
        let a = args(&["pg", "--sink", "c", "--print", "--role", "r"])
            .unwrap()
            .unwrap();
        assert_eq!((a.sink.as_deref(), a.print), (Some("c"), true));
        assert_eq!(a.role.as_deref(), Some("r"));
        assert!(args(&["--print"]).is_err(), "the kind is needed");
        assert!(args(&["pg", "--sink"]).is_err());
        assert!(args(&["pg", "--bogus"]).is_err());
        assert!(args(&["pg", "--help"]).unwrap().is_none());
    }
}
