//! `ui-bench`: what an open dashboard costs the hook path.
//!
//! Starts its own hookd (the `hookd` built beside this binary, or `--hookd PATH`) in a
//! temporary `HOOKD_HOME` with `[ui] listen = "127.0.0.1:0"` and the default packs, logs in
//! the way `hookctl ui` does (a `UiLogin` request on the Unix socket, then the login URL), and
//! sends PreToolUse events over one socket connection, as hook-client frames them, paced at
//! `--rate` events a second, measuring each verdict's round trip. Phases of `--seconds` each:
//! 0 streams, 1 stream, 8 streams, 0 streams again (the machine's drift), repeated `--rounds`
//! times. Each stream is a thread reading `GET /ui/api/stream` and counting the events it
//! receives (every stream must receive every event sent while it was open). Prints p50/p99
//! per phase, the ratios to the 0-stream phases, and hookd's RSS at the end of each phase.
//!
//! Everything is bounded and stays on 127.0.0.1 and a temporary directory. Build it in
//! release: `cargo build --release -p hookd -p hook-tests --bin ui-bench --bin hookd`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hook_protocol::{HookEnv, HookRequest, Request, Response};
use hook_tests::bench_daemon::{BenchDaemon, percentile};
use hook_tests::harness::pause;

struct Args {
    hookd: Option<PathBuf>,
    rate: u64,
    seconds: u64,
    rounds: usize,
}

const USAGE: &str = "usage: ui-bench [--hookd PATH] [--rate EVENTS_PER_S (1000)] [--seconds S (10)] [--rounds N (2)]";

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        hookd: None,
        rate: 1000,
        seconds: 10,
        rounds: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--hookd" => a.hookd = Some(PathBuf::from(value()?)),
            "--rate" => a.rate = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--rounds" => a.rounds = value()?.parse()?,
            _ => bail!("{USAGE}"),
        }
    }
    anyhow::ensure!(a.rate > 0 && a.rate <= 100_000, "--rate 1..=100000");
    anyhow::ensure!(a.seconds > 0 && a.seconds <= 600, "--seconds 1..=600");
    anyhow::ensure!(a.rounds > 0 && a.rounds <= 20, "--rounds 1..=20");
    Ok(a)
}

/// An open event stream, read by a thread of its own.
struct Stream {
    events: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl Stream {
    fn open(port: u16, cookie: &str) -> anyhow::Result<Self> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
        write!(
            s,
            "GET /ui/api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: hookd_ui={cookie}\r\n\r\n"
        )?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line)?;
        anyhow::ensure!(line.contains(" 200 "), "stream refused: {line}");
        loop {
            line.clear();
            r.read_line(&mut line)?;
            if line.trim().is_empty() {
                break;
            }
        }
        let events = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ev, st) = (Arc::clone(&events), Arc::clone(&stop));
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            // Counts `id:` lines in the (chunked) body; reads whatever arrives, as a browser.
            let mut buf = vec![0u8; 64 * 1024];
            let mut carry = Vec::new();
            while !st.load(Ordering::Relaxed) {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        carry.extend_from_slice(&buf[..n]);
                        let mut last = 0;
                        for (i, w) in carry.windows(4).enumerate() {
                            if w == b"\nid:" {
                                ev.fetch_add(1, Ordering::Relaxed);
                                last = i + 1;
                            }
                        }
                        carry.drain(..last.max(carry.len().saturating_sub(3)));
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        });
        Ok(Self {
            events,
            stop,
            thread,
        })
    }

    fn close(self) -> anyhow::Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("stream thread panicked"))??;
        Ok(self.events.load(Ordering::Relaxed))
    }
}

/// Logs in as `hookctl ui` does; the session cookie and the dashboard's port.
fn login(d: &BenchDaemon) -> anyhow::Result<(String, u16)> {
    let mut s = UnixStream::connect(d.socket())?;
    hook_protocol::write_message(&mut s, &Request::UiLogin)?;
    let Response::UiLogin(login) = hook_protocol::read_message::<_, Response>(&mut s)? else {
        bail!("no login URL");
    };
    let rest = login.url.strip_prefix("http://127.0.0.1:").context("url")?;
    let (port, path) = rest.split_once('/').context("url")?;
    let port: u16 = port.parse()?;
    let mut t = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        t,
        "GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = String::new();
    t.read_to_string(&mut head)?;
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: hookd_ui="))
        .and_then(|v| v.split(';').next())
        .with_context(|| format!("no cookie in {head}"))?;
    Ok((cookie.to_string(), port))
}

