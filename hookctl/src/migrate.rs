//! Claude Code `hooks` entries → hookd `run` rules (TOML), for `hookctl import`.
//!
//! Pure: takes the parsed settings, returns the rules' text, which entries they replace and
//! what could not be translated (and why). Every generated rule is compiled with hookd's own
//! parser before it is offered, so an entry is either translated into a rule that loads, or
//! reported and left where it is.
//!
//! What maps to what (docs/claude-code-hooks.md):
//! - `command` (shell form) → `run = "<command>"`; with `args` → `run = [command, args…]`
//! - `matcher` → `tool` on tool events; a `field` regex on the event's match field elsewhere
//!   (ignored, as Claude Code ignores it, on events without one)
//! - `if` (`Bash(git *)`, `Edit(src/**)`, `WebFetch(domain:x)`, a tool name) → `tool` plus
//!   `command`, `path` or `field`
//! - `timeout` → `timeout` (absent: Claude Code's 600 s); `async` → `mode = "background"`;
//!   `onFailure: "block"` → `on_failure = "block"`; `once` → `[rule.session] once = "session"`
//! - plain stdout, which Claude Code shows the model only on SessionStart, UserPromptSubmit
//!   and UserPromptExpansion, gets `stdout = "ignore"` elsewhere
//! - SessionEnd and StopFailure hooks run in the background: their output is ignored anyway,
//!   and hookd lets them finish instead of killing them after Claude Code's 1.5 s budget

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Claude Code's default timeout for command hooks, in seconds.
pub const CLAUDE_DEFAULT_TIMEOUT_SECS: f64 = 600.0;

/// Where a handler sits in the settings: `hooks.<event>[group].hooks[handler]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The event.
    pub event: String,
    /// The matcher group's index.
    pub group: usize,
    /// The handler's index in the group.
    pub handler: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "hooks.{}[{}].hooks[{}]",
            self.event, self.group, self.handler
        )
    }
}

/// One generated rule.
#[derive(Debug, Clone)]
pub struct ImportedRule {
    /// Its name.
    pub name: String,
    /// The entry it replaces.
    pub from: Location,
    /// Its TOML (`[[rule]]` table, ending in a newline).
    pub toml: String,
    /// Whether it runs in sync mode (the event then needs a longer hook-client deadline).
    pub sync: bool,
    /// Its timeout in seconds.
    pub timeout_secs: f64,
    /// Notes on how it differs from the original (shown in the report).
    pub notes: Vec<String>,
}

/// An entry left in place.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// Where it is.
    pub at: Location,
    /// What it is (`http`, `prompt`, the command…).
    pub what: String,
    /// Why it stays.
    pub why: String,
}

/// The result of translating a settings file's hooks.
#[derive(Debug, Default)]
pub struct Translation {
    /// Rules, in settings order.
    pub rules: Vec<ImportedRule>,
    /// Entries that could not be translated (left in Claude Code).
    pub skipped: Vec<Skipped>,
    /// hookd's own entries (hook-client, or http to hookd), left as they are.
    pub ours: Vec<Location>,
}

/// Translates the `hooks` of `root`; rule names are `<prefix>-<event>-<script>`, unique
/// within the result and not in `taken`.
#[must_use]
pub fn translate(root: &Map<String, Value>, prefix: &str, taken: &HashSet<String>) -> Translation {
    let mut t = Translation::default();
    let mut names = taken.clone();
    let Some(hooks) = root.get("hooks").and_then(Value::as_object) else {
        return t;
    };
    for (event, groups) in hooks {
        for (gi, group) in groups.as_array().into_iter().flatten().enumerate() {
            let matcher = group.get("matcher").and_then(Value::as_str).unwrap_or("");
            for (hi, h) in group
                .get("hooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = Location {
                    event: event.clone(),
                    group: gi,
                    handler: hi,
                };
                if crate::settings::is_ours(h, event) || is_hookd_entry(h) {
                    t.ours.push(at);
                    continue;
                }
                match rule_for(event, matcher, h, prefix, &mut names) {
                    Ok(mut r) => {
                        r.from = at;
                        t.rules.push(r);
                    }
                    Err(why) => t.skipped.push(Skipped {
                        what: describe(h),
                        at,
                        why,
                    }),
                }
            }
        }
    }
    t
}

