//! Cost of evaluating a PreToolUse Bash event against the default packs plus N user rules
//! (shell analysis included), for N = 10, 100, 1,000, 10,000; and of a stateful PreToolUse
//! (session lookup among 10,000 live sessions, fold, stateful rules, verdict fold).
//!
//! Run: `cargo bench -p hook-engine --bench evaluate`. Results go in BENCHMARKS.md.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hook_engine::event::HookEvent;
use hook_engine::rules::{Ctx, load};

/// N user rules of realistic shapes: command regexes (70%), MCP tool matchers (20%), path
/// globs (10%). None of them matches the benchmark event, so every one is considered.
fn user_rules(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        match i % 10 {
            0..=6 => {
                let _ = write!(
                    s,
                    "[[rule]]\nname = 'cmd-{i}'\ncommand = '^tool{i}\\s+(--force|-f)\\b'\naction = 'deny'\nreason = 'r{i}'\n"
                );
            }
            7 | 8 => {
                let _ = write!(
                    s,
                    "[[rule]]\nname = 'mcp-{i}'\ntool = 'mcp__server{i}__.*'\naction = 'ask'\n"
                );
            }
            _ => {
                let _ = write!(
                    s,
                    "[[rule]]\nname = 'path-{i}'\ntool = 'Write|Edit'\npath = ['gen{i}/**']\naction = 'deny'\n"
                );
            }
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let event = serde_json::json!({
        "session_id": "3b1c5a7e-1d2f-4e5a-9b8c-7d6e5f4a3b2c",
        "transcript_path": "/home/user/.claude/projects/p/3b1c.jsonl",
        "cwd": "/home/user/project",
        "permission_mode": "default",
        "effort": {"level": "medium"},
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "cd /home/user/project && git status --short && cargo test --workspace 2>&1 | tail -n 20", "description": "Run tests"},
        "tool_use_id": "toolu_01ABCDEF"
    })
    .to_string();
    let mut group = c.benchmark_group("evaluate_pretooluse_bash");
    for n in [0usize, 10, 100, 1_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules.d")).unwrap();
        std::fs::write(dir.path().join("rules.d/bench.toml"), user_rules(n)).unwrap();
        let report = load(dir.path());
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let rs = report.ruleset;
        group.bench_with_input(BenchmarkId::new("packs_plus_user_rules", n), &n, |b, _| {
            b.iter(|| {
                // Parse + analyse + evaluate: what the handler does per event.
                let e = HookEvent::parse(black_box(event.as_bytes()), None).unwrap();
                let cx = Ctx::new(&e, Some("/home/user/project"), Some("/home/user"));
                black_box(rs.evaluate_in(&cx))
            });
        });
    }
    group.finish();
}

/// The stateful rules of `bench/sessions.py`: read before edit, stop gate, rate limit, counter.
const STATEFUL: &str = include_str!("../../bench/stateful-rules.toml");

fn stateful(c: &mut Criterion) {
    use hook_engine::decide::{Inputs, step};
    use hook_engine::session::SessionTable;
    const SESSIONS: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    // BENCH_TOML_PREFIX: settings put before the stateful rules (`packs = []` measures the
    // session machinery without the packs).
    let prefix = std::env::var("BENCH_TOML_PREFIX").unwrap_or_default();
    std::fs::write(
        dir.path().join("hookd.toml"),
        format!("{prefix}\n{STATEFUL}"),
    )
    .unwrap();
    let file = dir.path().join("lib.rs");
    std::fs::write(&file, "x\n").unwrap();
    let report = load(dir.path());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let rs = report.ruleset;
    let project = dir.path().to_str().unwrap().to_string();
    let f = file.to_str().unwrap();
    let ev = |sid: &str, body: serde_json::Value| {
        let mut v = serde_json::json!({"session_id": sid, "cwd": project,
            "transcript_path": format!("/tmp/t/{sid}.jsonl")});
        for (k, x) in body.as_object().unwrap() {
            v[k] = x.clone();
        }
        HookEvent::parse(v.to_string().as_bytes(), None).unwrap()
    };
    // 10,000 live sessions, each as bench/sessions.py leaves them.
    let mut table = SessionTable::default();
    let mut now = 1_700_000_000_000i64;
    for i in 0..SESSIONS {
        let sid = format!("{i:08}-bench-session");
        let s = table.get_or_create(&sid, now);
        let mut s = s.lock().unwrap();
        for body in [
            serde_json::json!({"hook_event_name": "SessionStart", "source": "startup"}),
            serde_json::json!({"hook_event_name": "PostToolUse", "tool_name": "Read",
                "tool_input": {"file_path": f}, "tool_response": {"type": "text"}}),
            serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Edit",
                "tool_input": {"file_path": f, "old_string": "x", "new_string": "y"}}),
            serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Bash",
                "tool_input": {"command": "cargo test --workspace"}}),
        ] {
            now += 1;
            let _ = step(
                &ev(&sid, body),
                Some(&mut s),
                Inputs {
                    rulesets: &[&rs],
                    project_dir: Some(&project),
                    home: None,
                    time_ms: now,
                    once: None,
                    count_hits: true,
                },
            );
        }
    }
    // The measured event: a PreToolUse of a live session, parsed, looked up, stepped.
    let payloads: Vec<String> = (0..SESSIONS)
        .map(|i| {
            let sid = format!("{i:08}-bench-session");
            let tool = if i % 2 == 0 {
                serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Bash",
                    "tool_input": {"command": "git status --short && cargo test --workspace"}})
            } else {
                serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Edit",
                    "tool_input": {"file_path": f, "old_string": "x", "new_string": "y"}})
            };
            let mut v = serde_json::json!({"session_id": sid, "cwd": project,
                "transcript_path": format!("/tmp/t/{sid}.jsonl")});
            for (k, x) in tool.as_object().unwrap() {
                v[k] = x.clone();
            }
            v.to_string()
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("stateful_pretooluse_10000_live_sessions", |b| {
        b.iter(|| {
            i = (i + 7919) % SESSIONS;
            now += 1;
            let e = HookEvent::parse(black_box(payloads[i].as_bytes()), None).unwrap();
            let s = table.get(e.session_id().unwrap()).unwrap();
            let mut s = s.lock().unwrap();
            black_box(step(
                &e,
                Some(&mut s),
                Inputs {
                    rulesets: &[&rs],
                    project_dir: Some(&project),
                    home: None,
                    time_ms: now,
                    once: None,
                    count_hits: true,
                },
            ))
        });
    });
}

criterion_group!(benches, bench, stateful);
criterion_main!(benches);
