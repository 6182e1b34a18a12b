//! A per-thread memo of string redactions.
//!
//! Most strings of a hook payload repeat from event to event: the session id, the transcript
//! path and the working directory come in every event of a session, and keys, tool names and
//! many commands recur across sessions. Redacting a string is a pure function of the
//! [`Redactor`](super::Redactor) and the string's raw JSON bytes, so the streaming walker looks
//! each string up here before scanning it, and stores what it found after.
//!
//! The memo is a fixed table of [`SLOTS`] slots per thread, 2-way set associative: a string
//! goes to one of the two slots its hash picks, replacing what was there. Lookups compare the whole raw string, so a hash
//! collision costs a miss, never a wrong answer. Entries are tagged with the redactor's id:
//! a reloaded configuration never sees the old one's results. Only strings of
//! [`MIN_LEN`]..=[`MAX_LEN`] bytes are kept (shorter ones cost less to scan than to look up;
//! longer ones are mostly file contents and outputs, rarely repeated), which bounds the memo at
//! about `SLOTS × 2 × MAX_LEN` bytes per thread.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::rc::Rc;

/// Slots per thread (a power of two).
pub(crate) const SLOTS: usize = 512;
/// Shortest string kept, in raw bytes. Even a key of a few bytes costs more to scan (the
/// bigram table, per byte) than to look up.
pub(crate) const MIN_LEN: usize = 4;
/// Longest string kept, in raw bytes.
pub(crate) const MAX_LEN: usize = 512;

/// What redacting one string found.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    /// The prefilter groups of the string (decoded), `EXTRA` included.
    pub(crate) mask: u32,
    /// The redacted text, when it changed.
    pub(crate) redacted: Option<Box<str>>,
    /// Kinds found ([`Found::bits`](super::Found)).
    pub(crate) bits: u64,
    /// Extra kinds found (indexes into the redactor's extra names).
    pub(crate) extra: Box<[usize]>,
}

/// What the raw bytes of an entry are: one string's content as it sits in a JSON document
/// (escapes not decoded), or plain text. The same bytes mean different strings in the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Domain {
    Json,
    Text,
}

/// A string's result: from the memo, or computed for this string alone.
pub(crate) enum Got {
    Shared(Rc<Entry>),
    Owned(Entry),
}

impl std::ops::Deref for Got {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        match self {
            Got::Shared(e) => e,
            Got::Owned(e) => e,
        }
    }
}

struct Slot {
    redactor: u64,
    domain: Domain,
    hash: u64,
    raw: Box<[u8]>,
    entry: Rc<Entry>,
}

thread_local! {
    static MEMO: RefCell<Vec<Option<Slot>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// The entry for `raw` under redactor `redactor`: this thread's, or `compute`'s result (kept
/// when `raw` has a memo-able length).
pub(crate) fn entry<E>(
    redactor: u64,
    domain: Domain,
    raw: &[u8],
    compute: impl FnOnce() -> Result<Entry, E>,
) -> Result<Got, E> {
    if !keeps(raw.len()) {
        return compute().map(Got::Owned);
    }
    let hash = foldhash::fast::FixedState::default().hash_one((domain, raw));
    let (a, b) = ways(hash);
    let hit = MEMO.with(|m| {
        let m = m.borrow();
        [a, b].into_iter().find_map(|i| match &m[i] {
            Some(s)
                if s.hash == hash
                    && s.redactor == redactor
                    && s.domain == domain
                    && *s.raw == *raw =>
            {
                Some(Rc::clone(&s.entry))
            }
            _ => None,
        })
    });
    if let Some(e) = hit {
        return Ok(Got::Shared(e));
    }
    let e = Rc::new(compute()?);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        // An empty way if there is one, else the second: a string that keeps coming back
        // stays in the first way while one-offs churn through the second.
        let i = if m[a].is_none() { a } else { b };
        m[i] = Some(Slot {
            redactor,
            domain,
            hash,
            raw: raw.into(),
            entry: Rc::clone(&e),
        });
    });
    Ok(Got::Shared(e))
}

/// Whether a string of `len` raw bytes is worth keeping.
fn keeps(len: usize) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&len)
}

/// The two slots a hash may use (2-way set associative: two strings of one payload that pick
/// the same slot do not evict each other).
fn ways(hash: u64) -> (usize, usize) {
    // The high bits: foldhash mixes them best.
    let a = (hash >> 32) as usize & (SLOTS - 1);
    (a, a ^ 1)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn entry_bits(redactor: u64, domain: Domain, raw: &[u8], bits: u64) -> (u64, bool) {
        let mut computed = false;
        let e = entry::<Infallible>(redactor, domain, raw, || {
            computed = true;
            Ok(Entry {
                bits,
                ..Entry::default()
            })
        })
        .unwrap_or_else(|e| match e {});
        (e.bits, computed)
    }

    #[test]
    fn hit_needs_same_redactor_domain_and_bytes() {
        let raw = b"/home/alice/src/project/file.rs";
        assert_eq!(entry_bits(7, Domain::Json, raw, 2), (2, true));
        assert_eq!(entry_bits(7, Domain::Json, raw, 3), (2, false), "kept");
        assert_eq!(
            entry_bits(8, Domain::Json, raw, 4),
            (4, true),
            "another redactor"
        );
        assert_eq!(
            entry_bits(8, Domain::Text, raw, 5),
            (5, true),
            "another domain"
        );
        let other = b"/home/bob/src/project/file.rs";
        assert_eq!(entry_bits(8, Domain::Text, other, 6), (6, true));
    }

    #[test]
    fn two_strings_in_one_set_both_stay() {
        // Find two strings whose hashes pick the same pair of slots.
        let key = |i: u32| format!("colliding-string-{i}");
        let set = |i: u32| {
            ways(foldhash::fast::FixedState::default().hash_one((Domain::Json, key(i).as_bytes())))
                .0
                & !1
        };
        let first = set(0);
        let other = (1..100_000)
            .find(|&i| set(i) == first)
            .expect("a collision");
        assert_eq!(entry_bits(3, Domain::Json, key(0).as_bytes(), 1), (1, true));
        assert_eq!(
            entry_bits(3, Domain::Json, key(other).as_bytes(), 2),
            (2, true)
        );
        assert_eq!(
            entry_bits(3, Domain::Json, key(0).as_bytes(), 9),
            (1, false)
        );
        assert_eq!(
            entry_bits(3, Domain::Json, key(other).as_bytes(), 9),
            (2, false)
        );
    }

    #[test]
    fn kept_lengths() {
        assert!(!keeps(MIN_LEN - 1));
        assert!(keeps(MIN_LEN));
        assert!(keeps(MAX_LEN));
        assert!(!keeps(MAX_LEN + 1));
        let long = vec![b'x'; MAX_LEN + 1];
        assert_eq!(entry_bits(1, Domain::Text, &long, 1), (1, true));
        assert_eq!(entry_bits(1, Domain::Text, &long, 2), (2, true), "not kept");
    }
}
