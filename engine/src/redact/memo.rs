//! Redaction's use of the per-thread [`crate::memo`]: what redacting one string found, by the
//! string's raw bytes. Redacting a string is a pure function of the
//! [`Redactor`](super::Redactor) and the string, so the streaming walker looks each string up
//! before scanning it. Strings of 4–512 bytes are kept (shorter ones cost less to scan than to
//! look up; longer ones are mostly file contents and outputs, rarely repeated), in 512 slots per
//! thread: at most about 512 KiB of keys plus their redacted forms.

use std::cell::RefCell;
use std::sync::Arc;

use crate::memo::{self, Table};

/// What redacting one string found.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    /// The prefilter groups of the string (decoded), `EXTRA` included.
    pub(crate) mask: u32,
    /// The redacted text, when it changed.
    pub(crate) redacted: Option<Box<str>>,
    /// For a JSON string: the redacted text encoded as one (quotes included), ready to copy
    /// into the document on every hit.
    pub(crate) encoded: Option<Box<[u8]>>,
    /// Kinds found ([`Found::bits`](super::Found)).
    pub(crate) bits: u64,
    /// Extra kinds found (indexes into the redactor's extra names).
    pub(crate) extra: Box<[usize]>,
}

/// What the raw bytes of an entry are: one string's content as it sits in a JSON document
/// (escapes not decoded), or plain text. The same bytes mean different strings in the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Domain {
    Json,
    Text,
}

thread_local! {
    static MEMO: RefCell<Table<Entry>> = RefCell::new(Table::new(512, 4, 512));
}

/// The entry for `raw` (in `domain`) under the redactor tagged `tag`: this thread's, or
/// `compute`'s result.
pub(crate) fn entry<E>(
    tag: u64,
    domain: Domain,
    raw: &[u8],
    compute: impl FnOnce() -> Result<Entry, E>,
) -> Result<Arc<Entry>, E> {
    // Redactor tags are odd/even pairs: one per domain.
    let tag = tag << 1 | u64::from(domain == Domain::Text);
    memo::cached(&MEMO, tag, raw, compute)
}
