//! `hookctl install` / `hookctl uninstall`: wire hook-client into a Claude Code settings
//! file, or take exactly that wiring out again.
//!
//! Local only: never talks to hookd. The JSON edits and the schema check live in
//! [`crate::settings`]; this module finds the file and the client, and does the I/O: refuse
//! unparsable or schema-invalid files untouched, back up before changing an existing file,
//! write atomically (temp file in the same directory, then rename), print a summary, a
//! `--json` report or a `--dry-run` diff.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::cmd::http::Change as TokenChange;
use crate::settings::{self, Document, Installed, Wiring};

/// Mode of a settings file `install` creates (it may hold `env` secrets later).
const NEW_FILE_MODE: u32 = 0o600;
/// Mode of backups: a copy of a settings file, as private as a new one.
const BACKUP_MODE: u32 = 0o600;

/// Which settings file to edit.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Edit the project's shared .claude/settings.json (default: the user's
    /// ~/.claude/settings.json)
    #[arg(long, conflicts_with = "local")]
    project: bool,
    /// Edit the project's personal .claude/settings.local.json
    #[arg(long)]
    local: bool,
    /// The project directory for --project or --local (default: the current directory)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Edit only these events, comma-separated (default: all; install leaves out
    /// WorktreeCreate and WorktreeRemove, whose hooks replace Claude Code's own worktree
    /// handling)
    #[arg(long, value_name = "EVENTS", value_delimiter = ',')]
    events: Vec<String>,
    /// Print a diff of the change and write nothing
    #[arg(long)]
    dry_run: bool,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

/// Wire hook-client into Claude Code's settings
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    #[command(flatten)]
    target: Target,
    /// hook-client to run (default: the one beside hookctl, else the first on PATH)
    #[arg(long, value_name = "PATH")]
    client: Option<PathBuf>,
    /// Append `--fail-mode SPEC` to each command (default: hook-client's own: ask for
    /// PreToolUse and PermissionRequest, pass otherwise)
    #[arg(long, value_name = "SPEC")]
    fail_mode: Option<String>,
    /// Wire Claude Code's `http` hooks straight to hookd's HTTP listener instead of
    /// hook-client; SessionStart and Setup, which Claude Code never sends over HTTP, keep
    /// hook-client (docs/http.md)
    #[arg(long)]
    http: bool,
    /// The URL for --http (default: from `[http] listen` in hookd.toml)
    #[arg(long, value_name = "URL", requires = "http")]
    http_url: Option<String>,
    /// How long hook-client waits for hookd, e.g. 30s or 1m30s (a bare number is seconds;
    /// default 2s, at most 1h): sync `run` rules need it longer than their timeouts; each
    /// entry's `timeout` is raised to match
    #[arg(long, value_name = "DURATION")]
    deadline: Option<String>,
    /// Also set Claude Code's statusLine to `hookctl statusline` (`hookd ✓ 3 denied · 1 ask`);
    /// an existing statusLine is kept, and install says so
    #[arg(long)]
    statusline: bool,
}

/// What `install --statusline` did.
#[derive(Debug, PartialEq, Eq)]
enum StatusLine {
    Added(String),
    Present,
    /// Another statusLine is set: left alone (its command).
    Kept(String),
}

/// The statusLine command `install --statusline` writes: this hookctl, by absolute path.
fn statusline_command() -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("finding hookctl's own path")?;
    let exe = exe
        .to_str()
        .with_context(|| format!("hookctl's path {} is not UTF-8", exe.display()))?;
    let quoted = if exe
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        exe.to_string()
    } else {
        format!("'{}'", exe.replace('\'', "'\\''"))
    };
    Ok(format!("{quoted} statusline"))
}

/// Whether a `statusLine` value is one `install --statusline` wrote: a command that runs some
/// `hookctl` with the one argument `statusline`.
fn statusline_is_ours(v: &Value) -> bool {
    let Some(cmd) = v.get("command").and_then(Value::as_str) else {
        return false;
    };
    let Some(prog) = cmd.trim().strip_suffix(" statusline") else {
        return false;
    };
    let prog = prog.trim().trim_matches('\'');
    v.get("type").and_then(Value::as_str) == Some("command")
        && Path::new(prog).file_name().is_some_and(|n| n == "hookctl")
}

/// Sets `statusLine` to hookctl's, unless another one is set.
fn install_statusline(root: &mut Map<String, Value>) -> anyhow::Result<StatusLine> {
    match root.get("statusLine") {
        Some(v) if statusline_is_ours(v) => Ok(StatusLine::Present),
        Some(v) => Ok(StatusLine::Kept(
            v.get("command")
                .and_then(Value::as_str)
                .map_or_else(|| v.to_string(), str::to_string),
        )),
        None => {
            let cmd = statusline_command()?;
            root.insert(
                "statusLine".into(),
                json!({"type": "command", "command": cmd}),
            );
            Ok(StatusLine::Added(cmd))
        }
    }
}

