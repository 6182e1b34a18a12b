//! The event's JSON as a small tree whose strings point into the event's own text.
//!
//! Rules look at a handful of fields of objects with a dozen keys, once per event. A
//! `serde_json::Value` allocates every key and string and, with the workspace's
//! `preserve_order`, builds and SipHashes an `IndexMap` per object: that was the largest part
//! of parsing an event. Here an unescaped string (nearly all of them) is a range of the text,
//! an object is a vector of entries searched in order, and the only allocations are the
//! vectors and the rare escaped string.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// A parsed JSON document: its text and the tree over it.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    text: Box<str>,
    root: Node,
}

/// A string: a range of the document's text, or owned when it had escapes.
#[derive(Debug, Clone)]
enum Text {
    Span(u32, u32),
    Owned(Box<str>),
}

#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Text),
    Array(Vec<Node>),
    Object(Vec<(Text, Node)>),
}

/// A value inside a `Doc`: cheap to copy, borrowed from it.
#[derive(Clone, Copy)]
pub struct Value<'a> {
    text: &'a str,
    node: &'a Node,
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl Doc {
    /// Parses `text` (one JSON value, surrounding whitespace allowed).
    ///
    /// # Errors
    ///
    /// Malformed JSON, or a document over 4 GiB (its ranges are 32-bit).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        if u32::try_from(text.len()).is_err() {
            return Err(de::Error::custom("document over 4 GiB"));
        }
        let text: Box<str> = text.into();
        let mut de = serde_json::Deserializer::from_str(&text);
        let root = NodeSeed { base: &text }.deserialize(&mut de)?;
        de.end()?;
        Ok(Self { text, root })
    }

    /// The top-level value.
    #[must_use]
    pub fn root(&self) -> Value<'_> {
        Value {
            text: &self.text,
            node: &self.root,
        }
    }
}

impl<'a> Value<'a> {
    fn at(self, node: &'a Node) -> Self {
        Value {
            text: self.text,
            node,
        }
    }

    fn str_of(self, t: &'a Text) -> &'a str {
        match t {
            Text::Span(a, b) => &self.text[*a as usize..*b as usize],
            Text::Owned(s) => s,
        }
    }

    /// The member `key` of an object (the last, if repeated, as `serde_json` and JavaScript
    /// read it); `None` for anything else.
    #[must_use]
    pub fn get(self, key: &str) -> Option<Self> {
        self.position(key).and_then(|i| self.member(i))
    }

    /// Where the member `key` is in an object (see [`Value::get`]), for `Value::member`.
    #[must_use]
    pub fn position(self, key: &str) -> Option<usize> {
        let Node::Object(entries) = self.node else {
            return None;
        };
        let (text, key) = (self.text.as_bytes(), key.as_bytes());
        entries.iter().rposition(|(k, _)| match k {
            // Lengths first: most keys differ in length, and no slicing for those.
            Text::Span(a, b) => {
                (b - a) as usize == key.len() && &text[*a as usize..*b as usize] == key
            }
            Text::Owned(s) => s.as_bytes() == key,
        })
    }

    /// The value of an object's `i`-th member.
    #[must_use]
    pub(crate) fn member(self, i: usize) -> Option<Self> {
        match self.node {
            Node::Object(entries) => entries.get(i).map(|(_, v)| self.at(v)),
            _ => None,
        }
    }

    /// The `i`-th element of an array.
    #[must_use]
    pub fn index(self, i: usize) -> Option<Self> {
        match self.node {
            Node::Array(items) => items.get(i).map(|v| self.at(v)),
            _ => None,
        }
    }

    /// The elements of an array; `None` for anything else.
    #[must_use]
    pub fn as_array(self) -> Option<impl Iterator<Item = Value<'a>>> {
        match self.node {
            Node::Array(items) => Some(items.iter().map(move |v| self.at(v))),
            _ => None,
        }
    }

