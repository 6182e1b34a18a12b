//! Request → response. The one module that touches every subsystem.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use hook_protocol::failmode;
use hook_protocol::{
    ClientOptions, EventQuery, EventRow, HookEnv, HookReply, HookRequest, MatchedRule,
    ReloadReport, Request, Response, RuleInfo, SessionReport, StatsReport, StatusReport,
    TestReport, spool,
};

use crate::State;
use crate::event::{EventError, HookEvent};
use crate::ingest::from_spool;
use crate::render::render;
use crate::rules::{Ctx, Decision, OnceMemory};
use crate::session::{Session, SharedSession, step};
use crate::store::EventRecord;

/// Answers one request.
pub async fn handle(state: &Arc<State>, req: Request) -> Response {
    match req {
        Request::Hook(h) => Response::Verdict(hook(state, h).await),
        Request::Status => {
            // It counts active sessions in the store: off the async workers (store::Store).
            let st = Arc::clone(state);
            match tokio::task::spawn_blocking(move || status(&st)).await {
                Ok(s) => Response::Status(Box::new(s)),
                Err(e) => Response::Error(format!("status failed: {e}")),
            }
        }
        Request::Reload => Response::Reloaded(reload(state).await),
        Request::Events(q) => events(state, q).await,
        Request::Test(h) => Response::Tested(test(state, &h)),
        Request::Rules => Response::Rules(rules(state)),
        Request::Trust(t) => {
            let st = Arc::clone(state);
            match tokio::task::spawn_blocking(move || st.projects.trust(&t.dir, t.revoke)).await {
                Ok(Ok(r)) => Response::Trusted(r),
                Ok(Err(e)) => Response::Error(e),
                Err(e) => Response::Error(format!("trust failed: {e}")),
            }
        }
        Request::Stats => Response::Stats(Box::new(stats(state))),
        Request::Tail(_) | Request::Export(_) => {
            Response::Error("streaming requests are served by the connection".into())
        }
        Request::Sessions(q) => {
            let st = Arc::clone(state);
            let limit = if q.limit == 0 { 50 } else { q.limit };
            match tokio::task::spawn_blocking(move || st.store.sessions(limit, q.active_only)).await
            {
                Ok(Ok(rows)) => Response::Sessions(rows),
                Ok(Err(e)) => Response::Error(e.to_string()),
                Err(e) => Response::Error(format!("sessions failed: {e}")),
            }
        }
        Request::Session(id) => session_report(state, &id).await,
        Request::Runs(q) => {
            let st = Arc::clone(state);
            match tokio::task::spawn_blocking(move || st.store.query_runs(&q)).await {
                Ok(Ok(rows)) => Response::Runs(rows),
                Ok(Err(e)) => Response::Error(e.to_string()),
                Err(e) => Response::Error(format!("runs query failed: {e}")),
            }
        }
        Request::Stop => {
            tracing::info!("stop requested over the socket");
            state.shutdown.cancel();
            Response::Stopping
        }
    }
}

pub use crate::now_ms;

/// The outcome of evaluating one event, before it is recorded.
struct Outcome {
    reply: HookReply,
    record: EventRecord,
    matched: Vec<MatchedRule>,
    project_rules: Option<String>,
    /// `run` actions to execute before answering (never for `hookctl test`).
    runs: Option<crate::run::Pending>,
}

/// Most stored events replayed to rebuild a session.
const REPLAY_LIMIT: u32 = 20_000;

