//! Stateful rules fail closed and session state is bounded (RELIABILITY.md, "Session bounds"):
//! events whose `session_id` is missing, null, a number or an object never pass a stateful
//! rule; an over-long id is refused with a clear verdict; the live-session cap evicts the least
//! recently active sessions (rebuilt from the store when they come back); and after a flood of
//! distinct session ids is evicted, hookd's memory goes back down.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use hook_protocol::frame::{decode_body, encode_message, read_frame, split_version};
use hook_protocol::{ClientOptions, HookEnv, HookRequest, MAX_FRAME_LEN, Request, Response};
use hook_tests::harness::{TestDaemon, pause, permission_decision as decision, wait_for};
use serde_json::{Value, json};

const STATEFUL: &str = r#"
[[rule]]
name = "read-first"
tool = "Edit"
action = "deny"
reason = "Read it first."
[rule.session]
read_before_edit = true

[[rule]]
name = "stop-gate"
event = "Stop"
action = "block"
reason = "Run the tests."
[rule.session]
edited_since = { path = ["**/*.rs"], command = '^cargo\s+test\b' }

[[rule]]
name = "grep-rate"
tool = "Grep"
action = "ask"
[rule.session]
rate = { max = 5, window = "1m", of = "tool" }

[[rule]]
name = "careful"
tool = "WebFetch"
action = "deny"
[rule.session]
counters = { denials = ">= 3" }

[[rule]]
name = "first-search"
tool = "WebSearch"
action = "deny"
[rule.session]
once = "session"
"#;

/// An event whose `session_id` is `id` (None: no key at all).
fn event(name: &str, id: Option<&Value>, cwd: &str, extra: &Value) -> Vec<u8> {
    let mut v = json!({"hook_event_name": name, "cwd": cwd, "transcript_path": "/tmp/t.jsonl"});
    if let Some(id) = id {
        v["session_id"] = id.clone();
    }
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    let mut b = serde_json::to_vec(&v).unwrap();
    b.push(b'\n');
    b
}

#[test]
fn malformed_session_ids_never_pass_a_stateful_rule() {
    let d = TestDaemon::start_with(&[("hookd.toml", STATEFUL)]).unwrap();
    let proj = d.home().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    let file = proj.join("lib.rs");
    std::fs::write(&file, "fn main() {}\n").unwrap();
    let cwd = proj.display().to_string();
    let f = file.display().to_string();
    let forms = [
        (None, "has no session_id"),
        (Some(Value::Null), "is null"),
        (Some(json!(7)), "is a number"),
        (Some(json!({"id": "abc"})), "is an object"),
    ];
    for (id, says) in &forms {
        // read_before_edit: an edit of an unread file.
        let edit = json!({"tool_name": "Edit", "tool_input": {"file_path": f, "old_string": "a", "new_string": "b"}});
        let out = d
            .hook(&event("PreToolUse", id.as_ref(), &cwd, &edit), &[])
            .unwrap();
        assert_eq!(decision(&out), "deny", "session_id {says}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("could not check read_before_edit") && text.contains(says),
            "session_id {says}: {text}"
        );
        // rate, counters, once.
        for (tool, input, want) in [
            ("Grep", json!({"pattern": "x"}), "ask"),
            ("WebFetch", json!({"url": "https://example.com"}), "deny"),
            ("WebSearch", json!({"query": "q"}), "deny"),
        ] {
            let ev = json!({"tool_name": tool, "tool_input": input});
            let out = d
                .hook(&event("PreToolUse", id.as_ref(), &cwd, &ev), &[])
                .unwrap();
            assert_eq!(decision(&out), want, "{tool}, session_id {says}: {out:?}");
        }
        // The stop gate blocks (JSON block), and says why.
        let out = d
            .hook(
                &event(
                    "Stop",
                    id.as_ref(),
                    &cwd,
                    &json!({"stop_hook_active": false}),
                ),
                &[],
            )
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(v["decision"], "block", "Stop, session_id {says}: {out:?}");
        assert!(
            v["reason"]
                .as_str()
                .unwrap_or("")
                .contains("could not check edited_since"),
            "{v}"
        );
    }
}

#[test]
fn an_over_long_session_id_is_refused_with_a_clear_verdict() {
    let d = TestDaemon::start_with(&[("hookd.toml", STATEFUL)]).unwrap();
    let long = "s".repeat(1 << 20);
    let ev = event(
        "PreToolUse",
        Some(&json!(long)),
        "/tmp",
        &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
    );
    let out = d.hook(&ev, &[]).unwrap();
    assert_eq!(decision(&out), "ask", "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("session_id is 1048576 bytes long (hookd accepts at most 256)"),
        "{text}"
    );
    // Recorded as refused, without the id.
    let rows = d.events(5, &[]).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["verdict"], "error:ask", "{}", rows[0]);
    assert!(rows[0]["session_id"].is_null(), "{}", rows[0]);
    // And only the start of its payload: the id costs the store 4 KiB at most.
    let reason = rows[0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("payload recorded cut from"), "{reason}");
    let payload = rows[0]["payload"].as_str().unwrap_or("");
    assert!(
        !payload.is_empty() && payload.len() <= 4096,
        "{} bytes",
        payload.len()
    );
    // An id at the limit is a session like any other.
    let ok = "s".repeat(256);
    let out = d
        .hook(
            &event(
                "PreToolUse",
                Some(&json!(ok)),
                "/tmp",
                &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
            ),
            &[],
        )
        .unwrap();
    assert_eq!(decision(&out), "", "{out:?}");
}

