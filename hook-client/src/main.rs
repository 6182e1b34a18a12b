//! hook-client: the command Claude Code runs for each hook event.
//!
//! Reads the event from stdin, forwards it to hookd over the Unix socket, prints the daemon's
//! reply exactly and exits with its code. It never parses the event. When hookd cannot answer
//! (not running and cannot be started, too slow, another protocol version, an oversized event)
//! it answers by the per-event fail mode, says why in one line on stderr and appends the event
//! to the spool, which hookd records on its next start.
//!
//! Hot path: std + hook-protocol + libc only. No tokio, clap, serde_json or tracing.
//!
//! Start-up: the C `main` below, not Rust's. Rust's runtime start-up (`lang_start`) installs a
//! stack-overflow guard for the main thread, and on glibc finding the main thread's stack reads
//! and parses `/proc/self/maps`: that alone was a third of a static glibc client's CPU time
//! (0.31 ms for a static `fn main() {}` against 0.20 ms without it, `perf stat`), enough to keep
//! it above `/bin/true`. What hook-client needs from that start-up is done by hand in
//! [`start`]: `SIGPIPE` ignored (a closed pipe is an error, not a kill) and fds 0-2 kept from
//! being closed (a socket must never land on stdout). Arguments come from `argv` (on musl
//! `std::env::args()` is empty without Rust's `main`). Nothing else in this program depends on
//! the runtime's set-up: no threads, no stack overflow worth a message.

#![cfg_attr(not(test), no_main)]

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hook_protocol::failmode;
use hook_protocol::frame::{FrameError, decode_message, encode_message, read_frame};
use hook_protocol::private;
use hook_protocol::spool::{self, SpoolRecord};
use hook_protocol::{
    ClientOptions, HookEnv, HookReply, HookRequest, MAX_EVENT_LEN, MAX_FRAME_LEN, Mismatch,
    PROTOCOL_VERSION, Request, Response, paths,
};

/// Exit codes hook-client itself chooses (a verdict's code comes from hookd).
mod exit {
    /// `--help` / `--version`.
    pub const OK: i32 = 0;
}

/// The default deadline for the whole exchange, autostart included.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);
/// Pause between connection attempts while an autostarted hookd comes up.
const CONNECT_RETRY: Duration = Duration::from_millis(5);

const USAGE: &str = "\
hook-client: forward a Claude Code hook event (stdin) to hookd and print its verdict

usage: hook-client [--event NAME] [--fail-mode SPEC] [--deadline DURATION] [--socket PATH]
                   [--no-autostart]

  --event NAME        the hook event this settings entry is for (used when hookd is unreachable)
  --fail-mode SPEC    what to answer when hookd cannot: pass|ask|deny, or Event=mode,... 
                      (env HOOKD_FAIL_MODE; default: ask for PreToolUse/PermissionRequest, pass otherwise)
  --deadline D        give up after D (e.g. 2s, 500ms, 1m; a bare number is seconds;
                      env HOOKD_DEADLINE; default 2s)
  --socket PATH       hookd's socket (env HOOKD_SOCKET; default from HOOKD_HOME or the uid)
  --no-autostart      do not start hookd when it is not running (env HOOKD_NO_AUTOSTART=1)
";

struct Options {
    event: Option<String>,
    fail_mode: Option<String>,
    deadline: Duration,
    socket: PathBuf,
    /// The socket's directory is hookd's own (not `--socket`/`HOOKD_SOCKET`).
    socket_dir_owned: bool,
    autostart: bool,
}

/// Why hookd could not answer.
struct Failure(String);

/// The process entry point (the C runtime calls it with the program's arguments).
#[cfg(not(test))]
#[allow(unsafe_code)] // `no_mangle`: this is the symbol the C runtime calls
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    use std::ffi::CStr;
    let args: Vec<String> = (1..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
            #[allow(unsafe_code)]
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            arg.to_string_lossy().into_owned()
        })
        .collect();
    start();
    run(args)
}

