//! The prefilter: which pattern groups can possibly match a piece of text.
//!
//! One pass with an ASCII-case-insensitive Aho-Corasick automaton over every trigger literal
//! (overlapping matches, so a literal starting inside another is found too), plus a digit-run
//! scan; short texts use a bigram table instead (no per-call setup). It must be *sound*: a group left out of the mask can never match the text.
//! Literals are lower case, so case-sensitive patterns just trigger a little more often. It
//! redacts nothing itself.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::group as G;
use super::keys::{self, KeyStem};

/// Built-in trigger literals (lower case, at least 3 bytes so the literal search can use
/// 3-byte fingerprints) and the groups they open. `@`, digit runs and JSON escapes are found
/// by [`byte_groups`] instead.
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
    ("hub_pat_", G::GITHUB),
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
    ("/home/", G::HOME_UNIX),
    ("/users/", G::HOME_UNIX | G::HOME_WIN),
    ("\\users\\", G::HOME_WIN),
    ("\\users/", G::HOME_WIN),
    ("/users\\", G::HOME_WIN),
    ("-home-", G::HOME_ENC),
    ("-users-", G::HOME_ENC),
];

/// Haystacks shorter than this are scanned with the bigram table (no per-call setup);
/// longer ones with the automaton.
const SHORT: usize = 256;

/// Compiled trigger literals.
pub(crate) struct Prefilter {
    /// Every literal, ASCII case-insensitively; pattern `i`'s groups are `groups[i]`.
    ac: AhoCorasick,
    groups: Vec<u32>,
    /// Literals by first byte: `(literal, groups)`.
    by_first: Vec<Vec<(Vec<u8>, u32)>>,
    /// One bit per lower-case first bigram of a literal.
    bigrams: Vec<u64>,
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
        // One pattern per literal, with the groups of all its entries.
        let mut merged: Vec<(&[u8], u32)> = Vec::new();
        for (l, g) in &lits {
            match merged.last_mut() {
                Some((last, groups)) if *last == l.as_slice() => *groups |= g,
                _ => merged.push((l, *g)),
            }
        }
        // A few dozen short literals: always builds, far below any limit.
        #[allow(clippy::expect_used)]
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(merged.iter().map(|(l, _)| l))
            .expect("trigger literals build");
        let groups = merged.iter().map(|(_, g)| *g).collect();
        let mut by_first = vec![Vec::new(); 256];
        let mut bigrams = vec![0u64; 1024];
        for (l, g) in lits {
            let k = bigram(
                l.first().copied().unwrap_or(0),
                l.get(1).copied().unwrap_or(0),
            );
            if l.len() < 2 {
                // Single-byte extra-key pieces: every bigram starting with that byte.
                for b in 0..=255u8 {
                    let k = bigram(l.first().copied().unwrap_or(0), b);
                    bigrams[k >> 6] |= 1 << (k & 63);
                }
            } else {
                bigrams[k >> 6] |= 1 << (k & 63);
            }
            if let Some(&b) = l.first() {
                by_first[usize::from(b)].push((l, g));
            }
        }
        Self {
            ac,
            groups,
            by_first,
            bigrams,
        }
    }

    /// The groups of the literals starting at `hay[i]` (compared case-insensitively).
    fn at(&self, hay: &[u8], i: usize) -> u32 {
        let rest = &hay[i..];
        self.by_first[usize::from(rest[0].to_ascii_lowercase())]
            .iter()
            .filter(|(l, _)| rest.len() >= l.len() && rest[..l.len()].eq_ignore_ascii_case(l))
            .fold(0, |acc, (_, g)| acc | g)
    }

    /// The groups triggered anywhere in `hay` (ASCII case-insensitively).
    pub(crate) fn groups(&self, hay: &[u8]) -> u32 {
        if hay.len() < SHORT {
            let mut mask = 0;
            for i in 0..hay.len() {
                let k = bigram(
                    hay[i].to_ascii_lowercase(),
                    hay.get(i + 1).map_or(0, u8::to_ascii_lowercase),
                );
                if self.bigrams[k >> 6] & (1 << (k & 63)) != 0 {
                    mask |= self.at(hay, i);
                }
            }
            return mask;
        }
        self.ac
            .find_overlapping_iter(hay)
            .fold(0, |m, x| m | self.groups[x.pattern().as_usize()])
    }
}

/// Index of the lower-case bigram `(a, b)` in the bigram bit table.
fn bigram(a: u8, b: u8) -> usize {
    usize::from(a) << 8 | usize::from(b)
}

/// Byte classes: 1 = digit, 2 = `@`, 3 = `\`, 0 = anything else.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = 1;
        d += 1;
    }
    t[b'@' as usize] = 2;
    t[b'\\' as usize] = 3;
    t
};

