//! `hookctl import`: turn the hooks of a Claude Code settings file into hookd `run` rules,
//! optionally (`--replace`) rewire the settings so those events go through hook-client, and
//! undo all of it with `--undo`.
//!
//! Where the rules go:
//! - the user's settings (`~/.claude/settings.json`, the default) → `rules.d/imported.toml`
//!   in hookd's configuration directory; another file given with `--settings` →
//!   `rules.d/imported-<hash>.toml`
//! - a project's settings (`--project [DIR]`, `--local`) → a marked block in that project's
//!   `.claude/hookd.toml`, so the scripts keep applying to that project only. The import trusts
//!   the file (`run` needs trust) when it was new or already trusted; otherwise it says to run
//!   `hookctl trust` after a review.
//!
//! `--replace` edits the settings file with the same code as `hookctl install` (backup,
//! atomic write, schema check): the translated entries are removed and hook-client is wired
//! for their events, with `--deadline` long enough for the sync runs. A manifest in hookd's
//! state directory (`imports/`) remembers what was written, so `--undo` can restore the
//! settings from the backup and remove the rules, refusing (without `--force`) when either
//! was edited since.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::install::{SettingsFile, find_client, write_atomic, write_backup};
use crate::client::Client;
use crate::migrate::{self, Translation};
use crate::settings::{self, Wiring};

/// Mode of the rules file and manifest import writes.
const FILE_MODE: u32 = 0o600;
/// The first line of a project block.
const BLOCK_START: &str = "# >>> hookctl import";
/// The last line of a project block.
const BLOCK_END: &str = "# <<< hookctl import";
/// Seconds added to the sum of an event's sync timeouts for hook-client's deadline.
const DEADLINE_SLACK_SECS: u64 = 2;

/// Turn the hooks in a Claude Code settings file into hookd `run` rules
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Import this settings file
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "project"])]
    settings: Option<PathBuf>,
    /// Import the user's ~/.claude/settings.json (the default)
    #[arg(long, conflicts_with = "project")]
    user: bool,
    /// Import a project's .claude/settings.json (DIR defaults to the current directory); its
    /// rules go to that project's .claude/hookd.toml
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = ".")]
    project: Option<PathBuf>,
    /// With --project: the project's .claude/settings.local.json instead
    #[arg(long, requires = "project")]
    local: bool,
    /// Also rewire the settings file: remove the translated entries and send their events to
    /// hook-client (backup first)
    #[arg(long)]
    replace: bool,
    /// Show the rules and the settings diff; write nothing
    #[arg(long)]
    dry_run: bool,
    /// Undo the last import of this settings file: restore it from the backup and remove the
    /// imported rules
    #[arg(long, conflicts_with_all = ["replace", "dry_run"])]
    undo: bool,
    /// With --undo: go ahead even though the settings or rules were edited since the import
    #[arg(long, requires = "undo")]
    force: bool,
    /// hook-client for --replace (default: beside hookctl, else on PATH)
    #[arg(long, value_name = "PATH")]
    client: Option<PathBuf>,
    /// Print a JSON report instead of text
    #[arg(long)]
    json: bool,
}

/// Which settings file, and where its rules go.
struct Target {
    settings: PathBuf,
    /// The project directory, for project settings.
    project: Option<PathBuf>,
    /// The flags that name this file again (for the undo hint).
    flags: String,
}

