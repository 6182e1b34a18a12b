//! `hookctl stats` (human or JSON) and `hookctl metrics` (Prometheus text format).

use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{Latency, Request, Response, StatsReport};

use crate::client::Client;

/// Show counters, latencies, rates and health
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

/// Print metrics in the Prometheus text exposition format
#[derive(Debug, clap::Args)]
pub struct MetricsArgs {}

fn fetch(client: &mut Client) -> anyhow::Result<StatsReport> {
    let Response::Stats(r) = client.request(&Request::Stats)? else {
        bail!("unexpected answer to stats");
    };
    Ok(*r)
}

fn lat(l: &Latency) -> String {
    format!(
        "p50 {} µs, p95 {} µs, p99 {} µs, max {} µs ({} samples)",
        l.p50, l.p95, l.p99, l.max, l.count
    )
}

fn top(rows: &[(String, u64)], n: usize) -> String {
    if rows.is_empty() {
        return "-".into();
    }
    let mut parts: Vec<String> = rows
        .iter()
        .take(n)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if rows.len() > n {
        parts.push(format!("… {} more", rows.len() - n));
    }
    parts.join(", ")
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let r = fetch(client)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("health      {}", r.health);
        for why in &r.health_reasons {
            println!("            - {why}");
        }
        println!(
            "events      {} since start, {} stored; {:.1}/s over 1 min, {:.1}/s over 5 min",
            r.events, r.events_total, r.rate_1m.0, r.rate_5m.0
        );
        println!("by event    {}", top(&r.by_event, 8));
        println!("by tool     {}", top(&r.by_tool, 8));
        println!("by verdict  {}", top(&r.by_verdict, 8));
        println!("by rule     {}", top(&r.by_rule, 8));
        println!("processing  {}", lat(&r.processing_us));
        println!("request     {}", lat(&r.request_us));
        println!("store write {}", lat(&r.store_write_us));
        println!(
            "fallbacks   {} recorded; spool backlog {} bytes; {} duplicate deliveries answered once",
            r.fallbacks, r.spool_backlog_bytes, r.deduplicated
        );
        println!(
            "durability  {} spooled copies of recorded events dropped; {} in the emergency journal; {} answered by the fail mode (not recordable)",
            r.duplicates_dropped, r.journal_events, r.not_durable
        );
        println!(
            "bypasses    {} tool calls ran without a PreToolUse (`hookctl events --event bypass`)",
            r.bypasses
        );
        println!("redactions  {}", top(&r.redactions, 10));
    }
    Ok(if r.health == "unhealthy" {
        ExitCode::from(crate::exit::ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn metrics(_args: &MetricsArgs, client: &mut Client) -> anyhow::Result<ExitCode> {
    print!("{}", hook_protocol::prometheus::render(&fetch(client)?));
    Ok(ExitCode::SUCCESS)
}
