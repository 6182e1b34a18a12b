//! Where hookd's socket and hook-client's spool are, and which hookd program autostart may run:
//! the rules of `hook_protocol::paths`, for a program without the standard library. Paths are
//! bytes.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hook_protocol_core::trust::BadProgram;

use crate::{env, sys, trust};

/// File name of the socket inside its directory (`hook_protocol::paths::SOCKET_FILE`).
const SOCKET_FILE: &str = "hookd.sock";
/// File name of the spool inside the state directory.
const SPOOL_FILE: &str = "spool";
/// The longest socket path the kernel takes (`hook_protocol::paths::MAX_SOCKET_PATH`).
const MAX_SOCKET_PATH: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

/// A path for messages (`Path::display`).
#[must_use]
pub fn show(p: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(p)
}

/// `dir/name` (`Path::join` with a relative name).
#[must_use]
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !p.is_empty() && !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// `p` without what `Path::components` drops at its end: separators and `.` components (the
/// root stays).
fn trim_end(mut p: &[u8]) -> &[u8] {
    loop {
        // A trailing separator (not the root's), or the `.` of a trailing `/.`.
        if (p.len() > 1 && p.ends_with(b"/")) || p.ends_with(b"/.") {
            p = &p[..p.len() - 1];
        } else {
            return p;
        }
    }
}

/// The directory part of `p`, as `Path::parent` gives it: `None` for `/` and the empty path,
/// `""` for a bare name, and no trailing separator or `.` component (`/a/link/./s` → `/a/link`:
/// the checks look at the link itself).
#[must_use]
pub fn parent(p: &[u8]) -> Option<&[u8]> {
    let p = trim_end(p);
    if p.is_empty() || p == b"/" {
        return None;
    }
    let cut = p.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    Some(trim_end(&p[..cut]))
}

/// The real uid.
#[must_use]
pub fn uid() -> u32 {
    sys::getuid()
}

fn owned_dir(p: &[u8], uid: u32, follow: bool) -> bool {
    sys::stat(p, follow).is_ok_and(|m| m.is_dir() && m.uid == uid)
}

/// `hook_protocol::paths::default_socket_dir`.
#[must_use]
pub fn default_socket_dir(uid: u32) -> Vec<u8> {
    let run = format!("/run/user/{uid}").into_bytes();
    if cfg!(target_os = "linux") && owned_dir(&run, uid, false) {
        return join(&run, b"hookd");
    }
    let fits = |dir: &[u8]| dir.len() + 1 + SOCKET_FILE.len() <= MAX_SOCKET_PATH;
    if cfg!(target_os = "macos")
        && let Some(tmp) =
            env::non_empty("TMPDIR").filter(|t| t.starts_with(b"/") && owned_dir(t, uid, true))
    {
        let dir = join(tmp, format!("hookd-{uid}").as_bytes());
        if fits(&dir) {
            return dir;
        }
    }
    if let Some(h) =
        env::non_empty("HOME").filter(|h| h.starts_with(b"/") && owned_dir(h, uid, true))
    {
        let dir = join(&join(&join(h, b".local"), b"state"), b"hookd");
        if fits(&dir) {
            return dir;
        }
    }
    format!("/tmp/hookd-{uid}").into_bytes()
}

/// Whether the socket was named explicitly (`HOOKD_SOCKET`).
#[must_use]
pub fn socket_is_explicit() -> bool {
    env::non_empty("HOOKD_SOCKET").is_some()
}

/// The socket path (`hook_protocol::paths::socket_path`).
#[must_use]
pub fn socket_path() -> Vec<u8> {
    if let Some(s) = env::non_empty("HOOKD_SOCKET") {
        return s.to_vec();
    }
    if let Some(h) = env::non_empty("HOOKD_HOME") {
        return join(h, SOCKET_FILE.as_bytes());
    }
    join(&default_socket_dir(uid()), SOCKET_FILE.as_bytes())
}

/// The state directory (`hook_protocol::paths::state_dir`).
#[must_use]
pub fn state_dir() -> Vec<u8> {
    if let Some(d) = env::non_empty("HOOKD_STATE_DIR") {
        return d.to_vec();
    }
    if let Some(h) = env::non_empty("HOOKD_HOME") {
        return join(h, b"state");
    }
    if let Some(x) = env::non_empty("XDG_STATE_HOME") {
        return join(x, b"hookd");
    }
    if let Some(h) = env::non_empty("HOME") {
        return join(&join(&join(h, b".local"), b"state"), b"hookd");
    }
    join(&default_socket_dir(uid()), b"state")
}

