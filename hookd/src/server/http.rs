//! The opt-in HTTP/1.1 listener for Claude Code's `http` hooks (docs/http.md).
//!
//! `[http] listen = "127.0.0.1:PORT"` in hookd.toml turns it on; a non-loopback address is
//! refused unless `allow_non_loopback = true`. hyper does the HTTP (keep-alive, framing); this
//! module authenticates, routes, bounds and translates:
//!
//! - every request must carry `Authorization: Bearer <token>` (`token`); anything else is
//!   refused (401/403) before the path is even looked at, logged with the peer address, and
//!   never evaluated;
//! - `POST /hook` and `POST /hook/<Event>` (the event name as a hint, like hook-client's
//!   `--event`) go through [`handler::hook`], the socket path's one evaluation function, and
//!   its reply is translated to what Claude Code honours over HTTP ([`http_body`]);
//! - `GET /health` (JSON) and `GET /metrics` (Prometheus text) report from
//!   [`handler::stats`].
//!
//! The bound address's port is written to `<state_dir>/http-port` (so `listen = "…:0"` works).
//!
//! A connection costs little until it proves it holds the token (`admission`): at most
//! `max_unauthenticated` wait for their first request (a newcomer sheds the oldest), each for
//! at most `auth_timeout`; connections that presented the token have a pool of their own.

// The dashboard's listener (`crate::ui`) admits, serves and logs its connections the same way.
pub(crate) mod admission;
pub(crate) mod conn;
pub(crate) mod refusal;
mod reply;
mod token;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::Context;
use hook_protocol::{ClientOptions, HookEnv, HookReply, HookRequest, MAX_EVENT_LEN};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

use admission::{Admission, Standing};
use conn::{Ended, Watch};
pub use hook_protocol::http::{Auth, PORT_FILE, TOKEN_FILE, hook_url};
use refusal::{Counters, LogLimit, Refusal, Unproven};
pub use reply::http_body;
use reply::{Reply, Route, json_response, route};
pub use token::LiveToken;

use crate::{State, handler};

/// `[http] auth_timeout` may not be longer than the idle timeout.
const _: () = assert!(
    crate::settings::MAX_AUTH_TIMEOUT.as_millis() <= conn::IDLE_TIMEOUT.as_millis(),
    "auth_timeout is bounded by the idle timeout"
);
/// How often the listener looks whether the token file changed.
const TOKEN_LOOK: Duration = Duration::from_secs(1);
/// The accept queue's length (the kernel caps it at `net.core.somaxconn`, 4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// How many connections the listener holds, and how long one may wait for its token:
/// `[http]` in hookd.toml (read at start, validated by `hook_engine::settings`).
pub use hook_engine::settings::HttpSettings as Limits;

/// A running HTTP listener.
pub struct HttpServer {
    port_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Waits until the listener has stopped (it stops when `state.shutdown` is cancelled and
    /// its in-flight requests are answered, bounded by [`super::DRAIN_GRACE`]), then removes
    /// the port file.
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "HTTP listener task failed");
        }
        remove_file(&self.port_file);
    }
}

/// Starts the listener when `[http] listen` is set (otherwise removes a stale port file and
/// returns `None`). The token file is created on first start. The settings were validated
/// when hookd.toml was read (an address outside the loopback range only with
/// `allow_non_loopback`).
///
/// # Errors
///
/// An unsafe token file, or a failed bind: the daemon refuses to start rather than run
/// without the listener it was configured with.
pub async fn start(state: &Arc<State>, limits: &Limits) -> anyhow::Result<Option<HttpServer>> {
    let port_file = state.config.state_dir.join(PORT_FILE);
    let Some(addr) = limits.listen else {
        remove_file(&port_file);
        return Ok(None);
    };
    let limits = *limits;
    let (token, created) = LiveToken::load_or_create(&state.config.state_dir)?;
    let token_path = state.config.state_dir.join(TOKEN_FILE);
    if created {
        tracing::info!(path = %token_path.display(), "HTTP token created");
    }
    let listener = bind(addr)
        .with_context(|| format!("binding the HTTP listener on {addr} ([http] listen)"))?;
    let addr = listener.local_addr()?;
    write_port_file(&port_file, addr.port())
        .with_context(|| format!("writing {}", port_file.display()))?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "HTTP listener on a non-loopback address (allow_non_loopback)");
    }
    tracing::info!(
        %addr,
        url = %hook_url(addr),
        token = %token_path.display(),
        auth_timeout_ms = limits.auth_timeout.as_millis(),
        max_unauthenticated = limits.max_unauthenticated,
        max_connections = limits.max_connections,
        "HTTP listener up"
    );
    let ctx = Arc::new(Listener {
        state: Arc::clone(state),
        token,
        counters: Counters::default(),
        tasks: TaskTracker::new(),
        log_limit: Mutex::new(LogLimit::default()),
        admission: Admission::new(limits.max_unauthenticated, limits.max_connections),
        limits,
    });
    let task = tokio::spawn(accept_loop(ctx, listener));
    Ok(Some(HttpServer { port_file, task }))
}

