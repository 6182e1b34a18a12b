//! Start-up and shut-down chores: private directories, the pidfile lock, the socket file.
//!
//! A second hookd fails here at once with a clear message; a stale socket is removed only
//! after `connect` is refused; a socket directory owned by someone else, or a symlink, is
//! refused.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use hook_protocol::private;

/// Start-up errors, each saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// Another hookd holds the pidfile lock.
    #[error("hookd is already running (pid {pid}, pidfile {}); stop it with `hookctl stop` first", .pidfile.display())]
    AlreadyRunning {
        /// The pid in the pidfile.
        pid: String,
        /// The pidfile.
        pidfile: PathBuf,
    },
    /// Something answers on the socket already.
    #[error("another hookd is already listening on {}; stop it with `hookctl stop` first", .0.display())]
    SocketInUse(PathBuf),
    /// The socket path exists and is not a socket.
    #[error("{} exists and is not a socket; refusing to replace it", .0.display())]
    NotASocket(PathBuf),
    /// A directory or file that is not private to us.
    #[error(transparent)]
    Untrusted(#[from] private::Untrusted),
    /// Unsafe directory.
    #[error("refusing to use {}: {why}", .path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// An I/O step failed.
    #[error("{what} {}", .path.display())]
    Io {
        /// What was being attempted.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LifecycleError + 'a {
    move |source| LifecycleError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

pub use hook_protocol::private::euid;

/// Makes sure `dir` is private to us ([`hook_protocol::private`]): created 0700 when missing,
/// never a symlink or a directory of another user, no directory above it that someone else
/// can change. With `tighten`, group and other access to a directory we own is removed; without
/// it (a socket directory chosen with `HOOKD_SOCKET`), such access is refused, as hook-client
/// and hookctl refuse it.
///
/// # Errors
///
/// [`LifecycleError::Untrusted`] saying what is wrong.
pub fn private_dir(dir: &Path, what: &'static str, tighten: bool) -> Result<(), LifecycleError> {
    if !tighten && std::fs::symlink_metadata(dir).is_ok() {
        return Ok(private::check_socket_dir(dir)?);
    }
    Ok(private::ensure_private_dir(dir, what)?)
}

/// The pidfile, locked for the daemon's lifetime.
pub struct PidLock {
    _file: File,
}

/// Pause between attempts to take the pidfile lock while waiting for it.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

/// Takes the pidfile lock and writes our pid, waiting up to `wait` for another hookd to let go
/// of it (one that was asked to hand over is still exiting).
///
/// # Errors
///
/// [`LifecycleError::AlreadyRunning`] when another hookd still holds it after `wait`.
pub fn lock_pidfile(path: &Path, wait: std::time::Duration) -> Result<PidLock, LifecycleError> {
    let mut file = private::open_private(path, private::Access::ReadWrite, "pidfile")
        .map_err(io_err("opening pidfile", path))?;
    let until = std::time::Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < until => {
                #[allow(clippy::disallowed_methods)]
                // start-up, before the runtime serves anything
                std::thread::sleep(LOCK_RETRY);
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(LifecycleError::AlreadyRunning {
                    pid: pid.trim().to_string(),
                    pidfile: path.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_err("locking pidfile", path)(e));
            }
        }
    }
    file.set_len(0).map_err(io_err("writing pidfile", path))?;
    file.rewind().map_err(io_err("writing pidfile", path))?;
    writeln!(file, "{}", std::process::id()).map_err(io_err("writing pidfile", path))?;
    Ok(PidLock { _file: file })
}

/// Removes a stale socket at `path`: only when it is a socket and `connect` is refused.
///
/// # Errors
///
/// [`LifecycleError::SocketInUse`] when a daemon answers there, [`LifecycleError::NotASocket`].
pub fn clear_stale_socket(path: &Path) -> Result<(), LifecycleError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("inspecting", path)(e)),
        Ok(m) => m,
    };
    if !meta.file_type().is_socket() {
        return Err(LifecycleError::NotASocket(path.to_path_buf()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(LifecycleError::SocketInUse(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %path.display(), "removing stale socket");
            std::fs::remove_file(path).map_err(io_err("removing stale socket", path))
        }
        Err(e) => Err(io_err("probing existing socket", path)(e)),
    }
}

/// Identity of the socket file we bound, to remove only our own on exit.
#[derive(Debug, Clone, Copy)]
pub struct SocketId {
    dev: u64,
    ino: u64,
}

/// Sets mode 0600 on a freshly bound socket and remembers its identity.
///
/// # Errors
///
/// I/O errors.
pub fn secure_socket(path: &Path) -> Result<SocketId, LifecycleError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err("setting mode 0600 on", path))?;
    let m = std::fs::symlink_metadata(path).map_err(io_err("inspecting", path))?;
    Ok(SocketId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// What is at the socket path now, compared with the socket we bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    /// Our socket is there.
    Ours,
    /// Nothing is there (deleted under us).
    Missing,
    /// Another file is there (replaced).
    Replaced,
}

