//! `hook-bench load` and `hook-bench verify`: a realistic event mix from many clients, and a
//! check that the store holds every answered event exactly once.
//!
//! Each client thread plays Claude Code sessions one after another: `SessionStart`, a prompt,
//! a run of tool calls (Bash, Read, Edit, Write, Grep; each a `PreToolUse` and a `PostToolUse`,
//! some Bash commands ones the default packs deny or ask about), a notification now and then,
//! `Stop`, and `SessionEnd`. Every event carries a unique `hookd_load_id`
//! (`<run>-c<client>-n<seq>`), which `verify` looks up in the store.
//!
//! Events go straight to the socket (what hook-client sends), or through the real hook-client
//! (`--via-client`): then an event hookd could not answer is answered by the client's fail mode
//! and spooled, as in real use. Each event ends up *answered* (a verdict from hookd) or *failed*
//! (no verdict: a fallback, or an error on the raw socket); `--acked-out` and `--failed-out`
//! list their ids for `verify`.

use std::io::{BufRead, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hook_protocol::frame::{decode_message, encode_message, read_frame};
use hook_protocol::{ClientOptions, HookEnv, HookRequest, MAX_FRAME_LEN, Request, Response, paths};
use serde_json::{Value, json};

use crate::args::Args;
use crate::stats::{Summary, nanos, round3};

/// A reply slower than this counts as a failure on the raw socket.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Events in one simulated session (then `SessionEnd` and a new session).
const SESSION_LEN: u64 = 48;

struct Options {
    socket: PathBuf,
    clients: usize,
    events: u64,
    run: String,
    via_client: Option<PathBuf>,
    client_args: Vec<String>,
    acked_out: Option<PathBuf>,
    failed_out: Option<PathBuf>,
    json_out: Option<PathBuf>,
    allow_failures: bool,
    /// Clients stop starting events once this file exists (`--events` is then an upper bound).
    stop_file: Option<PathBuf>,
}

fn parse(argv: &[String]) -> Result<Options, String> {
    let mut args = Args::new(argv);
    let mut o = Options {
        socket: paths::socket_path(),
        clients: 64,
        events: 100_000,
        run: format!("r{:x}", std::process::id()),
        via_client: None,
        client_args: Vec::new(),
        acked_out: None,
        failed_out: None,
        json_out: None,
        allow_failures: false,
        stop_file: None,
    };
    while let Some(mut flag) = args.next_flag()? {
        match flag.name.as_str() {
            "--socket" => o.socket = PathBuf::from(args.value(&mut flag)?),
            "--clients" => o.clients = args.parse(&mut flag)?,
            "--events" => o.events = args.parse(&mut flag)?,
            "--run" => o.run = args.value(&mut flag)?,
            "--via-client" => o.via_client = Some(PathBuf::from(args.value(&mut flag)?)),
            "--client-arg" => o.client_args.push(args.value(&mut flag)?),
            "--acked-out" => o.acked_out = Some(PathBuf::from(args.value(&mut flag)?)),
            "--failed-out" => o.failed_out = Some(PathBuf::from(args.value(&mut flag)?)),
            "--json-out" => o.json_out = Some(PathBuf::from(args.value(&mut flag)?)),
            "--allow-failures" => o.allow_failures = true,
            "--stop-file" => o.stop_file = Some(PathBuf::from(args.value(&mut flag)?)),
            other => return Err(format!("load: unknown flag {other}")),
        }
    }
    if o.clients == 0 || o.events < o.clients as u64 {
        return Err("load: need --clients ≥ 1 and --events ≥ --clients".into());
    }
    if o.run.contains(['-', '"', '\\']) {
        return Err("load: --run must not contain '-', '\"' or '\\'".into());
    }
    Ok(o)
}

/// The `seq`-th event of client `client` (sessions of [`SESSION_LEN`] events, then a new one).
pub fn event(run: &str, client: usize, seq: u64) -> (String, Value) {
    let id = format!("{run}-c{client}-n{seq}");
    let session = format!("{run}-c{client}-s{}", seq / SESSION_LEN);
    let step = seq % SESSION_LEN;
    let project = format!("/home/dev/src/project{}", client % 7);
    let tool_use_id = format!("toolu_{run}c{client}n{seq}");
    let mut v = match step {
        0 => {
            json!({"hook_event_name": "SessionStart", "source": "startup", "model": "claude-sonnet-4-5"})
        }
        1 => json!({"hook_event_name": "UserPromptSubmit",
                    "prompt": format!("Fix the failing test in module {} and run the suite", seq % 13)}),
        s if s == SESSION_LEN - 2 => json!({"hook_event_name": "Stop", "stop_hook_active": false}),
        s if s == SESSION_LEN - 1 => json!({"hook_event_name": "SessionEnd", "reason": "exit"}),
        s if s % 11 == 5 => json!({"hook_event_name": "Notification",
                                   "message": "Claude needs your permission to use Bash"}),
        s => {
            // Tool calls in pairs: even steps are PreToolUse, odd steps its PostToolUse.
            let pre = s % 2 == 0;
            let kind = (s / 2 + seq / SESSION_LEN) % 8;
            let file = format!("{project}/src/module{}.rs", (s / 2) % 9);
            let (tool, input, response) = match kind {
                0 => (
                    "Bash",
                    json!({"command": "cargo test --workspace 2>&1 | tail -n 40", "description": "Run the tests"}),
                    json!({"stdout": "test result: ok. 42 passed; 0 failed", "stderr": "", "interrupted": false}),
                ),
                1 => (
                    "Read",
                    json!({"file_path": file}),
                    json!({"type": "text", "file": {"filePath": file, "content": "fn main() {}\n", "numLines": 1}}),
                ),
                2 => (
                    "Edit",
                    json!({"file_path": file, "old_string": "fn main() {}", "new_string": "fn main() { run(); }"}),
                    json!({"filePath": file, "structuredPatch": []}),
                ),
                3 => (
                    "Bash",
                    json!({"command": "git status --short && git diff --stat", "description": "Show changes"}),
                    json!({"stdout": " M src/lib.rs", "stderr": "", "interrupted": false}),
                ),
                4 => (
                    "Grep",
                    json!({"pattern": "fn run", "path": project, "output_mode": "files_with_matches"}),
                    json!({"filenames": [file], "numFiles": 1}),
                ),
                5 => (
                    "Bash",
                    json!({"command": "git push --force origin main", "description": "Push"}),
                    json!({"stdout": "", "stderr": "", "interrupted": false}),
                ),
                6 => (
                    "Write",
                    json!({"file_path": format!("{project}/notes/todo{}.md", s), "content": "- check the flaky test\n"}),
                    json!({"filePath": "todo.md", "type": "create"}),
                ),
                _ => (
                    "Bash",
                    json!({"command": format!("rm -rf {project}/target/debug/incremental"), "description": "Clean"}),
                    json!({"stdout": "", "stderr": "", "interrupted": false}),
                ),
            };
            let mut v = json!({
                "hook_event_name": if pre { "PreToolUse" } else { "PostToolUse" },
                "tool_name": tool,
                "tool_input": input,
                "tool_use_id": tool_use_id,
            });
            if !pre {
                v["tool_response"] = response;
            }
            v
        }
    };
    v["session_id"] = json!(session);
    v["transcript_path"] = json!(format!("/home/dev/.claude/projects/p/{session}.jsonl"));
    v["cwd"] = json!(project);
    v["permission_mode"] = json!("default");
    v["hookd_load_id"] = json!(id);
    (id, v)
}

#[derive(Default)]
struct ClientResult {
    latencies: Vec<u64>,
    acked: Vec<String>,
    failed: Vec<String>,
    first_failure: Option<String>,
}

pub fn run(argv: &[String]) -> Result<(), String> {
    let opts = parse(argv)?;
    let barrier = Barrier::new(opts.clients + 1);
    let (results, wall) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.clients)
            .map(|c| {
                let n = opts.events / opts.clients as u64
                    + u64::from((c as u64) < opts.events % opts.clients as u64);
                let (opts, barrier) = (&opts, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    client(opts, c, n)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<ClientResult> = handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| ClientResult {
                    first_failure: Some("client thread panicked".into()),
                    ..ClientResult::default()
                })
            })
            .collect();
        (results, start.elapsed())
    });
    let mut latencies = Vec::new();
    let (mut acked, mut failed) = (0u64, 0u64);
    let mut first_failure = None;
    let mut acked_w = open_out(opts.acked_out.as_deref())?;
    let mut failed_w = open_out(opts.failed_out.as_deref())?;
    for r in results {
        latencies.extend(r.latencies);
        acked += r.acked.len() as u64;
        failed += r.failed.len() as u64;
        first_failure = first_failure.or(r.first_failure);
        write_ids(acked_w.as_mut(), &r.acked)?;
        write_ids(failed_w.as_mut(), &r.failed)?;
    }
    for w in [acked_w.as_mut(), failed_w.as_mut()].into_iter().flatten() {
        w.flush().map_err(|e| e.to_string())?;
    }
    let summary = Summary::of(&mut latencies);
    #[allow(clippy::cast_precision_loss)] // event counts far below 2^52
    let rate = acked as f64 / wall.as_secs_f64();
    let out = json!({
        "mode": "load",
        "run": opts.run,
        "clients": opts.clients,
        "events": opts.events,
        "via": if opts.via_client.is_some() { "hook-client" } else { "socket" },
        "answered": acked,
        "failed": failed,
        "first_failure": first_failure,
        "wall_s": round3(wall.as_secs_f64()),
        "events_per_s": rate.round() as u64,
        "latency_us": summary.map(Summary::to_json_us),
    });
    if let Some(path) = &opts.json_out {
        crate::write_json(path, &out)?;
    }
    println!(
        "load: {} clients, {} events via {}: {acked} answered, {failed} failed, {:.0} events/s",
        opts.clients, opts.events, out["via"], rate
    );
    if let Some(s) = &summary {
        s.print_latency();
    }
    if let Some(e) = &first_failure {
        println!("  first failure: {e}");
    }
    if failed > 0 && !opts.allow_failures {
        return Err(format!("{failed} events got no verdict from hookd"));
    }
    Ok(())
}

