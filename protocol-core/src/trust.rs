//! The words of a refusal: why a directory, file, peer or program is not trusted.
//!
//! hook-protocol's `private::Untrusted` and `paths::trusted_executable` (hookd, hookctl) and
//! hook-client's own checks (which run without std) refuse the same things; their messages are
//! written here once, so that a user reads the same line whichever program refused.

use core::fmt::{self, Display, Formatter};

/// A refusal, with what it names borrowed for display.
#[derive(Clone, Copy)]
pub enum Refusal<'a> {
    /// The path is a symbolic link.
    Symlink {
        /// What it is for ("socket directory", "spool file"…).
        what: &'a str,
        /// The path.
        path: &'a dyn Display,
    },
    /// The path is not a directory (or not a regular file).
    WrongType {
        /// What it is for.
        what: &'a str,
        /// The path.
        path: &'a dyn Display,
        /// What it should be ("a directory", "a regular file").
        want: &'a str,
    },
    /// Owned by another user.
    Owner {
        /// What it is for.
        what: &'a str,
        /// The path.
        path: &'a dyn Display,
        /// Its owner.
        owner: u32,
        /// The caller's effective uid.
        me: u32,
    },
    /// Group or other users can get in.
    Mode {
        /// What it is for.
        what: &'a str,
        /// The path.
        path: &'a dyn Display,
        /// Its permission bits.
        mode: u32,
    },
    /// A directory above a private one that someone else could change.
    Ancestor {
        /// What the private directory is for.
        what: &'a str,
        /// The directory above it.
        path: &'a dyn Display,
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// A file with more than one hard link.
    Linked {
        /// What it is for.
        what: &'a str,
        /// The path.
        path: &'a dyn Display,
    },
    /// The process serving the socket runs as another user.
    Peer {
        /// The socket.
        socket: &'a dyn Display,
        /// The peer's uid.
        uid: u32,
        /// The caller's effective uid.
        me: u32,
    },
    /// The check itself failed.
    Io {
        /// What was being checked.
        what: &'a str,
        /// The path.
        path: &'a dyn Display,
        /// The cause.
        source: &'a dyn Display,
    },
}

impl Display for Refusal<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Symlink { what, path } => write!(f, "{what} {path} is a symlink; refusing it"),
            Self::WrongType { what, path, want } => {
                write!(f, "{what} {path} is not {want}; refusing it")
            }
            Self::Owner {
                what,
                path,
                owner,
                me,
            } => write!(
                f,
                "{what} {path} is owned by uid {owner}; refusing it (you are uid {me})"
            ),
            Self::Mode { what, path, mode } => write!(
                f,
                "{what} {path} has mode {mode:04o} (group or others have access); refusing it: \
                 run `chmod go= {path}`"
            ),
            Self::Ancestor {
                what,
                path,
                owner,
                mode,
            } => write!(
                f,
                "{what}: the directory {path} above it is owned by uid {owner} with mode \
                 {mode:04o}, so someone else could replace what is inside; refusing it"
            ),
            Self::Linked { what, path } => {
                write!(f, "{what} {path} has more than one hard link; refusing it")
            }
            Self::Peer { socket, uid, me } => write!(
                f,
                "the process serving {socket} runs as uid {uid}, not as you (uid {me}); refusing it"
            ),
            Self::Io { what, path, source } => write!(f, "cannot check {what} {path}: {source}"),
        }
    }
}

/// Why a program may not be run on the caller's behalf (autostart, `run` actions): the words
/// of `trusted_executable`.
#[derive(Clone, Copy)]
pub enum BadProgram<'a> {
    /// Not a regular file with an execute bit.
    NotExecutable {
        /// The program.
        path: &'a dyn Display,
    },
    /// Owned by someone else than the caller or root.
    Owner {
        /// The program.
        path: &'a dyn Display,
        /// Its owner.
        owner: u32,
        /// The caller's effective uid.
        me: u32,
    },
    /// Writable by group or others.
    Writable {
        /// The program.
        path: &'a dyn Display,
        /// Its permission bits.
        mode: u32,
    },
    /// In a directory someone else can change.
    Directory {
        /// The program.
        path: &'a dyn Display,
        /// Its directory.
        dir: &'a dyn Display,
        /// The directory's owner.
        owner: u32,
        /// The directory's permission bits.
        mode: u32,
    },
    /// Nothing found where programs are looked for.
    Missing {
        /// The program's name.
        name: &'a str,
    },
}

impl Display for BadProgram<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotExecutable { path } => write!(f, "{path} is not an executable file"),
            Self::Owner { path, owner, me } => write!(
                f,
                "{path} is owned by uid {owner}, not by you (uid {me}) or root; refusing to run it"
            ),
            Self::Writable { path, mode } => write!(
                f,
                "{path} is writable by others (mode {mode:04o}); refusing to run it"
            ),
            Self::Directory {
                path,
                dir,
                owner,
                mode,
            } => write!(
                f,
                "{path} is in {dir}, which someone else can change (owner uid {owner}, mode \
                 {mode:04o}); refusing to run it"
            ),
            Self::Missing { name } => write!(
                f,
                "no {name} executable beside this program or in an absolute PATH entry"
            ),
        }
    }
}
