//! Linux system calls made directly (x86_64 and aarch64): no C library in between, so the
//! release build links none (`rt.rs`). Numbers, flags and structures come from the `libc`
//! crate's definitions; none of its functions is called.
#![allow(unsafe_code)] // every function here is a system call on memory it owns or borrows

use alloc::vec::Vec;
use core::time::Duration;

use super::{Errno, Fd, Result, Stat, c_path, read_full, unix_address};

/// A raw system call with up to six arguments; returns the kernel's value (negative: -errno).
///
/// # Safety
///
/// The arguments must be valid for system call `n` (pointers to live memory of the sizes the
/// call expects).
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn syscall(n: i64, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller's contract; `syscall` clobbers rcx and r11 only.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// See the x86_64 version.
///
/// # Safety
///
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
#[inline]
unsafe fn syscall(n: i64, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller's contract; `svc 0` returns in x0 and clobbers nothing else.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") n,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

/// The call's result, or its error number.
fn check(ret: isize) -> Result<usize> {
    if (-4095..0).contains(&ret) {
        Err(Errno(i32::try_from(-ret).unwrap_or(libc::EINVAL)))
    } else {
        Ok(ret.cast_unsigned())
    }
}

macro_rules! sys {
    ($n:expr $(, $a:expr)* $(,)?) => {{
        let mut args = [0usize; 6];
        let given: &[usize] = &[$($a as usize),*];
        args[..given.len()].copy_from_slice(given);
        check(syscall($n, args))
    }};
}

/// Closes a descriptor.
pub(super) fn close(fd: i32) {
    // SAFETY: the caller owns `fd` and does not use it again.
    let _ = unsafe { sys!(libc::SYS_close, fd) };
}

fn fd_from(n: usize) -> Fd {
    Fd(i32::try_from(n).unwrap_or(-1))
}

/// `read(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is valid for writes of its length.
    unsafe { sys!(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) }
}

/// `write(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn write(fd: i32, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is valid for reads of its length.
    unsafe { sys!(libc::SYS_write, fd, buf.as_ptr(), buf.len()) }
}

/// Opens `path` (`openat(AT_FDCWD, …)`), close-on-exec.
///
/// # Errors
///
/// The kernel's, or `EINVAL` for a path with a NUL byte.
pub fn open(path: &[u8], flags: i32, mode: u32) -> Result<Fd> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    unsafe {
        sys!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode
        )
    }
    .map(fd_from)
}

fn to_stat(st: &libc::stat) -> Stat {
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    Stat {
        mode: st.st_mode as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink as u64,
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        mtime: Duration::new(
            u64::try_from(st.st_mtime).unwrap_or(0),
            u32::try_from(st.st_mtime_nsec).unwrap_or(0),
        ),
    }
}

/// `stat` (`follow`) or `lstat` of `path`.
///
/// # Errors
///
/// The kernel's.
pub fn stat(path: &[u8], follow: bool) -> Result<Stat> {
    let c = c_path(path)?;
    // SAFETY: libc::stat is plain old data; all-zero is valid.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: c is NUL-terminated and st is the kernel's `struct stat` for this architecture.
    unsafe {
        sys!(
            libc::SYS_newfstatat,
            libc::AT_FDCWD,
            c.as_ptr(),
            &raw mut st,
            flags
        )
    }?;
    Ok(to_stat(&st))
}

/// `fstat(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn fstat(fd: &Fd) -> Result<Stat> {
    // SAFETY: as in `stat`.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is the kernel's `struct stat`.
    unsafe { sys!(libc::SYS_fstat, fd.0, &raw mut st) }?;
    Ok(to_stat(&st))
}

/// `mkdir(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn mkdir(path: &[u8], mode: u32) -> Result<()> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    unsafe { sys!(libc::SYS_mkdirat, libc::AT_FDCWD, c.as_ptr(), mode) }.map(drop)
}

/// `chmod(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn chmod(path: &[u8], mode: u32) -> Result<()> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    unsafe { sys!(libc::SYS_fchmodat, libc::AT_FDCWD, c.as_ptr(), mode) }.map(drop)
}

/// `fchmod(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn fchmod(fd: &Fd, mode: u32) -> Result<()> {
    // SAFETY: plain integers.
    unsafe { sys!(libc::SYS_fchmod, fd.0, mode) }.map(drop)
}

/// `renameat`'s number: on aarch64 the generic table's 38, which the libc crate leaves out.
#[cfg(target_arch = "x86_64")]
const SYS_RENAMEAT: i64 = libc::SYS_renameat;
#[cfg(target_arch = "aarch64")]
const SYS_RENAMEAT: i64 = 38;

