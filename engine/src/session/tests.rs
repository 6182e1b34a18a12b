//! Stateful conditions, driven through [`step`] exactly as the handler drives them.
#![allow(clippy::needless_pass_by_value, clippy::type_complexity)] // test helpers take json!() values

use std::cell::RefCell;
use std::collections::HashSet;

use serde_json::{Value, json};

use super::*;
use crate::rules::{Ctx, Decision, OnceMemory, Ruleset, Source, parse_source};

const MIN: i64 = 60_000;

fn ruleset(toml: &str) -> Ruleset {
    let src = Source {
        name: "t.toml".into(),
        text: toml.into(),
        is_main: false,
    };
    let (rules, _) = parse_source(&src).unwrap_or_else(|e| panic!("{e:?}"));
    Ruleset::new(rules, vec![])
}

#[derive(Default)]
struct Memory(RefCell<HashSet<(String, String, i64)>>);

impl OnceMemory for Memory {
    fn matched_on(&self, rule: &str, project: &str, day: i64) -> bool {
        self.0
            .borrow()
            .contains(&(rule.to_string(), project.to_string(), day))
    }
}

/// One session of one project, with a clock.
struct Sim {
    rs: Ruleset,
    s: Session,
    now: i64,
    project: String,
    stored: Vec<StoredEvent>,
    memory: Memory,
}

impl Sim {
    fn new(rs: Ruleset, project: &std::path::Path) -> Self {
        Self {
            rs,
            s: Session::new("s1", 1_000_000),
            now: 1_000_000,
            project: project.display().to_string(),
            stored: Vec::new(),
            memory: Memory::default(),
        }
    }

    fn send(&mut self, name: &str, extra: Value) -> Decision {
        self.now += 1000;
        let mut v = json!({"session_id": self.s.id, "cwd": self.project, "hook_event_name": name});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let bytes = serde_json::to_vec(&v).unwrap();
        let e = HookEvent::parse(&bytes, None).unwrap();
        let d = crate::decide::step(
            &e,
            Some(&mut self.s),
            crate::decide::Inputs {
                rulesets: &[&self.rs],
                project_dir: Some(&self.project),
                home: Some("/home/u"),
                time_ms: self.now,
                once: Some(&self.memory),
                count_hits: true,
            },
        );
        let rules: Vec<String> = d.matched.iter().map(|m| m.rule.clone()).collect();
        for r in &rules {
            self.memory.0.borrow_mut().insert((
                r.clone(),
                self.project.clone(),
                crate::rules::state::day_of(self.now),
            ));
        }
        self.stored.push(StoredEvent {
            time_ms: self.now,
            payload: bytes,
            verdict: d.verdict(),
            rules,
            project_dir: Some(self.project.clone()),
        });
        d
    }

    fn tool(&mut self, phase: &str, tool: &str, input: Value) -> Decision {
        self.send(phase, json!({"tool_name": tool, "tool_input": input}))
    }

    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.project)
    }

    /// A restart: the session is rebuilt from what was stored.
    fn restart(&mut self) {
        self.s = replay("s1", &self.stored, Some("/home/u"));
    }
}

const READ_FIRST: &str = r#"
[[rule]]
name = "read-first"
tool = "Edit|Write|MultiEdit"
action = "deny"
reason = "Read the file first."
[rule.session]
read_before_edit = true
"#;

#[test]
fn read_before_edit_denies_unread_existing_files_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rs"), "x").unwrap();
    let mut sim = Sim::new(ruleset(READ_FIRST), dir.path());
    let a = sim.file("a.rs");
    assert_eq!(
        sim.tool("PreToolUse", "Edit", json!({"file_path": a}))
            .verdict(),
        "deny"
    );
    // A new file may be written without reading.
    assert_eq!(
        sim.tool(
            "PreToolUse",
            "Write",
            json!({"file_path": sim.file("new.rs")})
        )
        .verdict(),
        "none"
    );
    // Reading it (a successful Read) allows the edit.
    sim.tool("PreToolUse", "Read", json!({"file_path": a}));
    sim.tool("PostToolUse", "Read", json!({"file_path": a}));
    assert_eq!(
        sim.tool("PreToolUse", "Edit", json!({"file_path": a}))
            .verdict(),
        "none"
    );
    // A relative path in the same project is the same file.
    assert_eq!(
        sim.tool("PreToolUse", "Edit", json!({"file_path": "a.rs"}))
            .verdict(),
        "none"
    );
}

