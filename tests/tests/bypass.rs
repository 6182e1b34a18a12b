//! The bypass alarm (docs/operations.md, "Bypass alarm"): a PostToolUse, PostToolUseFailure or
//! PostToolBatch for a `tool_use_id` that had no PreToolUse in its session is recorded as a
//! `bypass` event, counted in `stats` and the Prometheus metrics, shown by `doctor`, and told
//! to the model and the user on the next event that can carry it. Crafted event sequences
//! through the real hook-client and hookd.

use hook_tests::harness::{TestDaemon, event_json};
use serde_json::{Value, json};

fn bash(id: &str) -> Value {
    json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": id})
}

fn post(id: &str) -> Value {
    let mut v = bash(id);
    v["tool_response"] = json!({"stdout": "", "stderr": "", "interrupted": false});
    v
}

fn reply(out: &std::process::Output) -> Option<Value> {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    (!out.stdout.is_empty()).then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn send(d: &TestDaemon, event: &str, session: &str, extra: &Value) -> Option<Value> {
    reply(&d.hook(&event_json(event, session, extra), &[]).unwrap())
}

fn stats(d: &TestDaemon) -> Value {
    let out = d.hookctl(&["stats", "--json"]).unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_tool_call_without_pre_tool_use_is_recorded_counted_and_told() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let s = "sess-bypass";
    // A checked call: PreToolUse, PostToolUse, then its batch. No alarm.
    assert_eq!(send(&d, "PreToolUse", s, &bash("toolu_ok")), None);
    assert_eq!(send(&d, "PostToolUse", s, &post("toolu_ok")), None);
    let batch = |id: &str| json!({"tool_calls": [post("toolu_ok"), post(id)]});
    assert_eq!(
        send(
            &d,
            "PostToolBatch",
            s,
            &json!({"tool_calls": [post("toolu_ok")]})
        ),
        None
    );

    // A call Claude Code ran without PreToolUse: the PostToolUse that shows it tells both.
    let v = send(&d, "PostToolUse", s, &post("toolu_sneaky")).expect("an alarm");
    assert_eq!(
        v["systemMessage"],
        json!(
            "hookd: bypass alarm: Claude Code ran Bash `toolu_sneaky` without the PreToolUse \
             hook, so no guard rule checked it (see `hookctl events --event bypass`)"
        ),
        "{v}"
    );
    let ctx = v["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(
        ctx.contains("toolu_sneaky") && ctx.contains("PreToolUse"),
        "{v}"
    );
    assert_eq!(
        v["hookSpecificOutput"]["hookEventName"],
        json!("PostToolUse")
    );
    // Its batch names it again: not a second bypass, and nothing more to tell.
    assert_eq!(send(&d, "PostToolBatch", s, &batch("toolu_sneaky")), None);

    // A bypass seen first in a PostToolBatch (no PostToolUse for it) counts too.
    let v = send(&d, "PostToolBatch", s, &batch("toolu_batch_only")).expect("an alarm");
    assert!(
        v["systemMessage"]
            .as_str()
            .unwrap()
            .contains("toolu_batch_only"),
        "{v}"
    );

    let rows = d.events(100, &["--event", "bypass"]).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["session_id"] == json!(s) && r["tool"] == json!("Bash"))
    );
    let reasons: Vec<&str> = rows.iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("toolu_sneaky") && r.contains("PostToolUse")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("toolu_batch_only") && r.contains("PostToolBatch")),
        "{reasons:?}"
    );

    assert_eq!(stats(&d)["bypasses"], json!(2));
    let metrics = d.hookctl(&["metrics"]).unwrap();
    let text = String::from_utf8_lossy(&metrics.stdout);
    assert!(text.contains("\nhookd_bypasses_total 2\n"), "{text}");
    let out = d.hookctl(&["doctor", "--json"]).unwrap();
    let doctor: Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!("bypasses"))
        .unwrap_or_else(|| panic!("no bypasses check: {doctor:#}"));
    assert_eq!(check["level"], json!("warn"), "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 tool calls"),
        "{check}"
    );
}

#[test]
fn a_failed_call_without_pre_tool_use_is_told_once() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let s = "sess-bypass-fail";
    assert_eq!(send(&d, "PreToolUse", s, &bash("toolu_a")), None);
    // PostToolUseFailure carries a context: told at once.
    let mut failed = bash("toolu_b");
    failed["error"] = json!("Exit code 1");
    let v = send(&d, "PostToolUseFailure", s, &failed).expect("an alarm");
    assert!(
        v["systemMessage"].as_str().unwrap().contains("toolu_b"),
        "{v}"
    );
    // Told once: the next events say nothing.
    assert_eq!(
        send(&d, "Stop", s, &json!({"stop_hook_active": false})),
        None
    );
    assert_eq!(send(&d, "PostToolUse", s, &post("toolu_a")), None);
}

#[test]
fn sessions_whose_pre_tool_use_never_reaches_hookd_raise_no_alarm() {
    // `hookctl install --events PostToolUse` alone: hookd never sees a PreToolUse.
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let s = "sess-post-only";
    assert_eq!(send(&d, "PostToolUse", s, &post("toolu_1")), None);
    assert_eq!(send(&d, "PostToolUse", s, &post("toolu_2")), None);
    assert!(d.events(10, &["--event", "bypass"]).unwrap().is_empty());
    assert_eq!(stats(&d)["bypasses"], json!(0));
}

#[test]
fn with_the_alarm_off_bypasses_are_recorded_but_not_told() {
    let d = TestDaemon::start_with(&[(
        "hookd.toml",
        "packs = []\n[session]\nbypass_alarm = false\n",
    )])
    .unwrap();
    let s = "sess-quiet";
    assert_eq!(send(&d, "PreToolUse", s, &bash("toolu_a")), None);
    assert_eq!(send(&d, "PostToolUse", s, &post("toolu_b")), None);
    assert_eq!(d.events(10, &["--event", "bypass"]).unwrap().len(), 1);
    assert_eq!(stats(&d)["bypasses"], json!(1));
}

#[test]
fn a_restarted_hookd_remembers_the_calls_that_passed_pre_tool_use() {
    let mut d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let s = "sess-restart";
    assert_eq!(send(&d, "PreToolUse", s, &bash("toolu_long")), None);
    d.kill9().unwrap();
    d.spawn().unwrap();
    d.wait_ready().unwrap();
    // The session is rebuilt from the store: its PreToolUse is known, no false alarm.
    assert_eq!(send(&d, "PostToolUse", s, &post("toolu_long")), None);
    assert!(d.events(10, &["--event", "bypass"]).unwrap().is_empty());
}
