//! Counters, latency histograms, rates and health, for `hookctl stats`/`metrics` and
//! `GET /metrics`.
//!
//! One short mutex section per event (a few map increments and two histogram records); no
//! I/O, no allocation once the label sets are warm.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hook_protocol::f64_bits::F64;
use hook_protocol::{Latency, StatsReport};

/// Seconds of per-second counts kept for rates.
const WINDOW_SECS: usize = 300;
/// The largest latency recorded exactly, in µs (larger values are clamped).
const MAX_US: u64 = 60_000_000;

struct Inner {
    by_event: HashMap<String, u64>,
    by_tool: HashMap<String, u64>,
    by_verdict: HashMap<String, u64>,
    by_rule: HashMap<String, u64>,
    redactions: HashMap<String, u64>,
    processing: Summary,
    request: Summary,
    store_write: Summary,
    /// Events per second, a ring indexed by second since `start`.
    per_second: [u64; WINDOW_SECS],
    last_second: u64,
    events: u64,
    deduplicated: u64,
    bypasses: u64,
}

/// The daemon's metrics.
pub struct Metrics {
    start: Instant,
    inner: Mutex<Inner>,
}

fn histogram() -> Histogram<u64> {
    // 3 significant figures, 1 µs .. 60 s.
    Histogram::new_with_bounds(1, MAX_US, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 sig figs is valid"))
    })
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    if let Some(v) = map.get_mut(key) {
        *v += 1;
    } else {
        map.insert(key.to_string(), 1);
    }
}

/// A latency distribution: the histogram for quantiles, and the exact sum of what was recorded
/// (the Prometheus summary's `_sum`, which a histogram only approximates).
struct Summary {
    hist: Histogram<u64>,
    sum: u64,
}

impl Summary {
    fn new() -> Self {
        Self {
            hist: histogram(),
            sum: 0,
        }
    }

    /// Records `us` microseconds (already clamped to the histogram's range).
    fn record(&mut self, us: u64) {
        let _ = self.hist.record(us);
        self.sum = self.sum.saturating_add(us);
    }
}

fn latency(s: &Summary) -> Latency {
    let h = &s.hist;
    Latency {
        count: h.len(),
        sum: s.sum,
        p50: h.value_at_quantile(0.50),
        p95: h.value_at_quantile(0.95),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
    }
}

fn sorted(map: &HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics starting now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                by_event: HashMap::new(),
                by_tool: HashMap::new(),
                by_verdict: HashMap::new(),
                by_rule: HashMap::new(),
                redactions: HashMap::new(),
                processing: Summary::new(),
                request: Summary::new(),
                store_write: Summary::new(),
                per_second: [0; WINDOW_SECS],
                last_second: 0,
                events: 0,
                deduplicated: 0,
                bypasses: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn advance(inner: &mut Inner, now_s: u64) {
        if now_s > inner.last_second {
            let gap = (now_s - inner.last_second).min(WINDOW_SECS as u64);
            for i in 1..=gap {
                inner.per_second[((inner.last_second + i) % WINDOW_SECS as u64) as usize] = 0;
            }
            inner.last_second = now_s;
        }
    }

    /// Records one answered event.
    #[allow(clippy::too_many_arguments)] // one value per label and latency
    pub fn record_event(
        &self,
        event: &str,
        tool: Option<&str>,
        verdict: &str,
        rules: &[String],
        redacted: &[&str],
        processing: Duration,
        request: Duration,
    ) {
        let now_s = self.start.elapsed().as_secs();
        let mut m = self.lock();
        m.events += 1;
        bump(&mut m.by_event, event);
        if let Some(t) = tool {
            bump(&mut m.by_tool, t);
        }
        bump(&mut m.by_verdict, verdict);
        for r in rules {
            bump(&mut m.by_rule, r);
        }
        for k in redacted {
            bump(&mut m.redactions, k);
        }
        let clamp = |d: Duration| {
            u64::try_from(d.as_micros())
                .unwrap_or(MAX_US)
                .clamp(1, MAX_US)
        };
        m.processing.record(clamp(processing));
        m.request.record(clamp(request));
        Self::advance(&mut m, now_s);
        m.per_second[(now_s % WINDOW_SECS as u64) as usize] += 1;
    }

    /// Records an event answered from the dedup window.
    pub fn record_dedup(&self) {
        self.lock().deduplicated += 1;
    }

    /// Records tool calls that ran without a PreToolUse (bypass alarms).
    pub fn record_bypasses(&self, n: u64) {
        self.lock().bypasses += n;
    }

    /// Records one store commit's duration.
    pub fn record_store_write(&self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        self.lock().store_write.record(us);
    }

    /// A report; `health` is filled by the caller, which knows the store and rules.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // rates are for display
    pub fn report(&self) -> StatsReport {
        let now_s = self.start.elapsed().as_secs();
        let mut m = self.lock();
        Self::advance(&mut m, now_s);
        let sum = |secs: u64| -> f64 {
            // Whole seconds before the current one, bounded by the daemon's age.
            let n = secs.min(now_s).max(1);
            let total: u64 = (1..=n)
                .map(|i| {
                    m.per_second[((now_s + WINDOW_SECS as u64 - i) % WINDOW_SECS as u64) as usize]
                })
                .sum();
            total as f64 / n as f64
        };
        StatsReport {
            events: m.events,
            by_event: sorted(&m.by_event),
            by_tool: sorted(&m.by_tool),
            by_verdict: sorted(&m.by_verdict),
            by_rule: sorted(&m.by_rule),
            redactions: sorted(&m.redactions),
            processing_us: latency(&m.processing),
            request_us: latency(&m.request),
            store_write_us: latency(&m.store_write),
            rate_1m: F64(sum(60)),
            rate_5m: F64(sum(300)),
            deduplicated: m.deduplicated,
            bypasses: m.bypasses,
            ..StatsReport::default()
        }
    }
}

