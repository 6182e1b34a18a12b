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
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if !process_alive(status.pid) {
            println!("hookd stopped (pid {})", status.pid);
            return Ok(ExitCode::SUCCESS);
        }
        #[allow(clippy::disallowed_methods)] // hookctl is synchronous; nothing else to run
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "hookd was asked to stop but still answers after {} s",
        WAIT.as_secs()
    )
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    #[allow(unsafe_code)]
    // SAFETY: kill with signal 0 only checks that the process exists; no memory is passed.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
