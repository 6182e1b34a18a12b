//! Hostile input (RELIABILITY.md, "Hostile input"): truncated and slow frames, idle
//! connections, the connection cap, thousands of connections at once, deeply nested JSON, huge
//! strings, invalid UTF-8, pathological shell input and regex-heavy rules. Each is answered
//! with a clear error or a verdict, bounded in time (the client's deadline) and memory, and the
//! daemon keeps serving. (Oversized frames and malformed JSON: tests/lifecycle.rs.)

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use hook_protocol::frame::{decode_body, read_frame, split_version};
use hook_protocol::{MAX_FRAME_LEN, Response};
use hook_tests::harness::{
    TestDaemon, event_json, pause, permission_decision as decision, wait_for,
};
use serde_json::json;

const LIMITS: &str = "[server]\nmax_connections = 8\nidle_timeout = \"1s\"\n";

fn reply_error(s: &mut UnixStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let frame = read_frame(s, MAX_FRAME_LEN).unwrap();
    let (_, body) = split_version(&frame).unwrap();
    match decode_body::<Response>(body).unwrap() {
        Response::Error(e) => e,
        other => panic!("{other:?}"),
    }
}

fn bash(session: &str, command: &str) -> Vec<u8> {
    event_json(
        "PreToolUse",
        session,
        &json!({"tool_name": "Bash", "tool_input": {"command": command}}),
    )
}

fn vm_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn truncated_slow_and_idle_connections_are_cut_with_a_clear_error() {
    let d = TestDaemon::start_with(&[("hookd.toml", LIMITS)]).unwrap();
    // A header announcing 1000 bytes, then 10 and silence.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.write_all(&1000u32.to_be_bytes()).unwrap();
    s.write_all(&[0u8; 10]).unwrap();
    let e = reply_error(&mut s);
    assert!(e.contains("without a whole request"), "{e}");
    // A slow client: one byte every 100 ms never completes a frame within the idle timeout.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.write_all(&500u32.to_be_bytes()).unwrap();
    let mut cut = false;
    for _ in 0..100 {
        if s.write_all(b"x").is_err() {
            cut = true;
            break;
        }
        pause(Duration::from_millis(100));
        let mut buf = [0u8; 1];
        s.set_nonblocking(true).unwrap();
        let got = s.read(&mut buf);
        s.set_nonblocking(false).unwrap();
        if matches!(got, Ok(1)) {
            cut = true;
            break;
        }
    }
    assert!(cut, "slow client not cut within 10 s");
    // A truncated frame followed by a close: nothing to answer, the daemon carries on.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.write_all(&1000u32.to_be_bytes()).unwrap();
    s.write_all(b"{\"hook").unwrap();
    drop(s);
    // An idle connection is closed too, after saying why.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    let e = reply_error(&mut s);
    assert!(e.contains("idle_timeout"), "{e}");
    assert!(d.status().is_ok());
}

#[test]
fn past_the_connection_cap_clients_get_a_clear_error_and_fall_back() {
    let d = TestDaemon::start_with(&[(
        "hookd.toml",
        "[server]\nmax_connections = 8\nidle_timeout = \"30s\"\n",
    )])
    .unwrap();
    // Eight connections, each proven accepted by a status exchange, then held open.
    let held: Vec<UnixStream> = (0..8)
        .map(|_| {
            let mut s = UnixStream::connect(d.socket()).unwrap();
            hook_protocol::write_message(&mut s, &hook_protocol::Request::Status).unwrap();
            let r: Response = hook_protocol::read_message(&mut s).unwrap();
            assert!(matches!(r, Response::Status(_)));
            s
        })
        .collect();
    let mut s = UnixStream::connect(d.socket()).unwrap();
    let e = reply_error(&mut s);
    assert!(e.contains("maximum of 8 connections"), "{e}");
    let out = d
        .hook(&bash("cap", "git push -f origin main"), &["--no-autostart"])
        .unwrap();
    assert_eq!(decision(&out), "ask");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("maximum of 8 connections"), "{err}");
    drop(held);
    wait_for(Duration::from_secs(10), "slots free again", || {
        d.hook(
            &bash("cap2", "git push -f origin main"),
            &["--no-autostart"],
        )
        .is_ok_and(|o| decision(&o) == "deny")
    })
    .unwrap();
    wait_for(Duration::from_secs(10), "refusal logged", || {
        d.log().contains("connection limit reached")
    })
    .unwrap();
}

