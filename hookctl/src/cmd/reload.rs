//! `hookctl reload`.

use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{Request, Response};

use crate::client::Client;

/// Reload rules from disk now
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Response::Reloaded(r) = client.request(&Request::Reload)? else {
        bail!("unexpected answer to reload");
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if r.errors.is_empty() {
        println!("reloaded: {} rules active", r.rules_loaded);
    } else {
        eprintln!(
            "reload failed; the previous {} rules stay active:",
            r.rules_loaded
        );
        for e in &r.errors {
            eprintln!("  {e}");
        }
    }
    Ok(if r.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::ERROR)
    })
}
