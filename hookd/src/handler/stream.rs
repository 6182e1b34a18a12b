//! Streaming requests: `hookctl tail` (recent events, then live ones) and `hookctl export`
//! (every matching event, in constant memory).

use std::sync::Arc;

use hook_protocol::{EventQuery, EventRow, Request, Response};

use crate::state::State;
use crate::store::EventRecord;

/// The row `hookctl tail -f` shows for a just-recorded event (no payload).
pub(super) fn live_row(r: &EventRecord) -> EventRow {
    EventRow {
        id: 0,
        time_ms: r.time_ms,
        session_id: r.session_id.clone(),
        event: r.event.clone(),
        tool: r.tool.clone(),
        project_dir: r.project_dir.clone(),
        verdict: r.verdict.to_string(),
        reason: r.reason.clone(),
        rules: r.rules.clone(),
        latency_us: r.latency_us,
        source: r.source.as_str().to_string(),
        summary: r.summary.clone(),
        redacted: r.redacted.clone(),
        payload: None,
    }
}

/// Whether a live event passes a tail's filters (the store applies them to stored rows).
#[must_use]
pub fn row_matches(q: &EventQuery, r: &EventRow) -> bool {
    let eq =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    eq(&q.session, r.session_id.as_deref())
        && eq(&q.event, Some(&r.event))
        && eq(&q.tool, r.tool.as_deref())
        && eq(&q.project, r.project_dir.as_deref())
        && q.verdict
            .as_deref()
            .is_none_or(|v| r.verdict.starts_with(v))
        && q.rule
            .as_deref()
            .is_none_or(|rule| r.rules.iter().any(|x| x == rule))
        && q.since_ms.is_none_or(|t| r.time_ms >= t)
        && q.until_ms.is_none_or(|t| r.time_ms < t)
        && q.text
            .as_deref()
            .is_none_or(|t| r.summary.as_deref().is_some_and(|s| s.contains(t)))
}

/// Serves a streaming request (`Tail`, `Export`) on `stream` until it ends or the client
/// leaves.
pub async fn stream(state: &Arc<State>, req: Request, stream: &mut tokio::net::UnixStream) {
    use hook_protocol::tokio_io::write_message;
    use tokio::io::AsyncReadExt;
    match req {
        Request::Tail(t) => {
            let mut live = t.follow.then(|| state.live.subscribe());
            let st = Arc::clone(state);
            // `tail -n 0 -f`: no recent events, only new ones.
            let q = t.query.clone();
            let recent = match tokio::task::spawn_blocking(move || {
                if q.limit == 0 {
                    Ok(Vec::new())
                } else {
                    st.store.query_events(&q)
                }
            })
            .await
            {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    let _ = write_message(stream, &Response::Error(e.to_string())).await;
                    return;
                }
                Err(e) => {
                    let _ = write_message(stream, &Response::Error(e.to_string())).await;
                    return;
                }
            };
            let mut recent = recent;
            recent.reverse();
            if write_message(stream, &Response::Events(recent))
                .await
                .is_err()
            {
                return;
            }
            let Some(rx) = live.as_mut() else { return };
            let (mut reader, mut writer) = stream.split();
            let mut buf = [0u8; 64];
            loop {
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    // The client sends nothing more: a read returning means it left.
                    _ = reader.read(&mut buf) => return,
                    got = rx.recv() => match got {
                        Ok(row) => {
                            if row_matches(&t.query, &row)
                                && write_message(&mut writer, &Response::Live((*row).clone()))
                                    .await
                                    .is_err()
                            {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            let msg = format!(
                                "tail fell behind: {n} events not shown (see `hookctl events`)"
                            );
                            if write_message(&mut writer, &Response::Error(msg)).await.is_err() {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        }
        Request::Export(q) => {
            // A bounded channel: the store iterates only as fast as the client reads, so
            // memory stays constant however large the export.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<EventRow>>(4);
            let st = Arc::clone(state);
            let producer = tokio::task::spawn_blocking(move || {
                let mut batch = Vec::with_capacity(500);
                let q = EventQuery {
                    with_payload: true,
                    ..q
                };
                let limit = (q.limit > 0).then_some(q.limit);
                let result = st.store.for_each_event(&q, true, limit, |row| {
                    batch.push(row);
                    if batch.len() == 500 {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(500));
                        return tx.blocking_send(full).is_ok();
                    }
                    true
                });
                if !batch.is_empty() {
                    let _ = tx.blocking_send(batch);
                }
                result.map_err(|e| e.to_string())
            });
            while let Some(batch) = rx.recv().await {
                if write_message(stream, &Response::Events(batch))
                    .await
                    .is_err()
                {
                    drop(rx);
                    let _ = producer.await;
                    return;
                }
            }
            let end = match producer.await {
                Ok(Ok(())) => Response::End,
                Ok(Err(e)) => Response::Error(e),
                Err(e) => Response::Error(format!("export failed: {e}")),
            };
            let _ = write_message(stream, &end).await;
        }
        other => {
            let r = super::handle(state, other).await;
            let _ = write_message(stream, &r).await;
        }
    }
}
