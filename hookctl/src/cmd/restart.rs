//! `hookctl restart`: stop the running hookd, whatever its protocol version, and start this
//! build's hookd in its place (the service manager's, when one manages the socket).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use hook_protocol::{Request, Response, StatusReport, paths};

use crate::client::{Client, NotRunning, START_WAIT};
use crate::cmd::stop::{process_alive, wait_exit};

/// Stop hookd and start this build's hookd in its place (works across protocol versions)
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args, socket: &Path) -> anyhow::Result<ExitCode> {
    match stop_any(socket)? {
        Some(old) => println!("stopped hookd {old}"),
        None => println!("hookd was not running"),
    }
    let started = start(socket)?;
    println!(
        "hookd {} (build {}, protocol {}) running, pid {}{}",
        started.version,
        started.build_id,
        started.protocol,
        started.pid,
        if started.build_id == hook_protocol::BUILD_ID {
            ""
        } else {
            " (not this hookctl's build: the service manager or HOOKD_BIN chose it)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Stops the hookd answering at `socket`, asking an older one in its own protocol version
/// (the frozen `Stop`, [`hook_protocol::stop_frame`]). Returns a description of what ran.
fn stop_any(socket: &Path) -> anyhow::Result<Option<String>> {
    let mut client = match Client::connect(socket) {
        Ok(c) => c,
        Err(e) if e.downcast_ref::<NotRunning>().is_some() => return Ok(None),
        Err(e) => return Err(e),
    };
    match client.request_or_mismatch(&Request::Status)? {
        Ok(Response::Status(s)) => {
            let Response::Stopping = client.request(&Request::Stop)? else {
                bail!("unexpected answer to stop");
            };
            wait_exit(s.pid)?;
            Ok(Some(format!(
                "{} (build {}, pid {})",
                s.version, s.build_id, s.pid
            )))
        }
        Ok(other) => bail!("unexpected answer to status: {other:?}"),
        Err(m) => {
            // Its pid, to wait for: from the pidfile (best effort).
            let pid = std::fs::read_to_string(paths::state_dir().join(paths::PID_FILE))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .filter(|p| process_alive(*p));
            Client::connect(socket)?.send_raw(&hook_protocol::stop_frame(m.daemon_protocol))?;
            match pid {
                Some(p) => wait_exit(p)?,
                None => wait_unreachable(socket)?,
            }
            Ok(Some(format!(
                "{} (protocol {}{})",
                m.daemon_version,
                m.daemon_protocol,
                pid.map(|p| format!(", pid {p}")).unwrap_or_default()
            )))
        }
    }
}

/// Waits (bounded) until nothing answers at `socket` any more.
fn wait_unreachable(socket: &Path) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < START_WAIT {
        if Client::connect(socket).is_err() {
            return Ok(());
        }
        #[allow(clippy::disallowed_methods)] // hookctl is synchronous; nothing else to run
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "hookd was asked to stop but still answers at {}",
        socket.display()
    )
}

/// Starts hookd unless a service manager starts it on the next connection, then waits for it
/// to answer.
fn start(socket: &Path) -> anyhow::Result<StatusReport> {
    let status = || -> anyhow::Result<StatusReport> {
        match Client::connect(socket)?.request(&Request::Status)? {
            Response::Status(s) => Ok(*s),
            other => bail!("unexpected answer to status: {other:?}"),
        }
    };
    match status() {
        Ok(s) => return Ok(s),
        Err(e) if e.downcast_ref::<NotRunning>().is_some() => {}
        Err(e) => return Err(e),
    }
    crate::client::start_daemon(socket)?;
    status()
}
