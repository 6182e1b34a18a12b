//! Conditions on a target path: `path` (globs against the absolute path, the project-relative
//! and the home-relative one), `outside_project` (symlinks resolved), `build_output`, `write`,
//! `redirect` and `clobber`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use globset::GlobSet;

use super::{Conditions, Ctx, Target};
use crate::paths::normalize;

/// Glob patterns on target paths, compiled.
#[derive(Debug, Clone)]
pub struct PathGlobs {
    /// Patterns as written (for display).
    pub patterns: Vec<String>,
    /// Absolute patterns (and `~/…` expanded), matched against absolute paths.
    pub absolute: GlobSet,
    /// Relative patterns, matched against paths relative to the project root.
    pub relative: GlobSet,
    /// `~/…` patterns, matched against paths relative to the home directory.
    pub home: GlobSet,
    /// Whether `~` itself is a pattern.
    pub(crate) home_itself: bool,
    /// For each pattern of `absolute`, the directory its literal part names (`/tmp` for
    /// `/tmp/**`, `/` for `/**/.env`): see [`PathGlobs::absolute_hit`].
    pub(crate) absolute_dirs: Vec<PathBuf>,
    /// Those directories once each, `/` left out: the places a root could sit in.
    pub(crate) places: Vec<PathBuf>,
}

impl PathGlobs {
    /// Whether an absolute pattern matches `path`. A pattern that names a place (`/tmp/**`,
    /// `/usr/**`) does not reach into the home directory or the project when that place holds
    /// them: with `HOME=/tmp/ci/home`, `~/other-project` is the user's, not scratch space, and
    /// `/tmp/**` exempting scratch space must not exempt it. Patterns that name files anywhere
    /// (`/**/.aws/credentials`) and places inside the home or the project match as written.
    fn absolute_hit(&self, path: &Path, roots: [Option<&Path>; 2]) -> bool {
        // The roots that hold `path` (usually none, or the project, or the home).
        let holders = roots
            .into_iter()
            .flatten()
            .filter(|root| rel_under(path, root).is_some());
        // Whether the place `dir` holds a root that holds `path`.
        let shadowed = |dir: &Path| {
            dir.as_os_str() != "/" && holders.clone().any(|root| rel_under(root, dir).is_some())
        };
        // Usually no pattern is shadowed: one pass of the set, without listing its matches.
        if !self.places.iter().any(|d| shadowed(d)) {
            return self.absolute.is_match(path);
        }
        self.absolute
            .matches(path)
            .into_iter()
            .any(|i| !shadowed(&self.absolute_dirs[i]))
    }
}

/// `path` relative to `root`, when `root` holds it. Both are absolute and lexically normalised
/// (what targets and roots are here), so comparing bytes up to a separator says what
/// `Path::strip_prefix` says component by component, for a fraction of its cost: it runs for
/// every target of every rule with a `path` condition.
fn rel_under<'p>(path: &'p Path, root: &Path) -> Option<&'p Path> {
    use std::os::unix::ffi::OsStrExt;
    let (p, r) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
    let rest = p.strip_prefix(r)?;
    let rest = match rest {
        _ if r.ends_with(b"/") => rest,
        [] => rest,
        [b'/', tail @ ..] => tail,
        _ => return None,
    };
    Some(Path::new(std::ffi::OsStr::from_bytes(rest)))
}

impl Conditions {
    pub(super) fn path_ok(&self, cx: &Ctx<'_>, t: &Target) -> bool {
        if let Some(g) = &self.path {
            let under = |base: Option<&Path>, set: &GlobSet| {
                !set.is_empty()
                    && base.is_some_and(|b| rel_under(&t.abs, b).is_some_and(|r| set.is_match(r)))
            };
            let home = cx.home_dir();
            let hit = g.absolute_hit(&t.abs, [cx.project_root(), home])
                || under(cx.project_root(), &g.relative)
                || (g.home_itself && home.is_some_and(|h| *h == t.abs))
                || under(home, &g.home);
            if !hit {
                return false;
            }
        }
        if let Some(want_outside) = self.outside_project {
            let Some(root) = cx.resolved_root() else {
                return false;
            };
            let outside = !inside(root, t.resolved());
            if outside != want_outside {
                return false;
            }
        }
        if self.write.is_some_and(|w| w != t.write) {
            return false;
        }
        if self.redirect.is_some_and(|r| r != t.redirect) {
            return false;
        }
        if self.clobber.is_some_and(|c| c != t.clobbers()) {
            return false;
        }
        if let Some(want) = self.build_output {
            let is = cx
                .project_root()
                .is_some_and(|root| crate::rules::outputs::is_build_output(root, &t.abs));
            if is != want {
                return false;
            }
        }
        true
    }
}

/// How long a project root's resolved path is reused on one thread.
const ROOT_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

thread_local! {
    /// The last project root resolved on this thread: a session's events all have the same
    /// one, and resolving it costs a `stat` per component.
    static LAST_ROOT: RefCell<Option<(PathBuf, std::time::Instant, PathBuf)>> =
        const { RefCell::new(None) };
}

/// [`resolve`] for a project root, reused for [`ROOT_RECHECK`] on this thread.
pub(super) fn resolved_root(root: &Path) -> PathBuf {
    let now = std::time::Instant::now();
    LAST_ROOT.with_borrow_mut(|last| {
        if let Some((r, at, resolved)) = last.as_ref()
            && r == root
            && now.duration_since(*at) < ROOT_RECHECK
        {
            return resolved.clone();
        }
        let resolved = resolve(root);
        *last = Some((root.to_path_buf(), now, resolved.clone()));
        resolved
    })
}

/// Resolves symlinks in the longest existing prefix of `p` (which must be absolute).
#[must_use]
pub fn resolve(p: &Path) -> PathBuf {
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normalize(&out);
        }
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

fn inside(root: &Path, p: &Path) -> bool {
    p.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_under_agrees_with_strip_prefix_on_normalised_paths() {
        let paths = [
            "/",
            "/a",
            "/ab",
            "/a/b",
            "/a/b/c",
            "/ab/c",
            "/a/bc",
            "/tmp/x/.env",
        ];
        for p in paths {
            for r in paths {
                let (p, r) = (Path::new(p), Path::new(r));
                assert_eq!(rel_under(p, r), p.strip_prefix(r).ok(), "{p:?} under {r:?}");
            }
        }
    }
}
