//! `run` actions: the user's own hook scripts, executed by hookd.
//!
//! - Sync runs execute one after another in priority order while the event waits; each one's
//!   result (exit 2, JSON hook output, plain text, failure) joins the rules' decision by the
//!   same precedence ([`output`]). Their time is bounded by the rule's `timeout` and by what
//!   is left before hook-client's deadline.
//! - Background runs return at once: they queue for one of `[run] max_background` slots, are
//!   retried with exponential backoff (`retries`), and are only recorded.
//! - Every attempt is recorded in the store's `runs` table (redacted) and counted.
//!
//! Processes are spawned with tokio (never blocking a worker) in their own process group,
//! which is killed whole on timeout and on shutdown ([`process`]). The environment is what
//! Claude Code gives command hooks, without secret-looking variables ([`env`](mod@env)).

pub mod env;
pub mod output;
pub mod process;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::event::HookEvent;
use crate::redact::Redactor;
use crate::rules::{Decision, RunCall, RunCommand, RunMode};
use crate::settings::RunSettings;
use crate::store::{RunRecord, Store};
use crate::swap::Swap;
use crate::verdict::{RunOutcome, Verdict};
use process::{Exit, Invocation, Status};

/// The longest delay between retries.
pub const MAX_BACKOFF: Duration = crate::settings::MAX_RETRY_BACKOFF;
/// Background runs waiting (for a slot or a retry) at most; more are dropped and recorded.
pub const MAX_PENDING: u64 = 1000;
/// Sync runs: between SIGTERM and SIGKILL to the process group on timeout.
pub const SYNC_KILL_GRACE: Duration = Duration::from_millis(200);
/// Background runs: between SIGTERM and SIGKILL to the process group on timeout.
pub const BACKGROUND_KILL_GRACE: Duration = Duration::from_secs(2);
/// Time kept back from hook-client's deadline for rendering, recording and the reply.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);
/// How long shutdown waits for background runs to be killed and recorded.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Counters for `hookctl stats` and `/metrics`.
#[derive(Debug, Default)]
pub struct RunStats {
    /// Attempts finished.
    pub runs: AtomicU64,
    /// Of those, failures.
    pub failures: AtomicU64,
    /// Of those, timeouts.
    pub timeouts: AtomicU64,
    /// Background runs waiting for a slot or a retry, or running.
    pub pending: AtomicU64,
}

/// Executes `run` actions; owns the background slots. It holds the handles it needs (the
/// store, to record runs; the live redactor, for their output), not the daemon's state.
pub struct Runner {
    store: Arc<Store>,
    redactor: Swap<Redactor>,
    slots: Arc<Semaphore>,
    size: AtomicUsize,
    backoff_ms: AtomicU64,
    tracker: TaskTracker,
    cancel: CancellationToken,
    base_env: Vec<(OsString, OsString)>,
    /// Counters.
    pub stats: RunStats,
}

impl Runner {
    /// A runner with `settings`, passing scripts (a filtered copy of) `base_env`, recording
    /// into `store` with output redacted by `redactor`.
    #[must_use]
    pub fn new(
        settings: &RunSettings,
        base_env: Vec<(OsString, OsString)>,
        store: Arc<Store>,
        redactor: Swap<Redactor>,
    ) -> Self {
        let r = Self {
            store,
            redactor,
            slots: Arc::new(Semaphore::new(0)),
            size: AtomicUsize::new(0),
            backoff_ms: AtomicU64::new(0),
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            base_env,
            stats: RunStats::default(),
        };
        r.configure(settings);
        r
    }

