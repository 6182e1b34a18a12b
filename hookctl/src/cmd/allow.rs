//! `hookctl allow CODE`: approve a command hookd denied or asked about, by the code its reason
//! ended with; `--list` and `--revoke ID` manage approvals.

use std::process::ExitCode;

use anyhow::{Context, bail};
use hook_protocol::{AllowRequest, AllowanceRow, Request, Response};

use crate::client::Client;
use crate::format;

/// Approve a command hookd refused, by the code at the end of its reason
///
/// By default the approval is for exactly one use of exactly that command in that project;
/// `--session` approves it for the rest of the session it was refused in, `--for 10m` for a
/// window. hookd then gives no verdict of its own for it (Claude Code's own permission checks
/// still apply). Codes last an hour after the command was last refused. Run this yourself, in
/// a terminal outside Claude Code: hookd refuses approvals asked from inside a session.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The code from hookd's reason, e.g. `k7f3q`
    #[arg(required_unless_present_any = ["list", "revoke"])]
    code: Option<String>,
    /// Approve for the rest of the session the command was refused in
    #[arg(long, conflicts_with = "for_")]
    session: bool,
    /// Approve for a window (`10m`, `2h`; at most 7 days)
    #[arg(long = "for", value_name = "DURATION")]
    for_: Option<String>,
    /// List live approvals (with --all: used, expired and revoked ones too)
    #[arg(long, conflicts_with_all = ["code", "revoke"])]
    list: bool,
    /// With --list: every approval recorded
    #[arg(long, requires = "list")]
    all: bool,
    /// Revoke an approval by its id (or code)
    #[arg(long, value_name = "ID", conflicts_with = "code")]
    revoke: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let req = if args.list {
        AllowRequest::List { all: args.all }
    } else if let Some(id) = &args.revoke {
        AllowRequest::Revoke(id.clone())
    } else {
        let for_ms = args
            .for_
            .as_deref()
            .map(|t| {
                hook_protocol::duration::parse(t)
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                    .with_context(|| format!("bad --for {t:?}"))
            })
            .transpose()?;
        AllowRequest::Grant {
            code: args.code.clone().unwrap_or_default(),
            session: args.session,
            for_ms,
        }
    };
    let Response::Allowances(rows) = client.request(&Request::Allow(req))? else {
        bail!("unexpected answer to allow");
    };
    if args.json {
        format::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = hook_engine::clock::now_ms();
    if args.list {
        if rows.is_empty() {
            println!("no approvals{}", if args.all { "" } else { " live" });
        }
        for r in &rows {
            println!("{}", line(r, now));
        }
    } else if args.revoke.is_some() {
        for r in &rows {
            println!("revoked {}", line(r, now));
        }
    } else {
        for r in &rows {
            let scope = match (r.scope.as_str(), r.expires_ms) {
                ("once", _) => "once (the next use)".to_string(),
                ("session", _) => format!(
                    "for the rest of session {}",
                    r.session_id.as_deref().unwrap_or("?")
                ),
                (_, Some(e)) => format!(
                    "for {}",
                    format::duration(u64::try_from(e - now).unwrap_or(0))
                ),
                (s, None) => s.to_string(),
            };
            println!(
                "allowed {scope}: {} `{}` in {} (rules: {}; id {}, by {})",
                r.tool,
                r.summary,
                r.project,
                r.rules.join(", "),
                r.id,
                r.user
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn line(r: &AllowanceRow, now: i64) -> String {
    let ago = |t: i64| format::duration(u64::try_from(now - t).unwrap_or(0));
    format!(
        "{:>4} {:<7} {:<7} {} {} `{}` in {} (by {} {} ago; used {}×{})",
        r.id,
        r.status,
        r.scope,
        r.code,
        r.tool,
        r.summary,
        r.project,
        r.user,
        ago(r.created_ms),
        r.uses,
        r.session_id
            .as_deref()
            .filter(|_| r.scope == "session")
            .map(|s| format!("; session {s}"))
            .unwrap_or_default()
    )
}
