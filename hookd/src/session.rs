//! Per-session state: created on first sight or SessionStart, closed on SessionEnd.
//!
//! In memory; the next issue persists it. Sessions closed long ago are dropped so the table
//! stays bounded.

use std::collections::HashMap;

use crate::event::HookEvent;

/// What hookd knows of one Claude Code session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// When it was first seen (ms since the epoch).
    pub started_ms: i64,
    /// The last event's time.
    pub last_ms: i64,
    /// `CLAUDE_PROJECT_DIR` or the first cwd seen.
    pub project_dir: Option<String>,
    /// The last cwd seen.
    pub cwd: Option<String>,
    /// Events seen.
    pub events: u64,
    /// When SessionEnd arrived.
    pub ended_ms: Option<i64>,
    /// SessionEnd's `reason`.
    pub end_reason: Option<String>,
    /// SessionStart's `source` (startup, resume, …).
    pub start_source: Option<String>,
}

/// Every known session.
#[derive(Debug, Default)]
pub struct SessionTable {
    sessions: HashMap<String, Session>,
}

/// Ended sessions kept at most this long (ms) before they are dropped from memory.
const ENDED_KEEP_MS: i64 = 60 * 60 * 1000;

impl SessionTable {
    /// Updates the table with one event.
    pub fn observe(&mut self, event: &HookEvent, project_dir: Option<&str>, now_ms: i64) {
        let Some(id) = event.session_id() else { return };
        let s = self
            .sessions
            .entry(id.to_string())
            .or_insert_with(|| Session {
                started_ms: now_ms,
                ..Session::default()
            });
        s.last_ms = now_ms;
        s.events += 1;
        if let Some(cwd) = event.cwd() {
            s.cwd = Some(cwd.to_string());
        }
        if s.project_dir.is_none() {
            s.project_dir = project_dir.map(str::to_string).or_else(|| s.cwd.clone());
        }
        match event.name.as_str() {
            "SessionStart" => {
                s.ended_ms = None;
                s.end_reason = None;
                s.start_source = event
                    .value
                    .get("source")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
            }
            "SessionEnd" => {
                s.ended_ms = Some(now_ms);
                s.end_reason = event
                    .value
                    .get("reason")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
            }
            _ => {}
        }
        if self.sessions.len() > 4096 {
            self.sessions
                .retain(|_, s| s.ended_ms.is_none_or(|e| now_ms - e < ENDED_KEEP_MS));
        }
    }

    /// Sessions seen and not ended.
    #[must_use]
    pub fn active(&self) -> usize {
        self.sessions
            .values()
            .filter(|s| s.ended_ms.is_none())
            .count()
    }

    /// One session.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> HookEvent {
        HookEvent::parse(json.as_bytes(), None).unwrap()
    }

    #[test]
    fn created_on_first_sight_closed_on_session_end() {
        let mut t = SessionTable::default();
        t.observe(
            &ev(r#"{"hook_event_name":"PreToolUse","session_id":"a","cwd":"/p"}"#),
            None,
            5,
        );
        assert_eq!(t.active(), 1);
        assert_eq!(t.get("a").unwrap().project_dir.as_deref(), Some("/p"));
        t.observe(
            &ev(r#"{"hook_event_name":"SessionEnd","session_id":"a","reason":"other"}"#),
            None,
            9,
        );
        assert_eq!(t.active(), 0);
        let s = t.get("a").unwrap();
        assert_eq!(
            (s.events, s.ended_ms, s.end_reason.as_deref()),
            (2, Some(9), Some("other"))
        );
    }

    #[test]
    fn session_start_reopens_and_records_source() {
        let mut t = SessionTable::default();
        t.observe(
            &ev(r#"{"hook_event_name":"SessionEnd","session_id":"a"}"#),
            Some("/proj"),
            1,
        );
        t.observe(
            &ev(r#"{"hook_event_name":"SessionStart","session_id":"a","source":"resume"}"#),
            None,
            2,
        );
        let s = t.get("a").unwrap();
        assert_eq!(s.start_source.as_deref(), Some("resume"));
        assert_eq!(s.project_dir.as_deref(), Some("/proj"));
        assert_eq!(t.active(), 1);
    }
}
