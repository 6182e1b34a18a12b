//! Proves the Claude Code test harness works, without hookd: the real CLI against the fake
//! Messages API, with small shell-script hooks written into a temp project.
//!
//! Tests that need the CLI are skipped (loudly) only when `HOOKD_SKIP_CLAUDE=1`; otherwise a
//! failure to install the CLI fails them. The fake-model protocol tests never need the CLI.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use hook_tests::claude::{
    ALL_HOOK_EVENTS, ClaudeRun, hooks_for_events, read_jsonl, run_claude, skip_claude_tests,
    write_hooks_settings, write_logging_hook, write_script,
};
use hook_tests::fake_model::{FakeConfig, FakeModel, Step, ToolCall};
use serde_json::{Value, json};
use tempfile::TempDir;

const RUN_TIMEOUT: Duration = Duration::from_secs(60);

struct Env {
    home: TempDir,
    project: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            home: TempDir::new().unwrap(),
            project: TempDir::new().unwrap(),
        }
    }

    fn project(&self) -> &Path {
        self.project.path()
    }

    fn run(&self, model: &FakeModel, prompt: &str) -> ClaudeRun {
        let run = run_claude(
            self.project(),
            self.home.path(),
            prompt,
            &model.base_url(),
            &[],
            RUN_TIMEOUT,
        )
        .unwrap();
        run.ensure_success().unwrap();
        eprintln!("claude run took {:?}", run.elapsed);
        run
    }
}

/// The last `tool_result` block in a request body (in its latest `user` message).
fn last_tool_result(body: &Value) -> Value {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|b| b["type"] == "tool_result")
        .cloned()
        .unwrap_or_else(|| panic!("no tool_result in {body}"))
}

