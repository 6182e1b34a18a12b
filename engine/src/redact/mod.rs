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

mod json;
mod keys;
mod memo;
mod patterns;
mod prefilter;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use self::keys::KeyStem;
use self::patterns::Patterns;
use self::prefilter::Prefilter;

/// The built-in kinds, as reported and as named in `disabled_kinds`.
pub const BUILTIN_KINDS: &[&str] = &[
    "private_key",
    "url_credentials",
    "jwt",
    "anthropic_key",
    "openai_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "google_api_key",
    "stripe_key",
    "npm_token",
    "huggingface_token",
    "pypi_token",
    "aws_secret_key",
    "aws_key_id",
    "bearer",
    "sensitive_key",
    "secret_assignment",
    "email",
    "credit_card",
    "ssn",
    "phone",
    "home_path",
];

/// Index of a built-in kind in [`BUILTIN_KINDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    PrivateKey,
    UrlCredentials,
    Jwt,
    AnthropicKey,
    OpenaiKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    GoogleApiKey,
    StripeKey,
    NpmToken,
    HuggingfaceToken,
    PypiToken,
    AwsSecretKey,
    AwsKeyId,
    Bearer,
    SensitiveKey,
    SecretAssignment,
    Email,
    CreditCard,
    Ssn,
    Phone,
    HomePath,
}

impl Kind {
    fn bit(self) -> u64 {
        1 << (self as u32)
    }

    /// The replacement text, `[REDACTED:<kind>]`.
    fn marker(self) -> &'static str {
        MARKERS[self as usize]
    }
}

const MARKERS: [&str; 23] = [
    "[REDACTED:private_key]",
    "[REDACTED:url_credentials]",
    "[REDACTED:jwt]",
    "[REDACTED:anthropic_key]",
    "[REDACTED:openai_key]",
    "[REDACTED:github_token]",
    "[REDACTED:gitlab_token]",
    "[REDACTED:slack_token]",
    "[REDACTED:google_api_key]",
    "[REDACTED:stripe_key]",
    "[REDACTED:npm_token]",
    "[REDACTED:huggingface_token]",
    "[REDACTED:pypi_token]",
    "[REDACTED:aws_secret_key]",
    "[REDACTED:aws_key_id]",
    "[REDACTED:bearer]",
    "[REDACTED:sensitive_key]",
    "[REDACTED:secret_assignment]",
    "[REDACTED:email]",
    "[REDACTED:credit_card]",
    "[REDACTED:ssn]",
    "[REDACTED:phone]",
    "[REDACTED:home_path]",
];

/// The `[redact]` table of `hookd.toml`. The default redacts everything built in.
///
/// ```toml
/// [redact]
/// enabled = true                      # false: store payloads as sent
/// disabled_kinds = ["phone"]          # any of BUILTIN_KINDS or an extra kind
/// extra_keys = ["x-internal-signature"]
/// [[redact.extra]]
/// kind = "acme_token"                 # reported and written as [REDACTED:acme_token]
/// pattern = "acme_[0-9a-f]{32}"       # a group named `secret`, if any, is all that is replaced
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Redact at all (default true).
    pub enabled: bool,
    /// Kinds to leave alone.
    pub disabled_kinds: Vec<String>,
    /// Additional patterns, run before the built-in ones.
    pub extra: Vec<ExtraPattern>,
    /// Additional sensitive key names (matched like the built-in ones: normalized, as a suffix).
    pub extra_keys: Vec<String>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            disabled_kinds: Vec::new(),
            extra: Vec::new(),
            extra_keys: Vec::new(),
        }
    }
}

/// One `[[redact.extra]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPattern {
    /// Kind name: `[a-z][a-z0-9_]*`, at most 32 characters, not a built-in kind.
    pub kind: String,
    /// A Rust `regex` pattern. It must not match the empty string nor its own replacement.
    pub pattern: String,
}

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

