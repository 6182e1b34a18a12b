//! `hookctl stop`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use hook_protocol::{Request, Response};

use crate::client::Client;

/// How long to wait for hookd to finish draining and remove its socket.
const WAIT: Duration = Duration::from_secs(15);

/// Stop hookd gracefully (in-flight events finish, the store is flushed)
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Response::Status(status) = client.request(&Request::Status)? else {
        bail!("unexpected answer to status");
    };
    let Response::Stopping = client.request(&Request::Stop)? else {
        bail!("unexpected answer to stop");
    };
    wait_exit(status.pid)?;
    println!("hookd stopped (pid {})", status.pid);
    Ok(ExitCode::SUCCESS)
}

/// Waits (bounded) for process `pid` to exit.
///
/// # Errors
///
/// When it still runs after [`WAIT`].
pub fn wait_exit(pid: u32) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if !process_alive(pid) {
            return Ok(());
        }
        #[allow(clippy::disallowed_methods)] // hookctl is synchronous; nothing else to run
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "hookd (pid {pid}) was asked to stop but still runs after {} s",
        WAIT.as_secs()
    )
}

/// Whether process `pid` exists and has not exited (a zombie, not yet reaped by its parent,
/// has exited: its files and locks are released).
#[must_use]
pub fn process_alive(pid: u32) -> bool {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        return stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']));
    }
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // Signal 0: only checks that the process exists (EPERM: it does, as another user's).
    matches!(
        rustix::process::test_kill_process(pid),
        Ok(()) | Err(rustix::io::Errno::PERM)
    )
}
