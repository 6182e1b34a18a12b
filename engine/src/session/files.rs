//! The files a session touched: [`FileMap`], a vector that becomes a hash table past a few
//! files, and the bounded insert the session's lists use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::MAX_FILES;

/// A file the session touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileTouch {
    /// When (ms since the epoch).
    pub time_ms: i64,
    /// By which tool.
    pub tool: Arc<str>,
}

/// Files by absolute path (read, edited). Most sessions touch a few files: up to
/// 16 (`SMALL_FILES`) they sit in a vector sized to fit (48 bytes a file), past that in a hash
/// table. A table's smallest allocation was 224 bytes, and each session had two: with 10,000
/// live sessions, about a quarter of their memory (BENCHMARKS.md, issue 18).
#[derive(Debug, Clone)]
pub enum FileMap {
    /// Few files, in the order first touched.
    Small(Vec<(PathBuf, FileTouch)>),
    /// Many.
    Large(HashMap<PathBuf, FileTouch>),
}

/// Files kept in a vector before a [`FileMap`] becomes a hash table.
const SMALL_FILES: usize = 16;

impl Default for FileMap {
    fn default() -> Self {
        Self::Small(Vec::new())
    }
}

impl FileMap {
    /// How many files.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Small(v) => v.len(),
            Self::Large(m) => m.len(),
        }
    }

    /// Whether it holds no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `path` is in it.
    #[must_use]
    pub fn contains_key(&self, path: &Path) -> bool {
        self.get(path).is_some()
    }

    /// The touch of `path`.
    #[must_use]
    pub fn get(&self, path: &Path) -> Option<&FileTouch> {
        match self {
            Self::Small(v) => v.iter().find(|(p, _)| p == path).map(|(_, t)| t),
            Self::Large(m) => m.get(path),
        }
    }

    /// Every file and its touch (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&PathBuf, &FileTouch)> {
        let (small, large) = match self {
            Self::Small(v) => (Some(v.iter().map(|(p, t)| (p, t))), None),
            Self::Large(m) => (None, Some(m.iter())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }

    /// Sets the touch of `path`.
    pub fn insert(&mut self, path: PathBuf, touch: FileTouch) {
        match self {
            Self::Small(v) => {
                if let Some(slot) = v.iter_mut().find(|(p, _)| *p == path) {
                    slot.1 = touch;
                } else if v.len() < SMALL_FILES {
                    v.reserve_exact(1);
                    v.push((path, touch));
                } else {
                    let mut m: HashMap<PathBuf, FileTouch> = v.drain(..).collect();
                    m.insert(path, touch);
                    *self = Self::Large(m);
                }
            }
            Self::Large(m) => {
                m.insert(path, touch);
            }
        }
    }

    /// Forgets `path`.
    pub fn remove(&mut self, path: &Path) {
        match self {
            Self::Small(v) => v.retain(|(p, _)| p != path),
            Self::Large(m) => {
                m.remove(path);
            }
        }
    }
}

impl Serialize for FileMap {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_map(self.iter())
    }
}

pub(super) fn insert_bounded(map: &mut FileMap, path: PathBuf, touch: FileTouch) {
    if map.len() >= MAX_FILES && !map.contains_key(&path) {
        // Drop the oldest entry: a long session keeps its recent files.
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, t)| t.time_ms)
            .map(|(p, _)| p.clone())
        {
            map.remove(&oldest);
        }
    }
    map.insert(path, touch);
}

#[cfg(test)]
mod file_map_tests {
    use super::*;
    use crate::intern::intern;

    fn touch(time_ms: i64) -> FileTouch {
        FileTouch {
            time_ms,
            tool: intern("Read"),
        }
    }

    #[test]
    fn a_file_map_answers_the_same_small_and_large() {
        let mut m = FileMap::default();
        for i in 0..40_i64 {
            m.insert(PathBuf::from(format!("/p/f{}", i % 30)), touch(i));
            assert!(matches!(m, FileMap::Small(_)) == (m.len() <= SMALL_FILES));
        }
        assert_eq!(m.len(), 30);
        assert!(matches!(m, FileMap::Large(_)));
        assert_eq!(m.get(Path::new("/p/f3")).map(|t| t.time_ms), Some(33));
        assert_eq!(m.get(Path::new("/p/f29")).map(|t| t.time_ms), Some(29));
        m.remove(Path::new("/p/f3"));
        assert!(!m.contains_key(Path::new("/p/f3")));
        assert_eq!(m.iter().count(), 29);

        let mut small = FileMap::default();
        small.insert("/a".into(), touch(1));
        small.insert("/b".into(), touch(2));
        small.insert("/a".into(), touch(3));
        assert_eq!(small.len(), 2);
        assert_eq!(small.get(Path::new("/a")).map(|t| t.time_ms), Some(3));
        let FileMap::Small(v) = &small else {
            panic!("two files are kept in a vector")
        };
        assert_eq!(v.capacity(), 2, "sized to fit");
        let json = serde_json::to_value(&small).unwrap();
        assert_eq!(json["/a"]["time_ms"], 3);
        small.remove(Path::new("/a"));
        assert_eq!(
            small.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            [PathBuf::from("/b")]
        );
    }
}
