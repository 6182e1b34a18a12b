//! The real Claude Code CLI (2.1.332) with `http` hooks pointed straight at hookd's HTTP
//! listener (no hook-client process), wired by `hookctl install --http`, against a fake
//! Messages API: a PreToolUse deny reaches the model as the tool_result, a UserPromptSubmit
//! context reaches the model's request, events are recorded with the CLI's session id, the
//! token travels through `allowedEnvVars` from the settings' `env` where install put it (no
//! variable exported: `--project` and user installs, and again after `hookctl http
//! rotate-token`), a wrong token is refused (the run goes on, nothing is recorded; with
//! `onFailure: "block"` the guard fails closed), and blocks hookd gives as exit 2 on the socket
//! path are honoured as JSON over HTTP.
//!
//! Skipped (loudly) only with `HOOKD_SKIP_CLAUDE=1`.

use std::collections::HashSet;
use std::time::Duration;

use hook_tests::claude::{run_claude, run_claude_args, skip_claude_tests, write_project_settings};
use hook_tests::fake_model::{FakeModel, Step};
use hook_tests::harness::{TestDaemon, wait_for};
use serde_json::{Value, json};

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// The variable the `Authorization` header expands (what `hookctl install --http` writes).
const TOKEN_ENV: &str = "HOOKD_HTTP_BEARER";

const HOOKD_TOML: &str = r#"
packs = []

[http]
listen = "127.0.0.1:0"

[[rule]]
name = "no-forbidden-echo"
event = "PreToolUse"
tool = "Bash"
command = 'echo\s+forbidden'
action = "deny"
reason = "HTTP-REAL-DENY: print something else"

[[rule]]
name = "prompt-context"
event = "UserPromptSubmit"
action = "context"
context = "HTTP-REAL-CTX: the branch policy says never commit to main"

[[rule]]
name = "start-context"
event = "SessionStart"
action = "context"
context = "CMD-REAL-CTX: SessionStart still goes through hook-client"
"#;

/// The events wired over HTTP in these tests.
const HTTP_EVENTS: &[&str] = &[
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolBatch",
    "Stop",
    "SessionEnd",
];

/// `hooks` for `settings.json`: an `http` handler per event of [`HTTP_EVENTS`], the token
/// from `$HOOKD_HTTP_BEARER`, `onFailure: "block"` on PreToolUse when asked.
fn hooks(url: &str, block_on_failure: bool) -> Value {
    let mut hooks = serde_json::Map::new();
    for event in HTTP_EVENTS {
        let mut handler = json!({
            "type": "http",
            "url": url,
            "headers": {"Authorization": format!("Bearer ${TOKEN_ENV}")},
            "allowedEnvVars": [TOKEN_ENV],
            "timeout": 30,
        });
        if block_on_failure && *event == "PreToolUse" {
            handler["onFailure"] = json!("block");
        }
        hooks.insert((*event).to_string(), json!([{ "hooks": [handler] }]));
    }
    Value::Object(hooks)
}