/// A tool_result's content as text (it may be a string or a list of text blocks).
fn content_text(block: &Value) -> String {
    match &block["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[test]
fn logging_hook_sees_every_event_of_a_bash_call() {
    if skip_claude_tests("logging_hook_sees_every_event_of_a_bash_call") {
        return;
    }
    let env = Env::new();
    let log = env.project().join("events.jsonl");
    let hook = env.project().join("log-hook.sh");
    write_logging_hook(&hook, &log).unwrap();
    write_hooks_settings(
        env.project(),
        &hooks_for_events(ALL_HOOK_EVENTS, hook.to_str().unwrap()),
    )
    .unwrap();
    let model = FakeModel::start(vec![Step::bash("echo hello"), Step::text("all done")]).unwrap();

    let run = env.run(&model, "please say hello");
    let session_id = run.session_id().expect("session_id in the JSON result");
    assert_eq!(run.result_text(), Some("all done"));

    // The model saw the command's output.
    let second = model
        .request_for_step(1)
        .expect("a request after the tool call");
    let result = last_tool_result(&second);
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(content_text(&result).trim(), "hello");

    let lines = read_jsonl(&log).unwrap();
    let events: Vec<&str> = lines
        .iter()
        .map(|l| l["input"]["hook_event_name"].as_str().unwrap())
        .collect();
    eprintln!("hook events in order: {events:?}");
    let project = env.project().canonicalize().unwrap();
    for line in &lines {
        let input = &line["input"];
        assert_eq!(input["session_id"], session_id, "{line}");
        assert_eq!(line["env"]["CLAUDE_CODE_SESSION_ID"], session_id, "{line}");
        assert_eq!(
            line["env"]["CLAUDE_PROJECT_DIR"],
            project.to_str().unwrap(),
            "{line}"
        );
        assert_eq!(line["pwd"], project.to_str().unwrap(), "{line}");
        assert_eq!(input["cwd"], project.to_str().unwrap(), "{line}");
    }
    // Each expected event fired, in this order.
    let expected = [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ];
    let mut positions = Vec::new();
    for name in expected {
        let pos = events
            .iter()
            .position(|e| *e == name)
            .unwrap_or_else(|| panic!("{name} missing from {events:?}"));
        positions.push(pos);
    }
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "events out of order: {events:?}"
    );
    let pre = &lines[positions[2]]["input"];
    assert_eq!(pre["tool_name"], "Bash");
    assert_eq!(pre["tool_input"]["command"], "echo hello");
    let post = &lines[positions[3]]["input"];
    assert_eq!(post["tool_response"]["stdout"], "hello");
    assert_eq!(pre["tool_use_id"], post["tool_use_id"]);
}

#[test]
fn pre_tool_use_json_deny_reaches_the_model() {
    if skip_claude_tests("pre_tool_use_json_deny_reaches_the_model") {
        return;
    }
    let env = Env::new();
    let hook = env.project().join("deny.sh");
    write_script(
        &hook,
        "#!/bin/sh\ncat >/dev/null\necho '{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\
         \"permissionDecision\":\"deny\",\"permissionDecisionReason\":\"NOPE-REASON\"}}'\n",
    )
    .unwrap();
    write_hooks_settings(
        env.project(),
        &json!({"PreToolUse": [{"matcher": "Bash", "hooks": [
            {"type": "command", "command": hook.to_str().unwrap()}
        ]}]}),
    )
    .unwrap();
    let marker = env.project().join("must-not-exist");
    let model = FakeModel::start(vec![
        Step::bash(format!("touch {}", marker.display())),
        Step::text("ok, not doing it"),
    ])
    .unwrap();

    let run = env.run(&model, "touch the marker");

    let second = model
        .request_for_step(1)
        .expect("a request after the tool call");
    let result = last_tool_result(&second);
    eprintln!("tool_result after deny: {result}");
    assert_eq!(result["is_error"], true, "{result}");
    assert_eq!(
        content_text(&result),
        "PreToolUse:Bash hook error: NOPE-REASON"
    );
    assert!(!marker.exists(), "the denied command ran");
    eprintln!(
        "permission_denials: {}",
        run.json.as_ref().unwrap()["permission_denials"]
    );
}

#[test]
fn session_start_additional_context_reaches_the_model() {
    if skip_claude_tests("session_start_additional_context_reaches_the_model") {
        return;
    }
    let env = Env::new();
    let hook = env.project().join("ctx.sh");
    write_script(
        &hook,
        "#!/bin/sh\ncat >/dev/null\necho '{\"hookSpecificOutput\":{\"hookEventName\":\"SessionStart\",\
         \"additionalContext\":\"CTX-MARKER\"}}'\n",
    )
    .unwrap();
    write_hooks_settings(
        env.project(),
        &json!({"SessionStart": [{"hooks": [
            {"type": "command", "command": hook.to_str().unwrap()}
        ]}]}),
    )
    .unwrap();
    let model = FakeModel::start(vec![Step::text("hi")]).unwrap();

    env.run(&model, "hello");

    let first = model.request_for_step(0).expect("the first model request");
    let text = first.to_string();
    assert!(
        text.contains("SessionStart hook additional context: CTX-MARKER"),
        "CTX-MARKER missing from the first request: {text:.3000}"
    );
    assert!(model.all_text().contains("CTX-MARKER"));
}

/// `prompt` hooks make side requests to the model (no tools; the Stop one carries the whole
/// transcript, assistant messages included). They must not shift the script.
#[test]
fn side_requests_do_not_shift_the_script() {
    if skip_claude_tests("side_requests_do_not_shift_the_script") {
        return;
    }
    let env = Env::new();
    write_hooks_settings(
        env.project(),
        &json!({
            "PreToolUse": [{"matcher": "Bash", "hooks": [
                {"type": "prompt", "prompt": "Is this tool call fine? $ARGUMENTS"}
            ]}],
            "Stop": [{"hooks": [{"type": "prompt", "prompt": "May we stop? $ARGUMENTS"}]}],
        }),
    )
    .unwrap();
    let model = FakeModel::start(vec![
        Step::ToolUses(vec![
            ToolCall {
                name: "Bash".to_owned(),
                input: json!({"command": "echo one"}),
            },
            ToolCall {
                name: "Bash".to_owned(),
                input: json!({"command": "echo two"}),
            },
        ]),
        Step::bash("echo three"),
        Step::text("FINAL-TEXT"),
    ])
    .unwrap();

    let run = env.run(&model, "go");
    assert_eq!(run.result_text(), Some("FINAL-TEXT"));

    let recorded = model.recorded();
    let steps: Vec<Option<usize>> = recorded.iter().map(|r| r.step).collect();
    eprintln!("steps answered: {steps:?}");
    let main: Vec<usize> = steps.iter().flatten().copied().collect();
    assert_eq!(main, vec![0, 1, 2], "agent-loop requests: {steps:?}");
    // Three PreToolUse prompt hooks and one Stop prompt hook.
    assert_eq!(steps.iter().filter(|s| s.is_none()).count(), 4, "{steps:?}");
    let last = model.request_for_step(2).unwrap();
    assert_eq!(content_text(&last_tool_result(&last)).trim(), "three");
    let both = model.request_for_step(1).unwrap().to_string();
    assert!(both.contains(r#""content":"one""#) && both.contains(r#""content":"two""#));
}

// ---- Fake model protocol checks (no CLI needed) ----

fn http(model: &FakeModel, method: &str, path: &str, body: &str) -> (String, String) {
    let addr = model.base_url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// Parses an SSE body into (event name, data) pairs.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut lines = e.lines();
            let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            (name.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

fn main_request(assistants: usize) -> String {
    let mut messages = vec![json!({"role": "user", "content": "hi"})];
    for _ in 0..assistants {
        messages.push(json!({"role": "assistant", "content": [{"type": "text", "text": "x"}]}));
        messages.push(json!({"role": "user", "content": "more"}));
    }
    messages.push(json!({"role": "system", "content": "env"}));
    json!({"model": "m", "stream": true, "messages": messages, "tools": [{"name": "Bash"}]})
        .to_string()
}

#[test]
fn fake_model_streams_the_script_by_assistant_count() {
    let model = FakeModel::start(vec![
        Step::bash("echo hi"),
        Step::ToolUses(vec![
            ToolCall {
                name: "Read".to_owned(),
                input: json!({"file_path": "/a"}),
            },
            ToolCall {
                name: "Read".to_owned(),
                input: json!({"file_path": "/b"}),
            },
        ]),
        Step::text("bye"),
    ])
    .unwrap();

    let (head, body) = http(&model, "POST", "/v1/messages?beta=true", &main_request(0));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &events[1].1["content_block"];
    assert_eq!(start["type"], "tool_use");
    assert_eq!(start["name"], "Bash");
    assert!(start["id"].as_str().unwrap().starts_with("toolu_01"));
    let partial = events[2].1["delta"]["partial_json"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(partial).unwrap()["command"],
        "echo hi"
    );
    assert_eq!(events[4].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[0].1["message"]["model"], "m");

    // Step 1: two tool uses with distinct ids, indices 0 and 1.
    let (_, body) = http(&model, "POST", "/v1/messages", &main_request(1));
    let starts: Vec<Value> = sse_events(&body)
        .into_iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0]["index"], 0);
    assert_eq!(starts[1]["index"], 1);
    assert_ne!(
        starts[0]["content_block"]["id"],
        starts[1]["content_block"]["id"]
    );
    assert_ne!(starts[0]["content_block"]["id"], start["id"]);

    // Step 2 and past the end.
    for (assistants, text) in [(2, "bye"), (3, "done"), (7, "done")] {
        let (_, body) = http(&model, "POST", "/v1/messages", &main_request(assistants));
        let events = sse_events(&body);
        assert_eq!(events[2].1["delta"]["text"], text);
        assert_eq!(events[4].1["delta"]["stop_reason"], "end_turn");
    }
    let steps: Vec<Option<usize>> = model.recorded().iter().map(|r| r.step).collect();
    assert_eq!(steps, [Some(0), Some(1), Some(2), Some(3), Some(7)]);
    assert_eq!(model.requests().len(), 5);
    assert!(model.all_text().contains("\"tools\""));
}

#[test]
fn fake_model_side_requests_get_the_side_reply() {
    let model = FakeModel::start_with(
        vec![Step::bash("echo hi")],
        FakeConfig {
            side_reply: "SIDE".to_owned(),
        },
    )
    .unwrap();
    // A side request holding assistant messages but no tools: not a script step.
    let side = json!({"model": "haiku", "stream": true, "tools": [], "messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "title?"},
    ]});
    let (_, body) = http(&model, "POST", "/v1/messages", &side.to_string());
    let events = sse_events(&body);
    assert_eq!(events[2].1["delta"]["text"], "SIDE");
    // Non-streaming side request: one JSON message.
    let side = json!({"model": "haiku", "messages": [{"role": "user", "content": "a"}]});
    let (head, body) = http(&model, "POST", "/v1/messages", &side.to_string());
    assert!(head.contains("application/json"), "{head}");
    let msg: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(msg["content"][0]["text"], "SIDE");
    assert_eq!(msg["stop_reason"], "end_turn");
    // The script is untouched: step 0 is still the tool call.
    let (_, body) = http(&model, "POST", "/v1/messages", &main_request(0));
    assert_eq!(sse_events(&body)[1].1["content_block"]["name"], "Bash");
    assert_eq!(model.main_requests().len(), 1);
    assert_eq!(model.requests().len(), 3);
}

#[test]
fn fake_model_answers_other_endpoints_and_rejects_bad_input() {
    let model = FakeModel::start(vec![]).unwrap();
    let (head, body) = http(&model, "POST", "/v1/messages/count_tokens", "{}");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"input_tokens": 10})
    );
    let (head, body) = http(&model, "GET", "/api/hello", "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "{}");
    let (head, body) = http(&model, "HEAD", "/api/hello", "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "");
    let (head, _) = http(&model, "POST", "/v1/messages", "not json");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");

    // An oversized Content-Length is refused without reading the body.
    let addr = model.base_url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"POST /v1/messages HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");

    // An empty script answers "done" at once.
    let (_, body) = http(&model, "POST", "/v1/messages", &main_request(0));
    assert_eq!(sse_events(&body)[2].1["delta"]["text"], "done");
    assert_eq!(
        model.request_log(),
        [
            "POST /v1/messages/count_tokens",
            "GET /api/hello",
            "HEAD /api/hello",
            "POST /v1/messages",
            "POST /v1/messages"
        ]
    );
}

