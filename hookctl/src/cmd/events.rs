//! `hookctl events`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{EventQuery, Request, Response};

use crate::client::Client;
use crate::format;

/// List recorded events, newest first
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this session id
    #[arg(long)]
    session: Option<String>,
    /// Only this event name (e.g. PreToolUse)
    #[arg(long)]
    event: Option<String>,
    /// Only verdicts starting with this (deny, ask, block, fallback:, error:, …)
    #[arg(long)]
    verdict: Option<String>,
    /// At most this many events
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Print a JSON array (with each event's payload) instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let q = EventQuery {
        session: args.session.clone(),
        event: args.event.clone(),
        verdict: args.verdict.clone(),
        limit: args.limit,
        with_payload: args.json,
    };
    let Response::Events(rows) = client.request(&Request::Events(q))? else {
        bail!("unexpected answer to events");
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<19}  {:<8}  {:<18}  {:<12}  {:<10}  {:>7}  rules / reason",
        "time (UTC)", "session", "event", "tool", "verdict", "µs"
    )?;
    for r in rows.iter().rev() {
        let session: String = r
            .session_id
            .as_deref()
            .unwrap_or("-")
            .chars()
            .take(8)
            .collect();
        let mut tail = r.rules.join(",");
        if let Some(reason) = &r.reason {
            let short: String = reason
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            if !tail.is_empty() {
                tail.push_str(": ");
            }
            tail.push_str(&short);
        }
        writeln!(
            out,
            "{:<19}  {:<8}  {:<18}  {:<12}  {:<10}  {:>7}  {}",
            format::utc(r.time_ms),
            session,
            r.event,
            r.tool.as_deref().unwrap_or("-"),
            r.verdict,
            r.latency_us,
            tail
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
