//! `hookctl doctor`: checks everything between Claude Code and hookd, each with a plain fix.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use hook_protocol::{EventQuery, Request, Response, RunQuery, StatusReport};
use serde::Serialize;
use serde_json::Value;

use crate::client::Client;

/// Check everything between Claude Code and hookd; exit non-zero when something is wrong
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    /// The project whose .claude settings to check (default: the current directory)
    #[arg(long)]
    project: Option<PathBuf>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    level: Level,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn check(
    name: &'static str,
    level: Level,
    detail: impl Into<String>,
    fix: Option<String>,
) -> Check {
    Check {
        name,
        level,
        detail: detail.into(),
        fix,
    }
}

pub fn run(args: &Args, socket: &Path) -> anyhow::Result<ExitCode> {
    let mut checks = Vec::new();
    // Before anything connects: connecting tightens a loose directory of hookd's own.
    let mut socket_checks = Vec::new();
    socket_check(socket, &mut socket_checks);
    let status = daemon_checks(socket, &mut checks);
    let clients = settings_checks(args, &mut checks);
    client_check(&clients, &mut checks);
    rules_check(status.as_ref(), &mut checks);
    store_check(status.as_ref(), &mut checks);
    if status.is_some() {
        incident_check(socket, &mut checks);
    }
    checks.append(&mut socket_checks);
    spool_check(socket, status.as_ref(), &mut checks);
    runs_check(socket, status.as_ref(), &mut checks);
    bypass_check(socket, status.as_ref(), &mut checks);
    service_check(&mut checks);

    let failed = checks.iter().any(|c| c.level == Level::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"ok": !failed, "checks": checks}))?
        );
    } else {
        let color = crate::format::color();
        for c in &checks {
            let tag = match c.level {
                Level::Ok => crate::format::paint("ok  ", "32", color),
                Level::Warn => crate::format::paint("WARN", "33", color),
                Level::Fail => crate::format::paint("FAIL", "1;31", color),
            };
            println!(
                "{tag}  {:<10} {}",
                c.name,
                c.detail.replace('\n', "\n                 ")
            );
            if let Some(fix) = &c.fix {
                println!("                 fix: {fix}");
            }
        }
        println!(
            "\n{}",
            if failed {
                crate::format::paint("something is wrong (see FAIL above)", "1;31", color)
            } else {
                crate::format::paint("all good", "32", color)
            }
        );
    }
    Ok(if failed {
        ExitCode::from(crate::exit::ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn hook_client_version() -> Option<(PathBuf, String)> {
    let p = hook_protocol::paths::find_program("hook-client", None).ok()?;
    let out = Command::new(&p).arg("--version").output().ok()?;
    Some((p, String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

fn daemon_checks(socket: &Path, checks: &mut Vec<Check>) -> Option<StatusReport> {
    let status = Client::connect(socket).and_then(|mut c| match c.request(&Request::Status)? {
        Response::Status(s) => Ok(*s),
        other => anyhow::bail!("unexpected answer {other:?}"),
    });
    let status = match status {
        Ok(s) => s,
        Err(e) if e.downcast_ref::<crate::client::Untrusted>().is_some() => {
            checks.push(check(
                "hookd",
                Level::Fail,
                format!("{e}; nothing was sent to it"),
                Some(format!(
                    "the socket at {} is not your hookd's: remove what another user put there \
                     (or set HOOKD_SOCKET to a private path), then `hookctl restart`",
                    socket.display()
                )),
            ));
            return None;
        }
        Err(e) => {
            // Not running is healthy when the next hook starts it (hook-client's autostart:
            // the same lookup of a trusted hookd).
            let startable = e
                .downcast_ref::<crate::client::NotRunning>()
                .is_some_and(crate::client::NotRunning::startable);
            let autostart = if !startable {
                Err(String::new())
            } else if !crate::client::autostart_allowed() {
                Err("autostart is off (HOOKD_NO_AUTOSTART)".to_string())
            } else {
                hook_protocol::paths::find_program("hookd", Some("HOOKD_BIN"))
            };
            if let Ok(hookd) = &autostart {
                checks.push(check(
                    "hookd",
                    Level::Ok,
                    format!(
                        "not running; the next hook (or `hookctl test`, `events`, …) starts {} on {}",
                        hookd.display(),
                        socket.display()
                    ),
                    None,
                ));
                return None;
            }
            let why = autostart.err().filter(|w| !w.is_empty());
            checks.push(check(
                "hookd",
                Level::Fail,
                match why {
                    Some(why) => format!("not reachable: {e:#}; hooks cannot start it: {why}"),
                    None => format!("not reachable: {e:#}"),
                },
                Some(
                    "start it: `hookd &`, or `hookctl service install`; any hook also starts it"
                        .into(),
                ),
            ));
            return None;
        }
    };
    checks.push(check(
        "hookd",
        Level::Ok,
        format!("running, pid {}, socket {}", status.pid, status.socket),
        None,
    ));
    let ctl = format!(
        "{} (build {})",
        hook_protocol::PACKAGE_VERSION,
        hook_protocol::BUILD_ID
    );
    let daemon = format!("{} (build {})", status.version, status.build_id);
    let client = hook_client_version();
    let client_ok = client
        .as_ref()
        .is_none_or(|(_, v)| v.contains(&status.build_id) && v.contains(&status.version));
    if status.build_id == hook_protocol::BUILD_ID
        && status.protocol == hook_protocol::PROTOCOL_VERSION
        && client_ok
    {
        checks.push(check(
            "versions",
            Level::Ok,
            format!("hookd, hookctl and hook-client are {ctl}"),
            None,
        ));
    } else {
        let client = client.map_or_else(
            || "hook-client not found".into(),
            |(p, v)| format!("{}: {v}", p.display()),
        );
        checks.push(check(
            "versions",
            Level::Fail,
            format!("hookd {daemon}, hookctl {ctl}, {client}: not one build"),
            Some("put the three binaries of one build side by side (replace them with `install` or a rename, never `cp` over a running file), then `hookctl restart`".into()),
        ));
    }
    Some(status)
}

/// The managed (organisation) settings file Claude Code reads on this system.
const MANAGED_SETTINGS: &str = if cfg!(target_os = "macos") {
    "/Library/Application Support/ClaudeCode/managed-settings.json"
} else {
    "/etc/claude-code/managed-settings.json"
};

/// The settings files Claude Code reads, as (label, path).
fn settings_files(args: &Args) -> Vec<(&'static str, PathBuf)> {
    let mut files = vec![("managed", PathBuf::from(MANAGED_SETTINGS))];
    if let Some(home) = std::env::var_os("HOME") {
        files.push(("user", PathBuf::from(home).join(".claude/settings.json")));
    }
    let project = args
        .project
        .clone()
        .or_else(|| std::env::current_dir().ok());
    if let Some(p) = project {
        files.push(("project", p.join(".claude/settings.json")));
        files.push(("local", p.join(".claude/settings.local.json")));
    }
    files
}

/// hook-client commands whose `--deadline` is a bare number, which older hook-clients read as
/// milliseconds and this one reads as seconds (one duration grammar: a bare number is seconds),
/// or which hook-client refuses (then every event gets its fail mode).
fn deadline_checks(wired: &BTreeMap<String, Vec<(String, String)>>, checks: &mut Vec<Check>) {
    let mut bare = Vec::new();
    let mut refused = Vec::new();
    for (event, by) in wired {
        for (file, cmd) in by {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let value = words
                .iter()
                .enumerate()
                .find_map(|(i, w)| match w.split_once('=') {
                    Some(("--deadline", v)) => Some(v),
                    _ if *w == "--deadline" => words.get(i + 1).copied(),
                    _ => None,
                });
            let Some(value) = value.map(|v| v.trim_matches(['\'', '"'])) else {
                continue;
            };
            let place = format!(
                "{event} in {}",
                file.split_whitespace().last().unwrap_or("")
            );
            match hook_protocol::duration::parse(value) {
                Ok(d) if d.is_zero() || d > hook_protocol::MAX_DEADLINE => {
                    refused.push(format!("`--deadline {value}` ({place})"));
                }
                Ok(_) if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                    bare.push(format!("`--deadline {value}` ({place})"));
                }
                Ok(_) => {}
                Err(e) => refused.push(format!("`--deadline {value}` ({place}: {e})")),
            }
        }
    }
    if !refused.is_empty() {
        checks.push(check(
            "deadline",
            Level::Fail,
            format!(
                "hook-client refuses these deadlines, so every such event gets its fail mode: {}",
                refused.join("; ")
            ),
            Some(format!(
                "use {} (at most {}), e.g. `hookctl install --deadline 30s`",
                hook_protocol::duration::EXAMPLES,
                hook_protocol::duration::Display(hook_protocol::MAX_DEADLINE)
            )),
        ));
    }
    if !bare.is_empty() {
        checks.push(check(
            "deadline",
            Level::Warn,
            format!(
                "a bare number is seconds (older hook-clients read it as milliseconds): {}",
                bare.join("; ")
            ),
            Some("write the unit: `--deadline 500ms` or `--deadline 30s` (`hookctl install --deadline` does)".into()),
        ));
    }
}

/// Checks the settings files; returns the hook-client paths they run.
fn settings_checks(args: &Args, checks: &mut Vec<Check>) -> BTreeSet<String> {
    // event -> [(file label, command)]
    let mut wired: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut clients = BTreeSet::new();
    let mut any_file = false;
    // A settings file that enables the hookd plugin (`"enabledPlugins": {"hookd@…": true}`).
    let mut plugin = None;
    for (label, path) in settings_files(args) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        any_file = true;
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                checks.push(check(
                    "settings",
                    Level::Fail,
                    format!(
                        "{} is not valid JSON ({e}): Claude Code ignores every hook in it",
                        path.display()
                    ),
                    Some(format!(
                        "fix the JSON in {} (a backup from `hookctl install` is beside it)",
                        path.display()
                    )),
                ));
                continue;
            }
        };
        let schema_errors = v
            .as_object()
            .map(crate::settings::validate)
            .unwrap_or_default();
        if !schema_errors.is_empty() {
            let list: Vec<String> = schema_errors.iter().map(ToString::to_string).collect();
            checks.push(check(
                "settings",
                Level::Fail,
                format!(
                    "{}: {}: Claude Code skips every hook in this file",
                    path.display(),
                    list.join("; ")
                ),
                Some("fix the entries named above".into()),
            ));
        }
        let enables_plugin = v
            .get("enabledPlugins")
            .and_then(Value::as_object)
            .is_some_and(|m| {
                m.iter()
                    .any(|(k, on)| k.starts_with("hookd@") && on == &Value::Bool(true))
            });
        if enables_plugin && plugin.is_none() {
            plugin = Some(format!("{label} {}", path.display()));
        }
        if v.get("disableAllHooks") == Some(&Value::Bool(true)) {
            checks.push(check(
                "settings",
                Level::Warn,
                format!("{} sets disableAllHooks: no hook runs", path.display()),
                Some("remove disableAllHooks".into()),
            ));
        }
        for (event, groups) in v
            .get("hooks")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for h in groups
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.get("hooks"))
                .filter_map(Value::as_array)
                .flatten()
            {
                clients.extend(crate::settings::client_of(h));
                let cmd = h.get("command").and_then(Value::as_str).unwrap_or_default();
                let url = h.get("url").and_then(Value::as_str).unwrap_or_default();
                if cmd.contains("hook-client") || url.contains("/hook") {
                    wired.entry(event.clone()).or_default().push((
                        format!("{label} {}", path.display()),
                        if cmd.is_empty() {
                            url.to_string()
                        } else {
                            cmd.to_string()
                        },
                    ));
                }
            }
        }
    }
    if wired.is_empty()
        && let Some(by) = plugin
    {
        checks.push(check(
            "wiring",
            Level::Ok,
            format!("the hookd plugin is enabled ({by}): every event goes through its hook-client"),
            None,
        ));
        return clients;
    }
    if !any_file {
        checks.push(check(
            "settings",
            Level::Warn,
            "no Claude Code settings file found",
            Some("wire hookd in: `hookctl install`".into()),
        ));
        return clients;
    }
    if wired.is_empty() {
        checks.push(check(
            "wiring",
            Level::Fail,
            "no settings file sends any event to hookd",
            Some(
                "`hookctl install` (user) or `hookctl install --project`; or run Claude Code \
                 with hookd's plugin instead (`claude --plugin-dir <plugin>`, README \"As a Claude \
                 Code plugin\"), which no settings file shows"
                    .into(),
            ),
        ));
        return clients;
    }
    let mut lines = Vec::new();
    for (event, by) in &wired {
        let files: Vec<&str> = by
            .iter()
            .map(|(f, _)| f.split_whitespace().next().unwrap_or(""))
            .collect();
        lines.push(format!("{event}: {}", files.join(", ")));
    }
    checks.push(check("wiring", Level::Ok, lines.join("\n"), None));
    let dupes: Vec<String> = wired
        .iter()
        .filter(|(_, by)| {
            let mut cmds: Vec<&String> = by.iter().map(|(_, c)| c).collect();
            cmds.sort();
            cmds.dedup();
            // Identical commands run once (Claude Code dedups them); different ones run twice.
            cmds.len() > 1
        })
        .map(|(e, by)| {
            format!(
                "{e} ({})",
                by.iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(" + ")
            )
        })
        .collect();
    if !dupes.is_empty() {
        checks.push(check(
            "duplicates",
            Level::Warn,
            format!("events sent to hookd by more than one different hook entry: {}", dupes.join("; ")),
            Some("keep one entry per event (`hookctl uninstall --project` or `--local` removes the extra)".into()),
        ));
    }
    deadline_checks(&wired, checks);
    // WorktreeCreate/WorktreeRemove hooks replace Claude Code's own worktree handling, so
    // `hookctl install` leaves them out on purpose: not a problem when unwired.
    let missing: Vec<&str> = hook_engine::events::EVENTS
        .iter()
        .map(|e| e.name)
        .filter(|e| !wired.contains_key(*e) && !crate::settings::REPLACING_EVENTS.contains(e))
        .collect();
    if !missing.is_empty() {
        checks.push(check(
            "unwired",
            Level::Warn,
            format!(
                "{} events not sent to hookd: {}",
                missing.len(),
                missing.join(", ")
            ),
            Some("`hookctl install` wires all events; rules on these events never run".into()),
        ));
    }
    clients
}

