//! `GET /ui/api/stream`: stored events as Server-Sent Events, `id:` = the store's event id.
//!
//! The store is the stream's only source of rows: each stream keeps a cursor (the last id it
//! sent) and reads `id > cursor` in id order from a read connection on the blocking pool. So
//! what a page sees is exactly the stored rows, each once, in order, whether it connects fresh
//! (cursor = the newest id then: live from there), resumes with `Last-Event-ID` (or
//! `?last_id=`: the rows it missed come first) or falls behind (a slow reader is not sent
//! anything it would lose; it is read from the store when it is ready again). Events that
//! never pass the live feed (spooled fallbacks, journaled events moved into the store) are
//! streamed too.
//!
//! The live feed `hookctl tail -f` uses (`state.live`) only wakes a stream; a stream reads at
//! most every [`MIN_GAP`] (rows committed meanwhile come in one read), and every
//! [`POLL`] without a wake. A keepalive comment (`: ka`) goes out every `[ui] keepalive`
//! (15 s) without rows. Streams end when hookd shuts down (the producer stops, the body
//! ends, the connection closes), and at most [`super::MAX_STREAMS`] are open (503 beyond).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hook_protocol::{EventQuery, EventRow};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::serve::{Listener, Reply, json};
use super::{MAX_STREAMS, UiHandle};
use crate::State;
use crate::store::IdRange;

/// Rows read (and sent) per store read at most.
const BATCH: u32 = 500;
/// A stream reads the store at most this often.
const MIN_GAP: Duration = Duration::from_millis(50);
/// A stream looks at the store at least this often (rows that did not pass the live feed).
const POLL: Duration = Duration::from_secs(1);
/// Chunks waiting for a slow reader at most (then the producer waits: nothing is dropped).
const QUEUE: usize = 8;

/// Holds one of the [`MAX_STREAMS`] places while the producer runs.
struct Slot(Arc<UiHandle>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where to resume: `Last-Event-ID` (what `EventSource` sends on reconnect), else
/// `?last_id=`.
fn resume_from(req: &Request<Incoming>) -> Option<i64> {
    let header = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    header.or_else(|| {
        req.uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix("last_id="))
            .and_then(|v| v.parse().ok())
    })
}

/// Opens a stream for a request that showed a live session (`session`: its cookie value).
pub(super) fn open(l: &Listener, req: &Request<Incoming>, head: bool, session: String) -> Reply {
    let headers = |mut r: Reply| {
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    };
    if head {
        return headers(Response::new(super::serve::full(Bytes::new())));
    }
    let ui = &l.ui;
    if ui.streams.fetch_add(1, Ordering::AcqRel) >= MAX_STREAMS {
        ui.streams.fetch_sub(1, Ordering::AcqRel);
        let mut r = json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({
                "error": format!("hookd serves at most {MAX_STREAMS} event streams at once; close a dashboard tab")
            }),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    }
    let slot = Slot(Arc::clone(ui));
    let (tx, rx) = mpsc::channel(QUEUE);
    let producer = Producer {
        state: Arc::clone(&l.state),
        ui: Arc::clone(ui),
        tx,
        session,
        _slot: slot,
    };
    l.tasks.spawn(producer.run(resume_from(req)));
    headers(Response::new(http_body_util::BodyExt::boxed(SseBody {
        rx,
    })))
}

/// The response body: chunks from the producer, until it stops.
struct SseBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

struct Producer {
    state: Arc<State>,
    ui: Arc<UiHandle>,
    tx: mpsc::Sender<Bytes>,
    session: String,
    _slot: Slot,
}

/// One event as an SSE message (the row's JSON is one line: serde escapes newlines).
pub fn frame(out: &mut Vec<u8>, row: &EventRow) {
    use std::io::Write as _;
    let _ = write!(out, "id: {}\nevent: ev\ndata: ", row.id);
    out.extend_from_slice(&super::serve::html_safe_json(row));
    out.extend_from_slice(b"\n\n");
}

/// Why a stream stopped.
enum Stop {
    /// hookd is shutting down, or the client left, or its session is gone.
    Done,
}

