//! The table of live sessions: lookup, creation, replayed inserts, and eviction of the least
//! recently active sessions past `max_live` or an idle time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Session;

/// A session behind its own lock: events of one session are handled in order, sessions in
/// parallel.
pub type SharedSession = Arc<Mutex<Session>>;

pub use crate::event::MAX_SESSION_ID_LEN;

/// Sessions kept in memory unless `[session] max_live` says.
pub(crate) const DEFAULT_MAX_LIVE: usize = crate::settings::DEFAULT_MAX_LIVE;

/// Every session in memory: at most `max_live`, the least recently active evicted first.
#[derive(Debug)]
pub struct SessionTable {
    /// Keyed by the session's own id (one allocation for both).
    sessions: HashMap<Arc<str>, SharedSession>,
    /// The most sessions kept in memory.
    max_live: usize,
}

impl Default for SessionTable {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LIVE)
    }
}

impl SessionTable {
    /// An empty table keeping at most `max_live` sessions (at least 1).
    #[must_use]
    pub fn new(max_live: usize) -> Self {
        Self {
            sessions: HashMap::new(),
            max_live: max_live.max(1),
        }
    }

    /// The most sessions kept in memory.
    #[must_use]
    pub fn max_live(&self) -> usize {
        self.max_live
    }

    /// The session, if it is in memory.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<SharedSession> {
        self.sessions.get(id).cloned()
    }

    /// Whether the session is in memory.
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.sessions.contains_key(id)
    }

    /// The session, created empty if unknown (evicting the least recently active sessions
    /// when the table is full).
    pub fn get_or_create(&mut self, id: &str, now_ms: i64) -> SharedSession {
        if let Some(s) = self.sessions.get(id) {
            return Arc::clone(s);
        }
        self.make_room();
        let s = Session::new(id, now_ms);
        let key = Arc::clone(&s.id);
        let shared = Arc::new(Mutex::new(s));
        self.sessions.insert(key, Arc::clone(&shared));
        shared
    }

    /// Adds a session rebuilt from the store, unless one appeared meanwhile.
    pub fn insert_replayed(&mut self, s: Session) {
        if self.sessions.contains_key(&s.id) {
            return;
        }
        self.make_room();
        self.sessions
            .insert(Arc::clone(&s.id), Arc::new(Mutex::new(s)));
    }

    /// With the table full, evicts the least recently active sessions not in use: a batch of
    /// 1/64 of the cap at once, so a stream of new sessions costs one scan per batch, not one
    /// per session. Evicted sessions are rebuilt from the store if they come back.
    fn make_room(&mut self) -> usize {
        if self.sessions.len() < self.max_live {
            return 0;
        }
        let want = (self.sessions.len() + 1 - self.max_live)
            .max(self.max_live / 64)
            .max(1);
        // (last activity, id) of sessions no event is using (the table holds the only handle).
        let mut idle: Vec<(i64, Arc<str>)> = self
            .sessions
            .iter()
            .filter(|(_, s)| Arc::strong_count(s) == 1)
            .map(|(k, s)| {
                let last = s.lock().map_or(i64::MIN, |s| s.last_ms.max(s.started_ms));
                (last, Arc::clone(k))
            })
            .collect();
        let n = want.min(idle.len());
        if n == 0 {
            return 0;
        }
        if n < idle.len() {
            idle.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        }
        for (_, k) in idle.iter().take(n) {
            self.sessions.remove(k);
        }
        drop(idle);
        self.after_eviction();
        n
    }

    /// Sessions in memory and not ended.
    #[must_use]
    pub fn active(&self) -> usize {
        self.sessions
            .values()
            .filter(|s| s.lock().map(|s| s.ended_ms.is_none()).unwrap_or(false))
            .count()
    }

    /// Sessions in memory.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is in memory.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The table's capacity (for tests: it shrinks after evictions).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.sessions.capacity()
    }

    /// Drops sessions idle for `ttl_ms` (they are rebuilt from the store if they come back).
    pub fn evict_idle(&mut self, now_ms: i64, ttl_ms: i64) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| {
            Arc::strong_count(s) > 1
                || s.lock()
                    .map(|s| now_ms - s.last_ms < ttl_ms)
                    .unwrap_or(false)
        });
        let evicted = before - self.sessions.len();
        if evicted > 0 {
            self.after_eviction();
        }
        evicted
    }

    /// Gives back what evicted sessions held: strings only they used, and the table's own
    /// slots once it is mostly empty (a `HashMap` never shrinks by itself: after a flood of
    /// 100,000 sessions its 100,000 slots would stay).
    fn after_eviction(&mut self) {
        crate::intern::purge();
        let len = self.sessions.len();
        if self.sessions.capacity() > 1024 && len * 4 < self.sessions.capacity() {
            self.sessions.shrink_to((len * 2).max(1024));
        }
    }
}