/// Whether the hook-client the settings run (else the one `hookctl install` would wire) is the
/// fast, static build.
fn client_check(wired: &BTreeSet<String>, checks: &mut Vec<Check>) {
    let paths: Vec<PathBuf> = if wired.is_empty() {
        crate::cmd::install::find_client(None).into_iter().collect()
    } else {
        wired.iter().map(PathBuf::from).collect()
    };
    let mut slow = Vec::new();
    let mut fast = Vec::new();
    for p in &paths {
        match crate::linkage::slow_client_note(p) {
            Some(note) => slow.push(note),
            None if matches!(crate::linkage::of(p), Ok(crate::linkage::Linkage::Static)) => {
                fast.push(p.display().to_string());
            }
            None => {}
        }
    }
    if !slow.is_empty() {
        checks.push(check(
            "client",
            Level::Warn,
            slow.join("\n"),
            Some(crate::linkage::HOW_TO_GET_STATIC.into()),
        ));
    } else if !fast.is_empty() {
        checks.push(check(
            "client",
            Level::Ok,
            format!("{}: static build (fast start)", fast.join(", ")),
            None,
        ));
    }
}

fn rules_check(status: Option<&StatusReport>, checks: &mut Vec<Check>) {
    let (errors, n, fallback) = match status {
        Some(s) => (
            s.rule_errors.clone(),
            s.rules_loaded,
            s.rules_fallback.clone(),
        ),
        None => {
            let r = hook_engine::rules::load(&hook_protocol::paths::config_dir());
            // What a hookd started now would use instead (hookd::lastgood).
            let fallback = (!r.errors.is_empty()).then(|| {
                match hook_engine::lastgood::load(&hook_protocol::paths::state_dir()) {
                    Ok(Some(saved)) => format!(
                        "hookd would use the last good rules saved {} UTC",
                        hook_engine::clock::utc(saved.saved_ms)
                    ),
                    Ok(None) => "no good rules were ever saved: hookd would answer guard events \
                                 with the fail mode"
                        .to_string(),
                    Err(e) => format!("the last good rules cannot be used: {e}"),
                }
            });
            (r.errors, r.ruleset.rules.len() as u64, fallback)
        }
    };
    if let Some(f) = fallback {
        checks.push(check(
            "rules-fallback",
            Level::Fail,
            f,
            Some("the rule files below fail to load; fix them (`hookctl check`)".into()),
        ));
    }
    if errors.is_empty() {
        checks.push(check(
            "rules",
            Level::Ok,
            format!("{n} rules, no load errors"),
            None,
        ));
    } else {
        checks.push(check(
            "rules",
            Level::Fail,
            errors.join("\n"),
            Some("fix the files above (`hookctl check` re-validates); the previous rules stay active meanwhile".into()),
        ));
    }
    for p in status.map(|s| s.projects.clone()).unwrap_or_default() {
        if !p.errors.is_empty() {
            checks.push(check(
                "project",
                Level::Warn,
                p.errors.join("\n"),
                Some(format!(
                    "fix {}/.claude/hookd.toml, or `hookctl trust {}`",
                    p.dir, p.dir
                )),
            ));
        }
    }
}

