//! Ingestion: turns what arrives outside the hook path (events hook-client spooled while hookd
//! could not answer) into the store's [`EventRecord`]s, so the store never sees protocol spool
//! records.
//!
//! Must not write anything itself: the caller redacts the records and hands them to the store.

use hook_protocol::spool::SpoolRecord;

use crate::clock::now_ms;
use crate::store::EventRecord;
use crate::verdict::{FALLBACK_PREFIX, Source, Verdict};

/// Turns a spool record into an event record (source `spool`).
#[must_use]
pub fn from_spool(rec: SpoolRecord) -> EventRecord {
    let parsed = crate::event::HookEvent::parse(&rec.event, None).ok();
    let event = parsed
        .as_ref()
        .map(|e| e.name.clone())
        .or_else(|| hook_protocol::failmode::scan_event_name(&rec.event).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    // Before the emergency journal, hookd spooled the events it had answered itself when a
    // commit failed (ids `hookd-…`): their verdict is hookd's, not a client's fallback.
    let by_hookd = rec.id.starts_with("hookd-");
    // A client's answer is its fail mode; anything else is kept as written.
    let answered = match Verdict::parse(&format!("{FALLBACK_PREFIX}{}", rec.answered)) {
        v @ Verdict::Fallback(_) if !by_hookd => v,
        _ => Verdict::parse(&rec.answered),
    };
    let mut reason = rec.reason;
    if let Some(n) = rec.truncated_from {
        reason.push_str(&format!(" (event cut from {n} bytes)"));
    }
    EventRecord {
        time_ms: i64::try_from(rec.time_ms).unwrap_or(now_ms()),
        // Bounded as on the socket (`event::MAX_SESSION_ID_LEN`): a spooled event cannot make
        // the store keep a session key of its choosing either.
        session_id: rec
            .env
            .session_id
            .filter(|id| !id.is_empty() && id.len() <= crate::event::MAX_SESSION_ID_LEN)
            .or_else(|| {
                parsed
                    .as_ref()
                    .and_then(|e| e.session_id().map(str::to_string))
            }),
        tool: parsed
            .as_ref()
            .and_then(|e| e.tool_name().map(str::to_string)),
        event,
        project_dir: rec.env.project_dir,
        payload: rec.event,
        verdict: answered,
        reason: Some(reason),
        rules: Vec::new(),
        latency_us: 0,
        source: Source::Spool,
        client_id: (!by_hookd).then(|| rec.id.clone()),
        spool_id: Some(rec.id),
        summary: parsed.as_ref().and_then(crate::event::HookEvent::summary),
        redacted: Vec::new(),
        touch_session: true,
        fail_mode: None,
        checked_through: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::store::testutil::{answered, client_id, rows, temp_store};

    fn spooled(id: &str, time_ms: i64) -> SpoolRecord {
        SpoolRecord {
            id: id.into(),
            time_ms: u64::try_from(time_ms).unwrap(),
            reason: "no answer from hookd".into(),
            answered: "ask".into(),
            event: br#"{"hook_event_name":"Stop","session_id":"s"}"#.to_vec(),
            ..SpoolRecord::default()
        }
    }

    #[test]
    fn spool_records_hookd_wrote_itself_keep_its_verdict() {
        let mut r = spooled("hookd-18a2b3c4d5e6f708-3039-1700000000000", 1);
        r.answered = "deny".into();
        let e = from_spool(r);
        assert_eq!(e.verdict, "deny");
        assert_eq!(e.client_id, None);
        let e = from_spool(spooled("18a2b3c4d5e6f708-3039-3e8", 1));
        assert_eq!(e.verdict, "fallback:ask");
        assert_eq!(e.client_id.as_deref(), Some("18a2b3c4d5e6f708-3039-3e8"));
    }

    #[test]
    fn a_spooled_copy_of_a_committed_event_is_dropped_and_counted() {
        let (dir, s) = temp_store();
        let db = dir.path().join("x.db");
        let t = now_ms();
        let id = client_id(t - 30, 77);
        // hookd committed it, then died before replying; the client spooled it.
        s.record_blocking(vec![answered(t, &id)]).unwrap();
        let other = client_id(t - 10, 78);
        s.record_blocking(vec![
            from_spool(spooled(&id, t + 2000)),
            from_spool(spooled(&other, t + 2000)),
        ])
        .unwrap();
        let r = rows(&db);
        assert_eq!(
            r,
            vec![
                ("deny".into(), "socket".into(), Some(id)),
                ("fallback:ask".into(), "spool".into(), Some(other))
            ]
        );
        assert_eq!(s.stats().duplicates_dropped.load(Ordering::Relaxed), 1);
        assert_eq!(s.stats().fallbacks.load(Ordering::Relaxed), 1);
    }
}
