//! `hook-bench spawn`: the cost of one hook command as Claude Code pays it.
//!
//! Claude Code runs a command hook as `/bin/sh -c "<command>"`, writes the event JSON to the
//! child's stdin and closes it, reads stdout and stderr until EOF and waits for the exit. One
//! run is timed from just before the spawn to exit plus EOF on both streams. stdout and stderr
//! share one pipe in timed runs, so a single reader cannot deadlock; EOF still means every
//! writer is gone, exactly as with two pipes. An untimed check run per command (separate pipes)
//! shows each command's exit code and output first.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

use crate::args::Args;
use crate::stats::{Summary, nanos, round3, us};
use crate::unique::Unique;

/// How the event reaches the command's stdin.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StdinMode {
    /// Written to a pipe after the spawn, then closed (what Claude Code does).
    Pipe,
    /// The input file itself, opened before the timer starts.
    File,
}

struct Options {
    runs: usize,
    warmup: usize,
    input: PathBuf,
    stdin: StdinMode,
    shell: String,
    cmds: Vec<String>,
    same_payload: bool,
    json: bool,
    json_out: Option<PathBuf>,
}

fn parse(argv: &[String]) -> Result<Options, String> {
    let mut args = Args::new(argv);
    let mut runs = 1000;
    let mut warmup = 50;
    let mut input = None;
    let mut stdin = StdinMode::Pipe;
    let mut shell = "/bin/sh".to_string();
    let mut cmds = Vec::new();
    let mut same_payload = false;
    let mut json = false;
    let mut json_out = None;
    while let Some(mut flag) = args.next_flag()? {
        match flag.name.as_str() {
            "--runs" => runs = args.parse(&mut flag)?,
            "--warmup" => warmup = args.parse(&mut flag)?,
            "--input" => input = Some(PathBuf::from(args.value(&mut flag)?)),
            "--stdin" => {
                stdin = match args.value(&mut flag)?.as_str() {
                    "pipe" => StdinMode::Pipe,
                    "file" => StdinMode::File,
                    other => return Err(format!("--stdin {other:?}: expected pipe or file")),
                };
            }
            "--shell" => shell = args.value(&mut flag)?,
            "--cmd" => cmds.push(args.value(&mut flag)?),
            "--same-payload" => same_payload = true,
            "--json" => json = true,
            "--json-out" => json_out = Some(PathBuf::from(args.value(&mut flag)?)),
            other => return Err(format!("spawn: unknown flag {other}")),
        }
    }
    if !args.rest.is_empty() {
        cmds.push(args.rest.join(" "));
    }
    if cmds.is_empty() {
        return Err("spawn: give at least one command (--cmd CMD or -- CMD...)".into());
    }
    if runs == 0 {
        return Err("spawn: --runs must be at least 1".into());
    }
    let input = input.ok_or("spawn: --input FILE is required")?;
    if stdin == StdinMode::File && !same_payload {
        return Err("spawn: --stdin file sends the file as is: add --same-payload".into());
    }
    Ok(Options {
        runs,
        warmup,
        input,
        stdin,
        shell,
        cmds,
        same_payload,
        json,
        json_out,
    })
}

/// What the untimed check run of one command produced.
struct Check {
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
}

