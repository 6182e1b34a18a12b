//! A parsed hook event: the JSON Claude Code sent, with the fields rules look at pulled out.
//!
//! Parsing is tolerant: unknown keys are kept, missing optional keys are `None`. Only a body
//! that is not a JSON object, or has no event name at all, is refused.

pub mod json;

pub use json::Value;

use crate::events::{self, EventSpec};

/// One hook event.
#[derive(Debug, Clone)]
pub struct HookEvent {
    /// `hook_event_name` (or the client's `--event` when the JSON lacks it).
    pub name: String,
    /// The catalogue entry, for known events.
    pub spec: Option<&'static EventSpec>,
    /// The whole JSON object.
    doc: json::Doc,
    /// Where `session_id`, `cwd` and `tool_name` are in it: looked up once, read many times
    /// (by the session, every rule, the record).
    known: [Option<usize>; 3],
}

/// The longest `session_id` hookd accepts (bytes). Claude Code's ids are UUIDs (36 bytes); an
/// event with a longer one is refused ([`EventError::SessionIdTooLong`]) and answered with the
/// fail mode, as a malformed event is, so no event can make hookd keep a string of its choosing
/// as a session's key (in memory, and in every stored row of the session).
pub const MAX_SESSION_ID_LEN: usize = 256;

const SESSION_ID: usize = 0;
const CWD: usize = 1;
const TOOL_NAME: usize = 2;

/// Why an event body was refused.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not valid JSON.
    #[error("malformed event JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Not UTF-8, which JSON must be.
    #[error("malformed event JSON: not UTF-8 (invalid byte at offset {0})")]
    Utf8(usize),
    /// Valid JSON but not an object.
    #[error("event JSON is not an object")]
    NotObject,
    /// No `hook_event_name` and no `--event`.
    #[error("event has no hook_event_name (and hook-client was not given --event)")]
    NoName,
    /// A `session_id` longer than [`MAX_SESSION_ID_LEN`].
    #[error("session_id is {0} bytes long (hookd accepts at most {max})", max = MAX_SESSION_ID_LEN)]
    SessionIdTooLong(usize),
}

