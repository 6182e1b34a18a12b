//! What the connection tasks share: [`State`], behind one `Arc`.
//!
//! Locks here are std mutexes and read-write locks held for short sections that never cross an
//! `.await` (a poisoned lock is taken over: every section leaves its data whole). Values that
//! are swapped whole on reload (the ruleset, the redactor) are read as an `Arc` clone.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
pub use crate::swap::Swap;
use crate::{dedup, lastgood, metrics, project, redact, rules, run, session, settings, store};

/// Everything the connection tasks share.
pub struct State {
    /// Paths and start-up options.
    pub config: Config,
    /// When the daemon started.
    pub started: Instant,
    /// The live ruleset, swapped whole on reload.
    pub rules: Swap<rules::Ruleset>,
    /// Errors from the last rules load.
    pub rule_errors: Mutex<Vec<String>>,
    /// Set while the rule files fail to load: what is in force instead ([`lastgood`]). Read
    /// through [`State::fallback`], written through [`State::set_fallback`].
    pub(crate) fallback: RwLock<Option<Arc<lastgood::Fallback>>>,
    /// Whether `fallback` is set: every event reads this flag, not the lock.
    pub(crate) has_fallback: std::sync::atomic::AtomicBool,
    /// When the rules in force were loaded without errors (ms since the epoch; 0: never).
    pub good_since_ms: std::sync::atomic::AtomicI64,
    /// Per-session state.
    pub sessions: Mutex<session::SessionTable>,
    /// The event store.
    pub store: Arc<store::Store>,
    /// Project rule files (`.claude/hookd.toml`) and their trust.
    pub projects: project::Projects,
    /// The user's home directory (for `~` in paths).
    pub home: Option<String>,
    /// `once = "project-day"` memory.
    pub once: OnceDays,
    /// Allow-once codes waiting for approval and live grants ([`crate::allow`]).
    pub allowances: crate::allow::Allowances,
    /// Idle sessions are dropped from memory after this long (ms); rebuilt on demand.
    pub session_ttl_ms: i64,
    /// Removes secrets and personal data before anything is written (swapped on reload).
    pub redactor: Swap<redact::Redactor>,
    /// The settings in force (hookd.toml's, or the last good set's): swapped on a reload that
    /// loads without errors, which never changes those read only at start
    /// ([`settings::Settings::start_only`]).
    pub settings: Swap<settings::Settings>,
    /// Held for a whole reload: the file watcher, SIGHUP and `hookctl reload` can ask at once,
    /// and a reload that read older files must not finish last and swap them back in.
    pub reloading: tokio::sync::Mutex<()>,
    /// New events, for `hookctl tail -f` (only built when someone listens).
    pub live: tokio::sync::broadcast::Sender<Arc<hook_protocol::EventRow>>,
    /// Duplicate deliveries of one event, answered once.
    pub dedup: dedup::Dedup,
    /// Counters, latencies, rates.
    pub metrics: Arc<metrics::Metrics>,
    /// Executes `run` actions (the user's hook scripts).
    pub runner: Arc<run::Runner>,
    /// Hook events answered since start.
    pub events_since_start: AtomicU64,
    /// Cancelled to shut down.
    pub shutdown: CancellationToken,
    /// The fleet sinks and their forwarder (issue 20).
    pub fleet: Arc<crate::fleet::Fleet>,
}

/// `once = "project-day"` memory, all in memory: (rule, project) → the last UTC day the rule
/// matched for the project. Filled from the store off the async workers ([`OnceDays::load`]
/// at start and after each reload) and kept up to date as rules match, so evaluating a rule
/// never waits on the store.
#[derive(Default)]
pub struct OnceDays(Mutex<HashMap<RuleProject, i64>>);

/// (rule, project).
type RuleProject = (Box<str>, Box<str>);

impl OnceDays {
    /// Fills the memory for today from the store: which projects each `once = "project-day"`
    /// rule of `rulesets` matched today. Blocking (SQLite): call it off the async workers.
    pub fn load(&self, store: &store::Store, rulesets: &[&rules::Ruleset], now_ms: i64) {
        let day = rules::state::day_of(now_ms);
        let names = rulesets
            .iter()
            .flat_map(|rs| rs.rules.iter())
            .filter(|r| r.session.once == Some(rules::Once::ProjectDay))
            .map(|r| r.name.as_str());
        let mut found = Vec::new();
        for rule in names {
            match store.projects_matched_since(rule, day * 86_400_000) {
                Ok(projects) => found.extend(projects.into_iter().map(|p| (rule.into(), p.into()))),
                Err(e) => tracing::warn!(rule, error = %e, "cannot load once-a-day matches"),
            }
        }
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for key in found {
            let slot = map.entry(key).or_insert(day);
            *slot = (*slot).max(day);
        }
    }

    /// Notes that `rules` matched for `project` at `now_ms`.
    pub fn remember(&self, rules: &[&str], project: &str, now_ms: i64) {
        if rules.is_empty() {
            return;
        }
        let day = rules::state::day_of(now_ms);
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Only rules asked about (a `once` rule evaluates first) need remembering, and a
        // day's entries of other rules would only grow the map.
        for r in rules {
            if let Some(slot) = map.get_mut(&((*r).into(), project.into())) {
                *slot = day;
            }
        }
    }
}

impl rules::OnceMemory for OnceDays {
    fn matched_on(&self, rule: &str, project: &str, day: i64) -> bool {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key: RuleProject = (rule.into(), project.into());
        match map.get(&key) {
            Some(d) => *d == day,
            None => {
                // Asked about: from now on its matches for this project are remembered
                // ([`OnceDays::remember`]); a day before any day counts as "not matched".
                map.insert(key, i64::MIN);
                false
            }
        }
    }
}

impl State {
    /// The live redactor.
    #[must_use]
    pub fn redactor(&self) -> Arc<redact::Redactor> {
        self.redactor.get()
    }

    /// What is in force while the rule files fail to load, if they do.
    #[must_use]
    pub fn fallback(&self) -> Option<Arc<lastgood::Fallback>> {
        if !self.has_fallback.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        self.fallback
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets (or clears) what is in force while the rule files fail to load.
    pub fn set_fallback(&self, fallback: Option<lastgood::Fallback>) {
        let mut slot = self
            .fallback
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.has_fallback
            .store(fallback.is_some(), std::sync::atomic::Ordering::Release);
        *slot = fallback.map(Arc::new);
    }

    /// The live ruleset.
    #[must_use]
    pub fn ruleset(&self) -> Arc<rules::Ruleset> {
        self.rules.get()
    }
}

/// Fills the `once = "project-day"` memory for today from the store, off the async workers
/// (at start, and after each reload: new rules may ask).
pub async fn load_once_days(state: &Arc<State>) {
    let st = Arc::clone(state);
    let _ = tokio::task::spawn_blocking(move || {
        let rules = st.ruleset();
        st.once.load(&st.store, &[&rules], crate::clock::now_ms());
    })
    .await;
}