/// Parses `--deadline` in the one duration grammar ([`hook_protocol::duration`]: `30s`, `2m`,
/// `1m30s`; a bare number is seconds), rounded up to whole seconds: `install` writes it as
/// `--deadline <secs>s`, with its unit, so hook-client reads the same whatever its version's
/// default unit.
pub(crate) fn parse_deadline(s: &str) -> anyhow::Result<u64> {
    let d = hook_protocol::duration::parse(s).map_err(|e| {
        anyhow::anyhow!(
            "--deadline {s:?}: {e}; use {}",
            hook_protocol::duration::EXAMPLES
        )
    })?;
    if d.is_zero() {
        bail!("--deadline {s:?}: the deadline must be more than 0");
    }
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let max = hook_protocol::MAX_DEADLINE.as_secs();
    if secs > max {
        bail!(
            "--deadline {s:?}: hook-client accepts a deadline of at most {}",
            hook_protocol::duration::Display(hook_protocol::MAX_DEADLINE)
        );
    }
    Ok(secs)
}

/// Remove exactly what `hookctl install` added
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    target: Target,
}

/// Adds hook-client entries to the chosen settings file.
///
/// # Errors
///
/// Bad flags, no hook-client, an unreadable, unparsable or schema-invalid settings file,
/// or a failed write; nothing is written in any of these cases.
pub fn run(args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let t = &args.target;
    let mut events = resolve_events(&t.events)?;
    if t.events.iter().all(|e| e.trim().is_empty()) {
        events.retain(|e| !settings::REPLACING_EVENTS.contains(e));
    } else if let Some(e) = events
        .iter()
        .find(|e| settings::REPLACING_EVENTS.contains(e))
    {
        bail!(
            "not installing {e}: a {e} hook replaces Claude Code's own git worktree handling, \
             and hook-client does not create or remove worktrees (`claude --worktree` would fail)"
        );
    }
    if let Some(spec) = &args.fail_mode {
        if spec.trim().is_empty() {
            bail!("--fail-mode needs a value such as deny or PreToolUse=deny,Stop=pass");
        }
        hook_protocol::failmode::validate_spec(spec)
            .map_err(|e| anyhow::anyhow!("--fail-mode: {e}"))?;
    }
    let client = find_client(args.client.as_deref())?;
    let client_str = client
        .to_str()
        .with_context(|| format!("hook-client path {} is not UTF-8", client.display()))?;
    let http_url = if args.http {
        Some(http_url(args.http_url.as_deref())?)
    } else {
        None
    };
    let path = settings_path(t)?;
    let mut file = SettingsFile::load(&path)?;
    let deadline_secs = args.deadline.as_deref().map(parse_deadline).transpose()?;
    let wiring = Wiring {
        client: client_str,
        fail_mode: args.fail_mode.as_deref(),
        deadline_secs,
    };
    let outcomes = match &http_url {
        Some(url) => install_http(&mut file.doc.root, &events, &wiring, url)?,
        None => {
            // Switching back from --http: our http entries give way to hook-client.
            let moved = remove_http(&mut file.doc.root, &events);
            let mut o = settings::install(&mut file.doc.root, &events, &wiring)?;
            for (o, n) in o.iter_mut().zip(moved) {
                if n > 0 && *o == Installed::Added {
                    *o = Installed::Updated;
                }
            }
            o
        }
    };
    let statusline = if args.statusline {
        Some(install_statusline(&mut file.doc.root)?)
    } else {
        None
    };
    // The token for `http` entries goes into a settings file only the user reads (or out of
    // it when no entry of ours uses it any more).
    let token = crate::cmd::http::sync(&mut file, t.project, t.dry_run)?;
    let token_here = token.other.is_none() && token.change != TokenChange::None;
    let changed = token_here
        || matches!(statusline, Some(StatusLine::Added(_)))
        || outcomes
            .iter()
            .any(|o| matches!(o, Installed::Added | Installed::Updated));
    let token_written = token.finish_other(t.dry_run, "install")?;
    let written = file.finish(changed, t.dry_run, "install")?;
    let mut notes = token.secure(t.dry_run)?;

    let pick = |want: fn(&Installed) -> bool| -> Vec<&str> {
        events
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| want(o))
            .map(|(e, _)| *e)
            .collect()
    };
    let added = pick(|o| *o == Installed::Added);
    let updated = pick(|o| *o == Installed::Updated);
    let present = pick(|o| *o == Installed::Present);
    let foreign: Vec<(&str, &str)> = events
        .iter()
        .zip(&outcomes)
        .filter_map(|(e, o)| match o {
            Installed::Foreign(c) => Some((*e, c.as_str())),
            _ => None,
        })
        .collect();
    let mut warnings = Vec::new();
    if file.doc.root.get("disableAllHooks") == Some(&Value::Bool(true)) {
        warnings.push(
            "this file sets \"disableAllHooks\": true, so Claude Code runs none of its hooks"
                .to_string(),
        );
    }
    if let Some(note) = crate::linkage::slow_client_note(&client) {
        warnings.push(format!(
            "{note}; for the fast one: {}",
            crate::linkage::HOW_TO_GET_STATIC
        ));
    }
    if let Some(StatusLine::Kept(other)) = &statusline {
        warnings.push(format!(
            "this file already sets a statusLine ({other}); left as is. To show hookd's \
             instead, set its command to `{}`",
            statusline_command()?
        ));
    }
    for (event, command) in &foreign {
        warnings.push(format!(
            "{event} already runs hook-client through an entry hookctl did not write \
             ({command}); left as is and nothing added"
        ));
    }

    if t.json {
        let mut report = written.json(&file, "install");
        report.insert("client".into(), json!(client_str));
        report.insert(
            "client_linkage".into(),
            json!(match crate::linkage::of(&client) {
                Ok(crate::linkage::Linkage::Static) => "static",
                Ok(crate::linkage::Linkage::Dynamic { .. }) => "dynamic",
                Ok(crate::linkage::Linkage::NotElf) | Err(_) => "unknown",
            }),
        );
        report.insert("fail_mode".into(), json!(args.fail_mode));
        if let Some(url) = &http_url {
            report.insert("http_url".into(), json!(url));
            report.insert("token_env".into(), json!(hook_protocol::http::TOKEN_ENV));
        }
        report.insert(
            "token_settings".into(),
            token.report(token_written.as_ref()),
        );
        warnings.append(&mut notes);
        report.insert("added".into(), json!(added));
        report.insert("updated".into(), json!(updated));
        report.insert("present".into(), json!(present));
        report.insert(
            "foreign".into(),
            json!(
                foreign
                    .iter()
                    .map(|(e, c)| json!({"event": e, "command": c}))
                    .collect::<Vec<_>>()
            ),
        );
        report.insert(
            "statusline".into(),
            match &statusline {
                None => Value::Null,
                Some(StatusLine::Added(c)) => json!({"outcome": "added", "command": c}),
                Some(StatusLine::Present) => json!({"outcome": "present"}),
                Some(StatusLine::Kept(c)) => json!({"outcome": "kept", "command": c}),
            },
        );
        report.insert("warnings".into(), json!(warnings));
        println!("{}", serde_json::to_string_pretty(&Value::Object(report))?);
    } else {
        written.print_head(&file, t.dry_run);
        println!("  client           {client_str}");
        match &statusline {
            Some(StatusLine::Added(c)) => println!("  statusLine       {c}"),
            Some(StatusLine::Present) => println!("  statusLine       already hookctl statusline"),
            Some(StatusLine::Kept(_)) | None => {}
        }
        if let Some(url) = &http_url {
            println!("  http             {url}");
        }
        print_events("added", &added);
        print_events("updated", &updated);
        print_events("already present", &present);
        written.print_backup(&file);
        for w in &warnings {
            println!("note: {w}");
        }
        token.print(token_written.as_ref());
        for n in &notes {
            println!("note: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes the entries `install` writes from the chosen settings file.
///
/// # Errors
///
/// Bad flags, an unreadable, unparsable or schema-invalid settings file, or a failed write;
/// nothing is written in any of these cases.
pub fn run_uninstall(args: &UninstallArgs) -> anyhow::Result<ExitCode> {
    let t = &args.target;
    let events = resolve_events(&t.events)?;
    let path = settings_path(t)?;
    let mut file = SettingsFile::load(&path)?;
    let mut removed = settings::uninstall(&mut file.doc.root, &events)?;
    for (n, h) in removed
        .iter_mut()
        .zip(remove_http(&mut file.doc.root, &events))
    {
        *n += h;
    }
    // hookd's statusLine goes with the rest of what install wrote (not with `--events`);
    // another one stays.
    let statusline_removed = t.events.iter().all(|e| e.trim().is_empty())
        && file
            .doc
            .root
            .get("statusLine")
            .is_some_and(statusline_is_ours)
        && file.doc.root.shift_remove("statusLine").is_some();
    let token = crate::cmd::http::sync(&mut file, t.project, t.dry_run)?;
    let token_here = token.other.is_none() && token.change != TokenChange::None;
    let changed = token_here || statusline_removed || removed.iter().any(|&n| n > 0);
    let written = file.finish(changed, t.dry_run, "uninstall")?;
    let token_written = token.finish_other(t.dry_run, "uninstall")?;
    let notes = token.secure(t.dry_run)?;
    let removed_from: Vec<&str> = events
        .iter()
        .zip(&removed)
        .filter(|(_, n)| **n > 0)
        .map(|(e, _)| *e)
        .collect();
    let entries: usize = removed.iter().sum();
    if t.json {
        let mut report = written.json(&file, "uninstall");
        report.insert("removed".into(), json!(removed_from));
        report.insert("entries_removed".into(), json!(entries));
        report.insert("statusline_removed".into(), json!(statusline_removed));
        report.insert(
            "token_settings".into(),
            token.report(token_written.as_ref()),
        );
        report.insert("warnings".into(), json!(notes));
        println!("{}", serde_json::to_string_pretty(&Value::Object(report))?);
    } else {
        written.print_head(&file, t.dry_run);
        if file.original.is_none() {
            println!("  nothing to remove: the file does not exist");
        } else if entries == 0 && !statusline_removed {
            println!("  nothing to remove: no entries written by hookctl install");
        } else {
            print_events("removed", &removed_from);
        }
        if statusline_removed {
            println!("  removed          statusLine (hookctl statusline)");
        }
        written.print_backup(&file);
        token.print(token_written.as_ref());
        for n in &notes {
            println!("note: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_events(label: &str, events: &[&str]) {
    if !events.is_empty() {
        println!("  {:<16} {} ({})", label, events.join(", "), events.len());
    }
}

/// The events to edit, in Claude Code's order: all of them, or the named ones.
fn resolve_events(names: &[String]) -> anyhow::Result<Vec<&'static str>> {
    let names: Vec<&str> = names
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(settings::event_names().collect());
    }
    for name in &names {
        if !settings::event_names().any(|e| e == *name) {
            let hint = settings::event_names()
                .find(|e| e.eq_ignore_ascii_case(name))
                .map_or_else(
                    || {
                        format!(
                            "known events: {}",
                            settings::event_names().collect::<Vec<_>>().join(", ")
                        )
                    },
                    |e| format!("did you mean {e}?"),
                );
            bail!("unknown event {name:?} in --events ({hint})");
        }
    }
    Ok(settings::event_names()
        .filter(|e| names.contains(e))
        .collect())
}

/// The settings file the target flags name.
fn settings_path(t: &Target) -> anyhow::Result<PathBuf> {
    if !t.project && !t.local {
        if t.dir.is_some() {
            bail!("--dir needs --project or --local (the user settings live in ~/.claude)");
        }
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).context(
            "HOME is not set, so the user settings file cannot be found (use --project or --local)",
        )?;
        return Ok(PathBuf::from(home).join(".claude/settings.json"));
    }
    let dir = match &t.dir {
        Some(d) => {
            if !d.is_dir() {
                bail!("--dir {}: no such directory", d.display());
            }
            fs::canonicalize(d).with_context(|| format!("resolving {}", d.display()))?
        }
        None => std::env::current_dir().context("finding the current directory")?,
    };
    let name = if t.local {
        "settings.local.json"
    } else {
        "settings.json"
    };
    Ok(dir.join(".claude").join(name))
}

/// hook-client's absolute path: `--client`, else beside this executable, else on PATH.
pub(crate) fn find_client(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        if p.file_name().is_none_or(|n| n != settings::CLIENT_NAME) {
            bail!(
                "--client {}: the file must be named {} (install and uninstall recognise \
                 their entries by that name)",
                p.display(),
                settings::CLIENT_NAME
            );
        }
        // Resolve the directory (`..`, relative paths) but not the file itself: a package
        // manager's symlink such as /usr/local/bin/hook-client outlives upgrades.
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let abs = fs::canonicalize(parent)
            .map(|d| d.join(settings::CLIENT_NAME))
            .unwrap_or_else(|_| p.to_path_buf());
        if !is_executable(&abs) {
            bail!("--client {}: no such executable file", p.display());
        }
        return Ok(abs);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(settings::CLIENT_NAME)));
    if let Some(c) = beside.as_ref().filter(|c| is_executable(c)) {
        return Ok(c.clone());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .filter(|d| d.is_absolute())
            .map(|d| d.join(settings::CLIENT_NAME))
            .find(|c| is_executable(c))
    });
    if let Some(c) = on_path {
        return Ok(c);
    }
    bail!(
        "cannot find {name}: it is not beside hookctl{beside} nor on PATH; pass --client \
         /absolute/path/to/{name}",
        name = settings::CLIENT_NAME,
        beside = beside.map_or_else(String::new, |b| format!(" ({})", b.display())),
    )
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A settings file read, parsed and checked, ready to be edited.
pub(crate) struct SettingsFile {
    /// The path the flags named (reported to the user).
    pub(crate) path: PathBuf,
    /// The file actually written: `path`, or its target when `path` is a symlink.
    pub(crate) real: PathBuf,
    /// The bytes read, or `None` when the file does not exist.
    pub(crate) original: Option<Vec<u8>>,
    /// The parsed content (edited in place).
    pub(crate) doc: Document,
    /// The existing file's permission bits.
    mode: Option<u32>,
}

/// What `finish` did.
pub(crate) struct Written {
    pub(crate) changed: bool,
    pub(crate) backup: Option<PathBuf>,
    pub(crate) diff: Option<String>,
}

impl SettingsFile {
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let real = match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).with_context(|| {
                format!(
                    "{} is a symlink whose target cannot be resolved",
                    path.display()
                )
            })?,
            _ => path.to_path_buf(),
        };
        let (original, mode) = match fs::read(&real) {
            Ok(bytes) => {
                let meta =
                    fs::metadata(&real).with_context(|| format!("reading {}", real.display()))?;
                (Some(bytes), Some(meta.mode() & 0o7777))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => (None, None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let doc = match &original {
            Some(bytes) => settings::parse(bytes).map_err(|e| {
                anyhow::anyhow!("cannot parse {}: {e}\nnothing was written", path.display())
            })?,
            None => Document {
                root: Map::new(),
                style: settings::Style::default(),
            },
        };
        let errors = settings::validate(&doc.root);
        if !errors.is_empty() {
            let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            bail!(
                "refusing to edit {}: its hooks fail the hook schema check (Claude Code \
                 silently drops invalid hook entries, and skips every hook in the file for an \
                 invalid PreToolUse entry):\n{}\nfix these first; nothing was written",
                path.display(),
                list.join("\n")
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            real,
            original,
            doc,
            mode,
        })
    }

    /// Writes the edited document when `changed` (backup first), or shows the diff.
    pub(crate) fn finish(
        &self,
        changed: bool,
        dry_run: bool,
        action: &str,
    ) -> anyhow::Result<Written> {
        if !changed {
            return Ok(Written {
                changed,
                backup: None,
                diff: dry_run.then(String::new),
            });
        }
        let rendered = settings::render(&self.doc.root, &self.doc.style)?;
        // An edit that gives back an earlier version of the file (uninstall after install)
        // writes that version's own bytes.
        let text = earlier_version(&self.real, &self.doc.root)
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or(rendered);
        // Never write what Claude Code would skip: check the bytes as they will be read.
        let reread = settings::parse(text.as_bytes()).map_err(|e| {
            anyhow::anyhow!("internal error: the edited settings do not parse: {e}")
        })?;
        if let Some(e) = settings::validate(&reread.root).first() {
            bail!(
                "internal error: the edited settings would fail Claude Code's schema ({e}); nothing was written"
            );
        }
        if dry_run {
            let old = self
                .original
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let old_label = if self.original.is_some() {
                self.path.display().to_string()
            } else {
                "/dev/null".to_string()
            };
            let new_label = format!("{} (after hookctl {action})", self.path.display());
            return Ok(Written {
                changed,
                backup: None,
                // A diff never shows the HTTP token (a removal would print its old line).
                diff: Some(crate::cmd::http::mask(settings::unified_diff(
                    &old, &text, &old_label, &new_label,
                ))),
            });
        }
        let dir = self
            .real
            .parent()
            .with_context(|| format!("{} has no parent directory", self.real.display()))?;
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let backup = match &self.original {
            Some(bytes) => Some(write_backup(&self.real, bytes)?),
            None => None,
        };
        write_atomic(
            &self.real,
            text.as_bytes(),
            self.mode.unwrap_or(NEW_FILE_MODE),
        )?;
        Ok(Written {
            changed,
            backup,
            diff: None,
        })
    }
}

impl Written {
    pub(crate) fn json(&self, file: &SettingsFile, action: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("action".into(), json!(action));
        m.insert("file".into(), json!(file.path.display().to_string()));
        if file.real != file.path {
            m.insert(
                "symlink_target".into(),
                json!(file.real.display().to_string()),
            );
        }
        m.insert("existed".into(), json!(file.original.is_some()));
        m.insert("dry_run".into(), json!(self.diff.is_some()));
        m.insert("changed".into(), json!(self.changed));
        m.insert(
            "backup".into(),
            json!(self.backup.as_ref().map(|b| b.display().to_string())),
        );
        if let Some(d) = &self.diff {
            m.insert("diff".into(), json!(d));
        }
        m
    }

    pub(crate) fn print_head(&self, file: &SettingsFile, dry_run: bool) {
        if let Some(d) = &self.diff {
            print!("{d}");
        }
        let state = match (self.changed, dry_run, file.original.is_some()) {
            (false, _, _) => "unchanged",
            (true, true, _) => "dry run, nothing written",
            (true, false, true) => "updated",
            (true, false, false) => "created",
        };
        println!("{} ({state})", file.path.display());
        if file.real != file.path {
            println!("  symlink to       {}", file.real.display());
        }
    }

    pub(crate) fn print_backup(&self, file: &SettingsFile) {
        if let Some(b) = &self.backup {
            println!(
                "  backup           {} (the oldest backup and the {BACKUPS_KEPT} newest are kept)",
                b.display()
            );
        } else if self.changed && self.diff.is_none() && file.original.is_none() {
            println!("  backup           none (the file did not exist)");
        }
    }
}

/// Refuses to write beside `file` in a directory someone else owns or can write to (they could
/// then read the backup, or swap the file for a link between our steps). The directory may be
/// a symlink (a dotfiles checkout): its target is what counts. Temporary files and backups are
/// created exclusively, so a planted link in their place fails instead of being followed.
fn own_dir(file: &Path) -> anyhow::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let m = fs::metadata(&dir).with_context(|| format!("inspecting {}", dir.display()))?;
    let me = hook_protocol::private::euid();
    if m.uid() != me {
        bail!(
            "{} is owned by uid {}, not by you (uid {me}); refusing to write settings or backups there",
            dir.display(),
            m.uid()
        );
    }
    let shared = m.mode() & 0o002 != 0
        || (m.mode() & 0o020 != 0 && !hook_protocol::private::private_group(m.gid()));
    if shared {
        bail!(
            "{} can be written by other users (mode {:04o}); refusing to write settings or backups there (`chmod go-w` it)",
            dir.display(),
            m.mode() & 0o7777
        );
    }
    Ok(())
}

