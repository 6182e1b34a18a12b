//! What a user gets from the ordinary build and the release: the default `cargo build` builds
//! the three binaries only, with the same features `cargo run -p hookd` uses (so README's
//! commands never compile hookd twice); hook-client comes out static (the fast one); the Claude
//! Code plugin's manifest and hooks (and doctor seeing it enabled); shell completions and man
//! pages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use hook_tests::claude::ALL_HOOK_EVENTS;
use hook_tests::harness::{TestDaemon, bin};
use serde_json::{Value, json};

/// A loud note on stderr (straight to the handle: libtest captures `eprintln!` of passing tests).
fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED (part): {why}");
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `cargo tree` of the normal and build dependencies: package → its enabled features.
fn features(select: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec![
        "tree",
        "--locked",
        "--offline",
        "-e",
        "normal,build",
        "--prefix",
        "none",
        "-f",
        "{p}|{f}",
    ];
    args.extend_from_slice(select);
    cargo(&args)
        .lines()
        .filter_map(|l| l.trim_end_matches(" (*)").split_once('|'))
        .map(|(p, f)| (p.to_string(), f.to_string()))
        .collect()
}

#[test]
fn the_default_build_is_the_binaries_and_shares_hookds_build() {
    // `cargo build` builds what users need, not the integration tests or the benchmarks.
    let meta: Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--locked",
        "--offline",
    ]))
    .unwrap();
    let name = |id: &Value| {
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == *id)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .unwrap()
    };
    let defaults: BTreeSet<String> = meta["workspace_default_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(name)
        .collect();
    assert_eq!(
        defaults,
        BTreeSet::from(
            [
                "hook-client",
                "hook-engine",
                "hook-protocol",
                "hook-protocol-core",
                "hookctl",
                "hookd"
            ]
            .map(String::from)
        ),
    );

    // `cargo run --release -p hookd` (README's first command) and the default `cargo build
    // --release` resolve every crate hookd uses with the same features: one compiled hookd,
    // never two.
    let alone = features(&["-p", "hookd"]);
    let default = features(&[]);
    let differ: Vec<String> = alone
        .iter()
        .filter(|(p, f)| default.get(*p).is_some_and(|g| g != *f))
        .map(|(p, f)| format!("{p}: [{f}] alone, [{}] in the default build", default[p]))
        .collect();
    assert!(
        differ.is_empty(),
        "crates hookd would be built with twice:\n{}",
        differ.join("\n")
    );
}

