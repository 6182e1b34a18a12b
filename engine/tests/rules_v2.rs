//! hookd's own corpus for the classes of issue 18, "Rules v2" (`tests/data/rules-v2`, see its
//! README): Bash commands and file-tool events, each expected to stop (deny or ask) or pass,
//! run against the default packs in a scratch project (a git repository with a `.gitignore`,
//! sources and build outputs). Reports the share stopped and passed per class and fails below
//! 95% stopped or 98% passed in any class; and checks that every reason names hookd and the
//! rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hook_engine::event::HookEvent;
use hook_engine::rules::{Ctx, Ruleset, load};

/// Most cases a class may fail to stop, as a share.
const STOP_TARGET: f64 = 0.95;
/// Most cases a class may fail to pass, as a share.
const PASS_TARGET: f64 = 0.98;
/// Fewest cases of each kind a class file should have.
const MIN_CASES: usize = 15;

/// The corpus directories: `RULES_V2_DATA` when set (to score another set of cases), else the
/// repository's own (`rules-v2`) and the one a reviewer wrote without reading the rules
/// (`rules-v2-blind`), each scored on its own.
fn data_dirs() -> Vec<PathBuf> {
    std::env::var_os("RULES_V2_DATA").map_or_else(
        || {
            ["rules-v2", "rules-v2-blind"]
                .iter()
                .map(|d| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).join(d))
                .collect()
        },
        |d| vec![PathBuf::from(d)],
    )
}

