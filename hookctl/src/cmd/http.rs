//! The HTTP token in Claude Code's settings: where `install --http` puts it, taking it out again
//! when nothing uses it, and `hookctl http rotate-token`.
//!
//! Claude Code's `http` hooks send `Authorization: Bearer $HOOKD_HTTP_BEARER`, and the CLI
//! expands the variable from the settings' `env` as from its own environment (checked with the
//! real CLI, tests/tests/real_client_http.rs). So the token goes into the `env` of a settings
//! file only the user reads, never into one a project commits:
//!
//! | install target | hooks in | token in |
//! |---|---|---|
//! | user | `~/.claude/settings.json` | the same file |
//! | `--project` | `.claude/settings.json` | `.claude/settings.local.json` (Claude Code git-ignores it) |
//! | `--local` | `.claude/settings.local.json` | the same file |
//!
//! The file holding the token is made mode 0600 (created so, or tightened with a note). Every
//! file given the token is listed in `<state_dir>/http-token-settings`, so `rotate-token` can
//! update them all.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::cmd::install::{SettingsFile, is_ours_http};

/// The environment variable the `Authorization` header expands.
pub(crate) const TOKEN_ENV: &str = hook_protocol::http::TOKEN_ENV;

/// The list of settings files holding the token, in the state directory.
const PLACES_FILE: &str = "http-token-settings";

/// What a dry run shows instead of the token (which a diff would print).
const PLACEHOLDER: &str = "<hookd's HTTP token>";

/// The HTTP endpoint's token
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Replace hookd's HTTP token with a new one, in the token file, in a running hookd and in
    /// every settings file `hookctl install --http` gave it to
    RotateToken(RotateArgs),
}

#[derive(Debug, clap::Args)]
struct RotateArgs {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

/// Runs `hookctl http ...`.
///
/// # Errors
///
/// See the subcommands.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        Command::RotateToken(a) => rotate(a),
    }
}

/// The settings file that holds the token for hooks written to `hooks_path`: the project's
/// `settings.local.json` for `--project`, else the same file.
pub(crate) fn token_path(hooks_path: &Path, project: bool) -> PathBuf {
    if project {
        hooks_path.with_file_name("settings.local.json")
    } else {
        hooks_path.to_path_buf()
    }
}

/// The settings files whose `http` entries use the token kept in `token_path`: for a project's
/// `settings.local.json`, both of the project's files; else the file itself.
fn dependents(token_path: &Path) -> Vec<PathBuf> {
    if token_path
        .file_name()
        .is_some_and(|n| n == "settings.local.json")
    {
        vec![
            token_path.with_file_name("settings.json"),
            token_path.to_path_buf(),
        ]
    } else {
        vec![token_path.to_path_buf()]
    }
}

/// Whether `root` has an `http` entry `install --http` wrote.
fn uses_token(root: &Map<String, Value>) -> bool {
    root.get("hooks")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|h| h.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|g| g.get("hooks").and_then(Value::as_array))
        .flatten()
        .any(is_ours_http)
}

/// The token value in `root`'s `env`, if any.
fn env_token(root: &Map<String, Value>) -> Option<&str> {
    root.get("env")?.get(TOKEN_ENV)?.as_str()
}

/// Sets `env.<TOKEN_ENV>` in `root`.
fn set_env_token(root: &mut Map<String, Value>, value: &str) -> anyhow::Result<()> {
    let env = root
        .entry("env")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .context("\"env\" is not an object")?;
    env.insert(TOKEN_ENV.into(), json!(value));
    Ok(())
}

/// Removes `env.<TOKEN_ENV>` from `root` (and `env` when that leaves it empty); whether it was
/// there.
fn remove_env_token(root: &mut Map<String, Value>) -> bool {
    let Some(env) = root.get_mut("env").and_then(Value::as_object_mut) else {
        return false;
    };
    let removed = env.shift_remove(TOKEN_ENV).is_some();
    if removed && env.is_empty() {
        root.shift_remove("env");
    }
    removed
}

/// What [`sync`] did to the token in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing: present and current, or absent and not needed.
    None,
    /// Written (it was absent or held another value).
    Set,
    /// Taken out: no `http` entry of ours uses it any more.
    Removed,
}