/// Whether any byte of `chunk` is a digit, `@` or `\` (branch-free, so it vectorizes).
fn interesting(chunk: &[u8]) -> bool {
    chunk.iter().fold(false, |a, &c| {
        a | (c.wrapping_sub(b'0') < 10) | (c == b'@') | (c == b'\\')
    })
}

/// The groups opened by bytes rather than literals: `AT` for an `@`, `ESC` for a `\u` or
/// `\/` JSON escape (which can hide a literal), and `CARD`/`SSN`/`PHONE` for runs of digits
/// (see [`digit_run`]).
pub(crate) fn byte_groups(hay: &[u8]) -> u32 {
    const CHUNK: usize = 32;
    let mut g = 0;
    let mut i = 0;
    while i < hay.len() {
        let end = (i + CHUNK).min(hay.len());
        if i % CHUNK == 0 && end - i == CHUNK && !interesting(&hay[i..end]) {
            i = end;
            continue;
        }
        match CLASS[usize::from(hay[i])] {
            0 => i += 1,
            1 => {
                let (e, rg) = digit_run(hay, i);
                g |= rg;
                i = e;
            }
            2 => {
                g |= G::AT;
                i += 1;
            }
            _ => {
                match hay.get(i + 1) {
                    Some(b'u' | b'/') => g |= G::ESC,
                    // An escaped backslash: the next byte is not an escape (`\\u`).
                    Some(b'\\') => i += 1,
                    _ => {}
                }
                i += 1;
            }
        }
    }
    g
}

/// Separator flags in a digit run.
const SEP_ANY: u8 = 1;
const SEP_DASH: u8 = 2;
const SEP_PLUS: u8 = 4;

/// Scans the run of digits starting at `hay[start]` (a digit), where up to three characters
/// among ` -.()+` may separate digit groups. Returns the end of the run and the numeric groups
/// it can feed.
///
/// Sound upper bounds of what the numeric passes accept: a match never uses the run's first
/// group when the run is glued to a word on the left (`a716-…`), nor its last group when
/// glued on the right, so only the digits and separators between the remaining ("usable")
/// groups count: `CARD` needs ≥ 13 usable digits; `SSN` ≥ 9 and a dash between usable
/// groups; `PHONE` ≥ 9 and a separator between usable groups or a `+` right before the run.
/// The same bits computed without the glue rule are returned shifted by `LOOSE_SHIFT`: an
/// earlier pass may replace the glueing word with a marker, so they apply whenever such a
/// pass runs on the same text.
pub(crate) fn digit_run(hay: &[u8], start: usize) -> (usize, u32) {
    // Fast path: most runs (ids, ports, dates) are short and feed nothing.
    let (mut i, mut digits, mut seps) = (start, 0u32, 0u32);
    while let Some(&b) = hay.get(i) {
        if b.is_ascii_digit() {
            digits += 1;
            seps = 0;
        } else if seps < 3 && matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+') {
            seps += 1;
        } else {
            break;
        }
        i += 1;
    }
    if digits < 9 {
        return (i, 0);
    }
    digit_groups(hay, start)
}

/// The slow path of [`digit_run`]: per-group accounting.
fn digit_groups(hay: &[u8], start: usize) -> (usize, u32) {
    // Digits per group, and separator flags between groups k and k+1 (the first 16; past
    // that every group and separator counts, conservatively).
    let mut groups = [0u32; 17];
    let mut sep_flags = [0u8; 16];
    let mut n = 0usize; // index of the current group
    let mut overflow = false;
    let mut pending_all = 0u8;
    let (mut seps, mut pending) = (0u32, 0u8);
    let mut total = 0u32;
    let mut last_digit_end = start;
    let mut i = start;
    while let Some(&b) = hay.get(i) {
        if b.is_ascii_digit() {
            if seps > 0 {
                if n < 16 {
                    sep_flags[n] = pending;
                    n += 1;
                } else {
                    overflow = true;
                    pending_all |= pending;
                }
                seps = 0;
                pending = 0;
            }
            groups[n] += 1;
            total += 1;
            last_digit_end = i + 1;
        } else if seps < 3 && matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+') {
            seps += 1;
            pending |= SEP_ANY
                | match b {
                    b'-' => SEP_DASH,
                    b'+' => SEP_PLUS,
                    _ => 0,
                };
        } else {
            break;
        }
        i += 1;
    }
    let plus_before = start > 0 && hay[start - 1] == b'+';
    let all_seps = sep_flags.iter().fold(pending_all, |a, f| a | f);
    let loose = num_bits(total, all_seps, plus_before) << G::LOOSE_SHIFT;
    let (usable, inner, plus) = if overflow {
        (total, SEP_ANY | SEP_DASH, plus_before)
    } else {
        let left_glued = !left_free(hay, start);
        let right_glued = hay
            .get(last_digit_end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        let lo = usize::from(left_glued);
        let hi = if right_glued {
            n.checked_sub(1)
        } else {
            Some(n)
        };
        match hi {
            Some(hi) if lo <= hi => (
                groups[lo..=hi].iter().sum::<u32>(),
                sep_flags[lo..hi].iter().fold(0, |a, f| a | f),
                // A `+` right before the first usable group may lead a phone number.
                if lo == 0 {
                    plus_before
                } else {
                    sep_flags[lo - 1] & SEP_PLUS != 0
                },
            ),
            _ => (0, 0, false),
        }
    };
    (i, num_bits(usable, inner, plus) | loose)
}

