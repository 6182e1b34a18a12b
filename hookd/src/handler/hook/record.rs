//! What is stored for an event: the record of a judged event, of a refused one, the `bypass`
//! records it showed, and the cut of an event refused for an over-long session id.

use hook_protocol::HookEnv;

use super::judge::Judged;
use crate::decide::Rejected;
use crate::session::{BYPASS_EVENT, Bypass};
use crate::store::EventRecord;
use crate::verdict::{Source, Verdict};

/// The `bypass` record of `b`, found by the event `j` (docs/operations.md, "Bypass alarm").
pub(super) fn bypass_record(b: &Bypass, j: &Judged, record: &EventRecord) -> EventRecord {
    let payload = serde_json::json!({
        "hook_event_name": BYPASS_EVENT,
        "session_id": record.session_id,
        "tool_name": &*b.tool,
        "tool_use_id": &*b.tool_use_id,
        "seen_in": b.seen_in,
        "agent_id": j.event.value().get("agent_id").and_then(crate::event::Value::as_str),
    });
    EventRecord {
        time_ms: record.time_ms,
        session_id: record.session_id.clone(),
        event: BYPASS_EVENT.to_string(),
        tool: Some(b.tool.to_string()),
        project_dir: record.project_dir.clone(),
        payload: serde_json::to_vec(&payload).unwrap_or_default(),
        verdict: Verdict::Warn,
        reason: Some(format!(
            "{} call {} ran without a PreToolUse (seen in {})",
            b.tool, b.tool_use_id, b.seen_in
        )),
        source: record.source,
        summary: Some(format!("{} {}", b.tool, b.tool_use_id)),
        ..EventRecord::default()
    }
}

/// The record of a judged event (its verdict and reason are the final decision's).
pub(super) fn record_of(j: &Judged, env: &HookEnv, time_ms: i64, source: Source) -> EventRecord {
    let d = &j.decision;
    EventRecord {
        time_ms,
        session_id: j.event.session_id().map(str::to_string).or_else(|| {
            env.session_id
                .clone()
                .filter(|id| !id.is_empty() && id.len() <= crate::session::MAX_SESSION_ID_LEN)
        }),
        tool: j.event.tool_name().map(str::to_string),
        event: j.event.name.clone(),
        project_dir: j.project_dir.clone(),
        verdict: d.verdict(),
        reason: d
            .reason()
            .or_else(|| d.note.clone())
            .or_else(|| d.loop_guard.first().cloned()),
        rules: d.matched.iter().map(|m| m.rule.clone()).collect(),
        source,
        summary: j.event.summary(),
        touch_session: j.touch_session,
        ..EventRecord::default()
    }
}

/// The record of an event hookd could not parse (answered by its fail mode).
pub(super) fn rejected_record(
    r: &Rejected,
    env: &HookEnv,
    time_ms: i64,
    source: Source,
) -> EventRecord {
    EventRecord {
        time_ms,
        session_id: env
            .session_id
            .clone()
            .filter(|id| id.len() <= crate::session::MAX_SESSION_ID_LEN),
        event: r.name.clone(),
        project_dir: env.project_dir.clone(),
        verdict: Verdict::Error(r.mode),
        reason: Some(r.why.clone()),
        source,
        touch_session: true,
        ..EventRecord::default()
    }
}

/// Bytes of an event refused for its session id that are recorded: enough to see what it
/// was, while an id of a megabyte costs the store no more than this.
const REFUSED_ID_KEPT: usize = 4096;

/// The record of an event refused for an over-long session id keeps only the first
/// [`REFUSED_ID_KEPT`] bytes of its payload (the reason says so); other records are unchanged.
pub(super) fn cut_refused_id(
    mut payload: Vec<u8>,
    mut record: EventRecord,
    too_long: bool,
) -> (Vec<u8>, EventRecord) {
    if too_long && payload.len() > REFUSED_ID_KEPT {
        let n = payload.len();
        payload.truncate(REFUSED_ID_KEPT);
        if let Some(r) = record.reason.as_mut() {
            r.push_str(&format!(" (payload recorded cut from {n} bytes)"));
        }
    }
    (payload, record)
}
