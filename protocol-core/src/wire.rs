//! The messages hook-client exchanges, encoded and decoded by hand.
//!
//! hookd reads and writes these messages with serde and postcard (`hook-protocol`'s `Request`,
//! `Response` and `SpoolRecord`); hook-client cannot link either, so this module writes the
//! same bytes itself. The types borrow what they carry, so the client copies nothing into them.
//!
//! The postcard encoding, as far as these messages use it: unsigned integers (`u32`, `u64`,
//! lengths) as LEB128 varints; `i32` zigzagged, then as a varint; strings and byte strings as
//! their length, then their bytes; an `Option` as a byte 0 or 1, then the value when 1; an enum
//! as its variant index (a varint), then the variant's fields; a struct as its fields in order.
//!
//! **Invariant:** the bytes are exactly serde's. `hook-protocol`'s `wire_tests` compare both
//! encoders over many values and both decoders over valid, truncated and random input; a field
//! added to `HookRequest`, `HookEnv`, `ClientOptions` or `SpoolRecord` there must be added here.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::frame::{BadLen, LEN_BYTES, frame_len};
use crate::{PROTOCOL_VERSION, Reply, SPOOL_VERSION};

/// The variant index of `Request::Hook`.
const REQUEST_HOOK: u32 = 0;
/// The variant index of `Response::Mismatch` (frozen).
const RESPONSE_MISMATCH: u32 = 0;
/// The variant index of `Response::Verdict`.
const RESPONSE_VERDICT: u32 = 1;
/// The variant index of `Response::Error`.
const RESPONSE_ERROR: u32 = 6;

/// Environment values of the hook process (`hook-protocol`'s `HookEnv`, borrowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HookEnv<'a> {
    /// `CLAUDE_PROJECT_DIR`.
    pub project_dir: Option<&'a str>,
    /// `CLAUDE_CODE_SESSION_ID`.
    pub session_id: Option<&'a str>,
    /// The hook process's working directory.
    pub cwd: Option<&'a str>,
}

/// Options hook-client was started with (`hook-protocol`'s `ClientOptions`, borrowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientOptions<'a> {
    /// The event name given with `--event`, when the settings entry names one.
    pub event: Option<&'a str>,
    /// The fail-mode specification in force (`--fail-mode` or `HOOKD_FAIL_MODE`).
    pub fail_mode: Option<&'a str>,
    /// The client's deadline in milliseconds; hookd answers well before it.
    pub deadline_ms: u32,
}

/// One hook event forwarded by hook-client (`hook-protocol`'s `HookRequest`, borrowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HookRequest<'a> {
    /// The exact bytes Claude Code wrote on the hook's stdin (not parsed by the client).
    pub event: &'a [u8],
    /// Environment values of the hook process that hookd needs.
    pub env: HookEnv<'a>,
    /// The client's own options.
    pub options: ClientOptions<'a>,
    /// This delivery's identity (`<nanoseconds since the epoch, hex>-<pid, hex>`); the spool
    /// record of the same invocation carries the same id.
    pub id: Option<&'a str>,
    /// `CLAUDE_ENV_FILE`, when Claude Code set it.
    pub env_file: Option<&'a str>,
}

/// One event hook-client could not hand to hookd (`hook-protocol`'s `spool::SpoolRecord`,
/// borrowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpoolRecord<'a> {
    /// Unique id: the invocation's id, the one sent in [`HookRequest::id`].
    pub id: &'a str,
    /// When hook-client gave up, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Why hookd could not answer.
    pub reason: &'a str,
    /// What hook-client answered instead (`ask`, `pass`, `deny`).
    pub answered: &'a str,
    /// The event bytes (at most [`crate::MAX_EVENT_LEN`]).
    pub event: &'a [u8],
    /// The event's full length when it was cut to fit.
    pub truncated_from: Option<u64>,
    /// The hook process's environment values.
    pub env: HookEnv<'a>,
}

/// The daemon's answer to a request of another protocol version (`hook-protocol`'s
/// `Mismatch`). Its encoding never changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mismatch {
    /// The protocol version the daemon speaks.
    pub daemon_protocol: u32,
    /// The daemon's package version.
    pub daemon_version: String,
    /// The protocol version the daemon received.
    pub peer_protocol: u32,
}

