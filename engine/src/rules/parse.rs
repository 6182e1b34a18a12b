//! Rule files: TOML → compiled [`Rule`]s, with precise errors (`file:line:column: what`).
//!
//! Sources, in priority order: the built-in packs enabled in `hookd.toml` (embedded at build
//! time), `hookd.toml`'s own `[[rule]]` tables, then `rules.d/*.toml` in name order. The other
//! keys of `hookd.toml` are settings: [`crate::settings`] reads them from the same parsed
//! document.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use regex::{Regex, RegexBuilder};

use super::cmdregex::CommandRegex;
use serde::Deserialize;

use globset::{GlobBuilder, GlobSetBuilder};

use super::cond::{Conditions, Facts, OnUnparsed, PathGlobs};
use super::runspec::{CommandSpec, RunKeys, TimeoutSpec};
use super::state::{Counter, Once, Op, RateOf, SessionCond, duration_ms, parse_duration_ms};
use super::{Action, EventFilter, Matcher, Rule, Ruleset};
use crate::events;
use crate::settings::{Location, Settings};

/// Built-in packs: name and TOML text, embedded at build time.
pub const PACKS: &[(&str, &str)] = &[
    ("git", include_str!("../../../packs/git.toml")),
    ("filesystem", include_str!("../../../packs/filesystem.toml")),
    ("secrets", include_str!("../../../packs/secrets.toml")),
    (
        "remote-exec",
        include_str!("../../../packs/remote-exec.toml"),
    ),
    ("database", include_str!("../../../packs/database.toml")),
    ("system", include_str!("../../../packs/system.toml")),
    ("shell", include_str!("../../../packs/shell.toml")),
    ("files", include_str!("../../../packs/files.toml")),
    ("cloud", include_str!("../../../packs/cloud.toml")),
    ("infra", include_str!("../../../packs/infra.toml")),
    ("containers", include_str!("../../../packs/containers.toml")),
];

/// Packs enabled when `hookd.toml` does not say: all of them.
pub(crate) const DEFAULT_PACKS: &[&str] = &[
    "git",
    "filesystem",
    "secrets",
    "remote-exec",
    "database",
    "system",
    "shell",
    "files",
    "cloud",
    "infra",
    "containers",
];

/// Consecutive Stop/SubagentStop blocks a rule may cause before the loop guard lets one through.
pub(crate) const DEFAULT_MAX_STOP_BLOCKS: u32 = 3;

/// The largest compiled regex, in bytes: bounds memory and build time on hostile rules.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One rule file's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// A file path, or `pack:<name>`.
    pub name: String,
    /// The TOML text.
    pub text: String,
    /// Whether daemon settings (every key but `[[rule]]`, [`crate::settings`]) may appear
    /// (hookd.toml only).
    pub is_main: bool,
}

/// The result of loading every source.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The compiled ruleset (rules from sources that loaded cleanly).
    pub ruleset: Ruleset,
    /// Settings from hookd.toml ([`crate::settings`]); with errors in it, the settings that
    /// did validate (a key with an error keeps its default).
    pub settings: Settings,
    /// Every problem found, as `source:line:column: message`.
    pub errors: Vec<String>,
    /// The user's files read (hookd.toml first, then rules.d in order), with their text: what
    /// `crate::lastgood` saves when they loaded without errors.
    pub files: Vec<Source>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    event: Option<OneOrMany>,
    tool: Option<String>,
    command: Option<String>,
    path: Option<OneOrMany>,
    outside_project: Option<bool>,
    build_output: Option<bool>,
    write: Option<bool>,
    redirect: Option<bool>,
    clobber: Option<bool>,
    to_terminal: Option<bool>,
    piped_from: Option<String>,
    fact: Option<OneOrMany>,
    content: Option<String>,
    prompt: Option<String>,
    field: Option<BTreeMap<String, String>>,
    unless: Option<UnlessSpec>,
    on_unparsed: Option<String>,
    session: Option<SessionSpec>,
    max_blocks: Option<u32>,
    action: String,
    reason: Option<String>,
    context: Option<String>,
    // The `run` action's keys (see `runspec`).
    run: Option<CommandSpec>,
    mode: Option<String>,
    timeout: Option<TimeoutSpec>,
    priority: Option<i32>,
    env: Option<BTreeMap<String, String>>,
    pass_env: Option<Vec<String>>,
    retries: Option<u32>,
    on_failure: Option<String>,
    stdout: Option<String>,
    // The `env` action's key.
    files: Option<OneOrMany>,
}

