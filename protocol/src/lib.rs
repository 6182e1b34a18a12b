//! The contract shared by `hookd`, `hook-client` and `hookctl`.
//!
//! - [`duration`]: the one duration grammar (`30s`, `1m30s`; a bare number is seconds).
//! - [`http`]: the HTTP listener's token file, port file and URL, shared with hookctl.
//! - [`frame`]: length-prefixed frames (u32 big-endian length, then the protocol version, then
//!   a postcard body), with the maximum checked before anything is allocated.
//! - [`message`]: the [`Request`] and [`Response`] enums and their payloads.
//! - [`paths`]: where the socket, configuration, store and spool live.
//! - [`prometheus`]: a [`StatsReport`] in the Prometheus text format.
//! - [`private`]: what is trusted: private directories and files, the peer on the socket.
//! - [`start`]: how hookd is started in the background.
//! - [`spool`]: the append-only file where `hook-client` keeps events hookd could not take.
//!
//! This crate must stay small and std-only at its core: `hook-client` links it, and its start-up
//! cost is measured against `/bin/true`. Async helpers sit behind the `tokio` feature.

#![warn(missing_docs)]

pub mod duration;
pub mod failmode;
pub mod frame;
pub mod http;
pub mod message;
pub mod paths;
pub mod private;
pub mod prometheus;
pub mod spool;
pub mod start;

#[cfg(feature = "tokio")]
pub use frame::tokio_io;
pub use frame::{FrameError, read_frame, read_message, write_frame, write_message};
pub use message::*;

/// The protocol version carried in every frame. Bump on any incompatible change (2: `runs`
/// requests and run counters in stats; 3: [`HookRequest::id`], the delivery's identity that
/// makes a spooled copy of a committed event recognisable, and the store's durability fields
/// in status and stats; 4: [`Latency::sum`] in stats, for the Prometheus summaries' `_sum`; 5: [`Request::Allow`]
/// (allow-once) and [`HookRequest::env_file`], `CLAUDE_ENV_FILE` for the `env` action; 6:
/// [`Request::UiLogin`] and [`StatusReport::ui_url`], the dashboard).
pub const PROTOCOL_VERSION: u32 = 6;

/// The version of the packages built from this workspace (hookd, hookctl, hook-client).
pub const PACKAGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The build identity (git commit, `-dirty` when built from a modified tree, or `unknown`).
pub const BUILD_ID: &str = env!("HOOKD_BUILD_ID");

/// The largest frame body accepted, in bytes (version prefix included).
pub const MAX_FRAME_LEN: u32 = 32 * 1024 * 1024;

/// The longest deadline hook-client accepts (`--deadline`, `HOOKD_DEADLINE`); `hookctl
/// install --deadline` refuses a longer one rather than write a command hook-client rejects.
pub const MAX_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The largest hook event (the JSON Claude Code writes on stdin) forwarded to hookd, in bytes.
///
/// Larger events get the fail mode with reason "oversized event"; the spool keeps their first
/// `MAX_EVENT_LEN` bytes.
pub const MAX_EVENT_LEN: usize = 16 * 1024 * 1024;
