//! The page's files, embedded in the binary at build time from `hookd/ui/` (no build step, no
//! files read at run time): a fixed list, each with its content type and an `ETag` (a digest
//! of its bytes), served with `Cache-Control: no-cache` so a browser revalidates and a new
//! hookd's page is never mixed with an old one's script.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its path under the listener (`/ui/…`).
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

/// Every file the dashboard serves.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/ui/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../ui/index.html"),
    },
    Asset {
        path: "/ui/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../ui/app.js"),
    },
    Asset {
        path: "/ui/app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../ui/app.css"),
    },
];

/// The embedded file at `path`, with its `ETag`.
pub fn find(path: &str) -> Option<(&'static Asset, &'static str)> {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let d = Sha256::digest(a.bytes);
                let hex: String = d[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    });
    let path = if path == "/ui/index.html" {
        "/ui/"
    } else {
        path
    };
    ASSETS
        .iter()
        .zip(tags)
        .find(|(a, _)| a.path == path)
        .map(|(a, t)| (a, t.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_found_with_a_distinct_tag() {
        let (html, tag) = find("/ui/").unwrap();
        assert!(html.content_type.starts_with("text/html"));
        assert!(tag.starts_with('"') && tag.len() == 26);
        assert_eq!(find("/ui/index.html").unwrap().1, tag);
        assert!(find("/ui/app.js").is_some());
        assert!(find("/ui/../Cargo.toml").is_none());
        assert!(find("/ui/other.js").is_none());
    }
}
