//! `hookctl install` / `hookctl uninstall` against a corpus of settings files
//! (`tests/fixtures/settings/`), through the built binary.
//!
//! Hermetic: each test gets a sandbox under `CARGO_TARGET_TMPDIR` with its own HOME, project
//! directory and a fake hook-client (a shell script that records its arguments), and runs
//! hookctl with a cleared environment. Never talks to hookd.
//!
//! Corpus naming: `invalid-json-*` must be refused as unparsable, `invalid-schema-*` as
//! schema-invalid (expected paths in [`SCHEMA_INVALID`]); every other file must round-trip.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

/// Events a default install wires: all 34 but WorktreeCreate and WorktreeRemove.
const INSTALLED: usize = 32;

/// The fake hook-client: records its arguments, one per line, in `$ARGV_FILE`.
const FAKE_CLIENT: &str = "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$ARGV_FILE\"\n";

/// Fixtures whose bytes do not survive install + uninstall, only their value and key order:
/// a one-line file comes back pretty-printed, `\u00e9` as `é` and `\/` as `/`.
const NOT_BYTE_IDENTICAL: &[&str] = &["compact-one-line.json"];

/// Fixtures `install` + `uninstall` do not bring back at all (see `empty_hooks_object_is_dropped_on_uninstall`).
const NOT_ROUND_TRIPPED: &[&str] = &["empty-hooks.json"];

/// Each schema-invalid fixture and the path the refusal must name.
const SCHEMA_INVALID: &[(&str, &str)] = &[
    (
        "invalid-schema-missing-command.json",
        "hooks.PreToolUse[0].hooks[1]",
    ),
    (
        "invalid-schema-http-no-url.json",
        "hooks.PostToolUse[0].hooks[0]",
    ),
    ("invalid-schema-unknown-event.json", "hooks.PreToolUSE"),
    (
        "invalid-schema-timeout-zero.json",
        "hooks.SessionEnd[0].hooks[0].timeout",
    ),
    (
        "invalid-schema-matcher-not-string.json",
        "hooks.PreToolUse[0].matcher",
    ),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/settings")
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() >= 15, "fixture corpus is missing");
    out
}

fn fixture(name: &str) -> Vec<u8> {
    fs::read(fixtures_dir().join(name)).unwrap()
}

