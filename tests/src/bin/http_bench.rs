//! `http-bench`: loopback load tool for hookd's HTTP listener.
//!
//! Starts its own hookd (the `hookd` built beside this binary, or `--hookd PATH`) in a
//! temporary `HOOKD_HOME` with `[http] listen = "127.0.0.1:0"` and the default packs, then:
//!
//! 0. **floor**: a bare TCP echo between two threads of this process, as many round trips:
//!    what any loopback exchange costs on this machine before HTTP or hookd add anything;
//! 1. **latency**: one keep-alive connection, `--requests` sequential `POST /hook` round
//!    trips (after `--warmup`), p50/p90/p99/max, and the same over the Unix socket
//!    (hook-client's framing) for comparison: first with one event repeated (hookd answers it
//!    from its dedup window: the transport alone), then with new events (evaluated and
//!    committed to the store, as in real use); then hookd's own latency summaries;
//! 2. **throughput**: `--connections` keep-alive connections sending as fast as they can for
//!    `--seconds`, requests per second and the latency percentiles under that load.
//!
//! With `--slowloris N`, instead: the latency of token-holding requests (one keep-alive
//! connection, then a fresh connection per request) without an attack, then during a
//! slowloris of `N` connections without the token (a child process running
//! `http-bench slowloris`, as `--attacker-uid` when given, reopening closed connections at
//! most `--attacker-rate` a second; measured from 3 s after the attack is up), then without
//! again; each with the share of requests answered within the p99 measured without the attack
//! (and, as a control for the machine's noise, the second quiet phase against the first).
//! `--http-setting 'KEY = VALUE'` adds a line under hookd.toml's `[http]`.
//!
//! `http-bench slowloris --addr IP:PORT --connections N [--seconds S] [--drip-ms MS]` is the
//! attacker on its own (the test suite runs it as another uid): `N` connections that each send
//! a request line and headers but never finish them, one more header line every `--drip-ms`,
//! and reconnect at once when hookd closes them. It prints `ready N` when every connection
//! has been opened once, and its counts at the end.
//!
//! Everything is bounded (requests, seconds) and stays on 127.0.0.1. Build it in release:
//! `cargo build --release -p hookd -p hook-tests --bin http-bench --bin hookd`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hook_protocol::{HookEnv, HookRequest, Request, Response};
use hook_tests::bench_daemon::BenchDaemon;
use hook_tests::harness::pause;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

struct Args {
    hookd: Option<PathBuf>,
    requests: usize,
    warmup: usize,
    connections: usize,
    seconds: u64,
    /// Connections of the slowloris attack (0: no attack, the usual benchmark).
    slowloris: usize,
    attacker_uid: Option<u32>,
    /// Lines added to hookd.toml's `[http]` (e.g. `max_unauthenticated = 256`).
    http_settings: String,
    /// The attacker's `--rate` (new connections per second; 0: unlimited).
    attacker_rate: u32,
    /// Requests on fresh connections per phase of the slowloris measurement.
    fresh: usize,
}

const USAGE: &str = "usage: http-bench [--hookd PATH] [--requests N (20000)] [--warmup N (2000)] \
                     [--connections N (64)] [--seconds S (10)] \
                     [--slowloris N [--attacker-uid UID] [--attacker-rate PER_S (0: unlimited)] \
                     [--fresh N (2000)]] [--http-setting 'KEY = VALUE' (under [http])]\n\
                     \x20      http-bench slowloris --addr IP:PORT --connections N \
                     [--seconds S (60)] [--drip-ms MS (1000)] [--rate PER_S (0: unlimited)]";

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        hookd: None,
        requests: 20_000,
        warmup: 2_000,
        connections: 64,
        seconds: 10,
        slowloris: 0,
        attacker_uid: None,
        attacker_rate: 0,
        http_settings: String::new(),
        fresh: 2_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--hookd" => a.hookd = Some(PathBuf::from(value()?)),
            "--requests" => a.requests = value()?.parse()?,
            "--warmup" => a.warmup = value()?.parse()?,
            "--connections" => a.connections = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--slowloris" => a.slowloris = value()?.parse()?,
            "--attacker-uid" => a.attacker_uid = Some(value()?.parse()?),
            "--attacker-rate" => a.attacker_rate = value()?.parse()?,
            "--http-setting" => {
                a.http_settings.push_str(&value()?);
                a.http_settings.push('\n');
            }
            "--fresh" => a.fresh = value()?.parse()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if a.requests == 0 || a.connections == 0 || a.seconds == 0 || a.seconds > 600 {
        bail!("--requests and --connections must be positive, --seconds 1..=600\n{USAGE}");
    }
    Ok(a)
}

