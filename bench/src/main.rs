//! hook-bench: what hookd costs Claude Code.
//!
//! - `spawn`: runs commands the way Claude Code runs a command hook (`/bin/sh -c CMD`, the event
//!   JSON written to a stdin pipe, stdout and stderr read to EOF) and times each run from spawn
//!   to exit and EOF. Several commands are interleaved run by run so machine noise hits all.
//! - `throughput`: client threads send PreToolUse requests straight to hookd's socket, one new
//!   connection per event (what hook-client does) or one persistent connection per client.
//! - `load`, `verify`: a realistic event mix from many clients, and the check that the store
//!   holds every answered event exactly once (RELIABILITY.md).
//! - `machine`, `combine`: small helpers for `bench/run.sh` (machine facts as JSON, one JSON
//!   document out of several).
//!
//! Std + hook-protocol + serde_json, threads only (rusqlite for `verify`).

mod args;
mod load;
mod proc;
mod report;
mod spawn;
mod stats;
mod throughput;
mod unique;

use std::process::ExitCode;

const USAGE: &str = "\
hook-bench: benchmarks for hook-client and hookd

usage:
  hook-bench spawn [--runs N] [--warmup W] --input FILE [--stdin pipe|file] [--shell SH]
                   [--same-payload] [--json | --json-out FILE] (--cmd CMD [--cmd CMD ...] | -- CMD...)
      Runs each `SH -c CMD` N times (default 1000, after W warm-up runs, default 50), stdin =
      FILE's bytes through a pipe (or FILE itself with --stdin file), stdout and stderr read to
      EOF. Commands are interleaved run by run (order rotated); ratios are to the first command.

  hook-bench throughput [--socket PATH] [--clients C] [--events N] [--reuse] [--pipeline K]
                        [--warmup W] --payload FILE [--same-payload] [--server-pid PID] [--json | --json-out FILE]
      C threads (default 1) send N PreToolUse requests in all (default 10000) to hookd; one new
      connection per event, or one per client with --reuse. With --pipeline K, each client
      writes K requests at once, then reads their K replies. Every reply must be a Verdict.
      With --server-pid, also reports hookd's CPU time per event (by thread) and its RSS.

  hook-bench echo --socket PATH [--threads N]
      A stand-in for hookd answering every frame with an empty verdict (N threads, default 128,
      each serving one connection at a time; no parsing, no store): throughput against it is
      the ceiling of the transport and the bench on this machine.

  hook-bench load [--socket PATH] [--clients C] [--events N] [--run ID] [--via-client BIN
                  [--client-arg ARG ...]] [--acked-out FILE] [--failed-out FILE]
                  [--allow-failures] [--json-out FILE]
      C threads (default 64) send N events in all (default 100000) of a realistic mix: each
      client plays sessions of 48 events (SessionStart, prompt, tool calls Pre/Post for Bash,
      Read, Edit, Write, Grep, a notification, Stop, SessionEnd), every event carrying a unique
      hookd_load_id. Straight to the socket, or through the real hook-client (--via-client).
      Lists the ids answered by hookd and those that were not; fails if any was not, unless
      --allow-failures (crash tests).

  hook-bench verify --db PATH --acked FILE [--failed FILE] [--spooled] [--json-out FILE]
      Checks the store: every answered id exactly once; with --spooled, every failed id exactly
      once from the spool (and at most once from the socket: committed, reply lost); no id
      that was not sent. Prints the counts as JSON; fails otherwise.

  hook-bench machine [--rustc RUSTC_VERSION_LINE]
      Prints nproc, CPU model, kernel and memory as JSON.

  hook-bench combine KEY=@FILE.json | KEY=VALUE | KEY[]=... ...
      Prints one JSON object: KEY=@FILE embeds FILE's JSON, KEY=VALUE embeds VALUE as JSON when
      it parses, else as a string; KEY[]=... appends to the array KEY.

  hook-bench report FILE
      Prints the results file written by bench/run.sh as Markdown tables.

  --json prints JSON instead of text; --json-out FILE writes it to FILE and still prints text.
  Every event sent gets its own tool_use_id (its last 16 characters rewritten), because hookd
  answers a byte-identical repeat from its dedup cache; --same-payload sends the file as is.
  A run of 16 X's elsewhere in the payload (say, in the command) is rewritten the same way, so
  that string is new in every event too (bench/payloads/pre_tool_use_bash_unique.json).
";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (sub, rest) = match argv.split_first() {
        Some((s, r)) => (s.as_str(), r),
        None => ("--help", &[][..]),
    };
    let result = match sub {
        "spawn" => spawn::run(rest),
        "throughput" => throughput::run(rest),
        "machine" => proc::machine(rest),
        "combine" => combine(rest),
        "report" => report::run(rest),
        "echo" => throughput::echo(rest),
        "load" => load::run(rest),
        "verify" => load::verify(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown subcommand {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hook-bench: error: {e}\n(see hook-bench --help)");
            ExitCode::FAILURE
        }
    }
}

/// Writes `value` as pretty JSON to `path`.
fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Result<(), String> {
    let text = format!("{value:#}\n");
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn combine(rest: &[String]) -> Result<(), String> {
    let mut out = serde_json::Map::new();
    for item in rest {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not KEY=VALUE or KEY=@FILE"))?;
        let value = match value.strip_prefix('@') {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
                serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
            }
            None => serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_string())),
        };
        match key.strip_suffix("[]") {
            Some(key) => {
                let slot = out
                    .entry(key.to_string())
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                match slot.as_array_mut() {
                    Some(items) => items.push(value),
                    None => return Err(format!("{key} is both a value and an array")),
                }
            }
            None => {
                out.insert(key.to_string(), value);
            }
        }
    }
    let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}