/// Checks whether the socket file we bound is still at `path`.
#[must_use]
pub fn socket_state(path: &Path, id: SocketId) -> SocketState {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.dev() == id.dev && m.ino() == id.ino => SocketState::Ours,
        Ok(_) => SocketState::Replaced,
        Err(e) if e.kind() == io::ErrorKind::NotFound => SocketState::Missing,
        // Cannot tell (e.g. the directory became unreadable): do not act on it.
        Err(_) => SocketState::Ours,
    }
}

/// Removes the socket if it is still the one we bound.
pub fn remove_socket(path: &Path, id: SocketId) {
    if let Ok(m) = std::fs::symlink_metadata(path)
        && m.dev() == id.dev
        && m.ino() == id.ino
    {
        let _ = std::fs::remove_file(path);
    }
}

/// The first file descriptor a service manager passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

/// A listening socket passed by the service manager: systemd socket activation
/// (`LISTEN_PID`/`LISTEN_FDS`) or launchd (`launch_activate_socket`). hookd then neither
/// creates nor removes the socket file, and connections made while it restarts wait in the
/// kernel's queue.
///
/// Call it before anything else opens descriptors (before the async runtime starts), so fd 3
/// can only be the one the manager passed.
///
/// # Errors
///
/// A passed descriptor that is not a listening Unix socket.
pub fn inherited_listener() -> Result<Option<std::os::unix::net::UnixListener>, LifecycleError> {
    #[cfg(target_os = "macos")]
    if let Some(l) = launchd::activate_socket()? {
        return Ok(Some(l));
    }
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !for_us || count < 1 {
        return Ok(None);
    }
    // The variables stay set: LISTEN_PID names this process, so any child ignores them.
    if count > 1 {
        tracing::warn!(count, "several sockets passed; hookd uses the first");
    }
    use std::os::fd::FromRawFd;
    #[allow(unsafe_code)]
    // SAFETY: fstat only writes into the zeroed struct we pass.
    let is_socket = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(LISTEN_FDS_START, &raw mut st) == 0
            && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    };
    if !is_socket {
        return Err(LifecycleError::UnsafeDir {
            path: PathBuf::from("fd 3"),
            why: "LISTEN_FDS names this process but fd 3 is not a socket".into(),
        });
    }
    #[allow(unsafe_code)]
    // SAFETY: the service manager passed fd 3 to this process (LISTEN_PID is ours); we take
    // ownership of it exactly once.
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(LISTEN_FDS_START) };
    listener.local_addr().map_err(|source| LifecycleError::Io {
        what: "the socket passed by the service manager is not a Unix socket:",
        path: PathBuf::from("fd 3"),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(io_err("setting non-blocking on", Path::new("fd 3")))?;
    Ok(Some(listener))
}

/// launchd socket activation (`Sockets` → `Listeners` in the LaunchAgent plist).
#[cfg(target_os = "macos")]
mod launchd {
    use std::ffi::CString;
    use std::os::fd::FromRawFd;
    use std::os::unix::net::UnixListener;

    use super::LifecycleError;

    // The workspace denies `unsafe_code`; this declaration is the one way to reach launchd's
    // socket activation (libSystem has no Rust binding), and each call is allowed at its site.
    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn launch_activate_socket(
            name: *const libc::c_char,
            fds: *mut *mut libc::c_int,
            cnt: *mut libc::size_t,
        ) -> libc::c_int;
    }

    /// The plist's `Sockets` key this code asks for.
    pub const SOCKET_NAME: &str = "Listeners";

    pub fn activate_socket() -> Result<Option<UnixListener>, LifecycleError> {
        let name = CString::new(SOCKET_NAME).expect("constant has no NUL");
        let mut fds: *mut libc::c_int = std::ptr::null_mut();
        let mut cnt: libc::size_t = 0;
        #[allow(unsafe_code)]
        // SAFETY: launch_activate_socket fills `fds` with a malloc'd array of `cnt` fds.
        let rc = unsafe { launch_activate_socket(name.as_ptr(), &mut fds, &mut cnt) };
        if rc != 0 || cnt == 0 || fds.is_null() {
            // ESRCH: not started by launchd with that socket; run as usual.
            return Ok(None);
        }
        #[allow(unsafe_code)]
        // SAFETY: `fds` holds `cnt` >= 1 descriptors owned by us; the array is ours to free.
        let listener = unsafe {
            let fd = *fds;
            libc::free(fds.cast());
            UnixListener::from_raw_fd(fd)
        };
        listener
            .set_nonblocking(true)
            .map_err(|source| LifecycleError::Io {
                what: "setting non-blocking on",
                path: "launchd socket".into(),
                source,
            })?;
        Ok(Some(listener))
    }
}

