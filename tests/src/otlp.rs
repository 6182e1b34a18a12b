//! A fault-injecting OTLP/HTTP logs receiver for the fleet tests (and the isolation bench):
//! a hyper server on 127.0.0.1 in a thread of its own, decoding every request with
//! `opentelemetry-proto` (gzip too) and recording each record's key `(store_id, id)` and
//! attributes. Its [`Mode`] can change while hookd sends: ok, 503 bursts with `Retry-After`,
//! `partial_success`, 401, 413 over N records, 400 for batches holding given ids, slow, or
//! accept-and-never-answer.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use prost::Message as _;

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// 200, records stored.
    Ok,
    /// 503 (with `Retry-After: retry_after` seconds when given) for the next `count` requests,
    /// then ok.
    Unavailable {
        count: usize,
        retry_after: Option<u64>,
    },
    /// 200 with `partial_success.rejected_log_records = rejected` (the rest stored).
    Partial { rejected: i64 },
    /// 401.
    Unauthorized,
    /// 413 for a request of more than `max_records` records; else ok.
    TooLarge { max_records: usize },
    /// 400 for a request holding any of these event ids; else ok.
    RejectIds(Vec<i64>),
    /// Answers ok after this long.
    Slow(Duration),
    /// Reads the request, records it as received (not stored), and never answers.
    Hang,
}

/// One log record as received.
#[derive(Debug, Clone)]
pub struct Record {
    pub store_id: String,
    pub epoch: i64,
    pub id: i64,
    pub host: String,
    pub severity: i32,
    pub body: Option<String>,
    pub event_name: String,
    /// Every attribute, as text (arrays joined with ",").
    pub attrs: BTreeMap<String, String>,
    /// The resource's attributes.
    pub resource: BTreeMap<String, String>,
}

#[derive(Default)]
struct Inner {
    mode: Option<Mode>,
    /// Records in answered-ok requests, in arrival order (a 2xx: the sink may move on).
    stored: Vec<Record>,
    /// Records in every request that was decoded, whatever the answer.
    received: Vec<Record>,
    requests: u64,
    /// Authorization headers seen.
    auth: Vec<Option<String>>,
    /// Keep only each stored record's key, and no `received` list (a 1,000,000-event bench
    /// would otherwise hold gigabytes of attributes).
    keys_only: bool,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    /// `http` or, for [`Receiver::start_tls`], `https`.
    scheme: &'static str,
    inner: Arc<Mutex<Inner>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter()
            .map(|x| text(Some(x)))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

/// The records of a request body (gzip when `gzip`).
///
/// # Errors
///
/// When it does not decode.
pub fn decode(body: &[u8], gzip: bool) -> anyhow::Result<Vec<Record>> {
    let raw = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body).read_to_end(&mut out)?;
        out
    } else {
        body.to_vec()
    };
    let req = ExportLogsServiceRequest::decode(raw.as_slice())?;
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        let resource: BTreeMap<String, String> = rl
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
            .collect();
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                let attrs: BTreeMap<String, String> = r
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                    .collect();
                out.push(Record {
                    store_id: attrs.get("hookd.store_id").cloned().unwrap_or_default(),
                    epoch: attrs
                        .get("hookd.epoch")
                        .and_then(|e| e.parse().ok())
                        .unwrap_or(-1),
                    id: attrs
                        .get("hookd.event_id")
                        .and_then(|e| e.parse().ok())
                        .unwrap_or(-1),
                    host: resource.get("host.name").cloned().unwrap_or_default(),
                    severity: r.severity_number,
                    body: r.body.as_ref().map(|b| text(Some(b))),
                    event_name: r.event_name.clone(),
                    attrs,
                    resource: resource.clone(),
                });
            }
        }
    }
    Ok(out)
}

fn reply(status: StatusCode, body: Vec<u8>, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-protobuf"),
    );
    if let Some(s) = retry_after {
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from(s),
        );
    }
    r
}

