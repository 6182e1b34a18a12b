//! The last good rule set, kept across restarts: a broken rule file never means "no rules".
//!
//! Every load of the rule files without errors (at start, on reload) saves their text, with
//! their names, to `<state dir>/last-good-rules.json` (as OPA keeps its last-known-good bundle).
//! When the current files fail to load, hookd keeps the last good set **whole** (hookd.toml and
//! every rules.d file as they were then; not a mix of old and new files, whose rules may depend
//! on each other) and says so: `hookctl status`, `hookctl doctor`, the log, and once per session
//! a `systemMessage` to Claude Code. With no good set ever saved, guard events get the fail mode
//! with the load error as the reason ([`FallbackKind::NoGoodSet`]).
//!
//! The file is written atomically (a new temp file, fsync, rename, fsync of the directory),
//! mode 0600, never through a symlink; it is read only if it is a regular file owned by the
//! user that nobody else can write.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rules::Source;

/// The file under the state directory.
pub const FILE: &str = "last-good-rules.json";

/// The largest saved set read back (rule files are small; this bounds a corrupt file).
const MAX_LEN: u64 = 64 << 20;

/// The saved set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Saved {
    /// When it was saved (ms since the epoch).
    pub saved_ms: i64,
    /// hookd.toml (`is_main`) and the rules.d files, in load order.
    pub sources: Vec<SavedSource>,
}

/// One saved rule file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedSource {
    /// Its path when it was loaded.
    pub name: String,
    /// Its text.
    pub text: String,
    /// Whether it is hookd.toml.
    pub is_main: bool,
}

impl Saved {
    /// The sources, to compile again ([`crate::rules::load_sources`]).
    #[must_use]
    pub fn to_sources(&self) -> Vec<Source> {
        self.sources
            .iter()
            .map(|s| Source {
                name: s.name.clone(),
                text: s.text.clone(),
                is_main: s.is_main,
            })
            .collect()
    }
}

/// The saved set's path under `state_dir`.
#[must_use]
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// Saves `files` (a load without errors) unless the same files are saved already. Returns
/// whether it wrote.
///
/// # Errors
///
/// I/O errors; a symlink or another user's file where the temp file goes.
pub fn save(state_dir: &Path, files: &[Source], now_ms: i64) -> io::Result<bool> {
    let sources: Vec<SavedSource> = files
        .iter()
        .map(|s| SavedSource {
            name: s.name.clone(),
            text: s.text.clone(),
            is_main: s.is_main,
        })
        .collect();
    if let Ok(Some(old)) = load(state_dir)
        && old.sources == sources
    {
        return Ok(false);
    }
    let saved = Saved {
        saved_ms: now_ms,
        sources,
    };
    let bytes = serde_json::to_vec_pretty(&saved).map_err(io::Error::other)?;
    // Atomic and durable, never through a link (the one writer of hookd's private files).
    hook_protocol::private::write_private(&path(state_dir), &bytes)?;
    Ok(true)
}

/// The saved set, if there is one.
///
/// # Errors
///
/// A file that is a symlink, not regular, owned by another user, writable by others, too large
/// or not a saved set.
pub fn load(state_dir: &Path) -> Result<Option<Saved>, String> {
    let p = path(state_dir);
    let f = match hook_protocol::private::open_nofollow(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot open: {e}", p.display())),
    };
    let m = f.metadata().map_err(|e| format!("{}: {e}", p.display()))?;
    let me = hook_protocol::private::euid();
    if !m.is_file() {
        return Err(format!("{}: not a regular file; ignoring it", p.display()));
    }
    if m.uid() != me {
        return Err(format!(
            "{}: owned by uid {}, not you (uid {me}); ignoring it",
            p.display(),
            m.uid()
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "{}: others can write it (mode {:o}); ignoring it",
            p.display(),
            m.mode() & 0o7777
        ));
    }
    if m.len() > MAX_LEN {
        return Err(format!("{}: {} bytes, too large", p.display(), m.len()));
    }
    let mut text = String::new();
    f.take(MAX_LEN)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: not a saved rule set: {e}", p.display()))
}

