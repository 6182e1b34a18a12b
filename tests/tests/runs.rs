//! `run` rules through the real daemon and hook-client: scripts in bash, python and a compiled
//! C program; sync verdict merge, exit-2 blocks, JSON denies, plain-text context, timeouts that
//! kill the whole process group, background slots and retries, priority order, trust, the
//! environment, and the record (`hookctl runs`, stats, doctor).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hook_tests::claude::write_script;
use hook_tests::harness::{TestDaemon, wait_for};
use serde_json::{Value, json};

/// hook-client's deadline in these tests: sync runs need more than the default 2 s.
const DEADLINE: &str = "30s";

fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed for these tests");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Compiles `src` (C) to `bin` with the system compiler.
fn compile_c(src: &str, bin: &Path) {
    let c = bin.with_extension("c");
    std::fs::write(&c, src).unwrap();
    let ok = std::process::Command::new("cc")
        .arg("-o")
        .arg(bin)
        .arg(&c)
        .status()
        .expect("a C compiler (cc) is needed for this test");
    assert!(ok.success());
}

/// A compact event like Claude Code's, with `cwd` set to a real directory; each one distinct
/// (as Claude Code's are), so hookd's dedup window never merges two.
fn event(name: &str, session: &str, cwd: &Path, extra: &Value) -> Vec<u8> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut v = json!({
        "hookd_test_seq": SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        "session_id": session,
        "transcript_path": "/tmp/t.jsonl",
        "cwd": cwd,
        "hook_event_name": name,
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    let mut b = serde_json::to_vec(&v).unwrap();
    b.push(b'\n');
    b
}

fn hook(d: &TestDaemon, name: &str, ev: &[u8], project: &Path) -> Output {
    let out = d
        .hook_with(
            ev,
            &["--event", name, "--deadline", DEADLINE],
            &[("CLAUDE_PROJECT_DIR", project.to_str().unwrap())],
        )
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("could not answer"),
        "fallback: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn runs(d: &TestDaemon, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["runs", "--json", "--limit", "100"];
    a.extend_from_slice(args);
    let out = d.hookctl(&a).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn bash(cmd: &str) -> Value {
    json!({"tool_name": "Bash", "tool_input": {"command": cmd}, "tool_use_id": cmd})
}

struct Fixture {
    d: TestDaemon,
    project: tempfile::TempDir,
}

impl Fixture {
    fn new(rules: &str) -> Self {
        Self::with_env(rules, &[])
    }

    fn with_env(rules: &str, env: &[(&str, &str)]) -> Self {
        let mut d = TestDaemon::unstarted(&[("hookd.toml", rules)]).unwrap();
        for (k, v) in env {
            d.set_env(k, v);
        }
        d.spawn().unwrap();
        Self {
            d,
            project: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self) -> &Path {
        self.project.path()
    }

    fn send(&self, name: &str, session: &str, extra: &Value) -> Output {
        hook(
            &self.d,
            name,
            &event(name, session, self.dir(), extra),
            self.dir(),
        )
    }
}

fn scripts_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().to_path_buf();
    (t, p)
}

#[test]
fn sync_runs_in_bash_python_and_c_join_the_verdict() {
    let (_keep, s) = scripts_dir();
    // bash: JSON deny for `rm`, nothing otherwise.
    write_script(
        &s.join("guard.sh"),
        r#"#!/bin/bash
input=$(cat)
if [[ "$input" == *'"command":"rm '* ]]; then
  printf '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"GUARD: no rm"}}'
fi
"#,
    )
    .unwrap();
    // python: exit 2 blocks Stop with stderr as the reason.
    std::fs::write(
        s.join("gate.py"),
        "import json, sys\nev = json.load(sys.stdin)\nif not ev.get('stop_hook_active'):\n    print('GATE: run the tests first', file=sys.stderr)\n    sys.exit(2)\n",
    )
    .unwrap();
    // C: plain text on stdout becomes context.
    let lint = s.join("lint");
    compile_c(
        "#include <stdio.h>\nint main(void){int c;while((c=getchar())!=EOF){}puts(\"LINT: 2 warnings in main.rs\");return 0;}\n",
        &lint,
    );
    let rules = format!(
        r#"
[[rule]]
name = "ls-ok"
tool = "Bash"
command = '^ls\b'
action = "allow"
reason = "listing is fine"

[[rule]]
name = "bash-guard"
event = "PreToolUse"
tool = "Bash"
action = "run"
run = "{guard}"

[[rule]]
name = "py-gate"
event = "Stop"
action = "run"
run = ["{py}", "{gate}"]

[[rule]]
name = "c-lint"
event = "PostToolUse"
tool = "Write"
action = "run"
run = ["{lint}"]

[[rule]]
name = "post-context"
event = "PostToolUse"
action = "context"
context = "RULE-CONTEXT"
"#,
        guard = s.join("guard.sh").display(),
        py = python(),
        gate = s.join("gate.py").display(),
        lint = lint.display(),
    );
    let f = Fixture::new(&rules);

    // The rules allow `ls`; the script says nothing: allow stands.
    let v = stdout_json(&f.send("PreToolUse", "s1", &bash("ls -la")));
    assert_eq!(
        v["hookSpecificOutput"]["permissionDecision"],
        json!("allow")
    );
    // The script denies `rm` by JSON: deny beats the rules' silence.
    let v = stdout_json(&f.send("PreToolUse", "s1", &bash("rm -r build")));
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], json!("deny"));
    assert_eq!(
        v["hookSpecificOutput"]["permissionDecisionReason"],
        json!("GUARD: no rm")
    );
    // Exit 2 on Stop: a block with stderr as the reason.
    let v = stdout_json(&f.send("Stop", "s1", &json!({"stop_hook_active": false})));
    assert_eq!(v["decision"], json!("block"));
    assert_eq!(v["reason"], json!("GATE: run the tests first"));
    let out = f.send("Stop", "s1", &json!({"stop_hook_active": true}));
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Plain stdout joins the rules' context, in order.
    let v = stdout_json(&f.send(
        "PostToolUse",
        "s1",
        &json!({"tool_name": "Write", "tool_input": {"file_path": "main.rs"}, "tool_response": {}}),
    ));
    assert_eq!(
        v["hookSpecificOutput"]["additionalContext"],
        json!("RULE-CONTEXT\n\nLINT: 2 warnings in main.rs")
    );

    // Every run is recorded with its effect, linked to its event.
    let rows = runs(&f.d, &["--session", "s1"]);
    let effects: Vec<(String, String)> = rows
        .iter()
        .rev()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["effect"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        effects,
        [
            ("bash-guard".into(), "none".into()),
            ("bash-guard".into(), "deny".into()),
            ("py-gate".into(), "block".into()),
            ("py-gate".into(), "none".into()),
            ("c-lint".into(), "context".into()),
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r["mode"] == "sync" && r["event_id"].is_i64())
    );
    assert_eq!(rows[2]["outcome"], json!("blocked"));
    assert_eq!(rows[2]["stderr_tail"], json!("GATE: run the tests first\n"));
    let events =
        f.d.events(10, &["--session", "s1", "--event", "Stop"])
            .unwrap();
    assert_eq!(events[1]["verdict"], json!("block"));
    assert_eq!(events[1]["id"], rows[2]["event_id"]);
    let stats: Value =
        serde_json::from_slice(&f.d.hookctl(&["stats", "--json"]).unwrap().stdout).unwrap();
    assert_eq!(
        (stats["runs"].as_u64(), stats["run_failures"].as_u64()),
        (Some(5), Some(0))
    );
}