/// The Prometheus text rendering of a report, shared with `hookctl stats --prometheus`.
pub use hook_protocol::prometheus::render as prometheus;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_latencies_and_rates() {
        let m = Metrics::new();
        for i in 0..100u64 {
            m.record_event(
                "PreToolUse",
                Some("Bash"),
                if i % 10 == 0 { "deny" } else { "none" },
                &["r".into()],
                &[],
                Duration::from_micros(i + 1),
                Duration::from_micros(2 * i + 1),
            );
        }
        m.record_store_write(Duration::from_micros(50));
        let r = m.report();
        assert_eq!(r.events, 100);
        assert_eq!(r.by_verdict, vec![("none".into(), 90), ("deny".into(), 10)]);
        assert_eq!(r.by_rule, vec![("r".into(), 100)]);
        assert_eq!(r.processing_us.count, 100);
        assert!(
            (49..=51).contains(&r.processing_us.p50),
            "{:?}",
            r.processing_us
        );
        assert_eq!(r.processing_us.max, 100);
        assert_eq!(r.store_write_us.count, 1);
        // Exact sums: 1 + 2 + ... + 100 and 1 + 3 + ... + 199.
        assert_eq!(r.processing_us.sum, 5050);
        assert_eq!(r.request_us.sum, 10_000);
        assert_eq!(r.store_write_us.sum, 50);
    }

    #[test]
    fn prometheus_text_is_well_formed() {
        let m = Metrics::new();
        m.record_event(
            "Stop",
            None,
            "block",
            &["gate\"x".into()],
            &["email"],
            Duration::from_micros(5),
            Duration::from_micros(9),
        );
        let mut r = m.report();
        r.health = "healthy".into();
        let text = prometheus(&r);
        assert!(text.contains("hookd_events_by_event_total{event=\"Stop\"} 1"));
        assert!(text.contains("hookd_rule_matches_total{rule=\"gate\\\"x\"} 1"));
        assert!(text.contains("hookd_processing_microseconds{quantile=\"0.99\"}"));
        // Every summary has its `_sum` and `_count` (the exposition format requires both).
        for name in [
            "hookd_processing_microseconds",
            "hookd_request_microseconds",
            "hookd_store_write_microseconds",
        ] {
            assert!(text.contains(&format!("# TYPE {name} summary\n")), "{text}");
            assert!(text.contains(&format!("\n{name}_count ")), "{name}: {text}");
            assert!(text.contains(&format!("\n{name}_sum ")), "{name}: {text}");
        }
        assert!(
            text.contains("\nhookd_processing_microseconds_sum 5\n"),
            "{text}"
        );
        assert!(
            text.contains("\nhookd_request_microseconds_sum 9\n"),
            "{text}"
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(!name.is_empty() && value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