/// `[rule.session]`: conditions on the session's history.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionSpec {
    read_before_edit: Option<bool>,
    edited_since: Option<EditedSinceSpec>,
    rate: Option<RateSpec>,
    counters: Option<BTreeMap<String, String>>,
    once: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditedSinceSpec {
    path: OneOrMany,
    command: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSpec {
    max: u64,
    window: TimeoutSpec,
    of: Option<String>,
}

fn session_cond(spec: SessionSpec) -> Result<SessionCond, String> {
    let edited_since = spec
        .edited_since
        .map(|e| -> Result<_, String> {
            let paths = list(Some(e.path)).unwrap_or_default();
            Ok((
                globs(&paths)?,
                command_regex("session.edited_since.command", &e.command)?,
            ))
        })
        .transpose()?;
    let rate = spec
        .rate
        .map(|r| -> Result<_, String> {
            let window = match &r.window {
                TimeoutSpec::Secs(secs) => std::time::Duration::try_from_secs_f64(*secs)
                    .ok()
                    .and_then(duration_ms),
                TimeoutSpec::Text(t) => parse_duration_ms(t),
            }
            .ok_or_else(|| {
                let shown = match &r.window {
                    TimeoutSpec::Secs(secs) => secs.to_string(),
                    TimeoutSpec::Text(t) => format!("{t:?}"),
                };
                format!(
                    "bad `rate.window` {shown}: use {}, more than 0",
                    hook_protocol::duration::EXAMPLES
                )
            })?;
            let of = match r.of.as_deref() {
                None | Some("tool") => RateOf::Tool,
                Some("rule") => RateOf::Rule,
                Some(o) => {
                    return Err(format!(
                        "bad `rate.of` {o:?}: expected \"tool\" or \"rule\""
                    ));
                }
            };
            Ok((r.max, window, of))
        })
        .transpose()?;
    let mut counters = Vec::new();
    for (name, cmp) in spec.counters.unwrap_or_default() {
        let counter = Counter::parse(&name)
            .ok_or_else(|| format!("unknown counter {name:?} (counters: {})", Counter::NAMES))?;
        let (op, value) = Op::parse_comparison(&cmp).ok_or_else(|| {
            format!("bad comparison {cmp:?} for counter {name}: use e.g. \">= 3\"")
        })?;
        counters.push((counter, op, value));
    }
    let once = match spec.once.as_deref() {
        None => None,
        Some("session") => Some(Once::Session),
        Some("project-day") => Some(Once::ProjectDay),
        Some(o) => {
            return Err(format!(
                "bad `once` {o:?}: expected \"session\" or \"project-day\""
            ));
        }
    };
    Ok(SessionCond {
        read_before_edit: spec.read_before_edit.unwrap_or(false),
        edited_since,
        rate,
        counters,
        once,
    })
}

/// The conditions an `unless` table may hold (the same as a rule's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlessSpec {
    tool: Option<String>,
    command: Option<String>,
    path: Option<OneOrMany>,
    outside_project: Option<bool>,
    build_output: Option<bool>,
    write: Option<bool>,
    redirect: Option<bool>,
    clobber: Option<bool>,
    to_terminal: Option<bool>,
    piped_from: Option<String>,
    fact: Option<OneOrMany>,
    content: Option<String>,
    prompt: Option<String>,
    field: Option<BTreeMap<String, String>>,
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn at(source: &Source, span: Option<Range<usize>>, msg: &str) -> String {
    match span {
        Some(s) => {
            let (l, c) = line_col(&source.text, s.start);
            format!("{}:{l}:{c}: {msg}", source.name)
        }
        None => format!("{}: {msg}", source.name),
    }
}

/// Parses one source into compiled rules (and settings, for hookd.toml).
///
/// # Errors
///
/// Every problem found, each as `source:line:column: message`; a source with any error
/// contributes no rules.
pub fn parse_source(source: &Source) -> Result<(Vec<Rule>, Option<Settings>), Vec<String>> {
    let (rules, settings, errors) = read_source(source);
    if errors.is_empty() {
        Ok((rules, settings))
    } else {
        Err(errors)
    }
}

/// Parses one source: its rules (none when it has any error), hookd.toml's settings (with
/// errors, those that validated), and every problem found.
fn read_source(source: &Source) -> (Vec<Rule>, Option<Settings>, Vec<String>) {
    let mut doc = match toml::de::DeTable::parse(&source.text) {
        Ok(doc) => doc,
        Err(e) => {
            let msg = e.message().trim().to_string();
            let settings = source.is_main.then(|| Settings::defaults_for(&source.name));
            return (Vec::new(), settings, vec![at(source, e.span(), &msg)]);
        }
    };
    // Every key but `rule` is a setting: hookd.toml's, read by the settings module; refused
    // elsewhere.
    let (settings, mut errors) = if source.is_main {
        let (s, e) = crate::settings::parse(&source.name, &source.text, doc.get_ref());
        (Some(s), e)
    } else {
        let e = crate::settings::misplaced(&source.name, &source.text, doc.get_ref());
        (None, e)
    };
    let entry = doc.get_mut().remove_entry("rule");
    let all_tables = entry.as_ref().is_some_and(|(_, v)| match v.get_ref() {
        toml::de::DeValue::Array(a) => a
            .into_iter()
            .all(|t| matches!(t.get_ref(), toml::de::DeValue::Table(_))),
        _ => false,
    });
    let mut rules = Vec::new();
    match entry {
        Some((_, v)) if !all_tables => {
            // What a rule file holds for the rules: `[[rule]]` tables. (The other keys of
            // hookd.toml are settings, read by `crate::settings`, and refused in other files.)
            errors.push(at(
                source,
                Some(v.span()),
                "`rule` must be `[[rule]]` tables (an array of tables), one per rule",
            ));
        }
        Some((_, v)) => {
            // Each `[[rule]]` table is read and compiled on its own, so that every rule's errors
            // are reported at once, in file order (serde stops at a table's first error).
            let toml::de::DeValue::Array(tables) = v.into_inner() else {
                unreachable!("checked above")
            };
            for t in tables {
                let Some((spec, misspelled)) = read_rule(source, t, &mut errors) else {
                    continue;
                };
                let span = spec.span();
                match compile(spec.into_inner(), &source.name) {
                    Ok(r) if !misspelled => rules.push(r),
                    Ok(_) => {}
                    Err(e) => errors.push(at(source, Some(span), &e)),
                }
            }
        }
        None => {}
    }
    if !errors.is_empty() {
        rules.clear();
    }
    (rules, settings, errors)
}

/// Reads one `[[rule]]` table. Every unknown key in it is an error of its own, with the
/// closest field name when one is close (`unknown field `comand` (did you mean `command`?)`);
/// the rule is then read as if spelled that way. `None` on any other problem (the first is
/// reported); else the rule, and whether a field was misspelled.
fn read_rule(
    source: &Source,
    table: toml::Spanned<toml::de::DeValue<'_>>,
    errors: &mut Vec<String>,
) -> Option<(toml::Spanned<RuleSpec>, bool)> {
    let span = table.span();
    let toml::de::DeValue::Table(mut t) = table.into_inner() else {
        return None;
    };
    let named = match t.get("name").map(toml::Spanned::get_ref) {
        Some(toml::de::DeValue::String(n)) => format!("rule `{n}`: "),
        _ => String::new(),
    };
    let fields = fields_of::<RuleSpec>();
    let unknown: Vec<_> = t
        .keys()
        .filter(|k| !fields.contains(&k.get_ref().as_ref()))
        .cloned()
        .collect();
    for key in &unknown {
        let k: &str = key.get_ref().as_ref();
        let suggestion = crate::settings::did_you_mean(k, fields.iter().copied());
        let text = match suggestion {
            Some(s) => format!("unknown field `{k}` (did you mean `{s}`?)"),
            None => format!(
                "unknown field `{k}` (a rule's fields: {})",
                fields.join(", ")
            ),
        };
        errors.push(at(source, Some(key.span()), &format!("{named}{text}")));
        // Read on as if spelled right, so the rule's other problems show in this round too.
        if let Some(value) = t.remove(key)
            && let Some(s) = suggestion
            && !t.contains_key(s)
        {
            t.insert(toml::Spanned::new(key.span(), s.into()), value);
        }
    }
    let value = toml::Spanned::new(span.clone(), toml::de::DeValue::Table(t));
    match RuleSpec::deserialize(toml::de::ValueDeserializer::from(value)) {
        Ok(spec) => Some((toml::Spanned::new(span, spec), !unknown.is_empty())),
        Err(e) => {
            errors.push(at(
                source,
                e.span(),
                &format!("{named}{}", e.message().trim()),
            ));
            None
        }
    }
}

/// The field names serde's derive gives struct `T`.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// Carries the fields out of `deserialize_struct`.
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("fields")
        }
    }
    impl std::error::Error for Fields {}
    impl serde::de::Error for Fields {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Self(&[])
        }
    }
    struct Probe;
    impl<'de> serde::Deserializer<'de> for Probe {
        type Error = Fields;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Fields(f)) => f,
        Ok(_) => &[],
    }
}