/// A PreToolUse event for a harmless Bash command (the default packs evaluate it, no rule
/// matches: the common case). `n` makes the `tool_use_id` unique, as Claude Code's are: hookd
/// answers byte-identical deliveries from a short dedup window instead of evaluating them.
fn event(session: &str, n: u64) -> Bytes {
    Bytes::from(format!(
        "{{\"session_id\":\"{session}\",\"transcript_path\":\"/tmp/bench/{session}.jsonl\",\
         \"cwd\":\"/tmp/bench-project\",\"permission_mode\":\"default\",\
         \"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":\
         {{\"command\":\"cargo test --workspace\",\"description\":\"Run the tests\"}},\
         \"tool_use_id\":\"toolu_bench_{n:012}\"}}"
    ))
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    auth: String,
}

impl Conn {
    async fn open(addr: SocketAddr, token: &str) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            auth: format!("Bearer {token}"),
        })
    }

    async fn post(&mut self, body: Bytes) -> anyhow::Result<()> {
        let req = hyper::Request::post("/hook")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .header("authorization", &self.auth)
            .body(Full::new(body))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        if resp.status() != 200 {
            bail!("HTTP {}", resp.status());
        }
        resp.into_body().collect().await?;
        Ok(())
    }
}

/// `GET path` with the token, on a fresh connection.
async fn get(d: &BenchDaemon, path: &str) -> anyhow::Result<String> {
    let mut conn = Conn::open(d.addr, &d.token).await?;
    let req = hyper::Request::get(path)
        .header("host", "127.0.0.1")
        .header("authorization", &conn.auth)
        .body(Full::new(Bytes::new()))?;
    conn.sender.ready().await?;
    let resp = conn.sender.send_request(req).await?;
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Percentiles of round trips, in µs.
struct Summary {
    n: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

#[allow(clippy::cast_precision_loss)] // durations in ns fit f64 exactly enough for µs
fn summarize(mut ns: Vec<u64>) -> Summary {
    ns.sort_unstable();
    // No samples (every request failed): zeros, the count says why.
    let at = |q: f64| {
        let i = ((ns.len() as f64 * q).ceil() as usize).clamp(1, ns.len().max(1)) - 1;
        ns.get(i).map_or(0.0, |&v| v as f64 / 1000.0)
    };
    Summary {
        n: ns.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: ns.last().copied().unwrap_or(0) as f64 / 1000.0,
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.1}µs p90={:.1}µs p99={:.1}µs max={:.1}µs",
            self.n, self.p50, self.p90, self.p99, self.max
        )
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Round trips of `POST /hook` on one keep-alive connection. With `unique`, every event is
/// new (evaluated and recorded); without, the same bytes are sent again and again and hookd
/// answers them from its dedup window: what is left is the transport.
async fn http_latency(d: &BenchDaemon, a: &Args, unique: bool) -> anyhow::Result<Summary> {
    let mut conn = Conn::open(d.addr, &d.token).await?;
    let session = format!("bench-latency-http-{unique}");
    let mut n = 0;
    for _ in 0..a.warmup {
        n += u64::from(unique);
        conn.post(event(&session, n)).await?;
    }
    let mut rtt = Vec::with_capacity(a.requests);
    for _ in 0..a.requests {
        n += u64::from(unique);
        let body = event(&session, n);
        let t0 = Instant::now();
        conn.post(body).await?;
        rtt.push(nanos(t0.elapsed()));
    }
    Ok(summarize(rtt))
}

/// The same round trips over the Unix socket, as hook-client frames them (one connection
/// reused).
fn socket_latency(d: &BenchDaemon, a: &Args, unique: bool) -> anyhow::Result<Summary> {
    let mut s = UnixStream::connect(d.socket())?;
    let session = format!("bench-latency-socket-{unique}");
    let mut n = 0;
    let mut once = |s: &mut UnixStream| -> anyhow::Result<()> {
        n += u64::from(unique);
        let mut event = event(&session, n).to_vec();
        event.push(b'\n');
        let req = Request::Hook(HookRequest {
            event,
            env: HookEnv::default(),
            options: hook_protocol::ClientOptions::default(),
            id: None,
            env_file: None,
        });
        hook_protocol::write_message(&mut *s, &req)?;
        match hook_protocol::read_message::<_, Response>(&mut *s)? {
            Response::Verdict(_) => Ok(()),
            other => bail!("unexpected answer {other:?}"),
        }
    };
    for _ in 0..a.warmup {
        once(&mut s)?;
    }
    let mut rtt = Vec::with_capacity(a.requests);
    for _ in 0..a.requests {
        let t0 = Instant::now();
        once(&mut s)?;
        rtt.push(nanos(t0.elapsed()));
    }
    Ok(summarize(rtt))
}

/// The machine's floor for a loopback round trip: a thread echoing what it reads, the same
/// sizes as an HTTP hook exchange (a ~550-byte request, a ~110-byte reply). Whatever hookd
/// adds comes on top of this; on a VM it is mostly the cost of waking an idle virtual CPU.
fn tcp_floor(a: &Args) -> anyhow::Result<Summary> {
    const REQUEST: usize = 550;
    const REPLY: usize = 110;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        // A whole request before each reply, however the reads split it.
        let mut buf = [0u8; REQUEST];
        loop {
            match s.read_exact(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                r => r?,
            }
            s.write_all(&buf[..REPLY])?;
        }
    });
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let request = [b'x'; REQUEST];
    let mut reply = [0u8; REPLY];
    let mut rtt = Vec::with_capacity(a.requests);
    for i in 0..a.warmup + a.requests {
        let t0 = Instant::now();
        s.write_all(&request)?;
        s.read_exact(&mut reply)?;
        if i >= a.warmup {
            rtt.push(nanos(t0.elapsed()));
        }
    }
    drop(s);
    echo.join()
        .map_err(|_| anyhow::anyhow!("the echo thread panicked"))??;
    Ok(summarize(rtt))
}

