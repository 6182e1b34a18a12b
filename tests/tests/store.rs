//! The event store as an audit record: secrets never reach the database file, `tail -f`
//! follows live, exports stream in constant memory, retention prunes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, wait_for};
use serde_json::{Value, json};

/// Secrets of every kind hookd must redact (assembled at run time so this file holds none).
fn secrets() -> Vec<(&'static str, String)> {
    let j = |parts: &[&str]| parts.concat();
    vec![
        ("email", j(&["alice.smith", "@", "example.org"])),
        ("phone", j(&["+1 415 555 ", "0198"])),
        ("ssn", j(&["123-", "45-", "6789"])),
        ("card", j(&["4111 1111 ", "1111 1111"])),
        (
            "anthropic",
            j(&["sk-ant-", "api03-abcdefghijklmnopqrstuvwxyz0123456789ABCD"]),
        ),
        (
            "openai",
            j(&["sk-proj-", "abcdefghijklmnopqrstuvwxyz012345"]),
        ),
        (
            "github",
            j(&["ghp_", "abcdefghijklmnopqrstuvwxyz0123456789"]),
        ),
        (
            "github_pat",
            j(&[
                "github_pat_",
                "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            ]),
        ),
        ("gitlab", j(&["glpat-", "abcdefghij0123456789"])),
        (
            "slack",
            j(&[
                "xoxb-",
                "123456789012-123456789012-abcdefghijklmnopqrstuvwx",
            ]),
        ),
        ("aws_id", j(&["AKIA", "IOSFODNN7EXAMPLE"])),
        (
            "aws_secret",
            j(&["wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY"]),
        ),
        (
            "google",
            j(&["AIza", "SyA-abcdefghijklmnopqrstuvwxyz01234"]),
        ),
        ("stripe", j(&["sk_live_", "abcdefghijklmnopqrstuvwx"])),
        (
            "jwt",
            j(&[
                "eyJhbGciOiJIUzI1NiJ9",
                ".eyJzdWIiOiIxMjM0NTY3ODkwIn0",
                ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            ]),
        ),
        ("bearer", j(&["Bearer ", "abcdef0123456789ghijkl"])),
        ("url_password", j(&["hunter2", "pass"])),
        ("key_value", j(&["correct-horse-", "battery-staple"])),
        (
            "pem",
            j(&["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7"]),
        ),
    ]
}

#[test]
fn secrets_never_reach_the_database_file() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let s = secrets();
    let get = |k: &str| s.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    // Kinds recognisable on their own go into a prompt together; the rest only make sense in
    // their context (a URL's password, a sensitive key's value, a PEM block) and are seeded so.
    let contextual = ["url_password", "key_value", "pem", "aws_secret"];
    let all_text: String = s
        .iter()
        .filter(|(k, _)| !contextual.contains(k))
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" and ");
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
        get("pem")
    );
    let url = format!("https://deploy:{}@db.example.com/x", get("url_password"));
    let aws = format!(
        "aws_access_key_id = {}\naws_secret_access_key = {}",
        get("aws_id"),
        get("aws_secret")
    );
    let events = [
        event_json(
            "UserPromptSubmit",
            "red",
            &json!({"prompt": format!("use {all_text}")}),
        ),
        event_json(
            "PreToolUse",
            "red",
            &json!({"tool_name": "Bash", "tool_input": {"command": format!("curl -H 'Authorization: {}' {url}", get("bearer"))}}),
        ),
        event_json(
            "PreToolUse",
            "red",
            &json!({"tool_name": "Write", "tool_input": {"file_path": "/home/alice/p/.aws", "content": aws}}),
        ),
        event_json(
            "PostToolUse",
            "red",
            &json!({"tool_name": "Read", "tool_input": {"file_path": "/home/alice/key.pem"}, "tool_response": {"file": {"content": pem}}}),
        ),
        event_json(
            "PreToolUse",
            "red",
            &json!({"tool_name": "mcp__db__query", "tool_input": {"config": {"nested": [{"password": get("key_value"), "api_key": get("key_value")}]}}}),
        ),
        event_json(
            "Notification",
            "red",
            &json!({"message": format!("token {}", get("github"))}),
        ),
    ];
    for e in &events {
        d.hook(e, &[]).unwrap();
    }
    assert_eq!(
        d.events(100, &["--session", "red"]).unwrap().len(),
        events.len()
    );
    // Keep-alive: git SHAs, UUIDs and ordinary numbers must survive.
    let keep = event_json(
        "PostToolUse",
        "red",
        &json!({"tool_name": "Bash", "tool_input": {"command": "git show 4b825dc642cb6eb9a060e54bf8d69288fbee4904"},
        "tool_response": {"stdout": "id 550e8400-e29b-41d4-a716-446655440000 took 1234567 ms, 16 files, exit 0"}}),
    );
    d.hook(&keep, &[]).unwrap();
    // Scan the raw bytes of the database and its WAL.
    let mut raw = Vec::new();
    for f in ["hookd.db", "hookd.db-wal"] {
        if let Ok(b) = std::fs::read(d.home().join(f)) {
            raw.extend(b);
        }
    }
    let hay = String::from_utf8_lossy(&raw);
    let mut leaked = Vec::new();
    for (kind, value) in &s {
        if hay.contains(value.as_str()) {
            leaked.push(*kind);
        }
    }
    assert!(
        hay.contains("/home/[USER]/"),
        "home paths are kept with the user name removed"
    );
    assert!(!hay.contains("/home/alice"), "user name in home paths");
    assert!(leaked.is_empty(), "found in the raw store: {leaked:?}");
    for kept in [
        "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "550e8400-e29b-41d4-a716-446655440000",
        "1234567",
    ] {
        assert!(
            hay.contains(kept),
            "{kept} was redacted but is not a secret"
        );
    }
    let rows = d.events(100, &["--session", "red"]).unwrap();
    assert!(
        rows.iter()
            .any(|r| !r["redacted"].as_array().unwrap().is_empty()),
        "rows record what was redacted"
    );
}

