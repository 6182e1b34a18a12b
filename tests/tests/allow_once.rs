//! Allow-once (`hookctl allow CODE`): a denied command approved by the user for one use, a
//! session or a window, in one project only, recorded with who and when, surviving a restart,
//! never lifting a fail-closed verdict, and never granted from inside Claude Code.

use std::process::Output;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, pause, permission_decision};
use serde_json::{Value, json};

const RULES: &str = r#"
[[rule]]
name = "no-danger"
event = "PreToolUse"
tool = "Bash"
command = '^danger\b'
action = "deny"
reason = "DANGER-REASON"

[[rule]]
name = "ask-careful"
event = "PreToolUse"
tool = "Bash"
command = '^careful\b'
action = "ask"
reason = "CAREFUL-REASON"

[[rule]]
name = "stateful-deny"
event = "PreToolUse"
tool = "Bash"
command = '^stateful\b'
action = "deny"
reason = "STATEFUL-REASON"
[rule.session]
rate = { max = 100, window = "1h" }
"#;

fn bash(d: &TestDaemon, session: &str, project: &str, cmd: &str) -> Output {
    let ev = event_json(
        "PreToolUse",
        session,
        &json!({"cwd": project, "tool_name": "Bash",
                "tool_input": {"command": cmd, "description": "x"}}),
    );
    d.hook(&ev, &[]).unwrap()
}

fn reason(out: &Output) -> String {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The code at the end of a reason: `(allow once: hookctl allow CODE)`.
fn code_of(out: &Output) -> String {
    let r = reason(out);
    let tail = r
        .rsplit_once("(allow once: hookctl allow ")
        .unwrap_or_else(|| panic!("no allow-once code in {r:?}"))
        .1;
    let code = tail.trim_end_matches(')').to_string();
    assert_eq!(code.len(), 5, "{r}");
    code
}

fn allow(d: &TestDaemon, args: &[&str]) -> Output {
    let mut a = vec!["allow"];
    a.extend_from_slice(args);
    d.hookctl(&a).unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn list(d: &TestDaemon, all: bool) -> Vec<Value> {
    let mut args = vec!["--list", "--json"];
    if all {
        args.push("--all");
    }
    serde_json::from_str(&ok(&allow(d, &args))).unwrap()
}

#[test]
fn once_lets_exactly_one_retry_through_and_is_recorded() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let p = "/tmp/allow-once-project";
    let first = bash(&d, "s1", p, "danger --now");
    assert_eq!(permission_decision(&first), "deny");
    assert!(
        reason(&first).starts_with("hookd: no-danger — DANGER-REASON (allow once: hookctl allow ")
    );
    let code = code_of(&first);
    // The same call refused again keeps its code; another call gets another.
    assert_eq!(code_of(&bash(&d, "s1", p, "danger --now")), code);
    assert_ne!(code_of(&bash(&d, "s1", p, "danger --later")), code);

    let said = ok(&allow(&d, &[&code]));
    assert!(said.contains("allowed once"), "{said}");
    // The code is used up by granting it.
    assert!(!allow(&d, &[&code]).status.success());

    // Another command still denied; the approved one passes once (no verdict from hookd),
    // then is denied again.
    assert_eq!(
        permission_decision(&bash(&d, "s1", p, "danger --later")),
        "deny"
    );
    let retried = bash(&d, "s2", p, "  danger --now  ");
    assert_eq!(permission_decision(&retried), "", "{retried:?}");
    let v: Value = serde_json::from_slice(&retried.stdout).unwrap_or(Value::Null);
    assert!(
        v["systemMessage"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("hookctl allow {code}"))),
        "the user is told: {v}"
    );
    assert_eq!(
        permission_decision(&bash(&d, "s1", p, "danger --now")),
        "deny"
    );

    // Recorded: who, when, scope, one use; the event's reason says what let it through.
    let rows = list(&d, true);
    let row = rows.iter().find(|r| r["code"] == code.as_str()).unwrap();
    assert_eq!(row["scope"], "once");
    assert_eq!(row["status"], "used");
    assert_eq!(row["uses"], 1);
    assert_eq!(row["uid"], unsafe_euid());
    assert!(!row["user"].as_str().unwrap().is_empty());
    assert!(row["created_ms"].as_i64().unwrap() > 0);
    assert_eq!(row["summary"], "danger --now");
    assert_eq!(row["project"], p);
    assert!(list(&d, false).is_empty(), "nothing live left");
    let evs = d.events(20, &["--session", "s2"]).unwrap();
    assert!(
        evs.iter().any(|e| e["verdict"] == "warn"
            && e["reason"]
                .as_str()
                .is_some_and(|r| r.contains(&format!("allowed by `hookctl allow {code}`")))),
        "{evs:?}"
    );
}

