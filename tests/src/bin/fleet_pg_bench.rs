//! `fleet-pg-bench`: the PostgreSQL sink's figures for BENCHMARKS.md and RELIABILITY.md.
//!
//! Starts its own PostgreSQL 15 (tests/src/pg.rs: 127.0.0.1, temp dir, `fsync=off`) with the
//! central schema and the least-privilege role, and its own hookd (the binaries beside this
//! one, or `HOOKD_TEST_BIN_DIR`) in a temp `HOOKD_HOME`, then:
//!
//! 1. **catch-up** (`--backlog N`, default 1,000,000): a store holding N undelivered events
//!    (one real event from hook-client, cloned N−1 times in SQLite while hookd is stopped),
//!    then hookd started with `[sink.central]`: seconds until the sink's lag is 0, events/s,
//!    hookd's peak RSS meanwhile, and the central row count.
//! 2. **live** (`--live M`, default 20,000): M events through hook-client from 4 threads with
//!    the sink up; the hook rate, and how long after the last event the lag is 0.
//! 3. **restarts** (`--restarts K`, default 3): PostgreSQL restarted K times while 4 threads
//!    send `--restart-events` (default 3,000) events through hook-client: events acknowledged,
//!    delivered (distinct keys centrally), duplicates, lost.
//!
//! Everything stays on 127.0.0.1 and is bounded. Build in release:
//! `cargo build --release -p hookd -p hook-client -p hookctl -p hook-tests --bin fleet-pg-bench`,
//! then `target/release/fleet-pg-bench`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hook_tests::harness::{TestDaemon, event_json, pause};
use hook_tests::pg::PgServer;

const DB: &str = "fleet";
const WRITER: &str = "hookd_writer";
const PASSWORD: &str = "bench-pw";

struct Opts {
    backlog: u64,
    live: u64,
    restarts: u32,
    restart_events: u64,
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("HOOKD_TEST_BIN_DIR").is_none() {
        // The harness looks for binaries beside a test executable's deps/ dir; this one sits
        // beside them. Set before any thread starts.
        let exe = std::env::current_exe()?;
        #[allow(unsafe_code)]
        // SAFETY: single-threaded here; nothing reads the environment concurrently.
        unsafe {
            std::env::set_var("HOOKD_TEST_BIN_DIR", exe.parent().context("exe dir")?);
        }
    }
    let mut o = Opts {
        backlog: 1_000_000,
        live: 20_000,
        restarts: 3,
        restart_events: 3_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || -> anyhow::Result<u64> {
            args.next()
                .context("a number after the flag")?
                .replace('_', "")
                .parse()
                .context("a number")
        };
        match a.as_str() {
            "--backlog" => o.backlog = num()?,
            "--live" => o.live = num()?,
            "--restarts" => o.restarts = u32::try_from(num()?)?,
            "--restart-events" => o.restart_events = num()?,
            _ => bail!(
                "usage: fleet-pg-bench [--backlog N] [--live M] [--restarts K] [--restart-events M]"
            ),
        }
    }
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if o.backlog > 0 {
        catch_up(o.backlog)?;
    }
    if o.live > 0 {
        live(o.live)?;
    }
    if o.restarts > 0 {
        restarts(o.restarts, o.restart_events)?;
    }
    Ok(())
}

/// A server with the schema and the writer role, and the writer's 0600 password file.
fn server(secrets: &Path) -> anyhow::Result<(PgServer, std::path::PathBuf)> {
    let pg = PgServer::start().context("PostgreSQL 15 is not installed")?;
    pg.query("postgres", &format!("CREATE DATABASE {DB}"));
    pg.query(
        "postgres",
        &format!("CREATE ROLE {WRITER} LOGIN PASSWORD '{PASSWORD}'"),
    );
    let cfg = hookd::fleet_pg::PgConfig {
        url: pg.url("postgres", DB),
        password_file: None,
        ca_file: None,
        table: "hookd_events".into(),
        schema: None,
    };
    let sql = hookd::fleet_pg::schema_sql(&cfg)? + &hookd::fleet_pg::grants_sql(&cfg, WRITER)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(hookd::fleet_pg::apply_sql(&cfg, &sql))?;
    let pw = secrets.join("pg-password");
    std::fs::write(&pw, PASSWORD)?;
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok((pg, pw))
}

fn sink_toml(pg: &PgServer, pw: &Path) -> String {
    format!(
        "[fleet]\nhost = \"bench\"\n\n[sink.central]\nkind = \"postgres\"\nurl = \"{}\"\n\
         password_file = \"{}\"\nbackoff_min = \"50ms\"\nbackoff_max = \"1s\"\n",
        pg.url(WRITER, DB),
        pw.display()
    )
}

fn count(pg: &PgServer) -> u64 {
    pg.query(DB, "SELECT count(*) FROM hookd_events")
        .parse()
        .unwrap_or(0)
}

fn send(d: &TestDaemon, tag: &str, n: u64) -> anyhow::Result<u64> {
    let mut ok = 0;
    for i in 0..n {
        let event = event_json(
            "PreToolUse",
            &format!("bench-{tag}"),
            &serde_json::json!({
                "tool_name": "Bash",
                "tool_input": { "command": format!("echo {tag} {i}") },
                "tool_use_id": format!("toolu_{tag}_{i}"),
            }),
        );
        let out = d.hook(&event, &[])?;
        if out.status.success() {
            ok += 1;
        }
    }
    Ok(ok)
}