async fn handle(
    inner: Arc<Mutex<Inner>>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let gzip = req
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Ok(records) = decode(&body, gzip) else {
        return Ok(reply(
            StatusCode::BAD_REQUEST,
            b"undecodable".to_vec(),
            None,
        ));
    };
    let mode = {
        let mut g = inner.lock().unwrap();
        g.requests += 1;
        if !g.keys_only {
            g.auth.push(auth);
            g.received.extend(records.iter().cloned());
        }
        let mode = g.mode.clone().unwrap_or(Mode::Ok);
        if let Mode::Unavailable { count, retry_after } = &mode
            && *count > 0
        {
            g.mode = Some(if *count > 1 {
                Mode::Unavailable {
                    count: count - 1,
                    retry_after: *retry_after,
                }
            } else {
                Mode::Ok
            });
        }
        mode
    };
    let ok = |inner: &Arc<Mutex<Inner>>, records: Vec<Record>| {
        let mut g = inner.lock().unwrap();
        if g.keys_only {
            g.stored.extend(records.into_iter().map(|r| Record {
                attrs: BTreeMap::new(),
                resource: BTreeMap::new(),
                body: None,
                event_name: String::new(),
                host: String::new(),
                ..r
            }));
        } else {
            g.stored.extend(records);
        }
        drop(g);
        reply(
            StatusCode::OK,
            ExportLogsServiceResponse::default().encode_to_vec(),
            None,
        )
    };
    Ok(match mode {
        Mode::Ok => ok(&inner, records),
        Mode::Unavailable { count, retry_after } if count > 0 => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            b"busy".to_vec(),
            retry_after,
        ),
        Mode::Unavailable { .. } => ok(&inner, records),
        Mode::Partial { rejected } => {
            inner.lock().unwrap().stored.extend(records);
            reply(
                StatusCode::OK,
                ExportLogsServiceResponse {
                    partial_success: Some(ExportLogsPartialSuccess {
                        rejected_log_records: rejected,
                        error_message: "some records refused".into(),
                    }),
                }
                .encode_to_vec(),
                None,
            )
        }
        Mode::Unauthorized => reply(StatusCode::UNAUTHORIZED, b"bad token".to_vec(), None),
        Mode::TooLarge { max_records } if records.len() > max_records => {
            reply(StatusCode::PAYLOAD_TOO_LARGE, Vec::new(), None)
        }
        Mode::TooLarge { .. } => ok(&inner, records),
        Mode::RejectIds(ids) if records.iter().any(|r| ids.contains(&r.id)) => {
            reply(StatusCode::BAD_REQUEST, b"refused record".to_vec(), None)
        }
        Mode::RejectIds(_) => ok(&inner, records),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            ok(&inner, records)
        }
        Mode::Hang => std::future::pending().await,
    })
}

/// A port on 127.0.0.1 nothing listens on now (for a receiver started later).
///
/// # Panics
///
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

impl Receiver {
    /// Starts on an ephemeral port.
    ///
    /// # Panics
    ///
    /// When it cannot bind or start.
    #[must_use]
    pub fn start(mode: Mode) -> Self {
        Self::start_on(0, mode)
    }

    /// Starts on `port` of 127.0.0.1 (0: any).
    ///
    /// # Panics
    ///
    /// When it cannot bind or start.
    #[must_use]
    pub fn start_on(port: u16, mode: Mode) -> Self {
        Self::serve(port, mode, None)
    }

    /// Starts over TLS on any port of 127.0.0.1 with `certs`' server certificate; with
    /// `client_auth`, only clients with a certificate signed by `certs`' CA are served (mTLS).
    ///
    /// # Panics
    ///
    /// When the certificates do not load, or it cannot bind or start.
    #[must_use]
    pub fn start_tls(mode: Mode, certs: &crate::certs::Certs, client_auth: bool) -> Self {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        #[allow(deprecated)] // ring, as hookd uses (see fleet/otlp.rs)
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = CertificateDer::pem_file_iter(&certs.server_cert)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .expect("server certificate");
        let key = PrivateKeyDer::from_pem_file(&certs.server_key).expect("server key");
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(&certs.ca).expect("CA") {
                roots.add(c.expect("CA certificate")).expect("CA added");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(chain, key).expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let mut r = Self::serve(0, mode, Some(acceptor));
        r.scheme = "https";
        r
    }

    fn serve(port: u16, mode: Mode, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Mutex::new(Inner {
            mode: Some(mode),
            ..Inner::default()
        }));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::clone(&inner);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let mut conns = tokio::task::JoinSet::new();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let inner = Arc::clone(&shared);
                            let tls = tls.clone();
                            conns.spawn(async move {
                                let svc = hyper::service::service_fn(move |req| {
                                    handle(Arc::clone(&inner), req)
                                });
                                let http = hyper::server::conn::http1::Builder::new();
                                match tls {
                                    None => {
                                        let io = hyper_util::rt::TokioIo::new(stream);
                                        let _ = http.serve_connection(io, svc).await;
                                    }
                                    // A failed handshake (an untrusted or missing client
                                    // certificate) ends the connection unserved.
                                    Some(tls) => {
                                        if let Ok(stream) = tls.accept(stream).await {
                                            let io = hyper_util::rt::TokioIo::new(stream);
                                            let _ = http.serve_connection(io, svc).await;
                                        }
                                    }
                                }
                            });
                        }
                    }
                }
                conns.abort_all();
            });
        });
        Self {
            addr,
            scheme: "http",
            inner,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`Receiver::start_tls`]).
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Keeps only the keys of what it stores from now on (benchmarks with many events).
    pub fn keys_only(&self) {
        self.inner.lock().unwrap().keys_only = true;
    }

    /// How many records it stored.
    #[must_use]
    pub fn stored_count(&self) -> usize {
        self.inner.lock().unwrap().stored.len()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    /// Records answered with a 2xx, in arrival order.
    #[must_use]
    pub fn stored(&self) -> Vec<Record> {
        self.inner.lock().unwrap().stored.clone()
    }

    /// Records in every decoded request.
    #[must_use]
    pub fn received(&self) -> Vec<Record> {
        self.inner.lock().unwrap().received.clone()
    }

    #[must_use]
    pub fn requests(&self) -> u64 {
        self.inner.lock().unwrap().requests
    }

    /// The Authorization headers seen.
    #[must_use]
    pub fn auth(&self) -> Vec<Option<String>> {
        self.inner.lock().unwrap().auth.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
