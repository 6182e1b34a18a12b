//! The text patterns: one pass per kind over a string, in a fixed order, each replacing what
//! it finds with its marker.
//!
//! Pure functions of the text: no I/O, no state between calls. A pass only runs when the
//! prefilter says its group can match, and must never match the markers that earlier passes
//! (or a previous redaction) wrote, so redaction stays idempotent. Every regex is ASCII-only
//! (`[0-9]`, not `\d`; no Unicode word boundaries) so the fast DFA engines always apply.
//!
//! Order: extra patterns (in `mod.rs`), private keys, URL credentials, JWTs, prefixed tokens,
//! AWS secret keys then key ids, `Bearer`, header lines, assignments, emails, card numbers,
//! SSNs, phone numbers, home paths.

use std::borrow::Cow;

use regex::{Captures, Match, Regex};

use super::{Found, Kind, Redactor, chain, group as G, is_marker, prefilter};

/// A prefixed-token kind: capture group 1 is the token.
struct Token {
    kind: Kind,
    group: u32,
    re: Regex,
    ok: fn(&str) -> bool,
}

/// Left boundary for short prefixes: start, a non-alphanumeric, or a `\n`/`\r`/`\t` escape.
const LB: &str = r"(?:^|[^A-Za-z0-9]|\\[nrt])";

/// Compiled built-in patterns.
pub(crate) struct Patterns {
    pem: Regex,
    url: Regex,
    jwt: Regex,
    tokens: Vec<Token>,
    aws_id: Regex,
    aws_label: Regex,
    aws_cand: Regex,
    bearer: Regex,
    header: Regex,
    assign: Regex,
    flag: Regex,
    email: Regex,
    num_run: Regex,
    ssn: Regex,
    phone_intl: Regex,
    phone_nanp: Regex,
    home_win: Regex,
    home_enc: Regex,
}

fn re(p: &str) -> Result<Regex, String> {
    Regex::new(p).map_err(|e| format!("redact: built-in pattern {p:?}: {e}"))
}

fn any_ok(_: &str) -> bool {
    true
}

/// Generic `sk-` keys must contain a digit (prose like `sk-` + a long word is not a key).
fn openai_ok(t: &str) -> bool {
    t.starts_with("sk-proj-")
        || t.starts_with("sk-svcacct-")
        || t.starts_with("sk-admin-")
        || t.bytes().any(|b| b.is_ascii_digit())
}

fn has_digit(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_digit())
}

/// Hugging Face tokens are mixed case; `hf_` + a long lower-case identifier is not one.
fn mixed_case(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_uppercase()) && t.bytes().any(|b| b.is_ascii_lowercase())
}

