//! The dashboard's listener: accept, admit, check, route, and the headers every response
//! carries.
//!
//! The checks, in order, before anything else is looked at: `Host` (421), `Origin` (403),
//! method (405); then the route: the page's files and the login need no session, everything
//! under `/ui/api/` does (401). A request with a live session (or a good login code) moves its
//! connection to the pool of proven ones ([`Admission`]); the others are few, shed oldest
//! first, and closed after [`AUTH_TIMEOUT`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

use super::{UiHandle, api, assets, auth, sse};
use crate::State;
use crate::server::http::admission::{Admission, Standing};
use crate::server::http::conn::{self, Ended, Watch};
use crate::server::http::refusal::LogLimit;

/// Every response's body.
pub type Body = BoxBody<Bytes, Infallible>;
pub type Reply = Response<Body>;

/// Connections that have not shown a live session yet, at most (a browser opens a few).
const MAX_UNPROVEN: usize = 32;
/// Connections with a live session, at most.
const MAX_PROVEN: usize = 64;
/// A connection must show a live session (or a login code) within this long.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// On every response.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' \
                   data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// What every connection task shares.
pub(super) struct Listener {
    pub(super) state: Arc<State>,
    pub(super) ui: Arc<UiHandle>,
    /// Connections and streams; waited for (bounded) at shutdown.
    pub(super) tasks: TaskTracker,
    admission: Admission,
    log_limit: Mutex<LogLimit>,
    /// `Host` values naming this listener (lower case).
    hosts: [String; 3],
}

pub(super) async fn accept_loop(state: Arc<State>, ui: Arc<UiHandle>, listener: TcpListener) {
    let port = ui.addr.port();
    let ctx = Arc::new(Listener {
        hosts: [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ],
        state,
        ui,
        tasks: TaskTracker::new(),
        admission: Admission::new(MAX_UNPROVEN, MAX_PROVEN),
        log_limit: Mutex::new(LogLimit::default()),
    });
    let shutdown = ctx.state.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "dashboard accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (standing, _shed) = ctx.admission.admit();
        let conn_ctx = Arc::clone(&ctx);
        ctx.tasks
            .spawn(serve_connection(conn_ctx, stream, peer, standing));
    }
    drop(listener);
    ctx.tasks.close();
    if tokio::time::timeout(crate::server::DRAIN_GRACE, ctx.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("dashboard connections did not finish within the grace period");
    }
    tracing::debug!("dashboard listener stopped");
}

async fn serve_connection(
    ctx: Arc<Listener>,
    stream: TcpStream,
    peer: SocketAddr,
    standing: Arc<Standing>,
) {
    let shutdown = ctx.state.shutdown.clone();
    // Until a request shows a live session, the connection is closed at its deadline or when
    // shed for a newer one (the page's files need no session, but hold no place either).
    // Streams end on the same cancellation; the response in flight is finished.
    let watch = Watch {
        auth_timeout: AUTH_TIMEOUT,
        drain_unproven: true,
    };
    let shared = Arc::new((Arc::clone(&ctx), Arc::clone(&standing)));
    let respond = move |req| {
        let shared = Arc::clone(&shared);
        async move {
            let (ctx, standing) = &*shared;
            ctx.respond(req, peer, standing).await
        }
    };
    if let Ended::Done(Err(e)) = conn::serve(stream, &standing, &shutdown, watch, respond).await {
        tracing::debug!(%peer, error = %e, "dashboard connection ended with an error");
    }
    ctx.admission.leave(&standing);
}

/// Whether `v` is `http://<host>` for the `Host` given.
fn same_origin(origin: &[u8], host: &str) -> bool {
    origin
        .strip_prefix(b"http://")
        .is_some_and(|o| o.eq_ignore_ascii_case(host.as_bytes()))
}

impl Listener {
    async fn respond(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        standing: &Standing,
    ) -> Reply {
        let mut resp = self.route(req, peer, standing).await;
        secure(resp.headers_mut());
        resp
    }

