//! Makes every delivered event distinct, as real ones are.
//!
//! hookd answers a byte-identical payload seen within its dedup window from the first
//! delivery's reply, without evaluating or recording it again (Claude Code sends the same bytes
//! to every handler of one event). Replaying one payload would measure that shortcut, so each
//! request gets its own `tool_use_id`: the id's last 16 characters are overwritten, in place,
//! with hex digits unique to the request. The length never changes, so a pre-encoded frame
//! stays valid.
//!
//! A payload may also hold a [`MARK`] (16 `X`s) elsewhere, typically in the command: it is
//! stamped the same way, so that string is new in every event too (hookd keeps per-thread memos
//! of redactions and command analyses by string; `bench/payloads/pre_tool_use_bash_unique.json`
//! measures throughput without their hits on the command).

use std::hash::{BuildHasher, RandomState};

/// Characters of the id overwritten per request.
const TAIL: usize = 16;

/// A second place to stamp, if the payload holds it.
pub const MARK: &[u8; TAIL] = b"XXXXXXXXXXXXXXXX";

/// Where the id's tail (and the mark, if any) sit in a buffer, and this run's random key.
#[derive(Clone, Copy)]
pub struct Unique {
    offset: usize,
    mark: Option<usize>,
    key: u64,
}

impl Unique {
    /// Finds `"tool_use_id":"<id>"` in `payload` (an id of at least 16 characters).
    pub fn find(payload: &[u8]) -> Result<Self, String> {
        let needle = br#""tool_use_id":""#;
        let start = payload
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + needle.len())
            .ok_or("the payload has no \"tool_use_id\" to make each event distinct")?;
        let len = payload[start..]
            .iter()
            .position(|&b| b == b'"')
            .ok_or("unterminated tool_use_id")?;
        if len < TAIL {
            return Err(format!(
                "tool_use_id is {len} characters; at least {TAIL} are needed"
            ));
        }
        Ok(Self {
            offset: start + len - TAIL,
            mark: payload.windows(TAIL).position(|w| w == MARK),
            key: RandomState::new().hash_one(std::process::id()),
        })
    }

    /// The same position, `shift` bytes further into a larger buffer (a frame holding it).
    pub fn shifted(self, shift: usize) -> Self {
        Self {
            offset: self.offset + shift,
            mark: self.mark.map(|m| m + shift),
            ..self
        }
    }

    /// Stamps request number `n` (unique per run; XOR with the key is a bijection).
    pub fn stamp(&self, buf: &mut [u8], n: u64) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let v = n ^ self.key;
        for at in std::iter::once(self.offset).chain(self.mark) {
            for (i, b) in buf[at..at + TAIL].iter_mut().enumerate() {
                *b = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_the_tail_of_the_id_in_place() {
        let mut p = br#"{"a":1,"tool_use_id":"toolu_01VfPz7mJ8kQ2xYcR4nT6bWd","b":2}"#.to_vec();
        let len = p.len();
        let u = Unique::find(&p).unwrap();
        u.stamp(&mut p, 1);
        let first = p.clone();
        u.stamp(&mut p, 2);
        assert_eq!(p.len(), len);
        assert_ne!(p, first);
        let text = String::from_utf8(p).unwrap();
        assert!(text.starts_with(r#"{"a":1,"tool_use_id":"toolu_01"#));
        assert!(text.ends_with(r#"","b":2}"#));
        assert!(Unique::find(br#"{"tool_use_id":"short"}"#).is_err());
        // The mark is stamped with the same digits as the id.
        let mut p =
            br#"{"command":"make XXXXXXXXXXXXXXXX","tool_use_id":"toolu_01VfPz7mJ8kQ2xYcR4nT6bWd"}"#
                .to_vec();
        let u = Unique::find(&p).unwrap();
        u.stamp(&mut p, 7);
        let text = String::from_utf8(p).unwrap();
        let id_tail = &text[text.len() - 18..text.len() - 2];
        assert!(text.contains(&format!("make {id_tail}")), "{text}");
        assert!(Unique::find(br#"{"x":1}"#).is_err());
    }
}
