//! Security (RELIABILITY.md, "Security"; threat model in docs/operations.md): another user gets
//! nothing from the HTTP endpoint without the token and cannot read it; a socket directory in
//! /tmp made by someone else, or a symlink, makes hookd refuse to start; no event or rule
//! content is ever executed; secrets never reach the log. (Another uid on the Unix socket:
//! tests/lifecycle.rs.)

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, pause, wait_for};
use hook_tests::mounts::{Binaries, Tmpfs, private_namespace};
use serde_json::json;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    hook_protocol::paths::uid() == 0
}

#[test]
fn another_user_can_neither_read_the_token_nor_use_http_without_it() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to act as another uid");
        return;
    }
    let d = TestDaemon::start_with(&[(
        "hookd.toml",
        "packs = []\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )])
    .unwrap();
    let port_file = d.home().join("state/http-port");
    wait_for(Duration::from_secs(10), "http port", || {
        std::fs::read_to_string(&port_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .unwrap();
    let port = std::fs::read_to_string(&port_file).unwrap();
    // Open the directories so only the token file's own mode stands in the way.
    for dir in [d.home().to_path_buf(), d.home().join("state")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let token = d.home().join("state/http-token");
    let out = Command::new("cat")
        .arg(&token)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert!(!out.status.success(), "uid {NOBODY} read the token");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    // Over loopback TCP, as uid nobody, without the token.
    let body = String::from_utf8(event_json(
        "PreToolUse",
        "intruder-http",
        &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
    ))
    .unwrap();
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{}; printf 'POST /hook HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: {}\\r\\nConnection: close\\r\\n\\r\\n%s' \"$BODY\" >&3; cat <&3",
        port.trim(),
        body.len()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("BODY", &body)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    assert!(
        d.events(10, &["--session", "intruder-http"])
            .unwrap()
            .is_empty()
    );
}

/// Runs `hookd` (from `bin_dir`) with the default socket location and no `HOME`, so the
/// socket goes to the last-resort `/tmp/hookd-0`, in this thread's private mount namespace;
/// returns its exit code and stderr.
fn start_with_default_socket(bin_dir: &Path, xdg: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(bin_dir.join("hookd"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("XDG_CONFIG_HOME", xdg.join("config"))
        .env("XDG_DATA_HOME", xdg.join("data"))
        .env("XDG_STATE_HOME", xdg.join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal exits at once; a daemon that started is stopped here.
    let sock = Path::new(LAST_RESORT).join("hookd.sock");
    let mut code = None;
    for _ in 0..400 {
        if let Some(status) = child.try_wait().unwrap() {
            code = status.code();
            break;
        }
        if sock.exists() {
            #[allow(unsafe_code)]
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(libc::pid_t::try_from(child.id()).unwrap(), libc::SIGTERM);
            }
            code = child.wait().unwrap().code();
            break;
        }
        pause(Duration::from_millis(25));
    }
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    (code, err)
}

/// The last-resort socket directory of uid 0 (no `/run/user/0`, no `HOME`).
const LAST_RESORT: &str = "/tmp/hookd-0";

#[test]
fn a_socket_directory_made_by_someone_else_or_a_symlink_is_refused() {
    if !is_root() || private_namespace().is_err() {
        eprintln!("SKIPPED: needs root and a private mount namespace to own /tmp/hookd-0");
        return;
    }
    // Opened before /tmp is covered: the checkout itself may live under /tmp.
    let mut bins = Binaries::open(&["hookd"]).unwrap();
    // A private /tmp (and /run/user, if the machine has one) for this test only.
    let _tmp = Tmpfs::mount_with_mode(Path::new("/tmp"), "64m", 0o1777).unwrap();
    let _run = Path::new("/run/user")
        .exists()
        .then(|| Tmpfs::mount(Path::new("/run/user"), "1m").unwrap());
    let bin_dir = bins.install(Path::new("/tmp/bin")).unwrap();
    let xdg = Path::new("/tmp/xdg");
    std::fs::create_dir_all(xdg).unwrap();
    let dir = Path::new(LAST_RESORT);

    // Pre-created by another user.
    std::fs::create_dir(dir).unwrap();
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let (code, err) = start_with_default_socket(&bin_dir, xdg);
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("socket directory /tmp/hookd-0 is owned by uid 65534; refusing it"),
        "{err}"
    );
    std::fs::remove_dir(dir).unwrap();

    // A symlink to a directory the attacker controls.
    std::fs::create_dir(Path::new("/tmp/attacker")).unwrap();
    std::os::unix::fs::symlink("/tmp/attacker", dir).unwrap();
    let (code, err) = start_with_default_socket(&bin_dir, xdg);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("is a symlink; refusing it"), "{err}");
    assert!(
        std::fs::read_dir("/tmp/attacker").unwrap().next().is_none(),
        "nothing created through the symlink"
    );
    std::fs::remove_file(dir).unwrap();

    // Absent: hookd makes it, private.
    let (code, err) = start_with_default_socket(&bin_dir, xdg);
    assert_eq!(code, Some(0), "{err}");
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn no_event_or_rule_content_is_ever_executed() {
    let marker_dir = tempfile::tempdir().unwrap();
    let m = |n: &str| marker_dir.path().join(n).display().to_string();
    let rules = format!(
        "packs = []\n[[rule]]\nname = 'ctx'\nevent = 'SessionStart'\naction = 'context'\n\
         context = '$(touch {a}) `touch {b}`'\n\
         [[rule]]\nname = 'deny-rm'\ncommand = '^rm'\naction = 'deny'\nreason = '$(touch {c}); touch {d}'\n",
        a = m("ctx-subst"),
        b = m("ctx-tick"),
        c = m("reason-subst"),
        d = m("reason-seq"),
    );
    let d = TestDaemon::start_with(&[("hookd.toml", &rules)]).unwrap();
    let inject = |n: &str| format!("$(touch {}) `touch {}`; touch {}", m(n), m(n), m(n));
    let events = [
        event_json(
            "SessionStart",
            "exec",
            &json!({"source": "startup", "cwd": inject("cwd")}),
        ),
        event_json(
            "UserPromptSubmit",
            "exec",
            &json!({"prompt": inject("prompt")}),
        ),
        event_json(
            "PreToolUse",
            "exec",
            &json!({"tool_name": "Bash", "tool_input": {"command": format!("rm x; {}", inject("command"))}}),
        ),
        event_json(
            "PreToolUse",
            "exec",
            &json!({"tool_name": "Bash", "tool_input": {"command": format!("bash -c {:?}", inject("bash-c"))}}),
        ),
        event_json(
            "PreToolUse",
            "exec",
            &json!({"tool_name": "Write", "tool_input": {"file_path": inject("path"), "content": inject("content")}}),
        ),
        event_json(
            "PostToolUse",
            "exec",
            &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_response": {"stdout": inject("stdout")}}),
        ),
        event_json(
            "Notification",
            "exec",
            &json!({"message": inject("message")}),
        ),
    ];
    for e in &events {
        d.hook(e, &[]).unwrap();
    }
    let mut bad = inject("malformed").into_bytes();
    bad.insert(0, b'{');
    d.hook(&bad, &["--event", "Stop"]).unwrap();
    for args in [
        vec!["explain".to_string(), inject("explain")],
        vec!["test".to_string(), "bash".to_string(), inject("test")],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        d.hookctl(&args).unwrap();
    }
    let _ = d.events(100, &["--session", "exec"]).unwrap();
    let _ = d.hookctl(&["tail", "-n", "50"]).unwrap();
    let created: Vec<_> = std::fs::read_dir(marker_dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(created.is_empty(), "executed: {created:?}");
}

#[test]
fn secrets_never_reach_the_log_even_at_trace_level() {
    let mut d = TestDaemon::unstarted(&[("hookd.toml", "packs = []\n")]).unwrap();
    d.set_env("HOOKD_LOG", "trace");
    d.spawn().unwrap();
    let j = |p: &[&str]| p.concat();
    let secrets = [
        j(&["sk-ant-", "api03-abcdefghijklmnopqrstuvwxyz0123456789ABCD"]),
        j(&["ghp_", "abcdefghijklmnopqrstuvwxyz0123456789"]),
        j(&["AKIA", "IOSFODNN7EXAMPLE"]),
        j(&["hunter2", "-db-password"]),
    ];
    let all = secrets.join(" ");
    d.hook(
        &event_json("UserPromptSubmit", "sec", &json!({"prompt": all})),
        &[],
    )
    .unwrap();
    d.hook(
        &event_json(
            "PreToolUse",
            "sec",
            &json!({"tool_name": "Bash", "tool_input": {"command": format!("curl -u admin:{} https://x", secrets[3])}}),
        ),
        &[],
    )
    .unwrap();
    // Malformed JSON carrying secrets: the error is logged, the content is not.
    let mut bad = format!("{{\"hook_event_name\":\"Stop\",\"prompt\":\"{all}").into_bytes();
    bad.push(b'\x01');
    d.hook(&bad, &[]).unwrap();
    d.hookctl(&["test", "bash", &format!("echo {}", secrets[0])])
        .unwrap();
    d.signal_and_wait(libc::SIGTERM).unwrap();
    let log = d.log();
    assert!(log.contains("hookd stopped"), "the log was written");
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "secret in the log: {s}");
    }
}
