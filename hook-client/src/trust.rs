//! What hook-client trusts: the checks of `hook_protocol::private`, with the same messages, for
//! a program without the standard library. The socket's directory must be private to us, the
//! process serving it must run as us, and the directories and files hook-client writes (the
//! spool, the hand-over stamp) are created private and never reached through a planted link.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::paths::{join, parent, show};
use crate::sys::{self, Errno, Fd, Stat};

/// Why a directory, file or peer is not trusted (`hook_protocol::private::Untrusted`).
#[derive(Debug)]
pub enum Untrusted {
    /// The path is a symbolic link.
    Symlink { what: &'static str, path: Vec<u8> },
    /// Not a directory (or not a regular file).
    WrongType {
        what: &'static str,
        path: Vec<u8>,
        want: &'static str,
    },
    /// Owned by another user.
    Owner {
        what: &'static str,
        path: Vec<u8>,
        owner: u32,
    },
    /// Group or other users can get in.
    Mode {
        what: &'static str,
        path: Vec<u8>,
        mode: u32,
    },
    /// A directory above a private one that someone else could change.
    Ancestor {
        what: &'static str,
        path: Vec<u8>,
        owner: u32,
        mode: u32,
    },
    /// A file with more than one hard link.
    Linked { what: &'static str, path: Vec<u8> },
    /// The process serving the socket runs as another user.
    Peer { socket: Vec<u8>, uid: u32 },
    /// The check itself failed.
    Io {
        what: &'static str,
        path: Vec<u8>,
        source: Errno,
    },
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use hook_protocol_core::trust::Refusal;
        let me = sys::geteuid();
        match self {
            Self::Symlink { what, path } => Refusal::Symlink {
                what,
                path: &show(path),
            }
            .fmt(f),
            Self::WrongType { what, path, want } => Refusal::WrongType {
                what,
                path: &show(path),
                want,
            }
            .fmt(f),
            Self::Owner { what, path, owner } => Refusal::Owner {
                what,
                path: &show(path),
                owner: *owner,
                me,
            }
            .fmt(f),
            Self::Mode { what, path, mode } => Refusal::Mode {
                what,
                path: &show(path),
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
                path: &show(path),
                owner: *owner,
                mode: *mode,
            }
            .fmt(f),
            Self::Linked { what, path } => Refusal::Linked {
                what,
                path: &show(path),
            }
            .fmt(f),
            Self::Peer { socket, uid } => Refusal::Peer {
                socket: &show(socket),
                uid: *uid,
                me,
            }
            .fmt(f),
            Self::Io { what, path, source } => Refusal::Io {
                what,
                path: &show(path),
                source,
            }
            .fmt(f),
        }
    }
}

/// An error of a file operation: the system's, or a refusal.
#[derive(Debug)]
pub enum Error {
    /// A system call failed.
    Os(Errno),
    /// Refused, saying why.
    Untrusted(Untrusted),
    /// Anything else, in words.
    Other(String),
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        Self::Os(e)
    }
}

