//! Reading the settings out of hookd.toml's spanned tree, every problem at its line and column.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use hook_protocol::duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{
    HttpSettings, Located, Location, MAX_AUTH_TIMEOUT, MAX_CONNECTION_COUNT, MAX_DURATION,
    MAX_MAX_BACKGROUND, MAX_MAX_LIVE, MAX_RETRY_BACKOFF, MIN_DURATION, MIN_EMERGENCY_JOURNAL,
    RedactSettings, RunSettings, ServerSettings, SessionSettings, Settings, StoreSettings,
    Synchronous, TOP_KEYS,
};
use crate::redact::{ExtraPattern, RedactConfig, Redactor};

/// The key of hookd.toml (and of rule files) that is not a setting.
const RULE_KEY: &str = "rule";

const STORE_KEYS: &[&str] = &["synchronous", "max_age", "max_size", "emergency_journal"];
const SESSION_KEYS: &[&str] = &["idle_ttl", "max_live"];
const SERVER_KEYS: &[&str] = &["max_connections", "idle_timeout"];
const HTTP_KEYS: &[&str] = &[
    "listen",
    "allow_non_loopback",
    "auth_timeout",
    "max_unauthenticated",
    "max_connections",
];
const RUN_KEYS: &[&str] = &["max_background", "retry_backoff"];
const REDACT_KEYS: &[&str] = &["enabled", "disabled_kinds", "extra", "extra_keys"];
const REDACT_EXTRA_KEYS: &[&str] = &["kind", "pattern"];

/// Reads the settings of hookd.toml (`file`, whose text is `text`) from its parsed `doc`;
/// `[[rule]]` tables are left to the rules. Returns the settings (a key with an error keeps
/// its default) and every problem, as `file:line:column: what`, in the file's order.
#[must_use]
pub fn parse(file: &str, text: &str, doc: &DeTable<'_>) -> (Settings, Vec<String>) {
    let mut r = Reader {
        file,
        text,
        errors: Vec::new(),
        locations: BTreeMap::new(),
    };
    let mut s = Settings::defaults_for(file);
    for (key, value) in doc {
        let name: &str = key.get_ref();
        if name == RULE_KEY {
            continue;
        }
        r.locate(name, key.span());
        match name {
            "packs" => s.packs = r.strings(&Key::top(key), value),
            "disable_rules" => {
                if let Some(v) = r.strings(&Key::top(key), value) {
                    s.disable_rules = v;
                }
            }
            "store" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.store = store(&mut r, t);
                }
            }
            "session" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.session = session(&mut r, t);
                }
            }
            "server" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.server = server(&mut r, t);
                }
            }
            "http" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.http = http(&mut r, t);
                }
            }
            "run" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.run = run(&mut r, t);
                }
            }
            "redact" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.redact = redact(&mut r, t, value.span());
                }
            }
            _ => r.unknown(None, key),
        }
    }
    s.locations = r.locations;
    r.errors.sort_by_key(|(at, _)| *at);
    (s, r.errors.into_iter().map(|(_, e)| e).collect())
}

/// [`parse`] from the text: a TOML syntax error is the only error then.
#[must_use]
pub fn parse_text(file: &str, text: &str) -> (Settings, Vec<String>) {
    match DeTable::parse(text) {
        Ok(doc) => parse(file, text, doc.get_ref()),
        Err(e) => {
            let r = Reader {
                file,
                text,
                errors: Vec::new(),
                locations: BTreeMap::new(),
            };
            let msg = e.message().trim().to_string();
            let at = e
                .span()
                .map_or_else(|| format!("{file}: "), |s| r.prefix(s.start));
            (Settings::defaults_for(file), vec![format!("{at}{msg}")])
        }
    }
}

