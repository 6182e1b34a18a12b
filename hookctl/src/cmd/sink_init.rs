//! `hookctl sink init pg`: the PostgreSQL sink's central table and its least-privilege grants
//! (docs/fleet.md), printed for an admin to apply or applied directly.
//!
//! One implementation, in the daemon's binary: this runs `hookd sink-init pg` (found as
//! hookctl finds the hookd it starts, [`hook_protocol::paths::find_program`]) with the same
//! arguments, its stdin, stdout and stderr this process's, and returns its exit code. hookd
//! reads hookd.toml with the settings parse it uses at start and holds the PostgreSQL client;
//! hookctl needs neither (no runtime, no database client, no TLS stack).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};

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

/// Runs `hookctl sink init pg` through `hookd sink-init pg`.
///
/// # Errors
///
/// No trusted hookd to run, or it could not be started. hookd's own failures are its exit
/// code, with its message on stderr.
pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let hookd = hook_protocol::paths::find_program("hookd", Some("HOOKD_BIN")).map_err(|why| {
        let beside = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.display().to_string()))
            .unwrap_or_else(|| "this program".into());
        anyhow!(
            "`sink init` runs hookd, and found no hookd it may run: {why} (looked at HOOKD_BIN, \
             then beside hookctl in {beside}, then in PATH's absolute entries; set \
             HOOKD_BIN=/absolute/path/to/hookd to name it)"
        )
    })?;
    let status = std::process::Command::new(&hookd)
        .args(hookd_args(args))
        .status()
        .with_context(|| format!("run {}", hookd.display()))?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(crate::exit::ERROR)),
        // Killed by a signal: the shell's convention, 128 + the signal.
        None => {
            let signal = std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0);
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(crate::exit::ERROR))
        }
    })
}

/// `sink-init pg …` with the arguments given, and hookctl's configuration directory.
fn hookd_args(args: &InitArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec!["sink-init".into(), args.kind.clone().into()];
    let mut flag = |name: &str, value: Option<OsString>| {
        if let Some(v) = value {
            out.push(name.into());
            out.push(v);
        }
    };
    flag("--sink", args.sink.clone().map(Into::into));
    flag("--admin-url", args.admin_url.clone().map(Into::into));
    flag(
        "--admin-password-file",
        args.admin_password_file.clone().map(Into::into),
    );
    flag("--role", args.role.clone().map(Into::into));
    flag(
        "--config-dir",
        Some(hook_protocol::paths::config_dir().into()),
    );
    if args.print {
        out.push("--print".into());
    }
    out
}