fn target(args: &Args) -> anyhow::Result<Target> {
    let canon = |d: &Path| {
        std::fs::canonicalize(d).with_context(|| format!("project directory {}", d.display()))
    };
    if let Some(dir) = &args.project {
        let dir = canon(dir)?;
        let name = if args.local {
            "settings.local.json"
        } else {
            "settings.json"
        };
        return Ok(Target {
            settings: dir.join(".claude").join(name),
            flags: format!(
                "--project {}{}",
                settings::shell_quote(&dir.to_string_lossy()),
                if args.local { " --local" } else { "" }
            ),
            project: Some(dir),
        });
    }
    if let Some(f) = &args.settings {
        let f = std::path::absolute(f).with_context(|| format!("resolving {}", f.display()))?;
        // A project's settings file named directly is a project import.
        let project = f
            .parent()
            .filter(|p| p.ends_with(".claude"))
            .filter(|_| {
                f.file_name()
                    .is_some_and(|n| n == "settings.json" || n == "settings.local.json")
            })
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        return Ok(Target {
            flags: format!("--settings {}", settings::shell_quote(&f.to_string_lossy())),
            settings: f,
            project,
        });
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set, so the user settings file cannot be found (use --settings)")?;
    Ok(Target {
        settings: PathBuf::from(home).join(".claude/settings.json"),
        project: None,
        flags: "--user".into(),
    })
}

/// The backup of `settings` that its import record names (`--undo` restores it), if any.
pub(crate) fn backup_in_use(settings: &Path) -> Option<PathBuf> {
    let text = std::fs::read(manifest_path(settings)).ok()?;
    let m: Value = serde_json::from_slice(&text).ok()?;
    m.get("backup")?.as_str().map(PathBuf::from)
}

fn manifest_path(settings: &Path) -> PathBuf {
    let key = hook_engine::project::sha256_hex(settings.to_string_lossy().as_bytes());
    hook_protocol::paths::state_dir()
        .join("imports")
        .join(format!("{}.json", &key[..16]))
}

/// Where a user-level import's rules go.
fn user_rules_file(settings: &Path) -> PathBuf {
    let dir = hook_protocol::paths::config_dir().join(hook_protocol::paths::RULES_DIR);
    let home_settings =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude/settings.json"));
    if home_settings.as_deref() == Some(settings) {
        dir.join("imported.toml")
    } else {
        let key = hook_engine::project::sha256_hex(settings.to_string_lossy().as_bytes());
        dir.join(format!("imported-{}.toml", &key[..8]))
    }
}

pub fn run(args: &Args, socket: &Path) -> anyhow::Result<ExitCode> {
    let t = target(args)?;
    if args.undo {
        return undo(args, &t, socket);
    }
    import(args, &t, socket)
}

fn utc_now() -> String {
    crate::format::utc(crate::format::now_ms()) + " UTC"
}

#[allow(clippy::too_many_lines)] // one linear procedure: check everything, then write
fn import(args: &Args, t: &Target, socket: &Path) -> anyhow::Result<ExitCode> {
    let manifest = manifest_path(&t.settings);
    if manifest.exists() {
        bail!(
            "{} was already imported (record {}); undo that first: `hookctl import --undo {}`",
            t.settings.display(),
            manifest.display(),
            t.flags
        );
    }
    let mut file = SettingsFile::load(&t.settings)?;
    if file.original.is_none() {
        bail!("{} does not exist: nothing to import", t.settings.display());
    }
    // Rule names already used where the rules will live.
    let (rules_file, existing) = match &t.project {
        Some(dir) => {
            let f = dir.join(hook_engine::project::PROJECT_FILE);
            let text = match std::fs::read_to_string(&f) {
                Ok(s) => Some(s),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e).with_context(|| format!("reading {}", f.display())),
            };
            (f, text)
        }
        None => {
            let f = user_rules_file(&t.settings);
            if f.exists() {
                bail!(
                    "{} already exists and no import record names it; move it away first",
                    f.display()
                );
            }
            (f, None)
        }
    };
    let taken: HashSet<String> = match (&t.project, &existing) {
        (Some(_), Some(text)) => {
            if text.contains(BLOCK_START) {
                bail!(
                    "{} already holds an imported block; remove it or run `hookctl import --undo` for the settings file it came from",
                    rules_file.display()
                );
            }
            let src = hook_engine::rules::Source {
                name: rules_file.display().to_string(),
                text: text.clone(),
                is_main: false,
            };
            hook_engine::rules::parse_source(&src)
                .map(|(rules, _)| rules.into_iter().map(|r| r.name).collect())
                .unwrap_or_default()
        }
        (Some(_), None) => HashSet::new(),
        (None, _) => hook_engine::rules::load(&hook_protocol::paths::config_dir())
            .ruleset
            .rules
            .iter()
            .map(|r| r.name.clone())
            .collect(),
    };
    let tr = migrate::translate(&file.doc.root, "imported", &taken);

    // The rules text.
    let mut rules_text = format!(
        "# Imported by `hookctl import` from {} on {}.\n# Undo: hookctl import --undo {}\n",
        t.settings.display(),
        utc_now(),
        t.flags
    );
    for r in &tr.rules {
        rules_text.push('\n');
        rules_text.push_str(&format!("# from {}\n", r.from));
        rules_text.push_str(&r.toml);
    }

    // Settings edits.
    let mut deadlines: BTreeMap<String, u64> = BTreeMap::new();
    let mut events: Vec<String> = Vec::new();
    for r in &tr.rules {
        if !events.contains(&r.from.event) {
            events.push(r.from.event.clone());
        }
        if r.sync {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let secs = r.timeout_secs.ceil() as u64;
            *deadlines
                .entry(r.from.event.clone())
                .or_insert(DEADLINE_SLACK_SECS) += secs;
        }
    }
    let mut client_path = None;
    let mut written = None;
    if args.replace && !tr.rules.is_empty() {
        let client = find_client(args.client.as_deref())?;
        let client_str = client
            .to_str()
            .with_context(|| format!("hook-client path {} is not UTF-8", client.display()))?
            .to_string();
        let locs: Vec<migrate::Location> = tr.rules.iter().map(|r| r.from.clone()).collect();
        migrate::remove(&mut file.doc.root, &locs);
        for e in &events {
            let wiring = Wiring {
                client: &client_str,
                fail_mode: None,
                deadline_secs: deadlines.get(e).copied(),
            };
            settings::install(&mut file.doc.root, &[e.as_str()], &wiring)?;
        }
        written = Some(file.finish(true, args.dry_run, "import")?);
        client_path = Some(client_str);
    }

    let mut trust_note = None;
    let mut trusted_by_import = false;
    let mut trust_before = false;
    if !args.dry_run && !tr.rules.is_empty() {
        match &t.project {
            Some(dir) => {
                let before = existing.clone().unwrap_or_default();
                let trust_file =
                    hook_engine::project::trust_path(&hook_protocol::paths::state_dir());
                trust_before = existing.is_some()
                    && hook_engine::project::is_trusted(&trust_file, dir, before.as_bytes());
                let mut text = before;
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&format!(
                    "{BLOCK_START} from {} ({}); remove with `hookctl import --undo {}`\n",
                    t.settings.display(),
                    utc_now(),
                    t.flags
                ));
                text.push_str(&rules_text);
                text.push_str(BLOCK_END);
                text.push('\n');
                if let Some(parent) = rules_file.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                write_atomic(&rules_file, text.as_bytes(), FILE_MODE)?;
                if existing.is_none() || trust_before {
                    trust(socket, dir, false)?;
                    trusted_by_import = true;
                } else {
                    trust_note = Some(format!(
                        "{} already had rules you have not trusted: review it, then `hookctl trust {}` (run rules apply only once it is trusted)",
                        rules_file.display(),
                        dir.display()
                    ));
                }
            }
            None => {
                if let Some(parent) = rules_file.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                write_atomic(&rules_file, rules_text.as_bytes(), FILE_MODE)?;
            }
        }
        let rules_now = std::fs::read(&rules_file)?;
        let settings_now = std::fs::read(&file.real).unwrap_or_default();
        let record = json!({
            "settings": t.settings,
            "settings_real": file.real,
            "replaced": written.as_ref().is_some_and(|w| w.changed),
            "backup": written.as_ref().and_then(|w| w.backup.clone()),
            "settings_sha256": hook_engine::project::sha256_hex(&settings_now),
            "rules_file": rules_file,
            "rules_kind": if t.project.is_some() { "block" } else { "file" },
            "rules_file_created": existing.is_none(),
            "rules_sha256": hook_engine::project::sha256_hex(&rules_now),
            "project": t.project,
            "trusted_by_import": trusted_by_import,
            "trust_before": trust_before,
            "rules": tr.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "time_ms": crate::format::now_ms(),
        });
        if let Some(parent) = manifest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        write_atomic(
            &manifest,
            serde_json::to_string_pretty(&record)?.as_bytes(),
            FILE_MODE,
        )?;
        reload(socket);
    }

    report(
        args,
        t,
        &tr,
        &rules_file,
        &rules_text,
        &deadlines,
        client_path.as_deref(),
        written.as_ref(),
        &file,
        trust_note.as_deref(),
    )
}