#[test]
fn sync_runs_go_in_priority_order_and_failures_warn() {
    let (_keep, s) = scripts_dir();
    let log = s.join("order.log");
    let mut rules = String::new();
    for (name, prio) in [("low", 1), ("high", 10), ("mid", 5), ("default", 0)] {
        rules.push_str(&format!(
            "[[rule]]\nname = \"{name}\"\nevent = \"UserPromptSubmit\"\naction = \"run\"\nrun = \"echo {name} >> '{log}'; echo CTX-{name}\"\npriority = {prio}\n\n",
            log = log.display()
        ));
    }
    rules.push_str(
        "[[rule]]\nname = \"broken\"\nevent = \"UserPromptSubmit\"\naction = \"run\"\nrun = \"echo oops >&2; exit 7\"\npriority = -1\n",
    );
    let f = Fixture::new(&rules);
    let v = stdout_json(&f.send("UserPromptSubmit", "s2", &json!({"prompt": "hi"})));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "high\nmid\nlow\ndefault\n"
    );
    assert_eq!(
        v["hookSpecificOutput"]["additionalContext"],
        json!("CTX-high\n\nCTX-mid\n\nCTX-low\n\nCTX-default")
    );
    // A failing script never fails silently: the user is told, the run is recorded.
    let msg = v["systemMessage"].as_str().unwrap();
    assert!(
        msg.contains("run `broken` failed: exited with status 7: oops"),
        "{msg}"
    );
    let failed = runs(&f.d, &["--failed"]);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["exit_code"], json!(7));
    let doctor = f.d.hookctl(&["doctor", "--json"]).unwrap();
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "runs")
        .unwrap();
    assert_eq!(check["level"], json!("warn"));
    assert!(
        check["detail"].as_str().unwrap().contains("broken: 1"),
        "{check}"
    );
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn a_timeout_kills_the_script_and_its_children_and_the_event_goes_ahead() {
    let (_keep, s) = scripts_dir();
    let pids = s.join("pids");
    write_script(
        &s.join("slow.sh"),
        &format!(
            "#!/bin/bash\nsleep 300 & echo $! >> '{p}'\n(trap '' TERM; exec sleep 301) & echo $! >> '{p}'\nwait\n",
            p = pids.display()
        ),
    )
    .unwrap();
    let rules = format!(
        "[[rule]]\nname = \"slow\"\nevent = \"PreToolUse\"\ntool = \"Bash\"\naction = \"run\"\nrun = \"{}\"\ntimeout = \"1s\"\n",
        s.join("slow.sh").display()
    );
    let f = Fixture::new(&rules);
    let v = stdout_json(&f.send("PreToolUse", "s3", &bash("make")));
    assert!(
        v["hookSpecificOutput"].get("permissionDecision").is_none(),
        "{v}"
    );
    assert!(
        v["systemMessage"].as_str().unwrap().contains("timed out"),
        "{v}"
    );
    let children: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(children.len(), 2);
    wait_for(
        Duration::from_secs(10),
        "the script's children to be gone",
        || children.iter().all(|p| !alive(*p)),
    )
    .unwrap();
    let rows = runs(&f.d, &["--rule", "slow"]);
    assert_eq!(rows[0]["outcome"], json!("timeout"));
    let stats: Value =
        serde_json::from_slice(&f.d.hookctl(&["stats", "--json"]).unwrap().stdout).unwrap();
    assert_eq!(stats["run_timeouts"], json!(1));
    let metrics = String::from_utf8(f.d.hookctl(&["metrics"]).unwrap().stdout).unwrap();
    assert!(metrics.contains("hookd_run_timeouts_total 1"), "{metrics}");
}