/// The token's side of an install or uninstall.
pub(crate) struct TokenSync {
    /// The settings file holding the token.
    pub(crate) path: PathBuf,
    /// That file when it is not the hooks file (edited here, written by `TokenSync::finish`).
    pub(crate) other: Option<SettingsFile>,
    pub(crate) change: Change,
    /// Whether the settings hold the token after the change.
    pub(crate) present: bool,
}

/// Puts the token into the settings when an `http` entry of ours uses it (after `hooks` was
/// edited), or takes it out when none does. `project`: the hooks file is a project's shared
/// `settings.json` (`--project`). Nothing is written here.
///
/// # Errors
///
/// An unreadable or invalid token settings file, a token file hookd would refuse, or an `env`
/// that is not an object.
pub(crate) fn sync(
    hooks: &mut SettingsFile,
    project: bool,
    dry_run: bool,
) -> anyhow::Result<TokenSync> {
    let path = token_path(&hooks.path, project);
    let read = |p: &Path| {
        fs::read(p)
            .ok()
            .and_then(|b| crate::settings::parse(&b).ok())
    };
    let mut needed = uses_token(&hooks.doc.root);
    for dep in dependents(&path) {
        if dep != hooks.path {
            needed |= read(&dep).is_some_and(|d| uses_token(&d.root));
        }
    }
    // The other file is edited (and must then be valid) only when the token goes in or out.
    let mut other = if path == hooks.path
        || !(needed || read(&path).is_some_and(|d| env_token(&d.root).is_some()))
    {
        None
    } else {
        Some(SettingsFile::load(&path)?)
    };
    let root = match other.as_mut() {
        Some(o) => &mut o.doc.root,
        None => &mut hooks.doc.root,
    };
    let change = if needed {
        let secret = if dry_run {
            read_token()
        } else {
            Some(load_or_create_token()?)
        };
        match (env_token(root), secret) {
            (Some(have), Some(want)) if have == want => Change::None,
            (_, want) => {
                set_env_token(root, want.as_deref().unwrap_or(PLACEHOLDER))?;
                Change::Set
            }
        }
    } else if remove_env_token(root) {
        Change::Removed
    } else {
        Change::None
    };
    let present = env_token(match other.as_ref() {
        Some(o) => &o.doc.root,
        None => &hooks.doc.root,
    })
    .is_some();
    Ok(TokenSync {
        path,
        other,
        change,
        present,
    })
}

impl TokenSync {
    /// Writes the token's file when it is not the hooks file: before the hooks file when the
    /// token goes in (no `http` entry is ever written without its token), after it when the
    /// token goes out.
    pub(crate) fn finish_other(
        &self,
        dry_run: bool,
        action: &str,
    ) -> anyhow::Result<Option<crate::cmd::install::Written>> {
        match &self.other {
            Some(o) => Ok(Some(o.finish(
                self.change != Change::None,
                dry_run,
                action,
            )?)),
            None => Ok(None),
        }
    }

    /// The `token_settings` part of a `--json` report.
    pub(crate) fn report(&self, written: Option<&crate::cmd::install::Written>) -> Value {
        json!({
            "file": self.path.display().to_string(),
            "env": TOKEN_ENV,
            "present": self.present,
            "change": match self.change {
                Change::None => "none",
                Change::Set => "set",
                Change::Removed => "removed",
            },
            "backup": written
                .and_then(|w| w.backup.as_ref())
                .map(|b| b.display().to_string()),
            "diff": written.and_then(|w| w.diff.clone()),
        })
    }

    /// The token's lines of the text report (and the other file's diff on a dry run).
    pub(crate) fn print(&self, written: Option<&crate::cmd::install::Written>) {
        if let Some(d) = written.and_then(|w| w.diff.as_ref()) {
            print!("{d}");
        }
        let path = self.path.display();
        match (self.change, self.present) {
            (Change::Set, _) => println!(
                "  token            {TOKEN_ENV} in {path} (written; only you can read this file)"
            ),
            (Change::Removed, _) => println!(
                "  token            {TOKEN_ENV} removed from {path} (no http hook of hookctl's uses it)"
            ),
            (Change::None, true) => println!("  token            {TOKEN_ENV} in {path}"),
            (Change::None, false) => return,
        }
        if let Some(b) = written.and_then(|w| w.backup.as_ref()) {
            println!("  backup           {}", b.display());
        }
    }