/// A scratch home with a project (a git repository) and another project beside it.
struct Fixture {
    _dir: tempfile::TempDir,
    home: String,
    project: String,
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The project of the README, or `None` (with a loud message) without git.
fn fixture() -> Option<Fixture> {
    // Not under /tmp, which the packs treat as scratch space.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let home = dir.path().join("home");
    let project = home.join("project");
    let p = &project;
    for (rel, text) in [
        ("Cargo.toml", "[package]\nname = \"app\"\n"),
        ("package.json", "{\"name\": \"app\"}\n"),
        ("pyproject.toml", "[project]\nname = \"app\"\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("src/lib.rs", "\n"),
        ("src/unused.rs", "\n"),
        ("tests/it.rs", "\n"),
        ("tests/old_test.rs", "\n"),
        ("docs/guide.md", "guide\n"),
        ("scripts/deploy.sh", "#!/bin/sh\n"),
        ("scripts/setup.sh", "#!/bin/sh\n"),
        ("vendor/lib/lib.go", "package lib\n"),
        ("frontend/package.json", "{}\n"),
        (".env.example", "API_KEY=\n"),
        (
            ".gitignore",
            "/target\nnode_modules/\ndist/\n/build/\n.venv/\n__pycache__/\n*.pyc\ncoverage/\n.next/\n.env\n*.log\n/tmp/\nout/\nhtmlcov/\n.coverage\n*.egg-info/\n",
        ),
        // Ignored outputs.
        (".env", "API_KEY=secret\n"),
        ("target/debug/app", "bin\n"),
        ("node_modules/left-pad/index.js", "x\n"),
        ("frontend/node_modules/react/index.js", "x\n"),
        ("frontend/.next/cache/x", "x\n"),
        ("dist/app.js", "x\n"),
        ("build/out.o", "x\n"),
        (".venv/bin/python", "x\n"),
        ("coverage/lcov.info", "x\n"),
        ("src/__pycache__/x.cpython-312.pyc", "x\n"),
        ("tmp/scratch.txt", "x\n"),
        ("out/index.html", "x\n"),
    ] {
        write(p, rel, text);
    }
    write(&home, "other-project/src/main.rs", "fn main() {}\n");
    write(&home, "other-project/node_modules/x/index.js", "x\n");
    let git = Command::new("git")
        .args(["-c", "init.defaultBranch=main", "init", "-q"])
        .current_dir(p)
        .status();
    let added = git.is_ok_and(|s| s.success())
        && Command::new("git")
            .args(["add", "-A"])
            .current_dir(p)
            .status()
            .is_ok_and(|s| s.success());
    if !added {
        eprintln!("SKIPPED: git is not available to build the scratch repository");
        return None;
    }
    Some(Fixture {
        home: home.to_str().unwrap().to_owned(),
        project: project.to_str().unwrap().to_owned(),
        _dir: dir,
    })
}

/// One case.
#[derive(Debug)]
struct Case {
    class: String,
    /// What was evaluated, for messages.
    input: String,
    event: serde_json::Value,
    expect: String,
}

fn cases(fx: &Fixture, dir: &Path) -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let fill = |s: &str| {
        s.replace("{project}", &fx.project)
            .replace("{home}", &fx.home)
    };
    let mut out = Vec::new();
    for f in files {
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let class = doc["class"].as_str().unwrap().to_owned();
        for c in doc["case"].as_array().unwrap() {
            let expect = c["expect"].as_str().unwrap().to_owned();
            assert!(
                matches!(expect.as_str(), "stop" | "deny" | "ask" | "pass"),
                "{}: bad expect {expect}",
                f.display()
            );
            let (input, tool, tool_input) = if let Some(cmd) = c.get("command") {
                let cmd = fill(cmd.as_str().unwrap());
                (
                    cmd.clone(),
                    "Bash".to_owned(),
                    serde_json::json!({"command": cmd}),
                )
            } else {
                let tool = c["tool"].as_str().unwrap().to_owned();
                let raw = c["path"].as_str().unwrap();
                let path = match raw.strip_prefix("~/") {
                    Some(rest) => format!("{}/{rest}", fx.home),
                    None => fill(raw),
                };
                let key = if tool == "NotebookEdit" {
                    "notebook_path"
                } else {
                    "file_path"
                };
                let mut input = serde_json::json!({ key: path });
                match tool.as_str() {
                    "Write" => input["content"] = "x\n".into(),
                    "Edit" => {
                        input["old_string"] = "a".into();
                        input["new_string"] = "b".into();
                    }
                    "MultiEdit" => {
                        input["edits"] =
                            serde_json::json!([{"old_string": "a", "new_string": "b"}]);
                    }
                    "NotebookEdit" => input["new_source"] = "x = 1".into(),
                    _ => {}
                }
                (format!("{tool} {path}"), tool, input)
            };
            let event = serde_json::json!({
                "session_id": "s", "cwd": fx.project, "hook_event_name": "PreToolUse",
                "tool_name": tool, "tool_input": tool_input,
            });
            out.push(Case {
                class: class.clone(),
                input,
                event,
                expect,
            });
        }
    }
    out
}

fn default_packs() -> Ruleset {
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r.ruleset
}

/// The verdict and reason hookd gives the case.
fn judge(rs: &Ruleset, fx: &Fixture, case: &Case) -> (String, Option<String>, Vec<String>) {
    let raw = case.event.to_string();
    let e = HookEvent::parse(raw.as_bytes(), None).unwrap();
    let d = rs.evaluate_in(&Ctx::new(&e, Some(&fx.project), Some(&fx.home)));
    let rules = d.matched.iter().map(|m| m.rule.clone()).collect();
    (d.verdict().as_str().to_owned(), d.reason(), rules)
}

fn ok(expect: &str, got: &str) -> bool {
    match expect {
        "stop" => got == "deny" || got == "ask",
        "pass" => matches!(got, "none" | "log" | "context" | "warn"),
        _ => got == expect,
    }
}

#[derive(Default)]
struct Score {
    stop: (usize, usize),
    pass: (usize, usize),
}

#[test]
fn rules_v2_classes_meet_the_targets() {
    let Some(fx) = fixture() else { return };
    let rs = default_packs();
    let mut below = Vec::new();
    let mut failures = Vec::new();
    for dir in data_dirs() {
        score(&rs, &fx, &dir, &mut below, &mut failures);
    }
    assert!(
        below.is_empty(),
        "below the targets ({STOP_TARGET} stopped, {PASS_TARGET} passed): {below:?}\n{}",
        failures.join("\n")
    );
}

/// Scores the cases in `dir` per class, adding the classes below the targets to `below` and
/// the failed cases to `failures`.
fn score(
    rs: &Ruleset,
    fx: &Fixture,
    dir: &Path,
    below: &mut Vec<String>,
    failures: &mut Vec<String>,
) {
    let set = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    for case in cases(fx, dir) {
        let (got, reason, rules) = judge(rs, fx, &case);
        let good = ok(&case.expect, &got);
        let s = scores.entry(case.class.clone()).or_default();
        let slot = if case.expect == "pass" {
            &mut s.pass
        } else {
            &mut s.stop
        };
        slot.0 += usize::from(good);
        slot.1 += 1;
        if !good {
            failures.push(format!(
                "[{set}/{}] expected {}, got {got} {rules:?}: {:?}\n    {}",
                case.class,
                case.expect,
                case.input,
                reason.unwrap_or_default().replace('\n', "\n    ")
            ));
        }
    }
    let pct = |(ok, n): (usize, usize)| {
        if n == 0 {
            "   -  ".to_owned()
        } else {
            #[allow(clippy::cast_precision_loss)]
            let p = ok as f64 * 100.0 / n as f64;
            format!("{p:5.1}%")
        }
    };
    eprintln!("{set}\nclass            stopped            passed");
    for (class, s) in &scores {
        eprintln!(
            "{class:<16} {:>3}/{:<3} {}   {:>3}/{:<3} {}",
            s.stop.0,
            s.stop.1,
            pct(s.stop),
            s.pass.0,
            s.pass.1,
            pct(s.pass)
        );
        #[allow(clippy::cast_precision_loss)]
        let share = |(ok, n): (usize, usize)| ok as f64 / n.max(1) as f64;
        if s.stop.1 > 0 && share(s.stop) < STOP_TARGET {
            below.push(format!("{set}/{class}: {} stopped", pct(s.stop)));
        }
        if s.pass.1 > 0 && share(s.pass) < PASS_TARGET {
            below.push(format!("{set}/{class}: {} passed", pct(s.pass)));
        }
        if s.stop.1 + s.pass.1 < MIN_CASES {
            below.push(format!("{set}/{class}: only {} cases", s.stop.1 + s.pass.1));
        }
    }
    for f in failures
        .iter()
        .filter(|f| f.starts_with(&format!("[{set}/")))
    {
        eprintln!("{f}");
    }
}

/// Every reason hookd gives for a stopped case says `hookd: <rule> — …`, with a rule that
/// matched.
#[test]
fn every_reason_names_hookd_and_the_rule() {
    let Some(fx) = fixture() else { return };
    let rs = default_packs();
    let mut checked = 0;
    for case in data_dirs().iter().flat_map(|d| cases(&fx, d)) {
        let (got, reason, rules) = judge(&rs, &fx, &case);
        if got != "deny" && got != "ask" {
            continue;
        }
        let reason = reason.unwrap_or_default();
        for line in reason.lines() {
            let named = line
                .strip_prefix("hookd: ")
                .and_then(|r| r.split_once(" — "))
                .map(|(rule, _)| rule);
            assert!(
                named.is_some_and(|n| rules.iter().any(|r| r == n)),
                "{:?}: reason line {line:?} does not name a matched rule ({rules:?})",
                case.input
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} reasons checked");
}

/// A command the analyser cannot read gets one clear `ask` that says why, not a reason from
/// every pack rule.
#[test]
fn an_unparseable_command_gets_one_clear_ask() {
    let rs = default_packs();
    for (cmd, why) in [
        ("echo $((1 + ", "unterminated `$((`"),
        ("echo \"unterminated", "unterminated double quote"),
        ("ls 'open", "unterminated single quote"),
        ("cat <<EOF\nno end", "unterminated heredoc"),
        ("echo ${HOME", "unterminated `${`"),
    ] {
        let v = serde_json::json!({"session_id": "s", "cwd": "/home/user/project",
            "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": cmd}});
        let e = HookEvent::parse(v.to_string().as_bytes(), None).unwrap();
        let d = rs.evaluate_in(&Ctx::new(
            &e,
            Some("/home/user/project"),
            Some("/home/user"),
        ));
        assert_eq!(d.verdict(), "ask", "{cmd:?}");
        let reasons = d.permission.map(|p| p.1).unwrap_or_default();
        assert_eq!(
            reasons,
            [format!(
                "hookd: shell-unparsed — This command could not be analysed: {why}, so hookd cannot check what it runs. Fix the quoting, or split it into simpler commands."
            )],
            "{cmd:?}"
        );
    }
    // What was found is still judged: a deny wins over the ask.
    let v = serde_json::json!({"session_id": "s", "cwd": "/home/user/project",
        "hook_event_name": "PreToolUse", "tool_name": "Bash",
        "tool_input": {"command": "git reset --hard; echo \"oops"}});
    let e = HookEvent::parse(v.to_string().as_bytes(), None).unwrap();
    let d = rs.evaluate_in(&Ctx::new(
        &e,
        Some("/home/user/project"),
        Some("/home/user"),
    ));
    assert_eq!(d.verdict(), "deny");
}