/// Group bits: which families of patterns a piece of text can possibly match (see
/// [`prefilter`]).
pub(crate) mod group {
    pub const PEM: u32 = 1 << 0;
    pub const URL: u32 = 1 << 1;
    pub const JWT: u32 = 1 << 2;
    pub const SK: u32 = 1 << 3;
    pub const GITHUB: u32 = 1 << 4;
    pub const GITLAB: u32 = 1 << 5;
    pub const SLACK: u32 = 1 << 6;
    pub const GOOGLE: u32 = 1 << 7;
    pub const STRIPE: u32 = 1 << 8;
    pub const NPM: u32 = 1 << 9;
    pub const HF: u32 = 1 << 10;
    pub const PYPI: u32 = 1 << 11;
    pub const AWS: u32 = 1 << 12;
    pub const BEARER: u32 = 1 << 13;
    /// Secret-naming words: text assignments and sensitive JSON keys.
    pub const WORDS: u32 = 1 << 14;
    /// Pieces of configured extra keys.
    pub const XKEYS: u32 = 1 << 15;
    /// An `@` (emails, URL credentials).
    pub const AT: u32 = 1 << 16;
    /// `/home/`, `/Users/`.
    pub const HOME_UNIX: u32 = 1 << 17;
    /// `C:\Users\`.
    pub const HOME_WIN: u32 = 1 << 18;
    /// Claude Code's encoded project directories (`-home-`, `-Users-`).
    pub const HOME_ENC: u32 = 1 << 19;
    /// Digit runs (see `prefilter::digit_run`).
    pub const CARD: u32 = 1 << 20;
    pub const SSN: u32 = 1 << 21;
    pub const PHONE: u32 = 1 << 22;
    /// Configured extra patterns (no prefilter: always run).
    pub const EXTRA: u32 = 1 << 23;
    /// A `\u` or `\/` JSON escape, which can hide a literal (payload prefilter only).
    pub const ESC: u32 = 1 << 24;
    /// The numeric groups.
    pub const NUM: u32 = CARD | SSN | PHONE;
    /// Where `prefilter::digit_run` puts the numeric bits computed without its glue rule.
    pub const LOOSE_SHIFT: u32 = 5;
    /// Groups whose passes run before the numeric ones (and can rewrite a number's
    /// neighbors).
    pub const BEFORE_NUM: u32 = PEM
        | URL
        | JWT
        | SK
        | GITHUB
        | GITLAB
        | SLACK
        | GOOGLE
        | STRIPE
        | NPM
        | HF
        | PYPI
        | AWS
        | BEARER
        | WORDS
        | XKEYS
        | AT
        | EXTRA;
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

impl Default for Redactor {
    fn default() -> Self {
        // The default configuration has no user patterns, so it cannot fail to compile: a
        // failure here is a bug in the built-in patterns, caught by every test.
        #[allow(clippy::expect_used)]
        Self::new(&RedactConfig::default()).expect("built-in redaction patterns compile")
    }
}

impl Redactor {
    /// Compiles `cfg`.
    ///
    /// # Errors
    ///
    /// An unknown kind in `disabled_kinds`, a bad extra kind name, an extra pattern that does
    /// not compile, matches the empty string or matches its own replacement, or an empty extra
    /// key; the message names the offending entry.
    pub fn new(cfg: &RedactConfig) -> Result<Self, String> {
        let mut extra_names: Vec<String> = Vec::new();
        let mut extras = Vec::new();
        for x in &cfg.extra {
            check_kind_name(&x.kind)?;
            let re = Regex::new(&x.pattern).map_err(|e| {
                format!(
                    "redact.extra `{}`: invalid pattern {:?}: {e}",
                    x.kind, x.pattern
                )
            })?;
            let marker = format!("[REDACTED:{}]", x.kind);
            if re.is_match("") {
                return Err(format!(
                    "redact.extra `{}`: pattern {:?} matches the empty string",
                    x.kind, x.pattern
                ));
            }
            if re.is_match(&marker) {
                return Err(format!(
                    "redact.extra `{}`: pattern {:?} matches its own replacement {marker}",
                    x.kind, x.pattern
                ));
            }
            let name = match extra_names.iter().position(|n| *n == x.kind) {
                Some(i) => i,
                None => {
                    extra_names.push(x.kind.clone());
                    extra_names.len() - 1
                }
            };
            let group = re.capture_names().position(|n| n == Some("secret"));
            extras.push(Extra {
                name,
                re,
                group,
                marker,
            });
        }
        let mut on: u64 = (1 << BUILTIN_KINDS.len()) - 1;
        let mut extra_off = vec![false; extra_names.len()];
        for d in &cfg.disabled_kinds {
            if let Some(i) = BUILTIN_KINDS.iter().position(|k| k == d) {
                on &= !(1 << i);
            } else if let Some(i) = extra_names.iter().position(|k| k == d) {
                extra_off[i] = true;
            } else {
                return Err(format!(
                    "redact.disabled_kinds: unknown kind `{d}` (built-in kinds: {})",
                    BUILTIN_KINDS.join(", ")
                ));
            }
        }
        extras.retain(|x| !extra_off[x.name]);
        let mut extra_stems = Vec::new();
        for k in &cfg.extra_keys {
            extra_stems.push(
                KeyStem::extra(k)
                    .ok_or_else(|| format!("redact.extra_keys: `{k}` has no letters or digits"))?,
            );
        }
        let pre = Prefilter::new(&extra_stems);
        let mut keys = keys::builtin();
        keys.extend(extra_stems);
        let pat = Patterns::new(&cfg.extra_keys)?;
        let mut r = Self {
            id: crate::memo::new_tag(),
            enabled: cfg.enabled,
            on,
            active: 0,
            extras,
            extra_names,
            keys,
            pre,
            pat,
        };
        r.active = r.active_groups();
        Ok(r)
    }

