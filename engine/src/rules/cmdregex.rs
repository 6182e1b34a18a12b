//! The regexes rules match against shell command text (`command`, `piped_from`,
//! `session.edited_since.command`): compiled over bytes with ASCII classes.
//!
//! Bash splits words on ASCII blanks and names are ASCII; Unicode-aware classes (`\s`, `\S`,
//! `.`, `[^…]`, `\w`, `(?i)`) matched nothing more that matters in a command line, and compiled
//! into automata that decode UTF-8, several times larger: the default packs' command regexes
//! kept about 2 MB more, per copy. A pattern that needs Unicode (`\p{L}`) still gets it.

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// A compiled command regex.
#[derive(Debug, Clone)]
pub struct CommandRegex {
    re: Regex,
    /// Whether it compiled without Unicode (it can join a [`set`] of such patterns).
    ascii: bool,
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
        match build(false) {
            Ok(re) => Ok(Self { re, ascii: true }),
            Err(_) => build(true).map(|re| Self { re, ascii: false }),
        }
    }

    /// Whether it matches somewhere in `text`.
    #[must_use]
    pub fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text.as_bytes())
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }
}

/// One set of `patterns` (for a prefilter), when they all compiled without Unicode and the set
/// fits `size_limit`.
#[must_use]
pub fn set(patterns: &[&CommandRegex], size_limit: usize) -> Option<RegexSet> {
    if patterns.iter().any(|p| !p.ascii) {
        return None;
    }
    RegexSetBuilder::new(patterns.iter().map(|p| p.as_str()))
        .unicode(false)
        .size_limit(size_limit)
        .dot_matches_new_line(true)
        .build()
        .ok()
}
