//! hookd: the per-user daemon that answers Claude Code hook events.
//!
//! Module map:
//! - [`server`]: the Unix socket listener and one task per connection.
//! - [`handler`]: request → response; the only module touching every subsystem.
//! - [`rules`]: parse, compile, evaluate (pure). [`events`]: what each event accepts.
//! - [`event`]: the parsed hook event. [`render`]: decision → Claude Code output (pure).
//! - [`session`]: per-session state. [`store`]: SQLite group commit and queries.
//! - [`ingest`]: spooled events → store records.
//! - [`run`]: `run` actions: the user's hook scripts, executed in process groups, recorded.
//! - [`lifecycle`]: directories, pidfile, socket file. [`config`]: paths.
//! - [`lastgood`]: the last rule set that loaded without errors, saved and used while the
//!   files fail. [`alloc`]: giving memory back after large evictions.

pub mod alloc;
pub mod config;
pub mod dedup;
pub mod event;
pub mod events;
pub mod handler;
pub mod ingest;
pub mod intern;
pub mod lastgood;
pub mod lifecycle;
pub mod memo;
pub mod metrics;
pub mod project;
pub mod redact;
pub mod render;
pub mod rules;
pub mod run;
pub mod server;
pub mod session;
pub mod shell;
pub mod store;
pub mod watcher;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use config::Config;

/// How long an autostarted hookd waits for the pidfile lock of a hookd that is exiting.
pub const PIDFILE_WAIT: Duration = Duration::from_secs(2);

/// How long in-flight requests may take to finish after a shutdown request.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Formats ms since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
#[must_use]
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Now, in ms since the epoch (0 if the clock is before 1970).
#[must_use]
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// Idle sessions are evicted from memory after this long unless `[session] idle_ttl` says.
pub const DEFAULT_SESSION_TTL_MS: i64 = 30 * 60 * 1000;

/// How often idle sessions are swept from memory: a quarter of the idle TTL, between 1 s and
/// 60 s.
#[must_use]
pub fn sweep_interval(ttl_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ttl_ms / 4).unwrap_or(0).clamp(1_000, 60_000))
}

/// Evicting at least this many sessions at once asks the allocator to give memory back.
pub const RELEASE_AFTER_EVICTING: usize = 1_000;

/// Asks every runtime worker to give freed memory back to the system (see [`alloc`]).
async fn release_memory() {
    alloc::request_release();
    // Wake the parked workers: each collects when it parks again. Tasks spawned from outside
    // the workers go to the shared queue, and each one wakes a parked worker (spawned from a
    // worker, they would queue on that worker and wake none).
    let handle = tokio::runtime::Handle::current();
    let workers = handle.metrics().num_workers();
    let _ = tokio::task::spawn_blocking(move || {
        for _ in 0..workers {
            handle.spawn(tokio::task::yield_now());
        }
    })
    .await;
}

/// How often the spool is checked for events to ingest while running.
pub const SPOOL_POLL: Duration = Duration::from_secs(1);

/// Everything the connection tasks share.
pub struct State {
    /// Paths and start-up options.
    pub config: Config,
    /// When the daemon started.
    pub started: Instant,
    /// The live ruleset, swapped whole on reload.
    pub rules: RwLock<Arc<rules::Ruleset>>,
    /// Errors from the last rules load.
    pub rule_errors: Mutex<Vec<String>>,
    /// Set while the rule files fail to load: what is in force instead ([`lastgood`]). Read
    /// through [`State::fallback`], written through [`State::set_fallback`].
    fallback: RwLock<Option<Arc<lastgood::Fallback>>>,
    /// Whether `fallback` is set: every event reads this flag, not the lock.
    has_fallback: std::sync::atomic::AtomicBool,
    /// When the rules in force were loaded without errors (ms since the epoch; 0: never).
    pub good_since_ms: std::sync::atomic::AtomicI64,
    /// Per-session state.
    pub sessions: Mutex<session::SessionTable>,
    /// The event store.
    pub store: store::Store,
    /// Project rule files (`.claude/hookd.toml`) and their trust.
    pub projects: project::Projects,
    /// The user's home directory (for `~` in paths).
    pub home: Option<String>,
    /// `once = "project-day"` memory: (rule, project) → (UTC day, matched that day).
    pub once: Mutex<HashMap<(String, String), (i64, bool)>>,
    /// Idle sessions are dropped from memory after this long (ms); rebuilt on demand.
    pub session_ttl_ms: i64,
    /// Removes secrets and personal data before anything is written (swapped on reload).
    pub redactor: RwLock<Arc<redact::Redactor>>,
    /// New events, for `hookctl tail -f` (only built when someone listens).
    pub live: tokio::sync::broadcast::Sender<Arc<hook_protocol::EventRow>>,
    /// Duplicate deliveries of one event, answered once.
    pub dedup: dedup::Dedup,
    /// Counters, latencies, rates.
    pub metrics: Arc<metrics::Metrics>,
    /// Executes `run` actions (the user's hook scripts).
    pub runner: run::Runner,
    /// Hook events answered since start.
    pub events_since_start: AtomicU64,
    /// Cancelled to shut down.
    pub shutdown: CancellationToken,
}

