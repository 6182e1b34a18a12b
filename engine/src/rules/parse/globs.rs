//! `path` lists compiled into [`PathGlobs`], each distinct list compiled once per load.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use globset::{GlobBuilder, GlobSetBuilder};

use crate::rules::cond::PathGlobs;

thread_local! {
    /// Glob lists compiled during one [`compile_sources`](super::load::compile_sources) (rules and packs repeat lists:
    /// `unless` exemptions, the secret paths of the file tools and of Bash), so that each is
    /// compiled and kept once. `None` outside a load.
    static GLOB_CACHE: RefCell<Option<HashMap<Vec<String>, Arc<PathGlobs>>>> =
        const { RefCell::new(None) };
}

/// Keeps [`GLOB_CACHE`] for the load it is made for and empties it after.
pub(super) struct GlobCacheScope;

impl GlobCacheScope {
    pub(super) fn enter() -> Self {
        GLOB_CACHE.with_borrow_mut(|c| *c = Some(HashMap::new()));
        Self
    }
}

impl Drop for GlobCacheScope {
    fn drop(&mut self) {
        GLOB_CACHE.with_borrow_mut(|c| *c = None);
    }
}

/// The compiled form of a `path` list, shared with any identical list of the same load.
pub(super) fn shared_globs(patterns: &[String]) -> Result<Arc<PathGlobs>, String> {
    if let Some(g) = GLOB_CACHE.with_borrow(|c| c.as_ref().and_then(|c| c.get(patterns).cloned())) {
        return Ok(g);
    }
    let g = Arc::new(globs(patterns)?);
    GLOB_CACHE.with_borrow_mut(|c| {
        if let Some(c) = c {
            c.insert(patterns.to_vec(), Arc::clone(&g));
        }
    });
    Ok(g)
}

pub(super) fn globs(patterns: &[String]) -> Result<PathGlobs, String> {
    let mut absolute = GlobSetBuilder::new();
    let mut relative = GlobSetBuilder::new();
    let mut home = GlobSetBuilder::new();
    let mut home_itself = false;
    let mut absolute_dirs = Vec::new();
    for p in patterns {
        if matches!(p.as_str(), "~" | "~/") {
            home_itself = true;
            continue;
        }
        let (set, pattern) = if let Some(rest) = p.strip_prefix("~/") {
            (&mut home, rest)
        } else if p.starts_with('/') {
            // The directory its literal components name, up to the first with a wildcard.
            let dir: std::path::PathBuf = std::path::Path::new(p)
                .components()
                .take_while(|c| {
                    !c.as_os_str()
                        .to_string_lossy()
                        .contains(['*', '?', '[', '{'])
                })
                .collect();
            absolute_dirs.push(dir);
            // `/**/x` and `**/x` match the same absolute paths (targets are absolute), and
            // globset matches the latter by its basename, extension or suffix instead of
            // compiling it into a regex (each `/**/*.ext` was one regex of its own).
            (
                &mut absolute,
                p.strip_prefix('/')
                    .filter(|r| r.starts_with("**/"))
                    .unwrap_or(p),
            )
        } else {
            (&mut relative, p.trim_start_matches("./"))
        };
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("bad `path` glob {p:?}: {e}"))?;
        set.add(glob);
    }
    let build = |b: GlobSetBuilder| b.build().map_err(|e| format!("bad `path` globs: {e}"));
    let mut places: Vec<std::path::PathBuf> = Vec::new();
    for d in &absolute_dirs {
        if d.as_os_str() != "/" && !places.contains(d) {
            places.push(d.clone());
        }
    }
    Ok(PathGlobs {
        patterns: patterns.to_vec(),
        absolute: build(absolute)?,
        relative: build(relative)?,
        home: build(home)?,
        home_itself,
        absolute_dirs,
        places,
    })
}