/// The store's newest event id (hookd.db, read-only; a rowid lookup).
fn local_max_id(d: &TestDaemon) -> anyhow::Result<i64> {
    Ok(rusqlite::Connection::open_with_flags(
        d.home().join("hookd.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?
    .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?)
}

/// The newest id delivered centrally (the primary key's index, backwards: cheap). Events go
/// out in id order, so it reaching the store's newest id means the lag is 0. Polled instead of
/// `hookctl metrics`, whose stats read the whole store and would slow hookd down.
fn central_max_id(pg: &PgServer) -> i64 {
    pg.query(
        DB,
        "SELECT coalesce(max(local_id), 0) FROM hookd_events WHERE host = 'bench'",
    )
    .parse()
    .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn wait_lag_zero(
    d: &TestDaemon,
    pg: &PgServer,
    limit: Duration,
) -> anyhow::Result<(Duration, u64)> {
    let start = Instant::now();
    let last = local_max_id(d)?;
    let mut peak = 0;
    loop {
        if let Some(pid) = d.pid() {
            peak = peak.max(rss_kib(pid));
        }
        let got = central_max_id(pg);
        if got >= last {
            return Ok((start.elapsed(), peak));
        }
        if start.elapsed() > limit {
            bail!("delivered through id {got} of {last} after {limit:?}");
        }
        pause(Duration::from_millis(100));
    }
}

fn catch_up(n: u64) -> anyhow::Result<()> {
    let secrets = tempfile::tempdir()?;
    let (pg, pw) = server(secrets.path())?;
    let mut d = TestDaemon::start()?;
    send(&d, "seed", 1)?;
    d.signal_and_wait(libc::SIGTERM)?;
    // N−1 clones of the one real event, new ids and times, in one transaction.
    let db = rusqlite::Connection::open(d.home().join("hookd.db"))?;
    let cols: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('events')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let copy: Vec<&str> = cols
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "id" && *c != "spool_id")
        .collect();
    let select: Vec<String> = copy
        .iter()
        .map(|c| match *c {
            "time_ms" => "time_ms + x".to_string(),
            "session_id" => "'bench-' || (x % 200)".to_string(),
            "verdict" => "CASE WHEN x % 10 = 0 THEN 'deny' ELSE verdict END".to_string(),
            "latency_us" => "latency_us + x % 500".to_string(),
            other => other.to_string(),
        })
        .collect();
    let t = Instant::now();
    db.execute_batch(&format!(
        "INSERT INTO events ({}) SELECT {} FROM events, \
         (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {}) \
         SELECT x FROM c) WHERE id = (SELECT min(id) FROM events)",
        copy.join(", "),
        select.join(", "),
        n - 1
    ))?;
    drop(db);
    println!(
        "catch-up: backlog of {n} events made in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    std::fs::write(d.home().join("hookd.toml"), sink_toml(&pg, &pw))?;
    d.spawn()?;
    let (took, peak) = wait_lag_zero(&d, &pg, Duration::from_secs(1800))?;
    let central = count(&pg);
    println!(
        "catch-up: {n} events delivered in {:.1} s = {:.0} events/s; hookd peak RSS {} MiB; \
         central rows {central}",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        peak / 1024
    );
    if central != n {
        bail!("central rows {central} != {n}");
    }
    Ok(())
}

fn live(m: u64) -> anyhow::Result<()> {
    let secrets = tempfile::tempdir()?;
    let (pg, pw) = server(secrets.path())?;
    let d = TestDaemon::start_with(&[("hookd.toml", &sink_toml(&pg, &pw))])?;
    let t = Instant::now();
    let sent: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|k| {
                let d = &d;
                s.spawn(move || send(d, &format!("live{k}"), m / 4))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_or(0))
            .sum()
    });
    let sending = t.elapsed();
    let (after, _) = wait_lag_zero(&d, &pg, Duration::from_secs(600))?;
    println!(
        "live: {sent} events through hook-client in {:.1} s ({:.0}/s); lag 0 {:.2} s after the \
         last one; {:.0} events/s delivered end to end; central rows {}",
        sending.as_secs_f64(),
        sent as f64 / sending.as_secs_f64(),
        after.as_secs_f64(),
        sent as f64 / (sending + after).as_secs_f64(),
        count(&pg)
    );
    Ok(())
}

fn restarts(k: u32, m: u64) -> anyhow::Result<()> {
    let secrets = tempfile::tempdir()?;
    let (mut pg, pw) = server(secrets.path())?;
    let d = TestDaemon::start_with(&[("hookd.toml", &sink_toml(&pg, &pw))])?;
    let acked: u64 = std::thread::scope(|s| -> anyhow::Result<u64> {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let d = &d;
                s.spawn(move || send(d, &format!("r{t}"), m / 4))
            })
            .collect();
        for _ in 0..k {
            pause(Duration::from_millis(700));
            pg.restart()?;
        }
        Ok(handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_or(0))
            .sum())
    })?;
    let flush = d.hookctl(&["sink", "flush", "--timeout", "120s"])?;
    if !flush.status.success() {
        bail!("sink flush: {}", String::from_utf8_lossy(&flush.stdout));
    }
    let stored: u64 = rusqlite::Connection::open_with_flags(
        d.home().join("hookd.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?
    .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    let distinct: u64 = pg
        .query(
            DB,
            "SELECT count(DISTINCT (host, store_id, local_id)) FROM hookd_events",
        )
        .parse()?;
    let rows = count(&pg);
    let metrics = String::from_utf8_lossy(&d.hookctl(&["metrics"])?.stdout).to_string();
    let retries = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hookd_sink_retries_total{sink=\"central\"} "))
        .unwrap_or("?")
        .to_string();
    println!(
        "restarts: PostgreSQL restarted {k} times during {m} hook events: acknowledged {acked}, \
         stored {stored}, delivered {distinct} distinct ({} duplicate rows), lost {}; sink \
         retries {retries}",
        rows - distinct,
        stored.saturating_sub(distinct)
    );
    Ok(())
}