/// `rename(2)` (`renameat`, as the C libraries make it; `renameat2` is younger).
///
/// # Errors
///
/// The kernel's.
pub fn rename(from: &[u8], to: &[u8]) -> Result<()> {
    let (a, b) = (c_path(from)?, c_path(to)?);
    // SAFETY: both NUL-terminated.
    unsafe {
        sys!(
            SYS_RENAMEAT,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr()
        )
    }
    .map(drop)
}

/// `unlink(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn unlink(path: &[u8]) -> Result<()> {
    let c = c_path(path)?;
    // SAFETY: c is NUL-terminated.
    unsafe { sys!(libc::SYS_unlinkat, libc::AT_FDCWD, c.as_ptr(), 0) }.map(drop)
}

/// `fsync(2)`.
///
/// # Errors
///
/// The kernel's.
pub fn fsync(fd: &Fd) -> Result<()> {
    // SAFETY: plain integer.
    unsafe { sys!(libc::SYS_fsync, fd.0) }.map(drop)
}

/// An exclusive `flock(2)`, waiting for it.
///
/// # Errors
///
/// The kernel's.
pub fn lock_exclusive(fd: &Fd) -> Result<()> {
    loop {
        // SAFETY: plain integers.
        match unsafe { sys!(libc::SYS_flock, fd.0, libc::LOCK_EX) } {
            Err(Errno(libc::EINTR)) => {}
            r => return r.map(drop),
        }
    }
}

/// A new Unix stream socket, close-on-exec.
///
/// # Errors
///
/// The kernel's.
pub fn unix_socket() -> Result<Fd> {
    // SAFETY: plain integers.
    unsafe {
        sys!(
            libc::SYS_socket,
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0
        )
    }
    .map(fd_from)
}

/// Sets a socket timeout (`SO_SNDTIMEO` or `SO_RCVTIMEO`).
///
/// # Errors
///
/// The kernel's.
pub fn set_timeout(fd: &Fd, option: i32, wait: Duration) -> Result<()> {
    // musl's libc crate marks time_t and suseconds_t deprecated ahead of their switch to 64
    // bits, which changes nothing on the 64-bit targets here.
    #[allow(deprecated)]
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(wait.subsec_micros().cast_signed()),
    };
    // SAFETY: tv outlives the call and its size is passed.
    unsafe {
        sys!(
            libc::SYS_setsockopt,
            fd.0,
            libc::SOL_SOCKET,
            option,
            &raw const tv,
            size_of::<libc::timeval>()
        )
    }
    .map(drop)
}

/// Connects a Unix socket to `path`.
///
/// # Errors
///
/// The kernel's, or those of `unix_address`.
pub fn connect_unix(fd: &Fd, path: &[u8]) -> Result<()> {
    let (addr, len) = unix_address(path)?;
    loop {
        // SAFETY: addr is a valid sockaddr_un and len does not exceed its size.
        match unsafe { sys!(libc::SYS_connect, fd.0, &raw const addr, len) } {
            Err(Errno(libc::EINTR)) => {}
            r => return r.map(drop),
        }
    }
}

/// The uid of the process on the other end of a connected Unix socket (`SO_PEERCRED`).
///
/// # Errors
///
/// The kernel's.
pub fn peer_uid(fd: &Fd) -> Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = u32::try_from(size_of::<libc::ucred>()).unwrap_or(0);
    // SAFETY: cred and len are valid for writes and len is cred's size.
    unsafe {
        sys!(
            libc::SYS_getsockopt,
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &raw mut cred,
            &raw mut len
        )
    }?;
    Ok(cred.uid)
}

/// A one-byte `recv` with `MSG_PEEK | MSG_DONTWAIT`: `Ok(0)` at the end of the stream,
/// `Ok(1)` with bytes to read, `EAGAIN` when a read would block.
///
/// # Errors
///
/// The kernel's.
pub fn peek(fd: &Fd) -> Result<usize> {
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer on the stack; no address is asked for.
    unsafe {
        sys!(
            libc::SYS_recvfrom,
            fd.0,
            &raw mut byte,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
            0,
            0
        )
    }
}