#[test]
fn read_before_edit_survives_a_restart_and_eviction() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rs"), "x").unwrap();
    let mut sim = Sim::new(ruleset(READ_FIRST), dir.path());
    let a = sim.file("a.rs");
    sim.tool("PostToolUse", "Read", json!({"file_path": a}));
    sim.restart();
    assert_eq!(
        sim.tool("PreToolUse", "Edit", json!({"file_path": a}))
            .verdict(),
        "none"
    );
    let mut table = SessionTable::default();
    table.insert_replayed(sim.s.clone());
    assert_eq!(table.evict_idle(sim.now + 31 * MIN, 30 * MIN), 1);
    assert!(!table.contains("s1"));
    let back = replay("s1", &sim.stored, Some("/home/u"));
    assert!(back.has_read(std::path::Path::new(&a)));
}

#[test]
fn two_sessions_in_one_project_do_not_share_state() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rs"), "x").unwrap();
    let mut one = Sim::new(ruleset(READ_FIRST), dir.path());
    let mut two = Sim::new(ruleset(READ_FIRST), dir.path());
    two.s = Session::new("s2", 0);
    let a = one.file("a.rs");
    one.tool("PostToolUse", "Read", json!({"file_path": a}));
    assert_eq!(
        one.tool("PreToolUse", "Edit", json!({"file_path": a}))
            .verdict(),
        "none"
    );
    assert_eq!(
        two.tool("PreToolUse", "Edit", json!({"file_path": a}))
            .verdict(),
        "deny"
    );
}

const STOP_GATE: &str = r#"
[[rule]]
name = "tests-before-stop"
event = "Stop"
action = "block"
reason = "You changed Rust code after the last test run: run `cargo test` and fix failures first."
[rule.session]
edited_since = { path = ["**/*.rs"], command = '^cargo\s+(test|nextest)\b' }
"#;

#[test]
fn stop_gate_blocks_until_tests_ran_after_the_last_edit() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::new(ruleset(STOP_GATE), dir.path());
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": false}))
            .verdict(),
        "none",
        "no edits"
    );
    sim.tool(
        "PostToolUse",
        "Edit",
        json!({"file_path": sim.file("src/lib.rs")}),
    );
    let d = sim.send("Stop", json!({"stop_hook_active": false}));
    assert_eq!(d.verdict(), "block");
    assert!(d.blocks[0].contains("cargo test"));
    // A failing test run does not count.
    sim.send("PostToolUseFailure", json!({"tool_name": "Bash", "tool_input": {"command": "cargo test"}, "error": "Exit code 101"}));
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": true}))
            .verdict(),
        "block"
    );
    // A passing run (even wrapped) opens the gate.
    sim.tool(
        "PostToolUse",
        "Bash",
        json!({"command": "cd . && cargo test --workspace"}),
    );
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": true}))
            .verdict(),
        "none"
    );
    // Editing a non-Rust file does not close it; editing Rust code does.
    sim.tool(
        "PostToolUse",
        "Write",
        json!({"file_path": sim.file("README.md")}),
    );
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": false}))
            .verdict(),
        "none"
    );
    sim.tool(
        "PostToolUse",
        "Edit",
        json!({"file_path": sim.file("src/main.rs")}),
    );
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": false}))
            .verdict(),
        "block"
    );
}

