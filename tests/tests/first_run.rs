//! A new user's first run and daily use of hookctl (issue 22 item 5), with the real binaries:
//! commands that need hookd start it as a hook would, `doctor` on a fresh install passes,
//! `init` writes a starter that loads, rule errors come all at once, filters refuse values no
//! event can have, `tail -n 0 -f` shows only new events, `test` counts no hits, colours only
//! on a terminal.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use hook_tests::harness::{TestDaemon, bin, event_json, wait_for};
use hook_tests::pty::run_in_pty;
use serde_json::{Value, json};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn bash(session: &str, command: &str) -> Vec<u8> {
    event_json(
        "PreToolUse",
        session,
        &json!({"tool_name": "Bash", "tool_input": {"command": command}}),
    )
}

/// Stops, when dropped, the hookd that a command autostarted in this home.
struct StopOnDrop(std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new(bin("hookctl"))
            .env_clear()
            .env("HOME", &self.0)
            .env("HOOKD_HOME", &self.0)
            .arg("stop")
            .output();
    }
}

fn install(d: &TestDaemon, project: &Path) {
    let client = bin("hook-client");
    ok(&d
        .hookctl(&[
            "install",
            "--project",
            "--dir",
            project.to_str().unwrap(),
            "--client",
            client.to_str().unwrap(),
        ])
        .unwrap());
}

fn doctor_json(d: &TestDaemon, project: &Path) -> (i32, Value) {
    let out = d
        .hookctl(&["doctor", "--json", "--project", project.to_str().unwrap()])
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    (out.status.code().unwrap(), v)
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {v:#}"))
}

#[test]
fn doctor_on_a_fresh_install_exits_0_and_commands_start_hookd_as_a_hook_would() {
    let mut d = TestDaemon::unstarted(&[]).unwrap();
    // The test's HOOKD_HOME is also the socket's directory: private, as hookd makes its own
    // (a temp dir is created 0755; on a real fresh install the directory does not exist yet).
    std::fs::set_permissions(d.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let project = tempfile::tempdir().unwrap();
    install(&d, project.path());
    let _stop = StopOnDrop(d.home().to_path_buf());

    // Not running, but the next hook starts it: healthy.
    let (code, v) = doctor_json(&d, project.path());
    assert_eq!(code, 0, "{v:#}");
    let hookd = check(&v, "hookd");
    assert_eq!(hookd["level"], "ok", "{v:#}");
    assert!(
        hookd["detail"].as_str().unwrap().contains("not running"),
        "{hookd}"
    );
    let human = d
        .hookctl(&["doctor", "--project", project.path().to_str().unwrap()])
        .unwrap();
    assert!(
        text(&human.stdout).contains("all good"),
        "{}",
        text(&human.stdout)
    );
    // doctor never starts it.
    assert!(d.hookctl(&["status"]).unwrap().status.code() == Some(3));

    // --no-start: the old answer, exit 3, and nothing started.
    let out = d
        .hookctl(&["--no-start", "test", "bash", "git push -f origin main"])
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not running"));
    assert_eq!(d.hookctl(&["status"]).unwrap().status.code(), Some(3));

    // A command that needs hookd starts it, says so, and answers.
    let out = d
        .hookctl(&["test", "bash", "git push -f origin main"])
        .unwrap();
    let stdout = ok(&out);
    assert!(
        text(&out.stderr).contains("hookd was not running; started"),
        "{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("deny"), "{stdout}");
    let status = d.status().unwrap();
    assert!(status["hookd"]["pid"].as_u64().is_some(), "{status:#}");
    // Once it runs, nothing more is said.
    let out = d.hookctl(&["events", "--limit", "1"]).unwrap();
    ok(&out);
    assert!(
        !text(&out.stderr).contains("started"),
        "{}",
        text(&out.stderr)
    );

    // Autostart off (HOOKD_NO_AUTOSTART, as for hook-client): doctor fails and says why.
    ok(&d.hookctl(&["stop"]).unwrap());
    wait_for(Duration::from_secs(20), "hookd to stop", || {
        d.hookctl(&["status"]).unwrap().status.code() == Some(3)
    })
    .unwrap();
    d.set_env("HOOKD_NO_AUTOSTART", "1");
    let (code, v) = doctor_json(&d, project.path());
    assert_eq!(code, 1, "{v:#}");
    let hookd = check(&v, "hookd");
    assert_eq!(hookd["level"], "fail");
    assert!(
        hookd["detail"]
            .as_str()
            .unwrap()
            .contains("HOOKD_NO_AUTOSTART"),
        "{hookd}"
    );
    let out = d.hookctl(&["events"]).unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn doctor_fails_when_no_trusted_hookd_can_be_started() {
    let mut d = TestDaemon::unstarted(&[]).unwrap();
    let project = tempfile::tempdir().unwrap();
    install(&d, project.path());
    d.set_env("HOOKD_BIN", "relative/hookd");
    let (code, v) = doctor_json(&d, project.path());
    assert_eq!(code, 1, "{v:#}");
    let hookd = check(&v, "hookd");
    assert_eq!(hookd["level"], "fail");
    assert!(
        hookd["detail"]
            .as_str()
            .unwrap()
            .contains("not an absolute path"),
        "{hookd}"
    );
    let out = d.hookctl(&["sessions"]).unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not an absolute path"),
        "{}",
        text(&out.stderr)
    );
}

fn hits(d: &TestDaemon, rule: &str) -> u64 {
    let out = d.hookctl(&["rules", "--json"]).unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == rule)
        .unwrap_or_else(|| panic!("no rule {rule}"))["hits"]
        .as_u64()
        .unwrap()
}

#[test]
fn hookctl_test_changes_no_hit_count() {
    let d = TestDaemon::start().unwrap();
    for _ in 0..3 {
        let out = ok(&d
            .hookctl(&["test", "bash", "git push -f origin main"])
            .unwrap());
        assert!(out.contains("git-push-force"), "{out}");
    }
    assert_eq!(hits(&d, "git-push-force"), 0, "hookctl test counted hits");
    let out = d
        .hook(
            &bash("real", "git push -f origin main"),
            &["--no-autostart"],
        )
        .unwrap();
    assert!(text(&out.stdout).contains("deny"), "{}", text(&out.stdout));
    assert_eq!(hits(&d, "git-push-force"), 1, "a real event counts");
}

/// hookctl with `args` must fail (exit 2, clap's usage error) naming `flag` and `needle`.
fn refused(d: &TestDaemon, args: &[&str], flag: &str, needle: &str) {
    let out = d.hookctl(args).unwrap();
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} should be refused\nstdout: {}\nstderr: {err}",
        text(&out.stdout)
    );
    assert!(
        err.contains(flag) && err.contains(needle),
        "{args:?}: {err}"
    );
}

