//! The system calls hook-client makes, behind one small API.
//!
//! On Linux x86_64 and aarch64 they are made directly (`linux.rs`: a `syscall`/`svc`
//! instruction each, no C library), in every build: the release build has no C library to call
//! (see `rt.rs`) and the debug build runs the same code. Elsewhere (macOS, other
//! architectures) they go through the standard library (`portable.rs`).
//!
//! Paths are bytes (Unix paths need not be UTF-8) and errors are [`Errno`]s whose `Display` is
//! the standard library's (`No such file or directory (os error 2)`), so what hook-client
//! prints reads as before.

use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

#[cfg(raw_syscalls)]
mod linux;
#[cfg(raw_syscalls)]
pub use linux::*;

#[cfg(any(test, not(raw_syscalls)))]
#[cfg_attr(test, allow(dead_code))]
mod portable;
#[cfg(not(raw_syscalls))]
pub use portable::*;

/// An open file descriptor, closed when dropped.
#[derive(Debug)]
pub struct Fd(i32);

impl Fd {
    /// The descriptor number.
    #[must_use]
    pub fn raw(&self) -> i32 {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        close(self.0);
    }
}

/// The result of a system call.
pub type Result<T> = core::result::Result<T, Errno>;

/// An error number (`errno`), with the C library's text for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// `EINVAL`, for arguments refused before any call (a path with a NUL byte).
    pub const INVALID: Self = Self(libc::EINVAL);

    /// Would block, or timed out (`SO_SNDTIMEO`/`SO_RCVTIMEO` expire with `EAGAIN`).
    #[must_use]
    pub fn would_block(self) -> bool {
        self.0 == libc::EAGAIN || self.0 == libc::EWOULDBLOCK || self.0 == libc::ETIMEDOUT
    }

    /// No such file or directory.
    #[must_use]
    pub fn not_found(self) -> bool {
        self.0 == libc::ENOENT
    }

    /// The peer went away (`ECONNRESET`, `EPIPE`).
    #[must_use]
    pub fn reset(self) -> bool {
        self.0 == libc::ECONNRESET || self.0 == libc::EPIPE
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (os error {})", describe(self.0), self.0)
    }
}

/// The C library's `strerror` text for the errors hook-client can meet (glibc's wording, which
/// the standard library prints); a number for the rest.
fn describe(n: i32) -> &'static str {
    match n {
        libc::EPERM => "Operation not permitted",
        libc::ENOENT => "No such file or directory",
        libc::EINTR => "Interrupted system call",
        libc::EIO => "Input/output error",
        libc::ENXIO => "No such device or address",
        libc::E2BIG => "Argument list too long",
        libc::ENOEXEC => "Exec format error",
        libc::EBADF => "Bad file descriptor",
        libc::EAGAIN => "Resource temporarily unavailable",
        libc::ENOMEM => "Cannot allocate memory",
        libc::EACCES => "Permission denied",
        libc::EFAULT => "Bad address",
        libc::EBUSY => "Device or resource busy",
        libc::EEXIST => "File exists",
        libc::ENOTDIR => "Not a directory",
        libc::EISDIR => "Is a directory",
        libc::EINVAL => "Invalid argument",
        libc::ENFILE => "Too many open files in system",
        libc::EMFILE => "Too many open files",
        libc::ETXTBSY => "Text file busy",
        libc::EFBIG => "File too large",
        libc::ENOSPC => "No space left on device",
        libc::EROFS => "Read-only file system",
        libc::EMLINK => "Too many links",
        libc::EPIPE => "Broken pipe",
        libc::ENAMETOOLONG => "File name too long",
        libc::ENOSYS => "Function not implemented",
        libc::ELOOP => "Too many levels of symbolic links",
        libc::EPROTOTYPE => "Protocol wrong type for socket",
        libc::EAFNOSUPPORT => "Address family not supported by protocol",
        libc::EADDRINUSE => "Address already in use",
        libc::ENETDOWN => "Network is down",
        libc::ECONNABORTED => "Software caused connection abort",
        libc::ECONNRESET => "Connection reset by peer",
        libc::ENOBUFS => "No buffer space available",
        libc::ENOTCONN => "Transport endpoint is not connected",
        libc::ETIMEDOUT => "Connection timed out",
        libc::ECONNREFUSED => "Connection refused",
        libc::EDQUOT => "Disk quota exceeded",
        libc::ENOTSOCK => "Socket operation on non-socket",
        libc::ESRCH => "No such process",
        libc::ECHILD => "No child processes",
        libc::ENODEV => "No such device",
        libc::ENOTTY => "Inappropriate ioctl for device",
        libc::ESPIPE => "Illegal seek",
        libc::EDOM => "Numerical argument out of domain",
        libc::ERANGE => "Numerical result out of range",
        libc::EDEADLK => "Resource deadlock avoided",
        libc::ENOLCK => "No locks available",
        libc::ENOTEMPTY => "Directory not empty",
        libc::EXDEV => "Invalid cross-device link",
        libc::EOVERFLOW => "Value too large for defined data type",
        libc::ESTALE => "Stale file handle",
        libc::EOPNOTSUPP => "Operation not supported",
        libc::EPROTONOSUPPORT => "Protocol not supported",
        libc::EADDRNOTAVAIL => "Cannot assign requested address",
        libc::ENETUNREACH => "Network is unreachable",
        libc::EHOSTUNREACH => "No route to host",
        libc::EISCONN => "Transport endpoint is already connected",
        libc::ECANCELED => "Operation canceled",
        libc::EILSEQ => "Invalid or incomplete multibyte or wide character",
        _ => "Unknown error",
    }
}

