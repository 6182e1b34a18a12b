//! The Unix socket listener: bind, accept (peer uid checked), cap, drain on shutdown.
//!
//! Past the connection cap a client is answered at once with a clear error (hook-client then
//! falls back and says why) instead of waiting unseen in the kernel's queue. The listener can
//! be replaced while serving: hookd re-binds its socket when the file is deleted under it.
//!
//! Knows frames and the handler, not rules or the store.

mod connection;
pub mod http;
mod reader;

use std::path::Path;
use std::sync::Arc;

use hook_protocol::Response;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::task::TaskTracker;

use crate::state::State;
use hook_protocol::private::euid;

/// How long in-flight requests may take to finish after a shutdown request.
pub const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Limits on the socket's connections: `[server]` in hookd.toml (read at start).
pub use crate::settings::ServerSettings as Limits;

/// Binds the socket.
///
/// # Errors
///
/// The bind error, with the path.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    use anyhow::Context;
    UnixListener::bind(path).with_context(|| format!("binding socket {}", path.display()))
}

/// Accepts connections until shutdown, then waits (bounded) for in-flight requests. A listener
/// received on `rebind` replaces the current one (the socket file was re-created).
pub async fn serve(
    state: Arc<State>,
    mut listener: UnixListener,
    limits: Limits,
    mut rebind: mpsc::Receiver<UnixListener>,
) {
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let me = euid();
    let mut conn_id: u64 = 0;
    loop {
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => break,
            Some(l) = rebind.recv() => {
                listener = l;
                continue;
            }
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let peer_pid = match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => cred.pid(),
            Ok(cred) => {
                tracing::warn!(
                    peer_uid = cred.uid(),
                    peer_pid = ?cred.pid(),
                    "refused a connection from another user"
                );
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a connection whose peer cannot be identified");
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            refuse_busy(&stream, limits.max_connections);
            continue;
        };
        conn_id += 1;
        let state = Arc::clone(&state);
        tracker.spawn(async move {
            connection::serve(state, stream, peer_pid, conn_id, limits.idle_timeout).await;
            drop(permit);
        });
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(DRAIN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the grace period");
    }
}

/// Answers a connection past the cap with an error and closes it. The reply is a few dozen
/// bytes written without waiting (a fresh socket's buffer has room); if it does not fit, the
/// client sees the connection closed, which it reports too.
fn refuse_busy(stream: &UnixStream, max: usize) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            max_connections = max,
            "connection limit reached; refusing new connections until some close"
        );
    }
    let msg = format!(
        "hookd is serving its maximum of {max} connections ([server] max_connections); try again"
    );
    if let Ok(frame) = hook_protocol::frame::encode_message(&Response::Error(msg)) {
        let _ = stream.try_write(&frame);
    }
}
