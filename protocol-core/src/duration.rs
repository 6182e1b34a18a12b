//! The one duration grammar of hookd, hookctl and hook-client.
//!
//! Every duration a user writes goes through [`parse`]: hook-client's `--deadline` and
//! `HOOKD_DEADLINE`, hookctl's `install --deadline` and `--since`, every duration setting in
//! `hookd.toml` (`idle_ttl`, `max_age`, `retry_backoff`, …) and every duration in a rule
//! (`rate.window`, a run's `timeout`).
//!
//! - A bare number is **seconds**: `30`, `0.5` (as Claude Code's own hook `timeout`).
//! - Otherwise one or more `<number><unit>` parts, the largest unit first and each unit at most
//!   once: `500ms`, `30s`, `10m`, `2h`, `1d`, `1w`, `1m30s`, `1h 30m` (spaces may separate
//!   parts, not a number from its unit).
//! - Units: `ms`, `s`, `m` (minutes), `h`, `d`, `w` (weeks).
//! - Numbers are digits with an optional fraction (`0.5s`, `1.5h`); no sign, no exponent.
//!
//! Zero (`0`, `0s`) parses; callers that need a positive duration say so in their own words.
//! No std, no allocation (but [`format()`]): hook-client parses its deadline with it on every
//! event.

use alloc::string::{String, ToString};
use core::fmt;
use core::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The units, largest first: (name, nanoseconds).
const UNITS: [(&str, u128); 6] = [
    ("w", 7 * 86_400 * NANOS_PER_SEC),
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
];

/// Fraction digits past this many are below a nanosecond for every unit and are ignored.
const MAX_FRACTION_DIGITS: u32 = 18;

/// Examples for error messages: what a duration looks like.
pub const EXAMPLES: &str =
    "a duration like 30s, 500ms, 10m, 1m30s, 2h or 1d (a bare number is seconds)";

/// Why a text is not a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Nothing but spaces.
    Empty,
    /// A part does not start with a number, or its number is malformed (`.5s`, `1.s`, `-1s`).
    Number,
    /// A unit that is not one of `ms`, `s`, `m`, `h`, `d`, `w` (`5min`, `5 s`, `2sec`).
    Unit,
    /// A number without a unit after another part (`1m30`).
    MissingUnit,
    /// Units not from the largest to the smallest, or one used twice (`30s1m`, `1m1m`).
    Order,
    /// Longer than a [`Duration`] holds.
    TooLong,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty",
            Self::Number => "expected a number (digits, optionally with a fraction like 1.5)",
            Self::Unit => {
                "unknown unit (units: ms, s, m, h, d, w; no space between number and unit)"
            }
            Self::MissingUnit => "a number after another part needs a unit (like 1m30s)",
            Self::Order => "units must go from the largest to the smallest, each once (like 1h30m)",
            Self::TooLong => "too long",
        })
    }
}

impl core::error::Error for Error {}

/// Parses a duration (see the module documentation for the grammar).
///
/// # Errors
///
/// What is wrong with `text`, as an [`Error`]; its `Display` is a short explanation to follow
/// the text itself in a message.
pub fn parse(text: &str) -> Result<Duration, Error> {
    let s = text.trim().as_bytes();
    if s.is_empty() {
        return Err(Error::Empty);
    }
    let mut i = 0;
    let mut total: u128 = 0;
    // Index into UNITS of the last unit used: the next one must be smaller.
    let mut last: Option<usize> = None;
    while i < s.len() {
        if last.is_some() {
            while i < s.len() && s[i] == b' ' {
                i += 1;
            }
        }
        let int_start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &s[int_start..i];
        if int_digits.is_empty() {
            return Err(Error::Number);
        }
        let mut frac_digits: &[u8] = &[];
        if i < s.len() && s[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &s[frac_start..i];
            if frac_digits.is_empty() {
                return Err(Error::Number);
            }
        }
        let unit_start = i;
        while i < s.len() && s[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let rank = if unit.is_empty() {
            if last.is_none() && i == s.len() {
                // A bare number: seconds.
                UNITS.len() - 2
            } else if i == s.len() {
                return Err(Error::MissingUnit);
            } else {
                return Err(Error::Unit);
            }
        } else {
            UNITS
                .iter()
                .position(|(name, _)| name.as_bytes() == unit)
                .ok_or(Error::Unit)?
        };
        if last.is_some_and(|l| rank <= l) {
            return Err(Error::Order);
        }
        last = Some(rank);
        let nanos = part_nanos(int_digits, frac_digits, UNITS[rank].1)?;
        total = total.checked_add(nanos).ok_or(Error::TooLong)?;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| Error::TooLong)?;
    // The remainder is below 10^9: it fits.
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| Error::TooLong)?;
    Ok(Duration::new(secs, nanos))
}

