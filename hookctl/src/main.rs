//! hookctl: control and inspect hookd.

mod client;
mod cmd;
mod format;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use client::Client;

/// Exit codes.
pub mod exit {
    /// Something went wrong.
    pub const ERROR: u8 = 1;
    /// hookd is not running.
    pub const NOT_RUNNING: u8 = 3;
}

/// Control and inspect hookd, the daemon that answers Claude Code hooks
#[derive(Debug, Parser)]
#[command(name = "hookctl", version = version_line(), about)]
struct Cli {
    /// hookd's socket (default: HOOKD_SOCKET, HOOKD_HOME or the uid-derived path)
    #[arg(long, global = true, env = "HOOKD_SOCKET")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show whether hookd runs, its versions, store, rules and fallbacks
    Status(cmd::status::Args),
    /// Reload rules from disk now
    Reload(cmd::reload::Args),
    /// List recorded events, newest first
    Events(cmd::events::Args),
    /// Stop hookd gracefully (in-flight events finish, the store is flushed)
    Stop(cmd::stop::Args),
}

fn version_line() -> String {
    format!(
        "{} (build {}, protocol {})",
        hook_protocol::PACKAGE_VERSION,
        hook_protocol::BUILD_ID,
        hook_protocol::PROTOCOL_VERSION
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = cli.socket.unwrap_or_else(hook_protocol::paths::socket_path);
    let result = Client::connect(&socket).and_then(|mut client| match cli.command {
        Command::Status(a) => cmd::status::run(&a, &mut client),
        Command::Reload(a) => cmd::reload::run(&a, &mut client),
        Command::Events(a) => cmd::events::run(&a, &mut client),
        Command::Stop(a) => cmd::stop::run(&a, &mut client),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("hookctl: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            let not_running = e.downcast_ref::<client::NotRunning>().is_some();
            ExitCode::from(if not_running {
                exit::NOT_RUNNING
            } else {
                exit::ERROR
            })
        }
    }
}
