//! Reading values out of toml's spanned tree: each problem as `file:line:column: what`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use hook_protocol::duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Location;
use super::{Located, TOP_KEYS};

/// The key of hookd.toml (and of rule files) that is not a setting.
pub(super) const RULE_KEY: &str = "rule";

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

pub(super) fn hint(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"))
}

/// Parses a size: `1GiB`, `500MB`, `100M`, `64KiB`, or a number of bytes (`2048`); decimal
/// units are powers of 1000, binary ones (`KiB`, `MiB`, `GiB`, `TiB`) powers of 1024; case
/// ignored. `None` for anything else, 0 included.
#[must_use]
pub(crate) fn parse_size(s: &str) -> Option<u64> {
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
pub(super) struct Key<'k> {
    pub(super) section: Option<&'static str>,
    pub(super) name: &'k str,
}

impl<'k> Key<'k> {
    pub(super) fn top(key: &'k Spanned<Cow<'_, str>>) -> Self {
        Self {
            section: None,
            name: key.get_ref(),
        }
    }

    pub(super) fn of(section: &'static str, key: &'k Spanned<Cow<'_, str>>) -> Self {
        Self {
            section: Some(section),
            name: key.get_ref(),
        }
    }

    /// `[store] max_age`, or `packs`.
    pub(super) fn shown(&self) -> String {
        match self.section {
            Some(s) => format!("[{s}] {}", self.name),
            None => format!("`{}`", self.name),
        }
    }

    /// `store.max_age`, or `packs`.
    pub(super) fn dotted(&self) -> String {
        match self.section {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// Collects errors (with their offset, to sort them into the file's order) and locations.
pub(super) struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<(usize, String)>,
    locations: BTreeMap<String, Location>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(file: &'a str, text: &'a str) -> Self {
        Self {
            file,
            text,
            errors: Vec::new(),
            locations: BTreeMap::new(),
        }
    }

    /// Where each key was written, and the errors in the file's order.
    pub(super) fn finish(mut self) -> (BTreeMap<String, Location>, Vec<String>) {
        self.errors.sort_by_key(|(at, _)| *at);
        let errors = self.errors.into_iter().map(|(_, e)| e).collect();
        (self.locations, errors)
    }

    pub(super) fn location(&self, offset: usize) -> Location {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Location { line, column }
    }

    /// `file:line:column: `.
    pub(super) fn prefix(&self, offset: usize) -> String {
        format!("{}:{}: ", self.file, self.location(offset))
    }

    pub(super) fn error(&mut self, span: &Range<usize>, msg: &str) {
        let e = format!("{}{msg}", self.prefix(span.start));
        self.errors.push((span.start, e));
    }

    pub(super) fn locate(&mut self, dotted: &str, span: Range<usize>) {
        let at = self.location(span.start);
        self.locations.insert(dotted.to_string(), at);
    }

    /// The value as written in the file.
    pub(super) fn raw(&self, value: &Spanned<DeValue<'_>>) -> &str {
        self.text.get(value.span()).unwrap_or("").trim()
    }

    /// `[store] max_age = "30 days": <what>`.
    pub(super) fn bad(&mut self, key: &Key<'_>, value: &Spanned<DeValue<'_>>, what: &str) {
        let msg = format!("{} = {}: {what}", key.shown(), self.raw(value));
        self.error(&value.span(), &msg);
    }

    pub(super) fn unknown(
        &mut self,
        section: Option<(&'static str, &[&str])>,
        key: &Spanned<Cow<'_, str>>,
    ) {
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

    pub(super) fn table<'t, 'i>(
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
    pub(super) fn section<'t, 'i>(
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

    pub(super) fn boolean(&mut self, key: &Key<'_>, value: &Spanned<DeValue<'_>>) -> Option<bool> {
        let b = value.get_ref().as_bool();
        if b.is_none() {
            self.bad(key, value, "expected true or false");
        }
        b
    }

    pub(super) fn string<'v>(
        &mut self,
        key: &Key<'_>,
        value: &'v Spanned<DeValue<'_>>,
    ) -> Option<&'v str> {
        let s = value.get_ref().as_str();
        if s.is_none() {
            self.bad(key, value, "expected a string");
        }
        s
    }

    pub(super) fn strings(
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
    pub(super) fn count(
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
    pub(super) fn duration(
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
    pub(super) fn size(
        &mut self,
        key: &Key<'_>,
        value: &Spanned<DeValue<'_>>,
        min: u64,
    ) -> Option<u64> {
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
    pub(super) fn choice<T: Copy>(
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

pub(super) fn shown_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}
