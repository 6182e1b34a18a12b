//! Lexical path arithmetic shared by the rules and the session: `~`/`$HOME` expansion and
//! normalisation, on the strings of an event (no file system access).

use std::path::{Path, PathBuf};

/// Expands `~`, `$HOME`, `${HOME}`, makes `p` absolute against `cwd` and normalises it.
#[must_use]
pub(crate) fn absolutize(p: &str, cwd: Option<&str>, home: Option<&str>) -> PathBuf {
    let tmp = ["${TMPDIR}", "$TMPDIR"]
        .iter()
        .find_map(|v| p.strip_prefix(v))
        .or_else(|| {
            p.strip_prefix("${TMPDIR:-")
                .and_then(|r| r.split_once('}').map(|(_, rest)| rest))
        });
    let expanded: String = if let Some(rest) = tmp {
        // The hook's TMPDIR is not known here; any value of it is a temp directory.
        format!("/tmp{rest}")
    } else if let (Some(h), Some(rest)) = (home, p.strip_prefix('~')) {
        if rest.is_empty() || rest.starts_with('/') {
            format!("{h}{rest}")
        } else {
            p.to_string()
        }
    } else if let (Some(h), Some(rest)) = (
        home,
        p.strip_prefix("$HOME")
            .or_else(|| p.strip_prefix("${HOME}")),
    ) {
        format!("{h}{rest}")
    } else {
        p.to_string()
    };
    let path = Path::new(&expanded);
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&Path::new(cwd.unwrap_or("/")).join(path))
    }
}

/// Lexical normalisation: drops `.`, resolves `..` (never above `/`).
#[must_use]
pub(crate) fn normalize(p: &Path) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    // On the bytes, into one buffer: `PathBuf::push` per component cost about 1,000
    // instructions for a project path, and this runs for every target and root of every event.
    let bytes = p.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for c in bytes.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                let parent = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(parent);
            }
            name => {
                out.push(b'/');
                out.extend_from_slice(name);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_agrees_with_path_components() {
        use std::path::Component;
        let by_components = |p: &str| {
            let mut out = PathBuf::from("/");
            for c in Path::new(p).components() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(s) => out.push(s),
                    _ => {}
                }
            }
            out
        };
        for p in [
            "/",
            "",
            ".",
            "..",
            "/..",
            "/a/b/../c",
            "a/./b//c/",
            "/a/../../b",
            "./x/..",
            "/home/me/.ssh/",
            "/a/b/..",
            "/a/..b/.c/...",
            "//x",
            "/a/b/../../..",
        ] {
            assert_eq!(normalize(Path::new(p)), by_components(p), "{p:?}");
        }
    }

    #[test]
    fn absolutize_expands_home_and_normalises() {
        let h = Some("/home/me");
        assert_eq!(
            absolutize("~/.ssh/id_rsa", None, h),
            PathBuf::from("/home/me/.ssh/id_rsa")
        );
        assert_eq!(absolutize("$HOME/x", None, h), PathBuf::from("/home/me/x"));
        assert_eq!(absolutize("${HOME}", None, h), PathBuf::from("/home/me"));
        assert_eq!(
            absolutize("a/../../b", Some("/p/q"), h),
            PathBuf::from("/p/b")
        );
        assert_eq!(
            absolutize("../../../../x", Some("/p"), h),
            PathBuf::from("/x")
        );
        assert_eq!(
            absolutize("~other/x", Some("/p"), h),
            PathBuf::from("/p/~other/x")
        );
    }
}