#[test]
fn hookctl_and_the_engine_build_without_the_daemons_crates() {
    // The engine (pure: rules, settings, sessions, rendering) and hookctl, which uses it, link
    // no async runtime, no HTTP server, no SQLite and nothing of the daemon's
    // (docs/architecture.md).
    let daemon_only = [
        "hookd",
        "tokio",
        "hyper",
        "rusqlite",
        "libsqlite3-sys",
        "notify",
        "mimalloc",
        "hdrhistogram",
        "tokio-postgres",
        "rustls",
    ];
    for package in ["hookctl", "hook-engine"] {
        let tree = features(&["-p", package]);
        // The keys are `name vX.Y.Z (…)`: compare the name.
        let names: std::collections::BTreeSet<&str> =
            tree.keys().filter_map(|k| k.split(' ').next()).collect();
        assert!(names.contains(package), "{package} not in its own tree");
        let found: Vec<&str> = daemon_only
            .iter()
            .copied()
            .filter(|c| names.contains(c))
            .collect();
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
    // The engine makes no system calls of its own: what it needs of the OS (whose file it is,
    // the user's private group) goes through hook-protocol's `private` module.
    let direct = cargo(&[
        "tree",
        "--locked",
        "--offline",
        "-e",
        "normal",
        "--depth",
        "1",
        "--prefix",
        "none",
        "-f",
        "{p}",
        "-p",
        "hook-engine",
    ]);
    assert!(
        !direct.lines().any(|l| l.starts_with("libc ")),
        "hook-engine depends on libc directly:\n{direct}"
    );
}

#[test]
fn the_protocol_core_depends_on_nothing() {
    // hook-client links hook-protocol-core without std: a dependency (even one without std of
    // its own) could turn std back on through feature unification (docs/architecture.md).
    let tree = features(&["-p", "hook-protocol-core"]);
    let names: Vec<&str> = tree.keys().filter_map(|k| k.split(' ').next()).collect();
    assert_eq!(names, ["hook-protocol-core"], "{tree:?}");
}

/// Whether `path` is an ELF executable with a program interpreter (dynamically linked).
fn elf_interpreter(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{}", path.display());
    assert_eq!(bytes[4], 2, "64-bit ELF expected");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let phoff = usize::try_from(u64_at(32)).unwrap();
    let (size, count) = (usize::from(u16_at(54)), usize::from(u16_at(56)));
    (0..count).map(|i| phoff + i * size).find_map(|ph| {
        (u32_at(ph) == 3).then(|| {
            let off = usize::try_from(u64_at(ph + 8)).unwrap();
            let len = usize::try_from(u64_at(ph + 32)).unwrap();
            String::from_utf8_lossy(&bytes[off..off + len])
                .trim_end_matches('\0')
                .to_string()
        })
    })
}

#[test]
fn the_ordinary_build_gives_the_static_hook_client() {
    if !cfg!(all(
        target_os = "linux",
        target_env = "gnu",
        target_arch = "x86_64"
    )) {
        skipped("checks the glibc build's hook-client (this is another target)");
        return;
    }
    // The suite's own build (`cargo build --workspace --bins`) is an ordinary build: no target,
    // no RUSTFLAGS. hook-client/build.rs links it static.
    let client = bin("hook-client");
    assert_eq!(
        elf_interpreter(&client),
        None,
        "{} is dynamically linked",
        client.display()
    );
    // The other binaries stay ordinary (dynamic) builds.
    assert!(elf_interpreter(&bin("hookctl")).is_some());
}

#[test]
fn install_and_doctor_say_when_the_client_is_a_slow_dynamic_build() {
    if !cfg!(target_os = "linux") {
        skipped("linkage is checked for ELF executables (Linux)");
        return;
    }
    let d = TestDaemon::unstarted(&[]).unwrap();
    // A dynamically linked executable named hook-client (any will do: only its linkage is
    // looked at here).
    let slow_dir = tempfile::tempdir().unwrap();
    let slow = slow_dir.path().join("hook-client");
    std::fs::copy("/bin/true", &slow).unwrap();
    if elf_interpreter(&slow).is_none() {
        skipped("/bin/true is static here, no dynamic executable to wire");
        return;
    }
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let out = d
        .hookctl(&[
            "install",
            "--project",
            "--dir",
            dir,
            "--client",
            slow.to_str().unwrap(),
        ])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("is dynamically linked"), "{text}");
    assert!(
        text.contains("release tarball"),
        "how to get the fast one: {text}"
    );

    let doctor = |dir: &str| {
        let out = d.hookctl(&["doctor", "--json", "--project", dir]).unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "client")
            .cloned()
            .unwrap_or_else(|| panic!("no client check: {v:#}"))
    };
    let c = doctor(dir);
    assert_eq!(c["level"], json!("warn"), "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("dynamically linked"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("cargo build --release"),
        "{c}"
    );

    // Wired to the suite's (static) build instead: ok.
    let fast = tempfile::tempdir().unwrap();
    let fdir = fast.path().to_str().unwrap();
    let out = d.hookctl(&["install", "--project", "--dir", fdir]).unwrap();
    assert!(out.status.success(), "{out:?}");
    if elf_interpreter(&bin("hook-client")).is_none() {
        assert!(!String::from_utf8_lossy(&out.stdout).contains("dynamically linked"));
        let c = doctor(fdir);
        assert_eq!(c["level"], json!("ok"), "{c}");
        assert!(c["detail"].as_str().unwrap().contains("static"), "{c}");
    }
}

