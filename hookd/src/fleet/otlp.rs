//! The OTLP logs sink: each stored event as an OpenTelemetry LogRecord, sent as OTLP/HTTP
//! protobuf (`POST …/v1/logs`) to any OpenTelemetry Collector or OTLP endpoint, with the hyper
//! client over rustls (ring). No OTel SDK (its queue drops data): the forwarder is the queue.
//!
//! Mapping (docs/fleet.md): resource `service.name=hookd`, `service.version`,
//! `host.name`, `hookd.store_id`, `hookd.epoch` and `[fleet] labels`; per record Claude Code's
//! own attribute names where they overlap (`session.id`, `prompt.id`, `tool_use_id`,
//! `tool_name`, `hook_event`), hookd's under `hookd.*`, the severity from the verdict and the
//! redacted summary as the body. Answers: 2xx → delivered (`partial_success` rejections
//! counted, not retried), 400/422 → rejected (bisected), 401/403/404/405 → held, 413 → too
//! large (split), 408/429/5xx and network errors → retried (`Retry-After` honoured).
//!
//! Must not read the store or hold more than the batch it is given.

use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

use super::{Origin, OutEvent, Outcome};
use crate::settings::SinkSettings;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A configured OTLP/HTTP logs endpoint.
pub struct OtlpSink {
    client: Client<Connector, Full<Bytes>>,
    uri: hyper::Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    gzip: bool,
}

/// Reads the environment variable `name` (empty counts as unset).
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A secret file (bearer token, password): it must be a regular file readable by its owner
/// only (0600 or stricter); its content, trimmed.
///
/// # Errors
///
/// Why the file is refused or cannot be read.
pub fn read_secret(path: &str) -> Result<String, String> {
    let path = crate::fleet::expand_home(path);
    let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: mode {mode:04o} lets other users read it; chmod 600 it",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(format!("{}: empty", path.display()));
    }
    Ok(text)
}

/// Whether `host` (from a URI: a name or an IP, IPv6 in brackets) is on the loopback
/// interface.
fn loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The endpoint to post to: `endpoint` from hookd.toml, else
/// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (as is), else `OTEL_EXPORTER_OTLP_ENDPOINT` with
/// `/v1/logs`. An endpoint from hookd.toml without a path gets `/v1/logs`.
///
/// # Errors
///
/// None given, not a URL, or plain `http://` to a host outside the loopback range without
/// `allow_plaintext`.
pub fn endpoint(s: &SinkSettings) -> Result<hyper::Uri, String> {
    let base = |e: String| {
        let trimmed = e.trim_end_matches('/');
        format!("{trimmed}/v1/logs")
    };
    let text = match (&s.endpoint, env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")) {
        (Some(e), _) => {
            let uri: hyper::Uri = e.parse().map_err(|err| format!("endpoint {e:?}: {err}"))?;
            if uri.path() == "/" || uri.path().is_empty() {
                base(e.clone())
            } else {
                e.clone()
            }
        }
        (None, Some(e)) => e,
        (None, None) => match env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(e) => base(e),
            None => {
                return Err(
                    "no endpoint: set `endpoint` or OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT".into(),
                );
            }
        },
    };
    let uri: hyper::Uri = text
        .parse()
        .map_err(|err| format!("endpoint {text:?}: {err}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("endpoint {text:?}: no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if loopback(host) || s.allow_plaintext => {}
        Some("http") => {
            return Err(format!(
                "endpoint {text:?}: plain http:// to {host}, which is not a loopback address, would \
                 send events unencrypted; use https://, or set allow_plaintext = true under \
                 [sink.{}] if you really mean it",
                s.name
            ));
        }
        _ => {
            return Err(format!(
                "endpoint {text:?}: use https:// (or http:// on loopback)"
            ));
        }
    }
    Ok(uri)
}

/// `OTEL_EXPORTER_OTLP_HEADERS` / `…_LOGS_HEADERS` (`k=v,k2=v2`, values percent-decoded).
fn env_headers() -> Vec<(String, String)> {
    let decode = |v: &str| {
        let b = v.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && i + 2 < b.len()
                && let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(x);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    ]
    .iter()
    .filter_map(|n| env(n))
    .flat_map(|h| {
        h.split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), decode(v.trim())))
            .collect::<Vec<_>>()
    })
    .collect()
}

