//! Frames: `u32` big-endian length, then a `u32` big-endian protocol version, then the body.
//!
//! The length counts the version and the body. It is checked against [`MAX_FRAME_LEN`] before
//! any buffer is allocated, so a hostile length cannot make a reader allocate. The pure part
//! (the prefixes and their checks) is [`hook_protocol_core::frame`]'s, shared with hook-client.

use std::io::{self, Read, Write};

use hook_protocol_core::frame::{self as core_frame, BadLen};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{MAX_FRAME_LEN, PROTOCOL_VERSION};

pub use hook_protocol_core::frame::{LEN_BYTES, VERSION_BYTES};

/// What can go wrong reading or writing a frame.
#[derive(Debug)]
pub enum FrameError {
    /// The underlying stream failed.
    Io(io::Error),
    /// The peer closed the stream before a frame started.
    Closed,
    /// The stream ended inside a frame.
    Truncated {
        /// Bytes the frame header announced.
        expected: usize,
        /// Bytes that arrived before the end.
        got: usize,
    },
    /// The announced length is over the maximum.
    TooLarge {
        /// The announced length in bytes.
        len: u64,
        /// The maximum in bytes.
        max: u32,
    },
    /// The announced length cannot even hold the version prefix.
    TooShort {
        /// The announced length in bytes.
        len: u32,
    },
    /// The peer speaks another protocol version; the body was not decoded.
    VersionMismatch {
        /// This side's version.
        ours: u32,
        /// The peer's version.
        theirs: u32,
        /// The undecoded body, so a caller can still read a [`crate::Mismatch`] from it.
        body: Vec<u8>,
    },
    /// The body is not a valid message of the expected type.
    Decode(postcard::Error),
    /// A message could not be encoded.
    Encode(postcard::Error),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "i/o error on the hookd socket: {e}"),
            Self::Closed => write!(f, "connection closed by peer"),
            Self::Truncated { expected, got } => {
                write!(f, "truncated frame: expected {expected} bytes, got {got}")
            }
            Self::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes is over the maximum of {max} bytes")
            }
            Self::TooShort { len } => {
                write!(
                    f,
                    "frame of {len} bytes is too short to hold a protocol version"
                )
            }
            Self::VersionMismatch { ours, theirs, .. } => write!(
                f,
                "protocol version mismatch: this side speaks {ours}, the peer speaks {theirs}"
            ),
            Self::Decode(e) => write!(f, "malformed message: {e}"),
            Self::Encode(e) => write!(f, "cannot encode message: {e}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Decode(e) | Self::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<BadLen> for FrameError {
    fn from(e: BadLen) -> Self {
        match e {
            BadLen::TooLarge { len, max } => Self::TooLarge { len, max },
            BadLen::TooShort { len } => Self::TooShort { len },
        }
    }
}

/// Checks a frame header and returns the version-and-body length it announces.
///
/// # Errors
///
/// [`FrameError::TooLarge`] or [`FrameError::TooShort`].
pub fn check_len(header: [u8; LEN_BYTES], max: u32) -> Result<usize, FrameError> {
    Ok(core_frame::check_len(header, max)?)
}

/// Whether `buf` starts with a whole, well-formed frame (header and body): a buffered reader
/// can take it without waiting for more bytes, and reading it cannot fail. A header that
/// [`check_len`] refuses is never whole, so the error surfaces on the next real read.
#[must_use]
pub fn has_whole_frame(buf: &[u8], max: u32) -> bool {
    buf.split_first_chunk::<LEN_BYTES>()
        .is_some_and(|(h, rest)| check_len(*h, max).is_ok_and(|len| len <= rest.len()))
}

/// Encodes `body` (already serialized) as one frame: length, version, body.
///
/// # Errors
///
/// [`FrameError::TooLarge`] when the body would exceed [`MAX_FRAME_LEN`].
pub fn encode_frame(version: u32, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    Ok(core_frame::encode_frame(version, body, out)?)
}