    /// Whether redaction is on at all.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn is_on(&self, k: Kind) -> bool {
        self.on & k.bit() != 0
    }

    fn active_groups(&self) -> u32 {
        use Kind as K;
        use group as G;
        let table: [(K, u32); 23] = [
            (K::PrivateKey, G::PEM),
            (K::UrlCredentials, G::URL),
            (K::Jwt, G::JWT),
            (K::AnthropicKey, G::SK),
            (K::OpenaiKey, G::SK),
            (K::GithubToken, G::GITHUB),
            (K::GitlabToken, G::GITLAB),
            (K::SlackToken, G::SLACK),
            (K::GoogleApiKey, G::GOOGLE),
            (K::StripeKey, G::STRIPE),
            (K::NpmToken, G::NPM),
            (K::HuggingfaceToken, G::HF),
            (K::PypiToken, G::PYPI),
            (K::AwsSecretKey, G::AWS),
            (K::AwsKeyId, G::AWS),
            (K::Bearer, G::BEARER),
            (K::SensitiveKey, G::WORDS | G::XKEYS),
            (K::SecretAssignment, G::WORDS | G::XKEYS),
            (K::Email, G::AT),
            (K::CreditCard, G::CARD),
            (K::Ssn, G::SSN),
            (K::Phone, G::PHONE),
            (K::HomePath, G::HOME_UNIX | G::HOME_WIN | G::HOME_ENC),
        ];
        let mut a = 0;
        for (k, g) in table {
            if self.is_on(k) {
                a |= g;
            }
        }
        if !self.extras.is_empty() {
            a |= G::EXTRA;
        }
        a
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

/// Whether `s` is exactly a replacement marker, `[REDACTED:<kind>]`.
fn is_marker(s: &str) -> bool {
    s.strip_prefix("[REDACTED:")
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|k| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

fn check_kind_name(k: &str) -> Result<(), String> {
    let ok = k.len() <= 32
        && k.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(format!(
            "redact.extra: kind `{k}` must be [a-z][a-z0-9_]*, at most 32 characters"
        ));
    }
    if BUILTIN_KINDS.contains(&k) {
        return Err(format!(
            "redact.extra: kind `{k}` is a built-in kind; pick another name"
        ));
    }
    Ok(())
}
