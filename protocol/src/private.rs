//! What hookd, hook-client and hookctl trust on this machine: private directories and files,
//! and the process on the other end of hookd's socket.
//!
//! Another local user must never decide a verdict, read an event or have hookd write through
//! a link they planted. So:
//!
//! - the socket's directory must be a real directory (not a symlink) owned by the caller, with
//!   no access for group or others ([`check_socket_dir`]);
//! - the process serving the socket must run as the caller ([`check_peer`]: `SO_PEERCRED` on
//!   Linux, `getpeereid` elsewhere). The one exception is macOS, where a root peer is accepted
//!   because launchd (root) creates the listening socket of a LaunchAgent; root can read and
//!   change everything of every user anyway. Nowhere else is any other uid accepted;
//! - directories hookd or hook-client write into are created 0700, and every directory above
//!   them must belong to the caller or root and be writable by no one else unless sticky, like
//!   `/tmp` ([`ensure_private_dir`]);
//! - files are opened without following a symlink in the last component, and only when they
//!   are regular files owned by the caller ([`open_private`], [`write_private`]).
//!
//! Everything here is std + libc. hook-client, which has no std, makes the same checks in
//! `hook-client/src/trust.rs`; the words of every refusal are shared
//! ([`hook_protocol_core::trust`]).

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Component, Path, PathBuf};

/// The effective uid of this process: the owner files and peers must have.
#[must_use]
pub fn euid() -> u32 {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe {
        libc::geteuid()
    }
}