/// The retention policy from `[store]`; bad values are reported and the defaults used.
pub fn retention(
    s: &rules::parse_settings::StoreSettings,
    errors: &mut Vec<String>,
) -> store::Retention {
    let mut r = store::Retention::default();
    if let Some(age) = &s.max_age {
        match rules::state::parse_duration_ms(age) {
            Some(ms) => r.max_age_ms = ms,
            None => errors.push(format!(
                "hookd.toml: [store] max_age {age:?}: use e.g. 30d, 12h (keeping 30d)"
            )),
        }
    }
    if let Some(size) = &s.max_size {
        match rules::parse_settings::parse_size(size) {
            Some(b) => r.max_bytes = b,
            None => errors.push(format!(
                "hookd.toml: [store] max_size {size:?}: use e.g. 1GiB, 500MB (keeping 1GiB)"
            )),
        }
    }
    r
}

/// The emergency journal's reserve from `[store] emergency_journal` (bytes); a bad value is
/// reported and the default used.
pub fn journal_reserve(s: &rules::parse_settings::StoreSettings, errors: &mut Vec<String>) -> u64 {
    let Some(size) = &s.emergency_journal else {
        return store::journal::DEFAULT_RESERVE;
    };
    match rules::parse_settings::parse_size(size) {
        Some(b) if b >= store::journal::MIN_RESERVE => b,
        _ => {
            errors.push(format!(
                "hookd.toml: [store] emergency_journal {size:?}: use a size of at least 64KiB, e.g. 4MiB, 16MiB (keeping 4MiB)"
            ));
            store::journal::DEFAULT_RESERVE
        }
    }
}

/// Compiles the redactor; a bad `[redact]` setting is reported and the defaults (redaction
/// on) are used, so nothing is ever written unredacted because of a typo.
pub fn build_redactor(cfg: &redact::RedactConfig, errors: &mut Vec<String>) -> redact::Redactor {
    match redact::Redactor::new(cfg) {
        Ok(r) => r,
        Err(e) => {
            errors.push(format!(
                "hookd.toml: [redact]: {e} (using the default redaction)"
            ));
            redact::Redactor::new(&redact::RedactConfig::default())
                .unwrap_or_else(|_| unreachable!("the default redaction config compiles"))
        }
    }
}

impl rules::OnceMemory for State {
    fn matched_on(&self, rule: &str, project: &str, day: i64) -> bool {
        let key = (rule.to_string(), project.to_string());
        if let Some((d, m)) = self.once.lock().ok().and_then(|o| o.get(&key).copied())
            && d == day
        {
            return m;
        }
        // First question today for this rule and project: ask the store (survives restarts).
        // A blocking query, asked on an async worker: `block_in_place` tells the runtime so
        // (the store's blocking policy, store::Store).
        let ask = || {
            self.store
                .rule_matched_since(rule, project, day * 86_400_000)
                .unwrap_or(false)
        };
        let matched = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(ask),
            _ => ask(),
        };
        if let Ok(mut o) = self.once.lock() {
            o.insert(key, (day, matched));
        }
        matched
    }
}

