//! `hookctl ui`: opens the dashboard in a browser, logged in with a one-time code.
//!
//! The code comes from hookd over the Unix socket (which admits only the same uid), works once
//! and for at most a minute: the URL carrying it is worthless once the browser has used it.

use std::process::{Command, ExitCode, Stdio};

use anyhow::bail;
use hook_protocol::{Request, Response};

use crate::client::Client;

/// Open the dashboard in a browser, logged in (`[ui] listen` in hookd.toml)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the one-time login URL and exit instead of opening a browser (it works once,
    /// within a minute)
    #[arg(long)]
    print_url: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Response::UiLogin(login) = client.request(&Request::UiLogin)? else {
        bail!("unexpected answer to a dashboard login");
    };
    if args.print_url {
        println!("{}", login.url);
        return Ok(ExitCode::SUCCESS);
    }
    for opener in openers() {
        let mut parts = opener.split_whitespace();
        let Some(program) = parts.next() else {
            continue;
        };
        let launched = Command::new(program)
            .args(parts)
            .arg(&login.url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if launched.is_ok_and(|s| s.success()) {
            eprintln!("hookctl: opened the dashboard in a browser ({program})");
            return Ok(ExitCode::SUCCESS);
        }
    }
    eprintln!(
        "hookctl: no browser could be opened ($BROWSER, xdg-open, open); open this URL within a minute (it works once):"
    );
    println!("{}", login.url);
    Ok(ExitCode::SUCCESS)
}

/// `$BROWSER` (a `:`-separated list), then the desktop's opener.
fn openers() -> Vec<String> {
    let mut out: Vec<String> = std::env::var("BROWSER")
        .unwrap_or_default()
        .split(':')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    out.push(if cfg!(target_os = "macos") {
        "open".into()
    } else {
        "xdg-open".into()
    });
    out
}
