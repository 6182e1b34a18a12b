//! The session an event belongs to: its id (from the event or the client), its lock, and the
//! session itself, rebuilt from the store when it is not in memory.

use std::sync::Arc;

use hook_protocol::HookEnv;

use crate::event::{EventError, HookEvent};
use crate::session::{Session, SharedSession};
use crate::state::State;

/// A session's lock (a poisoned one is taken over: every section leaves the session whole).
pub(super) fn lock(s: &SharedSession) -> std::sync::MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Most stored events replayed to rebuild a session.
const REPLAY_LIMIT: u32 = 20_000;

/// The session of `id`, rebuilt from the store when it is not in memory (after a restart or
/// an eviction).
pub(in crate::handler) async fn ensure_session(
    state: &Arc<State>,
    id: &str,
    now_ms: i64,
    fresh: bool,
) -> SharedSession {
    if let Some(s) = state.sessions.lock().ok().and_then(|t| t.get(id)) {
        return s;
    }
    if fresh {
        // A session starting now has no history to replay: skip the store lookup.
        let mut table = state
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        return table.get_or_create(id, now_ms);
    }
    let st = Arc::clone(state);
    let key = id.to_string();
    let replayed = tokio::task::spawn_blocking(move || {
        let rows = st
            .store
            .session_rows(&key, REPLAY_LIMIT)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot replay session; starting it empty");
                Vec::new()
            });
        (!rows.is_empty()).then(|| crate::session::replay(&key, &rows, st.home.as_deref()))
    })
    .await
    .ok()
    .flatten();
    let mut table = state
        .sessions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = replayed {
        tracing::debug!(
            session = id,
            events = s.events,
            "session rebuilt from the store"
        );
        table.insert_replayed(s);
    }
    table.get_or_create(id, now_ms)
}

/// The session an event belongs to: its `session_id`, else the client's
/// `CLAUDE_CODE_SESSION_ID`. An over-long id from the client refuses the event, as one in the
/// event does ([`EventError::SessionIdTooLong`]); an event without a usable id has no session
/// (stateful conditions then fail closed, see `rules::state`).
pub(super) fn session_of(
    parsed: Result<HookEvent, EventError>,
    env: &HookEnv,
) -> (Result<HookEvent, EventError>, Option<String>) {
    let Ok(event) = parsed else {
        return (parsed, None);
    };
    let id = match event.session_id() {
        Some(id) => Some(id.to_string()),
        None => match env.session_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) if id.len() > crate::session::MAX_SESSION_ID_LEN => {
                return (Err(EventError::SessionIdTooLong(id.len())), None);
            }
            id => id.map(str::to_string),
        },
    };
    (Ok(event), id)
}
