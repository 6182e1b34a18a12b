use super::*;

fn ruleset(toml: &str) -> Ruleset {
    let src = Source {
        name: "test.toml".into(),
        text: toml.into(),
        is_main: false,
    };
    let (rules, _) = parse_source(&src).unwrap_or_else(|e| panic!("{e:?}"));
    Ruleset::new(rules, vec![])
}

fn errors(toml: &str) -> Vec<String> {
    let src = Source {
        name: "test.toml".into(),
        text: toml.into(),
        is_main: false,
    };
    parse_source(&src).err().unwrap_or_default()
}

fn bash(cmd: &str) -> HookEvent {
    let v = serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Bash",
        "tool_input": {"command": cmd}, "session_id": "s"});
    HookEvent::parse(v.to_string().as_bytes(), None).unwrap()
}

fn event(name: &str, extra: &serde_json::Value) -> HookEvent {
    let mut v = serde_json::json!({"hook_event_name": name});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    HookEvent::parse(v.to_string().as_bytes(), None).unwrap()
}

#[test]
fn deny_beats_defer_beats_ask_beats_allow() {
    let rs = ruleset(
        r#"
        [[rule]]
        name = "a"
        tool = "Bash"
        action = "allow"
        [[rule]]
        name = "b"
        tool = "Bash"
        action = "ask"
        reason = "ask-reason"
        [[rule]]
        name = "c"
        command = "rm"
        action = "deny"
        reason = "deny-reason"
        [[rule]]
        name = "d"
        tool = "Bash"
        action = "defer"
        "#,
    );
    let d = rs.evaluate(&bash("ls"));
    assert_eq!(d.permission.as_ref().map(|p| p.0), Some(Action::Defer));
    let d = rs.evaluate(&bash("rm x"));
    assert_eq!(
        d.permission,
        Some((Action::Deny, vec!["deny-reason".into()]))
    );
    assert_eq!(d.matched.len(), 4);
    assert_eq!(d.verdict(), "deny");
}

#[test]
fn contexts_and_warnings_join_in_rule_order() {
    let rs = ruleset(
        r#"
        [[rule]]
        name = "one"
        event = "SessionStart"
        action = "context"
        context = "first"
        [[rule]]
        name = "warn"
        event = ["SessionStart", "Stop"]
        action = "warn"
        reason = "careful"
        [[rule]]
        name = "two"
        event = "SessionStart"
        action = "context"
        context = "second"
        "#,
    );
    let d = rs.evaluate(&event("SessionStart", &serde_json::json!({})));
    assert_eq!(d.contexts, vec!["first", "second"]);
    assert_eq!(d.warnings, vec!["careful"]);
    let d = rs.evaluate(&event("Stop", &serde_json::json!({})));
    assert!(d.contexts.is_empty());
    assert_eq!(d.warnings, vec!["careful"]);
}

#[test]
fn prompt_rule_defaults_to_user_prompt_submit_and_blocks() {
    let rs = ruleset(
        r#"
        [[rule]]
        name = "no-secrets"
        prompt = '(?i)password'
        action = "block"
        reason = "no passwords in prompts"
        "#,
    );
    let d = rs.evaluate(&event(
        "UserPromptSubmit",
        &serde_json::json!({"prompt": "my PASSWORD is"}),
    ));
    assert_eq!(d.blocks, vec!["no passwords in prompts"]);
    assert!(
        rs.evaluate(&event(
            "UserPromptSubmit",
            &serde_json::json!({"prompt": "hi"})
        ))
        .matched
        .is_empty()
    );
}

#[test]
fn block_on_pre_tool_use_is_a_deny() {
    let rs = ruleset(
        r#"
        [[rule]]
        name = "b"
        tool = "Bash"
        action = "block"
        reason = "r"
        "#,
    );
    assert_eq!(
        rs.evaluate(&bash("ls")).permission,
        Some((Action::Deny, vec!["r".into()]))
    );
}