impl Mismatch {
    /// Describes the mismatch from the point of view of a peer speaking `ours`.
    #[must_use]
    pub fn describe(&self, ours: u32) -> String {
        describe_mismatch(ours, self.daemon_protocol, &self.daemon_version)
    }
}

/// Describes a protocol mismatch from the point of view of a peer speaking `ours`, with a
/// daemon (of package version `daemon_version`) speaking `daemon_protocol`: what is wrong and
/// what to do. The one wording of [`Mismatch::describe`] and `hook-protocol`'s.
#[must_use]
pub fn describe_mismatch(ours: u32, daemon_protocol: u32, daemon_version: &str) -> String {
    let advice = if ours < daemon_protocol {
        "this client is older than the daemon: upgrade hook-client/hookctl"
    } else {
        "the daemon is older than this client: restart hookd from the same build (hookctl stop)"
    };
    format!(
        "protocol version mismatch: this side speaks {ours}, hookd {daemon_version} speaks \
         {daemon_protocol}; {advice}"
    )
}

/// What hookd answered, as far as hook-client cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Response::Verdict`: what to print and exit with.
    Verdict(Reply),
    /// `Response::Mismatch`: hookd speaks another protocol version.
    Mismatch(Mismatch),
    /// `Response::Error`: hookd understood the request but could not carry it out.
    Error(String),
    /// Any other response, by its variant index; its fields are not decoded.
    Other(u32),
}

/// Why a message body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The body ends inside a value.
    Truncated,
    /// A varint is longer than its type allows, or overflows it.
    BadVarint,
    /// A string is not valid UTF-8.
    BadUtf8,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "the body ends inside a value",
            Self::BadVarint => "bad varint (too long for its type)",
            Self::BadUtf8 => "a string is not valid UTF-8",
        })
    }
}

impl core::error::Error for Malformed {}

/// Encodes `req` as a whole frame: length, [`PROTOCOL_VERSION`], then the body of a
/// `Request::Hook` (variant 0).
///
/// # Errors
///
/// [`BadLen::TooLarge`] when the frame would exceed [`crate::MAX_FRAME_LEN`]; nothing is
/// allocated for it then.
pub fn encode_hook_request(req: &HookRequest<'_>) -> Result<Vec<u8>, BadLen> {
    framed(PROTOCOL_VERSION, |out| hook_request(out, req))
}

/// Encodes `rec` as a whole spool frame: length, [`SPOOL_VERSION`], then the record, as
/// `hook-protocol`'s `spool::append` writes it.
///
/// # Errors
///
/// [`BadLen::TooLarge`] when the frame would exceed [`crate::MAX_FRAME_LEN`]; nothing is
/// allocated for it then.
pub fn encode_spool_record(rec: &SpoolRecord<'_>) -> Result<Vec<u8>, BadLen> {
    framed(SPOOL_VERSION, |out| spool_record(out, rec))
}

/// Decodes a `Response` body (after the version prefix) as far as hook-client needs:
/// [`Answer::Mismatch`], [`Answer::Verdict`] and [`Answer::Error`] whole, any other variant as
/// [`Answer::Other`]. Bytes after the value are ignored, as postcard's `from_bytes` does.
///
/// # Errors
///
/// What is wrong with the body, as a [`Malformed`]. Never panics, and allocates no more than
/// the body holds.
pub fn decode_answer(body: &[u8]) -> Result<Answer, Malformed> {
    let mut r = Reader(body);
    Ok(match r.u32()? {
        RESPONSE_MISMATCH => {
            let daemon_protocol = r.u32()?;
            let daemon_version = String::from(r.str()?);
            let peer_protocol = r.u32()?;
            Answer::Mismatch(Mismatch {
                daemon_protocol,
                daemon_version,
                peer_protocol,
            })
        }
        RESPONSE_VERDICT => {
            let exit_code = r.i32()?;
            let stdout = r.bytes()?.to_vec();
            let stderr = r.bytes()?.to_vec();
            Answer::Verdict(Reply {
                exit_code,
                stdout,
                stderr,
            })
        }
        RESPONSE_ERROR => Answer::Error(String::from(r.str()?)),
        other => Answer::Other(other),
    })
}

