//! Per-thread memo tables for pure functions of a string.
//!
//! Most strings hookd works on repeat from event to event: the session id, the transcript path
//! and the working directory come in every event of a session; keys and tool names in all of
//! them; many commands (`git status`, `cargo test`) again and again. Redacting a string and
//! analysing a shell command are pure functions of the string (and of a compiled
//! configuration, named by a tag), so their results are kept here.
//!
//! A [`Table`] is a fixed array of slots, 2-way set associative: a string goes to one of the two
//! slots its hash picks, replacing what was there (the first way is filled first, so a string
//! that keeps coming back stays while one-offs churn through the second). Lookups compare the
//! tag and the whole string, so a hash collision costs a miss, never a wrong answer. Only
//! strings of a table's length range are kept, which bounds its memory. Each thread has its own
//! tables (`thread_local!`): no locks, no sharing between workers.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::thread::LocalKey;

/// A memo table: see the module docs.
pub struct Table<V> {
    slots: Vec<Option<Slot<V>>>,
    min_len: usize,
    max_len: usize,
}

struct Slot<V> {
    tag: u64,
    hash: u64,
    key: Box<[u8]>,
    value: Arc<V>,
}

impl<V> Table<V> {
    /// A table of `slots` slots (rounded up to a power of two, at least 2) keeping strings of
    /// `min_len..=max_len` bytes.
    #[must_use]
    pub fn new(slots: usize, min_len: usize, max_len: usize) -> Self {
        let n = slots.max(2).next_power_of_two();
        Self {
            slots: (0..n).map(|_| None).collect(),
            min_len,
            max_len,
        }
    }

    /// The two slots a hash may use.
    fn ways(&self, hash: u64) -> (usize, usize) {
        // The high bits: foldhash mixes them best.
        let a = (hash >> 32) as usize & (self.slots.len() - 1);
        (a, a ^ 1)
    }

    fn get(&self, tag: u64, hash: u64, key: &[u8]) -> Option<Arc<V>> {
        let (a, b) = self.ways(hash);
        [a, b].into_iter().find_map(|i| match &self.slots[i] {
            Some(s) if s.hash == hash && s.tag == tag && *s.key == *key => {
                Some(Arc::clone(&s.value))
            }
            _ => None,
        })
    }

    fn put(&mut self, tag: u64, hash: u64, key: &[u8], value: Arc<V>) {
        let (a, b) = self.ways(hash);
        let i = if self.slots[a].is_none() { a } else { b };
        self.slots[i] = Some(Slot {
            tag,
            hash,
            key: key.into(),
            value,
        });
    }
}

/// The value for `key` under `tag`: this thread's from `table`, or `compute`'s result (kept
/// when `key`'s length is in the table's range).
///
/// # Errors
///
/// `compute`'s error (nothing is kept then).
pub(crate) fn cached<V, E>(
    table: &'static LocalKey<RefCell<Table<V>>>,
    tag: u64,
    key: &[u8],
    compute: impl FnOnce() -> Result<V, E>,
) -> Result<Arc<V>, E> {
    let kept = table.with(|t| {
        let t = t.borrow();
        (t.min_len..=t.max_len).contains(&key.len())
    });
    if !kept {
        // Not hashed either: a long string (a file's contents) would cost a pass for nothing.
        return compute().map(Arc::new);
    }
    let hash = foldhash::fast::FixedState::default().hash_one((tag, key));
    if let Some(v) = table.with(|t| t.borrow().get(tag, hash, key)) {
        return Ok(v);
    }
    let v = Arc::new(compute()?);
    table.with(|t| t.borrow_mut().put(tag, hash, key, Arc::clone(&v)));
    Ok(v)
}

/// A process-wide unique tag for a compiled configuration (a redactor, a rule set), so that
/// results computed under one are never returned under another.
pub(crate) fn new_tag() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    thread_local! {
        static T: RefCell<Table<u64>> = RefCell::new(Table::new(512, 4, 64));
    }

    /// The value for `key` under `tag` (computing `v` if needed), and whether it was computed.
    fn value(tag: u64, key: &[u8], v: u64) -> (u64, bool) {
        let mut computed = false;
        let got = cached::<_, Infallible>(&T, tag, key, || {
            computed = true;
            Ok(v)
        })
        .unwrap_or_else(|e| match e {});
        (*got, computed)
    }

    #[test]
    fn hit_needs_same_tag_and_bytes() {
        let key = b"/home/alice/src/project/file.rs";
        assert_eq!(value(7, key, 2), (2, true));
        assert_eq!(value(7, key, 3), (2, false), "kept");
        assert_eq!(value(8, key, 4), (4, true), "another tag");
        assert_eq!(value(7, b"/home/bob/src/project/file.rs", 5), (5, true));
        assert_eq!(value(7, key, 6), (2, false));
    }

    #[test]
    fn two_strings_in_one_set_both_stay() {
        let key = |i: u32| format!("colliding-string-{i}");
        let set = |i: u32| {
            let h = foldhash::fast::FixedState::default().hash_one((3u64, key(i).as_bytes()));
            T.with(|t| t.borrow().ways(h).0 & !1)
        };
        let first = set(0);
        let other = (1..100_000)
            .find(|&i| set(i) == first)
            .expect("a collision");
        assert_eq!(value(3, key(0).as_bytes(), 1), (1, true));
        assert_eq!(value(3, key(other).as_bytes(), 2), (2, true));
        assert_eq!(value(3, key(0).as_bytes(), 9), (1, false));
        assert_eq!(value(3, key(other).as_bytes(), 9), (2, false));
    }

    #[test]
    fn only_kept_lengths_are_kept() {
        assert_eq!(value(1, b"abc", 1), (1, true));
        assert_eq!(value(1, b"abc", 2), (2, true), "too short");
        let long = vec![b'x'; 65];
        assert_eq!(value(1, &long, 1), (1, true));
        assert_eq!(value(1, &long, 2), (2, true), "too long");
        assert_eq!(value(1, &long[..64], 3), (3, true));
        assert_eq!(value(1, &long[..64], 4), (3, false), "longest kept");
    }

    #[test]
    fn tags_are_unique() {
        assert_ne!(new_tag(), new_tag());
    }
}