/// Watches the socket file hookd bound: deleted under a running hookd, it is bound again (so
/// clients reach hookd within a second instead of autostarting a daemon that cannot start);
/// replaced by another file, it is left alone and the problem logged once.
#[derive(Default)]
pub struct SocketWatch {
    replaced_logged: bool,
}

impl SocketWatch {
    /// Checks the socket file once (every second from the background loop).
    pub fn check(
        &mut self,
        config: &crate::config::Config,
        id: &std::sync::Mutex<Option<SocketId>>,
        rebind: &tokio::sync::mpsc::Sender<tokio::net::UnixListener>,
    ) {
        let path = config.socket.as_path();
        let mut current = id.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A socket passed by the service manager is not ours to watch.
        let Some(ours) = *current else { return };
        match socket_state(path, ours) {
            SocketState::Ours => self.replaced_logged = false,
            SocketState::Replaced => {
                if !self.replaced_logged {
                    self.replaced_logged = true;
                    tracing::error!(
                        socket = %path.display(),
                        "the socket file was replaced by another file; clients cannot reach \
                         this hookd (restart it, or remove that file so hookd binds again)"
                    );
                }
            }
            SocketState::Missing => {
                // The whole directory may be gone too: re-create it the way start-up does
                // (refusing a symlink or another user's directory put there meanwhile).
                let dir_ok = match path.parent() {
                    Some(dir) if !dir.exists() && config.owns_socket_dir => {
                        private_dir(dir, "socket directory", true).map_err(anyhow::Error::from)
                    }
                    _ => Ok(()),
                };
                let bound = dir_ok
                    .and_then(|()| crate::server::bind(path))
                    .and_then(|l| {
                        let id = secure_socket(path)?;
                        Ok((l, id))
                    });
                match bound {
                    Ok((listener, new_id)) => match rebind.try_send(listener) {
                        Ok(()) => {
                            *current = Some(new_id);
                            tracing::warn!(
                                socket = %path.display(),
                                "the socket file was deleted; bound it again"
                            );
                        }
                        Err(_) => remove_socket(path, new_id),
                    },
                    Err(e) => tracing::error!(
                        socket = %path.display(),
                        error = %format!("{e:#}"),
                        "the socket file was deleted and cannot be bound again"
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_pidfile_lock_reports_the_running_pid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hookd.pid");
        let _first = lock_pidfile(&p, std::time::Duration::ZERO).unwrap();
        match lock_pidfile(&p, std::time::Duration::from_millis(30)) {
            Err(LifecycleError::AlreadyRunning { pid, .. }) => {
                assert_eq!(pid, std::process::id().to_string());
            }
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("second lock should fail"),
        }
    }

    #[test]
    fn symlinked_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = private_dir(&link, "state directory", true).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
    }

    #[test]
    fn loose_dir_is_tightened_and_regular_file_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&d, "state directory", true).unwrap();
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        let f = d.join("file");
        std::fs::write(&f, b"x").unwrap();
        assert!(matches!(
            clear_stale_socket(&f),
            Err(LifecycleError::NotASocket(_))
        ));
    }

    #[test]
    fn stale_socket_is_removed_only_when_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.sock");
        let live = std::os::unix::net::UnixListener::bind(&p).unwrap();
        assert!(matches!(
            clear_stale_socket(&p),
            Err(LifecycleError::SocketInUse(_))
        ));
        drop(live);
        clear_stale_socket(&p).unwrap();
        assert!(!p.exists());
    }
}