#[test]
fn loop_guard_lets_a_stop_through_after_max_blocks_and_stop_hook_active_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::new(ruleset(STOP_GATE), dir.path());
    sim.tool(
        "PostToolUse",
        "Edit",
        json!({"file_path": sim.file("a.rs")}),
    );
    for i in 0..3 {
        assert_eq!(
            sim.send("Stop", json!({"stop_hook_active": i > 0}))
                .verdict(),
            "block",
            "block {i}"
        );
    }
    let d = sim.send("Stop", json!({"stop_hook_active": true}));
    assert_eq!(d.verdict(), "loop-guard");
    assert!(d.warnings[0].contains("loop guard"));
    assert_eq!(sim.s.loop_guard_releases, 1);
    // A new prompt starts a new count.
    sim.send("UserPromptSubmit", json!({"prompt": "go on"}));
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": false}))
            .verdict(),
        "block"
    );
    // Without memory of earlier blocks (e.g. another hook blocked), stop_hook_active still
    // counts as one block: a rule with max_blocks = 1 lets it through.
    let one = STOP_GATE.replace("action = \"block\"", "action = \"block\"\nmax_blocks = 1");
    let mut fresh = Sim::new(ruleset(&one), dir.path());
    fresh.tool(
        "PostToolUse",
        "Edit",
        json!({"file_path": fresh.file("a.rs")}),
    );
    assert_eq!(
        fresh
            .send("Stop", json!({"stop_hook_active": true}))
            .verdict(),
        "loop-guard"
    );
}

#[test]
fn rate_limits_count_tool_calls_and_rule_attempts_in_a_window() {
    let dir = tempfile::tempdir().unwrap();
    let rs = ruleset(
        r#"
        [[rule]]
        name = "bash-rate"
        tool = "Bash"
        action = "ask"
        [rule.session]
        rate = { max = 3, window = "1m", of = "tool" }

        [[rule]]
        name = "fetch-rate"
        tool = "WebFetch"
        action = "deny"
        [rule.session]
        rate = { max = 2, window = "10m", of = "rule" }
        "#,
    );
    let mut sim = Sim::new(rs, dir.path());
    for i in 0..3 {
        assert_eq!(
            sim.tool("PreToolUse", "Bash", json!({"command": "ls"}))
                .verdict(),
            "none",
            "call {i}"
        );
    }
    assert_eq!(
        sim.tool("PreToolUse", "Bash", json!({"command": "ls"}))
            .verdict(),
        "ask"
    );
    sim.now += 2 * MIN; // the window slides
    assert_eq!(
        sim.tool("PreToolUse", "Bash", json!({"command": "ls"}))
            .verdict(),
        "none"
    );
    for _ in 0..2 {
        assert_eq!(
            sim.tool("PreToolUse", "WebFetch", json!({"url": "https://x"}))
                .verdict(),
            "none"
        );
    }
    assert_eq!(
        sim.tool("PreToolUse", "WebFetch", json!({"url": "https://x"}))
            .verdict(),
        "deny"
    );
}

#[test]
fn counters_compare_session_history() {
    let dir = tempfile::tempdir().unwrap();
    let rs = ruleset(
        r#"
        [[rule]]
        name = "no-rm"
        command = '^rm\b'
        action = "deny"

        [[rule]]
        name = "careful-after-denials"
        tool = "Bash"
        action = "ask"
        reason = "Several commands were denied in this session; a human should look."
        [rule.session]
        counters = { denials = ">= 3" }
        "#,
    );
    let mut sim = Sim::new(rs, dir.path());
    for _ in 0..3 {
        assert_eq!(
            sim.tool("PreToolUse", "Bash", json!({"command": "rm x"}))
                .verdict(),
            "deny"
        );
    }
    assert_eq!(
        sim.tool("PreToolUse", "Bash", json!({"command": "ls"}))
            .verdict(),
        "ask"
    );
    assert_eq!(sim.s.denials, 4);
}

