//! Hot reload: watch the configuration directory and `rules.d/` (directories, not files:
//! editors save by renaming a new file over the old one), debounce, reload.
//!
//! Only `hookd.toml` and `rules.d/*.toml` count; the store's own writes (the database lives in
//! the same directory under `HOOKD_HOME`) are filtered out in the watcher's callback, before
//! anything wakes the async side. Parsing runs off the async workers; a broken edit keeps the
//! last good ruleset (see [`crate::handler::reload`]).

use std::path::Path;
#[cfg(not(target_os = "linux"))]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hook_protocol::paths::{CONFIG_FILE, RULES_DIR};
#[cfg(not(target_os = "linux"))]
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::state::State;

/// Quiet time after the last change before reloading (editors write in several steps).
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Whether a changed path is one whose edit should reload rules.
fn relevant(config_dir: &Path, p: &Path) -> bool {
    let rules_dir = config_dir.join(RULES_DIR);
    p == rules_dir
        || p == config_dir
        || p == config_dir.join(CONFIG_FILE)
        || (p.parent() == Some(rules_dir.as_path())
            && p.extension().is_some_and(|x| x == "toml")
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.')))
}

/// Starts watching; reloads until shutdown. Logs and gives up (SIGHUP and `hookctl reload`
/// still work) if the platform watcher cannot start.
pub fn spawn(state: Arc<State>) {
    let config_dir = state.config.config_dir.clone();
    let (tx, rx) = mpsc::unbounded_channel::<()>();
    #[cfg(target_os = "linux")]
    {
        match linux::watch(&config_dir, tx) {
            Ok(add_rules_dir) => run_reloader(state, rx, add_rules_dir),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the configuration; use `hookctl reload`");
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    spawn_notify(state, config_dir, tx, rx);
}

/// Debounces change notices and reloads; `rewatch` re-adds the rules.d watch (it may have
/// been created or replaced since).
fn run_reloader(
    state: Arc<State>,
    mut rx: mpsc::UnboundedReceiver<()>,
    mut rewatch: impl FnMut() + Send + 'static,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                got = rx.recv() => if got.is_none() { return },
            }
            loop {
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    () = tokio::time::sleep(DEBOUNCE) => break,
                    got = rx.recv() => if got.is_none() { return },
                }
            }
            rewatch();
            let report = crate::handler::reload(&state).await;
            tracing::info!(
                rules = report.rules_loaded,
                errors = report.errors.len(),
                "configuration changed"
            );
        }
    });
}

/// Linux: inotify with a mask that sees every way an editor saves (close after write,
/// rename over, create, delete) but not IN_MODIFY, so SQLite's WAL writes in the same
/// directory (under `HOOKD_HOME`) wake nothing.
#[cfg(target_os = "linux")]
mod linux {
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};

    use hook_protocol::paths::RULES_DIR;
    use inotify::{Inotify, WatchMask, Watches};
    use tokio::sync::mpsc;

    fn mask() -> WatchMask {
        WatchMask::CLOSE_WRITE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
    }

    /// Starts the watch thread; returns a function that (re)adds the rules.d watch.
    pub fn watch(
        config_dir: &Path,
        tx: mpsc::UnboundedSender<()>,
    ) -> std::io::Result<impl FnMut() + Send + 'static> {
        let inotify = Inotify::init()?;
        let watches = Arc::new(Mutex::new(inotify.watches()));
        let rules_dir: PathBuf = config_dir.join(RULES_DIR);
        let add = {
            let watches = Arc::clone(&watches);
            let config_dir = config_dir.to_path_buf();
            move || {
                let mut w = watches
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let _ = Watches::add(&mut w, &config_dir, mask());
                if rules_dir.is_dir() {
                    let _ = Watches::add(&mut w, &rules_dir, mask());
                }
            }
        };
        let add_now = add.clone();
        add_now();
        let config_dir = config_dir.to_path_buf();
        std::thread::Builder::new()
            .name("hookd-watch".into())
            .spawn(move || {
                let mut inotify = inotify;
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(events) = inotify.read_events_blocking(&mut buf) else {
                        return;
                    };
                    let relevant = events.into_iter().any(|e| {
                        // Events name the file relative to its watched directory: which one is not
                        // reported here, so accept any name that is relevant in either.
                        e.name.is_none_or(|n| {
                            let n = Path::new(n);
                            super::relevant(&config_dir, &config_dir.join(n))
                                || super::relevant(&config_dir, &config_dir.join(RULES_DIR).join(n))
                        })
                    });
                    if relevant && tx.send(()).is_err() {
                        return;
                    }
                }
            })?;
        Ok(add)
    }
}

/// Other platforms: `notify` (FSEvents on macOS, which does not wake per WAL write).
#[cfg(not(target_os = "linux"))]
fn spawn_notify(
    state: Arc<State>,
    config_dir: PathBuf,
    tx: mpsc::UnboundedSender<()>,
    rx: mpsc::UnboundedReceiver<()>,
) {
    let filter_dir = config_dir.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && ev.paths.iter().any(|p| relevant(&filter_dir, p))
        {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the configuration; use `hookctl reload`");
            return;
        }
    };
    watch_dirs(&mut watcher, &config_dir);
    // The closure owns the watcher, which keeps it alive as long as the reloader runs.
    run_reloader(state, rx, move || {
        watch_dirs(&mut watcher, &config_dir);
    });
}

/// Watches the config dir and, when it exists, rules.d; returns whether rules.d is watched.
#[cfg(not(target_os = "linux"))]
fn watch_dirs(watcher: &mut RecommendedWatcher, config_dir: &Path) -> bool {
    if let Err(e) = watcher.watch(config_dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %config_dir.display(), error = %e, "cannot watch configuration directory");
    }
    let rules: PathBuf = config_dir.join(RULES_DIR);
    if rules.is_dir() {
        match watcher.watch(&rules, RecursiveMode::NonRecursive) {
            Ok(()) => return true,
            Err(e) => tracing::warn!(dir = %rules.display(), error = %e, "cannot watch rules.d"),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rule_files_are_relevant() {
        let d = Path::new("/h");
        assert!(relevant(d, Path::new("/h/hookd.toml")));
        assert!(relevant(d, Path::new("/h/rules.d/a.toml")));
        assert!(relevant(d, Path::new("/h/rules.d")));
        assert!(!relevant(d, Path::new("/h/hookd.db-wal")));
        assert!(!relevant(d, Path::new("/h/rules.d/.a.toml.swp")));
        assert!(!relevant(d, Path::new("/h/rules.d/notes.txt")));
        assert!(!relevant(d, Path::new("/h/state/spool")));
    }
}
