//! The sensitive-key rule: does a JSON object key name a secret?
//!
//! Pure string logic, no regexes, no allocation for keys up to 64 bytes. It must stay in step
//! with the prefilter: a key can only be sensitive if its lower-cased form contains the stem's
//! `piece`, which is also a prefilter literal (so a payload without any piece skips the walk).

/// One sensitive-key suffix.
#[derive(Debug, Clone)]
pub(crate) struct KeyStem {
    /// Normalized suffix (lower-case letters and digits only).
    pub(crate) norm: String,
    /// Lower-case literal the raw key must contain (also a prefilter literal).
    pub(crate) piece: String,
}

/// `(normalized suffix, piece)`: see the module docs of `redact` for the rationale.
const BUILTIN: &[(&str, &str)] = &[
    ("password", "pass"),
    ("passwd", "pass"),
    ("passphrase", "pass"),
    ("secret", "secret"),
    ("secrets", "secret"),
    ("secretkey", "secret"),
    ("token", "token"),
    ("apikey", "api"),
    ("apikeys", "api"),
    ("privatekey", "priv"),
    ("accesskey", "acce"),
    ("authorization", "auth"),
    ("auth", "auth"),
    ("cookie", "cookie"),
    ("cookies", "cookie"),
    ("credential", "cred"),
    ("credentials", "cred"),
    ("creds", "cred"),
];

/// The built-in stems.
pub(crate) fn builtin() -> Vec<KeyStem> {
    BUILTIN
        .iter()
        .map(|(n, p)| KeyStem {
            norm: (*n).to_owned(),
            piece: (*p).to_owned(),
        })
        .collect()
}

/// The lower-case pieces of all built-in stems (prefilter literals).
pub(crate) fn builtin_pieces() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(_, p)| *p)
}

impl KeyStem {
    /// A configured extra key: normalized as a suffix; its piece is the first four characters
    /// of its longest run of letters and digits. `None` if it has no letters or digits.
    pub(crate) fn extra(key: &str) -> Option<Self> {
        let lower = key.to_ascii_lowercase();
        let norm: String = lower.chars().filter(char::is_ascii_alphanumeric).collect();
        let run = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .max_by_key(|r| r.len())
            .filter(|r| !r.is_empty())?;
        let piece: String = run.chars().take(4).collect();
        Some(Self { norm, piece })
    }
}

/// Whether `key` is sensitive under `stems`. Redaction markers in the key count as a space
/// (`[REDACTED:github_token]` would otherwise end with `token` and make redaction not
/// idempotent).
pub(crate) fn sensitive(stems: &[KeyStem], key: &str) -> bool {
    if key.contains("[REDACTED:") {
        return check(stems, &without_markers(key));
    }
    check(stems, key)
}

/// `key` with every `[REDACTED:<kind>]` replaced by a space.
fn without_markers(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(i) = rest.find("[REDACTED:") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        // Markers are short: look for the `]` only nearby (keeps this linear).
        let close = tail.bytes().take(48).position(|b| b == b']');
        match close.filter(|&e| super::is_marker(&tail[..=e])) {
            Some(e) => {
                out.push(' ');
                rest = &tail[e + 1..];
            }
            None => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn check(stems: &[KeyStem], key: &str) -> bool {
    let mut buf = [0u8; 64];
    let lower_long;
    let lower: &[u8] = if key.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(key.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        &buf[..key.len()]
    } else {
        lower_long = key.to_ascii_lowercase();
        lower_long.as_bytes()
    };
    stems.iter().any(|s| {
        ends_with_normalized(lower, s.norm.as_bytes()) && contains(lower, s.piece.as_bytes())
    })
}

/// Whether `lower` with every non-alphanumeric byte dropped ends with `norm`.
fn ends_with_normalized(lower: &[u8], norm: &[u8]) -> bool {
    let mut it = lower.iter().rev().filter(|b| b.is_ascii_alphanumeric());
    for want in norm.iter().rev() {
        if it.next() != Some(want) {
            return false;
        }
    }
    true
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        let s = builtin();
        for k in [
            "password",
            "PASSWORD",
            "db_password",
            "passwd",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "access_token",
            "refreshToken",
            "session_token",
            "api_key",
            "api-key",
            "apiKey",
            "X-Api-Key",
            "x-api-key",
            "APIKEY",
            "authorization",
            "Authorization",
            "auth",
            "oauth",
            "cookie",
            "Set-Cookie",
            "private_key",
            "privateKey",
            "credentials",
            "AWS_SECRET_ACCESS_KEY",
            "secret_key",
            "pass_word",
        ] {
            assert!(sensitive(&s, k), "{k} should be sensitive");
        }
        for k in [
            "input_tokens",
            "output_tokens",
            "max_tokens",
            "cache_read_input_tokens",
            "token_count",
            "token_type",
            "tokenizer",
            "session_id",
            "author",
            "authority",
            "auth_method",
            "key",
            "aws_access_key_id",
            "passwordless",
            "secret_name",
            "to_ken",
            "cwd",
            "transcript_path",
            "",
        ] {
            assert!(!sensitive(&s, k), "{k} should not be sensitive");
        }
    }

    #[test]
    fn extra_keys() {
        let mut s = builtin();
        s.push(KeyStem::extra("x-internal-sig").unwrap());
        assert!(sensitive(&s, "X-Internal-Sig"));
        assert!(sensitive(&s, "xInternalSig"));
        assert!(!sensitive(&s, "internal"));
        assert!(KeyStem::extra("--").is_none());
    }

    #[test]
    fn markers_in_keys() {
        let s = builtin();
        assert!(!sensitive(&s, "[REDACTED:github_token]"));
        assert!(!sensitive(&s, "x [REDACTED:private_key] "));
        assert!(sensitive(&s, "[REDACTED:email]_token"));
        assert!(!sensitive(&s, "pa[REDACTED:email]ss"));
        assert!(sensitive(&s, "[REDACTED:bad-kind]token"));
    }

    #[test]
    fn long_keys() {
        let s = builtin();
        let k = format!("{}_token", "x".repeat(100));
        assert!(sensitive(&s, &k));
        assert!(!sensitive(&s, &"y".repeat(100)));
    }
}