/// Gives the CPU to another runnable thread, if any.
pub fn yield_now() {
    // SAFETY: no arguments.
    let _ = unsafe { sys!(libc::SYS_sched_yield) };
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is valid for writes.
    let _ = unsafe { sys!(libc::SYS_clock_gettime, id, &raw mut ts) };
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The monotonic clock.
#[must_use]
pub fn monotonic() -> Duration {
    clock(libc::CLOCK_MONOTONIC)
}

/// The wall clock, since the Unix epoch.
#[must_use]
pub fn wall_clock() -> Duration {
    clock(libc::CLOCK_REALTIME)
}

/// Sleeps for `d`.
pub fn sleep(d: Duration) {
    #[allow(deprecated)] // see `set_timeout`
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos().cast_signed()),
    };
    // SAFETY: ts is valid; no remainder is asked for.
    let _ = unsafe {
        sys!(
            libc::SYS_clock_nanosleep,
            libc::CLOCK_MONOTONIC,
            0,
            &raw const ts,
            0
        )
    };
}

/// This process's id.
#[must_use]
pub fn getpid() -> u32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { sys!(libc::SYS_getpid) }.map_or(0, |p| u32::try_from(p).unwrap_or(0))
}

/// The real uid.
#[must_use]
pub fn getuid() -> u32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { sys!(libc::SYS_getuid) }.map_or(u32::MAX, |p| u32::try_from(p).unwrap_or(u32::MAX))
}

/// The effective uid.
#[must_use]
pub fn geteuid() -> u32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { sys!(libc::SYS_geteuid) }.map_or(u32::MAX, |p| u32::try_from(p).unwrap_or(u32::MAX))
}

/// The current directory.
///
/// # Errors
///
/// The kernel's (`ENOENT` when it was removed).
pub fn getcwd() -> Result<Vec<u8>> {
    let mut buf = alloc::vec![0u8; 4096];
    // SAFETY: buf is valid for writes of its length.
    let n = unsafe { sys!(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) }?;
    // The kernel returns the length with the NUL; "(unreachable)" paths do not start with '/'.
    buf.truncate(n.saturating_sub(1));
    if buf.first() != Some(&b'/') {
        return Err(Errno(libc::ENOENT));
    }
    Ok(buf)
}

/// The running executable's path, as the kernel resolved it (`/proc/self/exe`).
///
/// # Errors
///
/// The kernel's.
pub fn current_exe() -> Result<Vec<u8>> {
    let mut buf = alloc::vec![0u8; 4096];
    // SAFETY: the path is NUL-terminated and buf is valid for writes of its length.
    let n = unsafe {
        sys!(
            libc::SYS_readlinkat,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            buf.as_mut_ptr(),
            buf.len()
        )
    }?;
    buf.truncate(n);
    Ok(buf)
}

/// The kernel's `struct sigaction` (with `SA_RESTORER` unused: only `SIG_IGN` and `SIG_DFL`
/// are set, no handler runs).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

fn set_signal(sig: i32, handler: usize) {
    let act = KernelSigaction {
        handler,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: act is the kernel's layout; the old action is not asked for.
    let _ = unsafe { sys!(libc::SYS_rt_sigaction, sig, &raw const act, 0, 8) };
}

/// Ignores `SIGPIPE`: a write to a closed pipe fails with `EPIPE` instead of killing us.
pub fn ignore_sigpipe() {
    set_signal(libc::SIGPIPE, libc::SIG_IGN);
}

/// Opens any of fds 0-2 that is closed on `/dev/null`, so that no socket or file opened later
/// takes its number (one `ppoll`, as Rust's own start-up does).
pub fn keep_stdio_open() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: fds is valid for reads and writes of 3 entries; zero timeout, no signal mask.
    let polled = unsafe { sys!(libc::SYS_ppoll, fds.as_mut_ptr(), 3, &raw const zero, 0, 8) };
    for pfd in &fds {
        let closed = match polled {
            // SAFETY: F_GETFD on a number: nothing is read or written.
            Err(_) => unsafe { sys!(libc::SYS_fcntl, pfd.fd, libc::F_GETFD) }.is_err(),
            Ok(_) => pfd.revents & libc::POLLNVAL != 0,
        };
        if closed && let Ok(null) = open(b"/dev/null", libc::O_RDWR, 0) {
            if null.0 != pfd.fd {
                // SAFETY: plain integers; `null` is closed when dropped.
                let _ = unsafe { sys!(libc::SYS_dup3, null.0, pfd.fd, 0) };
            } else {
                core::mem::forget(null);
            }
        }
    }
}

/// Ends the process.
pub fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group does not return.
        let _ = unsafe { sys!(libc::SYS_exit_group, code) };
    }
}