#[test]
fn once_per_session_and_once_per_project_day() {
    let dir = tempfile::tempdir().unwrap();
    let rs = ruleset(
        r#"
        [[rule]]
        name = "welcome"
        event = "UserPromptSubmit"
        action = "context"
        context = "Conventions: see CONTRIBUTING.md"
        [rule.session]
        once = "session"

        [[rule]]
        name = "daily"
        event = "UserPromptSubmit"
        action = "context"
        context = "Standup notes are in NOTES.md"
        [rule.session]
        once = "project-day"
        "#,
    );
    let mut sim = Sim::new(rs, dir.path());
    let d = sim.send("UserPromptSubmit", json!({"prompt": "hi"}));
    assert_eq!(d.contexts.len(), 2);
    assert!(
        sim.send("UserPromptSubmit", json!({"prompt": "again"}))
            .contexts
            .is_empty()
    );
    // A second session in the same project, same day: welcome again, daily not.
    sim.s = Session::new("s2", sim.now);
    let d = sim.send("UserPromptSubmit", json!({"prompt": "hi"}));
    assert_eq!(d.contexts, vec!["Conventions: see CONTRIBUTING.md"]);
    // Next day: daily again.
    sim.now += 24 * 60 * MIN;
    sim.s = Session::new("s3", sim.now);
    assert_eq!(
        sim.send("UserPromptSubmit", json!({"prompt": "hi"}))
            .contexts
            .len(),
        2
    );
}

#[test]
fn clock_skew_never_moves_last_activity_back_and_windows_stay_sane() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::new(ruleset(READ_FIRST), dir.path());
    sim.send("UserPromptSubmit", json!({"prompt": "a"}));
    let last = sim.s.last_ms;
    sim.now -= 10 * MIN; // the wall clock jumps back
    sim.send(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
    );
    // Never back; events keep their order (1 ms apart while the wall clock is behind).
    assert_eq!(sim.s.last_ms, last + 1, "last activity never goes back");
    assert_eq!(sim.s.fires_since("tool:Bash", sim.now - MIN), 1);
}

#[test]
fn exit_codes_are_read_from_failures() {
    let code = |v: serde_json::Value| {
        let doc = crate::event::json::Doc::parse(&v.to_string()).unwrap();
        exit_code(doc.root())
    };
    assert_eq!(code(json!({"error": "Exit code 2\nboom"})), Some(2));
    assert_eq!(code(json!({"tool_response": {"exitCode": 0}})), Some(0));
    assert_eq!(code(json!({})), None);
}

#[test]
fn a_wall_clock_set_back_keeps_the_order_of_session_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::new(ruleset(STOP_GATE), dir.path());
    sim.tool(
        "PostToolUse",
        "Edit",
        json!({"file_path": sim.file("src/lib.rs")}),
    );
    // The clock jumps back an hour before the test run: the run still counts as after the edit.
    sim.now -= 60 * MIN;
    sim.tool("PostToolUse", "Bash", json!({"command": "cargo test"}));
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": false}))
            .verdict(),
        "none",
        "a test run after the edit opens the gate whatever the wall clock says"
    );
    // And an edit after that (clock still behind) closes it again.
    sim.tool(
        "PostToolUse",
        "Edit",
        json!({"file_path": sim.file("src/lib.rs")}),
    );
    assert_eq!(
        sim.send("Stop", json!({"stop_hook_active": false}))
            .verdict(),
        "block"
    );
}