/// What Rust's runtime start-up would have done that hook-client relies on.
#[allow(unsafe_code)]
#[cfg_attr(test, allow(dead_code))]
fn start() {
    // SAFETY: plain libc calls on our own process's descriptors and signal disposition, before
    // anything else runs.
    unsafe {
        // Writes to a closed pipe fail with EPIPE instead of killing the process: the verdict
        // and the spool still get their chance.
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // Any of fds 0-2 that is closed is opened on /dev/null, so a socket or a file opened
        // later never takes its number (as the Rust runtime does: one poll).
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        let polled = libc::poll(fds.as_mut_ptr(), 3, 0);
        for pfd in &fds {
            let closed = if polled < 0 {
                libc::fcntl(pfd.fd, libc::F_GETFD) == -1
            } else {
                pfd.revents & libc::POLLNVAL != 0
            };
            if closed {
                let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if fd >= 0 && fd != pfd.fd {
                    libc::dup2(fd, pfd.fd);
                    libc::close(fd);
                }
            }
        }
    }
}

#[cfg_attr(test, allow(dead_code))]
fn run(args: Vec<String>) -> ! {
    let start = Instant::now();
    let (opts, usage_error) = match parse_args(args) {
        Ok(Some(o)) => (o, None),
        Ok(None) => {
            let _ = io::stdout().flush();
            std::process::exit(exit::OK)
        }
        Err((o, e)) => (o, Some(e)),
    };
    // Connected before the event is read, so that hookd wakes and accepts while this process
    // reads stdin ([`Early`]).
    let early = match usage_error {
        None => Early::connect(&opts, start + opts.deadline),
        Some(_) => None,
    };
    let (event, oversized) = read_stdin();
    let id = invocation_id();
    let reply = match usage_error {
        Some(e) => Err(Failure(format!("bad hook-client arguments: {e}"))),
        None if oversized.is_some() => Err(Failure(format!(
            "event of {} bytes is over the {} byte limit",
            oversized.unwrap_or_default(),
            MAX_EVENT_LEN
        ))),
        None => exchange(&opts, &event, &id, start, early),
    };
    let reply = reply.unwrap_or_else(|f| fall_back(&opts, event, oversized, id, &f.0));
    emit(&reply);
}

/// Parses arguments and environment. On a bad argument, returns defaults plus the error so the
/// event still gets a safe answer.
fn parse_args(args: Vec<String>) -> Result<Option<Options>, (Options, String)> {
    let mut opts = Options {
        event: None,
        fail_mode: std::env::var("HOOKD_FAIL_MODE")
            .ok()
            .filter(|s| !s.is_empty()),
        deadline: DEFAULT_DEADLINE,
        socket: paths::socket_path(),
        socket_dir_owned: !paths::socket_is_explicit(),
        autostart: std::env::var_os("HOOKD_NO_AUTOSTART").is_none_or(|v| v.is_empty() || v == "0"),
    };
    let mut error = None;
    if let Ok(d) = std::env::var("HOOKD_DEADLINE") {
        match parse_deadline(&d) {
            Ok(d) => opts.deadline = d,
            Err(e) => error = Some(format!("HOOKD_DEADLINE={d:?}: {e}")),
        }
    }
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "--version" | "-V" => {
                println!(
                    "hook-client {} (build {}, protocol {PROTOCOL_VERSION})",
                    hook_protocol::PACKAGE_VERSION,
                    hook_protocol::BUILD_ID
                );
                return Ok(None);
            }
            "--event" => opts.event = value(),
            "--fail-mode" => opts.fail_mode = value(),
            "--socket" => {
                if let Some(v) = value() {
                    opts.socket = PathBuf::from(v);
                    opts.socket_dir_owned = false;
                }
            }
            "--deadline" => match value() {
                Some(v) => match parse_deadline(&v) {
                    Ok(d) => opts.deadline = d,
                    Err(e) => error = Some(format!("--deadline {v:?}: {e}")),
                },
                None => error = Some("--deadline needs a duration like 2s or 500ms".to_string()),
            },
            "--no-autostart" => opts.autostart = false,
            other => {
                error = Some(format!(
                    "unknown argument {other:?} (see hook-client --help)"
                ));
            }
        }
        if error.is_some() {
            break;
        }
    }
    if error.is_none()
        && let Some(spec) = &opts.fail_mode
        && let Err(e) = failmode::validate_spec(spec)
    {
        error = Some(e);
        opts.fail_mode = None;
    }
    match error {
        Some(e) => Err((opts, e)),
        None => Ok(Some(opts)),
    }
}

