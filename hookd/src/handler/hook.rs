//! The hook path: one event in, one reply out, the event durable before the reply.
//!
//! Parse → session → [`decide::evaluate`] → the `run` scripts (if any) → [`decide::conclude`]
//! → render once → record once → group commit → publish (tail, metrics, duplicates). The
//! verdict waits on nothing but the rules, the scripts the rules ask for, and the commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use hook_protocol::failmode;
use hook_protocol::{
    ClientOptions, EventRow, HookEnv, HookReply, HookRequest, MatchedRule, TestReport,
};

use super::redact_record;
use super::stream::live_row;
use crate::clock::now_ms;
use crate::decide::{self, Inputs, Rejected};
use crate::event::{EventError, HookEvent};
use crate::render::render;
use crate::rules::{Decision, Ruleset};
use crate::session::{BYPASS_EVENT, Bypass, Session, SharedSession};
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

/// The rules' part of one event: everything decided before `run` scripts execute.
struct Judged {
    event: HookEvent,
    decision: Decision,
    /// The event's time as its session counts it (for [`decide::conclude`]).
    session_ms: i64,
    project_dir: Option<String>,
    /// The project's own rules applied.
    project_rules: bool,
    /// Whether the session's row in the store is due an update.
    touch_session: bool,
    /// Tool calls this event showed ran without a PreToolUse.
    bypasses: Vec<Bypass>,
}

/// Evaluates a parsed event against the live ruleset and the project's rules, in `session`
/// (when it has one). With `observe` (a real event), the session learns the event and is told
/// once about rule files that fail to load; without it (`hookctl test`), `session` is a copy.
fn judge(
    state: &State,
    event: HookEvent,
    env: &HookEnv,
    options: &ClientOptions,
    mut session: Option<&mut Session>,
    observe: bool,
    time_ms: i64,
) -> Judged {
    let project_dir = decide::project_dir_of(env, &event);
    let (project, project_notice) = project_dir
        .as_deref()
        .map(|p| state.projects.lookup(p))
        .unwrap_or_default();
    let fallback = state.fallback();
    let global = state.ruleset();
    let mut rulesets: Vec<&Ruleset> = vec![&global];
    if let Some(rs) = &project {
        rulesets.push(rs);
    }
    let touch_session = match session.as_deref_mut() {
        Some(s) if observe => s.take_row_update(&event.name, time_ms),
        _ => true,
    };
    let decide::Evaluated {
        mut decision,
        time_ms: session_ms,
    } = decide::evaluate(
        &event,
        session.as_deref_mut(),
        Inputs {
            rulesets: &rulesets,
            project_dir: project_dir.as_deref(),
            home: state.home.as_deref(),
            time_ms,
            once: Some(&state.once),
            // `hookctl test` (observe off) changes nothing, hit counts included.
            count_hits: observe,
        },
    );
    if let Some(fb) = fallback.as_deref()
        && fb.kind == crate::lastgood::FallbackKind::NoGoodSet
    {
        decide::no_good_rules(&mut decision, &event, options, &fb.reason());
    }
    let bypasses = match session.as_deref_mut() {
        Some(s) if observe => bypass_alarm(state, s, &event, &mut decision),
        _ => Vec::new(),
    };
    // Rule files failing to load: each session is told once (per distinct notice).
    if observe
        && let Some(s) = session
        && event.spec.is_some_and(|sp| sp.output)
        && let Some(notice) = rules_notice(fallback.as_deref(), project_notice.as_deref())
    {
        let id = crate::lastgood::notice_id(&notice);
        if s.rules_notice != id {
            s.rules_notice = id;
            decision.warnings.push(notice);
        }
    }
    Judged {
        event,
        decision,
        session_ms,
        project_dir,
        project_rules: project.is_some(),
        touch_session,
        bypasses,
    }
}