impl Patterns {
    /// Compiles the built-in patterns; `extra_keys` join the assignment key names.
    pub(crate) fn new(extra_keys: &[String]) -> Result<Self, String> {
        let tok = |kind, group, p: &str, ok| -> Result<Token, String> {
            Ok(Token {
                kind,
                group,
                re: re(p)?,
                ok,
            })
        };
        let tokens = vec![
            tok(
                Kind::AnthropicKey,
                G::SK,
                r"(sk-ant-[A-Za-z0-9_-]{20,})",
                any_ok,
            )?,
            tok(
                Kind::OpenaiKey,
                G::SK,
                &format!(
                    r"{LB}(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{20,}}|sk-[A-Za-z0-9]{{20,}})"
                ),
                openai_ok,
            )?,
            tok(
                Kind::GithubToken,
                G::GITHUB,
                r"(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
                any_ok,
            )?,
            tok(
                Kind::GitlabToken,
                G::GITLAB,
                r"(glpat-[A-Za-z0-9_-]{20,})",
                any_ok,
            )?,
            tok(
                Kind::SlackToken,
                G::SLACK,
                &format!(r"{LB}(xox[abprs]-[A-Za-z0-9-]{{10,}})"),
                has_digit,
            )?,
            tok(
                Kind::GoogleApiKey,
                G::GOOGLE,
                r"(AIza[0-9A-Za-z_-]{35,})",
                any_ok,
            )?,
            tok(
                Kind::StripeKey,
                G::STRIPE,
                r"((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,})",
                any_ok,
            )?,
            tok(
                Kind::NpmToken,
                G::NPM,
                &format!(r"{LB}(npm_[A-Za-z0-9]{{36,}})"),
                any_ok,
            )?,
            tok(
                Kind::HuggingfaceToken,
                G::HF,
                &format!(r"{LB}(hf_[A-Za-z0-9]{{30,}})"),
                mixed_case,
            )?,
            tok(
                Kind::PypiToken,
                G::PYPI,
                r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20,})",
                any_ok,
            )?,
        ];
        let mut key_alts = String::from(
            r"passw(?:or)?d|passphrase|secret|token|api[_-]?key|private[_-]?key|secret[_-]?key|access[_-]?key|credentials?|creds|authorization|cookie",
        );
        for k in extra_keys {
            // `x-internal-sig` also matches `X_INTERNAL_SIG` and `xInternalSig`.
            let words: Vec<String> = k
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(regex::escape)
                .collect();
            if !words.is_empty() {
                key_alts.push('|');
                key_alts.push_str(&words.join("[_.-]?"));
            }
        }
        // Values: "dq" | 'sq' | \"escaped dq\" | bare (not starting with `=` or `[`).
        let value = r#"(?:"([^"\\\r\n]*)"|'([^'\\\r\n]*)'|\\"((?:[^"\\]|\\[^"])*?)\\"|([^\s"'\\&;|,<>(){}\[\]`=][^\s"'\\&;|,<>(){}\[\]`]*))"#;
        Ok(Self {
            pem: re(
                r"(?s)-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|\z)",
            )?,
            url: re(
                r#"([A-Za-z][A-Za-z0-9+.-]{0,31}://)[^\s/?#@:\[\]"'\\<>]*:[^\s/?#\[\]"'\\<>]*@"#,
            )?,
            jwt: re(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")?,
            tokens,
            aws_id: re(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}")?,
            aws_label: re(r"(?i)aws_?secret|secret_?access_?key")?,
            aws_cand: re(r"[A-Za-z0-9/+]{40,}=*")?,
            bearer: re(r"(?i)(bearer[ \t]+)([A-Za-z0-9._~+/-]{8,}=*)")?,
            header: re(
                r#"(?i)((?:proxy-)?authorization|set-cookie|cookie)[ \t]*:[ \t]*([^\s"'\\][^\r\n"'\\]*)"#,
            )?,
            assign: re(&format!(
                r#"(?i)([A-Za-z0-9_.-]*(?:{key_alts}))(\\?["']?)([ \t]*(?::=|=|:)[ \t]*){value}"#
            ))?,
            flag: re(
                r#"(?i)(--[A-Za-z0-9-]*(?:password|passwd|passphrase|token|secret|api-?key))([ \t]+)(?:"([^"\\\r\n]*)"|'([^'\\\r\n]*)'|([^\s"'\\&;|,<>(){}\[\]`=-][^\s"'\\&;|,<>(){}\[\]`]*))"#,
            )?,
            email: re(
                r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}",
            )?,
            num_run: re(r"[0-9]+(?:[ -][0-9]+)*")?,
            ssn: re(r"([0-9]{3})-([0-9]{2})-([0-9]{4})")?,
            phone_intl: re(r"\+[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,5}\)?){1,6}")?,
            phone_nanp: re(
                r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[.-])[2-9][0-9]{2}[.-][0-9]{4}",
            )?,
            home_win: re(
                r#"(?i)(?:^|[^A-Za-z0-9_]|\\[nrt])([A-Z]:(?:\\\\|\\|/)users(?:\\\\|\\|/))([^\\/:*?"<>|\r\n\t\[\]]+)"#,
            )?,
            home_enc: re(r"projects(?:/|\\\\|\\)(?:[A-Za-z]-)?-(?:home|Users)-")?,
        })
    }

    /// Runs the built-in passes selected by `mask` over `cur`.
    pub(crate) fn run<'a>(
        &self,
        r: &Redactor,
        mut cur: Cow<'a, str>,
        mask: u32,
        f: &mut Found,
    ) -> Cow<'a, str> {
        let on = |k: Kind, g: u32| mask & g != 0 && r.is_on(k);
        if on(Kind::PrivateKey, G::PEM) {
            cur = chain(cur, |t| whole(&self.pem, t, Kind::PrivateKey, f));
        }
        if on(Kind::UrlCredentials, G::URL) && mask & G::AT != 0 {
            cur = chain(cur, |t| self.url(t, f));
        }
        if on(Kind::Jwt, G::JWT) {
            cur = chain(cur, |t| whole(&self.jwt, t, Kind::Jwt, f));
        }
        for tk in &self.tokens {
            if on(tk.kind, tk.group) {
                cur = chain(cur, |t| token(tk, t, f));
            }
        }
        if mask & G::AWS != 0 {
            if r.is_on(Kind::AwsSecretKey) {
                cur = chain(cur, |t| self.aws_secret(t, f));
            }
            if r.is_on(Kind::AwsKeyId) {
                cur = chain(cur, |t| whole(&self.aws_id, t, Kind::AwsKeyId, f));
            }
        }
        if on(Kind::Bearer, G::BEARER) {
            cur = chain(cur, |t| self.bearer(t, f));
        }
        if on(Kind::SecretAssignment, G::WORDS | G::XKEYS) {
            cur = chain(cur, |t| self.header(t, f));
            cur = chain(cur, |t| self.assign(t, f));
            cur = chain(cur, |t| self.flag(t, f));
        }
        if on(Kind::Email, G::AT) {
            cur = chain(cur, |t| self.email(t, f));
        }
        if on(Kind::CreditCard, G::CARD) {
            cur = chain(cur, |t| self.cards(t, f));
        }
        if on(Kind::Ssn, G::SSN) {
            cur = chain(cur, |t| self.ssn(t, f));
        }
        if on(Kind::Phone, G::PHONE) {
            cur = chain(cur, |t| self.phones(t, f));
        }
        if on(Kind::HomePath, G::HOME_UNIX | G::HOME_WIN | G::HOME_ENC) {
            cur = chain(cur, |t| self.home(t, mask, f));
        }
        cur
    }

    fn url(&self, t: &str, f: &mut Found) -> Option<String> {
        let out = splice_caps(&self.url, t, |c| {
            let m = c.get(0)?;
            let scheme = c.get(1)?;
            Some((
                scheme.end(),
                m.end() - 1,
                Kind::UrlCredentials.marker().into(),
            ))
        });
        mark(out, f, Kind::UrlCredentials)
    }

    /// AWS secret keys: see the module docs of `redact` for the heuristic.
    fn aws_secret(&self, t: &str, f: &mut Found) -> Option<String> {
        let ids: Vec<usize> = self.aws_id.find_iter(t).map(|m| m.start()).collect();
        let labels: Vec<usize> = self.aws_label.find_iter(t).map(|m| m.end()).collect();
        if ids.is_empty() && labels.is_empty() {
            return None;
        }
        let out = splice_find(&self.aws_cand, t, |m| {
            let s = m.as_str();
            let ok = s.len() == 40
                && s.bytes().any(|b| b.is_ascii_uppercase())
                && s.bytes().any(|b| b.is_ascii_lowercase())
                && s.bytes()
                    .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
                && (labels
                    .iter()
                    .any(|&l| l <= m.start() && m.start() - l <= 80)
                    || ids.iter().any(|&i| i.abs_diff(m.start()) <= 256));
            ok.then(|| (m.start(), m.end(), Kind::AwsSecretKey.marker().into()))
        });
        mark(out, f, Kind::AwsSecretKey)
    }

    fn bearer(&self, t: &str, f: &mut Found) -> Option<String> {
        let out = splice_caps(&self.bearer, t, |c| {
            let v = c.get(2)?;
            let credible = v
                .as_str()
                .bytes()
                .any(|b| b.is_ascii_digit() || b"._~+/=-".contains(&b));
            credible.then(|| (v.start(), v.end(), Kind::Bearer.marker().into()))
        });
        mark(out, f, Kind::Bearer)
    }

    /// `Authorization: …` / `Cookie: …` lines: the whole rest of the line.
    fn header(&self, t: &str, f: &mut Found) -> Option<String> {
        let out = splice_caps(&self.header, t, |c| {
            let v = c.get(2)?;
            let val = v.as_str().trim_end();
            let credible = !is_marker(val)
                && !val.starts_with('$')
                && val
                    .bytes()
                    .any(|b| b.is_ascii_digit() || b == b'=' || b == b' ' || b == b';');
            credible.then(|| {
                (
                    v.start(),
                    v.start() + val.len(),
                    Kind::SecretAssignment.marker().into(),
                )
            })
        });
        mark(out, f, Kind::SecretAssignment)
    }

    /// `KEY=value`, `KEY: value`, `"KEY": "value"` where KEY names a secret.
    fn assign(&self, t: &str, f: &mut Found) -> Option<String> {
        let out = splice_caps(&self.assign, t, |c| {
            let colon = c.get(3).is_some_and(|s| s.as_str().trim() == ":");
            if let Some(v) = c.get(4).or_else(|| c.get(5)).or_else(|| c.get(6)) {
                return quoted_ok(v.as_str())
                    .then(|| (v.start(), v.end(), Kind::SecretAssignment.marker().into()));
            }
            let v = c.get(7)?;
            bare_ok(t, v, colon)
                .then(|| (v.start(), v.end(), Kind::SecretAssignment.marker().into()))
        });
        mark(out, f, Kind::SecretAssignment)
    }

    /// `--password value`, `--api-key value`.
    fn flag(&self, t: &str, f: &mut Found) -> Option<String> {
        let out = splice_caps(&self.flag, t, |c| {
            if let Some(v) = c.get(3).or_else(|| c.get(4)) {
                return quoted_ok(v.as_str())
                    .then(|| (v.start(), v.end(), Kind::SecretAssignment.marker().into()));
            }
            let v = c.get(5)?;
            bare_ok(t, v, false)
                .then(|| (v.start(), v.end(), Kind::SecretAssignment.marker().into()))
        });
        mark(out, f, Kind::SecretAssignment)
    }

    fn email(&self, t: &str, f: &mut Found) -> Option<String> {
        let b = t.as_bytes();
        let out = splice_find(&self.email, t, |m| {
            let s = m.as_str();
            let (local, domain) = s.split_once('@')?;
            let tld = domain.rsplit('.').next().unwrap_or_default();
            let first = domain.split('.').next().unwrap_or_default();
            let retina = first.len() >= 2
                && first.ends_with(['x', 'X'])
                && first[..first.len() - 1].bytes().all(|c| c.is_ascii_digit());
            let exempt = ["git", "noreply", "no-reply"]
                .iter()
                .any(|e| local.eq_ignore_ascii_case(e))
                || retina
                || IMAGE_EXT.iter().any(|e| tld.eq_ignore_ascii_case(e))
                // Still inside a word: the TLD run was cut short.
                || b.get(m.end()).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
            (!exempt).then(|| (m.start(), m.end(), Kind::Email.marker().into()))
        });
        mark(out, f, Kind::Email)
    }

    /// Card numbers: runs of digit groups; any window of whole groups that is a card.
    fn cards(&self, t: &str, f: &mut Found) -> Option<String> {
        let b = t.as_bytes();
        let mut spans = Vec::new();
        for m in self.num_run.find_iter(t) {
            if m.len() < 13 {
                continue;
            }
            // A window may start at the run's first group only if the run is not glued to a
            // word on the left, and end at its last group only if not glued on the right.
            let (left, right) = (left_ok(b, m.start()), right_ok(b, m.end()));
            // Groups: (start, end) of each digit group.
            let mut groups = Vec::new();
            let mut gs = m.start();
            for (i, &c) in b[m.start()..m.end()].iter().enumerate() {
                if c == b' ' || c == b'-' {
                    groups.push((gs, m.start() + i));
                    gs = m.start() + i + 1;
                }
            }
            groups.push((gs, m.end()));
            let last = groups.len() - 1;
            let mut i = usize::from(!left);
            while i < groups.len() {
                let mut hit = None;
                // A window has at most 19 digits, so at most 19 groups: bounded work per run.
                for j in (i..groups.len().min(i + 19)).rev() {
                    if j == last && !right {
                        continue;
                    }
                    let w = &groups[i..=j];
                    let n: usize = w.iter().map(|(s, e)| e - s).sum();
                    if !(13..=19).contains(&n) {
                        continue;
                    }
                    if w.len() > 1 && !w.iter().all(|(s, e)| (3..=6).contains(&(e - s))) {
                        continue;
                    }
                    let digits: Vec<u8> = w
                        .iter()
                        .flat_map(|&(s, e)| b[s..e].iter().copied())
                        .collect();
                    if card_number(&digits) {
                        hit = Some(j);
                        break;
                    }
                }
                if let Some(j) = hit {
                    spans.push((groups[i].0, groups[j].1));
                    i = j + 1;
                } else {
                    i += 1;
                }
            }
        }
        mark(
            splice_spans(t, &spans, Kind::CreditCard.marker()),
            f,
            Kind::CreditCard,
        )
    }

    fn ssn(&self, t: &str, f: &mut Found) -> Option<String> {
        let b = t.as_bytes();
        let out = splice_caps(&self.ssn, t, |c| {
            let m = c.get(0)?;
            let (area, grp, serial) = (c.get(1)?.as_str(), c.get(2)?.as_str(), c.get(3)?.as_str());
            let ok = left_ok(b, m.start())
                && b.get(m.start().wrapping_sub(1))
                    .is_none_or(|&p| p != b'-' && p != b'.')
                && right_ok(b, m.end())
                && area != "000"
                && area != "666"
                && !area.starts_with('9')
                && grp != "00"
                && serial != "0000";
            ok.then(|| (m.start(), m.end(), Kind::Ssn.marker().into()))
        });
        mark(out, f, Kind::Ssn)
    }

    fn phones(&self, t: &str, f: &mut Found) -> Option<String> {
        let b = t.as_bytes();
        let intl = splice_find(&self.phone_intl, t, |m| {
            let s = m.as_str().trim_end_matches(['(', ' ', '.', '-']);
            let n = s.bytes().filter(u8::is_ascii_digit).count();
            let end = m.start() + s.len();
            let ok = (9..=15).contains(&n)
                && left_ok(b, m.start())
                && b.get(m.start().wrapping_sub(1)) != Some(&b'+')
                && right_ok(b, end);
            ok.then(|| (m.start(), end, Kind::Phone.marker().into()))
        });
        let found_intl = intl.is_some();
        let cur: Cow<'_, str> = intl.map_or(Cow::Borrowed(t), Cow::Owned);
        let b = cur.as_bytes();
        let nanp = splice_find(&self.phone_nanp, &cur, |m| {
            let ok = left_ok(b, m.start())
                && b.get(m.start().wrapping_sub(1))
                    .is_none_or(|&p| p != b'+' && p != b'.')
                && right_ok(b, m.end());
            ok.then(|| (m.start(), m.end(), Kind::Phone.marker().into()))
        });
        let out = match (nanp, found_intl) {
            (Some(n), _) => Some(n),
            (None, true) => Some(cur.into_owned()),
            (None, false) => None,
        };
        mark(out, f, Kind::Phone)
    }

    /// User names in home directories, then in Claude Code's encoded project directories.
    fn home(&self, t: &str, mask: u32, f: &mut Found) -> Option<String> {
        let mut names: Vec<String> = Vec::new();
        let unix = if mask & G::HOME_UNIX == 0 {
            None
        } else {
            Self::home_unix(t, &mut names)
        };
        let mut changed = unix.is_some();
        let cur: Cow<'_, str> = unix.map_or(Cow::Borrowed(t), Cow::Owned);
        let win = if mask & G::HOME_WIN == 0 {
            None
        } else {
            self.home_win(&cur, &mut names)
        };
        changed |= win.is_some();
        let cur: Cow<'_, str> = win.map_or(cur, Cow::Owned);
        let enc = if mask & G::HOME_ENC == 0 {
            None
        } else {
            self.home_enc(&cur, &names)
        };
        changed |= enc.is_some();
        let cur = enc.map_or(cur, Cow::Owned);
        if changed {
            f.add(Kind::HomePath);
            Some(cur.into_owned())
        } else {
            None
        }
    }

    /// `/home/<name>`, `/Users/<name>` at the start of a path (after start of text, a byte
    /// that cannot be in a path segment, `//` as in `file:///home`, `/var` as in Silverblue's
    /// `/var/home`, or a `\n`/`\r`/`\t` escape). Hand-written: it runs on nearly every event.
    fn home_unix(t: &str, names: &mut Vec<String>) -> Option<String> {
        let b = t.as_bytes();
        let mut out = String::new();
        let mut last = 0;
        let mut i = 0;
        while let Some(off) = b[i..].iter().position(|&c| c == b'/') {
            let p = i + off;
            i = p + 1;
            let rest = &b[p..];
            let root = if rest.starts_with(b"/home/") {
                6
            } else if rest.starts_with(b"/Users/") {
                7
            } else {
                continue;
            };
            let pre_ok = p == 0
                || !matches!(b[p - 1], b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'~' | b'/' | b'-')
                || (p >= 2 && b[p - 2] == b'/' && b[p - 1] == b'/')
                || b[..p].ends_with(b"/var")
                || (p >= 2 && b[p - 2] == b'\\' && matches!(b[p - 1], b'n' | b'r' | b't'));
            if !pre_ok {
                continue;
            }
            let start = p + root;
            let len = b[start..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
                .count();
            let name = &t[start..start + len];
            if len == 0
                || name == "Shared"
                || name == "linuxbrew"
                || name.bytes().all(|c| c == b'.')
            {
                continue;
            }
            if names.len() < MAX_NAMES && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
            out.push_str(&t[last..start]);
            out.push_str(USER);
            last = start + len;
            i = last;
        }
        if last == 0 {
            return None;
        }
        out.push_str(&t[last..]);
        Some(out)
    }

    fn home_win(&self, t: &str, names: &mut Vec<String>) -> Option<String> {
        let b = t.as_bytes();
        splice_caps(&self.home_win, t, |c| {
            let n = c.get(2)?;
            let mut name = n.as_str();
            if !matches!(b.get(n.end()), Some(b'\\' | b'/')) {
                name = name.split(' ').next().unwrap_or_default();
            }
            let exempt = [
                "public",
                "default",
                "default user",
                "all users",
                "shared",
                USER,
            ]
            .iter()
            .any(|e| name.eq_ignore_ascii_case(e));
            if exempt || name.is_empty() {
                return None;
            }
            if names.len() < MAX_NAMES && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
            Some((n.start(), n.start() + name.len(), Cow::Borrowed(USER)))
        })
    }

    /// `…/projects/-home-<name>-…`: a name seen in this string's home paths, else the first
    /// alphanumeric word.
    fn home_enc(&self, t: &str, names: &[String]) -> Option<String> {
        let b = t.as_bytes();
        splice_find(&self.home_enc, t, |m| {
            let rest = &b[m.end()..];
            let boundary = |n: usize| matches!(rest.get(n), None | Some(b'-' | b'/' | b'\\'));
            let known = names
                .iter()
                .map(|n| encode_name(n))
                .find(|e| !e.is_empty() && rest.starts_with(e.as_bytes()) && boundary(e.len()));
            let len = known.map_or_else(
                || {
                    rest.iter()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .count()
                },
                |e| e.len(),
            );
            (len > 0).then(|| (m.end(), m.end() + len, Cow::Borrowed(USER)))
        })
    }
}

