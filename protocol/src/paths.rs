//! Where hookd's files live. Every path has an environment override so tests never touch `$HOME`.
//!
//! - `HOOKD_HOME=<dir>` puts everything under one directory: `hookd.sock`, `hookd.toml`,
//!   `rules.d/`, `hookd.db`, `state/` (spool, pidfile, logs).
//! - The socket is `HOOKD_SOCKET`, else `$HOOKD_HOME/hookd.sock`, else in
//!   [`default_socket_dir`]: `/run/user/<uid>/hookd/` when systemd made `/run/user/<uid>`,
//!   else a directory the user owns (`$TMPDIR/hookd-<uid>/` on macOS, `~/.local/state/hookd/`),
//!   and `/tmp/hookd-<uid>/` only as a checked last resort.
//! - Config: `HOOKD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/hookd`, else `~/.config/hookd`.
//! - Store: `HOOKD_DB`, else `$XDG_DATA_HOME/hookd/hookd.db`, else `~/.local/share/hookd/hookd.db`.
//! - State (spool, pidfile, logs): `HOOKD_STATE_DIR`, else `$XDG_STATE_HOME/hookd`, else
//!   `~/.local/state/hookd`.
//!
//! Where `$HOME` is unset too, config, store and state fall back under the socket directory.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hook_protocol_core::trust::BadProgram;

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

/// The longest socket path the kernel takes (`sun_path` holds 108 bytes on Linux, 104 on
/// macOS, the terminating NUL included).
pub const MAX_SOCKET_PATH: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

/// The socket directory computed from the uid and the home directory, the same for hookd,
/// hook-client, hookctl and the service units:
///
/// 1. `/run/user/<uid>/hookd` when `/run/user/<uid>` is a directory of that uid (systemd's
///    runtime directory, `%t` in the units);
/// 2. on macOS, `$TMPDIR/hookd-<uid>` when `TMPDIR` is a directory of that uid (the per-user
///    temporary directory launchd agents also get);
/// 3. `$HOME/.local/state/hookd` when `HOME` is an absolute path to a directory of that uid
///    and the socket path fits the kernel's limit ([`MAX_SOCKET_PATH`]): a directory the user
///    already owns, which no other user can create first;
/// 4. `/tmp/hookd-<uid>` as the last resort. Anyone can create that name first, so hookd,
///    hook-client and hookctl refuse it unless it is a private directory of the uid
///    ([`crate::private`]).
#[must_use]
pub fn default_socket_dir(uid: u32) -> PathBuf {
    let owned_dir = |p: &Path, follow: bool| {
        let m = if follow {
            std::fs::metadata(p)
        } else {
            std::fs::symlink_metadata(p)
        };
        m.is_ok_and(|m| m.is_dir() && m.uid() == uid)
    };
    let run = PathBuf::from(format!("/run/user/{uid}"));
    if cfg!(target_os = "linux") && owned_dir(&run, false) {
        return run.join("hookd");
    }
    let fits = |dir: &Path| dir.as_os_str().len() + 1 + SOCKET_FILE.len() <= MAX_SOCKET_PATH;
    if cfg!(target_os = "macos")
        && let Some(tmp) = env_path("TMPDIR").filter(|t| t.is_absolute() && owned_dir(t, true))
    {
        let dir = tmp.join(format!("hookd-{uid}"));
        if fits(&dir) {
            return dir;
        }
    }
    if let Some(h) = home().filter(|h| h.is_absolute() && owned_dir(h, true)) {
        let dir = h.join(".local").join("state").join("hookd");
        if fits(&dir) {
            return dir;
        }
    }
    PathBuf::from(format!("/tmp/hookd-{uid}"))
}

