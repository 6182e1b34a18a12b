//! Frames, the pure part: `u32` big-endian length, then a `u32` big-endian version, then the
//! body.
//!
//! The length counts the version and the body. A reader checks it with [`check_len`] before it
//! allocates anything, so a hostile length cannot make it allocate. Reading and writing streams
//! is the caller's: `hook-protocol`'s `frame` module over `std::io`, hook-client over raw
//! system calls.

use alloc::vec::Vec;
use core::fmt;

use crate::MAX_FRAME_LEN;

/// Bytes of the length prefix.
pub const LEN_BYTES: usize = 4;
/// Bytes of the version prefix inside a frame.
pub const VERSION_BYTES: usize = 4;

/// A frame length that cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLen {
    /// The length is over the maximum.
    TooLarge {
        /// The length in bytes.
        len: u64,
        /// The maximum in bytes.
        max: u32,
    },
    /// The length cannot even hold the version prefix.
    TooShort {
        /// The length in bytes.
        len: u32,
    },
}

impl fmt::Display for BadLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes is over the maximum of {max} bytes")
            }
            Self::TooShort { len } => {
                write!(
                    f,
                    "frame of {len} bytes is too short to hold a protocol version"
                )
            }
        }
    }
}

impl core::error::Error for BadLen {}

/// Checks a frame header and returns the version-and-body length it announces.
///
/// # Errors
///
/// [`BadLen::TooLarge`] over `max`, [`BadLen::TooShort`] under [`VERSION_BYTES`].
pub fn check_len(header: [u8; LEN_BYTES], max: u32) -> Result<usize, BadLen> {
    let len = u32::from_be_bytes(header);
    if len > max {
        return Err(BadLen::TooLarge {
            len: u64::from(len),
            max,
        });
    }
    if (len as usize) < VERSION_BYTES {
        return Err(BadLen::TooShort { len });
    }
    Ok(len as usize)
}

/// Checks that a frame whose body is `body_len` bytes fits [`MAX_FRAME_LEN`], and returns the
/// length its header announces (the version and the body).
pub(crate) fn frame_len(body_len: usize) -> Result<u32, BadLen> {
    let too_large = BadLen::TooLarge {
        len: (body_len as u64).saturating_add(VERSION_BYTES as u64),
        max: MAX_FRAME_LEN,
    };
    let len = body_len.checked_add(VERSION_BYTES).ok_or(too_large)?;
    match u32::try_from(len) {
        Ok(len) if len <= MAX_FRAME_LEN => Ok(len),
        _ => Err(too_large),
    }
}

/// Appends `body` (already serialized) to `out` as one frame: length, version, body.
///
/// # Errors
///
/// [`BadLen::TooLarge`] when the frame would exceed [`MAX_FRAME_LEN`]; nothing is appended.
pub fn encode_frame(version: u32, body: &[u8], out: &mut Vec<u8>) -> Result<(), BadLen> {
    let len = frame_len(body.len())?;
    out.reserve(LEN_BYTES + len as usize);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// Splits a frame's version-and-body into `(version, body)`.
///
/// # Errors
///
/// [`BadLen::TooShort`] when there is no room for the version.
pub fn split_version(frame: &[u8]) -> Result<(u32, &[u8]), BadLen> {
    let Some((v, body)) = frame.split_first_chunk::<VERSION_BYTES>() else {
        #[allow(clippy::cast_possible_truncation)] // shorter than 4
        return Err(BadLen::TooShort {
            len: frame.len() as u32,
        });
    };
    Ok((u32::from_be_bytes(*v), body))
}

/// The variant index of `Request::Stop`, the same in every protocol version: a body of this one
/// byte is a stop request to any daemon.
pub const STOP_VARIANT: u8 = 4;

/// A `Request::Stop` frame in protocol `version`: what a newer peer sends an older daemon
/// (whose version it learnt from a `Mismatch`) to make it drain and exit, so that the newer
/// hookd can take over.
#[must_use]
pub fn stop_frame(version: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(LEN_BYTES + VERSION_BYTES + 1);
    // One byte of body: encoding cannot fail.
    let _ = encode_frame(version, &[STOP_VARIANT], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn lengths_are_checked() {
        assert_eq!(check_len([0, 0, 0, 4], 10), Ok(4));
        assert_eq!(check_len([0, 0, 0, 10], 10), Ok(10));
        assert_eq!(
            check_len([0, 0, 0, 11], 10),
            Err(BadLen::TooLarge { len: 11, max: 10 })
        );
        assert_eq!(
            check_len([0, 0, 0, 3], 10),
            Err(BadLen::TooShort { len: 3 })
        );
        assert_eq!(
            BadLen::TooLarge { len: 11, max: 10 }.to_string(),
            "frame of 11 bytes is over the maximum of 10 bytes"
        );
        assert_eq!(
            BadLen::TooShort { len: 3 }.to_string(),
            "frame of 3 bytes is too short to hold a protocol version"
        );
    }

    #[test]
    fn frames_encode_and_split() {
        let mut out = alloc::vec![9];
        encode_frame(7, b"ab", &mut out).unwrap();
        assert_eq!(out, [9, 0, 0, 0, 6, 0, 0, 0, 7, b'a', b'b']);
        assert_eq!(split_version(&out[5..]), Ok((7, &b"ab"[..])));
        assert_eq!(split_version(&[1, 2]), Err(BadLen::TooShort { len: 2 }));
        assert_eq!(stop_frame(2), [0, 0, 0, 5, 0, 0, 0, 2, 4]);
    }

    #[test]
    fn an_oversized_body_is_refused_before_anything_is_written() {
        let max = MAX_FRAME_LEN as usize;
        assert_eq!(frame_len(max - VERSION_BYTES), Ok(MAX_FRAME_LEN));
        assert_eq!(
            frame_len(max - VERSION_BYTES + 1),
            Err(BadLen::TooLarge {
                len: u64::from(MAX_FRAME_LEN) + 1,
                max: MAX_FRAME_LEN
            })
        );
        assert!(frame_len(usize::MAX).is_err());
        let mut out = alloc::vec::Vec::new();
        let body = alloc::vec![0u8; max - VERSION_BYTES + 1];
        assert!(encode_frame(1, &body, &mut out).is_err());
        assert!(out.is_empty());
    }
}