/// Why the rules in force are not the rule files on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// What is in force instead.
    pub kind: FallbackKind,
    /// The load errors of the current files.
    pub errors: Vec<String>,
}

/// What is in force when the current rule files fail to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FallbackKind {
    /// The last good set: loaded from the files earlier in this run, or saved by an earlier run
    /// at `saved_ms`.
    LastGood {
        /// When that set was loaded and saved (ms since the epoch), if known.
        saved_ms: Option<i64>,
    },
    /// No good set was ever loaded: the rules that did load apply, and guard events get the
    /// fail mode with the load error as the reason.
    NoGoodSet,
}

impl Fallback {
    /// One line for `hookctl status` and `doctor`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self.kind {
            FallbackKind::LastGood { saved_ms } => format!(
                "the rule files have errors; the last good rules{} stay in force until they are fixed",
                saved_ms.map_or(String::new(), |t| format!(
                    " (loaded {} UTC)",
                    crate::clock::utc(t)
                ))
            ),
            FallbackKind::NoGoodSet => "the rule files have errors and no good rules were ever \
                 loaded: guard events (PreToolUse, PermissionRequest) get the fail mode until \
                 they are fixed"
                .to_string(),
        }
    }

    /// The reason guard events carry under [`FallbackKind::NoGoodSet`].
    #[must_use]
    pub fn reason(&self) -> String {
        format!(
            "hookd has no good rules: {}; fix the rule files (`hookctl check`)",
            summary(&self.errors)
        )
    }

    /// The `systemMessage` each session gets once.
    #[must_use]
    pub fn notice(&self) -> String {
        format!(
            "hookd: {}: {}. See `hookctl status`.",
            self.describe(),
            summary(&self.errors)
        )
    }
}

/// The first errors, for a message (all of them are in `hookctl status`).
fn summary(errors: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = errors
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > SHOWN {
        s.push_str(&format!(" (and {} more)", errors.len() - SHOWN));
    }
    if s.is_empty() {
        s.push_str("unknown error");
    }
    s
}

/// A notice's identity, so a session is told each distinct notice once.
#[must_use]
pub fn notice_id(text: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    // Never 0, which a session holds before it was told anything.
    BuildHasherDefault::<DefaultHasher>::default().hash_one(text) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str, is_main: bool) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
            is_main,
        }
    }

    #[test]
    fn saves_atomically_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            src("/c/hookd.toml", "packs = []\n", true),
            src("/c/rules.d/a.toml", "", false),
        ];
        assert!(save(dir.path(), &files, 1000).unwrap());
        let m = std::fs::metadata(path(dir.path())).unwrap();
        assert_eq!(m.mode() & 0o777, 0o600);
        let back = load(dir.path()).unwrap().unwrap();
        assert_eq!(back.saved_ms, 1000);
        assert_eq!(back.to_sources().len(), 2);
        assert!(back.sources[0].is_main);
        // The same files again: not rewritten.
        assert!(!save(dir.path(), &files, 2000).unwrap());
        assert_eq!(load(dir.path()).unwrap().unwrap().saved_ms, 1000);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn never_follows_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        // A planted temp file link: never written through.
        let mut tmp = path(dir.path()).into_os_string();
        tmp.push(format!(".tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        save(dir.path(), &[src("/c/hookd.toml", "", true)], 1).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        // A saved set that is a symlink is not read.
        std::fs::remove_file(path(dir.path())).unwrap();
        std::os::unix::fs::symlink(&victim, path(dir.path())).unwrap();
        assert!(load(dir.path()).is_err());
    }

    #[test]
    fn a_file_others_can_write_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &[src("/c/hookd.toml", "", true)], 1).unwrap();
        std::fs::set_permissions(path(dir.path()), std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(e.contains("others can write"), "{e}");
    }
}
