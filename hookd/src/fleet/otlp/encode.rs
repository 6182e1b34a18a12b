//! A batch as an OTLP logs export request (the mapping is in the sink's module header).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::{Origin, OutEvent};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_string())
}

fn strings(v: &[String]) -> any_value::Value {
    any_value::Value::ArrayValue(ArrayValue {
        values: v.iter().map(|x| AnyValue { value: Some(s(x)) }).collect(),
    })
}

/// The severity of a verdict: deny/block → WARN, fallback/error → ERROR, else INFO.
#[must_use]
pub fn severity(verdict: &str) -> (SeverityNumber, &'static str) {
    if verdict == "deny" || verdict == "block" {
        (SeverityNumber::Warn, "WARN")
    } else if verdict == "error" || verdict.starts_with("error:") || verdict.starts_with("fallback")
    {
        (SeverityNumber::Error, "ERROR")
    } else {
        (SeverityNumber::Info, "INFO")
    }
}

/// The export request for a batch (see the module header for the mapping).
#[must_use]
pub fn encode(origin: &Origin, batch: &[OutEvent], now_ms: i64) -> ExportLogsServiceRequest {
    let mut resource = vec![
        kv("service.name", s("hookd")),
        kv("service.version", s(env!("CARGO_PKG_VERSION"))),
        kv("host.name", s(&origin.host)),
        kv("hookd.store_id", s(&origin.store_id)),
        kv(
            "hookd.epoch",
            any_value::Value::IntValue(i64::from(origin.epoch)),
        ),
    ];
    resource.extend(origin.labels.iter().map(|(k, v)| kv(k, s(v))));
    let nanos = |ms: i64| u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000);
    let records = batch
        .iter()
        .map(|e| {
            let (sev, sev_text) = severity(&e.verdict);
            let mut a = Vec::with_capacity(24);
            a.push(kv("event.name", s("hookd.hook_event")));
            let opt = |a: &mut Vec<KeyValue>, k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    a.push(kv(k, s(v)));
                }
            };
            opt(&mut a, "session.id", &e.session_id);
            opt(&mut a, "prompt.id", &e.prompt_id);
            opt(&mut a, "tool_use_id", &e.tool_use_id);
            opt(&mut a, "tool_name", &e.tool);
            a.push(kv("hook_event", s(&e.event)));
            a.push(kv(
                "hookd.event.uid",
                s(&format!("{}-{}-{}", origin.store_id, origin.epoch, e.id)),
            ));
            a.push(kv("hookd.event_id", any_value::Value::IntValue(e.id)));
            a.push(kv("hookd.store_id", s(&origin.store_id)));
            a.push(kv(
                "hookd.epoch",
                any_value::Value::IntValue(i64::from(origin.epoch)),
            ));
            a.push(kv("hookd.host", s(&origin.host)));
            a.push(kv(
                "hookd.uid",
                any_value::Value::IntValue(i64::from(e.uid)),
            ));
            a.push(kv("hookd.verdict", s(&e.verdict)));
            opt(&mut a, "hookd.reason", &e.reason);
            a.push(kv("hookd.rules", strings(&e.rules)));
            a.push(kv(
                "hookd.latency_us",
                any_value::Value::IntValue(e.latency_us),
            ));
            a.push(kv("hookd.source", s(&e.source)));
            opt(&mut a, "hookd.project", &e.project_dir);
            a.push(kv("hookd.redacted", strings(&e.redacted)));
            opt(&mut a, "hookd.payload", &e.payload);
            LogRecord {
                time_unix_nano: nanos(e.time_ms),
                observed_time_unix_nano: nanos(now_ms),
                severity_number: sev as i32,
                severity_text: sev_text.to_string(),
                body: e.summary.as_ref().map(|b| AnyValue { value: Some(s(b)) }),
                attributes: a,
                event_name: "hookd.hook_event".to_string(),
                ..LogRecord::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "hookd".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    fn ev(id: i64, verdict: &str) -> OutEvent {
        OutEvent {
            id,
            time_ms: 1_700_000_000_000 + id,
            session_id: Some("sess".into()),
            event: "PreToolUse".into(),
            tool: Some("Bash".into()),
            project_dir: Some("/p".into()),
            verdict: verdict.into(),
            reason: Some("why".into()),
            rules: vec!["r1".into(), "r2".into()],
            latency_us: 42,
            source: "socket".into(),
            summary: Some("git push --force".into()),
            redacted: vec!["aws".into()],
            prompt_id: Some("p-1".into()),
            tool_use_id: Some("toolu_1".into()),
            uid: 1000,
            payload: None,
        }
    }

    fn attr<'a>(r: &'a LogRecord, k: &str) -> Option<&'a any_value::Value> {
        r.attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    #[test]
    fn a_batch_round_trips_through_protobuf_with_claude_codes_names() {
        let origin = Origin {
            host: "h1".into(),
            store_id: "ab".repeat(16),
            epoch: 2,
            labels: vec![("team".into(), "payments".into())],
        };
        let req = encode(
            &origin,
            &[ev(7, "deny"), ev(8, "fallback:allow"), ev(9, "allow")],
            5,
        );
        let back = ExportLogsServiceRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, req);
        let rl = &back.resource_logs[0];
        let res = &rl.resource.as_ref().unwrap().attributes;
        for (k, v) in [
            ("service.name", "hookd"),
            ("host.name", "h1"),
            ("team", "payments"),
        ] {
            assert!(
                res.iter()
                    .any(|a| a.key == k && a.value.as_ref().unwrap().value == Some(s(v))),
                "{k}"
            );
        }
        let recs = &rl.scope_logs[0].log_records;
        assert_eq!(recs.len(), 3);
        let r = &recs[0];
        assert_eq!(r.severity_number, SeverityNumber::Warn as i32);
        assert_eq!(recs[1].severity_number, SeverityNumber::Error as i32);
        assert_eq!(recs[2].severity_number, SeverityNumber::Info as i32);
        assert_eq!(r.time_unix_nano, 1_700_000_000_007 * 1_000_000);
        assert_eq!(r.body.as_ref().unwrap().value, Some(s("git push --force")));
        for (k, v) in [
            ("session.id", "sess"),
            ("prompt.id", "p-1"),
            ("tool_use_id", "toolu_1"),
            ("tool_name", "Bash"),
            ("hook_event", "PreToolUse"),
            ("hookd.verdict", "deny"),
            ("hookd.host", "h1"),
            ("hookd.source", "socket"),
            ("hookd.project", "/p"),
        ] {
            assert_eq!(attr(r, k), Some(&s(v)), "{k}");
        }
        assert_eq!(
            attr(r, "hookd.event_id"),
            Some(&any_value::Value::IntValue(7))
        );
        assert_eq!(
            attr(r, "hookd.uid"),
            Some(&any_value::Value::IntValue(1000))
        );
        assert_eq!(
            attr(r, "hookd.latency_us"),
            Some(&any_value::Value::IntValue(42))
        );
        assert_eq!(
            attr(r, "hookd.rules"),
            Some(&strings(&["r1".into(), "r2".into()]))
        );
        assert!(
            attr(r, "hookd.payload").is_none(),
            "no payload unless asked"
        );
    }
}
