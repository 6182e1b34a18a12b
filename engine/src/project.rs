//! Project rule files: `<project>/.claude/hookd.toml`, applied only to events of that project.
//!
//! A cloned repository must not be able to approve commands, so an untrusted project file
//! may only tighten: `deny`, `ask`, `block`, `warn`, `context`, `log`. `allow`, `defer`,
//! `run` (executing a command) and `env` (loading variables into the session) need
//! `hookctl trust <dir>`, which records the file's SHA-256;
//! any edit needs trusting again.
//! Files are re-checked (one `stat`) at most once a second per project.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hook_protocol::{ProjectStatus, TrustReport};
use sha2::{Digest, Sha256};

use crate::rules::{Action, Ruleset, Source, parse_source};

/// How often a project's file is checked for changes.
const RECHECK: Duration = Duration::from_secs(1);
/// The project rule file, relative to the project directory.
pub const PROJECT_FILE: &str = ".claude/hookd.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    mtime_ns: i128,
    len: u64,
    ino: u64,
}

#[derive(Default)]
struct Entry {
    checked: Option<Instant>,
    stamp: Option<Stamp>,
    ruleset: Option<Arc<Ruleset>>,
    trusted: bool,
    errors: Vec<String>,
    /// Set when the file failed to load: what each session of the project is told once.
    notice: Option<Arc<str>>,
}

/// Every project seen, with its compiled rules.
pub struct Projects {
    table: Mutex<HashMap<PathBuf, Entry>>,
    trust_path: PathBuf,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        len: m.len(),
        ino: m.ino(),
    })
}

/// Whether a project file's rule with `action` applies only once the file is trusted.
#[must_use]
pub fn needs_trust(action: Action) -> bool {
    matches!(
        action,
        Action::Allow | Action::Defer | Action::Run | Action::Env
    )
}

/// Whether the project file of `dir` with content `bytes` is trusted according to the trust
/// records in `trust_path` (what `hookctl check` reports without asking hookd).
#[must_use]
pub fn is_trusted(trust_path: &Path, dir: &Path, bytes: &[u8]) -> bool {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    Projects::new(trust_path.to_path_buf())
        .trusted_hashes()
        .get(&canonical)
        .is_some_and(|h| *h == sha256_hex(bytes))
}

/// The trust records' file under hookd's state directory.
#[must_use]
pub fn trust_path(state_dir: &Path) -> PathBuf {
    state_dir.join("trusted-projects")
}