/// The TLS client configuration: the system roots (or `ca_file` /
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`), and a client certificate for mTLS when given.
fn tls(s: &SinkSettings) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // ring, not aws-lc-rs (a C/cmake build): rustls 0.23.48 deprecates ring's provider for its
    // lack of post-quantum key exchange; the classical suites it offers are what OTLP
    // receivers take today.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca = s
        .ca_file
        .clone()
        .or_else(|| env("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE"))
        .or_else(|| env("OTEL_EXPORTER_OTLP_CERTIFICATE"));
    if let Some(ca) = ca {
        let path = crate::fleet::expand_home(&ca);
        for cert in CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?
        {
            let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("ca_file {}: no certificates", path.display()));
        }
    } else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                errors = ?found.errors,
                "no system root certificates found: https endpoints will fail; set ca_file"
            );
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let cert = s
        .cert_file
        .clone()
        .or_else(|| env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"));
    let key = s
        .key_file
        .clone()
        .or_else(|| env("OTEL_EXPORTER_OTLP_CLIENT_KEY"));
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let cert_path = crate::fleet::expand_home(&cert);
            let chain = CertificateDer::pem_file_iter(&cert_path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| format!("cert_file {}: {e}", cert_path.display()))?;
            // The key is a secret: 0600 like the token.
            read_secret(&key).map_err(|e| format!("key_file {e}"))?;
            let key_path = crate::fleet::expand_home(&key);
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| format!("key_file {}: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("cert_file/key_file: {e}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("mTLS needs both cert_file and key_file".into()),
    }
}

impl OtlpSink {
    /// Builds the sink from its settings and the environment: endpoint, token, TLS.
    ///
    /// # Errors
    ///
    /// A configuration problem (the sink is not started; status and doctor say why).
    pub fn new(s: &SinkSettings) -> Result<Self, String> {
        let uri = endpoint(s)?;
        let mut headers = Vec::new();
        for (k, v) in s.headers.iter().cloned().chain(env_headers()) {
            let name =
                HeaderName::try_from(k.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            if name == hyper::header::AUTHORIZATION {
                return Err(
                    "headers must not carry Authorization: put the token in token_file (0600)"
                        .into(),
                );
            }
            let value = HeaderValue::try_from(v).map_err(|e| format!("header {k:?}: {e}"))?;
            headers.push((name, value));
        }
        if let Some(file) = &s.secret_file {
            let token = read_secret(file).map_err(|e| format!("token_file {e}"))?;
            let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                .map_err(|_| "token_file: the token is not a valid header value".to_string())?;
            value.set_sensitive(true);
            headers.push((hyper::header::AUTHORIZATION, value));
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(s.timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls(s)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(connector);
        Ok(Self {
            client,
            uri,
            headers,
            gzip: s.gzip,
        })
    }

    /// Where it sends.
    #[must_use]
    pub fn target(&self) -> String {
        self.uri.to_string()
    }

    /// Sends one batch and classifies the answer.
    pub async fn send(&self, origin: &Origin, batch: &[OutEvent]) -> Outcome {
        let body = encode(origin, batch, crate::clock::now_ms()).encode_to_vec();
        let body = if self.gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            match gz.write_all(&body).and_then(|()| gz.finish()) {
                Ok(b) => b,
                Err(e) => {
                    return Outcome::Retry {
                        after: None,
                        why: format!("gzip: {e}"),
                    };
                }
            }
        } else {
            body
        };
        let mut req = hyper::Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/x-protobuf")
            .header(
                hyper::header::USER_AGENT,
                concat!("hookd/", env!("CARGO_PKG_VERSION")),
            );
        if self.gzip {
            req = req.header(hyper::header::CONTENT_ENCODING, "gzip");
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = match req.body(Full::new(Bytes::from(body))) {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Hold {
                    why: format!("cannot build the request: {e}"),
                };
            }
        };
        let resp = match self.client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                let mut why = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    why = format!("{why}: {s}");
                    src = s.source();
                }
                return Outcome::Retry { after: None, why };
            }
        };
        let status = resp.status();
        let after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        classify(status.as_u16(), after, &body)
    }
}

/// What an HTTP answer means for the batch (see the module header).
#[must_use]
pub fn classify(status: u16, after: Option<Duration>, body: &[u8]) -> Outcome {
    let text = || {
        let t = String::from_utf8_lossy(&body[..body.len().min(200)]);
        let t = t.trim();
        if t.is_empty() || !t.chars().all(|c| !c.is_control() || c == '\n') {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {t}")
        }
    };
    match status {
        200..=299 => match ExportLogsServiceResponse::decode(body) {
            Ok(r) => match r.partial_success {
                Some(p) if p.rejected_log_records > 0 => Outcome::Partial {
                    rejected: u64::try_from(p.rejected_log_records).unwrap_or(0),
                    why: p.error_message,
                },
                _ => Outcome::Delivered,
            },
            // A 2xx whose body is not a response (an empty body from a proxy): stored.
            Err(_) => Outcome::Delivered,
        },
        400 | 422 => Outcome::Rejected { why: text() },
        401 | 403 => Outcome::Hold {
            why: format!("authentication refused ({})", text()),
        },
        404 | 405 => Outcome::Hold {
            why: format!(
                "the endpoint does not take OTLP logs ({}): check its path",
                text()
            ),
        },
        413 => Outcome::TooLarge,
        _ => Outcome::Retry { after, why: text() },
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_string())
}

fn strings(v: &[String]) -> any_value::Value {
    any_value::Value::ArrayValue(ArrayValue {
        values: v.iter().map(|x| AnyValue { value: Some(s(x)) }).collect(),
    })
}

/// The severity of a verdict: deny/block → WARN, fallback/error → ERROR, else INFO.
#[must_use]
pub fn severity(verdict: &str) -> (SeverityNumber, &'static str) {
    if verdict == "deny" || verdict == "block" {
        (SeverityNumber::Warn, "WARN")
    } else if verdict == "error" || verdict.starts_with("error:") || verdict.starts_with("fallback")
    {
        (SeverityNumber::Error, "ERROR")
    } else {
        (SeverityNumber::Info, "INFO")
    }
}

/// The export request for a batch (see the module header for the mapping).
#[must_use]
pub fn encode(origin: &Origin, batch: &[OutEvent], now_ms: i64) -> ExportLogsServiceRequest {
    let mut resource = vec![
        kv("service.name", s("hookd")),
        kv("service.version", s(env!("CARGO_PKG_VERSION"))),
        kv("host.name", s(&origin.host)),
        kv("hookd.store_id", s(&origin.store_id)),
        kv(
            "hookd.epoch",
            any_value::Value::IntValue(i64::from(origin.epoch)),
        ),
    ];
    resource.extend(origin.labels.iter().map(|(k, v)| kv(k, s(v))));
    let nanos = |ms: i64| u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000);
    let records = batch
        .iter()
        .map(|e| {
            let (sev, sev_text) = severity(&e.verdict);
            let mut a = Vec::with_capacity(24);
            a.push(kv("event.name", s("hookd.hook_event")));
            let opt = |a: &mut Vec<KeyValue>, k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    a.push(kv(k, s(v)));
                }
            };
            opt(&mut a, "session.id", &e.session_id);
            opt(&mut a, "prompt.id", &e.prompt_id);
            opt(&mut a, "tool_use_id", &e.tool_use_id);
            opt(&mut a, "tool_name", &e.tool);
            a.push(kv("hook_event", s(&e.event)));
            a.push(kv(
                "hookd.event.uid",
                s(&format!("{}-{}-{}", origin.store_id, origin.epoch, e.id)),
            ));
            a.push(kv("hookd.event_id", any_value::Value::IntValue(e.id)));
            a.push(kv("hookd.store_id", s(&origin.store_id)));
            a.push(kv(
                "hookd.epoch",
                any_value::Value::IntValue(i64::from(origin.epoch)),
            ));
            a.push(kv("hookd.host", s(&origin.host)));
            a.push(kv(
                "hookd.uid",
                any_value::Value::IntValue(i64::from(e.uid)),
            ));
            a.push(kv("hookd.verdict", s(&e.verdict)));
            opt(&mut a, "hookd.reason", &e.reason);
            a.push(kv("hookd.rules", strings(&e.rules)));
            a.push(kv(
                "hookd.latency_us",
                any_value::Value::IntValue(e.latency_us),
            ));
            a.push(kv("hookd.source", s(&e.source)));
            opt(&mut a, "hookd.project", &e.project_dir);
            a.push(kv("hookd.redacted", strings(&e.redacted)));
            opt(&mut a, "hookd.payload", &e.payload);
            LogRecord {
                time_unix_nano: nanos(e.time_ms),
                observed_time_unix_nano: nanos(now_ms),
                severity_number: sev as i32,
                severity_text: sev_text.to_string(),
                body: e.summary.as_ref().map(|b| AnyValue { value: Some(s(b)) }),
                attributes: a,
                event_name: "hookd.hook_event".to_string(),
                ..LogRecord::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "hookd".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, verdict: &str) -> OutEvent {
        OutEvent {
            id,
            time_ms: 1_700_000_000_000 + id,
            session_id: Some("sess".into()),
            event: "PreToolUse".into(),
            tool: Some("Bash".into()),
            project_dir: Some("/p".into()),
            verdict: verdict.into(),
            reason: Some("why".into()),
            rules: vec!["r1".into(), "r2".into()],
            latency_us: 42,
            source: "socket".into(),
            summary: Some("git push --force".into()),
            redacted: vec!["aws".into()],
            prompt_id: Some("p-1".into()),
            tool_use_id: Some("toolu_1".into()),
            uid: 1000,
            payload: None,
        }
    }

    fn attr<'a>(r: &'a LogRecord, k: &str) -> Option<&'a any_value::Value> {
        r.attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    #[test]
    fn a_batch_round_trips_through_protobuf_with_claude_codes_names() {
        let origin = Origin {
            host: "h1".into(),
            store_id: "ab".repeat(16),
            epoch: 2,
            labels: vec![("team".into(), "payments".into())],
        };
        let req = encode(
            &origin,
            &[ev(7, "deny"), ev(8, "fallback:allow"), ev(9, "allow")],
            5,
        );
        let back = ExportLogsServiceRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, req);
        let rl = &back.resource_logs[0];
        let res = &rl.resource.as_ref().unwrap().attributes;
        for (k, v) in [
            ("service.name", "hookd"),
            ("host.name", "h1"),
            ("team", "payments"),
        ] {
            assert!(
                res.iter()
                    .any(|a| a.key == k && a.value.as_ref().unwrap().value == Some(s(v))),
                "{k}"
            );
        }
        let recs = &rl.scope_logs[0].log_records;
        assert_eq!(recs.len(), 3);
        let r = &recs[0];
        assert_eq!(r.severity_number, SeverityNumber::Warn as i32);
        assert_eq!(recs[1].severity_number, SeverityNumber::Error as i32);
        assert_eq!(recs[2].severity_number, SeverityNumber::Info as i32);
        assert_eq!(r.time_unix_nano, 1_700_000_000_007 * 1_000_000);
        assert_eq!(r.body.as_ref().unwrap().value, Some(s("git push --force")));
        for (k, v) in [
            ("session.id", "sess"),
            ("prompt.id", "p-1"),
            ("tool_use_id", "toolu_1"),
            ("tool_name", "Bash"),
            ("hook_event", "PreToolUse"),
            ("hookd.verdict", "deny"),
            ("hookd.host", "h1"),
            ("hookd.source", "socket"),
            ("hookd.project", "/p"),
        ] {
            assert_eq!(attr(r, k), Some(&s(v)), "{k}");
        }
        assert_eq!(
            attr(r, "hookd.event_id"),
            Some(&any_value::Value::IntValue(7))
        );
        assert_eq!(
            attr(r, "hookd.uid"),
            Some(&any_value::Value::IntValue(1000))
        );
        assert_eq!(
            attr(r, "hookd.latency_us"),
            Some(&any_value::Value::IntValue(42))
        );
        assert_eq!(
            attr(r, "hookd.rules"),
            Some(&strings(&["r1".into(), "r2".into()]))
        );
        assert!(
            attr(r, "hookd.payload").is_none(),
            "no payload unless asked"
        );
    }

    #[test]
    fn answers_map_to_outcomes() {
        let partial = ExportLogsServiceResponse {
            partial_success: Some(
                opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess {
                    rejected_log_records: 2,
                    error_message: "bad".into(),
                },
            ),
        }
        .encode_to_vec();
        assert_eq!(classify(200, None, &[]), Outcome::Delivered);
        assert_eq!(
            classify(200, None, &partial),
            Outcome::Partial {
                rejected: 2,
                why: "bad".into()
            }
        );
        assert!(matches!(
            classify(400, None, b"x"),
            Outcome::Rejected { .. }
        ));
        assert!(matches!(classify(401, None, b""), Outcome::Hold { .. }));
        assert!(matches!(classify(403, None, b""), Outcome::Hold { .. }));
        assert_eq!(classify(413, None, b""), Outcome::TooLarge);
        let after = Some(Duration::from_secs(3));
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(code, after, b""), Outcome::Retry { after: a, .. } if a == after),
                "{code}"
            );
        }
    }

    #[test]
    fn plain_http_is_refused_off_loopback_unless_allowed() {
        let mut s = SinkSettings::new("otel");
        s.endpoint = Some("http://127.0.0.1:4318".into());
        assert_eq!(endpoint(&s).unwrap().path(), "/v1/logs");
        s.endpoint = Some("http://[::1]:4318/custom".into());
        assert_eq!(endpoint(&s).unwrap().path(), "/custom");
        s.endpoint = Some("http://collector.corp:4318".into());
        let e = endpoint(&s).unwrap_err();
        assert!(e.contains("allow_plaintext"), "{e}");
        s.allow_plaintext = true;
        assert!(endpoint(&s).is_ok());
        s.allow_plaintext = false;
        s.endpoint = Some("https://collector.corp:4318".into());
        assert!(endpoint(&s).is_ok());
    }

    #[test]
    fn a_token_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "secret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_secret(p.to_str().unwrap()).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret(p.to_str().unwrap()).unwrap(), "secret");
    }
}
