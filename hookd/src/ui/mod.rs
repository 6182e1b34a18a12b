//! The dashboard: a web page served by hookd on loopback (docs/ui.md), off by default.
//!
//! `[ui] listen = "127.0.0.1:PORT"` in hookd.toml turns it on (loopback only, no override;
//! port 0 picks one, reported in the log and by `hookctl status`). It is a listener of its
//! own, next to the hook endpoint's (`crate::server::http`), admitting connections the same
//! way (`admission`: connections that have not shown a live session cookie are few, short-
//! lived and shed first). What it serves (the contract with the page, docs/ui.md):
//!
//! - the page's files, embedded at build time ([`assets`]);
//! - `GET /ui/login?code=…`: a one-time code from `hookctl ui` ([`login`], over the Unix
//!   socket) exchanged for a session cookie ([`auth`]);
//! - read-only JSON views of the store and the daemon ([`api`]), computed on the blocking pool
//!   from stored rows with the store's queries, and an event stream (Server-Sent Events,
//!   [`sse`]) whose ids are the store's event ids, so a reconnecting page misses nothing and
//!   sees nothing twice.
//!
//! Every request is checked before it is routed ([`serve`]): the `Host` must name this
//! listener on a loopback name (else 421: DNS rebinding), an `Origin` must be this same origin
//! (else 403), only GET and HEAD are served (else 405), and data needs a live session (else
//! 401). Every response carries a strict Content-Security-Policy, `nosniff` and
//! `no-referrer`.
//!
//! The hook path does not know the dashboard exists: streams read the store, woken by the
//! live feed `hookctl tail -f` uses.

mod api;
mod assets;
mod auth;
mod series;
mod serve;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use hook_protocol::{Response, UiLogin};

use crate::State;
pub use crate::settings::UiSettings as Settings;

/// Event streams open at once, at most; one more is answered 503.
pub const MAX_STREAMS: usize = 16;

/// What the socket side (`hookctl ui`, status) and the listener share.
pub struct UiHandle {
    /// The bound address.
    addr: SocketAddr,
    settings: Settings,
    logins: auth::Logins,
    /// Event streams open now.
    streams: AtomicUsize,
}

impl UiHandle {
    /// The page's address: `http://127.0.0.1:PORT/ui/`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/ui/", self.addr)
    }
}

/// A running dashboard listener.
pub struct UiServer {
    task: tokio::task::JoinHandle<()>,
}

impl UiServer {
    /// Waits until the listener has stopped: it stops when `state.shutdown` is cancelled, its
    /// streams end at once and its other requests are answered, bounded by
    /// [`crate::server::DRAIN_GRACE`].
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "dashboard listener task failed");
        }
    }
}

/// Starts the dashboard when `[ui] listen` is set (else `None`).
///
/// # Errors
///
/// A failed bind: hookd refuses to start rather than run without the listener it was
/// configured with (as for `[http]`).
pub async fn start(state: &Arc<State>, settings: &Settings) -> anyhow::Result<Option<UiServer>> {
    use anyhow::Context as _;
    let Some(addr) = settings.listen else {
        return Ok(None);
    };
    let listener = crate::server::http::bind(addr)
        .with_context(|| format!("binding the dashboard on {addr} ([ui] listen)"))?;
    let addr = listener.local_addr()?;
    let handle = Arc::new(UiHandle {
        addr,
        settings: *settings,
        logins: auth::Logins::new(settings.code_ttl),
        streams: AtomicUsize::new(0),
    });
    if state.ui.set(Arc::clone(&handle)).is_err() {
        anyhow::bail!("the dashboard was started twice");
    }
    tracing::info!(
        %addr,
        port = addr.port(),
        url = %handle.url(),
        "dashboard listening (log in with `hookctl ui`)"
    );
    let task = tokio::spawn(serve::accept_loop(Arc::clone(state), handle, listener));
    Ok(Some(UiServer { task }))
}

/// `hookctl ui`: a one-time login URL, or why there is none.
#[must_use]
pub fn login(state: &State) -> Response {
    let Some(ui) = state.ui.get() else {
        return Response::Error(
            "the dashboard is off: set `[ui] listen = \"127.0.0.1:8766\"` in hookd.toml and \
             restart hookd (`hookctl restart`)"
                .into(),
        );
    };
    match ui.logins.mint_code(Instant::now()) {
        Ok(code) => {
            tracing::info!("dashboard login code issued (valid once)");
            let ttl = i64::try_from(ui.logins.code_ttl().as_millis()).unwrap_or(i64::MAX);
            Response::UiLogin(UiLogin {
                url: format!("{}login?code={code}", ui.url()),
                expires_ms: crate::clock::now_ms().saturating_add(ttl),
            })
        }
        Err(e) => Response::Error(format!("cannot make a login code: {e}")),
    }
}
