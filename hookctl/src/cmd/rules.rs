//! `hookctl rules`: the loaded rules with their source and hit counts.

use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{Request, Response};

use crate::client::Client;

/// List loaded rules with their source and hit counts
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Response::Rules(rules) = client.request(&Request::Rules)? else {
        bail!("unexpected answer to rules");
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rules)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<32} {:<8} {:>6}  {:<28} source",
        "rule", "action", "hits", "events"
    );
    for r in &rules {
        let events = r.events.join(",");
        let events: String = if events.chars().count() > 28 {
            events
                .chars()
                .take(27)
                .chain(std::iter::once('…'))
                .collect()
        } else {
            events
        };
        println!(
            "{:<32} {:<8} {:>6}  {:<28} {}",
            r.name, r.action, r.hits, events, r.source
        );
    }
    println!("{} rules", rules.len());
    Ok(ExitCode::SUCCESS)
}