/// A temp HOME, project directory and fake hook-client, removed on drop.
struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "install-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&root);
        for d in ["home", "project", "bin"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let s = Self { root };
        s.make_client(&s.root.join("bin/hook-client"));
        s
    }

    fn make_client(&self, path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, FAKE_CLIENT).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn project(&self) -> PathBuf {
        self.root.join("project")
    }

    fn client(&self) -> PathBuf {
        self.root.join("bin/hook-client")
    }

    fn user_settings(&self) -> PathBuf {
        self.home().join(".claude/settings.json")
    }

    /// Runs hookctl in the project directory with only HOME and a minimal PATH set.
    fn hookctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hookctl"))
            .args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", "/usr/bin:/bin")
            .current_dir(self.project())
            .output()
            .unwrap()
    }

    /// `hookctl install --client <fake> --json ARGS`, which must succeed; returns the report.
    fn install(&self, args: &[&str]) -> Value {
        let client = self.client();
        let mut all = vec!["install", "--json", "--client", client.to_str().unwrap()];
        all.extend_from_slice(args);
        ok_json(&self.hookctl(&all))
    }

    /// `hookctl uninstall --json ARGS`, which must succeed; returns the report.
    fn uninstall(&self, args: &[&str]) -> Value {
        let mut all = vec!["uninstall", "--json"];
        all.extend_from_slice(args);
        ok_json(&self.hookctl(&all))
    }

    /// Asserts the settings file the target flags name passes hookctl's schema check
    /// (uninstall --dry-run parses and validates the whole file before anything else).
    fn assert_valid(&self, target: &[&str]) {
        let mut all = vec!["uninstall", "--dry-run", "--json"];
        all.extend_from_slice(target);
        ok_json(&self.hookctl(&all));
    }

    fn backups(&self, settings: &Path) -> Vec<PathBuf> {
        let prefix = format!(
            "{}.hookd-backup-",
            settings.file_name().unwrap().to_string_lossy()
        );
        let mut out: Vec<_> = fs::read_dir(settings.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&prefix)
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// The value with its key order, as one string (serde_json keeps order: preserve_order).
fn ordered(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    serde_json::to_string(&v).unwrap()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every handler in `settings` whose command starts with the sandbox's fake client.
fn our_handlers(s: &Sandbox, settings: &Value) -> Vec<(String, Value)> {
    let client = s.client().to_string_lossy().into_owned();
    let mut out = Vec::new();
    for (event, groups) in settings["hooks"].as_object().into_iter().flatten() {
        for g in groups.as_array().unwrap() {
            for h in g["hooks"].as_array().unwrap() {
                if h["command"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(&client))
                {
                    out.push((event.clone(), h.clone()));
                }
            }
        }
    }
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

#[test]
fn corpus_install_is_idempotent_and_uninstall_round_trips() {
    for (name, original) in fixtures() {
        if name.starts_with("invalid-") || NOT_ROUND_TRIPPED.contains(&name.as_str()) {
            continue;
        }
        let s = Sandbox::new("corpus");
        let settings = s.user_settings();
        write(&settings, &original);

        let first = s.install(&[]);
        assert_eq!(first["changed"], json!(true), "{name}");
        let installed = fs::read(&settings).unwrap();
        s.assert_valid(&[]);
        let foreign = first["foreign"].as_array().unwrap().len();
        assert_eq!(
            first["added"].as_array().unwrap().len() + foreign,
            INSTALLED,
            "{name}: {first}"
        );
        assert_eq!(
            our_handlers(&s, &read_json(&settings)).len(),
            INSTALLED - foreign,
            "{name}"
        );

        // Twice = once: same bytes, everything reported present, no second backup.
        let second = s.install(&[]);
        assert_eq!(second["changed"], json!(false), "{name}");
        assert_eq!(
            second["present"].as_array().unwrap().len(),
            INSTALLED - foreign,
            "{name}"
        );
        assert_eq!(second["backup"], Value::Null, "{name}");
        assert_eq!(
            fs::read(&settings).unwrap(),
            installed,
            "{name}: second install changed the file"
        );
        let backups = s.backups(&settings);
        assert_eq!(backups.len(), 1, "{name}");
        assert_eq!(
            fs::read(&backups[0]).unwrap(),
            original,
            "{name}: backup differs from original"
        );

        // Install then uninstall = the original value with its key order.
        let removed = s.uninstall(&[]);
        assert_eq!(removed["changed"], json!(true), "{name}");
        assert_eq!(
            removed["entries_removed"],
            json!(INSTALLED - foreign),
            "{name}"
        );
        let after = fs::read(&settings).unwrap();
        assert_eq!(
            ordered(&after),
            ordered(&original),
            "{name}: value or key order changed"
        );
        if !NOT_BYTE_IDENTICAL.contains(&name.as_str()) {
            assert_eq!(
                String::from_utf8_lossy(&after),
                String::from_utf8_lossy(&original),
                "{name}: bytes changed"
            );
        }
        s.assert_valid(&[]);
        // The uninstall backup holds what install wrote.
        let backups = s.backups(&settings);
        assert_eq!(backups.len(), 2, "{name}");
        assert!(
            backups.iter().any(|b| fs::read(b).unwrap() == installed),
            "{name}"
        );

        // Uninstalling again changes nothing.
        assert_eq!(s.uninstall(&[])["changed"], json!(false), "{name}");
        assert_eq!(s.backups(&settings).len(), 2, "{name}");
    }
}

#[test]
fn corpus_invalid_json_is_refused_untouched() {
    let mut seen = 0;
    for (name, original) in fixtures() {
        if !name.starts_with("invalid-json-") {
            continue;
        }
        seen += 1;
        let s = Sandbox::new("badjson");
        let settings = s.user_settings();
        write(&settings, &original);
        for args in [
            vec!["install", "--client", s.client().to_str().unwrap()],
            vec!["uninstall"],
        ] {
            let out = s.hookctl(&args);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("cannot parse") && err.contains(settings.to_str().unwrap()),
                "{name}: {err}"
            );
            if !name.contains("top-level") {
                assert!(
                    err.contains(" line ") && err.contains(" column "),
                    "{name}: {err}"
                );
            }
            assert!(err.contains("nothing was written"), "{name}: {err}");
            assert_eq!(
                fs::read(&settings).unwrap(),
                original,
                "{name}: file touched"
            );
            assert!(s.backups(&settings).is_empty(), "{name}");
        }
    }
    assert!(seen >= 3);
}

#[test]
fn corpus_schema_invalid_hooks_are_refused_naming_the_path() {
    let invalid: Vec<_> = fixtures()
        .into_iter()
        .filter(|(n, _)| n.starts_with("invalid-schema-"))
        .collect();
    assert_eq!(
        invalid.len(),
        SCHEMA_INVALID.len(),
        "every invalid-schema fixture needs an expected path"
    );
    for (name, original) in invalid {
        let (_, path) = SCHEMA_INVALID
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} is not in SCHEMA_INVALID"));
        let s = Sandbox::new("badschema");
        let settings = s.user_settings();
        write(&settings, &original);
        for args in [
            vec!["install", "--client", s.client().to_str().unwrap()],
            vec!["uninstall"],
        ] {
            let out = s.hookctl(&args);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("refusing to edit"), "{name}: {err}");
            assert!(
                err.contains(&format!("  {path}: ")),
                "{name}: expected {path}: {err}"
            );
            assert_eq!(
                fs::read(&settings).unwrap(),
                original,
                "{name}: file touched"
            );
            assert!(s.backups(&settings).is_empty(), "{name}");
        }
    }
}