/// Why a directory, file or peer is not trusted. Its `Display` is the one line users see
/// (hook-client's stderr, `hookctl status` and `doctor`, hookd's start-up error).
#[derive(Debug)]
pub enum Untrusted {
    /// The path is a symbolic link.
    Symlink {
        /// What it is for ("socket directory", "state directory", "spool file"…).
        what: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// The path is not a directory (or not a regular file, for files).
    WrongType {
        /// What it is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What it should be.
        want: &'static str,
    },
    /// Owned by another user.
    Owner {
        /// What it is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
    },
    /// Group or other users can get in.
    Mode {
        /// What it is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A directory above a private one that someone else could change.
    Ancestor {
        /// What the private directory is for.
        what: &'static str,
        /// The directory above it.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// A file with more than one hard link (one may sit where someone else can reach it).
    Linked {
        /// What it is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// The process serving the socket runs as another user.
    Peer {
        /// The socket.
        socket: PathBuf,
        /// The peer's uid.
        uid: u32,
    },
    /// The check itself failed.
    Io {
        /// What was being checked.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use hook_protocol_core::trust::Refusal;
        let me = euid();
        match self {
            Self::Symlink { what, path } => Refusal::Symlink {
                what,
                path: &path.display(),
            }
            .fmt(f),
            Self::WrongType { what, path, want } => Refusal::WrongType {
                what,
                path: &path.display(),
                want,
            }
            .fmt(f),
            Self::Owner { what, path, owner } => Refusal::Owner {
                what,
                path: &path.display(),
                owner: *owner,
                me,
            }
            .fmt(f),
            Self::Mode { what, path, mode } => Refusal::Mode {
                what,
                path: &path.display(),
                mode: *mode,
            }
            .fmt(f),
            Self::Ancestor {
                what,
                path,
                owner,
                mode,
            } => Refusal::Ancestor {
                what,
                path: &path.display(),
                owner: *owner,
                mode: *mode,
            }
            .fmt(f),
            Self::Linked { what, path } => Refusal::Linked {
                what,
                path: &path.display(),
            }
            .fmt(f),
            Self::Peer { socket, uid } => Refusal::Peer {
                socket: &socket.display(),
                uid: *uid,
                me,
            }
            .fmt(f),
            Self::Io { what, path, source } => Refusal::Io {
                what,
                path: &path.display(),
                source,
            }
            .fmt(f),
        }
    }
}

impl std::error::Error for Untrusted {}

impl From<Untrusted> for io::Error {
    fn from(u: Untrusted) -> Self {
        match u {
            Untrusted::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => source,
            other => io::Error::new(io::ErrorKind::PermissionDenied, other.to_string()),
        }
    }
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Untrusted + 'a {
    move |source| Untrusted::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Checks an existing directory: not a symlink, a directory, owned by us, no group or other
/// access. hook-client calls it on the socket's directory before connecting.
///
/// # Errors
///
/// [`Untrusted`] naming the first problem; [`Untrusted::Io`] with `NotFound` when it is absent.
pub fn check_socket_dir(dir: &Path) -> Result<(), Untrusted> {
    check_dir(dir, "socket directory", false)
}

/// Checks `dir` (see [`check_socket_dir`]); with `tighten`, group and other bits of a
/// directory we own are removed instead of refused.
fn check_dir(dir: &Path, what: &'static str, tighten: bool) -> Result<(), Untrusted> {
    let m = std::fs::symlink_metadata(dir).map_err(io_error(what, dir))?;
    let path = || dir.to_path_buf();
    if m.file_type().is_symlink() {
        return Err(Untrusted::Symlink { what, path: path() });
    }
    if !m.is_dir() {
        return Err(Untrusted::WrongType {
            what,
            path: path(),
            want: "a directory",
        });
    }
    if m.uid() != euid() {
        return Err(Untrusted::Owner {
            what,
            path: path(),
            owner: m.uid(),
        });
    }
    let mode = m.mode() & 0o7777;
    if mode & 0o077 != 0 {
        if !tighten {
            return Err(Untrusted::Mode {
                what,
                path: path(),
                mode,
            });
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_error(what, dir))?;
    }
    Ok(())
}

/// Whether a directory above a private one is safe: owned by us or root, and writable by no
/// one else unless sticky (then no one else can rename or delete what we put in it). Group
/// write is fine when the group is our own private group ([`private_group`]).
fn ancestor_ok(m: &std::fs::Metadata) -> bool {
    let owner_ok = m.uid() == euid() || m.uid() == 0;
    let sticky = m.mode() & 0o1000 != 0;
    let other_write = m.mode() & 0o002 != 0;
    // The user database is consulted only for a group-writable directory.
    owner_ok && (sticky || (!other_write && (m.mode() & 0o020 == 0 || private_group(m.gid()))))
}

/// Whether `gid` is the caller's own private group (the "user private group" scheme of most
/// Linux distributions): the caller's primary group, named like the caller, with no other
/// members listed. Group write on such a group gives no one else access.
#[must_use]
pub fn private_group(gid: u32) -> bool {
    let Some((user, primary)) = passwd_entry(euid()) else {
        return false;
    };
    primary == gid && group_entry(gid).is_some_and(|(name, members)| name == user && members == 0)
}

/// The user name of `uid` from the user database, if it has one.
#[must_use]
pub fn user_name(uid: u32) -> Option<String> {
    passwd_entry(uid).map(|(name, _)| String::from_utf8_lossy(&name).into_owned())
}

/// (name, primary gid) of `uid` from the user database.
fn passwd_entry(uid: u32) -> Option<(Vec<u8>, u32)> {
    let mut buf = vec![0u8; 4096];
    loop {
        #[allow(unsafe_code)]
        // SAFETY: passwd is plain old data; all-zero is valid.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        #[allow(unsafe_code)]
        // SAFETY: every pointer is valid for the call and buf's length is passed.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &raw mut pw,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &raw mut out,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || out.is_null() || pw.pw_name.is_null() {
            return None;
        }
        #[allow(unsafe_code)]
        // SAFETY: getpwuid_r filled pw_name with a NUL-terminated string inside buf.
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        return Some((name.to_bytes().to_vec(), pw.pw_gid));
    }
}

/// (name, number of listed members) of group `gid`.
fn group_entry(gid: u32) -> Option<(Vec<u8>, usize)> {
    let mut buf = vec![0u8; 4096];
    loop {
        #[allow(unsafe_code)]
        // SAFETY: group is plain old data; all-zero is valid.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::group = std::ptr::null_mut();
        #[allow(unsafe_code)]
        // SAFETY: every pointer is valid for the call and buf's length is passed.
        let rc = unsafe {
            libc::getgrgid_r(
                gid,
                &raw mut gr,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &raw mut out,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || out.is_null() || gr.gr_name.is_null() {
            return None;
        }
        let mut members = 0;
        if !gr.gr_mem.is_null() {
            #[allow(unsafe_code)]
            // SAFETY: gr_mem is a NULL-terminated array of pointers inside buf.
            while !unsafe { *gr.gr_mem.add(members) }.is_null() {
                members += 1;
            }
        }
        #[allow(unsafe_code)]
        // SAFETY: getgrgid_r filled gr_name with a NUL-terminated string inside buf.
        let name = unsafe { std::ffi::CStr::from_ptr(gr.gr_name) };
        return Some((name.to_bytes().to_vec(), members));
    }
}

/// Makes sure `dir` is a private directory: creates what is missing (0700), refuses a symlink
/// or a directory of someone else, removes group and other access from one we own, and
/// checks every existing directory above it ([`Untrusted::Ancestor`]).
///
/// # Errors
///
/// [`Untrusted`] naming the problem.
pub fn ensure_private_dir(dir: &Path, what: &'static str) -> Result<(), Untrusted> {
    let dir = absolute(dir).map_err(io_error(what, dir))?;
    // The existing part of the path, checked from the top: a directory someone else can change
    // anywhere above would let them swap what we create below it.
    let mut at = PathBuf::new();
    let mut created = false;
    let parts: Vec<Component<'_>> = dir.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        if matches!(part, Component::RootDir) {
            continue;
        }
        let last = i + 1 == parts.len();
        match std::fs::symlink_metadata(&at) {
            Ok(_) if last => return check_dir(&at, what, true),
            Ok(m) if m.file_type().is_symlink() => {
                // A link above us is followed, so its owner and its target both count.
                if m.uid() != euid() && m.uid() != 0 {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: m.uid(),
                        mode: m.mode() & 0o7777,
                    });
                }
                let target = std::fs::metadata(&at).map_err(io_error(what, &at))?;
                if !ancestor_ok(&target) {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: target.uid(),
                        mode: target.mode() & 0o7777,
                    });
                }
            }
            Ok(m) => {
                if !ancestor_ok(&m) {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: m.uid(),
                        mode: m.mode() & 0o7777,
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Create the rest, 0700 each; a directory someone else made first is caught by
                // the check of the last component (owner) or of the next one (ancestor).
                match std::fs::DirBuilder::new().mode(0o700).create(&at) {
                    Ok(()) => created = true,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_error(what, &at)(e)),
                }
                let m = std::fs::symlink_metadata(&at).map_err(io_error(what, &at))?;
                if last {
                    return check_dir(&at, what, created);
                }
                if m.file_type().is_symlink() || !m.is_dir() || m.uid() != euid() {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: m.uid(),
                        mode: m.mode() & 0o7777,
                    });
                }
            }
            Err(e) => return Err(io_error(what, &at)(e)),
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

/// How [`open_private`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Append, creating it (0600) if missing.
    Append,
    /// Read and write, creating it (0600) if missing, not truncated.
    ReadWrite,
    /// Read only; it must exist.
    Read,
}

