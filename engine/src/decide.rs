//! The pure decision: a parsed event, its session and the rules in, a [`Decision`] out.
//!
//! One hook event goes through two steps, and the daemon runs the user's `run` scripts
//! between them:
//!
//! 1. [`evaluate`]: the event is folded into its session (what was read, edited, run…) and the
//!    rules are evaluated with that history;
//! 2. [`conclude`]: the final decision (after the scripts' contributions) is folded into the
//!    session once: denials, fires of each rule, the Stop loop guard's count.
//!
//! [`answer`] does both and renders the reply: the daemon's decision path with no daemon, used
//! by the corpus tests and the fuzz targets. Nothing here does I/O, awaits, or reads the clock:
//! the time and everything the daemon knows come in as arguments.

use hook_protocol::failmode::{self, FailMode};
use hook_protocol::{ClientOptions, HookEnv, HookReply, HookRequest};

use crate::event::{EventError, HookEvent};
use crate::events::{Block, Permission};
use crate::render::render;
use crate::rules::{Action, Ctx, Decision, OnceMemory, Ruleset, permission_rank};
use crate::session::{Session, record_attempt};

/// What the daemon knows when it evaluates one event.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// The user's ruleset, then the project's (if any).
    pub rulesets: &'a [&'a Ruleset],
    /// The project root: `CLAUDE_PROJECT_DIR`, else the event's cwd ([`project_dir_of`]).
    pub project_dir: Option<&'a str>,
    /// The user's home directory (for `~` in paths).
    pub home: Option<&'a str>,
    /// Now, in ms since the epoch.
    pub time_ms: i64,
    /// The `once = "project-day"` memory, when the daemon keeps one.
    pub once: Option<&'a dyn OnceMemory>,
    /// Whether the rules that match count a hit (`hookctl rules`): true for events Claude Code
    /// sent, false for `hookctl test`, which changes nothing.
    pub count_hits: bool,
}

/// A decision and the time it was made at (a session's clock never goes back: see
/// [`evaluate`]); [`conclude`] needs both.
pub struct Evaluated {
    /// What the rules decided.
    pub decision: Decision,
    /// The event's time as the session counts it.
    pub time_ms: i64,
}

/// Step 1: folds `event` into `session` (when there is one) and evaluates the rules with its
/// history. The decision is not yet folded into the session: [`conclude`] does that once the
/// `run` scripts, if any, have added to it.
#[must_use]
pub fn evaluate(event: &HookEvent, session: Option<&mut Session>, inputs: Inputs<'_>) -> Evaluated {
    let Inputs {
        rulesets,
        project_dir,
        home,
        time_ms,
        once,
        count_hits,
    } = inputs;
    let Some(session) = session else {
        let mut cx = Ctx::new(event, project_dir, home);
        cx.now_ms = time_ms;
        cx.once_memory = once;
        cx.count_hits = count_hits;
        return Evaluated {
            decision: Ruleset::evaluate_all(rulesets, &cx),
            time_ms,
        };
    };
    // The wall clock may be set back (NTP step, manual change); within a session time only
    // moves forward (1 ms per event at least), so "edited after the last test run" and rate
    // windows keep the order events came in.
    let time_ms = time_ms.max(session.last_ms.saturating_add(1));
    session.observe(event, project_dir, home, time_ms);
    let mut cx = Ctx::new(event, project_dir, home);
    cx.session = Some(session);
    cx.now_ms = time_ms;
    cx.once_memory = once;
    cx.count_hits = count_hits;
    Evaluated {
        decision: Ruleset::evaluate_all(rulesets, &cx),
        time_ms,
    }
}

/// Step 2: folds the final decision for `event` into `session`, once: the rules that matched,
/// the verdict (denials, the Stop loop guard's consecutive blocks), and `run` attempts.
pub fn conclude(session: &mut Session, event: &HookEvent, decision: &Decision, time_ms: i64) {
    let rules: Vec<String> = decision.matched.iter().map(|m| m.rule.clone()).collect();
    session.record_verdict(&event.name, &decision.verdict(), &rules, time_ms);
    for a in &decision.attempts {
        record_attempt(session, a, time_ms);
    }
}