    /// After the writes: makes the file holding the token private (0600), and records where the
    /// token is for `rotate-token`. Returns notes for the user.
    pub(crate) fn secure(&self, dry_run: bool) -> anyhow::Result<Vec<String>> {
        let mut notes = Vec::new();
        if dry_run {
            return Ok(notes);
        }
        let real = fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let holds = fs::read(&real)
            .ok()
            .and_then(|b| crate::settings::parse(&b).ok())
            .is_some_and(|d| env_token(&d.root).is_some());
        if holds {
            let meta =
                fs::metadata(&real).with_context(|| format!("inspecting {}", real.display()))?;
            let mode = meta.mode() & 0o7777;
            if mode & 0o077 != 0 {
                fs::set_permissions(&real, fs::Permissions::from_mode(mode & !0o077))
                    .with_context(|| format!("making {} private", real.display()))?;
                notes.push(format!(
                    "{} holds the HTTP token now: its mode went from {mode:04o} to {:04o}",
                    self.path.display(),
                    mode & !0o077
                ));
            }
            if real != self.path {
                notes.push(format!(
                    "{} is a symlink to {}: the token is written there; keep that file out of \
                     version control",
                    self.path.display(),
                    real.display()
                ));
            }
        }
        if holds || self.change == Change::Removed {
            record_place(&real, holds)?;
        }
        Ok(notes)
    }
}

/// `text` with hookd's HTTP token, wherever it appears, replaced by a placeholder: what a dry
/// run's diff shows.
pub(crate) fn mask(text: String) -> String {
    match read_token() {
        Some(t) if text.contains(&t) => text.replace(&t, PLACEHOLDER),
        _ => text,
    }
}

/// `<state_dir>/http-token`'s token, if the file exists and is usable.
fn read_token() -> Option<String> {
    let text = fs::read_to_string(state_dir().join(hook_protocol::http::TOKEN_FILE)).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The token, creating the token file (as hookd would on its first start with `[http]`).
fn load_or_create_token() -> anyhow::Result<String> {
    let dir = state_dir();
    hook_protocol::private::ensure_private_dir(&dir, "state directory")
        .map_err(|u| anyhow::anyhow!("{u}"))?;
    let (token, _) = hook_protocol::http::Token::load_or_create(&dir)?;
    Ok(token.secret().to_string())
}

fn state_dir() -> PathBuf {
    hook_protocol::paths::state_dir()
}

/// The settings files listed as holding the token.
fn places() -> Vec<PathBuf> {
    fs::read_to_string(state_dir().join(PLACES_FILE))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// Adds `path` to (or, with `holds` false, removes it from) the list of files holding the
/// token.
fn record_place(path: &Path, holds: bool) -> anyhow::Result<()> {
    let mut list = places();
    let had = list.iter().any(|p| p == path);
    if had == holds {
        return Ok(());
    }
    if holds {
        list.push(path.to_path_buf());
    } else {
        list.retain(|p| p != path);
    }
    let dir = state_dir();
    hook_protocol::private::ensure_private_dir(&dir, "state directory")
        .map_err(|u| anyhow::anyhow!("{u}"))?;
    let text: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
    let file = dir.join(PLACES_FILE);
    hook_protocol::private::write_private(&file, text.as_bytes())
        .with_context(|| format!("writing {}", file.display()))
}

/// One settings file `rotate-token` looked at.
#[derive(Debug, serde::Serialize)]
struct Place {
    file: String,
    /// `updated`, `current` (already the new token), `other-token` (holds a token that was not
    /// hookd's: left alone), `no-token`, `missing`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// `hookctl http rotate-token`.
fn rotate(args: &RotateArgs) -> anyhow::Result<ExitCode> {
    let dir = state_dir();
    hook_protocol::private::ensure_private_dir(&dir, "state directory")
        .map_err(|u| anyhow::anyhow!("{u}"))?;
    let old = read_token();
    let new = hook_protocol::http::Token::rotate(&dir)?;
    let new = new.secret().to_string();

    // Every file install gave the token, and the user settings in any case.
    let mut candidates = places();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let user = PathBuf::from(home).join(".claude/settings.json");
        let user = fs::canonicalize(&user).unwrap_or(user);
        if !candidates.contains(&user) {
            candidates.push(user);
        }
    }
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for path in candidates {
        let mut place = Place {
            file: path.display().to_string(),
            state: "missing",
            backup: None,
        };
        if path.exists() {
            match update_place(&path, old.as_deref(), &new) {
                Ok((state, backup)) => {
                    place.state = state;
                    place.backup = backup.map(|b| b.display().to_string());
                }
                Err(e) => failures.push(format!("{}: {e:#}", path.display())),
            }
        }
        if matches!(place.state, "updated" | "current") {
            record_place(&path, true)?;
        } else if place.state != "other-token" {
            record_place(&path, false)?;
        }
        report.push(place);
    }
    let daemon = confirm_daemon(&new);

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "token_file": dir.join(hook_protocol::http::TOKEN_FILE).display().to_string(),
                "settings": report,
                "hookd": daemon,
                "errors": failures,
            }))?
        );
    } else {
        println!(
            "{}: new token",
            dir.join(hook_protocol::http::TOKEN_FILE).display()
        );
        for p in &report {
            let what = match p.state {
                "updated" => "updated",
                "current" => "already current",
                "other-token" => {
                    "left alone: its HOOKD_HTTP_BEARER was not hookd's token (set it again with `hookctl install --http`)"
                }
                "no-token" => "no token in it",
                _ => "no such file",
            };
            println!("  {:<16} {} ({what})", "settings", p.file);
            if let Some(b) = &p.backup {
                println!("  {:<16} {b}", "backup");
            }
        }
        println!("  {:<16} {daemon}", "hookd");
        for f in &failures {
            println!("error: {f}");
        }
        println!(
            "note: Claude Code sessions started before now still send the old token; restart \
             them"
        );
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::ERROR)
    })
}

