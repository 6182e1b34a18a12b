//! OTLP conformance (issue 20): what hookd's OTLP sink sends, plain and gzip, decoded by an
//! independent implementation — rotel (a Rust OpenTelemetry collector from PyPI, pinned in
//! tests/fleet/install-otlp.sh) with its detailed debug log — with Claude Code's attribute
//! names and hookd's own. Skipped loudly when rotel is not installed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, pause, wait_for};
use hook_tests::otlp::free_port;
use serde_json::json;

fn rotel_agent() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HOOKD_ROTEL") {
        return Some(PathBuf::from(p));
    }
    let cache = std::env::var_os("HOOKD_TEST_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/hookd-tests"),
        PathBuf::from,
    );
    let lib = cache.join("otlp-venv/lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|e| {
        let p = e.path().join("site-packages/rotel/rotel-agent");
        p.is_file().then_some(p)
    })
}

/// A rotel agent on 127.0.0.1, killed when dropped.
struct Rotel {
    child: std::process::Child,
    out: PathBuf,
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rotel {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

#[test]
fn rotel_decodes_what_hookd_sends_plain_and_gzip() {
    let Some(agent) = rotel_agent() else {
        eprintln!(
            "SKIPPED: rotel is not installed (bash tests/fleet/install-otlp.sh installs it into \
             ~/.cache/hookd-tests/otlp-venv)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (http, grpc) = (free_port(), free_port());
    let out = dir.path().join("rotel.out");
    let child = Command::new(&agent)
        .args([
            "start",
            "--otlp-http-endpoint",
            &format!("127.0.0.1:{http}"),
            "--otlp-grpc-endpoint",
            &format!("127.0.0.1:{grpc}"),
            "--exporter",
            "blackhole",
            "--debug-log",
            "logs",
            "--debug-log-verbosity",
            "detailed",
            "--pid-file",
            dir.path().join("rotel.pid").to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(dir.path().join("rotel.err")).unwrap())
        .spawn();
    let rotel = match child {
        Ok(child) => Rotel { child, out },
        Err(e) => {
            eprintln!("SKIPPED: rotel ({}) does not start: {e}", agent.display());
            return;
        }
    };
    wait_for(Duration::from_secs(30), "rotel listening", || {
        std::net::TcpStream::connect(("127.0.0.1", http)).is_ok()
    })
    .unwrap();
    let endpoint = format!("http://127.0.0.1:{http}");
    let d = TestDaemon::start_with(&[(
        "hookd.toml",
        &format!(
            "[fleet]\nhost = \"conformance-host\"\nlabels = {{ env = \"ci\" }}\n\
             [sink.plain]\nkind = \"otlp\"\nendpoint = \"{endpoint}\"\nlinger = \"10ms\"\n\
             [sink.gz]\nkind = \"otlp\"\nendpoint = \"{endpoint}\"\nlinger = \"10ms\"\n\
             compression = \"gzip\"\npayload = true\n"
        ),
    )])
    .unwrap();
    for i in 0..3 {
        let ev = event_json(
            "PreToolUse",
            "rotel-session",
            &json!({
                "tool_name": "Bash",
                "tool_input": {"command": "rm -rf /"},
                "tool_use_id": format!("toolu_rotel_{i}"),
                "prompt_id": "prompt-rotel",
            }),
        );
        d.hook(&ev, &[]).unwrap();
    }
    let out = d.hookctl(&["sink", "flush", "--timeout", "30s"]).unwrap();
    assert!(out.status.success(), "{out:?}");
    wait_for(
        Duration::from_secs(30),
        "rotel printed every record",
        || rotel.log().matches("EventName: hookd.hook_event").count() >= 6,
    )
    .unwrap_or_else(|e| panic!("{e}; rotel's log:\n{}", rotel.log()));
    pause(Duration::from_millis(100));
    let log = rotel.log();
    assert_eq!(
        log.matches("EventName: hookd.hook_event").count(),
        6,
        "{log}"
    );
    for want in [
        "-> service.name: Str(hookd)",
        "-> host.name: Str(conformance-host)",
        "-> env: Str(ci)",
        "-> session.id: Str(rotel-session)",
        "-> prompt.id: Str(prompt-rotel)",
        "-> tool_use_id: Str(toolu_rotel_2)",
        "-> tool_name: Str(Bash)",
        "-> hook_event: Str(PreToolUse)",
        "-> hookd.verdict: Str(deny)",
        "-> hookd.event_id: Int(3)",
        "-> hookd.latency_us: Int(",
        "-> hookd.rules: Slice(",
        "-> hookd.payload: Str(",
        "SeverityNumber: SEVERITY_NUMBER_WARN(13)",
        "Body: Str(rm -rf /)",
    ] {
        assert!(log.contains(want), "{want} not in rotel's log:\n{log}");
    }
    // The payload only from the sink that asked for it.
    assert_eq!(log.matches("-> hookd.payload: Str(").count(), 3, "{log}");
}
