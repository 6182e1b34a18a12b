//! hookd.toml's settings, end to end: `hookctl check` reports exactly the errors hookd's start
//! reports (the same function), a bad setting is a load error at its line and column (never a
//! silent default), the last good set keeps its settings too, a reload cannot change a setting
//! read only at start, and a bare number is seconds for hook-client's deadline.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use hook_tests::harness::{TestDaemon, bin, event_json, permission_decision, wait_for};
use serde_json::{Value, json};

/// hookd.toml with an error of each kind: an unknown key (with a suggestion), a value of the
/// wrong case, a duration in words, a bad count, a bad redaction kind, an unknown pack, and a
/// broken rule.
const BROKEN: &str = r#"packs = ["git", "secrest"]
[store]
synchronous = "FULL"
max_agee = "7d"
[session]
idle_ttl = "30 minutes"
max_live = 0
[redact]
disabled_kinds = ["phnoe"]

[[rule]]
name = "no-rm"
comand = "rm"
action = "deny"
"#;

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

fn rule_errors(status: &Value) -> Vec<String> {
    status["hookd"]["rule_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn hookctl_check_prints_the_same_errors_as_hookds_start() {
    let d = TestDaemon::start_with(&[
        ("hookd.toml", BROKEN),
        ("rules.d/mine.toml", "[store]\nmax_age = \"1d\"\n"),
    ])
    .unwrap();
    let toml = d.home().join("hookd.toml");
    let toml = toml.display();
    let at_start = rule_errors(&d.status().unwrap());
    // Every error at its line and column, in the file's order, then the rules.d file's.
    let expected_starts = [
        format!("{toml}:1:17: `packs`: unknown pack \"secrest\" (did you mean \"secrets\"?)"),
        format!(
            "{toml}:3:15: [store] synchronous = \"FULL\": expected \"normal\" or \"full\" (did you mean \"full\"?)"
        ),
        format!("{toml}:4:1: unknown key `max_agee` in [store] (did you mean `max_age`?)"),
        format!("{toml}:6:12: [session] idle_ttl = \"30 minutes\": unknown unit"),
        format!("{toml}:7:12: [session] max_live = 0: must be from 1 to 100000000"),
        format!("{toml}:9:19: redact.disabled_kinds: unknown kind `phnoe`"),
        format!("{toml}:13:1: rule `no-rm`: unknown field `comand` (did you mean `command`?)"),
    ];
    let rules_d = format!(
        "{}:1:2: `store` is a daemon setting: it belongs in hookd.toml",
        d.home().join("rules.d/mine.toml").display()
    );
    assert_eq!(at_start.len(), 8, "{at_start:#?}");
    let (toml_errors, rest) = at_start.split_at(7);
    // The unknown pack is found once the file's settings are read, after its own errors.
    let mut sorted: Vec<&String> = toml_errors.iter().collect();
    sorted.sort_by_key(|e| {
        expected_starts
            .iter()
            .position(|p| e.starts_with(p.as_str()))
            .unwrap_or_else(|| panic!("unexpected error {e}\n{at_start:#?}"))
    });
    for (e, want) in sorted.iter().zip(&expected_starts) {
        assert!(e.starts_with(want.as_str()), "{e}\nwanted\n{want}");
    }
    assert!(rest[0].starts_with(&rules_d), "{rest:?}");

    // `hookctl check` (the whole directory) prints exactly these, in the same order.
    let check = d.hookctl(&["check"]).unwrap();
    assert!(!check.status.success());
    let mut printed = lines(&check.stderr);
    let summary = printed.pop().unwrap();
    assert!(summary.starts_with("8 error(s) in "), "{summary}");
    assert_eq!(printed, at_start);

    // `hookctl check hookd.toml` prints hookd.toml's, the same strings.
    let check = d
        .hookctl(&["check", &d.home().join("hookd.toml").to_string_lossy()])
        .unwrap();
    assert!(!check.status.success());
    let mut printed = lines(&check.stderr);
    printed.pop();
    assert_eq!(printed, toml_errors);

    // hookd's log has them too, and `doctor` fails with them.
    let log = d.log();
    for e in &at_start {
        assert!(log.contains(e.as_str()), "not in the log: {e}\n{log}");
    }
    let doctor = d.hookctl(&["doctor"]).unwrap();
    assert!(!doctor.status.success());
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("did you mean `max_age`?"), "{text}");
}