#[test]
fn every_filter_refuses_a_value_no_event_can_have() {
    let d = TestDaemon::start().unwrap();
    d.hook(&bash("f", "ls"), &["--no-autostart"]).unwrap();
    for cmd in [&["events"][..], &["tail"], &["export"]] {
        let with = |extra: &[&'static str]| -> Vec<&str> {
            cmd.iter().copied().chain(extra.iter().copied()).collect()
        };
        refused(
            &d,
            &with(&["--verdict", "denied"]),
            "--verdict",
            "did you mean deny?",
        );
        refused(
            &d,
            &with(&["--verdict", "nope"]),
            "--verdict",
            "valid: allow, deny",
        );
        refused(
            &d,
            &with(&["--event", "PreTooluse"]),
            "--event",
            "did you mean PreToolUse?",
        );
        refused(
            &d,
            &with(&["--tool", "bash"]),
            "--tool",
            "did you mean Bash?",
        );
        refused(&d, &with(&["--tool", "Edit|Write"]), "--tool", "one name");
        refused(&d, &with(&["--session", ""]), "--session", "empty");
        refused(&d, &with(&["--rule", " "]), "--rule", "empty");
        refused(&d, &with(&["--project", ""]), "--project", "empty");
        refused(&d, &with(&["--text", ""]), "--text", "empty");
        refused(&d, &with(&["--since", "5 min"]), "--since", "bad time");
        refused(&d, &with(&["--until", "yesterday"]), "--until", "bad time");
        let out = d
            .hookctl(&with(&["--since", "1h", "--until", "2h"]))
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("is not before --until"));
    }
    refused(&d, &["events", "--limit", "0"], "--limit", "0");
    refused(&d, &["sessions", "--limit", "0"], "--limit", "0");
    refused(&d, &["runs", "--since", "soon"], "--since", "bad time");
    refused(&d, &["runs", "--rule", ""], "--rule", "empty");
    refused(
        &d,
        &["stats", "--verdict", "deny"],
        "--verdict",
        "unexpected",
    );
    // Valid values still work, `error`/`fallback` as kinds.
    for v in [
        "deny",
        "allow",
        "none",
        "fallback",
        "error:",
        "fallback:ask",
    ] {
        ok(&d.hookctl(&["events", "--verdict", v]).unwrap());
    }
    let rows = d
        .events(10, &["--verdict", "none", "--tool", "Bash"])
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
}

