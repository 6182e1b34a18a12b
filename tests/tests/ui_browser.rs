//! The dashboard (issue 21) in a real browser: tests/ui/dashboard_test.py (Playwright for
//! Python driving Debian's chromium through `executable_path`) against a real hookd with
//! `[ui] listen` on a loopback port, logged in through `hookctl ui --print-url`, events sent
//! with the real hook-client. The script asserts what the issue lists (live indicator, rows,
//! deny colour, rule and reason, one timeline mark per event, three latency series, `<script>`
//! as text with no dialog or page error, a hookd restart with no duplicate and no missing row)
//! and saves screenshots in target/ui-artifacts/.
//!
//! hookd stays under this harness: the script prints `STOP` / `START` and this test stops
//! (SIGTERM) or starts hookd and answers `STOPPED` / `STARTED`. The first start takes an
//! ephemeral port; the restart pins it in hookd.toml, so the open page keeps its origin.
//!
//! Needs /usr/bin/chromium and Playwright (`bash tests/ui/install.sh`, called by
//! scripts/test.sh); without them it prints `SKIPPED: <why>` and returns.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, bin, bin_dir};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Must match PLAYWRIGHT_VERSION in tests/ui/install.sh.
const PLAYWRIGHT_VERSION: &str = "1.65.2";
/// Upper bound for the whole browser script (it runs in about 15 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

const RULES: &str = r#"
[[rule]]
name = "deny-forbidden"
event = "PreToolUse"
tool = "Bash"
command = 'echo\s+forbidden'
action = "deny"
reason = "UI-DENY: print something else"

[[rule]]
name = "allow-ls"
event = "PreToolUse"
tool = "Bash"
command = '^ls\b'
action = "allow"
reason = "listing is fine"

[[rule]]
name = "prompt-context"
event = "UserPromptSubmit"
action = "context"
context = "UI-CTX: never commit to main"
"#;

fn hookd_toml(port: u16) -> String {
    format!("packs = []\n\n[ui]\nlisten = \"127.0.0.1:{port}\"\n{RULES}")
}

/// The venv's python with Playwright (HOOKD_TEST_PYTHON overrides), if it imports.
fn playwright_python() -> Result<PathBuf, String> {
    let python = if let Some(p) = std::env::var_os("HOOKD_TEST_PYTHON") {
        PathBuf::from(p)
    } else {
        let cache = std::env::var_os("HOOKD_TEST_CACHE").map_or_else(
            || {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/hookd-tests")
            },
            PathBuf::from,
        );
        cache.join(format!("playwright-{PLAYWRIGHT_VERSION}/bin/python"))
    };
    let ok = Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(python)
    } else {
        Err(format!(
            "python Playwright not found at {} (bash tests/ui/install.sh)",
            python.display()
        ))
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/dashboard_test.py")
}

#[test]
fn dashboard_in_a_real_browser() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!(
            "SKIPPED: dashboard_in_a_real_browser: {CHROMIUM} is missing (bash tests/ui/install.sh)"
        );
        return;
    }
    let python = match playwright_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED: dashboard_in_a_real_browser: {why}");
            return;
        }
    };
    let mut d = TestDaemon::start_with(&[("hookd.toml", &hookd_toml(0))]).unwrap();
    let out = d.hookctl(&["ui", "--print-url"]).unwrap();
    assert!(
        out.status.success(),
        "hookctl ui --print-url: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected login URL {url:?}"));
    let artifacts = bin_dir().parent().expect("target dir").join("ui-artifacts");

    let mut child = Command::new(&python)
        .arg(script())
        .args(["--url", &url])
        .arg("--hook-client")
        .arg(bin("hook-client"))
        .arg("--hookctl")
        .arg(bin("hookctl"))
        .arg("--artifacts")
        .arg(&artifacts)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", d.home())
        .env("HOOKD_HOME", d.home())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the browser script");
    let mut to_script = child.stdin.take().unwrap();
    let from_script = child.stdout.take().unwrap();

    // The script's requests, read on a thread so the wait for them is bounded.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from_script).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + SCRIPT_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => match line.trim() {
                "STOP" => {
                    d.signal_and_wait(libc::SIGTERM).unwrap();
                    // The same port after the restart: the open page keeps its origin.
                    std::fs::write(d.home().join("hookd.toml"), hookd_toml(port)).unwrap();
                    writeln!(to_script, "STOPPED").unwrap();
                }
                "START" => {
                    d.spawn().unwrap();
                    writeln!(to_script, "STARTED").unwrap();
                }
                other => eprintln!("dashboard_test.py: {other}"),
            },
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the browser script did not finish within {SCRIPT_TIMEOUT:?}");
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the browser script failed ({status}); screenshots in {}\nhookd log:\n{}",
        artifacts.display(),
        d.log()
    );
}
