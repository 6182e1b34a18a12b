//! hookd.toml's settings from its parsed document: which table each top-level key is, and
//! the helpers every message shares (suggestions, sizes).

use toml::de::DeTable;

use super::reader::{Key, RULE_KEY, Reader, did_you_mean, hint};
use super::sections::{http, redact, run, server, session, store, ui};
use super::{Settings, TOP_KEYS};

/// Reads the settings of hookd.toml (`file`, whose text is `text`) from its parsed `doc`;
/// `[[rule]]` tables are left to the rules. Returns the settings (a key with an error keeps
/// its default) and every problem, as `file:line:column: what`, in the file's order.
#[must_use]
pub fn parse(file: &str, text: &str, doc: &DeTable<'_>) -> (Settings, Vec<String>) {
    let mut r = Reader::new(file, text);
    let mut s = Settings::defaults_for(file);
    for (key, value) in doc {
        let name: &str = key.get_ref();
        if name == RULE_KEY {
            continue;
        }
        r.locate(name, key.span());
        match name {
            "packs" => s.packs = r.strings(&Key::top(key), value),
            "disable_rules" => {
                if let Some(v) = r.strings(&Key::top(key), value) {
                    s.disable_rules = v;
                }
            }
            "store" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.store = store(&mut r, t);
                }
            }
            "session" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.session = session(&mut r, t);
                }
            }
            "server" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.server = server(&mut r, t);
                }
            }
            "http" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.http = http(&mut r, t);
                }
            }
            "ui" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.ui = ui(&mut r, t);
                }
            }
            "run" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.run = run(&mut r, t);
                }
            }
            "redact" => {
                if let Some(t) = r.table(&Key::top(key), value) {
                    s.redact = redact(&mut r, t, value.span());
                }
            }
            "fleet" => match value.get_ref() {
                toml::de::DeValue::Table(t) => {
                    let errors = std::mem::take(&mut s.fleet.errors);
                    s.fleet = super::fleet::fleet(file, text, t);
                    s.fleet.errors.splice(0..0, errors);
                }
                _ => s.fleet.errors.push(format!(
                    "{}`fleet` must be a table ([fleet])",
                    r.prefix(value.span().start)
                )),
            },
            "sink" => {
                let mut errors = Vec::new();
                s.sinks = super::fleet::sinks(file, text, value, &mut errors);
                s.fleet.errors.extend(errors);
            }
            _ => r.unknown(None, key),
        }
    }
    let (locations, errors) = r.finish();
    s.locations = locations;
    (s, errors)
}

/// [`parse`] from the text: a TOML syntax error is the only error then, at its
/// `file:line:column` like every other. For tools that need hookd.toml's settings without its
/// rules (`hookd sink-init`).
#[must_use]
pub fn parse_text(file: &str, text: &str) -> (Settings, Vec<String>) {
    match DeTable::parse(text) {
        Ok(doc) => parse(file, text, doc.get_ref()),
        Err(e) => {
            let r = Reader::new(file, text);
            let msg = e.message().trim().to_string();
            let at = e
                .span()
                .map_or_else(|| format!("{file}: "), |s| r.prefix(s.start));
            (Settings::defaults_for(file), vec![format!("{at}{msg}")])
        }
    }
}

/// One error per top-level key of a rule file other than hookd.toml (`file`, text `text`)
/// that is not `rule`: settings belong in hookd.toml, anything else is unknown.
#[must_use]
pub(crate) fn misplaced(file: &str, text: &str, doc: &DeTable<'_>) -> Vec<String> {
    let r = Reader::new(file, text);
    doc.iter()
        .filter(|(k, _)| k.get_ref() != RULE_KEY)
        .map(|(k, _)| {
            let name: &str = k.get_ref();
            let msg = if TOP_KEYS.contains(&name) {
                format!(
                    "`{name}` is a daemon setting: it belongs in hookd.toml (in hookd's \
                     configuration directory); rule files hold only [[rule]] tables"
                )
            } else {
                format!(
                    "unknown key `{name}`{}; rule files hold only [[rule]] tables",
                    hint(did_you_mean(name, [RULE_KEY]))
                )
            };
            format!("{}{msg}", r.prefix(k.span().start))
        })
        .collect()
}
