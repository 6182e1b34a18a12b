//! The system calls of [`super`] through the C library, for the systems where hook-client does
//! not make them directly (macOS, Linux on other architectures). Their standard library is
//! linked too (see `main.rs`), and used where it already does the job.
#![allow(unsafe_code)] // C library calls on memory each function owns or borrows

extern crate std;

use alloc::vec::Vec;
use core::time::Duration;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use super::{Errno, Fd, Result, Stat, c_path, unix_address};

fn last() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

fn check(rc: isize) -> Result<usize> {
    usize::try_from(rc).map_err(|_| last())
}

/// The result of a call that returns 0 on success and sets `errno` otherwise.
fn zero(rc: libc::c_int) -> Result<()> {
    if rc == 0 { Ok(()) } else { Err(last()) }
}

fn io(e: &std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Closes a descriptor.
pub(super) fn close(fd: i32) {
    // SAFETY: the caller owns `fd` and does not use it again.
    unsafe { libc::close(fd) };
}

/// `read(2)`.
///
/// # Errors
///
/// The system's.
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is valid for writes of its length.
    check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// `write(2)`.
///
/// # Errors
///
/// The system's.
pub fn write(fd: i32, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is valid for reads of its length.
    check(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

/// `open(2)`, close-on-exec.
///
/// # Errors
///
/// The system's.
pub fn open(path: &[u8], flags: i32, mode: u32) -> Result<Fd> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    let fd = unsafe { libc::open(c.as_ptr().cast(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 { Err(last()) } else { Ok(Fd(fd)) }
}

fn to_stat(m: &std::fs::Metadata) -> Stat {
    Stat {
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        nlink: m.nlink(),
        dev: m.dev(),
        ino: m.ino(),
        mtime: Duration::new(
            u64::try_from(m.mtime()).unwrap_or(0),
            u32::try_from(m.mtime_nsec()).unwrap_or(0),
        ),
    }
}

/// `stat` (`follow`) or `lstat` of `path`.
///
/// # Errors
///
/// The system's.
pub fn stat(path: &[u8], follow: bool) -> Result<Stat> {
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    let m = if follow {
        std::fs::metadata(p)
    } else {
        std::fs::symlink_metadata(p)
    };
    m.map(|m| to_stat(&m)).map_err(|e| io(&e))
}

/// `fstat(2)`.
///
/// # Errors
///
/// The system's.
pub fn fstat(fd: &Fd) -> Result<Stat> {
    use std::os::fd::BorrowedFd;
    // SAFETY: fd stays open for the borrow.
    let b = unsafe { BorrowedFd::borrow_raw(fd.0) };
    let f = std::fs::File::from(b.try_clone_to_owned().map_err(|e| io(&e))?);
    f.metadata().map(|m| to_stat(&m)).map_err(|e| io(&e))
}

/// `mkdir(2)`.
///
/// # Errors
///
/// The system's.
pub fn mkdir(path: &[u8], mode: u32) -> Result<()> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    let rc = unsafe { libc::mkdir(c.as_ptr().cast(), mode as libc::mode_t) };
    zero(rc)
}

/// `chmod(2)`.
///
/// # Errors
///
/// The system's.
pub fn chmod(path: &[u8], mode: u32) -> Result<()> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    let rc = unsafe { libc::chmod(c.as_ptr().cast(), mode as libc::mode_t) };
    zero(rc)
}

/// `fchmod(2)`.
///
/// # Errors
///
/// The system's.
pub fn fchmod(fd: &Fd, mode: u32) -> Result<()> {
    // SAFETY: plain integers.
    let rc = unsafe { libc::fchmod(fd.0, mode as libc::mode_t) };
    zero(rc)
}

/// `rename(2)`.
///
/// # Errors
///
/// The system's.
pub fn rename(from: &[u8], to: &[u8]) -> Result<()> {
    let (a, b) = (c_path(from)?, c_path(to)?);
    // SAFETY: both NUL-terminated.
    let rc = unsafe { libc::rename(a.as_ptr().cast(), b.as_ptr().cast()) };
    zero(rc)
}

/// `unlink(2)`.
///
/// # Errors
///
/// The system's.
pub fn unlink(path: &[u8]) -> Result<()> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    let rc = unsafe { libc::unlink(c.as_ptr().cast()) };
    zero(rc)
}

/// `fsync(2)`.
///
/// # Errors
///
/// The system's.
pub fn fsync(fd: &Fd) -> Result<()> {
    // SAFETY: plain integer.
    let rc = unsafe { libc::fsync(fd.0) };
    zero(rc)
}

/// An exclusive `flock(2)`, waiting for it.
///
/// # Errors
///
/// The system's.
pub fn lock_exclusive(fd: &Fd) -> Result<()> {
    loop {
        // SAFETY: plain integers.
        if unsafe { libc::flock(fd.0, libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// A new Unix stream socket, close-on-exec.
///
/// # Errors
///
/// The system's.
pub fn unix_socket() -> Result<Fd> {
    // SAFETY: plain integers.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(last());
    }
    let fd = Fd(fd);
    // SAFETY: plain integers.
    unsafe { libc::fcntl(fd.0, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(fd)
}

/// Sets a socket timeout (`SO_SNDTIMEO` or `SO_RCVTIMEO`).
///
/// # Errors
///
/// The system's.
pub fn set_timeout(fd: &Fd, option: i32, wait: Duration) -> Result<()> {
    #[allow(clippy::unnecessary_fallible_conversions, deprecated)]
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::try_from(wait.subsec_micros()).unwrap_or(0),
    };
    // SAFETY: tv outlives the call and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            option,
            (&raw const tv).cast(),
            libc::socklen_t::try_from(size_of::<libc::timeval>()).unwrap_or(0),
        )
    };
    zero(rc)
}

/// Connects a Unix socket to `path`.
///
/// # Errors
///
/// The system's, or those of `unix_address`.
pub fn connect_unix(fd: &Fd, path: &[u8]) -> Result<()> {
    let (addr, len) = unix_address(path)?;
    // SAFETY: addr is a valid sockaddr_un and len does not exceed its size.
    let rc = unsafe {
        libc::connect(
            fd.0,
            (&raw const addr).cast(),
            libc::socklen_t::try_from(len).unwrap_or(0),
        )
    };
    zero(rc)
}

/// The uid of the process on the other end of a connected Unix socket.
///
/// # Errors
///
/// The system's.
pub fn peer_uid(fd: &Fd) -> Result<u32> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: ucred is plain old data; all-zero is valid.
        let mut cred: libc::ucred = unsafe { core::mem::zeroed() };
        let mut len = libc::socklen_t::try_from(size_of::<libc::ucred>()).unwrap_or(0);
        // SAFETY: cred and len are valid for writes and len is cred's size.
        let rc = unsafe {
            libc::getsockopt(
                fd.0,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&raw mut cred).cast(),
                &raw mut len,
            )
        };
        zero(rc).map(|()| cred.uid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let mut uid: libc::uid_t = 0;
        let mut gid: libc::gid_t = 0;
        // SAFETY: uid and gid are valid for writes.
        let rc = unsafe { libc::getpeereid(fd.0, &raw mut uid, &raw mut gid) };
        zero(rc).map(|()| uid)
    }
}

/// A one-byte non-blocking peek (see the Linux version).
///
/// # Errors
///
/// The system's.
pub fn peek(fd: &Fd) -> Result<usize> {
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer on the stack.
    check(unsafe {
        libc::recv(
            fd.0,
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    })
}

/// Gives the CPU to another runnable thread, if any.
pub fn yield_now() {
    std::thread::yield_now();
}

/// The monotonic clock (since the first call).
#[must_use]
pub fn monotonic() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// The wall clock, since the Unix epoch.
#[must_use]
pub fn wall_clock() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Sleeps for `d`.
pub fn sleep(d: Duration) {
    #[allow(clippy::disallowed_methods)] // hook-client is synchronous; nothing else to run
    std::thread::sleep(d);
}

/// This process's id.
#[must_use]
pub fn getpid() -> u32 {
    std::process::id()
}

/// The real uid.
#[must_use]
pub fn getuid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::getuid() }
}

/// The effective uid.
#[must_use]
pub fn geteuid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() }
}

