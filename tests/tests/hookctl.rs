//! hookctl's rule tooling against a live daemon: test, explain, check, rules, trust.

use hook_tests::harness::TestDaemon;
use serde_json::{Value, json};

fn json_out(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn test_shorthands_show_decision_rules_and_exact_client_output() {
    let d = TestDaemon::start().unwrap();
    let out = d
        .hookctl(&[
            "test",
            "bash",
            "bash -c 'cd repo && git push -f origin main'",
            "--cwd",
            "/w/p",
            "--json",
        ])
        .unwrap();
    let r = json_out(&out);
    assert_eq!(r["verdict"], json!("deny"));
    assert_eq!(r["matched"][0]["rule"], json!("git-push-force"));
    let stdout: Vec<u8> = serde_json::from_value(r["reply"]["stdout"].clone()).unwrap();
    let printed: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(
        printed["hookSpecificOutput"]["permissionDecision"],
        json!("deny")
    );
    // Nothing was recorded.
    assert_eq!(d.status().unwrap()["hookd"]["events_total"], json!(0));

    let human = d
        .hookctl(&["test", "read", "/w/p/.env", "--cwd", "/w/p"])
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("decision   deny") && text.contains("secrets-files"),
        "{text}"
    );
    assert!(
        text.contains("hook-client would exit 0 and print:"),
        "{text}"
    );

    let prompt = d.hookctl(&["test", "prompt", "hello", "--json"]).unwrap();
    assert_eq!(json_out(&prompt)["verdict"], json!("none"));

    let stdin_event = hook_tests::harness::run_with_stdin(
        {
            let mut c = d.command("hookctl");
            c.args(["test", "--json"]);
            c
        },
        br#"{"hook_event_name":"Stop","session_id":"x"}"#,
    )
    .unwrap();
    assert_eq!(json_out(&stdin_event)["event"], json!("Stop"));
}

#[test]
fn explain_shows_what_the_analyser_sees() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let out = d
        .hookctl(&[
            "explain",
            "sudo env FOO=1 bash -c 'echo $(git reset --hard)'",
            "--json",
        ])
        .unwrap();
    let v = json_out(&out);
    let texts: Vec<&str> = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"git reset --hard"), "{texts:?}");
    let human = d.hookctl(&["explain", "cat <<EOF\nrm -rf /\nEOF"]).unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.starts_with("1. cat") && !text.contains("2. rm"),
        "{text}"
    );
}

#[test]
fn check_reports_precise_errors_and_counts_rules() {
    let d = TestDaemon::unstarted(&[
        (
            "rules.d/good.toml",
            "[[rule]]\nname='a'\ncommand='^ls'\naction='deny'\n",
        ),
        (
            "bad.toml",
            "[[rule]]\nname='b'\nevent='Stop'\naction='ask'\n",
        ),
    ])
    .unwrap();
    let good = d
        .hookctl(&[
            "check",
            d.home().join("rules.d/good.toml").to_str().unwrap(),
        ])
        .unwrap();
    assert!(good.status.success());
    assert!(String::from_utf8_lossy(&good.stdout).starts_with("ok: 1 rules"));
    let bad = d
        .hookctl(&["check", d.home().join("bad.toml").to_str().unwrap()])
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("bad.toml:1:1: rule `b`: Stop cannot express `ask`"),
        "{err}"
    );
    let all = d.hookctl(&["check"]).unwrap();
    assert!(
        all.status.success(),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    assert!(String::from_utf8_lossy(&all.stdout).contains("pack:git"));
}

#[test]
fn rules_lists_sources_and_hits() {
    let d = TestDaemon::start_with(&[(
        "rules.d/mine.toml",
        "[[rule]]\nname='mine'\ntool='Bash'\naction='log'\n",
    )])
    .unwrap();
    for _ in 0..2 {
        // Two distinct calls (event_json makes each payload unique).
        let ev = hook_tests::harness::event_json(
            "PreToolUse",
            "s",
            &json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
        );
        d.hook(&ev, &[]).unwrap();
    }
    let rules = json_out(&d.hookctl(&["rules", "--json"]).unwrap());
    let mine = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "mine")
        .unwrap();
    assert_eq!(mine["hits"], json!(2));
    assert!(
        mine["source"]
            .as_str()
            .unwrap()
            .ends_with("rules.d/mine.toml")
    );
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["source"] == "pack:secrets")
    );
}

