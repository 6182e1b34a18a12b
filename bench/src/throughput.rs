//! `hook-bench throughput`: PreToolUse requests straight to hookd's socket.
//!
//! Each client thread sends its share of the events one after another, timing each from just
//! before the connect (or the write, with `--reuse`) to the decoded reply. The request frame is
//! encoded once; each client rewrites only the `tool_use_id` in its copy per request (see
//! [`crate::unique`]). Every reply must be a `Response::Verdict`; anything else is an error.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hook_protocol::frame::{decode_message, encode_message, read_frame};
use hook_protocol::{ClientOptions, HookEnv, HookRequest, MAX_FRAME_LEN, Request, Response, paths};
use serde_json::{Value, json};

use crate::args::Args;
use crate::proc::{CpuSnapshot, memory_kb, self_cpu_ns};
use crate::stats::{Summary, nanos, round1, round3};
use crate::unique::Unique;

/// A reply slower than this counts as an error (and the connection is dropped).
const IO_TIMEOUT: Duration = Duration::from_secs(10);

struct Options {
    socket: PathBuf,
    clients: usize,
    events: usize,
    reuse: bool,
    /// Requests written back to back before reading their replies.
    pipeline: usize,
    warmup: usize,
    payload: PathBuf,
    server_pid: Option<u32>,
    same_payload: bool,
    json: bool,
    json_out: Option<PathBuf>,
}

fn parse(argv: &[String]) -> Result<Options, String> {
    let mut args = Args::new(argv);
    let mut o = Options {
        socket: paths::socket_path(),
        clients: 1,
        events: 10_000,
        reuse: false,
        pipeline: 1,
        warmup: 200,
        payload: PathBuf::new(),
        server_pid: None,
        same_payload: false,
        json: false,
        json_out: None,
    };
    let mut payload = None;
    while let Some(mut flag) = args.next_flag()? {
        match flag.name.as_str() {
            "--socket" => o.socket = PathBuf::from(args.value(&mut flag)?),
            "--clients" => o.clients = args.parse(&mut flag)?,
            "--events" => o.events = args.parse(&mut flag)?,
            "--reuse" => o.reuse = true,
            "--pipeline" => o.pipeline = args.parse(&mut flag)?,
            "--warmup" => o.warmup = args.parse(&mut flag)?,
            "--payload" => payload = Some(PathBuf::from(args.value(&mut flag)?)),
            "--server-pid" => o.server_pid = Some(args.parse(&mut flag)?),
            "--same-payload" => o.same_payload = true,
            "--json" => o.json = true,
            "--json-out" => o.json_out = Some(PathBuf::from(args.value(&mut flag)?)),
            other => return Err(format!("throughput: unknown flag {other}")),
        }
    }
    if !args.rest.is_empty() {
        return Err("throughput: takes no command".into());
    }
    if o.pipeline == 0 {
        return Err("throughput: --pipeline must be ≥ 1".into());
    }
    if o.clients == 0 || o.events < o.clients {
        return Err("throughput: need --clients ≥ 1 and --events ≥ --clients".into());
    }
    o.payload = payload.ok_or("throughput: --payload FILE is required")?;
    Ok(o)
}