/// A deadline in the one duration grammar ([`hook_protocol::duration`]: a bare number is
/// seconds), more than zero and at most [`hook_protocol::MAX_DEADLINE`].
fn parse_deadline(s: &str) -> Result<Duration, String> {
    match hook_protocol::duration::parse(s) {
        Ok(d) if d.is_zero() => Err("the deadline must be more than 0".to_string()),
        Ok(d) if d > hook_protocol::MAX_DEADLINE => Err(format!(
            "the deadline is at most {}",
            hook_protocol::duration::Display(hook_protocol::MAX_DEADLINE)
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e}; use {}", hook_protocol::duration::EXAMPLES)),
    }
}

/// Reads stdin to EOF. Returns the event (at most `MAX_EVENT_LEN` bytes) and, when it was
/// larger, its full length.
fn read_stdin() -> (Vec<u8>, Option<u64>) {
    let mut buf = Vec::with_capacity(8 * 1024);
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    let limit = MAX_EVENT_LEN as u64 + 1;
    if lock.by_ref().take(limit).read_to_end(&mut buf).is_err() {
        return (buf, None);
    }
    if buf.len() as u64 <= MAX_EVENT_LEN as u64 {
        return (buf, None);
    }
    let total = buf.len() as u64 + count_rest(&mut lock);
    buf.truncate(MAX_EVENT_LEN);
    (buf, Some(total))
}

/// Reads what is left of an oversized event, counting it.
///
/// Out of line and cold on purpose: its 64 KiB buffer would otherwise be part of the caller's
/// stack frame, and the stack probe at the caller's entry touches every page of a frame, so
/// every hook, oversized or not, paid 16 page faults for it (a fifth of a static hook-client's
/// page faults, `perf record -e page-faults`).
#[cold]
#[inline(never)]
fn count_rest(input: &mut impl Read) -> u64 {
    let mut sink = [0u8; 64 * 1024];
    let mut total = 0;
    while let Ok(n) = input.read(&mut sink) {
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    total
}

/// This invocation's identity: the wall clock in nanoseconds and the pid, in hex. Sent with the
/// event and, if hookd does not answer, written to the spool record, so hookd records an event
/// it committed but could not reply to once (the spooled copy is dropped). Unique among one
/// user's hooks (no two live processes share a pid); costs a vDSO clock read and `getpid`.
fn invocation_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}-{:x}", now.as_nanos(), std::process::id())
}

/// Sends the event to hookd and returns its reply. An older hookd (another protocol version)
/// is asked to hand over once ([`hand_over`]); the event then goes to the hookd started in its
/// place, or gets the fail mode.
fn exchange(
    opts: &Options,
    event: &[u8],
    id: &str,
    start: Instant,
    early: Option<Early>,
) -> Result<HookReply, Failure> {
    let deadline = start + opts.deadline;
    let request = Request::Hook(HookRequest {
        event: event.to_vec(),
        env: HookEnv {
            project_dir: std::env::var("CLAUDE_PROJECT_DIR").ok(),
            session_id: std::env::var("CLAUDE_CODE_SESSION_ID").ok(),
            cwd: std::env::current_dir()
                .ok()
                .map(|p| p.to_string_lossy().into_owned()),
        },
        options: ClientOptions {
            event: opts.event.clone(),
            fail_mode: opts.fail_mode.clone(),
            deadline_ms: u32::try_from(opts.deadline.as_millis()).unwrap_or(u32::MAX),
        },
        id: Some(id.to_string()),
        env_file: std::env::var("CLAUDE_ENV_FILE").ok(),
    });
    let frame = encode_message(&request).map_err(|e| Failure(e.to_string()))?;
    let mismatch = match send(opts, &frame, deadline, early)? {
        Answer::Reply(r) => return Ok(r),
        Answer::Mismatch(m) => m,
    };
    if mismatch.daemon_protocol >= PROTOCOL_VERSION || !hand_over(opts, &mismatch, deadline) {
        return Err(Failure(mismatch.describe(PROTOCOL_VERSION)));
    }
    // The older hookd is draining; a connection may still reach it (or be cut as it exits)
    // until the next one starts (or reaches) the new hookd.
    let mut last = Failure(format!(
        "{} (asked it to hand over to this build, but it was still answering after {} ms)",
        mismatch.describe(PROTOCOL_VERSION),
        opts.deadline.as_millis()
    ));
    while Instant::now() < deadline {
        match send(opts, &frame, deadline, None) {
            Ok(Answer::Reply(r)) => return Ok(r),
            Ok(Answer::Mismatch(_)) => {}
            Err(f) => last = f,
        }
        #[allow(clippy::disallowed_methods)] // hook-client is synchronous; nothing else to run
        std::thread::sleep(CONNECT_RETRY);
    }
    Err(last)
}

