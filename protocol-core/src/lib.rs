//! The part of hookd's protocol that hook-client needs, with no dependencies and no std.
//!
//! - [`duration`]: the one duration grammar (`30s`, `1m30s`; a bare number is seconds).
//! - [`failmode`]: what to answer when hookd cannot, and the reply that carries it.
//! - [`frame`]: the pure part of frames (length and version prefixes, their checks) and the
//!   frozen stop frame.
//! - [`trust`]: the words of a refusal (an untrusted directory, file, peer or program).
//! - [`wire`]: a hand-written encoder and decoder for the messages hook-client exchanges, byte
//!   for byte what serde and postcard produce for `hook-protocol`'s types.
//!
//! hook-client runs without glibc (its own `_start`, raw system calls), so this crate is
//! `#![no_std]` with `alloc` and depends on nothing: a dependency with a `std` feature would
//! bring std back through feature unification in the workspace build. `hook-protocol` depends
//! on it and re-exports it, so hookd, hookctl and the engine see one set of constants and one
//! implementation. The wire encoding is kept equal to serde's by `hook-protocol`'s tests.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod duration;
pub mod failmode;
pub mod frame;
pub mod trust;
pub mod wire;

pub use failmode::Reply;

/// The protocol version carried in every frame. Bump on any incompatible change (2: `runs`
/// requests and run counters in stats; 3: `HookRequest::id`, the delivery's identity that
/// makes a spooled copy of a committed event recognisable, and the store's durability fields
/// in status and stats; 4: `Latency::sum` in stats, for the Prometheus summaries' `_sum`; 5:
/// `Request::Allow` (allow-once) and `HookRequest::env_file`, `CLAUDE_ENV_FILE` for the `env`
/// action; 6: `Request::UiLogin` and `StatusReport::ui_url`, the dashboard; `Request::SinkFlush`
/// and the `sinks` of status and stats, the fleet). The types are `hook-protocol`'s.
pub const PROTOCOL_VERSION: u32 = 6;

/// The spool record format version, independent of the socket protocol: the version prefix of
/// each record in the spool file.
pub const SPOOL_VERSION: u32 = 1;

/// The version of the packages built from this workspace (hookd, hookctl, hook-client).
pub const PACKAGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The build identity (git commit, `-dirty` when built from a modified tree, or `unknown`).
pub const BUILD_ID: &str = env!("HOOKD_BUILD_ID");

/// The largest frame body accepted, in bytes (version prefix included).
pub const MAX_FRAME_LEN: u32 = 32 * 1024 * 1024;

/// The longest deadline hook-client accepts (`--deadline`, `HOOKD_DEADLINE`); `hookctl
/// install --deadline` refuses a longer one rather than write a command hook-client rejects.
pub const MAX_DEADLINE: core::time::Duration = core::time::Duration::from_secs(3600);

/// The largest hook event (the JSON Claude Code writes on stdin) forwarded to hookd, in bytes.
///
/// Larger events get the fail mode with reason "oversized event"; the spool keeps their first
/// `MAX_EVENT_LEN` bytes.
pub const MAX_EVENT_LEN: usize = 16 * 1024 * 1024;
