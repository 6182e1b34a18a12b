//! `hookctl runs`: recorded executions of `run` rules, newest first.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use hook_protocol::{Request, Response, RunQuery, RunRow};

use crate::client::Client;
use crate::format;

/// List recent executions of `run` rules (your hook scripts), newest first
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only runs for events of this session id
    #[arg(long, value_parser = super::filters::not_empty)]
    session: Option<String>,
    /// Only runs of this rule
    #[arg(long, value_parser = super::filters::not_empty)]
    rule: Option<String>,
    /// Only failures: exit other than 0 and 2, killed, timed out, could not start, dropped
    #[arg(long)]
    failed: bool,
    /// Only runs since this time: a duration ago (30m, 1h30m, 2d; a bare number is seconds), or RFC 3339
    #[arg(long, value_parser = super::filters::time)]
    since: Option<String>,
    /// At most this many runs
    #[arg(long, default_value_t = 20, value_parser = super::filters::limit())]
    limit: u32,
    /// Print a JSON array (with the redacted stdout and stderr tails) instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let since_ms = args
        .since
        .as_deref()
        .map(|s| format::parse_time(s, format::now_ms()))
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let q = RunQuery {
        session: args.session.clone(),
        rule: args.rule.clone(),
        failed_only: args.failed,
        since_ms,
        limit: args.limit,
    };
    let Response::Runs(rows) = client.request(&Request::Runs(q))? else {
        bail!("unexpected answer to runs");
    };
    if args.json {
        format::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    if rows.is_empty() {
        writeln!(
            out,
            "no runs recorded{}",
            if args.failed { " that failed" } else { "" }
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<19}  {:<8}  {:<16}  {:<20}  {:<10}  {:<9}  {:>7}  {:<8}  command",
        "time (UTC)", "session", "event", "rule", "mode", "outcome", "ms", "effect"
    )?;
    for r in rows.iter().rev() {
        writeln!(out, "{}", line(r))?;
        if let Some(e) = &r.error {
            writeln!(out, "{:>21}error: {}", "", excerpt(e, 200))?;
        }
        if matches!(r.outcome.as_str(), "failed" | "timeout" | "blocked")
            && let Some(t) = &r.stderr_tail
        {
            let last = t.trim().lines().last().unwrap_or("");
            if !last.is_empty() {
                writeln!(out, "{:>21}stderr: {}", "", excerpt(last, 200))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn excerpt(s: &str, n: usize) -> String {
    let one = s.lines().next().unwrap_or("");
    if one.chars().count() > n {
        one.chars()
            .take(n - 1)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        one.to_string()
    }
}

fn line(r: &RunRow) -> String {
    let session: String = r
        .session_id
        .as_deref()
        .unwrap_or("-")
        .chars()
        .take(8)
        .collect();
    let mode = if r.attempt > 1 {
        format!("{} #{}", r.mode, r.attempt)
    } else {
        r.mode.clone()
    };
    let outcome = match (r.outcome.as_str(), r.exit_code, r.signal) {
        ("ok" | "blocked", _, _) => r.outcome.clone(),
        ("failed", Some(c), _) => format!("exit {c}"),
        ("failed", None, Some(s)) => format!("signal {s}"),
        (o, _, _) => o.to_string(),
    };
    format!(
        "{:<19}  {:<8}  {:<16}  {:<20}  {:<10}  {:<9}  {:>7}  {:<8}  {}",
        format::utc(r.time_ms),
        session,
        excerpt(&r.event, 16),
        excerpt(&r.rule, 20),
        mode,
        outcome,
        r.duration_ms,
        r.effect.as_deref().unwrap_or("-"),
        excerpt(&r.command, 60)
    )
}
