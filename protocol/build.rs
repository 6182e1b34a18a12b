//! Stamps the build with the git commit (not `--dirty`: that would rebuild everything on each
//! `git add`) so `hookctl status` can show whether hookd, hookctl
//! and hook-client come from the same build.

use std::process::Command;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // logs/HEAD changes on every commit, checkout and reset (HEAD itself is a symbolic ref).
    for p in [".git/HEAD", ".git/logs/HEAD"] {
        let path = root.join(p);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rerun-if-env-changed=HOOKD_BUILD_ID");
    let id = std::env::var("HOOKD_BUILD_ID").ok().or_else(|| {
        let out = Command::new("git")
            .args(["describe", "--always", "--abbrev=12"])
            .current_dir(&root)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    });
    println!(
        "cargo:rustc-env=HOOKD_BUILD_ID={}",
        id.unwrap_or_else(|| "unknown".into())
    );
}
