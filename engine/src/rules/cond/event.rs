//! Event-level conditions, looked at once per event: `tool`, `prompt`, `content` (the text a
//! file tool writes) and `field` (a dotted path into the event JSON).

use super::{Conditions, Ctx, Why, excerpt};
use crate::event::{HookEvent, Value};

fn field_value<'v>(v: Value<'v>, path: &[String]) -> Option<std::borrow::Cow<'v, str>> {
    let mut cur = v;
    for key in path {
        cur = if cur.is_object() {
            cur.get(key)?
        } else {
            cur.index(key.parse::<usize>().ok()?)?
        };
    }
    crate::event::json::text_of(cur)
}

/// The text a Write/Edit/MultiEdit/NotebookEdit call writes.
fn written_texts(event: &HookEvent) -> Vec<&str> {
    let Some(input) = event.value().get("tool_input") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in ["content", "new_string", "new_source"] {
        if let Some(s) = input.get(key).and_then(Value::as_str) {
            out.push(s);
        }
    }
    if let Some(edits) = input.get("edits").and_then(Value::as_array) {
        out.extend(edits.filter_map(|e| e.get("new_string").and_then(Value::as_str)));
    }
    out
}

impl Conditions {
    /// Event-level conditions: `tool`, `prompt`, `content`, `field`.
    /// Whether the event-level conditions hold (tool, prompt, content, fields). With `why`,
    /// also says what matched: only for a rule that matched as a whole, so the many rules
    /// that fail a later condition build no text.
    pub(super) fn event_level(&self, cx: &Ctx<'_>, mut why: Option<&mut Why>) -> bool {
        let event = cx.event;
        if let Some(m) = &self.tool {
            let tool = event.tool_name();
            if !m.matches(tool) {
                return false;
            }
            if let Some(why) = why.as_deref_mut() {
                why.push(format!("tool {}", tool.unwrap_or("-")));
            }
        }
        if let Some(re) = &self.prompt {
            let Some(m) = event.prompt().and_then(|p| re.find(p)) else {
                return false;
            };
            if let Some(why) = why.as_deref_mut() {
                why.push(format!("prompt matched {:?}", excerpt(m.as_str())));
            }
        }
        if let Some(re) = &self.content {
            let Some(m) = written_texts(event).into_iter().find_map(|t| re.find(t)) else {
                return false;
            };
            if let Some(why) = why.as_deref_mut() {
                why.push(format!("content matched {:?}", excerpt(m.as_str())));
            }
        }
        for (path, re) in &self.field {
            let Some(v) = field_value(event.value(), path) else {
                return false;
            };
            let Some(m) = re.find(&v) else { return false };
            if let Some(why) = why.as_deref_mut() {
                why.push(format!(
                    "{} matched {:?}",
                    path.join("."),
                    excerpt(m.as_str())
                ));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_follow_dotted_paths_and_indexes() {
        let doc =
            crate::event::json::Doc::parse(r#"{"a": {"b": [{"c": "x"}, 5]}, "n": null}"#).unwrap();
        let v = doc.root();
        assert_eq!(
            field_value(v, &["a".into(), "b".into(), "0".into(), "c".into()]).as_deref(),
            Some("x")
        );
        assert_eq!(
            field_value(v, &["a".into(), "b".into(), "1".into()]).as_deref(),
            Some("5")
        );
        assert_eq!(field_value(v, &["n".into()]), None);
        assert_eq!(field_value(v, &["zz".into()]), None);
    }
}
