//! Tests of the shell analyser: what it finds for each construct, what it must not mistake
//! for commands, and bounds on hostile input. (The default packs' view of the same cases, and
//! the dcg corpus, are in `hookd/tests/corpus.rs`.)

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn texts(src: &str) -> Vec<String> {
    analyze(src)
        .commands
        .iter()
        .map(SimpleCommand::text)
        .collect()
}

fn finds(src: &str, want: &str) {
    let t = texts(src);
    assert!(
        t.iter().any(|c| c == want),
        "{src:?}: {want:?} not in {t:?}"
    );
}

#[test]
fn separators_groups_and_substitutions() {
    for src in [
        "true; git reset --hard",
        "false || git reset --hard",
        "true && git reset --hard",
        "echo x | git reset --hard",
        "echo x |& git reset --hard",
        "sleep 1 & git reset --hard",
        "echo a\ngit reset --hard",
        "(git reset --hard)",
        "{ git reset --hard; }",
        "! git reset --hard",
        "if true; then git reset --hard; fi",
        "while false; do :; done; for f in a; do git reset --hard; done",
        "case x in x) git reset --hard;; esac",
        "f() { git reset --hard; }; f",
        "echo $(git reset --hard)",
        "echo \"$(git reset --hard)\"",
        "echo `git reset --hard`",
        "diff <(git reset --hard) x",
        "X=$(git reset --hard) true",
        "echo $(echo $(git reset --hard))",
        "cat > \"$(git reset --hard)\"",
    ] {
        finds(src, "git reset --hard");
    }
}

#[test]
fn shells_eval_and_stdin_bodies() {
    for src in [
        "bash -c 'git reset --hard'",
        "sh -c \"git reset --hard\"",
        "zsh -c 'git reset --hard'",
        "bash -lc 'git reset --hard'",
        "bash -x -c 'git reset --hard'",
        "eval 'git reset --hard'",
        "eval git reset --hard",
        "bash -c \"sh -c 'eval git reset --hard'\"",
        "bash <<EOF\ngit reset --hard\nEOF",
        "sh <<<'git reset --hard'",
        // Text piped into a shell is shell code.
        "cat <<'EOF' | bash\ngit reset --hard\nEOF",
        "cat <<EOF | sudo sh -s\ngit reset --hard\nEOF",
        "cat - <<<'git reset --hard' | bash",
        "echo 'git reset --hard' | bash",
        "echo -n git reset --hard |& sh",
        "printf 'git reset --hard' | zsh",
        "echo 'bash -c \"git reset --hard\"' | bash",
    ] {
        finds(src, "git reset --hard");
    }
    // Piped text that no shell runs stays data.
    for src in [
        "echo 'git reset --hard' | grep reset",
        "echo 'git reset --hard'; bash",
        "echo 'git reset --hard' || bash",
        "cat <<'EOF' | tee notes\ngit reset --hard\nEOF",
        "cat file | bash",
    ] {
        let t = texts(src);
        assert!(!t.iter().any(|c| c == "git reset --hard"), "{src:?}: {t:?}");
    }
    let a = analyze("python3 - <<EOF\nimport os\nEOF");
    assert_eq!(a.commands.len(), 1);
    assert_eq!(
        a.commands[0].stdin_data.as_deref().map(str::trim),
        Some("import os")
    );
}

#[test]
fn wrappers_are_stripped_and_recorded() {
    let a =
        analyze("sudo -u root env -i FOO=1 nice -n 5 nohup timeout 10 stdbuf -oL git reset --hard");
    let c = a
        .commands
        .iter()
        .find(|c| c.name == "git")
        .expect("git found");
    assert_eq!(c.text(), "git reset --hard");
    for w in ["sudo", "env", "nice", "nohup", "timeout", "stdbuf"] {
        assert!(c.wrappers.iter().any(|x| x == w), "{w} in {:?}", c.wrappers);
    }
    finds("command git reset --hard", "git reset --hard");
    finds("time git reset --hard", "git reset --hard");
    finds("echo . | xargs -0 -n1 rm -rf", "rm -rf");
    finds("find . -name '*.o' -exec rm -f {} \\;", "rm -f {}");
    finds("find . -execdir rm {} +", "rm {}");
    assert_eq!(texts("command -v git"), vec!["command -v git"]);
}

