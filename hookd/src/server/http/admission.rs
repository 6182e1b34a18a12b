//! Who may hold an HTTP connection, and for how long (docs/http.md, "Connections without the
//! token").
//!
//! A TCP connection proves nothing until its first request carries the token, so connections
//! live in two pools:
//!
//! - **waiting**: accepted, no request with the token yet. At most `max_unauthenticated`; a new
//!   connection past that sheds an old waiting one, and each must present the token within
//!   `auth_timeout` (enforced by the connection's task, `super::conn::serve`). Shedding
//!   the old rather than refusing the new is what keeps token holders in: whoever holds the
//!   pool full cannot keep a new connection out, because a newcomer is shed only after
//!   `max_unauthenticated` later arrivals, and Claude Code's request is normally in the socket
//!   already when hookd first reads it (authenticated then). Refusing newcomers instead would
//!   let a peer without the token hold every slot with one reconnect per `auth_timeout`.
//!
//!   Which one is shed: the oldest that has sent bytes without completing a request with the
//!   token (a slowloris drips header bytes; a token holder sends its whole request at once),
//!   else the oldest that has been read, else the oldest. So a token holder whose request is
//!   late (its process preempted between connect and write) is not shed while dripping
//!   connections remain, and one not read yet (its task not polled yet) is passed over.
//! - **authenticated**: a request on it carried the token. It keeps its place (keep-alive)
//!   until it closes or idles out (`super::conn::IDLE_TIMEOUT`); at most `max_connections`, past
//!   which a token-holding request is answered 503. Only token holders can fill this pool, so
//!   it is the reserve that keeps Claude Code served whatever others do.
//!
//! The cost per request, and per read, is a relaxed load (`Standing::authenticated`); the
//! pool of waiting connections is locked a few times per connection (accept, first request
//! with the token, close).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// One connection's standing, shared by its task, its requests and the pool.
#[derive(Debug, Default)]
pub struct Standing {
    /// Arrival order in the waiting pool.
    seq: u64,
    /// Its task has started reading it: whatever the client sent before that has been seen.
    started: AtomicBool,
    /// Bytes arrived on it while it was not authenticated.
    heard: AtomicBool,
    /// A request with the token has been seen on this connection (and it holds a place in
    /// the authenticated pool).
    authenticated: AtomicBool,
    /// Notified when a newer connection sheds this one from the waiting pool.
    pub shed: Notify,
}

impl Standing {
    /// Whether a request with the token has been seen on this connection.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }

    /// Its task is about to read it for the first time (and acts on a shed notification only
    /// after that read).
    pub fn start(&self) {
        self.started.store(true, Ordering::Relaxed);
    }

    fn is_started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// Bytes were read from the connection (called for every read until it authenticates).
    pub fn heard(&self) {
        if !self.heard.load(Ordering::Relaxed) {
            self.heard.store(true, Ordering::Relaxed);
        }
    }

    fn is_heard(&self) -> bool {
        self.heard.load(Ordering::Relaxed)
    }
}

/// How many of the oldest waiting connections are looked at for one that has sent bytes (a
/// bound on the work per accepted connection, whatever `max_unauthenticated` is).
const SHED_SCAN: usize = 64;

/// The authenticated pool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// The two pools.
#[derive(Debug)]
pub struct Admission {
    max_unauthenticated: usize,
    max_authenticated: usize,
    /// Waiting connections by arrival; the first is the oldest.
    waiting: Mutex<BTreeMap<u64, Arc<Standing>>>,
    next_seq: AtomicU64,
    /// Connections in the authenticated pool.
    authenticated: AtomicUsize,
}