/// `int.frac` units of `unit_nanos` each, in nanoseconds (the fraction truncated to whole
/// nanoseconds).
fn part_nanos(int: &[u8], frac: &[u8], unit_nanos: u128) -> Result<u128, Error> {
    let mut whole: u128 = 0;
    for d in int {
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u128::from(d - b'0')))
            .ok_or(Error::TooLong)?;
    }
    let mut nanos = whole.checked_mul(unit_nanos).ok_or(Error::TooLong)?;
    let mut num: u128 = 0;
    let mut scale: u128 = 1;
    for d in frac.iter().take(MAX_FRACTION_DIGITS as usize) {
        num = num * 10 + u128::from(d - b'0');
        scale *= 10;
    }
    // num < scale <= 10^18 and unit_nanos < 10^15: the product fits in a u128.
    nanos = nanos
        .checked_add(num * unit_nanos / scale)
        .ok_or(Error::TooLong)?;
    Ok(nanos)
}

/// Writes `d` in the grammar, largest unit first, without weeks: `1d2h`, `1m30s`, `500ms`,
/// `0s`. [`parse`] reads it back to the same duration.
#[must_use]
pub fn format(d: Duration) -> String {
    Display(d).to_string()
}

/// A [`Duration`] shown in the grammar (see [`format()`]); formats without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Display(pub Duration);

impl fmt::Display for Display {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        let mut secs = d.as_secs();
        for (name, unit) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= unit {
                write!(f, "{}{name}", secs / unit)?;
                secs %= unit;
            }
        }
        let nanos = d.subsec_nanos();
        if nanos > 0 {
            let (ms, rest) = (nanos / 1_000_000, nanos % 1_000_000);
            if rest == 0 {
                write!(f, "{ms}ms")?;
            } else {
                // Six digits of a millisecond, trailing zeros dropped.
                let (mut rest, mut width) = (rest, 6);
                while rest % 10 == 0 {
                    rest /= 10;
                    width -= 1;
                }
                write!(f, "{ms}.{rest:0width$}ms")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_bare_number_is_seconds() {
        assert_eq!(parse("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("0.5"), Ok(ms(500)));
        assert_eq!(parse(" 2 "), Ok(Duration::from_secs(2)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn units() {
        assert_eq!(parse("250ms"), Ok(ms(250)));
        assert_eq!(parse("2s"), Ok(ms(2_000)));
        assert_eq!(parse("10m"), Ok(ms(600_000)));
        assert_eq!(parse("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse("1d"), Ok(ms(86_400_000)));
        assert_eq!(parse("1w"), Ok(ms(7 * 86_400_000)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn combinations_and_decimals() {
        assert_eq!(parse("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse("1h 30m"), Ok(ms(5_400_000)));
        assert_eq!(parse("1d12h"), Ok(ms(129_600_000)));
        assert_eq!(parse("1s500ms"), Ok(ms(1_500)));
        assert_eq!(parse("0.5s"), Ok(ms(500)));
        assert_eq!(parse("1.5h"), Ok(ms(5_400_000)));
        assert_eq!(parse("1.25ms"), Ok(Duration::from_micros(1_250)));
        assert_eq!(parse("0.000000001s"), Ok(Duration::from_nanos(1)));
        // Past a nanosecond, fraction digits are dropped, not an error.
        assert_eq!(parse("0.0000000019s"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            parse("1.0000000000000000000000001s"),
            Ok(Duration::from_secs(1))
        );
    }

    #[test]
    fn errors() {
        for (text, e) in [
            ("", Error::Empty),
            ("   ", Error::Empty),
            ("s", Error::Number),
            ("-1s", Error::Number),
            ("+1s", Error::Number),
            (".5s", Error::Number),
            ("1.s", Error::Number),
            ("1e3s", Error::Unit),
            ("5min", Error::Unit),
            ("2 sec", Error::Unit),
            ("5 s", Error::Unit),
            ("5S", Error::Unit),
            ("1m30", Error::MissingUnit),
            ("30s1m", Error::Order),
            ("1m1m", Error::Order),
            ("1s 1ms 1s", Error::Order),
            ("soon", Error::Number),
            ("1h,30m", Error::Number),
            ("99999999999999999999999w", Error::TooLong),
            ("18446744073709551616", Error::TooLong),
            ("1000000000000000d", Error::TooLong),
        ] {
            assert_eq!(parse(text), Err(e), "{text:?}");
        }
        // The largest Duration's whole seconds parse; one more does not.
        assert_eq!(
            parse("18446744073709551615"),
            Ok(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn format_round_trips() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (ms(500), "500ms"),
            (ms(1_500), "1s500ms"),
            (ms(90_000), "1m30s"),
            (ms(86_400_000 + 7_200_000), "1d2h"),
            (ms(30 * 86_400_000), "30d"),
            (Duration::from_micros(1_250), "1.25ms"),
            (Duration::from_nanos(1), "0.000001ms"),
        ] {
            assert_eq!(format(d), text);
            assert_eq!(parse(text), Ok(d), "{text}");
        }
        for n in [
            1u64,
            999,
            1_000,
            59_999,
            60_000,
            3_599_999,
            86_400_001,
            u64::MAX / 1_000_000,
        ] {
            let d = ms(n);
            assert_eq!(parse(&format(d)), Ok(d), "{n} ms");
        }
    }
}
