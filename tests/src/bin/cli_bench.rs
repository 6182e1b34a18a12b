//! `cli-bench`: what hooks cost a user of the real Claude Code CLI.
//!
//! Runs the pinned CLI (`tests/claude/install.sh`) through a scripted session of `--calls`
//! tool calls (default 50: Bash, Read, Write and Edit, all harmless, none denied) against the
//! fake Messages API of `hook_tests::fake_model`, once per configuration:
//!
//! * `none`: no hooks;
//! * `true`: `/bin/true` wired on the same events as `hookctl install` wires (the floor of any
//!   command hook: a fork, an exec, the pipes);
//! * `hookd-musl`, `hookd-glibc`: `hookctl install --client <hook-client>` (every event but
//!   WorktreeCreate/WorktreeRemove), with the musl-target build and the default build of
//!   hook-client (`x86_64-unknown-linux-gnu`; the name is older than the release build's
//!   independence from the C library: on x86_64 and aarch64 Linux neither links one);
//! * `hookd-http`: `hookctl install --http` (http hooks straight to hookd's listener;
//!   SessionStart and Setup keep hook-client, the musl build when there is one);
//! * `python`: a typical Python hook script on the same events: it reads the event JSON from
//!   stdin, checks a Bash command against a few regexes and prints a JSON verdict.
//!
//! One private release hookd (a temporary `HOOKD_HOME`, the store in `data/`, the default
//! packs, `[http] listen = "127.0.0.1:0"`) serves every run. Every run gets a fresh fake model
//! and a fresh `HOME` holding only the configuration's `~/.claude/settings.json`; the project
//! directory is shared. After one warm-up run per configuration, `--rounds` rounds run every
//! configuration once, in an order rotated each round, so machine noise hits them alike.
//! Before each round the tool waits (at most `--max-wait` seconds) for the 1-minute load
//! average to drop to `--max-load`.
//!
//! Per run it measures **the wall time per tool call**: from the model's receipt of the
//! agent-loop request for step 0 to that for step `--calls` (the final answer), divided by the
//! number of calls. Each interval holds one model answer, the CLI's PreToolUse, PostToolUse and
//! PostToolBatch hooks, the tool itself and the next request: the start-up and exit of the CLI
//! (SessionStart, SessionEnd) are left out. The whole session's wall time is reported too.
//! Every run is checked: the CLI succeeded, the model got `--calls` tool results and none is
//! an error; for the hookd configurations hookd recorded every PreToolUse of the session.
//!
//! The report gives, per configuration, the median and p10-p90 (and min-max) of the time per
//! tool call, the ratio of its median to `true`'s, and the paired figures: within each round,
//! the configuration's time per call divided by (and minus) that of `true` in the same round.
//!
//! ```sh
//! bash bench/cli-session.sh             # builds everything in release and runs this tool
//! target/release/cli-bench --rounds 8   # after building (see bench/cli-session.sh)
//! ```
//!
//! Everything stays on 127.0.0.1 and in temporary directories; every run is bounded by
//! `--timeout`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use hook_tests::bench_daemon::BenchDaemon;
use hook_tests::claude::{claude_binary, run_claude};
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::pause;
use serde_json::{Map, Value, json};

const USAGE: &str = "usage: cli-bench [--rounds N (6)] [--calls N (50)] [--warmup N (1)] \
                     [--configs none,true,hookd-musl,hookd-glibc,hookd-http,python] \
                     [--bin-dir DIR (beside this binary)] [--musl-client PATH] \
                     [--python PATH (python3's sys.executable)] [--max-load L (2.0)] \
                     [--max-wait S (600)] [--timeout S (300)] [--json-out FILE]";

/// Variable the http hooks' `Authorization` header expands (what `hookctl install --http`
/// writes).
const TOKEN_ENV: &str = "HOOKD_HTTP_BEARER";

const ALL_CONFIGS: &[&str] = &[
    "none",
    "true",
    "hookd-musl",
    "hookd-glibc",
    "hookd-http",
    "python",
];

