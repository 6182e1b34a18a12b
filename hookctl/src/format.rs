//! Human-readable formatting: times, durations, sizes.

use std::fmt::Write;

pub use hook_engine::clock::utc;

/// Formats a duration in ms as `3d 4h`, `5m 12s`, `800ms`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    let mut out = String::new();
    if s == 0 {
        let _ = write!(out, "{ms}ms");
    } else if s < 3600 {
        let _ = write!(out, "{}m {}s", s / 60, s % 60);
    } else if s < 86_400 {
        let _ = write!(out, "{}h {}m", s / 3600, s % 3600 / 60);
    } else {
        let _ = write!(out, "{}d {}h", s / 86_400, s % 86_400 / 3600);
    }
    out
}

/// Formats a byte count as `512 B`, `1.5 KiB`, `2.0 MiB`.
#[allow(clippy::cast_precision_loss)] // display only
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Parses a duration in the one grammar of [`hook_protocol::duration`] (`1h`, `30m`, `2d`,
/// `1h30m`; a bare number is seconds), meaning that long before `now_ms`, or an RFC 3339 time
/// (`2026-11-21T10:00:00Z`, `…+02:00`, fractional seconds allowed), into ms since the epoch.
///
/// # Errors
///
/// A message saying what was expected.
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "bad time {s:?}: use a duration like 30m, 1h, 2d (that long ago; a bare number is \
             seconds), or RFC 3339 like 2026-11-21T10:00:00Z"
        )
    };
    if let Ok(ago) = hook_protocol::duration::parse(s) {
        let ago = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
        return Ok(now_ms.saturating_sub(ago));
    }
    let t: jiff::Timestamp = s.parse().map_err(|_| bad())?;
    Ok(t.as_millisecond())
}

pub use hook_engine::clock::now_ms;

/// Writes `v` to stdout as pretty JSON and a newline (`--json` output). A closed pipe is an
/// error, not a panic.
///
/// # Errors
///
/// Serialisation or write errors.
/// Whether to colour what goes to stdout: only on a terminal, and never when `NO_COLOR` is set
/// to anything but the empty string (<https://no-color.org>) or `TERM` is `dumb`.
#[must_use]
pub fn color() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        && std::io::stdout().is_terminal()
}

/// `text` in the SGR colour `code` (e.g. `"31"` red) when `on`.
#[must_use]
pub fn paint(text: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_795_000_000_000), "2026-11-18 11:06:40");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(duration(800), "800ms");
        assert_eq!(duration(312_000), "5m 12s");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(10), "10 B");
    }

    #[test]
    fn times() {
        let now = 1_000_000_000;
        assert_eq!(parse_time("30m", now), Ok(now - 1_800_000));
        assert_eq!(parse_time("2d", now), Ok(now - 172_800_000));
        assert_eq!(
            parse_time("2026-11-18T11:06:40Z", now),
            Ok(1_795_000_000_000)
        );
        assert_eq!(
            parse_time("2026-11-18T13:06:40.5+02:00", now),
            Ok(1_795_000_000_500)
        );
        assert_eq!(parse_time("1h30m", now), Ok(now - 5_400_000));
        assert_eq!(parse_time("90", now), Ok(now - 90_000));
        assert_eq!(parse_time("1w", now), Ok(now - 7 * 86_400_000));
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("2026-13-01T00:00:00Z", now).is_err());
        // A day the month does not have (the hand-written parser took it as 3 March).
        assert!(parse_time("2026-02-31T00:00:00Z", now).is_err());
        assert_eq!(
            parse_time("2024-02-29t00:00:00z", now),
            Ok(1_709_164_800_000)
        );
        assert_eq!(
            parse_time("2026-11-18 11:06:40Z", now),
            Ok(1_795_000_000_000)
        );
    }
}
