//! `hookctl check [FILE]`: validate rule files and hookd.toml's settings locally, with precise
//! errors: the same functions, so the same errors, as hookd's start and reload
//! (`hook_engine::rules::load` for the directory, `load_sources` for hookd.toml alone).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hook_engine::rules::{Rule, Source, load, load_sources, parse_source};

/// Validate rule files and settings without loading them into hookd
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A rule file (hookd.toml, rules.d/*.toml or a project's .claude/hookd.toml); without
    /// it, the whole configuration directory (hookd.toml's settings and rules, the packs it
    /// enables, rules.d)
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
        if is_main {
            // hookd.toml alone, as hookd loads it: settings, rules, the packs it enables and
            // what `disable_rules` names.
            let report = load_sources(vec![source]);
            (
                report.ruleset.rules.len(),
                report.errors,
                file.display().to_string(),
            )
        } else {
            match parse_source(&source) {
                Ok((rules, _)) => {
                    let refused = untrusted(file, &source.text, &rules);
                    (rules.len(), refused, file.display().to_string())
                }
                Err(e) => (0, e, file.display().to_string()),
            }
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

/// For a project's `.claude/hookd.toml` that `hookctl trust` has not approved (as it is now):
/// one error per rule hookd refuses from it (`allow`, `defer`, `run`).
fn untrusted(file: &std::path::Path, text: &str, rules: &[Rule]) -> Vec<String> {
    let Some(claude_dir) = file.parent() else {
        return Vec::new();
    };
    if file.file_name().is_none_or(|n| n != "hookd.toml") || !claude_dir.ends_with(".claude") {
        return Vec::new();
    }
    let project = claude_dir.parent().unwrap_or(claude_dir);
    let project = if project.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        project
    };
    let trust = hook_engine::project::trust_path(&hook_protocol::paths::state_dir());
    if hook_engine::project::is_trusted(&trust, project, text.as_bytes()) {
        return Vec::new();
    }
    let shown = project
        .canonicalize()
        .unwrap_or_else(|_| project.to_path_buf());
    rules
        .iter()
        .filter(|r| hook_engine::project::needs_trust(r.action))
        .map(|r| {
            format!(
                "{}: rule `{}`: `{}` in a project file is refused until you run `hookctl trust {}`{}",
                file.display(),
                r.name,
                r.action,
                shown.display(),
                if r.action == hook_engine::rules::Action::Run {
                    " (hookd never runs commands from a file you have not trusted)"
                } else {
                    ""
                }
            )
        })
        .collect()
}
