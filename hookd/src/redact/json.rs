//! Streaming redaction of a JSON document, without building a `serde_json::Value`.
//!
//! A strict RFC 8259 scanner walks the bytes once, tracking whether the current value sits
//! under a sensitive key. Only strings and numbers that change are re-encoded and spliced in;
//! everything else (formatting, key order, duplicate keys) is copied through, so an unchanged
//! document costs no allocation. Strings without escapes are matched in place using the
//! payload-wide prefilter triggers; strings with escapes are decoded (via `serde_json`, which
//! also validates them) and scanned on their own. Any syntax error returns [`Invalid`] so the
//! caller can fall back to text redaction; nesting deeper than [`MAX_DEPTH`] counts as
//! invalid. It must produce the same values as `Redactor::redact_value` on the parsed
//! document.

use std::borrow::Cow;

use super::{Found, Kind, Redactor, group, is_marker, patterns, prefilter};

/// Not a JSON document (or nested too deeply).
#[derive(Debug)]
pub(crate) struct Invalid;

/// Nesting limit (as `serde_json`'s default recursion limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// Redacts the JSON document `text`. `triggers` are the prefilter hits over `text`, in offset
/// order. `Ok(None)`: nothing changed.
pub(crate) fn redact(
    r: &Redactor,
    text: &str,
    triggers: &[(usize, u32)],
    found: &mut Found,
) -> Result<Option<Vec<u8>>, Invalid> {
    let mut w = Walker {
        r,
        s: text,
        b: text.as_bytes(),
        pos: 0,
        out: Vec::new(),
        copied: 0,
        changed: false,
        trig: triggers,
        ti: 0,
        found,
    };
    w.ws();
    w.value(false, 0)?;
    w.ws();
    if w.pos != w.b.len() {
        return Err(Invalid);
    }
    if !w.changed {
        return Ok(None);
    }
    let mut out = w.out;
    out.extend_from_slice(&w.b[w.copied..]);
    Ok(Some(out))
}

/// A string token: `start..end` includes the quotes, `cstart..cend` is the raw content.
struct Tok {
    start: usize,
    end: usize,
    cstart: usize,
    cend: usize,
    esc: bool,
    /// Byte groups of the raw content (meaningful when `!esc`).
    groups: u32,
}

/// Whether `chunk` holds a byte of [`STRING_CLASS`].
fn stops(chunk: &[u8]) -> bool {
    chunk.iter().fold(false, |a, &c| {
        a | (c < 0x20) | (c == b'"') | (c == b'\\') | (c == b'@') | (c.wrapping_sub(b'0') < 10)
    })
}

/// Bytes the string scanner stops at: `"`, `\\`, control characters (invalid), `@`, digits.
const STRING_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = 1;
        c += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[b'@' as usize] = 1;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = 1;
        d += 1;
    }
    t
};

struct Walker<'a, 'r, 'f> {
    r: &'r Redactor,
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    copied: usize,
    changed: bool,
    trig: &'a [(usize, u32)],
    ti: usize,
    found: &'f mut Found,
}