/// `CARD`/`SSN`/`PHONE` for a run with `digits` usable digits, separator flags `seps` between
/// them, and `plus` if a `+` leads it.
fn num_bits(digits: u32, seps: u8, plus: bool) -> u32 {
    let mut g = 0;
    if digits >= 13 {
        g |= G::CARD;
    }
    if digits >= 9 {
        if seps & SEP_DASH != 0 {
            g |= G::SSN;
        }
        if seps & SEP_ANY != 0 || plus {
            g |= G::PHONE;
        }
    }
    g
}

/// Whether the byte before `i` does not glue a number to a word: start, a byte other than
/// `[A-Za-z0-9_.]`, or a `\n`/`\r`/`\t` escape (the rule of the numeric passes).
pub(crate) fn left_free(b: &[u8], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let p = b[i - 1];
    if !(p.is_ascii_alphanumeric() || p == b'_' || p == b'.') {
        return true;
    }
    i >= 2 && b[i - 2] == b'\\' && matches!(p, b'n' | b'r' | b't')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers() {
        let p = Prefilter::new(&[]);
        assert_eq!(p.groups(b"plain words only"), 0);
        let m = p.groups(b"cd /home/alice && echo a@b.co PASSWORD");
        assert_eq!(m, G::HOME_UNIX | G::WORDS);
        // "secret" opens AWS and WORDS; overlapping literals are all found.
        let m = p.groups(b"Secret");
        assert_eq!(m & (G::AWS | G::WORDS), G::AWS | G::WORDS);
        assert_ne!(p.groups(b"xxsk-") & G::SK, 0);
        assert_ne!(p.groups(b"ghub_pat_") & G::GITHUB, 0);
        // Long haystacks take the automaton and must agree with the short path.
        let long = format!("{}{}", "x".repeat(300), "SeCrEt /home/ sk-ant-");
        let m = p.groups(long.as_bytes());
        assert_eq!(m, G::AWS | G::WORDS | G::HOME_UNIX | G::SK);
        assert_eq!(p.groups(&long.as_bytes()[300..]), m);
    }

    #[test]
    fn byte_group_rules() {
        let tight = |h: &[u8]| byte_groups(h) & !(G::NUM << G::LOOSE_SHIFT);
        assert_eq!(byte_groups(b"a@b"), G::AT);
        assert_eq!(tight(b"4111 1111 1111 1111"), G::CARD | G::PHONE);
        assert_eq!(tight(b"4111111111111111"), G::CARD);
        assert_eq!(tight(b"(415) 555-2671"), G::SSN | G::PHONE);
        assert_eq!(tight(b"+14155552671"), G::PHONE);
        assert_eq!(tight(b"123-45-6789"), G::SSN | G::PHONE);
        assert_eq!(byte_groups(b"2026-11-21T11:48:01Z"), 0);
        // UUID tails glued to hex letters feed nothing (unless an earlier pass runs).
        assert_eq!(tight(b"550e8400-e29b-41d4-a716-446655440000"), 0);
        assert_eq!(
            byte_groups(b"550e8400-e29b-41d4-a716-446655440000"),
            (G::CARD | G::SSN | G::PHONE) << G::LOOSE_SHIFT
        );
        assert_eq!(tight(b"x1234 4111111111111111"), G::CARD);
        assert_eq!(tight(b"4111111111111111x"), 0);
        assert_eq!(tight(b"a0 +14155552671"), G::PHONE);
        assert_eq!(
            byte_groups(b"v1.2.3 port 8080 size 12345678 id 1732190881"),
            0
        );
        assert_eq!(byte_groups(br#"a\u0040b"#), G::ESC);
        assert_eq!(byte_groups(br#"\/home"#), G::ESC);
        assert_eq!(byte_groups(br#"a\nb \\u"#), 0);
        let long = format!("{}4111111111111111{}", "x".repeat(70), "y".repeat(70));
        assert_eq!(tight(long.as_bytes()), 0);
        let long = format!("{} 4111111111111111 {}", "x".repeat(70), "y".repeat(70));
        assert_eq!(tight(long.as_bytes()), G::CARD);
    }
}
