//! `hookctl test`: what hookd would answer for an event, without recording it.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, bail};
use hook_protocol::{ClientOptions, HookEnv, HookRequest, Request, Response};
use serde_json::json;

use crate::client::Client;

/// Show what hookd would answer for an event, without recording it
///
/// Reads a hook event (JSON) on stdin, or builds one from a shorthand:
/// `hookctl test bash 'git push -f'`, `hookctl test write src/main.rs`,
/// `hookctl test read .env`, `hookctl test prompt 'deploy it'`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shorthand kind: bash, write, edit, read, prompt (omit to read JSON on stdin)
    kind: Option<String>,
    /// The command, path or prompt text
    value: Option<String>,
    /// The event's cwd (default: the current directory)
    #[arg(long)]
    cwd: Option<String>,
    /// The project directory (default: CLAUDE_PROJECT_DIR, else the cwd)
    #[arg(long)]
    project: Option<String>,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

fn event(args: &Args, cwd: &str) -> anyhow::Result<Vec<u8>> {
    let Some(kind) = args.kind.as_deref() else {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the event from stdin")?;
        return Ok(buf);
    };
    let value = args
        .value
        .clone()
        .with_context(|| format!("`hookctl test {kind}` needs a value"))?;
    let base = |name: &str| json!({"session_id": "hookctl-test", "transcript_path": "", "cwd": cwd, "hook_event_name": name});
    let mut v = match kind {
        "prompt" => {
            let mut v = base("UserPromptSubmit");
            v["prompt"] = json!(value);
            v
        }
        "bash" | "write" | "edit" | "read" => {
            let mut v = base("PreToolUse");
            let (tool, input) = match kind {
                "bash" => ("Bash", json!({"command": value})),
                "write" => ("Write", json!({"file_path": value, "content": ""})),
                "edit" => (
                    "Edit",
                    json!({"file_path": value, "old_string": "", "new_string": ""}),
                ),
                _ => ("Read", json!({"file_path": value})),
            };
            v["tool_name"] = json!(tool);
            v["tool_input"] = input;
            v["tool_use_id"] = json!("toolu_hookctl_test");
            v
        }
        other => bail!("unknown kind {other:?}: expected bash, write, edit, read or prompt"),
    };
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, val| !val.is_null());
    }
    Ok(serde_json::to_vec(&v)?)
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let cwd = args.cwd.clone().unwrap_or_else(|| {
        std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/".into())
    });
    let project = args
        .project
        .clone()
        .or_else(|| std::env::var("CLAUDE_PROJECT_DIR").ok())
        .unwrap_or_else(|| cwd.clone());
    let req = HookRequest {
        event: event(args, &cwd)?,
        env: HookEnv {
            project_dir: Some(project),
            session_id: None,
            cwd: Some(cwd),
        },
        options: ClientOptions {
            event: None,
            fail_mode: std::env::var("HOOKD_FAIL_MODE").ok(),
            deadline_ms: 2000,
        },
        // Nothing is recorded for a test.
        id: None,
        env_file: None,
    };
    let Response::Tested(r) = client.request(&Request::Test(req))? else {
        bail!("unexpected answer to test");
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("event      {}", r.event);
    println!("decision   {}", r.verdict);
    if let Some(reason) = &r.reason {
        println!("reason     {}", reason.replace('\n', "\n           "));
    }
    if r.matched.is_empty() {
        println!("matched    (no rule)");
    }
    for (i, m) in r.matched.iter().enumerate() {
        let label = if i == 0 { "matched" } else { "" };
        println!("{label:<10} {} ({}): {}", m.rule, m.action, m.why);
    }
    if let Some(p) = &r.project_rules {
        println!("project    rules from {p}/.claude/hookd.toml applied");
    }
    if r.matched.iter().any(|m| m.action == "run") {
        println!(
            "note       `run` rules are not executed here; the output below leaves out what their scripts would add"
        );
    }
    println!("hook-client would exit {} and print:", r.reply.exit_code);
    if r.reply.stdout.is_empty() && r.reply.stderr.is_empty() {
        println!("  (nothing)");
    }
    if !r.reply.stdout.is_empty() {
        print!("  stdout: {}", String::from_utf8_lossy(&r.reply.stdout));
    }
    if !r.reply.stderr.is_empty() {
        print!("  stderr: {}", String::from_utf8_lossy(&r.reply.stderr));
    }
    Ok(ExitCode::SUCCESS)
}
