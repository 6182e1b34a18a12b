//! The rules' part of one event: [`Judged`], from the live and the project's rules in the
//! event's session; the bypass alarm, allow-once and `env` rules folded into it; the rules
//! notice a session is told once; and `hookctl test`, the same judging with nothing kept.

use hook_protocol::{ClientOptions, HookEnv, HookRequest, MatchedRule, TestReport};

use super::session::{lock, session_of};
use crate::clock::now_ms;
use crate::decide::{self, Inputs};
use crate::event::HookEvent;
use crate::render::render;
use crate::rules::{Decision, Ruleset};
use crate::session::{Bypass, Session};
use crate::state::State;
use crate::verdict::Verdict;

/// The rules' part of one event: everything decided before `run` scripts execute.
pub(super) struct Judged {
    pub(super) event: HookEvent,
    pub(super) decision: Decision,
    /// The event's time as its session counts it (for [`decide::conclude`]).
    pub(super) session_ms: i64,
    pub(super) project_dir: Option<String>,
    /// The project's own rules applied.
    pub(super) project_rules: bool,
    /// Whether the session's row in the store is due an update.
    pub(super) touch_session: bool,
    /// Tool calls this event showed ran without a PreToolUse.
    pub(super) bypasses: Vec<Bypass>,
}

/// Evaluates a parsed event against the live ruleset and the project's rules, in `session`
/// (when it has one). With `observe` (a real event), the session learns the event and is told
/// once about rule files that fail to load; without it (`hookctl test`), `session` is a copy.
pub(super) fn judge(
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

/// Allow-once on the hook path, in memory only ([`crate::allow`]): a PreToolUse deny or ask
/// decided by rules (not failing closed) is lifted by a live grant for this very call (the
/// event then gets no permission decision from hookd, and the user a note), or its reason
/// ends with the code that `hookctl allow` takes.
pub(super) fn allow_once(state: &State, j: &mut Judged, session_id: Option<&str>, time_ms: i64) {
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
pub(super) async fn load_env(j: &mut Judged, env_file: Option<String>) {
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

/// Evaluates an event for `hookctl test`: nothing is recorded, no session changes (a copy of
/// it is used), no script runs. A session not in memory is tested as a new, empty one.
pub(in crate::handler) fn test(state: &State, req: &HookRequest) -> TestReport {
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