// File types in `st_mode`: the same numbers on every Unix (libc's constants differ in type).
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// What `stat` says about a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stat {
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Hard links.
    pub nlink: u64,
    /// Device and inode: the file's identity.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
    /// Last modification, since the Unix epoch.
    pub mtime: Duration,
}

impl Stat {
    /// A directory.
    #[must_use]
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// A regular file.
    #[must_use]
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    /// A symbolic link (only `lstat` sees one).
    #[must_use]
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }

    /// The permission bits (set-id and sticky bits included), as messages show them.
    #[must_use]
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// `path` with a terminating NUL, for the kernel; a path with a NUL inside is refused.
fn c_path(path: &[u8]) -> Result<Vec<u8>> {
    if path.contains(&0) {
        return Err(Errno::INVALID);
    }
    let mut c = Vec::with_capacity(path.len() + 1);
    c.extend_from_slice(path);
    c.push(0);
    Ok(c)
}

/// The address of the Unix socket at `path`, and its length (`sun_path`'s bytes, its NUL
/// and the family before it).
///
/// # Errors
///
/// `ENAMETOOLONG` for a path too long for `sun_path`, `EINVAL` for one with a NUL byte
/// (callers check first, to say so in words: `connect` in lib.rs).
fn unix_address(path: &[u8]) -> Result<(libc::sockaddr_un, usize)> {
    #[allow(unsafe_code)]
    // SAFETY: sockaddr_un is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    if path.len() >= addr.sun_path.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    if path.contains(&0) {
        return Err(Errno::INVALID);
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(path) {
        *dst = *src as libc::c_char;
    }
    let len = size_of::<libc::sockaddr_un>() - addr.sun_path.len() + path.len() + 1;
    Ok((addr, len))
}

