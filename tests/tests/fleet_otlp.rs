//! Fleet forwarding to OTLP (issue 20), against the in-repo fault-injecting receiver
//! (`hook_tests::otlp`): every stored event delivered once with its key `(store_id, id)`
//! through outages, kill -9, a replaced store file and receiver faults; held on 401; counted
//! when the size cap drops it; the configuration refused where it does not belong.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, wait_for};
use hook_tests::otlp::{Mode, Receiver, free_port};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

/// hookd.toml with one OTLP sink `otel` to `endpoint` (short linger and backoff) plus `extra`.
fn config(endpoint: &str, extra: &str) -> String {
    format!(
        "[fleet]\nhost = \"test-host\"\nlabels = {{ team = \"payments\" }}\n\
         [sink.otel]\nkind = \"otlp\"\nendpoint = \"{endpoint}\"\nlinger = \"20ms\"\n\
         backoff_min = \"20ms\"\nbackoff_max = \"200ms\"\ntimeout = \"2s\"\n{extra}"
    )
}

fn send(d: &TestDaemon, n: usize, session: &str) {
    for i in 0..n {
        let ev = event_json(
            "PreToolUse",
            session,
            &json!({
                "tool_name": "Bash",
                "tool_input": {"command": format!("echo {i}")},
                "tool_use_id": format!("toolu_{session}_{i}"),
                "prompt_id": format!("prompt-{session}"),
            }),
        );
        let out = d.hook(&ev, &[]).unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

/// The stored events' ids, oldest first.
fn stored_ids(d: &TestDaemon) -> Vec<i64> {
    let mut ids: Vec<i64> = d
        .events(100_000, &[])
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn sink(d: &TestDaemon) -> Value {
    d.status().unwrap()["hookd"]["sinks"][0].clone()
}

fn flush(d: &TestDaemon, timeout: &str) -> (i32, String) {
    let out = d.hookctl(&["sink", "flush", "--timeout", timeout]).unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn doctor(d: &TestDaemon) -> (i32, Vec<Value>) {
    let out = d.hookctl(&["doctor", "--json"]).unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "sink")
        .cloned()
        .collect();
    (out.status.code().unwrap_or(-1), checks)
}

/// The receiver is down when hookd starts: events wait (lag shown, flush fails), then every
/// one is delivered exactly once, in order, with Claude Code's attribute names.
#[test]
fn receiver_down_at_start_then_up_delivers_every_event_once_in_order() {
    let port = free_port();
    let d = TestDaemon::start_with(&[(
        "hookd.toml",
        &config(&format!("http://127.0.0.1:{port}"), ""),
    )])
    .unwrap();
    send(&d, 30, "s1");
    let (code, text) = flush(&d, "300ms");
    assert_ne!(code, 0, "flush with the receiver down must fail: {text}");
    assert!(text.contains("NOT FLUSHED"), "{text}");
    let s = sink(&d);
    assert_eq!(s["lag_events"], 30, "{s}");
    assert_eq!(s["ok"], false, "{s}");
    let status = d.hookctl(&["status"]).unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("SINK ERROR otel"), "{text}");
    assert!(text.contains("lag 30 events"), "{text}");

    let rx = Receiver::start_on(port, Mode::Ok);
    let (code, text) = flush(&d, "30s");
    assert_eq!(code, 0, "{text}");
    let got = rx.stored();
    let ids: Vec<i64> = got.iter().map(|r| r.id).collect();
    assert_eq!(ids, stored_ids(&d), "every event once, in order");
    let store_ids: BTreeSet<&str> = got.iter().map(|r| r.store_id.as_str()).collect();
    assert_eq!(store_ids.len(), 1);
    assert_eq!(store_ids.iter().next().unwrap().len(), 32);
    let r = &got[0];
    assert_eq!(r.host, "test-host");
    assert_eq!(r.resource["service.name"], "hookd");
    assert_eq!(r.resource["team"], "payments");
    assert_eq!(r.event_name, "hookd.hook_event");
    assert_eq!(r.attrs["session.id"], "s1");
    assert_eq!(r.attrs["prompt.id"], "prompt-s1");
    assert_eq!(r.attrs["tool_use_id"], "toolu_s1_0");
    assert_eq!(r.attrs["tool_name"], "Bash");
    assert_eq!(r.attrs["hook_event"], "PreToolUse");
    assert_eq!(r.body.as_deref(), Some("echo 0"));
    assert!(r.attrs.contains_key("hookd.verdict"));
    assert!(r.attrs.contains_key("hookd.uid"));
    assert!(
        !r.attrs.contains_key("hookd.payload"),
        "payload only when asked"
    );
    let s = sink(&d);
    assert_eq!(
        (s["lag_events"].as_u64(), s["ok"].as_bool()),
        (Some(0), Some(true)),
        "{s}"
    );
    assert_eq!(s["sent"], 30, "{s}");
    let metrics = d.hookctl(&["metrics"]).unwrap();
    let m = String::from_utf8_lossy(&metrics.stdout);
    for line in [
        "hookd_sink_lag_events{sink=\"otel\"} 0",
        "hookd_sink_sent_total{sink=\"otel\"} 30",
        "hookd_sink_dropped_total{sink=\"otel\"} 0",
        "hookd_sink_requests_total{sink=\"otel\",outcome=\"retry\"}",
        "hookd_sink_last_success_timestamp_seconds{sink=\"otel\"}",
        "hookd_sink_lag_seconds{sink=\"otel\"} 0",
        "hookd_sink_retries_total{sink=\"otel\"}",
        "hookd_sink_rejected_total{sink=\"otel\"} 0",
    ] {
        assert!(m.contains(line), "{line} in\n{m}");
    }
}

/// hookd killed (-9) after the receiver got a batch but before the cursor moved: the next
/// start sends those events again with the same keys, and the union is complete.
#[test]
fn kill9_between_send_and_cursor_persist_resends_with_the_same_keys() {
    let rx = Receiver::start(Mode::Hang);
    let mut d = TestDaemon::start_with(&[("hookd.toml", &config(&rx.endpoint(), ""))]).unwrap();
    send(&d, 12, "k");
    wait_for(DEADLINE, "a batch in flight", || !rx.received().is_empty()).unwrap();
    let first = rx.received();
    d.kill9().unwrap();
    rx.set_mode(Mode::Ok);
    d.spawn().unwrap();
    send(&d, 3, "k2");
    let (code, text) = flush(&d, "30s");
    assert_eq!(code, 0, "{text}");
    let stored = rx.stored();
    let keys = |v: &[hook_tests::otlp::Record]| -> BTreeSet<(String, i64)> {
        v.iter().map(|r| (r.store_id.clone(), r.id)).collect()
    };
    assert!(
        keys(&first).is_subset(&keys(&stored)),
        "the batch in flight at the kill is sent again with the same keys"
    );
    let all: BTreeSet<i64> = stored.iter().map(|r| r.id).collect();
    assert_eq!(
        all.into_iter().collect::<Vec<_>>(),
        stored_ids(&d),
        "nothing lost"
    );
}

/// The store file replaced while hookd runs: a new store_id, ids from 1 again, and delivery
/// goes on from the new file's cursor.
#[test]
fn a_replaced_store_file_gets_a_new_store_id_and_delivery_continues() {
    let rx = Receiver::start(Mode::Ok);
    let d = TestDaemon::start_with(&[("hookd.toml", &config(&rx.endpoint(), ""))]).unwrap();
    send(&d, 5, "a");
    assert_eq!(flush(&d, "30s").0, 0);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(d.home().join(format!("hookd.db{suffix}")));
    }
    send(&d, 4, "b");
    let (code, text) = flush(&d, "30s");
    assert_eq!(code, 0, "{text}");
    let got = rx.stored();
    let files: Vec<&str> = got
        .iter()
        .map(|r| r.store_id.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(files.len(), 2, "{got:?}");
    let after: Vec<i64> = got
        .iter()
        .filter(|r| r.attrs["session.id"] == "b")
        .map(|r| r.id)
        .collect();
    assert_eq!(after, stored_ids(&d), "the new file's events, each once");
    assert_eq!(
        after[0], 1,
        "a new file starts its ids again (new key space)"
    );
}

/// 401: nothing is skipped, status and doctor say so (FAIL); a fixed receiver gets it all.
#[test]
fn an_auth_failure_holds_every_event_and_doctor_fails() {
    let rx = Receiver::start(Mode::Unauthorized);
    let d = TestDaemon::unstarted(&[(
        "hookd.toml",
        &config(&rx.endpoint(), "token_file = \"TOKEN\"\n"),
    )])
    .unwrap();
    let token = d.home().join("otel-token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = std::fs::read_to_string(d.home().join("hookd.toml"))
        .unwrap()
        .replace("TOKEN", token.to_str().unwrap());
    std::fs::write(d.home().join("hookd.toml"), text).unwrap();
    let mut d = d;
    d.spawn().unwrap();
    send(&d, 6, "auth");
    wait_for(DEADLINE, "the 401 reported", || {
        sink(&d)["error"]
            .as_str()
            .is_some_and(|e| e.contains("authentication refused"))
    })
    .unwrap();
    let s = sink(&d);
    assert_eq!(s["lag_events"], 6, "held, nothing skipped: {s}");
    assert_eq!(s["rejected"], 0, "{s}");
    assert_eq!(s["config_error"], true, "{s}");
    let (code, checks) = doctor(&d);
    assert_ne!(code, 0);
    assert_eq!(checks[0]["level"], "fail", "{checks:?}");
    let stats = d.hookctl(&["stats", "--json"]).unwrap();
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["health"], "degraded", "{stats}");
    assert_eq!(
        rx.auth()[0].as_deref(),
        Some("Bearer s3cret-token"),
        "the token from the 0600 file"
    );
    rx.set_mode(Mode::Ok);
    let (code, text) = flush(&d, "30s");
    assert_eq!(code, 0, "{text}");
    let ids: Vec<i64> = rx.stored().iter().map(|r| r.id).collect();
    assert_eq!(ids, stored_ids(&d));
}

/// 503 bursts (Retry-After honoured), 413 over a few records (split) and a 400 for one
/// event (bisected, that one skipped and counted): every other event arrives exactly once.
#[test]
fn receiver_faults_are_retried_split_and_bisected() {
    let rx = Receiver::start(Mode::Unavailable {
        count: 3,
        retry_after: Some(0),
    });
    let d = TestDaemon::start_with(&[(
        "hookd.toml",
        &config(&rx.endpoint(), "compression = \"gzip\"\n"),
    )])
    .unwrap();
    send(&d, 10, "f");
    assert_eq!(flush(&d, "30s").0, 0);
    let s = sink(&d);
    assert!(s["retries"].as_u64().unwrap() >= 3, "{s}");
    // 413 for more than 3 records per request.
    rx.set_mode(Mode::TooLarge { max_records: 3 });
    send(&d, 10, "g");
    assert_eq!(flush(&d, "30s").0, 0);
    // A 400 for any request holding the 25th event.
    rx.set_mode(Mode::RejectIds(vec![25]));
    send(&d, 10, "h");
    assert_eq!(flush(&d, "30s").0, 0);
    let ids: Vec<i64> = rx.stored().iter().map(|r| r.id).collect();
    let expected: Vec<i64> = stored_ids(&d).into_iter().filter(|&i| i != 25).collect();
    assert_eq!(
        ids, expected,
        "each once, in order, the refused one skipped"
    );
    let s = sink(&d);
    assert_eq!(s["rejected"], 1, "{s}");
    let requests: Vec<(String, u64)> = serde_json::from_value(s["requests"].clone()).unwrap();
    let by = |k: &str| requests.iter().find(|(n, _)| n == k).map_or(0, |(_, c)| *c);
    assert!(by("too_large") >= 1 && by("rejected") >= 1, "{requests:?}");
}

/// `partial_success` with rejected records: counted as rejected, not retried.
#[test]
fn partial_success_is_counted_not_retried() {
    let rx = Receiver::start(Mode::Partial { rejected: 2 });
    let d = TestDaemon::start_with(&[("hookd.toml", &config(&rx.endpoint(), ""))]).unwrap();
    send(&d, 5, "p");
    assert_eq!(flush(&d, "30s").0, 0);
    let s = sink(&d);
    assert!(s["rejected"].as_u64().unwrap() >= 2, "{s}");
    let ids: Vec<i64> = rx.received().iter().map(|r| r.id).collect();
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "not sent again: {ids:?}");
}

/// The size cap prunes events a down sink never got: counted per sink, shown in status, in
/// the metrics and as a doctor FAIL.
#[test]
fn the_size_cap_with_the_sink_down_counts_what_it_dropped() {
    let port = free_port();
    let mut d = TestDaemon::start_with(&[(
        "hookd.toml",
        &config(
            &format!("http://127.0.0.1:{port}"),
            "[store]\nmax_size = 1\n",
        ),
    )])
    .unwrap();
    send(&d, 8, "cap");
    // Retention runs two seconds after a start.
    d.signal_and_wait(libc::SIGTERM).unwrap();
    d.spawn().unwrap();
    wait_for(DEADLINE, "dropped counted", || {
        sink(&d)["dropped"].as_u64().unwrap_or(0) > 0
    })
    .unwrap();
    let s = sink(&d);
    assert_eq!(s["dropped"].as_u64(), Some(7), "all but the newest: {s}");
    let status = d.hookctl(&["status"]).unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("7 DROPPED"), "{text}");
    let (code, checks) = doctor(&d);
    assert_ne!(code, 0);
    assert_eq!(checks[0]["level"], "fail", "{checks:?}");
    let m = d.hookctl(&["metrics"]).unwrap();
    assert!(
        String::from_utf8_lossy(&m.stdout).contains("hookd_sink_dropped_total{sink=\"otel\"} 7")
    );
    // What is left is still delivered.
    let rx = Receiver::start_on(port, Mode::Ok);
    assert_eq!(flush(&d, "30s").0, 0);
    assert_eq!(
        rx.stored().iter().map(|r| r.id).collect::<Vec<_>>(),
        stored_ids(&d)
    );
}

