//! `hookctl status`.

use std::process::ExitCode;

use anyhow::bail;
use hook_protocol::{Request, Response, StatusReport};
use serde_json::json;

use crate::client::Client;
use crate::format;

/// Show whether hookd runs, its versions, store, rules and fallbacks
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Response::Status(s) = client.request(&Request::Status)? else {
        bail!("unexpected answer to status");
    };
    let ctl = json!({
        "version": hook_protocol::PACKAGE_VERSION,
        "build_id": hook_protocol::BUILD_ID,
        "protocol": hook_protocol::PROTOCOL_VERSION,
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"hookd": *s, "hookctl": ctl}))?
        );
    } else {
        print_human(&s);
    }
    let healthy = s.rule_errors.is_empty()
        && s.rules_fallback.is_none()
        && s.store_error.is_none()
        && s.durability_error.is_none();
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::ERROR)
    })
}

fn print_human(s: &StatusReport) {
    println!(
        "hookd {} (build {}, protocol {}): running, pid {}, up {}",
        s.version,
        s.build_id,
        s.protocol,
        s.pid,
        format::duration(s.uptime_ms)
    );
    let same =
        s.build_id == hook_protocol::BUILD_ID && s.protocol == hook_protocol::PROTOCOL_VERSION;
    println!(
        "hookctl {} (build {}, protocol {}){}",
        hook_protocol::PACKAGE_VERSION,
        hook_protocol::BUILD_ID,
        hook_protocol::PROTOCOL_VERSION,
        if same { "" } else { "  <- differs from hookd" }
    );
    println!("socket     {}", s.socket);
    println!("config     {}", s.config_dir);
    println!(
        "store      {} ({})",
        s.store_path,
        format::bytes(s.store_bytes)
    );
    println!(
        "events     {} recorded, {} since start",
        s.events_total, s.events_since_start
    );
    println!("sessions   {} active", s.sessions_active);
    println!(
        "rules      {} loaded from {}",
        s.rules_loaded,
        s.rule_sources.join(", ")
    );
    println!(
        "fallbacks  {} recorded; spool backlog {}; {} spooled copies of recorded events dropped",
        s.fallbacks_recorded,
        format::bytes(s.spool_backlog_bytes),
        s.duplicates_dropped
    );
    println!(
        "journal    {} answered events waiting; {} set aside{}",
        s.journal_events,
        format::bytes(s.journal_reserved_bytes),
        if s.not_durable > 0 {
            format!(
                "; {} answered by their fail mode (not recordable)",
                s.not_durable
            )
        } else {
            String::new()
        }
    );
    for sink in &s.sinks {
        println!("{}", crate::cmd::sink::line(sink));
    }
    for p in &s.projects {
        println!(
            "project    {} ({} rules, {})",
            p.dir,
            p.rules,
            if p.trusted {
                "trusted"
            } else {
                "untrusted: tightening only"
            }
        );
        for e in &p.errors {
            println!("  {e}");
        }
    }
    if let Some(e) = &s.store_error {
        println!("STORE ERROR  {e}");
    }
    if let Some(e) = &s.durability_error {
        println!("NOT DURABLE  {e}");
    }
    if let Some(f) = &s.rules_fallback {
        println!("RULES FALLBACK  {f}");
    }
    if !s.rule_errors.is_empty() {
        println!("RULE ERRORS  (the rules above stay active until the files are fixed)");
        for e in &s.rule_errors {
            println!("  {e}");
        }
    }
}
