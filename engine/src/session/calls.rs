//! The bypass alarm's memory of a session's tool calls: which calls passed PreToolUse, which
//! finished, and the post events that had no PreToolUse (docs/operations.md, "Bypass alarm").

use std::sync::Arc;

use super::{MAX_FINISHED, MAX_IN_FLIGHT, Session};
use crate::event::HookEvent;
use crate::intern::intern;

/// A tool call that ran without a PreToolUse in its session ([`Session::observe`] finds them;
/// the handler records, counts and reports them: docs/operations.md, "Bypass alarm").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bypass {
    /// The tool.
    pub tool: Arc<str>,
    /// The call's `tool_use_id`.
    pub tool_use_id: Box<str>,
    /// The event that showed it (PostToolUse, PostToolUseFailure, PostToolBatch).
    pub seen_in: &'static str,
}

/// What the bypass alarm keeps of a session: allocated at its first tool call with an id, so a
/// session without any costs one pointer.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    /// Its tool calls by `tool_use_id`.
    pub ids: CallIds,
    /// Its bypasses, allocated at the first one (most sessions never have one).
    pub bypass: Option<Box<BypassLog>>,
}

/// A session's bypasses.
#[derive(Debug, Clone, Default)]
pub struct BypassLog {
    /// Bypasses in all.
    pub total: u64,
    /// Found by the last [`Session::observe`] (the handler takes them).
    pub new: Vec<Bypass>,
    /// Not yet told to the model and the user (the next event that can carry a context tells
    /// them).
    pub untold: Vec<Bypass>,
}

/// The bounded memory of a session's tool calls by `tool_use_id`: those that passed
/// PreToolUse and have not finished, and those recently finished, as 32-bit hashes (the low
/// bit marks a finished call) in one vector, oldest first: 4 bytes a call, at most
/// `MAX_IN_FLIGHT` + `MAX_FINISHED` of them (10,000 live sessions: BENCHMARKS.md).
#[derive(Debug, Clone, Default)]
pub struct CallIds(Vec<u32>);

const FINISHED: u32 = 1;

fn call_key(id: &str) -> u32 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same in every process (replay rebuilds the same set).
    let mut h = std::hash::DefaultHasher::new();
    id.hash(&mut h);
    let h = h.finish();
    #[allow(clippy::cast_possible_truncation)] // folding 64 bits into 32 on purpose
    let folded = (h ^ (h >> 32)) as u32;
    folded & !FINISHED
}

impl CallIds {
    fn find(&self, key: u32) -> Option<usize> {
        self.0.iter().position(|e| e & !FINISHED == key)
    }

    /// Adds `entry`, dropping the oldest finished call past [`MAX_FINISHED`] and the oldest
    /// call in flight past [`MAX_IN_FLIGHT`].
    fn push(&mut self, entry: u32) {
        let finished = entry & FINISHED != 0;
        let (limit, same_kind) = if finished {
            (MAX_FINISHED, FINISHED)
        } else {
            (MAX_IN_FLIGHT, 0)
        };
        if self.0.iter().filter(|e| *e & FINISHED == same_kind).count() >= limit
            && let Some(i) = self.0.iter().position(|e| e & FINISHED == same_kind)
        {
            self.0.remove(i);
        }
        self.0.push(entry);
    }

    /// A PreToolUse for `id`.
    pub(super) fn pre(&mut self, id: &str) {
        let key = call_key(id);
        if self.find(key).is_none() {
            self.push(key);
        }
    }

    /// A post event for `id`: false when the call never had a PreToolUse (a bypass). Either
    /// way the call is finished now.
    fn post(&mut self, id: &str) -> bool {
        let key = call_key(id);
        match self.find(key) {
            Some(i) if self.0[i] & FINISHED != 0 => true,
            Some(i) => {
                self.0.remove(i);
                self.push(key | FINISHED);
                true
            }
            None => {
                self.push(key | FINISHED);
                false
            }
        }
    }

    /// (calls in flight, finished calls) remembered.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        let finished = self.0.iter().filter(|e| *e & FINISHED != 0).count();
        (self.0.len() - finished, finished)
    }
}

impl Session {
    /// A post event for the call `id` of `tool`: a bypass when the call never had a PreToolUse.
    /// Only in a session whose PreToolUse events reach hookd at all (one was seen), so a
    /// set-up that sends hookd PostToolUse alone raises no alarm.
    pub(super) fn check_call(&mut self, tool: &str, id: Option<&str>, event: &HookEvent) {
        let Some(id) = id.filter(|id| !id.is_empty()) else {
            return;
        };
        let calls = self.calls.get_or_insert_with(Box::default);
        if !calls.ids.post(id) && !self.tool_calls.is_empty() {
            let seen_in = match event.name.as_str() {
                "PostToolUse" => "PostToolUse",
                "PostToolUseFailure" => "PostToolUseFailure",
                _ => "PostToolBatch",
            };
            let log = calls.bypass.get_or_insert_with(Box::default);
            log.total += 1;
            log.new.push(Bypass {
                tool: intern(tool),
                tool_use_id: id.into(),
                seen_in,
            });
        }
    }

    /// Tool calls that ran without a PreToolUse in this session.
    #[must_use]
    pub fn bypasses(&self) -> u64 {
        self.calls
            .as_ref()
            .and_then(|c| c.bypass.as_ref())
            .map_or(0, |l| l.total)
    }

    /// The session's bypass log, if it has had a bypass.
    pub fn bypass_log(&mut self) -> Option<&mut BypassLog> {
        self.calls.as_deref_mut()?.bypass.as_deref_mut()
    }

    /// The bypasses the last [`Session::observe`] found.
    pub fn take_new_bypasses(&mut self) -> Vec<Bypass> {
        self.bypass_log()
            .map(|l| std::mem::take(&mut l.new))
            .unwrap_or_default()
    }
}
