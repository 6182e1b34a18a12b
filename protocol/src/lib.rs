//! The contract shared by `hookd`, `hook-client` and `hookctl`.
//!
//! The part hook-client needs without std (the constants below, [`duration`], [`failmode`],
//! the pure part of [`frame`] and a hand-written encoder for its messages) lives in
//! [`hook_protocol_core`], which this crate re-exports; the rest is here, with serde and std.
//!
//! - [`duration`]: the one duration grammar (`30s`, `1m30s`; a bare number is seconds);
//!   [`hook_protocol_core::duration`], re-exported.
//! - [`failmode`]: what hook-client and hookd answer when hookd cannot decide.
//! - [`http`]: the HTTP listener's token file, port file and URL, shared with hookctl.
//! - [`frame`]: length-prefixed frames (u32 big-endian length, then the protocol version, then
//!   a postcard body), with the maximum checked before anything is allocated.
//! - [`message`]: the [`Request`] and [`Response`] enums and their payloads.
//! - [`paths`]: where the socket, configuration, store and spool live.
//! - [`prometheus`]: a [`StatsReport`] in the Prometheus text format.
//! - [`private`]: what is trusted: private directories and files, the peer on the socket.
//! - [`start`]: how hookd is started in the background.
//! - [`spool`]: the append-only file where `hook-client` keeps events hookd could not take.
//! - `wire_tests` (tests only): serde and [`hook_protocol_core::wire`] give the same bytes, so
//!   hook-client and hookd agree.
//!
//! This crate must stay small and std-only at its core (libc, serde and postcard): hookd,
//! hookctl and the engine link it. Async helpers sit behind the `tokio` feature.

#![warn(missing_docs)]

pub use hook_protocol_core::duration;
pub mod failmode;
pub mod frame;
pub mod http;
pub mod message;
pub mod paths;
pub mod private;
pub mod prometheus;
pub mod spool;
pub mod start;
#[cfg(test)]
mod wire_tests;

#[cfg(feature = "tokio")]
pub use frame::tokio_io;
pub use frame::{FrameError, read_frame, read_message, write_frame, write_message};
pub use message::*;

// The constants hook-client shares, documented where they are defined.
pub use hook_protocol_core::{
    BUILD_ID, MAX_DEADLINE, MAX_EVENT_LEN, MAX_FRAME_LEN, PACKAGE_VERSION, PROTOCOL_VERSION,
};