/// What hookd answered a hook request with.
enum Answer {
    Reply(HookReply),
    /// hookd speaks another protocol version.
    Mismatch(Mismatch),
}

/// One request and its answer on a new connection.
fn send(
    opts: &Options,
    frame: &[u8],
    deadline: Instant,
    early: Option<Early>,
) -> Result<Answer, Failure> {
    let mut stream = match early.and_then(Early::take) {
        Some(s) => s,
        None => connect(opts, deadline, opts.autostart)?,
    };
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let timeout_failure = |what: &str, e: &io::Error| {
        if matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ) {
            Failure(format!(
                "hookd at {} closed the connection without answering ({e}); it may have \
                 stopped or crashed (`hookctl status`, and its log)",
                opts.socket.display()
            ))
        } else if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            Failure(format!(
                "no answer from hookd at {} within {} ms",
                opts.socket.display(),
                opts.deadline.as_millis()
            ))
        } else {
            Failure(format!("{what} hookd at {}: {e}", opts.socket.display()))
        }
    };
    let _ = stream.set_write_timeout(Some(remaining));
    let _ = stream.set_read_timeout(Some(remaining));
    // A daemon refusing the connection (at its connection cap) says why and closes, maybe
    // before the request is written: its answer is read even when the write failed.
    let written = stream.write_all(frame);
    if written.is_ok() {
        await_reply(&stream, deadline);
    }
    let reply = match read_frame(&mut stream, MAX_FRAME_LEN) {
        Ok(f) => f,
        Err(_) if written.is_err() => {
            return Err(written
                .map_err(|e| timeout_failure("sending to", &e))
                .unwrap_err());
        }
        Err(FrameError::Io(e)) => return Err(timeout_failure("reading from", &e)),
        Err(FrameError::Closed) => {
            return Err(Failure(format!(
                "hookd at {} closed the connection without answering; it may have stopped or \
                 crashed (`hookctl status`, and its log)",
                opts.socket.display()
            )));
        }
        Err(e) => return Err(Failure(format!("bad reply from hookd: {e}"))),
    };
    match decode_message::<Response>(&reply) {
        Ok(Response::Verdict(r)) => Ok(Answer::Reply(r)),
        Ok(Response::Mismatch(m)) => Ok(Answer::Mismatch(m)),
        Ok(Response::Error(e)) => Err(Failure(format!("hookd error: {e}"))),
        Ok(other) => Err(Failure(format!("unexpected reply from hookd: {other:?}"))),
        Err(FrameError::VersionMismatch { body, theirs, .. }) => match postcard_mismatch(&body) {
            Some(m) => Ok(Answer::Mismatch(m)),
            None => Err(Failure(format!(
                "protocol version mismatch: hook-client speaks {PROTOCOL_VERSION}, hookd speaks {theirs}"
            ))),
        },
        Err(e) => Err(Failure(format!("bad reply from hookd: {e}"))),
    }
}