/// Binds the listener with a deep accept queue: connections opened faster than hookd accepts
/// them (someone opening many at once) wait there instead of overflowing it, which would make
/// a token holder's connection retry its handshake after a second.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    hook_protocol::private::write_private(path, format!("{port}\n").as_bytes())
}

fn remove_file(path: &Path) {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove");
        }
        _ => {}
    }
}

/// What every connection task shares.
struct Listener {
    state: Arc<State>,
    token: LiveToken,
    counters: Counters,
    /// Connections and evaluations; waited for (bounded) at shutdown.
    tasks: TaskTracker,
    log_limit: Mutex<LogLimit>,
    limits: Limits,
    /// The pools of connections with and without the token.
    admission: Admission,
}

async fn accept_loop(ctx: Arc<Listener>, listener: TcpListener) {
    let shutdown = ctx.state.shutdown.clone();
    // A rotated token file (`hookctl http rotate-token`) is taken within this long, so the old
    // token stops working even when no request presents the new one.
    let mut token_look = tokio::time::interval(TOKEN_LOOK);
    token_look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Always accepting: a connection is refused a place only by the pools (admission),
        // never left in the kernel's queue behind others.
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            _ = token_look.tick() => {
                ctx.token.refresh();
                continue;
            }
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        ctx.counters.connections.fetch_add(1, Ordering::Relaxed);
        let (standing, shed) = ctx.admission.admit();
        if shed {
            ctx.counters.unproven[Unproven::Shed as usize].fetch_add(1, Ordering::Relaxed);
        }
        let conn_ctx = Arc::clone(&ctx);
        ctx.tasks
            .spawn(serve_connection(conn_ctx, stream, peer, standing));
        // Let the new connection read before the next accept: a token holder's request is
        // usually in the socket already, and once read it leaves the waiting pool.
        tokio::task::yield_now().await;
    }
    drop(listener);
    ctx.tasks.close();
    if tokio::time::timeout(super::DRAIN_GRACE, ctx.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight HTTP requests did not finish within the grace period");
    }
    tracing::debug!("HTTP listener stopped");
}

