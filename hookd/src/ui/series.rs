//! Time series for the dashboard's charts, computed from stored rows (so they survive a
//! restart): latency percentiles and verdict counts per step over a window, and rule matches
//! per hour. Pure: the rows come from the store's queries (`crate::store::dash`).

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest window a series covers (a day).
pub const MAX_MINUTES: i64 = 1440;
/// The most points a series has.
pub const MAX_POINTS: i64 = 1440;
/// Hours in a rule's sparkline.
pub const HOURS: usize = 24;

/// A window cut into steps: `n` buckets of `step_ms`, aligned to multiples of the step, the
/// last one holding `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub step_ms: i64,
    pub n: i64,
}

impl Window {
    /// `minutes` (1..=[`MAX_MINUTES`]) before `now_ms` in steps of `step_s` seconds (at least
    /// 1 s, and coarse enough for at most [`MAX_POINTS`] points).
    pub fn new(now_ms: i64, minutes: i64, step_s: i64) -> Self {
        let span_ms = minutes.clamp(1, MAX_MINUTES) * 60_000;
        let mut step_ms = step_s.max(1) * 1000;
        if span_ms / step_ms > MAX_POINTS {
            step_ms = (span_ms + MAX_POINTS - 1) / MAX_POINTS;
        }
        let n = (span_ms + step_ms - 1) / step_ms;
        let end = (now_ms.div_euclid(step_ms) + 1) * step_ms;
        Self {
            start_ms: end - n * step_ms,
            step_ms,
            n,
        }
    }

    /// The bucket of `t_ms`, if inside.
    pub fn bucket(&self, t_ms: i64) -> Option<usize> {
        let b = (t_ms - self.start_ms).div_euclid(self.step_ms);
        (0..self.n)
            .contains(&b)
            .then(|| usize::try_from(b).ok())
            .flatten()
    }

    fn len(&self) -> usize {
        usize::try_from(self.n).unwrap_or(0)
    }
}

/// One step of the latency chart: percentiles of hookd's processing time (µs); `None` when
/// no event fell in the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatencyPoint {
    pub t_ms: i64,
    pub count: u64,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
}

/// Accumulates latencies into a window's steps.
pub struct LatencySeries {
    window: Window,
    hists: Vec<Option<Histogram<u64>>>,
}

impl LatencySeries {
    pub fn new(window: Window) -> Self {
        Self {
            window,
            hists: (0..window.len()).map(|_| None).collect(),
        }
    }

    /// Adds one event's latency.
    pub fn add(&mut self, t_ms: i64, latency_us: i64) {
        let Some(b) = self.window.bucket(t_ms) else {
            return;
        };
        let h = self.hists[b].get_or_insert_with(|| {
            // 3 significant figures, 1 µs .. 60 s, like the live histograms (`metrics`).
            Histogram::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
        });
        h.saturating_record(u64::try_from(latency_us.max(1)).unwrap_or(1));
    }

    pub fn points(&self) -> Vec<LatencyPoint> {
        self.hists
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let t_ms = self.window.start_ms + i as i64 * self.window.step_ms;
                match h {
                    Some(h) if !h.is_empty() => LatencyPoint {
                        t_ms,
                        count: h.len(),
                        p50: Some(h.value_at_quantile(0.50)),
                        p95: Some(h.value_at_quantile(0.95)),
                        p99: Some(h.value_at_quantile(0.99)),
                    },
                    _ => LatencyPoint {
                        t_ms,
                        count: 0,
                        p50: None,
                        p95: None,
                        p99: None,
                    },
                }
            })
            .collect()
    }
}

/// One step of the verdict chart: events by verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictPoint {
    pub t_ms: i64,
    pub counts: BTreeMap<String, u64>,
}

