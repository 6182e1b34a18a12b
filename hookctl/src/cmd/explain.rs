//! `hookctl explain '<cmd>'`: what the shell analyser finds in a command.

use std::process::ExitCode;

use hook_engine::shell::{Context, analyze};

/// Show the simple commands the shell analyser finds in a command
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Bash command, as the model would send it
    command: String,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

fn context(c: Context) -> &'static str {
    match c {
        Context::TopLevel => "top",
        Context::Substitution => "$( )",
        Context::ProcessSubstitution => "<( )",
        Context::ShellBody => "shell body",
        Context::Exec => "exec",
        Context::Code => "code",
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let a = analyze(&args.command);
    if args.json {
        let commands: Vec<_> = a
            .commands
            .iter()
            .map(|c| {
                serde_json::json!({
                    "text": c.text(),
                    "name": c.name,
                    "args": c.args,
                    "wrappers": c.wrappers,
                    "assignments": c.assignments,
                    "redirects": c.redirects.iter().map(|r| serde_json::json!({"op": r.op, "target": r.target})).collect::<Vec<_>>(),
                    "stdin_data": c.stdin_data,
                    "context": context(c.context),
                    "depth": c.depth,
                    "stdin_pipe": c.stdin_pipe,
                    "facts": c.facts.iter().map(|f| serde_json::json!({"fact": f.kind.as_str(), "detail": f.detail})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = serde_json::json!({"commands": commands, "unparsed": a.unparsed});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    if a.commands.is_empty() {
        println!("(no commands)");
    }
    for (i, c) in a.commands.iter().enumerate() {
        println!("{}. {}", i + 1, c.text());
        let mut notes = vec![format!("{} (depth {})", context(c.context), c.depth)];
        if !c.wrappers.is_empty() {
            notes.push(format!("wrappers: {}", c.wrappers.join(" ")));
        }
        if !c.assignments.is_empty() {
            notes.push(format!("assignments: {}", c.assignments.join(" ")));
        }
        for r in &c.redirects {
            if r.op.starts_with("<<") {
                continue;
            }
            notes.push(format!("redirect {} {}", r.op, r.target));
        }
        if let Some(d) = &c.stdin_data {
            let first: String = d.lines().next().unwrap_or("").chars().take(40).collect();
            notes.push(format!(
                "stdin data: {} line(s), {first:?}…",
                d.lines().count()
            ));
        }
        println!("   {}", notes.join("; "));
        for f in &c.facts {
            println!("   fact {}: {}", f.kind.as_str(), f.detail);
        }
    }
    if let Some(why) = &a.unparsed {
        println!(
            "not fully analysed: {why} (the `shell-unparsed` rule asks; your rules treat this per `on_unparsed`, default: match)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
