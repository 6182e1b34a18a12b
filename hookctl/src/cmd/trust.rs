//! `hookctl trust <dir>`: let a project's `.claude/hookd.toml` use `allow`/`defer`.

use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{Request, Response, TrustRequest};

use crate::client::Client;

/// Trust a project's .claude/hookd.toml (allow/defer rules need it), or revoke trust
///
/// Trust is tied to the file's SHA-256: after any edit, run this again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project directory (default: the current directory)
    dir: Option<String>,
    /// Revoke trust instead
    #[arg(long)]
    revoke: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?.display().to_string(),
    };
    let Response::Trusted(r) = client.request(&Request::Trust(TrustRequest {
        dir,
        revoke: args.revoke,
    }))?
    else {
        bail!("unexpected answer to trust");
    };
    if r.trusted {
        println!(
            "trusted {} (sha256 {}): {} rules active",
            r.dir,
            r.sha256.as_deref().unwrap_or("-"),
            r.rules
        );
    } else {
        println!(
            "revoked trust in {}: {} rules active (tightening only)",
            r.dir, r.rules
        );
    }
    for e in &r.errors {
        eprintln!("  {e}");
    }
    // After a revoke, the notes about allow/defer rules now ignored are expected, not errors.
    let failed = r.trusted && !r.errors.is_empty();
    Ok(if failed {
        ExitCode::from(crate::exit::ERROR)
    } else {
        ExitCode::SUCCESS
    })
}
