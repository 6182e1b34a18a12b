//! Process runs with real scripts: bash, python3 and a compiled C program.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::process::{self, Invocation, Status};
use crate::rules::RunCommand;

fn inv(command: RunCommand, cwd: &Path, timeout: Duration) -> Invocation {
    Invocation {
        command,
        cwd: Some(cwd.to_path_buf()),
        env: vec![
            (
                OsString::from("PATH"),
                std::env::var_os("PATH").unwrap_or_default(),
            ),
            (
                OsString::from("CLAUDE_PROJECT_DIR"),
                cwd.as_os_str().to_owned(),
            ),
        ],
        stdin: Arc::from(&b"{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\"}\n"[..]),
        timeout,
        kill_grace: Duration::from_millis(200),
    }
}

fn sh(s: &str) -> RunCommand {
    RunCommand::Shell(s.into())
}

fn pid_alive(pid: i32) -> bool {
    // /proc/<pid>/stat: a zombie (state Z) has exited.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

#[tokio::test]
async fn bash_gets_the_event_on_stdin_in_its_cwd_with_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let script = "read -r line; echo \"$line\" | grep -q PreToolUse && echo \"in $(pwd) for $CLAUDE_PROJECT_DIR\"; echo warn >&2";
    let cmd = RunCommand::Argv(vec!["bash".into(), "-c".into(), script.into()]);
    let exit = process::run(
        &inv(cmd, dir.path(), Duration::from_secs(10)),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(exit.status, Status::Exited(0));
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!(
        exit.stdout.text().trim(),
        format!("in {} for {}", canonical.display(), dir.path().display())
    );
    assert_eq!(exit.stderr.text(), "warn\n");
}

#[tokio::test]
async fn python_script_exit_code_and_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hook.py");
    std::fs::write(
        &script,
        "import json, sys\nev = json.load(sys.stdin)\nprint(json.dumps({'seen': ev['tool_name']}))\nsys.exit(3)\n",
    )
    .unwrap();
    let cmd = RunCommand::Argv(vec![
        "python3".into(),
        script.to_string_lossy().into_owned(),
    ]);
    let exit = process::run(
        &inv(cmd, dir.path(), Duration::from_secs(20)),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(exit.status, Status::Exited(3), "{:?}", exit.stderr.text());
    assert_eq!(exit.stdout.text().trim(), r#"{"seen": "Bash"}"#);
}

#[tokio::test]
async fn compiled_program_runs_in_exec_form() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("hook.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void){int c,n=0;while((c=getchar())!=EOF)n++;fprintf(stderr,\"read %d bytes\",n);return 2;}\n",
    )
    .unwrap();
    let bin = dir.path().join("hook");
    let cc = std::process::Command::new("cc")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("a C compiler (cc) is needed for this test");
    assert!(cc.success());
    let cmd = RunCommand::Argv(vec![bin.to_string_lossy().into_owned()]);
    let exit = process::run(
        &inv(cmd, dir.path(), Duration::from_secs(10)),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(exit.status, Status::Exited(2));
    assert_eq!(exit.stderr.text(), "read 52 bytes");
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // The script starts two sleeping children (one ignoring SIGTERM), records their pids,
    // then waits forever.
    let script = format!(
        "sleep 300 & echo $! >> {p}; (trap '' TERM; exec sleep 301) & echo $! >> {p}; wait",
        p = pids.display()
    );
    let exit = process::run(
        &inv(sh(&script), dir.path(), Duration::from_millis(500)),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(exit.status, Status::TimedOut);
    let children: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(children.len(), 2);
    for pid in children {
        // Killed with the group; reaped by init (or left a zombie until then).
        crate::run::tests::wait_gone(pid).await;
    }
}

pub(super) async fn wait_gone(pid: i32) {
    for _ in 0..500 {
        if !pid_alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process {pid} is still running after its group was killed");
}

#[tokio::test]
async fn a_grandchild_holding_stdout_does_not_hold_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!(
        "echo done; sleep 30 & echo $! > {}; exit 0",
        pidfile.display()
    );
    let exit = process::run(
        &inv(sh(&script), dir.path(), Duration::from_secs(20)),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(exit.status, Status::Exited(0));
    assert_eq!(exit.stdout.text(), "done\n");
    // The grandchild is left running (as Claude Code leaves it); clean it up here.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid));
    #[allow(unsafe_code)]
    // SAFETY: signalling a process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[tokio::test]
async fn huge_output_is_capped_and_the_child_is_never_stuck() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MiB on each stream: past the pipe buffer and the capture limit.
    let script =
        "head -c 1048576 /dev/zero | tr '\\0' a; head -c 1048576 /dev/zero | tr '\\0' b >&2";
    let exit = process::run(
        &inv(sh(script), dir.path(), Duration::from_secs(20)),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(exit.status, Status::Exited(0));
    assert_eq!(exit.stdout.total, 1 << 20);
    assert_eq!(exit.stderr.total, 1 << 20);
    assert_eq!(exit.stdout.head.len(), process::CAPTURE_LIMIT);
    assert!(exit.stdout.truncated());
    assert_eq!(exit.stderr.tail.len(), process::TAIL_LIMIT);
}

#[tokio::test]
async fn a_missing_program_or_directory_fails_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = RunCommand::Argv(vec!["/nonexistent/hook".into()]);
    let exit = process::run(
        &inv(cmd, dir.path(), Duration::from_secs(5)),
        &CancellationToken::new(),
    )
    .await;
    assert!(
        matches!(exit.status, Status::SpawnFailed(_)),
        "{:?}",
        exit.status
    );
    let mut i = inv(sh("true"), dir.path(), Duration::from_secs(5));
    i.cwd = Some(dir.path().join("gone"));
    let exit = process::run(&i, &CancellationToken::new()).await;
    let Status::SpawnFailed(e) = exit.status else {
        panic!("{:?}", exit.status)
    };
    assert!(e.contains("working directory"), "{e}");
}

#[tokio::test]
async fn cancellation_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.cancel();
    });
    let exit = process::run(
        &inv(sh("sleep 60"), dir.path(), Duration::from_secs(60)),
        &cancel,
    )
    .await;
    assert_eq!(exit.status, Status::Cancelled);
}