#[test]
fn sessions_evicted_by_the_cap_come_back_from_the_store() {
    let cfg = format!("{STATEFUL}\n[session]\nmax_live = 64\n");
    let d = TestDaemon::start_with(&[("hookd.toml", &cfg)]).unwrap();
    let proj = d.home().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    let file = proj.join("lib.rs");
    std::fs::write(&file, "x\n").unwrap();
    let (cwd, f) = (proj.display().to_string(), file.display().to_string());
    let read = json!({"tool_name": "Read", "tool_input": {"file_path": f}, "tool_response": {}});
    let edit = json!({"tool_name": "Edit", "tool_input": {"file_path": f, "old_string": "x", "new_string": "y"}});
    let first = json!("first-session");
    d.hook(&event("PostToolUse", Some(&first), &cwd, &read), &[])
        .unwrap();
    // 200 newer sessions push it out of memory (the cap is 64).
    flood(&d, 1, 200, "newer", &cwd);
    let out = d
        .hook(&event("PreToolUse", Some(&first), &cwd, &edit), &[])
        .unwrap();
    assert_eq!(decision(&out), "", "read before, so allowed: {out:?}");
    // It had left memory: it came back by replaying its stored events.
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("session rebuilt from the store") && l.contains("first-session")),
        "the first session was never evicted:\n{log}"
    );
    let out = d
        .hook(
            &event("PreToolUse", Some(&json!("newer-0-0")), &cwd, &edit),
            &[],
        )
        .unwrap();
    assert_eq!(decision(&out), "deny", "{out:?}");
}

/// Sends `n` events of `n` distinct sessions over `clients` connections at once, pipelined,
/// and reads every reply.
fn flood(d: &TestDaemon, clients: usize, n: usize, prefix: &str, cwd: &str) {
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let socket = d.socket();
            let (prefix, cwd) = (format!("{prefix}-{c}"), cwd.to_string());
            let count = n / clients + usize::from(c < n % clients);
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(socket).unwrap();
                send_sessions(&mut s, count, &prefix, &cwd);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn send_sessions(s: &mut UnixStream, n: usize, prefix: &str, cwd: &str) {
    let mut w = s.try_clone().unwrap();
    let (prefix, cwd) = (prefix.to_string(), cwd.to_string());
    let writer = std::thread::spawn(move || {
        let mut buf = Vec::new();
        for i in 0..n {
            let ev = event(
                "PostToolUse",
                Some(&json!(format!("{prefix}-{i}"))),
                &cwd,
                &json!({"tool_name": "Bash", "tool_use_id": format!("{prefix}-t{i}"),
                        "tool_input": {"command": format!("cargo test --workspace # {i}")},
                        "tool_response": {"exitCode": 0}}),
            );
            let req = Request::Hook(HookRequest {
                event: ev,
                env: HookEnv::default(),
                options: ClientOptions::default(),
                id: None,
                env_file: None,
            });
            buf.extend(encode_message(&req).unwrap());
            if buf.len() > 64 << 10 {
                w.write_all(&buf).unwrap();
                buf.clear();
            }
        }
        w.write_all(&buf).unwrap();
    });
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    for i in 0..n {
        let frame = read_frame(s, MAX_FRAME_LEN).unwrap_or_else(|e| panic!("reply {i}: {e}"));
        let (_, body) = split_version(&frame).unwrap();
        match decode_body::<Response>(body).unwrap() {
            Response::Verdict(_) => {}
            other => panic!("reply {i}: {other:?}"),
        }
    }
    writer.join().unwrap();
}

fn vm_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

/// After a flood of distinct session ids is evicted, hookd's resident memory comes back to
/// within 12 MiB of what it was before (without any further event to nudge the allocator).
#[test]
fn memory_comes_back_after_a_flood_of_sessions_is_evicted() {
    const SESSIONS: usize = 60_000;
    const BOUND_KB: u64 = 12 << 10;
    let cfg = format!("{STATEFUL}\n[session]\nidle_ttl = \"2s\"\n");
    let d = TestDaemon::start_with(&[("hookd.toml", &cfg)]).unwrap();
    let pid = d.pid().unwrap();
    let cwd = "/tmp/flood-project";
    // Warm up: the store, the rules and the workers in use.
    flood(&d, 4, 2_000, "warm", cwd);
    pause(Duration::from_secs(1));
    let warm = vm_rss_kb(pid);
    flood(&d, 4, SESSIONS, "flood", cwd);
    let peak = vm_rss_kb(pid);
    let mut now = peak;
    let settled = wait_for(Duration::from_secs(90), "memory to come back", || {
        now = vm_rss_kb(pid);
        now <= warm + BOUND_KB
    });
    eprintln!(
        "{SESSIONS} sessions: VmRSS {warm} kB warm, {peak} kB after the flood, {now} kB after eviction"
    );
    settled.unwrap_or_else(|e| {
        panic!("{e}: {now} kB, more than {BOUND_KB} kB over the {warm} kB before the flood")
    });
    assert!(d.status().is_ok());
}