/// The current directory.
///
/// # Errors
///
/// The system's.
pub fn getcwd() -> Result<Vec<u8>> {
    std::env::current_dir()
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .map_err(|e| io(&e))
}

/// The running executable's canonical path.
///
/// # Errors
///
/// The system's.
pub fn current_exe() -> Result<Vec<u8>> {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .map_err(|e| io(&e))
}

/// Ignores `SIGPIPE`.
pub fn ignore_sigpipe() {
    // SAFETY: sets a disposition; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Opens any of fds 0-2 that is closed on `/dev/null`.
pub fn keep_stdio_open() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on a number.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && let Ok(null) = open(b"/dev/null", libc::O_RDWR, 0)
        {
            if null.0 == fd {
                core::mem::forget(null);
            } else {
                // SAFETY: plain integers.
                unsafe { libc::dup2(null.0, fd) };
            }
        }
    }
}

/// Ends the process.
pub fn exit(code: i32) -> ! {
    std::process::exit(code)
}

/// Starts `program` detached (see the Linux version).
///
/// # Errors
///
/// The spawn error.
pub fn spawn_detached(program: &[u8], argv: &[&[u8]], _envp: &[*const u8]) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(std::ffi::OsStr::from_bytes(program));
    cmd.args(argv.iter().skip(1).map(|a| std::ffi::OsStr::from_bytes(a)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().map(|c| c.id()).map_err(|e| io(&e))
}
