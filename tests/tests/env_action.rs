//! The SessionStart `env` action: the project's dotenv files go into `CLAUDE_ENV_FILE`, quoted
//! for the shell, never into the store or the log; refused from a project file until trusted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use hook_tests::harness::{TestDaemon, event_json};
use serde_json::{Value, json};

const HOSTILE: &[&str] = &[
    "it's",
    "'; touch /tmp/hookd-env-int-pwned-q; '",
    "$(touch /tmp/hookd-env-int-pwned-c)",
    "`touch /tmp/hookd-env-int-pwned-b`",
    "two\nlines",
    "\"dq\" \\ $HOME ${X:-y}",
];

const RULE: &str = r#"
[[rule]]
name = "dotenv"
event = "SessionStart"
action = "env"
files = [".env", ".env.local"]
"#;

/// A dotenv file holding `HOSTILE` as V0..Vn (double-quoted, escaped) and SECRET_MARK.
fn dotenv() -> String {
    let mut s = String::from("# test\nexport SECRET_MARK=value-never-stored-7431\n1BAD=x\n");
    for (i, v) in HOSTILE.iter().enumerate() {
        let e = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        s.push_str(&format!("V{i}=\"{e}\"\n"));
    }
    s
}

fn session_start(d: &TestDaemon, session: &str, project: &Path, env_file: Option<&Path>) -> Output {
    let ev = event_json(
        "SessionStart",
        session,
        &json!({"cwd": project, "source": "startup"}),
    );
    let env: Vec<(&str, &str)> = env_file
        .map(|f| vec![("CLAUDE_ENV_FILE", f.to_str().unwrap())])
        .unwrap_or_default();
    d.hook_with(&ev, &[], &env).unwrap()
}

fn private_dir(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// What `sh` sees after sourcing `file`: each variable's value.
fn sourced(file: &Path, names: &[String]) -> Vec<String> {
    let script = format!(
        ". '{}'\n{}",
        file.display(),
        names
            .iter()
            .map(|n| format!("printf '%s\\0' \"${n}\"\n"))
            .collect::<String>()
    );
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .map(str::to_string)
        .collect();
    v.pop();
    v
}

#[test]
fn dotenv_values_reach_the_env_file_quoted_and_nowhere_else() {
    for f in ["q", "c", "b"] {
        let _ = std::fs::remove_file(format!("/tmp/hookd-env-int-pwned-{f}"));
    }
    let d = TestDaemon::start_with(&[("hookd.toml", RULE)]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let project = private_dir(tmp.path(), "project");
    std::fs::write(project.join(".env"), dotenv()).unwrap();
    std::fs::write(project.join(".env.local"), "V0=local-wins\n").unwrap();
    let out_dir = private_dir(tmp.path(), "session-env");
    let env_file = out_dir.join("sessionstart-hook-0.sh");
    let out = session_start(&d, "env-s1", &project, Some(&env_file));
    assert!(out.status.success(), "{out:?}");

    let mut names = vec!["SECRET_MARK".to_string()];
    names.extend((0..HOSTILE.len()).map(|i| format!("V{i}")));
    let got = sourced(&env_file, &names);
    let mut want = vec![
        "value-never-stored-7431".to_string(),
        "local-wins".to_string(),
    ];
    want.extend(HOSTILE[1..].iter().map(|s| (*s).to_string()));
    assert_eq!(got, want);
    for f in ["q", "c", "b"] {
        assert!(!Path::new(&format!("/tmp/hookd-env-int-pwned-{f}")).exists());
    }
    let mode = std::fs::metadata(&env_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the env file is private: {mode:o}");

    // The record has the names and the count; the bad line is reported by number only.
    let rows = d.events(5, &["--session", "env-s1"]).unwrap();
    let reason = rows[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "loaded {} variables from .env, .env.local",
            names.len()
        )) && reason.contains("SECRET_MARK"),
        "{rows:?}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let msg = v["systemMessage"].as_str().unwrap_or_default();
    assert!(msg.contains("line 3"), "the skipped line is reported: {v}");
    // No value in the store, the WAL or the log.
    let mut stored = Vec::new();
    for f in ["hookd.db", "hookd.db-wal"] {
        stored.extend(std::fs::read(d.home().join(f)).unwrap_or_default());
    }
    stored.extend(d.log().into_bytes());
    for needle in [
        "value-never-stored-7431",
        "local-wins",
        "hookd-env-int-pwned",
    ] {
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} found in the store or the log"
        );
    }
}