/// A connection to hookd opened before the event is read.
///
/// Connecting first lets hookd's side (waking a worker, accepting, checking the peer) run while
/// this process reads stdin and encodes the request, instead of after: about 2% of a whole
/// hook (`hook-bench spawn`, BENCHMARKS.md). It is only an optimisation: no autostart here,
/// any failure is forgotten, and the request goes over a new connection (made as before, with
/// autostart and its errors) unless this one is young and still open with nothing said on it:
/// hookd closes connections that stay silent past its idle timeout, and one refused at
/// hookd's connection cap carries the refusal.
struct Early {
    stream: UnixStream,
    opened: Instant,
}

/// The oldest an early connection may be when the request is ready (hookd's idle timeout is
/// seconds; reading a Claude Code event takes microseconds).
const EARLY_MAX_AGE: Duration = Duration::from_millis(200);

impl Early {
    fn connect(opts: &Options, deadline: Instant) -> Option<Self> {
        let stream = connect(opts, deadline, false).ok()?;
        Some(Self {
            stream,
            opened: Instant::now(),
        })
    }

    /// The connection, if it can carry the request.
    fn take(self) -> Option<UnixStream> {
        let fresh = self.opened.elapsed() <= EARLY_MAX_AGE;
        (fresh && peek(&self.stream) == Peek::Nothing).then_some(self.stream)
    }
}

/// How long hook-client polls for hookd's answer before it sleeps in `read`.
const SPIN_FOR: Duration = Duration::from_micros(500);

/// Polls, for at most [`SPIN_FOR`], until hookd's answer (or the end of the connection) can be
/// read; the blocking read with the deadline follows either way.
///
/// hookd usually answers within a few hundred microseconds. A process that sleeps in `read`
/// for that long lets its CPU go idle, and on virtual machines waking an idle CPU (an
/// inter-processor interrupt through the hypervisor) is one of the slowest steps of the whole
/// hook: polling made a hook about 2% faster on the project's VM (`hook-bench spawn`,
/// BENCHMARKS.md). Each try is a non-blocking `recv` with `MSG_PEEK` (nothing is consumed),
/// with `sched_yield` between tries so that a runnable hookd, or anything else, on this CPU
/// runs first. The cost is CPU time while waiting, at most [`SPIN_FOR`] per hook.
fn await_reply(stream: &UnixStream, deadline: Instant) {
    let until = deadline.min(Instant::now() + SPIN_FOR);
    while peek(stream) == Peek::Nothing && Instant::now() < until {
        // SAFETY: no arguments; gives the CPU to another runnable thread, if there is one.
        #[allow(unsafe_code)]
        unsafe {
            libc::sched_yield();
        }
    }
}

#[derive(PartialEq, Eq)]
enum Peek {
    /// Open, nothing to read yet.
    Nothing,
    /// Bytes to read, the end of the connection, or an error: a read would not block.
    Readable,
}

