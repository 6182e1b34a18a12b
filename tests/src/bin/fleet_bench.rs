//! `fleet-bench`: the fleet forwarder's isolation and cost (issue 20; BENCHMARKS.md).
//!
//! 1. **isolation**: verdict latency over hookd's Unix socket (hook-client's framing, one
//!    connection, a new event per request: evaluated and committed), p50/p99 of the round trip
//!    and of hookd's own processing and request latency, with no sink, with a sink that
//!    accepts TCP and never answers, and with one answering 503 in a tight retry loop
//!    (backoff 1–5 ms). Rounds are interleaved (none, hang, 503, none, …) and the spread
//!    between the no-sink rounds is the noise the ratios are read against.
//! 2. **catch-up**: a store holding `--backlog` events (1,000,000 by default, inserted with
//!    SQLite while hookd is stopped), then hookd started with an OTLP sink to the in-process
//!    receiver: the time until the sink's lag is 0 (events/s = forwarding throughput), and
//!    hookd's peak RSS meanwhile against its RSS with the same store and no sink.
//!
//! 3. **reliability**: `--requests` events answered while the receiver is down, then hookd
//!    killed (-9) twice while batches are in flight (a slow receiver) and more events answered
//!    in between: events acknowledged, delivered (distinct keys), sent more than once, lost.
//!
//! Relative figures are what it reports: the machine is shared. Build in release:
//! `cargo build --release -p hookd -p hook-tests --bin fleet-bench --bin hookd`, then
//! `target/release/fleet-bench [--requests N (5000)] [--rounds R (3)] [--backlog N]`.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hook_protocol::{HookEnv, HookRequest, Request, Response};
use hook_tests::bench_daemon::{BenchDaemon, percentile};
use hook_tests::harness::pause;
use hook_tests::otlp::{Mode, Receiver};

fn hookd_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("hookd")))
        .unwrap_or_else(|| PathBuf::from("hookd"))
}

