//! The same event delivered twice is recorded once and answered identically.
//!
//! Claude Code runs every matching handler: when hook-client is wired in two settings files
//! with different command strings (say user and project), one event arrives twice, at once.
//! **Identity**: the payload's exact bytes (hashed with a per-process random seed) within a
//! short window ([`WINDOW`]). Claude Code sends byte-identical JSON to every handler of one
//! event, at the same moment (handlers run in parallel), while distinct events differ: tool
//! events carry a unique `tool_use_id`, prompts a `prompt_id`. The first delivery is
//! evaluated and recorded; a duplicate waits for it and returns its reply.
//!
//! **Not deduplicated: Stop and SubagentStop.** After a block Claude Code re-fires them with
//! byte-identical payloads, one model round trip later; each re-fire is a real event the loop
//! guard must count. A Stop wired twice is therefore recorded twice, which only makes the
//! loop guard let it through sooner.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hook_protocol::HookReply;
use tokio::sync::watch;

/// How long a delivery counts as a duplicate of an identical earlier one.
pub const WINDOW: Duration = Duration::from_millis(250);

/// What [`Dedup::begin`] decided.
pub enum Delivery {
    /// The first delivery: evaluate, then [`Dedup::finish`] with the reply.
    First(watch::Sender<Option<HookReply>>),
    /// A duplicate: await the first delivery's reply.
    Duplicate(watch::Receiver<Option<HookReply>>),
}

/// Recent deliveries: by payload hash, and in arrival order so expiry costs O(1) amortised.
///
/// The payload hash is foldhash's quality hasher with a random seed (a fraction of SipHash's
/// cost on a 500-byte payload); only the local user can send events, so hash flooding is not
/// a concern. The table, keyed by that hash, mixes it again with foldhash's fixed hasher (one
/// multiply).
#[derive(Default)]
struct Recent {
    by_key: HashMap<u64, (Instant, watch::Receiver<Option<HookReply>>), foldhash::fast::FixedState>,
    order: VecDeque<(Instant, u64)>,
}

impl Recent {
    /// The window holds what arrived in the last [`WINDOW`]: tens of thousands of entries
    /// under a burst (its tables grow to match), a handful in normal use. Gives the tables
    /// back once they are mostly empty, so a burst does not leave megabytes behind.
    fn shrink_after_burst(&mut self) {
        const SMALL: usize = 1024;
        if self.by_key.capacity() > SMALL && self.by_key.len() * 8 < self.by_key.capacity() {
            let keep = (self.by_key.len() * 2).max(SMALL);
            self.by_key.shrink_to(keep);
            self.order.shrink_to(keep);
        }
    }
}

/// Recent deliveries by payload hash.
pub struct Dedup {
    hasher: foldhash::quality::RandomState,
    recent: Mutex<Recent>,
}

impl Default for Dedup {
    fn default() -> Self {
        Self {
            hasher: foldhash::quality::RandomState::default(),
            recent: Mutex::new(Recent::default()),
        }
    }
}

impl Dedup {
    /// Registers a delivery of `payload`.
    pub fn begin(&self, payload: &[u8]) -> Delivery {
        // Stop-like events are never deduplicated (see the module docs).
        if hook_protocol::failmode::scan_event_name(payload)
            .is_some_and(crate::events::is_stop_like)
        {
            return Delivery::First(watch::channel(None).0);
        }
        let key = self.hasher.hash_one(payload);
        let now = Instant::now();
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(&(t, old)) = recent.order.front() {
            if now.duration_since(t) < WINDOW {
                break;
            }
            recent.order.pop_front();
            // Only if it was not re-inserted since.
            if recent.by_key.get(&old).is_some_and(|(at, _)| *at == t) {
                recent.by_key.remove(&old);
            }
        }
        recent.shrink_after_burst();
        if let Some((t, rx)) = recent.by_key.get(&key)
            && now.duration_since(*t) < WINDOW
        {
            return Delivery::Duplicate(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        recent.by_key.insert(key, (now, rx));
        recent.order.push_back((now, key));
        Delivery::First(tx)
    }

    /// Publishes the first delivery's reply to any duplicate waiting for it.
    pub fn finish(tx: &watch::Sender<Option<HookReply>>, reply: &HookReply) {
        tx.send_replace(Some(reply.clone()));
    }

    /// Awaits the first delivery's reply (None if it was dropped without one).
    pub async fn wait(mut rx: watch::Receiver<Option<HookReply>>) -> Option<HookReply> {
        rx.wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|r| r.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn identical_payloads_share_one_reply_and_different_ones_do_not() {
        let d = Dedup::default();
        let Delivery::First(tx) = d.begin(b"{\"a\":1}") else {
            panic!("first")
        };
        let Delivery::Duplicate(rx) = d.begin(b"{\"a\":1}") else {
            panic!("duplicate")
        };
        assert!(matches!(d.begin(b"{\"a\":2}"), Delivery::First(..)));
        let reply = HookReply {
            exit_code: 0,
            stdout: b"x".to_vec(),
            stderr: Vec::new(),
        };
        Dedup::finish(&tx, &reply);
        assert_eq!(Dedup::wait(rx).await, Some(reply));
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // a plain test thread waiting out the window
    fn the_window_gives_its_tables_back_after_a_burst() {
        let d = Dedup::default();
        for i in 0..20_000u32 {
            let _ = d.begin(format!("{{\"n\":{i}}}").as_bytes());
        }
        let grown = d.recent.lock().unwrap().by_key.capacity();
        assert!(grown >= 20_000, "{grown}");
        std::thread::sleep(WINDOW + Duration::from_millis(20));
        let _ = d.begin(b"{\"after\":1}");
        let r = d.recent.lock().unwrap();
        assert_eq!(r.by_key.len(), 1, "the burst expired");
        assert!(r.by_key.capacity() <= 2048, "{}", r.by_key.capacity());
        assert!(r.order.capacity() <= 2048, "{}", r.order.capacity());
    }

    #[test]
    fn stop_refires_are_never_collapsed() {
        let d = Dedup::default();
        let stop = br#"{"hook_event_name":"Stop","stop_hook_active":true}"#;
        assert!(matches!(d.begin(stop), Delivery::First(_)));
        assert!(matches!(d.begin(stop), Delivery::First(_)));
    }

    #[tokio::test]
    async fn a_dropped_first_delivery_does_not_hang_duplicates() {
        let d = Dedup::default();
        let Delivery::First(tx) = d.begin(b"x") else {
            panic!()
        };
        let Delivery::Duplicate(rx) = d.begin(b"x") else {
            panic!()
        };
        drop(tx);
        assert_eq!(Dedup::wait(rx).await, None);
    }
}