#[test]
fn the_plugin_wires_every_event_to_the_static_client() {
    let root = workspace().join("plugin");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root.join(".claude-plugin/plugin.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["name"], json!("hookd"));
    assert_eq!(manifest["version"], json!(env!("CARGO_PKG_VERSION")));
    // hooks/hooks.json loads on its own; naming it in the manifest too is a load error.
    assert!(manifest.get("hooks").is_none(), "{manifest}");

    let hooks: Value =
        serde_json::from_slice(&std::fs::read(root.join("hooks/hooks.json")).unwrap()).unwrap();
    let hooks = hooks["hooks"].as_object().unwrap();
    let want: Vec<&str> = ALL_HOOK_EVENTS
        .iter()
        .copied()
        .filter(|e| !["WorktreeCreate", "WorktreeRemove"].contains(e))
        .collect();
    assert_eq!(hooks.keys().map(String::as_str).collect::<Vec<_>>(), want);
    for (event, groups) in hooks {
        let guard =
            ["PreToolUse", "PermissionRequest", "PreSkillShellCommand"].contains(&event.as_str());
        let mut handler = json!({
            "type": "command",
            "command": "${CLAUDE_PLUGIN_ROOT}/bin/hook-client",
            "args": ["--event", event],
            "timeout": if event == "SessionEnd" { 5 } else { 10 },
        });
        if guard {
            handler["onFailure"] = json!("block");
        }
        assert_eq!(*groups, json!([{ "hooks": [handler] }]), "{event}");
    }
}

#[test]
fn completions_generate_for_each_shell() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    for (shell, check) in [
        ("bash", &["bash", "-n"][..]),
        ("zsh", &["zsh", "-n"][..]),
        ("fish", &["fish", "--no-execute"][..]),
    ] {
        let out = d.hookctl(&["completions", shell]).unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["hookctl", "install", "rotate-token", "dry-run", "doctor"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
        // Parse it with the shell itself where that shell is installed.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("hookctl.{shell}"));
        std::fs::write(&file, &script).unwrap();
        match Command::new(check[0]).args(&check[1..]).arg(&file).output() {
            Ok(o) => assert!(
                o.status.success(),
                "{shell} rejects its completions: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(_) => skipped(&format!(
                "{} is not installed, the {shell} script is not parsed",
                check[0]
            )),
        }
    }
    let out = d.hookctl(&["completions", "tcsh"]).unwrap();
    assert!(!out.status.success());
}

#[test]
fn man_pages_cover_every_option() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = d
        .hookctl(&["man", "--out", dir.path().to_str().unwrap()])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let page = |name: &str| {
        std::fs::read_to_string(dir.path().join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"))
            .replace("\\-", "-")
    };
    for name in ["hookctl", "hookctl-install", "hookctl-http-rotate-token"] {
        assert!(page(name).contains(".TH"), "{name}.1 is not a man page");
    }
    // hookd and hook-client parse their arguments by hand: every option their --help names
    // is in their page.
    for name in ["hookd", "hook-client"] {
        let text = page(name);
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{name}.1");
        let help = Command::new(bin(name)).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        let options: BTreeSet<&str> = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .collect();
        assert!(!options.is_empty(), "{name} --help: {help}");
        for o in options {
            assert!(text.contains(o), "{name}.1 lacks {o}");
        }
    }
}

