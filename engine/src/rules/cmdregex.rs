//! The regexes rules match against shell command text (`command`, `piped_from`,
//! `session.edited_since.command`): compiled over bytes with ASCII classes.
//!
//! Bash splits words on ASCII blanks and names are ASCII; Unicode-aware classes (`\s`, `\S`,
//! `.`, `[^…]`, `\w`, `(?i)`) matched nothing more that matters in a command line, and compiled
//! into automata that decode UTF-8, several times larger: the default packs' command regexes
//! kept about 2 MB more, per copy. A pattern that needs Unicode (`\p{L}`) still gets it.
//!
//! A rule set compiles every ASCII command regex of its rules once more, into one
//! [`SharedSet`] ([`share`]); from then on each regex answers from that set (one pass over a
//! command's text tells every pattern's answer, memoised per thread) and its own automaton is
//! dropped. Before, the default packs kept each pattern twice: alone (about 1 MB in all) and in
//! the rule set's prefilter.

use std::cell::RefCell;
use std::convert::Infallible;
use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// A compiled command regex.
#[derive(Debug, Clone)]
pub struct CommandRegex {
    pattern: Box<str>,
    /// Whether it compiled without Unicode (it can join a [`SharedSet`]).
    ascii: bool,
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    /// Compiled alone.
    Own(Regex),
    /// Pattern `usize` of a rule set's shared set.
    Shared(Arc<SharedSet>, usize),
}

impl CommandRegex {
    /// Compiles `pattern` (`.` matches newlines too: a command's text may span lines).
    ///
    /// # Errors
    ///
    /// The regex error (of the Unicode attempt when both fail).
    pub fn new(pattern: &str, size_limit: usize) -> Result<Self, regex::Error> {
        let build = |unicode: bool| {
            RegexBuilder::new(pattern)
                .unicode(unicode)
                .size_limit(size_limit)
                .dot_matches_new_line(true)
                .build()
        };
        let (re, ascii) = match build(false) {
            Ok(re) => (re, true),
            Err(_) => (build(true)?, false),
        };
        Ok(Self {
            pattern: pattern.into(),
            ascii,
            engine: Engine::Own(re),
        })
    }

    /// Whether it matches somewhere in `text`.
    #[must_use]
    pub fn is_match(&self, text: &str) -> bool {
        match &self.engine {
            Engine::Own(re) => re.is_match(text.as_bytes()),
            Engine::Shared(set, i) => set.matches(text.as_bytes()).binary_search(i).is_ok(),
        }
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Its pattern's index in `set`, when it answers from that set.
    #[must_use]
    pub(crate) fn index_in(&self, set: &Arc<SharedSet>) -> Option<usize> {
        match &self.engine {
            Engine::Shared(s, i) if Arc::ptr_eq(s, set) => Some(*i),
            _ => None,
        }
    }
}

/// Command regexes compiled together: which of them match a text, in one pass.
#[derive(Debug)]
pub struct SharedSet {
    set: RegexSet,
    /// Names this set's entries in the per-thread memo.
    tag: u64,
}

thread_local! {
    /// Which patterns of a [`SharedSet`] match a simple command's text, by set and text (256
    /// slots, texts up to 1 KiB).
    static SET_MATCHES: RefCell<crate::memo::Table<Box<[usize]>>> =
        RefCell::new(crate::memo::Table::new(256, 1, 1024));
}

impl SharedSet {
    /// How many distinct patterns it holds.
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    /// The indexes of the patterns that match somewhere in `text`, ascending.
    pub(crate) fn matches(&self, text: &[u8]) -> Arc<Box<[usize]>> {
        crate::memo::cached::<_, Infallible>(&SET_MATCHES, self.tag, text, || {
            Ok(self.set.matches(text).iter().collect())
        })
        .unwrap_or_else(|e| match e {})
    }
}

/// Compiles the ASCII patterns among `regexes` into one set (each distinct pattern once) and
/// makes each of them answer from it, dropping its own automaton. Regexes that need Unicode,
/// or all of them when the set does not fit `size_limit`, keep their own.
pub(crate) fn share(
    regexes: &mut [&mut CommandRegex],
    size_limit: usize,
) -> Option<Arc<SharedSet>> {
    let mut patterns: Vec<&str> = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut index = Vec::with_capacity(regexes.len());
    for re in regexes.iter() {
        index.push(re.ascii.then(|| {
            *seen.entry(&*re.pattern).or_insert_with(|| {
                patterns.push(&re.pattern);
                patterns.len() - 1
            })
        }));
    }
    if patterns.is_empty() {
        return None;
    }
    let set = RegexSetBuilder::new(&patterns)
        .unicode(false)
        .size_limit(size_limit)
        .dot_matches_new_line(true)
        .build()
        .ok()?;
    let shared = Arc::new(SharedSet {
        set,
        tag: crate::memo::new_tag(),
    });
    for (re, i) in regexes.iter_mut().zip(index) {
        if let Some(i) = i {
            re.engine = Engine::Shared(Arc::clone(&shared), i);
        }
    }
    Some(shared)
}