/// Both steps for one event and one session (or none): what the daemon does for an event that
/// runs no scripts.
#[must_use]
pub fn step(event: &HookEvent, session: Option<&mut Session>, inputs: Inputs<'_>) -> Decision {
    match session {
        Some(s) => {
            let Evaluated { decision, time_ms } = evaluate(event, Some(&mut *s), inputs);
            conclude(s, event, &decision, time_ms);
            decision
        }
        None => evaluate(event, None, inputs).decision,
    }
}

/// The project root of an event: `CLAUDE_PROJECT_DIR` from the client, else the event's cwd.
#[must_use]
pub fn project_dir_of(env: &HookEnv, event: &HookEvent) -> Option<String> {
    env.project_dir
        .clone()
        .or_else(|| event.cwd().map(str::to_string))
}

/// How an event hookd could not parse is answered.
#[derive(Debug)]
pub struct Rejected {
    /// The event it names (`unknown` when it names none).
    pub name: String,
    /// The fail mode applied.
    pub mode: FailMode,
    /// Why it was rejected.
    pub why: String,
    /// The reply.
    pub reply: HookReply,
}

/// The answer to an event hookd could not parse: the fail mode of the event it names (the
/// client's `--event`, else a scan of the raw bytes).
#[must_use]
pub fn rejected(error: &EventError, payload: &[u8], options: &ClientOptions) -> Rejected {
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

/// With no good rules ever loaded, the event gets its fail mode (the client's `--fail-mode`,
/// by default `ask` for PreToolUse and PermissionRequest) with `why` (the load error) as the
/// reason, as if hookd could not answer; a stronger decision of the rules that did load (a
/// deny) stands.
pub fn no_good_rules(
    decision: &mut Decision,
    event: &HookEvent,
    options: &ClientOptions,
    why: &str,
) {
    let Some(spec) = event.spec else { return };
    let mode = failmode::mode_for(&event.name, options.fail_mode.as_deref());
    let raise = |d: &mut Decision, to: Action| match &mut d.permission {
        Some((cur, reasons)) if permission_rank(*cur) == permission_rank(to) => {
            reasons.push(why.to_string());
        }
        Some((cur, _)) if permission_rank(*cur) > permission_rank(to) => {}
        slot => *slot = Some((to, vec![why.to_string()])),
    };
    decision.fail_closed = true;
    match (mode, spec.permission) {
        (FailMode::Pass, _) => {}
        (FailMode::Ask, Permission::Decision { ask: true, .. }) if event.name == "PreToolUse" => {
            raise(decision, Action::Ask);
        }
        // PermissionRequest: no decision, so Claude Code shows its own prompt.
        (FailMode::Ask, Permission::Behavior) => {
            if decision
                .permission
                .as_ref()
                .is_some_and(|(a, _)| *a == Action::Allow)
            {
                decision.permission = None;
            }
            decision.warnings.push(format!("{why}; asking you instead"));
        }
        (FailMode::Ask, _) => {}
        (FailMode::Deny, Permission::None) => {
            if spec.block != Block::None {
                decision.blocks.push(why.to_string());
            }
        }
        (FailMode::Deny, _) => raise(decision, Action::Deny),
    }
}

/// Raw event bytes in, reply out, with no daemon: the parse, [`step`] and [`render`] that the
/// daemon runs for every event, without the store, the project rule files, the
/// `once = "project-day"` memory or `run` scripts. Used by the corpus tests and the fuzz
/// targets, so they check the daemon's own decision path.
#[must_use]
pub fn answer(
    req: &HookRequest,
    rulesets: &[&Ruleset],
    session: Option<&mut Session>,
    home: Option<&str>,
    time_ms: i64,
) -> HookReply {
    match HookEvent::parse(&req.event, req.options.event.as_deref()) {
        Ok(event) => {
            let project_dir = project_dir_of(&req.env, &event);
            let decision = step(
                &event,
                session,
                Inputs {
                    rulesets,
                    project_dir: project_dir.as_deref(),
                    home,
                    time_ms,
                    once: None,
                    count_hits: true,
                },
            );
            render(&event, &decision)
        }
        Err(e) => rejected(&e, &req.event, &req.options).reply,
    }
}