impl State {
    /// The live redactor.
    #[must_use]
    pub fn redactor(&self) -> Arc<redact::Redactor> {
        Arc::clone(
            &self
                .redactor
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Notes that `rules` matched for `project` now (for `once = "project-day"`).
    pub fn remember_once(&self, rules: &[String], project: &str, now_ms: i64) {
        let day = rules::state::day_of(now_ms);
        if let Ok(mut o) = self.once.lock() {
            for r in rules {
                if let Some(slot) = o.get_mut(&(r.clone(), project.to_string())) {
                    *slot = (day, true);
                }
            }
        }
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
        // A poisoned lock still holds a valid Arc: a panic cannot leave it half-written.
        Arc::clone(
            &self
                .rules
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// Loads the rule files at start. When they fail, the last good set saved by an earlier run
/// is used whole ([`lastgood`]); with none, the rules that did load apply and guard events get
/// the fail mode. Returns the load (its `errors` are the current files' errors either way), the
/// fallback in force, and when the rules in force were loaded without errors (0: never).
fn load_at_start(config: &Config) -> (rules::LoadReport, Option<lastgood::Fallback>, i64) {
    let loaded = rules::load(&config.config_dir);
    if loaded.errors.is_empty() {
        return (loaded, None, now_ms());
    }
    for e in &loaded.errors {
        tracing::error!(error = %e, "rules load error");
    }
    let saved = match lastgood::load(&config.state_dir) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the last good rules");
            None
        }
    };
    if let Some(saved) = saved {
        let good = rules::load_sources(saved.to_sources());
        if good.errors.is_empty() {
            tracing::error!(
                saved = %utc(saved.saved_ms),
                files = saved.sources.len(),
                "the rule files have errors: using the last good rules (fix the files; `hookctl status` lists the errors)"
            );
            let fallback = lastgood::Fallback {
                kind: lastgood::FallbackKind::LastGood {
                    saved_ms: Some(saved.saved_ms),
                },
                errors: loaded.errors.clone(),
            };
            let report = rules::LoadReport {
                errors: loaded.errors,
                ..good
            };
            return (report, Some(fallback), saved.saved_ms);
        }
        for e in &good.errors {
            tracing::error!(error = %e, "the last good rules no longer load");
        }
    }
    tracing::error!(
        "the rule files have errors and no good rules were ever saved: guard events get the fail mode until they are fixed"
    );
    let fallback = lastgood::Fallback {
        kind: lastgood::FallbackKind::NoGoodSet,
        errors: loaded.errors.clone(),
    };
    (loaded, Some(fallback), 0)
}

/// Saves a load without errors as the last good rules; a failure is logged, never fatal.
pub fn save_last_good(state_dir: &std::path::Path, files: &[rules::Source]) {
    match lastgood::save(state_dir, files, now_ms()) {
        Ok(true) => tracing::debug!(files = files.len(), "saved as the last good rules"),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            error = %e,
            dir = %state_dir.display(),
            "cannot save the last good rules"
        ),
    }
}

/// Runs the daemon until `shutdown` is cancelled; `reload` triggers a rules reload.
///
/// # Errors
///
/// Start-up failures (another daemon running, unsafe directories, store cannot open).
/// `inherited` is a listening socket passed by systemd or launchd
/// ([`lifecycle::inherited_listener`], taken before the runtime started).
pub async fn run(
    config: Config,
    inherited: Option<std::os::unix::net::UnixListener>,
    shutdown: CancellationToken,
    reload: Arc<Notify>,
) -> anyhow::Result<()> {
    let socket_dir = config
        .socket
        .parent()
        .context("socket path has no directory")?
        .to_path_buf();
    lifecycle::private_dir(&config.state_dir, "state directory", true)?;
    // An autostarted hookd may be taking over from one that is still exiting (hand-over).
    let lock_wait = if config.autostarted {
        PIDFILE_WAIT
    } else {
        Duration::ZERO
    };
    let _pid = lifecycle::lock_pidfile(&config.pid_path(), lock_wait)?;
    if inherited.is_none() {
        lifecycle::private_dir(&socket_dir, "socket directory", config.owns_socket_dir)?;
        lifecycle::clear_stale_socket(&config.socket)?;
    }
    // Created (private) so it can be watched for rule files from the start.
    if !config.config_dir.exists() {
        lifecycle::private_dir(&config.config_dir, "config directory", true)?;
    }
    if let Some(dir) = config.db.parent().filter(|d| !d.as_os_str().is_empty()) {
        lifecycle::private_dir(dir, "store directory", true)?;
    }

    let (loaded, fallback, good_since_ms) = load_at_start(&config);
    let sync_full = loaded.settings.store.synchronous.as_deref() == Some("full");
    let session_ttl_ms = loaded
        .settings
        .session
        .idle_ttl
        .as_deref()
        .and_then(rules::state::parse_duration_ms)
        .unwrap_or(DEFAULT_SESSION_TTL_MS);
    let max_live = loaded
        .settings
        .session
        .max_live
        .unwrap_or(session::DEFAULT_MAX_LIVE);
    let mut load_errors = loaded.errors;
    let redactor = build_redactor(&loaded.settings.redact, &mut load_errors);
    let metrics = Arc::new(metrics::Metrics::new());
    let retention = retention(&loaded.settings.store, &mut load_errors);
    let runner = run::Runner::new(
        &loaded.settings.run,
        std::env::vars_os().collect(),
        &mut load_errors,
    );
    let reserve = journal_reserve(&loaded.settings.store, &mut load_errors);
    let store = store::Store::open_with(
        &config.db,
        &config.journal_path(),
        reserve,
        sync_full,
        Some(Arc::clone(&metrics)),
        retention,
    )?;
    tracing::info!(
        rules = loaded.ruleset.rules.len(),
        errors = load_errors.len(),
        store = %config.db.display(),
        "rules loaded"
    );
    if load_errors.is_empty() && fallback.is_none() {
        save_last_good(&config.state_dir, &loaded.files);
    }
    let state = Arc::new(State {
        started: Instant::now(),
        rules: RwLock::new(Arc::new(loaded.ruleset)),
        rule_errors: Mutex::new(load_errors),
        has_fallback: std::sync::atomic::AtomicBool::new(fallback.is_some()),
        fallback: RwLock::new(fallback.map(Arc::new)),
        good_since_ms: std::sync::atomic::AtomicI64::new(good_since_ms),
        sessions: Mutex::new(session::SessionTable::new(max_live)),
        store,
        projects: project::Projects::new(project::trust_path(&config.state_dir)),
        home: std::env::var("HOME").ok().filter(|h| !h.is_empty()),
        once: Mutex::new(HashMap::new()),
        session_ttl_ms,
        redactor: RwLock::new(Arc::new(redactor)),
        live: tokio::sync::broadcast::channel(4096).0,
        dedup: dedup::Dedup::default(),
        metrics,
        runner,
        events_since_start: AtomicU64::new(0),
        shutdown: shutdown.clone(),
        config,
    });
    handler::ingest_spool(&state).await;
    watcher::spawn(Arc::clone(&state));

    // A socket passed by systemd/launchd is theirs: hookd neither creates nor removes it.
    let (listener, mut socket_id) = match inherited {
        Some(l) => {
            tracing::info!("using the socket passed by the service manager");
            (tokio::net::UnixListener::from_std(l)?, None)
        }
        None => {
            let l = server::bind(&state.config.socket)?;
            (l, Some(lifecycle::secure_socket(&state.config.socket)?))
        }
    };
    // The opt-in HTTP listener (`[http]` in hookd.toml); a bad setting stops the start.
    let mut limit_errors = Vec::new();
    let limits = server::Limits::from_settings(&loaded.settings.server, &mut limit_errors);
    if !limit_errors.is_empty() {
        for e in &limit_errors {
            tracing::error!(error = %e, "bad [server] setting");
        }
        if let Ok(mut errs) = state.rule_errors.lock() {
            errs.extend(limit_errors);
        }
    }
    let http = match server::http::start(&state, &loaded.settings).await {
        Ok(h) => h,
        Err(e) => {
            if let Some(id) = socket_id {
                lifecycle::remove_socket(&state.config.socket, id);
            }
            return Err(e);
        }
    };
    tracing::info!(socket = %state.config.socket.display(), pid = std::process::id(), "hookd listening");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);

    let (rebind_tx, rebind_rx) = tokio::sync::mpsc::channel(1);
    let socket_id = Arc::new(Mutex::new(socket_id.take()));
    let background = {
        let state = Arc::clone(&state);
        let socket_id = Arc::clone(&socket_id);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SPOOL_POLL);
            let mut last_sweep = std::time::Instant::now();
            let sweep_every = sweep_interval(state.session_ttl_ms);
            let mut socket_watch = SocketWatch::default();
            tick.tick().await;
            loop {
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    () = reload.notified() => { handler::reload(&state).await; }
                    _ = tick.tick() => {
                        socket_watch.check(&state.config, &socket_id, &rebind_tx);
                        if hook_protocol::spool::backlog_bytes(&state.config.spool_path()) > 0 {
                            handler::ingest_spool(&state).await;
                        }
                        // Monotonic: a wall-clock jump neither skips nor repeats sweeps.
                        if last_sweep.elapsed() >= sweep_every {
                            last_sweep = std::time::Instant::now();
                            let evicted = state
                                .sessions
                                .lock()
                                .map_or(0, |mut t| t.evict_idle(now_ms(), state.session_ttl_ms));
                            if evicted > 0 {
                                tracing::debug!(evicted, "idle sessions evicted from memory");
                            }
                            if evicted >= RELEASE_AFTER_EVICTING {
                                release_memory().await;
                            }
                        }
                    }
                }
            }
        })
    };

    server::serve(Arc::clone(&state), listener, limits, rebind_rx).await;
    // Both listeners drain on the same cancellation; the HTTP one is waited for here.
    if let Some(h) = http {
        h.stopped().await;
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    background.abort();
    // Background runs are killed and recorded before the store closes.
    state.runner.shutdown().await;
    tracing::info!("draining done; flushing store");
    let st = Arc::clone(&state);
    tokio::task::spawn_blocking(move || st.store.close())
        .await
        .ok();
    let last_id = *socket_id
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(id) = last_id {
        lifecycle::remove_socket(&state.config.socket, id);
    }
    tracing::info!("hookd stopped");
    Ok(())
}

