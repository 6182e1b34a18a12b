//! Redaction: removes secrets and personal data from hook payloads and text before anything is
//! written to the store, the logs or an export.
//!
//! Pure and synchronous: no I/O, no globals beyond a per-thread scratch buffer, no async. A
//! [`Redactor`] is compiled once from a [`RedactConfig`] (the `[redact]` table of `hookd.toml`)
//! and shared (`Send + Sync`). It must never be applied to the event the rules evaluate: rules
//! see the unredacted event in memory; only what is persisted or printed goes through here.
//!
//! What is redacted, the heuristics of each kind, the sensitive-key rule, the guarantees and
//! the limitations are specified in docs/redaction.md. In short: every match becomes
//! `[REDACTED:<kind>]` (home paths and URL credentials keep their structure); a prefilter pass
//! decides which pattern families run; JSON payloads are walked once, each string scanned on
//! its own, with a per-thread memo for repeated strings; redaction is idempotent, linear and
//! never panics.
//!
//! Here: the [`Redactor`] and its passes over payloads, values and text. `config.rs` compiles
//! a [`RedactConfig`]; `kinds.rs` names the kinds, their markers and the pattern groups.

mod config;
mod json;
mod keys;
mod kinds;
mod memo;
mod patterns;
mod prefilter;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use regex::Regex;
use serde_json::Value;

pub use self::config::{ExtraPattern, RedactConfig};
use self::keys::KeyStem;
pub use self::kinds::BUILTIN_KINDS;
use self::kinds::is_marker;
pub(crate) use self::kinds::{Kind, group};
use self::patterns::Patterns;
use self::prefilter::Prefilter;
/// A user pattern, compiled.
struct Extra {
    /// Index into `Redactor::extra_names`.
    name: usize,
    re: Regex,
    /// Index of the capture group named `secret`, if any.
    group: Option<usize>,
    marker: String,
}

/// Kinds found while redacting one input.
#[derive(Debug, Default)]
pub(crate) struct Found {
    bits: u64,
    extra: Vec<usize>,
}

impl Found {
    fn add(&mut self, k: Kind) {
        self.bits |= k.bit();
    }

    /// Adds what one string's redaction found.
    fn merge(&mut self, e: &memo::Entry) {
        self.bits |= e.bits;
        for x in &e.extra {
            if !self.extra.contains(x) {
                self.extra.push(*x);
            }
        }
    }
}