#[test]
fn quoting_escapes_and_command_names() {
    for src in [
        "\\git reset --hard",
        "/usr/bin/git reset --hard",
        "\"git\" reset --hard",
        "'git' 'reset' '--hard'",
        "g\"i\"t reset --hard",
        "$'git' reset $'--hard'",
        "$'\\x67it' reset --hard",
        "$'\\147it' reset --hard",
        "git re\\\nset --hard",
        "GIT_DIR=.git git reset --hard",
    ] {
        finds(src, "git reset --hard");
    }
    let a = analyze("FOO=1 BAR=2 git status");
    assert_eq!(a.commands[0].assignments, vec!["FOO=1", "BAR=2"]);
}

#[test]
fn data_is_never_a_command() {
    for src in [
        "git commit -m \"fix rm -rf detection\"",
        "echo \"git reset --hard\"",
        "grep 'rm -rf' Makefile",
        "cat <<EOF\nrm -rf /\nEOF",
        "cat <<'EOF'\nrm -rf $HOME\nEOF",
        "cat <<-EOF\n\trm -rf x\n\tEOF",
        "tee /tmp/f <<<'git reset --hard'",
        "printf '%s\\n' 'rm -rf /'",
        "which rm",
        "type rm",
        "echo '$(rm -rf /)'",
        "# rm -rf /",
    ] {
        let t = texts(src);
        assert!(
            !t.iter()
                .any(|c| c.starts_with("rm") || c.starts_with("git reset")),
            "{src:?}: {t:?}"
        );
    }
}

#[test]
fn redirects_are_reported_apart_from_arguments() {
    let a = analyze("echo hi > out.txt 2>&1 >> log < in");
    let c = &a.commands[0];
    assert_eq!(c.text(), "echo hi");
    let ops: Vec<(&str, &str)> = c
        .redirects
        .iter()
        .map(|r| (r.op.as_str(), r.target.as_str()))
        .collect();
    assert!(
        ops.contains(&(">", "out.txt"))
            && ops.contains(&(">>", "log"))
            && ops.contains(&("<", "in")),
        "{ops:?}"
    );
}

#[test]
fn hostile_input_is_bounded_and_reported() {
    let cases = [
        "$(".repeat(10_000),
        "(".repeat(100_000),
        "'".repeat(1 << 20),
        "`".repeat(50_000),
        "bash -c \"".repeat(5_000),
        "<<EOF\n".repeat(10_000),
        "echo \"unterminated".to_string(),
    ];
    for src in &cases {
        let t0 = Instant::now();
        let a = analyze(src);
        let took = t0.elapsed();
        assert!(
            a.unparsed.is_some() || a.commands.len() <= Limits::default().max_commands,
            "{}",
            &src[..20.min(src.len())]
        );
        // Not a timing assertion on speed: only that it terminates within a generous bound.
        assert!(
            took < Duration::from_secs(5),
            "{}: {took:?}",
            &src[..20.min(src.len())]
        );
    }
    assert!(analyze(&"$(".repeat(10_000)).unparsed.is_some());
    assert!(analyze("echo \"unterminated").unparsed.is_some());
    assert!(analyze("cat <<EOF\nno end").unparsed.is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_respects_limits(src in "[a-z $()`'\"\\\\<>|&;{}\\n#=!*-]{0,200}") {
        let limits = Limits::default();
        let a = analyze_with(&src, &limits);
        prop_assert!(a.commands.len() <= limits.max_commands);
        for c in &a.commands {
            prop_assert!(c.depth <= limits.max_depth);
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(src in "\\PC{0,120}") {
        let _ = analyze(&src);
    }
}