#[test]
fn missing_file_is_created_with_mode_0600_and_no_backup() {
    let s = Sandbox::new("missing");
    let settings = s.user_settings();
    assert!(!settings.parent().unwrap().exists());
    let r = s.install(&[]);
    assert_eq!(r["existed"], json!(false));
    assert_eq!(r["backup"], Value::Null);
    assert_eq!(mode(&settings), 0o600);
    let v = read_json(&settings);
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["hooks"]);
    let events: Vec<&String> = v["hooks"].as_object().unwrap().keys().collect();
    assert_eq!(events.len(), INSTALLED);
    assert_eq!(events[0], "PreToolUse", "Claude Code's event order");
    assert!(fs::read_to_string(&settings).unwrap().ends_with("}\n"));
    assert!(s.backups(&settings).is_empty());
    // No temp files left behind.
    let names: Vec<_> = fs::read_dir(settings.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["settings.json"]);
    s.assert_valid(&[]);

    // Uninstall leaves `{}` (the hooks object became empty), and a missing file stays missing.
    s.uninstall(&[]);
    assert_eq!(fs::read_to_string(&settings).unwrap(), "{}\n");
    let other = Sandbox::new("missing2");
    let r = other.uninstall(&[]);
    assert_eq!(r["changed"], json!(false));
    assert!(!other.user_settings().exists());
}

#[test]
fn handlers_have_the_documented_shape_and_timeouts() {
    let s = Sandbox::new("shape");
    s.install(&[]);
    let v = read_json(&s.user_settings());
    let client = s.client().to_string_lossy().into_owned();
    for (event, groups) in v["hooks"].as_object().unwrap() {
        let timeout = match event.as_str() {
            "SessionEnd" => 5,
            _ => 10,
        };
        assert_eq!(
            groups,
            &json!([{"hooks": [{
                "type": "command",
                "command": format!("{client} --event {event}"),
                "timeout": timeout
            }]}]),
            "no matcher, one handler, keys in this order"
        );
        let keys: Vec<_> = groups[0]["hooks"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["type", "command", "timeout"]);
    }
}