/// How many of the newest backups of a settings file are kept (besides the oldest).
pub(crate) const BACKUPS_KEPT: usize = 4;

/// The backups `write_backup` made of `file` (`<file>.hookd-backup-<stamp>[-n]`, regular files
/// of ours), oldest first.
pub(crate) fn backups_of(file: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.hookd-backup-", name.to_string_lossy());
    let me = hook_protocol::private::euid();
    let mut found: Vec<(String, u32, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let rest = n.strip_prefix(&prefix)?;
            let (stamp, seq) = match rest.split_once('-') {
                Some((s, k)) => (s.to_string(), k.parse().ok()?),
                None => (rest.to_string(), 1),
            };
            let m = fs::symlink_metadata(e.path()).ok()?;
            (m.is_file() && m.uid() == me).then(|| (stamp, seq, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, _, p)| p).collect()
}

/// Removes old backups of `file`: keeps the oldest (the file as it was before hookctl first
/// changed it), the [`BACKUPS_KEPT`] newest, and any an import record still needs for `hookctl
/// import --undo`. Returns how many were removed.
pub(crate) fn prune_backups(file: &Path) -> usize {
    let all = backups_of(file);
    if all.len() <= BACKUPS_KEPT + 1 {
        return 0;
    }
    let needed = crate::cmd::import::backup_in_use(file);
    let mut removed = 0;
    for b in &all[1..all.len() - BACKUPS_KEPT] {
        if needed.as_deref() == Some(b.as_path()) {
            continue;
        }
        if fs::remove_file(b).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The bytes of the newest backup of `file` whose settings are exactly `root` (same keys in
/// the same order, same values): writing them instead of a new rendering gives back the file
/// as it was, byte for byte (its layout, inline arrays, escapes), when an edit is undone.
fn earlier_version(file: &Path, root: &Map<String, Value>) -> Option<Vec<u8>> {
    let want = serde_json::to_string(&tidy(root)).ok()?;
    backups_of(file).iter().rev().find_map(|b| {
        let bytes = fs::read(b).ok()?;
        let doc = settings::parse(&bytes).ok()?;
        (serde_json::to_string(&tidy(&doc.root)).ok()? == want).then_some(bytes)
    })
}

/// `root` without the empty containers `uninstall` tidies away once it has emptied them (an
/// event's empty list of groups, an empty `hooks`): a file that had them before `install` is
/// still the same file after `uninstall`.
fn tidy(root: &Map<String, Value>) -> Map<String, Value> {
    let mut root = root.clone();
    if let Some(Value::Object(hooks)) = root.get_mut("hooks") {
        hooks.retain(|_, groups| groups.as_array().is_none_or(|g| !g.is_empty()));
        if hooks.is_empty() {
            root.shift_remove("hooks");
        }
    }
    root
}

/// Copies `bytes` to `<file>.hookd-backup-<UTC yyyymmddThhmmss>` beside `file` (with `-2`,
/// `-3`, ... when that name is taken, so a backup is never overwritten), then prunes old ones
/// ([`prune_backups`]).
pub(crate) fn write_backup(file: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let saved = write_backup_only(file, bytes)?;
    prune_backups(file);
    Ok(saved)
}

fn write_backup_only(file: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    own_dir(file)?;
    let name = file
        .file_name()
        .with_context(|| format!("{} has no file name", file.display()))?
        .to_string_lossy()
        .into_owned();
    let stem = format!("{name}.hookd-backup-{}", utc_stamp(SystemTime::now()));
    for n in 1u32.. {
        let candidate = file.with_file_name(if n == 1 {
            stem.clone()
        } else {
            format!("{stem}-{n}")
        });
        let opened = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(BACKUP_MODE)
            .open(&candidate);
        match opened {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("writing backup {}", candidate.display()))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating backup {}", candidate.display()));
            }
        }
    }
    bail!("no free backup name for {}", file.display())
}

/// Replaces `file` with `bytes` atomically: a temp file in the same directory, fsync,
/// permission bits `mode`, rename.
pub(crate) fn write_atomic(file: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    own_dir(file)?;
    let name = file
        .file_name()
        .with_context(|| format!("{} has no file name", file.display()))?
        .to_string_lossy()
        .into_owned();
    let pid = std::process::id();
    let (tmp, mut f) = (0u32..)
        .map(|n| file.with_file_name(format!(".{name}.hookd-tmp-{pid}-{n}")))
        .find_map(|tmp| {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(NEW_FILE_MODE)
                .open(&tmp)
            {
                Ok(f) => Some(Ok((tmp, f))),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => None,
                Err(e) => Some(Err(e).with_context(|| format!("creating {}", tmp.display()))),
            }
        })
        .context("no free temporary file name")??;
    let result = f
        .write_all(bytes)
        .and_then(|()| f.set_permissions(fs::Permissions::from_mode(mode)))
        .and_then(|()| f.sync_all())
        .and_then(|()| fs::rename(&tmp, file));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", file.display()));
    }
    // Make the rename itself durable; failing that is not worth an error.
    if let Some(dir) = file.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Events Claude Code never sends to `http` hooks: `install --http` keeps hook-client for them.
const NOT_OVER_HTTP: &[&str] = &["SessionStart", "Setup"];

/// Events whose `onFailure` Claude Code ignores (docs/claude-code-hooks.md).
const NO_ON_FAILURE: &[&str] = &["Stop", "SubagentStop", "TaskCompleted", "TeammateIdle"];

/// The URL `install --http` writes: `--http-url`, else hookd.toml's `[http] listen`.
fn http_url(explicit: Option<&str>) -> anyhow::Result<String> {
    if let Some(url) = explicit {
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--http-url {url:?}: expected an http:// URL such as http://127.0.0.1:8787/hook");
        }
        return Ok(url.to_string());
    }
    let config_dir = hook_protocol::paths::config_dir();
    let toml = config_dir.join(hook_protocol::paths::CONFIG_FILE);
    let loaded = hook_engine::rules::load(&config_dir);
    let addr = loaded.settings.http.listen.with_context(|| {
        let errors = loaded.errors.join("\n  ");
        format!(
            "{} sets no `[http] listen`: add\n\n  [http]\n  listen = \"127.0.0.1:8787\"\n\n\
             there and restart hookd, or pass --http-url{}",
            toml.display(),
            if errors.is_empty() {
                String::new()
            } else {
                format!("\n(load errors:\n  {errors})")
            }
        )
    })?;
    if addr.port() == 0 {
        bail!(
            "{}: `[http] listen` uses port 0, which changes at every start; pick a fixed port \
             for Claude Code's settings, or pass --http-url",
            toml.display()
        );
    }
    // A wildcard listen address is reached over loopback (Claude Code refuses 0.0.0.0).
    let addr = if addr.ip().is_unspecified() {
        let ip = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        std::net::SocketAddr::new(ip, addr.port())
    } else {
        addr
    };
    Ok(hook_protocol::http::hook_url(addr))
}

/// Whether the `http` entry for `event` gets `onFailure: "block"`: when hook-client, with the
/// same `--fail-mode`, would not just pass. HTTP cannot answer `ask` when hookd is down, so
/// the guard events' default `ask` becomes a block (fail closed) rather than a silent allow.
/// Only for events that can block and whose `onFailure` Claude Code honours.
fn fails_closed(event: &str, fail_mode: Option<&str>) -> bool {
    use hook_protocol::failmode::{FailMode, mode_for};
    let can_block = hook_engine::events::lookup(event)
        .is_some_and(|s| s.block != hook_engine::events::Block::None);
    let closed = match mode_for(event, fail_mode) {
        FailMode::Deny => true,
        FailMode::Ask => matches!(
            event,
            "PreToolUse" | "PermissionRequest" | "PreSkillShellCommand"
        ),
        FailMode::Pass => false,
    };
    can_block && closed && !NO_ON_FAILURE.contains(&event)
}

/// The `http` handler `install --http` writes for `event`.
fn http_handler(event: &str, url: &str, fail_mode: Option<&str>) -> Value {
    let env = hook_protocol::http::TOKEN_ENV;
    let mut h = json!({
        "type": "http",
        "url": url,
        "headers": {"Authorization": format!("Bearer ${env}")},
        "allowedEnvVars": [env],
        "timeout": settings::timeout_secs(event),
    });
    if fails_closed(event, fail_mode) {
        h["onFailure"] = json!("block");
    }
    h
}

/// Whether `h` is an `http` entry `install --http` wrote (recognised by its token header).
pub(crate) fn is_ours_http(h: &Value) -> bool {
    let env = hook_protocol::http::TOKEN_ENV;
    h.get("type").and_then(Value::as_str) == Some("http")
        && h.pointer("/headers/Authorization").and_then(Value::as_str)
            == Some(format!("Bearer ${env}").as_str())
        && h.get("allowedEnvVars") == Some(&json!([env]))
}

/// `install --http`: an `http` entry per event (replacing our hook-client entry, which would
/// answer the event a second time), hook-client for the events Claude Code does not send
/// over HTTP.
fn install_http(
    root: &mut Map<String, Value>,
    events: &[&str],
    wiring: &Wiring<'_>,
    url: &str,
) -> anyhow::Result<Vec<Installed>> {
    let mut out = Vec::with_capacity(events.len());
    for &event in events {
        if NOT_OVER_HTTP.contains(&event) {
            out.extend(settings::install(root, &[event], wiring)?);
            continue;
        }
        let moved = settings::uninstall(root, &[event])?.iter().sum::<usize>() > 0;
        let desired = http_handler(event, url, wiring.fail_mode);
        let mut found = None;
        let handlers = root
            .get_mut("hooks")
            .and_then(|h| h.get_mut(event))
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get_mut("hooks").and_then(Value::as_array_mut))
            .flatten()
            .filter(|h| is_ours_http(h));
        for h in handlers {
            let same = ["url", "timeout", "onFailure"]
                .iter()
                .all(|k| h.get(k) == desired.get(k));
            if !same && let Some(obj) = h.as_object_mut() {
                for k in ["url", "timeout", "onFailure"] {
                    match desired.get(k) {
                        Some(v) => {
                            obj.insert(k.into(), v.clone());
                        }
                        None => {
                            obj.shift_remove(k);
                        }
                    }
                }
            }
            if found.is_none() || !same {
                found = Some(if same {
                    Installed::Present
                } else {
                    Installed::Updated
                });
            }
        }
        let outcome = match found {
            Some(o) => o,
            None => {
                let hooks = root
                    .entry("hooks")
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .context("\"hooks\" is not an object")?;
                hooks
                    .entry(event)
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .with_context(|| format!("\"hooks.{event}\" is not an array"))?
                    .push(json!({"hooks": [desired]}));
                Installed::Added
            }
        };
        out.push(if moved { Installed::Updated } else { outcome });
    }
    Ok(out)
}

