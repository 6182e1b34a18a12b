//! Service-manager integration: a socket passed through LISTEN_FDS (systemd socket
//! activation) is served and left in place; the unit files verify; the plist parses.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, bin, event_json, wait_for};
use serde_json::{Value, json};

#[test]
fn hookd_serves_a_socket_passed_by_the_service_manager_and_leaves_it() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let sock = d.socket();
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let fd = listener.as_raw_fd();

    // A client connects before hookd runs: the connection waits in the kernel's queue.
    let ev = event_json(
        "PreToolUse",
        "sa",
        &json!({"tool_name": "Bash", "tool_input": {"command": "git push -f origin main"}}),
    );
    let mut early = d.command("hook-client");
    early.args(["--no-autostart", "--deadline", "20s"]);
    let mut early = early
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut early.stdin.take().unwrap(), &ev).unwrap();

    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.env_clear()
        .env("HOOKD_HOME", d.home())
        .env("HOME", d.home())
        .env("HOOKD_LOG", "debug")
        .args([
            "-c",
            "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\"",
            bin("hookd").to_str().unwrap(),
        ]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.log_path()).unwrap());
    #[allow(unsafe_code)]
    // SAFETY: dup2 is async-signal-safe; it puts the listener at fd 3 as systemd does.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                // Already in place: only clear close-on-exec.
                if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut hookd = cmd.spawn().unwrap();

    let mut out = String::new();
    early
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(early.wait().unwrap().success());
    let v: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}\n{}", d.log()));
    assert_eq!(
        v["hookSpecificOutput"]["permissionDecision"],
        json!("deny"),
        "{v}\n{}",
        d.log()
    );
    assert!(
        d.log()
            .contains("using the socket passed by the service manager"),
        "{}",
        d.log()
    );
    assert!(d.hookctl(&["status"]).unwrap().status.success());

    #[allow(unsafe_code)]
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(libc::pid_t::try_from(hookd.id()).unwrap(), libc::SIGTERM);
    }
    wait_for(Duration::from_secs(15), "hookd exit", || {
        hookd.try_wait().unwrap().is_some()
    })
    .unwrap();
    assert!(sock.exists(), "the manager's socket is left in place");
    drop(listener);
}

#[test]
fn unit_files_verify_with_systemd_analyze_when_available() {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze not installed: skipping unit verification");
        return;
    };
    if !out.status.success() {
        eprintln!("systemd-analyze unusable: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../systemd");
    for unit in ["hookd.service", "hookd.socket"] {
        let text = std::fs::read_to_string(format!("{root}/{unit}")).unwrap();
        let text = text.replace("/usr/local/bin/hookd", bin("hookd").to_str().unwrap());
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("hookd.socket"))
        .arg(dir.path().join("hookd.service"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Only problems in our units count (the host's own units may warn).
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("hookd.")).collect();
    assert!(ours.is_empty(), "{err}");
}

#[test]
fn launchd_plist_is_well_formed_and_names_the_listeners_socket() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../launchd/dev.hookd.hookd.plist"
    ))
    .unwrap();
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc =
        roxmltree::Document::parse_with_options(&text, opts).expect("plist is well-formed XML");
    let keys: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("key"))
        .filter_map(|n| n.text())
        .collect();
    for k in [
        "Label",
        "ProgramArguments",
        "Sockets",
        "Listeners",
        "SockPathName",
        "SockPathMode",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    let mode = doc
        .descendants()
        .find(|n| n.has_tag_name("key") && n.text() == Some("SockPathMode"))
        .and_then(|n| n.next_sibling_element())
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(mode, "384", "0600");
}