/// Where encoded bytes go: a [`Count`] to size the frame, then the frame's `Vec`.
trait Out {
    fn put(&mut self, bytes: &[u8]);
}

/// Counts the bytes an encoding takes.
struct Count(usize);

impl Out for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
}

impl Out for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// One frame of `version` whose body `body` writes: sized first, so the length is checked
/// before anything is allocated and the frame is allocated once.
fn framed(version: u32, body: impl Fn(&mut dyn Out)) -> Result<Vec<u8>, BadLen> {
    let mut count = Count(0);
    body(&mut count);
    let len = frame_len(count.0)?;
    let mut out = Vec::with_capacity(LEN_BYTES + len as usize);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    body(&mut out);
    debug_assert_eq!(out.len(), LEN_BYTES + len as usize);
    Ok(out)
}

fn hook_request(out: &mut dyn Out, req: &HookRequest<'_>) {
    varint(out, u64::from(REQUEST_HOOK));
    bytes(out, req.event);
    env(out, &req.env);
    opt_str(out, req.options.event);
    opt_str(out, req.options.fail_mode);
    varint(out, u64::from(req.options.deadline_ms));
    opt_str(out, req.id);
    opt_str(out, req.env_file);
}

fn spool_record(out: &mut dyn Out, rec: &SpoolRecord<'_>) {
    bytes(out, rec.id.as_bytes());
    varint(out, rec.time_ms);
    bytes(out, rec.reason.as_bytes());
    bytes(out, rec.answered.as_bytes());
    bytes(out, rec.event);
    match rec.truncated_from {
        None => out.put(&[0]),
        Some(n) => {
            out.put(&[1]);
            varint(out, n);
        }
    }
    env(out, &rec.env);
}

fn env(out: &mut dyn Out, env: &HookEnv<'_>) {
    opt_str(out, env.project_dir);
    opt_str(out, env.session_id);
    opt_str(out, env.cwd);
}

fn opt_str(out: &mut dyn Out, s: Option<&str>) {
    match s {
        None => out.put(&[0]),
        Some(s) => {
            out.put(&[1]);
            bytes(out, s.as_bytes());
        }
    }
}

/// A string or byte string: its length, then its bytes.
fn bytes(out: &mut dyn Out, b: &[u8]) {
    varint(out, b.len() as u64);
    out.put(b);
}

/// LEB128: seven bits a byte, least significant first, the high bit set on all but the last.
fn varint(out: &mut dyn Out, mut n: u64) {
    let mut buf = [0u8; 10];
    let mut i = 0;
    loop {
        // The low seven bits: the cast keeps exactly them.
        #[allow(clippy::cast_possible_truncation)]
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[i] = low;
            i += 1;
            break;
        }
        buf[i] = low | 0x80;
        i += 1;
    }
    out.put(&buf[..i]);
}