#[test]
fn events_order_matches_its_help_and_tail_n_0_follows_only_new_events() {
    let d = TestDaemon::start().unwrap();
    for i in 0..3 {
        d.hook(&bash(&format!("old-{i}"), "ls"), &["--no-autostart"])
            .unwrap();
    }
    let help = ok(&d.hookctl(&["events", "--help"]).unwrap());
    assert!(
        help.contains("oldest to newest") && help.contains("--json newest first"),
        "{help}"
    );
    let table = ok(&d.hookctl(&["events"]).unwrap());
    let at = |s: &str| table.find(s).unwrap_or_else(|| panic!("{s} in {table}"));
    assert!(
        at("old-0") < at("old-1") && at("old-1") < at("old-2"),
        "{table}"
    );
    let rows = d.events(10, &[]).unwrap();
    assert_eq!(rows[0]["session_id"], "old-2", "--json: newest first");

    let mut tail = d
        .command("hookctl")
        .args(["tail", "-n", "0", "-f", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The follower may subscribe after the first new event: send new ones until one shows.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut first = None;
    let mut i = 0;
    while first.is_none() && Instant::now() < deadline {
        d.hook(&bash(&format!("new-{i}"), "ls"), &["--no-autostart"])
            .unwrap();
        i += 1;
        first = rx.recv_timeout(Duration::from_millis(200)).ok();
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let _ = reader.join();
    let first = first.expect("tail -f printed nothing within 20 s");
    let row: Value = serde_json::from_str(&first).unwrap();
    assert!(
        row["session_id"].as_str().unwrap().starts_with("new-"),
        "tail -n 0 showed a recent event: {row}"
    );
}

#[test]
fn top_level_help_names_every_command() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let help = ok(&d.hookctl(&["--help"]).unwrap());
    let first = help.lines().next().unwrap();
    assert_eq!(
        first, "Control and inspect hookd, the daemon that answers Claude Code hooks",
        "the summary line must not name a few commands as if they were all"
    );
    for c in [
        "status",
        "reload",
        "events",
        "stop",
        "restart",
        "init",
        "check",
        "test",
        "explain",
        "rules",
        "trust",
        "sessions",
        "session",
        "install",
        "uninstall",
        "service",
        "doctor",
        "tail",
        "export",
        "stats",
        "metrics",
        "runs",
        "http",
        "completions",
        "import",
        "statusline",
        "ui",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{c} "))),
            "{c} missing from:\n{help}"
        );
    }
}

#[test]
fn init_writes_a_starter_that_hookd_loads_and_refuses_to_overwrite() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let out = ok(&d.hookctl(&["init"]).unwrap());
    let path = d.home().join("hookd.toml");
    assert!(out.contains(&path.display().to_string()), "{out}");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("packs = [\"git\""), "{written}");
    assert!(written.contains("#[http]") && written.contains("#[store]"));
    let checked = ok(&d.hookctl(&["check"]).unwrap());
    assert!(checked.starts_with("ok: "), "{checked}");
    ok(&d.hookctl(&["check", path.to_str().unwrap()]).unwrap());

    // Never over an existing file without --force.
    std::fs::write(&path, "packs = []\n").unwrap();
    let out = d.hookctl(&["init"]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "packs = []\n");
    ok(&d.hookctl(&["init", "--force"]).unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    assert_eq!(
        std::fs::read_to_string(d.home().join("hookd.toml.bak")).unwrap(),
        "packs = []\n"
    );

    // The daemon loads it: its example deny rule answers.
    let mut d = d;
    d.spawn().unwrap();
    let status = d.status().unwrap();
    assert!(
        status["hookd"]["rule_errors"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{status:#}"
    );
    let out = ok(&d.hookctl(&["test", "bash", "npm publish"]).unwrap());
    assert!(out.contains("no-npm-publish"), "{out}");
}

#[test]
fn check_reports_every_rule_error_of_a_file_at_once() {
    let d = TestDaemon::unstarted(&[(
        "hookd.toml",
        "packs = [\"git\", \"gti\"]\n\n[[rule]]\nname = \"a\"\ncomand = \"^rm\"\naction = \"deny\"\n\n[[rule]]\nname = \"b\"\nevent = \"PreToolUs\"\ncommand = \"^x\"\nactoin = \"deny\"\n",
    )])
    .unwrap();
    let out = d.hookctl(&["check"]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let file = d.home().join("hookd.toml").display().to_string();
    for want in [
        format!("{file}:5:1: rule `a`: unknown field `comand` (did you mean `command`?)"),
        format!("{file}:12:1: rule `b`: unknown field `actoin` (did you mean `action`?)"),
        "rule `b`: unknown event \"PreToolUs\" (did you mean PreToolUse?)".to_string(),
        format!("{file}:1:17: `packs`: unknown pack \"gti\" (did you mean \"git\"?)"),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    assert!(err.contains("4 error(s)"), "{err}");
    assert!(
        !err.contains("expected one of"),
        "no list of every field: {err}"
    );
}

#[test]
fn events_and_doctor_are_coloured_on_a_terminal_only_and_never_with_no_color() {
    let d = TestDaemon::start().unwrap();
    d.hook(&bash("c", "git push -f origin main"), &["--no-autostart"])
        .unwrap();
    let project = tempfile::tempdir().unwrap();
    install(&d, project.path());
    let p = project.path().to_str().unwrap().to_string();
    for args in [vec!["events"], vec!["doctor", "--project", &p]] {
        let (status, tty) = run_in_pty({
            let mut c = d.command("hookctl");
            c.args(&args).env("TERM", "xterm");
            c
        })
        .unwrap();
        let tty = text(&tty);
        assert!(status.code().is_some(), "{args:?}");
        assert!(tty.contains("\x1b["), "{args:?} on a terminal: {tty}");
        let (_, plain) = run_in_pty({
            let mut c = d.command("hookctl");
            c.args(&args).env("TERM", "xterm").env("NO_COLOR", "1");
            c
        })
        .unwrap();
        assert!(!text(&plain).contains('\x1b'), "{args:?} with NO_COLOR");
        let piped = d.hookctl(&args).unwrap();
        assert!(
            !text(&piped.stdout).contains('\x1b'),
            "{args:?} into a pipe"
        );
    }
}

/// Settings files laid out in different ways, each with something a pretty-printer would
/// change: inline arrays and objects, tabs, CRLF, no final newline, escapes, number forms.
const SETTINGS_CORPUS: &[&str] = &[
    "{\n  \"permissions\": {\n    \"allow\": [\"Bash(ls)\", \"Read\"],\n    \"deny\": []\n  },\n  \"model\": \"opus\"\n}\n",
    "{\r\n\t\"env\": {\"A\": \"1\", \"B\": \"2\"},\r\n\t\"cleanupPeriodDays\": 30\r\n}",
    "{\"hooks\":{\"Stop\":[{\"hooks\":[{\"type\":\"command\",\"command\":\"notify-send done\"}]}]},\"theme\":\"dark\"}",
    "{\n    \"statusLine\": { \"type\": \"command\", \"command\": \"~/bin/line\" },\n    \"name\": \"caf\\u00e9 \\/ x\",\n    \"ratio\": 1.50,\n    \"big\": 1e3,\n    \"empty\": {},\n    \"list\": [ 1, 2,3 ]\n}\n",
    "  {\n\n  \"includeCoAuthoredBy\" : false ,\n  \"hooks\" : { }\n  }\n\n",
    "",
    "{}",
];

#[test]
fn uninstall_gives_back_the_settings_file_byte_for_byte_and_backups_do_not_pile_up() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let client = bin("hook-client");
    let client = client.to_str().unwrap();
    for (i, original) in SETTINGS_CORPUS.iter().enumerate() {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path().to_str().unwrap();
        let file = project.path().join(".claude/settings.json");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, original).unwrap();
        ok(&d
            .hookctl(&["install", "--project", "--dir", dir, "--client", client])
            .unwrap());
        let installed = std::fs::read_to_string(&file).unwrap();
        assert!(installed.contains("hook-client"), "corpus {i}: {installed}");
        let out = ok(&d
            .hookctl(&["uninstall", "--project", "--dir", dir])
            .unwrap());
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            *original,
            "corpus {i}: uninstall did not give the file back as it was ({out})"
        );
    }

    // Many rounds: the oldest backup (the file before hookctl) and the 4 newest stay.
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let file = project.path().join(".claude/settings.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, SETTINGS_CORPUS[0]).unwrap();
    for _ in 0..6 {
        ok(&d
            .hookctl(&["install", "--project", "--dir", dir, "--client", client])
            .unwrap());
        let out = ok(&d
            .hookctl(&["uninstall", "--project", "--dir", dir])
            .unwrap());
        assert!(out.contains("the 4 newest are kept"), "{out}");
    }
    let mut backups: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("settings.json.hookd-backup-"))
        .collect();
    backups.sort();
    assert_eq!(backups.len(), 5, "{backups:?}");
    assert_eq!(
        std::fs::read_to_string(file.with_file_name(&backups[0])).unwrap(),
        SETTINGS_CORPUS[0],
        "the oldest backup is the file before hookctl changed it"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), SETTINGS_CORPUS[0]);
}