/// One error per top-level key of a rule file other than hookd.toml (`file`, text `text`)
/// that is not `rule`: settings belong in hookd.toml, anything else is unknown.
#[must_use]
pub fn misplaced(file: &str, text: &str, doc: &DeTable<'_>) -> Vec<String> {
    let r = Reader {
        file,
        text,
        errors: Vec::new(),
        locations: BTreeMap::new(),
    };
    doc.iter()
        .filter(|(k, _)| k.get_ref() != RULE_KEY)
        .map(|(k, _)| {
            let name: &str = k.get_ref();
            let msg = if TOP_KEYS.contains(&name) {
                format!(
                    "`{name}` is a daemon setting: it belongs in hookd.toml (in hookd's \
                     configuration directory); rule files hold only [[rule]] tables"
                )
            } else {
                format!(
                    "unknown key `{name}`{}; rule files hold only [[rule]] tables",
                    hint(did_you_mean(name, [RULE_KEY]))
                )
            };
            format!("{}{msg}", r.prefix(k.span().start))
        })
        .collect()
}

/// The candidate closest to `word` (optimal string alignment distance, case ignored), if it
/// is close enough to be a likely misspelling: at most a third of the word's length apart
/// (at least one edit).
#[must_use]
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let w: Vec<char> = word.to_lowercase().chars().collect();
    let limit = (w.len() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                distance(&w, &c.to_lowercase().chars().collect::<Vec<_>>()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours each count one.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

fn hint(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"))
}

/// Parses a size: `1GiB`, `500MB`, `100M`, `64KiB`, or a number of bytes (`2048`); decimal
/// units are powers of 1000, binary ones (`KiB`, `MiB`, `GiB`, `TiB`) powers of 1024; case
/// ignored. `None` for anything else, 0 included.
#[must_use]
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().ok()?;
    let mult: u64 = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult).filter(|b| *b > 0)
}

/// A key being read: its table (`None`: top level) and its name.
struct Key<'k> {
    section: Option<&'static str>,
    name: &'k str,
}

impl<'k> Key<'k> {
    fn top(key: &'k Spanned<Cow<'_, str>>) -> Self {
        Self {
            section: None,
            name: key.get_ref(),
        }
    }

    fn of(section: &'static str, key: &'k Spanned<Cow<'_, str>>) -> Self {
        Self {
            section: Some(section),
            name: key.get_ref(),
        }
    }

    /// `[store] max_age`, or `packs`.
    fn shown(&self) -> String {
        match self.section {
            Some(s) => format!("[{s}] {}", self.name),
            None => format!("`{}`", self.name),
        }
    }