/// Opens a file of ours without following a symlink: it must be a regular file owned by us
/// with a single link; group and other access is removed. The directory is not checked (see
/// [`ensure_private_dir`]).
///
/// # Errors
///
/// I/O errors (`NotFound`, or `ELOOP` for a symlink, reported as [`Untrusted::Symlink`]), or
/// a refusal as `PermissionDenied` with the reason.
pub fn open_private(path: &Path, access: Access, what: &'static str) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    match access {
        Access::Append => opts.append(true).create(true),
        Access::ReadWrite => opts.read(true).write(true).create(true),
        Access::Read => opts.read(true),
    };
    let file = opts
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Untrusted::Symlink {
                    what,
                    path: path.to_path_buf(),
                }
                .into()
            } else {
                e
            }
        })?;
    check_file(&file, path, what)?;
    Ok(file)
}

/// Opens a file for reading without following a symlink, and without blocking on a FIFO put
/// in its place; the caller checks what it opened (owner, mode, type) on the open file.
///
/// # Errors
///
/// I/O errors (`ELOOP` for a symlink).
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
}

/// The checks of [`open_private`] on an open file: regular, ours, one link, no group or other
/// access (removed when present).
fn check_file(file: &File, path: &Path, what: &'static str) -> Result<(), Untrusted> {
    let m = file.metadata().map_err(io_error(what, path))?;
    let path = || path.to_path_buf();
    if !m.is_file() {
        return Err(Untrusted::WrongType {
            what,
            path: path(),
            want: "a regular file",
        });
    }
    if m.uid() != euid() {
        return Err(Untrusted::Owner {
            what,
            path: path(),
            owner: m.uid(),
        });
    }
    if m.nlink() > 1 {
        return Err(Untrusted::Linked { what, path: path() });
    }
    if m.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_error(what, &path()))?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically and durably: a new temporary file beside it