fn statusline(d: &TestDaemon, input: &str) -> Output {
    hook_tests::harness::run_with_stdin(
        {
            let mut c = d.command("hookctl");
            c.arg("statusline");
            c
        },
        input.as_bytes(),
    )
    .unwrap()
}

/// The JSON Claude Code (2.1.332) writes to a statusLine command's stdin.
fn statusline_input(session: &str) -> String {
    json!({
        "session_id": session,
        "transcript_path": "/tmp/t.jsonl",
        "cwd": "/tmp/project",
        "model": {"id": "claude-opus-4", "display_name": "Opus"},
        "workspace": {"current_dir": "/tmp/project", "project_dir": "/tmp/project", "added_dirs": []},
        "version": "2.1.332",
        "output_style": {"name": "default"},
        "context_window": {"total_input_tokens": 10, "total_output_tokens": 2, "context_window_size": 200000, "current_usage": null, "used_percentage": null, "remaining_percentage": null},
        "thinking": {"enabled": false}
    })
    .to_string()
}

#[test]
fn statusline_shows_the_sessions_denials_and_install_wires_it_without_clobbering() {
    let mut d = TestDaemon::unstarted(&[]).unwrap();
    // Not running: says so, exits 0, starts nothing.
    let out = statusline(&d, &statusline_input("s1"));
    assert_eq!(ok(&out).trim(), "hookd ○ not running");
    assert_eq!(d.hookctl(&["status"]).unwrap().status.code(), Some(3));

    d.spawn().unwrap();
    for cmd in [
        "git push -f origin main",
        "git reset --hard",
        "git checkout -- .",
        "ls",
    ] {
        d.hook(&bash("s1", cmd), &["--no-autostart"]).unwrap();
    }
    d.hook(&bash("s2", "ls"), &["--no-autostart"]).unwrap();
    assert_eq!(
        ok(&statusline(&d, &statusline_input("s1"))).trim(),
        "hookd ✓ 2 denied · 1 ask"
    );
    assert_eq!(
        ok(&statusline(&d, &statusline_input("s2"))).trim(),
        "hookd ✓"
    );
    assert_eq!(ok(&statusline(&d, "not json")).trim(), "hookd ✓");

    // install --statusline wires it; an existing one is kept, with a note.
    let client = bin("hook-client");
    let client = client.to_str().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let file = project.path().join(".claude/settings.json");
    let original = "{\n  \"model\": \"opus\"\n}\n";
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, original).unwrap();
    let args = [
        "install",
        "--project",
        "--dir",
        dir,
        "--client",
        client,
        "--statusline",
    ];
    ok(&d.hookctl(&args).unwrap());
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let command = v["statusLine"]["command"].as_str().unwrap().to_string();
    assert_eq!(v["statusLine"]["type"], "command");
    assert!(command.ends_with("hookctl statusline"), "{command}");
    // The command as Claude Code runs it (`sh -c`), with the session on stdin.
    let out = hook_tests::harness::run_with_stdin(
        {
            let mut c = std::process::Command::new("/bin/sh");
            c.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", d.home())
                .env("HOOKD_HOME", d.home())
                .args(["-c", &command]);
            c
        },
        statusline_input("s1").as_bytes(),
    )
    .unwrap();
    assert_eq!(ok(&out).trim(), "hookd ✓ 2 denied · 1 ask");
    let again = ok(&d.hookctl(&args).unwrap());
    assert!(again.contains("already hookctl statusline"), "{again}");
    ok(&d
        .hookctl(&["uninstall", "--project", "--dir", dir])
        .unwrap());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);

    let theirs =
        "{\n  \"statusLine\": {\"type\": \"command\", \"command\": \"~/bin/my-line\"}\n}\n";
    std::fs::write(&file, theirs).unwrap();
    let out = ok(&d.hookctl(&args).unwrap());
    assert!(
        out.contains("already sets a statusLine (~/bin/my-line); left as is"),
        "{out}"
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["statusLine"]["command"], "~/bin/my-line");
    ok(&d
        .hookctl(&["uninstall", "--project", "--dir", dir])
        .unwrap());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), theirs);
}