/// The session of `id`, rebuilt from the store when it is not in memory (after a restart or
/// an eviction).
async fn ensure_session(state: &Arc<State>, id: &str, now_ms: i64, fresh: bool) -> SharedSession {
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

/// With no good rules ever loaded ([`crate::lastgood::FallbackKind::NoGoodSet`]), the event
/// gets its fail mode (the client's `--fail-mode`, by default `ask` for PreToolUse and
/// PermissionRequest) with the load error as the reason, as if hookd could not answer;
/// a stronger decision of the rules that did load (a deny) stands.
fn no_good_rules(
    decision: &mut crate::rules::Decision,
    event: &HookEvent,
    options: &ClientOptions,
    why: &str,
) {
    use crate::events::{Block, Permission};
    use crate::rules::{Action, permission_rank};
    let Some(spec) = event.spec else { return };
    let mode = failmode::mode_for(&event.name, options.fail_mode.as_deref());
    let raise = |d: &mut crate::rules::Decision, to: Action| match &mut d.permission {
        Some((cur, reasons)) if permission_rank(*cur) == permission_rank(to) => {
            reasons.push(why.to_string());
        }
        Some((cur, _)) if permission_rank(*cur) > permission_rank(to) => {}
        slot => *slot = Some((to, vec![why.to_string()])),
    };
    match (mode, spec.permission) {
        (failmode::FailMode::Pass, _) => {}
        (failmode::FailMode::Ask, Permission::Decision { ask: true, .. })
            if event.name == "PreToolUse" =>
        {
            raise(decision, Action::Ask);
        }
        // PermissionRequest: no decision, so Claude Code shows its own prompt.
        (failmode::FailMode::Ask, Permission::Behavior) => {
            if decision
                .permission
                .as_ref()
                .is_some_and(|(a, _)| *a == Action::Allow)
            {
                decision.permission = None;
            }
            decision.warnings.push(format!("{why}; asking you instead"));
        }
        (failmode::FailMode::Ask, _) => {}
        (failmode::FailMode::Deny, Permission::None) => {
            if spec.block != Block::None {
                decision.blocks.push(why.to_string());
            }
        }
        (failmode::FailMode::Deny, _) => raise(decision, Action::Deny),
    }
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

/// The project root of an event: `CLAUDE_PROJECT_DIR` from the client, else the event's cwd.
fn project_dir_of(env: &HookEnv, event: &HookEvent) -> Option<String> {
    env.project_dir
        .clone()
        .or_else(|| event.cwd().map(str::to_string))
}

/// Evaluates a parsed event against `rulesets` (the user's, then the project's). With a
/// session, the event is folded into it ([`step`]); without one, it is evaluated alone.
///
/// Pure: everything the daemon knows is passed in.
#[must_use]
pub fn evaluate(
    event: &HookEvent,
    rulesets: &[&crate::rules::Ruleset],
    session: Option<&mut Session>,
    project_dir: Option<&str>,
    home: Option<&str>,
    time_ms: i64,
    once: Option<&dyn OnceMemory>,
) -> Decision {
    match session {
        Some(s) => step(s, rulesets, event, project_dir, home, time_ms, once),
        None => {
            let mut cx = Ctx::new(event, project_dir, home);
            cx.now_ms = time_ms;
            cx.once_memory = once;
            crate::rules::Ruleset::evaluate_all(rulesets, &cx)
        }
    }
}

/// How an event hookd could not parse is answered.
#[derive(Debug)]
pub struct Rejected {
    /// The event it names (`unknown` when it names none).
    pub name: String,
    /// The fail mode applied.
    pub mode: failmode::FailMode,
    /// Why it was rejected.
    pub why: String,
    /// The reply.
    pub reply: HookReply,
}

/// The answer to an event hookd could not parse: the fail mode of the event it names (the
/// client's `--event`, else a scan of the raw bytes).
#[must_use]
pub fn rejected(
    error: &crate::event::EventError,
    payload: &[u8],
    options: &ClientOptions,
) -> Rejected {
    let name = options
        .event
        .clone()
        .or_else(|| failmode::scan_event_name(payload).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let mode = failmode::mode_for(&name, options.fail_mode.as_deref());
    let why = format!("hookd rejected the event: {error}");
    let reply = failmode::fallback_reply(&name, mode, &why, None);
    Rejected {
        name,
        mode,
        why,
        reply,
    }
}

/// Raw event bytes in, reply out, with no daemon: the parse, [`evaluate`] and [`render`] that
/// [`hook`] runs for every event, without the store, the project rule files or the
/// `once = "project-day"` memory. Used by the corpus tests and the fuzz targets, so they
/// check the daemon's own decision path.
#[must_use]
pub fn answer(
    req: &HookRequest,
    rulesets: &[&crate::rules::Ruleset],
    session: Option<&mut Session>,
    home: Option<&str>,
    time_ms: i64,
) -> HookReply {
    match HookEvent::parse(&req.event, req.options.event.as_deref()) {
        Ok(event) => {
            let project_dir = project_dir_of(&req.env, &event);
            let decision = evaluate(
                &event,
                rulesets,
                session,
                project_dir.as_deref(),
                home,
                time_ms,
                None,
            );
            render(&event, &decision)
        }
        Err(e) => rejected(&e, &req.event, &req.options).reply,
    }
}

/// Parses and evaluates one event against the live ruleset and the project's rules. With
/// `observe`, the event and its verdict are folded into `session`; otherwise (`hookctl test`)
/// a copy of the session is used and nothing changes.
fn decide(
    state: &State,
    parsed: Result<HookEvent, crate::event::EventError>,
    payload: &[u8],
    env: &HookEnv,
    options: &ClientOptions,
    session: Option<&SharedSession>,
    observe: bool,
) -> Outcome {
    let time_ms = now_ms();
    match parsed {
        Ok(event) => {
            let project_dir = project_dir_of(env, &event);
            let (project, project_notice) = project_dir
                .as_deref()
                .map(|p| state.projects.lookup(p))
                .unwrap_or_default();
            let fallback = state.fallback();
            let global = state.ruleset();
            let mut rulesets: Vec<&crate::rules::Ruleset> = vec![&global];
            if let Some(rs) = &project {
                rulesets.push(rs);
            }
            let home = state.home.as_deref();
            let mut guard =
                session.map(|s| s.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let touch_session = match guard.as_deref_mut() {
                Some(s) if observe => s.take_row_update(&event.name, time_ms),
                _ => true,
            };
            // `hookctl test`: a copy of the session, so nothing changes.
            let mut copy = guard.as_deref().filter(|_| !observe).cloned();
            let session = if observe {
                guard.as_deref_mut()
            } else {
                copy.as_mut()
            };
            let mut decision = evaluate(
                &event,
                &rulesets,
                session,
                project_dir.as_deref(),
                home,
                time_ms,
                Some(state),
            );
            if let Some(fb) = fallback.as_deref()
                && fb.kind == crate::lastgood::FallbackKind::NoGoodSet
            {
                no_good_rules(&mut decision, &event, options, &fb.reason());
            }
            let verdict = decision.verdict().to_string();
            // Rule files failing to load: each session is told once (per distinct notice).
            if observe
                && let Some(s) = guard.as_deref_mut()
                && event.spec.is_some_and(|sp| sp.output)
                && let Some(notice) = rules_notice(fallback.as_deref(), project_notice.as_deref())
            {
                let id = crate::lastgood::notice_id(&notice);
                if s.rules_notice != id {
                    s.rules_notice = id;
                    decision.warnings.push(notice);
                }
            }
            drop(guard);
            let reply = render(&event, &decision);
            let rules: Vec<String> = decision.matched.iter().map(|m| m.rule.clone()).collect();
            if observe && let Some(p) = project_dir.as_deref() {
                state.remember_once(&rules, p, time_ms);
            }
            let matched = decision
                .matched
                .iter()
                .map(|m| MatchedRule {
                    rule: m.rule.clone(),
                    action: m.action.to_string(),
                    why: m.why.clone(),
                })
                .collect();
            let reason = decision
                .reason()
                .or_else(|| decision.loop_guard.first().cloned());
            let record = EventRecord {
                time_ms,
                session_id: event.session_id().map(str::to_string).or_else(|| {
                    env.session_id.clone().filter(|id| {
                        !id.is_empty() && id.len() <= crate::session::MAX_SESSION_ID_LEN
                    })
                }),
                tool: event.tool_name().map(str::to_string),
                event: event.name.clone(),
                project_dir: project_dir.clone(),
                verdict,
                reason,
                rules,
                source: "socket",
                summary: event.summary(),
                touch_session,
                ..EventRecord::default()
            };
            let runs = (observe && !decision.runs.is_empty()).then(|| crate::run::Pending {
                context: crate::run::EventContext {
                    payload: payload.into(),
                    event: event.name.clone(),
                    tool: record.tool.clone(),
                    session_id: record.session_id.clone(),
                    project_dir: project_dir.clone(),
                    cwd: event.cwd().map(str::to_string).or_else(|| env.cwd.clone()),
                    time_ms,
                },
                event,
                decision,
                deadline_ms: options.deadline_ms,
            });
            Outcome {
                reply,
                record,
                matched,
                project_rules: project.and(project_dir),
                runs,
            }
        }
        Err(e) => {
            let Rejected {
                name,
                mode,
                why,
                reply,
            } = rejected(&e, payload, options);
            tracing::warn!(event = %name, error = %e, "malformed event");
            let record = EventRecord {
                time_ms,
                session_id: env
                    .session_id
                    .clone()
                    .filter(|id| id.len() <= crate::session::MAX_SESSION_ID_LEN),
                event: name,
                project_dir: env.project_dir.clone(),
                verdict: format!("error:{}", mode.as_str()),
                reason: Some(why),
                source: "socket",
                touch_session: true,
                ..EventRecord::default()
            };
            Outcome {
                reply,
                record,
                matched: Vec::new(),
                project_rules: None,
                runs: None,
            }
        }
    }
}

/// Evaluates one hook event, records it (committed before returning) and renders the reply.
pub async fn hook(state: &Arc<State>, req: HookRequest) -> HookReply {
    let mut replies = hooks(state, vec![req]).await;
    replies.pop().unwrap_or_default()
}

/// Evaluates hook events in order and records them in one group: one commit and one wait for
/// many events (a connection's pipelined requests). Replies come back in request order, each
/// only once its event is committed.
pub async fn hooks(state: &Arc<State>, reqs: Vec<HookRequest>) -> Vec<HookReply> {
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
        group.push((i, prepare(state, req, tx).await));
    }
    drop(expected);
    record_group(state, &mut group, &mut replies).await;
    replies.into_iter().map(Option::unwrap_or_default).collect()
}

/// An evaluated event on its way to the store.
struct Evaluated {
    /// Redacted, ready to store.
    record: EventRecord,
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
    verdict: String,
    rules: Vec<String>,
    redacted: Vec<String>,
}

/// Evaluates one event and prepares its (redacted) record.
async fn prepare(
    state: &Arc<State>,
    req: HookRequest,
    dedup: tokio::sync::watch::Sender<Option<HookReply>>,
) -> Evaluated {
    let started = Instant::now();
    let HookRequest {
        event: payload,
        env,
        options,
        id: client_id,
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
    let Outcome {
        mut reply,
        mut record,
        runs,
        ..
    } = decide(
        state,
        parsed,
        &payload,
        &env,
        &options,
        session.as_ref(),
        true,
    );
    if let Some(pending) = runs {
        crate::run::apply(
            state,
            pending,
            session.as_ref(),
            started,
            &mut reply,
            &mut record,
        )
        .await;
    }
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
    };
    Evaluated { record, after }
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
    let (records, after): (Vec<EventRecord>, Vec<(usize, Publish)>) = group
        .drain(..)
        .map(|(i, e)| (e.record, (i, e.after)))
        .unzip();
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
            p.verdict = format!("error:{}", p.fail_mode.as_str());
        }
        if let Some(row) = p.live {
            let _ = state.live.send(Arc::new(row));
        }
        let redacted: Vec<&str> = p.redacted.iter().map(String::as_str).collect();
        state.metrics.record_event(
            &p.event,
            p.tool.as_deref(),
            &p.verdict,
            &p.rules,
            &redacted,
            p.processing,
            p.started.elapsed(),
        );
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

/// Evaluates an event for `hookctl test`: nothing is recorded, no session changes. A session
/// not in memory is tested as a new, empty one.
fn test(state: &State, req: &HookRequest) -> TestReport {
    let (parsed, session_id) = session_of(
        HookEvent::parse(&req.event, req.options.event.as_deref()),
        &req.env,
    );
    let session = session_id.map(|id| {
        state
            .sessions
            .lock()
            .ok()
            .and_then(|t| t.get(&id))
            .unwrap_or_else(|| Arc::new(std::sync::Mutex::new(Session::new(&id, now_ms()))))
    });
    let o = decide(
        state,
        parsed,
        &req.event,
        &req.env,
        &req.options,
        session.as_ref(),
        false,
    );
    TestReport {
        event: o.record.event,
        verdict: o.record.verdict,
        reason: o.record.reason,
        matched: o.matched,
        reply: o.reply,
        project_rules: o.project_rules,
    }
}

fn rules(state: &State) -> Vec<RuleInfo> {
    let info = |r: &crate::rules::Rule, source: String| RuleInfo {
        name: r.name.clone(),
        source,
        events: match &r.events {
            crate::rules::EventFilter::All => vec!["*".into()],
            crate::rules::EventFilter::Some { known, unknown } => known
                .iter()
                .map(|&i| crate::events::EVENTS[i].name.to_string())
                .chain(unknown.iter().cloned())
                .collect(),
        },
        action: r.action.to_string(),
        hits: r.hits.load(Ordering::Relaxed),
        reason: r.reason.clone(),
    };
    let mut out: Vec<RuleInfo> = state
        .ruleset()
        .rules
        .iter()
        .map(|r| info(r, r.source.clone()))
        .collect();
    for (dir, rs) in state.projects.rulesets() {
        out.extend(rs.rules.iter().map(|r| info(r, format!("project:{dir}"))));
    }
    out
}

fn status(state: &State) -> StatusReport {
    let rules = state.ruleset();
    let stats = state.store.stats();
    StatusReport {
        pid: std::process::id(),
        version: hook_protocol::PACKAGE_VERSION.to_string(),
        build_id: hook_protocol::BUILD_ID.to_string(),
        protocol: hook_protocol::PROTOCOL_VERSION,
        uptime_ms: u64::try_from(state.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        socket: state.config.socket.display().to_string(),
        config_dir: state.config.config_dir.display().to_string(),
        store_path: state.store.path().display().to_string(),
        store_bytes: state.store.size_bytes(),
        events_total: stats.events_total.load(Ordering::Relaxed),
        events_since_start: state.events_since_start.load(Ordering::Relaxed),
        // Not ended and active in the last day: survives restarts (the store knows).
        sessions_active: state
            .store
            .active_sessions(now_ms() - 86_400_000)
            .unwrap_or(0),
        rules_loaded: rules.rules.len() as u64,
        rule_sources: rules.sources.clone(),
        rule_errors: state
            .rule_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default(),
        rules_fallback: state.fallback().map(|f| f.describe()),
        fallbacks_recorded: stats.fallbacks.load(Ordering::Relaxed),
        spool_backlog_bytes: spool::backlog_bytes(&state.config.spool_path()),
        store_error: stats.last_error.lock().ok().and_then(|e| e.clone()),
        projects: state.projects.status(),
        journal_events: stats.journal_events.load(Ordering::Relaxed),
        journal_reserved_bytes: stats.journal_reserved.load(Ordering::Relaxed),
        durability_error: stats.durability.lock().ok().and_then(|e| e.clone()),
        not_durable: stats.not_durable.load(Ordering::Relaxed),
        duplicates_dropped: stats.duplicates_dropped.load(Ordering::Relaxed),
    }
}

/// The row `hookctl tail -f` shows for a just-recorded event (no payload).
fn live_row(r: &EventRecord) -> EventRow {
    EventRow {
        id: 0,
        time_ms: r.time_ms,
        session_id: r.session_id.clone(),
        event: r.event.clone(),
        tool: r.tool.clone(),
        project_dir: r.project_dir.clone(),
        verdict: r.verdict.clone(),
        reason: r.reason.clone(),
        rules: r.rules.clone(),
        latency_us: r.latency_us,
        source: r.source.to_string(),
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
            let limit = if t.query.limit == 0 {
                10
            } else {
                t.query.limit
            };
            let q = EventQuery {
                limit,
                ..t.query.clone()
            };
            let recent = match tokio::task::spawn_blocking(move || st.store.query_events(&q)).await
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
            let r = handle(state, other).await;
            let _ = write_message(stream, &r).await;
        }
    }
}

/// Redacts what is about to be stored: the payload and the summary. Rules already saw the
/// event unredacted.
fn redact_record(redactor: &crate::redact::Redactor, rec: EventRecord) -> EventRecord {
    if !redactor.enabled() {
        return rec;
    }
    let (payload, kinds) = redactor.redact_payload(&rec.payload);
    let mut redacted: Vec<String> = kinds.iter().map(|k| (*k).to_string()).collect();
    let payload = payload.into_owned();
    let summary = rec.summary.as_deref().map(|s| {
        let (text, more) = redactor.redact_text(s);
        redacted.extend(more.iter().map(|k| (*k).to_string()));
        text.into_owned()
    });
    redacted.sort();
    redacted.dedup();
    EventRecord {
        payload,
        summary,
        redacted,
        ..rec
    }
}

/// Counters, latencies and rates, with the health verdict and its reasons.
pub fn stats(state: &State) -> StatsReport {
    let mut r = state.metrics.report();
    let store = state.store.stats();
    r.events_total = store.events_total.load(Ordering::Relaxed);
    r.fallbacks = store.fallbacks.load(Ordering::Relaxed);
    r.spool_backlog_bytes = spool::backlog_bytes(&state.config.spool_path());
    let runs = &state.runner.stats;
    r.runs = runs.runs.load(Ordering::Relaxed);
    r.run_failures = runs.failures.load(Ordering::Relaxed);
    r.run_timeouts = runs.timeouts.load(Ordering::Relaxed);
    r.runs_pending = runs.pending.load(Ordering::Relaxed);
    r.duplicates_dropped = store.duplicates_dropped.load(Ordering::Relaxed);
    r.journal_events = store.journal_events.load(Ordering::Relaxed);
    r.not_durable = store.not_durable.load(Ordering::Relaxed);
    let mut unhealthy = Vec::new();
    let mut degraded = Vec::new();
    if let Some(e) = store.last_error.lock().ok().and_then(|e| e.clone()) {
        unhealthy.push(format!(
            "store failing (answered events go to the emergency journal): {e}"
        ));
    }
    if let Some(e) = store.durability.lock().ok().and_then(|e| e.clone()) {
        unhealthy.push(format!("durability: {e}"));
    }
    if r.journal_events > 0 {
        degraded.push(format!(
            "{} answered events waiting in the emergency journal",
            r.journal_events
        ));
    }
    if let Some(i) = store.incident.lock().ok().and_then(|i| i.clone()) {
        degraded.push(format!("store incident: {i}"));
    }
    if r.spool_backlog_bytes > 0 {
        degraded.push(format!(
            "{} bytes waiting in the spool",
            r.spool_backlog_bytes
        ));
    }
    let rule_errors = state.rule_errors.lock().map(|e| e.len()).unwrap_or(0);
    if rule_errors > 0 {
        degraded.push(format!(
            "{rule_errors} rule load errors (previous rules active)"
        ));
    }
    if r.request_us.count >= 100 && r.request_us.p99 > 50_000 {
        degraded.push(format!(
            "p99 request latency {} µs (over 50 ms)",
            r.request_us.p99
        ));
    }
    r.health = if !unhealthy.is_empty() {
        "unhealthy"
    } else if !degraded.is_empty() {
        "degraded"
    } else {
        "healthy"
    }
    .to_string();
    unhealthy.extend(degraded);
    r.health_reasons = unhealthy;
    r
}

/// Reloads rules off the async workers; keeps the old ruleset when the new one has errors.
pub async fn reload(state: &Arc<State>) -> ReloadReport {
    let dir = state.config.config_dir.clone();
    let loaded = match tokio::task::spawn_blocking(move || crate::rules::load(&dir)).await {
        Ok(l) => l,
        Err(e) => {
            return ReloadReport {
                rules_loaded: 0,
                errors: vec![format!("reload failed: {e}")],
            };
        }
    };
    let mut errors = loaded.errors;
    errors.extend(vanished_sources(state));
    let redactor = crate::build_redactor(&loaded.settings.redact, &mut errors);
    state.runner.configure(&loaded.settings.run, &mut errors);
    if let Ok(mut slot) = state.rule_errors.lock() {
        slot.clone_from(&errors);
    }
    // The rules in force are the last good ones while the files fail; saved on each success.
    let fallback = (!errors.is_empty()).then(|| {
        let since = state.good_since_ms.load(Ordering::Relaxed);
        crate::lastgood::Fallback {
            kind: if since == 0 {
                crate::lastgood::FallbackKind::NoGoodSet
            } else {
                crate::lastgood::FallbackKind::LastGood {
                    saved_ms: Some(since),
                }
            },
            errors: errors.clone(),
        }
    });
    state.set_fallback(fallback);
    if errors.is_empty() {
        state.good_since_ms.store(now_ms(), Ordering::Relaxed);
        let (dir, files) = (state.config.state_dir.clone(), loaded.files);
        let _ = tokio::task::spawn_blocking(move || crate::save_last_good(&dir, &files)).await;
        *state
            .redactor
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(redactor);
        let n = loaded.ruleset.rules.len();
        loaded.ruleset.inherit_hits(&state.ruleset());
        *state
            .rules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(loaded.ruleset);
        tracing::info!(rules = n, "rules reloaded");
        ReloadReport {
            rules_loaded: n as u64,
            errors,
        }
    } else {
        for e in &errors {
            tracing::error!(error = %e, "rules reload failed; keeping the previous rules");
        }
        ReloadReport {
            rules_loaded: state.ruleset().rules.len() as u64,
            errors,
        }
    }
}

/// The configuration directory or `rules.d/` gone (deleted, moved, a mount missing) is
/// treated as trouble, not as "no rules": the last good rules stay active until the directory
/// is back. (Emptying `rules.d/` is how to remove all its rules.)
fn vanished_sources(state: &State) -> Vec<String> {
    let config_dir = &state.config.config_dir;
    if !config_dir.is_dir() {
        return vec![format!(
            "{}: the configuration directory is gone; keeping the rules loaded before (re-create it, then `hookctl reload`)",
            config_dir.display()
        )];
    }
    let rules_dir = config_dir.join(hook_protocol::paths::RULES_DIR);
    let had_rules_dir = state
        .ruleset()
        .sources
        .iter()
        .any(|s| std::path::Path::new(s).parent() == Some(rules_dir.as_path()));
    if had_rules_dir && !rules_dir.exists() {
        return vec![format!(
            "{}: the directory is gone; keeping the rules loaded from it before (to remove them, empty it instead)",
            rules_dir.display()
        )];
    }
    Vec::new()
}

async fn events(state: &Arc<State>, q: EventQuery) -> Response {
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || st.store.query_events(&q)).await {
        Ok(Ok(rows)) => Response::Events(rows),
        Ok(Err(e)) => Response::Error(e.to_string()),
        Err(e) => Response::Error(format!("query failed: {e}")),
    }
}

async fn session_report(state: &Arc<State>, prefix: &str) -> Response {
    let st = Arc::clone(state);
    let key = prefix.to_string();
    let found = tokio::task::spawn_blocking(move || st.store.sessions_by_prefix(&key)).await;
    let rows = match found {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => return Response::Error(e.to_string()),
        Err(e) => return Response::Error(format!("session lookup failed: {e}")),
    };
    let row = match rows.as_slice() {
        [] => return Response::Error(format!("no session with id {prefix:?}")),
        [one] => one.clone(),
        _ => {
            return Response::Error(format!(
                "{prefix:?} matches several sessions; give more of the id"
            ));
        }
    };
    let session = ensure_session(state, &row.id, row.started_ms, false).await;
    let state_json = session
        .lock()
        .ok()
        .and_then(|s| serde_json::to_string(&*s).ok())
        .unwrap_or_else(|| "{}".into());
    let st = Arc::clone(state);
    let q = EventQuery {
        session: Some(row.id.clone()),
        limit: 1000,
        ..EventQuery::default()
    };
    let timeline = match tokio::task::spawn_blocking(move || st.store.query_events(&q)).await {
        Ok(Ok(mut rows)) => {
            rows.reverse();
            rows
        }
        Ok(Err(e)) => return Response::Error(e.to_string()),
        Err(e) => return Response::Error(format!("timeline failed: {e}")),
    };
    Response::Session(Box::new(SessionReport {
        row,
        state_json,
        timeline,
    }))
}

/// Records every spooled event exactly once, then removes the spool. Events in the emergency
/// journal are moved into the store first: a spooled copy of one of them (its reply was lost)
/// is then recognised and dropped.
pub async fn ingest_spool(state: &Arc<State>) {
    let st = Arc::clone(state);
    let done = tokio::task::spawn_blocking(move || -> Result<usize, String> {
        st.store
            .move_journal_blocking()
            .map_err(|e| format!("the emergency journal is not moved into the store yet: {e}"))?;
        let path = st.config.spool_path();
        let taken =
            spool::take(&path).map_err(|e| format!("reading spool {}: {e}", path.display()))?;
        for p in &taken.problems {
            tracing::warn!(problem = %p, "spool problem (raw bytes kept beside the spool)");
        }
        let n = taken.records.len();
        if n > 0 {
            let redactor = st.redactor();
            let recs = taken
                .records
                .iter()
                .cloned()
                .map(|r| redact_record(&redactor, from_spool(r)))
                .collect();
            // Spooled copies of events hookd committed (their reply was lost) are dropped.
            let recs = st.store.drop_recorded(recs).unwrap_or_else(|(e, recs)| {
                tracing::warn!(error = %e, "looking up spooled events failed; the commit checks them");
                recs
            });
            st.store.record_blocking(recs).map_err(|e| e.to_string())?;
        }
        spool::finish(&taken).map_err(|e| format!("removing ingested spool: {e}"))?;
        Ok(n)
    })
    .await;
    match done {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(events = n, "spooled events recorded"),
        Ok(Err(e)) => tracing::error!(error = %e, "spool ingestion failed; will retry"),
        Err(e) => tracing::error!(error = %e, "spool ingestion task failed"),
    }
}