/// User names remembered per string for the encoded-directory pass (bounds its work).
const MAX_NAMES: usize = 8;

/// What replaces a user name in a home path.
const USER: &str = "[USER]";

/// File extensions that look like TLDs in `icon@2x.png`-style names (none is a real TLD).
const IMAGE_EXT: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp",
];

/// Claude Code's project-directory encoding of a name: every non-alphanumeric becomes `-`.
fn encode_name(n: &str) -> String {
    n.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A quoted assignment value worth redacting.
fn quoted_ok(v: &str) -> bool {
    !v.is_empty() && !is_marker(v) && !v.starts_with('$')
}

/// An unquoted assignment value worth redacting: not a variable, keyword, call or (after a
/// colon) a type name.
fn bare_ok(t: &str, v: Match<'_>, colon: bool) -> bool {
    let s = v.as_str();
    if s.starts_with(['$', '%']) {
        return false;
    }
    const KEYWORDS: &[&str] = &[
        "true",
        "false",
        "null",
        "none",
        "nil",
        "undefined",
        "yes",
        "no",
    ];
    if KEYWORDS.iter().any(|k| s.eq_ignore_ascii_case(k)) {
        return false;
    }
    if matches!(t.as_bytes().get(v.end()), Some(b'(' | b'[' | b'"' | b'\'')) {
        return false;
    }
    let ident = s
        .bytes()
        .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'.');
    if ident && s.contains('.') {
        // `config.token`, `os.environ`: a reference, not a value.
        return false;
    }
    if colon {
        // `token: str`, `apiKey: string`: type annotations. Require something secret-looking.
        return !ident || s.len() >= 16;
    }
    true
}

