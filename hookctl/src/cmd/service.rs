//! `hookctl service install|uninstall|status`: run hookd under the OS service manager
//! (systemd `--user` with socket activation on Linux, a launchd LaunchAgent on macOS).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

/// The unit templates shipped in `systemd/`; paths are filled in at install time.
const SERVICE_TEMPLATE: &str = include_str!("../../../systemd/hookd.service");
const SOCKET_TEMPLATE: &str = include_str!("../../../systemd/hookd.socket");
const PLIST_TEMPLATE: &str = include_str!("../../../launchd/dev.hookd.hookd.plist");
/// The LaunchAgent label (also the plist's file name).
pub const LAUNCHD_LABEL: &str = "dev.hookd.hookd";

/// Run hookd under the service manager (systemd --user or launchd)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Write the unit files (or LaunchAgent) with this machine's paths, enable and start them
    Install(InstallArgs),
    /// Stop, disable and remove what `service install` wrote
    Uninstall(InstallArgs),
    /// Show the service manager's view of hookd
    Status(InstallArgs),
}

#[derive(Debug, clap::Args)]
struct InstallArgs {
    /// The hookd executable (default: beside hookctl, else on PATH)
    #[arg(long)]
    hookd: Option<PathBuf>,
    /// Where unit files go (default: $XDG_CONFIG_HOME/systemd/user or ~/Library/LaunchAgents)
    #[arg(long)]
    unit_dir: Option<PathBuf>,
    /// Only write (or remove) the files; do not call systemctl/launchctl
    #[arg(long)]
    no_start: bool,
}

fn unit_dir(args: &InstallArgs) -> anyhow::Result<PathBuf> {
    if let Some(d) = &args.unit_dir {
        return Ok(d.clone());
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set")?;
    if cfg!(target_os = "macos") {
        return Ok(home.join("Library/LaunchAgents"));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| home.join(".config"), PathBuf::from);
    Ok(config.join("systemd/user"))
}

fn hookd_path(args: &InstallArgs) -> anyhow::Result<PathBuf> {
    let p = match &args.hookd {
        Some(p) => p.clone(),
        None => hook_protocol::paths::find_program("hookd", Some("HOOKD_BIN"))
            .map_err(anyhow::Error::msg)
            .context("pass --hookd /path/to/hookd")?,
    };
    p.canonicalize()
        .with_context(|| format!("hookd at {}", p.display()))
}

/// Environment lines that pin hookd to the same paths hook-client and hookctl compute now.
fn environment() -> Vec<(String, String)> {
    [
        "HOOKD_HOME",
        "HOOKD_SOCKET",
        "HOOKD_CONFIG_DIR",
        "HOOKD_DB",
        "HOOKD_STATE_DIR",
    ]
    .iter()
    .filter_map(|k| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| ((*k).to_string(), v))
    })
    .collect()
}

/// The systemd units with this machine's paths.
#[must_use]
pub fn render_units(hookd: &Path, socket: &Path, env: &[(String, String)]) -> (String, String) {
    let mut service = SERVICE_TEMPLATE.replace(
        "ExecStart=/usr/local/bin/hookd",
        &format!("ExecStart={}", hookd.display()),
    );
    let extra: String = env
        .iter()
        .map(|(k, v)| format!("Environment={k}={v}\n"))
        .collect();
    service = service.replace(
        "Environment=HOOKD_LOG=info\n",
        &format!("Environment=HOOKD_LOG=info\n{extra}"),
    );
    let socket_unit = SOCKET_TEMPLATE.replace(
        "ListenStream=%t/hookd/hookd.sock",
        &format!("ListenStream={}", socket.display()),
    );
    (service, socket_unit)
}

/// The LaunchAgent with this machine's paths.
#[must_use]
pub fn render_plist(hookd: &Path, socket: &Path) -> String {
    let log = socket.with_file_name("hookd.log");
    PLIST_TEMPLATE
        .replace(
            "<string>/usr/local/bin/hookd</string>",
            &format!("<string>{}</string>", hookd.display()),
        )
        .replace(
            "<string>/tmp/hookd-501/hookd.sock</string>",
            &format!("<string>{}</string>", socket.display()),
        )
        .replace(
            "<string>/tmp/hookd-501/hookd.log</string>",
            &format!("<string>{}</string>", log.display()),
        )
}