/// The text of the `[[rule]]` table named `name` in a rule file (with the comment lines right
/// above it), as written: what `hookctl rules NAME` shows. `None` when the file does not
/// parse or has no such rule.
#[must_use]
pub fn rule_definition(text: &str, name: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        name: String,
    }
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        rule: Vec<toml::Spanned<toml::Table>>,
    }
    let file: File = toml::from_str(text).ok()?;
    let spanned = file.rule.iter().find(|r| {
        toml::Value::Table(r.get_ref().clone())
            .try_into::<Named>()
            .is_ok_and(|n| n.name.trim() == name)
    })?;
    // The table's header is where its span starts, or the last one before its keys; the
    // comments right above it belong to it.
    let span = spanned.span();
    let upto = (span.start + "[[rule]]".len()).min(text.len());
    let header = text
        .get(..upto)
        .and_then(|t| t.rfind("[[rule]]"))
        .unwrap_or(span.start);
    let mut start = text[..header].rfind('\n').map_or(0, |i| i + 1);
    while start > 0 {
        let prev = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        if !text[prev..start].trim_start().starts_with('#') {
            break;
        }
        start = prev;
    }
    let end = text[span.end.min(text.len())..]
        .find("\n[[")
        .map_or(text.len(), |i| span.end + i + 1);
    Some(text[start..end].trim_end().to_owned())
}