/// A reason names hookd and the rule (`hookd: NAME — …`); `hookctl rules NAME` shows that
/// rule, from the running hookd or, without one, from the rule files and packs.
#[test]
fn rules_name_shows_the_rule_a_reason_names() {
    let d = TestDaemon::start_with(&[(
        "rules.d/mine.toml",
        "# Keeps rm-me away.\n[[rule]]\nname='mine'\ncommand='^rm-me'\naction='deny'\nreason='not that'\n",
    )])
    .unwrap();
    let ev = hook_tests::harness::event_json(
        "PreToolUse",
        "s",
        &json!({"tool_name": "Bash", "tool_input": {"command": "rm-me now"}}),
    );
    let out = d.hook(&ev, &[]).unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap()
        .to_owned();
    // The reason, then the allow-once code (docs/rules.md, "Allow once").
    assert!(
        reason.starts_with("hookd: mine — not that (allow once: hookctl allow "),
        "{reason}"
    );
    let name = reason
        .strip_prefix("hookd: ")
        .and_then(|r| r.split_once(" — "))
        .unwrap()
        .0;
    let r = json_out(&d.hookctl(&["rules", name, "--json"]).unwrap());
    assert_eq!(r["state"], "loaded in hookd", "{r}");
    assert_eq!(r["hits"], json!(1), "{r}");
    assert!(r["source"].as_str().unwrap().ends_with("rules.d/mine.toml"));
    assert_eq!(
        r["definition"],
        "# Keeps rm-me away.\n[[rule]]\nname='mine'\ncommand='^rm-me'\naction='deny'\nreason='not that'"
    );
    // A pack rule, in text.
    let out = d.hookctl(&["rules", "git-push-force"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("git-push-force  (pack:git)"), "{text}");
    assert!(text.contains("name = \"git-push-force\""), "{text}");
    // Without hookd: from the same configuration's files and packs.
    let out = d
        .hookctl(&[
            "--socket",
            "/nonexistent/hookd.sock",
            "rules",
            "mine",
            "--json",
        ])
        .unwrap();
    let r = json_out(&out);
    assert!(
        r["state"]
            .as_str()
            .unwrap()
            .starts_with("enabled in the rule files"),
        "{r}"
    );
    assert_eq!(r["reason"], "not that");
    // An unknown name: an error with the names that look like it.
    let out = d.hookctl(&["rules", "push-force"]).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no rule named") && err.contains("git-push-force"),
        "{err}"
    );
}

#[test]
fn project_files_tighten_until_trusted() {
    let d = TestDaemon::start().unwrap();
    let proj = tempfile::tempdir().unwrap();
    std::fs::create_dir(proj.path().join(".claude")).unwrap();
    std::fs::write(
        proj.path().join(".claude/hookd.toml"),
        "[[rule]]\nname='proj-allow-make'\ncommand='^make'\naction='allow'\n[[rule]]\nname='proj-no-curl'\ncommand='^curl'\naction='deny'\nreason='no network in this repo'\n",
    )
    .unwrap();
    let p = proj.path().to_str().unwrap();
    let verdict = |cmd: &str| {
        let out = d
            .hookctl(&["test", "bash", cmd, "--cwd", p, "--project", p, "--json"])
            .unwrap();
        json_out(&out)["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(
        verdict("curl https://x"),
        "deny",
        "tightening applies untrusted"
    );
    assert_eq!(verdict("make"), "none", "allow needs trust");
    let status = d.status().unwrap();
    assert!(
        status["hookd"]["projects"][0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("hookctl trust")
    );
    // Another project is unaffected.
    let other = tempfile::tempdir().unwrap();
    let o = other.path().to_str().unwrap();
    let out = d
        .hookctl(&[
            "test",
            "bash",
            "curl https://x",
            "--cwd",
            o,
            "--project",
            o,
            "--json",
        ])
        .unwrap();
    assert_eq!(json_out(&out)["verdict"], json!("none"));

    let t = d.hookctl(&["trust", p]).unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    assert_eq!(verdict("make"), "allow");
    let t = d.hookctl(&["trust", "--revoke", p]).unwrap();
    assert!(t.status.success());
    assert_eq!(verdict("make"), "none");
}
