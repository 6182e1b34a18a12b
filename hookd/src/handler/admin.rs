//! Admin queries: status, stats, rules, events, sessions, runs, trust, allow-once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hook_protocol::{
    AllowRequest, AllowanceRow, EventQuery, Response, RuleInfo, RunQuery, SessionQuery,
    SessionReport, StatsReport, StatusReport, TrustRequest, spool,
};

use super::hook::ensure_session;
use crate::clock::now_ms;
use crate::state::State;

pub(super) fn rules(state: &State) -> Vec<RuleInfo> {
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

/// The daemon's state. Its store figures (sessions, size on disk) are read on the blocking
/// pool.
pub(super) async fn status(state: &Arc<State>) -> StatusReport {
    let st = Arc::clone(state);
    let (sessions_active, store_bytes) = tokio::task::spawn_blocking(move || {
        // Not ended and active in the last day: survives restarts (the store knows).
        let active = st.store.active_sessions(now_ms() - 86_400_000).unwrap_or(0);
        (active, st.store.size_bytes())
    })
    .await
    .unwrap_or_default();
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
        store_bytes,
        events_total: stats.events_total.load(Ordering::Relaxed),
        events_since_start: state.events_since_start.load(Ordering::Relaxed),
        sessions_active,
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
        sinks: state.fleet.reports(),
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
    // Fleet sinks degrade (never make unhealthy): the local guard is fine without them.
    r.sinks = state.fleet.reports();
    for s in &r.sinks {
        if let Some(e) = s.error.as_ref().filter(|_| s.config_error) {
            degraded.push(format!("sink {}: {e}", s.name));
        }
        if s.lag_ms > s.lag_warn_ms {
            degraded.push(format!(
                "sink {}: {} events undelivered, the oldest {} s old",
                s.name,
                s.lag_events,
                s.lag_ms / 1000
            ));
        }
        if s.dropped > 0 {
            degraded.push(format!(
                "sink {}: {} events pruned by the size cap before delivery",
                s.name, s.dropped
            ));
        }
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

/// `hookctl statusline`: one session's verdict counts and, in a few words, what is wrong with
/// hookd (the worst first). One indexed query; nothing else waits.
pub(super) async fn statusline(state: &Arc<State>, session: String) -> Response {
    let store = state.store.stats();
    let problem = if store.durability.lock().ok().is_some_and(|e| e.is_some()) {
        Some("not durable".to_string())
    } else if store.last_error.lock().ok().is_some_and(|e| e.is_some()) {
        Some("store failing".to_string())
    } else if state.fallback().is_some() {
        Some("rules fallback".to_string())
    } else {
        match state.rule_errors.lock().map(|e| e.len()).unwrap_or(0) {
            0 => None,
            n => Some(format!("{n} rule errors")),
        }
    };
    let (events, verdicts) = if session.is_empty() {
        (0, Vec::new())
    } else {
        let st = Arc::clone(state);
        match tokio::task::spawn_blocking(move || st.store.session_verdicts(&session)).await {
            Ok(Ok(counts)) => counts,
            Ok(Err(e)) => return Response::Error(e.to_string()),
            Err(e) => return Response::Error(format!("statusline query failed: {e}")),
        }
    };
    Response::Statusline(hook_protocol::StatuslineReport {
        events,
        verdicts,
        problem,
    })
}

pub(super) async fn events(state: &Arc<State>, q: EventQuery) -> Response {
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || st.store.query_events(&q)).await {
        Ok(Ok(rows)) => Response::Events(rows),
        Ok(Err(e)) => Response::Error(e.to_string()),
        Err(e) => Response::Error(format!("query failed: {e}")),
    }
}

pub(super) async fn session_report(state: &Arc<State>, prefix: &str) -> Response {
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

/// Trusts (or revokes trust in) a project's rule file.
pub(super) async fn trust(state: &Arc<State>, t: TrustRequest) -> Response {
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || st.projects.trust(&t.dir, t.revoke)).await {
        Ok(Ok(r)) => Response::Trusted(r),
        Ok(Err(e)) => Response::Error(e),
        Err(e) => Response::Error(format!("trust failed: {e}")),
    }
}

/// Lists sessions by last activity.
pub(super) async fn sessions(state: &Arc<State>, q: SessionQuery) -> Response {
    let st = Arc::clone(state);
    let limit = if q.limit == 0 { 50 } else { q.limit };
    match tokio::task::spawn_blocking(move || st.store.sessions(limit, q.active_only)).await {
        Ok(Ok(rows)) => Response::Sessions(rows),
        Ok(Err(e)) => Response::Error(e.to_string()),
        Err(e) => Response::Error(format!("sessions failed: {e}")),
    }
}

/// Lists recorded executions of `run` rules.
pub(super) async fn runs(state: &Arc<State>, q: RunQuery) -> Response {
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || st.store.query_runs(&q)).await {
        Ok(Ok(rows)) => Response::Runs(rows),
        Ok(Err(e)) => Response::Error(e.to_string()),
        Err(e) => Response::Error(format!("runs query failed: {e}")),
    }
}

/// Allow-once (`hookctl allow`): grants the call behind a code, lists grants, or revokes one.
/// Granting and revoking are refused to a process started by Claude Code, or one hookd cannot
/// identify (`peer_pid`: the socket peer's pid).
pub async fn allow(state: &Arc<State>, req: AllowRequest, peer_pid: Option<i32>) -> Response {
    use crate::allow::{self, Scope};
    let now = now_ms();
    match req {
        AllowRequest::List { all } => {
            let st = Arc::clone(state);
            match tokio::task::spawn_blocking(move || st.store.allowances(all, now)).await {
                Ok(Ok(rows)) => Response::Allowances(rows),
                Ok(Err(e)) => Response::Error(e.to_string()),
                Err(e) => Response::Error(format!("allowances query failed: {e}")),
            }
        }
        AllowRequest::Revoke(id) => {
            let st = Arc::clone(state);
            let id2 = id.clone();
            match tokio::task::spawn_blocking(move || st.store.revoke_allowance_blocking(&id2, now))
                .await
            {
                Ok(Ok(Some(row))) => {
                    state.allowances.remove(row.id);
                    tracing::info!(id = row.id, code = %row.code, "allow-once grant revoked");
                    Response::Allowances(vec![row])
                }
                Ok(Ok(None)) => Response::Error(format!(
                    "no approval with id or code {id:?} that is not revoked (`hookctl allow --list --all` lists them)"
                )),
                Ok(Err(e)) => Response::Error(e.to_string()),
                Err(e) => Response::Error(format!("revoke failed: {e}")),
            }
        }
        AllowRequest::Grant {
            code,
            session,
            for_ms,
        } => {
            if peer_pid.is_none() {
                return Response::Error(
                    "refused: hookd cannot identify the process asking; approvals come only from hookctl over the socket".into(),
                );
            }
            // Reads /proc: off the async workers.
            let refusal = tokio::task::spawn_blocking(move || allow::refusal_for_peer(peer_pid))
                .await
                .unwrap_or_else(|e| Some(format!("refused: cannot check the asking process: {e}")));
            if let Some(why) = refusal {
                tracing::warn!(pid = ?peer_pid, "allow-once grant refused: asked from inside Claude Code");
                return Response::Error(why);
            }
            let code = code.trim().to_ascii_lowercase();
            if !allow::is_code(&code) {
                return Response::Error(format!(
                    "{code:?} is not an allow-once code ({} letters and digits, as at the end of hookd's reason)",
                    allow::CODE_LEN
                ));
            }
            let Some(p) = state.allowances.pending(&code, now) else {
                return Response::Error(format!(
                    "unknown or expired code {code}: a code lasts {} min after hookd last refused the command, and not across a restart of hookd; run the command again to get a new one",
                    allow::CODE_TTL_MS / 60_000
                ));
            };
            let (scope, expires_ms, max_uses) = match (session, for_ms) {
                (true, Some(_)) => {
                    return Response::Error("give --session or --for, not both".into());
                }
                (true, None) => {
                    if p.session_id.is_none() {
                        return Response::Error(
                            "the command was refused outside any session (no session id): --session cannot apply; use --for".into(),
                        );
                    }
                    (Scope::Session, None, None)
                }
                (false, Some(ms)) => {
                    if ms == 0 || ms > allow::MAX_WINDOW_MS {
                        return Response::Error(format!(
                            "--for must be more than 0 and at most {} days",
                            allow::MAX_WINDOW_MS / 86_400_000
                        ));
                    }
                    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                    (Scope::Window, Some(now.saturating_add(ms)), None)
                }
                (false, None) => (Scope::Once, Some(now + allow::ONCE_TTL_MS), Some(1)),
            };
            let uid = crate::lifecycle::euid();
            let user = hook_protocol::private::user_name(uid).unwrap_or_else(|| uid.to_string());
            let rec = crate::store::allow::AllowanceRecord {
                code: code.clone(),
                key: p.key.clone(),
                project: p.project.clone(),
                tool: p.tool.clone(),
                summary: p.summary.clone(),
                rules: p.rules.clone(),
                scope: scope.as_str().into(),
                session_id: p.session_id.clone(),
                created_ms: now,
                expires_ms,
                max_uses,
                uid,
                user: user.clone(),
            };
            let st = Arc::clone(state);
            let r2 = rec.clone();
            let id = match tokio::task::spawn_blocking(move || st.store.add_allowance_blocking(&r2))
                .await
            {
                Ok(Ok(id)) => id,
                Ok(Err(e)) => return Response::Error(format!("cannot record the approval: {e}")),
                Err(e) => return Response::Error(format!("cannot record the approval: {e}")),
            };
            state.allowances.add(allow::Grant {
                id,
                code: code.clone(),
                key: p.key,
                scope,
                session_id: p.session_id.clone(),
                expires_ms,
                uses_left: max_uses,
                user: user.clone(),
            });
            tracing::info!(id, code = %code, scope = scope.as_str(), project = %p.project, "allow-once grant");
            Response::Allowances(vec![AllowanceRow {
                id,
                code,
                project: p.project,
                tool: p.tool,
                summary: p.summary,
                rules: p.rules,
                scope: scope.as_str().into(),
                session_id: p.session_id,
                created_ms: now,
                expires_ms,
                uid,
                user,
                uses: 0,
                last_used_ms: None,
                revoked_ms: None,
                status: "live".into(),
            }])
        }
    }
}