fn regex(what: &str, pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("bad `{what}` regex {pattern:?}: {e}"))
}

/// A regex matched against simple commands' texts, which span lines (heredoc code fed to an
/// interpreter, multi-line quoted arguments): `.` matches newlines too, so `.*` sees the
/// text whole. `(?-s)` in a pattern turns it off. Its classes are ASCII ([`CommandRegex`]).
pub(super) fn command_regex(what: &str, pattern: &str) -> Result<CommandRegex, String> {
    CommandRegex::new(pattern, REGEX_SIZE_LIMIT)
        .map_err(|e| format!("bad `{what}` regex {pattern:?}: {e}"))
}

thread_local! {
    /// Glob lists compiled during one [`compile_sources`] (rules and packs repeat lists:
    /// `unless` exemptions, the secret paths of the file tools and of Bash), so that each is
    /// compiled and kept once. `None` outside a load.
    static GLOB_CACHE: RefCell<Option<HashMap<Vec<String>, Arc<PathGlobs>>>> =
        const { RefCell::new(None) };
}

/// Keeps [`GLOB_CACHE`] for the load it is made for and empties it after.
struct GlobCacheScope;

impl GlobCacheScope {
    fn enter() -> Self {
        GLOB_CACHE.with_borrow_mut(|c| *c = Some(HashMap::new()));
        Self
    }
}

impl Drop for GlobCacheScope {
    fn drop(&mut self) {
        GLOB_CACHE.with_borrow_mut(|c| *c = None);
    }
}

/// The compiled form of a `path` list, shared with any identical list of the same load.
fn shared_globs(patterns: &[String]) -> Result<Arc<PathGlobs>, String> {
    if let Some(g) = GLOB_CACHE.with_borrow(|c| c.as_ref().and_then(|c| c.get(patterns).cloned())) {
        return Ok(g);
    }
    let g = Arc::new(globs(patterns)?);
    GLOB_CACHE.with_borrow_mut(|c| {
        if let Some(c) = c {
            c.insert(patterns.to_vec(), Arc::clone(&g));
        }
    });
    Ok(g)
}

