//! Running the real Claude Code CLI (`claude -p`) against a [`crate::fake_model::FakeModel`].
//!
//! [`claude_binary`] finds or installs the pinned CLI; [`run_claude`] runs one prompt in a
//! cleared environment with a temporary `HOME`, and kills it at a deadline.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

/// The pinned CLI version (see `tests/claude/install.sh`).
pub const CLAUDE_VERSION: &str = "2.1.332";

/// `PATH` used when the test process has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Set to `1` to skip the tests that need the real CLI.
pub const SKIP_ENV: &str = "HOOKD_SKIP_CLAUDE";

/// True (with a loud note on stderr) when `HOOKD_SKIP_CLAUDE=1`: the caller should return early.
pub fn skip_claude_tests(test: &str) -> bool {
    let skip = std::env::var(SKIP_ENV).is_ok_and(|v| v == "1");
    if skip {
        // Straight to the stderr handle, not `eprintln!`: libtest captures the macro's output
        // of passing tests, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! SKIPPED {test}: {SKIP_ENV}=1, the real Claude Code CLI is not exercised !!!!!\n"
        );
    }
    skip
}

/// The Claude Code executable: `$HOOKD_TEST_CLAUDE` if set, else the path printed by
/// `tests/claude/install.sh` (run at most once per process; it installs into
/// `${HOOKD_TEST_CACHE:-$HOME/.cache/hookd-tests}` on first use).
pub fn claude_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("HOOKD_TEST_CLAUDE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("HOOKD_TEST_CLAUDE={} is not a file", path.display());
        }
        return Ok(path);
    }
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| run_install_script().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn run_install_script() -> anyhow::Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("claude/install.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "{} failed ({}):\n{stderr}\n{stdout}",
            script.display(),
            output.status
        );
    }
    let path = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(PathBuf::from)
        .with_context(|| format!("{} printed no path; stderr:\n{stderr}", script.display()))?;
    if !path.is_absolute() || !path.is_file() {
        bail!(
            "{} printed {}, which is not an executable file",
            script.display(),
            path.display()
        );
    }
    Ok(path)
}

/// The outcome of one `claude -p` run.
#[derive(Debug)]
pub struct ClaudeRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// stdout parsed as JSON (`--output-format json`), if it parses.
    pub json: Option<Value>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl ClaudeRun {
    /// `session_id` from the JSON result.
    pub fn session_id(&self) -> Option<&str> {
        self.json.as_ref()?.get("session_id")?.as_str()
    }

    /// `result` (the final assistant text) from the JSON result.
    pub fn result_text(&self) -> Option<&str> {
        self.json.as_ref()?.get("result")?.as_str()
    }

    /// Fails with the full output unless the process exited 0 and printed a JSON result
    /// without `is_error`.
    pub fn ensure_success(&self) -> anyhow::Result<&Value> {
        match &self.json {
            Some(json)
                if self.status.success()
                    && json.get("is_error").and_then(Value::as_bool) != Some(true) =>
            {
                Ok(json)
            }
            _ => bail!("claude run failed: {self}"),
        }
    }
}

impl std::fmt::Display for ClaudeRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `claude -p <prompt> --output-format json --permission-mode bypassPermissions` in
/// `project_dir` with a cleared environment (see [`claude_env`]) plus `extra_env`, stdin
/// from /dev/null. The process group is killed at `timeout`, which is then an error.
pub fn run_claude(
    project_dir: &Path,
    home: &Path,
    prompt: &str,
    base_url: &str,
    extra_env: &[(&str, &str)],
    timeout: Duration,
) -> anyhow::Result<ClaudeRun> {
    run_claude_args(project_dir, home, prompt, base_url, extra_env, &[], timeout)
}

/// [`run_claude`] with extra CLI arguments (e.g. `["--debug-file", "/tmp/x"]`).
pub fn run_claude_args(
    project_dir: &Path,
    home: &Path,
    prompt: &str,
    base_url: &str,
    extra_env: &[(&str, &str)],
    extra_args: &[&str],
    timeout: Duration,
) -> anyhow::Result<ClaudeRun> {
    let binary = claude_binary()?;
    let mut cmd = Command::new(&binary);
    cmd.arg("-p")
        .arg(prompt)
        .args([
            "--output-format",
            "json",
            "--permission-mode",
            "bypassPermissions",
        ])
        .args(extra_args)
        .current_dir(project_dir)
        .env_clear()
        .envs(claude_env(home, base_url))
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("spawning {}", binary.display()))?;
    let stdout = capture(child.stdout.take());
    let stderr = capture(child.stderr.take());
    let pid = child.id();
    let (status, timed_out) = wait_with_deadline(child, pid, timeout)?;
    let elapsed = start.elapsed();
    // Pipe readers end at EOF; a straggler (a grandchild holding the pipe) only costs a bound.
    let stdout = stdout.finish(Duration::from_secs(5));
    let stderr = stderr.finish(Duration::from_secs(5));
    if timed_out {
        bail!(
            "claude did not finish within {timeout:?} and was killed\n--- stdout ---\n{stdout}\n\
             --- stderr ---\n{stderr}"
        );
    }
    let json = parse_result_json(&stdout);
    Ok(ClaudeRun {
        status,
        stdout,
        stderr,
        json,
        elapsed,
    })
}