#[test]
fn a_sync_run_is_cut_at_the_clients_deadline_not_after_it() {
    let rules = "[[rule]]\nname = \"long\"\nevent = \"Stop\"\naction = \"run\"\nrun = \"sleep 60\"\ntimeout = 60\n";
    let f = Fixture::new(rules);
    // The default 2 s deadline: hookd answers itself (no fallback) and says why.
    let out =
        f.d.hook_with(
            &event("Stop", "s4", f.dir(), &json!({})),
            &["--event", "Stop"],
            &[],
        )
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("could not answer"), "{stderr}");
    let v = stdout_json(&out);
    assert!(
        v["systemMessage"].as_str().unwrap().contains("timed out"),
        "{v}"
    );
    let rows = runs(&f.d, &["--rule", "long"]);
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .contains("hookctl install --deadline"),
        "{}",
        rows[0]
    );
}

#[test]
fn background_runs_return_at_once_respect_the_cap_and_retry() {
    let (_keep, s) = scripts_dir();
    let running = s.join("running");
    std::fs::create_dir(&running).unwrap();
    let log = s.join("log");
    // Each run registers, waits (bounded) until a partner runs beside it, notes how many
    // run at once, then leaves.
    write_script(
        &s.join("worker.sh"),
        &format!(
            r#"#!/bin/bash
touch '{r}/'$$
for i in $(seq 1 100); do
  n=$(ls '{r}' | wc -l)
  [ "$n" -ge 2 ] && break
  sleep 0.05
done
echo "$(ls '{r}' | wc -l)" >> '{log}'
sleep 0.2
rm '{r}/'$$
"#,
            r = running.display(),
            log = log.display()
        ),
    )
    .unwrap();
    let attempts = s.join("attempts");
    write_script(
        &s.join("flaky.sh"),
        &format!(
            "#!/bin/bash\necho x >> '{a}'\n[ $(wc -l < '{a}') -ge 3 ] || {{ echo 'not yet' >&2; exit 1; }}\necho sent\n",
            a = attempts.display()
        ),
    )
    .unwrap();
    let rules = format!(
        r#"
[run]
max_background = 2
retry_backoff = "100ms"

[[rule]]
name = "worker"
event = "Notification"
action = "run"
run = "{worker}"
mode = "background"

[[rule]]
name = "flaky"
event = "SessionStart"
action = "run"
run = "{flaky}"
mode = "background"
retries = 3
"#,
        worker = s.join("worker.sh").display(),
        flaky = s.join("flaky.sh").display()
    );
    let f = Fixture::new(&rules);
    for i in 0..6 {
        let out = f.send(
            "Notification",
            "s5",
            &json!({"message": format!("m{i}"), "notification_type": "idle_prompt"}),
        );
        // Answered at once, with nothing to say.
        assert!(out.stdout.is_empty() && out.status.success());
    }
    wait_for(Duration::from_secs(60), "six background runs", || {
        runs(&f.d, &["--rule", "worker"]).len() == 6
    })
    .unwrap();
    let seen: Vec<u32> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(seen.len(), 6);
    // Never more than the cap at once, and the runs do overlap. Not "always 2": when a spawn
    // is slow on a loaded machine, the last run can start after its would-be partner left, and
    // then it waits out its 5 s alone.
    assert!(
        seen.iter().all(|n| *n <= 2) && seen.iter().filter(|n| **n == 2).count() >= 4,
        "runs at once: {seen:?}"
    );
    assert!(
        runs(&f.d, &["--rule", "worker"])
            .iter()
            .all(|r| r["mode"] == "background" && r["outcome"] == "ok")
    );

    f.send("SessionStart", "s5", &json!({"source": "startup"}));
    wait_for(Duration::from_secs(30), "the third attempt", || {
        runs(&f.d, &["--rule", "flaky"]).len() == 3
    })
    .unwrap();
    let rows = runs(&f.d, &["--rule", "flaky"]);
    let got: Vec<(u64, &str)> = rows
        .iter()
        .rev()
        .map(|r| {
            (
                r["attempt"].as_u64().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(1, "failed"), (2, "failed"), (3, "ok")]);
    assert!(
        rows[2]["error"]
            .as_str()
            .unwrap()
            .contains("retrying in 100 ms"),
        "{}",
        rows[2]
    );
    assert_eq!(rows[0]["stdout_tail"], json!("sent\n"));
}

#[test]
fn scripts_get_claude_codes_environment_without_secrets() {
    let (_keep, s) = scripts_dir();
    let dump = s.join("env.txt");
    let rules = format!(
        "[[rule]]\nname = \"env\"\nevent = \"SessionStart\"\naction = \"run\"\nrun = \"env > '{}'; pwd >> '{}'; cat >> '{}'\"\nenv = {{ EXTRA = \"${{CLAUDE_PROJECT_DIR}}/x\" }}\n",
        dump.display(),
        dump.display(),
        dump.display()
    );
    let f = Fixture::with_env(
        &rules,
        &[
            ("GITHUB_TOKEN", "ghp_secretvalue"),
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("LANG", "C.UTF-8"),
        ],
    );
    f.send("SessionStart", "sess-env", &json!({"source": "startup"}));
    let text = std::fs::read_to_string(&dump).unwrap();
    let dir = f.dir().display().to_string();
    for want in [
        format!("CLAUDE_PROJECT_DIR={dir}"),
        "CLAUDE_CODE_SESSION_ID=sess-env".to_string(),
        "CLAUDECODE=1".to_string(),
        "HOOKD_RULE=env".to_string(),
        "LANG=C.UTF-8".to_string(),
        format!("EXTRA={dir}/x"),
        "\"hook_event_name\":\"SessionStart\"".to_string(),
    ] {
        assert!(text.contains(&want), "{want} missing from:\n{text}");
    }
    assert!(!text.contains("secret"), "{text}");
    // cwd is the event's cwd.
    let canonical = f.dir().canonicalize().unwrap();
    assert!(
        text.lines().any(|l| Path::new(l) == canonical || l == dir),
        "{text}"
    );
}

#[test]
fn run_rules_from_an_untrusted_project_file_never_execute() {
    let d = TestDaemon::start().unwrap();
    let project = tempfile::tempdir().unwrap();
    let marker = project.path().join("ran");
    let file = project.path().join(".claude/hookd.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        format!(
            "[[rule]]\nname = \"evil\"\nevent = \"SessionStart\"\naction = \"run\"\nrun = \"touch '{}'\"\n",
            marker.display()
        ),
    )
    .unwrap();
    let send = || {
        hook(
            &d,
            "SessionStart",
            &event(
                "SessionStart",
                "s6",
                project.path(),
                &json!({"source": "startup"}),
            ),
            project.path(),
        )
    };
    send();
    assert!(
        !marker.exists(),
        "a run rule from an untrusted project file ran"
    );
    let status = d.status().unwrap();
    let errors = status["hookd"]["projects"][0]["errors"].to_string();
    assert!(
        errors.contains("`run` in a project file is ignored until you run `hookctl trust"),
        "{errors}"
    );
    let check = d.hookctl(&["check", file.to_str().unwrap()]).unwrap();
    assert!(!check.status.success());
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains(
            "rule `evil`: `run` in a project file is refused until you run `hookctl trust"
        ),
        "{err}"
    );

    let trust = d
        .hookctl(&["trust", project.path().to_str().unwrap()])
        .unwrap();
    assert!(
        trust.status.success(),
        "{}",
        String::from_utf8_lossy(&trust.stderr)
    );
    assert!(
        d.hookctl(&["check", file.to_str().unwrap()])
            .unwrap()
            .status
            .success()
    );
    send();
    assert!(
        marker.exists(),
        "the trusted project's run rule did not run"
    );
}