fn event(n: u64) -> Vec<u8> {
    let mut e = format!(
        "{{\"session_id\":\"ui-bench\",\"transcript_path\":\"/tmp/t.jsonl\",\"cwd\":\"/tmp/p\",\
         \"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_use_id\":\"toolu_{n}\",\
         \"tool_input\":{{\"command\":\"git status --short && ls -la src/{n}\"}}}}"
    )
    .into_bytes();
    e.push(b'\n');
    e
}

/// Sends events at `rate` for `seconds`; the round trips (µs).
fn paced(s: &mut UnixStream, n: &mut u64, rate: u64, seconds: u64) -> anyhow::Result<Vec<u64>> {
    let total = rate * seconds;
    let gap = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now();
    let mut rtt = Vec::with_capacity(usize::try_from(total)?);
    for i in 0..total {
        let due = start + gap * u32::try_from(i)?;
        let now = Instant::now();
        if due > now {
            pause(due - now);
        }
        *n += 1;
        let req = Request::Hook(HookRequest {
            event: event(*n),
            env: HookEnv::default(),
            options: hook_protocol::ClientOptions::default(),
            id: None,
            env_file: None,
        });
        let t0 = Instant::now();
        hook_protocol::write_message(&mut *s, &req)?;
        match hook_protocol::read_message::<_, Response>(&mut *s)? {
            Response::Verdict(_) => {}
            other => bail!("unexpected answer {other:?}"),
        }
        rtt.push(u64::try_from(t0.elapsed().as_micros())?);
    }
    Ok(rtt)
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let hookd = match &a.hookd {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("hookd"),
    };
    let d = BenchDaemon::start(
        &hookd,
        "hookd-ui-bench-",
        "[ui]\nlisten = \"127.0.0.1:0\"\n",
    )?;
    let (cookie, port) = login(&d)?;
    let mut sock = UnixStream::connect(d.socket())?;
    let mut n = 0;
    // Warm up: rules, store, allocator.
    paced(&mut sock, &mut n, a.rate, 2)?;
    println!(
        "ui-bench: {} events/s, {} s per phase, {} rounds; hookd {}",
        a.rate,
        a.seconds,
        a.rounds,
        hookd.display()
    );
    println!("phase        streams   p50 µs   p99 µs   max µs   RSS MB   events per stream");
    let mut by_streams: std::collections::BTreeMap<usize, Vec<(u64, u64)>> = Default::default();
    for round in 0..a.rounds {
        for streams in [0usize, 1, 8, 0] {
            let open: Vec<Stream> = (0..streams)
                .map(|_| Stream::open(port, &cookie))
                .collect::<anyhow::Result<_>>()?;
            // Each stream has its start point before the first event of the phase.
            pause(Duration::from_millis(300));
            let mut rtt = paced(&mut sock, &mut n, a.rate, a.seconds)?;
            // Let the streams take the last rows (they read at most every 50 ms).
            pause(Duration::from_millis(500));
            let rss = d.rss_kb();
            let sent = rtt.len() as u64;
            let mut got = Vec::new();
            for s in open {
                got.push(s.close()?);
            }
            for g in &got {
                anyhow::ensure!(*g >= sent, "a stream received {g} of {sent} events");
            }
            rtt.sort_unstable();
            let (p50, p99) = (percentile(&rtt, 0.50), percentile(&rtt, 0.99));
            by_streams.entry(streams).or_default().push((p50, p99));
            println!(
                "round {round}      {streams:>3}   {p50:>7}  {p99:>7}  {:>7}   {:>6.1}   {}",
                rtt.last().copied().unwrap_or(0),
                rss as f64 / 1024.0,
                if got.is_empty() {
                    "-".to_string()
                } else {
                    format!("{} (sent {sent})", got.iter().min().unwrap_or(&0))
                }
            );
            // The closed streams' places are freed before the next phase.
            pause(Duration::from_millis(300));
        }
    }
    let mean = |v: &[(u64, u64)], f: fn(&(u64, u64)) -> u64| {
        v.iter().map(f).sum::<u64>() as f64 / v.len() as f64
    };
    let base = &by_streams[&0];
    let (b50, b99) = (mean(base, |x| x.0), mean(base, |x| x.1));
    println!("mean over phases: 0 streams p50 {b50:.0} µs, p99 {b99:.0} µs");
    for (s, v) in &by_streams {
        let (p50, p99) = (mean(v, |x| x.0), mean(v, |x| x.1));
        println!(
            "{s} streams: p50 {p50:.0} µs ({:.2}×), p99 {p99:.0} µs ({:.2}×)",
            p50 / b50,
            p99 / b99
        );
    }
    Ok(())
}