fn globs(patterns: &[String]) -> Result<PathGlobs, String> {
    let mut absolute = GlobSetBuilder::new();
    let mut relative = GlobSetBuilder::new();
    let mut home = GlobSetBuilder::new();
    let mut home_itself = false;
    let mut absolute_dirs = Vec::new();
    for p in patterns {
        if matches!(p.as_str(), "~" | "~/") {
            home_itself = true;
            continue;
        }
        let (set, pattern) = if let Some(rest) = p.strip_prefix("~/") {
            (&mut home, rest)
        } else if p.starts_with('/') {
            // The directory its literal components name, up to the first with a wildcard.
            let dir: std::path::PathBuf = std::path::Path::new(p)
                .components()
                .take_while(|c| {
                    !c.as_os_str()
                        .to_string_lossy()
                        .contains(['*', '?', '[', '{'])
                })
                .collect();
            absolute_dirs.push(dir);
            // `/**/x` and `**/x` match the same absolute paths (targets are absolute), and
            // globset matches the latter by its basename, extension or suffix instead of
            // compiling it into a regex (each `/**/*.ext` was one regex of its own).
            (
                &mut absolute,
                p.strip_prefix('/')
                    .filter(|r| r.starts_with("**/"))
                    .unwrap_or(p),
            )
        } else {
            (&mut relative, p.trim_start_matches("./"))
        };
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("bad `path` glob {p:?}: {e}"))?;
        set.add(glob);
    }
    let build = |b: GlobSetBuilder| b.build().map_err(|e| format!("bad `path` globs: {e}"));
    let mut places: Vec<std::path::PathBuf> = Vec::new();
    for d in &absolute_dirs {
        if d.as_os_str() != "/" && !places.contains(d) {
            places.push(d.clone());
        }
    }
    Ok(PathGlobs {
        patterns: patterns.to_vec(),
        absolute: build(absolute)?,
        relative: build(relative)?,
        home: build(home)?,
        home_itself,
        absolute_dirs,
        places,
    })
}

