//! Upkeep requests and chores: reloading the rules, and recording the spool.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hook_protocol::{ReloadReport, spool};

use super::redact_record;
use crate::clock::now_ms;
use crate::ingest::from_spool;
use crate::state::State;

/// Reloads rules and settings off the async workers; keeps the old ones (rules and settings)
/// when the new files have errors, or would change a setting read only at start.
pub async fn reload(state: &Arc<State>) -> ReloadReport {
    // One at a time, each reading the files after the one before it finished.
    let _one_at_a_time = state.reloading.lock().await;
    let dir = state.config.config_dir.clone();
    let loaded = match tokio::task::spawn_blocking(move || {
        let loaded = crate::rules::load(&dir);
        crate::alloc::collect_here();
        loaded
    })
    .await
    {
        Ok(l) => l,
        Err(e) => {
            return ReloadReport {
                rules_loaded: 0,
                errors: vec![format!("reload failed: {e}")],
            };
        }
    };
    let mut errors = loaded.errors;
    errors.extend(vanished_sources(state));
    if errors.is_empty() {
        // Settings read only at start cannot change here: say so rather than run with values
        // the file no longer has.
        errors.extend(
            state
                .settings
                .get()
                .changes_needing_restart(&loaded.settings),
        );
    }
    if errors.is_empty() {
        // Everything in force changes first; only then does status say so (a client that
        // sees the errors cleared sees the new rules).
        // The settings that apply on reload: `[redact]` and `[run]` (packs and disable_rules
        // are in the ruleset).
        state
            .redactor
            .set_arc(Arc::clone(&loaded.settings.redact.redactor));
        state.runner.configure(&loaded.settings.run);
        state.settings.set(loaded.settings);
        let n = loaded.ruleset.rules.len();
        loaded.ruleset.inherit_hits(&state.ruleset());
        state.rules.set(loaded.ruleset);
        crate::state::load_once_days(state).await;
        publish(state, &errors);
        state.good_since_ms.store(now_ms(), Ordering::Relaxed);
        // Saved on each success: the rules in force while the files fail.
        let (dir, files) = (state.config.state_dir.clone(), loaded.files);
        let _ = tokio::task::spawn_blocking(move || save_last_good(&dir, &files)).await;
        tracing::info!(rules = n, "rules reloaded");
        ReloadReport {
            rules_loaded: n as u64,
            errors,
        }
    } else {
        publish(state, &errors);
        for e in &errors {
            tracing::error!(error = %e, "rules reload failed; keeping the previous rules");
        }
        ReloadReport {
            rules_loaded: state.ruleset().rules.len() as u64,
            errors,
        }
    }
}

/// Makes a reload's `errors` what status reports, and while there are any, the last good rules
/// (or none) what is in force instead.
fn publish(state: &State, errors: &[String]) {
    if let Ok(mut slot) = state.rule_errors.lock() {
        errors.clone_into(&mut slot);
    }
    let fallback = (!errors.is_empty()).then(|| {
        let since = state.good_since_ms.load(Ordering::Relaxed);
        crate::lastgood::Fallback {
            kind: if since == 0 {
                crate::lastgood::FallbackKind::NoGoodSet
            } else {
                crate::lastgood::FallbackKind::LastGood {
                    saved_ms: Some(since),
                }
            },
            errors: errors.to_vec(),
        }
    });
    state.set_fallback(fallback);
}

/// The configuration directory or `rules.d/` gone (deleted, moved, a mount missing) is
/// treated as trouble, not as "no rules": the last good rules stay active until the directory
/// is back. (Emptying `rules.d/` is how to remove all its rules.)
fn vanished_sources(state: &State) -> Vec<String> {
    let config_dir = &state.config.config_dir;
    if !config_dir.is_dir() {
        return vec![format!(
            "{}: the configuration directory is gone; keeping the rules loaded before (re-create it, then `hookctl reload`)",
            config_dir.display()
        )];
    }
    let rules_dir = config_dir.join(hook_protocol::paths::RULES_DIR);
    let had_rules_dir = state
        .ruleset()
        .sources
        .iter()
        .any(|s| std::path::Path::new(s).parent() == Some(rules_dir.as_path()));
    if had_rules_dir && !rules_dir.exists() {
        return vec![format!(
            "{}: the directory is gone; keeping the rules loaded from it before (to remove them, empty it instead)",
            rules_dir.display()
        )];
    }
    Vec::new()
}

/// Records every spooled event exactly once, then removes the spool. Events in the emergency
/// journal are moved into the store first: a spooled copy of one of them (its reply was lost)
/// is then recognised and dropped.
pub async fn ingest_spool(state: &Arc<State>) {
    let st = Arc::clone(state);
    let done = tokio::task::spawn_blocking(move || -> Result<usize, String> {
        st.store
            .move_journal_blocking()
            .map_err(|e| format!("the emergency journal is not moved into the store yet: {e}"))?;
        let path = st.config.spool_path();
        let taken =
            spool::take(&path).map_err(|e| format!("reading spool {}: {e}", path.display()))?;
        for p in &taken.problems {
            tracing::warn!(problem = %p, "spool problem (raw bytes kept beside the spool)");
        }
        let n = taken.records.len();
        if n > 0 {
            let redactor = st.redactor();
            let recs = taken
                .records
                .iter()
                .cloned()
                .map(|r| redact_record(&redactor, from_spool(r)))
                .collect();
            // Spooled copies of events hookd committed (their reply was lost) are dropped.
            let recs = st.store.drop_recorded(recs).unwrap_or_else(|(e, recs)| {
                tracing::warn!(error = %e, "looking up spooled events failed; the commit checks them");
                recs
            });
            st.store.record_blocking(recs).map_err(|e| e.to_string())?;
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

/// Saves a load without errors as the last good rules; a failure is logged, never fatal.
pub fn save_last_good(state_dir: &std::path::Path, files: &[crate::rules::Source]) {
    match crate::lastgood::save(state_dir, files, now_ms()) {
        Ok(true) => tracing::debug!(files = files.len(), "saved as the last good rules"),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            error = %e,
            dir = %state_dir.display(),
            "cannot save the last good rules"
        ),
    }
}
