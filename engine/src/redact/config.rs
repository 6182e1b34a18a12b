//! The `[redact]` configuration and its compilation into a [`Redactor`]: kinds turned off,
//! user patterns and keys checked, and the pattern groups that stay active.

use regex::Regex;
use serde::Deserialize;

use super::keys::{self, KeyStem};
use super::kinds::{BUILTIN_KINDS, Kind, group};
use super::patterns::Patterns;
use super::prefilter::Prefilter;
use super::{Extra, Redactor};

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
