//! Running a command with its stdout and stderr on a pseudo-terminal, to see what it prints to
//! a person (colours) rather than to a pipe.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, ExitStatus, Stdio};

/// Runs `cmd` with stdout and stderr on a new pseudo-terminal (stdin: /dev/null) and returns
/// its exit status and everything it wrote there.
///
/// # Errors
///
/// `openpty` or spawn errors.
pub fn run_in_pty(mut cmd: Command) -> anyhow::Result<(ExitStatus, Vec<u8>)> {
    let (mut master, mut slave) = (-1, -1);
    #[allow(unsafe_code)]
    // SAFETY: both out-pointers are valid; name, termios and winsize may be null (a `*mut`
    // null also serves where Linux declares `*const`).
    let rc = unsafe {
        libc::openpty(
            &raw mut master,
            &raw mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    #[allow(unsafe_code)]
    // SAFETY: openpty returned two fresh descriptors we own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave))
        .spawn();
    // `cmd` holds the slave's copies until it is dropped: without that, reading the master
    // never ends.
    drop(cmd);
    let mut child = child?;
    let mut out = Vec::new();
    let mut f = std::fs::File::from(master);
    // Reading the master ends with EIO once the child (the last holder of the slave) exits.
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    Ok((child.wait()?, out))
}