fn run_manager(cmd: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Stops a hookd already serving the socket (e.g. one hook-client autostarted), so the
/// service manager can take the socket over.
fn stop_running(socket: &Path) {
    if let Ok(mut c) = crate::client::Client::connect(socket)
        && c.request(&hook_protocol::Request::Stop).is_ok()
    {
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(socket).is_err() {
                break;
            }
            #[allow(clippy::disallowed_methods)] // hookctl is synchronous
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        println!("stopped the hookd that was running outside the service manager");
    }
}

pub fn run(args: &Args, socket: &Path) -> anyhow::Result<ExitCode> {
    match &args.action {
        Action::Install(a) => install(a, socket),
        Action::Uninstall(a) => uninstall(a),
        Action::Status(a) => status(a),
    }
}

fn install(args: &InstallArgs, socket: &Path) -> anyhow::Result<ExitCode> {
    let hookd = hookd_path(args)?;
    let dir = unit_dir(args)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if cfg!(target_os = "macos") {
        let path = dir.join(format!("{LAUNCHD_LABEL}.plist"));
        std::fs::write(&path, render_plist(&hookd, socket))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
        if !args.no_start {
            stop_running(socket);
            let uid = hook_protocol::paths::uid().to_string();
            let domain = format!("gui/{uid}");
            let _ = Command::new("launchctl")
                .args(["bootout", &domain, &path.display().to_string()])
                .output();
            run_manager(
                "launchctl",
                &["bootstrap", &domain, &path.display().to_string()],
            )?;
            println!("loaded {LAUNCHD_LABEL} into {domain}; hookd starts on the first connection");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (service, socket_unit) = render_units(&hookd, socket, &environment());
    for (name, text) in [("hookd.service", &service), ("hookd.socket", &socket_unit)] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.no_start {
        println!(
            "not started (--no-start); to start: systemctl --user daemon-reload && systemctl --user enable --now hookd.socket"
        );
        return Ok(ExitCode::SUCCESS);
    }
    run_manager("systemctl", &["--user", "daemon-reload"]).context(
        "systemd --user is not reachable (no user session bus?); the units are written: start them from a login session with `systemctl --user enable --now hookd.socket`",
    )?;
    stop_running(socket);
    run_manager("systemctl", &["--user", "enable", "--now", "hookd.socket"])?;
    println!(
        "enabled and started hookd.socket ({}); hookd starts on the first connection",
        socket.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn uninstall(args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let dir = unit_dir(args)?;
    let names: &[&str] = if cfg!(target_os = "macos") {
        &["dev.hookd.hookd.plist"]
    } else {
        &["hookd.service", "hookd.socket"]
    };
    if !args.no_start {
        if cfg!(target_os = "macos") {
            let domain = format!("gui/{}", hook_protocol::paths::uid());
            let _ = Command::new("launchctl")
                .args([
                    "bootout",
                    &domain,
                    &dir.join(names[0]).display().to_string(),
                ])
                .output();
        } else {
            let _ = Command::new("systemctl")
                .args([
                    "--user",
                    "disable",
                    "--now",
                    "hookd.socket",
                    "hookd.service",
                ])
                .output();
        }
    }
    let mut removed = 0;
    for n in names {
        let p = dir.join(n);
        match std::fs::remove_file(&p) {
            Ok(()) => {
                println!("removed {}", p.display());
                removed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
        }
    }
    if !args.no_start && !cfg!(target_os = "macos") {
        let _ = Command::new("systemctl")
            .args(["--user", "daemon-reload"])
            .output();
    }
    if removed == 0 {
        println!("nothing to remove in {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn status(args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let dir = unit_dir(args)?;
    let names: &[&str] = if cfg!(target_os = "macos") {
        &["dev.hookd.hookd.plist"]
    } else {
        &["hookd.service", "hookd.socket"]
    };
    let mut installed = true;
    for n in names {
        let p = dir.join(n);
        let there = p.exists();
        installed &= there;
        println!(
            "{} {}",
            if there { "installed" } else { "missing  " },
            p.display()
        );
    }
    let out = if cfg!(target_os = "macos") {
        Command::new("launchctl")
            .args([
                "print",
                &format!("gui/{}/{LAUNCHD_LABEL}", hook_protocol::paths::uid()),
            ])
            .output()
    } else {
        Command::new("systemctl")
            .args([
                "--user",
                "status",
                "--no-pager",
                "hookd.socket",
                "hookd.service",
            ])
            .output()
    };
    match out {
        Ok(o) => {
            print!("{}", String::from_utf8_lossy(&o.stdout));
            let err = String::from_utf8_lossy(&o.stderr);
            if !err.trim().is_empty() {
                println!("service manager: {}", err.trim());
            }
        }
        Err(e) => println!("service manager not available: {e}"),
    }
    Ok(if installed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::ERROR)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_get_real_paths_and_environment() {
        let env = vec![("HOOKD_HOME".to_string(), "/h".to_string())];
        let (service, socket) = render_units(
            Path::new("/opt/bin/hookd"),
            Path::new("/run/user/7/hookd/hookd.sock"),
            &env,
        );
        assert!(service.contains("\nExecStart=/opt/bin/hookd\n"));
        assert!(service.contains("\nEnvironment=HOOKD_HOME=/h\n"));
        assert!(service.contains("Type=notify"));
        assert!(socket.contains("\nListenStream=/run/user/7/hookd/hookd.sock\n"));
        assert!(socket.contains("SocketMode=0600"));
        let plist = render_plist(
            Path::new("/opt/bin/hookd"),
            Path::new("/tmp/hookd-7/hookd.sock"),
        );
        assert!(
            plist.contains("<string>/opt/bin/hookd</string>")
                && plist.contains("<string>/tmp/hookd-7/hookd.sock</string>")
        );
    }
}