/// Reads values off the front of a body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.0.len() {
            return Err(Malformed::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        let (&b, rest) = self.0.split_first().ok_or(Malformed::Truncated)?;
        self.0 = rest;
        Ok(b)
    }

    /// A varint of a `bits`-bit type, refused as postcard refuses it: more bytes than the type
    /// needs, or bits past the type's in the last byte. (Like postcard, a redundant zero byte
    /// at the end is accepted.)
    fn varint(&mut self, bits: u32) -> Result<u64, Malformed> {
        let max_bytes = bits.div_ceil(7);
        let max_last = (1u8 << (bits % 7)) - 1;
        let mut n: u64 = 0;
        for i in 0..max_bytes {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i == max_bytes - 1 && b > max_last {
                    return Err(Malformed::BadVarint);
                }
                return Ok(n);
            }
        }
        Err(Malformed::BadVarint)
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        u32::try_from(self.varint(u32::BITS)?).map_err(|_| Malformed::BadVarint)
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        let n = self.u32()?;
        // Zigzag: 0, -1, 1, -2, … are 0, 1, 2, 3, …
        #[allow(clippy::cast_possible_wrap)]
        Ok((n >> 1) as i32 ^ -((n & 1) as i32))
    }

    fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = usize::try_from(self.varint(usize::BITS)?).map_err(|_| Malformed::Truncated)?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str, Malformed> {
        core::str::from_utf8(self.bytes()?).map_err(|_| Malformed::BadUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, n);
        out
    }

    #[test]
    fn varints_are_leb128() {
        assert_eq!(varint_bytes(0), [0]);
        assert_eq!(varint_bytes(127), [0x7f]);
        assert_eq!(varint_bytes(128), [0x80, 1]);
        assert_eq!(varint_bytes(300), [0xac, 0x02]);
        assert_eq!(varint_bytes(u64::MAX).len(), 10);
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let b = varint_bytes(n);
            assert_eq!(Reader(&b).varint(64), Ok(n));
        }
    }

    #[test]
    fn varints_past_their_type_are_refused() {
        // u32: five bytes at most, four bits in the last.
        assert_eq!(Reader(&[0xff, 0xff, 0xff, 0xff, 0x0f]).u32(), Ok(u32::MAX));
        assert_eq!(
            Reader(&[0xff, 0xff, 0xff, 0xff, 0x10]).u32(),
            Err(Malformed::BadVarint)
        );
        assert_eq!(
            Reader(&[0x80, 0x80, 0x80, 0x80, 0x80, 0]).u32(),
            Err(Malformed::BadVarint)
        );
        assert_eq!(Reader(&[0x80, 0]).u32(), Ok(0));
        assert_eq!(Reader(&[0x80]).u32(), Err(Malformed::Truncated));
        // u64: ten bytes, one bit in the last.
        let mut max = [0xff; 10];
        max[9] = 1;
        assert_eq!(Reader(&max).varint(64), Ok(u64::MAX));
        max[9] = 2;
        assert_eq!(Reader(&max).varint(64), Err(Malformed::BadVarint));
    }

    #[test]
    fn zigzag() {
        for (n, z) in [(0, 0), (-1, 1), (1, 2), (-2, 3), (i32::MAX, u32::MAX - 1)] {
            let b = varint_bytes(u64::from(z));
            assert_eq!(Reader(&b).i32(), Ok(n));
        }
        let b = varint_bytes(u64::from(u32::MAX));
        assert_eq!(Reader(&b).i32(), Ok(i32::MIN));
    }

    #[test]
    fn answers_decode() {
        assert_eq!(
            decode_answer(&[0, 1, 1, b'v', 9]),
            Ok(Answer::Mismatch(Mismatch {
                daemon_protocol: 1,
                daemon_version: "v".into(),
                peer_protocol: 9
            }))
        );
        assert_eq!(
            decode_answer(&[1, 3, 1, b'o', 0, 0xff]),
            Ok(Answer::Verdict(Reply {
                exit_code: -2,
                stdout: b"o".to_vec(),
                stderr: Vec::new()
            }))
        );
        assert_eq!(
            decode_answer(&[6, 2, b'n', b'o']),
            Ok(Answer::Error("no".into()))
        );
        assert_eq!(decode_answer(&[5]), Ok(Answer::Other(5)));
        assert_eq!(decode_answer(&[]), Err(Malformed::Truncated));
        assert_eq!(decode_answer(&[6, 1, 0xff]), Err(Malformed::BadUtf8));
        // A length far past the body is refused, not allocated.
        assert_eq!(
            decode_answer(&[1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(Malformed::Truncated)
        );
    }

    #[test]
    fn a_hook_request_frame() {
        let req = HookRequest {
            event: b"{}",
            env: HookEnv {
                cwd: Some("/"),
                ..HookEnv::default()
            },
            options: ClientOptions {
                deadline_ms: 300,
                ..ClientOptions::default()
            },
            id: None,
            env_file: None,
        };
        let frame = encode_hook_request(&req).unwrap();
        assert_eq!(
            frame,
            [
                0, 0, 0, 19, 0, 0, 0, 6, 0, 2, b'{', b'}', 0, 0, 1, 1, b'/', 0, 0, 0xac, 2, 0, 0
            ][..]
        );
    }

    #[test]
    fn mismatch_wording() {
        let m = Mismatch {
            daemon_protocol: 2,
            daemon_version: "0.2.0".into(),
            peer_protocol: 1,
        };
        assert!(m.describe(1).contains("older than the daemon"));
        assert!(m.describe(3).contains("daemon is older"));
    }
}