/// Serializes `msg` into a complete frame stamped with [`PROTOCOL_VERSION`].
///
/// # Errors
///
/// [`FrameError::Encode`] or [`FrameError::TooLarge`].
pub fn encode_message<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; LEN_BYTES + VERSION_BYTES];
    let mut out = postcard::to_extend(msg, std::mem::take(&mut out)).map_err(FrameError::Encode)?;
    let len = out.len() - LEN_BYTES;
    if len > MAX_FRAME_LEN as usize {
        return Err(FrameError::TooLarge {
            len: len as u64,
            max: MAX_FRAME_LEN,
        });
    }
    #[allow(clippy::cast_possible_truncation)] // checked just above
    out[..LEN_BYTES].copy_from_slice(&(len as u32).to_be_bytes());
    out[LEN_BYTES..LEN_BYTES + VERSION_BYTES].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    Ok(out)
}

/// Splits a frame's version-and-body into `(version, body)`.
///
/// # Errors
///
/// [`FrameError::TooShort`] when there is no room for the version.
pub fn split_version(frame: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    Ok(core_frame::split_version(frame)?)
}

/// Reads one frame and returns its version-and-body bytes (not yet split).
///
/// # Errors
///
/// [`FrameError::Closed`] on a clean end of stream before the header, [`FrameError::Truncated`]
/// when it ends inside the frame, and the length errors of [`check_len`].
pub fn read_frame<R: Read>(r: &mut R, max: u32) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; LEN_BYTES];
    let got = read_full(r, &mut header)?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    if got < LEN_BYTES {
        return Err(FrameError::Truncated {
            expected: LEN_BYTES,
            got,
        });
    }
    let len = check_len(header, max)?;
    let mut buf = vec![0u8; len];
    let got = read_full(r, &mut buf)?;
    if got < len {
        return Err(FrameError::Truncated { expected: len, got });
    }
    Ok(buf)
}

/// Writes `body` as one frame with the given version, in a single `write_all`.
///
/// # Errors
///
/// I/O errors, or [`FrameError::TooLarge`].
pub fn write_frame<W: Write>(w: &mut W, version: u32, body: &[u8]) -> Result<(), FrameError> {
    let mut out = Vec::new();
    encode_frame(version, body, &mut out)?;
    w.write_all(&out)?;
    Ok(())
}

/// Decodes a frame's version-and-body as a message of this protocol version.
///
/// # Errors
///
/// [`FrameError::VersionMismatch`] (with the body kept) or [`FrameError::Decode`].
pub fn decode_message<T: DeserializeOwned>(frame: &[u8]) -> Result<T, FrameError> {
    let (version, body) = split_version(frame)?;
    if version != PROTOCOL_VERSION {
        return Err(FrameError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: version,
            body: body.to_vec(),
        });
    }
    postcard::from_bytes(body).map_err(FrameError::Decode)
}

/// Decodes a message body (after the version prefix) without checking the version.
///
/// Used to read a [`crate::Mismatch`], whose encoding is the same in every version.
///
/// # Errors
///
/// [`FrameError::Decode`].
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes(body).map_err(FrameError::Decode)
}

/// Reads and decodes one message.
///
/// # Errors
///
/// Those of [`read_frame`] and [`decode_message`].
pub fn read_message<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<T, FrameError> {
    let frame = read_frame(r, MAX_FRAME_LEN)?;
    decode_message(&frame)
}

/// Encodes and writes one message.
///
/// # Errors
///
/// Those of [`encode_message`] and the writer's.
pub fn write_message<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    let out = encode_message(msg)?;
    w.write_all(&out)?;
    Ok(())
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(got)
}

/// Async frame I/O for hookd and hookctl's streaming commands.
#[cfg(feature = "tokio")]
pub mod tokio_io {
    use serde::Serialize;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::{FrameError, LEN_BYTES, check_len, encode_message};