fn unsafe_euid() -> u32 {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    unsafe {
        libc::geteuid()
    }
}

#[test]
fn an_ask_can_be_allowed_too_and_only_in_its_project() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let (a, b) = ("/tmp/allow-project-a", "/tmp/allow-project-b");
    let first = bash(&d, "s1", a, "careful rm");
    assert_eq!(permission_decision(&first), "ask");
    ok(&allow(&d, &[&code_of(&first)]));
    // The same command in another project: still asked, and the grant is not spent.
    assert_eq!(permission_decision(&bash(&d, "s1", b, "careful rm")), "ask");
    assert_eq!(permission_decision(&bash(&d, "s1", a, "careful rm")), "");
    assert_eq!(permission_decision(&bash(&d, "s1", a, "careful rm")), "ask");
}

#[test]
fn session_scope_covers_the_rest_of_that_session_only() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let p = "/tmp/allow-session-project";
    let code = code_of(&bash(&d, "sess-a", p, "danger x"));
    let said = ok(&allow(&d, &["--session", &code]));
    assert!(said.contains("for the rest of session sess-a"), "{said}");
    for _ in 0..3 {
        assert_eq!(permission_decision(&bash(&d, "sess-a", p, "danger x")), "");
    }
    assert_eq!(
        permission_decision(&bash(&d, "sess-b", p, "danger x")),
        "deny"
    );
    // --session and --for together are refused by hookctl.
    let code2 = code_of(&bash(&d, "sess-b", p, "danger y"));
    assert!(
        !allow(&d, &["--session", "--for", "10m", &code2])
            .status
            .success()
    );
}

#[test]
fn a_window_lapses_and_a_grant_can_be_revoked() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let p = "/tmp/allow-window-project";
    // A window of one second: through in any session, then denied once it is over.
    let code = code_of(&bash(&d, "w1", p, "danger short"));
    ok(&allow(&d, &["--for", "1s", &code]));
    assert_eq!(permission_decision(&bash(&d, "w2", p, "danger short")), "");
    pause(Duration::from_millis(1500));
    let after = bash(&d, "w2", p, "danger short");
    assert_eq!(permission_decision(&after), "deny");
    let rows = list(&d, true);
    assert_eq!(
        rows.iter().find(|r| r["code"] == code.as_str()).unwrap()["status"],
        "expired"
    );
    // A ten-minute window, revoked.
    let code = code_of(&bash(&d, "w1", p, "danger long"));
    let said = ok(&allow(&d, &["--for", "10m", &code]));
    assert!(
        said.contains("allowed for 9m") || said.contains("allowed for 10m"),
        "{said}"
    );
    assert_eq!(permission_decision(&bash(&d, "w3", p, "danger long")), "");
    let live = list(&d, false);
    assert_eq!(live.len(), 1, "{live:?}");
    let id = live[0]["id"].as_i64().unwrap().to_string();
    ok(&allow(&d, &["--revoke", &id]));
    assert_eq!(
        permission_decision(&bash(&d, "w3", p, "danger long")),
        "deny"
    );
    assert!(list(&d, false).is_empty());
    assert!(
        !allow(&d, &["--revoke", &id]).status.success(),
        "revoked twice"
    );
    // Bad windows are refused.
    let code = code_of(&bash(&d, "w1", p, "danger bad"));
    assert!(!allow(&d, &["--for", "30d", &code]).status.success());
    assert!(!allow(&d, &["--for", "soon", &code]).status.success());
}

