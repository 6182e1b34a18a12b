//! Starting hookd in the background, as hookctl (`restart`) does. hook-client's autostart,
//! which has no std, does the same with its own system calls (`spawn_detached` in
//! `hook-client/src/sys/`): the same arguments, a new session, stdio on /dev/null.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Starts `hookd` listening on `socket`, detached: in a new session, with all three stdio
/// streams on /dev/null, so that it never holds a hook's stdout or stderr open (Claude Code
/// would wait for them, and refuse allow verdicts). It logs to its state directory
/// (`--autostarted`). Returns its pid; it is not waited for (init reaps it).
///
/// # Errors
///
/// The spawn error.
pub fn spawn_detached(hookd: &Path, socket: &Path) -> io::Result<u32> {
    let mut cmd = Command::new(hookd);
    cmd.arg("--autostarted")
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[allow(unsafe_code)]
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().map(|child| child.id())
}