/// The whole environment `run_claude` gives the CLI (before `extra_env`).
///
/// Found by experiment (2.1.328, as root): nothing beyond `PATH` and `HOME` is needed. Without
/// `IS_SANDBOX=1` root may not use `bypassPermissions` (exit 1, "--dangerously-skip-permissions
/// cannot be used with root/sudo privileges"). Without
/// `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC` the CLI also sends `HEAD /api/hello` to the base
/// URL and tries the internet. `TERM`, `LANG`, `USER` are not needed; with no `SHELL` the Bash
/// tool still finds `/bin/bash` on `PATH` (and sets `SHELL` itself); `SHELL` is set anyway so the
/// tool's shell does not depend on that search.
pub fn claude_env(home: &Path, base_url: &str) -> Vec<(String, String)> {
    let path = std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_owned());
    let home = home.to_string_lossy().into_owned();
    [
        ("PATH", path.as_str()),
        ("HOME", home.as_str()),
        ("ANTHROPIC_BASE_URL", base_url),
        ("ANTHROPIC_API_KEY", "test-key"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("IS_SANDBOX", "1"),
        ("SHELL", "/bin/bash"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn parse_result_json(stdout: &str) -> Option<Value> {
    let trimmed = stdout.trim();
    serde_json::from_str(trimmed).ok().or_else(|| {
        trimmed
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .filter(Value::is_object)
    })
}

/// Waits for `child`; at `timeout` kills its process group. Returns (status, timed_out).
fn wait_with_deadline(
    mut child: Child,
    pid: u32,
    timeout: Duration,
) -> anyhow::Result<(ExitStatus, bool)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(timeout) {
        Ok(status) => Ok((status.context("waiting for claude")?, false)),
        Err(_) => {
            kill_group(pid);
            let status = rx
                .recv_timeout(Duration::from_secs(10))
                .context("claude survived SIGKILL")?
                .context("waiting for claude")?;
            Ok((status, true))
        }
    }
}

/// SIGKILL to the process group led by `pid` (the child was spawned with `process_group(0)`).
#[allow(unsafe_code)]
fn kill_group(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. The group exists
    // until we reap its leader, which only happens after this call.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    /// The text read so far, after waiting up to `limit` for EOF.
    fn finish(self, limit: Duration) -> String {
        let _ = self.done.recv_timeout(limit);
        let buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

fn capture(pipe: Option<impl Read + Send + 'static>) -> Capture {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (tx, done) = mpsc::channel();
    let sink = Arc::clone(&buf);
    thread::spawn(move || {
        if let Some(mut pipe) = pipe {
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(&chunk[..n]),
                }
            }
        }
        let _ = tx.send(());
    });
    Capture { buf, done }
}

/// Writes `<project_dir>/.claude/settings.json` as `{"hooks": hooks}`.
pub fn write_hooks_settings(project_dir: &Path, hooks: &Value) -> anyhow::Result<PathBuf> {
    write_project_settings(project_dir, &json!({ "hooks": hooks }))
}

/// Writes `settings` verbatim to `<project_dir>/.claude/settings.json`.
pub fn write_project_settings(project_dir: &Path, settings: &Value) -> anyhow::Result<PathBuf> {
    let dir = project_dir.join(".claude");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("settings.json");
    std::fs::write(&path, serde_json::to_string_pretty(settings)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A hooks value wiring one `command` handler to each of `events` (no matcher).
pub fn hooks_for_events(events: &[&str], command: &str) -> Value {
    let mut hooks = serde_json::Map::new();
    for event in events {
        hooks.insert(
            (*event).to_owned(),
            json!([{ "hooks": [{ "type": "command", "command": command }] }]),
        );
    }
    Value::Object(hooks)
}

/// Writes an executable script (`#!/bin/sh` is not added: include a shebang in `body`).
pub fn write_script(path: &Path, body: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, body).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Writes an executable `#!/bin/sh` logging hook at `script` that appends one line per call
/// to `log`: `{"pwd": .., "env": {"CLAUDE_PROJECT_DIR": .., "CLAUDE_CODE_SESSION_ID": ..},
/// "input": <the hook input JSON>}` (the line is built with `printf`, so the cwd and project
/// path must not contain `"` or `\`, and `log` must not contain `'`; temp dirs never do).
pub fn write_logging_hook(script: &Path, log: &Path) -> anyhow::Result<()> {
    const BODY: &str = r#"input=$(cat)
printf '{"pwd":"%s","env":{"CLAUDE_PROJECT_DIR":"%s","CLAUDE_CODE_SESSION_ID":"%s"},"input":%s}\n' \
    "$(pwd)" "$CLAUDE_PROJECT_DIR" "$CLAUDE_CODE_SESSION_ID" "$input" >> "$HOOK_LOG"
"#;
    let log = log.display();
    write_script(script, &format!("#!/bin/sh\nHOOK_LOG='{log}'\n{BODY}"))
}

/// Reads a JSON-lines file (e.g. a logging hook's output), skipping blank lines.
pub fn read_jsonl(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("bad JSON line: {l}")))
        .collect()
}

/// Every hook event name known to CLI 2.1.332 (`HOOK_EVENTS` order).
pub const ALL_HOOK_EVENTS: &[&str] = &[
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PostToolBatch",
    "Notification",
    "UserPromptSubmit",
    "UserPromptExpansion",
    "SessionStart",
    "SessionEnd",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "PreModelSwitch",
    "PostModelSwitch",
    "PermissionRequest",
    "PermissionDenied",
    "Setup",
    "TeammateIdle",
    "TaskCreated",
    "TaskCompleted",
    "Elicitation",
    "ElicitationResult",
    "ConfigChange",
    "WorktreeCreate",
    "WorktreeRemove",
    "InstructionsLoaded",
    "CwdChanged",
    "FileChanged",
    "DirectoryAdded",
    "MessageDisplay",
    "PreSkillShellCommand",
];

/// The `tool_result` blocks of every user message in a Messages API request body.
#[must_use]
pub fn tool_results(body: &Value) -> Vec<Value> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .cloned()
        .collect()
}
