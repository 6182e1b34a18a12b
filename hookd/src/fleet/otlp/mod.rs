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

mod config;
mod encode;

use std::io::Write as _;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message as _;

pub use config::{endpoint, read_secret};
pub use encode::encode;

use super::{Origin, OutEvent, Outcome};
use crate::settings::SinkSettings;
use config::{env_headers, tls};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A configured OTLP/HTTP logs endpoint.
pub struct OtlpSink {
    client: Client<Connector, Full<Bytes>>,
    uri: hyper::Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    gzip: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