fn open_out(path: Option<&Path>) -> Result<Option<BufWriter<std::fs::File>>, String> {
    path.map(|p| {
        std::fs::File::create(p)
            .map(BufWriter::new)
            .map_err(|e| format!("creating {}: {e}", p.display()))
    })
    .transpose()
}

fn write_ids(w: Option<&mut BufWriter<std::fs::File>>, ids: &[String]) -> Result<(), String> {
    if let Some(w) = w {
        for id in ids {
            writeln!(w, "{id}").map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn client(opts: &Options, c: usize, n: u64) -> ClientResult {
    let mut r = ClientResult {
        latencies: Vec::with_capacity(usize::try_from(n).unwrap_or(0)),
        ..ClientResult::default()
    };
    for seq in 0..n {
        if opts.stop_file.as_deref().is_some_and(Path::exists) {
            break;
        }
        let (id, v) = event(&opts.run, c, seq);
        let mut payload = serde_json::to_vec(&v).unwrap_or_default();
        payload.push(b'\n');
        let start = Instant::now();
        let outcome = match &opts.via_client {
            Some(bin) => via_client(bin, &opts.client_args, &payload),
            None => via_socket(&opts.socket, payload),
        };
        match outcome {
            Ok(()) => {
                r.latencies.push(nanos(start.elapsed()));
                r.acked.push(id);
            }
            Err(e) => {
                r.first_failure.get_or_insert(format!("{id}: {e}"));
                r.failed.push(id);
            }
        }
    }
    r
}

/// An id of the form hook-client gives each invocation (clock in ns, pid; hex).
pub fn invocation_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}-{:x}", now.as_nanos(), std::process::id())
}

/// One request on a new connection, as hook-client sends it.
fn via_socket(socket: &Path, event: Vec<u8>) -> Result<(), String> {
    let frame = encode_message(&Request::Hook(HookRequest {
        event,
        env: HookEnv::default(),
        options: ClientOptions {
            event: None,
            fail_mode: None,
            deadline_ms: 2000,
        },
        id: Some(invocation_id()),
        env_file: None,
    }))
    .map_err(|e| e.to_string())?;
    let mut s =
        UnixStream::connect(socket).map_err(|e| format!("connect {}: {e}", socket.display()))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.write_all(&frame).map_err(|e| format!("write: {e}"))?;
    let reply = read_frame(&mut s, MAX_FRAME_LEN).map_err(|e| format!("read: {e}"))?;
    match decode_message::<Response>(&reply) {
        Ok(Response::Verdict(_)) => Ok(()),
        Ok(other) => Err(format!("reply is not a verdict: {other:?}")),
        Err(e) => Err(format!("decode: {e}")),
    }
}

/// One event through the real hook-client; a fallback (its stderr line) is a failure.
fn via_client(bin: &Path, args: &[String], payload: &[u8]) -> Result<(), String> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(payload);
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    match err.lines().find(|l| l.contains("hookd could not answer")) {
        Some(line) => Err(line.to_string()),
        None => Ok(()),
    }
}

