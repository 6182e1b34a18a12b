//! Stamps the build with the git commit (not `--dirty`: that would rebuild everything on each
//! `git add`) so `hookctl status` can show whether hookd, hookctl
//! and hook-client come from the same build.

use std::process::Command;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // logs/HEAD changes on every commit, checkout and reset (HEAD itself is a symbolic ref).
    // Asked of git, so a worktree (whose .git is a file) is followed too.
    for p in ["HEAD", "logs/HEAD"] {
        let path = Command::new("git")
            .args(["rev-parse", "--git-path", p])
            .current_dir(&root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| root.join(String::from_utf8_lossy(&o.stdout).trim()));
        if let Some(path) = path.filter(|p| p.exists()) {
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
