//! `hookctl check [FILE]`: validate rule files locally, with precise errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hookd::rules::{Source, load, parse_source};

/// Validate rule files without loading them into hookd
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A rule file (hookd.toml, rules.d/*.toml or a project's .claude/hookd.toml); without
    /// it, the whole configuration directory with the packs it enables
    file: Option<PathBuf>,
    /// The configuration directory to check (default: HOOKD_CONFIG_DIR, HOOKD_HOME or XDG)
    #[arg(long)]
    config_dir: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (rules, errors, what) = if let Some(file) = &args.file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let is_main = file.file_name().is_some_and(|n| n == "hookd.toml")
            && !file.parent().is_some_and(|p| p.ends_with(".claude"));
        let source = Source {
            name: file.display().to_string(),
            text,
            is_main,
        };
        match parse_source(&source) {
            Ok((rules, _)) => (rules.len(), Vec::new(), file.display().to_string()),
            Err(e) => (0, e, file.display().to_string()),
        }
    } else {
        let dir = args
            .config_dir
            .clone()
            .unwrap_or_else(hook_protocol::paths::config_dir);
        let report = load(&dir);
        let what = format!("{} ({})", dir.display(), report.ruleset.sources.join(", "));
        (report.ruleset.rules.len(), report.errors, what)
    };
    if errors.is_empty() {
        println!("ok: {rules} rules in {what}");
        return Ok(ExitCode::SUCCESS);
    }
    for e in &errors {
        eprintln!("{e}");
    }
    eprintln!("{} error(s) in {what}", errors.len());
    Ok(ExitCode::from(crate::exit::ERROR))
}
