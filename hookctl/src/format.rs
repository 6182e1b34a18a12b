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

/// Days since the epoch of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    // RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut rest = &s[19..];
    let mut frac_ms = 0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        frac_ms = format!("{digits:0<3}")[..3]
            .parse::<i64>()
            .map_err(|_| bad())?;
        rest = &r[digits.len()..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(&o[..1], "+" | "-") && &o[3..4] == ":" => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().map_err(|_| bad())? * 60
                + o[4..6].parse::<i64>().map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Ok(secs * 1000 + frac_ms)
}

pub use hook_engine::clock::now_ms;

/// Writes `v` to stdout as pretty JSON and a newline (`--json` output). A closed pipe is an
/// error, not a panic.
///
/// # Errors
///
/// Serialisation or write errors.
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
    }
}
