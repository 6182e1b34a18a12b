//! Reading one word: quoting (`'…'`, `"…"`, `$'…'`, `$"…"`, backslashes, line continuations),
//! expansions kept as written (`$VAR`, `${…}`, `$((…))`), and substitutions (`$( )`, backticks,
//! `<( )`, `>( )`), whose commands are analysed on the way and whose text stays in the word.
//!
//! Each function that can lead back to a command list (`$(`, backticks, `${`, `$((`) checks the
//! nesting level first; past the limit, the construct is skipped by [`Parser::skim`], which
//! keeps its own stack on the heap.

use super::Context;
use super::parse::{Parser, Term, is_assignment, is_meta};

/// A word as read: its text (quotes removed, expansions as written) and where it was.
pub(super) struct Word {
    pub text: String,
    pub start: usize,
    pub end: usize,
    /// Some part was quoted or escaped (a heredoc delimiter so written disables expansion).
    pub quoted: bool,
    /// Byte ranges of `text` that are expansions (`$X`, `${…}`, `$(…)`, backticks, `<(…)`):
    /// text bash computes when the command runs.
    pub(crate) exps: Vec<(usize, usize)>,
    /// Offsets in `text` of unquoted `$IFS`/`${IFS}`, where bash splits the word in two
    /// (`rm$IFS-rf$IFS/` is `rm -rf /`).
    pub(crate) splits: Vec<usize>,
}

impl Word {
    /// The word's pieces after `$IFS` splitting (usually the word itself), each with whether
    /// it would be a computed command name (see [`computed_name`]).
    pub fn pieces(self) -> Vec<(String, bool)> {
        if self.splits.is_empty() {
            let computed = computed_name(self.text.as_bytes(), &self.exps, 0);
            return vec![(self.text, computed)];
        }
        let mut out = Vec::new();
        let mut from = 0;
        for &at in self.splits.iter().chain(std::iter::once(&self.text.len())) {
            if let Some(piece) = self.text.get(from..at)
                && !piece.is_empty()
            {
                let exps: Vec<(usize, usize)> = self
                    .exps
                    .iter()
                    .filter(|&&(s, e)| s >= from && e <= at)
                    .map(|&(s, e)| (s - from, e - from))
                    .collect();
                out.push((piece.to_owned(), computed_name(piece.as_bytes(), &exps, 0)));
            }
            from = at;
        }
        out
    }
}

/// Whether `text` (a word whose expansions are at `exps`, offsets from `base`), used as a
/// command name, names a command bash only knows when it runs: an expansion reaches into
/// the part after the last literal `/` (`$X`, `${X:-rm}`, `$(which rm)`; not `$HOME/bin/tool`,
/// whose name is `tool`).
pub(super) fn computed_name(text: &[u8], exps: &[(usize, usize)], base: usize) -> bool {
    if exps.is_empty() {
        return false;
    }
    let inside = |i: usize| exps.iter().any(|&(s, e)| i + base >= s && i + base < e);
    let name_from = text
        .iter()
        .enumerate()
        .rev()
        .find(|&(i, &b)| b == b'/' && !inside(i))
        .map_or(0, |(i, _)| i + 1);
    let len = text.len();
    exps.iter()
        .any(|&(s, e)| e > name_from + base && s < len + base)
}

/// What [`Parser::word_into`] learns about a word besides its text.
struct Marks {
    quoted: bool,
    exps: Vec<(usize, usize)>,
    splits: Vec<usize>,
}