/// Removes the `http` entries `install --http` wrote under each of `events`; returns how many
/// went per event. Like [`settings::uninstall`], drops what a removal left empty: matcher
/// groups, event arrays, then `hooks`.
fn remove_http(root: &mut Map<String, Value>, events: &[&str]) -> Vec<usize> {
    let mut out = vec![0; events.len()];
    let Some(hooks) = root.get_mut("hooks").and_then(Value::as_object_mut) else {
        return out;
    };
    for (n, &event) in out.iter_mut().zip(events) {
        let Some(groups) = hooks.get_mut(event).and_then(Value::as_array_mut) else {
            continue;
        };
        groups.retain_mut(|g| {
            let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) else {
                return true;
            };
            let before = hs.len();
            hs.retain(|h| !is_ours_http(h));
            *n += before - hs.len();
            !(before > 0 && hs.is_empty())
        });
        if *n > 0 && groups.is_empty() {
            hooks.shift_remove(event);
        }
    }
    if out.iter().any(|&n| n > 0) && hooks.is_empty() {
        root.shift_remove("hooks");
    }
    out
}

/// `t` as UTC `yyyymmddThhmmss` (from [`crate::format::utc`]'s `YYYY-MM-DD HH:MM:SS`).
fn utc_stamp(t: SystemTime) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    crate::format::utc(ms)
        .replace(['-', ':'], "")
        .replace(' ', "T")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn deadlines_use_the_one_grammar_and_a_bare_number_is_seconds() {
        assert_eq!(parse_deadline("5").unwrap(), 5);
        assert_eq!(parse_deadline("30s").unwrap(), 30);
        assert_eq!(parse_deadline("1m30s").unwrap(), 90);
        assert_eq!(
            parse_deadline("1500ms").unwrap(),
            2,
            "rounded up to whole seconds"
        );
        assert_eq!(parse_deadline("0.5").unwrap(), 1);
        assert_eq!(parse_deadline("1h").unwrap(), 3600);
        for bad in ["0", "0s", "1h1s", "2 sec", "soon"] {
            assert!(parse_deadline(bad).is_err(), "{bad}");
        }
        assert!(
            parse_deadline("2h")
                .unwrap_err()
                .to_string()
                .contains("at most 1h")
        );
    }

    #[test]
    fn utc_stamp_formats_civil_time() {
        let at = |s| utc_stamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000");
        assert_eq!(at(1_700_000_000), "20231114T221320");
        assert_eq!(at(951_782_400), "20000229T000000");
        assert_eq!(at(4_102_444_799), "20991231T235959");
        assert_eq!(at(5_107_542_399), "21311108T014639");
    }

    #[test]
    fn events_resolve_in_claude_code_order() {
        let got = resolve_events(&["Stop".into(), "PreToolUse".into(), "Stop".into()]).unwrap();
        assert_eq!(got, ["PreToolUse", "Stop"]);
        assert_eq!(resolve_events(&[]).unwrap().len(), 34);
        let e = resolve_events(&["pretooluse".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean PreToolUse?"), "{e}");
    }
}