/// (created exclusively, never through a link, 0600), written and synced, renamed over `path`,
/// and the directory synced. The directory is not checked (see [`ensure_private_dir`]).
///
/// # Errors
///
/// I/O errors.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp: OsString = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // A leftover of a crashed writer with our pid: ours to remove (create_new would refuse it).
    match std::fs::symlink_metadata(&tmp) {
        Ok(m) if m.uid() == euid() => std::fs::remove_file(&tmp)?,
        _ => {}
    }
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The uid of the process serving a connected Unix socket.
///
/// # Errors
///
/// The system call's error.
pub fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: ucred is plain old data; all-zero is valid.
        let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
        let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::ucred>())
            .map_err(io::Error::other)?;
        #[allow(unsafe_code)]
        // SAFETY: cred and len are valid for writes and len is cred's size.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                std::ptr::from_mut(&mut cred).cast(),
                &raw mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(cred.uid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let mut uid: libc::uid_t = 0;
        let mut gid: libc::gid_t = 0;
        #[allow(unsafe_code)]
        // SAFETY: uid and gid are valid for writes.
        let rc = unsafe { libc::getpeereid(fd, &raw mut uid, &raw mut gid) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(uid)
    }
}

/// Whether a peer of `uid` may serve us (see the module documentation for root on macOS).
#[must_use]
pub fn peer_allowed(uid: u32) -> bool {
    uid == euid() || (cfg!(target_os = "macos") && uid == 0)
}

/// Checks that the process serving `stream` (connected to `socket`) runs as us.
///
/// # Errors
///
/// [`Untrusted::Peer`], or [`Untrusted::Io`] when the credentials cannot be read.
pub fn check_peer(stream: &UnixStream, socket: &Path) -> Result<(), Untrusted> {
    let uid = peer_uid(stream).map_err(io_error("the peer of", socket))?;
    if peer_allowed(uid) {
        Ok(())
    } else {
        Err(Untrusted::Peer {
            socket: socket.to_path_buf(),
            uid,
        })
    }
}