fn store_check(status: Option<&StatusReport>, checks: &mut Vec<Check>) {
    let Some(s) = status else {
        let db = hook_protocol::paths::db_path();
        let dir = db.parent().map(Path::to_path_buf).unwrap_or_default();
        let writable = std::fs::metadata(&dir)
            .map(|m| !m.permissions().readonly())
            .unwrap_or(true);
        let level = if writable { Level::Ok } else { Level::Fail };
        checks.push(check(
            "store",
            level,
            format!(
                "{} (hookd not running; directory {})",
                db.display(),
                if writable { "writable" } else { "NOT writable" }
            ),
            None,
        ));
        return;
    };
    match &s.store_error {
        None => checks.push(check("store", Level::Ok, format!("{} ({} bytes, {} events)", s.store_path, s.store_bytes, s.events_total), None)),
        Some(e) => checks.push(check(
            "store",
            Level::Fail,
            format!("{}: {e}", s.store_path),
            Some("free disk space or fix the file's permissions; hookd (running) moves the emergency journal and the spool into the store by itself once writes work again, no restart needed".into()),
        )),
    }
    journal_check(s, checks);
    sink_checks(s, checks);
}

/// Fleet sinks: FAIL on a configuration or authentication error and on events the size cap
/// pruned before delivery; WARN on lag past `lag_warn` or a failing receiver.
fn sink_checks(s: &StatusReport, checks: &mut Vec<Check>) {
    for sink in &s.sinks {
        let detail = crate::cmd::sink::line(sink);
        if sink.config_error {
            checks.push(check(
                "sink",
                Level::Fail,
                detail,
                Some(format!(
                    "fix [sink.{}] in hookd.toml (or its token/password file, 0600) and `hookctl restart`; its events wait in the store meanwhile",
                    sink.name
                )),
            ));
        } else if sink.dropped > 0 {
            checks.push(check(
                "sink",
                Level::Fail,
                detail,
                Some("the store's size cap pruned events before this sink got them: raise `[store] max_size` or fix the sink sooner".into()),
            ));
        } else if sink.error.is_some() || sink.lag_ms > sink.lag_warn_ms {
            checks.push(check(
                "sink",
                Level::Warn,
                detail,
                Some("hookd retries by itself; check that the receiver is up and reachable".into()),
            ));
        } else {
            checks.push(check("sink", Level::Ok, detail, None));
        }
    }
}