impl From<Untrusted> for Error {
    /// As `io::Error::from(Untrusted)`: a missing path is its system error.
    fn from(u: Untrusted) -> Self {
        match u {
            Untrusted::Io { source, .. } if source.not_found() => Self::Os(source),
            other => Self::Untrusted(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Os(e) => e.fmt(f),
            Self::Untrusted(u) => u.fmt(f),
            Self::Other(s) => f.write_str(s),
        }
    }
}

fn io_error<'a>(what: &'static str, path: &'a [u8]) -> impl FnOnce(Errno) -> Untrusted + 'a {
    move |source| Untrusted::Io {
        what,
        path: path.to_vec(),
        source,
    }
}

/// Checks `dir`: not a symlink, a directory, ours, no group or other access; with `tighten`,
/// group and other bits of a directory we own are removed instead of refused.
fn check_dir(dir: &[u8], what: &'static str, tighten: bool) -> Result<(), Untrusted> {
    let m = sys::stat(dir, false).map_err(io_error(what, dir))?;
    let path = || dir.to_vec();
    if m.is_symlink() {
        return Err(Untrusted::Symlink { what, path: path() });
    }
    if !m.is_dir() {
        return Err(Untrusted::WrongType {
            what,
            path: path(),
            want: "a directory",
        });
    }
    if m.uid != sys::geteuid() {
        return Err(Untrusted::Owner {
            what,
            path: path(),
            owner: m.uid,
        });
    }
    if m.mode & 0o077 != 0 {
        if !tighten {
            return Err(Untrusted::Mode {
                what,
                path: path(),
                mode: m.permissions(),
            });
        }
        sys::chmod(dir, 0o700).map_err(io_error(what, dir))?;
    }
    Ok(())
}

/// Checks the socket's directory when it exists (`owned`: hookd's own, tightened instead of
/// refused).
///
/// # Errors
///
/// A directory that exists and is not private to us.
pub fn check_socket_dir_if_present(socket: &[u8], owned: bool) -> Result<(), Untrusted> {
    let Some(dir) = parent(socket).filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    match check_dir(dir, "socket directory", owned) {
        Err(Untrusted::Io { source, .. }) if source.not_found() => Ok(()),
        other => other,
    }
}

/// Checks that the process serving `stream` (connected to `socket`) runs as us.
///
/// # Errors
///
/// [`Untrusted::Peer`], or [`Untrusted::Io`] when the credentials cannot be read.
pub fn check_peer(stream: &Fd, socket: &[u8]) -> Result<(), Untrusted> {
    let uid = sys::peer_uid(stream).map_err(io_error("the peer of", socket))?;
    if uid == sys::geteuid() || (cfg!(target_os = "macos") && uid == 0) {
        Ok(())
    } else {
        Err(Untrusted::Peer {
            socket: socket.to_vec(),
            uid,
        })
    }
}

/// A directory above a private one is safe: ours or root's, writable by no one else unless
/// sticky (group write is fine for our own private group).
fn ancestor_ok(m: &Stat) -> bool {
    let owner_ok = m.uid == sys::geteuid() || m.uid == 0;
    let sticky = m.mode & 0o1000 != 0;
    let other_write = m.mode & 0o002 != 0;
    owner_ok && (sticky || (!other_write && (m.mode & 0o020 == 0 || private_group(m.gid))))
}

/// Whether `gid` is the caller's own private group: its primary group, named like it, with no
/// members listed. Read from `/etc/passwd` and `/etc/group` (there is no C library here to ask
/// other user databases): a group known only elsewhere is not private, the stricter answer.
#[must_use]
pub fn private_group(gid: u32) -> bool {
    let Some(user) = db_line(b"/etc/passwd", sys::geteuid()) else {
        return false;
    };
    let primary = user
        .get(3)
        .and_then(|g| core::str::from_utf8(g).ok()?.parse::<u32>().ok());
    if primary != Some(gid) {
        return false;
    }
    db_line(b"/etc/group", gid).is_some_and(|group| {
        group[0] == user[0] && group.get(3).is_none_or(|members| members.is_empty())
    })
}

/// The fields of the first line of a `name:password:id:...` file whose id is `id`.
fn db_line(file: &[u8], id: u32) -> Option<Vec<Vec<u8>>> {
    let text = read_small(file)?;
    let id = id.to_string();
    text.split(|&b| b == b'\n').find_map(|line| {
        let fields: Vec<Vec<u8>> = line.split(|&b| b == b':').map(<[u8]>::to_vec).collect();
        (fields.len() > 2 && fields[2] == id.as_bytes()).then_some(fields)
    })
}

/// A small file's bytes (at most 4 MiB), or `None`.
fn read_small(path: &[u8]) -> Option<Vec<u8>> {
    let fd = sys::open(path, libc::O_RDONLY, 0).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sys::read(fd.raw(), &mut buf) {
            Ok(0) => return Some(out),
            Ok(n) if out.len() + n <= 4 << 20 => out.extend_from_slice(&buf[..n]),
            Err(Errno(libc::EINTR)) => {}
            _ => return None,
        }
    }
}