pub fn run(argv: &[String]) -> Result<(), String> {
    let opts = parse(argv)?;
    let mut payload =
        std::fs::read(&opts.input).map_err(|e| format!("reading {}: {e}", opts.input.display()))?;
    let unique = if opts.same_payload {
        None
    } else {
        Some(Unique::find(&payload).map_err(|e| format!("spawn: {e} (or use --same-payload)"))?)
    };
    let mut sent: u64 = 0;
    let mut stamp = |payload: &mut Vec<u8>| {
        if let Some(u) = &unique {
            u.stamp(payload, sent);
        }
        sent += 1;
    };
    let mut checks = Vec::new();
    for cmd in &opts.cmds {
        stamp(&mut payload);
        checks.push(check(&opts, cmd, &payload)?);
    }
    let k = opts.cmds.len();
    let mut samples: Vec<Vec<u64>> = vec![Vec::with_capacity(opts.runs); k];
    let mut failures = vec![0u64; k];
    let mut sink = Vec::with_capacity(64 * 1024);
    let started = Instant::now();
    for i in 0..opts.warmup + opts.runs {
        // Rotate the order every round so no command always runs first (or after another).
        for j in 0..k {
            let idx = (i + j) % k;
            stamp(&mut payload);
            let (ns, ok) = time_one(&opts, &opts.cmds[idx], &payload, &mut sink)
                .map_err(|e| format!("running {:?}: {e}", opts.cmds[idx]))?;
            if i >= opts.warmup {
                samples[idx].push(ns);
                if !ok {
                    failures[idx] += 1;
                }
            }
        }
    }
    let wall = started.elapsed();
    let summaries: Vec<Summary> = samples.iter_mut().filter_map(|s| Summary::of(s)).collect();
    #[allow(clippy::cast_precision_loss)] // nanosecond medians far below 2^52
    let ratio = |s: &Summary| round3(s.p50 as f64 / summaries[0].p50.max(1) as f64);
    {
        let commands: Vec<Value> = opts
            .cmds
            .iter()
            .zip(&summaries)
            .zip(&checks)
            .zip(&failures)
            .map(|(((cmd, s), c), f)| {
                json!({
                    "cmd": cmd,
                    "check": {"exit_code": c.exit_code, "stdout": c.stdout, "stderr": c.stderr},
                    "nonzero_exits": f,
                    "us": s.to_json_us(),
                    "median_ratio_to_first": ratio(s),
                })
            })
            .collect();
        let out = json!({
            "mode": "spawn",
            "shell": opts.shell,
            "stdin": if opts.stdin == StdinMode::Pipe { "pipe" } else { "file" },
            "input": opts.input.display().to_string(),
            "input_bytes": payload.len(),
            "unique_events": unique.is_some(),
            "runs": opts.runs,
            "warmup": opts.warmup,
            "wall_s": round3(wall.as_secs_f64()),
            "commands": commands,
        });
        if let Some(path) = &opts.json_out {
            crate::write_json(path, &out)?;
        }
        if opts.json {
            println!("{out:#}");
            return Ok(());
        }
    }
    println!(
        "spawn: {} runs (+{} warm-up) per command, interleaved; {} -c CMD; stdin: {} bytes via {}",
        opts.runs,
        opts.warmup,
        opts.shell,
        payload.len(),
        if opts.stdin == StdinMode::Pipe {
            "pipe"
        } else {
            "file"
        },
    );
    for (i, (cmd, c)) in opts.cmds.iter().zip(&checks).enumerate() {
        println!(
            "  [{}] {cmd}\n      check run: exit {:?}, stdout {:?}, stderr {:?}",
            i + 1,
            c.exit_code,
            c.stdout,
            c.stderr
        );
    }
    println!(
        "  {:<4}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}  (µs; ratio of medians to [1])",
        "cmd", "median", "p90", "p99", "mean", "min", "ratio"
    );
    for (i, s) in summaries.iter().enumerate() {
        println!(
            "  [{}] {:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>9.3}×{}",
            i + 1,
            us(s.p50),
            us(s.p90),
            us(s.p99),
            s.mean / 1000.0,
            us(s.min),
            ratio(s),
            if failures[i] > 0 {
                format!("  ({} runs exited non-zero)", failures[i])
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn command(opts: &Options, cmd: &str) -> Result<Command, String> {
    let mut c = Command::new(&opts.shell);
    c.arg("-c").arg(cmd);
    match opts.stdin {
        StdinMode::Pipe => c.stdin(Stdio::piped()),
        StdinMode::File => {
            c.stdin(File::open(&opts.input).map_err(|e| format!("{}: {e}", opts.input.display()))?)
        }
    };
    Ok(c)
}

fn check(opts: &Options, cmd: &str, payload: &[u8]) -> Result<Check, String> {
    let mut c = command(opts, cmd)?;
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning {} -c {cmd:?}: {e}", opts.shell))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(payload);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {cmd:?}: {e}"))?;
    let text = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let s = s.trim_end();
        if s.chars().count() > 300 {
            format!("{}…", s.chars().take(300).collect::<String>())
        } else {
            s.to_string()
        }
    };
    Ok(Check {
        exit_code: out.status.code(),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    })
}

/// One timed run: nanoseconds from spawn to exit and EOF, and whether it exited 0.
fn time_one(
    opts: &Options,
    cmd: &str,
    payload: &[u8],
    sink: &mut Vec<u8>,
) -> Result<(u64, bool), String> {
    let (mut reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let writer2 = writer.try_clone().map_err(|e| e.to_string())?;
    let mut c = command(opts, cmd)?;
    c.stdout(writer).stderr(writer2);
    let start = Instant::now();
    let mut child = c.spawn().map_err(|e| e.to_string())?;
    // The Command holds the pipe's write ends: close them, or EOF never comes.
    drop(c);
    if let Some(mut stdin) = child.stdin.take() {
        // A command that exits without reading its stdin makes this fail (EPIPE): fine.
        let _ = stdin.write_all(payload);
    }
    sink.clear();
    reader.read_to_end(sink).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok((nanos(start.elapsed()), status.success()))
}