    /// Applies `[run]` settings (at start and on reload).
    pub fn configure(&self, settings: &RunSettings) {
        // Validated to at most `settings::MAX_MAX_BACKGROUND`, far below the semaphore's cap.
        let want = settings.max_background.clamp(1, Semaphore::MAX_PERMITS);
        let have = self.size.swap(want, Ordering::SeqCst);
        if want > have {
            self.slots.add_permits(want - have);
        } else if have > want {
            // Slots in use are given back and then forgotten as they come free.
            let forget = Arc::clone(&self.slots);
            let n = have - want;
            let forgotten = forget.forget_permits(n);
            if forgotten < n {
                let rest = n - forgotten;
                self.tracker.spawn(async move {
                    if let Ok(p) = forget
                        .acquire_many_owned(u32::try_from(rest).unwrap_or(u32::MAX))
                        .await
                    {
                        p.forget();
                    }
                });
            }
        }
        self.backoff_ms.store(
            u64::try_from(settings.retry_backoff.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Kills running background processes, records what was cut short, and waits (bounded)
    /// for it; new background runs are refused from here on.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("background runs still finishing at shutdown");
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = Duration::from_millis(self.backoff_ms.load(Ordering::Relaxed));
        base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(MAX_BACKOFF)
    }

    fn count(&self, outcome: RunOutcome) {
        self.stats.runs.fetch_add(1, Ordering::Relaxed);
        if outcome.is_failure() {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        if outcome == RunOutcome::TimedOut {
            self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the runs of one event need to know about it.
#[derive(Debug)]
pub struct EventContext {
    /// The event JSON, as Claude Code sent it (the scripts' stdin).
    pub payload: Arc<[u8]>,
    /// The event name.
    pub event: String,
    /// The tool, for tool events.
    pub tool: Option<String>,
    /// The session id.
    pub session_id: Option<String>,
    /// `CLAUDE_PROJECT_DIR` (else the cwd).
    pub project_dir: Option<String>,
    /// The event's cwd: the scripts' working directory.
    pub cwd: Option<String>,
    /// The event's `time_ms` (links runs to its row).
    pub time_ms: i64,
}

impl EventContext {
    fn invocation(
        &self,
        runner: &Runner,
        call: &RunCall,
        attempt: u32,
        timeout: Duration,
    ) -> Invocation {
        let vars = env::HookVars {
            project_dir: self.project_dir.as_deref(),
            session_id: self.session_id.as_deref(),
            rule: &call.rule,
            event: &self.event,
            attempt,
        };
        let command = match &call.spec.command {
            RunCommand::Shell(s) => RunCommand::Shell(s.clone()),
            RunCommand::Argv(v) => {
                RunCommand::Argv(v.iter().map(|a| env::expand(a, &vars)).collect())
            }
        };
        let mut stdin = self.payload.to_vec();
        if stdin.last() != Some(&b'\n') {
            stdin.push(b'\n');
        }
        Invocation {
            command,
            cwd: self
                .cwd
                .as_deref()
                .or(self.project_dir.as_deref())
                .map(PathBuf::from),
            env: env::build(&call.spec, &runner.base_env, &vars),
            stdin: stdin.into(),
            timeout,
            kill_grace: if call.spec.mode == RunMode::Sync {
                SYNC_KILL_GRACE
            } else {
                BACKGROUND_KILL_GRACE
            },
        }
    }

    /// The record of one attempt, redacted.
    #[allow(clippy::too_many_arguments)] // one value per column group
    fn record(
        &self,
        runner: &Runner,
        call: &RunCall,
        attempt: u32,
        started_ms: i64,
        exit: Option<&Exit>,
        outcome: RunOutcome,
        effect: Option<Verdict>,
        error: Option<String>,
    ) -> RunRecord {
        let redactor = runner.redactor.get();
        let red = |s: String| -> String {
            if redactor.enabled() {
                redactor.redact_text(&s).0.into_owned()
            } else {
                s
            }
        };
        let tail = |c: &process::Capture| (c.total > 0).then(|| red(c.tail_text()));
        let (exit_code, signal) = match exit.map(|e| &e.status) {
            Some(Status::Exited(c)) => (Some(*c), None),
            Some(Status::Signaled(s)) => (None, Some(*s)),
            Some(Status::TimedOut | Status::Cancelled) => (None, Some(libc::SIGTERM)),
            _ => (None, None),
        };
        RunRecord {
            time_ms: started_ms,
            session_id: self.session_id.clone(),
            event: self.event.clone(),
            event_time_ms: self.time_ms,
            tool: self.tool.clone(),
            rule: call.rule.clone(),
            command: red(call.spec.command.display()),
            mode: call.spec.mode,
            attempt,
            duration_ms: exit.map_or(0, |e| {
                i64::try_from(e.duration.as_millis()).unwrap_or(i64::MAX)
            }),
            exit_code,
            signal,
            outcome,
            effect,
            error: error.map(red),
            stdout_tail: exit.and_then(|e| tail(&e.stdout)),
            stderr_tail: exit.and_then(|e| tail(&e.stderr)),
            stdout_bytes: exit.map_or(0, |e| e.stdout.total),
            stderr_bytes: exit.map_or(0, |e| e.stderr.total),
        }
    }
}

impl Runner {
    /// Executes the `run` calls of `decision` for `event`: starts the background ones, runs
    /// the sync ones in priority order and merges each result into `decision` by the verdict
    /// precedence, and records every attempt. `received` is when the request arrived
    /// (hook-client's deadline, `deadline_ms`, counts from about then; 0: none, as over HTTP).
    /// The caller renders and records the event afterwards, once, from the final decision.
    pub async fn execute(
        self: &Arc<Self>,
        event: &HookEvent,
        decision: &mut Decision,
        context: EventContext,
        received: Instant,
        deadline_ms: u32,
    ) {
        let context = Arc::new(context);
        let mut calls = std::mem::take(&mut decision.runs);
        // Higher priority first; the sort is stable, so ties keep rule order.
        calls.sort_by_key(|c| std::cmp::Reverse(c.spec.priority));
        let (sync, background): (Vec<RunCall>, Vec<RunCall>) = calls
            .into_iter()
            .partition(|c| c.spec.mode == RunMode::Sync);
        for call in background {
            self.enqueue(call, Arc::clone(&context));
        }
        if sync.is_empty() {
            return;
        }
        let end = (deadline_ms > 0)
            .then(|| received + Duration::from_millis(u64::from(deadline_ms)))
            .map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(received));
        let mut records = Vec::with_capacity(sync.len());
        for call in &sync {
            let mut timeout = Duration::from_millis(call.spec.timeout_ms);
            let mut cut = false;
            if let Some(end) = end {
                let left = end
                    .saturating_duration_since(Instant::now())
                    .saturating_sub(SYNC_KILL_GRACE);
                if left < timeout {
                    timeout = left;
                    cut = true;
                }
            }
            let started_ms = crate::clock::now_ms();
            let exit = if timeout.is_zero() {
                Exit {
                    status: Status::TimedOut,
                    duration: Duration::ZERO,
                    stdout: process::Capture::default(),
                    stderr: process::Capture::default(),
                }
            } else {
                let inv = context.invocation(self, call, 1, timeout);
                process::run(&inv, &self.cancel).await
            };
            let (outcome, mut contribution) = output::interpret(event, call, &exit);
            if cut && outcome == RunOutcome::TimedOut {
                let note = format!(
                    "stopped at hook-client's deadline ({deadline_ms} ms) before the rule's {} ms timeout; raise it with `hookctl install --deadline`",
                    call.spec.timeout_ms
                );
                contribution.error = Some(match contribution.error {
                    Some(e) => format!("{e}; {note}"),
                    None => note,
                });
            }
            if let Some(e) = &contribution.error {
                tracing::warn!(rule = %call.rule, event = %event.name, error = %e, "run failed");
            }
            self.count(outcome);
            records.push(context.record(
                self,
                call,
                1,
                started_ms,
                Some(&exit),
                outcome,
                Some(contribution.effect),
                contribution.error.take(),
            ));
            decision.merge(contribution.decision);
        }
        // Sent before the event itself: the writer commits them first.
        self.store.record_runs(records);
    }

    /// Queues a background run; it executes when a slot is free, and is retried on failure.
    fn enqueue(self: &Arc<Self>, call: RunCall, context: Arc<EventContext>) {
        let runner = self;
        let pending = runner.stats.pending.fetch_add(1, Ordering::Relaxed);
        if pending >= MAX_PENDING || runner.tracker.is_closed() {
            runner.stats.pending.fetch_sub(1, Ordering::Relaxed);
            let why = if runner.tracker.is_closed() {
                "hookd is shutting down".to_string()
            } else {
                format!("{MAX_PENDING} background runs already waiting")
            };
            tracing::warn!(rule = %call.rule, reason = %why, "background run dropped");
            runner.count(RunOutcome::Dropped);
            let rec = context.record(
                runner,
                &call,
                1,
                crate::clock::now_ms(),
                None,
                RunOutcome::Dropped,
                None,
                Some(format!("dropped: {why}")),
            );
            runner.store.record_runs(vec![rec]);
            return;
        }
        let me = Arc::clone(self);
        runner.tracker.spawn(async move {
            me.background(&call, &context).await;
            me.stats.pending.fetch_sub(1, Ordering::Relaxed);
        });
    }

    async fn background(&self, call: &RunCall, context: &EventContext) {
        let runner = self;
        let mut attempt = 1u32;
        loop {
            let permit = tokio::select! {
                p = Arc::clone(&runner.slots).acquire_owned() => p.ok(),
                () = runner.cancel.cancelled() => None,
            };
            let Some(permit) = permit else {
                let rec = context.record(
                    runner,
                    call,
                    attempt,
                    crate::clock::now_ms(),
                    None,
                    RunOutcome::Cancelled,
                    None,
                    Some("cancelled before it started: hookd is shutting down".into()),
                );
                runner.store.record_runs(vec![rec]);
                return;
            };
            let started_ms = crate::clock::now_ms();
            let inv = context.invocation(
                runner,
                call,
                attempt,
                Duration::from_millis(call.spec.timeout_ms),
            );
            let exit = process::run(&inv, &runner.cancel).await;
            drop(permit);
            let (mut outcome, mut error) = output::outcome(&exit);
            if outcome == RunOutcome::Blocked {
                outcome = RunOutcome::Failed;
                error = Some("exited with status 2 (a background run cannot block)".into());
            }
            let retry = outcome.is_failure()
                && attempt <= call.spec.retries
                && !runner.cancel.is_cancelled();
            if let Some(e) = &error {
                tracing::warn!(rule = %call.rule, attempt, retry, error = %e, "background run failed");
            }
            runner.count(outcome);
            let error = match (error, retry) {
                (Some(e), true) => Some(format!(
                    "{e}; retrying in {} ms",
                    runner.backoff(attempt).as_millis()
                )),
                (e, _) => e,
            };
            let rec = context.record(
                runner,
                call,
                attempt,
                started_ms,
                Some(&exit),
                outcome,
                None,
                error,
            );
            runner.store.record_runs(vec![rec]);
            if !retry {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(runner.backoff(attempt)) => {}
                () = runner.cancel.cancelled() => return,
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests;
