//! The daemon's boot and life: directories and the pidfile, the rules at start, the store, the
//! listeners, the background chores, and the orderly shutdown.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::{now_ms, utc};
use crate::config::Config;
use crate::state::{OnceDays, State, Swap};
use crate::{
    alloc, dedup, handler, lastgood, lifecycle, metrics, project, rules, server, session, settings,
    store, watcher,
};

/// How long an autostarted hookd waits for the pidfile lock of a hookd that is exiting.
pub const PIDFILE_WAIT: Duration = Duration::from_secs(2);

/// How often idle sessions are swept from memory: a quarter of the idle TTL
/// (`[session] idle_ttl`), between 1 s and 60 s.
#[must_use]
pub fn sweep_interval(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
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

/// The store's retention policy from `[store]`.
#[must_use]
pub fn retention(s: &settings::StoreSettings) -> store::Retention {
    store::Retention {
        max_age_ms: rules::state::duration_ms(s.max_age).unwrap_or(i64::MAX),
        max_bytes: s.max_size,
    }
}

/// Loads the rule files at start. When they fail, the last good set saved by an earlier run
/// is used whole ([`lastgood`]); with none, the rules that did load apply and guard events get
/// the fail mode. Returns the load (its `errors` are the current files' errors either way), the
/// fallback in force, and when the rules in force were loaded without errors (0: never).
fn load_at_start(config: &Config) -> (rules::LoadReport, Option<lastgood::Fallback>, i64) {
    let loaded = rules::load(&config.config_dir);
    // Compiling freed several times what the rules keep, on this thread.
    crate::alloc::collect_here();
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
    // The settings in force: hookd.toml's when the files load, else the last good set's (or,
    // with none, those that validated); a bad setting is a load error like a bad rule.
    let settings = loaded.settings;
    tracing::info!(
        settings = %settings
            .start_only()
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        "settings read at start"
    );
    let load_errors = loaded.errors;
    let metrics = Arc::new(metrics::Metrics::new());
    let store = Arc::new(store::Store::open_with(
        &config.db,
        &config.journal_path(),
        settings.store.emergency_journal,
        settings.store.synchronous == settings::Synchronous::Full,
        Some(Arc::clone(&metrics)),
        retention(&settings.store),
    )?);
    let redactor = Swap::from_arc(Arc::clone(&settings.redact.redactor));
    let runner = Arc::new(crate::run::Runner::new(
        &settings.run,
        std::env::vars_os().collect(),
        Arc::clone(&store),
        redactor.clone(),
    ));
    tracing::info!(
        rules = loaded.ruleset.rules.len(),
        errors = load_errors.len(),
        store = %config.db.display(),
        "rules loaded"
    );
    if load_errors.is_empty() && fallback.is_none() {
        handler::save_last_good(&config.state_dir, &loaded.files);
    }
    // The forwarder to fleet sinks: its own thread; a bad sink is reported, never fatal.
    let fleet = crate::fleet::Fleet::start(Arc::clone(&store), &settings.fleet, &settings.sinks);
    let server_limits = settings.server;
    let http_settings = settings.http;
    let state = Arc::new(State {
        started: Instant::now(),
        rules: Swap::new(loaded.ruleset),
        rule_errors: Mutex::new(load_errors),
        has_fallback: std::sync::atomic::AtomicBool::new(fallback.is_some()),
        fallback: RwLock::new(fallback.map(Arc::new)),
        good_since_ms: std::sync::atomic::AtomicI64::new(good_since_ms),
        sessions: Mutex::new(session::SessionTable::new(settings.session.max_live)),
        store,
        projects: project::Projects::new(project::trust_path(&config.state_dir)),
        home: std::env::var("HOME").ok().filter(|h| !h.is_empty()),
        once: OnceDays::default(),
        allowances: crate::allow::Allowances::default(),
        session_ttl_ms: rules::state::duration_ms(settings.session.idle_ttl).unwrap_or(i64::MAX),
        redactor,
        settings: Swap::new(settings),
        reloading: tokio::sync::Mutex::new(()),
        live: tokio::sync::broadcast::channel(4096).0,
        dedup: dedup::Dedup::default(),
        metrics,
        runner,
        events_since_start: AtomicU64::new(0),
        shutdown: shutdown.clone(),
        fleet,
        config,
    });
    crate::state::load_once_days(&state).await;
    load_allowances(&state).await;
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
    // The opt-in HTTP listener (`[http]` in hookd.toml); failing to bind it stops the start.
    let http = match server::http::start(&state, &http_settings).await {
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
            let sweep_every = sweep_interval(state.settings.get().session.idle_ttl);
            let mut socket_watch = lifecycle::SocketWatch::default();
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

    server::serve(Arc::clone(&state), listener, server_limits, rebind_rx).await;
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
    tokio::task::spawn_blocking(move || {
        // The sinks' bounded flush first: their cursors go through the store's writer.
        st.fleet.stop();
        st.store.close();
    })
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

/// Loads the live allow-once grants from the store into memory, off the async workers
/// (before anything is served: the hook path never reads the store for them).
pub async fn load_allowances(state: &Arc<State>) {
    let st = Arc::clone(state);
    let _ = tokio::task::spawn_blocking(move || match st.store.live_allowances(now_ms()) {
        Ok(rows) => {
            let grants = rows
                .into_iter()
                .filter_map(|l| {
                    Some(crate::allow::Grant {
                        id: l.row.id,
                        scope: crate::allow::Scope::parse(&l.row.scope)?,
                        code: l.row.code,
                        key: l.key,
                        session_id: l.row.session_id,
                        expires_ms: l.row.expires_ms,
                        uses_left: l.uses_left,
                        user: l.row.user,
                    })
                })
                .collect::<Vec<_>>();
            tracing::info!(grants = grants.len(), "allow-once grants loaded");
            st.allowances.load(grants);
        }
        Err(e) => tracing::warn!(error = %e, "cannot load allow-once grants"),
    })
    .await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_store_defaults_match_the_stores_own() {
        let r = crate::daemon::retention(&crate::settings::StoreSettings::default());
        let own = crate::store::Retention::default();
        assert_eq!((r.max_age_ms, r.max_bytes), (own.max_age_ms, own.max_bytes));
        assert_eq!(
            crate::settings::DEFAULT_EMERGENCY_JOURNAL,
            crate::store::journal::DEFAULT_RESERVE
        );
        assert_eq!(
            crate::settings::MIN_EMERGENCY_JOURNAL,
            crate::store::journal::MIN_RESERVE
        );
    }
}
