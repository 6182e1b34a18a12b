//! What to answer when hookd cannot: the per-event fail mode.
//!
//! [`hook_protocol_core::failmode`], re-exported, but for [`fallback_reply`], which gives a
//! [`HookReply`] here (the core's gives a [`hook_protocol_core::Reply`], which has no serde).

pub use hook_protocol_core::failmode::{
    FailMode, default_mode, mode_for, push_json_string, scan_event_name, validate_spec,
};

use crate::message::HookReply;

/// Builds the reply for `event` answered by `mode`; `why` says what went wrong.
///
/// The reply's stderr always carries one line saying why; `spooled` (where the event was
/// kept) is added to it when given. See [`hook_protocol_core::failmode::fallback_reply`].
#[must_use]
pub fn fallback_reply(event: &str, mode: FailMode, why: &str, spooled: Option<&str>) -> HookReply {
    hook_protocol_core::failmode::fallback_reply(event, mode, why, spooled).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_is_the_cores() {
        for mode in [FailMode::Pass, FailMode::Ask, FailMode::Deny] {
            for event in ["PreToolUse", "PermissionRequest", "Stop", "SessionStart"] {
                let core =
                    hook_protocol_core::failmode::fallback_reply(event, mode, "x", Some("/s"));
                let ours = fallback_reply(event, mode, "x", Some("/s"));
                assert_eq!(
                    (ours.exit_code, ours.stdout, ours.stderr),
                    (core.exit_code, core.stdout, core.stderr)
                );
            }
        }
    }
}
