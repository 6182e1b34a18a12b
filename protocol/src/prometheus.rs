//! The Prometheus text exposition format (version 0.0.4) of a [`StatsReport`]: what hookd's
//! `GET /metrics` serves and `hookctl stats --prometheus` prints, from the same report.

use std::fmt::Write as _;

use crate::StatsReport;

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders a report in the Prometheus text exposition format (version 0.0.4).
#[must_use]
pub fn render(r: &StatsReport) -> String {
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, label: &str, rows: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (k, v) in rows {
            let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {v}", escape_label(k));
        }
    };
    counter(
        "hookd_events_by_event_total",
        "Events answered since start, by hook event.",
        "event",
        &r.by_event,
    );
    counter(
        "hookd_events_by_tool_total",
        "Tool events answered since start, by tool.",
        "tool",
        &r.by_tool,
    );
    counter(
        "hookd_events_by_verdict_total",
        "Events answered since start, by verdict.",
        "verdict",
        &r.by_verdict,
    );
    counter(
        "hookd_rule_matches_total",
        "Rule matches since start.",
        "rule",
        &r.by_rule,
    );
    counter(
        "hookd_redactions_total",
        "Events redacted before storage, by kind.",
        "kind",
        &r.redactions,
    );
    let mut simple = |name: &str, kind: &str, help: &str, v: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    };
    simple(
        "hookd_events_total",
        "counter",
        "Events answered since start.",
        r.events.to_string(),
    );
    simple(
        "hookd_store_events",
        "gauge",
        "Events in the store.",
        r.events_total.to_string(),
    );
    simple(
        "hookd_fallbacks_recorded",
        "gauge",
        "Events hook-client answered by its fail mode, recorded.",
        r.fallbacks.to_string(),
    );
    simple(
        "hookd_spool_backlog_bytes",
        "gauge",
        "Bytes waiting in the spool.",
        r.spool_backlog_bytes.to_string(),
    );
    simple(
        "hookd_deduplicated_total",
        "counter",
        "Duplicate deliveries answered from the dedup window.",
        r.deduplicated.to_string(),
    );
    simple(
        "hookd_bypasses_total",
        "counter",
        "Tool calls that ran without a PreToolUse (bypass alarms).",
        r.bypasses.to_string(),
    );
    simple(
        "hookd_duplicates_dropped_total",
        "counter",
        "Spooled copies of events already in the store, dropped.",
        r.duplicates_dropped.to_string(),
    );
    simple(
        "hookd_journal_events",
        "gauge",
        "Answered events waiting in the emergency journal for the store.",
        r.journal_events.to_string(),
    );
    simple(
        "hookd_not_durable_total",
        "counter",
        "Events answered by their fail mode because nothing could record them.",
        r.not_durable.to_string(),
    );
    simple(
        "hookd_runs_total",
        "counter",
        "Executions (attempts) of run rules finished since start.",
        r.runs.to_string(),
    );
    simple(
        "hookd_run_failures_total",
        "counter",
        "Run rule executions that failed (exit other than 0 and 2, killed, no start, bad output).",
        r.run_failures.to_string(),
    );
    simple(
        "hookd_run_timeouts_total",
        "counter",
        "Run rule executions killed at their timeout.",
        r.run_timeouts.to_string(),
    );
    simple(
        "hookd_runs_pending",
        "gauge",
        "Background runs waiting for a slot or a retry, or running.",
        r.runs_pending.to_string(),
    );
    simple(
        "hookd_events_per_second_1m",
        "gauge",
        "Events per second over the last minute.",
        format!("{:.3}", r.rate_1m.0),
    );
    simple(
        "hookd_events_per_second_5m",
        "gauge",
        "Events per second over the last five minutes.",
        format!("{:.3}", r.rate_5m.0),
    );
    let health = match r.health.as_str() {
        "healthy" => 0,
        "degraded" => 1,
        _ => 2,
    };
    simple(
        "hookd_health",
        "gauge",
        "0 healthy, 1 degraded, 2 unhealthy.",
        health.to_string(),
    );
    for (name, help, l) in [
        (
            "hookd_processing_microseconds",
            "hookd's processing time per event.",
            &r.processing_us,
        ),
        (
            "hookd_request_microseconds",
            "Whole request time, store commit included.",
            &r.request_us,
        ),
        (
            "hookd_store_write_microseconds",
            "Store commit time per group.",
            &r.store_write_us,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
        for (q, v) in [
            ("0.5", l.p50),
            ("0.95", l.p95),
            ("0.99", l.p99),
            ("1", l.max),
        ] {
            let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {v}");
        }
        let _ = writeln!(out, "{name}_sum {}", l.sum);
        let _ = writeln!(out, "{name}_count {}", l.count);
    }
    sinks(&mut out, &r.sinks);
    out
}

/// The fleet sinks' series, one per sink (`sink` label); a family is written only when a sink
/// is configured. Alert rules (docs/fleet.md) use exactly these names.
fn sinks(out: &mut String, sinks: &[crate::SinkReport]) {
    if sinks.is_empty() {
        return;
    }
    let mut family =
        |name: &str, kind: &str, help: &str, value: &dyn Fn(&crate::SinkReport) -> String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for s in sinks {
                let _ = writeln!(
                    out,
                    "{name}{{sink=\"{}\"}} {}",
                    escape_label(&s.name),
                    value(s)
                );
            }
        };
    family(
        "hookd_sink_lag_events",
        "gauge",
        "Stored events the sink has not delivered.",
        &|s| s.lag_events.to_string(),
    );
    family(
        "hookd_sink_lag_seconds",
        "gauge",
        "Age of the oldest event the sink has not delivered (0: none).",
        &|s| format!("{:.3}", s.lag_ms as f64 / 1000.0),
    );
    family(
        "hookd_sink_sent_total",
        "counter",
        "Events the sink delivered since start.",
        &|s| s.sent.to_string(),
    );
    family(
        "hookd_sink_retries_total",
        "counter",
        "Requests the sink retried since start.",
        &|s| s.retries.to_string(),
    );
    family(
        "hookd_sink_rejected_total",
        "counter",
        "Events the receiver refused permanently (skipped) since start.",
        &|s| s.rejected.to_string(),
    );
    family(
        "hookd_sink_dropped_total",
        "counter",
        "Events the store's size cap pruned before the sink delivered them.",
        &|s| s.dropped.to_string(),
    );
    family(
        "hookd_sink_last_success_timestamp_seconds",
        "gauge",
        "When the sink last delivered (seconds since the epoch; 0: not since start).",
        &|s| format!("{:.3}", s.last_success_ms.unwrap_or(0) as f64 / 1000.0),
    );
    let _ = writeln!(
        out,
        "# HELP hookd_sink_requests_total Requests to the sink since start, by outcome.\n\
         # TYPE hookd_sink_requests_total counter"
    );
    for s in sinks {
        for (outcome, n) in &s.requests {
            let _ = writeln!(
                out,
                "hookd_sink_requests_total{{sink=\"{}\",outcome=\"{}\"}} {n}",
                escape_label(&s.name),
                escape_label(outcome)
            );
        }
    }
}