/// `hook-bench verify --db PATH --acked FILE [--failed FILE] [--spooled]`.
pub fn verify(argv: &[String]) -> Result<(), String> {
    let mut args = Args::new(argv);
    let (mut db, mut acked, mut failed, mut spooled, mut json_out) =
        (None, None, None, false, None);
    while let Some(mut flag) = args.next_flag()? {
        match flag.name.as_str() {
            "--db" => db = Some(PathBuf::from(args.value(&mut flag)?)),
            "--acked" => acked = Some(PathBuf::from(args.value(&mut flag)?)),
            "--failed" => failed = Some(PathBuf::from(args.value(&mut flag)?)),
            "--spooled" => spooled = true,
            "--json-out" => json_out = Some(PathBuf::from(args.value(&mut flag)?)),
            other => return Err(format!("verify: unknown flag {other}")),
        }
    }
    let db = db.ok_or("verify: --db PATH is required")?;
    let acked = read_ids(&acked.ok_or("verify: --acked FILE is required")?)?;
    let failed = match failed {
        Some(p) => read_ids(&p)?,
        None => Vec::new(),
    };
    let counts = store_counts(&db)?;
    let v = judge(&counts, &acked, &failed, spooled);
    if let Some(path) = &json_out {
        crate::write_json(path, &v)?;
    }
    println!("{v:#}");
    if v["ok"] == json!(true) {
        Ok(())
    } else {
        Err("the store does not hold every answered event exactly once".into())
    }
}

