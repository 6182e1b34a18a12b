//! The Unix socket listener: bind, accept (peer uid checked), cap, drain on shutdown.
//!
//! Knows frames and the handler, not rules or the store.

mod connection;
pub mod http;

use std::path::Path;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::State;
use crate::lifecycle::euid;

/// Connections served at once; further ones wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 1024;

/// Binds the socket.
///
/// # Errors
///
/// The bind error, with the path.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    use anyhow::Context;
    UnixListener::bind(path).with_context(|| format!("binding socket {}", path.display()))
}

/// Accepts connections until shutdown, then waits (bounded) for in-flight requests.
pub async fn serve(state: Arc<State>, listener: UnixListener) {
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let me = euid();
    let mut conn_id: u64 = 0;
    loop {
        let permit = tokio::select! {
            () = state.shutdown.cancelled() => break,
            p = Arc::clone(&slots).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => {}
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
        }
        conn_id += 1;
        let state = Arc::clone(&state);
        tracker.spawn(async move {
            connection::serve(state, stream, conn_id).await;
            drop(permit);
        });
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(crate::DRAIN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the grace period");
    }
}