/// Plain http:// to a host off loopback is refused (the sink does not start, doctor FAILs),
/// and hookd answers anyway.
#[test]
fn plain_http_off_loopback_is_refused_and_hookd_answers_anyway() {
    let d = TestDaemon::start_with(&[(
        "hookd.toml",
        &config("http://collector.example.invalid:4318", ""),
    )])
    .unwrap();
    send(&d, 2, "pl");
    let s = sink(&d);
    let e = s["error"].as_str().unwrap_or_default();
    assert!(e.contains("allow_plaintext"), "{s}");
    assert_eq!(s["lag_events"], 2, "{s}");
    let (code, checks) = doctor(&d);
    assert_ne!(code, 0);
    assert_eq!(checks[0]["level"], "fail", "{checks:?}");
    let st = d.status().unwrap();
    assert!(
        st["hookd"]["rule_errors"].as_array().unwrap().is_empty(),
        "{st}"
    );
}

/// `[fleet]` and `[sink.*]` belong in hookd.toml: a rule file holding them is refused.
#[test]
fn fleet_settings_in_rules_d_are_refused() {
    let d = TestDaemon::start_with(&[(
        "rules.d/team.toml",
        "[sink.otel]\nkind = \"otlp\"\nendpoint = \"http://127.0.0.1:1\"\n",
    )])
    .unwrap();
    let st = d.status().unwrap();
    let errors = st["hookd"]["rule_errors"].to_string();
    assert!(errors.contains("`sink` is a daemon setting"), "{errors}");
    assert!(st["hookd"]["sinks"].as_array().unwrap().is_empty(), "{st}");
}