/// Bytes to a `String`, replacing invalid UTF-8 (which `$'\xff'` can make).
pub(super) fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl Parser<'_, '_> {
    /// Reads the word at `pos` (which must not be a metacharacter, except `<(`/`>(`).
    pub(crate) fn read_word(&mut self) -> Word {
        let start = self.pos;
        let mut buf = Vec::new();
        let mut marks = Marks {
            quoted: false,
            exps: Vec::new(),
            splits: Vec::new(),
        };
        self.word_into(&mut buf, &mut marks, false);
        let text = lossy(buf);
        if text.len() != self.pos - start && !marks.exps.is_empty() {
            // Invalid UTF-8 was replaced: offsets may be off; keep them within the text.
            let n = text.len();
            for r in &mut marks.exps {
                *r = (r.0.min(n), r.1.min(n));
            }
            marks.splits.retain(|&s| text.is_char_boundary(s.min(n)));
        }
        Word {
            text,
            start,
            end: self.pos,
            quoted: marks.quoted,
            exps: marks.exps,
            splits: marks.splits,
        }
    }

    fn word_into(&mut self, buf: &mut Vec<u8>, marks: &mut Marks, in_array: bool) {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b')' => break,
                b'<' | b'>' => {
                    if self.peek_at(1) != Some(b'(') {
                        break;
                    }
                    let (at, from) = (self.pos, buf.len());
                    self.pos += 2;
                    self.command_subst(Context::ProcessSubstitution);
                    buf.extend_from_slice(&self.src[at..self.pos]);
                    marks.exps.push((from, buf.len()));
                }
                b'(' => {
                    let raw = &self.src[start..self.pos];
                    if !in_array && raw.ends_with(b"=") && is_assignment(raw) {
                        self.array_literal(buf, marks);
                    } else if matches!(raw.last(), Some(b'?' | b'*' | b'+' | b'@' | b'!')) {
                        // extglob `@(a|b)`.
                        let at = self.pos;
                        self.pos += 1;
                        self.scan_balanced(b'(', b')', 1, false, "@(");
                        buf.extend_from_slice(&self.src[at..self.pos]);
                    } else {
                        break;
                    }
                }
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') => self.pos += 2,
                    Some(c) => {
                        marks.quoted = true;
                        buf.push(c);
                        self.pos += 2;
                    }
                    None => {
                        buf.push(b'\\');
                        self.pos += 1;
                    }
                },
                b'\'' => {
                    marks.quoted = true;
                    self.single_quoted(buf);
                }
                b'"' => {
                    marks.quoted = true;
                    self.pos += 1;
                    self.double_quoted_marked(buf, Some(&mut marks.exps));
                }
                b'$' => {
                    if let Some(n) = self.ifs_at() {
                        // Unquoted `$IFS` splits the word where it stands.
                        self.pos += n;
                        marks.splits.push(buf.len());
                        continue;
                    }
                    if matches!(self.peek_at(1), Some(b'\'' | b'"')) {
                        marks.quoted = true;
                    }
                    let (at, from) = (self.pos, buf.len());
                    let expanded = self.dollar(buf, false);
                    // `$"…"` is a quoted string; what it holds may still expand.
                    let inner = self.src[at + 1..self.pos]
                        .iter()
                        .any(|&c| c == b'$' || c == b'`');
                    if expanded || (self.src.get(at + 1) == Some(&b'"') && inner) {
                        marks.exps.push((from, buf.len()));
                    }
                }
                b'`' => {
                    let from = buf.len();
                    self.backtick(buf);
                    marks.exps.push((from, buf.len()));
                }
                _ => {
                    buf.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// The length of an unquoted `$IFS` or `${IFS}` at `pos`, if one is there.
    fn ifs_at(&self) -> Option<usize> {
        let rest = &self.src[self.pos..];
        if rest.starts_with(b"${IFS}") {
            return Some(6);
        }
        let name_char = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
        (rest.starts_with(b"$IFS") && !rest.get(4).is_some_and(name_char)).then_some(4)
    }

    /// `NAME=( … )` (at the `(`): the elements, joined by spaces.
    fn array_literal(&mut self, buf: &mut Vec<u8>, marks: &mut Marks) {
        buf.push(b'(');
        self.pos += 1;
        let mut first = true;
        loop {
            self.skip_blanks();
            match self.peek() {
                None => {
                    self.out.note("unterminated array");
                    return;
                }
                Some(b')') => {
                    self.pos += 1;
                    buf.push(b')');
                    return;
                }
                Some(b'\n') => self.newline(),
                Some(b'#') => {
                    let rest = &self.src[self.pos..];
                    self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                }
                Some(b'<' | b'>') if self.peek_at(1) == Some(b'(') => {
                    if !first {
                        buf.push(b' ');
                    }
                    first = false;
                    self.word_into(buf, marks, true);
                }
                Some(b) if is_meta(b) => self.pos += 1,
                Some(_) => {
                    if !first {
                        buf.push(b' ');
                    }
                    first = false;
                    self.word_into(buf, marks, true);
                }
            }
        }
    }

    /// `'…'` (at the opening quote).
    fn single_quoted(&mut self, buf: &mut Vec<u8>) {
        let rest = &self.src[self.pos + 1..];
        match rest.iter().position(|&b| b == b'\'') {
            Some(n) => {
                buf.extend_from_slice(&rest[..n]);
                self.pos += n + 2;
            }
            None => {
                self.out.note("unterminated single quote");
                buf.extend_from_slice(rest);
                self.pos = self.src.len();
            }
        }
    }

    /// The inside of `"…"` (after the opening quote), up to and including the closing quote.
    pub(crate) fn double_quoted(&mut self, buf: &mut Vec<u8>) {
        self.double_quoted_marked(buf, None);
    }

    /// [`Self::double_quoted`], recording the ranges of expansions in `buf` in `exps`.
    fn double_quoted_marked(
        &mut self,
        buf: &mut Vec<u8>,
        mut exps: Option<&mut Vec<(usize, usize)>>,
    ) {
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    self.pos += 1;
                    return;
                }
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') => self.pos += 2,
                    Some(c @ (b'$' | b'`' | b'"' | b'\\')) => {
                        buf.push(c);
                        self.pos += 2;
                    }
                    _ => {
                        buf.push(b'\\');
                        self.pos += 1;
                    }
                },
                b'$' => {
                    let from = buf.len();
                    if self.dollar(buf, true)
                        && let Some(e) = exps.as_deref_mut()
                    {
                        e.push((from, buf.len()));
                    }
                }
                b'`' => {
                    let from = buf.len();
                    self.backtick(buf);
                    if let Some(e) = exps.as_deref_mut() {
                        e.push((from, buf.len()));
                    }
                }
                _ => {
                    buf.push(b);
                    self.pos += 1;
                }
            }
        }
        self.out.note("unterminated double quote");
    }

    /// A `$` (at it): `$'…'` and `$"…"` are decoded (outside double quotes); substitutions are
    /// analysed; every expansion is kept in `buf` as written. Returns whether it was an
    /// expansion (not a quoted string or a lone `$`).
    pub(crate) fn dollar(&mut self, buf: &mut Vec<u8>, in_dq: bool) -> bool {
        let start = self.pos;
        match self.peek_at(1) {
            Some(b'\'') if !in_dq => {
                self.pos += 2;
                self.ansi_c(buf);
                return false;
            }
            Some(b'"') if !in_dq => {
                self.pos += 2;
                self.double_quoted(buf);
                return false;
            }
            Some(b'(') => {
                if self.peek_at(2) == Some(b'(') && self.arith_ahead(self.pos + 3) {
                    self.pos += 3;
                    self.scan_balanced(b'(', b')', 2, in_dq, "$((");
                } else {
                    self.pos += 2;
                    self.command_subst(Context::Substitution);
                }
            }
            Some(b'{') => {
                self.pos += 2;
                self.scan_balanced(b'{', b'}', 1, in_dq, "${");
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
            }
            Some(c) if c.is_ascii_digit() || b"@*#?$!-".contains(&c) => self.pos += 2,
            _ => {
                self.pos += 1;
                buf.push(b'$');
                return false;
            }
        }
        buf.extend_from_slice(&self.src[start..self.pos]);
        true
    }

    /// The commands of `$( … )` or `<( … )` (after the opening parenthesis).
    pub(crate) fn command_subst(&mut self, ctx: Context) {
        if self.nest >= self.out.max_depth {
            self.out.note("nesting too deep");
            self.skim(b")");
            return;
        }
        let (saved_ctx, saved_depth) = (self.ctx, self.depth);
        let piping = self.save_pipes();
        self.ctx = ctx;
        self.depth += 1;
        self.nest += 1;
        self.parse_list(Term::Paren);
        self.ctx = saved_ctx;
        self.depth = saved_depth;
        self.nest -= 1;
        self.restore_pipes(piping);
    }

    /// A backtick substitution (at the opening backtick): its unescaped contents are analysed.
    pub(crate) fn backtick(&mut self, buf: &mut Vec<u8>) {
        let start = self.pos;
        self.pos += 1;
        let mut inner = Vec::new();
        let mut closed = false;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => match self.peek() {
                    Some(c @ (b'`' | b'\\' | b'$')) => {
                        inner.push(c);
                        self.pos += 1;
                    }
                    _ => inner.push(b'\\'),
                },
                b'`' => {
                    closed = true;
                    break;
                }
                _ => inner.push(b),
            }
        }
        if !closed {
            self.out.note("unterminated backquote");
        }
        buf.extend_from_slice(&self.src[start..self.pos]);
        let (depth, nest) = (self.depth + 1, self.nest + 1);
        self.analyse_source(&inner, Context::Substitution, depth, nest);
    }

    /// `${…}`, `$((…))`, extglob `@(…)`: scans to the matching `close` (`count` of them are
    /// open), analysing the substitutions inside. `what` names the construct for the note
    /// when it is not closed.
    pub(crate) fn scan_balanced(
        &mut self,
        open: u8,
        close: u8,
        mut count: usize,
        in_dq: bool,
        what: &str,
    ) {
        if self.nest >= self.out.max_depth {
            self.out.note("nesting too deep");
            let closers = vec![close; count];
            self.skim(&closers);
            return;
        }
        self.nest += 1;
        let mut scratch = Vec::new();
        while let Some(b) = self.peek() {
            if self.out.stop {
                break;
            }
            match b {
                b'\\' => self.pos = (self.pos + 2).min(self.src.len()),
                b'\'' if !in_dq => self.single_quoted(&mut scratch),
                b'"' => {
                    self.pos += 1;
                    self.double_quoted(&mut scratch);
                }
                b'$' => {
                    self.dollar(&mut scratch, in_dq);
                }
                b'`' => self.backtick(&mut scratch),
                _ if b == open => {
                    count += 1;
                    self.pos += 1;
                }
                _ if b == close => {
                    count -= 1;
                    self.pos += 1;
                    if count == 0 {
                        break;
                    }
                }
                _ => self.pos += 1,
            }
            scratch.clear();
        }
        if count != 0 && !self.out.stop {
            self.out.note(&format!("unterminated `{what}`"));
        }
        self.nest -= 1;
    }

    /// Skips, without analysing, to the end of a construct too deep to analyse: `closers` are
    /// the closing bytes still expected (innermost last). Quotes and nested `$(`, `${`,
    /// backticks are followed on an explicit stack.
    pub(crate) fn skim(&mut self, closers: &[u8]) {
        let src = self.src;
        let mut stack = closers.to_vec();
        while let Some(&top) = stack.last() {
            let Some(&b) = src.get(self.pos) else {
                self.out.note("unterminated substitution");
                break;
            };
            self.pos += 1;
            let dollar_open = |pos: usize| match src.get(pos) {
                Some(b'(') => Some(b')'),
                Some(b'{') => Some(b'}'),
                _ => None,
            };
            match (top, b) {
                (_, b'\\') => self.pos += 1,
                (b'"', b'"') | (b'`', b'`') => {
                    stack.pop();
                }
                (b'`', _) => {}
                (_, b'$') => {
                    if let Some(c) = dollar_open(self.pos) {
                        self.pos += 1;
                        stack.push(c);
                    }
                }
                (_, b'`') => stack.push(b'`'),
                (b'"', _) => {}
                (_, b'\'') => {
                    let rest = &src[self.pos.min(src.len())..];
                    self.pos += rest
                        .iter()
                        .position(|&c| c == b'\'')
                        .map_or(rest.len(), |n| n + 1);
                }
                (_, b'"') => stack.push(b'"'),
                (_, b'(') => stack.push(b')'),
                _ if b == top => {
                    stack.pop();
                }
                _ => {}
            }
        }
        self.pos = self.pos.min(src.len());
    }

    /// The inside of `$'…'` (after the opening quote), decoded.
    fn ansi_c(&mut self, buf: &mut Vec<u8>) {
        loop {
            let Some(b) = self.peek() else {
                self.out.note("unterminated $'");
                return;
            };
            self.pos += 1;
            match b {
                b'\'' => return,
                b'\\' => self.ansi_escape(buf),
                _ => buf.push(b),
            }
        }
    }

    /// One escape of `$'…'` (after the backslash).
    fn ansi_escape(&mut self, buf: &mut Vec<u8>) {
        let Some(c) = self.peek() else {
            buf.push(b'\\');
            return;
        };
        self.pos += 1;
        let byte = match c {
            b'a' => 7,
            b'b' => 8,
            b'e' | b'E' => 0x1b,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'\\' | b'\'' | b'"' | b'?' => c,
            b'0'..=b'7' => {
                let v = self.digits(u32::from(c - b'0'), 8, 2);
                (v & 0xff) as u8
            }
            b'x' | b'u' | b'U' => {
                let max = match c {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let before = self.pos;
                let v = self.digits(0, 16, max);
                if self.pos == before {
                    buf.push(b'\\');
                    buf.push(c);
                } else if c == b'x' {
                    buf.push((v & 0xff) as u8);
                } else {
                    let ch = char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER);
                    buf.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                return;
            }
            b'c' => match self.peek() {
                Some(d) => {
                    self.pos += 1;
                    d & 0x1f
                }
                None => {
                    buf.extend_from_slice(b"\\c");
                    return;
                }
            },
            _ => {
                buf.push(b'\\');
                c
            }
        };
        buf.push(byte);
    }

    /// Up to `max` more digits in `radix`, accumulated onto `v`.
    fn digits(&mut self, mut v: u32, radix: u32, max: usize) -> u32 {
        for _ in 0..max {
            let Some(d) = self.peek().and_then(|b| char::from(b).to_digit(radix)) else {
                break;
            };
            v = v.wrapping_mul(radix).wrapping_add(d);
            self.pos += 1;
        }
        v
    }
}
