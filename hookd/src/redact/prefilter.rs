//! The prefilter: which pattern groups can possibly match a piece of text.
//!
//! One pass over an ASCII-lower-cased copy (a per-thread scratch buffer) with a single
//! multi-literal regex (the `regex` crate runs it as a SIMD/Aho-Corasick literal search), plus
//! a digit-run scan. It must be *sound*: a group left out of the mask can never match the text.
//! Literals are lower case, so case-sensitive patterns just trigger a little more often. It
//! redacts nothing itself.

use std::cell::RefCell;

use regex::bytes::Regex;

use super::group as G;
use super::keys::{self, KeyStem};

/// Built-in trigger literals (lower case) and the groups they open.
const LITERALS: &[(&str, u32)] = &[
    ("private key", G::PEM),
    ("://", G::URL),
    ("eyj", G::JWT),
    ("sk-", G::SK),
    ("ghp_", G::GITHUB),
    ("gho_", G::GITHUB),
    ("ghu_", G::GITHUB),
    ("ghs_", G::GITHUB),
    ("ghr_", G::GITHUB),
    ("github_pat_", G::GITHUB),
    ("glpat-", G::GITLAB),
    ("xox", G::SLACK),
    ("aiza", G::GOOGLE),
    ("k_live_", G::STRIPE),
    ("k_test_", G::STRIPE),
    ("npm_", G::NPM),
    ("hf_", G::HF),
    ("pypi-", G::PYPI),
    ("akia", G::AWS),
    ("asia", G::AWS),
    ("abia", G::AWS),
    ("acca", G::AWS),
    // The AWS secret label (`aws_secret…`, `secret_access_key`) contains "secret".
    ("secret", G::AWS | G::WORDS),
    ("bearer", G::BEARER),
    ("@", G::AT),
    ("/home/", G::HOME),
    ("/users/", G::HOME),
    ("\\users\\", G::HOME),
    ("\\users/", G::HOME),
    ("/users\\", G::HOME),
    ("-home-", G::HOME),
    ("-users-", G::HOME),
    // JSON escapes that can hide a literal: the escaped string is decoded and scanned again.
    ("\\u", G::ESC),
    ("\\/", G::ESC),
];

/// Compiled trigger literals.
pub(crate) struct Prefilter {
    re: Regex,
    /// Literals by first byte: `(literal, groups)`.
    by_first: Vec<Vec<(Vec<u8>, u32)>>,
}

thread_local! {
    static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Prefilter {
    /// Built-in literals plus the pieces of the built-in sensitive-key stems (group `WORDS`)
    /// and of the configured extra keys `extra` (group `XKEYS`).
    pub(crate) fn new(extra: &[KeyStem]) -> Self {
        let mut lits: Vec<(Vec<u8>, u32)> = LITERALS
            .iter()
            .map(|(l, g)| (l.as_bytes().to_vec(), *g))
            .collect();
        for p in keys::builtin_pieces() {
            lits.push((p.as_bytes().to_vec(), G::WORDS));
        }
        for s in extra {
            lits.push((s.piece.as_bytes().to_vec(), G::XKEYS));
        }
        lits.sort();
        lits.dedup();
        // Longest first, so the alternation reports the longest literal at a position.
        let mut order: Vec<&Vec<u8>> = lits.iter().map(|(l, _)| l).collect();
        order.sort_by_key(|l| std::cmp::Reverse(l.len()));
        order.dedup();
        let alt: Vec<String> = order
            .iter()
            .map(|l| regex::escape(&String::from_utf8_lossy(l)))
            .collect();
        // Built from escaped literals only, so it always compiles and stays far below the
        // size limit (a few hundred literals at most).
        #[allow(clippy::expect_used)]
        let re = Regex::new(&format!("(?-u){}", alt.join("|"))).expect("escaped literals compile");
        let mut by_first = vec![Vec::new(); 256];
        for (l, g) in lits {
            if let Some(&b) = l.first() {
                by_first[usize::from(b)].push((l, g));
            }
        }
        Self { re, by_first }
    }

    /// The groups triggered anywhere in `hay`; each trigger's offset and groups are appended
    /// to `out` in increasing offset order.
    pub(crate) fn scan(&self, hay: &[u8], out: &mut Vec<(usize, u32)>) -> u32 {
        LOWER.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            buf.extend(hay.iter().map(u8::to_ascii_lowercase));
            let mut mask = 0;
            let mut at = 0;
            while let Some(m) = self.re.find_at(&buf, at) {
                let rest = &buf[m.start()..];
                let g = self.by_first[usize::from(rest[0])]
                    .iter()
                    .filter(|(l, _)| rest.starts_with(l))
                    .fold(0, |acc, (_, g)| acc | g);
                out.push((m.start(), g));
                mask |= g;
                // Overlapping literals: resume one byte on, not after the match.
                at = m.start() + 1;
            }
            mask
        })
    }
}

/// Whether `hay` has a run of at least 9 digits, where up to three characters among
/// ` -.()+` may separate digits (`(415) 555-2671`, `4111 1111 1111 1111`, `123-45-6789`).
pub(crate) fn has_digit_run(hay: &[u8]) -> bool {
    let mut digits = 0u32;
    let mut seps = 0u32;
    for &b in hay {
        if b.is_ascii_digit() {
            digits += 1;
            seps = 0;
            if digits >= 9 {
                return true;
            }
        } else if digits > 0 && seps < 3 && matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+') {
            seps += 1;
        } else {
            digits = 0;
            seps = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers() {
        let p = Prefilter::new(&[]);
        let mut v = Vec::new();
        assert_eq!(p.scan(b"plain words only", &mut v), 0);
        assert!(v.is_empty());
        let m = p.scan(b"cd /home/alice && echo a@b.co PASSWORD", &mut v);
        assert_eq!(m, G::HOME | G::AT | G::WORDS);
        assert_eq!(v.len(), 3);
        // "secret" opens AWS and WORDS; overlapping "sk-" inside "task-sk-" still found.
        let m = p.scan(b"Secret", &mut Vec::new());
        assert_eq!(m & (G::AWS | G::WORDS), G::AWS | G::WORDS);
        assert_ne!(p.scan(b"xxsk-", &mut Vec::new()) & G::SK, 0);
    }

    #[test]
    fn digit_runs() {
        assert!(has_digit_run(b"4111 1111 1111 1111"));
        assert!(has_digit_run(b"(415) 555-2671"));
        assert!(has_digit_run(b"123-45-6789"));
        assert!(!has_digit_run(b"2026-11-21T11:48:01Z"));
        assert!(!has_digit_run(b"v1.2.3 port 8080 size 12345678"));
    }
}