/// The bypass alarm (docs/operations.md): takes the tool calls `event` showed ran without a
/// PreToolUse in `session`, and tells the model and the user about the untold ones on the
/// first event that can carry both a context and a message (usually the very PostToolUse or
/// PostToolBatch that showed them), unless `[session] bypass_alarm = false`.
fn bypass_alarm(
    state: &State,
    session: &mut Session,
    event: &HookEvent,
    decision: &mut Decision,
) -> Vec<Bypass> {
    let found = session.take_new_bypasses();
    if !found.is_empty() && state.settings.get().session.bypass_alarm {
        for b in &found {
            // The store row is the record; a flood of them must not flood the log.
            tracing::debug!(
                session = %session.id,
                tool = %b.tool,
                tool_use_id = %b.tool_use_id,
                seen_in = b.seen_in,
                "bypass: a tool call ran without a PreToolUse"
            );
        }
        if let Some(log) = session.bypass_log() {
            log.untold.extend(found.iter().cloned());
            // A runaway stream of them is told as the last few.
            let n = log.untold.len();
            if n > 16 {
                log.untold.drain(..n - 16);
            }
        }
    }
    // Not a Stop: a context there would make the turn go on.
    let carries = event.spec.is_some_and(|sp| sp.output && sp.context)
        && !crate::events::is_stop_like(&event.name);
    if carries
        && let Some(log) = session.bypass_log()
        && !log.untold.is_empty()
    {
        let told = std::mem::take(&mut log.untold);
        let calls: Vec<String> = told
            .iter()
            .map(|b| format!("{} `{}`", b.tool, b.tool_use_id))
            .collect();
        let calls = calls.join(", ");
        decision.warnings.push(format!(
            "hookd: bypass alarm: Claude Code ran {calls} without the PreToolUse hook, so no guard rule checked it (see `hookctl events --event bypass`)"
        ));
        decision.contexts.push(format!(
            "hookd bypass alarm: the tool call {calls} ran without passing hookd's PreToolUse checks (Claude Code did not send it). Tell the user, and do not treat it as checked."
        ));
    }
    found
}

