//! `hookctl completions SHELL` (shell completion scripts, from the same clap definition that
//! parses the arguments) and the hidden `hookctl man DIR` (the man pages scripts/release.sh
//! ships: hookctl's, and hookd's and hook-client's, whose own argument parsers are
//! hand-written: their pages are described here and checked against their `--help` by
//! tests/tests/packaging.rs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Arg, ArgAction, Command};
use clap_complete::Shell;

/// Print a shell completion script
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, for example:\n  \
    hookctl completions bash > ~/.local/share/bash-completion/completions/hookctl\n  \
    hookctl completions zsh  > ~/.zfunc/_hookctl   # with fpath+=(~/.zfunc) before compinit\n  \
    hookctl completions fish > ~/.config/fish/completions/hookctl.fish\n\
    (the release tarball's install.sh puts them in place)")]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    shell: Shell,
}

/// Write the man pages of hookd, hookctl (and its subcommands) and hook-client
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The directory to write `*.1` into (created if needed)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Prints the completion script for `args.shell` to stdout.
///
/// # Errors
///
/// A failed write (a closed pipe is not reported: see `main`).
pub fn run(args: &Args, mut cli: Command) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cli, "hookctl", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes every man page into `args.out`.
///
/// # Errors
///
/// I/O errors.
pub fn man(args: &ManArgs, cli: Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // hookctl.1 and one page per subcommand (hookctl-install.1, ...).
    clap_mangen::generate_to(cli, &args.out)
        .with_context(|| format!("writing man pages into {}", args.out.display()))?;
    write_page(&args.out, &help_and_version(hookd_command()))?;
    write_page(&args.out, &help_and_version(hook_client_command()))?;
    for entry in std::fs::read_dir(&args.out)? {
        println!("{}", entry?.path().display());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_page(dir: &Path, cmd: &Command) -> anyhow::Result<()> {
    let path = dir.join(format!("{}.1", cmd.get_name()));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))
}

fn version() -> String {
    format!(
        "{} (build {}, protocol {})",
        hook_protocol::PACKAGE_VERSION,
        hook_protocol::BUILD_ID,
        hook_protocol::PROTOCOL_VERSION
    )
}

/// `-h/--help` and `-V/--version` as hookd and hook-client have them (clap's own say more).
fn help_and_version(cmd: Command) -> Command {
    cmd.disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::SetTrue)
                .help("Print the usage and exit"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version, build and protocol, and exit"),
        )
}

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn value(name: &'static str, value: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).value_name(value).help(help)
}

/// hookd's arguments (its parser is in hookd/src/main.rs).
fn hookd_command() -> Command {
    Command::new("hookd")
        .version(version())
        .about("the per-user daemon that answers Claude Code hook events")
        .long_about(
            "hookd holds the compiled rules, per-session state and a SQLite record of every \
             Claude Code hook event, and answers each event over a Unix socket (and, when \
             configured, over loopback HTTP). It runs in the foreground until SIGTERM or \
             SIGINT (or `hookctl stop`); SIGHUP reloads the rules, which it also does when \
             its configuration directory changes. hook-client starts it when it is not \
             running; `hookctl service install` runs it under systemd --user or launchd.",
        )
        .arg(value("socket", "PATH", "The Unix socket to listen on"))
        .arg(value(
            "config-dir",
            "DIR",
            "The configuration directory (hookd.toml, rules.d/)",
        ))
        .arg(value("db", "FILE", "The SQLite store"))
        .arg(value(
            "state-dir",
            "DIR",
            "The state directory (spool, pidfile, logs, HTTP token)",
        ))
        .after_long_help(
            "SINK-INIT\n\
             hookd sink-init pg [--sink NAME] [--print] [--admin-url URL] \
             [--admin-password-file FILE] [--role NAME] [--config-dir DIR] creates (or, with \
             --print, prints) the PostgreSQL sink's central table and its least-privilege \
             grants from the [sink.NAME] in hookd.toml, then exits; `hookctl sink init pg` \
             runs it (see hookctl-sink-init(1), docs/fleet.md).\n\n\
             ENVIRONMENT\n\
             HOOKD_HOME=DIR puts everything in one directory: hookd.sock, hookd.toml, rules.d/, \
             hookd.db and state/. HOOKD_SOCKET, HOOKD_CONFIG_DIR, HOOKD_DB and HOOKD_STATE_DIR \
             set one path each; otherwise the XDG directories are used \
             ($XDG_CONFIG_HOME/hookd, $XDG_DATA_HOME/hookd, $XDG_STATE_HOME/hookd) and the \
             socket is /run/user/UID/hookd/hookd.sock where that exists. HOOKD_LOG sets the \
             log level (default info), written to stderr.\n\n\
             SEE ALSO\n\
             hookctl(1), hook-client(1); README.md, docs/rules.md, docs/operations.md and \
             docs/http.md in the source tree.",
        )
}

/// hook-client's arguments (its parser is in hook-client/src/main.rs).
fn hook_client_command() -> Command {
    Command::new("hook-client")
        .version(version())
        .about("forward a Claude Code hook event (stdin) to hookd and print its verdict")
        .long_about(
            "The command Claude Code runs for each hook event. It reads the event from stdin, \
             forwards it to hookd over the Unix socket, prints hookd's answer exactly and exits \
             with its code. It starts hookd from beside itself when hookd is not running. \
             When hookd cannot answer, it answers by the event's fail mode, says why in one \
             line on stderr, and keeps the event in a spool that hookd records later: it never \
             fails silently.",
        )
        .arg(value(
            "event",
            "NAME",
            "The hook event this settings entry is for (used when hookd is unreachable)",
        ))
        .arg(value(
            "fail-mode",
            "SPEC",
            "What to answer when hookd cannot: pass, ask or deny, or Event=mode,... (env \
             HOOKD_FAIL_MODE; default: ask for PreToolUse and PermissionRequest, pass otherwise)",
        ))
        .arg(value(
            "deadline",
            "DURATION",
            "Give up after this long, e.g. 2s or 500ms (env HOOKD_DEADLINE; default 2s)",
        ))
        .arg(value(
            "socket",
            "PATH",
            "hookd's socket (env HOOKD_SOCKET; default from HOOKD_HOME or the uid)",
        ))
        .arg(flag(
            "no-autostart",
            "Do not start hookd when it is not running (env HOOKD_NO_AUTOSTART=1)",
        ))
        .after_long_help(
            "SEE ALSO\n\
             hookd(1), hookctl(1), hookctl-install(1).",
        )
}