/// Watches the socket file hookd bound: deleted under a running hookd, it is bound again (so
/// clients reach hookd within a second instead of autostarting a daemon that cannot start);
/// replaced by another file, it is left alone and the problem logged once.
#[derive(Default)]
struct SocketWatch {
    replaced_logged: bool,
}

impl SocketWatch {
    fn check(
        &mut self,
        config: &Config,
        id: &Mutex<Option<lifecycle::SocketId>>,
        rebind: &tokio::sync::mpsc::Sender<tokio::net::UnixListener>,
    ) {
        let path = config.socket.as_path();
        let mut current = id.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A socket passed by the service manager is not ours to watch.
        let Some(ours) = *current else { return };
        match lifecycle::socket_state(path, ours) {
            lifecycle::SocketState::Ours => self.replaced_logged = false,
            lifecycle::SocketState::Replaced => {
                if !self.replaced_logged {
                    self.replaced_logged = true;
                    tracing::error!(
                        socket = %path.display(),
                        "the socket file was replaced by another file; clients cannot reach \
                         this hookd (restart it, or remove that file so hookd binds again)"
                    );
                }
            }
            lifecycle::SocketState::Missing => {
                // The whole directory may be gone too: re-create it the way start-up does
                // (refusing a symlink or another user's directory put there meanwhile).
                let dir_ok = match path.parent() {
                    Some(dir) if !dir.exists() && config.owns_socket_dir => {
                        lifecycle::private_dir(dir, "socket directory", true)
                            .map_err(anyhow::Error::from)
                    }
                    _ => Ok(()),
                };
                let bound = dir_ok.and_then(|()| server::bind(path)).and_then(|l| {
                    let id = lifecycle::secure_socket(path)?;
                    Ok((l, id))
                });
                match bound {
                    Ok((listener, new_id)) => match rebind.try_send(listener) {
                        Ok(()) => {
                            *current = Some(new_id);
                            tracing::warn!(
                                socket = %path.display(),
                                "the socket file was deleted; bound it again"
                            );
                        }
                        Err(_) => lifecycle::remove_socket(path, new_id),
                    },
                    Err(e) => tracing::error!(
                        socket = %path.display(),
                        error = %format!("{e:#}"),
                        "the socket file was deleted and cannot be bound again"
                    ),
                }
            }
        }
    }
}