#[test]
fn unsafe_env_files_are_refused_and_missing_ones_reported() {
    let d = TestDaemon::start_with(&[("hookd.toml", RULE)]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let project = private_dir(tmp.path(), "project");
    std::fs::write(project.join(".env"), "A=1\n").unwrap();
    // A symlink planted where the env file goes: never followed.
    let out_dir = private_dir(tmp.path(), "out");
    let target = tmp.path().join("victim");
    std::fs::write(&target, "untouched\n").unwrap();
    let link = out_dir.join("env.sh");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = session_start(&d, "env-s2", &project, Some(&link));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        v["systemMessage"]
            .as_str()
            .is_some_and(|m| m.contains("could not load the environment") && m.contains("symlink")),
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
    // In a directory others can write: refused.
    let open_dir = tmp.path().join("open");
    std::fs::create_dir_all(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = session_start(&d, "env-s3", &project, Some(&open_dir.join("env.sh")));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no one else can write"));
    assert!(!open_dir.join("env.sh").exists());
    // No CLAUDE_ENV_FILE (an HTTP hook, an old client): the user is told.
    let out = session_start(&d, "env-s4", &project, None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no CLAUDE_ENV_FILE"),
        "{out:?}"
    );
}

#[test]
fn an_env_rule_in_a_project_file_needs_trust() {
    let d = TestDaemon::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let project = private_dir(tmp.path(), "cloned");
    std::fs::create_dir_all(project.join(".claude")).unwrap();
    std::fs::write(project.join(".claude/hookd.toml"), RULE).unwrap();
    std::fs::write(project.join(".env"), "FROM_REPO=1\n").unwrap();
    let out_dir = private_dir(tmp.path(), "out");
    let env_file = out_dir.join("env.sh");
    session_start(&d, "env-t1", &project, Some(&env_file));
    assert!(
        !env_file.exists(),
        "an untrusted project file loaded variables"
    );
    let status = d.status().unwrap();
    assert!(
        status
            .to_string()
            .contains("`env` in a project file is ignored until you run `hookctl trust"),
        "{status}"
    );
    let out = d.hookctl(&["trust", project.to_str().unwrap()]).unwrap();
    assert!(out.status.success(), "{out:?}");
    session_start(&d, "env-t2", &project, Some(&env_file));
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "export FROM_REPO='1'\n"
    );
}

#[test]
fn env_rules_are_checked_when_loaded() {
    for (rule, want) in [
        (
            "[[rule]]\nname = \"e\"\nevent = \"PreToolUse\"\naction = \"env\"\n",
            "cannot express `env`",
        ),
        (
            "[[rule]]\nname = \"e\"\naction = \"env\"\nfiles = [\"../secrets/.env\"]\n",
            "bad `files` entry",
        ),
        (
            "[[rule]]\nname = \"e\"\naction = \"env\"\nfiles = [\"/etc/environment\"]\n",
            "bad `files` entry",
        ),
        (
            "[[rule]]\nname = \"e\"\nevent = \"SessionStart\"\naction = \"context\"\ncontext = \"x\"\nfiles = [\".env\"]\n",
            "`files` belongs to `action = \"env\"` rules",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("r.toml");
        std::fs::write(&f, rule).unwrap();
        let out = std::process::Command::new(hook_tests::harness::bin("hookctl"))
            .args(["check", f.to_str().unwrap()])
            .env("HOOKD_HOME", tmp.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{rule}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(want), "{rule}: {text}");
    }
}