    /// `store.max_age`, or `packs`.
    fn dotted(&self) -> String {
        match self.section {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// Collects errors (with their offset, to sort them into the file's order) and locations.
struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<(usize, String)>,
    locations: BTreeMap<String, Location>,
}

impl Reader<'_> {
    fn location(&self, offset: usize) -> Location {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Location { line, column }
    }

    /// `file:line:column: `.
    fn prefix(&self, offset: usize) -> String {
        format!("{}:{}: ", self.file, self.location(offset))
    }

    fn error(&mut self, span: &Range<usize>, msg: &str) {
        let e = format!("{}{msg}", self.prefix(span.start));
        self.errors.push((span.start, e));
    }

    fn locate(&mut self, dotted: &str, span: Range<usize>) {
        let at = self.location(span.start);
        self.locations.insert(dotted.to_string(), at);
    }

    /// The value as written in the file.
    fn raw(&self, value: &Spanned<DeValue<'_>>) -> &str {
        self.text.get(value.span()).unwrap_or("").trim()
    }

    /// `[store] max_age = "30 days": <what>`.
    fn bad(&mut self, key: &Key<'_>, value: &Spanned<DeValue<'_>>, what: &str) {
        let msg = format!("{} = {}: {what}", key.shown(), self.raw(value));
        self.error(&value.span(), &msg);
    }

    fn unknown(&mut self, section: Option<(&'static str, &[&str])>, key: &Spanned<Cow<'_, str>>) {
        let name: &str = key.get_ref();
        let msg = match section {
            Some((s, keys)) => format!(
                "unknown key `{name}` in [{s}]{}; [{s}] takes: {}",
                hint(did_you_mean(name, keys.iter().copied())),
                keys.join(", ")
            ),
            None => format!(
                "unknown key `{name}`{}; hookd.toml takes: {}, and [[rule]] tables",
                hint(did_you_mean(
                    name,
                    TOP_KEYS.iter().copied().chain([RULE_KEY])
                )),
                TOP_KEYS.join(", ")
            ),
        };
        self.error(&key.span(), &msg);
    }

    fn table<'t, 'i>(
        &mut self,
        key: &Key<'_>,
        value: &'t Spanned<DeValue<'i>>,
    ) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                let msg = format!(
                    "`{}` must be a table (`[{}]`), not {}",
                    key.name,
                    key.name,
                    other.type_str()
                );
                self.error(&value.span(), &msg);
                None
            }
        }
    }

    /// Visits each key of a section's table: `read` returns false for keys it does not know.
    fn section<'t, 'i>(
        &mut self,
        name: &'static str,
        keys: &[&str],
        table: &'t DeTable<'i>,
        mut read: impl FnMut(&mut Self, &Key<'t>, &'t Spanned<DeValue<'i>>) -> bool,
    ) {
        for (k, v) in table {
            let key = Key::of(name, k);
            self.locate(&key.dotted(), k.span());
            if !read(self, &key, v) {
                self.unknown(Some((name, keys)), k);
            }
        }
    }

    fn boolean(&mut self, key: &Key<'_>, value: &Spanned<DeValue<'_>>) -> Option<bool> {
        let b = value.get_ref().as_bool();
        if b.is_none() {
            self.bad(key, value, "expected true or false");
        }
        b
    }

    fn string<'v>(&mut self, key: &Key<'_>, value: &'v Spanned<DeValue<'_>>) -> Option<&'v str> {
        let s = value.get_ref().as_str();
        if s.is_none() {
            self.bad(key, value, "expected a string");
        }
        s
    }

    fn strings(
        &mut self,
        key: &Key<'_>,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Vec<Located<String>>> {
        let Some(items) = value.get_ref().as_array() else {
            self.bad(
                key,
                value,
                "expected a list of strings, like [\"a\", \"b\"]",
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref().as_str() {
                Some(s) => out.push(Located {
                    value: s.to_string(),
                    at: self.location(item.span().start),
                }),
                None => {
                    self.bad(key, item, "expected a string");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A whole number from `min` to `max`.
    fn count(
        &mut self,
        key: &Key<'_>,
        value: &Spanned<DeValue<'_>>,
        min: usize,
        max: usize,
    ) -> Option<usize> {
        let n = value
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok());
        let Some(n) = n else {
            self.bad(
                key,
                value,
                &format!("expected a whole number from {min} to {max}"),
            );
            return None;
        };
        match usize::try_from(n).ok().filter(|n| (min..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                self.bad(key, value, &format!("must be from {min} to {max}"));
                None
            }
        }
    }

    /// A duration in the one grammar (a string), or a number of seconds, from `min` to `max`.
    fn duration(
        &mut self,
        key: &Key<'_>,
        value: &Spanned<DeValue<'_>>,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let parsed = match value.get_ref() {
            DeValue::String(s) => duration::parse(s).map_err(|e| e.to_string()),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .map(Duration::from_secs)
                .ok_or_else(|| "not a number of seconds".to_string()),
            DeValue::Float(f) => f
                .as_str()
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| "not a number of seconds".to_string()),
            _ => Err("expected a duration".to_string()),
        };
        let range = || {
            format!(
                "from {} to {}",
                duration::Display(min),
                duration::Display(max)
            )
        };
        match parsed {
            Ok(d) if (min..=max).contains(&d) => Some(d),
            Ok(_) => {
                self.bad(key, value, &format!("must be {}", range()));
                None
            }
            Err(e) => {
                let msg = format!("{e}; use {}, {}", duration::EXAMPLES, range());
                self.bad(key, value, &msg);
                None
            }
        }
    }

    /// A size (a string like `16MiB`, or a number of bytes) of at least `min` bytes.
    fn size(&mut self, key: &Key<'_>, value: &Spanned<DeValue<'_>>, min: u64) -> Option<u64> {
        let parsed = match value.get_ref() {
            DeValue::String(s) => parse_size(s),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .and_then(|n| u64::try_from(n).ok()),
            _ => None,
        };
        match parsed {
            Some(b) if b >= min => Some(b),
            _ => {
                let msg = format!(
                    "expected a size of at least {}, like \"64KiB\", \"16MiB\", \"500MB\", \
                     \"1GiB\" (or a number of bytes)",
                    shown_size(min)
                );
                self.bad(key, value, &msg);
                None
            }
        }
    }

    /// One of `options` (their names, exactly).
    fn choice<T: Copy>(
        &mut self,
        key: &Key<'_>,
        value: &Spanned<DeValue<'_>>,
        options: &[(&str, T)],
    ) -> Option<T> {
        let s = value.get_ref().as_str();
        if let Some(found) = s.and_then(|s| options.iter().find(|(n, _)| *n == s)) {
            return Some(found.1);
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        let suggestion = s
            .and_then(|s| did_you_mean(s, options.iter().map(|(n, _)| *n)))
            .map_or_else(String::new, |n| format!(" (did you mean \"{n}\"?)"));
        self.bad(
            key,
            value,
            &format!("expected {}{suggestion}", names.join(" or ")),
        );
        None
    }
}

fn shown_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

fn store(r: &mut Reader<'_>, table: &DeTable<'_>) -> StoreSettings {
    let mut s = StoreSettings::default();
    r.section("store", STORE_KEYS, table, |r, key, v| {
        match key.name {
            "synchronous" => {
                let options = [("normal", Synchronous::Normal), ("full", Synchronous::Full)];
                if let Some(x) = r.choice(key, v, &options) {
                    s.synchronous = x;
                }
            }
            "max_age" => {
                if let Some(x) = r.duration(key, v, MIN_DURATION, MAX_DURATION) {
                    s.max_age = x;
                }
            }
            "max_size" => {
                if let Some(x) = r.size(key, v, 1) {
                    s.max_size = x;
                }
            }
            "emergency_journal" => {
                if let Some(x) = r.size(key, v, MIN_EMERGENCY_JOURNAL) {
                    s.emergency_journal = x;
                }
            }
            _ => return false,
        }
        true
    });
    s
}

fn session(r: &mut Reader<'_>, table: &DeTable<'_>) -> SessionSettings {
    let mut s = SessionSettings::default();
    r.section("session", SESSION_KEYS, table, |r, key, v| {
        match key.name {
            "idle_ttl" => {
                if let Some(x) = r.duration(key, v, Duration::from_secs(1), MAX_DURATION) {
                    s.idle_ttl = x;
                }
            }
            "max_live" => {
                if let Some(x) = r.count(key, v, 1, MAX_MAX_LIVE) {
                    s.max_live = x;
                }
            }
            _ => return false,
        }
        true
    });
    s
}

fn server(r: &mut Reader<'_>, table: &DeTable<'_>) -> ServerSettings {
    let mut s = ServerSettings::default();
    r.section("server", SERVER_KEYS, table, |r, key, v| {
        match key.name {
            "max_connections" => {
                if let Some(x) = r.count(key, v, 1, MAX_CONNECTION_COUNT) {
                    s.max_connections = x;
                }
            }
            "idle_timeout" => {
                if let Some(x) = r.duration(key, v, MIN_DURATION, MAX_DURATION) {
                    s.idle_timeout = x;
                }
            }
            _ => return false,
        }
        true
    });
    s
}

fn http(r: &mut Reader<'_>, table: &DeTable<'_>) -> HttpSettings {
    let mut s = HttpSettings::default();
    let mut listen = None;
    r.section("http", HTTP_KEYS, table, |r, key, v| {
        match key.name {
            "listen" => {
                if let Some(text) = r.string(key, v) {
                    match text.trim().parse::<SocketAddr>() {
                        Ok(addr) => listen = Some((addr, v)),
                        Err(_) => r.bad(
                            key,
                            v,
                            "not an IP address and port; use e.g. \"127.0.0.1:8787\"",
                        ),
                    }
                }
            }
            "allow_non_loopback" => {
                if let Some(x) = r.boolean(key, v) {
                    s.allow_non_loopback = x;
                }
            }
            "auth_timeout" => {
                if let Some(x) = r.duration(key, v, MIN_DURATION, MAX_AUTH_TIMEOUT) {
                    s.auth_timeout = x;
                }
            }
            "max_unauthenticated" => {
                if let Some(x) = r.count(key, v, 1, MAX_CONNECTION_COUNT) {
                    s.max_unauthenticated = x;
                }
            }
            "max_connections" => {
                if let Some(x) = r.count(key, v, 1, MAX_CONNECTION_COUNT) {
                    s.max_connections = x;
                }
            }
            _ => return false,
        }
        true
    });
    if let Some((addr, v)) = listen {
        if addr.ip().is_loopback() || s.allow_non_loopback {
            s.listen = Some(addr);
        } else {
            let key = Key {
                section: Some("http"),
                name: "listen",
            };
            r.bad(
                &key,
                v,
                "not a loopback address: any host that can reach it could send hook events; \
                 use 127.0.0.1 or [::1], or set allow_non_loopback = true under [http] if you \
                 really mean it",
            );
        }
    }
    s
}

fn run(r: &mut Reader<'_>, table: &DeTable<'_>) -> RunSettings {
    let mut s = RunSettings::default();
    r.section("run", RUN_KEYS, table, |r, key, v| {
        match key.name {
            "max_background" => {
                if let Some(x) = r.count(key, v, 1, MAX_MAX_BACKGROUND) {
                    s.max_background = x;
                }
            }
            "retry_backoff" => {
                if let Some(x) = r.duration(key, v, MIN_DURATION, MAX_RETRY_BACKOFF) {
                    s.retry_backoff = x;
                }
            }
            _ => return false,
        }
        true
    });
    s
}

/// Where each entry of `[redact]` was written, to place the errors the redactor reports.
#[derive(Default)]
struct RedactSpans {
    extra: Vec<Range<usize>>,
    disabled_kinds: Vec<Range<usize>>,
    extra_keys: Vec<Range<usize>>,
}

fn redact(r: &mut Reader<'_>, table: &DeTable<'_>, table_span: Range<usize>) -> RedactSettings {
    let mut cfg = RedactConfig::default();
    let mut spans = RedactSpans::default();
    let mut ok = true;
    r.section("redact", REDACT_KEYS, table, |r, key, v| {
        match key.name {
            "enabled" => match r.boolean(key, v) {
                Some(b) => cfg.enabled = b,
                None => ok = false,
            },
            "disabled_kinds" => {
                ok &= redact_list(
                    r,
                    key,
                    v,
                    &mut cfg.disabled_kinds,
                    &mut spans.disabled_kinds,
                );
            }
            "extra_keys" => {
                ok &= redact_list(r, key, v, &mut cfg.extra_keys, &mut spans.extra_keys);
            }
            "extra" => match v.get_ref().as_array() {
                Some(items) => {
                    for item in items.iter() {
                        match redact_extra(r, item) {
                            Some(x) => {
                                cfg.extra.push(x);
                                spans.extra.push(item.span());
                            }
                            None => ok = false,
                        }
                    }
                }
                None => {
                    r.bad(
                        key,
                        v,
                        "expected [[redact.extra]] tables with `kind` and `pattern`",
                    );
                    ok = false;
                }
            },
            _ => return false,
        }
        true
    });
    if !ok {
        // Redaction stays on, with the defaults, while the table has errors.
        return RedactSettings::default();
    }
    match Redactor::new(&cfg) {
        Ok(redactor) => RedactSettings {
            config: cfg,
            redactor: Arc::new(redactor),
        },
        Err(e) => {
            locate_redact_errors(r, &cfg, &spans, &e, &table_span);
            RedactSettings::default()
        }
    }
}

/// A list of strings of `[redact]` into `out`, and where each was written into `at`.
fn redact_list(
    r: &mut Reader<'_>,
    key: &Key<'_>,
    value: &Spanned<DeValue<'_>>,
    out: &mut Vec<String>,
    at: &mut Vec<Range<usize>>,
) -> bool {
    let Some(items) = r.strings(key, value) else {
        return false;
    };
    out.extend(items.into_iter().map(|i| i.value));
    if let Some(a) = value.get_ref().as_array() {
        *at = a.iter().map(Spanned::span).collect();
    }
    true
}

fn redact_extra(r: &mut Reader<'_>, item: &Spanned<DeValue<'_>>) -> Option<ExtraPattern> {
    let Some(t) = item.get_ref().as_table() else {
        let key = Key {
            section: Some("redact"),
            name: "extra",
        };
        r.bad(&key, item, "expected a table with `kind` and `pattern`");
        return None;
    };
    let (mut kind, mut pattern) = (None, None);
    let mut ok = true;
    for (k, v) in t {
        let key = Key::of("redact.extra", k);
        match key.name {
            "kind" => kind = r.string(&key, v).map(str::to_string),
            "pattern" => pattern = r.string(&key, v).map(str::to_string),
            _ => {
                r.unknown(Some(("redact.extra", REDACT_EXTRA_KEYS)), k);
                ok = false;
            }
        }
    }
    match (kind, pattern) {
        (Some(kind), Some(pattern)) if ok => Some(ExtraPattern { kind, pattern }),
        (k, p) => {
            if k.is_none() || p.is_none() {
                r.error(
                    &item.span(),
                    "[[redact.extra]] needs both `kind` (a name) and `pattern` (a regex)",
                );
            }
            None
        }
    }
}

/// The redactor refused `cfg` with `first`: places an error on each entry that is wrong on its
/// own (an extra pattern, a kind to disable, an extra key), checked one by one, so every
/// problem is reported at once; on the table when none is.
fn locate_redact_errors(
    r: &mut Reader<'_>,
    cfg: &RedactConfig,
    spans: &RedactSpans,
    first: &str,
    table_span: &Range<usize>,
) {
    let alone = |c: RedactConfig| Redactor::new(&c).err();
    let mut found = false;
    for (x, span) in cfg.extra.iter().zip(&spans.extra) {
        if let Some(e) = alone(RedactConfig {
            extra: vec![x.clone()],
            ..RedactConfig::default()
        }) {
            r.error(span, &e);
            found = true;
        }
    }
    for (k, span) in cfg.extra_keys.iter().zip(&spans.extra_keys) {
        if let Some(e) = alone(RedactConfig {
            extra_keys: vec![k.clone()],
            ..RedactConfig::default()
        }) {
            r.error(span, &e);
            found = true;
        }
    }
    // A kind to disable may name a valid extra kind.
    let extra: Vec<ExtraPattern> = cfg
        .extra
        .iter()
        .filter(|x| {
            alone(RedactConfig {
                extra: vec![(*x).clone()],
                ..RedactConfig::default()
            })
            .is_none()
        })
        .cloned()
        .collect();
    for (d, span) in cfg.disabled_kinds.iter().zip(&spans.disabled_kinds) {
        if let Some(e) = alone(RedactConfig {
            disabled_kinds: vec![d.clone()],
            extra: extra.clone(),
            ..RedactConfig::default()
        }) {
            r.error(span, &e);
            found = true;
        }
    }
    if !found {
        r.error(table_span, &format!("[redact]: {first}"));
    }
}
