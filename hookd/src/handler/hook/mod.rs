//! The hook path: one event in, one reply out, the event durable before the reply.
//!
//! Parse → session → [`decide::evaluate`] → the `run` scripts (if any) → [`decide::conclude`]
//! → render once → record once → group commit → publish (tail, metrics, duplicates). The
//! verdict waits on nothing but the rules, the scripts the rules ask for, and the commit.
//!
//! Here: the pipeline, [`hooks`] → `prepare` → `record_group`. Its steps: `session.rs` (which
//! session, rebuilt if needed), `judge.rs` (the rules' part, allow-once, `env` rules, the bypass
//! alarm, `hookctl test`), `record.rs` (what is stored).

mod judge;
mod record;
mod session;

pub(super) use judge::test;
pub(super) use session::ensure_session;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use hook_protocol::{EventRow, HookReply, HookRequest, failmode};

use self::judge::{allow_once, judge, load_env};
use self::record::{bypass_record, cut_refused_id, record_of, rejected_record};
use self::session::{lock, session_of};
use crate::clock::now_ms;
use crate::decide;
use crate::event::{EventError, HookEvent};
use crate::handler::redact_record;
use crate::handler::stream::live_row;
use crate::render::render;
use crate::state::State;
use crate::store::EventRecord;
use crate::verdict::{Source, Verdict};

/// Evaluates one hook event, records it (committed before returning) and renders the reply.
pub async fn hook(state: &Arc<State>, req: HookRequest, source: Source) -> HookReply {
    let mut replies = hooks(state, vec![req], source).await;
    replies.pop().unwrap_or_default()
}

/// Evaluates hook events in order and records them in one group: one commit and one wait for
/// many events (a connection's pipelined requests). Replies come back in request order, each
/// only once its event is committed.
pub async fn hooks(state: &Arc<State>, reqs: Vec<HookRequest>, source: Source) -> Vec<HookReply> {
    let mut replies: Vec<Option<HookReply>> = vec![None; reqs.len()];
    let mut group: Vec<(usize, Evaluated)> = Vec::with_capacity(reqs.len());
    // A commit starting on another connection meanwhile lets these join it.
    let expected = state.store.expect(reqs.len());
    for (i, req) in reqs.into_iter().enumerate() {
        let tx = match state.dedup.begin(&req.event) {
            crate::dedup::Delivery::First(tx) => tx,
            crate::dedup::Delivery::Duplicate(rx) => {
                // The first delivery may be in this very group: record the group first.
                record_group(state, &mut group, &mut replies).await;
                if let Some(reply) = crate::dedup::Dedup::wait(rx).await {
                    state.metrics.record_dedup();
                    replies[i] = Some(reply);
                    continue;
                }
                // The first delivery was dropped without a reply: evaluate this one.
                tokio::sync::watch::channel(None).0
            }
        };
        group.push((i, prepare(state, req, tx, source).await));
    }
    drop(expected);
    record_group(state, &mut group, &mut replies).await;
    replies.into_iter().map(Option::unwrap_or_default).collect()
}

/// An evaluated event on its way to the store.
struct Evaluated {
    /// Redacted, ready to store.
    record: EventRecord,
    /// The `bypass` records of tool calls this event showed ran without a PreToolUse.
    bypasses: Vec<EventRecord>,
    after: Publish,
}

/// What is published once an event is committed.
struct Publish {
    reply: HookReply,
    /// For the live tail, when someone follows it.
    live: Option<EventRow>,
    started: Instant,
    processing: std::time::Duration,
    /// Answers duplicates of this delivery.
    dedup: tokio::sync::watch::Sender<Option<HookReply>>,
    /// The answer when the event cannot be recorded durably.
    fail_mode: failmode::FailMode,
    event: String,
    tool: Option<String>,
    verdict: Verdict,
    rules: Vec<String>,
    redacted: Vec<String>,
    /// Bypasses recorded with it (counted once committed).
    bypasses: usize,
}

