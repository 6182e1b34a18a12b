//! `hookctl rules`: the loaded rules with their source and hit counts; `hookctl rules NAME`:
//! one rule, looked up by the name hookd gives in its reasons (`hookd: NAME — …`), with its
//! definition as written. A name is looked up in the running hookd, else in the rule files
//! and the built-in packs, so it works while hookd is stopped too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use hook_engine::rules::{EventFilter, PACKS, Rule, Source, load, parse_source, rule_definition};
use hook_protocol::{Request, Response, RuleInfo};

use crate::client::Client;

/// List loaded rules with their source and hit counts, or show one rule
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show this rule (the name in hookd's reasons, `hookd: NAME — …`): where it comes from,
    /// its events, action, reason, hits and definition
    name: Option<String>,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    /// The configuration directory to look a rule up in when hookd is not running (default:
    /// HOOKD_CONFIG_DIR, HOOKD_HOME or XDG)
    #[arg(long)]
    config_dir: Option<PathBuf>,
}

/// `start` connects to hookd, starting it when it is not running (`rules` lists what the
/// running hookd loaded); a single rule is looked up without starting it.
pub fn run(
    args: &Args,
    socket: &Path,
    start: impl FnOnce() -> anyhow::Result<Client>,
) -> anyhow::Result<ExitCode> {
    match &args.name {
        None => list(args, &mut start()?),
        Some(name) => show(args, name, socket),
    }
}

fn list(args: &Args, client: &mut Client) -> anyhow::Result<ExitCode> {
    let Response::Rules(rules) = client.request(&Request::Rules)? else {
        bail!("unexpected answer to rules");
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rules)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<32} {:<8} {:>6}  {:<28} source",
        "rule", "action", "hits", "events"
    );
    for r in &rules {
        let events = r.events.join(",");
        let events: String = if events.chars().count() > 28 {
            events
                .chars()
                .take(27)
                .chain(std::iter::once('…'))
                .collect()
        } else {
            events
        };
        println!(
            "{:<32} {:<8} {:>6}  {:<28} {}",
            r.name, r.action, r.hits, events, r.source
        );
    }
    println!("{} rules", rules.len());
    Ok(ExitCode::SUCCESS)
}

/// Where a rule was found.
enum Found {
    /// In the running hookd.
    Live(RuleInfo),
    /// In the rule files (hookd not running, or not loaded there).
    Files(RuleInfo),
    /// In a built-in pack that is not enabled.
    Disabled(RuleInfo),
}

fn show(args: &Args, name: &str, socket: &Path) -> anyhow::Result<ExitCode> {
    let live = Client::connect(socket)
        .ok()
        .and_then(|mut c| match c.request(&Request::Rules) {
            Ok(Response::Rules(r)) => Some(r),
            _ => None,
        });
    let dir = args
        .config_dir
        .clone()
        .unwrap_or_else(hook_protocol::paths::config_dir);
    let found = live
        .as_ref()
        .and_then(|rs| rs.iter().find(|r| r.name == name))
        .cloned()
        .map(Found::Live)
        .or_else(|| {
            load(&dir)
                .ruleset
                .rules
                .iter()
                .find(|r| r.name == name)
                .map(|r| Found::Files(info(r)))
        })
        .or_else(|| pack_rule(name).map(Found::Disabled));
    let Some(found) = found else {
        let mut names: Vec<String> = live
            .iter()
            .flatten()
            .map(|r| r.name.clone())
            .chain(all_pack_rules().into_iter().map(|r| r.name))
            .filter(|n| n.contains(name) || name.contains(n.as_str()))
            .collect();
        names.sort();
        names.dedup();
        let hint = if names.is_empty() {
            String::new()
        } else {
            format!(" (similar: {})", names.join(", "))
        };
        bail!("no rule named {name:?}{hint}; `hookctl rules` lists them");
    };
    let (r, state) = match found {
        Found::Live(r) => (r, "loaded in hookd"),
        Found::Files(r) => (
            r,
            "enabled in the rule files and packs (hookd is not running, or has not loaded it)",
        ),
        Found::Disabled(r) => (r, "in a built-in pack that is not enabled"),
    };
    let definition = definition(&r.source, &r.name);
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["state"] = state.into();
        v["definition"] = definition.clone().into();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}  ({})", r.name, r.source);
    println!("  state:   {state}");
    println!("  action:  {}", r.action);
    println!("  events:  {}", r.events.join(", "));
    if state.starts_with("loaded") {
        println!("  hits:    {}", r.hits);
    }
    if let Some(reason) = &r.reason {
        println!("  reason:  {reason}");
    }
    if let Some(pack) = r.source.strip_prefix("pack:") {
        println!(
            "  docs:    docs/rules.md, built-in pack `{pack}`; turn it off with `disable_rules = [\"{}\"]` in hookd.toml",
            r.name
        );
    }
    match definition {
        Some(d) => {
            println!("  definition:");
            for line in d.lines() {
                println!("    {line}");
            }
        }
        None => println!("  definition: not found in {}", r.source),
    }
    Ok(ExitCode::SUCCESS)
}

/// The `[[rule]]` table of `name` in `source` (`pack:NAME`, `project:DIR` or a file path).
fn definition(source: &str, name: &str) -> Option<String> {
    let text = if let Some(pack) = source.strip_prefix("pack:") {
        PACKS.iter().find(|(n, _)| *n == pack)?.1.to_owned()
    } else if let Some(dir) = source.strip_prefix("project:") {
        std::fs::read_to_string(Path::new(dir).join(".claude/hookd.toml")).ok()?
    } else {
        std::fs::read_to_string(source).ok()?
    };
    rule_definition(&text, name)
}

/// A rule as `hookctl rules` shows it.
fn info(r: &Rule) -> RuleInfo {
    RuleInfo {
        name: r.name.clone(),
        source: r.source.clone(),
        events: match &r.events {
            EventFilter::All => vec!["*".into()],
            EventFilter::Some { known, unknown } => known
                .iter()
                .map(|&i| hook_engine::events::EVENTS[i].name.to_owned())
                .chain(unknown.iter().cloned())
                .collect(),
        },
        action: r.action.to_string(),
        hits: 0,
        reason: r.reason.clone(),
    }
}

fn all_pack_rules() -> Vec<Rule> {
    PACKS
        .iter()
        .filter_map(|(pack, text)| {
            parse_source(&Source {
                name: format!("pack:{pack}"),
                text: (*text).to_owned(),
                is_main: false,
            })
            .ok()
        })
        .flat_map(|(rules, _)| rules)
        .collect()
}

fn pack_rule(name: &str) -> Option<RuleInfo> {
    all_pack_rules().iter().find(|r| r.name == name).map(info)
}