/// Gives `path` the new token when it holds the old one. Returns the state and the backup.
fn update_place(
    path: &Path,
    old: Option<&str>,
    new: &str,
) -> anyhow::Result<(&'static str, Option<PathBuf>)> {
    let mut file = SettingsFile::load(path)?;
    let state = match env_token(&file.doc.root) {
        None => return Ok(("no-token", None)),
        Some(t) if t == new => return Ok(("current", None)),
        Some(t) if Some(t) == old || old.is_none() => "updated",
        Some(_) => return Ok(("other-token", None)),
    };
    set_env_token(&mut file.doc.root, new)?;
    let written = file.finish(true, false, "http rotate-token")?;
    Ok((state, written.backup))
}

/// Whether a running hookd with the HTTP listener takes the new token: asks `GET /health`
/// with it (hookd re-reads its token file when a request presents another token, and once a
/// second in any case), for up to 3 s.
fn confirm_daemon(token: &str) -> String {
    let Some(addr) = listener_addr() else {
        return "no HTTP listener running (hookd reads the new token when it starts one)".into();
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = String::new();
    while Instant::now() < deadline {
        match health(addr, token) {
            Ok(200) => return format!("took the new token (HTTP listener on {addr})"),
            Ok(code) => last = format!("answered HTTP {code}"),
            Err(e) => last = e.to_string(),
        }
        #[allow(clippy::disallowed_methods)] // hookctl is synchronous; nothing else to run
        std::thread::sleep(Duration::from_millis(100));
    }
    format!(
        "the HTTP listener on {addr} did not take the new token within 3 s ({last}); `hookctl \
         restart` makes it"
    )
}

/// The running listener's address: `[http] listen` from hookd.toml with the bound port from
/// `<state_dir>/http-port`.
fn listener_addr() -> Option<SocketAddr> {
    let port: u16 = fs::read_to_string(state_dir().join(hook_protocol::http::PORT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let loaded = hook_engine::rules::load(&hook_protocol::paths::config_dir());
    let mut addr = loaded.settings.http.listen?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    addr.set_port(port);
    Some(addr)
}

/// `GET /health` with the token; the status code.
fn health(addr: SocketAddr, token: &str) -> anyhow::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let got = s.read(&mut head[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP answer: {line:?}"))?;
    if !line.starts_with("HTTP/1.") {
        bail!("not an HTTP answer: {line:?}");
    }
    Ok(code)
}