/// What one client thread measured.
#[derive(Default)]
struct ClientResult {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

pub fn run(argv: &[String]) -> Result<(), String> {
    let opts = parse(argv)?;
    let payload = std::fs::read(&opts.payload)
        .map_err(|e| format!("reading {}: {e}", opts.payload.display()))?;
    let unique = if opts.same_payload {
        None
    } else {
        let u = Unique::find(&payload)
            .map_err(|e| format!("throughput: {e} (or use --same-payload)"))?;
        Some(u)
    };
    let frame = request_frame(payload.clone())?;
    // The event's bytes sit unchanged inside the frame: stamp them there.
    let unique = match unique {
        Some(u) => {
            let at = frame
                .windows(payload.len())
                .position(|w| w == payload.as_slice())
                .ok_or("the event is not found verbatim in its frame")?;
            Some(u.shifted(at))
        }
        None => None,
    };

    // Fail fast, with a clear message, when hookd is not there.
    let mut probe = Client::new(
        &opts.socket,
        &frame,
        unique,
        opts.clients as u64,
        (opts.reuse, 1),
    );
    let mut probe_result = ClientResult::default();
    probe.exchange(&mut probe_result);
    if let Some(e) = probe_result.first_error {
        return Err(format!("first request failed: {e}"));
    }

    let barrier = Barrier::new(opts.clients + 1);
    let (results, wall, server_cpu, client_cpu) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.clients)
            .map(|i| {
                let share =
                    opts.events / opts.clients + usize::from(i < opts.events % opts.clients);
                let warm = opts.warmup.div_ceil(opts.clients);
                let (frame, barrier) = (&frame, &barrier);
                let c = Client::new(
                    &opts.socket,
                    frame,
                    unique,
                    i as u64,
                    (opts.reuse, opts.pipeline),
                );
                scope.spawn(move || c.run(warm, share, barrier))
            })
            .collect();
        barrier.wait();
        let cpu_before = opts.server_pid.map(CpuSnapshot::take);
        let self_before = self_cpu_ns();
        let start = Instant::now();
        let results: Vec<ClientResult> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panicked()))
            .collect();
        let wall = start.elapsed();
        let server_cpu = match (opts.server_pid, cpu_before) {
            (Some(pid), Some(Ok(before))) => CpuSnapshot::take(pid)
                .ok()
                .map(|after| after.since(&before)),
            _ => None,
        };
        let client_cpu = self_cpu_ns()
            .zip(self_before)
            .map(|(a, b)| a.saturating_sub(b));
        (results, wall, server_cpu, client_cpu)
    });

    let mut latencies = Vec::with_capacity(opts.events);
    let mut errors = 0;
    let mut first_error = None;
    for r in results {
        latencies.extend(r.latencies);
        errors += r.errors;
        first_error = first_error.or(r.first_error);
    }
    let ok = latencies.len();
    let summary = Summary::of(&mut latencies);
    #[allow(clippy::cast_precision_loss)] // event counts far below 2^52
    let rate = ok as f64 / wall.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_event_us = |ns: u64| round1(ns as f64 / 1000.0 / (ok.max(1)) as f64);
    let server = opts.server_pid.map(|pid| {
        let by_thread: serde_json::Map<String, Value> = server_cpu
            .iter()
            .flatten()
            .filter(|(_, ns)| **ns > 0)
            .map(|(name, ns)| (name.clone(), json!(per_event_us(*ns))))
            .collect();
        let total: u64 = server_cpu.iter().flatten().map(|(_, ns)| *ns).sum();
        let mem = memory_kb(pid);
        json!({
            "pid": pid,
            "cpu_us_per_event": per_event_us(total),
            "cpu_us_per_event_by_thread": by_thread,
            "vm_rss_kb": mem.map(|m| m.0),
            "vm_hwm_kb": mem.map(|m| m.1),
        })
    });
    let out = json!({
        "mode": "throughput",
        "clients": opts.clients,
        "events": opts.events,
        "connection": if opts.reuse { "reused" } else { "new-per-event" },
        "pipeline": opts.pipeline,
        "payload_bytes": frame.len(),
        "unique_events": unique.is_some(),
        "ok": ok,
        "errors": errors,
        "first_error": first_error,
        "wall_s": round3(wall.as_secs_f64()),
        "events_per_s": rate.round() as u64,
        "latency_us": summary.map(Summary::to_json_us),
        "bench_cpu_us_per_event": client_cpu.map(per_event_us),
        "server": server,
    });
    if let Some(path) = &opts.json_out {
        crate::write_json(path, &out)?;
    }
    if opts.json {
        println!("{out:#}");
        return Ok(());
    }
    println!(
        "throughput: {} clients, {} events, {} connections{}: {:.0} events/s, {errors} errors",
        opts.clients,
        opts.events,
        if opts.reuse {
            "reused"
        } else {
            "new-per-event"
        },
        if opts.pipeline > 1 {
            format!(", {} requests in flight per connection", opts.pipeline)
        } else {
            String::new()
        },
        rate
    );
    if let Some(s) = &summary {
        s.print_latency();
    }
    if let Some(e) = &out["first_error"].as_str() {
        println!("  first error: {e}");
    }
    if let Some(s) = &out["server"].as_object() {
        println!(
            "  hookd: {} µs CPU/event {}; RSS {} kB (peak {} kB)",
            s["cpu_us_per_event"], s["cpu_us_per_event_by_thread"], s["vm_rss_kb"], s["vm_hwm_kb"]
        );
    }
    println!(
        "  bench client: {} µs CPU/event",
        out["bench_cpu_us_per_event"]
    );
    Ok(())
}

fn panicked() -> ClientResult {
    ClientResult {
        errors: 1,
        first_error: Some("client thread panicked".into()),
        ..ClientResult::default()
    }
}

/// The frame hook-client would send for this event (cwd and Claude Code's env included).
fn request_frame(event: Vec<u8>) -> Result<Vec<u8>, String> {
    let request = Request::Hook(HookRequest {
        event,
        env: HookEnv {
            project_dir: Some("/home/dev/src/acme-api".into()),
            session_id: Some("5f3c9e2a-8b1d-4c6e-9f0a-2d7b6e1c4a93".into()),
            cwd: Some("/home/dev/src/acme-api".into()),
        },
        options: ClientOptions {
            event: None,
            fail_mode: None,
            deadline_ms: 2000,
        },
        // What hook-client sends (its invocation id); hookd stores it with the event.
        id: Some(crate::load::invocation_id()),
        env_file: None,
    });
    encode_message(&request).map_err(|e| e.to_string())
}

/// One client: its own copy of the frame, stamped per request, and its connection.
struct Client<'a> {
    socket: &'a Path,
    frame: Vec<u8>,
    unique: Option<Unique>,
    /// Request numbers are `id << 40 | counter`: distinct across clients.
    next: u64,
    reuse: bool,
    /// Requests per write (their replies are read after all are sent).
    pipeline: usize,
    /// The frames of one write.
    batch: Vec<u8>,
    conn: Option<UnixStream>,
}

