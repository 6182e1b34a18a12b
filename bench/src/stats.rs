//! Order statistics over samples in nanoseconds, reported in microseconds.

use serde_json::{Value, json};

/// Summary of one sample set, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

impl Summary {
    /// Prints the one-line latency summary the throughput and load runs share.
    pub fn print_latency(&self) {
        println!(
            "  latency µs: median {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
            us(self.p50),
            us(self.p90),
            us(self.p99),
            us(self.max),
            round1(self.mean / 1000.0)
        );
    }

    /// Summarizes `samples` (sorted in place). `None` when empty.
    pub fn of(samples: &mut [u64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        #[allow(clippy::cast_precision_loss)] // sample counts and sums far below 2^52
        let mean = sum as f64 / samples.len() as f64;
        Some(Self {
            n: samples.len(),
            min: samples[0],
            p50: percentile(samples, 50.0),
            p90: percentile(samples, 90.0),
            p99: percentile(samples, 99.0),
            max: samples[samples.len() - 1],
            mean,
        })
    }

    /// The summary in microseconds, as JSON.
    pub fn to_json_us(self) -> Value {
        json!({
            "n": self.n,
            "median": us(self.p50),
            "p90": us(self.p90),
            "p99": us(self.p99),
            "mean": round1(self.mean / 1000.0),
            "min": us(self.min),
            "max": us(self.max),
        })
    }
}

/// Nearest-rank percentile of sorted, non-empty samples.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // rank is within 1..=len
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Nanoseconds to microseconds, one decimal.
pub fn us(ns: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // durations far below 2^52 ns
    round1(ns as f64 / 1000.0)
}

/// Rounds to one decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to three decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Elapsed nanoseconds as u64 (saturating).
pub fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        let s = Summary::of(&mut v).unwrap();
        assert_eq!((s.min, s.p50, s.p90, s.p99, s.max), (1, 50, 90, 99, 100));
        assert!((s.mean - 50.5).abs() < 1e-9);
        let mut one = vec![7];
        let s = Summary::of(&mut one).unwrap();
        assert_eq!((s.p50, s.p99), (7, 7));
        assert!(Summary::of(&mut []).is_none());
    }
}
