//! `hookctl events`, `hookctl tail [-f]` and `hookctl export`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{EventRow, Request, Response, TailRequest};

use super::filters::Filters;
use crate::client::Client;
use crate::format;

/// List the most recent events: the table oldest to newest (the newest last, as in a log),
/// `--json` newest first
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    filters: Filters,
    /// At most this many events (the most recent ones)
    #[arg(long, default_value_t = 20, value_parser = super::filters::limit())]
    limit: u32,
    /// Print a JSON array (with each event's redacted payload) instead of a table
    #[arg(long)]
    json: bool,
}

/// Show recent events, then (-f) follow new ones live
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    #[command(flatten)]
    filters: Filters,
    /// How many recent events to show first (0: none, only new ones with -f)
    #[arg(short = 'n', long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    lines: u32,
    /// Keep following new events until interrupted
    #[arg(short, long)]
    follow: bool,
    /// One JSON object per line instead of text
    #[arg(long)]
    json: bool,
}

/// Stream every matching event, oldest first, as JSON lines or CSV (constant memory)
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    filters: Filters,
    /// Output format
    #[arg(long, value_parser = ["jsonl", "csv"], default_value = "jsonl")]
    format: String,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let q = args.filters.query(args.limit, args.json)?;
    let Response::Events(rows) = client.request(&Request::Events(q))? else {
        bail!("unexpected answer to events");
    };
    if args.json {
        format::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let color = format::color();
    let mut out = std::io::stdout().lock();
    let header = format!(
        "{:<19}  {:<8}  {:<18}  {:<10}  {:<10}  {:>7}  summary / rules: reason",
        "time (UTC)", "session", "event", "tool", "verdict", "µs"
    );
    writeln!(out, "{}", format::paint(&header, "1", color))?;
    for r in rows.iter().rev() {
        writeln!(out, "{}", line(r, color))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn excerpt(s: &str, n: usize) -> String {
    let one: String = s.lines().next().unwrap_or("").to_string();
    if one.chars().count() > n {
        one.chars()
            .take(n - 1)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        one
    }
}

/// One event as a line: time, session (short), event, tool, verdict, latency, summary, rule.
fn line(r: &EventRow, color: bool) -> String {
    let session: String = r
        .session_id
        .as_deref()
        .unwrap_or("-")
        .chars()
        .take(8)
        .collect();
    let mut tail = r
        .summary
        .as_deref()
        .map(|s| excerpt(s, 60))
        .unwrap_or_default();
    if !r.rules.is_empty() {
        tail.push_str(&format!("  [{}]", r.rules.join(",")));
    }
    if let Some(reason) = &r.reason
        && r.verdict != "none"
    {
        tail.push_str(&format!(" {}", excerpt(reason, 60)));
    }
    let code = match r.verdict.as_str() {
        "deny" | "block" => "31",
        "ask" | "defer" | "loop-guard" => "33",
        "allow" => "32",
        v if v.starts_with("fallback") || v.starts_with("error") => "35",
        _ => "2",
    };
    let verdict = format::paint(&format!("{:<10}", r.verdict), code, color);
    format!(
        "{:<19}  {:<8}  {:<18}  {:<10}  {verdict}  {:>7}  {tail}",
        format::utc(r.time_ms),
        session,
        r.event,
        r.tool.as_deref().unwrap_or("-"),
        r.latency_us
    )
}

pub fn tail(args: &TailArgs, client: &mut Client) -> anyhow::Result<ExitCode> {
    let q = args.filters.query(args.lines, false)?;
    client.send(&Request::Tail(TailRequest {
        query: q,
        follow: args.follow,
    }))?;
    let color = !args.json && format::color();
    let mut out = std::io::stdout().lock();
    let print = |r: &EventRow, out: &mut std::io::StdoutLock<'_>| -> std::io::Result<()> {
        if args.json {
            serde_json::to_writer(&mut *out, r).map_err(std::io::Error::other)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", line(r, color))?;
        }
        out.flush()
    };
    match client.recv()? {
        Response::Events(rows) => {
            for r in &rows {
                print(r, &mut out)?;
            }
        }
        Response::Error(e) => bail!("hookd: {e}"),
        other => bail!("unexpected answer to tail: {other:?}"),
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        match client.recv()? {
            Response::Live(r) => print(&r, &mut out)?,
            Response::Error(e) => eprintln!("hookctl: {e}"),
            other => bail!("unexpected frame in tail: {other:?}"),
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn export(args: &ExportArgs, client: &mut Client) -> anyhow::Result<ExitCode> {
    let q = args.filters.query(0, true)?;
    client.send(&Request::Export(q))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let csv = args.format == "csv";
    if csv {
        writeln!(
            out,
            "id,time,session_id,event,tool,project_dir,verdict,reason,rules,latency_us,source,summary,redacted,payload"
        )?;
    }
    loop {
        match client.recv()? {
            Response::Events(rows) => {
                for r in rows {
                    if csv {
                        let fields = [
                            r.id.to_string(),
                            format::utc(r.time_ms),
                            r.session_id.unwrap_or_default(),
                            r.event,
                            r.tool.unwrap_or_default(),
                            r.project_dir.unwrap_or_default(),
                            r.verdict,
                            r.reason.unwrap_or_default(),
                            r.rules.join(" "),
                            r.latency_us.to_string(),
                            r.source,
                            r.summary.unwrap_or_default(),
                            r.redacted.join(" "),
                            r.payload.unwrap_or_default(),
                        ];
                        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                        writeln!(out, "{}", line.join(","))?;
                    } else {
                        serde_json::to_writer(&mut out, &r)?;
                        writeln!(out)?;
                    }
                }
            }
            Response::End => break,
            Response::Error(e) => bail!("hookd: {e}"),
            other => bail!("unexpected frame in export: {other:?}"),
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