/// The emergency journal: events waiting in it, and whether answered events are durable.
fn journal_check(s: &StatusReport, checks: &mut Vec<Check>) {
    let mut detail = format!(
        "{} answered events waiting in the emergency journal; {} bytes set aside",
        s.journal_events, s.journal_reserved_bytes
    );
    if s.not_durable > 0 {
        detail.push_str(&format!(
            "; {} events answered by their fail mode since start because nothing could record them",
            s.not_durable
        ));
    }
    if let Some(e) = &s.durability_error {
        checks.push(check(
            "journal",
            Level::Fail,
            format!("{detail}\n{e}"),
            Some("free disk space (or set a larger `[store] emergency_journal` and restart hookd): until then hookd answers guard events by their fail mode rather than give a verdict it could lose".into()),
        ));
    } else if s.journal_events > 0 {
        checks.push(check(
            "journal",
            Level::Warn,
            detail,
            Some("nothing to do: hookd (running) moves them into the store as soon as it can be written".into()),
        ));
    } else {
        checks.push(check("journal", Level::Ok, detail, None));
    }
}

/// Incidents the store recovered from (database deleted, replaced or corrupt), from `stats`.
fn incident_check(socket: &Path, checks: &mut Vec<Check>) {
    let Ok(Response::Stats(stats)) =
        Client::connect(socket).and_then(|mut c| c.request(&Request::Stats))
    else {
        return;
    };
    for reason in &stats.health_reasons {
        if let Some(incident) = reason.strip_prefix("store incident: ") {
            checks.push(check(
                "store",
                Level::Warn,
                incident.to_string(),
                Some(
                    "nothing recorded since is lost; restart hookd (`hookctl restart`) to clear this notice"
                        .into(),
                ),
            ));
        }
    }
}

