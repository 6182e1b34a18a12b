//! Where hookd's files live. Every path has an environment override so tests never touch `$HOME`.
//!
//! - `HOOKD_HOME=<dir>` puts everything under one directory: `hookd.sock`, `hookd.toml`,
//!   `rules.d/`, `hookd.db`, `state/` (spool, pidfile, logs).
//! - The socket is `HOOKD_SOCKET`, else `$HOOKD_HOME/hookd.sock`, else computed from the uid
//!   alone (`/run/user/<uid>/hookd/hookd.sock` when `/run/user/<uid>` exists, else
//!   `/tmp/hookd-<uid>/hookd.sock`; on macOS `$TMPDIR/hookd-<uid>/` or `/tmp/hookd-<uid>/`).
//!   It never depends on variables a hook's environment may lack.
//! - Config: `HOOKD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/hookd`, else `~/.config/hookd`.
//! - Store: `HOOKD_DB`, else `$XDG_DATA_HOME/hookd/hookd.db`, else `~/.local/share/hookd/hookd.db`.
//! - State (spool, pidfile, logs): `HOOKD_STATE_DIR`, else `$XDG_STATE_HOME/hookd`, else
//!   `~/.local/state/hookd`.
//!
//! Where `$HOME` is unset too, config, store and state fall back under the socket directory.

use std::ffi::OsString;
use std::path::PathBuf;

/// File name of the socket inside its directory.
pub const SOCKET_FILE: &str = "hookd.sock";
/// File name of the main configuration file.
pub const CONFIG_FILE: &str = "hookd.toml";
/// Directory of extra rule files inside the configuration directory.
pub const RULES_DIR: &str = "rules.d";
/// File name of the SQLite store.
pub const DB_FILE: &str = "hookd.db";
/// File name of the spool inside the state directory.
pub const SPOOL_FILE: &str = "spool";
/// File name of the pidfile inside the state directory.
pub const PID_FILE: &str = "hookd.pid";

/// The real uid of this process.
#[must_use]
pub fn uid() -> u32 {
    #[allow(unsafe_code)]
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe {
        libc::getuid()
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `HOOKD_HOME`, when set.
#[must_use]
pub fn hookd_home() -> Option<PathBuf> {
    env_path("HOOKD_HOME")
}

fn home() -> Option<PathBuf> {
    env_path("HOME")
}

/// The socket directory computed from the uid alone.
#[must_use]
pub fn default_socket_dir(uid: u32) -> PathBuf {
    if cfg!(target_os = "macos") {
        let base = env_path("TMPDIR").unwrap_or_else(|| PathBuf::from("/tmp"));
        return base.join(format!("hookd-{uid}"));
    }
    let run = PathBuf::from(format!("/run/user/{uid}"));
    if run.is_dir() {
        run.join("hookd")
    } else {
        PathBuf::from(format!("/tmp/hookd-{uid}"))
    }
}

/// The socket path hook-client connects to and hookd listens on.
#[must_use]
pub fn socket_path() -> PathBuf {
    env_path("HOOKD_SOCKET")
        .or_else(|| hookd_home().map(|h| h.join(SOCKET_FILE)))
        .unwrap_or_else(|| default_socket_dir(uid()).join(SOCKET_FILE))
}

fn xdg(var: &str, fallback: &[&str]) -> Option<PathBuf> {
    env_path(var).or_else(|| home().map(|h| fallback.iter().fold(h, |p, part| p.join(part))))
}

/// The configuration directory (holds `hookd.toml` and `rules.d/`).
#[must_use]
pub fn config_dir() -> PathBuf {
    env_path("HOOKD_CONFIG_DIR")
        .or_else(hookd_home)
        .or_else(|| xdg("XDG_CONFIG_HOME", &[".config"]).map(|p| p.join("hookd")))
        .unwrap_or_else(|| default_socket_dir(uid()).join("config"))
}

/// The SQLite store path.
#[must_use]
pub fn db_path() -> PathBuf {
    env_path("HOOKD_DB")
        .or_else(|| hookd_home().map(|h| h.join(DB_FILE)))
        .or_else(|| {
            xdg("XDG_DATA_HOME", &[".local", "share"]).map(|p| p.join("hookd").join(DB_FILE))
        })
        .unwrap_or_else(|| default_socket_dir(uid()).join(DB_FILE))
}

/// The state directory (spool, pidfile, logs).
#[must_use]
pub fn state_dir() -> PathBuf {
    env_path("HOOKD_STATE_DIR")
        .or_else(|| hookd_home().map(|h| h.join("state")))
        .or_else(|| xdg("XDG_STATE_HOME", &[".local", "state"]).map(|p| p.join("hookd")))
        .unwrap_or_else(|| default_socket_dir(uid()).join("state"))
}

/// The spool file hook-client appends to when hookd cannot answer.
#[must_use]
pub fn spool_path() -> PathBuf {
    state_dir().join(SPOOL_FILE)
}

/// Looks for an executable named `name` beside the running executable, then on `PATH`.
#[must_use]
pub fn find_sibling_or_path(name: &str) -> Option<PathBuf> {
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let p = dir.join(name);
        if is_executable(&p) {
            return Some(p);
        }
    }
    let path: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_socket_dir_depends_on_uid_only() {
        let d = default_socket_dir(4242);
        let s = d.to_string_lossy();
        assert!(
            s.ends_with("hookd-4242") || s.ends_with("/run/user/4242/hookd"),
            "{s}"
        );
    }
}
