//! `hookctl init`: write a commented starter `hookd.toml` into the configuration directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

/// The starter file; `@PACKS@` becomes the list of built-in packs.
const STARTER: &str = include_str!("../../starter/hookd.toml");

/// Write a commented starter hookd.toml (packs, an example rule of each kind, settings)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration directory (default: HOOKD_CONFIG_DIR, HOOKD_HOME or XDG)
    #[arg(long)]
    config_dir: Option<PathBuf>,
    /// Replace an existing hookd.toml (it is kept as hookd.toml.bak first)
    #[arg(long)]
    force: bool,
    /// Print the starter file instead of writing it
    #[arg(long)]
    stdout: bool,
}

/// The starter `hookd.toml`, with every built-in pack listed.
#[must_use]
pub fn starter() -> String {
    let packs: Vec<String> = hook_engine::rules::PACKS
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    STARTER.replace("@PACKS@", &packs.join(", "))
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let text = starter();
    if args.stdout {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let dir = args
        .config_dir
        .clone()
        .unwrap_or_else(hook_protocol::paths::config_dir);
    let path = dir.join("hookd.toml");
    let exists = std::fs::symlink_metadata(&path).is_ok();
    if exists && !args.force {
        bail!(
            "{} exists; not replacing it (`hookctl init --force` keeps it as hookd.toml.bak \
             and writes the starter; `hookctl init --stdout` prints the starter)",
            path.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if exists {
        let bak = dir.join("hookd.toml.bak");
        std::fs::rename(&path, &bak)
            .with_context(|| format!("moving {} to {}", path.display(), bak.display()))?;
        println!("kept the old file as {}", bak.display());
    }
    // A new file (never through a symlink), then renamed into place: hookd's watcher sees
    // one complete file.
    let tmp = dir.join(format!(".hookd.toml.init-{}", std::process::id()));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    println!(
        "wrote {}: every built-in pack on, a few example rules, settings commented out",
        path.display()
    );
    println!("next: edit it, `hookctl check`, then `hookctl test bash 'npm publish'`");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hook_engine::rules::{Source, load_sources};

    /// The file with every `#key`/`#[section]` line turned on.
    fn uncommented(text: &str) -> String {
        text.lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if !rest.is_empty() && !rest.starts_with([' ', '#']) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn errors(text: String) -> (usize, Vec<String>) {
        let r = load_sources(vec![Source {
            name: "hookd.toml".into(),
            text,
            is_main: true,
        }]);
        (r.ruleset.rules.len(), r.errors)
    }

    #[test]
    fn the_starter_loads_as_written_and_with_everything_turned_on() {
        let text = starter();
        assert!(!text.contains("@PACKS@"));
        for (pack, _) in hook_engine::rules::PACKS {
            assert!(text.contains(&format!("\"{pack}\"")), "{pack}");
        }
        let (n, e) = errors(text.clone());
        assert!(e.is_empty(), "{e:#?}");
        let on = uncommented(&text);
        assert_ne!(on, text);
        for section in [
            "[http]",
            "[store]",
            "[session]",
            "[redact]",
            "[run]",
            "[server]",
        ] {
            assert!(on.contains(&format!("\n{section}\n")), "{section}");
        }
        let (m, e) = errors(on);
        assert!(e.is_empty(), "{e:#?}");
        assert!(m > n, "the commented-out rules load too");
    }
}