#[test]
fn the_live_session_cap_evicts_the_least_recently_active_idle_sessions_first() {
    let mut table = SessionTable::new(64);
    // 64 sessions, session i last active at time 1000 + i; session 0 is in use meanwhile.
    let in_use = table.get_or_create("s0", 1000);
    in_use.lock().unwrap().last_ms = 1000;
    for i in 1..64 {
        let s = table.get_or_create(&format!("s{i}"), 1000 + i);
        s.lock().unwrap().last_ms = 1000 + i;
    }
    // Session 1 comes back (most recent now).
    table.get("s1").unwrap().lock().unwrap().last_ms = 5000;
    assert_eq!(table.len(), 64);
    // The 65th evicts a batch (1/64 of the cap: one) of the oldest idle: s2 (s0 is in use).
    let _s64 = table.get_or_create("s64", 6000);
    assert_eq!(table.len(), 64);
    assert!(table.contains("s0"), "a session in use is never evicted");
    assert!(table.contains("s1"), "recently active again");
    assert!(
        !table.contains("s2"),
        "the least recently active idle session goes first"
    );
    assert!(table.contains("s3"));
    // A flood of new sessions keeps the table at the cap.
    for i in 0..1000 {
        let _ = table.get_or_create(&format!("flood-{i}"), 10_000 + i);
    }
    assert!(table.len() <= 64, "{}", table.len());
    assert!(table.contains("s0"));
    assert!(table.contains("flood-999"));
    // A replayed session counts too.
    table.insert_replayed(Session::new("replayed", 20_000));
    assert!(table.len() <= 64 && table.contains("replayed"));
}

#[test]
fn evicting_a_flood_gives_the_table_back() {
    let mut table = SessionTable::new(1_000_000);
    for i in 0..100_000 {
        let s = table.get_or_create(&format!("flood-{i}"), 1000);
        s.lock().unwrap().last_ms = 1000;
    }
    let grown = table.capacity();
    assert!(grown >= 100_000, "{grown}");
    let keep = table.get_or_create("kept", 1000);
    keep.lock().unwrap().last_ms = 50 * MIN;
    assert_eq!(table.evict_idle(50 * MIN, 30 * MIN), 100_000);
    assert_eq!(table.len(), 1);
    assert!(table.capacity() <= 2048, "{}", table.capacity());
}

/// A stateful rule of each kind, each on its own tool (so one event meets one rule).
const STATEFUL: &str = r#"
[[rule]]
name = "read-first"
tool = "Edit"
action = "deny"
[rule.session]
read_before_edit = true

[[rule]]
name = "stop-gate"
event = "Stop"
action = "block"
[rule.session]
edited_since = { path = ["**/*.rs"], command = '^cargo\s+test\b' }

[[rule]]
name = "rate"
tool = "Grep"
action = "ask"
[rule.session]
rate = { max = 5, window = "1m", of = "tool" }

[[rule]]
name = "rule-rate"
tool = "Glob"
action = "ask"
[rule.session]
rate = { max = 5, window = "1m", of = "rule" }

[[rule]]
name = "counter"
tool = "WebFetch"
action = "deny"
[rule.session]
counters = { denials = ">= 3" }

[[rule]]
name = "once"
tool = "WebSearch"
action = "deny"
[rule.session]
once = "session"

[[rule]]
name = "approve-once"
tool = "Task"
action = "allow"
[rule.session]
once = "session"
"#;