/// Whether `h` already goes to hookd (a hook-client command, or an `http` hook to hookd).
fn is_hookd_entry(h: &Value) -> bool {
    let command = h.get("command").and_then(Value::as_str).unwrap_or("");
    let first = command.split_whitespace().next().unwrap_or("");
    let client =
        first.trim_matches(['\'', '"']).rsplit('/').next() == Some(crate::settings::CLIENT_NAME);
    let http_to_hookd = h.get("type").and_then(Value::as_str) == Some("http")
        && h.pointer("/headers/Authorization")
            .and_then(Value::as_str)
            .is_some_and(|a| a.contains(hook_protocol::http::TOKEN_ENV));
    client || http_to_hookd
}

fn describe(h: &Value) -> String {
    let ty = h.get("type").and_then(Value::as_str).unwrap_or("?");
    match ty {
        "command" => h
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        "http" => format!(
            "http {}",
            h.get("url").and_then(Value::as_str).unwrap_or("")
        ),
        other => other.to_string(),
    }
}

/// A TOML string: a literal string when possible (regexes stay readable), else a basic one.
#[must_use]
pub fn toml_str(s: &str) -> String {
    if !s.contains('\'') && !s.chars().any(char::is_control) {
        return format!("'{s}'");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~ ".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A glob with `*` wildcards → an anchored regex.
fn glob_regex(glob: &str) -> String {
    let (body, open_tail) = match glob.strip_suffix(" *") {
        Some(b) => (b, true),
        None => (glob, false),
    };
    let parts: Vec<String> = body.split('*').map(regex_escape).collect();
    format!(
        "^{}{}$",
        parts.join(".*"),
        if open_tail { "( .*)?" } else { "" }
    )
}

/// The script's short name for a rule name: the stem of the first word that looks like a
/// file (`uv run .claude/hooks/pre_tool_use.py` → `pre_tool_use`), else the program's name.
fn script_stem(command: &str) -> String {
    let words: Vec<&str> = command
        .split_whitespace()
        .map(|w| w.trim_matches(['\'', '"']))
        .collect();
    let pick = words
        .iter()
        .find(|w| {
            w.contains('/') && !w.starts_with('-')
                || [".py", ".sh", ".js", ".ts", ".mjs", ".rb", ".pl"]
                    .iter()
                    .any(|x| w.ends_with(x))
        })
        .or_else(|| words.first())
        .copied()
        .unwrap_or("hook");
    let base = pick.rsplit('/').next().unwrap_or(pick);
    let stem = base.split('.').next().unwrap_or(base);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches('-').to_string();
    if clean.is_empty() {
        "hook".into()
    } else {
        clean
    }
}

/// Conditions from the matcher and `if`, as TOML lines.
fn conditions(
    event: &str,
    matcher: &str,
    cond_if: Option<&str>,
    lines: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let spec =
        hook_engine::events::lookup(event).ok_or_else(|| format!("unknown event {event}"))?;
    let any = matches!(matcher, "" | "*" | ".*");
    let tool_event = spec.match_field == Some("tool_name");
    let mut tool: Option<String> = None;
    if tool_event && !any {
        hook_engine::rules::Matcher::new(matcher)
            .map_err(|e| format!("matcher {matcher:?} is not a regex hookd accepts: {e}"))?;
        tool = Some(matcher.to_string());
    } else if let (Some(field), false) = (spec.match_field, any) {
        let is_list = matcher
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '|' | ',' | ' ' | '-'));
        let re = if is_list {
            let names: Vec<String> = matcher
                .split(['|', ','])
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(regex_escape)
                .collect();
            if field == "file_path" {
                format!("(^|/)(?:{})$", names.join("|"))
            } else {
                format!("^(?:{})$", names.join("|"))
            }
        } else if field == "file_path" {
            return Err(format!(
                "FileChanged regex matcher {matcher:?}: Claude Code matches it against the file's basename, which a hookd condition cannot express"
            ));
        } else {
            matcher.to_string()
        };
        lines.push(format!(
            "field = {{ {} = {} }}",
            toml_str(field),
            toml_str(&re)
        ));
    }
    if let Some(cond) = cond_if.map(str::trim).filter(|c| !c.is_empty()) {
        if !tool_event {
            notes.push(format!(
                "`if` {cond:?} ignored: Claude Code applies `if` to tool events only"
            ));
        } else {
            let (name, arg) = match cond.split_once('(') {
                Some((n, rest)) => {
                    let arg = rest.strip_suffix(')').ok_or_else(|| {
                        format!("`if` {cond:?} is not a permission rule like Bash(git *)")
                    })?;
                    (n.trim(), Some(arg))
                }
                None => (cond, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`if` {cond:?} is not a permission rule like Bash(git *)"
                ));
            }
            let matcher_allows = |t: &str| {
                hook_engine::rules::Matcher::new(if any { "" } else { matcher })
                    .is_ok_and(|m| m.matches(Some(t)))
            };
            let tools: &[&str] = match name {
                "Edit" => &["Edit", "MultiEdit", "Write", "NotebookEdit"],
                other => &[other][..],
            };
            let kept: Vec<&str> = tools
                .iter()
                .copied()
                .filter(|t| matcher_allows(t))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "`if` {cond:?} names a tool the matcher {matcher:?} excludes: Claude Code never runs it"
                ));
            }
            tool = Some(kept.join("|"));
            match (name, arg) {
                (_, None | Some("" | "*")) => {}
                ("Bash", Some(a)) => {
                    let re = match a.strip_suffix(":*") {
                        Some(prefix) => format!("^{}( .*)?$", regex_escape(prefix)),
                        None => glob_regex(a),
                    };
                    lines.push(format!("command = {}", toml_str(&re)));
                }
                ("Read" | "Edit" | "Write" | "MultiEdit" | "NotebookEdit", Some(a)) => {
                    let path = if let Some(abs) = a.strip_prefix("//") {
                        format!("/{abs}")
                    } else if a.starts_with("~/") {
                        a.to_string()
                    } else if let Some(rel) = a.strip_prefix("./") {
                        rel.to_string()
                    } else if let Some(rel) = a.strip_prefix('/') {
                        // Relative to the settings file's project.
                        rel.to_string()
                    } else {
                        a.to_string()
                    };
                    lines.push(format!("path = {}", toml_str(&path)));
                }
                ("WebFetch", Some(a)) if a.starts_with("domain:") => {
                    let domain = regex_escape(a.trim_start_matches("domain:"));
                    lines.push(format!(
                        "field = {{ \"tool_input.url\" = {} }}",
                        toml_str(&format!("^https?://(?:[^/]*\\.)?{domain}(?:[:/]|$)"))
                    ));
                }
                _ => {
                    return Err(format!(
                        "`if` {cond:?}: no hookd condition expresses this pattern"
                    ));
                }
            }
        }
    }
    if let Some(t) = tool {
        lines.insert(0, format!("tool = {}", toml_str(&t)));
    }
    Ok(())
}

