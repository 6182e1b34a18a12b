//! One rule file's syntax: TOML with positions, `[[rule]]` tables read one at a time with
//! every error reported (`file:line:column: what`, with the closest field name for a
//! misspelled key), and a rule's text as written for `hookctl rules NAME`.

use std::ops::Range;

use serde::Deserialize;

use super::compile::{RuleSpec, compile};
use super::load::Source;
use crate::rules::Rule;
use crate::settings::Settings;

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn at(source: &Source, span: Option<Range<usize>>, msg: &str) -> String {
    match span {
        Some(s) => {
            let (l, c) = line_col(&source.text, s.start);
            format!("{}:{l}:{c}: {msg}", source.name)
        }
        None => format!("{}: {msg}", source.name),
    }
}

/// Parses one source into compiled rules (and settings, for hookd.toml).
///
/// # Errors
///
/// Every problem found, each as `source:line:column: message`; a source with any error
/// contributes no rules.
pub fn parse_source(source: &Source) -> Result<(Vec<Rule>, Option<Settings>), Vec<String>> {
    let (rules, settings, errors) = read_source(source);
    if errors.is_empty() {
        Ok((rules, settings))
    } else {
        Err(errors)
    }
}

/// Parses one source: its rules (none when it has any error), hookd.toml's settings (with
/// errors, those that validated), and every problem found.
pub(super) fn read_source(source: &Source) -> (Vec<Rule>, Option<Settings>, Vec<String>) {
    let mut doc = match toml::de::DeTable::parse(&source.text) {
        Ok(doc) => doc,
        Err(e) => {
            let msg = e.message().trim().to_string();
            let settings = source.is_main.then(|| Settings::defaults_for(&source.name));
            return (Vec::new(), settings, vec![at(source, e.span(), &msg)]);
        }
    };
    // Every key but `rule` is a setting: hookd.toml's, read by the settings module; refused
    // elsewhere.
    let (settings, mut errors) = if source.is_main {
        let (s, e) = crate::settings::parse(&source.name, &source.text, doc.get_ref());
        (Some(s), e)
    } else {
        let e = crate::settings::misplaced(&source.name, &source.text, doc.get_ref());
        (None, e)
    };
    let entry = doc.get_mut().remove_entry("rule");
    let all_tables = entry.as_ref().is_some_and(|(_, v)| match v.get_ref() {
        toml::de::DeValue::Array(a) => a
            .into_iter()
            .all(|t| matches!(t.get_ref(), toml::de::DeValue::Table(_))),
        _ => false,
    });
    let mut rules = Vec::new();
    match entry {
        Some((_, v)) if !all_tables => {
            // What a rule file holds for the rules: `[[rule]]` tables. (The other keys of
            // hookd.toml are settings, read by `crate::settings`, and refused in other files.)
            errors.push(at(
                source,
                Some(v.span()),
                "`rule` must be `[[rule]]` tables (an array of tables), one per rule",
            ));
        }
        Some((_, v)) => {
            // Each `[[rule]]` table is read and compiled on its own, so that every rule's errors
            // are reported at once, in file order (serde stops at a table's first error).
            let toml::de::DeValue::Array(tables) = v.into_inner() else {
                unreachable!("checked above")
            };
            for t in tables {
                let Some((spec, misspelled)) = read_rule(source, t, &mut errors) else {
                    continue;
                };
                let span = spec.span();
                match compile(spec.into_inner(), &source.name) {
                    Ok(r) if !misspelled => rules.push(r),
                    Ok(_) => {}
                    Err(e) => errors.push(at(source, Some(span), &e)),
                }
            }
        }
        None => {}
    }
    if !errors.is_empty() {
        rules.clear();
    }
    (rules, settings, errors)
}

/// Reads one `[[rule]]` table. Every unknown key in it is an error of its own, with the
/// closest field name when one is close (`unknown field `comand` (did you mean `command`?)`);
/// the rule is then read as if spelled that way. `None` on any other problem (the first is
/// reported); else the rule, and whether a field was misspelled.
fn read_rule(
    source: &Source,
    table: toml::Spanned<toml::de::DeValue<'_>>,
    errors: &mut Vec<String>,
) -> Option<(toml::Spanned<RuleSpec>, bool)> {
    let span = table.span();
    let toml::de::DeValue::Table(mut t) = table.into_inner() else {
        return None;
    };
    let named = match t.get("name").map(toml::Spanned::get_ref) {
        Some(toml::de::DeValue::String(n)) => format!("rule `{n}`: "),
        _ => String::new(),
    };
    let fields = fields_of::<RuleSpec>();
    let unknown: Vec<_> = t
        .keys()
        .filter(|k| !fields.contains(&k.get_ref().as_ref()))
        .cloned()
        .collect();
    for key in &unknown {
        let k: &str = key.get_ref().as_ref();
        let suggestion = crate::settings::did_you_mean(k, fields.iter().copied());
        let text = match suggestion {
            Some(s) => format!("unknown field `{k}` (did you mean `{s}`?)"),
            None => format!(
                "unknown field `{k}` (a rule's fields: {})",
                fields.join(", ")
            ),
        };
        errors.push(at(source, Some(key.span()), &format!("{named}{text}")));
        // Read on as if spelled right, so the rule's other problems show in this round too.
        if let Some(value) = t.remove(key)
            && let Some(s) = suggestion
            && !t.contains_key(s)
        {
            t.insert(toml::Spanned::new(key.span(), s.into()), value);
        }
    }
    let value = toml::Spanned::new(span.clone(), toml::de::DeValue::Table(t));
    match RuleSpec::deserialize(toml::de::ValueDeserializer::from(value)) {
        Ok(spec) => Some((toml::Spanned::new(span, spec), !unknown.is_empty())),
        Err(e) => {
            errors.push(at(
                source,
                e.span(),
                &format!("{named}{}", e.message().trim()),
            ));
            None
        }
    }
}

/// The field names serde's derive gives struct `T`.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// Carries the fields out of `deserialize_struct`.
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("fields")
        }
    }
    impl std::error::Error for Fields {}
    impl serde::de::Error for Fields {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Self(&[])
        }
    }
    struct Probe;
    impl<'de> serde::Deserializer<'de> for Probe {
        type Error = Fields;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Fields(f)) => f,
        Ok(_) => &[],
    }
}

/// The text of the `[[rule]]` table named `name` in a rule file (with the comment lines right
/// above it), as written: what `hookctl rules NAME` shows. `None` when the file does not
/// parse or has no such rule.
#[must_use]
pub fn rule_definition(text: &str, name: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        name: String,
    }
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        rule: Vec<toml::Spanned<toml::Table>>,
    }
    let file: File = toml::from_str(text).ok()?;
    let spanned = file.rule.iter().find(|r| {
        toml::Value::Table(r.get_ref().clone())
            .try_into::<Named>()
            .is_ok_and(|n| n.name.trim() == name)
    })?;
    // The table's header is where its span starts, or the last one before its keys; the
    // comments right above it belong to it.
    let span = spanned.span();
    let upto = (span.start + "[[rule]]".len()).min(text.len());
    let header = text
        .get(..upto)
        .and_then(|t| t.rfind("[[rule]]"))
        .unwrap_or(span.start);
    let mut start = text[..header].rfind('\n').map_or(0, |i| i + 1);
    while start > 0 {
        let prev = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        if !text[prev..start].trim_start().starts_with('#') {
            break;
        }
        start = prev;
    }
    let end = text[span.end.min(text.len())..]
        .find("\n[[")
        .map_or(text.len(), |i| span.end + i + 1);
    Some(text[start..end].trim_end().to_owned())
}