#[test]
fn doctor_counts_an_enabled_hookd_plugin_as_wiring() {
    let d = TestDaemon::unstarted(&[]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let wiring = || {
        let out = d.hookctl(&["doctor", "--json", "--project", dir]).unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "wiring")
            .cloned()
            .unwrap_or_else(|| panic!("no wiring check: {v:#}"))
    };
    let user = d.home().join(".claude/settings.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, r#"{"model": "opus"}"#).unwrap();
    let c = wiring();
    assert_eq!(c["level"], json!("fail"), "{c}");
    assert!(c["fix"].as_str().unwrap().contains("--plugin-dir"), "{c}");
    std::fs::write(&user, r#"{"enabledPlugins": {"hookd@tools": true}}"#).unwrap();
    let c = wiring();
    assert_eq!(c["level"], json!("ok"), "{c}");
    assert!(c["detail"].as_str().unwrap().contains("plugin"), "{c}");
}

/// A release layout as scripts/release.sh packs it, with stand-in executables (shell scripts:
/// the install script's work does not depend on what they are), and its SHA256SUMS.
fn fake_release(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.join("hookd-0.0.0-test");
    let write = |rel: &str, text: &str, mode: u32| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for b in ["hookd", "hook-client"] {
        write(
            &format!("bin/{b}"),
            &format!("#!/bin/sh\necho {b} new\n"),
            0o755,
        );
        write(&format!("plugin/bin/{b}"), "#!/bin/sh\n", 0o755);
    }
    // hookctl: a version, and "not running" for `status`.
    write(
        "bin/hookctl",
        "#!/bin/sh\n[ \"$1\" = --version ] && echo 'hookctl new' && exit 0\nexit 3\n",
        0o755,
    );
    write("plugin/bin/hookctl", "#!/bin/sh\n", 0o755);
    write("plugin/.claude-plugin/plugin.json", "{}\n", 0o644);
    write("plugin/hooks/hooks.json", "{\"hooks\": {}}\n", 0o644);
    write("share/man/man1/hookd.1", ".TH hookd 1\n", 0o644);
    write("share/man/man1/hookctl.1", ".TH hookctl 1\n", 0o644);
    write("share/completions/hookctl.bash", "# bash\n", 0o644);
    write("share/completions/_hookctl", "# zsh\n", 0o644);
    write("share/completions/hookctl.fish", "# fish\n", 0o644);
    std::fs::copy(
        workspace().join("scripts/install.sh"),
        root.join("install.sh"),
    )
    .unwrap();
    let sums = Command::new("sh")
        .arg("-c")
        .arg("find . -type f ! -name SHA256SUMS | LC_ALL=C sort | sed 's|^\\./||' | xargs sha256sum > SHA256SUMS")
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(sums.success());
    root
}

#[test]
fn the_install_script_verifies_then_installs_and_says_what_next() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let prefix = tmp.path().join("prefix");
    std::fs::create_dir_all(&home).unwrap();
    let run = |release: &Path| {
        Command::new("sh")
            .arg(release.join("install.sh"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("PREFIX", &prefix)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };

    // A damaged file: nothing is installed.
    let damaged = fake_release(&tmp.path().join("damaged"));
    std::fs::write(damaged.join("bin/hookd"), "#!/bin/sh\necho tampered\n").unwrap();
    let out = run(&damaged);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"),
        "{out:?}"
    );
    assert!(
        !prefix.exists(),
        "something was installed from a damaged tarball"
    );

    // A good one: binaries, man pages, completions, the plugin, and the next step.
    let good = fake_release(&tmp.path().join("good"));
    let out = run(&good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for b in ["hookd", "hookctl", "hook-client"] {
        let p = prefix.join("bin").join(b);
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(good.join("bin").join(b)).unwrap()
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
    assert!(prefix.join("share/man/man1/hookctl.1").is_file());
    assert!(prefix.join("share/zsh/site-functions/_hookctl").is_file());
    assert!(
        home.join(".local/share/bash-completion/completions/hookctl")
            .is_file()
    );
    assert!(home.join(".config/fish/completions/hookctl.fish").is_file());
    assert!(prefix.join("lib/hookd/plugin/hooks/hooks.json").is_file());
    assert!(prefix.join("lib/hookd/plugin/bin/hook-client").is_file());
    assert!(stdout.contains("verified"), "{stdout}");
    assert!(stdout.contains("is not on your PATH"), "{stdout}");
    assert!(stdout.contains("next: hookctl install"), "{stdout}");
    assert!(stdout.contains("--plugin-dir"), "{stdout}");
    // No temporary files left beside what was installed.
    let leftovers: Vec<_> = std::fs::read_dir(prefix.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An upgrade while hookd runs (the installed hookctl's `status` succeeds): restart next.
    std::fs::write(prefix.join("bin/hookctl"), "#!/bin/sh\nexit 0\n").unwrap();
    let out = run(&good);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("next: hookctl restart"),
        "{out:?}"
    );
}