impl Admission {
    pub fn new(max_unauthenticated: usize, max_authenticated: usize) -> Self {
        Self {
            max_unauthenticated: max_unauthenticated.max(1),
            max_authenticated,
            waiting: Mutex::new(BTreeMap::new()),
            next_seq: AtomicU64::new(0),
            authenticated: AtomicUsize::new(0),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Standing>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection just accepted joins the waiting pool. When the pool was full, an old
    /// waiting connection is notified to close (`Standing::shed`); returns whether one was.
    ///
    /// Which one: among the [`SHED_SCAN`] oldest, the oldest that has sent bytes without
    /// authenticating (a request head being dripped), else the oldest that has been read;
    /// else the oldest of all. One not read yet has not had its chance (its task may be
    /// queued behind others, or its thread preempted).
    pub fn admit(&self) -> (Arc<Standing>, bool) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let standing = Arc::new(Standing {
            seq,
            ..Standing::default()
        });
        let victim = {
            let mut waiting = self.waiting();
            let victim = if waiting.len() >= self.max_unauthenticated {
                let mut read = None;
                let mut talking = None;
                for (seq, s) in waiting.iter().take(SHED_SCAN) {
                    if s.is_heard() {
                        talking = Some(*seq);
                        break;
                    }
                    if read.is_none() && s.is_started() {
                        read = Some(*seq);
                    }
                }
                talking
                    .or(read)
                    .or_else(|| waiting.keys().next().copied())
                    .and_then(|seq| waiting.remove(&seq))
            } else {
                None
            };
            waiting.insert(seq, Arc::clone(&standing));
            victim
        };
        let shed = victim.is_some();
        if let Some(v) = victim {
            v.shed.notify_one();
        }
        (standing, shed)
    }

    /// For every request that carried the token: the first moves the connection from the
    /// waiting pool to the authenticated one, if it has room.
    ///
    /// # Errors
    ///
    /// [`Full`] when the authenticated pool is full (the connection stays where it was).
    pub fn authenticate(&self, s: &Standing) -> Result<(), Full> {
        if s.is_authenticated() {
            return Ok(());
        }
        let held = self.authenticated.fetch_add(1, Ordering::Relaxed);
        if held >= self.max_authenticated {
            self.authenticated.fetch_sub(1, Ordering::Relaxed);
            return Err(Full);
        }
        s.authenticated.store(true, Ordering::Relaxed);
        // Absent when it was just shed (taken out of the pool then).
        self.waiting().remove(&s.seq);
        Ok(())
    }

    /// The connection closed: its place is freed.
    pub fn leave(&self, s: &Standing) {
        if s.is_authenticated() {
            self.authenticated.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.waiting().remove(&s.seq);
        }
    }

    /// Connections in the waiting pool now.
    pub fn unauthenticated(&self) -> usize {
        self.waiting().len()
    }

    /// Connections in the authenticated pool now.
    pub fn authenticated(&self) -> usize {
        self.authenticated.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_dripping_bytes_goes_before_a_silent_one() {
        let a = Admission::new(3, 10);
        let c: Vec<_> = (0..3).map(|_| a.admit().0).collect();
        c.iter().for_each(|s| s.start());
        c[2].heard();
        let (d, shed) = a.admit();
        assert!(shed);
        assert!(notified(&c[2]), "the one that sent bytes goes first");
        assert!(!notified(&c[0]) && !notified(&c[1]));
        d.start();
        // No one talking: the oldest read one.
        let (_e, shed) = a.admit();
        assert!(shed && notified(&c[0]));
        // Only the oldest SHED_SCAN are looked at.
        let b = Admission::new(SHED_SCAN + 1, 10);
        let f: Vec<_> = (0..=SHED_SCAN).map(|_| b.admit().0).collect();
        f.iter().for_each(|s| s.start());
        f[SHED_SCAN].heard();
        let (_g, shed) = b.admit();
        assert!(
            shed && notified(&f[0]),
            "past the scan: the oldest read one"
        );
        assert!(!notified(&f[SHED_SCAN]));
    }

    #[test]
    fn a_connection_not_read_yet_is_passed_over() {
        let a = Admission::new(3, 10);
        let c: Vec<_> = (0..3).map(|_| a.admit().0).collect();
        c[1].start();
        c[2].start();
        let (_d, shed) = a.admit();
        assert!(shed);
        assert!(!notified(&c[0]), "not read yet: kept");
        assert!(notified(&c[1]), "the oldest that was read goes");
        // With none started, the oldest goes all the same: the bound holds.
        let b = Admission::new(2, 10);
        let e: Vec<_> = (0..2).map(|_| b.admit().0).collect();
        let (_f, shed) = b.admit();
        assert!(shed && notified(&e[0]));
        assert_eq!(b.unauthenticated(), 2);
    }

    fn notified(s: &Standing) -> bool {
        let n = s.shed.notified();
        tokio::pin!(n);
        // A stored notify_one permit makes the first poll ready.
        n.as_mut().enable()
    }

    #[test]
    fn a_newcomer_sheds_the_oldest_waiting_connection() {
        let a = Admission::new(3, 10);
        let conns: Vec<_> = (0..3).map(|_| a.admit()).collect();
        assert!(conns.iter().all(|(_, shed)| !shed));
        conns.iter().for_each(|(s, _)| s.start());
        assert_eq!(a.unauthenticated(), 3);
        // The second authenticates: it leaves the waiting pool and can no longer be shed.
        a.authenticate(&conns[1].0).unwrap();
        assert_eq!((a.unauthenticated(), a.authenticated()), (2, 1));
        let (d, shed) = a.admit();
        assert!(!shed, "there was room again");
        d.start();
        let (_e, shed) = a.admit();
        assert!(shed);
        assert!(notified(&conns[0].0), "the oldest waiting one is shed");
        assert!(!notified(&conns[2].0));
        assert!(!notified(&d));
        assert_eq!(a.unauthenticated(), 3);
        let (_f, shed) = a.admit();
        assert!(shed);
        assert!(notified(&conns[2].0), "then the next oldest");
        assert!(!notified(&conns[1].0), "never an authenticated one");
        // A shed connection leaving does not free anyone else's place.
        a.leave(&conns[0].0);
        a.leave(&conns[2].0);
        assert_eq!((a.unauthenticated(), a.authenticated()), (3, 1));
        a.leave(&conns[1].0);
        assert_eq!((a.unauthenticated(), a.authenticated()), (3, 0));
    }

    #[test]
    fn the_authenticated_pool_is_capped() {
        let a = Admission::new(8, 2);
        let c: Vec<_> = (0..3).map(|_| a.admit().0).collect();
        assert_eq!(a.authenticate(&c[0]), Ok(()));
        assert_eq!(a.authenticate(&c[0]), Ok(()), "again: no second place");
        assert_eq!(a.authenticate(&c[1]), Ok(()));
        assert_eq!(a.authenticate(&c[2]), Err(Full));
        assert!(!c[2].is_authenticated());
        assert_eq!((a.unauthenticated(), a.authenticated()), (1, 2));
        a.leave(&c[0]);
        assert_eq!(a.authenticate(&c[2]), Ok(()));
        assert_eq!((a.unauthenticated(), a.authenticated()), (0, 2));
    }

    #[test]
    fn a_shed_connection_that_authenticates_in_the_same_turn_is_kept() {
        let a = Admission::new(1, 4);
        let (old, _) = a.admit();
        old.start();
        let (_new, shed) = a.admit();
        assert!(shed && notified(&old));
        // Its request with the token was read before the task saw the notification.
        assert_eq!(a.authenticate(&old), Ok(()));
        assert!(
            old.is_authenticated(),
            "the task checks this before closing"
        );
        assert_eq!((a.unauthenticated(), a.authenticated()), (1, 1));
    }
}