/// The `bypass` record of `b`, found by the event `j` (docs/operations.md, "Bypass alarm").
fn bypass_record(b: &Bypass, j: &Judged, record: &EventRecord) -> EventRecord {
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
fn record_of(j: &Judged, env: &HookEnv, time_ms: i64, source: Source) -> EventRecord {
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

/// Allow-once on the hook path, in memory only ([`crate::allow`]): a PreToolUse deny or ask
/// decided by rules (not failing closed) is lifted by a live grant for this very call (the
/// event then gets no permission decision from hookd, and the user a note), or its reason
/// ends with the code that `hookctl allow` takes.
fn allow_once(state: &State, j: &mut Judged, session_id: Option<&str>, time_ms: i64) {
    let d = &mut j.decision;
    let Some((action, reasons)) = &mut d.permission else {
        return;
    };
    if !matches!(
        action,
        crate::rules::Action::Deny | crate::rules::Action::Ask
    ) || d.fail_closed
        || j.event.name != "PreToolUse"
    {
        return;
    }
    let Some(project) = j.project_dir.as_deref() else {
        return;
    };
    let Some(key) = crate::allow::key(project, &j.event) else {
        return;
    };
    if let Some(g) = state.allowances.take(&key, session_id, time_ms) {
        let note = format!(
            "hookd: allowed by `hookctl allow {}` ({}, granted by {}) although: {}",
            g.code,
            g.scope.as_str(),
            g.user,
            reasons.join("; ")
        );
        state.store.allowance_used(g.id, time_ms);
        d.permission = None;
        d.warnings.push(note.clone());
        d.note = Some(note);
        return;
    }
    let summary = j.event.summary().unwrap_or_default();
    let summary = state.redactor().redact_text(&summary).0.into_owned();
    let code = state.allowances.code_for(crate::allow::Pending {
        key,
        project: project.to_string(),
        tool: j.event.tool_name().unwrap_or_default().to_string(),
        summary,
        rules: d.matched.iter().map(|m| m.rule.clone()).collect(),
        session_id: session_id.map(str::to_string),
        last_ms: time_ms,
    });
    if let Some(last) = reasons.last_mut() {
        last.push_str(&format!(" (allow once: hookctl allow {code})"));
    }
}

/// Carries out the `env` rules of a SessionStart ([`crate::envfile`]), off the async
/// workers: their dotenv files go into `CLAUDE_ENV_FILE`. What is recorded and shown is the
/// variables' names and count; problems reach the user as warnings.
async fn load_env(j: &mut Judged, env_file: Option<String>) {
    let calls = std::mem::take(&mut j.decision.envs);
    let d = &mut j.decision;
    let Some(env_file) = env_file.filter(|f| !f.is_empty()) else {
        for c in &calls {
            d.warnings.push(format!(
                "hookd: {} — no CLAUDE_ENV_FILE: Claude Code gives one to SessionStart command hooks (hook-client), not to HTTP hooks",
                c.rule
            ));
        }
        return;
    };
    let Some(project) = j.project_dir.clone() else {
        for c in &calls {
            d.warnings.push(format!(
                "hookd: {} — the event names no project directory to load the environment from",
                c.rule
            ));
        }
        return;
    };
    let work = calls.clone();
    let done = tokio::task::spawn_blocking(move || {
        work.iter()
            .map(|c| {
                crate::envfile::load(
                    std::path::Path::new(&project),
                    &c.files,
                    std::path::Path::new(&env_file),
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut notes = Vec::new();
    for (c, r) in calls.iter().zip(done) {
        match r {
            Ok(l) => {
                tracing::info!(rule = %c.rule, count = l.names.len(), names = ?l.names, "env rule loaded variables into CLAUDE_ENV_FILE");
                notes.push(format!(
                    "hookd: {} — loaded {} variables from {}: {}",
                    c.rule,
                    l.names.len(),
                    if l.files.is_empty() {
                        "no file".to_string()
                    } else {
                        l.files.join(", ")
                    },
                    l.names.join(", ")
                ));
                if !l.problems.is_empty() {
                    d.warnings.push(format!(
                        "hookd: {} — skipped: {}",
                        c.rule,
                        l.problems.join("; ")
                    ));
                }
            }
            Err(why) => {
                tracing::warn!(rule = %c.rule, error = %why, "env rule could not write CLAUDE_ENV_FILE");
                d.warnings.push(format!(
                    "hookd: {} — could not load the environment: {why}",
                    c.rule
                ));
            }
        }
    }
    if !notes.is_empty() {
        d.note = Some(notes.join("\n"));
    }
}

/// The record of an event hookd could not parse (answered by its fail mode).
fn rejected_record(r: &Rejected, env: &HookEnv, time_ms: i64, source: Source) -> EventRecord {
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

/// A session's lock (a poisoned one is taken over: every section leaves the session whole).
fn lock(s: &SharedSession) -> std::sync::MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// Bytes of an event refused for its session id that are recorded: enough to see what it
/// was, while an id of a megabyte costs the store no more than this.
const REFUSED_ID_KEPT: usize = 4096;

/// The record of an event refused for an over-long session id keeps only the first
/// [`REFUSED_ID_KEPT`] bytes of its payload (the reason says so); other records are unchanged.
fn cut_refused_id(
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

/// Evaluates an event for `hookctl test`: nothing is recorded, no session changes (a copy of
/// it is used), no script runs. A session not in memory is tested as a new, empty one.
pub(super) fn test(state: &State, req: &HookRequest) -> TestReport {
    let (parsed, session_id) = session_of(
        HookEvent::parse(&req.event, req.options.event.as_deref()),
        &req.env,
    );
    let time_ms = now_ms();
    let event = match parsed {
        Ok(e) => e,
        Err(e) => {
            let r = decide::rejected(&e, &req.event, &req.options);
            return TestReport {
                event: r.name,
                verdict: Verdict::Error(r.mode).to_string(),
                reason: Some(r.why),
                matched: Vec::new(),
                reply: r.reply,
                project_rules: None,
            };
        }
    };
    let mut copy = session_id.map(|id| {
        state
            .sessions
            .lock()
            .ok()
            .and_then(|t| t.get(&id))
            .map_or_else(|| Session::new(&id, time_ms), |s| lock(&s).clone())
    });
    let j = judge(
        state,
        event,
        &req.env,
        &req.options,
        copy.as_mut(),
        false,
        time_ms,
    );
    let d = &j.decision;
    TestReport {
        event: j.event.name.clone(),
        verdict: d.verdict().to_string(),
        reason: d.reason().or_else(|| d.loop_guard.first().cloned()),
        matched: d
            .matched
            .iter()
            .map(|m| MatchedRule {
                rule: m.rule.clone(),
                action: m.action.to_string(),
                why: m.why.clone(),
            })
            .collect(),
        reply: render(&j.event, d),
        project_rules: j.project_dir.clone().filter(|_| j.project_rules),
    }
}

/// Most stored events replayed to rebuild a session.
const REPLAY_LIMIT: u32 = 20_000;

/// The session of `id`, rebuilt from the store when it is not in memory (after a restart or
/// an eviction).
pub(super) async fn ensure_session(
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
fn session_of(
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

/// What a session is told (once) while rule files fail to load: the user's, the project's.
fn rules_notice(
    fallback: Option<&crate::lastgood::Fallback>,
    project: Option<&str>,
) -> Option<String> {
    match (fallback.map(crate::lastgood::Fallback::notice), project) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(p)) => Some(p.to_string()),
        (Some(a), Some(p)) => Some(format!("{a}\n{p}")),
    }
}