/// The spool file.
#[must_use]
pub fn spool_path() -> Vec<u8> {
    join(&state_dir(), SPOOL_FILE.as_bytes())
}

/// Finds the program `name` autostart may run (`hook_protocol::paths::find_program`):
/// `env_override` (an absolute path), else beside this executable, else in an absolute `PATH`
/// entry; each candidate must pass [`trusted_executable`].
///
/// # Errors
///
/// What was looked at and why each candidate was refused.
pub fn find_program(name: &str, env_override: &str) -> Result<Vec<u8>, String> {
    if let Some(p) = env::non_empty(env_override) {
        if !p.starts_with(b"/") {
            return Err(format!(
                "{env_override}={} is not an absolute path; refusing it",
                show(p)
            ));
        }
        return trusted_executable(p).map(|()| p.to_vec());
    }
    let mut refused = Vec::new();
    let mut candidates = Vec::new();
    if let Ok(exe) = sys::current_exe()
        && let Some(dir) = parent(&exe)
    {
        candidates.push(join(dir, name.as_bytes()));
    }
    if let Some(path) = env::var_os("PATH") {
        for dir in path.split(|&b| b == b':').filter(|d| d.starts_with(b"/")) {
            candidates.push(join(dir, name.as_bytes()));
        }
    }
    for p in candidates {
        match trusted_executable(&p) {
            Ok(()) => return Ok(p),
            Err(e) if sys::stat(&p, true).is_ok() => refused.push(e),
            Err(_) => {}
        }
    }
    if refused.is_empty() {
        Err(BadProgram::Missing { name }.to_string())
    } else {
        Err(refused.join("; "))
    }
}

/// `hook_protocol::paths::trusted_executable`: a regular executable file owned by us or root,
/// not writable by group or others, in a directory owned by us or root that others cannot
/// change.
///
/// # Errors
///
/// Why it is refused.
pub fn trusted_executable(p: &[u8]) -> Result<(), String> {
    let me = sys::geteuid();
    let m = sys::stat(p, true).map_err(|e| format!("{}: {e}", show(p)))?;
    let path = &show(p);
    if !m.is_file() || m.mode & 0o111 == 0 {
        return Err(BadProgram::NotExecutable { path }.to_string());
    }
    if m.uid != me && m.uid != 0 {
        return Err(BadProgram::Owner {
            path,
            owner: m.uid,
            me,
        }
        .to_string());
    }
    if m.mode & 0o022 != 0 && !(m.mode & 0o002 == 0 && trust::private_group(m.gid)) {
        return Err(BadProgram::Writable {
            path,
            mode: m.permissions(),
        }
        .to_string());
    }
    let dir = parent(p).filter(|d| !d.is_empty()).unwrap_or(b"/");
    let d = sys::stat(dir, true).map_err(|e| format!("{}: {e}", show(dir)))?;
    let dir_shared = d.mode & 0o002 != 0 || (d.mode & 0o020 != 0 && !trust::private_group(d.gid));
    if (d.uid != me && d.uid != 0) || dir_shared {
        return Err(BadProgram::Directory {
            path,
            dir: &show(dir),
            owner: d.uid,
            mode: d.permissions(),
        }
        .to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_joins_are_those_of_std_path() {
        for p in [
            "/a/b",
            "/a",
            "/",
            "a",
            "a/b",
            "",
            "/a/b/",
            "/a//b",
            "/a/b/.",
            "/a///b",
            "/a/./b",
            "/a/b/./",
            "/.",
            ".",
            "./a",
            "a/.",
            "a//",
            "/x/link/./hookd.sock",
            "//a",
            "/a/.//b",
        ] {
            let std_parent = std::path::Path::new(p)
                .parent()
                .map(|d| d.to_str().unwrap().as_bytes().to_vec());
            assert_eq!(parent(p.as_bytes()).map(<[u8]>::to_vec), std_parent, "{p}");
        }
        assert_eq!(join(b"/a", b"b"), b"/a/b");
        assert_eq!(join(b"/", b"b"), b"/b");
        assert_eq!(join(b"/a/", b"b"), b"/a/b");
        assert_eq!(join(b"", b"b"), b"b");
    }
}