async fn throughput(d: &BenchDaemon, a: &Args) -> anyhow::Result<(f64, Summary)> {
    let deadline = Duration::from_secs(a.seconds);
    let start = Arc::new(tokio::sync::Barrier::new(a.connections));
    let mut tasks = Vec::new();
    for i in 0..a.connections {
        let (addr, token, start) = (d.addr, d.token.clone(), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr, &token).await?;
            let session = format!("bench-load-{i}");
            start.wait().await;
            let t0 = Instant::now();
            let mut rtt = Vec::new();
            let mut n = 0;
            while t0.elapsed() < deadline {
                n += 1;
                let body = event(&session, n);
                let t = Instant::now();
                conn.post(body).await?;
                rtt.push(nanos(t.elapsed()));
            }
            anyhow::Ok((rtt, t0.elapsed()))
        }));
    }
    let mut all = Vec::new();
    let mut longest = Duration::ZERO;
    for t in tasks {
        let (rtt, took) = t.await??;
        longest = longest.max(took);
        all.extend(rtt);
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = all.len() as f64 / longest.as_secs_f64();
    Ok((rate, summarize(all)))
}

/// What `http-bench slowloris` is told.
struct LorisArgs {
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    drip: Duration,
    /// New connections per second, at most, across all (0: reconnect at once).
    rate: u32,
}