/// Whether the byte before `i` ends a word (shared with the prefilter, which must agree).
fn left_ok(b: &[u8], i: usize) -> bool {
    prefilter::left_free(b, i)
}

/// Whether the text at `i` does not continue the number or word.
fn right_ok(b: &[u8], i: usize) -> bool {
    match b.get(i) {
        None => true,
        Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => false,
        Some(b'.' | b'-') => !b.get(i + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => true,
    }
}

/// Whether `digits` (ASCII digits only) is a card number: 13–19 digits, first digit 2–6 (the
/// card networks), Luhn-valid.
pub(crate) fn card_number(digits: &[u8]) -> bool {
    if !(13..=19).contains(&digits.len())
        || !digits.iter().all(u8::is_ascii_digit)
        || !(b'2'..=b'6').contains(&digits[0])
    {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn mark(out: Option<String>, f: &mut Found, k: Kind) -> Option<String> {
    if out.is_some() {
        f.add(k);
    }
    out
}

/// Every match of `re` replaced by the marker of `k`.
fn whole(re: &Regex, t: &str, k: Kind, f: &mut Found) -> Option<String> {
    let out = splice_find(re, t, |m| Some((m.start(), m.end(), k.marker().into())));
    mark(out, f, k)
}

/// Capture group 1 of each match replaced, if the token passes its check.
fn token(tk: &Token, t: &str, f: &mut Found) -> Option<String> {
    let out = splice_caps(&tk.re, t, |c| {
        let g = c.get(1)?;
        (tk.ok)(g.as_str()).then(|| (g.start(), g.end(), tk.kind.marker().into()))
    });
    mark(out, f, tk.kind)
}

/// A user pattern: the `secret` group (if the pattern has one and it took part) or the whole
/// match, replaced by `marker`. Empty matches are ignored.
pub(crate) fn replace_extra(
    re: &Regex,
    group: Option<usize>,
    marker: &str,
    t: &str,
) -> Option<String> {
    splice_caps(re, t, |c| {
        let m = match group {
            Some(g) => c.get(g)?,
            None => c.get(0)?,
        };
        (!m.is_empty()).then(|| (m.start(), m.end(), Cow::Owned(marker.to_owned())))
    })
}

type Span = (usize, usize, Cow<'static, str>);

/// Rebuilds `t` with the spans chosen by `pick` (one per match, in order) replaced.
fn splice_find(
    re: &Regex,
    t: &str,
    mut pick: impl FnMut(Match<'_>) -> Option<Span>,
) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let mut any = false;
    for m in re.find_iter(t) {
        if let Some((s, e, rep)) = pick(m) {
            out.push_str(&t[last..s]);
            out.push_str(&rep);
            last = e;
            any = true;
        }
    }
    any.then(|| {
        out.push_str(&t[last..]);
        out
    })
}

/// As [`splice_find`], with capture groups.
fn splice_caps(
    re: &Regex,
    t: &str,
    mut pick: impl FnMut(&Captures<'_>) -> Option<Span>,
) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let mut any = false;
    for c in re.captures_iter(t) {
        if let Some((s, e, rep)) = pick(&c) {
            if s < last {
                continue;
            }
            out.push_str(&t[last..s]);
            out.push_str(&rep);
            last = e;
            any = true;
        }
    }
    any.then(|| {
        out.push_str(&t[last..]);
        out
    })
}

/// `t` with each of the (ordered, disjoint) `spans` replaced by `rep`.
fn splice_spans(t: &str, spans: &[(usize, usize)], rep: &str) -> Option<String> {
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(t.len());
    let mut last = 0;
    for &(s, e) in spans {
        out.push_str(&t[last..s]);
        out.push_str(rep);
        last = e;
    }
    out.push_str(&t[last..]);
    Some(out)
}