/// The SHA-256 of `bytes` in lower-case hex (what trust records hold).
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Projects {
    /// A table whose trust records live in `trust_path`.
    #[must_use]
    pub fn new(trust_path: PathBuf) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            trust_path,
        }
    }

    fn trusted_hashes(&self) -> HashMap<PathBuf, String> {
        std::fs::read_to_string(&self.trust_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(h, d)| (PathBuf::from(d), h.to_string()))
            .collect()
    }

    fn write_trust(&self, map: &HashMap<PathBuf, String>) -> std::io::Result<()> {
        let mut lines: Vec<String> = map
            .iter()
            .map(|(d, h)| format!("{h}\t{}", d.display()))
            .collect();
        lines.sort();
        if let Some(parent) = self.trust_path.parent() {
            hook_protocol::private::ensure_private_dir(parent, "state directory")?;
        }
        hook_protocol::private::write_private(
            &self.trust_path,
            (lines.join("\n") + "\n").as_bytes(),
        )
    }

    /// The rules of the project at `dir`, if it has a rule file.
    pub(crate) fn rules_for(&self, dir: &str) -> Option<Arc<Ruleset>> {
        self.lookup(dir).0
    }

    /// The rules of the project at `dir`, and, when its rule file fails to load, what to tell
    /// the session (once) about it.
    pub fn lookup(&self, dir: &str) -> (Option<Arc<Ruleset>>, Option<Arc<str>>) {
        let dir = PathBuf::from(dir);
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = table.entry(dir.clone()).or_default();
        let due = entry.checked.is_none_or(|t| t.elapsed() >= RECHECK);
        if due {
            entry.checked = Some(Instant::now());
            let file = dir.join(PROJECT_FILE);
            let now = stamp(&file);
            if now != entry.stamp {
                entry.stamp = now;
                self.load(&dir, entry);
            }
        }
        (entry.ruleset.clone(), entry.notice.clone())
    }

    /// (Re)loads the project's file. A file that fails to load keeps the rules loaded from it
    /// before in this run (as a bad edit of the user's own files does); either way the failure
    /// is in `status`, in `doctor` and in a once-per-session notice to Claude Code. A file
    /// removed removes its rules.
    fn load(&self, dir: &Path, entry: &mut Entry) {
        let file = dir.join(PROJECT_FILE);
        let previous = entry.ruleset.take();
        entry.errors.clear();
        entry.notice = None;
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                entry
                    .errors
                    .push(format!("{}: cannot read: {e}", file.display()));
                Self::failed(&file, entry, previous);
                return;
            }
        };
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        entry.trusted = self
            .trusted_hashes()
            .get(&canonical)
            .is_some_and(|h| *h == sha256_hex(&text));
        let source = Source {
            name: file.display().to_string(),
            text: String::from_utf8_lossy(&text).into_owned(),
            is_main: false,
        };
        match parse_source(&source) {
            Ok((rules, _)) => {
                let mut kept = Vec::new();
                for r in rules {
                    if !entry.trusted && needs_trust(r.action) {
                        entry.errors.push(format!(
                            "{}: rule `{}`: `{}` in a project file is ignored until you run `hookctl trust {}`",
                            file.display(),
                            r.name,
                            r.action,
                            dir.display()
                        ));
                        continue;
                    }
                    kept.push(r);
                }
                for e in &entry.errors {
                    tracing::warn!(error = %e, "project rules");
                }
                entry.ruleset = Some(Arc::new(Ruleset::new(kept, vec![source.name])));
            }
            Err(errs) => {
                for e in &errs {
                    tracing::error!(error = %e, "project rules load error");
                }
                entry.errors = errs;
                Self::failed(&file, entry, previous);
            }
        }
    }

    /// A project file that failed to load: keeps `previous` (its rules loaded before) and
    /// sets the notice sessions of the project get.
    fn failed(file: &Path, entry: &mut Entry, previous: Option<Arc<Ruleset>>) {
        let kept = previous.is_some();
        entry.ruleset = previous;
        let what = if kept {
            "the rules loaded from it before stay in force"
        } else {
            "none of its rules apply"
        };
        entry.errors.push(format!(
            "{}: failed to load; {what} until it is fixed",
            file.display()
        ));
        let first = entry.errors.first().map_or("", String::as_str);
        entry.notice = Some(Arc::from(format!(
            "hookd: the project rule file {} has errors ({first}); {what} until it is fixed.",
            file.display()
        )));
    }

    /// Trusts (or revokes trust in) the project file of `dir`.
    ///
    /// # Errors
    ///
    /// A missing file, or the trust record cannot be written.
    pub fn trust(&self, dir: &str, revoke: bool) -> Result<TrustReport, String> {
        let canonical = Path::new(dir)
            .canonicalize()
            .map_err(|e| format!("project directory {dir}: {e}"))?;
        let file = canonical.join(PROJECT_FILE);
        let mut map = self.trusted_hashes();
        let sha = if revoke {
            map.remove(&canonical);
            None
        } else {
            let text = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let h = sha256_hex(&text);
            map.insert(canonical.clone(), h.clone());
            Some(h)
        };
        self.write_trust(&map)
            .map_err(|e| format!("writing {}: {e}", self.trust_path.display()))?;
        // Reload now, under both the given and the canonical spelling of the directory.
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table.retain(|k, _| k.canonicalize().map_or(true, |c| c != canonical));
        drop(table);
        let rules = self.rules_for(&canonical.to_string_lossy());
        let _ = self.rules_for(dir);
        let errors = self
            .table
            .lock()
            .map(|t| {
                t.get(&canonical)
                    .map(|e| e.errors.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        Ok(TrustReport {
            dir: canonical.display().to_string(),
            trusted: !revoke,
            sha256: sha,
            rules: rules.map_or(0, |r| r.rules.len() as u64),
            errors,
        })
    }

    /// Every project with a rule file, for `status`.
    #[must_use]
    pub fn status(&self) -> Vec<ProjectStatus> {
        let table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<ProjectStatus> = table
            .iter()
            .filter(|(_, e)| e.stamp.is_some())
            .map(|(d, e)| ProjectStatus {
                dir: d.display().to_string(),
                trusted: e.trusted,
                rules: e.ruleset.as_ref().map_or(0, |r| r.rules.len() as u64),
                errors: e.errors.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.dir.cmp(&b.dir));
        out
    }

    /// The loaded project rulesets, for `hookctl rules`.
    #[must_use]
    pub fn rulesets(&self) -> Vec<(String, Arc<Ruleset>)> {
        let table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table
            .iter()
            .filter_map(|(d, e)| e.ruleset.clone().map(|r| (d.display().to_string(), r)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::HookEvent;

    fn bash(cmd: &str) -> HookEvent {
        let v = serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": cmd}});
        HookEvent::parse(v.to_string().as_bytes(), None).unwrap()
    }

    #[test]
    fn untrusted_files_only_tighten_and_trust_follows_the_hash() {
        let state = tempfile::tempdir().unwrap();
        let proj = tempfile::tempdir().unwrap();
        std::fs::create_dir(proj.path().join(".claude")).unwrap();
        let file = proj.path().join(PROJECT_FILE);
        std::fs::write(
            &file,
            "[[rule]]\nname='ok-ls'\ncommand='^ls'\naction='allow'\n[[rule]]\nname='no-make'\ncommand='^make'\naction='deny'\n",
        )
        .unwrap();
        let p = Projects::new(state.path().join("trust"));
        let dir = proj.path().to_str().unwrap();
        let rs = p.rules_for(dir).unwrap();
        assert_eq!(rs.rules.len(), 1, "allow refused while untrusted");
        assert_eq!(rs.evaluate(&bash("make")).verdict(), "deny");
        assert!(p.status()[0].errors[0].contains("hookctl trust"));
        assert!(!is_trusted(
            &state.path().join("trust"),
            proj.path(),
            &std::fs::read(&file).unwrap()
        ));

        let report = p.trust(dir, false).unwrap();
        assert!(report.trusted && report.errors.is_empty(), "{report:?}");
        assert!(is_trusted(
            &state.path().join("trust"),
            proj.path(),
            &std::fs::read(&file).unwrap()
        ));
        assert_eq!(report.rules, 2);
        assert_eq!(
            p.rules_for(dir).unwrap().evaluate(&bash("ls")).verdict(),
            "allow"
        );

        // An edit needs trusting again (the re-check happens after RECHECK).
        std::fs::write(
            &file,
            "[[rule]]\nname='ok-ls'\ncommand='^ls'\naction='allow'\n\n",
        )
        .unwrap();
        p.table
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|e| e.checked = None);
        assert_eq!(p.rules_for(dir).unwrap().rules.len(), 0);

        p.trust(dir, false).unwrap();
        assert_eq!(p.rules_for(dir).unwrap().rules.len(), 1);
        p.trust(dir, true).unwrap();
        assert_eq!(p.rules_for(dir).unwrap().rules.len(), 0);
    }

    #[test]
    fn run_rules_in_a_project_file_need_trust() {
        let state = tempfile::tempdir().unwrap();
        let proj = tempfile::tempdir().unwrap();
        std::fs::create_dir(proj.path().join(".claude")).unwrap();
        std::fs::write(
            proj.path().join(PROJECT_FILE),
            "[[rule]]\nname='lint'\nevent='PostToolUse'\naction='run'\nrun='make lint'\n",
        )
        .unwrap();
        let p = Projects::new(state.path().join("trust"));
        let dir = proj.path().to_str().unwrap();
        assert_eq!(p.rules_for(dir).unwrap().rules.len(), 0);
        let errs = &p.status()[0].errors;
        assert!(
            errs[0].contains("`run` in a project file is ignored until you run `hookctl trust"),
            "{errs:?}"
        );
        p.trust(dir, false).unwrap();
        assert_eq!(p.rules_for(dir).unwrap().rules.len(), 1);
    }

    #[test]
    fn projects_without_a_file_have_no_rules() {
        let state = tempfile::tempdir().unwrap();
        let p = Projects::new(state.path().join("trust"));
        assert!(p.rules_for("/nonexistent/project").is_none());
        assert!(p.status().is_empty());
    }
}
