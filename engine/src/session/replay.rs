//! Rebuilding a session from its stored rows: the same fold the live events went through.

use super::Session;
use crate::event::HookEvent;
use crate::verdict::Verdict;

/// The event name of a bypass record in the store (`hookctl events --event bypass`).
pub const BYPASS_EVENT: &str = "bypass";

/// One stored event as replay needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// When it was answered (ms since the epoch).
    pub time_ms: i64,
    /// The stored (redacted) event JSON.
    pub payload: Vec<u8>,
    /// What hookd answered.
    pub verdict: Verdict,
    /// The rules that matched.
    pub rules: Vec<String>,
    /// Its project directory.
    pub project_dir: Option<String>,
}

/// Rebuilds a session from its stored rows (oldest first). `home` turns `/home/[USER]/`
/// (redacted paths) back into the real home.
#[must_use]
pub fn replay(id: &str, rows: &[StoredEvent], home: Option<&str>) -> Session {
    let mut s = Session::new(id, rows.first().map_or(0, |r| r.time_ms));
    for StoredEvent {
        time_ms,
        payload,
        verdict,
        rules,
        project_dir: project,
    } in rows
    {
        let text = String::from_utf8_lossy(payload);
        let text = match home {
            Some(h) => text.replace("/home/[USER]", h.trim_end_matches('/')),
            None => text.into_owned(),
        };
        let Ok(event) = HookEvent::parse(text.as_bytes(), None) else {
            continue;
        };
        if event.name == BYPASS_EVENT {
            continue;
        }
        s.observe(&event, project.as_deref(), home, *time_ms);
        s.record_verdict(&event.name, verdict, rules, *time_ms);
    }
    // Bypasses found again while replaying were recorded and told when they happened.
    s.take_new_bypasses();
    s
}