fn read_ids(path: &Path) -> Result<Vec<String>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::BufReader::new(f)
        .lines()
        .map(|l| l.map_err(|e| e.to_string()))
        .filter(|l| !matches!(l, Ok(s) if s.is_empty()))
        .collect()
}

/// Rows per load id: (from the socket, from the spool).
type Counts = std::collections::HashMap<String, (u32, u32)>;

fn store_counts(db: &Path) -> Result<Counts, String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("{}: {e}", db.display()))?;
    let mut stmt = conn
        .prepare(
            // Only the load's own events: hookd also records rows of its own, such as the
            // `bypass` rows of calls whose PreToolUse it never saw (the load's PostToolUse
            // events have tool_use_ids of their own).
            "SELECT json_extract(CAST(payload AS TEXT), '$.hookd_load_id') AS load_id, source
             FROM events WHERE load_id IS NOT NULL",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut counts = Counts::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let id: String = row.get(0).map_err(|e| e.to_string())?;
        let source: String = row.get(1).map_err(|e| e.to_string())?;
        let slot = counts.entry(id).or_default();
        if source == "spool" {
            slot.1 += 1;
        } else {
            slot.0 += 1;
        }
    }
    Ok(counts)
}

/// The verdict on the store: every answered event exactly once (from the socket); every
/// failed one, when it was spooled (`spooled`), exactly once: from the spool, or from the
/// socket when hookd had committed it before its reply was lost (the spooled copy is then
/// dropped); nothing else. Any event recorded twice is a duplicate.
fn judge(counts: &Counts, acked: &[String], failed: &[String], spooled: bool) -> Value {
    let mut lost = Vec::new();
    let mut duplicated = Vec::new();
    for id in acked {
        match counts.get(id) {
            None | Some((0, 0)) => lost.push(id.clone()),
            Some((1, 0)) => {}
            Some(_) => duplicated.push(id.clone()),
        }
    }
    let answered_once = acked.len() - lost.len() - duplicated.len();
    let (mut spool_once, mut committed_unanswered, mut failed_missing) = (0u64, 0u64, Vec::new());
    for id in failed {
        let (sock, spool) = counts.get(id).copied().unwrap_or_default();
        if sock + spool > 1 {
            duplicated.push(id.clone());
        }
        if spool == 1 {
            spool_once += 1;
        }
        if sock == 1 {
            committed_unanswered += 1;
        }
        if spooled && sock + spool == 0 {
            failed_missing.push(id.clone());
        }
    }
    let known: std::collections::HashSet<&str> =
        acked.iter().chain(failed).map(String::as_str).collect();
    let unknown = counts
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .count();
    let ok = lost.is_empty() && duplicated.is_empty() && failed_missing.is_empty() && unknown == 0;
    let sample = |v: &[String]| v.iter().take(5).cloned().collect::<Vec<_>>();
    json!({
        "ok": ok,
        "answered": acked.len(),
        "answered_stored_once": answered_once,
        "lost": lost.len(),
        "lost_sample": sample(&lost),
        "duplicated": duplicated.len(),
        "duplicated_sample": sample(&duplicated),
        "failed": failed.len(),
        "failed_spooled_once": spool_once,
        "failed_committed_by_hookd_reply_lost": committed_unanswered,
        "failed_missing": failed_missing.len(),
        "rows_not_sent_by_this_run": unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_unique_and_sessions_start_and_end() {
        let ids: std::collections::HashSet<String> = (0..200).map(|n| event("r", 3, n).0).collect();
        assert_eq!(ids.len(), 200);
        assert_eq!(event("r", 3, 0).1["hook_event_name"], "SessionStart");
        assert_eq!(
            event("r", 3, SESSION_LEN - 1).1["hook_event_name"],
            "SessionEnd"
        );
        assert_eq!(event("r", 3, SESSION_LEN).1["session_id"], "r-c3-s1");
    }

    #[test]
    fn judge_counts_lost_duplicated_and_spooled() {
        let mut counts = Counts::new();
        counts.insert("a".into(), (1, 0));
        counts.insert("b".into(), (2, 0));
        // Committed by hookd, reply lost, and recorded again from the spool: a duplicate.
        counts.insert("f".into(), (1, 1));
        counts.insert("g".into(), (0, 1));
        let acked = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let failed = ["f".to_string(), "g".to_string(), "h".to_string()];
        let v = judge(&counts, &acked, &failed, true);
        assert_eq!(v["ok"], false);
        assert_eq!(v["lost"], 1);
        assert_eq!(v["duplicated"], 2);
        assert_eq!(v["failed_spooled_once"], 2);
        assert_eq!(v["failed_committed_by_hookd_reply_lost"], 1);
        assert_eq!(v["failed_missing"], 1);
        counts.insert("b".into(), (1, 0));
        counts.insert("c".into(), (1, 0));
        counts.insert("f".into(), (1, 0));
        counts.insert("h".into(), (0, 1));
        assert_eq!(judge(&counts, &acked, &failed, true)["ok"], true);
    }
}