/// Evaluates one event (running its `run` scripts), folds the final verdict into its session,
/// renders the reply and prepares the (redacted) record: each once.
async fn prepare(
    state: &Arc<State>,
    req: HookRequest,
    dedup: tokio::sync::watch::Sender<Option<HookReply>>,
    source: Source,
) -> Evaluated {
    let started = Instant::now();
    let HookRequest {
        event: payload,
        env,
        options,
        id: client_id,
        env_file,
    } = req;
    let (parsed, session_id) =
        session_of(HookEvent::parse(&payload, options.event.as_deref()), &env);
    let id_too_long = matches!(parsed, Err(EventError::SessionIdTooLong(_)));
    // SessionStart with `source: startup` is a brand-new session (resume/clear/compact keep
    // history).
    let fresh = parsed.as_ref().is_ok_and(|e| {
        e.name == "SessionStart"
            && e.value()
                .get("source")
                .and_then(crate::event::Value::as_str)
                == Some("startup")
    });
    let session = match &session_id {
        Some(id) => Some(ensure_session(state, id, now_ms(), fresh).await),
        None => None,
    };
    let time_ms = now_ms();
    let (reply, record, bypasses) = match parsed {
        Ok(event) => {
            let mut j = {
                let mut guard = session.as_ref().map(lock);
                let j = judge(
                    state,
                    event,
                    &env,
                    &options,
                    guard.as_deref_mut(),
                    true,
                    time_ms,
                );
                let mut j = j;
                allow_once(state, &mut j, session_id.as_deref(), time_ms);
                // No scripts: the verdict is final now, folded in under the same lock.
                if j.decision.runs.is_empty()
                    && let Some(s) = guard.as_deref_mut()
                {
                    decide::conclude(s, &j.event, &j.decision, j.session_ms);
                }
                j
            };
            if !j.decision.envs.is_empty() {
                load_env(&mut j, env_file).await;
            }
            if !j.decision.runs.is_empty() {
                let context = crate::run::EventContext {
                    payload: payload.as_slice().into(),
                    event: j.event.name.clone(),
                    tool: j.event.tool_name().map(str::to_string),
                    session_id: session_id.clone(),
                    project_dir: j.project_dir.clone(),
                    cwd: j
                        .event
                        .cwd()
                        .map(str::to_string)
                        .or_else(|| env.cwd.clone()),
                    time_ms,
                };
                state
                    .runner
                    .execute(
                        &j.event,
                        &mut j.decision,
                        context,
                        started,
                        options.deadline_ms,
                    )
                    .await;
                if let Some(s) = &session {
                    decide::conclude(&mut lock(s), &j.event, &j.decision, j.session_ms);
                }
            }
            if let Some(p) = j.project_dir.as_deref() {
                let rules: Vec<&str> = j.decision.matched.iter().map(|m| m.rule.as_str()).collect();
                state.once.remember(&rules, p, time_ms);
            }
            let record = record_of(&j, &env, time_ms, source);
            let bypasses = j
                .bypasses
                .iter()
                .map(|b| bypass_record(b, &j, &record))
                .collect();
            (render(&j.event, &j.decision), record, bypasses)
        }
        Err(e) => {
            let r = decide::rejected(&e, &payload, &options);
            tracing::warn!(event = %r.name, error = %e, "malformed event");
            let record = rejected_record(&r, &env, time_ms, source);
            (r.reply, record, Vec::new())
        }
    };
    let processing = started.elapsed();
    let fail_mode = failmode::mode_for(&record.event, options.fail_mode.as_deref());
    let (payload, record) = cut_refused_id(payload, record, id_too_long);
    let record = redact_record(
        &state.redactor(),
        EventRecord {
            payload,
            latency_us: i64::try_from(processing.as_micros()).unwrap_or(i64::MAX),
            client_id,
            fail_mode: Some(fail_mode),
            ..record
        },
    );
    let after = Publish {
        fail_mode,
        reply,
        live: (state.live.receiver_count() > 0).then(|| live_row(&record)),
        started,
        processing,
        dedup,
        event: record.event.clone(),
        tool: record.tool.clone(),
        verdict: record.verdict.clone(),
        rules: record.rules.clone(),
        redacted: record.redacted.clone(),
        bypasses: bypasses.len(),
    };
    let redactor = state.redactor();
    let bypasses = bypasses
        .into_iter()
        .map(|b| redact_record(&redactor, b))
        .collect();
    Evaluated {
        record,
        bypasses,
        after,
    }
}

/// Commits `group`'s records in one go, then publishes them (tail, metrics, duplicates) and
/// puts their replies in `replies`.
async fn record_group(
    state: &Arc<State>,
    group: &mut Vec<(usize, Evaluated)>,
    replies: &mut [Option<HookReply>],
) {
    if group.is_empty() {
        return;
    }
    let mut records = Vec::with_capacity(group.len());
    let mut after = Vec::with_capacity(group.len());
    for (i, e) in group.drain(..) {
        records.push(e.record);
        records.extend(e.bypasses);
        after.push((i, e.after));
    }
    state
        .events_since_start
        .fetch_add(records.len() as u64, Ordering::Relaxed);
    // A verdict is delivered only once its event is durable (committed, or in the emergency
    // journal); otherwise the event gets its fail mode, never a verdict that may be lost.
    let not_durable = match state.store.record_many(records).await {
        Ok(crate::store::Recorded::Committed) => None,
        Ok(crate::store::Recorded::Journaled) => {
            tracing::warn!("events not committed to the store (kept in the emergency journal)");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "events cannot be recorded durably; answering by their fail mode");
            Some(format!("hookd could not answer durably: {e}"))
        }
    };
    for (i, mut p) in after {
        if let Some(why) = &not_durable {
            p.reply = failmode::fallback_reply(&p.event, p.fail_mode, why, None);
            p.verdict = Verdict::Error(p.fail_mode);
        }
        if let Some(row) = p.live {
            let _ = state.live.send(Arc::new(row));
        }
        let redacted: Vec<&str> = p.redacted.iter().map(String::as_str).collect();
        state.metrics.record_event(
            &p.event,
            p.tool.as_deref(),
            p.verdict.as_str(),
            &p.rules,
            &redacted,
            p.processing,
            p.started.elapsed(),
        );
        if p.bypasses > 0 {
            state.metrics.record_bypasses(p.bypasses as u64);
        }
        crate::dedup::Dedup::finish(&p.dedup, &p.reply);
        replies[i] = Some(p.reply);
    }
}