/// Whether a read on `stream` would block, without reading or blocking.
fn peek(stream: &UnixStream) -> Peek {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a one-byte peek into a local, on a descriptor `stream` keeps open.
    #[allow(unsafe_code)]
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            std::ptr::from_mut(&mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock {
        Peek::Nothing
    } else {
        Peek::Readable
    }
}

/// The least time between two hand-over requests, so that a service manager that keeps
/// restarting an old hookd costs one attempt a minute, not one per event.
const HAND_OVER_EVERY: Duration = Duration::from_secs(60);

/// Asks an older hookd to drain and exit, so this build's hookd can take over: the frozen
/// `Stop` request in the daemon's own protocol version ([`hook_protocol::stop_frame`]). At most
/// once per [`HAND_OVER_EVERY`] (a stamp file in the state directory), and never with autostart
/// off (nothing would take over). Returns whether the daemon agreed.
fn hand_over(opts: &Options, old: &Mismatch, deadline: Instant) -> bool {
    if !opts.autostart {
        return false;
    }
    let dir = paths::state_dir();
    let stamp = dir.join(HAND_OVER_STAMP);
    let recent = std::fs::symlink_metadata(&stamp)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().unwrap_or_default() < HAND_OVER_EVERY);
    if recent {
        return false;
    }
    let note = format!(
        "hook-client protocol {PROTOCOL_VERSION} asked hookd {} (protocol {}) to hand over\n",
        old.daemon_version, old.daemon_protocol
    );
    // Without the stamp the rate limit cannot hold: then do not risk a stop per event.
    let stamped = private::ensure_private_dir(&dir, "state directory")
        .map_err(io::Error::from)
        .and_then(|()| private::write_private(&stamp, note.as_bytes()));
    if stamped.is_err() {
        return false;
    }
    let Ok(mut stream) = connect_by(&opts.socket, deadline) else {
        return false;
    };
    if private::check_peer(&stream, &opts.socket).is_err() {
        return false;
    }
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let _ = stream.set_write_timeout(Some(remaining));
    let _ = stream.set_read_timeout(Some(remaining));
    // Its answer (`Stopping`, in its own version) means the drain has begun.
    stream
        .write_all(&hook_protocol::stop_frame(old.daemon_protocol))
        .is_ok()
        && read_frame(&mut stream, MAX_FRAME_LEN).is_ok()
}

/// The file in the state directory recording the last hand-over request.
const HAND_OVER_STAMP: &str = "handover";

fn postcard_mismatch(body: &[u8]) -> Option<Mismatch> {
    // Response::Mismatch is variant 0 with a frozen shape in every protocol version.
    match hook_protocol::frame::decode_body::<Response>(body) {
        Ok(Response::Mismatch(m)) => Some(m),
        _ => None,
    }
}

/// Connects to hookd, starting it when it is not running and `autostart` is on. Nothing is sent
/// to a socket in a directory that is not private to us, or served by another user's process
/// ([`private`]): that event gets the fail mode, with the reason.
fn connect(opts: &Options, deadline: Instant, autostart: bool) -> Result<UnixStream, Failure> {
    private::check_socket_dir_if_present(&opts.socket, opts.socket_dir_owned)
        .map_err(|u| Failure(u.to_string()))?;
    let trusted = |s: UnixStream| {
        private::check_peer(&s, &opts.socket)
            .map(|()| s)
            .map_err(|u| Failure(u.to_string()))
    };
    let first = match connect_by(&opts.socket, deadline) {
        Ok(s) => return trusted(s),
        Err(e) => e,
    };
    if first.kind() == io::ErrorKind::WouldBlock {
        // The listen queue stayed full until the deadline: hookd is stopped or swamped.
        return Err(Failure(format!(
            "no answer from hookd at {} within {} ms (its connection queue is full)",
            opts.socket.display(),
            opts.deadline.as_millis()
        )));
    }
    let startable = matches!(
        first.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    );
    if !startable {
        return Err(Failure(format!(
            "cannot connect to hookd at {}: {first}",
            opts.socket.display()
        )));
    }
    if !autostart {
        return Err(Failure(format!(
            "hookd is not running at {} ({first}) and autostart is off",
            opts.socket.display()
        )));
    }
    let hookd = paths::find_program("hookd", Some("HOOKD_BIN")).map_err(|why| {
        Failure(format!(
            "hookd is not running at {} and cannot be started: {why}",
            opts.socket.display()
        ))
    })?;
    hook_protocol::start::spawn_detached(&hookd, &opts.socket)
        .map_err(|e| Failure(format!("cannot start {}: {e}", hookd.display())))?;
    let mut last = first;
    while Instant::now() < deadline {
        #[allow(clippy::disallowed_methods)] // hook-client is synchronous; nothing else to run
        std::thread::sleep(CONNECT_RETRY);
        match connect_by(&opts.socket, deadline) {
            Ok(s) => return trusted(s),
            Err(e) => last = e,
        }
    }
    Err(Failure(format!(
        "started {} but it did not accept connections at {} within {} ms ({last})",
        hookd.display(),
        opts.socket.display(),
        opts.deadline.as_millis()
    )))
}