struct Args {
    rounds: usize,
    calls: usize,
    warmup: usize,
    configs: Vec<String>,
    bin_dir: PathBuf,
    musl_client: Option<PathBuf>,
    python: Option<PathBuf>,
    max_load: f64,
    max_wait: Duration,
    timeout: Duration,
    json_out: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("no directory")?.to_path_buf();
    let mut a = Args {
        rounds: 6,
        calls: 50,
        warmup: 1,
        configs: ALL_CONFIGS.iter().map(|s| (*s).to_owned()).collect(),
        bin_dir,
        musl_client: None,
        python: None,
        max_load: 2.0,
        max_wait: Duration::from_secs(600),
        timeout: Duration::from_secs(300),
        json_out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = || {
            value
                .parse::<usize>()
                .with_context(|| format!("{flag} {value}: not a number"))
        };
        match flag.as_str() {
            "--rounds" => a.rounds = num()?,
            "--calls" => a.calls = num()?,
            "--warmup" => a.warmup = num()?,
            "--configs" => {
                a.configs = value.split(',').map(|s| s.trim().to_owned()).collect();
                for c in &a.configs {
                    ensure!(
                        ALL_CONFIGS.contains(&c.as_str()),
                        "unknown config {c}\n{USAGE}"
                    );
                }
            }
            "--bin-dir" => a.bin_dir = PathBuf::from(value),
            "--musl-client" => a.musl_client = Some(PathBuf::from(value)),
            "--python" => a.python = Some(PathBuf::from(value)),
            "--max-load" => a.max_load = value.parse().context("--max-load")?,
            "--max-wait" => a.max_wait = Duration::from_secs(num()? as u64),
            "--timeout" => a.timeout = Duration::from_secs(num()? as u64),
            "--json-out" => a.json_out = Some(PathBuf::from(value)),
            _ => bail!("unknown flag {flag}\n{USAGE}"),
        }
    }
    ensure!(
        a.rounds > 0 && a.calls > 0,
        "--rounds and --calls must be at least 1"
    );
    Ok(a)
}

/// The static musl hook-client of the same target directory, if it was built.
fn default_musl_client(bin_dir: &Path) -> Option<PathBuf> {
    let profile = bin_dir.file_name()?;
    let p = bin_dir
        .parent()?
        .join("x86_64-unknown-linux-musl")
        .join(profile)
        .join("hook-client");
    p.is_file().then_some(p)
}

/// The interpreter behind `python3` on PATH (`sys.executable`), so that a version manager's
/// shim (pyenv's is a shell script) is not measured as part of the hook.
fn default_python() -> anyhow::Result<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .stderr(Stdio::inherit())
        .output()
        .context("running python3")?;
    ensure!(out.status.success(), "python3 failed: {}", out.status);
    let path = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    ensure!(
        path.is_file(),
        "python3's sys.executable {} is not a file",
        path.display()
    );
    Ok(path)
}

/// The hook script of the `python` configuration: what a user writes for a Bash guard.
const PYTHON_HOOK: &str = r#"import json
import re
import sys

# Commands this hook refuses, with the reason shown to the model.
RULES = [
    (re.compile(r"\brm\s+-[a-zA-Z]*[rR][a-zA-Z]*\s+(/|~|\$HOME)(\s|$)"), "recursive delete of / or home"),
    (re.compile(r"\bgit\s+push\b.*\s(--force|-f)(\s|$)"), "force push"),
    (re.compile(r"\bgit\s+reset\s+--hard\b"), "hard reset discards work"),
    (re.compile(r"\b(curl|wget)\b[^|]*\|\s*(sudo\s+)?(ba)?sh\b"), "piping a download into a shell"),
    (re.compile(r"\bchmod\s+(-R\s+)?777\b"), "world-writable permissions"),
    (re.compile(r"(^|\s)(cat|less|head|tail)\s+\S*\.env(\s|$)"), "reading a .env file"),
]