async fn serve_connection(
    ctx: Arc<Listener>,
    stream: TcpStream,
    peer: SocketAddr,
    standing: Arc<Standing>,
) {
    let shutdown = ctx.state.shutdown.clone();
    let watch = Watch {
        auth_timeout: ctx.limits.auth_timeout,
        drain_unproven: false,
    };
    // One reference counted per request, as before there was a standing.
    let shared = Arc::new((Arc::clone(&ctx), Arc::clone(&standing)));
    let respond = move |req| {
        let shared = Arc::clone(&shared);
        async move {
            let (ctx, standing) = &*shared;
            ctx.respond(req, peer, standing).await
        }
    };
    let result = match conn::serve(stream, &standing, &shutdown, watch, respond).await {
        Ended::Done(r) | Ended::Shutdown(r) => r,
        Ended::Unproven(why) => {
            if why == Unproven::Timeout {
                ctx.counters.unproven[Unproven::Timeout as usize].fetch_add(1, Ordering::Relaxed);
            }
            ctx.log_unproven(why, peer);
            Ok(())
        }
    };
    ctx.admission.leave(&standing);
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

impl Listener {
    /// Answers one request. Its headers are all that has been read: the token is checked
    /// before the path, and before any of the body.
    async fn respond(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        standing: &Standing,
    ) -> Reply {
        let auth = self.token.check(
            req.headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
        );
        match auth {
            Auth::Granted => {}
            Auth::Missing => return self.refuse(Refusal::Unauthorized, peer, &req),
            Auth::Wrong => return self.refuse(Refusal::Forbidden, peer, &req),
        }
        if self.admission.authenticate(standing).is_err() {
            return self.refuse(Refusal::Busy, peer, &req);
        }
        match (req.method(), route(req.uri().path())) {
            (&Method::POST, Route::Hook(hint)) => self.hook(req, hint, peer).await,
            (&Method::GET, Route::Health) => json_response(StatusCode::OK, &self.health()),
            (&Method::GET, Route::Metrics) => self.metrics(),
            (_, Route::NotFound) => self.refuse(Refusal::NotFound, peer, &req),
            (_, r) => {
                let mut resp = self.refuse(Refusal::MethodNotAllowed, peer, &req);
                let allow = if matches!(r, Route::Hook(_)) {
                    "POST"
                } else {
                    "GET"
                };
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                resp
            }
        }
    }

    /// Logs (bounded, with the refusals) a connection closed before it presented the token.
    fn log_unproven(&self, why: Unproven, peer: SocketAddr) {
        let admitted = self
            .log_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(Instant::now());
        if let Some(suppressed) = admitted {
            match why {
                Unproven::Timeout => tracing::warn!(
                    %peer, suppressed, auth_timeout_ms = self.limits.auth_timeout.as_millis(),
                    "HTTP connection closed: no request with the token within [http] auth_timeout"
                ),
                Unproven::Shed => tracing::warn!(
                    %peer, suppressed, max_unauthenticated = self.limits.max_unauthenticated,
                    "HTTP connection closed before a request with the token, to make room for \
                     a newer one ([http] max_unauthenticated)"
                ),
            }
        }
    }

    /// Answers a refused request: never evaluated, logged (bounded), counted.
    fn refuse<B>(&self, why: Refusal, peer: SocketAddr, req: &Request<B>) -> Reply {
        self.counters.refuse(why);
        let method = req.method();
        let path = req.uri().path();
        let admitted = self
            .log_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(Instant::now());
        if let Some(suppressed) = admitted {
            match why {
                Refusal::Unauthorized | Refusal::Forbidden => tracing::warn!(
                    %peer, %method, path, reason = why.as_str(), suppressed,
                    "HTTP request refused: missing or wrong token (not evaluated)"
                ),
                Refusal::Busy => tracing::warn!(
                    %peer, %method, path, reason = why.as_str(), suppressed,
                    max_connections = self.limits.max_connections,
                    "HTTP request refused: the authenticated connections are at their cap \
                     ([http] max_connections; not evaluated)"
                ),
                _ => tracing::warn!(
                    %peer, %method, path, reason = why.as_str(), suppressed,
                    "HTTP request refused"
                ),
            }
        }
        let message = match why {
            Refusal::Unauthorized => "missing token: send Authorization: Bearer <the content of \
                                      hookd's http-token file>"
                .to_string(),
            Refusal::Forbidden => "wrong token".to_string(),
            Refusal::NotFound => "no such endpoint: POST /hook, GET /health, GET /metrics".into(),
            Refusal::MethodNotAllowed => format!("{method} is not allowed on {path}"),
            Refusal::TooLarge => format!("the event is larger than {MAX_EVENT_LEN} bytes"),
            Refusal::UnsupportedEncoding => "compressed request bodies are not accepted".into(),
            Refusal::BadBody => "the request body could not be read".into(),
            Refusal::Busy => format!(
                "hookd is serving its maximum of {} authenticated HTTP connections \
                 ([http] max_connections); try again",
                self.limits.max_connections
            ),
        };
        let mut resp = json_response(why.status(), &serde_json::json!({ "error": message }));
        if why == Refusal::Unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hookd\""),
            );
        }
        // Whatever is left of the request is not read: do not reuse the connection.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    }

    /// `POST /hook`: reads the bounded body and answers it through [`handler::hook`].
    async fn hook(&self, req: Request<Incoming>, hint: Option<String>, peer: SocketAddr) -> Reply {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_EVENT_LEN as u64) {
            return self.refuse(Refusal::TooLarge, peer, &req);
        }
        if req
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
        {
            return self.refuse(Refusal::UnsupportedEncoding, peer, &req);
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_EVENT_LEN).collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) => {
                let why = if e.downcast_ref::<LengthLimitError>().is_some() {
                    Refusal::TooLarge
                } else {
                    Refusal::BadBody
                };
                return self.refuse(why, peer, &Request::from_parts(parts, ()));
            }
        };
        self.counters.hook_requests.fetch_add(1, Ordering::Relaxed);
        // Claude Code writes the same compact JSON on a command hook's stdin, plus "\n": with
        // it, the bytes are exactly what hook-client forwards, so one event delivered both
        // ways is recognised as one (`crate::dedup`) and stored the same.
        let mut event = Vec::with_capacity(body.len() + 1);
        event.extend_from_slice(&body);
        if !event.ends_with(b"\n") {
            event.push(b'\n');
        }
        let request = HookRequest {
            event,
            env: HookEnv::default(),
            options: ClientOptions {
                event: hint,
                ..ClientOptions::default()
            },
            // HTTP hooks have no client of hookd's that could spool a copy.
            id: None,
            env_file: None,
        };
        let reply = self.evaluate(request).await;
        let mut resp = Response::new(Full::new(Bytes::from(http_body(&reply))));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }

    /// Runs [`handler::hook`] in place, on the connection's own task (no task spawned per
    /// request). A client that goes away (Claude Code's hook timeout) does not cut the
    /// evaluation short: [`Completing`] hands what is left of it to a task of its own, so the
    /// event is always recorded, as on the socket.
    async fn evaluate(&self, request: HookRequest) -> HookReply {
        let state = Arc::clone(&self.state);
        Completing {
            future: Some(Box::pin(async move {
                handler::hook(&state, request, crate::verdict::Source::Http).await
            })),
            tasks: &self.tasks,
        }
        .await
    }

    fn health(&self) -> serde_json::Value {
        let state = &self.state;
        let stats = handler::stats(state);
        let uptime = state.started.elapsed();
        serde_json::json!({
            "status": stats.health,
            "reasons": stats.health_reasons,
            "version": hook_protocol::PACKAGE_VERSION,
            "build_id": hook_protocol::BUILD_ID,
            "pid": std::process::id(),
            "uptime_ms": u64::try_from(uptime.as_millis()).unwrap_or(u64::MAX),
            "events": state.events_since_start.load(Ordering::Relaxed),
            "events_stored": stats.events_total,
            "http": {
                "connections": self.counters.connections.load(Ordering::Relaxed),
                "hook_requests": self.counters.hook_requests.load(Ordering::Relaxed),
                "open_authenticated": self.admission.authenticated(),
                "open_unauthenticated": self.admission.unauthenticated(),
            },
        })
    }

    fn metrics(&self) -> Reply {
        let mut text = crate::metrics::prometheus(&handler::stats(&self.state));
        {
            use std::fmt::Write as _;
            let _ = writeln!(
                text,
                "# HELP hookd_uptime_seconds Seconds since hookd started.\n\
                 # TYPE hookd_uptime_seconds gauge\n\
                 hookd_uptime_seconds {:.3}",
                self.state.started.elapsed().as_secs_f64()
            );
        }
        self.counters.prometheus(
            &mut text,
            (
                self.admission.authenticated(),
                self.admission.unauthenticated(),
            ),
        );
        let mut resp = Response::new(Full::new(Bytes::from(text)));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        resp
    }
}

/// An evaluation polled in place that is never cut short: dropped before it completes (hyper
/// drops a request's future when its client goes away), it goes on in a task of its own,
/// tracked so that shutdown waits for it.
struct Completing<'a> {
    future: Option<Pin<Box<dyn Future<Output = HookReply> + Send>>>,
    tasks: &'a TaskTracker,
}

impl Future for Completing<'_> {
    type Output = HookReply;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<HookReply> {
        let this = self.get_mut();
        let Some(future) = this.future.as_mut() else {
            return Poll::Pending;
        };
        let reply = std::task::ready!(future.as_mut().poll(cx));
        this.future = None;
        Poll::Ready(reply)
    }
}

impl Drop for Completing<'_> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    self.tasks.spawn_on(future, &runtime);
                }
                // Only when the runtime itself is being torn down: nothing could run it.
                Err(_) => tracing::warn!("an HTTP evaluation was dropped with its runtime"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_urls() {
        assert_eq!(
            hook_url("127.0.0.1:9".parse().unwrap()),
            "http://127.0.0.1:9/hook"
        );
        assert_eq!(hook_url("[::1]:9".parse().unwrap()), "http://[::1]:9/hook");
    }
}