/// Trusts (or revokes) the project file of `dir`: through hookd when it runs (it re-reads
/// the file at once), else by writing the trust record directly.
fn trust(socket: &Path, dir: &Path, revoke: bool) -> anyhow::Result<()> {
    let req = hook_protocol::Request::Trust(hook_protocol::TrustRequest {
        dir: dir.display().to_string(),
        revoke,
    });
    if let Ok(mut c) = Client::connect(socket) {
        c.request(&req)?;
        return Ok(());
    }
    let trust_file = hook_engine::project::trust_path(&hook_protocol::paths::state_dir());
    if let Some(parent) = trust_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    hook_engine::project::Projects::new(trust_file)
        .trust(&dir.display().to_string(), revoke)
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(())
}

fn reload(socket: &Path) {
    if let Ok(mut c) = Client::connect(socket) {
        let _ = c.request(&hook_protocol::Request::Reload);
    }
}

#[allow(clippy::too_many_arguments)] // everything the report shows
fn report(
    args: &Args,
    t: &Target,
    tr: &Translation,
    rules_file: &Path,
    rules_text: &str,
    deadlines: &BTreeMap<String, u64>,
    client: Option<&str>,
    written: Option<&super::install::Written>,
    file: &SettingsFile,
    trust_note: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let undo = format!("hookctl import --undo {}", t.flags);
    let mut warnings: Vec<String> = Vec::new();
    if let Some(n) = trust_note {
        warnings.push(n.to_string());
    }
    if args.replace && t.project.is_some() && !tr.rules.is_empty() {
        warnings.push(
            "if your user settings also send these events to hook-client, give that entry the same --deadline (`hookctl install --deadline 30s`): hook-client gives up after 2 s by default".into(),
        );
    }
    if !args.replace && !tr.rules.is_empty() {
        warnings.push(format!(
            "the settings file still runs these hooks itself: `hookctl import --undo {}` then import again with --replace, or remove them by hand, or they run twice",
            t.flags
        ));
    }
    if args.json {
        let mut m = serde_json::Map::new();
        m.insert("settings".into(), json!(t.settings));
        m.insert("rules_file".into(), json!(rules_file));
        m.insert("dry_run".into(), json!(args.dry_run));
        m.insert(
            "rules".into(),
            json!(
                tr.rules
                    .iter()
                    .map(|r| json!({
                        "name": r.name, "from": r.from.to_string(), "sync": r.sync,
                        "timeout_secs": r.timeout_secs, "notes": r.notes,
                    }))
                    .collect::<Vec<_>>()
            ),
        );
        m.insert(
            "not_translated".into(),
            json!(
                tr.skipped
                    .iter()
                    .map(|s| json!({
                        "at": s.at.to_string(), "what": s.what, "why": s.why,
                    }))
                    .collect::<Vec<_>>()
            ),
        );
        m.insert(
            "hookd_entries".into(),
            json!(tr.ours.iter().map(ToString::to_string).collect::<Vec<_>>()),
        );
        m.insert("deadlines_secs".into(), json!(deadlines));
        m.insert("client".into(), json!(client));
        if let Some(w) = written {
            m.insert(
                "settings_change".into(),
                Value::Object(w.json(file, "import")),
            );
        }
        if args.dry_run {
            m.insert("rules_text".into(), json!(rules_text));
        }
        m.insert("undo".into(), json!(undo));
        m.insert("warnings".into(), json!(warnings));
        println!("{}", serde_json::to_string_pretty(&Value::Object(m))?);
        return Ok(ExitCode::SUCCESS);
    }
    if tr.rules.is_empty() {
        println!(
            "{}: no command hooks to import{}",
            t.settings.display(),
            if tr.ours.is_empty() {
                ""
            } else {
                " (its hook-client entries already go to hookd)"
            }
        );
    } else if args.dry_run {
        println!(
            "# {} (dry run, nothing written)\n{rules_text}",
            rules_file.display()
        );
    } else {
        println!(
            "imported {} hooks from {} into {}",
            tr.rules.len(),
            t.settings.display(),
            rules_file.display()
        );
    }
    for r in &tr.rules {
        println!(
            "  {:<36} ← {} ({}, timeout {} s)",
            r.name,
            r.from,
            if r.sync { "sync" } else { "background" },
            r.timeout_secs
        );
        for n in &r.notes {
            println!("  {:<36}   note: {n}", "");
        }
    }
    if !tr.skipped.is_empty() {
        println!("not translated (left in {}):", t.settings.display());
        for s in &tr.skipped {
            println!("  {}  {}: {}", s.at, s.what, s.why);
        }
    }
    if let Some(w) = written {
        w.print_head(file, args.dry_run);
        if let Some(c) = client {
            println!("  client           {c}");
        }
        for (e, d) in deadlines {
            println!("  deadline         {e}: {d} s");
        }
        w.print_backup(file);
    }
    for w in &warnings {
        println!("note: {w}");
    }
    if !args.dry_run && !tr.rules.is_empty() {
        println!("undo: {undo}");
    }
    Ok(ExitCode::SUCCESS)
}

