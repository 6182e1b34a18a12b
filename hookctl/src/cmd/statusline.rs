//! `hookctl statusline`: one short line for Claude Code's `statusLine` setting, e.g.
//! `hookd ✓ 3 denied · 1 ask`.
//!
//! Claude Code runs the status line command on its refreshes with the session's JSON on stdin
//! (`session_id`, `transcript_path`, `cwd`, `model`, `workspace`, …; CLI 2.1.332) and shows
//! the first line it prints. This command asks hookd once ([`Request::Statusline`]: the
//! session's verdict counts from one indexed query, and hookd's health), never starts it, and
//! gives up after [`TIMEOUT`]: a status line must never hang or fail. It always exits 0.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use hook_protocol::{Request, Response, StatuslineReport};

use crate::client::{Client, NotRunning, Untrusted};

/// How long the status line waits for hookd.
const TIMEOUT: Duration = Duration::from_millis(500);
/// The most of stdin read (Claude Code's JSON is a few KiB).
const MAX_INPUT: u64 = 1 << 20;

/// Print a short line for Claude Code's statusLine setting (reads the session JSON on stdin)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session to count (default: `session_id` from the JSON on stdin)
    #[arg(long)]
    session: Option<String>,
}

pub fn run(args: &Args, socket: &Path) -> anyhow::Result<ExitCode> {
    let session = args.session.clone().or_else(session_from_stdin);
    println!("{}", line(socket, session.as_deref().unwrap_or("")));
    Ok(ExitCode::SUCCESS)
}

/// `session_id` from the JSON Claude Code writes on stdin (nothing read from a terminal).
fn session_from_stdin() -> Option<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return None;
    }
    let mut buf = Vec::new();
    stdin.lock().take(MAX_INPUT).read_to_end(&mut buf).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&buf).ok()?;
    v.get("session_id")?.as_str().map(str::to_string)
}

fn line(socket: &Path, session: &str) -> String {
    let answer = Client::connect(socket).and_then(|mut c| {
        c.set_timeout(TIMEOUT)?;
        c.request_or_mismatch(&Request::Statusline(session.to_string()))
    });
    match answer {
        Ok(Ok(Response::Statusline(r))) => render(&r),
        Ok(Ok(_)) => "hookd ? unexpected answer".into(),
        // Another protocol version: `hookctl restart` (or the next hook) hands over.
        Ok(Err(_)) => "hookd ? other version".into(),
        Err(e) if e.downcast_ref::<NotRunning>().is_some() => "hookd ○ not running".into(),
        Err(e) if e.downcast_ref::<Untrusted>().is_some() => "hookd ✗ socket not yours".into(),
        Err(_) => "hookd ? no answer".into(),
    }
}

/// `hookd ✓ 3 denied · 1 ask`, `hookd ⚠ rules fallback · 2 denied`.
fn render(r: &StatuslineReport) -> String {
    let count = |pred: &dyn Fn(&str) -> bool| -> u64 {
        r.verdicts
            .iter()
            .filter(|(v, _)| pred(v))
            .map(|(_, n)| n)
            .sum()
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = &r.problem {
        parts.push(p.clone());
    }
    for (n, word) in [
        (count(&|v| v == "deny"), "denied"),
        (count(&|v| v == "ask"), "ask"),
        (count(&|v| v == "block"), "blocked"),
        (count(&|v| v.starts_with("fallback:")), "fallback"),
        (count(&|v| v.starts_with("error:")), "error"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let mark = if r.problem.is_some() { "⚠" } else { "✓" };
    if parts.is_empty() {
        format!("hookd {mark}")
    } else {
        format!("hookd {mark} {}", parts.join(" · "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_counts_that_matter() {
        let r = |verdicts: &[(&str, u64)], problem: Option<&str>| {
            render(&StatuslineReport {
                events: verdicts.iter().map(|(_, n)| n).sum(),
                verdicts: verdicts.iter().map(|(v, n)| ((*v).into(), *n)).collect(),
                problem: problem.map(Into::into),
            })
        };
        assert_eq!(r(&[], None), "hookd ✓");
        assert_eq!(r(&[("none", 40), ("allow", 2)], None), "hookd ✓");
        assert_eq!(
            r(&[("none", 9), ("deny", 3), ("ask", 1)], None),
            "hookd ✓ 3 denied · 1 ask"
        );
        assert_eq!(
            r(&[("fallback:ask", 2), ("deny", 1)], Some("rules fallback")),
            "hookd ⚠ rules fallback · 1 denied · 2 fallback"
        );
    }
}