    async fn route(&self, req: Request<Incoming>, peer: SocketAddr, standing: &Standing) -> Reply {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        let Some(host) = host.filter(|h| self.hosts.contains(h)) else {
            return self.refuse(
                StatusCode::MISDIRECTED_REQUEST,
                "this address is not the dashboard's: open it as http://127.0.0.1:PORT/ui/",
                peer,
                &req,
            );
        };
        if let Some(origin) = req.headers().get(header::ORIGIN)
            && !same_origin(origin.as_bytes(), &host)
        {
            return self.refuse(
                StatusCode::FORBIDDEN,
                "cross-origin requests are refused",
                peer,
                &req,
            );
        }
        let head = req.method() == Method::HEAD;
        if req.method() != Method::GET && !head {
            let mut resp = self.refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "the dashboard is read-only: GET and HEAD only",
                peer,
                &req,
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        let path = req.uri().path();
        if let Some((asset, tag)) = assets::find(path) {
            return static_file(asset, tag, req.headers());
        }
        match path {
            "/" | "/ui" => return redirect("/ui/", None),
            "/ui/login" => return self.login(&req, peer, standing),
            _ => {}
        }
        let Some(api_path) = path.strip_prefix("/ui/api/") else {
            return json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "not found"}),
            );
        };
        let cookie = req.headers().get(header::COOKIE).map(HeaderValue::as_bytes);
        if !self.ui.logins.check_cookie(cookie, Instant::now()) {
            return self.refuse(
                StatusCode::UNAUTHORIZED,
                "not logged in, or the session expired: run `hookctl ui` for a new login",
                peer,
                &req,
            );
        }
        if self.admission.authenticate(standing).is_err() {
            return self.refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many dashboard connections; try again",
                peer,
                &req,
            );
        }
        if api_path == "stream" {
            let session = cookie
                .and_then(|c| auth::cookie_value(c, auth::COOKIE))
                .unwrap_or_default()
                .to_string();
            return sse::open(self, &req, head, session);
        }
        let query = req.uri().query().unwrap_or_default().to_string();
        let mut resp = api::answer(&self.state, api_path, &query).await;
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }

    /// `GET /ui/login?code=…`: a good code buys a session cookie and a redirect to the page.
    fn login<B>(&self, req: &Request<B>, peer: SocketAddr, standing: &Standing) -> Reply {
        let code = req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix("code="))
            .unwrap_or_default();
        match self.ui.logins.redeem(code, Instant::now()) {
            Ok(session) => {
                let _ = self.admission.authenticate(standing);
                tracing::info!(%peer, "dashboard login");
                let cookie = format!(
                    "{}={session}; HttpOnly; SameSite=Strict; Path=/ui",
                    auth::COOKIE
                );
                redirect("/ui/", Some(&cookie))
            }
            Err(why) => {
                self.log_refusal(peer, req, StatusCode::FORBIDDEN, why.as_str());
                let mut resp = html(
                    StatusCode::FORBIDDEN,
                    "<!doctype html><title>hookd: login refused</title><h1>Login refused</h1>\
                     <p>This login link is unknown, used or expired: a link works once, within \
                     a minute. Run <code>hookctl ui</code> again for a new one.</p>",
                );
                resp.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                resp
            }
        }
    }

    fn log_refusal<B>(&self, peer: SocketAddr, req: &Request<B>, status: StatusCode, why: &str) {
        let admitted = self
            .log_limit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(Instant::now());
        if let Some(suppressed) = admitted {
            tracing::warn!(
                %peer,
                method = %req.method(),
                path = req.uri().path(),
                status = status.as_u16(),
                why,
                suppressed,
                "dashboard request refused"
            );
        }
    }

    /// A refusal: logged (bounded), JSON `{"error": …}`.
    fn refuse<B>(
        &self,
        status: StatusCode,
        message: &str,
        peer: SocketAddr,
        req: &Request<B>,
    ) -> Reply {
        self.log_refusal(peer, req, status, message);
        let mut resp = json(status, &serde_json::json!({ "error": message }));
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// The headers on every response.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// JSON text with `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026` (they can only
/// occur inside strings, where the escapes mean the same): agent-controlled text then never
/// holds a markup character, whatever reads the bytes.
pub(super) fn html_safe_json(v: &impl serde::Serialize) -> Vec<u8> {
    let raw = serde_json::to_vec(v).unwrap_or_default();
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 16);
    for b in raw {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ => out.push(b),
        }
    }
    out
}

pub(super) fn json(status: StatusCode, v: &impl serde::Serialize) -> Reply {
    let mut resp = Response::new(full(html_safe_json(v)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn html(status: StatusCode, text: &'static str) -> Reply {
    let mut resp = Response::new(full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn redirect(to: &'static str, cookie: Option<&str>) -> Reply {
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static(to));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    resp
}

fn static_file(asset: &assets::Asset, tag: &'static str, headers: &HeaderMap) -> Reply {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == tag.as_bytes());
    let mut resp = if fresh {
        let mut r = Response::new(full(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(full(Bytes::from_static(asset.bytes)))
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::ETAG, HeaderValue::from_static(tag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_never_holds_markup_characters() {
        let v = serde_json::json!({"s": "</script><img src=x onerror=\"a&b\">'"});
        let text = String::from_utf8(html_safe_json(&v)).unwrap();
        assert!(
            !text.contains('<') && !text.contains('>') && !text.contains('&'),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn origins() {
        assert!(same_origin(b"http://127.0.0.1:9", "127.0.0.1:9"));
        assert!(same_origin(b"http://LOCALHOST:9", "localhost:9"));
        assert!(!same_origin(b"https://127.0.0.1:9", "127.0.0.1:9"));
        assert!(!same_origin(b"http://127.0.0.1:9", "localhost:9"));
        assert!(!same_origin(b"null", "127.0.0.1:9"));
        assert!(!same_origin(b"http://evil.example", "127.0.0.1:9"));
    }
}