/// Makes sure `dir` is a private directory (`hook_protocol::private::ensure_private_dir`):
/// creates what is missing (0700), refuses a symlink or a directory of someone else, removes
/// group and other access from one we own, and checks every existing directory above it.
///
/// # Errors
///
/// [`Untrusted`] naming the problem.
pub fn ensure_private_dir(dir: &[u8], what: &'static str) -> Result<(), Untrusted> {
    let dir = if dir.starts_with(b"/") {
        dir.to_vec()
    } else {
        join(&sys::getcwd().map_err(io_error(what, dir))?, dir)
    };
    // The path's components as `Path::components` gives them: no empty or `.` parts.
    let parts: Vec<&[u8]> = dir
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    let me = sys::geteuid();
    let mut at: Vec<u8> = Vec::new();
    let mut created = false;
    for (i, part) in parts.iter().enumerate() {
        at.push(b'/');
        at.extend_from_slice(part);
        let last = i + 1 == parts.len();
        match sys::stat(&at, false) {
            Ok(_) if last => return check_dir(&at, what, true),
            Ok(m) if m.is_symlink() => {
                // A link above us is followed, so its owner and its target both count.
                if m.uid != me && m.uid != 0 {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: m.uid,
                        mode: m.permissions(),
                    });
                }
                let target = sys::stat(&at, true).map_err(io_error(what, &at))?;
                if !ancestor_ok(&target) {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: target.uid,
                        mode: target.permissions(),
                    });
                }
            }
            Ok(m) => {
                if !ancestor_ok(&m) {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: m.uid,
                        mode: m.permissions(),
                    });
                }
            }
            Err(e) if e.not_found() => {
                match sys::mkdir(&at, 0o700) {
                    Ok(()) => created = true,
                    Err(Errno(libc::EEXIST)) => {}
                    Err(e) => return Err(io_error(what, &at)(e)),
                }
                let m = sys::stat(&at, false).map_err(io_error(what, &at))?;
                if last {
                    return check_dir(&at, what, created);
                }
                if m.is_symlink() || !m.is_dir() || m.uid != me {
                    return Err(Untrusted::Ancestor {
                        what,
                        path: at,
                        owner: m.uid,
                        mode: m.permissions(),
                    });
                }
            }
            Err(e) => return Err(io_error(what, &at)(e)),
        }
    }
    Ok(())
}

/// Opens a file of ours for appending, creating it 0600, without following a symlink: it must
/// be a regular file owned by us with one link; group and other access is removed
/// (`hook_protocol::private::open_private` with `Access::Append`).
///
/// # Errors
///
/// The system's (`ELOOP` for a symlink is reported as [`Untrusted::Symlink`]), or a refusal.
pub fn open_private_append(path: &[u8], what: &'static str) -> Result<Fd, Error> {
    let flags =
        libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = sys::open(path, flags, 0o600).map_err(|e| {
        if e.0 == libc::ELOOP {
            Error::Untrusted(Untrusted::Symlink {
                what,
                path: path.to_vec(),
            })
        } else {
            Error::Os(e)
        }
    })?;
    let m = sys::fstat(&file).map_err(io_error(what, path))?;
    let path = || path.to_vec();
    if !m.is_file() {
        return Err(Untrusted::WrongType {
            what,
            path: path(),
            want: "a regular file",
        }
        .into());
    }
    if m.uid != sys::geteuid() {
        return Err(Untrusted::Owner {
            what,
            path: path(),
            owner: m.uid,
        }
        .into());
    }
    if m.nlink > 1 {
        return Err(Untrusted::Linked { what, path: path() }.into());
    }
    if m.mode & 0o077 != 0 {
        sys::fchmod(&file, 0o600).map_err(io_error(what, &path()))?;
    }
    Ok(file)
}

/// Replaces `path` with `bytes` atomically and durably, through a new temporary file beside it
/// (`hook_protocol::private::write_private`).
///
/// # Errors
///
/// The system's.
pub fn write_private(path: &[u8], bytes: &[u8]) -> Result<(), Errno> {
    let mut tmp = path.to_vec();
    tmp.extend_from_slice(format!(".tmp-{}", sys::getpid()).as_bytes());
    // A leftover of a crashed writer with our pid: ours to remove.
    if sys::stat(&tmp, false).is_ok_and(|m| m.uid == sys::geteuid()) {
        sys::unlink(&tmp)?;
    }
    let result = (|| {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let f = sys::open(&tmp, flags, 0o600)?;
        sys::write_all(f.raw(), bytes)?;
        sys::fsync(&f)?;
        sys::rename(&tmp, path)?;
        if let Some(dir) = parent(path).filter(|d| !d.is_empty()) {
            sys::fsync(&sys::open(dir, libc::O_RDONLY, 0)?)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = sys::unlink(&tmp);
    }
    result
}