/// A compiled redaction configuration. Cheap to share: `Send + Sync`, no interior state.
pub struct Redactor {
    /// Unique per compiled configuration: tags this redactor's entries in the memo.
    id: u64,
    enabled: bool,
    /// Bit per built-in kind that is on.
    on: u64,
    /// Groups worth looking at given the kinds that are on.
    active: u32,
    extras: Vec<Extra>,
    extra_names: Vec<String>,
    keys: Vec<KeyStem>,
    pre: Prefilter,
    pat: Patterns,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("enabled", &self.enabled)
            .field("on", &self.on)
            .field("extra_names", &self.extra_names)
            .finish_non_exhaustive()
    }
}
impl Redactor {
    /// Whether redaction is on at all.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn is_on(&self, k: Kind) -> bool {
        self.on & k.bit() != 0
    }

    /// Redacts a raw hook payload. Valid JSON is redacted value by value (sensitive keys
    /// included) and keeps its formatting; anything else is redacted as text (lossily decoded
    /// if it is not UTF-8). Returns the input itself when nothing was found, and the kinds
    /// found (sorted, deduplicated).
    #[must_use]
    pub fn redact_payload<'a>(&self, bytes: &'a [u8]) -> (Cow<'a, [u8]>, Vec<&str>) {
        if !self.enabled {
            return (Cow::Borrowed(bytes), Vec::new());
        }
        let mut found = Found::default();
        let out = match std::str::from_utf8(bytes) {
            Ok(text) => match json::redact(self, text, &mut found) {
                Ok(Some(v)) => Cow::Owned(v),
                Ok(None) => Cow::Borrowed(bytes),
                Err(json::Invalid) => {
                    found = Found::default();
                    match self.redact_str(text, &mut found) {
                        Cow::Borrowed(_) => Cow::Borrowed(bytes),
                        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                    }
                }
            },
            Err(_) => {
                let lossy = String::from_utf8_lossy(bytes);
                match self.redact_str(&lossy, &mut found) {
                    Cow::Borrowed(_) if found.bits == 0 => Cow::Borrowed(bytes),
                    c => Cow::Owned(c.into_owned().into_bytes()),
                }
            }
        };
        (out, self.kinds(&found))
    }

    /// Redacts free text: log lines, reasons, stdout/stderr tails. JSON in the text is only
    /// handled through the text patterns (`"password": "…"` is a `secret_assignment`); use
    /// [`Redactor::redact_payload`] for JSON documents.
    #[must_use]
    pub fn redact_text<'a>(&self, s: &'a str) -> (Cow<'a, str>, Vec<&str>) {
        if !self.enabled {
            return (Cow::Borrowed(s), Vec::new());
        }
        let e = memo::entry(self.id, memo::Domain::Text, s.as_bytes(), || {
            Ok::<_, std::convert::Infallible>(self.scan(s))
        })
        .unwrap_or_else(|e| match e {});
        let mut found = Found::default();
        found.merge(&e);
        let out = match &e.redacted {
            Some(n) => Cow::Owned(n.to_string()),
            None => Cow::Borrowed(s),
        };
        (out, self.kinds(&found))
    }

    /// Redacts one string (text patterns only), for the [`memo`].
    fn scan(&self, s: &str) -> memo::Entry {
        let mut found = Found::default();
        let mask = self.groups(s);
        let redacted = match self.redact_masked(s, mask, &mut found) {
            Cow::Owned(n) => Some(n.into_boxed_str()),
            Cow::Borrowed(_) => None,
        };
        memo::Entry {
            mask,
            redacted,
            encoded: None,
            bits: found.bits,
            extra: found.extra.into_boxed_slice(),
        }
    }

    /// Redacts a parsed JSON value in place: sensitive keys at any depth, every string (keys
    /// included) through the text patterns, integers that are card numbers. Returns the kinds
    /// found. Two keys that become equal after redaction collapse into one (the last wins).
    pub fn redact_value(&self, v: &mut Value) -> Vec<&str> {
        if !self.enabled {
            return Vec::new();
        }
        let mut found = Found::default();
        self.walk(v, false, &mut found);
        self.kinds(&found)
    }

    fn walk(&self, v: &mut Value, sensitive: bool, found: &mut Found) {
        match v {
            Value::String(s) => {
                if sensitive {
                    if self.is_on(Kind::SensitiveKey) && !s.is_empty() && !is_marker(s) {
                        Kind::SensitiveKey.marker().clone_into(s);
                        found.add(Kind::SensitiveKey);
                    }
                } else if let Cow::Owned(n) = self.redact_str(s, found) {
                    *s = n;
                }
            }
            Value::Number(n) => {
                if sensitive {
                    if self.is_on(Kind::SensitiveKey) {
                        *v = Value::String(Kind::SensitiveKey.marker().to_owned());
                        found.add(Kind::SensitiveKey);
                    }
                } else if self.is_on(Kind::CreditCard)
                    && n.as_u64()
                        .is_some_and(|u| patterns::card_number(u.to_string().as_bytes()))
                {
                    *v = Value::String(Kind::CreditCard.marker().to_owned());
                    found.add(Kind::CreditCard);
                }
            }
            Value::Array(a) => {
                for x in a {
                    self.walk(x, sensitive, found);
                }
            }
            Value::Object(m) => {
                let mut renames = Vec::new();
                for (k, x) in m.iter_mut() {
                    // Sensitivity is judged on the redacted key (what a second redaction sees).
                    let nk = self.redact_str(k, found);
                    let ks = sensitive || self.key_sensitive(&nk);
                    self.walk(x, ks, found);
                    if let Cow::Owned(nk) = nk {
                        renames.push((k.clone(), nk));
                    }
                }
                for (old, new) in renames {
                    if let Some(x) = m.remove(&old) {
                        m.insert(new, x);
                    }
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Whether `key` names a secret (see the module docs).
    #[must_use]
    pub fn key_sensitive(&self, key: &str) -> bool {
        self.is_on(Kind::SensitiveKey) && keys::sensitive(&self.keys, key)
    }

    /// Text redaction with its own prefilter.
    fn redact_str<'a>(&self, s: &'a str, found: &mut Found) -> Cow<'a, str> {
        self.redact_masked(s, self.groups(s), found)
    }

    /// The pattern groups that can match `s` (prefilter literals and byte groups).
    fn groups(&self, s: &str) -> u32 {
        self.pre.groups(s.as_bytes()) | prefilter::byte_groups(s.as_bytes()) | group::EXTRA
    }

    /// Text redaction of the pattern groups in `mask`, repeated on its own output until
    /// nothing changes (a replacement can change what its neighbors look like, e.g. a phone
    /// number glued to a redacted one), so that redaction is idempotent.
    fn redact_masked<'a>(&self, s: &'a str, mask: u32, found: &mut Found) -> Cow<'a, str> {
        let mut cur = self.pass(s, mask, found);
        if matches!(cur, Cow::Borrowed(_)) {
            return cur;
        }
        // Bounded: every round only adds markers; real text settles in one extra round.
        for _ in 0..4 {
            let next = self.pass(&cur, self.groups(&cur), found);
            let Cow::Owned(n) = next else { break };
            cur = Cow::Owned(n);
        }
        cur
    }

    /// One round of text redaction of the pattern groups in `mask`.
    fn pass<'a>(&self, s: &'a str, mask: u32, found: &mut Found) -> Cow<'a, str> {
        let mut mask = mask;
        if mask & self.active & group::BEFORE_NUM != 0 {
            mask |= (mask >> group::LOOSE_SHIFT) & group::NUM;
        }
        let mask = mask & self.active;
        if mask == 0 {
            return Cow::Borrowed(s);
        }
        let mut cur = Cow::Borrowed(s);
        if mask & group::EXTRA != 0 {
            for x in &self.extras {
                if let Some(n) = patterns::replace_extra(&x.re, x.group, &x.marker, &cur) {
                    cur = Cow::Owned(n);
                    if !found.extra.contains(&x.name) {
                        found.extra.push(x.name);
                    }
                }
            }
        }
        self.pat.run(self, cur, mask, found)
    }

    fn kinds(&self, f: &Found) -> Vec<&str> {
        let mut v: Vec<&str> = BUILTIN_KINDS
            .iter()
            .enumerate()
            .filter(|(i, _)| f.bits & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        v.extend(f.extra.iter().map(|&i| self.extra_names[i].as_str()));
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Applies `f` to the current text; `None` means unchanged.
fn chain<'a>(cur: Cow<'a, str>, f: impl FnOnce(&str) -> Option<String>) -> Cow<'a, str> {
    match f(&cur) {
        Some(n) => Cow::Owned(n),
        None => cur,
    }
}