impl Producer {
    async fn run(self, resume: Option<i64>) {
        // Subscribed before the starting point is read: a row committed after it wakes us.
        let mut live = self.state.live.subscribe();
        let mut cursor = match resume {
            Some(id) => id,
            None => match self.max_id().await {
                Some(id) => id,
                None => return,
            },
        };
        // The browser's reconnect delay (EventSource's default is 3 s).
        if self
            .send(Bytes::from_static(b"retry: 1000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        let keepalive = self.ui.settings.keepalive;
        let mut ka = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        ka.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let read_at = Instant::now();
            match self.drain(&mut cursor).await {
                Ok(sent) => {
                    if sent {
                        ka.reset();
                    }
                }
                Err(Stop::Done) => return,
            }
            let shutdown = self.state.shutdown.clone();
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.tx.closed() => return,
                _ = ka.tick() => {
                    if !self.ui.logins.touch_value(&self.session, Instant::now())
                        || self.send(Bytes::from_static(b": ka\n\n")).await.is_err()
                    {
                        return;
                    }
                    continue;
                }
                _ = poll.tick() => {}
                got = live.recv() => {
                    if matches!(got, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                    // Rows committed within the gap come in the same read.
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep_until((read_at + MIN_GAP).into()) => {}
                    }
                    // Wakes that came meanwhile are covered by the read.
                    while live.try_recv().is_ok() {}
                }
            }
        }
    }

    /// Sends every stored row after `cursor`, in batches; whether any was sent.
    async fn drain(&self, cursor: &mut i64) -> Result<bool, Stop> {
        let mut sent = false;
        loop {
            let after = *cursor;
            let st = Arc::clone(&self.state);
            let read = tokio::task::spawn_blocking(move || {
                let mut rows = Vec::new();
                let ids = IdRange {
                    after: Some(after),
                    before: None,
                };
                st.store
                    .for_each_event_in(&EventQuery::default(), ids, true, Some(BATCH), |r| {
                        rows.push(r);
                        true
                    })
                    .map(|()| rows)
                    .and_then(|rows| {
                        // A new store file starts its ids again: go on from its newest.
                        let restart = if rows.is_empty() {
                            Some(st.store.max_event_id()?).filter(|max| *max < after)
                        } else {
                            None
                        };
                        Ok((rows, restart))
                    })
            })
            .await;
            let rows = match read {
                Ok(Ok((rows, None))) => rows,
                Ok(Ok((_, Some(max)))) => {
                    tracing::info!(
                        from = after,
                        to = max,
                        "dashboard stream: the store's ids restarted (a new store file)"
                    );
                    *cursor = max;
                    return Ok(sent);
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "dashboard stream: store read failed");
                    return Ok(sent);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "dashboard stream: store read failed");
                    return Ok(sent);
                }
            };
            let Some(last) = rows.last().map(|r| r.id) else {
                return Ok(sent);
            };
            let mut out = Vec::with_capacity(rows.len() * 512);
            for r in &rows {
                frame(&mut out, r);
            }
            if !self.ui.logins.touch_value(&self.session, Instant::now()) {
                return Err(Stop::Done);
            }
            self.send(Bytes::from(out)).await?;
            *cursor = last;
            sent = true;
            if rows.len() < BATCH as usize {
                return Ok(sent);
            }
        }
    }

    /// Queues a chunk for the client, waiting while it is slow; fails when the client left or
    /// hookd shuts down.
    async fn send(&self, chunk: Bytes) -> Result<(), Stop> {
        tokio::select! {
            () = self.state.shutdown.cancelled() => Err(Stop::Done),
            r = self.tx.send(chunk) => r.map_err(|_| Stop::Done),
        }
    }

    /// The newest stored id, where a fresh stream starts.
    async fn max_id(&self) -> Option<i64> {
        let st = Arc::clone(&self.state);
        match tokio::task::spawn_blocking(move || st.store.max_event_id()).await {
            Ok(Ok(id)) => Some(id),
            Ok(Err(e)) => {
                // Ends the stream: the page reconnects and tries again.
                tracing::warn!(error = %e, "dashboard stream: cannot read the newest id");
                None
            }
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_one_message_whatever_the_text() {
        let row = EventRow {
            id: 42,
            summary: Some("echo '</script>\n<b>\"x\"</b>'\r\ndata: fake".into()),
            ..EventRow::default()
        };
        let mut out = Vec::new();
        frame(&mut out, &row);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("id: 42\nevent: ev\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n"));
        assert_eq!(text.matches('\n').count(), 4, "{text}");
        assert!(!text.contains('\r'));
        assert!(!text.contains('<'), "{text}");
        let data = text.lines().nth(2).unwrap().strip_prefix("data: ").unwrap();
        let back: EventRow = serde_json::from_str(data).unwrap();
        assert_eq!(back, row);
    }
}
