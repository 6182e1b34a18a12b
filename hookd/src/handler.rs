//! Request → response. The one module that touches every subsystem.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hook_protocol::failmode;
use hook_protocol::{
    ClientOptions, EventQuery, HookEnv, HookReply, HookRequest, MatchedRule, ReloadReport,
    Request, Response, RuleInfo, StatusReport, TestReport, spool,
};

use crate::State;
use crate::event::HookEvent;
use crate::render::render;
use crate::rules::Ctx;
use crate::store::{EventRecord, from_spool};

/// Answers one request.
pub async fn handle(state: &Arc<State>, req: Request) -> Response {
    match req {
        Request::Hook(h) => Response::Verdict(hook(state, h).await),
        Request::Status => Response::Status(Box::new(status(state))),
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
        Request::Stop => {
            tracing::info!("stop requested over the socket");
            state.shutdown.cancel();
            Response::Stopping
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// The outcome of evaluating one event, before it is recorded.
struct Outcome {
    reply: HookReply,
    record: EventRecord,
    matched: Vec<MatchedRule>,
    project_rules: Option<String>,
}

/// Parses and evaluates one event against the live ruleset and the project's rules; with
/// `observe`, updates session state too.
fn decide(
    state: &State,
    payload: &[u8],
    env: &HookEnv,
    options: &ClientOptions,
    observe: bool,
) -> Outcome {
    let time_ms = now_ms();
    match HookEvent::parse(payload, options.event.as_deref()) {
        Ok(event) => {
            let project_dir = env.project_dir.clone().or_else(|| event.cwd().map(str::to_string));
            if observe && let Ok(mut sessions) = state.sessions.lock() {
                sessions.observe(&event, project_dir.as_deref(), time_ms);
            }
            let cx = Ctx::new(&event, project_dir.as_deref(), state.home.as_deref());
            let mut decision = state.ruleset().evaluate_in(&cx);
            let project = project_dir.as_deref().and_then(|p| state.projects.rules_for(p));
            if let Some(rs) = &project {
                decision.merge(rs.evaluate_in(&cx));
            }
            let reply = render(&event, &decision);
            let matched = decision
                .matched
                .iter()
                .map(|m| MatchedRule {
                    rule: m.rule.clone(),
                    action: m.action.to_string(),
                    why: m.why.clone(),
                })
                .collect();
            let record = EventRecord {
                time_ms,
                session_id: event
                    .session_id()
                    .map(str::to_string)
                    .or_else(|| env.session_id.clone()),
                tool: event.tool_name().map(str::to_string),
                event: event.name.clone(),
                project_dir: project_dir.clone(),
                verdict: decision.verdict().to_string(),
                reason: decision.reason(),
                rules: decision.matched.into_iter().map(|m| m.rule).collect(),
                source: "socket",
                ..EventRecord::default()
            };
            Outcome { reply, record, matched, project_rules: project.and(project_dir) }
        }
        Err(e) => {
            let name = options
                .event
                .clone()
                .or_else(|| failmode::scan_event_name(payload).map(str::to_string))
                .unwrap_or_else(|| "unknown".into());
            let mode = failmode::mode_for(&name, options.fail_mode.as_deref());
            let why = format!("hookd rejected the event: {e}");
            tracing::warn!(event = %name, error = %e, "malformed event");
            let reply = failmode::fallback_reply(&name, mode, &why, None);
            let record = EventRecord {
                time_ms,
                session_id: env.session_id.clone(),
                event: name,
                project_dir: env.project_dir.clone(),
                verdict: format!("error:{}", mode.as_str()),
                reason: Some(why),
                source: "socket",
                ..EventRecord::default()
            };
            Outcome { reply, record, matched: Vec::new(), project_rules: None }
        }
    }
}

/// Evaluates one hook event, records it (committed before returning) and renders the reply.
pub async fn hook(state: &Arc<State>, req: HookRequest) -> HookReply {
    let t0 = Instant::now();
    let HookRequest { event: payload, env, options } = req;
    let Outcome { reply, record, .. } = decide(state, &payload, &env, &options, true);
    let record = EventRecord {
        payload,
        latency_us: i64::try_from(t0.elapsed().as_micros()).unwrap_or(i64::MAX),
        ..record
    };
    state.events_since_start.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = state.store.record(record).await {
        // The writer spooled the event; the verdict still stands.
        tracing::warn!(error = %e, "event not committed to the store (spooled)");
    }
    reply
}

/// Evaluates an event for `hookctl test`: nothing is recorded, no session changes.
fn test(state: &State, req: &HookRequest) -> TestReport {
    let o = decide(state, &req.event, &req.env, &req.options, false);
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
    let mut out: Vec<RuleInfo> =
        state.ruleset().rules.iter().map(|r| info(r, r.source.clone())).collect();
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
        sessions_active: state.sessions.lock().map_or(0, |s| s.active() as u64),
        rules_loaded: rules.rules.len() as u64,
        rule_sources: rules.sources.clone(),
        rule_errors: state
            .rule_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default(),
        fallbacks_recorded: stats.fallbacks.load(Ordering::Relaxed),
        spool_backlog_bytes: spool::backlog_bytes(&state.config.spool_path()),
        store_error: stats.last_error.lock().ok().and_then(|e| e.clone()),
        projects: state.projects.status(),
    }
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
    let errors = loaded.errors;
    if let Ok(mut slot) = state.rule_errors.lock() {
        slot.clone_from(&errors);
    }
    if errors.is_empty() {
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

async fn events(state: &Arc<State>, q: EventQuery) -> Response {
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || st.store.query_events(&q)).await {
        Ok(Ok(rows)) => Response::Events(rows),
        Ok(Err(e)) => Response::Error(e.to_string()),
        Err(e) => Response::Error(format!("query failed: {e}")),
    }
}

/// Records every spooled event exactly once, then removes the spool.
pub async fn ingest_spool(state: &Arc<State>) {
    let st = Arc::clone(state);
    let done = tokio::task::spawn_blocking(move || -> Result<usize, String> {
        let path = st.config.spool_path();
        let taken =
            spool::take(&path).map_err(|e| format!("reading spool {}: {e}", path.display()))?;
        for p in &taken.problems {
            tracing::warn!(problem = %p, "spool problem (raw bytes kept beside the spool)");
        }
        let n = taken.records.len();
        if n > 0 {
            st.store
                .record_blocking(taken.records.iter().cloned().map(from_spool).collect())?;
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
