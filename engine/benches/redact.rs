//! Cost of `Redactor::redact_payload` on ~1 KB PreToolUse payloads: one with no trigger at
//! all, a typical one (home paths in `cwd`/`transcript_path`, the daemon's common case), and
//! one laden with secrets; plus `redact_text` on a clean log line and `redact_value` on a
//! parsed typical payload.
//!
//! Run: `cargo bench -p hook-engine --bench redact`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hook_engine::redact::Redactor;
use serde_json::json;

fn payload(cwd: &str, command: &str) -> Vec<u8> {
    let v = json!({
        "session_id": "550e8400-e29b-41d4-a716-446655440000",
        "transcript_path": format!("{cwd}/.claude/projects/-x/550e8400-e29b-41d4-a716-446655440000.jsonl"),
        "cwd": cwd,
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {
            "command": command,
            "description": "Run the redaction unit tests and show the last fifty lines of output so we can see the timing numbers and any failures in detail",
            "timeout": 120_000,
        },
        "tool_use_id": "toolu_01ABCDefGhijKLmnOPqrSTuv",
        "extra": { "notes": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur." },
    });
    // Serializing a literal Value cannot fail.
    serde_json::to_vec(&v).unwrap_or_default()
}

const CLEAN_CMD: &str = "cargo test -p hookd --lib -- redact::tests --nocapture 2>&1 | tail -n 50";
const SECRET_CMD: &str = "GITHUB_TOKEN=ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 curl -H \
    'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop' \
    https://u:pw@api.example.com && echo alice@example.com 4111111111111111";

fn bench(c: &mut Criterion) {
    let r = Redactor::default();
    let cases = [
        ("no_trigger", payload("/srv/work/hookd", CLEAN_CMD)),
        (
            "typical_home_paths",
            payload("/home/alice/src/hookd", CLEAN_CMD),
        ),
        ("secrets", payload("/home/alice/src/hookd", SECRET_CMD)),
    ];
    let mut g = c.benchmark_group("redact_payload");
    for (name, p) in &cases {
        g.throughput(Throughput::Bytes(p.len() as u64));
        g.bench_function(*name, |b| b.iter(|| r.redact_payload(black_box(p))));
    }
    g.finish();

    let line =
        "2026-11-21T11:48:01Z INFO hookd: event answered verdict=allow rules=3 latency_us=412";
    c.bench_function("redact_text/clean_log_line", |b| {
        b.iter(|| r.redact_text(black_box(line)));
    });
    let parsed: serde_json::Value = serde_json::from_slice(&cases[1].1).unwrap_or_default();
    c.bench_function("redact_value/typical_home_paths", |b| {
        b.iter_batched(
            || parsed.clone(),
            |mut v| r.redact_value(&mut v).len(),
            criterion::BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
