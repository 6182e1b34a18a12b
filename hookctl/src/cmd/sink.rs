//! `hookctl sink flush`, and each fleet sink's line for `status` and `doctor`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use hook_protocol::{Request, Response, SinkReport};

use crate::client::Client;
use crate::format;

/// Fleet sinks: `hookctl sink flush` waits until every stored event is delivered; `hookctl
/// sink init pg` creates the PostgreSQL sink's schema
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Wait until every sink has delivered every stored event (lag 0); exits non-zero when the
    /// timeout passes first (run it before a container or CI job ends)
    Flush(FlushArgs),
    /// Create (or --print) the PostgreSQL sink's central table and its least-privilege grants
    /// (`hookctl sink init pg`); needs no running hookd (it runs `hookd sink-init`)
    Init(crate::cmd::sink_init::InitArgs),
}

impl Args {
    /// `sink init …`, which needs no running hookd (it runs `hookd sink-init`, which exits).
    #[must_use]
    pub fn init(&self) -> Option<&crate::cmd::sink_init::InitArgs> {
        match &self.command {
            Command::Init(a) => Some(a),
            Command::Flush(_) => None,
        }
    }
}

#[derive(Debug, clap::Args)]
struct FlushArgs {
    /// How long to wait at most (e.g. 30s, 2m)
    #[arg(long, default_value = "30s")]
    timeout: String,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Command::Flush(a) = &args.command else {
        bail!("`sink init` needs no running hookd (hookctl's dispatch)");
    };
    let timeout = hook_protocol::duration::parse(&a.timeout)
        .map_err(|e| anyhow::anyhow!("--timeout {:?}: {e}", a.timeout))?;
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    client
        .set_timeout(timeout + Duration::from_secs(10))
        .context("socket timeout")?;
    let Response::SinkFlushed(sinks) = client.request(&Request::SinkFlush(ms))? else {
        bail!("unexpected answer to sink flush (an older hookd?)");
    };
    let flushed = sinks.iter().all(|s| s.lag_events == 0);
    if a.json {
        format::print_json(&serde_json::json!({ "flushed": flushed, "sinks": sinks }))?;
    } else if sinks.is_empty() {
        println!("no sinks configured ([sink.NAME] in hookd.toml)");
    } else {
        for s in &sinks {
            println!("{}", line(s));
        }
        if !flushed {
            println!(
                "NOT FLUSHED within {}: the events above wait in the store and are sent when the \
                 sink takes them",
                a.timeout
            );
        }
    }
    Ok(if flushed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::ERROR)
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `sink       otel https://… ok; lag 0 events; 48113 sent, last 2 s ago`, or
/// `SINK ERROR otel: …; lag 1204 events (oldest 6 min); nothing lost`.
#[must_use]
pub fn line(s: &SinkReport) -> String {
    let lag = if s.lag_events == 0 {
        "lag 0 events".to_string()
    } else {
        format!(
            "lag {} events (oldest {})",
            s.lag_events,
            format::duration(s.lag_ms)
        )
    };
    let last = s.last_success_ms.map_or_else(
        || "none since start".to_string(),
        |t| {
            let ago = u64::try_from(now_ms() - t).unwrap_or(0);
            format!("last {} ago", format::duration(ago))
        },
    );
    let mut extra = String::new();
    if s.rejected > 0 {
        extra.push_str(&format!("; {} rejected", s.rejected));
    }
    if s.dropped > 0 {
        extra.push_str(&format!(
            "; {} DROPPED by the store's size cap before delivery",
            s.dropped
        ));
    }
    match &s.error {
        None => format!(
            "sink       {} {} {} ok; {lag}; {} sent, {last}{extra}",
            s.name, s.kind, s.target, s.sent
        ),
        Some(e) => format!(
            "SINK ERROR {} {} {}: {e}; {lag}; {} sent, {last}{extra}; {}",
            s.name,
            s.kind,
            s.target,
            s.sent,
            if s.dropped > 0 {
                "undelivered events wait in the store"
            } else {
                "nothing lost: undelivered events wait in the store"
            }
        ),
    }
}
