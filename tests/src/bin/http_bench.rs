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
//! Everything is bounded (requests, seconds) and stays on 127.0.0.1. Build it in release:
//! `cargo build --release -p hookd -p hook-tests --bin http-bench --bin hookd`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hook_protocol::{HookEnv, HookRequest, Request, Response};
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
}

const USAGE: &str = "usage: http-bench [--hookd PATH] [--requests N (20000)] [--warmup N (2000)] \
                     [--connections N (64)] [--seconds S (10)]";

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        hookd: None,
        requests: 20_000,
        warmup: 2_000,
        connections: 64,
        seconds: 10,
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

/// A hookd of our own; stopped (SIGTERM, then SIGKILL) on drop.
struct Daemon {
    child: Child,
    home: tempfile::TempDir,
    addr: SocketAddr,
    token: String,
}

impl Daemon {
    fn start(binary: &Path) -> anyhow::Result<Self> {
        let home = tempfile::Builder::new().prefix("http-bench-").tempdir()?;
        std::fs::write(
            home.path().join("hookd.toml"),
            "[http]\nlisten = \"127.0.0.1:0\"\n",
        )?;
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("HOOKD_HOME", home.path())
            .env("HOOKD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(home.path().join("hookd.stderr"))?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut d = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: String::new(),
            home,
        };
        let port_file = d.home.path().join("state/http-port");
        let start = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && p.ends_with('\n')
            {
                break p.trim().parse::<u16>()?;
            }
            if let Some(status) = d.child.try_wait()? {
                bail!(
                    "hookd exited with {status}:\n{}",
                    std::fs::read_to_string(d.home.path().join("hookd.stderr"))?
                );
            }
            if start.elapsed() > Duration::from_secs(20) {
                bail!("hookd did not write {} in 20 s", port_file.display());
            }
            pause(Duration::from_millis(10));
        };
        d.addr = SocketAddr::from(([127, 0, 0, 1], port));
        d.token = std::fs::read_to_string(d.home.path().join("state/http-token"))?
            .trim()
            .to_string();
        Ok(d)
    }

    fn socket(&self) -> PathBuf {
        self.home.path().join("hookd.sock")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            #[allow(unsafe_code)]
            // SAFETY: a signal to our own child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            pause(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pause(d: Duration) {
    #[allow(clippy::disallowed_methods)] // a synchronous tool polling its child, no runtime here
    std::thread::sleep(d);
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
async fn get(d: &Daemon, path: &str) -> anyhow::Result<String> {
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
    let at = |q: f64| {
        let i = ((ns.len() as f64 * q).ceil() as usize).clamp(1, ns.len()) - 1;
        ns[i] as f64 / 1000.0
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
async fn http_latency(d: &Daemon, a: &Args, unique: bool) -> anyhow::Result<Summary> {
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
fn socket_latency(d: &Daemon, a: &Args, unique: bool) -> anyhow::Result<Summary> {
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

async fn throughput(d: &Daemon, a: &Args) -> anyhow::Result<(f64, Summary)> {
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
    let a = parse_args()?;
    let binary = match &a.hookd {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory")?
            .join("hookd"),
    };
    let d = Daemon::start(&binary)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "machine: {}", machine())?;
    writeln!(out, "hookd: {} (listening on {})", binary.display(), d.addr)?;
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