#[test]
fn fake_model_stops_on_drop() {
    let model = FakeModel::start(vec![]).unwrap();
    let addr = model.base_url().trim_start_matches("http://").to_owned();
    let started = std::time::Instant::now();
    drop(model);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
}

#[test]
fn run_claude_kills_the_cli_at_the_timeout() {
    if skip_claude_tests("run_claude_kills_the_cli_at_the_timeout") {
        return;
    }
    let env = Env::new();
    // The hook runs in its own process group (the CLI spawns hooks detached), so it outlives
    // the killed CLI: it records its pid for the cleanup below.
    let started = env.project().join("hook-pid");
    write_hooks_settings(
        env.project(),
        &json!({"SessionStart": [{"hooks": [{"type": "command",
            "command": format!("echo $$ > {}; exec sleep 30", started.display())}]}]}),
    )
    .unwrap();
    let model = FakeModel::start(vec![]).unwrap();
    let begin = std::time::Instant::now();
    let err = run_claude(
        env.project(),
        env.home.path(),
        "hi",
        &model.base_url(),
        &[],
        Duration::from_secs(3),
    )
    .unwrap_err();
    let elapsed = begin.elapsed();
    assert!(format!("{err:#}").contains("did not finish"), "{err:#}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let pid = std::fs::read_to_string(&started).expect("the slow hook never started");
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();
}
