//! `hookctl sessions` and `hookctl session <id>`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{Request, Response, SessionQuery};
use serde_json::Value;

use crate::client::Client;
use crate::format;

/// List sessions, most recently active first
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Include ended sessions
    #[arg(long)]
    all: bool,
    /// At most this many
    #[arg(long, default_value_t = 20, value_parser = super::filters::limit())]
    limit: u32,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

/// Show one session: summary, files touched, commands run, and a timeline of events
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The session id (or a unique prefix of it)
    #[arg(value_parser = super::filters::not_empty)]
    id: String,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

fn ago(ms: i64) -> String {
    format::duration(u64::try_from(format::now_ms().saturating_sub(ms)).unwrap_or(0))
}

pub fn list(args: &ListArgs, client: &mut Client) -> anyhow::Result<ExitCode> {
    let q = SessionQuery {
        limit: args.limit,
        active_only: !args.all,
    };
    let Response::Sessions(rows) = client.request(&Request::Sessions(q))? else {
        bail!("unexpected answer to sessions");
    };
    if args.json {
        format::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<36}  {:<8}  {:>10}  {:>6}  {:>7}  {:>10}  project",
        "session", "state", "age", "events", "denials", "last"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<36}  {:<8}  {:>10}  {:>6}  {:>7}  {:>10}  {}",
            r.id,
            if r.ended_ms.is_some() {
                "ended"
            } else {
                "active"
            },
            ago(r.started_ms),
            r.events,
            r.denials,
            ago(r.last_ms),
            r.project_dir.as_deref().unwrap_or("-")
        )?;
    }
    if rows.is_empty() {
        writeln!(
            out,
            "(no {}sessions)",
            if args.all { "" } else { "active " }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(args: &ShowArgs, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Response::Session(report) = client.request(&Request::Session(args.id.clone()))? else {
        bail!("unexpected answer to session");
    };
    let state: Value = serde_json::from_str(&report.state_json).unwrap_or(Value::Null);
    if args.json {
        let v =
            serde_json::json!({"session": report.row, "state": state, "timeline": report.timeline});
        format::print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let r = &report.row;
    writeln!(out, "session    {}", r.id)?;
    writeln!(
        out,
        "project    {}",
        r.project_dir.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "started    {} UTC ({} ago){}",
        format::utc(r.started_ms),
        ago(r.started_ms),
        r.ended_ms
            .map(|e| format!(", ended {} UTC", format::utc(e)))
            .unwrap_or_default()
    )?;
    let n = |k: &str| state.get(k).and_then(Value::as_u64).unwrap_or(0);
    writeln!(
        out,
        "activity   {} events, {} prompts, {} denials, {} subagents; stop blocks in a row: {}, loop-guard releases: {}",
        r.events,
        n("prompts"),
        r.denials,
        n("subagents_started"),
        n("stop_blocks"),
        n("loop_guard_releases")
    )?;
    if let Some(tools) = state.get("tool_calls").and_then(Value::as_object) {
        let mut t: Vec<_> = tools
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
            .collect();
        t.sort_by_key(|x| std::cmp::Reverse(x.1));
        let list: Vec<String> = t.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(
            out,
            "tools      {}",
            if list.is_empty() {
                "-".into()
            } else {
                list.join(", ")
            }
        )?;
    }
    for (key, label) in [("files_read", "read"), ("files_edited", "edited")] {
        if let Some(files) = state.get(key).and_then(Value::as_object) {
            let mut f: Vec<_> = files.keys().cloned().collect();
            f.sort();
            writeln!(
                out,
                "{label:<10} {}",
                if f.is_empty() {
                    "-".into()
                } else {
                    f.join("\n           ")
                }
            )?;
        }
    }
    if let Some(cmds) = state.get("commands").and_then(Value::as_array) {
        writeln!(out, "commands   {}", if cmds.is_empty() { "-" } else { "" })?;
        for c in cmds.iter().rev().take(20).rev() {
            let ok = if c["ok"].as_bool() == Some(true) {
                "ok  "
            } else {
                "FAIL"
            };
            writeln!(out, "  {ok} {}", c["command"].as_str().unwrap_or(""))?;
        }
    }
    writeln!(out, "timeline")?;
    for e in &report.timeline {
        let mut tail = e.rules.join(",");
        if let Some(reason) = &e.reason {
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
            "  {}  {:<18} {:<10} {:<10} {}",
            format::utc(e.time_ms),
            e.event,
            e.tool.as_deref().unwrap_or("-"),
            e.verdict,
            tail
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