def main():
    try:
        event = json.load(sys.stdin)
    except ValueError as e:
        print("hook: bad input: %s" % e, file=sys.stderr)
        return 0
    verdict = {}
    if event.get("hook_event_name") == "PreToolUse" and event.get("tool_name") == "Bash":
        command = (event.get("tool_input") or {}).get("command", "")
        for pattern, reason in RULES:
            if pattern.search(command):
                verdict = {
                    "hookSpecificOutput": {
                        "hookEventName": "PreToolUse",
                        "permissionDecision": "deny",
                        "permissionDecisionReason": "blocked: " + reason,
                    }
                }
                break
    print(json.dumps(verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
"#;

/// Files the scripted tool calls read, list and search.
fn write_project(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    let mut lib = String::from("//! A small library.\n\n");
    for i in 0..40 {
        writeln!(
            lib,
            "/// Adds {i}.\npub fn add_{i}(x: u64) -> u64 {{\n    x + {i}\n}}\n"
        )?;
    }
    std::fs::write(dir.join("src/lib.rs"), lib)?;
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", demo::add_1(41));\n}\n",
    )?;
    let mut readme = String::from("# demo\n\nA project for the CLI benchmark.\n\n");
    for i in 0..30 {
        writeln!(readme, "- item {i}: nothing to see here")?;
    }
    std::fs::write(dir.join("README.md"), readme)?;
    let notes: String = (0..100).map(|i| format!("note {i}\n")).collect();
    std::fs::write(dir.join("notes.txt"), notes)?;
    Ok(())
}

/// `calls` harmless tool calls (a cycle of ten: six Bash, two Read, a Write of a new file, an
/// Edit of it), then a final answer. (2.1.328 offers no Grep or Glob tool under `-p`.)
fn script(project: &Path, calls: usize) -> Vec<Step> {
    let p = project.display();
    let mut steps: Vec<Step> = (0..calls)
        .map(|i| {
            let scratch = format!("{p}/scratch-{}.txt", i / 10);
            match i % 10 {
                0 => Step::bash("ls -la"),
                1 => Step::tool("Read", json!({"file_path": format!("{p}/src/lib.rs")})),
                2 => Step::bash("cat README.md"),
                3 => Step::bash("grep -n 'pub fn' src/lib.rs"),
                4 => Step::tool(
                    "Write",
                    json!({"file_path": scratch, "content": format!("draft {i}\n")}),
                ),
                5 => Step::bash("wc -l src/lib.rs src/main.rs notes.txt"),
                6 => Step::tool("Read", json!({"file_path": scratch})),
                7 => Step::tool(
                    "Edit",
                    json!({"file_path": scratch, "old_string": "draft", "new_string": "final"}),
                ),
                8 => Step::bash(format!("echo step {i}")),
                _ => Step::bash("head -n 5 notes.txt"),
            }
        })
        .collect();
    steps.push(Step::text("all done"));
    steps
}

/// Runs `hookctl install` into `home`'s user settings and returns the file's JSON.
fn hookctl_install(
    hookctl: &Path,
    daemon: &BenchDaemon,
    home: &Path,
    extra: &[String],
) -> anyhow::Result<Value> {
    std::fs::create_dir_all(home)?;
    let out = Command::new(hookctl)
        .arg("install")
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HOOKD_HOME", daemon.home())
        .output()
        .context("running hookctl install")?;
    ensure!(
        out.status.success(),
        "hookctl install {extra:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = home.join(".claude/settings.json");
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_slice(&text)?)
}

/// `settings` with every handler replaced by a `command` handler running `command` (same
/// events, same timeouts).
fn with_command(settings: &Value, command: &str) -> Value {
    let mut hooks = Map::new();
    if let Some(events) = settings["hooks"].as_object() {
        for (event, groups) in events {
            let timeout = groups[0]["hooks"][0]["timeout"].clone();
            let mut handler = json!({"type": "command", "command": command});
            if !timeout.is_null() {
                handler["timeout"] = timeout;
            }
            hooks.insert(event.clone(), json!([{ "hooks": [handler] }]));
        }
    }
    json!({ "hooks": hooks })
}

struct Config {
    name: String,
    /// What `~/.claude/settings.json` holds (`None`: no file).
    settings: Option<Value>,
    /// Whether hookd must have recorded the session's events.
    hookd: bool,
    /// One line for the report.
    what: String,
}

struct Sample {
    config: usize,
    round: usize,
    per_call: Duration,
    session: Duration,
    load: f64,
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Waits until the 1-minute load average is at most `max`, for at most `limit`; returns the
/// load seen last.
fn wait_for_load(max: f64, limit: Duration) -> f64 {
    let start = Instant::now();
    let mut said = false;
    loop {
        let load = loadavg();
        if load <= max || load.is_nan() {
            return load;
        }
        if start.elapsed() >= limit {
            eprintln!("  load average still {load:.2} after {limit:?}: going on (noisy)");
            return load;
        }
        if !said {
            eprintln!("  waiting for the load average ({load:.2}) to drop to {max}");
            said = true;
        }
        pause(Duration::from_secs(5));
    }
}

struct Bench<'a> {
    a: &'a Args,
    daemon: &'a BenchDaemon,
    hookctl: PathBuf,
    work: PathBuf,
    runs: usize,
    /// Events hookd recorded for the last session of a hookd configuration.
    recorded: usize,
}

impl Bench<'_> {
    /// One session; returns (time per tool call, whole session).
    fn run(&mut self, config: &Config) -> anyhow::Result<(Duration, Duration)> {
        self.runs += 1;
        let home = self.work.join(format!("home-{}", self.runs));
        if let Some(settings) = &config.settings {
            std::fs::create_dir_all(home.join(".claude"))?;
            std::fs::write(
                home.join(".claude/settings.json"),
                serde_json::to_vec_pretty(settings)?,
            )?;
        } else {
            std::fs::create_dir_all(&home)?;
        }
        let project = self.work.join(format!("project-{}", self.runs));
        write_project(&project)?;
        let model = FakeModel::start(script(&project, self.a.calls))?;
        let hookd_home = self.daemon.home().to_string_lossy().into_owned();
        let run = run_claude(
            &project,
            &home,
            "Look around the project.",
            &model.base_url(),
            &[
                ("HOOKD_HOME", hookd_home.as_str()),
                ("HOOKD_NO_AUTOSTART", "1"),
                (TOKEN_ENV, self.daemon.token.as_str()),
            ],
            self.a.timeout,
        )?;
        run.ensure_success()
            .with_context(|| format!("config {}", config.name))?;
        let calls = self.a.calls;
        let recorded = model.recorded();
        let first = |step: usize| {
            recorded
                .iter()
                .find(|r| r.step == Some(step))
                .map(|r| r.at)
                .with_context(|| format!("config {}: no request for step {step}", config.name))
        };
        let per_call = first(calls)?.duration_since(first(0)?) / u32::try_from(calls)?;
        // The final request carries the whole conversation: one result per tool call.
        let last = model.request_for_step(calls).context("no final request")?;
        let results = hook_tests::claude::tool_results(&last);
        ensure!(
            results.len() == calls,
            "config {}: {} tool results instead of {calls}:\n{run}",
            config.name,
            results.len()
        );
        if let Some(bad) = results.iter().find(|r| r["is_error"] == json!(true)) {
            let tools: Vec<&str> = last["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str())
                .collect();
            bail!(
                "config {}: a tool call failed: {bad}\n(tools offered: {tools:?})\n{run}",
                config.name
            );
        }
        if config.hookd {
            let session = run.session_id().context("no session id")?;
            self.recorded = self.check_recorded(session, &config.name)?;
        }
        let _ = std::fs::remove_dir_all(&home);
        let _ = std::fs::remove_dir_all(&project);
        Ok((per_call, run.elapsed))
    }

    /// hookd recorded one PreToolUse per tool call of `session` (the hooks really went to
    /// hookd, and no fallback answered).
    /// Returns how many events hookd recorded for the session by the time the CLI exited.
    fn check_recorded(&self, session: &str, config: &str) -> anyhow::Result<usize> {
        let out = Command::new(&self.hookctl)
            .args([
                "events",
                "--json",
                "--limit",
                "100000",
                "--session",
                session,
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOOKD_HOME", self.daemon.home())
            .output()
            .context("running hookctl events")?;
        ensure!(
            out.status.success(),
            "hookctl events: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout)?;
        let pre = rows.iter().filter(|r| r["event"] == "PreToolUse").count();
        ensure!(
            pre == self.a.calls,
            "config {config}: hookd recorded {pre} PreToolUse events for session {session}, \
             not {}",
            self.a.calls
        );
        Ok(rows.len())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = (p / 100.0 * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        f64::midpoint(s[n / 2 - 1], s[n / 2])
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{cpu}, {cores} cores available")
}

/// The binaries under test.
struct Binaries {
    hookd: PathBuf,
    hookctl: PathBuf,
    /// The default build of hook-client (dynamically linked glibc).
    client: PathBuf,
    /// The static musl build, if there is one.
    musl: Option<PathBuf>,
    /// The interpreter of the Python hook.
    python: PathBuf,
}

impl Binaries {
    fn find(a: &Args) -> anyhow::Result<Self> {
        let b = Binaries {
            hookd: a.bin_dir.join("hookd"),
            hookctl: a.bin_dir.join("hookctl"),
            client: a.bin_dir.join("hook-client"),
            musl: a
                .musl_client
                .clone()
                .or_else(|| default_musl_client(&a.bin_dir)),
            python: match &a.python {
                Some(p) => p.clone(),
                None if a.configs.iter().any(|c| c == "python") => default_python()?,
                None => PathBuf::new(),
            },
        };
        for p in [&b.hookd, &b.hookctl, &b.client].into_iter().chain(&b.musl) {
            ensure!(p.is_file(), "{} is not built", p.display());
        }
        Ok(b)
    }
}

/// The configurations named in `--configs`, their settings written by `hookctl install`.
fn configs(
    a: &Args,
    b: &Binaries,
    daemon: &BenchDaemon,
    work: &Path,
) -> anyhow::Result<Vec<Config>> {
    let hook_py = work.join("hook.py");
    hook_tests::claude::write_script(
        &hook_py,
        &format!("#!{}\n{PYTHON_HOOK}", b.python.display()),
    )?;
    let client_arg = |c: &Path| vec!["--client".to_owned(), c.display().to_string()];
    let install = |name: &str, args: &[String]| {
        hookctl_install(&b.hookctl, daemon, &work.join("install").join(name), args)
    };
    // The events and timeouts of a plain `hookctl install`, for `true` and `python`.
    let plain = install("plain", &client_arg(&b.client))?;
    let http_client = b.musl.as_ref().unwrap_or(&b.client);
    let mut out = Vec::new();
    for name in &a.configs {
        let (settings, hookd, what) = match name.as_str() {
            "none" => (None, false, "no hooks".to_owned()),
            "true" => (
                Some(with_command(&plain, "/bin/true")),
                false,
                "/bin/true on the events hookctl install wires".to_owned(),
            ),
            "python" => (
                Some(with_command(&plain, &hook_py.display().to_string())),
                false,
                format!(
                    "a Python script ({}) on the same events",
                    b.python.display()
                ),
            ),
            "hookd-musl" => {
                let Some(m) = &b.musl else {
                    eprintln!(
                        "NOTE: no static musl hook-client (build it with `cargo build --release \
                         -p hook-client --target x86_64-unknown-linux-musl`): hookd-musl skipped"
                    );
                    continue;
                };
                (
                    Some(install(name, &client_arg(m))?),
                    true,
                    format!("hookctl install --client {}", m.display()),
                )
            }
            "hookd-glibc" => (
                Some(install(name, &client_arg(&b.client))?),
                true,
                format!("hookctl install --client {}", b.client.display()),
            ),
            "hookd-http" => {
                let mut args = client_arg(http_client);
                args.extend([
                    "--http".to_owned(),
                    "--http-url".to_owned(),
                    format!("http://{}/hook", daemon.addr),
                ]);
                (
                    Some(install(name, &args)?),
                    true,
                    format!(
                        "hookctl install --http (SessionStart, Setup: {})",
                        http_client.display()
                    ),
                )
            }
            other => bail!("unknown config {other}"),
        };
        out.push(Config {
            name: name.clone(),
            settings,
            hookd,
            what,
        });
    }
    if a.configs.iter().any(|c| c == "python") {
        // The script must really guard: a denied command, checked once before measuring.
        let deny = json!({"hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": "git push --force origin main"}});
        let out = hook_tests::harness::run_with_stdin(
            Command::new(&hook_py),
            deny.to_string().as_bytes(),
        )?;
        ensure!(
            String::from_utf8_lossy(&out.stdout).contains("\"deny\""),
            "the Python hook does not deny a force push: {out:?}"
        );
    }
    ensure!(!out.is_empty(), "no configuration to run");
    Ok(out)
}

/// The warm-up runs, then `--rounds` rounds of every configuration in a rotated order.
fn measure(bench: &mut Bench<'_>, configs: &[Config]) -> anyhow::Result<Vec<Sample>> {
    let a = bench.a;
    for w in 0..a.warmup {
        for c in configs {
            let (per_call, session) = bench.run(c)?;
            let events = if c.hookd {
                format!(", {} events recorded by hookd", bench.recorded)
            } else {
                String::new()
            };
            eprintln!(
                "  warm-up {w} {:<12} {:7.1} ms per tool call, session {:6.2} s{events}",
                c.name,
                ms(per_call),
                session.as_secs_f64()
            );
        }
    }
    let mut samples = Vec::new();
    for round in 0..a.rounds {
        let load0 = wait_for_load(a.max_load, a.max_wait);
        eprintln!("round {}/{} (load average {load0:.2})", round + 1, a.rounds);
        for k in 0..configs.len() {
            let config = (k + round) % configs.len();
            let load = loadavg();
            let (per_call, session) = bench.run(&configs[config])?;
            eprintln!(
                "  {:<12} {:7.1} ms per tool call, session {:6.2} s (load {load:.2})",
                configs[config].name,
                ms(per_call),
                session.as_secs_f64()
            );
            samples.push(Sample {
                config,
                round,
                per_call,
                session,
                load,
            });
        }
    }
    Ok(samples)
}

/// Smallest and largest of `v` (NaN when empty).
fn min_max(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().reduce(f64::min).unwrap_or(f64::NAN),
        v.iter().copied().reduce(f64::max).unwrap_or(f64::NAN),
    )
}

/// Prints the table and returns the per-configuration summaries for `--json-out`.
fn report(
    out: &mut impl std::io::Write,
    rounds: usize,
    configs: &[Config],
    samples: &[Sample],
) -> anyhow::Result<Vec<Value>> {
    let per_call = |config: usize| -> Vec<f64> {
        let mut v: Vec<f64> = samples
            .iter()
            .filter(|s| s.config == config)
            .map(|s| ms(s.per_call))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let in_round = |config: usize, round: usize| {
        samples
            .iter()
            .find(|s| s.config == config && s.round == round)
            .map(|s| ms(s.per_call))
    };
    let floor = configs.iter().position(|c| c.name == "true");
    let floor_median = floor.map(|f| median(&per_call(f)));
    writeln!(
        out,
        "{:<12} {:>9} {:>17} {:>17} {:>8} {:>22} {:>24} {:>8}",
        "config",
        "median",
        "p10-p90",
        "min-max",
        "/ true",
        "paired / true",
        "paired - true",
        "session"
    )?;
    let mut summaries = Vec::new();
    for (ci, c) in configs.iter().enumerate() {
        let v = per_call(ci);
        let sessions: Vec<f64> = samples
            .iter()
            .filter(|s| s.config == ci)
            .map(|s| s.session.as_secs_f64())
            .collect();
        let med = median(&v);
        let (mut ratios, mut diffs) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            if let (Some(x), Some(t)) = (in_round(ci, r), floor.and_then(|f| in_round(f, r))) {
                ratios.push(x / t);
                diffs.push(x - t);
            }
        }
        let (lo, hi) = min_max(&v);
        let (rlo, rhi) = min_max(&ratios);
        let (dlo, dhi) = min_max(&diffs);
        let (p10, p90) = (percentile(&v, 10.0), percentile(&v, 90.0));
        let of_medians = floor_median.map(|f| med / f);
        writeln!(
            out,
            "{:<12} {med:>6.1} ms {p10:>6.1}-{p90:>6.1} ms {lo:>6.1}-{hi:>6.1} ms {:>7.3}x \
             {:>6.3}x ({rlo:.3}-{rhi:.3}) {:>+6.1} ms ({dlo:+.1} to {dhi:+.1}) {:>6.2} s",
            c.name,
            of_medians.unwrap_or(f64::NAN),
            median(&ratios),
            median(&diffs),
            median(&sessions),
        )?;
        summaries.push(json!({
            "name": c.name,
            "what": c.what,
            "per_call_ms": v,
            "per_call_ms_median": med,
            "per_call_ms_p10": p10,
            "per_call_ms_p90": p90,
            "ratio_of_medians_to_true": of_medians,
            "paired_ratio_to_true": ratios,
            "paired_ratio_to_true_median": median(&ratios),
            "paired_diff_to_true_ms": diffs,
            "paired_diff_to_true_ms_median": median(&diffs),
            "session_s": sessions,
            "session_s_median": median(&sessions),
        }));
    }
    writeln!(
        out,
        "median, p10-p90 (nearest rank) and min-max over the rounds; / true: ratio of the \
         medians; paired: each round against the `true` run of the same round, median \
         (min-max); session: the whole `claude -p` run, median"
    )?;
    Ok(summaries)
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let b = Binaries::find(&a)?;
    let claude = claude_binary()?;
    let work = tempfile::Builder::new().prefix("cli-bench-").tempdir()?;
    let daemon = BenchDaemon::start(&b.hookd, "cli-bench-hookd-", "")?;
    let configs = configs(&a, &b, &daemon, work.path())?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "machine: {}", machine())?;
    writeln!(out, "claude:  {}", claude.display())?;
    writeln!(out, "hookd:   {} (pid {})", b.hookd.display(), daemon.pid())?;
    writeln!(
        out,
        "session: {} tool calls (Bash, Read, Write, Edit) then an answer; {} warm-up run(s) \
         and {} rounds per configuration, order rotated each round",
        a.calls, a.warmup, a.rounds
    )?;
    for c in &configs {
        writeln!(out, "  {:<12} {}", c.name, c.what)?;
    }
    out.flush()?;

    let mut bench = Bench {
        a: &a,
        daemon: &daemon,
        hookctl: b.hookctl.clone(),
        work: work.path().to_path_buf(),
        runs: 0,
        recorded: 0,
    };
    let samples = measure(&mut bench, &configs)?;
    let loads: Vec<f64> = samples.iter().map(|s| s.load).collect();
    let (load_lo, load_hi) = min_max(&loads);
    let rss_kb = daemon.rss_kb();
    writeln!(
        out,
        "\nwall time per tool call, {} rounds (load average {load_lo:.2}-{load_hi:.2} during the \
         runs; hookd RSS {:.1} MB at the end):",
        a.rounds,
        rss_kb as f64 / 1024.0
    )?;
    let summaries = report(&mut out, a.rounds, &configs, &samples)?;
    if let Some(path) = &a.json_out {
        let doc = json!({
            "tool": "cli-bench",
            "machine": machine(),
            "claude": claude.display().to_string(),
            "calls": a.calls,
            "rounds": a.rounds,
            "warmup": a.warmup,
            "load_min": load_lo,
            "load_max": load_hi,
            "hookd_rss_kb_end": rss_kb,
            "configs": summaries,
            "samples": samples.iter().map(|s| json!({
                "config": configs[s.config].name,
                "round": s.round,
                "per_call_ms": ms(s.per_call),
                "session_s": s.session.as_secs_f64(),
                "load": s.load,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}