/// OTLP over TLS: with the receiver's CA in `ca_file` every event arrives; a receiver hookd
/// cannot verify (no `ca_file`: the system roots do not know the test CA) gets nothing and the
/// sink says why, events waiting; a receiver that asks for a client certificate (mTLS) gets
/// the events only from the sink configured with `cert_file`/`key_file`.
#[test]
fn https_verifies_the_receiver_and_mtls_presents_the_client_certificate() {
    let certs_dir = tempfile::tempdir().unwrap();
    let Some(certs) = hook_tests::certs::make(certs_dir.path()).unwrap() else {
        return;
    };
    let ca = format!("ca_file = \"{}\"\n", certs.ca.display());
    let client = format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n",
        certs.client_cert.display(),
        certs.client_key.display()
    );
    let delivered = |extra: &str, client_auth: bool| {
        let rx = Receiver::start_tls(Mode::Ok, &certs, client_auth);
        assert!(rx.endpoint().starts_with("https://"));
        let d = TestDaemon::start_with(&[("hookd.toml", &config(&rx.endpoint(), extra))]).unwrap();
        send(&d, 5, "tls");
        let (code, text) = flush(&d, "30s");
        assert_eq!(code, 0, "{extra}: {text}");
        let ids: Vec<i64> = rx.stored().iter().map(|r| r.id).collect();
        assert_eq!(ids, stored_ids(&d), "{extra}");
        assert_eq!(rx.stored()[0].attrs["session.id"], "tls");
    };
    delivered(&ca, false);
    delivered(&format!("{ca}{client}"), true);

    // Not verifiable: nothing is sent, the events wait, the sink says why.
    let rx = Receiver::start_tls(Mode::Ok, &certs, false);
    let d = TestDaemon::start_with(&[("hookd.toml", &config(&rx.endpoint(), ""))]).unwrap();
    send(&d, 4, "untrusted");
    wait_for(DEADLINE, "the TLS failure reported", || {
        sink(&d)["error"].as_str().is_some_and(|e| !e.is_empty())
    })
    .unwrap();
    let s = sink(&d);
    assert_eq!(s["lag_events"], 4, "{s}");
    assert_eq!(s["sent"], 0, "{s}");
    assert_eq!(rx.stored_count(), 0);
    drop(d);

    // mTLS without a client certificate: refused in the handshake, nothing delivered.
    let rx = Receiver::start_tls(Mode::Ok, &certs, true);
    let d = TestDaemon::start_with(&[("hookd.toml", &config(&rx.endpoint(), &ca))]).unwrap();
    send(&d, 3, "no-client-cert");
    let (code, text) = flush(&d, "1s");
    assert_ne!(code, 0, "{text}");
    assert_eq!(rx.stored_count(), 0);
    assert_eq!(sink(&d)["lag_events"], 3);
}
