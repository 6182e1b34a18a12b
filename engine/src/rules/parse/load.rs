//! Gathering and compiling every source: the built-in packs, hookd.toml, rules.d (each file's
//! owner and mode checked first), pack selection and rule overrides, into one ruleset.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::globs::GlobCacheScope;
use super::syntax::{parse_source, read_source};
use crate::rules::Ruleset;
use crate::settings::{Location, Settings};

/// Built-in packs: name and TOML text, embedded at build time.
pub const PACKS: &[(&str, &str)] = &[
    ("git", include_str!("../../../../packs/git.toml")),
    (
        "filesystem",
        include_str!("../../../../packs/filesystem.toml"),
    ),
    ("secrets", include_str!("../../../../packs/secrets.toml")),
    (
        "remote-exec",
        include_str!("../../../../packs/remote-exec.toml"),
    ),
    ("database", include_str!("../../../../packs/database.toml")),
    ("system", include_str!("../../../../packs/system.toml")),
    ("shell", include_str!("../../../../packs/shell.toml")),
    ("files", include_str!("../../../../packs/files.toml")),
    ("cloud", include_str!("../../../../packs/cloud.toml")),
    ("infra", include_str!("../../../../packs/infra.toml")),
    (
        "containers",
        include_str!("../../../../packs/containers.toml"),
    ),
];

/// Packs enabled when `hookd.toml` does not say: all of them.
pub(crate) const DEFAULT_PACKS: &[&str] = &[
    "git",
    "filesystem",
    "secrets",
    "remote-exec",
    "database",
    "system",
    "shell",
    "files",
    "cloud",
    "infra",
    "containers",
];

/// One rule file's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// A file path, or `pack:<name>`.
    pub name: String,
    /// The TOML text.
    pub text: String,
    /// Whether daemon settings (every key but `[[rule]]`, [`crate::settings`]) may appear
    /// (hookd.toml only).
    pub is_main: bool,
}

/// The result of loading every source.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The compiled ruleset (rules from sources that loaded cleanly).
    pub ruleset: Ruleset,
    /// Settings from hookd.toml ([`crate::settings`]); with errors in it, the settings that
    /// did validate (a key with an error keeps its default).
    pub settings: Settings,
    /// Every problem found, as `source:line:column: message`.
    pub errors: Vec<String>,
    /// The user's files read (hookd.toml first, then rules.d in order), with their text: what
    /// `crate::lastgood` saves when they loaded without errors.
    pub files: Vec<Source>,
}

/// Why a rule file or directory may not be trusted: written by someone else, it could approve
/// commands. It must be owned by us or root and writable by neither others nor the group,
/// except the group when it is our own private group (the "user private group" scheme: named
/// like us, our primary group, no other members). Symlinks are followed: their target is what
/// counts. Used for hookd.toml wherever it is read (rules, settings, `hookd sink-init`).
pub fn foreign_writer(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    let me = hook_protocol::private::euid();
    if m.uid() != me && m.uid() != 0 {
        return Some(format!(
            "{}: refusing rules owned by uid {} (not you, uid {me}); chown it or remove it",
            path.display(),
            m.uid()
        ));
    }
    if m.mode() & 0o002 != 0 {
        return Some(format!(
            "{}: refusing rules anyone can write (mode {:o}); run `chmod o-w {}`",
            path.display(),
            m.mode() & 0o7777,
            path.display()
        ));
    }
    if m.mode() & 0o020 != 0 && !hook_protocol::private::private_group(m.gid()) {
        return Some(format!(
            "{}: refusing rules other members of group {} can write (mode {:o}); run `chmod g-w {}`",
            path.display(),
            m.gid(),
            m.mode() & 0o7777,
            path.display()
        ));
    }
    None
}

fn read_sources(config_dir: &Path, errors: &mut Vec<String>) -> (Option<Source>, Vec<Source>) {
    let read = |path: PathBuf, is_main: bool, errors: &mut Vec<String>| {
        if let Some(why) = foreign_writer(&path) {
            errors.push(why);
            return None;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(Source {
                name: path.display().to_string(),
                text,
                is_main,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                errors.push(format!("{}: cannot read: {e}", path.display()));
                None
            }
        }
    };
    let main = read(
        config_dir.join(hook_protocol::paths::CONFIG_FILE),
        true,
        errors,
    );
    let rules_dir = config_dir.join(hook_protocol::paths::RULES_DIR);
    if let Some(why) = foreign_writer(&rules_dir) {
        errors.push(why);
        return (main, Vec::new());
    }
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&rules_dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            errors.push(format!(
                "{}: cannot read directory: {e}",
                rules_dir.display()
            ));
            Vec::new()
        }
    };
    files.sort();
    let extra = files
        .into_iter()
        .filter_map(|p| read(p, false, errors))
        .collect();
    (main, extra)
}