    /// Reads one frame's version-and-body bytes.
    ///
    /// # Errors
    ///
    /// As [`super::read_frame`].
    pub async fn read_frame<R: AsyncRead + Unpin>(
        r: &mut R,
        max: u32,
    ) -> Result<Vec<u8>, FrameError> {
        let mut header = [0u8; LEN_BYTES];
        let mut got = 0;
        while got < LEN_BYTES {
            let n = r.read(&mut header[got..]).await?;
            if n == 0 {
                return Err(if got == 0 {
                    FrameError::Closed
                } else {
                    FrameError::Truncated {
                        expected: LEN_BYTES,
                        got,
                    }
                });
            }
            got += n;
        }
        let len = check_len(header, max)?;
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            let n = r.read(&mut buf[got..]).await?;
            if n == 0 {
                return Err(FrameError::Truncated { expected: len, got });
            }
            got += n;
        }
        Ok(buf)
    }

    /// Encodes and writes one message, then flushes.
    ///
    /// # Errors
    ///
    /// As [`super::write_message`].
    pub async fn write_message<W: AsyncWrite + Unpin, T: Serialize>(
        w: &mut W,
        msg: &T,
    ) -> Result<(), FrameError> {
        let out = encode_message(msg)?;
        w.write_all(&out).await?;
        w.flush().await?;
        Ok(())
    }

    /// Writes an already-encoded frame, then flushes.
    ///
    /// # Errors
    ///
    /// The writer's.
    pub async fn write_raw<W: AsyncWrite + Unpin>(
        w: &mut W,
        frame: &[u8],
    ) -> Result<(), FrameError> {
        w.write_all(frame).await?;
        w.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::*;

    fn roundtrip<T>(msg: &T) -> T
    where
        T: Serialize + DeserializeOwned,
    {
        let bytes = encode_message(msg).unwrap();
        read_message(&mut &bytes[..]).unwrap()
    }

    #[test]
    fn every_request_variant_round_trips() {
        let reqs = vec![
            Request::Hook(HookRequest {
                event: br#"{"hook_event_name":"Stop"}"#.to_vec(),
                env: HookEnv {
                    project_dir: Some("/p".into()),
                    session_id: Some("s".into()),
                    cwd: Some("/p/sub".into()),
                },
                options: ClientOptions {
                    event: Some("Stop".into()),
                    fail_mode: Some("deny".into()),
                    deadline_ms: 2000,
                },
                id: Some("18a2b3c4d5e6f708-3039".into()),
                env_file: None,
            }),
            Request::Status,
            Request::Reload,
            Request::Events(EventQuery {
                session: Some("s".into()),
                event: Some("Stop".into()),
                limit: 5,
                with_payload: true,
                ..EventQuery::default()
            }),
            Request::Stop,
            Request::Runs(RunQuery {
                rule: Some("lint".into()),
                failed_only: true,
                since_ms: Some(5),
                limit: 3,
                ..RunQuery::default()
            }),
        ];
        for r in reqs {
            assert_eq!(roundtrip(&r), r);
        }
    }

    #[test]
    fn every_response_variant_round_trips() {
        let resps = vec![
            Response::Mismatch(Mismatch {
                daemon_protocol: 1,
                daemon_version: "0.1.0".into(),
                peer_protocol: 2,
            }),
            Response::Verdict(HookReply {
                exit_code: 2,
                stdout: b"{}".to_vec(),
                stderr: b"no".to_vec(),
            }),
            Response::Status(Box::new(StatusReport {
                pid: 7,
                rule_errors: vec!["bad".into()],
                store_error: Some("disk full".into()),
                ..StatusReport::default()
            })),
            Response::Reloaded(ReloadReport {
                rules_loaded: 3,
                errors: vec![],
            }),
            Response::Events(vec![EventRow {
                id: 1,
                rules: vec!["r".into()],
                ..EventRow::default()
            }]),
            Response::Stopping,
            Response::Error("nope".into()),
            Response::Runs(vec![RunRow {
                id: 2,
                rule: "lint".into(),
                exit_code: Some(2),
                stderr_tail: Some("bad".into()),
                ..RunRow::default()
            }]),
        ];
        for r in resps {
            assert_eq!(roundtrip(&r), r);
        }
    }

    #[test]
    fn mismatch_is_variant_zero_with_a_frozen_encoding() {
        let m = Response::Mismatch(Mismatch {
            daemon_protocol: 1,
            daemon_version: "v".into(),
            peer_protocol: 9,
        });
        let body = postcard::to_allocvec(&m).unwrap();
        assert_eq!(body, [0, 1, 1, b'v', 9]);
    }

    #[test]
    fn stop_is_variant_four_with_a_frozen_encoding() {
        // Every protocol version decodes this body as Request::Stop: a newer peer relies on it
        // to make an older daemon hand over (crate::message::stop_frame).
        assert_eq!(
            postcard::to_allocvec(&Request::Stop).unwrap(),
            [STOP_VARIANT]
        );
        let frame = stop_frame(2);
        assert_eq!(frame, [0, 0, 0, 5, 0, 0, 0, 2, 4]);
        let body = read_frame(&mut &frame[..], MAX_FRAME_LEN).unwrap();
        assert_eq!(split_version(&body).unwrap(), (2, &[4u8][..]));
        assert_eq!(decode_body::<Request>(&[4]).unwrap(), Request::Stop);
    }

    #[test]
    fn empty_stream_is_closed() {
        assert!(matches!(
            read_frame(&mut &[][..], MAX_FRAME_LEN),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn truncated_header_is_reported() {
        let e = read_frame(&mut &[0u8, 0][..], MAX_FRAME_LEN).unwrap_err();
        assert!(
            matches!(
                e,
                FrameError::Truncated {
                    expected: 4,
                    got: 2
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn truncated_body_is_reported() {
        let e = read_frame(&mut &[0u8, 0, 0, 10, 0, 0, 0, 1, 7][..], MAX_FRAME_LEN).unwrap_err();
        assert!(
            matches!(
                e,
                FrameError::Truncated {
                    expected: 10,
                    got: 5
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn oversized_length_is_refused_before_allocating() {
        // A reader that would panic if more than the header were read.
        struct HeaderOnly(&'static [u8]);
        impl Read for HeaderOnly {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                assert!(!self.0.is_empty(), "read past the header");
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let e = read_frame(&mut HeaderOnly(&[0xff, 0xff, 0xff, 0xff]), MAX_FRAME_LEN).unwrap_err();
        assert!(
            matches!(
                e,
                FrameError::TooLarge {
                    len: 0xffff_ffff,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("over the maximum"));
    }

    #[test]
    fn length_shorter_than_version_is_refused() {
        let e = read_frame(&mut &[0u8, 0, 0, 2, 1, 1][..], MAX_FRAME_LEN).unwrap_err();
        assert!(matches!(e, FrameError::TooShort { len: 2 }), "{e}");
    }

    #[test]
    fn other_version_is_a_mismatch_keeping_the_body() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, PROTOCOL_VERSION + 1, &[0, 1, 2]).unwrap();
        let e = read_message::<_, Request>(&mut &bytes[..]).unwrap_err();
        match e {
            FrameError::VersionMismatch { ours, theirs, body } => {
                assert_eq!(
                    (ours, theirs, body),
                    (PROTOCOL_VERSION, PROTOCOL_VERSION + 1, vec![0, 1, 2])
                );
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn garbage_body_is_a_decode_error() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, PROTOCOL_VERSION, &[200, 200, 200]).unwrap();
        let e = read_message::<_, Request>(&mut &bytes[..]).unwrap_err();
        assert!(matches!(e, FrameError::Decode(_)), "{e}");
    }

    #[test]
    fn mismatch_describes_both_directions() {
        let m = Mismatch {
            daemon_protocol: 2,
            daemon_version: "0.2.0".into(),
            peer_protocol: 1,
        };
        assert!(m.describe(1).contains("older than the daemon"));
        let m = Mismatch {
            daemon_protocol: 1,
            daemon_version: "0.1.0".into(),
            peer_protocol: 2,
        };
        assert!(m.describe(2).contains("daemon is older"));
    }
}
