//! One client connection: read a frame, answer it, repeat until the client leaves.
//!
//! hook-client sends one request; hookctl may send several, and a client may pipeline them
//! (send several before reading the replies): replies come back in request order. A request
//! that has been read is always answered, even during shutdown.

use std::sync::Arc;
use std::time::Duration;

use hook_protocol::frame::{FrameError, decode_message, encode_message, has_whole_frame};
use hook_protocol::tokio_io::{read_frame, write_raw};
use hook_protocol::{HookRequest, MAX_FRAME_LEN, Mismatch, PROTOCOL_VERSION, Request, Response};
use tokio::net::UnixStream;

use super::reader::Reader;

use crate::{State, handler};

/// Requests a client sent without waiting (already buffered) are answered together, up to
/// this many: their events are committed in one group and the replies written in one go.
const MAX_PIPELINE: usize = 64;

/// Serves one connection; one silent for `idle_timeout` (no whole frame arriving: an idle or a
/// slow client) is closed. `peer_pid`: who is asking, as the accept loop read it with the
/// peer's uid, for allow-once approvals (`crate::allow::refusal_for_peer`).
pub(super) async fn serve(
    state: Arc<State>,
    stream: UnixStream,
    peer_pid: Option<i32>,
    conn_id: u64,
    idle_timeout: Duration,
) {
    // Buffered: a frame's header and body arrive in one read, and pipelined frames with them.
    let mut stream = Reader::new(stream);
    let mut out = Vec::new();
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
                encode_into(&Response::Error(e.to_string()), &mut out);
                let _ = write_raw(stream.get_mut(), &out).await;
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!(conn_id, error = %e, "connection ended inside a frame");
                return;
            }
            Ok(Ok(f)) => f,
        };
        let mut frames = vec![frame];
        while frames.len() < MAX_PIPELINE && has_whole_frame(stream.buffer(), MAX_FRAME_LEN) {
            match read_frame(&mut stream, MAX_FRAME_LEN).await {
                Ok(f) => frames.push(f),
                Err(_) => break,
            }
        }
        out.clear();
        let mut hooks: Vec<HookRequest> = Vec::new();
        let mut keep = true;
        for frame in frames {
            let request = match decode_message::<Request>(&frame) {
                Ok(Request::Hook(h)) => {
                    hooks.push(h);
                    continue;
                }
                other => other,
            };
            // Anything else is answered in order, after the hook events before it.
            answer_hooks(&state, &mut hooks, &mut out).await;
            let response = match request {
                Ok(req @ (Request::Tail(_) | Request::Export(_))) => {
                    if write_raw(stream.get_mut(), &out).await.is_ok() {
                        handler::stream(&state, req, stream.get_mut()).await;
                    }
                    return;
                }
                Ok(Request::Allow(a)) => handler::allow(&state, a, peer_pid).await,
                Ok(req) => handler::handle(&state, req).await,
                Err(FrameError::VersionMismatch { theirs, .. }) => {
                    tracing::warn!(conn_id, peer_protocol = theirs, "protocol version mismatch");
                    keep = false;
                    Response::Mismatch(Mismatch {
                        daemon_protocol: PROTOCOL_VERSION,
                        daemon_version: hook_protocol::PACKAGE_VERSION.to_string(),
                        peer_protocol: theirs,
                    })
                }
                Err(e) => {
                    tracing::warn!(conn_id, error = %e, "malformed request");
                    keep = false;
                    Response::Error(format!("malformed request: {e}"))
                }
            };
            encode_into(&response, &mut out);
            if !keep {
                break;
            }
        }
        answer_hooks(&state, &mut hooks, &mut out).await;
        if let Err(e) = write_raw(stream.get_mut(), &out).await {
            tracing::debug!(conn_id, error = %e, "client left before the reply");
            return;
        }
        if !keep {
            return;
        }
    }
}

/// Evaluates and records `hooks` as one group and appends their replies to `out`.
async fn answer_hooks(state: &Arc<State>, hooks: &mut Vec<HookRequest>, out: &mut Vec<u8>) {
    if hooks.is_empty() {
        return;
    }
    for reply in handler::hooks(state, std::mem::take(hooks), crate::verdict::Source::Socket).await
    {
        encode_into(&Response::Verdict(reply), out);
    }
}

/// Appends `response`'s frame to `out`; a response too large for a frame becomes an error
/// saying so (the client must get an answer).
fn encode_into(response: &Response, out: &mut Vec<u8>) {
    match encode_message(response) {
        Ok(frame) => out.extend_from_slice(&frame),
        Err(e) => {
            tracing::warn!(error = %e, "reply cannot be encoded");
            if let Ok(frame) = encode_message(&Response::Error(format!("reply too large: {e}"))) {
                out.extend_from_slice(&frame);
            }
        }
    }
}