/// Loads hookd.toml, the packs it enables and rules.d/*.toml from `config_dir`.
///
/// Sources with errors contribute no rules; their errors are reported. Rule names must be
/// unique across all sources.
#[must_use]
pub fn load(config_dir: &Path) -> LoadReport {
    let mut errors = Vec::new();
    let (main, extra) = read_sources(config_dir, &mut errors);
    compile_sources(main, extra, errors)
}

/// Compiles sources read before (the last good set hookd saved, `crate::lastgood`): the one
/// marked `is_main` is hookd.toml, the others rules.d files in the order given.
#[must_use]
pub fn load_sources(sources: Vec<Source>) -> LoadReport {
    let (main, extra): (Vec<Source>, Vec<Source>) = sources.into_iter().partition(|s| s.is_main);
    compile_sources(main.into_iter().next(), extra, Vec::new())
}

/// Compiles hookd.toml (`main`), the packs it enables and the rules.d files (`extra`);
/// `errors` are those found while reading them.
fn compile_sources(
    main: Option<Source>,
    extra: Vec<Source>,
    mut errors: Vec<String>,
) -> LoadReport {
    let _globs = GlobCacheScope::enter();
    let files: Vec<Source> = main.iter().chain(&extra).cloned().collect();
    let mut settings = Settings::default();
    let mut main_rules = Vec::new();
    if let Some(src) = &main {
        let (rules, s, e) = read_source(src);
        main_rules = rules;
        settings = s.unwrap_or_default();
        errors.extend(e);
    }
    // (name, where hookd.toml lists it; `None`: enabled by default).
    let enabled_packs: Vec<(String, Option<Location>)> = match &settings.packs {
        Some(packs) => packs
            .iter()
            .map(|p| (p.value.clone(), Some(p.at)))
            .collect(),
        None => DEFAULT_PACKS
            .iter()
            .map(|s| ((*s).to_string(), None))
            .collect(),
    };
    let settings_error = |at: Option<Location>, msg: &str| match at {
        Some(at) => settings.error_at(at, msg),
        None => format!("{}: {msg}", hook_protocol::paths::CONFIG_FILE),
    };
    let mut all = Vec::new();
    let mut sources = Vec::new();
    for (i, (name, at)) in enabled_packs.iter().enumerate() {
        let Some((_, text)) = PACKS.iter().find(|(n, _)| n == name) else {
            let known: Vec<_> = PACKS.iter().map(|(n, _)| *n).collect();
            let hint = crate::settings::did_you_mean(name, known.iter().copied())
                .map(|k| format!(" (did you mean {k:?}?)"))
                .unwrap_or_default();
            errors.push(settings_error(
                *at,
                &format!(
                    "`packs`: unknown pack {name:?}{hint}; built-in packs: {}",
                    known.join(", ")
                ),
            ));
            continue;
        };
        if enabled_packs[..i].iter().any(|(n, _)| n == name) {
            errors.push(settings_error(
                *at,
                &format!("`packs`: {name:?} is listed twice"),
            ));
            continue;
        }
        let src = Source {
            name: format!("pack:{name}"),
            text: (*text).to_string(),
            is_main: false,
        };
        match parse_source(&src) {
            Ok((rules, _)) => {
                all.extend(rules);
                sources.push(src.name);
            }
            Err(e) => errors.extend(e),
        }
    }
    if let Some(src) = main {
        all.extend(main_rules);
        sources.push(src.name);
    }
    for src in extra {
        match parse_source(&src) {
            Ok((rules, _)) => {
                all.extend(rules);
                sources.push(src.name);
            }
            Err(e) => errors.extend(e),
        }
    }
    // A user rule named like a pack rule replaces it; `disable_rules` turns pack rules off.
    let user_names: HashSet<String> = all
        .iter()
        .filter(|r| !r.source.starts_with("pack:"))
        .map(|r| r.name.clone())
        .collect();
    let pack_names: HashMap<String, String> = all
        .iter()
        .filter(|r| r.source.starts_with("pack:"))
        .map(|r| (r.name.clone(), r.source.clone()))
        .collect();
    for d in &settings.disable_rules {
        if !pack_names.contains_key(&d.value) {
            let hint =
                crate::settings::did_you_mean(&d.value, pack_names.keys().map(String::as_str))
                    .map(|k| format!(" (did you mean {k:?}?)"))
                    .unwrap_or_default();
            errors.push(settings_error(
                Some(d.at),
                &format!(
                    "`disable_rules` names {:?}, which no enabled pack has{hint}",
                    d.value
                ),
            ));
        }
    }
    all.retain(|r| {
        !(r.source.starts_with("pack:")
            && (user_names.contains(&r.name)
                || settings.disable_rules.iter().any(|d| d.value == r.name)))
    });
    let mut seen = HashSet::new();
    let mut unique = Vec::with_capacity(all.len());
    for r in all {
        if seen.insert(r.name.clone()) {
            unique.push(r);
        } else {
            errors.push(format!(
                "{}: rule `{}` is defined twice; rule names must be unique (this one is ignored)",
                r.source, r.name
            ));
        }
    }
    LoadReport {
        ruleset: Ruleset::new(unique, sources),
        settings,
        errors,
        files,
    }
}
