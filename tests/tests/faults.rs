//! Faults around a running hookd (RELIABILITY.md, "Faults"): the store on a full or read-only
//! file system (answered events then wait in the emergency journal), the database deleted or corrupt, the rules directory deleted, replaced by a
//! symlink or unreadable, the socket file deleted, a stopped daemon with a full connection
//! queue. In each, verdicts keep flowing, nothing answered is lost, `status`/`doctor` say why,
//! and hookd recovers once the cause is gone.
//!
//! File systems: a tmpfs mounted in a private mount namespace of the test's thread (root, as
//! here and in CI). Where mounting is not permitted, the full-disk test falls back to a file
//! size limit on hookd (`RLIMIT_FSIZE`, raised again with `prlimit` for the recovery) and says
//! so; the read-only test needs a mount and says when it cannot run.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hook_tests::harness::{
    TestDaemon, bin, event_json, pause, permission_decision as decision, run_with_stdin, wait_for,
};
use hook_tests::mounts::{Tmpfs, private_namespace};
use serde_json::{Value, json};

fn force_push(session: &str) -> Vec<u8> {
    event_json(
        "PreToolUse",
        session,
        &json!({"tool_name": "Bash", "tool_input": {"command": "git push -f origin main"}}),
    )
}

fn doctor(d: &TestDaemon) -> Vec<Value> {
    let project = tempfile::tempdir().unwrap();
    let out = d
        .hookctl(&[
            "doctor",
            "--json",
            "--project",
            project.path().to_str().unwrap(),
        ])
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["checks"].as_array().unwrap().clone()
}

