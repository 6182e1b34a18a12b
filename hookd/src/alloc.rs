//! Giving memory back after a flood of sessions.
//!
//! hookd's allocator (mimalloc, set in `main.rs`) keeps a freed block with the thread that
//! allocated it; its pages go back to the system only when that thread allocates or collects
//! again. Sessions are allocated on the runtime's workers and freed by the eviction sweep on
//! another: after 100,000 sessions were evicted from an idle hookd, their pages stayed resident
//! (119 MB against 22 MB before the flood) until the next events happened to run on each worker.
//! So a large eviction bumps an epoch ([`request_release`]); each worker, when it next parks
//! (`on_thread_park`, installed in `main.rs`), collects once per epoch ([`on_park`]). The
//! check costs one atomic load per park.
//!
//! Compiling the rules (a few hundred regexes and glob sets) allocates several times what the
//! compiled rules keep, on the thread that loads them (the main thread at start, a blocking
//! thread on reload), which may not allocate again for a long time: that thread gives its
//! freed memory back right after loading ([`collect_here`]). Before, an idle hookd with the
//! default packs kept about 5 MB of freed compile-time memory resident.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The allocator's "give this thread's freed memory back" (set by `main.rs`, which owns the
/// allocator; unset in tests and other binaries, where [`collect_here`] does nothing).
static COLLECT: OnceLock<fn()> = OnceLock::new();

/// Sets the function [`collect_here`] and the parked workers call.
pub fn set_collector(collect: fn()) {
    let _ = COLLECT.set(collect);
}

/// Gives the calling thread's freed memory back to the system now.
pub fn collect_here() {
    if let Some(collect) = COLLECT.get() {
        collect();
    }
}

static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SEEN: Cell<u64> = const { Cell::new(0) };
}

/// Asks every worker to give its freed memory back when it next parks.
pub fn request_release() {
    EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// Runs `collect` on this thread if a release was asked for since it last ran here.
pub fn on_park(collect: impl FnOnce()) {
    let epoch = EPOCH.load(Ordering::Relaxed);
    if SEEN.with(Cell::get) != epoch {
        SEEN.with(|s| s.set(epoch));
        collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_collects_once_per_request() {
        let mut n = 0;
        on_park(|| n += 1);
        on_park(|| n += 1);
        request_release();
        on_park(|| n += 1);
        on_park(|| n += 1);
        // Another thread collects for the same request too.
        let other = std::thread::spawn(|| {
            let mut m = 0;
            on_park(|| m += 1);
            on_park(|| m += 1);
            m
        })
        .join()
        .unwrap();
        assert!((1..=2).contains(&n), "{n}");
        assert_eq!(other, 1);
    }
}
