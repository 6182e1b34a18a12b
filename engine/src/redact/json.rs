//! Streaming redaction of a JSON document, without building a `serde_json::Value`.
//!
//! A strict RFC 8259 scanner walks the bytes once, tracking whether the current value sits
//! under a sensitive key. Only strings and numbers that change are re-encoded and spliced in;
//! everything else (formatting, key order, duplicate keys) is copied through, so an unchanged
//! document costs no allocation. Each string is looked up in the per-thread [`memo`] first;
//! otherwise strings without escapes are scanned in place, and strings with escapes are
//! decoded (via `serde_json`, which also validates them) and scanned. Any syntax error returns
//! [`Invalid`] so the caller can fall back to text redaction; nesting deeper than
//! [`MAX_DEPTH`] counts as invalid. It must produce the same values as
//! `Redactor::redact_value` on the parsed document.

use std::borrow::Cow;

use std::sync::Arc;

use super::memo::{self, Domain, Entry};
use super::{Found, Kind, Redactor, group, is_marker, patterns};

/// Not a JSON document (or nested too deeply).
#[derive(Debug)]
pub(crate) struct Invalid;

/// Nesting limit (as `serde_json`'s default recursion limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// Redacts the JSON document `text`. `Ok(None)`: nothing changed.
pub(crate) fn redact(
    r: &Redactor,
    text: &str,
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
}

/// Whether `chunk` holds a byte the string scanner stops at: `"`, `\\` or a control
/// character (invalid in a string).
fn stops(chunk: &[u8]) -> bool {
    chunk
        .iter()
        .fold(false, |a, &c| a | (c < 0x20) | (c == b'"') | (c == b'\\'))
}

struct Walker<'a, 'r, 'f> {
    r: &'r Redactor,
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    copied: usize,
    changed: bool,
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
            let e = self.text_string(&k)?;
            // Only a key holding a key-word trigger can be sensitive (one with escapes may
            // hide one). Sensitivity is judged on the redacted key (what a second redaction
            // would see); redacting a key never adds a trigger outside its markers.
            let gate = k.esc || e.mask & (group::WORDS | group::XKEYS) != 0;
            let ks = sensitive
                || (gate
                    && match &e.redacted {
                        Some(n) => self.r.key_sensitive(n),
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

    /// Scans a string token at `pos` (which holds `"`), noting escapes.
    fn string(&mut self) -> Result<Tok, Invalid> {
        let b = self.b;
        let start = self.pos;
        let cstart = start + 1;
        let mut i = cstart;
        let mut esc = false;
        loop {
            // Skip 16-byte chunks without a stop byte (branch-free test, vectorizes), then
            // single bytes.
            while i + 16 <= b.len() && !stops(&b[i..i + 16]) {
                i += 16;
            }
            while i < b.len() && !stops(&b[i..=i]) {
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
        })
    }

    /// Redacts string `t` as text, emitting its new value if it changed; returns what was
    /// found. Strings of a memo-able length are looked up in (and added to) the memo.
    fn text_string(&mut self, t: &Tok) -> Result<Arc<Entry>, Invalid> {
        let raw = &self.b[t.cstart..t.cend];
        let e = memo::entry(self.r.id, Domain::Json, raw, || {
            let d = decode(self.s, t)?;
            let mut e = self.r.scan(&d);
            e.encoded = e.redacted.as_deref().map(|n| {
                let mut enc = Vec::with_capacity(n.len() + 2);
                encode_str(n, &mut enc);
                enc.into_boxed_slice()
            });
            Ok(e)
        })?;
        self.found.merge(&e);
        if let Some(enc) = &e.encoded {
            self.emit(t.start, t.end, enc);
        }
        Ok(e)
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