fn store_checks(d: &TestDaemon) -> Vec<(String, String)> {
    doctor(d)
        .into_iter()
        .filter(|c| c["name"] == "store")
        .map(|c| {
            (
                c["level"].as_str().unwrap().to_string(),
                c["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn stats(d: &TestDaemon) -> Value {
    let out = d.hookctl(&["stats", "--json"]).unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Sends `n` force pushes in sessions `<prefix>-<i>`; each must be denied by hookd itself.
fn send_denied(d: &TestDaemon, prefix: &str, n: usize) {
    for i in 0..n {
        let out = d
            .hook(&force_push(&format!("{prefix}-{i}")), &["--no-autostart"])
            .unwrap();
        assert_eq!(
            decision(&out),
            "deny",
            "verdict from hookd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "no fallback: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every session `<prefix>-<i>` has exactly one event in the store.
fn each_stored_once(d: &TestDaemon, prefix: &str, n: usize) {
    let rows = d.events(100_000, &[]).unwrap();
    for i in 0..n {
        let s = format!("{prefix}-{i}");
        let count = rows.iter().filter(|r| r["session_id"] == json!(s)).count();
        assert_eq!(count, 1, "{s}: {count} rows");
    }
}

/// Sends denied events in batches of `batch` (sessions `full{first}-{i}`) on a full disk until
/// hookd's status names a store error; returns it and the events sent. How many it takes
/// depends on the WAL space the checkpointer freed after the disk filled (under pressure it
/// truncates the WAL every 100 ms): at most 20 batches.
fn send_until_store_error(d: &TestDaemon, batch: usize) -> (String, usize) {
    let mut sent = 0;
    loop {
        send_denied(d, &format!("full{sent}"), batch);
        sent += batch;
        if let Some(e) = store_error(d) {
            return (e, sent);
        }
        assert!(
            sent < 20 * batch,
            "status names no store error after {sent} events on a full disk"
        );
    }
}

/// [`each_stored_once`] for every batch [`send_until_store_error`] sent.
fn each_batch_stored_once(d: &TestDaemon, sent: usize, batch: usize) {
    for first in (0..sent).step_by(batch) {
        each_stored_once(d, &format!("full{first}"), batch);
    }
}

fn store_error(d: &TestDaemon) -> Option<String> {
    d.status().unwrap()["hookd"]["store_error"]
        .as_str()
        .map(str::to_string)
}

/// Once hookd says the store takes writes again, the events answered meanwhile are in it: the
/// error cleared, the emergency journal and the spool empty.
fn recovered(d: &TestDaemon) -> bool {
    d.status().is_ok_and(|s| {
        s["hookd"]["store_error"].is_null()
            && s["hookd"]["spool_backlog_bytes"] == json!(0)
            && s["hookd"]["journal_events"] == json!(0)
    })
}

#[test]
fn full_disk_keeps_verdicts_flowing_journals_and_recovers_when_space_returns() {
    let mounted = private_namespace().is_ok();
    let mut d = TestDaemon::unstarted(&[]).unwrap();
    let data = d.home().join("data");
    let fs = if mounted {
        eprintln!("full disk: a 2 MiB tmpfs for the store, filled up");
        Some(Tmpfs::mount(&data, "2m").unwrap())
    } else {
        eprintln!(
            "full disk: mounting not permitted here; using RLIMIT_FSIZE on hookd (files past 64 KiB fail with EFBIG)"
        );
        std::fs::create_dir_all(&data).unwrap();
        None
    };
    d.set_env("HOOKD_DB", data.join("hookd.db").to_str().unwrap());
    d.spawn().unwrap();
    send_denied(&d, "before", 3);
    match &fs {
        Some(fs) => {
            fs.fill("filler").unwrap();
        }
        None => d.set_running_file_size_limit(Some(64 * 1024)).unwrap(),
    }
    let batch = if fs.is_some() { 40 } else { 200 };
    let (err, sent) = send_until_store_error(&d, batch);
    assert!(
        err.contains("full") || err.contains("too large") || err.contains("I/O"),
        "{err}"
    );
    assert!(
        d.status().unwrap()["hookd"]["journal_events"]
            .as_u64()
            .unwrap()
            > 0,
        "events went to the emergency journal"
    );
    let checks = store_checks(&d);
    assert!(
        checks
            .iter()
            .any(|(l, detail)| l == "fail" && detail.contains("emergency journal")),
        "{checks:?}"
    );
    // Space returns: the journal is moved into the store, the error clears, nothing is lost
    // or repeated, and nothing hookd answered counts as a client's fallback.
    match &fs {
        Some(fs) => std::fs::remove_file(fs.path().join("filler")).unwrap(),
        None => d.set_running_file_size_limit(None).unwrap(),
    }
    send_denied(&d, "after", 3);
    wait_for(Duration::from_secs(30), "recovery", || recovered(&d)).unwrap();
    assert_eq!(d.status().unwrap()["hookd"]["fallbacks_recorded"], json!(0));
    each_stored_once(&d, "before", 3);
    each_batch_stored_once(&d, sent, batch);
    each_stored_once(&d, "after", 3);
    drop(d);
    drop(fs);
}

#[test]
fn store_and_spool_on_one_full_disk_journal_events_and_lose_none() {
    if private_namespace().is_err() {
        eprintln!(
            "SKIPPED store and spool on one full disk: needs a mount (root or CAP_SYS_ADMIN)"
        );
        return;
    }
    // The default layout: store, spool and emergency journal on the same file system (a
    // reserve that fits the 2 MiB; durability.rs runs past it and kills hookd).
    let mut d =
        TestDaemon::unstarted(&[("hookd.toml", "[store]\nemergency_journal = \"256KiB\"\n")])
            .unwrap();
    let fs = Tmpfs::mount(&d.home().join("data"), "2m").unwrap();
    d.set_env("HOOKD_DB", fs.path().join("hookd.db").to_str().unwrap());
    d.set_env("HOOKD_STATE_DIR", fs.path().join("state").to_str().unwrap());
    d.spawn().unwrap();
    send_denied(&d, "before", 2);
    fs.fill("filler").unwrap();
    let (err, sent) = send_until_store_error(&d, 40);
    assert!(
        err.contains("answered events kept in the emergency journal"),
        "{err}"
    );
    std::fs::remove_file(fs.path().join("filler")).unwrap();
    wait_for(Duration::from_secs(30), "recovery", || recovered(&d))
        .unwrap_or_else(|e| panic!("{e}: {:#}\n{}", d.status().unwrap(), d.log()));
    each_stored_once(&d, "before", 2);
    each_batch_stored_once(&d, sent, 40);
    drop(d);
    drop(fs);
}

#[test]
fn read_only_store_at_start_answers_journals_and_recovers() {
    if private_namespace().is_err() {
        eprintln!(
            "SKIPPED read-only store: needs a mount (root or CAP_SYS_ADMIN); full_disk covers write failures without one"
        );
        return;
    }
    let mut d = TestDaemon::unstarted(&[]).unwrap();
    let fs = Tmpfs::mount(&d.home().join("data"), "8m").unwrap();
    d.set_env("HOOKD_DB", fs.path().join("hookd.db").to_str().unwrap());
    d.spawn().unwrap();
    send_denied(&d, "rw", 2);
    d.signal_and_wait(libc::SIGTERM).unwrap();
    // A file system cannot be remounted read-only while hookd holds files open for writing
    // (EBUSY), so it goes read-only between runs, as after an `errors=remount-ro` reboot.
    fs.set_read_only(true).unwrap();
    d.spawn().unwrap();
    send_denied(&d, "ro", 5);
    let err = store_error(&d).expect("status names the store error");
    assert!(err.contains("read") || err.contains("open"), "{err}");
    let checks = store_checks(&d);
    assert!(checks.iter().any(|(l, _)| l == "fail"), "{checks:?}");
    fs.set_read_only(false).unwrap();
    send_denied(&d, "back", 2);
    wait_for(Duration::from_secs(30), "recovery", || recovered(&d))
        .unwrap_or_else(|e| panic!("{e}: {:#}\n{}", d.status().unwrap(), d.log()));
    each_stored_once(&d, "rw", 2);
    each_stored_once(&d, "ro", 5);
    each_stored_once(&d, "back", 2);
    drop(d);
    drop(fs);
}

#[test]
fn a_database_deleted_while_running_is_recreated_and_reported() {
    let d = TestDaemon::start().unwrap();
    send_denied(&d, "old", 2);
    for f in ["hookd.db", "hookd.db-wal", "hookd.db-shm"] {
        let _ = std::fs::remove_file(d.home().join(f));
    }
    send_denied(&d, "new", 3);
    assert!(d.home().join("hookd.db").exists(), "a new store file");
    each_stored_once(&d, "new", 3);
    let s = stats(&d);
    let reasons = s["health_reasons"].to_string();
    assert!(reasons.contains("was deleted while hookd ran"), "{reasons}");
    let checks = store_checks(&d);
    assert!(
        checks
            .iter()
            .any(|(l, detail)| l == "warn" && detail.contains("deleted")),
        "{checks:?}"
    );
}

#[test]
fn a_corrupt_database_is_moved_aside_at_start_and_hookd_answers() {
    let mut d = TestDaemon::start().unwrap();
    send_denied(&d, "old", 2);
    d.signal_and_wait(libc::SIGTERM).unwrap();
    // Garbage over the whole file, no WAL to read pages from: not a database any more.
    std::fs::write(d.home().join("hookd.db"), vec![0x5a; 64 * 1024]).unwrap();
    for f in ["hookd.db-wal", "hookd.db-shm"] {
        let _ = std::fs::remove_file(d.home().join(f));
    }
    d.spawn().unwrap();
    send_denied(&d, "new", 2);
    each_stored_once(&d, "new", 2);
    let aside: Vec<_> = std::fs::read_dir(d.home())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("hookd.db.corrupt-") && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let reasons = stats(&d)["health_reasons"].to_string();
    assert!(
        reasons.contains("was corrupt") && reasons.contains(".recover"),
        "{reasons}"
    );
    assert!(store_checks(&d).iter().any(|(l, _)| l == "warn"));
}

#[test]
fn a_database_corrupted_while_running_is_moved_aside_and_nothing_answered_is_lost() {
    let d = TestDaemon::start().unwrap();
    send_denied(&d, "old", 2);
    // Overwrite every page (header included) under the running writer.
    let db = d.home().join("hookd.db");
    let len = std::fs::metadata(&db).unwrap().len().max(4096);
    std::fs::write(&db, vec![0x5a; usize::try_from(len).unwrap()]).unwrap();
    send_denied(&d, "new", 5);
    // Whatever SQLite notices first (a commit, a checkpoint, a read), every event answered
    // after the damage is in the store the daemon reads now, or in the emergency journal
    // until it is.
    wait_for(Duration::from_secs(30), "journal moved", || {
        d.status().is_ok_and(|s| {
            s["hookd"]["spool_backlog_bytes"] == json!(0)
                && s["hookd"]["journal_events"] == json!(0)
        })
    })
    .unwrap();
    // Reading the damaged file fails clearly, or hookd already moved it aside.
    let out = d.hookctl(&["events", "--json", "--limit", "100"]).unwrap();
    if out.status.success() {
        each_stored_once(&d, "new", 5);
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("malformed") || err.contains("not a database"),
            "{err}"
        );
    }
}

fn deny_ls() -> &'static str {
    "[[rule]]\nname = 'no-ls'\ncommand = '^ls'\naction = 'deny'\nreason = 'use Glob'\n"
}

fn ls_verdict(d: &TestDaemon) -> String {
    let ev = event_json(
        "PreToolUse",
        "rules",
        &json!({"tool_name": "Bash", "tool_input": {"command": "ls -la"}}),
    );
    decision(&d.hook(&ev, &[]).unwrap())
}

fn rule_errors(d: &TestDaemon) -> String {
    d.status().unwrap()["hookd"]["rule_errors"].to_string()
}

#[test]
fn rules_dir_deleted_or_replaced_by_a_foreign_symlink_keeps_the_last_good_rules() {
    let d = TestDaemon::start_with(&[
        ("hookd.toml", "packs = []\n"),
        ("rules.d/ls.toml", deny_ls()),
    ])
    .unwrap();
    assert_eq!(ls_verdict(&d), "deny");
    let rules_dir = d.home().join("rules.d");

    // Deleted: the watcher reloads, sees the directory gone, keeps the rules and says so.
    std::fs::remove_dir_all(&rules_dir).unwrap();
    wait_for(Duration::from_secs(10), "reload noticed", || {
        rule_errors(&d).contains("the directory is gone")
    })
    .unwrap();
    assert_eq!(ls_verdict(&d), "deny", "last good rules kept");
    let reload = d.hookctl(&["reload"]).unwrap();
    assert_eq!(reload.status.code(), Some(1));

    // Replaced by a symlink to a directory someone else owns (or anyone can write): refused.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join("allow.toml"),
        "[[rule]]\nname = 'allow-all'\ntool = 'Bash'\naction = 'allow'\n",
    )
    .unwrap();
    std::fs::set_permissions(elsewhere.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), &rules_dir).unwrap();
    wait_for(Duration::from_secs(10), "symlink refused", || {
        rule_errors(&d).contains("refusing rules anyone can write")
    })
    .unwrap();
    assert_eq!(ls_verdict(&d), "deny", "last good rules kept");

    // A symlink to a private directory of ours is an ordinary way to keep rules: it loads.
    std::fs::remove_file(&rules_dir).unwrap();
    let mine = tempfile::tempdir().unwrap();
    std::fs::write(mine.path().join("ls.toml"), deny_ls()).unwrap();
    std::os::unix::fs::symlink(mine.path(), &rules_dir).unwrap();
    wait_for(Duration::from_secs(10), "symlinked rules load", || {
        rule_errors(&d) == "[]"
    })
    .unwrap();
    assert_eq!(ls_verdict(&d), "deny");

    // Emptying it (not deleting it) is how to drop its rules.
    std::fs::remove_file(mine.path().join("ls.toml")).unwrap();
    let out = d.hookctl(&["reload"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ls_verdict(&d), "");
}

#[test]
fn unreadable_rules_keep_the_last_good_rules() {
    // Root reads through permission bits, so hookd runs as `nobody` here (when root).
    let mut d = TestDaemon::unstarted(&[
        ("hookd.toml", "packs = []\n"),
        ("rules.d/ls.toml", deny_ls()),
    ])
    .unwrap();
    if hook_protocol::paths::uid() == 0 {
        d.run_as(65534).unwrap();
    } else {
        eprintln!("not root: hookd runs as this user; permission bits apply as they are");
    }
    d.spawn().unwrap();
    assert_eq!(ls_verdict(&d), "deny");
    let rules_dir = d.home().join("rules.d");
    std::fs::set_permissions(&rules_dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = d.hookctl(&["reload"]).unwrap();
    std::fs::set_permissions(&rules_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read directory"), "{err}");
    assert_eq!(ls_verdict(&d), "deny", "last good rules kept");
    std::fs::set_permissions(
        rules_dir.join("ls.toml"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let out = d.hookctl(&["reload"]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    assert_eq!(ls_verdict(&d), "deny", "last good rules kept");
}

#[test]
fn a_deleted_socket_is_bound_again() {
    let d = TestDaemon::start().unwrap();
    send_denied(&d, "sock-before", 1);
    std::fs::remove_file(d.socket()).unwrap();
    wait_for(Duration::from_secs(10), "socket re-created", || {
        d.socket().exists()
    })
    .unwrap();
    let mode = std::fs::metadata(d.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    send_denied(&d, "sock-after", 2);
    assert!(
        d.log()
            .contains("the socket file was deleted; bound it again")
    );
    each_stored_once(&d, "sock-after", 2);
}

/// A connection made without waiting: `None` once the listener's queue is full.
fn connect_nowait(path: &Path) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    #[allow(unsafe_code)]
    // SAFETY: plain socket calls on a descriptor we own; sockaddr_un is zeroed then filled
    // within its bounds.
    unsafe {
        #[cfg(target_os = "linux")]
        let fd = libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        // No SOCK_NONBLOCK/SOCK_CLOEXEC elsewhere (macOS): the same with fcntl.
        #[cfg(not(target_os = "linux"))]
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        #[cfg(not(target_os = "linux"))]
        {
            assert_eq!(libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK), 0);
            assert_eq!(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC), 0);
        }
        let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let rc = libc::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            std::ptr::from_ref(&addr).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_un>()).unwrap(),
        );
        (rc == 0).then_some(fd)
    }
}

#[test]
fn a_stopped_daemon_with_a_full_queue_never_hangs_the_client() {
    let d = TestDaemon::start().unwrap();
    let pid = libc::pid_t::try_from(d.pid().unwrap()).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(pid, libc::SIGSTOP);
    }
    // Fill the stopped daemon's accept queue.
    let mut held = Vec::new();
    while held.len() < 10_000 {
        match connect_nowait(&d.socket()) {
            Some(fd) => held.push(fd),
            None => break,
        }
    }
    let mut cmd = Command::new(bin("hook-client"));
    cmd.env_clear()
        .env("HOOKD_HOME", d.home())
        .args(["--deadline", "300ms", "--no-autostart"]);
    // Watchdog: a client stuck in connect() would hang Claude Code; kill it after 20 s.
    let (tx, rx) = std::sync::mpsc::channel();
    let ev = force_push("queue-full");
    std::thread::spawn(move || {
        let _ = tx.send(run_with_stdin(cmd, &ev));
    });
    let out = rx.recv_timeout(Duration::from_secs(20));
    #[allow(unsafe_code)]
    // SAFETY: as above; resume it whatever happened.
    unsafe {
        libc::kill(pid, libc::SIGCONT);
    }
    let out = out
        .expect("hook-client hung on a full connection queue")
        .unwrap();
    eprintln!("queue filled with {} connections", held.len());
    assert_eq!(decision(&out), "ask");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no answer from hookd")
            && err.contains("within 300 ms")
            && err.contains("connection queue is full"),
        "{err}"
    );
    drop(held);
    pause(Duration::from_millis(10));
    wait_for(Duration::from_secs(20), "daemon serves again", || {
        d.status().is_ok()
    })
    .unwrap();
}