/// Writes all of `bytes` to `fd`.
///
/// # Errors
///
/// The first failed `write` (interrupted ones are retried).
pub fn write_all(fd: i32, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match write(fd, bytes) {
            Ok(0) => return Err(Errno(libc::EPIPE)),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads into `buf` until it is full or the input ends; returns how much was read.
///
/// # Errors
///
/// The first failed `read` (interrupted ones are retried).
pub fn read_full(fd: i32, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match read(fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn errors_read_as_the_standard_librarys() {
        for n in 1..=133 {
            if describe(n) != "Unknown error" {
                assert_eq!(
                    Errno(n).to_string(),
                    std::io::Error::from_raw_os_error(n).to_string(),
                    "errno {n}"
                );
            }
        }
    }
}

/// The system-call tests, run against each backend this target compiles: the direct one
/// (Linux x86_64/aarch64) and the standard library's (macOS and the rest, also compiled for
/// the tests here so that it runs somewhere).
#[cfg(test)]
macro_rules! backend_tests {
    ($tests:ident, $backend:ident) => {
        mod $tests {
            use super::$backend::*;
            use super::{Errno, read_full, write_all};
            use alloc::string::ToString;
            use core::time::Duration;
            use std::os::unix::fs::MetadataExt;

    #[test]
            fn files_and_directories_are_seen_as_the_standard_library_sees_them() {
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("f");
                std::fs::write(&file, b"hello").unwrap();
                let link = dir.path().join("l");
                std::os::unix::fs::symlink(&file, &link).unwrap();
                let bytes = |p: &std::path::Path| p.to_str().unwrap().as_bytes().to_vec();
                for (p, follow) in [(&file, true), (&link, false), (&link, true)] {
                    let ours = stat(&bytes(p), follow).unwrap();
                    let std = if follow {
                        std::fs::metadata(p)
                    } else {
                        std::fs::symlink_metadata(p)
                    }
                    .unwrap();
                    assert_eq!(
                        (
                            ours.mode, ours.uid, ours.gid, ours.nlink, ours.ino, ours.dev
                        ),
                        (
                            std.mode(),
                            std.uid(),
                            std.gid(),
                            std.nlink(),
                            std.ino(),
                            std.dev()
                        )
                    );
                    assert_eq!(ours.mtime.as_secs(), u64::try_from(std.mtime()).unwrap());
                }
                assert!(stat(&bytes(&link), false).unwrap().is_symlink());
                assert!(stat(&bytes(dir.path()), true).unwrap().is_dir());
                assert!(stat(b"/nonexistent/x", true).unwrap_err().not_found());
                // open, write, fstat, read back.
                let g = bytes(&dir.path().join("g"));
                let fd = open(&g, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600).unwrap();
                write_all(fd.raw(), b"abc").unwrap();
                assert!(fstat(&fd).unwrap().is_file());
                drop(fd);
                let fd = open(&g, libc::O_RDONLY, 0).unwrap();
                let mut buf = [0u8; 8];
                assert_eq!(read_full(fd.raw(), &mut buf).unwrap(), 3);
                assert_eq!(&buf[..3], b"abc");
                assert_eq!(
                    open(&g, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600).unwrap_err(),
                    Errno(libc::EEXIST)
                );
                assert_eq!(
                    open(b"a\0b", libc::O_RDONLY, 0).unwrap_err(),
                    Errno::INVALID
                );
                assert_eq!(getcwd().unwrap(), bytes(&std::env::current_dir().unwrap()));
                assert_eq!(
                    current_exe().unwrap(),
                    bytes(&std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap())
                );
                assert_eq!(getpid(), std::process::id());
            }

            #[test]
            fn a_unix_socket_connects_peeks_and_knows_its_peer() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("s");
                let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
                let p = path.to_str().unwrap().as_bytes();
                let fd = unix_socket().unwrap();
                set_timeout(&fd, libc::SO_RCVTIMEO, Duration::from_millis(50)).unwrap();
                connect_unix(&fd, p).unwrap();
                let (mut server, _) = listener.accept().unwrap();
                assert_eq!(peer_uid(&fd).unwrap(), geteuid());
                assert!(peek(&fd).unwrap_err().would_block());
                std::io::Write::write_all(&mut server, b"x").unwrap();
                assert_eq!(peek(&fd).unwrap(), 1);
                let mut b = [0u8; 2];
                assert_eq!(read(fd.raw(), &mut b).unwrap(), 1);
                // The receive timeout expires as "would block".
                assert!(read(fd.raw(), &mut b).unwrap_err().would_block());
                drop(server);
                assert_eq!(peek(&fd).unwrap(), 0);
                let missing = unix_socket().unwrap();
                assert!(
                    connect_unix(&missing, b"/nonexistent/s")
                        .unwrap_err()
                        .not_found()
                );
                let long = alloc::vec![b'a'; 200];
                assert_eq!(
                    connect_unix(&missing, &long).unwrap_err(),
                    Errno(libc::ENAMETOOLONG)
                );
                assert_eq!(connect_unix(&missing, b"a\0b").unwrap_err(), Errno::INVALID);
            }

            #[test]
            fn clocks_move_forward() {
                let a = monotonic();
                sleep(Duration::from_millis(2));
                assert!(monotonic() - a >= Duration::from_millis(2));
                let wall = wall_clock();
                let std_wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                assert!(std_wall.abs_diff(wall) < Duration::from_secs(5));
            }

            #[test]
            fn a_detached_program_runs_and_a_missing_one_is_an_error() {
                let dir = tempfile::tempdir().unwrap();
                let out = dir.path().join("ran");
                let script = alloc::format!("echo $$ > {}", out.display());
                let argv: [&[u8]; 3] = [b"/bin/sh", b"-c", script.as_bytes()];
                let pid = spawn_detached(b"/bin/sh", &argv, &[]).unwrap();
                assert!(pid > 0);
                for _ in 0..200 {
                    if std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with('\n')) {
                        break;
                    }
                    sleep(Duration::from_millis(10));
                }
                assert_eq!(
                    std::fs::read_to_string(&out).unwrap().trim(),
                    pid.to_string()
                );
                assert!(
                    spawn_detached(b"/nonexistent/prog", &[b"/nonexistent/prog"], &[])
                        .unwrap_err()
                        .not_found()
                );
            }
        }
    };
}

#[cfg(all(test, raw_syscalls))]
backend_tests!(linux_tests, linux);
#[cfg(test)]
backend_tests!(portable_tests, portable);
