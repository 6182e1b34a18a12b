//! `[fleet]` and `[sink.NAME]`: where hookd forwards its stored (redacted) events (issue 20;
//! docs/fleet.md). Read at start only.
//!
//! A bad sink never stops hookd from answering: problems in these tables are not load errors
//! (which would keep the last good rules); each is kept with its sink ([`SinkSettings::errors`])
//! or in [`FleetSettings::errors`], the sink is not started, and `status` and `doctor` say why.
//! Files, modes and the endpoint's scheme are checked by hookd when it builds the sink.

use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::reader::{Key, Reader};
use super::{MAX_DURATION, MIN_DURATION};

/// `[sink.NAME] batch_events` by default and at most.
pub const DEFAULT_BATCH_EVENTS: usize = 512;
/// `[sink.NAME] batch_bytes` by default and at most (below common collectors' limits).
pub const DEFAULT_BATCH_BYTES: u64 = 1 << 20;
/// `[sink.NAME] linger`: how long a batch that is not full waits for more events.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(1);
/// `[sink.NAME] backoff_min`: the first retry's delay bound (full jitter below it).
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_secs(1);
/// `[sink.NAME] backoff_max`: the longest delay between retries.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// `[sink.NAME] lag_warn`: status and health degrade past this lag.
pub const DEFAULT_LAG_WARN: Duration = Duration::from_secs(300);
/// `[sink.NAME] timeout`: one request's deadline.
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);

const FLEET_KEYS: &[&str] = &["host", "labels"];
const SINK_KEYS: &[&str] = &[
    "kind",
    "endpoint",
    "url",
    "token_file",
    "password_file",
    "headers",
    "ca_file",
    "cert_file",
    "key_file",
    "compression",
    "payload",
    "batch_events",
    "batch_bytes",
    "linger",
    "timeout",
    "backoff_min",
    "backoff_max",
    "lag_warn",
    "allow_plaintext",
    "table",
    "schema",
];

/// `[fleet]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetSettings {
    /// The host name sent with every event; `None`: the machine's.
    pub host: Option<String>,
    /// Extra labels (OTLP resource attributes), sorted by name.
    pub labels: Vec<(String, String)>,
    /// Problems in `[fleet]` or in the `sink` table itself.
    pub errors: Vec<String>,
}

/// What a sink sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// OTLP/HTTP protobuf logs.
    Otlp,
    /// PostgreSQL.
    Postgres,
}

impl SinkKind {
    /// The name in hookd.toml.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Otlp => "otlp",
            Self::Postgres => "postgres",
        }
    }
}

/// `[sink.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSettings {
    /// `NAME`.
    pub name: String,
    /// `kind`; `None` when missing or bad (then `errors` says so).
    pub kind: Option<SinkKind>,
    /// `endpoint` (OTLP) or `url` (PostgreSQL); `None`: from the environment (OTLP).
    pub endpoint: Option<String>,
    /// `token_file` (OTLP bearer token) or `password_file` (PostgreSQL), 0600.
    pub secret_file: Option<String>,
    /// Extra, non-secret request headers (OTLP).
    pub headers: Vec<(String, String)>,
    /// A CA bundle instead of the system roots.
    pub ca_file: Option<String>,
    /// A client certificate and key (mTLS).
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// gzip request bodies.
    pub gzip: bool,
    /// Also send the redacted payload.
    pub payload: bool,
    pub batch_events: usize,
    pub batch_bytes: u64,
    pub linger: Duration,
    pub timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub lag_warn: Duration,
    /// Plain `http://` to a host outside the loopback range is allowed.
    pub allow_plaintext: bool,
    /// The central table (PostgreSQL).
    pub table: Option<String>,
    /// The central table's schema (PostgreSQL; default: the role's search_path).
    pub schema: Option<String>,
    /// Problems found reading it: the sink is not started while there are any.
    pub errors: Vec<String>,
}

impl SinkSettings {
    /// A sink named `name` with every default (no kind yet).
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            kind: None,
            endpoint: None,
            secret_file: None,
            headers: Vec::new(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            gzip: false,
            payload: false,
            batch_events: DEFAULT_BATCH_EVENTS,
            batch_bytes: DEFAULT_BATCH_BYTES,
            linger: DEFAULT_LINGER,
            timeout: DEFAULT_SINK_TIMEOUT,
            backoff_min: DEFAULT_BACKOFF_MIN,
            backoff_max: DEFAULT_BACKOFF_MAX,
            lag_warn: DEFAULT_LAG_WARN,
            allow_plaintext: false,
            table: None,
            schema: None,
            errors: Vec::new(),
        }
    }
}

