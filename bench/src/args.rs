//! A minimal flag parser: `--flag VALUE`, `--flag=VALUE`, boolean `--flag`, and `--` rest.

use std::str::FromStr;

/// The arguments of one subcommand, consumed flag by flag.
pub struct Args<'a> {
    items: std::iter::Cloned<std::slice::Iter<'a, String>>,
    /// Everything after `--`, once reached.
    pub rest: Vec<String>,
}

/// One parsed flag: its name and, for `--flag=value`, the inline value.
pub struct Flag {
    pub name: String,
    inline: Option<String>,
}

impl<'a> Args<'a> {
    pub fn new(args: &'a [String]) -> Self {
        Self {
            items: args.iter().cloned(),
            rest: Vec::new(),
        }
    }

    /// The next flag, or `None` at the end (or at `--`, whose rest goes to [`Args::rest`]).
    pub fn next_flag(&mut self) -> Result<Option<Flag>, String> {
        let Some(arg) = self.items.next() else {
            return Ok(None);
        };
        if arg == "--" {
            self.rest = self.items.by_ref().collect();
            return Ok(None);
        }
        if !arg.starts_with("--") {
            return Err(format!("unexpected argument {arg:?}"));
        }
        Ok(Some(match arg.split_once('=') {
            Some((name, value)) => Flag {
                name: name.to_string(),
                inline: Some(value.to_string()),
            },
            None => Flag {
                name: arg,
                inline: None,
            },
        }))
    }

    /// The value of `flag`.
    pub fn value(&mut self, flag: &mut Flag) -> Result<String, String> {
        flag.inline
            .take()
            .or_else(|| self.items.next())
            .ok_or_else(|| format!("{} needs a value", flag.name))
    }

    /// The value of `flag`, parsed.
    pub fn parse<T: FromStr>(&mut self, flag: &mut Flag) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.value(flag)?;
        v.parse().map_err(|e| format!("{} {v:?}: {e}", flag.name))
    }
}
