//! Shared copies of strings that many sessions repeat: tool names, rule names, project
//! directories, models, `tool:<name>` keys. One allocation per distinct string instead of one
//! per session and use; [`purge`] drops the ones nothing holds any more.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

static TABLE: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(Mutex::default);

/// The shared copy of `s`.
pub(crate) fn intern(s: &str) -> Arc<str> {
    let mut table = TABLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(a) = table.get(s) {
        return Arc::clone(a);
    }
    let a: Arc<str> = Arc::from(s);
    table.insert(Arc::clone(&a));
    a
}

/// Forgets strings only the table still holds (after sessions are evicted), and gives back
/// the table's slots once it is mostly empty: a flood of distinct projects or tools must not
/// leave its table behind.
pub(crate) fn purge() {
    let mut table = TABLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    table.retain(|a| Arc::strong_count(a) > 1);
    if table.capacity() > 256 && table.len() * 4 < table.capacity() {
        let keep = (table.len() * 2).max(256);
        table.shrink_to(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_string_until_nothing_holds_it() {
        let a = intern("intern-test-tool");
        let b = intern("intern-test-tool");
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b));
        purge();
        let len = || {
            TABLE
                .lock()
                .unwrap()
                .iter()
                .filter(|s| &***s == "intern-test-tool")
                .count()
        };
        assert_eq!(len(), 0);
        let c = intern("intern-test-tool");
        purge();
        assert_eq!(len(), 1, "still held: {c}");
    }
}