/// A table of strings (`labels`, `headers`), sorted by key.
fn string_table(
    r: &mut Reader<'_>,
    key: &Key<'_>,
    value: &Spanned<DeValue<'_>>,
) -> Vec<(String, String)> {
    let DeValue::Table(t) = value.get_ref() else {
        r.bad(
            key,
            value,
            "expected a table of strings, like { team = \"payments\" }",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in t {
        match v.get_ref().as_str() {
            Some(s) => out.push((k.get_ref().to_string(), s.to_string())),
            None => r.bad(key, v, "expected a string"),
        }
    }
    out
}

/// Reads `[fleet]`.
pub(super) fn fleet(file: &str, text: &str, table: &DeTable<'_>) -> FleetSettings {
    let mut r = Reader::new(file, text);
    let mut s = FleetSettings::default();
    r.section("fleet", FLEET_KEYS, table, |r, key, v| {
        match key.name {
            "host" => {
                if let Some(h) = r.string(key, v) {
                    if h.trim().is_empty() {
                        r.bad(key, v, "must not be empty");
                    } else {
                        s.host = Some(h.trim().to_string());
                    }
                }
            }
            "labels" => s.labels = string_table(r, key, v),
            _ => return false,
        }
        true
    });
    s.errors = r.finish().1;
    s
}

/// Reads `[sink]`: one [`SinkSettings`] per `[sink.NAME]` table; problems with the `sink` key
/// itself go to `fleet_errors`.
pub(super) fn sinks(
    file: &str,
    text: &str,
    value: &Spanned<DeValue<'_>>,
    fleet_errors: &mut Vec<String>,
) -> Vec<SinkSettings> {
    let mut out = Vec::new();
    let DeValue::Table(t) = value.get_ref() else {
        let mut r = Reader::new(file, text);
        r.error(
            &value.span(),
            "`sink` must be tables, one per sink: [sink.NAME] with kind = \"otlp\" or \"postgres\"",
        );
        fleet_errors.extend(r.finish().1);
        return out;
    };
    for (name, v) in t {
        let mut r = Reader::new(file, text);
        let mut s = SinkSettings::new(name.get_ref());
        let DeValue::Table(table) = v.get_ref() else {
            r.error(
                &v.span(),
                &format!(
                    "`sink.{}` must be a table ([sink.{}])",
                    name.get_ref(),
                    name.get_ref()
                ),
            );
            s.errors = r.finish().1;
            out.push(s);
            continue;
        };
        let mut token = None;
        let mut password = None;
        let mut url = None;
        let mut endpoint = None;
        r.section("sink", SINK_KEYS, table, |r, key, v| {
            let max = MAX_DURATION;
            match key.name {
                "kind" => {
                    let options = [("otlp", SinkKind::Otlp), ("postgres", SinkKind::Postgres)];
                    s.kind = r.choice(key, v, &options);
                }
                "endpoint" => endpoint = r.string(key, v).map(str::to_string),
                "url" => url = r.string(key, v).map(str::to_string),
                "token_file" => token = r.string(key, v).map(str::to_string),
                "password_file" => password = r.string(key, v).map(str::to_string),
                "headers" => s.headers = string_table(r, key, v),
                "ca_file" => s.ca_file = r.string(key, v).map(str::to_string),
                "cert_file" => s.cert_file = r.string(key, v).map(str::to_string),
                "key_file" => s.key_file = r.string(key, v).map(str::to_string),
                "compression" => {
                    let options = [("none", false), ("gzip", true)];
                    if let Some(g) = r.choice(key, v, &options) {
                        s.gzip = g;
                    }
                }
                "payload" => s.payload = r.boolean(key, v).unwrap_or(false),
                "allow_plaintext" => s.allow_plaintext = r.boolean(key, v).unwrap_or(false),
                "table" => s.table = r.string(key, v).map(str::to_string),
                "schema" => s.schema = r.string(key, v).map(str::to_string),
                "batch_events" => {
                    if let Some(n) = r.count(key, v, 1, DEFAULT_BATCH_EVENTS) {
                        s.batch_events = n;
                    }
                }
                "batch_bytes" => {
                    if let Some(n) = r.size(key, v, 1024) {
                        s.batch_bytes = n.min(DEFAULT_BATCH_BYTES);
                    }
                }
                "linger" => {
                    if let Some(d) = r.duration(key, v, MIN_DURATION, Duration::from_secs(1)) {
                        s.linger = d;
                    }
                }
                "timeout" => {
                    if let Some(d) = r.duration(key, v, MIN_DURATION, Duration::from_secs(300)) {
                        s.timeout = d;
                    }
                }
                "backoff_min" => {
                    if let Some(d) = r.duration(key, v, MIN_DURATION, max) {
                        s.backoff_min = d;
                    }
                }
                "backoff_max" => {
                    if let Some(d) = r.duration(key, v, MIN_DURATION, max) {
                        s.backoff_max = d;
                    }
                }
                "lag_warn" => {
                    if let Some(d) = r.duration(key, v, MIN_DURATION, max) {
                        s.lag_warn = d;
                    }
                }
                _ => return false,
            }
            true
        });
        let at = name.span();
        match s.kind {
            Some(SinkKind::Otlp) => {
                s.endpoint = endpoint;
                s.secret_file = token;
                if url.is_some() || password.is_some() {
                    r.error(&at, "an otlp sink takes `endpoint` and `token_file` (not `url`, `password_file`)");
                }
            }
            Some(SinkKind::Postgres) => {
                s.endpoint = url;
                s.secret_file = password;
                if endpoint.is_some() || token.is_some() {
                    r.error(&at, "a postgres sink takes `url` and `password_file` (not `endpoint`, `token_file`)");
                }
                if s.endpoint.is_none() {
                    r.error(&at, "a postgres sink needs `url` (postgres://user@host/db)");
                }
            }
            None if !table.iter().any(|(k, _)| k.get_ref() == "kind") => {
                r.error(&at, "a sink needs `kind` = \"otlp\" or \"postgres\"");
            }
            None => {}
        }
        if s.backoff_max < s.backoff_min {
            r.error(&at, "`backoff_max` is shorter than `backoff_min`");
        }
        s.errors = r.finish().1;
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::parse_text;

    const FILE: &str = "/cfg/hookd.toml";

    #[test]
    fn sinks_are_read_with_their_defaults_and_knobs() {
        let (s, errors) = parse_text(
            FILE,
            "[fleet]\nhost = \"ci-17\"\nlabels = { team = \"payments\", env = \"ci\" }\n\
             [sink.otel]\nkind = \"otlp\"\nendpoint = \"https://otel:4318\"\n\
             token_file = \"~/.config/hookd/otel-token\"\ncompression = \"gzip\"\n\
             payload = true\nbatch_events = 100\nlinger = \"50ms\"\nbackoff_max = \"1m\"\n\
             [sink.pg]\nkind = \"postgres\"\nurl = \"postgres://w@db/agents\"\n\
             password_file = \"/p\"\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.fleet.host.as_deref(), Some("ci-17"));
        assert_eq!(
            s.fleet.labels,
            [
                ("env".into(), "ci".into()),
                ("team".into(), "payments".into())
            ]
        );
        let otel = &s.sinks[0];
        assert_eq!(otel.kind, Some(SinkKind::Otlp));
        assert_eq!(otel.endpoint.as_deref(), Some("https://otel:4318"));
        assert_eq!(
            otel.secret_file.as_deref(),
            Some("~/.config/hookd/otel-token")
        );
        assert!(otel.gzip && otel.payload);
        assert_eq!(otel.batch_events, 100);
        assert_eq!(otel.linger, Duration::from_millis(50));
        assert_eq!(otel.backoff_max, Duration::from_secs(60));
        assert_eq!(otel.batch_bytes, DEFAULT_BATCH_BYTES);
        assert!(otel.errors.is_empty());
        let pg = &s.sinks[1];
        assert_eq!(pg.kind, Some(SinkKind::Postgres));
        assert_eq!(pg.endpoint.as_deref(), Some("postgres://w@db/agents"));
        assert_eq!(pg.secret_file.as_deref(), Some("/p"));
    }

    /// A bad sink is not a load error (the rules and other settings load; hookd answers): the
    /// sink carries its problems, and status/doctor show them.
    #[test]
    fn a_bad_sink_is_kept_with_its_errors_not_a_load_error() {
        let (s, errors) = parse_text(
            FILE,
            "[sink.otel]\nkind = \"otlpp\"\nbatch_events = 100000\nendpont = \"x\"\n\
             [sink.other]\nendpoint = \"https://x\"\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let e = &s.sinks[0].errors;
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with(&format!("{FILE}:2:8: [sink] kind")),
            "{e:?}"
        );
        assert!(e[0].contains("did you mean \"otlp\""), "{e:?}");
        assert!(e[1].contains("batch_events"), "{e:?}");
        assert!(e[2].contains("did you mean `endpoint`"), "{e:?}");
        assert!(
            s.sinks[1].errors[0].contains("needs `kind`"),
            "{:?}",
            s.sinks[1].errors
        );
    }

    #[test]
    fn fleet_settings_are_refused_in_rule_files() {
        let text = "[fleet]\nhost = \"x\"\n[sink.otel]\nkind = \"otlp\"\n";
        let doc = toml::de::DeTable::parse(text).unwrap();
        let e = crate::settings::misplaced("/cfg/rules.d/x.toml", text, doc.get_ref());
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e.iter().all(|m| m.contains("belongs in hookd.toml")),
            "{e:?}"
        );
    }
}