#[test]
fn stateful_conditions_fail_closed_without_a_usable_session_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rs"), "x").unwrap();
    let a = dir.path().join("a.rs").display().to_string();
    let rs = ruleset(STATEFUL);
    let cwd = dir.path().display().to_string();
    let cases: [(&str, Value, &str); 6] = [
        (
            "PreToolUse",
            json!({"tool_name": "Edit", "tool_input": {"file_path": a}}),
            "deny",
        ),
        ("Stop", json!({"stop_hook_active": false}), "block"),
        (
            "PreToolUse",
            json!({"tool_name": "Grep", "tool_input": {"pattern": "x"}}),
            "ask",
        ),
        (
            "PreToolUse",
            json!({"tool_name": "Glob", "tool_input": {"pattern": "x"}}),
            "ask",
        ),
        (
            "PreToolUse",
            json!({"tool_name": "WebFetch", "tool_input": {"url": "u"}}),
            "deny",
        ),
        (
            "PreToolUse",
            json!({"tool_name": "WebSearch", "tool_input": {"query": "q"}}),
            "deny",
        ),
    ];
    let forms: [(Option<Value>, &str); 5] = [
        (None, "no session_id"),
        (Some(Value::Null), "null"),
        (Some(json!(42)), "a number"),
        (Some(json!({"id": "s"})), "an object"),
        (Some(json!("")), "empty"),
    ];
    for (form, says) in &forms {
        for (name, extra, want) in &cases {
            let mut v = json!({"hook_event_name": name, "cwd": cwd});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            if let Some(id) = form {
                v["session_id"] = id.clone();
            }
            let event = HookEvent::parse(v.to_string().as_bytes(), None).unwrap();
            assert!(event.session_id().is_none());
            // What the handler does without a session id: evaluate with no session.
            let mut cx = Ctx::new(&event, Some(&cwd), None);
            cx.now_ms = 1_000_000;
            let d = Ruleset::evaluate_all(&[&rs], &cx);
            assert_eq!(d.verdict(), *want, "{name} {extra} with session_id {says}");
            let reason = d.reason().unwrap_or_default();
            assert!(
                reason.contains("could not check") && reason.contains(says),
                "{name} with session_id {says}: {reason}"
            );
        }
        // An approval never rests on state hookd cannot see.
        let mut v = json!({"hook_event_name": "PreToolUse", "cwd": cwd, "tool_name": "Task"});
        if let Some(id) = form {
            v["session_id"] = id.clone();
        }
        let event = HookEvent::parse(v.to_string().as_bytes(), None).unwrap();
        let d = Ruleset::evaluate_all(&[&rs], &Ctx::new(&event, Some(&cwd), None));
        assert_eq!(d.verdict(), "none", "allow with session_id {says}");
    }
}

#[test]
fn without_a_session_the_loop_guard_lets_an_active_stop_through() {
    let rs = ruleset(STATEFUL);
    let v = json!({"hook_event_name": "Stop", "cwd": "/p", "stop_hook_active": true});
    let event = HookEvent::parse(v.to_string().as_bytes(), None).unwrap();
    let d = Ruleset::evaluate_all(&[&rs], &Ctx::new(&event, Some("/p"), None));
    assert_eq!(d.verdict(), "loop-guard", "{d:?}");
}

#[test]
fn once_per_project_day_without_a_project_fails_closed() {
    let rs = ruleset(
        r#"
[[rule]]
name = "daily"
tool = "Bash"
action = "ask"
[rule.session]
once = "project-day"
"#,
    );
    let v = json!({"hook_event_name": "PreToolUse", "session_id": "s", "tool_name": "Bash",
                   "tool_input": {"command": "ls"}});
    let event = HookEvent::parse(v.to_string().as_bytes(), None).unwrap();
    let s = Session::new("s", 0);
    let mut cx = Ctx::new(&event, None, None);
    cx.session = Some(&s);
    let d = Ruleset::evaluate_all(&[&rs], &cx);
    assert_eq!(d.verdict(), "ask");
    assert!(
        d.reason().unwrap().contains("no project directory"),
        "{:?}",
        d.reason()
    );
}

fn observe(s: &mut Session, name: &str, extra: Value, now: i64) -> Vec<Bypass> {
    let mut v = json!({"session_id": s.id, "hook_event_name": name});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let e = HookEvent::parse(v.to_string().as_bytes(), None).unwrap();
    s.observe(&e, None, None, now);
    s.take_new_bypasses()
}

fn call(id: &str) -> Value {
    json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": id})
}