fn socket_check(socket: &Path, checks: &mut Vec<Check>) {
    use hook_protocol::private;
    let Some(dir) = socket.parent() else { return };
    let mut problems = Vec::new();
    match private::check_socket_dir(dir) {
        Ok(()) => {}
        Err(private::Untrusted::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(u) => problems.push(u.to_string()),
    }
    if let Ok(m) = std::fs::symlink_metadata(socket)
        && m.permissions().mode() & 0o077 != 0
    {
        problems.push(format!(
            "{} has mode {:o} (want 600)",
            socket.display(),
            m.permissions().mode() & 0o777
        ));
    }
    if problems.is_empty() {
        checks.push(check(
            "socket",
            Level::Ok,
            format!("{} private to you", dir.display()),
            None,
        ));
    } else {
        checks.push(check(
            "socket",
            Level::Fail,
            problems.join("\n"),
            Some(format!(
                "if {} is yours: `chmod 700` it; if not, remove it (or set HOOKD_SOCKET to a \
                 private path) and restart hookd, which recreates it",
                dir.display()
            )),
        ));
    }
}

fn spool_check(socket: &Path, status: Option<&StatusReport>, checks: &mut Vec<Check>) {
    let backlog = hook_protocol::spool::backlog_bytes(&hook_protocol::paths::spool_path());
    let recorded = status.map_or(0, |s| s.fallbacks_recorded);
    let mut detail = format!("{backlog} bytes waiting in the spool; {recorded} fallbacks recorded");
    if recorded > 0
        && let Ok(mut c) = Client::connect(socket)
        && let Ok(Response::Events(rows)) = c.request(&Request::Events(EventQuery {
            verdict: Some("fallback:".into()),
            limit: 3,
            ..EventQuery::default()
        }))
    {
        for r in rows {
            detail.push_str(&format!(
                "\nlast: {} {} {}: {}",
                crate::format::utc(r.time_ms),
                r.event,
                r.verdict,
                r.reason.unwrap_or_default()
            ));
        }
    }
    let level = if backlog > 0 && status.is_some() {
        Level::Warn
    } else if backlog > 0 {
        Level::Fail
    } else {
        Level::Ok
    };
    let fix = (backlog > 0).then(|| match status {
        None => "start hookd (it records the spool within a second), then check why it was unreachable (above)".to_string(),
        Some(s) if s.store_error.is_some() => "nothing to do: hookd (running) records the spool as soon as the store can be written (see store above)".to_string(),
        Some(_) => "hookd (running) records the spool within a second; if it stays, see hookd's log".to_string(),
    });
    checks.push(check("spool", level, detail, fix));
}

/// How far back `doctor` looks for failed runs.
const RUN_FAILURE_WINDOW_MS: i64 = 24 * 3_600_000;

fn runs_check(socket: &Path, status: Option<&StatusReport>, checks: &mut Vec<Check>) {
    if status.is_none() {
        return;
    }
    let since = crate::format::now_ms() - RUN_FAILURE_WINDOW_MS;
    let failed = Client::connect(socket).and_then(|mut c| {
        match c.request(&Request::Runs(RunQuery {
            failed_only: true,
            since_ms: Some(since),
            limit: 1000,
            ..RunQuery::default()
        }))? {
            Response::Runs(rows) => Ok(rows),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    });
    let rows = match failed {
        Ok(r) => r,
        Err(e) => {
            checks.push(check(
                "runs",
                Level::Warn,
                format!("cannot list runs: {e:#}"),
                None,
            ));
            return;
        }
    };
    if rows.is_empty() {
        checks.push(check(
            "runs",
            Level::Ok,
            "no run rule failed in the last 24 hours",
            None,
        ));
        return;
    }
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *by_rule.entry(r.rule.as_str()).or_default() += 1;
    }
    let mut detail = format!(
        "{} failed runs in the last 24 hours ({})",
        rows.len(),
        by_rule
            .iter()
            .map(|(r, n)| format!("{r}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for r in rows.iter().take(3) {
        detail.push_str(&format!(
            "\nlast: {} {} `{}` {}: {}",
            crate::format::utc(r.time_ms),
            r.event,
            r.rule,
            r.outcome,
            r.error.as_deref().unwrap_or("-")
        ));
    }
    checks.push(check(
        "runs",
        Level::Warn,
        detail,
        Some("see `hookctl runs --failed` (stderr tails included with --json); fix the script or the rule's timeout".into()),
    ));
}

/// Tool calls that ran without a PreToolUse in the last 24 hours (the bypass alarm's records).
fn bypass_check(socket: &Path, status: Option<&StatusReport>, checks: &mut Vec<Check>) {
    if status.is_none() {
        return;
    }
    let since = crate::format::now_ms() - RUN_FAILURE_WINDOW_MS;
    let rows = Client::connect(socket).and_then(|mut c| {
        match c.request(&Request::Events(EventQuery {
            event: Some("bypass".into()),
            since_ms: Some(since),
            limit: 1000,
            ..EventQuery::default()
        }))? {
            Response::Events(rows) => Ok(rows),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    });
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            checks.push(check(
                "bypasses",
                Level::Warn,
                format!("cannot list bypasses: {e:#}"),
                None,
            ));
            return;
        }
    };
    if rows.is_empty() {
        checks.push(check(
            "bypasses",
            Level::Ok,
            "every tool call seen in the last 24 hours had a PreToolUse",
            None,
        ));
        return;
    }
    let mut detail = format!(
        "{} tool calls ran without a PreToolUse in the last 24 hours: no guard rule checked them",
        rows.len()
    );
    for r in rows.iter().take(3) {
        detail.push_str(&format!(
            "\nlast: {} session {}: {}",
            crate::format::utc(r.time_ms),
            r.session_id.as_deref().unwrap_or("-"),
            r.reason.as_deref().unwrap_or("-")
        ));
    }
    checks.push(check(
        "bypasses",
        Level::Warn,
        detail,
        Some("see `hookctl events --event bypass`; Claude Code skipped the hook (often inside subagents): check that PreToolUse is wired for every agent, and update Claude Code".into()),
    ));
}

fn service_check(checks: &mut Vec<Check>) {
    if cfg!(target_os = "macos") {
        let out = Command::new("launchctl")
            .args([
                "print",
                &format!("gui/{}/dev.hookd.hookd", hook_protocol::paths::uid()),
            ])
            .output();
        let loaded = out.is_ok_and(|o| o.status.success());
        checks.push(check(
            "service",
            Level::Ok,
            if loaded {
                "launchd agent loaded"
            } else {
                "no launchd agent (hook-client autostarts hookd)"
            },
            None,
        ));
        return;
    }
    let out = Command::new("systemctl")
        .args(["--user", "is-active", "hookd.socket"])
        .output();
    let detail = match out {
        Ok(o) if o.status.success() => "hookd.socket is active (systemd --user)".to_string(),
        Ok(o) => format!(
            "hookd.socket not active ({}); hook-client autostarts hookd instead",
            String::from_utf8_lossy(&o.stdout).trim().to_string()
                + String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(_) => "systemctl not available; hook-client autostarts hookd".to_string(),
    };
    checks.push(check("service", Level::Ok, detail, None));
}