#[test]
fn unknown_codes_and_fail_closed_verdicts_are_never_allowed() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let p = "/tmp/allow-closed-project";
    let out = allow(&d, &["abcde"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown or expired code"),
        "{out:?}"
    );
    assert!(!allow(&d, &["not-a-code"]).status.success());
    // With a session, the stateful rule's rate is under its limit: no match.
    assert_eq!(permission_decision(&bash(&d, "s1", p, "stateful op")), "");
    // Without a usable session id it fails closed: denied, and no code is offered.
    let closed = bash(&d, "", p, "stateful op");
    assert_eq!(permission_decision(&closed), "deny");
    assert!(reason(&closed).contains("STATEFUL-REASON"));
    assert!(
        !reason(&closed).contains("allow once"),
        "{}",
        reason(&closed)
    );
}

#[test]
fn an_approval_asked_from_inside_claude_code_is_refused() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let code = code_of(&bash(&d, "s1", "/tmp/allow-self", "danger self"));
    // hookctl run by the agent's Bash tool (CLAUDECODE=1), directly and through a child
    // that drops the variable.
    let direct = d
        .command("hookctl")
        .args(["allow", &code])
        .env("CLAUDECODE", "1")
        .output()
        .unwrap();
    assert!(!direct.status.success());
    assert!(
        String::from_utf8_lossy(&direct.stderr).contains("inside a Claude Code session"),
        "{direct:?}"
    );
    let hookctl = hook_tests::harness::bin("hookctl");
    // `; exit $?` keeps the shell from replacing itself with the command: the shell (with
    // CLAUDECODE=1) stays hookctl's parent.
    let nested = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            &format!(
                "env -u CLAUDECODE {} allow {code}; exit $?",
                hookctl.display()
            ),
        ])
        .env("CLAUDECODE", "1")
        .env("HOOKD_HOME", d.home())
        .output()
        .unwrap();
    assert!(!nested.status.success(), "{nested:?}");
    // The code still works for the user.
    ok(&allow(&d, &[&code]));
}

#[test]
fn grants_survive_a_restart_and_a_used_one_stays_used() {
    let mut d = TestDaemon::start_with(&[("hookd.toml", RULES)]).unwrap();
    let p = "/tmp/allow-restart-project";
    let window = code_of(&bash(&d, "r1", p, "danger window"));
    ok(&allow(&d, &["--for", "1h", &window]));
    let once = code_of(&bash(&d, "r1", p, "danger once"));
    ok(&allow(&d, &[&once]));
    let unused = code_of(&bash(&d, "r1", p, "danger unused"));
    ok(&allow(&d, &[&unused]));
    let session = code_of(&bash(&d, "r1", p, "danger session"));
    ok(&allow(&d, &["--session", &session]));
    assert_eq!(permission_decision(&bash(&d, "r1", p, "danger once")), "");
    // A hard kill right after the use: the use was committed with the event.
    d.kill9().unwrap();
    d.spawn().unwrap();
    assert_eq!(permission_decision(&bash(&d, "r2", p, "danger window")), "");
    assert_eq!(
        permission_decision(&bash(&d, "r2", p, "danger once")),
        "deny"
    );
    assert_eq!(permission_decision(&bash(&d, "r2", p, "danger unused")), "");
    assert_eq!(
        permission_decision(&bash(&d, "r2", p, "danger unused")),
        "deny"
    );
    assert_eq!(
        permission_decision(&bash(&d, "r1", p, "danger session")),
        ""
    );
    assert_eq!(
        permission_decision(&bash(&d, "r2", p, "danger session")),
        "deny"
    );
    // Codes waiting for approval do not survive it.
    let code = code_of(&bash(&d, "r2", p, "danger pending"));
    d.signal_and_wait(libc::SIGTERM).unwrap();
    d.spawn().unwrap();
    assert!(!allow(&d, &[&code]).status.success());
}

#[test]
fn the_fail_mode_is_never_allowed() {
    // No good rules ever loaded (a typo, no last good set): PreToolUse gets the fail mode
    // (`ask`), which offers no code; nor does anything else while the fail mode is in force.
    let d = TestDaemon::start_with(&[(
        "rules.d/mine.toml",
        "[[rule]]\nname = \"typo\"\ncomand = 'x'\naction = \"deny\"\n",
    )])
    .unwrap();
    let out = bash(&d, "f1", "/tmp/allow-failmode", "ls");
    assert_eq!(permission_decision(&out), "ask", "{out:?}");
    assert!(reason(&out).contains("no good rules"), "{}", reason(&out));
    assert!(!reason(&out).contains("allow once"), "{}", reason(&out));
}