/// Checks the socket's directory when it exists (a missing one is left to `connect`, which
/// then fails with `NotFound`, and to the hookd that autostart then creates it). `owned`: the
/// directory is hookd's own (the default location or `HOOKD_HOME`, not `HOOKD_SOCKET`), so
/// group and other access to it is removed, as hookd itself does, instead of refused.
///
/// # Errors
///
/// [`Untrusted`] for a directory that exists and is not private to us.
pub fn check_socket_dir_if_present(socket: &Path, owned: bool) -> Result<(), Untrusted> {
    let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match check_dir(dir, "socket directory", owned) {
        Err(Untrusted::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Connects to hookd's socket after checking its directory, then checks the peer: nothing is
/// sent to a daemon of another user. A connection refused for trust reasons is an error of
/// kind `PermissionDenied` whose inner error is the [`Untrusted`] reason. `owned` as for
/// [`check_socket_dir_if_present`].
///
/// # Errors
///
/// `connect`'s errors, or `PermissionDenied` carrying [`Untrusted`].
pub fn connect_trusted(socket: &Path, owned: bool) -> io::Result<UnixStream> {
    check_socket_dir_if_present(socket, owned).map_err(untrusted_error)?;
    let stream = UnixStream::connect(socket)?;
    check_peer(&stream, socket).map_err(untrusted_error)?;
    Ok(stream)
}

/// An [`Untrusted`] as an `io::Error` of kind `PermissionDenied` that keeps it as its inner
/// error (see [`untrusted_reason`]).
#[must_use]
pub fn untrusted_error(u: Untrusted) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, u)
}

/// The [`Untrusted`] inside an error made by [`untrusted_error`].
#[must_use]
pub fn untrusted_reason(e: &io::Error) -> Option<&Untrusted> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Untrusted>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hook-protocol-private-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&d).unwrap();
        d
    }

    #[test]
    fn a_private_directory_is_created_and_tightened() {
        let base = tempdir("create");
        let dir = base.join("a/b/c");
        ensure_private_dir(&dir, "state directory").unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir, "state directory").unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // The socket directory check refuses instead of tightening.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        let e = check_socket_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("has mode 0750"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn symlinks_are_refused_for_directories_and_files() {
        let base = tempdir("links");
        let real = base.join("real");
        std::fs::create_dir(&real).unwrap();
        let link = base.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = check_socket_dir(&link).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "socket directory {} is a symlink; refusing it",
                link.display()
            )
        );
        let e = ensure_private_dir(&link, "state directory")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a symlink"), "{e}");

        let target = base.join("victim");
        std::fs::write(&target, b"precious").unwrap();
        let spool = real.join("spool");
        std::os::unix::fs::symlink(&target, &spool).unwrap();
        let e = open_private(&spool, Access::Append, "spool file").unwrap_err();
        assert!(e.to_string().contains("is a symlink"), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn hard_linked_files_are_refused_and_loose_modes_tightened() {
        let base = tempdir("files");
        let f = base.join("pid");
        std::fs::write(&f, b"1").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_private(&f, Access::ReadWrite, "pidfile").unwrap());
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::hard_link(&f, base.join("other")).unwrap();
        let e = open_private(&f, Access::ReadWrite, "pidfile").unwrap_err();
        assert!(e.to_string().contains("more than one hard link"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_file_or_directory_of_another_user_is_refused() {
        if euid() != 0 {
            eprintln!("SKIPPED: needs root to give a file to another user");
            return;
        }
        let base = tempdir("owner");
        let f = base.join("spool");
        std::fs::write(&f, b"").unwrap();
        std::os::unix::fs::chown(&f, Some(65534), Some(65534)).unwrap();
        let e = open_private(&f, Access::Append, "spool file").unwrap_err();
        assert!(e.to_string().contains("is owned by uid 65534"), "{e}");
        let d = base.join("state");
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
        let e = ensure_private_dir(&d.join("below"), "state directory").unwrap_err();
        assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        assert!(!d.join("below").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn writes_are_atomic_and_private() {
        let base = tempdir("write");
        let f = base.join("state");
        write_private(&f, b"one").unwrap();
        write_private(&f, b"two").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 1);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn our_own_peer_is_accepted() {
        let base = tempdir("peer");
        let sock = base.join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let client = connect_trusted(&sock, false).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert_eq!(peer_uid(&client).unwrap(), euid());
        assert_eq!(peer_uid(&server).unwrap(), euid());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