impl HookEvent {
    /// Parses raw event bytes; `hint` is the client's `--event`.
    ///
    /// # Errors
    ///
    /// See [`EventError`].
    pub fn parse(bytes: &[u8], hint: Option<&str>) -> Result<Self, EventError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            // serde_json says where, in its usual words ("invalid unicode code point at line 1
            // column 98"); it cannot accept bytes that are not UTF-8.
            serde_json::from_slice::<serde_json::Value>(bytes)
                .err()
                .map_or(EventError::Utf8(e.valid_up_to()), EventError::Json)
        })?;
        let doc = json::Doc::parse(text)?;
        let root = doc.root();
        if !root.is_object() {
            return Err(EventError::NotObject);
        }
        let name = root
            .get("hook_event_name")
            .and_then(Value::as_str)
            .or(hint)
            .filter(|s| !s.is_empty())
            .ok_or(EventError::NoName)?
            .to_string();
        let known = ["session_id", "cwd", "tool_name"].map(|k| root.position(k));
        if let Some(id) = known[SESSION_ID]
            .and_then(|i| root.member(i))
            .and_then(Value::as_str)
            && id.len() > MAX_SESSION_ID_LEN
        {
            return Err(EventError::SessionIdTooLong(id.len()));
        }
        Ok(Self {
            spec: events::lookup(&name),
            name,
            known,
            doc,
        })
    }

    /// The whole JSON object.
    #[must_use]
    pub fn value(&self) -> Value<'_> {
        self.doc.root()
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.value().get(key).and_then(Value::as_str)
    }

    fn known_str(&self, which: usize) -> Option<&str> {
        self.value().member(self.known[which]?)?.as_str()
    }

    /// `session_id`, when it is a non-empty string.
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.known_str(SESSION_ID).filter(|s| !s.is_empty())
    }

    /// What is wrong with the event's `session_id` when [`Self::session_id`] has none: for
    /// reasons that name it ("the event has no session_id", "… is a number" …).
    #[must_use]
    pub(crate) fn session_id_problem(&self) -> &'static str {
        let Some(v) = self.known[SESSION_ID].and_then(|i| self.value().member(i)) else {
            return "the event has no session_id";
        };
        if v.is_null() {
            "the event's session_id is null"
        } else if v.is_object() {
            "the event's session_id is an object"
        } else if v.as_array().is_some() {
            "the event's session_id is an array"
        } else if v.as_bool().is_some() {
            "the event's session_id is a boolean"
        } else if v.as_str().is_some() {
            "the event's session_id is empty"
        } else {
            "the event's session_id is a number"
        }
    }

    /// `cwd`.
    #[must_use]
    pub fn cwd(&self) -> Option<&str> {
        self.known_str(CWD)
    }

    /// `tool_name`, for tool events.
    #[must_use]
    pub fn tool_name(&self) -> Option<&str> {
        self.known_str(TOOL_NAME)
    }

    /// The Bash command of a Bash tool event.
    #[must_use]
    pub fn bash_command(&self) -> Option<&str> {
        if self.tool_name() != Some("Bash") {
            return None;
        }
        self.value().get("tool_input")?.get("command")?.as_str()
    }

    /// The prompt of UserPromptSubmit / UserPromptExpansion.
    #[must_use]
    pub fn prompt(&self) -> Option<&str> {
        self.str_field("prompt")
    }

    /// A one-line summary for listings: the Bash command, the target path, the prompt, or the
    /// matcher value (at most 200 characters; redact before storing).
    #[must_use]
    pub fn summary(&self) -> Option<String> {
        let input = self.value().get("tool_input");
        let text = self
            .bash_command()
            .or_else(|| {
                input.and_then(|i| {
                    [
                        "file_path",
                        "path",
                        "notebook_path",
                        "url",
                        "pattern",
                        "query",
                        "description",
                    ]
                    .iter()
                    .find_map(|k| i.get(k).and_then(Value::as_str))
                })
            })
            .or_else(|| self.prompt())
            .or_else(|| self.match_value())?;
        let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(if line.chars().count() > 200 {
            line.chars().take(199).chain(std::iter::once('…')).collect()
        } else {
            line
        })
    }

    /// The value Claude Code's matcher applies to for this event (tool name, source, …).
    #[must_use]
    pub fn match_value(&self) -> Option<&str> {
        let field = self.spec.and_then(|s| s.match_field).unwrap_or("tool_name");
        let v = self.str_field(field)?;
        if field == "file_path" {
            // FileChanged matches on the basename.
            return Some(v.rsplit('/').next().unwrap_or(v));
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_keys_are_tolerated() {
        let e = HookEvent::parse(br#"{"hook_event_name":"Stop","novel":{"x":1}}"#, None).unwrap();
        assert_eq!(e.name, "Stop");
        assert!(e.session_id().is_none());
        assert!(e.spec.is_some());
    }

    #[test]
    fn unknown_events_parse_without_a_spec() {
        let e = HookEvent::parse(br#"{"hook_event_name":"FutureEvent"}"#, None).unwrap();
        assert!(e.spec.is_none());
    }

    #[test]
    fn name_falls_back_to_the_hint_and_bad_bodies_are_refused() {
        assert_eq!(HookEvent::parse(b"{}", Some("Stop")).unwrap().name, "Stop");
        assert!(matches!(
            HookEvent::parse(b"{}", None),
            Err(EventError::NoName)
        ));
        assert!(matches!(
            HookEvent::parse(b"[1]", None),
            Err(EventError::NotObject)
        ));
        assert!(matches!(
            HookEvent::parse(b"{nope", None),
            Err(EventError::Json(_))
        ));
        let e = HookEvent::parse(b"{\"hook_event_name\":\"Stop\",\"x\":\"\xff\"}", None);
        assert!(
            matches!(&e, Err(EventError::Json(j)) if j.to_string().contains("unicode")),
            "{e:?}"
        );
    }

    #[test]
    fn bash_command_only_for_bash() {
        let e = HookEvent::parse(
            br#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}"#,
            None,
        )
        .unwrap();
        assert_eq!(e.bash_command(), Some("ls"));
        let e = HookEvent::parse(
            br#"{"hook_event_name":"PreToolUse","tool_name":"Task","tool_input":{"command":"ls"}}"#,
            None,
        )
        .unwrap();
        assert_eq!(e.bash_command(), None);
    }
}