/// The daemon's HTTP hook URL and token.
fn endpoint(d: &TestDaemon) -> (String, String) {
    let port_file = d.home().join("state/http-port");
    wait_for(Duration::from_secs(10), "the http-port file", || {
        std::fs::read_to_string(&port_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .unwrap();
    let port = std::fs::read_to_string(&port_file).unwrap();
    let token = std::fs::read_to_string(d.home().join("state/http-token")).unwrap();
    (
        format!("http://127.0.0.1:{}/hook", port.trim()),
        token.trim().to_string(),
    )
}

#[test]
fn claude_code_http_hooks_reach_hookd() {
    if skip_claude_tests("claude_code_http_hooks_reach_hookd") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", HOOKD_TOML)]).unwrap();
    let (url, token) = endpoint(&d);
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // The settings `hookctl install --http` writes: http hooks for every event but
    // SessionStart and Setup (hook-client), onFailure "block" on the guard events, and the
    // token in the personal settings.local.json: nothing is exported below.
    let install = d
        .hookctl(&[
            "install",
            "--http",
            "--http-url",
            &url,
            "--project",
            "--dir",
            project.path().to_str().unwrap(),
        ])
        .unwrap();
    assert!(install.status.success(), "{install:?}");
    let settings: Value = serde_json::from_slice(
        &std::fs::read(project.path().join(".claude/settings.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        settings["hooks"]["PreToolUse"][0]["hooks"][0],
        json!({
            "type": "http",
            "url": url,
            "headers": {"Authorization": format!("Bearer ${TOKEN_ENV}")},
            "allowedEnvVars": [TOKEN_ENV],
            "timeout": 10,
            "onFailure": "block",
        })
    );
    assert_eq!(
        settings["hooks"]["SessionStart"][0]["hooks"][0]["type"],
        json!("command")
    );
    assert!(settings.get("env").is_none(), "{settings}");
    let local: Value = serde_json::from_slice(
        &std::fs::read(project.path().join(".claude/settings.local.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(local["env"][TOKEN_ENV], json!(token), "{local}");
    let model = FakeModel::start(vec![
        Step::bash("echo forbidden"),
        Step::bash("echo allowed-output-marker"),
        Step::text("all done"),
    ])
    .unwrap();
    let hookd_home = d.home().to_str().unwrap().to_string();
    let run = run_claude(
        project.path(),
        home.path(),
        "run the two commands",
        &model.base_url(),
        &[("HOOKD_HOME", &hookd_home), ("HOOKD_NO_AUTOSTART", "1")],
        RUN_TIMEOUT,
    )
    .unwrap();
    run.ensure_success().unwrap();
    let session = run.session_id().expect("session id").to_string();

    // (a) The deny came back over HTTP and the model saw its reason.
    let results = model.tool_results();
    let denied = results
        .iter()
        .find(|r| r.to_string().contains("HTTP-REAL-DENY"))
        .unwrap_or_else(|| panic!("no tool_result carries the reason: {results:#?}\n{run}"));
    assert_eq!(denied["is_error"], json!(true), "{denied}");
    assert!(
        results
            .iter()
            .any(|r| r.to_string().contains("allowed-output-marker")),
        "{results:#?}"
    );

    // (b) The UserPromptSubmit context (HTTP) and the SessionStart one (hook-client) reached
    // the model.
    let text = model.all_text();
    assert!(
        text.contains("HTTP-REAL-CTX"),
        "no HTTP context in any request"
    );
    assert!(
        text.contains("CMD-REAL-CTX"),
        "no SessionStart context in any request"
    );

    // (c) Every event is recorded with the CLI's session id (SessionEnd arrives as the CLI
    // exits).
    let wanted = [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "PostToolBatch",
        "Stop",
        "SessionEnd",
    ];
    let mut seen = HashSet::new();
    wait_for(Duration::from_secs(10), "SessionEnd recorded", || {
        seen = d
            .events(1000, &["--session", &session])
            .unwrap()
            .iter()
            .filter_map(|r| r["event"].as_str().map(str::to_string))
            .collect();
        wanted.iter().all(|w| seen.contains(*w))
    })
    .unwrap_or_else(|e| panic!("{e}: recorded {seen:?}\n{}", d.log()));
    let rows = d.events(1000, &["--session", &session]).unwrap();
    let pre: Vec<_> = rows.iter().filter(|r| r["event"] == "PreToolUse").collect();
    assert_eq!(pre.len(), 2, "{pre:#?}");
    assert!(
        pre.iter()
            .any(|r| r["verdict"] == "deny" && r["rules"] == json!(["no-forbidden-echo"]))
    );
    assert!(
        rows.iter()
            .any(|r| r["event"] == "UserPromptSubmit" && r["verdict"] == "context")
    );
    assert!(!d.log().contains("HTTP request refused"), "{}", d.log());

    // (d) After `hookctl http rotate-token`, a new session gets the new token from the same
    // settings file: still answered, nothing refused.
    let out = d.hookctl(&["http", "rotate-token"]).unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_, rotated) = endpoint(&d);
    assert_ne!(rotated, token);
    let model =
        FakeModel::start(vec![Step::bash("echo forbidden"), Step::text("all done")]).unwrap();
    let run = run_claude(
        project.path(),
        home.path(),
        "run it",
        &model.base_url(),
        &[("HOOKD_HOME", &hookd_home), ("HOOKD_NO_AUTOSTART", "1")],
        RUN_TIMEOUT,
    )
    .unwrap();
    run.ensure_success().unwrap();
    assert!(
        model
            .tool_results()
            .iter()
            .any(|r| r.to_string().contains("HTTP-REAL-DENY")),
        "{:#?}\n{run}",
        model.tool_results()
    );
    assert!(!d.log().contains("HTTP request refused"), "{}", d.log());
}

/// A user install (`~/.claude/settings.json` holds the hooks and the token), nothing exported,
/// no project settings: the guard answers over HTTP.
#[test]
fn a_user_install_over_http_needs_nothing_exported() {
    if skip_claude_tests("a_user_install_over_http_needs_nothing_exported") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", HOOKD_TOML)]).unwrap();
    let (url, token) = endpoint(&d);
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = d
        .command("hookctl")
        .env("HOME", home.path())
        .args(["install", "--http", "--http-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let user = home.path().join(".claude/settings.json");
    let settings: Value = serde_json::from_slice(&std::fs::read(&user).unwrap()).unwrap();
    assert_eq!(settings["env"][TOKEN_ENV], json!(token), "{settings}");
    let model =
        FakeModel::start(vec![Step::bash("echo forbidden"), Step::text("all done")]).unwrap();
    let hookd_home = d.home().to_str().unwrap().to_string();
    let run = run_claude(
        project.path(),
        home.path(),
        "run it",
        &model.base_url(),
        &[("HOOKD_HOME", &hookd_home), ("HOOKD_NO_AUTOSTART", "1")],
        RUN_TIMEOUT,
    )
    .unwrap();
    run.ensure_success().unwrap();
    let results = model.tool_results();
    assert!(
        results
            .iter()
            .any(|r| r.to_string().contains("HTTP-REAL-DENY")),
        "{results:#?}\n{run}"
    );
    let session = run.session_id().unwrap().to_string();
    let rows = d.events(100, &["--session", &session]).unwrap();
    assert!(
        rows.iter()
            .any(|r| r["event"] == "PreToolUse" && r["verdict"] == "deny"),
        "{rows:#?}"
    );
    assert!(!d.log().contains("HTTP request refused"), "{}", d.log());
}

#[test]
fn a_wrong_token_is_refused_and_the_guard_fails_closed() {
    if skip_claude_tests("a_wrong_token_is_refused_and_the_guard_fails_closed") {
        return;
    }
    let d = TestDaemon::start_with(&[("hookd.toml", HOOKD_TOML)]).unwrap();
    let (url, token) = endpoint(&d);
    let wrong = if token.starts_with('f') { "e" } else { "f" }.repeat(token.len());
    assert_ne!(wrong, token);
    let hookd_home = d.home().to_str().unwrap().to_string();
    let before = d.status().unwrap()["hookd"]["events_since_start"].clone();

    // Without onFailure: every HTTP hook fails (403), non-blocking; the run goes on and the
    // command runs (a dead or unreachable daemon fails open: hence install's onFailure).
    // With onFailure:"block" on PreToolUse: the same refusal blocks the tool.
    for block_on_failure in [false, true] {
        let project = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let hooks = hooks(&url, block_on_failure);
        write_project_settings(project.path(), &json!({ "hooks": hooks })).unwrap();
        let model = FakeModel::start(vec![
            Step::bash("echo forbidden-but-unguarded"),
            Step::text("all done"),
        ])
        .unwrap();
        let run = run_claude(
            project.path(),
            home.path(),
            "run it",
            &model.base_url(),
            &[
                ("HOOKD_HOME", &hookd_home),
                ("HOOKD_NO_AUTOSTART", "1"),
                (TOKEN_ENV, &wrong),
            ],
            RUN_TIMEOUT,
        )
        .unwrap();
        run.ensure_success().unwrap();
        let session = run.session_id().unwrap().to_string();
        let results = model.tool_results();
        assert_eq!(results.len(), 1, "{results:#?}");
        let ran = results[0]["content"]
            .to_string()
            .contains("forbidden-but-unguarded");
        assert_eq!(
            ran, !block_on_failure,
            "onFailure={block_on_failure}: {results:#?}"
        );
        if block_on_failure {
            assert_eq!(results[0]["is_error"], json!(true), "{results:#?}");
        }
        // Nothing was evaluated or recorded for this session.
        assert!(d.events(100, &["--session", &session]).unwrap().is_empty());
    }
    assert_eq!(
        d.status().unwrap()["hookd"]["events_since_start"],
        before,
        "refused requests must not be evaluated"
    );
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("HTTP request refused") && l.contains("reason=\"wrong_token\"")),
        "{log}"
    );
}

/// One run of the CLI whose only hook is an `http` handler for `event`, against a daemon whose
/// only rule blocks `event` with "XBLOCK-REASON". With `resume`, a first run makes a
/// conversation and the prompt is sent to it with `--resume` (so `/compact` has work to do).
fn block_over_http(
    event: &str,
    prompt: &str,
    script: Vec<Step>,
    resume: bool,
) -> (Value, FakeModel) {
    let toml = format!(
        "packs = []\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[rule]]\nname = \"b\"\n\
         event = \"{event}\"\naction = \"block\"\nreason = \"XBLOCK-REASON\"\n"
    );
    let d = TestDaemon::start_with(&[("hookd.toml", &toml)]).unwrap();
    let (url, token) = endpoint(&d);
    let hookd_home = d.home().to_str().unwrap().to_string();
    let handler = json!({
        "type": "http",
        "url": url,
        "headers": {"Authorization": format!("Bearer ${TOKEN_ENV}")},
        "allowedEnvVars": [TOKEN_ENV],
    });
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let commands = project.path().join(".claude/commands");
    std::fs::create_dir_all(&commands).unwrap();
    std::fs::write(commands.join("hello.md"), "Say hello to $ARGUMENTS\n").unwrap();
    write_project_settings(
        project.path(),
        &json!({ "hooks": { event: [{ "hooks": [handler] }] } }),
    )
    .unwrap();
    let env = [
        ("HOOKD_HOME", hookd_home.as_str()),
        ("HOOKD_NO_AUTOSTART", "1"),
        (TOKEN_ENV, token.as_str()),
    ];
    let mut args = Vec::new();
    if resume {
        let first = FakeModel::start(vec![Step::text("first answer")]).unwrap();
        let run = run_claude(
            project.path(),
            home.path(),
            "first prompt",
            &first.base_url(),
            &env,
            RUN_TIMEOUT,
        )
        .unwrap();
        run.ensure_success().unwrap();
        args = vec![
            "--resume".to_string(),
            run.session_id().unwrap().to_string(),
        ];
    }
    let model = FakeModel::start(script).unwrap();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_claude_args(
        project.path(),
        home.path(),
        prompt,
        &model.base_url(),
        &env,
        &args,
        RUN_TIMEOUT,
    )
    .unwrap();
    let json = run.ensure_success().unwrap().clone();
    let rows = d.events(100, &["--event", event]).unwrap();
    assert!(
        rows.iter().any(|r| r["verdict"] == "block"),
        "{event} not recorded as a block: {rows:#?}\n{run}"
    );
    (json, model)
}

/// hookd answers these events with exit 2 on the socket path; over HTTP the same verdict goes
/// out as `{"decision":"block","reason":…}`, and the CLI honours it the way it honours exit 2.
#[test]
fn exit_2_blocks_are_honoured_as_json_over_http() {
    if skip_claude_tests("exit_2_blocks_are_honoured_as_json_over_http") {
        return;
    }
    // PostToolUseFailure: the reason reaches the model as a blocking error.
    let (_, model) = block_over_http(
        "PostToolUseFailure",
        "run it",
        vec![
            Step::bash("echo failing; exit 3"),
            Step::text("after failure"),
        ],
        false,
    );
    let text = model.all_text();
    assert!(
        text.contains("PostToolUseFailure:Bash hook blocking error")
            && text.contains("XBLOCK-REASON"),
        "{text}"
    );

    // PostToolBatch: the agent loop stops before the next model request.
    let (json, model) = block_over_http(
        "PostToolBatch",
        "run it",
        vec![Step::bash("echo batch"), Step::text("after batch")],
        false,
    );
    assert_eq!(json["terminal_reason"], json!("hook_stopped"), "{json}");
    assert_eq!(model.main_requests().len(), 1);

    // UserPromptExpansion: the slash command is not expanded, no model call.
    let (json, model) = block_over_http(
        "UserPromptExpansion",
        "/hello world",
        vec![Step::text("expanded")],
        false,
    );
    let result = json["result"].as_str().unwrap();
    assert!(
        // The reason names hookd and the rule (`b`).
        result.starts_with(
            "UserPromptExpansion operation blocked by hook:\nhookd: b — XBLOCK-REASON"
        ),
        "{json}"
    );
    assert!(model.requests().is_empty());

    // PreCompact: compaction is refused.
    let (json, model) =
        block_over_http("PreCompact", "/compact", vec![Step::text("summary")], true);
    let result = json["result"].as_str().unwrap();
    assert!(
        result.starts_with("Compaction blocked by PreCompact hook:")
            && result.contains("XBLOCK-REASON"),
        "{json}"
    );
    assert!(model.requests().is_empty());
}