/// The verdict chart from the store's (bucket, verdict, count) rows (buckets counted from
/// the window's start).
pub fn verdict_points(window: &Window, rows: &[(i64, String, u64)]) -> Vec<VerdictPoint> {
    let mut points: Vec<VerdictPoint> = (0..window.n)
        .map(|i| VerdictPoint {
            t_ms: window.start_ms + i * window.step_ms,
            counts: BTreeMap::new(),
        })
        .collect();
    for (b, verdict, n) in rows {
        if let Some(p) = usize::try_from(*b).ok().and_then(|b| points.get_mut(b)) {
            *p.counts.entry(verdict.clone()).or_default() += n;
        }
    }
    points
}

/// Matches per rule per hour over the last [`HOURS`] hours, oldest first.
pub struct Hourly {
    window: Window,
    counts: HashMap<String, [u64; HOURS]>,
}

impl Hourly {
    pub fn new(now_ms: i64) -> Self {
        Self {
            window: Window::new(now_ms, HOURS as i64 * 60, 3600),
            counts: HashMap::new(),
        }
    }

    /// Where the window starts.
    pub fn since_ms(&self) -> i64 {
        self.window.start_ms
    }

    /// Adds one event's matched rules (its stored JSON list).
    pub fn add(&mut self, t_ms: i64, rules_json: &str) {
        let Some(b) = self.window.bucket(t_ms) else {
            return;
        };
        let Ok(rules) = serde_json::from_str::<Vec<String>>(rules_json) else {
            return;
        };
        for r in rules {
            self.counts.entry(r).or_insert([0; HOURS])[b] += 1;
        }
    }

    /// A rule's counts (zeros when it matched nothing).
    pub fn of(&self, rule: &str) -> [u64; HOURS] {
        self.counts.get(rule).copied().unwrap_or([0; HOURS])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_bounded() {
        let w = Window::new(3_725_000, 60, 60);
        assert_eq!(w.step_ms, 60_000);
        assert_eq!(w.n, 60);
        assert_eq!(
            w.start_ms + w.n * w.step_ms,
            3_780_000,
            "the last step holds now"
        );
        assert_eq!(w.bucket(3_725_000), Some(59));
        assert_eq!(w.bucket(w.start_ms), Some(0));
        assert_eq!(w.bucket(w.start_ms - 1), None);
        assert_eq!(w.bucket(3_780_000), None);
        // A day in 1 s steps would be 86,400 points: coarsened.
        let w = Window::new(0, 100_000, 1);
        assert!(w.n <= MAX_POINTS);
        assert_eq!(w.n * w.step_ms, MAX_MINUTES * 60_000);
    }

    #[test]
    fn latency_percentiles_per_step() {
        let w = Window::new(120_000 - 1, 2, 60);
        let mut s = LatencySeries::new(w);
        for i in 1..=100 {
            s.add(10, i * 10);
        }
        s.add(-5, 1_000_000);
        let p = s.points();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].t_ms, p[0].count), (0, 100));
        assert_eq!(p[0].p50, Some(500));
        assert_eq!(p[0].p99, Some(990));
        assert_eq!((p[1].count, p[1].p50), (0, None));
    }

    #[test]
    fn verdicts_and_hourly_rule_matches() {
        let w = Window::new(119_999, 2, 60);
        let pts = verdict_points(
            &w,
            &[
                (0, "deny".into(), 2),
                (1, "allow".into(), 3),
                (7, "x".into(), 1),
            ],
        );
        assert_eq!(pts[0].counts.get("deny"), Some(&2));
        assert_eq!(pts[1].counts.get("allow"), Some(&3));
        let now = 100 * 3_600_000 + 5;
        let mut h = Hourly::new(now);
        h.add(now, r#"["a","b"]"#);
        h.add(now - 3_600_000, r#"["a"]"#);
        h.add(h.since_ms() - 1, r#"["a"]"#);
        h.add(now, "not json");
        let a = h.of("a");
        assert_eq!((a[HOURS - 1], a[HOURS - 2]), (1, 1));
        assert_eq!(a.iter().sum::<u64>(), 2);
        assert_eq!(h.of("b")[HOURS - 1], 1);
        assert_eq!(h.of("c"), [0; HOURS]);
    }
}