fn str_at<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn undo(args: &Args, t: &Target, socket: &Path) -> anyhow::Result<ExitCode> {
    let manifest_file = manifest_path(&t.settings);
    let text = std::fs::read_to_string(&manifest_file).with_context(|| {
        format!(
            "no import of {} is recorded (looked for {})",
            t.settings.display(),
            manifest_file.display()
        )
    })?;
    let m: Value = serde_json::from_str(&text)
        .with_context(|| format!("reading {}", manifest_file.display()))?;
    let settings_real = PathBuf::from(str_at(&m, "settings_real").unwrap_or_default());
    let rules_file = PathBuf::from(str_at(&m, "rules_file").unwrap_or_default());
    let replaced = m["replaced"] == json!(true);
    let backup = str_at(&m, "backup").map(PathBuf::from);

    // Check everything before changing anything.
    let mut problems = Vec::new();
    let restore = if replaced {
        let now = std::fs::read(&settings_real)
            .with_context(|| format!("reading {}", settings_real.display()))?;
        if hook_engine::project::sha256_hex(&now)
            != str_at(&m, "settings_sha256").unwrap_or_default()
        {
            problems.push(format!(
                "{} was edited after the import; restoring the backup would lose those edits",
                settings_real.display()
            ));
        }
        let b = backup.clone().context("the import record has no backup")?;
        let bytes =
            std::fs::read(&b).with_context(|| format!("reading the backup {}", b.display()))?;
        Some((now, bytes))
    } else {
        None
    };
    let rules_now = std::fs::read_to_string(&rules_file).ok();
    let rules_after = match (&rules_now, str_at(&m, "rules_kind")) {
        (None, _) => None,
        (Some(text), Some("block")) => {
            let Some(start) = text.find(BLOCK_START) else {
                bail!(
                    "{} no longer holds the imported block; nothing to remove",
                    rules_file.display()
                );
            };
            let end = text[start..]
                .find(BLOCK_END)
                .map(|e| start + e + BLOCK_END.len())
                .with_context(|| {
                    format!(
                        "{}: the imported block has no end marker",
                        rules_file.display()
                    )
                })?;
            let before = text[..start].trim_end_matches('\n');
            let after = text[end..].trim_start_matches('\n');
            let mut kept = String::from(before);
            if !before.is_empty() {
                kept.push('\n');
            }
            kept.push_str(after);
            Some(kept)
        }
        (Some(text), _) => {
            if hook_engine::project::sha256_hex(text.as_bytes())
                != str_at(&m, "rules_sha256").unwrap_or_default()
            {
                problems.push(format!(
                    "{} was edited after the import; removing it would lose those edits",
                    rules_file.display()
                ));
            }
            Some(String::new())
        }
    };
    if !problems.is_empty() && !args.force {
        bail!(
            "not undoing the import:\n  {}\nrerun with --force to undo anyway (the current settings are backed up first)",
            problems.join("\n  ")
        );
    }

    let mut done = Vec::new();
    if let Some((now, bytes)) = restore {
        let saved = write_backup(&settings_real, &now)?;
        let mode = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&settings_real).map_or(FILE_MODE, |m| m.mode() & 0o7777)
        };
        write_atomic(&settings_real, &bytes, mode)?;
        done.push(format!(
            "restored {} from {} (its state before the undo: {})",
            settings_real.display(),
            backup.as_deref().unwrap_or(Path::new("-")).display(),
            saved.display()
        ));
    }
    match rules_after {
        Some(kept)
            if kept.trim().is_empty()
                && (str_at(&m, "rules_kind") != Some("block")
                    || m["rules_file_created"] == json!(true)) =>
        {
            std::fs::remove_file(&rules_file)
                .with_context(|| format!("removing {}", rules_file.display()))?;
            done.push(format!("removed {}", rules_file.display()));
        }
        Some(kept) => {
            write_atomic(&rules_file, kept.as_bytes(), FILE_MODE)?;
            done.push(format!(
                "removed the imported block from {}",
                rules_file.display()
            ));
        }
        None => done.push(format!("{} was already gone", rules_file.display())),
    }
    if m["trusted_by_import"] == json!(true)
        && let Some(dir) = str_at(&m, "project")
    {
        let keep_trust = m["trust_before"] == json!(true) && rules_file.exists();
        trust(socket, Path::new(dir), !keep_trust)?;
        done.push(if keep_trust {
            format!("trusted {dir}'s .claude/hookd.toml again (as before the import)")
        } else {
            format!("revoked the trust the import gave {dir}")
        });
    }
    std::fs::remove_file(&manifest_file)
        .with_context(|| format!("removing {}", manifest_file.display()))?;
    reload(socket);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"undone": true, "settings": t.settings, "done": done})
            )?
        );
    } else {
        for d in &done {
            println!("{d}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