impl Walker<'_, '_, '_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), Invalid> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    fn value(&mut self, sensitive: bool, depth: usize) -> Result<(), Invalid> {
        match self.peek().ok_or(Invalid)? {
            b'{' => self.object(sensitive, depth),
            b'[' => self.array(sensitive, depth),
            b'"' => {
                let t = self.string()?;
                if sensitive {
                    self.sensitive_string(&t)
                } else {
                    self.text_string(&t).map(drop)
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(sensitive),
            _ => Err(Invalid),
        }
    }

    fn object(&mut self, sensitive: bool, depth: usize) -> Result<(), Invalid> {
        if depth >= MAX_DEPTH {
            return Err(Invalid);
        }
        self.pos += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(Invalid);
            }
            let k = self.string()?;
            // Sensitivity is judged on the redacted key (what a second redaction would see).
            let gate = self.key_gate(&k);
            let redacted = self.text_string(&k)?;
            let ks = sensitive
                || (gate
                    && match redacted {
                        Some(n) => self.r.key_sensitive(&n),
                        None => self.r.key_sensitive(&decode(self.s, &k)?),
                    });
            self.ws();
            self.expect(b':')?;
            self.ws();
            self.value(ks, depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Invalid),
            }
        }
    }

    fn array(&mut self, sensitive: bool, depth: usize) -> Result<(), Invalid> {
        if depth >= MAX_DEPTH {
            return Err(Invalid);
        }
        self.pos += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.value(sensitive, depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Invalid),
            }
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), Invalid> {
        if self.b[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// Scans a string token at `pos` (which holds `"`), noting escapes and the byte groups
    /// of its content (`@`, digit runs: as `prefilter::byte_groups`).
    fn string(&mut self) -> Result<Tok, Invalid> {
        let b = self.b;
        let start = self.pos;
        let cstart = start + 1;
        let mut i = cstart;
        let mut esc = false;
        let mut groups = 0;
        loop {
            // Skip 16-byte chunks without a stop byte (branch-free test, vectorizes), then
            // single bytes.
            while i + 16 <= b.len() && !stops(&b[i..i + 16]) {
                i += 16;
            }
            while i < b.len() && STRING_CLASS[usize::from(b[i])] == 0 {
                i += 1;
            }
            let c = *b.get(i).ok_or(Invalid)?;
            match c {
                b'"' => break,
                b'\\' => {
                    esc = true;
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = b.get(i + 2..i + 6).ok_or(Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Invalid);
                            }
                            i += 6;
                        }
                        _ => return Err(Invalid),
                    }
                }
                b'@' => {
                    groups |= group::AT;
                    i += 1;
                }
                b'0'..=b'9' => {
                    let (end, g) = prefilter::digit_run(b, i);
                    groups |= g;
                    i = end;
                }
                _ => return Err(Invalid),
            }
        }
        self.pos = i + 1;
        Ok(Tok {
            start,
            end: i + 1,
            cstart,
            cend: i,
            esc,
            groups,
        })
    }

    /// The prefilter groups triggered inside `t` (triggers are consumed in order).
    fn mask(&mut self, t: &Tok) -> u32 {
        while self.ti < self.trig.len() && self.trig[self.ti].0 < t.cstart {
            self.ti += 1;
        }
        let mut m = 0;
        while self.ti < self.trig.len() && self.trig[self.ti].0 < t.cend {
            m |= self.trig[self.ti].1;
            self.ti += 1;
        }
        m
    }

    /// Whether key `t` can be sensitive at all: it holds a key-word trigger (or has escapes,
    /// which may hide one). Redacting a key never adds a trigger outside its markers.
    fn key_gate(&mut self, t: &Tok) -> bool {
        if t.esc {
            return true;
        }
        // Peek at the mask without consuming: text_string() needs the same triggers.
        let ti = self.ti;
        let m = self.mask(t);
        self.ti = ti;
        m & (group::WORDS | group::XKEYS) != 0
    }

    /// Redacts string `t` as text; returns the new value if it changed.
    fn text_string(&mut self, t: &Tok) -> Result<Option<String>, Invalid> {
        let redacted = if t.esc {
            let d = decode(self.s, t)?;
            match self.r.redact_str(&d, self.found) {
                Cow::Owned(n) => Some(n),
                Cow::Borrowed(_) => None,
            }
        } else {
            let m = self.mask(t) | t.groups | group::EXTRA;
            let s = self.s;
            match self.r.redact_masked(&s[t.cstart..t.cend], m, self.found) {
                Cow::Owned(n) => Some(n),
                Cow::Borrowed(_) => None,
            }
        };
        if let Some(n) = &redacted {
            let mut enc = Vec::with_capacity(n.len() + 2);
            encode_str(n, &mut enc);
            self.emit(t.start, t.end, &enc);
        }
        Ok(redacted)
    }

    fn sensitive_string(&mut self, t: &Tok) -> Result<(), Invalid> {
        let keep = {
            let d = decode(self.s, t)?;
            d.is_empty() || is_marker(&d)
        };
        if !keep {
            self.found.add(Kind::SensitiveKey);
            self.emit_marker(t.start, t.end, Kind::SensitiveKey);
        }
        Ok(())
    }

    fn number(&mut self, sensitive: bool) -> Result<(), Invalid> {
        let start = self.pos;
        let mut plain = true;
        if self.peek() == Some(b'-') {
            plain = false;
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            plain = false;
            self.pos += 1;
            self.digits1()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            plain = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits1()?;
        }
        let end = self.pos;
        if sensitive {
            self.found.add(Kind::SensitiveKey);
            self.emit_marker(start, end, Kind::SensitiveKey);
        } else if plain
            && self.r.is_on(Kind::CreditCard)
            && patterns::card_number(&self.b[start..end])
        {
            self.found.add(Kind::CreditCard);
            self.emit_marker(start, end, Kind::CreditCard);
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn digits1(&mut self) -> Result<(), Invalid> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(Invalid);
        }
        self.digits();
        Ok(())
    }

    fn emit_marker(&mut self, start: usize, end: usize, k: Kind) {
        let mut enc = Vec::with_capacity(32);
        encode_str(k.marker(), &mut enc);
        self.emit(start, end, &enc);
    }

    /// Replaces `start..end` of the input with `rep` in the output.
    fn emit(&mut self, start: usize, end: usize, rep: &[u8]) {
        self.out.extend_from_slice(&self.b[self.copied..start]);
        self.out.extend_from_slice(rep);
        self.copied = end;
        self.changed = true;
    }
}

/// The value of string token `t` of `s` (escapes decoded and validated by `serde_json`).
fn decode<'s>(s: &'s str, t: &Tok) -> Result<Cow<'s, str>, Invalid> {
    if t.esc {
        serde_json::from_str::<String>(&s[t.start..t.end])
            .map(Cow::Owned)
            .map_err(|_| Invalid)
    } else {
        Ok(Cow::Borrowed(&s[t.cstart..t.cend]))
    }
}

/// Writes `s` as a JSON string literal (the escapes `serde_json` uses).
pub(crate) fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let mut from = 0;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[from..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        from = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[from..]);
    out.push(b'"');
}
