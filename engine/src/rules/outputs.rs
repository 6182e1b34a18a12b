//! Build outputs: paths inside a project that a build or a package manager regenerates, so
//! deleting them loses nothing. The `build_output` path condition asks `is_build_output`.
//!
//! A path is a build output when, relative to the project root, one of its directories (or
//! the file itself) is:
//!
//! - named like a regenerable output in every ecosystem (`OUTPUT_DIRS`, `OUTPUT_FILES`);
//! - named like a common output that sometimes holds sources (`MAYBE_OUTPUT_DIRS`), and
//!   the project says it is one: a marker file of the ecosystem beside it (`build` next to
//!   `build.gradle`), a `.gitignore` that ignores it, or a git index with nothing under it;
//! - ignored by the project's `.gitignore` files (or `.git/info/exclude`);
//!
//! and it is not `.git`, not the project root, not secrets or state (`PRECIOUS`), and (for
//! directories) the git index tracks nothing under it.
//!
//! I/O, bounded and cached: a few `stat`s, and reads of `.gitignore` files and `.git/index`,
//! each parsed once and kept while its size, mtime and inode stay the same. git is never
//! run. Only rules that use `build_output` call this, for the paths they already matched
//! (recursive deletes), so ordinary events never pay for it.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Directories that only ever hold regenerable output, caches or installed dependencies.
pub(crate) const OUTPUT_DIRS: &[&str] = &[
    // Rust (cargo), Maven, sbt
    "target",
    // JavaScript and TypeScript
    "node_modules",
    "dist",
    ".next",
    ".nuxt",
    ".output",
    ".svelte-kit",
    ".turbo",
    ".parcel-cache",
    ".angular",
    ".expo",
    ".docusaurus",
    ".vite",
    ".vercel/output",
    "coverage",
    ".nyc_output",
    "storybook-static",
    "bower_components",
    // Python
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".pytype",
    ".pyre",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".hypothesis",
    "htmlcov",
    ".eggs",
    "*.egg-info",
    ".ipynb_checkpoints",
    // JVM, Dart, Swift, Zig, Elixir/OCaml, Haskell, Elm
    ".gradle",
    ".dart_tool",
    ".build",
    "DerivedData",
    "zig-cache",
    ".zig-cache",
    "zig-out",
    "_build",
    ".stack-work",
    "dist-newstyle",
    "elm-stuff",
    // C and C++ (CMake, Bazel)
    "cmake-build-*",
    "CMakeFiles",
    "bazel-*",
    // CocoaPods
    "Pods",
    // Terraform providers and modules (`terraform init` fetches them again)
    ".terraform",
    // Generic caches
    ".cache",
    ".sass-cache",
];

/// Common output directory names that some projects use for sources: outputs only when the
/// project says so (a marker file of the ecosystem beside them, `.gitignore`, or the git
/// index). Each comes with its markers.
pub(crate) const MAYBE_OUTPUT_DIRS: &[(&str, &[&str])] = &[
    (
        "build",
        &[
            "build.gradle",
            "build.gradle.kts",
            "CMakeLists.txt",
            "setup.py",
            "pyproject.toml",
            "package.json",
            "pubspec.yaml",
        ],
    ),
    ("out", &["package.json", "build.gradle", "build.gradle.kts"]),
    ("vendor", &["composer.json"]),
    ("deps", &["mix.exs"]),
    ("_site", &["_config.yml"]),
    ("site", &["mkdocs.yml"]),
    ("bin", &[]),
    ("obj", &[]),
    ("lib", &[]),
    ("public", &[]),
];

/// Files that are always regenerable: compiled files, editor and merge leftovers, and
/// lockfiles (the package manager writes them again).
pub(crate) const OUTPUT_FILES: &[&str] = &[
    "*.pyc",
    "*.pyo",
    "*.class",
    "*.o",
    "*.tsbuildinfo",
    ".eslintcache",
    ".coverage",
    ".DS_Store",
    "Thumbs.db",
    "*.orig",
    "*.rej",
    "*~",
    "*.swp",
    "*.swo",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "bun.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "Gemfile.lock",
    "composer.lock",
    "Cargo.lock",
];

/// Never build outputs, whatever `.gitignore` says: repositories, secrets and state
/// (`.env`, keys, Terraform state, local databases).
pub(crate) const PRECIOUS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
    "*.sqlite",
    "*.sqlite3",
    "*.db",
    "credentials*",
    "secrets",
    "secrets.*",
];