/// Whether the socket was named explicitly (`HOOKD_SOCKET`). Otherwise its directory is
/// hookd's own (the default location or `HOOKD_HOME`): hookd creates it and keeps it 0700.
#[must_use]
pub fn socket_is_explicit() -> bool {
    env_path("HOOKD_SOCKET").is_some()
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

/// Finds the program `name` (hookd, hook-client) that a hookd tool may run, without letting
/// the current directory or another user choose it:
///
/// 1. `env_override` (e.g. `HOOKD_BIN`) when set: it must be an absolute path;
/// 2. else `name` beside the running executable (its canonical path);
/// 3. else `name` in an **absolute** `PATH` entry (relative entries such as `.`, an empty
///    entry or `node_modules/.bin` resolve against the current directory, which a cloned
///    repository controls, and are skipped).
///
/// Each candidate must be a regular executable file owned by the caller or root, not writable
/// by group or others, in a directory that is owned by the caller or root and not writable by
/// others ([`trusted_executable`]).
///
/// # Errors
///
/// A sentence saying what was looked at and why each candidate was refused.
pub fn find_program(name: &str, env_override: Option<&str>) -> Result<PathBuf, String> {
    if let Some(var) = env_override
        && let Some(p) = env_path(var)
    {
        if !p.is_absolute() {
            return Err(format!(
                "{var}={} is not an absolute path; refusing it",
                p.display()
            ));
        }
        return trusted_executable(&p).map(|()| p);
    }
    let mut refused = Vec::new();
    if let Ok(exe) = std::env::current_exe().and_then(std::fs::canonicalize)
        && let Some(dir) = exe.parent()
    {
        let p = dir.join(name);
        match trusted_executable(&p) {
            Ok(()) => return Ok(p),
            Err(e) if p.exists() => refused.push(e),
            Err(_) => {}
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path).filter(|d| d.is_absolute()) {
            let p = dir.join(name);
            match trusted_executable(&p) {
                Ok(()) => return Ok(p),
                Err(e) if p.exists() => refused.push(e),
                Err(_) => {}
            }
        }
    }
    if refused.is_empty() {
        Err(BadProgram::Missing { name }.to_string())
    } else {
        Err(refused.join("; "))
    }
}

/// Checks that `p` may be executed on the caller's behalf: a regular file with an execute
/// bit, owned by the caller or root, not writable by group or others; its directory owned by
/// the caller or root and not writable by others (group write is allowed for the caller's own
/// private group).
///
/// # Errors
///
/// Why it is refused.
pub fn trusted_executable(p: &Path) -> Result<(), String> {
    let me = crate::private::euid();
    let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let path = &p.display();
    if !m.is_file() || m.mode() & 0o111 == 0 {
        return Err(BadProgram::NotExecutable { path }.to_string());
    }
    if m.uid() != me && m.uid() != 0 {
        return Err(BadProgram::Owner {
            path,
            owner: m.uid(),
            me,
        }
        .to_string());
    }
    if m.mode() & 0o022 != 0 && !(m.mode() & 0o002 == 0 && crate::private::private_group(m.gid())) {
        return Err(BadProgram::Writable {
            path,
            mode: m.mode() & 0o7777,
        }
        .to_string());
    }
    let dir = p.parent().unwrap_or(Path::new("/"));
    let d = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir_shared =
        d.mode() & 0o002 != 0 || (d.mode() & 0o020 != 0 && !crate::private::private_group(d.gid()));
    if (d.uid() != me && d.uid() != 0) || dir_shared {
        return Err(BadProgram::Directory {
            path,
            dir: &dir.display(),
            owner: d.uid(),
            mode: d.mode() & 0o7777,
        }
        .to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_socket_directory_of_another_uid_falls_back_to_tmp() {
        // Neither /run/user/4242 nor HOME belong to uid 4242 here.
        assert_eq!(default_socket_dir(4242), PathBuf::from("/tmp/hookd-4242"));
    }

    #[test]
    fn executables_others_can_write_are_refused() {
        let dir = std::env::temp_dir().join(format!("hook-protocol-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prog = dir.join("hookd-test-program");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(trusted_executable(&prog).is_ok());
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o757)).unwrap();
        assert!(
            trusted_executable(&prog)
                .unwrap_err()
                .contains("writable by others")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
