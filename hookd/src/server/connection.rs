//! One client connection: read a frame, answer it, repeat until the client leaves.
//!
//! hook-client sends one request; hookctl may send several. A request that has been read is
//! always answered, even during shutdown.

use std::sync::Arc;
use std::time::Duration;

use hook_protocol::frame::{FrameError, decode_message};
use hook_protocol::tokio_io::{read_frame, write_message};
use hook_protocol::{MAX_FRAME_LEN, Mismatch, PROTOCOL_VERSION, Request, Response};
use tokio::net::UnixStream;

use crate::{State, handler};

/// Serves one connection; one silent for `idle_timeout` (no whole frame arriving: an idle or a
/// slow client) is closed.
pub(super) async fn serve(
    state: Arc<State>,
    stream: UnixStream,
    conn_id: u64,
    idle_timeout: Duration,
) {
    // Buffered: a frame's header and body arrive in one read instead of three.
    let mut stream = tokio::io::BufReader::with_capacity(16 * 1024, stream);
    loop {
        let frame = tokio::select! {
            () = state.shutdown.cancelled() => return,
            f = tokio::time::timeout(idle_timeout, read_frame(&mut stream, MAX_FRAME_LEN)) => f,
        };
        let frame = match frame {
            Err(_) => {
                tracing::debug!(conn_id, "idle connection closed");
                // Said once, without waiting: a client stuck mid-frame learns why it was cut.
                let msg = format!(
                    "connection closed after {} ms without a whole request ([server] idle_timeout)",
                    idle_timeout.as_millis()
                );
                if let Ok(frame) = hook_protocol::frame::encode_message(&Response::Error(msg)) {
                    let _ = stream.get_ref().try_write(&frame);
                }
                return;
            }
            Ok(Err(FrameError::Closed)) => return,
            Ok(Err(e @ (FrameError::TooLarge { .. } | FrameError::TooShort { .. }))) => {
                tracing::warn!(conn_id, error = %e, "bad frame; closing connection");
                let _ = write_message(&mut stream, &Response::Error(e.to_string())).await;
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!(conn_id, error = %e, "connection ended inside a frame");
                return;
            }
            Ok(Ok(f)) => f,
        };
        let (response, keep) = match decode_message::<Request>(&frame) {
            Ok(req @ (Request::Tail(_) | Request::Export(_))) => {
                handler::stream(&state, req, stream.get_mut()).await;
                return;
            }
            Ok(req) => (handler::handle(&state, req).await, true),
            Err(FrameError::VersionMismatch { theirs, .. }) => {
                tracing::warn!(conn_id, peer_protocol = theirs, "protocol version mismatch");
                let m = Mismatch {
                    daemon_protocol: PROTOCOL_VERSION,
                    daemon_version: hook_protocol::PACKAGE_VERSION.to_string(),
                    peer_protocol: theirs,
                };
                (Response::Mismatch(m), false)
            }
            Err(e) => {
                tracing::warn!(conn_id, error = %e, "malformed request");
                (Response::Error(format!("malformed request: {e}")), false)
            }
        };
        if let Err(e) = write_message(&mut stream, &response).await {
            tracing::debug!(conn_id, error = %e, "client left before the reply");
            return;
        }
        if !keep {
            return;
        }
    }
}