#[test]
fn merges_beside_existing_hooks_without_disturbing_them() {
    let s = Sandbox::new("merge");
    let settings = s.user_settings();
    let original = fixture("linter-post-tool-use.json");
    write(&settings, &original);
    s.install(&["--events", "PostToolUse,Stop"]);
    let before: Value = serde_json::from_slice(&original).unwrap();
    let after = read_json(&settings);
    // The user's group comes first, untouched; ours is a new group after it.
    let post = after["hooks"]["PostToolUse"].as_array().unwrap();
    assert_eq!(post.len(), 2);
    assert_eq!(post[0], before["hooks"]["PostToolUse"][0]);
    assert!(post[1].get("matcher").is_none());
    assert_eq!(after["hooks"]["PreToolUse"], before["hooks"]["PreToolUse"]);
    assert_eq!(after["permissions"], before["permissions"]);
    let keys: Vec<_> = after["hooks"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        ["PostToolUse", "PreToolUse", "Stop"],
        "new events appended, old order kept"
    );
}

#[test]
fn events_subset_touches_only_those_events() {
    let s = Sandbox::new("subset");
    let r = s.install(&["--events", "Stop,PreToolUse", "--events", "SessionEnd"]);
    assert_eq!(r["added"], json!(["PreToolUse", "SessionEnd", "Stop"]));
    let v = read_json(&s.user_settings());
    assert_eq!(v["hooks"].as_object().unwrap().len(), 3);
    assert_eq!(v["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"], json!(5));

    // Adding more later keeps the first ones; uninstalling a subset removes only those.
    let r = s.install(&["--events", "Stop,Notification"]);
    assert_eq!(r["added"], json!(["Notification"]));
    assert_eq!(r["present"], json!(["Stop"]));
    let r = s.uninstall(&["--events", "Stop"]);
    assert_eq!(r["removed"], json!(["Stop"]));
    let keys: Vec<_> = read_json(&s.user_settings())["hooks"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["PreToolUse", "SessionEnd", "Notification"]);

    let bad = s.hookctl(&[
        "install",
        "--client",
        s.client().to_str().unwrap(),
        "--events",
        "pretooluse",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("did you mean PreToolUse?"),
        "{}",
        text(&bad)
    );
    let bad = s.hookctl(&["uninstall", "--events", "Nope"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("known events: PreToolUse,"),
        "{}",
        text(&bad)
    );
}

#[test]
fn project_and_local_targets() {
    let s = Sandbox::new("targets");
    // --project: the current directory.
    let r = s.install(&["--project", "--events", "Stop"]);
    let project_settings = s.project().join(".claude/settings.json");
    assert_eq!(r["file"], json!(project_settings.to_str().unwrap()));
    assert!(project_settings.exists());
    // --local.
    let r = s.install(&["--local", "--events", "Stop"]);
    let local = s.project().join(".claude/settings.local.json");
    assert_eq!(r["file"], json!(local.to_str().unwrap()));
    assert!(local.exists());
    s.assert_valid(&["--local"]);
    // --dir, relative or absolute, without touching the current directory's files.
    let other = s.root.join("other project");
    fs::create_dir_all(&other).unwrap();
    let r = s.install(&[
        "--project",
        "--dir",
        other.to_str().unwrap(),
        "--events",
        "Stop",
    ]);
    assert_eq!(
        r["file"],
        json!(other.join(".claude/settings.json").to_str().unwrap())
    );
    let r = s.install(&["--local", "--dir", "../other project", "--events", "Stop"]);
    assert_eq!(
        r["file"],
        json!(other.join(".claude/settings.local.json").to_str().unwrap())
    );
    s.assert_valid(&["--project", "--dir", other.to_str().unwrap()]);
    assert!(!s.user_settings().exists(), "user settings untouched");

    // Flag errors.
    for (args, needle) in [
        (
            vec!["install", "--project", "--local"],
            "cannot be used with",
        ),
        (
            vec!["install", "--dir", "."],
            "--dir needs --project or --local",
        ),
        (
            vec!["install", "--project", "--dir", "/nonexistent/dir"],
            "no such directory",
        ),
    ] {
        let out = s.hookctl(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn project_install_works_non_interactively_without_home() {
    // What the real-CLI check runs: no HOME, no TTY, stdin closed.
    let s = Sandbox::new("noninteractive");
    let out = Command::new(env!("CARGO_BIN_EXE_hookctl"))
        .args(["install", "--project", "--dir"])
        .arg(s.project())
        .arg("--client")
        .arg(s.client())
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("(created)") && human.contains("added"),
        "{human}"
    );
    assert!(s.project().join(".claude/settings.json").exists());
}

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let s = Sandbox::new("dryrun");
    let settings = s.user_settings();
    let original = fixture("keys-unusual-order.json");
    write(&settings, &original);
    let client = s.client().to_string_lossy().into_owned();

    let out = s.hookctl(&[
        "install",
        "--dry-run",
        "--client",
        &client,
        "--events",
        "Stop",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let human = String::from_utf8_lossy(&out.stdout);
    let settings_str = settings.to_string_lossy();
    assert!(
        human.starts_with(&format!(
            "--- {settings_str}\n+++ {settings_str} (after hookctl install)\n@@ -"
        )),
        "{human}"
    );
    assert!(
        human.contains(&format!(
            "+            \"command\": \"{client} --event Stop\",\n"
        )),
        "{human}"
    );
    assert!(human.contains("\n         ]\n"), "context lines: {human}");
    assert!(human.contains("dry run, nothing written"), "{human}");
    assert_eq!(fs::read(&settings).unwrap(), original);
    assert!(s.backups(&settings).is_empty());

    // --json carries the same diff; a missing file diffs against /dev/null.
    fs::remove_dir_all(settings.parent().unwrap()).unwrap();
    let r = ok_json(&s.hookctl(&[
        "install",
        "--dry-run",
        "--json",
        "--client",
        &client,
        "--events",
        "Stop",
    ]));
    assert_eq!(r["dry_run"], json!(true));
    assert_eq!(r["changed"], json!(true));
    assert!(
        r["diff"].as_str().unwrap().starts_with("--- /dev/null\n"),
        "{r}"
    );
    assert!(
        !settings.exists() && !settings.parent().unwrap().exists(),
        "dry run created files"
    );

    // Uninstall --dry-run too.
    s.install(&[]);
    let installed = fs::read(&settings).unwrap();
    let r = ok_json(&s.hookctl(&["uninstall", "--dry-run", "--json"]));
    let diff = r["diff"].as_str().unwrap();
    assert_eq!(
        diff.lines()
            .filter(|l| l.starts_with('-') && l.contains("--event"))
            .count(),
        INSTALLED,
        "{diff}"
    );
    assert_eq!(fs::read(&settings).unwrap(), installed);
    // Nothing to do: an empty diff.
    let r = ok_json(&s.hookctl(&["install", "--dry-run", "--json", "--client", &client]));
    assert_eq!(
        (r["changed"].clone(), r["diff"].clone()),
        (json!(false), json!(""))
    );
}

#[test]
fn backups_keep_original_bytes_and_never_overwrite_each_other() {
    let s = Sandbox::new("backup");
    let settings = s.user_settings();
    let original = fixture("plugin-style.json");
    write(&settings, &original);
    let r = s.install(&["--events", "Stop"]);
    let backup = PathBuf::from(r["backup"].as_str().unwrap());
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    let stamp = name.strip_prefix("settings.json.hookd-backup-").unwrap();
    assert_eq!(stamp.len(), 15, "{name}");
    assert!(
        stamp
            .char_indices()
            .all(|(i, c)| if i == 8 { c == 'T' } else { c.is_ascii_digit() }),
        "{name}"
    );
    assert_eq!(backup.parent(), settings.parent());
    assert_eq!(fs::read(&backup).unwrap(), original);
    assert_eq!(mode(&backup), 0o600);
    // Several changes within one second each get their own backup.
    s.install(&["--events", "PreToolUse"]);
    s.uninstall(&[]);
    let all = s.backups(&settings);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().any(|b| fs::read(b).unwrap() == original));
    assert_eq!(fs::read(&settings).unwrap(), original);
}

#[test]
fn existing_file_mode_is_kept() {
    let s = Sandbox::new("mode");
    let settings = s.user_settings();
    write(&settings, b"{}\n");
    fs::set_permissions(&settings, fs::Permissions::from_mode(0o644)).unwrap();
    s.install(&["--events", "Stop"]);
    assert_eq!(mode(&settings), 0o644);
    fs::set_permissions(&settings, fs::Permissions::from_mode(0o640)).unwrap();
    s.uninstall(&[]);
    assert_eq!(mode(&settings), 0o640);
}

#[test]
fn a_symlinked_settings_file_is_edited_through_the_link() {
    let s = Sandbox::new("symlink");
    let dotfiles = s.root.join("dotfiles/claude-settings.json");
    write(&dotfiles, &fixture("matchers.json"));
    fs::create_dir_all(s.user_settings().parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&dotfiles, s.user_settings()).unwrap();
    let r = s.install(&["--events", "Stop"]);
    assert_eq!(r["symlink_target"], json!(dotfiles.to_str().unwrap()));
    assert!(
        fs::symlink_metadata(s.user_settings())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(our_handlers(&s, &read_json(&dotfiles)).len(), 1);
    assert_eq!(s.backups(&dotfiles).len(), 1, "backup beside the real file");
    s.uninstall(&[]);
    assert_eq!(fs::read(&dotfiles).unwrap(), fixture("matchers.json"));
}

#[test]
fn crlf_and_tab_indentation_survive() {
    let s = Sandbox::new("crlf");
    let settings = s.user_settings();
    let original = String::from_utf8(fixture("linter-post-tool-use.json"))
        .unwrap()
        .replace("  ", "\t")
        .replace('\n', "\r\n");
    write(&settings, original.as_bytes());
    s.install(&[]);
    let installed = fs::read_to_string(&settings).unwrap();
    assert!(
        installed.contains("\r\n\t\t\"PreToolUse\": [\r\n"),
        "{installed}"
    );
    assert!(!installed.replace("\r\n", "").contains('\n'));
    s.uninstall(&[]);
    assert_eq!(fs::read_to_string(&settings).unwrap(), original);
}

#[test]
fn commands_quote_odd_client_paths_and_run_under_sh() {
    let s = Sandbox::new("quoting");
    let odd = s.root.join("it's a $dir;(x)/hook-client");
    s.make_client(&odd);
    let r = ok_json(&s.hookctl(&[
        "install",
        "--json",
        "--client",
        odd.to_str().unwrap(),
        "--events",
        "PreToolUse,Stop",
        "--fail-mode",
        "PreToolUse=deny, *=pass",
    ]));
    assert_eq!(r["client"], json!(odd.to_str().unwrap()));
    let v = read_json(&s.user_settings());
    let command = v["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    assert!(command.starts_with('\''), "{command}");
    // Claude Code runs `/bin/sh -c <command>`: the client must get exactly our arguments.
    let argv_file = s.root.join("argv");
    let out = Command::new("/bin/sh")
        .args(["-c", command])
        .env("ARGV_FILE", &argv_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fs::read_to_string(&argv_file).unwrap(),
        "--event\nPreToolUse\n--fail-mode\nPreToolUse=deny, *=pass\n"
    );
    // Recognised as ours: idempotent and removable.
    let again = ok_json(&s.hookctl(&[
        "install",
        "--json",
        "--client",
        odd.to_str().unwrap(),
        "--events",
        "PreToolUse,Stop",
        "--fail-mode",
        "PreToolUse=deny, *=pass",
    ]));
    assert_eq!(again["changed"], json!(false));
    assert_eq!(s.uninstall(&[])["entries_removed"], json!(2));
}

#[test]
fn plain_paths_are_not_quoted_and_fail_mode_is_appended() {
    let s = Sandbox::new("failmode");
    s.install(&["--events", "PermissionRequest", "--fail-mode", "deny"]);
    let v = read_json(&s.user_settings());
    let client = s.client().to_string_lossy().into_owned();
    assert_eq!(
        v["hooks"]["PermissionRequest"][0]["hooks"][0]["command"],
        json!(format!(
            "{client} --event PermissionRequest --fail-mode deny"
        ))
    );
    let bad = s.hookctl(&["install", "--client", &client, "--fail-mode", "explode"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("bad fail mode"),
        "{}",
        text(&bad)
    );
}

#[test]
fn reinstall_with_new_flags_updates_in_place() {
    let s = Sandbox::new("update");
    let settings = s.user_settings();
    write(&settings, &fixture("linter-post-tool-use.json"));
    s.install(&["--events", "PostToolUse"]);
    // Same client, new fail mode: the entry is rewritten where it is, not duplicated.
    let r = s.install(&["--events", "PostToolUse", "--fail-mode", "deny"]);
    assert_eq!(r["updated"], json!(["PostToolUse"]));
    let v = read_json(&settings);
    let post = v["hooks"]["PostToolUse"].as_array().unwrap();
    assert_eq!(post.len(), 2);
    assert!(
        post[1]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("--fail-mode deny")
    );
    // A moved client is recognised too.
    let moved = s.root.join("elsewhere/hook-client");
    s.make_client(&moved);
    let r = ok_json(&s.hookctl(&[
        "install",
        "--json",
        "--client",
        moved.to_str().unwrap(),
        "--events",
        "PostToolUse",
    ]));
    assert_eq!(r["updated"], json!(["PostToolUse"]));
    let v = read_json(&settings);
    assert_eq!(v["hooks"]["PostToolUse"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["hooks"]["PostToolUse"][1]["hooks"][0]["command"],
        json!(format!("{} --event PostToolUse", moved.display()))
    );
    s.uninstall(&[]);
    assert_eq!(
        ordered(&fs::read(&settings).unwrap()),
        ordered(&fixture("linter-post-tool-use.json"))
    );
}

#[test]
fn hand_written_hook_client_entries_are_left_alone() {
    let s = Sandbox::new("foreign");
    let settings = s.user_settings();
    let original = fixture("foreign-hook-client.json");
    write(&settings, &original);
    let out = s.hookctl(&[
        "install",
        "--client",
        s.client().to_str().unwrap(),
        "--events",
        "PreToolUse,Stop",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("note: PreToolUse already runs hook-client"),
        "{human}"
    );
    let v = read_json(&settings);
    assert_eq!(
        v["hooks"]["PreToolUse"],
        serde_json::from_slice::<Value>(&original).unwrap()["hooks"]["PreToolUse"]
    );
    assert_eq!(our_handlers(&s, &v).len(), 1, "only Stop added");
    s.uninstall(&[]);
    assert_eq!(fs::read(&settings).unwrap(), original);
}

#[test]
fn disable_all_hooks_is_kept_and_reported() {
    let s = Sandbox::new("disabled");
    let settings = s.user_settings();
    write(&settings, &fixture("disable-all-hooks.json"));
    let r = s.install(&[]);
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("disableAllHooks"),
        "{r}"
    );
    assert_eq!(read_json(&settings)["disableAllHooks"], json!(true));
}

#[test]
fn empty_hooks_object_comes_back_on_uninstall() {
    // The `hooks` object that was empty before install is given back with the rest of the
    // file, from install's backup (byte for byte).
    let s = Sandbox::new("emptyhooks");
    let settings = s.user_settings();
    write(&settings, &fixture("empty-hooks.json"));
    s.install(&[]);
    s.uninstall(&[]);
    assert_eq!(fs::read(&settings).unwrap(), fixture("empty-hooks.json"));
    // Without that backup (removed by hand), uninstall drops the `hooks` it emptied.
    for e in fs::read_dir(settings.parent().unwrap()).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains(".hookd-backup-") {
            fs::remove_file(p).unwrap();
        }
    }
    s.install(&[]);
    for e in fs::read_dir(settings.parent().unwrap()).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains(".hookd-backup-") {
            fs::remove_file(p).unwrap();
        }
    }
    s.uninstall(&[]);
    assert_eq!(
        fs::read_to_string(&settings).unwrap(),
        "{\n  \"model\": \"sonnet\",\n  \"env\": {}\n}\n"
    );
    // Nothing of ours, nothing removed: an empty hooks object stays.
    write(&settings, &fixture("empty-hooks.json"));
    assert_eq!(s.uninstall(&[])["changed"], json!(false));
    assert_eq!(fs::read(&settings).unwrap(), fixture("empty-hooks.json"));
}

#[test]
fn an_empty_file_counts_as_an_empty_object() {
    let s = Sandbox::new("emptyfile");
    let settings = s.user_settings();
    write(&settings, b"\n");
    let r = s.install(&["--events", "Stop"]);
    assert_eq!(fs::read(r["backup"].as_str().unwrap()).unwrap(), b"\n");
    s.uninstall(&[]);
    // Given back as it was, from install's backup.
    assert_eq!(fs::read_to_string(&settings).unwrap(), "\n");
}

#[test]
fn client_errors_are_clear() {
    let s = Sandbox::new("client");
    for (client, needle) in [
        ("/nonexistent/hook-client", "no such executable file"),
        ("/bin/sh", "must be named hook-client"),
    ] {
        let out = s.hookctl(&["install", "--client", client]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{}",
            text(&out)
        );
    }
    let not_exec = s.root.join("noexec/hook-client");
    write(&not_exec, b"");
    let out = s.hookctl(&["install", "--client", not_exec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A relative --client is made absolute.
    let r = ok_json(&s.hookctl(&[
        "install",
        "--json",
        "--client",
        "../bin/hook-client",
        "--events",
        "Stop",
    ]));
    assert_eq!(r["client"], json!(s.client().to_str().unwrap()));
}

#[test]
fn human_output_summarises_the_change() {
    let s = Sandbox::new("human");
    let settings = s.user_settings();
    write(&settings, &fixture("matchers.json"));
    let client = s.client().to_string_lossy().into_owned();
    let out = s.hookctl(&[
        "install",
        "--client",
        &client,
        "--events",
        "Stop,SessionEnd",
    ]);
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.starts_with(&format!("{} (updated)\n", settings.display())),
        "{human}"
    );
    assert!(
        human.contains(&format!("  client           {client}\n")),
        "{human}"
    );
    assert!(
        human.contains("  added            SessionEnd, Stop (2)\n"),
        "{human}"
    );
    assert!(human.contains("  backup           "), "{human}");
    let out = s.hookctl(&["install", "--client", &client, "--events", "Stop"]);
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("(unchanged)") && human.contains("already present  Stop (1)"),
        "{human}"
    );
    let out = s.hookctl(&["uninstall"]);
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("  removed          SessionEnd, Stop (2)\n"),
        "{human}"
    );
}

#[test]
fn worktree_events_are_never_installed_but_are_uninstalled() {
    let s = Sandbox::new("worktree");
    let r = s.install(&[]);
    let added: Vec<&str> = r["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        !added.contains(&"WorktreeCreate") && !added.contains(&"WorktreeRemove"),
        "{r}"
    );
    let out = s.hookctl(&[
        "install",
        "--client",
        s.client().to_str().unwrap(),
        "--events",
        "Stop,WorktreeCreate",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not installing WorktreeCreate"),
        "{}",
        text(&out)
    );
    // An entry of ours under WorktreeRemove (an older install, or written by hand) is removed.
    let settings = s.user_settings();
    let mut v = read_json(&settings);
    let client = s.client().to_string_lossy().into_owned();
    v["hooks"]["WorktreeRemove"] = json!([{"hooks": [{"type": "command", "command": format!("{client} --event WorktreeRemove")}]}]);
    write(
        &settings,
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap()).as_bytes(),
    );
    assert_eq!(s.uninstall(&[])["entries_removed"], json!(INSTALLED + 1));
    assert_eq!(fs::read_to_string(&settings).unwrap(), "{}\n");
}
