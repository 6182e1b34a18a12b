//! The kinds of what is redacted: the built-in [`Kind`]s with their names and markers, the
//! pattern families' group bits the prefilter sets, and what a marker looks like.

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
    pub(super) fn bit(self) -> u64 {
        1 << (self as u32)
    }

    /// The replacement text, `[REDACTED:<kind>]`.
    pub(super) fn marker(self) -> &'static str {
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

/// Group bits: which families of patterns a piece of text can possibly match (see
/// [`prefilter`](super::prefilter)).
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

/// Whether `s` is exactly a replacement marker, `[REDACTED:<kind>]`.
pub(super) fn is_marker(s: &str) -> bool {
    s.strip_prefix("[REDACTED:")
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|k| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}