/// The largest git index read, in bytes (a bigger one counts as unknown).
const INDEX_MAX: u64 = 32 << 20;
/// The largest `.gitignore` read, in bytes.
const IGNORE_MAX: u64 = 1 << 20;
/// Parsed files kept at most (the cache is emptied when full).
const CACHE_MAX: usize = 256;
/// How far up from the project root a `.git` is looked for.
const REPO_SEARCH: usize = 64;

fn set(names: impl IntoIterator<Item = &'static str>) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for n in names {
        if let Ok(g) = GlobBuilder::new(n).literal_separator(true).build() {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

static OUTPUT_DIR_SET: LazyLock<GlobSet> = LazyLock::new(|| set(OUTPUT_DIRS.iter().copied()));
static OUTPUT_FILE_SET: LazyLock<GlobSet> = LazyLock::new(|| set(OUTPUT_FILES.iter().copied()));
static PRECIOUS_SET: LazyLock<GlobSet> = LazyLock::new(|| set(PRECIOUS.iter().copied()));

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Whether `abs` (absolute, normalised; it may hold `*` and `**` from a `find` pattern) is a
/// build output of the project at `root` (see the module docs).
#[must_use]
pub(crate) fn is_build_output(root: &Path, abs: &Path) -> bool {
    let Ok(rel) = abs.strip_prefix(root) else {
        return false;
    };
    let comps: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
    if comps.is_empty() || comps.len() != rel.iter().count() {
        return false;
    }
    if comps.iter().any(|c| PRECIOUS_SET.is_match(c)) {
        return false;
    }
    let last = comps.len() - 1;
    let project = Project::find(root);
    for (k, c) in comps.iter().enumerate() {
        if k == last && OUTPUT_FILE_SET.is_match(c) {
            return true;
        }
        // A `find` name pattern (`*.log`) that a top-level ignore pattern names as such.
        if k == last && has_glob(c) && project.ignores_pattern(root, &comps) {
            return !project.tracks(root, &comps);
        }
        let output = OUTPUT_DIR_SET.is_match(c)
            || (k >= 1 && OUTPUT_DIR_SET.is_match(format!("{}/{c}", comps[k - 1])))
            || maybe_output(root, &project, &comps, k)
            || (!has_glob(c) && project.ignored(root, &comps[..=k], k < last || is_dir(abs)));
        if output {
            return !project.tracks(root, &comps);
        }
    }
    false
}

/// `comps[k]` is a [`MAYBE_OUTPUT_DIRS`] name, and the project says it is output.
fn maybe_output(root: &Path, project: &Project, comps: &[&str], k: usize) -> bool {
    let Some((_, markers)) = MAYBE_OUTPUT_DIRS.iter().find(|(n, _)| *n == comps[k]) else {
        return false;
    };
    let parent = &comps[..k];
    if !parent.iter().any(|c| has_glob(c)) {
        let dir = parent.iter().fold(root.to_path_buf(), |p, c| p.join(c));
        if markers.iter().any(|m| dir.join(m).exists()) {
            return true;
        }
    }
    project.index().is_some() || project.ignored(root, &comps[..=k], true)
}

fn is_dir(p: &Path) -> bool {
    // A path that is not there deletes nothing: count it as a directory (the stricter case).
    std::fs::metadata(p).map_or(true, |m| m.is_dir())
}

/// What is known about a project's repository.
struct Project {
    /// The repository's top directory (the project root when it is not in a repository).
    top: PathBuf,
    /// The git directory, when there is one.
    git_dir: Option<PathBuf>,
    /// The parsed git index (paths it tracks, sorted), when it could be read.
    index: Option<Arc<Parsed>>,
}

impl Project {
    fn find(root: &Path) -> Self {
        let mut dir = Some(root);
        for _ in 0..REPO_SEARCH {
            let Some(d) = dir else { break };
            let dot_git = d.join(".git");
            if let Some(git_dir) = git_dir_of(&dot_git) {
                let index = cached(&git_dir.join("index"), INDEX_MAX, |b| {
                    parse_index(b).map(Parsed::Index)
                });
                return Self {
                    top: d.to_path_buf(),
                    git_dir: Some(git_dir),
                    index,
                };
            }
            dir = d.parent();
        }
        Self {
            top: root.to_path_buf(),
            git_dir: None,
            index: None,
        }
    }

    /// The paths the git index tracks, when it could be read.
    fn index(&self) -> Option<&[String]> {
        match self.index.as_deref() {
            Some(Parsed::Index(paths)) => Some(paths),
            _ => None,
        }
    }

    /// Whether the index tracks the path `root/comps` or anything under it.
    fn tracks(&self, root: &Path, comps: &[&str]) -> bool {
        let Some(index) = self.index() else {
            return false;
        };
        let Ok(prefix) = root.strip_prefix(&self.top) else {
            return false;
        };
        let mut rel: Vec<&str> = prefix.iter().filter_map(|c| c.to_str()).collect();
        rel.extend_from_slice(comps);
        let rel = rel.join("/");
        if !has_glob(&rel) {
            let under = format!("{rel}/");
            let at = index.partition_point(|p| p.as_str() < rel.as_str());
            return index[at..]
                .iter()
                .take_while(|p| p.starts_with(&rel))
                .any(|p| *p == rel || p.starts_with(&under));
        }
        let glob = |p: &str| {
            GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
        };
        match (glob(&rel), glob(&format!("{rel}/**"))) {
            (Ok(a), Ok(b)) => index.iter().any(|p| a.is_match(p) || b.is_match(p)),
            // A pattern we cannot read: assume it may track something.
            _ => true,
        }
    }

    /// Whether every file `root/comps` (a `find` pattern such as `./**/*.log`: `**` or plain
    /// directories, then a name pattern) can match is ignored: the repository's top
    /// `.gitignore` or `.git/info/exclude` has the same name pattern, unanchored, and no
    /// negation (`!keep.log`) that could re-include one.
    fn ignores_pattern(&self, root: &Path, comps: &[&str]) -> bool {
        let Some((name, dirs)) = comps.split_last() else {
            return false;
        };
        if dirs.iter().any(|d| has_glob(d) && *d != "**") {
            return false;
        }
        let load = |p: &Path| cached(p, IGNORE_MAX, |b| Some(Parsed::Ignore(Ignore::parse(b))));
        let files = [
            self.git_dir
                .as_ref()
                .and_then(|g| load(&g.join("info/exclude"))),
            load(&self.top.join(".gitignore")),
            (root != self.top)
                .then(|| load(&root.join(".gitignore")))
                .flatten(),
        ];
        let mut named = false;
        for f in files.iter().flatten() {
            let Parsed::Ignore(ig) = &**f else { continue };
            if ig.has_negation {
                return false;
            }
            named |= ig.bare.iter().any(|b| b == name);
        }
        named
    }

    /// Whether `.gitignore` (or `.git/info/exclude`) ignores `root/comps`, which is a
    /// directory when `dir`.
    fn ignored(&self, root: &Path, comps: &[&str], dir: bool) -> bool {
        let Ok(prefix) = root.strip_prefix(&self.top) else {
            return false;
        };
        let mut rel: Vec<&str> = prefix.iter().filter_map(|c| c.to_str()).collect();
        rel.extend_from_slice(comps);
        // The ignore files that apply: info/exclude and the top's .gitignore, then one per
        // directory down to the path's parent (while no directory is a pattern).
        let mut files: Vec<(usize, Arc<Parsed>)> = Vec::new();
        let load = |p: &Path| cached(p, IGNORE_MAX, |b| Some(Parsed::Ignore(Ignore::parse(b))));
        if let Some(f) = self
            .git_dir
            .as_ref()
            .and_then(|g| load(&g.join("info/exclude")))
        {
            files.push((0, f));
        }
        let mut dir_path = self.top.clone();
        for (depth, comp) in rel.iter().enumerate() {
            if let Some(f) = load(&dir_path.join(".gitignore")) {
                files.push((depth, f));
            }
            if has_glob(comp) {
                break;
            }
            dir_path.push(comp);
        }
        if files.is_empty() {
            return false;
        }
        for end in 1..=rel.len() {
            let is_dir = end < rel.len() || dir;
            // Deeper files decide first; within a file the last match wins.
            let verdict = files.iter().rev().find_map(|(depth, f)| {
                let Parsed::Ignore(ig) = &**f else {
                    return None;
                };
                if *depth >= end {
                    return None;
                }
                ig.verdict(&rel[*depth..end].join("/"), is_dir)
            });
            if verdict == Some(true) {
                return true;
            }
        }
        false
    }
}

/// The git directory a `.git` entry names: the directory itself, or a worktree's
/// `gitdir: PATH` file.
fn git_dir_of(dot_git: &Path) -> Option<PathBuf> {
    let m = std::fs::metadata(dot_git).ok()?;
    if m.is_dir() {
        return Some(dot_git.to_path_buf());
    }
    if !m.is_file() || m.len() > 4096 {
        return None;
    }
    let text = std::fs::read_to_string(dot_git).ok()?;
    let path = text.trim().strip_prefix("gitdir:")?.trim();
    let p = Path::new(path);
    Some(if p.is_absolute() {
        p.to_path_buf()
    } else {
        dot_git.parent()?.join(p)
    })
}

/// One `.gitignore` file's patterns.
#[derive(Debug)]
struct Ignore {
    set: GlobSet,
    /// The patterns that apply in every directory and to files (no `/`), as written.
    bare: Vec<String>,
    /// Some pattern is a negation (`!pat`).
    has_negation: bool,
    /// For each glob of `set`: negated (`!pat`), directories only (`pat/`).
    flags: Vec<(bool, bool)>,
}

impl Ignore {
    fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let mut b = GlobSetBuilder::new();
        let mut flags = Vec::new();
        let mut bare = Vec::new();
        let mut has_negation = false;
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (neg, pat) = match line.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, line.strip_prefix('\\').unwrap_or(line)),
            };
            let (dir_only, pat) = match pat.strip_suffix('/') {
                Some(p) => (true, p),
                None => (false, pat),
            };
            if pat.is_empty() {
                continue;
            }
            has_negation |= neg;
            if !neg && !dir_only && !pat.contains('/') {
                bare.push(pat.to_owned());
            }
            let glob = if pat.contains('/') {
                pat.trim_start_matches('/').to_owned()
            } else {
                format!("**/{pat}")
            };
            let Ok(g) = GlobBuilder::new(&glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
            else {
                continue;
            };
            b.add(g);
            flags.push((neg, dir_only));
        }
        Self {
            set: b.build().unwrap_or_else(|_| GlobSet::empty()),
            bare,
            has_negation,
            flags,
        }
    }

    /// `Some(true)` ignored, `Some(false)` re-included, `None` no pattern matches.
    fn verdict(&self, rel: &str, is_dir: bool) -> Option<bool> {
        self.set
            .matches(rel)
            .into_iter()
            .filter(|&i| is_dir || !self.flags[i].1)
            .max()
            .map(|i| !self.flags[i].0)
    }
}