impl<'a> Client<'a> {
    fn new(
        socket: &'a Path,
        frame: &[u8],
        unique: Option<Unique>,
        id: u64,
        (reuse, pipeline): (bool, usize),
    ) -> Self {
        Self {
            socket,
            frame: frame.to_vec(),
            unique,
            next: id << 40,
            reuse,
            pipeline,
            batch: Vec::with_capacity(frame.len() * pipeline),
            conn: None,
        }
    }

    fn run(mut self, warmup: usize, events: usize, barrier: &Barrier) -> ClientResult {
        let mut warm = ClientResult::default();
        self.send(warmup, &mut warm);
        let mut r = ClientResult {
            latencies: Vec::with_capacity(events),
            ..ClientResult::default()
        };
        barrier.wait();
        self.send(events, &mut r);
        r
    }

    /// Sends `events` requests, [`Client::pipeline`] at a time.
    fn send(&mut self, mut events: usize, r: &mut ClientResult) {
        while events > 0 {
            let n = events.min(self.pipeline);
            self.exchange_n(n, r);
            events -= n;
        }
    }

    /// Sends one request (connecting first when needed) and records the outcome.
    fn exchange(&mut self, r: &mut ClientResult) {
        self.exchange_n(1, r);
    }

    /// Writes `n` requests at once, then reads their `n` replies; each one's latency runs from
    /// the write to its reply.
    fn exchange_n(&mut self, n: usize, r: &mut ClientResult) {
        self.batch.clear();
        for _ in 0..n {
            if let Some(u) = &self.unique {
                u.stamp(&mut self.frame, self.next);
            }
            self.next += 1;
            self.batch.extend_from_slice(&self.frame);
        }
        let start = Instant::now();
        match try_exchange(self.socket, &self.batch, n, &mut self.conn, || {
            r.latencies.push(nanos(start.elapsed()));
        }) {
            Ok(()) => {}
            Err((e, answered)) => {
                self.conn = None;
                r.errors += (n - answered) as u64;
                r.first_error.get_or_insert(e);
            }
        }
        if !self.reuse {
            self.conn = None;
        }
    }
}

/// Writes `frames` (`n` requests) and reads `n` verdicts, calling `on_reply` for each. On error,
/// also says how many were answered.
fn try_exchange(
    socket: &Path,
    frames: &[u8],
    n: usize,
    conn: &mut Option<UnixStream>,
    mut on_reply: impl FnMut(),
) -> Result<(), (String, usize)> {
    let stream = match conn {
        Some(s) => s,
        None => {
            let s = UnixStream::connect(socket)
                .map_err(|e| (format!("connect {}: {e}", socket.display()), 0))?;
            s.set_read_timeout(Some(IO_TIMEOUT))
                .map_err(|e| (e.to_string(), 0))?;
            conn.insert(s)
        }
    };
    stream
        .write_all(frames)
        .map_err(|e| (format!("write: {e}"), 0))?;
    // Replies read through a buffer: one read for many when they arrive together (half the
    // client's CPU per event). Exactly `n` replies follow, so it never holds bytes past the last.
    let mut replies = std::io::BufReader::with_capacity((n * 512).clamp(4096, 64 * 1024), &*stream);
    for answered in 0..n {
        let reply = read_frame(&mut replies, MAX_FRAME_LEN)
            .map_err(|e| (format!("read: {e}"), answered))?;
        match decode_message::<Response>(&reply) {
            Ok(Response::Verdict(_)) => on_reply(),
            Ok(other) => return Err((format!("reply is not a verdict: {other:?}"), answered)),
            Err(e) => return Err((format!("decode: {e}"), answered)),
        }
    }
    Ok(())
}

/// `hook-bench echo`: a stand-in for hookd that answers every frame with a fixed verdict.
///
/// A pool of threads (default 128, more than the clients) each accepting a connection and
/// serving it to the end; no parsing, no rules, no store. What `throughput` measures against it
/// is the ceiling of the transport and of the bench itself on this machine.
pub fn echo(argv: &[String]) -> Result<(), String> {
    let mut args = Args::new(argv);
    let mut socket = None;
    let mut threads = 128;
    while let Some(mut flag) = args.next_flag()? {
        match flag.name.as_str() {
            "--socket" => socket = Some(PathBuf::from(args.value(&mut flag)?)),
            "--threads" => threads = args.parse(&mut flag)?,
            other => return Err(format!("echo: unknown flag {other}")),
        }
    }
    let socket = socket.ok_or("echo: --socket PATH is required")?;
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket)
        .map_err(|e| format!("binding {}: {e}", socket.display()))?;
    let reply = encode_message(&Response::Verdict(hook_protocol::HookReply::default()))
        .map_err(|e| e.to_string())?;
    eprintln!("hook-bench echo: listening on {}", socket.display());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (listener, reply) = (&listener, &reply);
            scope.spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    while read_frame(&mut stream, MAX_FRAME_LEN).is_ok() {
                        if stream.write_all(reply).is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    Ok(())
}
