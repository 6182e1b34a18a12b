//! The tables of hookd.toml: each key read into its typed value, with its bounds.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::reader::{Key, Reader};
use super::{
    HttpSettings, MAX_AUTH_TIMEOUT, MAX_CONNECTION_COUNT, MAX_DURATION, MAX_MAX_BACKGROUND,
    MAX_MAX_LIVE, MAX_RETRY_BACKOFF, MAX_UI_CODE_TTL, MIN_DURATION, MIN_EMERGENCY_JOURNAL,
    RedactSettings, RunSettings, ServerSettings, SessionSettings, StoreSettings, Synchronous,
    UiSettings,
};
use crate::redact::{ExtraPattern, RedactConfig, Redactor};

const STORE_KEYS: &[&str] = &["synchronous", "max_age", "max_size", "emergency_journal"];
const SESSION_KEYS: &[&str] = &["idle_ttl", "max_live", "bypass_alarm"];
const SERVER_KEYS: &[&str] = &["max_connections", "idle_timeout"];
const HTTP_KEYS: &[&str] = &[
    "listen",
    "allow_non_loopback",
    "auth_timeout",
    "max_unauthenticated",
    "max_connections",
];
const UI_KEYS: &[&str] = &["listen", "keepalive", "code_ttl"];
const RUN_KEYS: &[&str] = &["max_background", "retry_backoff"];
const REDACT_KEYS: &[&str] = &["enabled", "disabled_kinds", "extra", "extra_keys"];
const REDACT_EXTRA_KEYS: &[&str] = &["kind", "pattern"];

pub(super) fn store(r: &mut Reader<'_>, table: &DeTable<'_>) -> StoreSettings {
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

pub(super) fn session(r: &mut Reader<'_>, table: &DeTable<'_>) -> SessionSettings {
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
            "bypass_alarm" => {
                if let Some(x) = r.boolean(key, v) {
                    s.bypass_alarm = x;
                }
            }
            _ => return false,
        }
        true
    });
    s
}

pub(super) fn server(r: &mut Reader<'_>, table: &DeTable<'_>) -> ServerSettings {
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

pub(super) fn http(r: &mut Reader<'_>, table: &DeTable<'_>) -> HttpSettings {
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

pub(super) fn ui(r: &mut Reader<'_>, table: &DeTable<'_>) -> UiSettings {
    let mut s = UiSettings::default();
    r.section("ui", UI_KEYS, table, |r, key, v| {
        match key.name {
            "listen" => {
                if let Some(text) = r.string(key, v) {
                    match text.trim().parse::<SocketAddr>() {
                        Ok(addr) if addr.ip().is_loopback() => s.listen = Some(addr),
                        Ok(_) => r.bad(
                            key,
                            v,
                            "not a loopback address: the dashboard shows every event and is \
                             for this machine only (there is no override); use 127.0.0.1 or \
                             [::1], and `ssh -L` to see it from elsewhere",
                        ),
                        Err(_) => r.bad(
                            key,
                            v,
                            "not an IP address and port; use e.g. \"127.0.0.1:8766\"",
                        ),
                    }
                }
            }
            "keepalive" => {
                if let Some(x) = r.duration(key, v, MIN_DURATION, Duration::from_secs(3600)) {
                    s.keepalive = x;
                }
            }
            "code_ttl" => {
                if let Some(x) = r.duration(key, v, MIN_DURATION, MAX_UI_CODE_TTL) {
                    s.code_ttl = x;
                }
            }
            _ => return false,
        }
        true
    });
    s
}

pub(super) fn run(r: &mut Reader<'_>, table: &DeTable<'_>) -> RunSettings {
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

pub(super) fn redact(
    r: &mut Reader<'_>,
    table: &DeTable<'_>,
    table_span: Range<usize>,
) -> RedactSettings {
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