#[test]
fn tail_follows_live_events() {
    let d = TestDaemon::start().unwrap();
    d.hook(
        &event_json("SessionStart", "t1", &json!({"source": "startup"})),
        &[],
    )
    .unwrap();
    let mut child = d
        .command("hookctl")
        .args(["tail", "-f", "--json", "-n", "5", "--session", "t1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(first["event"], json!("SessionStart"), "recent events first");
    // hookd only builds live rows when a tail listens: wait until it is subscribed.
    let ev = event_json(
        "PreToolUse",
        "t1",
        &json!({"tool_name": "Bash", "tool_input": {"command": "git push -f origin main"}}),
    );
    d.hook(&event_json("Stop", "other-session", &json!({})), &[])
        .unwrap();
    d.hook(&ev, &[]).unwrap();
    let live: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(
        live["event"],
        json!("PreToolUse"),
        "filtered to the session, other sessions skipped"
    );
    assert_eq!(live["verdict"], json!("deny"));
    assert_eq!(live["summary"], json!("git push -f origin main"));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Fills the store directly (as 100k hook deliveries would) for export tests.
fn fill(d: &mut TestDaemon, n: usize, old_ms: Option<i64>) {
    d.signal_and_wait(libc::SIGTERM).unwrap();
    let mut conn = rusqlite::Connection::open(d.home().join("hookd.db")).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut st = tx
            .prepare("INSERT INTO events (time_ms, session_id, event, tool, payload, verdict, rules, latency_us, source, summary)
                      VALUES (?1, ?2, 'PreToolUse', 'Bash', ?3, 'none', '[]', 12, 'socket', 'ls -la')")
            .unwrap();
        let payload = format!(
            "{{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{{\"command\":\"ls -la {}\"}}}}",
            "x".repeat(300)
        );
        let base = old_ms.unwrap_or(1_795_000_000_000);
        for i in 0..n {
            st.execute(rusqlite::params![
                base + i as i64,
                format!("s{}", i % 50),
                payload
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    drop(conn);
    d.spawn().unwrap();
}

/// Peak RSS (KiB) of `hookctl export` writing to /dev/null, and the number of lines.
fn export_peak_kib(d: &TestDaemon) -> (i64, usize) {
    let mut child = d
        .command("hookctl")
        .args(["export", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = 0;
    let mut peak = 0i64;
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut buf = String::new();
    loop {
        buf.clear();
        if reader.read_line(&mut buf).unwrap() == 0 {
            break;
        }
        lines += 1;
        if lines % 5000 == 0
            && let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(l) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak = peak.max(l.split_whitespace().nth(1).unwrap().parse().unwrap());
        }
    }
    assert!(child.wait().unwrap().success());
    (peak, lines)
}

#[test]
fn export_of_100k_events_streams_in_constant_memory() {
    let mut d = TestDaemon::start().unwrap();
    fill(&mut d, 10_000, None);
    let (small, n) = export_peak_kib(&d);
    assert_eq!(n, 10_000);
    fill(&mut d, 90_000, None);
    let (large, n) = export_peak_kib(&d);
    assert_eq!(n, 100_000);
    // Ten times the events, about the same memory: nothing grows with the export's size.
    assert!(
        large < small + 8 * 1024,
        "peak RSS {small} KiB for 10k events, {large} KiB for 100k"
    );
    let csv = d
        .command("hookctl")
        .args(["export", "--format", "csv", "--session", "s7"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.starts_with("id,time,session_id,event"));
    assert_eq!(text.lines().count(), 1 + 100_000 / 50);
}

#[test]
fn retention_prunes_events_older_than_max_age() {
    let mut d =
        TestDaemon::start_with(&[("hookd.toml", "packs = []\n[store]\nmax_age = \"1d\"\n")])
            .unwrap();
    d.hook(&event_json("Stop", "fresh", &json!({})), &[])
        .unwrap();
    fill(&mut d, 3_000, Some(1_000_000_000)); // 2001: far older than a day
    // The newest event is never pruned (ids stay monotonic), so the last is a fresh one too.
    d.hook(&event_json("Stop", "fresh-too", &json!({})), &[])
        .unwrap();
    // The writer prunes shortly after start, in bounded rounds.
    wait_for(Duration::from_secs(30), "old events pruned", || {
        d.status()
            .is_ok_and(|s| s["hookd"]["events_total"] == json!(2))
    })
    .unwrap();
    let left: Vec<_> = d
        .events(10, &[])
        .unwrap()
        .iter()
        .map(|e| e["session_id"].clone())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&json!("fresh")) && left.contains(&json!("fresh-too")),
        "{left:?}"
    );
}