#[test]
fn tool_matcher_applies_to_mcp_tools() {
    let rs = ruleset(
        r#"
        [[rule]]
        name = "gh"
        tool = "mcp__github__.*"
        action = "ask"
        "#,
    );
    let e = event(
        "PreToolUse",
        &serde_json::json!({"tool_name": "mcp__github__delete_repo"}),
    );
    assert_eq!(rs.evaluate(&e).verdict(), "ask");
    let e = event("PreToolUse", &serde_json::json!({"tool_name": "Bash"}));
    assert_eq!(rs.evaluate(&e).verdict(), "none");
}

#[test]
fn unexpressible_actions_are_refused_with_the_accepted_list() {
    let e = errors(
        r#"
        [[rule]]
        name = "x"
        event = "Stop"
        action = "ask"
        "#,
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("test.toml:2:9: rule `x`: Stop cannot express `ask`"),
        "{e:?}"
    );
    assert!(e[0].contains("block"), "{e:?}");
    let e = errors("[[rule]]\nname='y'\nevent='*'\naction='deny'\n");
    assert!(e[0].contains("cannot apply to every event"), "{e:?}");
}

#[test]
fn typos_bad_regexes_and_unknown_events_are_reported_with_positions() {
    let e = errors("[[rule]]\nname = 'x'\ncomand = 'rm'\naction = 'deny'\n");
    assert!(
        e[0].starts_with("test.toml:3:1:") && e[0].contains("comand"),
        "{e:?}"
    );
    let e = errors("[[rule]]\nname = 'x'\ncommand = '('\naction = 'deny'\n");
    assert!(e[0].contains("bad `command` regex"), "{e:?}");
    let e = errors("[[rule]]\nname = 'x'\nevent = 'pretooluse'\naction = 'deny'\n");
    assert!(e[0].contains("did you mean PreToolUse"), "{e:?}");
    let e = errors("[[rule]]\nname = 'x'\nevent = 'Stop'\naction = 'explode'\n");
    assert!(e[0].contains("unknown action"), "{e:?}");
    let e = errors("[[rule\n");
    assert!(e[0].starts_with("test.toml:1:"), "{e:?}");
}

#[test]
fn log_rules_may_watch_future_events() {
    let rs = ruleset("[[rule]]\nname='f'\nevent='FutureEvent'\naction='log'\n");
    assert_eq!(
        rs.evaluate(&event("FutureEvent", &serde_json::json!({})))
            .verdict(),
        "log"
    );
}

#[test]
fn load_merges_packs_main_file_and_rules_d_and_reports_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookd.toml"),
        "packs = ['git']\n[[rule]]\nname='main'\nevent='Stop'\naction='log'\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("rules.d")).unwrap();
    std::fs::write(
        dir.path().join("rules.d/a.toml"),
        "[[rule]]\nname='main'\nevent='Stop'\naction='log'\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules.d/b.toml"),
        "[[rule]]\nname='b'\nevent='Stop'\naction='log'\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("rules.d/notes.txt"), "ignored").unwrap();
    let r = load(dir.path());
    let names: Vec<_> = r.ruleset.rules.iter().map(|r| r.name.as_str()).collect();
    assert!(names.starts_with(&["git-push-force"]), "{names:?}");
    assert!(names.ends_with(&["main", "b"]), "{names:?}");
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert!(r.errors[0].contains("defined twice"));
}

#[test]
fn default_packs_load_cleanly_and_stop_force_push() {
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(
        r.ruleset
            .evaluate(&bash("git push --force origin main"))
            .verdict(),
        "deny"
    );
    assert_eq!(
        r.ruleset.evaluate(&bash("git push origin main")).verdict(),
        "none"
    );
    assert_eq!(r.ruleset.evaluate(&bash("rm -rf /")).verdict(), "deny");
    assert_eq!(
        r.ruleset.evaluate(&bash("rm -rf ./build")).verdict(),
        "none"
    );
}

#[test]
fn unknown_pack_and_rules_d_settings_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hookd.toml"), "packs = ['nope']\n").unwrap();
    std::fs::create_dir(dir.path().join("rules.d")).unwrap();
    std::fs::write(dir.path().join("rules.d/x.toml"), "packs = ['git']\n").unwrap();
    let r = load(dir.path());
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
}