/// Starts `program` with `argv` (`argv[0]` included) and `envp`, detached: in a new session,
/// stdio on `/dev/null`, `SIGPIPE` back to its default. Returns its pid once it has been
/// executed; not waited for (init reaps it after we exit).
///
/// # Errors
///
/// Why the program could not be executed (reported back through a close-on-exec pipe).
pub fn spawn_detached(program: &[u8], argv: &[&[u8]], envp: &[*const u8]) -> Result<u32> {
    let prog = c_path(program)?;
    let args: Vec<Vec<u8>> = argv.iter().map(|a| c_path(a)).collect::<Result<_>>()?;
    let mut arg_ptrs: Vec<*const u8> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(core::ptr::null());
    let mut env_ptrs: Vec<*const u8> = envp.to_vec();
    env_ptrs.push(core::ptr::null());
    let null = open(b"/dev/null", libc::O_RDWR, 0)?;
    let mut pipe = [0i32; 2];
    // SAFETY: pipe is valid for writes of two ints.
    unsafe { sys!(libc::SYS_pipe2, pipe.as_mut_ptr(), libc::O_CLOEXEC) }?;
    let (rd, wr) = (Fd(pipe[0]), Fd(pipe[1]));
    // fork: clone with only SIGCHLD (every architecture has clone; aarch64 has no fork).
    // SAFETY: the child only makes system calls on memory prepared above, then execs or exits.
    let pid = unsafe { sys!(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) }?;
    if pid == 0 {
        // The child: nothing here allocates.
        set_signal(libc::SIGPIPE, libc::SIG_DFL);
        // SAFETY: plain integers and the prepared, NUL-terminated arrays.
        let err = unsafe {
            // `null` is 3 or above (fds 0-2 are kept open at start); were it one of them, it
            // keeps its number without close-on-exec instead (`dup3` refuses equal fds).
            let onto = |fd: i32| {
                if null.0 == fd {
                    sys!(libc::SYS_fcntl, fd, libc::F_SETFD, 0)
                } else {
                    sys!(libc::SYS_dup3, null.0, fd, 0)
                }
            };
            let setup = sys!(libc::SYS_setsid)
                .and_then(|_| onto(0))
                .and_then(|_| onto(1))
                .and_then(|_| onto(2));
            match setup {
                Err(e) => e,
                Ok(_) => match sys!(
                    libc::SYS_execve,
                    prog.as_ptr(),
                    arg_ptrs.as_ptr(),
                    env_ptrs.as_ptr()
                ) {
                    Err(e) => e,
                    Ok(_) => Errno(0),
                },
            }
        };
        let _ = write(wr.0, &err.0.to_ne_bytes());
        exit(127);
    }
    drop(wr);
    drop(null);
    let mut buf = [0u8; 4];
    // The pipe closes on exec (nothing read) or carries the child's errno.
    match read_full(rd.0, &mut buf) {
        Ok(4) => Err(Errno(i32::from_ne_bytes(buf))),
        _ => Ok(u32::try_from(pid).unwrap_or(0)),
    }
}

/// Maps `len` bytes of fresh, zeroed memory.
///
/// # Errors
///
/// The kernel's.
pub fn map(len: usize) -> Result<*mut u8> {
    // SAFETY: an anonymous private mapping; no existing memory is touched.
    unsafe {
        sys!(
            libc::SYS_mmap,
            0,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1i64,
            0
        )
    }
    .map(|p| p as *mut u8)
}

/// Grows or shrinks a mapping made by [`map`], moving it if needed.
///
/// # Safety
///
/// `ptr` and `old` must describe a whole mapping made by [`map`] (or this function).
///
/// # Errors
///
/// The kernel's.
pub unsafe fn remap(ptr: *mut u8, old: usize, new: usize) -> Result<*mut u8> {
    // SAFETY: the caller's contract.
    unsafe { sys!(libc::SYS_mremap, ptr, old, new, libc::MREMAP_MAYMOVE) }.map(|p| p as *mut u8)
}

/// Unmaps a mapping made by [`map`].
///
/// # Safety
///
/// As for [`remap`]; nothing may use the memory afterwards.
pub unsafe fn unmap(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's contract.
    let _ = unsafe { sys!(libc::SYS_munmap, ptr, len) };
}

/// Makes `len` bytes at `addr` (whole pages) read-only (the release build's start-up).
pub fn protect_read_only(addr: usize, len: usize) {
    // SAFETY: the caller names pages of this program's own image that nothing writes again.
    let _ = unsafe { sys!(libc::SYS_mprotect, addr, len, libc::PROT_READ) };
}
