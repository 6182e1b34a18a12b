//! Hot reload: watch the configuration directory and `rules.d/` (directories, not files:
//! editors save by renaming a new file over the old one), debounce, reload.
//!
//! Only `hookd.toml` and `rules.d/*.toml` count; the store's own writes (the database lives in
//! the same directory under `HOOKD_HOME`) are filtered out in the watcher's callback, before
//! anything wakes the async side. Parsing runs off the async workers; a broken edit keeps the
//! last good ruleset (see [`crate::handler::reload`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hook_protocol::paths::{CONFIG_FILE, RULES_DIR};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::State;

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
            && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
}

/// Starts watching; reloads until shutdown. Logs and gives up (SIGHUP and `hookctl reload`
/// still work) if the platform watcher cannot start.
pub fn spawn(state: Arc<State>) {
    let config_dir = state.config.config_dir.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
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
    let mut watching_rules_dir = watch_dirs(&mut watcher, &config_dir);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                got = rx.recv() => if got.is_none() { return },
            }
            // Debounce: wait until no change arrived for DEBOUNCE.
            loop {
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    () = tokio::time::sleep(DEBOUNCE) => break,
                    got = rx.recv() => if got.is_none() { return },
                }
            }
            if !watching_rules_dir {
                watching_rules_dir = watch_dirs(&mut watcher, &config_dir);
            }
            let report = crate::handler::reload(&state).await;
            tracing::info!(rules = report.rules_loaded, errors = report.errors.len(), "configuration changed");
        }
    });
}

/// Watches the config dir and, when it exists, rules.d; returns whether rules.d is watched.
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