fn list(v: Option<OneOrMany>) -> Option<Vec<String>> {
    v.map(|v| match v {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The condition keys of a rule or its `unless` table.
struct CondKeys<'a> {
    tool: Option<&'a str>,
    command: Option<&'a str>,
    path: Option<OneOrMany>,
    outside_project: Option<bool>,
    build_output: Option<bool>,
    write: Option<bool>,
    redirect: Option<bool>,
    clobber: Option<bool>,
    to_terminal: Option<bool>,
    piped_from: Option<&'a str>,
    fact: Option<OneOrMany>,
    content: Option<&'a str>,
    prompt: Option<&'a str>,
    field: Option<BTreeMap<String, String>>,
}

fn conditions(keys: CondKeys<'_>) -> Result<Conditions, String> {
    let CondKeys {
        tool,
        command,
        path,
        outside_project,
        build_output,
        write,
        redirect,
        clobber,
        to_terminal,
        piped_from,
        fact,
        content,
        prompt,
        field,
    } = keys;
    let tool = tool
        .map(Matcher::new)
        .transpose()
        .map_err(|e| format!("bad `tool` matcher: {e}"))?;
    let command = command.map(|p| command_regex("command", p)).transpose()?;
    let piped_from = piped_from
        .map(|p| command_regex("piped_from", p))
        .transpose()?;
    let facts = list(fact)
        .map(|names| Facts::parse(&names).map_err(|e| format!("bad `fact`: {e}")))
        .transpose()?;
    let content = content.map(|p| regex("content", p)).transpose()?;
    let prompt = prompt.map(|p| regex("prompt", p)).transpose()?;
    let path = list(path).map(|p| shared_globs(&p)).transpose()?;
    let mut fields = Vec::new();
    for (k, v) in field.unwrap_or_default() {
        let keys: Vec<String> = k.split('.').map(str::to_string).collect();
        if keys.iter().any(String::is_empty) {
            return Err(format!(
                "bad `field` path {k:?}: use dotted keys like tool_input.url"
            ));
        }
        fields.push((keys, regex(&format!("field.{k}"), &v)?));
    }
    Ok(Conditions {
        tool,
        command,
        path,
        outside_project,
        build_output,
        write,
        redirect,
        clobber,
        to_terminal,
        piped_from,
        facts,
        content,
        prompt,
        field: fields,
    })
}

fn compile(spec: RuleSpec, source: &str) -> Result<Rule, String> {
    let name = spec.name.trim().to_string();
    if name.is_empty() {
        return Err("rule `name` is empty".into());
    }
    let ctx = |m: String| format!("rule `{name}`: {m}");
    let action = Action::parse(&spec.action).ok_or_else(|| {
        ctx(format!(
            "unknown action {:?} (expected allow, deny, ask, defer, block, context, warn, log, run or env)",
            spec.action
        ))
    })?;
    let read_before_edit = spec
        .session
        .as_ref()
        .is_some_and(|s| s.read_before_edit == Some(true));
    let tool_like = read_before_edit
        || spec.tool.is_some()
        || spec.command.is_some()
        || spec.path.is_some()
        || spec.outside_project.is_some()
        || spec.build_output.is_some()
        || spec.write.is_some()
        || spec.redirect.is_some()
        || spec.clobber.is_some()
        || spec.to_terminal.is_some()
        || spec.piped_from.is_some()
        || spec.fact.is_some()
        || spec.content.is_some();
    let event_names: Vec<String> = match list(spec.event) {
        Some(v) => v,
        None if tool_like => vec!["PreToolUse".into()],
        None if action == Action::Env => vec!["SessionStart".into()],
        None if spec.prompt.is_some() => vec!["UserPromptSubmit".into()],
        None => {
            return Err(ctx(
                "`event` is required (a name, a list of names, or \"*\")".into(),
            ));
        }
    };
    let events = if event_names.iter().any(|e| e == "*") {
        if !matches!(
            action,
            Action::Context | Action::Warn | Action::Log | Action::Run
        ) {
            return Err(ctx(format!(
                "`{action}` cannot apply to every event (\"*\"); name the events it is for"
            )));
        }
        EventFilter::All
    } else {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for e in &event_names {
            match events::index(e) {
                Some(i) => {
                    if let Some(why) = action.unsupported_on(&events::EVENTS[i]) {
                        return Err(ctx(why));
                    }
                    known.push(i);
                }
                None if action == Action::Log => unknown.push(e.clone()),
                None => {
                    let hint =
                        crate::settings::did_you_mean(e, events::EVENTS.iter().map(|s| s.name))
                            .map(|s| format!(" (did you mean {s}?)"))
                            .unwrap_or_default();
                    return Err(ctx(format!("unknown event {e:?}{hint}")));
                }
            }
        }
        EventFilter::Some { known, unknown }
    };
    let run_keys = RunKeys {
        run: spec.run,
        mode: spec.mode,
        timeout: spec.timeout,
        priority: spec.priority,
        env: spec.env,
        pass_env: spec.pass_env,
        retries: spec.retries,
        on_failure: spec.on_failure,
        stdout: spec.stdout,
    };
    let run = if action == Action::Run {
        if source.starts_with("pack:") {
            return Err(ctx("built-in packs never run commands".into()));
        }
        Some(std::sync::Arc::new(run_keys.compile().map_err(&ctx)?))
    } else if run_keys.any() {
        return Err(ctx(
            "`run`, `mode`, `timeout`, `priority`, `env`, `pass_env`, `retries`, `on_failure` and `stdout` belong to `action = \"run\"` rules".into(),
        ));
    } else {
        None
    };
    let env_files = if action == Action::Env {
        if source.starts_with("pack:") {
            return Err(ctx("built-in packs never load environment files".into()));
        }
        let files = list(spec.files).unwrap_or_else(|| vec![".env".into()]);
        if files.is_empty() {
            return Err(ctx("`files` is empty: name the dotenv files to load".into()));
        }
        for f in &files {
            let p = Path::new(f);
            if f.is_empty()
                || p.is_absolute()
                || p.components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(ctx(format!(
                    "bad `files` entry {f:?}: a path inside the project, like \".env\" or \"config/.env.local\" (no `..`, not absolute)"
                )));
            }
        }
        Some(files.into())
    } else if spec.files.is_some() {
        return Err(ctx("`files` belongs to `action = \"env\"` rules".into()));
    } else {
        None
    };
    if matches!(action, Action::Context) && spec.context.is_none() && spec.reason.is_none() {
        return Err(ctx("a `context` rule needs `context` text".into()));
    }
    if matches!(action, Action::Warn) && spec.context.is_none() && spec.reason.is_none() {
        return Err(ctx("a `warn` rule needs `reason` text".into()));
    }
    let on_unparsed = match spec.on_unparsed.as_deref() {
        None | Some("match") => OnUnparsed::Match,
        Some("ignore") => OnUnparsed::Ignore,
        Some(other) => {
            return Err(ctx(format!(
                "bad `on_unparsed` {other:?}: expected \"match\" or \"ignore\""
            )));
        }
    };
    let session = spec
        .session
        .map(session_cond)
        .transpose()
        .map_err(|e| ctx(format!("in `[rule.session]`: {e}")))?
        .unwrap_or_default();
    if read_before_edit && !matches!(&events, EventFilter::Some { known, .. } if known.contains(&0))
    {
        return Err(ctx("`read_before_edit` applies to PreToolUse events".into()));
    }
    let cond = conditions(CondKeys {
        tool: spec.tool.as_deref(),
        command: spec.command.as_deref(),
        path: spec.path,
        outside_project: spec.outside_project,
        build_output: spec.build_output,
        write: spec.write,
        redirect: spec.redirect,
        clobber: spec.clobber,
        to_terminal: spec.to_terminal,
        piped_from: spec.piped_from.as_deref(),
        fact: spec.fact,
        content: spec.content.as_deref(),
        prompt: spec.prompt.as_deref(),
        field: spec.field,
    })
    .map_err(ctx)?;
    let unless = spec
        .unless
        .map(|u| {
            conditions(CondKeys {
                tool: u.tool.as_deref(),
                command: u.command.as_deref(),
                path: u.path,
                outside_project: u.outside_project,
                build_output: u.build_output,
                write: u.write,
                redirect: u.redirect,
                clobber: u.clobber,
                to_terminal: u.to_terminal,
                piped_from: u.piped_from.as_deref(),
                fact: u.fact,
                content: u.content.as_deref(),
                prompt: u.prompt.as_deref(),
                field: u.field,
            })
        })
        .transpose()
        .map_err(|e| ctx(format!("in `unless`: {e}")))?;
    Ok(Rule {
        name,
        source: source.to_string(),
        events,
        cond,
        unless,
        on_unparsed,
        session,
        max_blocks: spec.max_blocks.unwrap_or(DEFAULT_MAX_STOP_BLOCKS),
        action,
        reason: spec.reason,
        context: spec.context,
        run,
        env_files,
        hits: AtomicU64::new(0),
    })
}

/// Why a rule file or directory may not be trusted: written by someone else, it could approve
/// commands. It must be owned by us or root and writable by neither others nor the group,
/// except the group when it is our own private group (the "user private group" scheme: named
/// like us, our primary group, no other members). Symlinks are followed: their target is what
/// counts.
fn foreign_writer(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    let me = hook_protocol::private::euid();
    if m.uid() != me && m.uid() != 0 {
        return Some(format!(
            "{}: refusing rules owned by uid {} (not you, uid {me}); chown it or remove it",
            path.display(),
            m.uid()
        ));
    }
    if m.mode() & 0o002 != 0 {
        return Some(format!(
            "{}: refusing rules anyone can write (mode {:o}); run `chmod o-w {}`",
            path.display(),
            m.mode() & 0o7777,
            path.display()
        ));
    }
    if m.mode() & 0o020 != 0 && !hook_protocol::private::private_group(m.gid()) {
        return Some(format!(
            "{}: refusing rules other members of group {} can write (mode {:o}); run `chmod g-w {}`",
            path.display(),
            m.gid(),
            m.mode() & 0o7777,
            path.display()
        ));
    }
    None
}

fn read_sources(config_dir: &Path, errors: &mut Vec<String>) -> (Option<Source>, Vec<Source>) {
    let read = |path: PathBuf, is_main: bool, errors: &mut Vec<String>| {
        if let Some(why) = foreign_writer(&path) {
            errors.push(why);
            return None;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(Source {
                name: path.display().to_string(),
                text,
                is_main,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                errors.push(format!("{}: cannot read: {e}", path.display()));
                None
            }
        }
    };
    let main = read(
        config_dir.join(hook_protocol::paths::CONFIG_FILE),
        true,
        errors,
    );
    let rules_dir = config_dir.join(hook_protocol::paths::RULES_DIR);
    if let Some(why) = foreign_writer(&rules_dir) {
        errors.push(why);
        return (main, Vec::new());
    }
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&rules_dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            errors.push(format!(
                "{}: cannot read directory: {e}",
                rules_dir.display()
            ));
            Vec::new()
        }
    };
    files.sort();
    let extra = files
        .into_iter()
        .filter_map(|p| read(p, false, errors))
        .collect();
    (main, extra)
}

