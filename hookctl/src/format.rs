//! Human-readable formatting: times, durations, sizes.

use std::fmt::Write;

/// Formats ms since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

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
}