    /// The string, if this is one.
    #[must_use]
    pub fn as_str(self) -> Option<&'a str> {
        match self.node {
            Node::String(t) => Some(self.str_of(t)),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    #[must_use]
    pub fn as_bool(self) -> Option<bool> {
        match self.node {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as an `i64`, if it is an integer in range.
    #[must_use]
    pub(crate) fn as_i64(self) -> Option<i64> {
        match self.node {
            Node::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// Whether this is `null`.
    #[must_use]
    pub fn is_null(self) -> bool {
        matches!(self.node, Node::Null)
    }

    /// Whether this is an object.
    #[must_use]
    pub fn is_object(self) -> bool {
        matches!(self.node, Node::Object(_))
    }

    /// Compact JSON text, as `serde_json` writes it (keys in document order).
    #[must_use]
    pub fn to_json(self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(self, out: &mut String) {
        match self.node {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Number(n) => out.push_str(&n.to_string()),
            Node::String(t) => write_string(self.str_of(t), out),
            Node::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.at(v).write_json(out);
                }
                out.push(']');
            }
            Node::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(self.str_of(k), out);
                    out.push(':');
                    self.at(v).write_json(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // Serialising a str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Builds nodes; `base` is the document text, to turn borrowed strings into ranges of it.
#[derive(Clone, Copy)]
struct NodeSeed<'b> {
    base: &'b str,
}

impl NodeSeed<'_> {
    fn text(self, s: &str) -> Text {
        // A string borrowed from the document lies inside it: keep only its range. Its address
        // alone shows that (the same bytes, so no need to compare them).
        let start = (s.as_ptr() as usize).wrapping_sub(self.base.as_ptr() as usize);
        match start.checked_add(s.len()) {
            Some(end) if self.base.get(start..end).is_some() => {
                // The document is under 4 GiB (checked in `Doc::parse`).
                Text::Span(start as u32, end as u32)
            }
            _ => Text::Owned(s.into()),
        }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(Node::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(Node::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Node, E> {
        // serde_json never yields a non-finite number; null as serde_json's Value would have.
        Ok(serde_json::Number::from_f64(n).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node, E> {
        Ok(Node::String(self.text(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(Node::String(Text::Owned(s.into())))
    }

    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(Node::String(Text::Owned(s.into_boxed_str())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(self)? {
            items.push(v);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
        while let Some(k) = map.next_key_seed(KeySeed(self))? {
            let v = map.next_value_seed(self)?;
            entries.push((k, v));
        }
        Ok(Node::Object(entries))
    }
}

/// An object key, as a [`Text`].
#[derive(Clone, Copy)]
struct KeySeed<'b>(NodeSeed<'b>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Text;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text, E> {
        Ok(self.0.text(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Text, E> {
        Ok(Text::Owned(s.into()))
    }

    fn visit_string<E>(self, s: String) -> Result<Text, E> {
        Ok(Text::Owned(s.into_boxed_str()))
    }
}

/// A path's value as text for matching: strings as they are, other values as compact JSON,
/// `null` and missing as `None`.
#[must_use]
pub(crate) fn text_of(v: Value<'_>) -> Option<Cow<'_, str>> {
    if v.is_null() {
        return None;
    }
    Some(
        v.as_str()
            .map_or_else(|| Cow::Owned(v.to_json()), Cow::Borrowed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_borrow_from_the_text_and_escapes_are_decoded() {
        let doc = Doc::parse(
            r#" {"a":"plain","b":"tab\tquote\"é\u00e9","c":{"d":[1,-2,3.5,true,null]}} "#,
        )
        .unwrap();
        let r = doc.root();
        assert!(matches!(r.node, Node::Object(_)));
        assert_eq!(r.get("a").and_then(Value::as_str), Some("plain"));
        assert!(matches!(
            r.get("a").unwrap().node,
            Node::String(Text::Span(..))
        ));
        assert_eq!(r.get("b").and_then(Value::as_str), Some("tab\tquote\"éé"));
        let d = r.get("c").and_then(|c| c.get("d")).unwrap();
        assert_eq!(d.index(1).and_then(Value::as_i64), Some(-2));
        assert_eq!(d.index(3).and_then(Value::as_bool), Some(true));
        assert!(d.index(4).unwrap().is_null());
        assert_eq!(d.as_array().unwrap().count(), 5);
        assert!(r.get("zz").is_none() && r.get("a").unwrap().get("x").is_none());
    }

    #[test]
    fn compact_text_matches_serde_json() {
        // Keys in sorted order: without `preserve_order`, serde_json sorts them.
        for src in [
            r#"{"b": false, "k": [1, 2.5, -3, 1e3, "x\ny", {"z": null}], "u": 18446744073709551615}"#,
            r#"[{"a":{}},[],""]"#,
            "\"s\"",
            "12",
        ] {
            let ours = Doc::parse(src).unwrap().root().to_json();
            let theirs = serde_json::from_str::<serde_json::Value>(src)
                .unwrap()
                .to_string();
            assert_eq!(ours, theirs, "{src}");
        }
        assert_eq!(
            Doc::parse(r#"{"z":1, "a":2}"#).unwrap().root().to_json(),
            r#"{"z":1,"a":2}"#
        );
    }

    #[test]
    fn repeated_keys_keep_the_last_and_bad_text_is_refused() {
        let doc = Doc::parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(doc.root().get("a").and_then(Value::as_i64), Some(2));
        for bad in ["{", "{\"a\":}", "[1,]", "{} x", ""] {
            assert!(Doc::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_of_gives_strings_raw_and_the_rest_as_json() {
        let doc = Doc::parse(r#"{"s":"x","n":5,"o":{"a":[1]},"z":null}"#).unwrap();
        let r = doc.root();
        assert_eq!(text_of(r.get("s").unwrap()).as_deref(), Some("x"));
        assert_eq!(text_of(r.get("n").unwrap()).as_deref(), Some("5"));
        assert_eq!(
            text_of(r.get("o").unwrap()).as_deref(),
            Some(r#"{"a":[1]}"#)
        );
        assert_eq!(text_of(r.get("z").unwrap()), None);
    }
}