/// Loads hookd.toml, the packs it enables and rules.d/*.toml from `config_dir`.
///
/// Sources with errors contribute no rules; their errors are reported. Rule names must be
/// unique across all sources.
#[must_use]
pub fn load(config_dir: &Path) -> LoadReport {
    let mut errors = Vec::new();
    let (main, extra) = read_sources(config_dir, &mut errors);
    compile_sources(main, extra, errors)
}

/// Compiles sources read before (the last good set hookd saved, `crate::lastgood`): the one
/// marked `is_main` is hookd.toml, the others rules.d files in the order given.
#[must_use]
pub fn load_sources(sources: Vec<Source>) -> LoadReport {
    let (main, extra): (Vec<Source>, Vec<Source>) = sources.into_iter().partition(|s| s.is_main);
    compile_sources(main.into_iter().next(), extra, Vec::new())
}

/// Compiles hookd.toml (`main`), the packs it enables and the rules.d files (`extra`);
/// `errors` are those found while reading them.
fn compile_sources(
    main: Option<Source>,
    extra: Vec<Source>,
    mut errors: Vec<String>,
) -> LoadReport {
    let _globs = GlobCacheScope::enter();
    let files: Vec<Source> = main.iter().chain(&extra).cloned().collect();
    let mut settings = Settings::default();
    let mut main_rules = Vec::new();
    if let Some(src) = &main {
        let (rules, s, e) = read_source(src);
        main_rules = rules;
        settings = s.unwrap_or_default();
        errors.extend(e);
    }
    // (name, where hookd.toml lists it; `None`: enabled by default).
    let enabled_packs: Vec<(String, Option<Location>)> = match &settings.packs {
        Some(packs) => packs
            .iter()
            .map(|p| (p.value.clone(), Some(p.at)))
            .collect(),
        None => DEFAULT_PACKS
            .iter()
            .map(|s| ((*s).to_string(), None))
            .collect(),
    };
    let settings_error = |at: Option<Location>, msg: &str| match at {
        Some(at) => settings.error_at(at, msg),
        None => format!("{}: {msg}", hook_protocol::paths::CONFIG_FILE),
    };
    let mut all = Vec::new();
    let mut sources = Vec::new();
    for (i, (name, at)) in enabled_packs.iter().enumerate() {
        let Some((_, text)) = PACKS.iter().find(|(n, _)| n == name) else {
            let known: Vec<_> = PACKS.iter().map(|(n, _)| *n).collect();
            let hint = crate::settings::did_you_mean(name, known.iter().copied())
                .map(|k| format!(" (did you mean {k:?}?)"))
                .unwrap_or_default();
            errors.push(settings_error(
                *at,
                &format!(
                    "`packs`: unknown pack {name:?}{hint}; built-in packs: {}",
                    known.join(", ")
                ),
            ));
            continue;
        };
        if enabled_packs[..i].iter().any(|(n, _)| n == name) {
            errors.push(settings_error(
                *at,
                &format!("`packs`: {name:?} is listed twice"),
            ));
            continue;
        }
        let src = Source {
            name: format!("pack:{name}"),
            text: (*text).to_string(),
            is_main: false,
        };
        match parse_source(&src) {
            Ok((rules, _)) => {
                all.extend(rules);
                sources.push(src.name);
            }
            Err(e) => errors.extend(e),
        }
    }
    if let Some(src) = main {
        all.extend(main_rules);
        sources.push(src.name);
    }
    for src in extra {
        match parse_source(&src) {
            Ok((rules, _)) => {
                all.extend(rules);
                sources.push(src.name);
            }
            Err(e) => errors.extend(e),
        }
    }
    // A user rule named like a pack rule replaces it; `disable_rules` turns pack rules off.
    let user_names: HashSet<String> = all
        .iter()
        .filter(|r| !r.source.starts_with("pack:"))
        .map(|r| r.name.clone())
        .collect();
    let pack_names: HashMap<String, String> = all
        .iter()
        .filter(|r| r.source.starts_with("pack:"))
        .map(|r| (r.name.clone(), r.source.clone()))
        .collect();
    for d in &settings.disable_rules {
        if !pack_names.contains_key(&d.value) {
            let hint =
                crate::settings::did_you_mean(&d.value, pack_names.keys().map(String::as_str))
                    .map(|k| format!(" (did you mean {k:?}?)"))
                    .unwrap_or_default();
            errors.push(settings_error(
                Some(d.at),
                &format!(
                    "`disable_rules` names {:?}, which no enabled pack has{hint}",
                    d.value
                ),
            ));
        }
    }
    all.retain(|r| {
        !(r.source.starts_with("pack:")
            && (user_names.contains(&r.name)
                || settings.disable_rules.iter().any(|d| d.value == r.name)))
    });
    let mut seen = HashSet::new();
    let mut unique = Vec::with_capacity(all.len());
    for r in all {
        if seen.insert(r.name.clone()) {
            unique.push(r);
        } else {
            errors.push(format!(
                "{}: rule `{}` is defined twice; rule names must be unique (this one is ignored)",
                r.source, r.name
            ));
        }
    }
    LoadReport {
        ruleset: Ruleset::new(unique, sources),
        settings,
        errors,
        files,
    }
}