fn event(session: &str, n: u64) -> Vec<u8> {
    format!(
        "{{\"session_id\":\"{session}\",\"transcript_path\":\"/tmp/bench/{session}.jsonl\",\
         \"cwd\":\"/tmp/bench-project\",\"permission_mode\":\"default\",\
         \"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":\
         {{\"command\":\"cargo test --workspace\",\"description\":\"Run the tests\"}},\
         \"tool_use_id\":\"toolu_bench_{n:012}\",\"prompt_id\":\"prompt-{session}\"}}\n"
    )
    .into_bytes()
}

fn request(s: &mut UnixStream, req: &Request) -> anyhow::Result<Response> {
    hook_protocol::write_message(&mut *s, req)?;
    Ok(hook_protocol::read_message::<_, Response>(&mut *s)?)
}

/// One figure of a [`Round`].
type Metric = fn(&Round) -> u64;

struct Round {
    rtt_p50: u64,
    rtt_p99: u64,
    proc_p50: u64,
    proc_p99: u64,
    req_p50: u64,
    req_p99: u64,
    sink_requests: u64,
}

/// `requests` verdicts over the socket after `warmup`, against a hookd with `settings`.
fn latency_round(
    settings: &str,
    requests: usize,
    warmup: usize,
    tag: &str,
) -> anyhow::Result<Round> {
    let d = BenchDaemon::start(&hookd_binary(), "hookd-fleet-bench-", settings)?;
    let mut s = UnixStream::connect(d.socket())?;
    let session = format!("fleet-bench-{tag}-{}", std::process::id());
    let mut rtt = Vec::with_capacity(requests);
    for n in 0..(warmup + requests) as u64 {
        let req = Request::Hook(HookRequest {
            event: event(&session, n),
            env: HookEnv::default(),
            options: hook_protocol::ClientOptions::default(),
            id: None,
            env_file: None,
        });
        let t0 = Instant::now();
        match request(&mut s, &req)? {
            Response::Verdict(_) => {}
            other => bail!("unexpected answer {other:?}"),
        }
        if n >= warmup as u64 {
            rtt.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
    }
    rtt.sort_unstable();
    let Response::Stats(st) = request(&mut s, &Request::Stats)? else {
        bail!("no stats");
    };
    let sink_requests = st
        .sinks
        .iter()
        .flat_map(|s| s.requests.iter().map(|(_, n)| *n))
        .sum();
    Ok(Round {
        rtt_p50: percentile(&rtt, 0.5) / 1000,
        rtt_p99: percentile(&rtt, 0.99) / 1000,
        proc_p50: st.processing_us.p50,
        proc_p99: st.processing_us.p99,
        req_p50: st.request_us.p50,
        req_p99: st.request_us.p99,
        sink_requests,
    })
}

fn sink(endpoint: &str, extra: &str) -> String {
    format!("[sink.bench]\nkind = \"otlp\"\nendpoint = \"{endpoint}\"\nlinger = \"5ms\"\n{extra}")
}

fn isolation(requests: usize, rounds: usize) -> anyhow::Result<()> {
    let hang = Receiver::start(Mode::Hang);
    let busy = Receiver::start(Mode::Unavailable {
        count: usize::MAX,
        retry_after: None,
    });
    let configs = [
        ("none", String::new()),
        ("hang", sink(&hang.endpoint(), "timeout = \"10s\"\n")),
        (
            "503",
            sink(
                &busy.endpoint(),
                "backoff_min = \"1ms\"\nbackoff_max = \"5ms\"\n",
            ),
        ),
    ];
    let mut results: Vec<(&str, Vec<Round>)> =
        configs.iter().map(|(n, _)| (*n, Vec::new())).collect();
    for r in 0..rounds {
        for (i, (name, settings)) in configs.iter().enumerate() {
            let round = latency_round(settings, requests, requests / 5, &format!("{name}{r}"))?;
            eprintln!(
                "round {r} {name:>4}: socket rtt p50 {} µs p99 {} µs; processing p50 {} p99 {}; request p50 {} p99 {}; sink requests {}",
                round.rtt_p50,
                round.rtt_p99,
                round.proc_p50,
                round.proc_p99,
                round.req_p50,
                round.req_p99,
                round.sink_requests
            );
            results[i].1.push(round);
        }
    }
    let med = |v: &[Round], f: fn(&Round) -> u64| -> f64 {
        let mut x: Vec<u64> = v.iter().map(f).collect();
        x.sort_unstable();
        x[x.len() / 2] as f64
    };
    let base = &results[0].1;
    let spread = |f: fn(&Round) -> u64| -> f64 {
        let x: Vec<u64> = base.iter().map(f).collect();
        let (lo, hi) = (
            *x.iter().min().unwrap() as f64,
            *x.iter().max().unwrap() as f64,
        );
        if lo > 0.0 { hi / lo } else { 0.0 }
    };
    println!(
        "isolation ({rounds} rounds × {requests} verdicts, medians of the rounds; ratio to no sink; noise = max/min over the no-sink rounds)"
    );
    let metrics: [(&str, Metric); 6] = [
        ("socket rtt p50", |r| r.rtt_p50),
        ("socket rtt p99", |r| r.rtt_p99),
        ("processing p50", |r| r.proc_p50),
        ("processing p99", |r| r.proc_p99),
        ("request p50", |r| r.req_p50),
        ("request p99", |r| r.req_p99),
    ];
    for (label, f) in metrics {
        let b = med(base, f);
        let mut line = format!("  {label:<15} none {b:>6.0} µs (noise {:.2}×)", spread(f));
        for (name, rounds) in &results[1..] {
            let m = med(rounds, f);
            line.push_str(&format!(
                "; {name} {m:>6.0} µs ({:.2}×)",
                if b > 0.0 { m / b } else { 0.0 }
            ));
        }
        println!("{line}");
    }
    for (name, rounds) in &results[1..] {
        println!(
            "  sink requests during a round ({name}): {:?}",
            rounds.iter().map(|r| r.sink_requests).collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// hookd's peak RSS so far (kB).
fn hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn catch_up(backlog: u64) -> anyhow::Result<()> {
    // A store with the schema (hookd made it), then the backlog inserted directly.
    let keep = tempfile::Builder::new()
        .prefix("hookd-fleet-db-")
        .tempdir()?;
    let db = keep.path().join("hookd.db");
    let seed = BenchDaemon::start_with_db(&hookd_binary(), "hookd-fleet-backlog-", "", &db)?;
    let mut s = UnixStream::connect(seed.socket())?;
    let req = Request::Hook(HookRequest {
        event: event("seed", 0),
        env: HookEnv::default(),
        options: hook_protocol::ClientOptions::default(),
        id: None,
        env_file: None,
    });
    request(&mut s, &req)?;
    drop(s);
    drop(seed); // SIGTERM: the store is closed and checkpointed
    let t0 = Instant::now();
    {
        let mut conn = rusqlite::Connection::open(&db)?;
        let tx = conn.transaction()?;
        {
            let now: i64 = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
                .try_into()?;
            let mut st = tx.prepare(
                "INSERT INTO events (time_ms, session_id, event, tool, project_dir, payload, verdict,
                   reason, rules, latency_us, source, summary)
                 VALUES (?1, ?2, 'PreToolUse', 'Bash', '/tmp/bench-project', ?3, 'allow', NULL,
                   '[]', 40, 'socket', 'cargo test --workspace')",
            )?;
            for n in 0..backlog {
                let session = format!("backlog-{}", n / 1000);
                let payload = event(&session, n);
                st.execute(rusqlite::params![now - 1000, session, payload])?;
            }
        }
        tx.commit()?;
    }
    eprintln!(
        "backlog of {backlog} events inserted in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let bytes = std::fs::metadata(&db)?.len();
    // The same store without a sink: hookd's RSS for reference.
    let plain = {
        let d = BenchDaemon::start_with_db(&hookd_binary(), "hookd-fleet-plain-", "", &db)?;
        pause(Duration::from_secs(2));
        hwm_kb(d.pid())
    };
    let rx = Receiver::start(Mode::Ok);
    rx.keys_only();
    let d = BenchDaemon::start_with_db(
        &hookd_binary(),
        "hookd-fleet-catchup-",
        &sink(&rx.endpoint(), ""),
        &db,
    )?;
    let t0 = Instant::now();
    let mut s = UnixStream::connect(d.socket())?;
    loop {
        let Response::Stats(st) = request(&mut s, &Request::Stats)? else {
            bail!("no stats");
        };
        let lag = st.sinks.first().map_or(u64::MAX, |s| s.lag_events);
        if lag == 0 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(1800) {
            bail!("not caught up in 30 min (lag {lag})");
        }
        pause(Duration::from_millis(100));
    }
    let took = t0.elapsed().as_secs_f64();
    let delivered = rx.stored_count() as u64;
    println!(
        "catch-up: {backlog} events ({:.0} MB store) delivered in {took:.1} s = {:.0} events/s \
         ({delivered} records received); hookd peak RSS {} kB with the sink catching up vs {} kB \
         with no sink",
        bytes as f64 / 1e6,
        delivered as f64 / took,
        hwm_kb(d.pid()),
        plain
    );
    Ok(())
}

/// Sends `n` new events over one socket connection; returns how many were answered (each
/// answer means committed: acknowledged).
fn send_events(d: &BenchDaemon, session: &str, n: u64) -> anyhow::Result<u64> {
    let mut s = UnixStream::connect(d.socket())?;
    let mut acked = 0;
    for i in 0..n {
        let req = Request::Hook(HookRequest {
            event: event(session, i),
            env: HookEnv::default(),
            options: hook_protocol::ClientOptions::default(),
            id: None,
            env_file: None,
        });
        if matches!(request(&mut s, &req)?, Response::Verdict(_)) {
            acked += 1;
        }
    }
    Ok(acked)
}

fn lag(d: &BenchDaemon) -> anyhow::Result<u64> {
    let mut s = UnixStream::connect(d.socket())?;
    let Response::Stats(st) = request(&mut s, &Request::Stats)? else {
        bail!("no stats");
    };
    Ok(st.sinks.first().map_or(u64::MAX, |s| s.lag_events))
}

fn kill9(d: BenchDaemon) {
    if let Ok(pid) = libc::pid_t::try_from(d.pid()) {
        #[allow(unsafe_code)]
        // SAFETY: a signal to our own child, not reaped yet (the drop below reaps it).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    drop(d);
}

/// Outage then kill -9 twice while batches are in flight: events acknowledged, delivered
/// (distinct keys), sent more than once, lost.
fn reliability(n: u64) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("hookd-fleet-rel-")
        .tempdir()?;
    let db = dir.path().join("hookd.db");
    let port = hook_tests::otlp::free_port();
    let settings = sink(
        &format!("http://127.0.0.1:{port}"),
        "backoff_min = \"10ms\"\nbackoff_max = \"100ms\"\nbatch_events = 64\n",
    );
    let start = |tag: &str| BenchDaemon::start_with_db(&hookd_binary(), tag, &settings, &db);
    // The receiver is down while the first half is answered.
    let d = start("hookd-fleet-rel-1-")?;
    let mut acked = send_events(&d, "rel-a", n / 2)?;
    let outage_lag = lag(&d)?;
    let rx = Receiver::start_on(port, Mode::Slow(Duration::from_millis(20)));
    // Up: killed -9 while it catches up (a batch in flight, its cursor not yet stored).
    let t0 = Instant::now();
    while rx.received().len() < (n / 4) as usize && t0.elapsed() < Duration::from_secs(600) {
        pause(Duration::from_millis(5));
    }
    kill9(d);
    let d = start("hookd-fleet-rel-2-")?;
    acked += send_events(&d, "rel-b", n - n / 2)?;
    let t0 = Instant::now();
    while rx.received().len() < (3 * n / 4) as usize && t0.elapsed() < Duration::from_secs(600) {
        pause(Duration::from_millis(5));
    }
    kill9(d);
    let d = start("hookd-fleet-rel-3-")?;
    let t0 = Instant::now();
    while lag(&d)? > 0 {
        if t0.elapsed() > Duration::from_secs(900) {
            bail!("not delivered within 15 min");
        }
        pause(Duration::from_millis(50));
    }
    let received = rx.received();
    let keys: std::collections::BTreeSet<(String, i64)> = received
        .iter()
        .map(|r| (r.store_id.clone(), r.id))
        .collect();
    let stored: u64 =
        rusqlite::Connection::open(&db)?
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    println!(
        "reliability: {acked} events acknowledged ({stored} in the store; lag {outage_lag} during \
         the outage); delivered {} distinct keys ({} records received, {} sent again after the two \
         kill -9); lost {}",
        keys.len(),
        received.len(),
        received.len() - keys.len(),
        acked.saturating_sub(keys.len() as u64)
    );
    drop(d);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut requests = 5000;
    let mut rounds = 3;
    let mut backlog = 1_000_000;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().context("a value is missing");
        match a.as_str() {
            "--requests" => requests = val()?.parse()?,
            "--rounds" => rounds = val()?.parse()?,
            "--backlog" => backlog = val()?.parse()?,
            "--only" => only = Some(val()?),
            _ => bail!(
                "usage: fleet-bench [--requests N (5000)] [--rounds R (3)] [--backlog N (1000000)] [--only isolation|catch-up|reliability]"
            ),
        }
    }
    match only.as_deref() {
        Some("isolation") => isolation(requests, rounds)?,
        Some("catch-up") => catch_up(backlog)?,
        Some("reliability") => reliability(requests as u64)?,
        _ => {
            isolation(requests, rounds)?;
            catch_up(backlog)?;
            reliability(requests as u64)?;
        }
    }
    Ok(())
}