/// Connects to the Unix socket at `path`, waiting at most until `deadline`.
///
/// On Linux, `UnixStream::connect` blocks without bound while the listener's queue is full (a
/// stopped or swamped hookd); with `SO_SNDTIMEO` set first, the kernel gives up at the deadline with
/// `EAGAIN` (`WouldBlock`). (BSD kernels, macOS among them, refuse at once instead.)
#[cfg(not(target_os = "linux"))]
fn connect_by(path: &Path, _deadline: Instant) -> io::Result<UnixStream> {
    UnixStream::connect(path)
}

/// See the other `connect_by`: Linux waits for room in the queue, bounded by `SO_SNDTIMEO`.
#[cfg(target_os = "linux")]
fn connect_by(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    #[allow(unsafe_code)]
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long or contains NUL",
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    #[allow(unsafe_code)]
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(unsafe_code)]
    // SAFETY: fd is a fresh descriptor we own; OwnedFd closes it on every path.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    // suseconds_t is i32 on 32-bit targets; on musl the libc crate marks time_t and suseconds_t
    // deprecated ahead of their switch to 64 bits, which changes nothing here.
    #[allow(clippy::unnecessary_fallible_conversions, deprecated)]
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::try_from(wait.subsec_micros()).unwrap_or(0),
    };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    #[allow(unsafe_code)]
    // SAFETY: tv outlives the call and the length matches its type.
    let rc = unsafe {
        libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            std::ptr::from_ref(&tv).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::timeval>()).unwrap_or(0),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    #[allow(unsafe_code)]
    // SAFETY: addr is a valid sockaddr_un and len does not exceed its size.
    let rc = unsafe {
        libc::connect(
            raw,
            std::ptr::from_ref(&addr).cast(),
            libc::socklen_t::try_from(len).unwrap_or(0),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UnixStream::from(fd))
}

/// Answers by the fail mode and spools the event under the invocation's `id`.
fn fall_back(
    opts: &Options,
    event: Vec<u8>,
    truncated_from: Option<u64>,
    id: String,
    reason: &str,
) -> HookReply {
    let name = opts
        .event
        .as_deref()
        .or_else(|| failmode::scan_event_name(&event))
        .unwrap_or("unknown")
        .to_string();
    let mode = failmode::mode_for(&name, opts.fail_mode.as_deref());
    let spool_path = paths::spool_path();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let record = SpoolRecord {
        id,
        time_ms: u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
        reason: reason.to_string(),
        answered: mode.as_str().to_string(),
        event,
        truncated_from,
        env: HookEnv {
            project_dir: std::env::var("CLAUDE_PROJECT_DIR").ok(),
            session_id: std::env::var("CLAUDE_CODE_SESSION_ID").ok(),
            cwd: std::env::current_dir()
                .ok()
                .map(|p| p.to_string_lossy().into_owned()),
        },
    };
    let spooled = match spool::append(&spool_path, &record) {
        Ok(()) => spool_path.display().to_string(),
        Err(e) => format!("NOWHERE (spool {} failed: {e})", spool_path.display()),
    };
    let why = format!("hookd could not answer: {reason}");
    failmode::fallback_reply(&name, mode, &why, Some(&spooled))
}

fn emit(reply: &HookReply) -> ! {
    // A closed stdout or stderr (Claude Code went away) is not an error worth reporting.
    if !reply.stdout.is_empty() {
        let mut out = io::stdout().lock();
        let _ = out.write_all(&reply.stdout).and_then(|()| out.flush());
    }
    if !reply.stderr.is_empty() {
        let _ = io::stderr().lock().write_all(&reply.stderr);
    }
    std::process::exit(reply.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_in_the_one_duration_grammar_and_a_bare_number_is_seconds() {
        assert_eq!(parse_deadline("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_deadline("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_deadline("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_deadline("250"), Ok(Duration::from_secs(250)));
        assert_eq!(parse_deadline("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_deadline("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_deadline("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_deadline("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["soon", "0s", "0", "1h1ms", "2 sec", "-1s"] {
            assert!(parse_deadline(bad).is_err(), "{bad}");
        }
    }
}