/// A cached parse of a file.
#[derive(Debug)]
enum Parsed {
    Index(Vec<String>),
    Ignore(Ignore),
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime_ns: i128,
    ino: u64,
}

/// Parsed files by path, with the stamp they were parsed at.
type Cache = HashMap<PathBuf, (Stamp, Option<Arc<Parsed>>)>;

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The parse of the file at `path` (at most `max` bytes), from the cache while the file is
/// unchanged. `None` when it does not exist, is too large, or does not parse.
fn cached(
    path: &Path,
    max: u64,
    parse: impl FnOnce(&[u8]) -> Option<Parsed>,
) -> Option<Arc<Parsed>> {
    let m = std::fs::metadata(path).ok()?;
    if !m.is_file() || m.len() > max {
        return None;
    }
    let stamp = Stamp {
        len: m.len(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        ino: m.ino(),
    };
    let lock = || {
        CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some((s, p)) = lock().get(path)
        && *s == stamp
    {
        return p.clone();
    }
    let parsed = std::fs::read(path)
        .ok()
        .and_then(|b| parse(&b))
        .map(Arc::new);
    let mut cache = lock();
    if cache.len() >= CACHE_MAX {
        cache.clear();
    }
    cache.insert(path.to_path_buf(), (stamp, parsed.clone()));
    parsed
}

/// The paths of a git index (versions 2 to 4, SHA-1), sorted as git keeps them.
fn parse_index(b: &[u8]) -> Option<Vec<String>> {
    let u32_at =
        |i: usize| -> Option<u32> { Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?)) };
    if b.get(..4)? != b"DIRC" {
        return None;
    }
    let version = u32_at(4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = usize::try_from(u32_at(8)?).ok()?;
    let mut out: Vec<String> = Vec::with_capacity(count.min(1 << 20));
    let mut pos = 12;
    let mut prev: Vec<u8> = Vec::new();
    for _ in 0..count {
        let start = pos;
        let flags = u16::from_be_bytes(b.get(pos + 60..pos + 62)?.try_into().ok()?);
        pos += 62;
        if version >= 3 && flags & 0x4000 != 0 {
            pos += 2;
        }
        let path = if version == 4 {
            // Strip N bytes from the previous path, then a NUL-terminated suffix.
            let mut c = *b.get(pos)?;
            pos += 1;
            let mut strip = usize::from(c & 0x7f);
            while c & 0x80 != 0 {
                c = *b.get(pos)?;
                pos += 1;
                strip = ((strip + 1) << 7) | usize::from(c & 0x7f);
            }
            let end = pos + b.get(pos..)?.iter().position(|&x| x == 0)?;
            let mut p = prev.get(..prev.len().checked_sub(strip)?)?.to_vec();
            p.extend_from_slice(&b[pos..end]);
            pos = end + 1;
            p
        } else {
            let end = pos + b.get(pos..)?.iter().position(|&x| x == 0)?;
            let p = b[pos..end].to_vec();
            // Entries are padded with NULs to a multiple of 8 bytes.
            pos = start + ((end - start + 8) & !7);
            p
        };
        out.push(String::from_utf8(path.clone()).ok()?);
        prev = path;
    }
    // Git sorts by bytes; keep that order for binary search (it already is, normally).
    if !out.windows(2).all(|w| w[0] <= w[1]) {
        out.sort();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use globset::Glob;

    use super::*;

    #[test]
    fn every_list_entry_is_a_valid_glob() {
        for n in OUTPUT_DIRS
            .iter()
            .chain(OUTPUT_FILES)
            .chain(PRECIOUS)
            .chain(MAYBE_OUTPUT_DIRS.iter().map(|(n, _)| n))
        {
            assert!(Glob::new(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn gitignore_patterns_follow_git() {
        let ig = Ignore::parse(b"# c\n/target\nbuild/\n*.log\n!keep.log\nout/**\ndocs/gen\n");
        assert_eq!(ig.verdict("target", true), Some(true));
        assert_eq!(ig.verdict("sub/target", true), None);
        assert_eq!(ig.verdict("build", true), Some(true));
        assert_eq!(ig.verdict("a/b/build", true), Some(true));
        assert_eq!(ig.verdict("build", false), None);
        assert_eq!(ig.verdict("x/y.log", false), Some(true));
        assert_eq!(ig.verdict("keep.log", false), Some(false));
        assert_eq!(ig.verdict("out/x", false), Some(true));
        assert_eq!(ig.verdict("docs/gen", true), Some(true));
        assert_eq!(ig.verdict("src", true), None);
        // A path with a `find` wildcard: `build/` ignores build directories at any depth.
        assert_eq!(ig.verdict("**/build", true), Some(true));
    }

    fn index_v2(paths: &[&str]) -> Vec<u8> {
        let mut b = b"DIRC".to_vec();
        b.extend_from_slice(&2u32.to_be_bytes());
        b.extend_from_slice(&u32::try_from(paths.len()).unwrap().to_be_bytes());
        for p in paths {
            let start = b.len();
            b.extend_from_slice(&[0; 60]);
            b.extend_from_slice(&u16::try_from(p.len()).unwrap().to_be_bytes());
            b.extend_from_slice(p.as_bytes());
            let len = b.len() - start;
            let padded = (len + 8) & !7;
            b.resize(start + padded, 0);
        }
        b
    }

    #[test]
    fn git_index_paths_are_read() {
        let paths = ["Cargo.toml", "build/icon.png", "src/main.rs"];
        assert_eq!(parse_index(&index_v2(&paths)).unwrap(), paths);
        assert!(parse_index(b"DIRC\0\0\0\x02\0\0\0\x05").is_none());
        assert!(parse_index(b"nope").is_none());
    }

    #[test]
    fn build_outputs_in_a_real_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let rel = |p: &str| root.join(p);
        let out = |p: &str| is_build_output(root, &rel(p));
        // Without a repository: names alone (and markers for the generic ones).
        assert!(out("node_modules"));
        assert!(out("target/debug"));
        assert!(out("**/__pycache__"));
        assert!(out("src/**/*.pyc"));
        assert!(out("pkg/foo.egg-info"));
        assert!(out("package-lock.json"));
        assert!(!out("build"));
        assert!(!out("src"));
        assert!(!out("**"));
        assert!(!out("*"));
        assert!(!out(".git"));
        assert!(!out("node_modules/../.env"));
        assert!(!out(".env"));
        assert!(!is_build_output(root, root));
        assert!(!is_build_output(
            root,
            Path::new("/tmp/elsewhere/node_modules")
        ));
        std::fs::write(rel("build.gradle"), "").unwrap();
        assert!(out("build"));
        // With a repository: .gitignore and the index.
        std::fs::create_dir(rel(".git")).unwrap();
        std::fs::write(rel(".gitignore"), "/generated/\n*.tmp\n.env\n").unwrap();
        assert!(out("generated"));
        assert!(out("generated/x/y"));
        assert!(out("a/b.tmp"));
        assert!(!out(".env"), "secrets never count, even ignored");
        assert!(!out("src"));
        std::fs::write(
            rel(".git/index"),
            index_v2(&["dist/index.js", "node_modules/x/y.js", "src/lib.rs"]),
        )
        .unwrap();
        assert!(!out("dist"), "tracked files under it");
        assert!(!out("node_modules"), "tracked files under it");
        assert!(out("out"), "a git index with nothing under it");
        assert!(out("coverage"));
        assert!(!out("src"));
    }
}