#[test]
fn thousands_of_connections_at_once_are_served_or_refused_in_bounded_memory() {
    let d = TestDaemon::start().unwrap();
    let pid = d.pid().unwrap();
    let before = vm_rss_kb(pid);
    // 3000 connections opened at once and held: 1024 are served (the default cap), the rest
    // told so at once.
    let mut conns: Vec<UnixStream> = Vec::new();
    for _ in 0..3000 {
        conns.push(UnixStream::connect(d.socket()).unwrap());
    }
    let frame = hook_protocol::frame::encode_message(&hook_protocol::Request::Hook(
        hook_protocol::HookRequest {
            event: bash("many", "git push -f origin main"),
            env: hook_protocol::HookEnv::default(),
            options: hook_protocol::ClientOptions::default(),
            id: None,
            env_file: None,
        },
    ))
    .unwrap();
    let (mut served, mut refused) = (0, 0);
    for s in &mut conns {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.write_all(&frame);
    }
    for s in &mut conns {
        let Ok(f) = read_frame(s, MAX_FRAME_LEN) else {
            continue;
        };
        let (_, body) = split_version(&f).unwrap();
        match decode_body::<Response>(body).unwrap() {
            Response::Verdict(_) => served += 1,
            Response::Error(e) if e.contains("maximum of 1024") => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    let peak = vm_rss_kb(pid);
    drop(conns);
    eprintln!(
        "3000 connections: {served} served, {refused} refused; VmRSS {before} kB -> {peak} kB"
    );
    assert_eq!(served + refused, 3000);
    assert!(served >= 1024, "{served}");
    assert!(peak < before + 200 * 1024, "{before} kB -> {peak} kB");
    assert!(d.status().is_ok());
}

#[test]
fn deep_json_huge_strings_and_invalid_utf8_get_clear_answers() {
    let d = TestDaemon::start().unwrap();
    // 100,000 nested arrays: serde_json's recursion limit, a clear reason, the guard's fallback.
    let mut deep = br#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":"#.to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.extend_from_slice(b"}\n");
    let out = d.hook(&deep, &[]).unwrap();
    assert_eq!(decision(&out), "ask");
    let reason = String::from_utf8_lossy(&out.stdout);
    assert!(reason.contains("recursion limit"), "{reason}");

    // Invalid UTF-8 inside a string.
    let mut bad = br#"{"hook_event_name":"PreToolUse","session_id":"utf","tool_name":"Bash","tool_input":{"command":"ls "#.to_vec();
    bad.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad.extend_from_slice(b"\"}}\n");
    let out = d.hook(&bad, &[]).unwrap();
    assert_eq!(decision(&out), "ask");
    let reason = String::from_utf8_lossy(&out.stdout);
    assert!(
        reason.contains("malformed event JSON") && reason.contains("unicode"),
        "{reason}"
    );

    // An 8 MiB command, past the analyser's 1 MiB limit (the force push at its end is never
    // seen): answered within a generous deadline, and asked about, saying why.
    let mut cmd = String::from("echo ");
    cmd.push_str(&"a".repeat(8 << 20));
    cmd.push_str(" && git push -f origin main");
    let out = d.hook(&bash("huge", &cmd), &["--deadline", "60s"]).unwrap();
    assert_eq!(
        decision(&out),
        "ask",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("hookd: shell-unparsed — This command could not be analysed: input too long"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rows = d.events(10, &["--session", "huge"]).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(d.status().is_ok());
}

#[test]
fn pathological_shell_input_is_bounded_and_fails_safe() {
    let d = TestDaemon::start().unwrap();
    let nested = format!(
        "{}git push -f origin main{}",
        "$(".repeat(10_000),
        ")".repeat(10_000)
    );
    let backticks = format!("echo {}", "`".repeat(10_001));
    let cases: Vec<(&str, String)> = vec![
        ("nested-subst", nested),
        (
            "unclosed-subst",
            format!("{}git push -f", "$(".repeat(10_000)),
        ),
        (
            "unterminated-quote",
            "git push -f origin main 'oops".to_string(),
        ),
        (
            "unterminated-dquote",
            "git push --force \"origin".to_string(),
        ),
        (
            "unterminated-heredoc",
            "cat <<EOF\nhello\ngit push -f origin main".to_string(),
        ),
        ("backticks", backticks),
        ("many-pipes", "a | ".repeat(50_000) + "git push -f"),
        ("bash-c-nest", {
            let mut c = "git push -f origin main".to_string();
            // Each level quotes the last (the text grows ~4x per level): 7 levels, ~0.4 MB.
            for _ in 0..7 {
                c = format!("bash -c {}", shell_quote(&c));
            }
            c
        }),
    ];
    for (name, cmd) in &cases {
        let t0 = std::time::Instant::now();
        let out = d.hook(&bash(name, cmd), &["--deadline", "30s"]).unwrap();
        eprintln!("{name}: {} ms", t0.elapsed().as_millis());
        let verdict = decision(&out);
        // Either analysed (the force push found) or not analysable: the rule's on_unparsed
        // default makes it match. Never an error, never a pass for a hidden force push.
        assert!(
            verdict == "deny" || verdict == "ask",
            "{name}: {verdict:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("could not answer"),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(d.status().is_ok());
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn regex_heavy_rules_are_refused_at_load_and_huge_inputs_match_in_linear_time() {
    let d = TestDaemon::start_with(&[
        ("hookd.toml", "packs = []\n"),
        (
            "rules.d/ok.toml",
            "[[rule]]\nname = 'alt'\ncommand = '(a|aa)+$'\naction = 'deny'\n",
        ),
    ])
    .unwrap();
    // A pattern whose compiled program would be enormous: a clear error, old rules kept.
    std::fs::write(
        d.home().join("rules.d/huge.toml"),
        "[[rule]]\nname = 'huge'\ncommand = '((a{1,1000}){1,1000}){1,1000}'\naction = 'deny'\n",
    )
    .unwrap();
    let out = d.hookctl(&["reload"]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("huge.toml") && err.contains("size limit"),
        "{err}"
    );
    // The classic catastrophic-backtracking input: linear in Rust's regex engine.
    let evil = format!("{}b", "a".repeat(1 << 20));
    let out = d
        .hook(
            &bash("regex", &format!("echo {evil}")),
            &["--deadline", "30s"],
        )
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("could not answer"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = d
        .hook(
            &bash("regex2", &"a".repeat(1 << 20)),
            &["--deadline", "30s"],
        )
        .unwrap();
    assert_eq!(decision(&out), "deny");
}

/// hook-client connects before it reads the event (to let hookd accept meanwhile). When the
/// event comes slowly, hookd's idle timeout closes that connection first; the event must still
/// get hookd's verdict, on a new connection, and be recorded once: not the fail mode, not an
/// "idle connection" error.
#[test]
fn an_event_written_after_the_idle_timeout_still_gets_hookds_verdict() {
    use std::process::Stdio;
    let d =
        TestDaemon::start_with(&[("hookd.toml", "[server]\nidle_timeout = \"100ms\"\n")]).unwrap();
    // 150 ms: the early connection is young but hookd has closed it (and said why on it);
    // 400 ms: it is past the age hook-client trusts at all.
    for (i, delay) in [150u64, 400].into_iter().enumerate() {
        let session = format!("slow-stdin-{i}");
        let mut child = d
            .command("hook-client")
            .arg("--no-autostart")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        pause(Duration::from_millis(delay));
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(&bash(&session, "git push -f origin main"))
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(decision(&out), "deny", "after {delay} ms: {err}");
        assert!(!err.contains("idle_timeout"), "after {delay} ms: {err}");
        let events = d.events(10, &["--session", &session]).unwrap();
        assert_eq!(events.len(), 1, "after {delay} ms: {events:?}");
    }
}