#[test]
fn post_events_for_calls_that_had_no_pre_tool_use_are_bypasses() {
    let mut s = Session::new("b", 0);
    // Before any PreToolUse reaches hookd, nothing is a bypass (PreToolUse may not be wired).
    assert!(observe(&mut s, "PostToolUse", call("t0"), 1).is_empty());
    assert!(observe(&mut s, "PreToolUse", call("t1"), 2).is_empty());
    assert!(observe(&mut s, "PostToolUse", call("t1"), 3).is_empty());
    let found = observe(&mut s, "PostToolUse", call("t2"), 4);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (&*found[0].tool, &*found[0].tool_use_id, found[0].seen_in),
        ("Bash", "t2", "PostToolUse")
    );
    // The batch names both again: neither is new.
    let batch = json!({"tool_calls": [call("t1"), call("t2")]});
    assert!(observe(&mut s, "PostToolBatch", batch, 5).is_empty());
    // A call only the batch shows.
    let batch = json!({"tool_calls": [call("t3")]});
    let found = observe(&mut s, "PostToolBatch", batch, 6);
    assert_eq!(
        (&*found[0].tool_use_id, found[0].seen_in),
        ("t3", "PostToolBatch")
    );
    // A denied call (no PostToolUse) leaves with its batch.
    assert!(observe(&mut s, "PreToolUse", call("t4"), 7).is_empty());
    let batch = json!({"tool_calls": [call("t4")]});
    assert!(observe(&mut s, "PostToolBatch", batch, 8).is_empty());
    assert_eq!(s.bypasses(), 2);
    // A failure counts like a success.
    assert_eq!(
        observe(&mut s, "PostToolUseFailure", call("t5"), 9).len(),
        1
    );
}

#[test]
fn a_call_in_flight_while_hundreds_of_others_come_and_go_is_remembered() {
    // A subagent's Task call stays in flight while the subagent makes many calls.
    let mut s = Session::new("b", 0);
    observe(&mut s, "PreToolUse", call("task"), 1);
    for i in 0..1000 {
        let id = format!("inner{i}");
        observe(&mut s, "PreToolUse", call(&id), 2 + i);
        assert!(observe(&mut s, "PostToolUse", call(&id), 2 + i).is_empty());
    }
    assert!(observe(&mut s, "PostToolUse", call("task"), 2000).is_empty());
    // Memory stays bounded however many calls stay unanswered.
    for i in 0..10_000 {
        observe(&mut s, "PreToolUse", call(&format!("denied{i}")), 3000 + i);
    }
    assert_eq!(
        s.calls.as_ref().unwrap().ids.counts(),
        (MAX_IN_FLIGHT, MAX_FINISHED)
    );
}

#[test]
fn replay_rebuilds_the_calls_without_raising_old_bypasses_again() {
    let row = |name: &str, extra: Value, t: i64| {
        let mut v = json!({"session_id": "r", "hook_event_name": name});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        StoredEvent {
            time_ms: t,
            payload: v.to_string().into_bytes(),
            verdict: Verdict::None,
            rules: vec![],
            project_dir: None,
        }
    };
    let rows = vec![
        row("PreToolUse", call("a"), 1),
        row("PostToolUse", call("x"), 2),
        row(BYPASS_EVENT, json!({"tool_use_id": "x"}), 2),
    ];
    let mut s = replay("r", &rows, None);
    assert!(s.take_new_bypasses().is_empty());
    assert_eq!((s.bypasses(), s.events), (1, 2));
    // `a` passed PreToolUse before the restart; `x` was already reported.
    assert!(observe(&mut s, "PostToolUse", call("a"), 3).is_empty());
    assert!(observe(&mut s, "PostToolUse", call("x"), 4).is_empty());
}

#[test]
fn the_bypass_memory_costs_a_session_without_tool_calls_one_pointer() {
    // 10,000 live sessions (BENCHMARKS.md): a session lives in one `Arc<Mutex<Session>>`
    // allocation, which must stay in the 512-byte size class.
    assert!(
        std::mem::size_of::<std::sync::Mutex<Session>>() + 16 <= 512,
        "{}",
        std::mem::size_of::<Session>()
    );
    assert_eq!(std::mem::size_of::<Option<Box<Calls>>>(), 8);
}