fn rule_for(
    event: &str,
    matcher: &str,
    h: &Value,
    prefix: &str,
    names: &mut HashSet<String>,
) -> Result<ImportedRule, String> {
    let ty = h.get("type").and_then(Value::as_str).unwrap_or("");
    if ty != "command" {
        return Err(format!(
            "a `{ty}` hook: hookd runs commands, so it stays in Claude Code"
        ));
    }
    if crate::settings::REPLACING_EVENTS.contains(&event) {
        return Err(format!(
            "{event} hooks replace Claude Code's own worktree handling and must print a path; left in Claude Code"
        ));
    }
    if h.get("asyncRewake") == Some(&Value::Bool(true)) {
        return Err("`asyncRewake` (waking the model on exit 2) has no hookd equivalent".into());
    }
    if h.get("shell").and_then(Value::as_str) == Some("powershell") {
        return Err("a PowerShell hook".into());
    }
    let command = h
        .get("command")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or("a command hook without a command")?;
    let mut notes = Vec::new();
    let mut lines = Vec::new();
    conditions(
        event,
        matcher,
        h.get("if").and_then(Value::as_str),
        &mut lines,
        &mut notes,
    )?;
    let args: Option<Vec<String>> = h.get("args").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    });
    let run = match &args {
        Some(args) => {
            let mut v = vec![toml_str(command)];
            v.extend(args.iter().map(|a| toml_str(a)));
            format!("run = [{}]", v.join(", "))
        }
        None => format!("run = {}", toml_str(command)),
    };
    let always_background = matches!(event, "SessionEnd" | "StopFailure");
    let background = always_background || h.get("async") == Some(&Value::Bool(true));
    if always_background && h.get("async") != Some(&Value::Bool(true)) {
        notes.push(format!(
            "runs in the background: {event} output is ignored, and hookd lets it finish instead of stopping it at Claude Code's SessionEnd budget"
        ));
    }
    let timeout = h
        .get("timeout")
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0)
        .unwrap_or(CLAUDE_DEFAULT_TIMEOUT_SECS)
        .min(CLAUDE_DEFAULT_TIMEOUT_SECS);
    let base = format!(
        "{prefix}-{}-{}",
        event.to_ascii_lowercase(),
        script_stem(command)
    );
    let mut name = base.clone();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    let mut toml = format!(
        "[[rule]]\nname = {}\nevent = {}\n",
        toml_str(&name),
        toml_str(event)
    );
    for l in &lines {
        toml.push_str(l);
        toml.push('\n');
    }
    toml.push_str("action = \"run\"\n");
    toml.push_str(&run);
    toml.push('\n');
    toml.push_str(&format!("timeout = {}\n", fmt_secs(timeout)));
    if background {
        toml.push_str("mode = \"background\"\n");
    }
    match h.get("onFailure").and_then(Value::as_str) {
        Some("block") if background => {
            notes.push("`onFailure: \"block\"` does not apply to a background run".into());
        }
        Some("block") => toml.push_str("on_failure = \"block\"\n"),
        _ => {}
    }
    let takes_text = matches!(
        event,
        "SessionStart" | "UserPromptSubmit" | "UserPromptExpansion"
    );
    if !background && !takes_text {
        toml.push_str("stdout = \"ignore\"\n");
    }
    if h.get("once") == Some(&Value::Bool(true)) {
        toml.push_str("[rule.session]\nonce = \"session\"\n");
    }
    if let Some(m) = h.get("statusMessage").and_then(Value::as_str) {
        notes.push(format!("statusMessage {m:?} dropped (hookd shows none)"));
    }
    // Only what hookd itself loads is offered.
    let src = hook_engine::rules::Source {
        name: format!("import of {event}"),
        text: toml.clone(),
        is_main: false,
    };
    hook_engine::rules::parse_source(&src)
        .map_err(|e| format!("cannot translate: {}", e.join("; ")))?;
    names.insert(name.clone());
    Ok(ImportedRule {
        name,
        from: Location {
            event: event.to_string(),
            group: 0,
            handler: 0,
        },
        toml,
        sync: !background,
        timeout_secs: timeout,
        notes,
    })
}

fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// Removes the handlers at `locs` from `root`'s hooks, then matcher groups this left empty,
/// then event arrays this left empty, then `hooks` if it became empty.
pub fn remove(root: &mut Map<String, Value>, locs: &[Location]) {
    let Some(hooks) = root.get_mut("hooks").and_then(Value::as_object_mut) else {
        return;
    };
    let events: HashSet<&str> = locs.iter().map(|l| l.event.as_str()).collect();
    for event in events {
        let Some(groups) = hooks.get_mut(event).and_then(Value::as_array_mut) else {
            continue;
        };
        let mut emptied = vec![false; groups.len()];
        for (gi, g) in groups.iter_mut().enumerate() {
            let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) else {
                continue;
            };
            let before = hs.len();
            let mut i = 0;
            hs.retain(|_| {
                let keep = !locs
                    .iter()
                    .any(|l| l.event == event && l.group == gi && l.handler == i);
                i += 1;
                keep
            });
            emptied[gi] = before > 0 && hs.is_empty();
        }
        let mut flags = emptied.into_iter();
        groups.retain(|_| !flags.next().unwrap_or(false));
        if groups.is_empty() {
            hooks.shift_remove(event);
        }
    }
    if hooks.is_empty() {
        root.shift_remove("hooks");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[allow(clippy::needless_pass_by_value)] // tests pass json!() values
    fn tr(v: Value) -> Translation {
        translate(v.as_object().unwrap(), "imported", &HashSet::new())
    }

    #[test]
    fn matchers_if_timeouts_and_async_translate() {
        let t = tr(json!({"hooks": {
            "PreToolUse": [{"matcher": "Bash", "hooks": [
                {"type": "command", "command": "uv run .claude/hooks/pre_tool_use.py", "timeout": 5},
                {"type": "command", "command": "./guard.sh", "if": "Bash(git push *)"}
            ]}],
            "PostToolUse": [{"matcher": "Write|Edit", "hooks": [
                {"type": "command", "command": "$CLAUDE_PROJECT_DIR/.claude/hooks/lint.sh", "onFailure": "block"}
            ]}],
            "Notification": [{"matcher": "permission_prompt", "hooks": [
                {"type": "command", "command": "notify-send hi", "async": true}
            ]}],
            "SessionEnd": [{"hooks": [{"type": "command", "command": "python3 backup.py", "args": ["--all"]}]}]
        }}));
        assert!(t.skipped.is_empty(), "{:?}", t.skipped);
        let names: Vec<&str> = t.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "imported-pretooluse-pre_tool_use",
                "imported-pretooluse-guard",
                "imported-posttooluse-lint",
                "imported-notification-notify-send",
                "imported-sessionend-backup"
            ]
        );
        assert!(t.rules[0].toml.contains("tool = 'Bash'\n"));
        assert!(t.rules[0].toml.contains("timeout = 5\n"));
        assert!(t.rules[0].toml.contains("stdout = \"ignore\"\n"));
        assert!(
            t.rules[1].toml.contains(r"command = '^git\ push( .*)?$'"),
            "{}",
            t.rules[1].toml
        );
        assert!(t.rules[1].toml.contains("timeout = 600\n"));
        assert!(t.rules[2].toml.contains("on_failure = \"block\""));
        assert!(
            t.rules[3]
                .toml
                .contains("field = { 'notification_type' = '^(?:permission_prompt)$' }"),
            "{}",
            t.rules[3].toml
        );
        assert!(t.rules[3].toml.contains("mode = \"background\""));
        assert!(!t.rules[3].sync);
        assert!(
            t.rules[4]
                .toml
                .contains("run = ['python3 backup.py', '--all']")
        );
        assert!(t.rules[4].toml.contains("mode = \"background\""));
        assert_eq!(t.rules[2].from.to_string(), "hooks.PostToolUse[0].hooks[0]");
    }

    #[test]
    fn what_cannot_be_translated_is_reported() {
        let t = tr(json!({"hooks": {
            "Stop": [{"hooks": [
                {"type": "prompt", "prompt": "done?"},
                {"type": "http", "url": "http://127.0.0.1:9/x"},
                {"type": "command", "command": "x", "asyncRewake": true},
                {"type": "command", "command": "/opt/bin/hook-client --event Stop"}
            ]}],
            "PreToolUse": [{"matcher": "Read", "hooks": [
                {"type": "command", "command": "y", "if": "Bash(ls)"},
                {"type": "command", "command": "z", "if": "Glob(weird stuff"}
            ]}],
            "WorktreeCreate": [{"hooks": [{"type": "command", "command": "mk-worktree"}]}]
        }}));
        assert!(t.rules.is_empty());
        assert_eq!(t.ours.len(), 1);
        let whys: Vec<&str> = t.skipped.iter().map(|s| s.why.as_str()).collect();
        assert_eq!(whys.len(), 6, "{whys:?}");
        assert!(whys[0].contains("`prompt` hook"));
        assert!(whys[1].contains("`http` hook"));
        assert!(whys[2].contains("asyncRewake"));
        assert!(whys[3].contains("excludes"));
        assert!(whys[4].contains("not a permission rule"));
        assert!(whys[5].contains("worktree"));
    }

    #[test]
    fn remove_takes_out_exactly_the_translated_entries() {
        let mut root = json!({"model": "x", "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "a"}, {"type": "prompt", "prompt": "p"}]}],
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "b"}]}]
        }});
        let t = tr(root.clone());
        let locs: Vec<Location> = t.rules.iter().map(|r| r.from.clone()).collect();
        remove(root.as_object_mut().unwrap(), &locs);
        assert_eq!(
            root,
            json!({"model": "x", "hooks": {"Stop": [{"hooks": [{"type": "prompt", "prompt": "p"}]}]}})
        );
    }
}
