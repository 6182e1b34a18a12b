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
}

/// Bytes to a `String`, replacing invalid UTF-8 (which `$'\xff'` can make).
pub(super) fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl Parser<'_, '_> {
    /// Reads the word at `pos` (which must not be a metacharacter, except `<(`/`>(`).
    pub fn read_word(&mut self) -> Word {
        let start = self.pos;
        let mut buf = Vec::new();
        let mut quoted = false;
        self.word_into(&mut buf, &mut quoted, false);
        Word {
            text: lossy(buf),
            start,
            end: self.pos,
            quoted,
        }
    }

    fn word_into(&mut self, buf: &mut Vec<u8>, quoted: &mut bool, in_array: bool) {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b')' => break,
                b'<' | b'>' => {
                    if self.peek_at(1) != Some(b'(') {
                        break;
                    }
                    let at = self.pos;
                    self.pos += 2;
                    self.command_subst(Context::ProcessSubstitution);
                    buf.extend_from_slice(&self.src[at..self.pos]);
                }
                b'(' => {
                    let raw = &self.src[start..self.pos];
                    if !in_array && raw.ends_with(b"=") && is_assignment(raw) {
                        self.array_literal(buf, quoted);
                    } else if matches!(raw.last(), Some(b'?' | b'*' | b'+' | b'@' | b'!')) {
                        // extglob `@(a|b)`.
                        let at = self.pos;
                        self.pos += 1;
                        self.scan_balanced(b'(', b')', 1, false);
                        buf.extend_from_slice(&self.src[at..self.pos]);
                    } else {
                        break;
                    }
                }
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') => self.pos += 2,
                    Some(c) => {
                        *quoted = true;
                        buf.push(c);
                        self.pos += 2;
                    }
                    None => {
                        buf.push(b'\\');
                        self.pos += 1;
                    }
                },
                b'\'' => {
                    *quoted = true;
                    self.single_quoted(buf);
                }
                b'"' => {
                    *quoted = true;
                    self.pos += 1;
                    self.double_quoted(buf);
                }
                b'$' => {
                    if matches!(self.peek_at(1), Some(b'\'' | b'"')) {
                        *quoted = true;
                    }
                    self.dollar(buf, false);
                }
                b'`' => self.backtick(buf),
                _ => {
                    buf.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// `NAME=( … )` (at the `(`): the elements, joined by spaces.
    fn array_literal(&mut self, buf: &mut Vec<u8>, quoted: &mut bool) {
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
                    self.word_into(buf, quoted, true);
                }
                Some(b) if is_meta(b) => self.pos += 1,
                Some(_) => {
                    if !first {
                        buf.push(b' ');
                    }
                    first = false;
                    self.word_into(buf, quoted, true);
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
    pub fn double_quoted(&mut self, buf: &mut Vec<u8>) {
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
                b'$' => self.dollar(buf, true),
                b'`' => self.backtick(buf),
                _ => {
                    buf.push(b);
                    self.pos += 1;
                }
            }
        }
        self.out.note("unterminated double quote");
    }

    /// A `$` (at it): `$'…'` and `$"…"` are decoded (outside double quotes); substitutions are
    /// analysed; every expansion is kept in `buf` as written.
    pub fn dollar(&mut self, buf: &mut Vec<u8>, in_dq: bool) {
        let start = self.pos;
        match self.peek_at(1) {
            Some(b'\'') if !in_dq => {
                self.pos += 2;
                self.ansi_c(buf);
                return;
            }
            Some(b'"') if !in_dq => {
                self.pos += 2;
                self.double_quoted(buf);
                return;
            }
            Some(b'(') => {
                if self.peek_at(2) == Some(b'(') && self.arith_ahead(self.pos + 3) {
                    self.pos += 3;
                    self.scan_balanced(b'(', b')', 2, in_dq);
                } else {
                    self.pos += 2;
                    self.command_subst(Context::Substitution);
                }
            }
            Some(b'{') => {
                self.pos += 2;
                self.scan_balanced(b'{', b'}', 1, in_dq);
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
            _ => self.pos += 1,
        }
        buf.extend_from_slice(&self.src[start..self.pos]);
    }

    /// The commands of `$( … )` or `<( … )` (after the opening parenthesis).
    pub fn command_subst(&mut self, ctx: Context) {
        if self.nest >= self.out.max_depth {
            self.out.note("nesting too deep");
            self.skim(b")");
            return;
        }
        let (saved_ctx, saved_depth) = (self.ctx, self.depth);
        self.ctx = ctx;
        self.depth += 1;
        self.nest += 1;
        self.parse_list(Term::Paren);
        self.ctx = saved_ctx;
        self.depth = saved_depth;
        self.nest -= 1;
    }

    /// A backtick substitution (at the opening backtick): its unescaped contents are analysed.
    pub fn backtick(&mut self, buf: &mut Vec<u8>) {
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
    /// open), analysing the substitutions inside.
    pub fn scan_balanced(&mut self, open: u8, close: u8, mut count: usize, in_dq: bool) {
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
                b'$' => self.dollar(&mut scratch, in_dq),
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
            self.out.note("unterminated expansion");
        }
        self.nest -= 1;
    }

    /// Skips, without analysing, to the end of a construct too deep to analyse: `closers` are
    /// the closing bytes still expected (innermost last). Quotes and nested `$(`, `${`,
    /// backticks are followed on an explicit stack.
    pub fn skim(&mut self, closers: &[u8]) {
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