fn parse_loris_args(mut it: impl Iterator<Item = String>) -> anyhow::Result<LorisArgs> {
    let mut addr = None;
    let mut a = LorisArgs {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        connections: 0,
        seconds: 60,
        drip: Duration::from_secs(1),
        rate: 0,
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--addr" => addr = Some(value.parse::<SocketAddr>()?),
            "--connections" => a.connections = value.parse()?,
            "--seconds" => a.seconds = value.parse()?,
            "--drip-ms" => a.drip = Duration::from_millis(value.parse()?),
            "--rate" => a.rate = value.parse()?,
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    a.addr = addr.with_context(|| format!("--addr is required\n{USAGE}"))?;
    if !a.addr.ip().is_loopback() {
        bail!("--addr must be a loopback address");
    }
    if a.connections == 0 || a.seconds == 0 || a.seconds > 600 || a.drip.is_zero() {
        bail!("--connections and --drip-ms must be positive, --seconds 1..=600\n{USAGE}");
    }
    Ok(a)
}

/// Raises this process's soft limit on open files to at least `want` (up to the hard limit;
/// above it when privileged).
fn raise_nofile(want: u64) -> anyhow::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    #[allow(unsafe_code)]
    // SAFETY: getrlimit writes into `lim`, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) } != 0 {
        bail!("getrlimit: {}", std::io::Error::last_os_error());
    }
    if lim.rlim_cur >= want {
        return Ok(());
    }
    lim.rlim_cur = want;
    lim.rlim_max = lim.rlim_max.max(want);
    #[allow(unsafe_code)]
    // SAFETY: setrlimit reads `lim`.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const lim) } != 0 {
        bail!(
            "cannot raise the open-file limit to {want} ({}); raise `ulimit -n` first",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// `http-bench slowloris`: holds `connections` connections open without ever finishing a
/// request head (and never sending a token), reconnecting as soon as hookd closes one.
fn slowloris(a: &LorisArgs) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    raise_nofile(u64::try_from(a.connections)? + 64)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opened_once = Arc::new(AtomicUsize::new(0));
    let connects = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(a.seconds);
    // With --rate, connection attempts take turns spaced 1/rate apart.
    let spacing = (a.rate > 0).then(|| Duration::from_secs(1) / a.rate);
    let next_turn = Arc::new(std::sync::Mutex::new(Instant::now()));
    // Stops early when stdin closes (the parent is done with us).
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = stop_tx.send(());
    });
    rt.block_on(async {
        for i in 0..a.connections {
            let (addr, drip, next_turn) = (a.addr, a.drip, Arc::clone(&next_turn));
            let (opened_once, connects, closed, failed) = (
                Arc::clone(&opened_once),
                Arc::clone(&connects),
                Arc::clone(&closed),
                Arc::clone(&failed),
            );
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut first = true;
                loop {
                    if let Some(spacing) = spacing {
                        let turn = {
                            let mut next = next_turn.lock().unwrap_or_else(|e| e.into_inner());
                            let turn = (*next).max(Instant::now());
                            *next = turn + spacing;
                            turn
                        };
                        tokio::time::sleep_until(turn.into()).await;
                    }
                    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    connects.fetch_add(1, Ordering::Relaxed);
                    if std::mem::take(&mut first) {
                        opened_once.fetch_add(1, Ordering::Relaxed);
                    }
                    let head = format!(
                        "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris-{i}\r\n"
                    );
                    if s.write_all(head.as_bytes()).await.is_ok() {
                        let mut buf = [0u8; 512];
                        let mut n = 0u64;
                        loop {
                            tokio::select! {
                                // Closed (or answered, which ends the request too).
                                _ = s.read(&mut buf) => break,
                                () = tokio::time::sleep(drip) => {
                                    n += 1;
                                    let line = format!("X-Drip-{n}: x\r\n");
                                    if s.write_all(line.as_bytes()).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    closed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let opening = (Instant::now() + Duration::from_secs(30)).min(end);
        while opened_once.load(Ordering::Relaxed) < a.connections && Instant::now() < opening {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!("ready {}", opened_once.load(Ordering::Relaxed));
        let _ = std::io::Write::flush(&mut std::io::stdout());
        tokio::select! {
            () = tokio::time::sleep_until(end.into()) => {}
            _ = stop_rx => {}
        }
    });
    println!(
        "done: connections opened {}, closed by hookd {}, connects failed {}",
        connects.load(Ordering::Relaxed),
        closed.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    // The runtime's tasks are still running their loops: leave without waiting for them.
    std::process::exit(0);
}

/// The attacker, as a child process (`http-bench slowloris`), killed on drop.
struct Attacker {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Attacker {
    fn start(
        d: &BenchDaemon,
        connections: usize,
        uid: Option<u32>,
        rate: u32,
    ) -> anyhow::Result<Self> {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        // The open-file limit the attacker raises to may be above our hard limit: as root,
        // raise it here, where the child inherits it before giving up privileges.
        raise_nofile(u64::try_from(connections)? + 64).ok();
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["slowloris", "--addr", &d.addr.to_string(), "--connections"])
            .arg(connections.to_string())
            .args(["--seconds", "600", "--rate"])
            .arg(rate.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().context("starting the slowloris child")?;
        let stdin = child.stdin.take();
        let mut stdout = std::io::BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let opened = line
            .strip_prefix("ready ")
            .and_then(|n| n.trim().parse::<usize>().ok());
        if opened != Some(connections) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the slowloris child did not open its {connections} connections: {line:?}");
        }
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// Stops the attacker (closing its stdin) and returns its summary.
    fn stop(mut self) -> String {
        drop(self.stdin.take());
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        let _ = self.child.wait();
        rest
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Round trips of token-holding `POST /hook` requests, each bounded by `LORIS_DEADLINE`:
/// on one keep-alive connection, or on a fresh connection each (timed from the connect).
/// Returns the answered round trips and the number not answered.
async fn token_requests(
    d: &BenchDaemon,
    n: usize,
    fresh: bool,
    session: &str,
    next_id: &mut u64,
) -> (Vec<u64>, usize) {
    const LORIS_DEADLINE: Duration = Duration::from_secs(10);
    let mut rtt = Vec::with_capacity(n);
    let mut failed = 0;
    let mut kept: Option<Conn> = None;
    for _ in 0..n {
        *next_id += 1;
        let body = event(session, *next_id);
        let t0 = Instant::now();
        let once = async {
            let mut conn = match kept.take() {
                Some(c) if !fresh => c,
                _ => Conn::open(d.addr, &d.token).await?,
            };
            conn.post(body).await?;
            anyhow::Ok(conn)
        };
        match tokio::time::timeout(LORIS_DEADLINE, once).await {
            Ok(Ok(conn)) => {
                rtt.push(nanos(t0.elapsed()));
                if !fresh {
                    kept = Some(conn);
                }
            }
            Ok(Err(e)) => {
                if failed < 5 {
                    eprintln!(
                        "  {session}: request failed after {:?}: {e:#}",
                        t0.elapsed()
                    );
                }
                failed += 1;
            }
            Err(_) => {
                if failed < 5 {
                    eprintln!("  {session}: no answer within {LORIS_DEADLINE:?}");
                }
                failed += 1;
            }
        }
    }
    (rtt, failed)
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command (which may hold spaces) end with ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    #[allow(unsafe_code)]
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .unwrap_or(100)
        .max(1);
    Duration::from_millis(ticks * 1000 / hz)
}

/// A `/proc/<pid>/status` line's value, e.g. `VmRSS` → "12345 kB".
fn proc_status(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| Some(l.strip_prefix(key)?.strip_prefix(':')?.trim().to_string()))
        })
        .unwrap_or_default()
}

/// How long the attack runs before token-holding requests are measured.
const SETTLE: Duration = Duration::from_secs(3);

/// `--slowloris N`: token-holding requests without, during and after a slowloris.
fn slowloris_bench(d: &BenchDaemon, a: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut next_id = 0;
    // Warm up the connection path and the store.
    rt.block_on(token_requests(
        d,
        a.warmup,
        false,
        "loris-warmup",
        &mut next_id,
    ));
    let hookd_pid = d.pid();
    let phase = |what: &str, out: &mut dyn Write, next_id: &mut u64| {
        let mut results = Vec::new();
        for (fresh, n, how) in [
            (false, a.requests, "1 keep-alive connection"),
            (true, a.fresh, "a fresh connection per request"),
        ] {
            let (cpu0, t0) = (cpu_time(hookd_pid), Instant::now());
            let (rtt, failed) = rt.block_on(token_requests(d, n, fresh, what, next_id));
            let (cpu, took) = (cpu_time(hookd_pid) - cpu0, t0.elapsed());
            let s = summarize(rtt.clone());
            writeln!(
                out,
                "  {what}, {how}: {s} not answered={failed} (hookd CPU {:.0}% of one core over {:.1} s)",
                100.0 * cpu.as_secs_f64() / took.as_secs_f64(),
                took.as_secs_f64()
            )?;
            results.push((rtt, failed, s));
        }
        anyhow::Ok(results)
    };
    writeln!(
        out,
        "token-holding POST /hook (new events), each bounded by 10 s:"
    )?;
    let before = phase("no attack", out, &mut next_id)?;
    let rss_before = proc_status(hookd_pid, "VmRSS");
    let who = a
        .attacker_uid
        .map_or_else(|| "this uid".to_string(), |u| format!("uid {u}"));
    let attacker = Attacker::start(d, a.slowloris, a.attacker_uid, a.attacker_rate)?;
    // Every connection opened is not yet every connection established: those the accept
    // queue had no room for retry their handshake a second later. Let the attack settle.
    pause(SETTLE);
    let reopen = match a.attacker_rate {
        0 => "reopened as soon as hookd closes it".to_string(),
        r => format!("reopened when hookd closes it, at most {r} new connections a second"),
    };
    writeln!(
        out,
        "slowloris: {} connections without the token from {who}, each a request head never \
         finished (one more header line a second), {reopen}; measured from {} s after they \
         were all opened",
        a.slowloris,
        SETTLE.as_secs()
    )?;
    let during = phase("under attack", out, &mut next_id)?;
    // On a new connection, which the attack can shed like any other: a few tries.
    let metrics = rt.block_on(async {
        let mut tries = 0;
        loop {
            tries += 1;
            match get(d, "/metrics").await {
                Err(e) if tries < 5 => eprintln!("  GET /metrics during the attack: {e:#}"),
                r => break r,
            }
        }
    })?;
    let rss_during = proc_status(hookd_pid, "VmRSS");
    let attacker_cpu = cpu_time(attacker.child.id());
    let summary = attacker.stop();
    let after = phase("no attack again", out, &mut next_id)?;
    for (i, how) in ["keep-alive", "fresh connection"].iter().enumerate() {
        // The machine's own noise, for reference: the second quiet phase against the first.
        let limit = (before[i].2.p99 * 1000.0) as u64;
        let within = after[i].0.iter().filter(|&&ns| ns <= limit).count();
        #[allow(clippy::cast_precision_loss)]
        let share = 100.0 * within as f64 / (after[i].0.len() + after[i].1).max(1) as f64;
        writeln!(
            out,
            "{how}: control (no attack, second phase against the first one's p99 {:.1}µs): \
             {share:.2}%",
            before[i].2.p99
        )?;
        let normal = before[i].2.p99.max(after[i].2.p99);
        let limit = (normal * 1000.0) as u64;
        let (rtt, failed, _) = &during[i];
        let within = rtt.iter().filter(|&&ns| ns <= limit).count();
        let total = rtt.len() + failed;
        #[allow(clippy::cast_precision_loss)]
        let share = 100.0 * within as f64 / total.max(1) as f64;
        writeln!(
            out,
            "{how}: under attack {within} of {total} answered within the normal p99 \
             ({normal:.1}µs, the larger of before/after) = {share:.2}%; not answered {failed}"
        )?;
    }
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("hookd_http_") && !l.starts_with("hookd_http_refused"))
    {
        writeln!(out, "  hookd (during the attack): {line}")?;
    }
    writeln!(
        out,
        "  hookd VmRSS {rss_before} before the attack, {rss_during} at its end; VmHWM {}",
        proc_status(hookd_pid, "VmHWM")
    )?;
    writeln!(
        out,
        "  attacker: {}; its CPU time {:.2} s",
        summary.trim(),
        attacker_cpu.as_secs_f64()
    )?;
    Ok(())
}

fn machine() -> String {
    let mut cpu = String::new();
    if let Ok(mut f) = std::fs::File::open("/proc/cpuinfo") {
        let mut text = String::new();
        let _ = f.read_to_string(&mut text);
        cpu = text
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_default();
    }
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{cpu}, {cores} cores available")
}

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("slowloris") {
        return slowloris(&parse_loris_args(std::env::args().skip(2))?);
    }
    let a = parse_args()?;
    let binary = match &a.hookd {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory")?
            .join("hookd"),
    };
    let d = BenchDaemon::start(&binary, "http-bench-", &a.http_settings)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "machine: {}", machine())?;
    writeln!(out, "hookd: {} (listening on {})", binary.display(), d.addr)?;
    if !a.http_settings.is_empty() {
        writeln!(
            out,
            "[http] settings: {}",
            a.http_settings.trim().replace('\n', "; ")
        )?;
    }
    if a.slowloris > 0 {
        return slowloris_bench(&d, &a, &mut out);
    }
    writeln!(
        out,
        "floor: a bare TCP echo over loopback (two threads, blocking; no HTTP, no hookd), \
         1 connection:\n  {}",
        tcp_floor(&a)?
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for (unique, what) in [
        (
            false,
            "transport only (a repeated event, answered from the dedup window)",
        ),
        (
            true,
            "full (new events: evaluated and committed to the store)",
        ),
    ] {
        writeln!(out, "latency, {what}:")?;
        let http = rt.block_on(http_latency(&d, &a, unique))?;
        writeln!(out, "  HTTP, 1 keep-alive connection: {http}")?;
        let sock = socket_latency(&d, &a, unique)?;
        writeln!(out, "  Unix socket, 1 connection:     {sock}")?;
    }
    let metrics = rt.block_on(get(&d, "/metrics"))?;
    for line in metrics.lines().filter(|l| {
        l.starts_with("hookd_processing_microseconds{")
            || l.starts_with("hookd_request_microseconds{")
            || l.starts_with("hookd_store_write_microseconds{")
    }) {
        writeln!(out, "  hookd (all requests so far): {line}")?;
    }
    drop(rt);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (rate, load) = rt.block_on(throughput(&d, &a))?;
    writeln!(
        out,
        "throughput, {} keep-alive connections for {} s: {rate:.0} requests/s; {load}",
        a.connections, a.seconds
    )?;
    Ok(())
}
