//! The wall clock: now, and how a time is shown.
//!
//! The one place hookd reads the wall clock for event times; everything else takes a time as
//! an argument, so rules, sessions and tests stay deterministic.

/// Formats ms since the epoch as `YYYY-MM-DD HH:MM:SS` UTC (a time outside jiff's range,
/// years -9999 to 9999, is shown at that range's end).
#[must_use]
pub fn utc(ms: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Now, in ms since the epoch (0 if the clock is before 1970).
#[must_use]
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}