#[test]
fn a_bad_setting_at_start_keeps_the_last_good_set_settings_included() {
    let good = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let mut d = TestDaemon::start_with(&[("hookd.toml", good)]).unwrap();
    assert!(rule_errors(&d.status().unwrap()).is_empty());
    assert!(d.home().join("state/http-port").exists());
    d.signal_and_wait(libc::SIGTERM).unwrap();

    // Edited while hookd was stopped: the listener removed and a bad value.
    std::fs::write(
        d.home().join("hookd.toml"),
        "[store]\nsynchronous = \"FULL\"\n",
    )
    .unwrap();
    d.spawn().unwrap();
    let status = d.status().unwrap();
    let errors = rule_errors(&status);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with(
            "hookd.toml:2:15: [store] synchronous = \"FULL\": expected \"normal\" or \"full\" (did you mean \"full\"?)"
        ),
        "{errors:?}"
    );
    assert!(
        status["hookd"]["rules_fallback"]
            .as_str()
            .is_some_and(|f| f.contains("last good rules")),
        "{status}"
    );
    // The last good hookd.toml is in force whole: its listener is up.
    wait_for(Duration::from_secs(10), "the HTTP listener", || {
        d.home().join("state/http-port").exists()
    })
    .unwrap();
    let human = d.hookctl(&["status"]).unwrap();
    assert!(!human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("RULES FALLBACK") && text.contains("synchronous"),
        "{text}"
    );
    // The log lists the values of the settings read at start, in force: the last good set's.
    let log = d.log();
    assert!(
        log.contains("settings read at start")
            && log.contains("store.synchronous = \"normal\"")
            && log.contains("http.listen = \"127.0.0.1:0\""),
        "{log}"
    );
}

#[test]
fn a_reload_cannot_change_a_setting_read_at_start_and_says_to_restart() {
    let mut d = TestDaemon::start_with(&[(
        "hookd.toml",
        "[session]\nidle_ttl = \"30m\"\n[run]\nmax_background = 2\n",
    )])
    .unwrap();
    // [run] applies on reload; the same idle_ttl written differently is no change.
    std::fs::write(
        d.home().join("hookd.toml"),
        "[session]\nidle_ttl = 1800\n[run]\nmax_background = 3\n",
    )
    .unwrap();
    let out = d.hookctl(&["reload"]).unwrap();
    assert!(out.status.success(), "{out:?}");

    std::fs::write(
        d.home().join("hookd.toml"),
        "[session]\nidle_ttl = \"1h\"\n[run]\nmax_background = 3\n",
    )
    .unwrap();
    let out = d.hookctl(&["reload"]).unwrap();
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "hookd.toml:2:1: `session.idle_ttl` = \"1h\" is read only at start: hookd keeps \"30m\""
        ) && err.contains("`hookctl restart`"),
        "{err}"
    );
    let status = d.status().unwrap();
    assert!(status["hookd"]["rules_fallback"].is_string(), "{status}");
    assert!(
        rule_errors(&status)[0].contains("read only at start"),
        "{status}"
    );
    // `hookctl check` finds nothing wrong with the file itself.
    assert!(d.hookctl(&["check"]).unwrap().status.success());

    // A restart applies it.
    d.signal_and_wait(libc::SIGTERM).unwrap();
    d.spawn().unwrap();
    let status = d.status().unwrap();
    assert!(rule_errors(&status).is_empty(), "{status}");
    assert!(status["hookd"]["rules_fallback"].is_null(), "{status}");
}

/// hook-client run against a socket that accepts and never answers, with `args` and `env`:
/// its stderr (it falls back by its fail mode at its deadline).
fn client_against_a_silent_socket(args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    // hook-client trusts only a private socket directory.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let socket = dir.path().join("silent.sock");
    // Never accepted: connections wait in the backlog, the request is never answered.
    let _listener = UnixListener::bind(&socket).unwrap();
    let mut cmd = Command::new(bin("hook-client"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("HOOKD_HOME", dir.path())
        .args(["--socket", &socket.to_string_lossy(), "--no-autostart"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let event = event_json(
        "PreToolUse",
        "deadline",
        &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
    );
    child.stdin.take().unwrap().write_all(&event).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(permission_decision(&out), "ask", "{out:?}");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_bare_number_deadline_is_seconds_for_hook_client() {
    // `--deadline 1` waits a second (it meant 1 ms before), as `hookctl install --deadline 1`.
    let (err, _) = client_against_a_silent_socket(&["--deadline", "1"], &[]);
    assert!(
        err.contains("no answer from hookd") && err.contains("within 1000 ms"),
        "{err}"
    );
    let (err, _) = client_against_a_silent_socket(&[], &[("HOOKD_DEADLINE", "0.5")]);
    assert!(err.contains("within 500 ms"), "{err}");
    let (err, _) = client_against_a_silent_socket(&["--deadline", "1s200ms"], &[]);
    assert!(err.contains("within 1200 ms"), "{err}");
    // A bad deadline is a usage error answered by the fail mode, saying why.
    let (err, _) = client_against_a_silent_socket(&["--deadline", "5 min"], &[]);
    assert!(err.contains("--deadline \"5 min\": unknown unit"), "{err}");
}
