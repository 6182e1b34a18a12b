//! hookctl: control and inspect hookd.

mod client;
mod cmd;
mod format;
mod linkage;
mod migrate;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
#[command(
    name = "hookctl",
    version = version_line(),
    about = "Control and inspect hookd, the daemon that answers Claude Code hooks"
)]
struct Cli {
    /// hookd's socket (default: HOOKD_SOCKET, HOOKD_HOME or the uid-derived path)
    #[arg(long, global = true, env = "HOOKD_SOCKET")]
    socket: Option<PathBuf>,
    /// Do not start hookd when a command needs it and it is not running (env
    /// HOOKD_NO_AUTOSTART=1). Without it, events, tail, export, sessions, session, stats, runs,
    /// rules, trust, test and ui start hookd as a hook would
    #[arg(long, global = true)]
    no_start: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show whether hookd runs, its versions, store, rules and fallbacks
    Status(cmd::status::Args),
    /// Reload rules from disk now
    Reload(cmd::reload::Args),
    /// List the most recent events (the table oldest to newest; --json newest first)
    Events(cmd::events::Args),
    /// Stop hookd gracefully (in-flight events finish, the store is flushed)
    Stop(cmd::stop::Args),
    /// Stop hookd and start this build's hookd in its place (works across protocol versions)
    Restart(cmd::restart::Args),
    /// Write a commented starter hookd.toml (packs, example rules, settings)
    Init(cmd::init::Args),
    /// Validate rule files without loading them into hookd
    Check(cmd::check::Args),
    /// Show what hookd would answer for an event, without recording it
    Test(cmd::test::Args),
    /// Show the simple commands the shell analyser finds in a command
    Explain(cmd::explain::Args),
    /// List loaded rules with their source and hit counts, or show one rule (`rules NAME`)
    Rules(cmd::rules::Args),
    /// Trust a project's .claude/hookd.toml (allow/defer rules need it), or revoke trust
    Trust(cmd::trust::Args),
    /// Approve a command hookd refused, by the code its reason ends with (--list, --revoke)
    Allow(cmd::allow::Args),
    /// List sessions, most recently active first
    Sessions(cmd::sessions::ListArgs),
    /// Show one session: summary, files touched, commands run, timeline
    Session(cmd::sessions::ShowArgs),
    /// Wire hook-client into Claude Code's settings
    Install(cmd::install::InstallArgs),
    /// Remove exactly what `hookctl install` added
    Uninstall(cmd::install::UninstallArgs),
    /// Run hookd under the service manager (systemd --user or launchd)
    Service(cmd::service::Args),
    /// Check everything between Claude Code and hookd, with a fix for each problem
    Doctor(cmd::doctor::Args),
    /// Show recent events, then (-f) follow new ones live
    Tail(cmd::events::TailArgs),
    /// Stream every matching event as JSON lines or CSV
    Export(cmd::events::ExportArgs),
    /// Show counters, latencies, rates and health
    Stats(cmd::stats::Args),
    /// Print metrics in the Prometheus text exposition format
    Metrics(cmd::stats::MetricsArgs),
    /// Print a short line for Claude Code's statusLine (`hookd ✓ 3 denied · 1 ask`); `install
    /// --statusline` wires it
    Statusline(cmd::statusline::Args),
    /// List recent executions of `run` rules (your hook scripts), newest first
    Runs(cmd::runs::Args),
    /// The HTTP endpoint's token: `hookctl http rotate-token`
    Http(cmd::http::Args),
    /// Open the dashboard in a browser, logged in with a one-time code (--print-url prints it)
    Ui(cmd::ui::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(cmd::completions::Args),
    /// Write the man pages of hookd, hookctl and hook-client into a directory
    #[command(hide = true)]
    Man(cmd::completions::ManArgs),
    /// Turn the hooks in a Claude Code settings file into hookd `run` rules (and, with
    /// --replace, send those events through hookd instead); --undo reverses it
    Import(cmd::import::Args),
    /// Fleet sinks: `hookctl sink flush [--timeout 30s]` waits until every event is delivered;
    /// `hookctl sink init pg` creates the PostgreSQL sink's schema
    Sink(cmd::sink::Args),
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
    // Commands that only read or change hookd's state: connect, never start it (`status` and
    // `doctor` report that it is not running; `stop` and `reload` have nothing to do then).
    let connect = || Client::connect(&socket);
    // Commands whose answer hookd computes: start it first as a hook would (unless --no-start
    // or HOOKD_NO_AUTOSTART), saying so on stderr.
    let autostart = !cli.no_start;
    let start = || Client::connect_or_start(&socket, autostart);
    let result = match cli.command {
        // Local commands: no daemon needed.
        Command::Init(a) => cmd::init::run(&a),
        Command::Check(a) => cmd::check::run(&a),
        Command::Explain(a) => cmd::explain::run(&a),
        Command::Service(a) => cmd::service::run(&a, &socket),
        Command::Doctor(a) => cmd::doctor::run(&a, &socket),
        Command::Stats(a) => start().and_then(|mut c| cmd::stats::run(&a, &mut c)),
        Command::Tail(a) => start().and_then(|mut c| cmd::events::tail(&a, &mut c)),
        Command::Export(a) => start().and_then(|mut c| cmd::events::export(&a, &mut c)),
        Command::Statusline(a) => cmd::statusline::run(&a, &socket),
        Command::Metrics(a) => connect().and_then(|mut c| cmd::stats::metrics(&a, &mut c)),
        Command::Install(a) => cmd::install::run(&a),
        Command::Uninstall(a) => cmd::install::run_uninstall(&a),
        Command::Status(a) => connect().and_then(|mut c| cmd::status::run(&a, &mut c)),
        Command::Reload(a) => connect().and_then(|mut c| cmd::reload::run(&a, &mut c)),
        Command::Events(a) => start().and_then(|mut c| cmd::events::run(&a, &mut c)),
        Command::Stop(a) => connect().and_then(|mut c| cmd::stop::run(&a, &mut c)),
        Command::Restart(a) => cmd::restart::run(&a, &socket),
        Command::Test(a) => start().and_then(|mut c| cmd::test::run(&a, &mut c)),
        Command::Rules(a) => cmd::rules::run(&a, &socket, start),
        Command::Trust(a) => start().and_then(|mut c| cmd::trust::run(&a, &mut c)),
        Command::Allow(a) => connect().and_then(|mut c| cmd::allow::run(&a, &mut c)),
        Command::Sessions(a) => start().and_then(|mut c| cmd::sessions::list(&a, &mut c)),
        Command::Session(a) => start().and_then(|mut c| cmd::sessions::show(&a, &mut c)),
        Command::Runs(a) => start().and_then(|mut c| cmd::runs::run(&a, &mut c)),
        Command::Import(a) => cmd::import::run(&a, &socket),
        Command::Sink(a) => match a.init() {
            Some(init) => cmd::sink_init::run(init),
            None => connect().and_then(|mut c| cmd::sink::run(&a, &mut c)),
        },
        Command::Http(a) => cmd::http::run(&a),
        Command::Ui(a) => start().and_then(|mut c| cmd::ui::run(&a, &mut c)),
        Command::Completions(a) => cmd::completions::run(&a, Cli::command()),
        Command::Man(a) => cmd::completions::man(&a, Cli::command()),
    };
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
