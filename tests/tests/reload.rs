//! Hot reload with a live daemon: every way editors save, broken and fixed edits. Each step
//! waits (bounded) for the daemon to reach the expected state; no fixed sleeps.

use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn rule(reason: &str) -> String {
    format!("[[rule]]\nname = 'no-ls'\ncommand = '^ls'\naction = 'deny'\nreason = '{reason}'\n")
}

/// The deny reasons hookd gives `ls` now, without the `hookd: <rule> — ` each starts with
/// ("" when it passes).
fn reason(d: &TestDaemon) -> String {
    let ev = event_json(
        "PreToolUse",
        "rl",
        &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
    );
    let out = d.hook(&ev, &[]).unwrap();
    if out.stdout.is_empty() {
        return String::new();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Each rule's reason is `hookd: <rule> — <reason>`: keep the rules' own text.
    v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or("")
        .lines()
        .map(|l| l.split_once(" — ").map_or(l, |(_, r)| r))
        // …without the allow-once code at the end (docs/rules.md, "Allow once").
        .map(|r| r.rsplit_once(" (allow once: ").map_or(r, |(r, _)| r))
        .collect::<Vec<_>>()
        .join("\n")
}

fn expect(d: &TestDaemon, want: &str, step: &str) {
    let mut last = String::new();
    wait_for(WAIT, step, || {
        last = reason(d);
        last == want
    })
    .unwrap_or_else(|e| panic!("{e}: last reason {last:?}\n{}", d.log()));
}

#[test]
fn edits_are_picked_up_however_they_are_saved() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n"), ("rules.d/keep.txt", "")])
        .unwrap();
    let rules_d = d.home().join("rules.d");
    let file = rules_d.join("ls.toml");
    expect(&d, "", "no rules at start");

    // In-place save (truncate and write).
    std::fs::write(&file, rule("one")).unwrap();
    expect(&d, "one", "in-place save");

    // Rename-over save, as vim and most editors do.
    let tmp = rules_d.join(".ls.toml.tmp");
    std::fs::write(&tmp, rule("two")).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    expect(&d, "two", "rename-over save");

    // Delete, then recreate.
    std::fs::remove_file(&file).unwrap();
    expect(&d, "", "delete");
    std::fs::write(&file, rule("three")).unwrap();
    expect(&d, "three", "recreate");

    // A broken edit keeps the last good rules and shows where the error is.
    std::fs::write(
        &file,
        "[[rule]]\nname = 'no-ls'\ncommand = '^ls\naction = 'deny'\n",
    )
    .unwrap();
    wait_for(WAIT, "error shown in status", || {
        d.status().is_ok_and(|s| {
            s["hookd"]["rule_errors"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|m| m.as_str().is_some_and(|m| m.contains("ls.toml:3:")))
            })
        })
    })
    .unwrap();
    assert_eq!(reason(&d), "three", "old rules stay active");
    assert!(d.log().contains("rules reload failed"), "error in the log");

    // The fix goes live and clears the error.
    std::fs::write(&file, rule("four")).unwrap();
    expect(&d, "four", "fixed edit");
    assert_eq!(d.status().unwrap()["hookd"]["rule_errors"], json!([]));

    // hookd.toml itself is watched too.
    std::fs::write(
        d.home().join("hookd.toml"),
        "packs = []\n[[rule]]\nname='main-ls'\ncommand='^ls'\naction='deny'\nreason='main'\n",
    )
    .unwrap();
    expect(
        &d,
        "main\nfour",
        "hookd.toml edit (its rules come before rules.d)",
    );
}

#[test]
fn rules_d_created_after_start_is_watched() {
    let d = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let rules_d = d.home().join("rules.d");
    std::fs::create_dir(&rules_d).unwrap();
    std::fs::write(rules_d.join("ls.toml"), rule("late")).unwrap();
    expect(&d, "late", "rules.d created after start");
    std::fs::write(rules_d.join("ls.toml"), rule("later")).unwrap();
    expect(&d, "later", "edit in the new rules.d");
}
