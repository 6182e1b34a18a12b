//! hook-client: the command Claude Code runs for each hook event.
//!
//! Reads the event from stdin, forwards it to hookd over the Unix socket, prints the daemon's
//! reply exactly and exits with its code. It never parses the event. When hookd cannot answer
//! (not running and cannot be started, too slow, another protocol version, an oversized event)
//! it answers by the per-event fail mode, says why in one line on stderr and appends the event
//! to the spool, which hookd records on its next start.
//!
//! A whole hook is this program's start-up, its exchange with hookd and its exit, and it must
//! cost no more than `/bin/true`. So hook-client does without the standard library: `core` and
//! `alloc`, the protocol's `no_std` core (`hook-protocol-core`) and its own system calls
//! ([`sys`]). The release build on Linux links no C library at all (`src/rt.rs`: its own
//! start-up, relocation and allocator); other builds start from the C library's `main`
//! (`src/main.rs`), with the standard library linked only for what their panic strategy or
//! platform needs. Either way the same code runs from [`start`] on, which also does what
//! Rust's runtime start-up would have done that hook-client relies on: `SIGPIPE` ignored (a
//! closed pipe is an error, not a kill) and fds 0-2 kept open (a socket must never land on
//! stdout).

#![no_std]

extern crate alloc;
// The unit tests use the standard library (and compare with it).
#[cfg(test)]
extern crate std;

#[cfg(raw_syscalls)]
pub mod alloc_impl;
mod env;
mod paths;
mod spool;
pub mod sys;
mod trust;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use hook_protocol_core::failmode;
use hook_protocol_core::frame::{LEN_BYTES, check_len, split_version};
use hook_protocol_core::wire::{self, Answer, ClientOptions, HookEnv, HookRequest, Mismatch};
use hook_protocol_core::{MAX_EVENT_LEN, MAX_FRAME_LEN, PROTOCOL_VERSION};

use crate::paths::show;
use crate::sys::{Errno, Fd};

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
    socket: Vec<u8>,
    /// The socket's directory is hookd's own (not `--socket`/`HOOKD_SOCKET`).
    socket_dir_owned: bool,
    autostart: bool,
}

/// Why hookd could not answer.
struct Failure(String);

/// The monotonic clock now.
fn now() -> Duration {
    sys::monotonic()
}

/// Where every build starts (`src/main.rs`): `argc` strings in `argv`, the environment in
/// `envp`.
///
/// # Safety
///
/// `argv` must hold `argc` NUL-terminated strings and `envp` be a NULL-terminated array of
/// them, all valid for the whole run: what the kernel or the C start-up passes.
#[allow(unsafe_code)]
pub unsafe fn start(argc: usize, argv: *const *const u8, envp: *const *const u8) -> ! {
    // SAFETY: the caller's contract.
    let args = unsafe { env::init(argc, argv, envp) };
    sys::ignore_sigpipe();
    sys::keep_stdio_open();
    run(args)
}

fn run(args: Vec<String>) -> ! {
    let start = now();
    let (opts, usage_error) = match parse_args(args) {
        Ok(Some(o)) => (o, None),
        Ok(None) => sys::exit(exit::OK),
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
    // The hook process's environment values, for the request and, if it fails, the spool.
    let cwd = cwd();
    let env = hook_env(&cwd);
    let reply = match usage_error {
        Some(e) => Err(Failure(format!("bad hook-client arguments: {e}"))),
        None if oversized.is_some() => Err(Failure(format!(
            "event of {} bytes is over the {} byte limit",
            oversized.unwrap_or_default(),
            MAX_EVENT_LEN
        ))),
        None => exchange(&opts, &event, env, &id, start, early),
    };
    let reply = reply.unwrap_or_else(|f| fall_back(&opts, &event, env, oversized, &id, &f.0));
    emit(&reply);
}

/// Parses arguments and environment. On a bad argument, returns defaults plus the error so the
/// event still gets a safe answer.
fn parse_args(args: Vec<String>) -> Result<Option<Options>, (Options, String)> {
    let mut opts = Options {
        event: None,
        fail_mode: env::var("HOOKD_FAIL_MODE")
            .filter(|s| !s.is_empty())
            .map(ToString::to_string),
        deadline: DEFAULT_DEADLINE,
        socket: paths::socket_path(),
        socket_dir_owned: !paths::socket_is_explicit(),
        autostart: env::var_os("HOOKD_NO_AUTOSTART").is_none_or(|v| v.is_empty() || v == b"0"),
    };
    let mut error = None;
    if let Some(d) = env::var_os("HOOKD_DEADLINE") {
        match core::str::from_utf8(d) {
            Err(_) => {}
            Ok(d) => match parse_deadline(d) {
                Ok(d) => opts.deadline = d,
                Err(e) => error = Some(format!("HOOKD_DEADLINE={d:?}: {e}")),
            },
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
                let _ = sys::write_all(1, USAGE.as_bytes());
                return Ok(None);
            }
            "--version" | "-V" => {
                let v = format!(
                    "hook-client {} (build {}, protocol {PROTOCOL_VERSION})\n",
                    hook_protocol_core::PACKAGE_VERSION,
                    hook_protocol_core::BUILD_ID
                );
                let _ = sys::write_all(1, v.as_bytes());
                return Ok(None);
            }
            "--event" => opts.event = value(),
            "--fail-mode" => opts.fail_mode = value(),
            "--socket" => {
                if let Some(v) = value() {
                    opts.socket = v.into_bytes();
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

/// A deadline in the one duration grammar (`hook_protocol_core::duration`: a bare number is
/// seconds), more than zero and at most [`hook_protocol_core::MAX_DEADLINE`].
fn parse_deadline(s: &str) -> Result<Duration, String> {
    use hook_protocol_core::duration;
    match duration::parse(s) {
        Ok(d) if d.is_zero() => Err("the deadline must be more than 0".to_string()),
        Ok(d) if d > hook_protocol_core::MAX_DEADLINE => Err(format!(
            "the deadline is at most {}",
            duration::Display(hook_protocol_core::MAX_DEADLINE)
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e}; use {}", duration::EXAMPLES)),
    }
}

/// Reads stdin to EOF. Returns the event (at most `MAX_EVENT_LEN` bytes) and, when it was
/// larger, its full length.
fn read_stdin() -> (Vec<u8>, Option<u64>) {
    let limit = MAX_EVENT_LEN + 1;
    // `buf[..filled]` is the event so far; the rest is zeroed room, each byte zeroed once.
    let mut buf: Vec<u8> = alloc::vec![0; 8 * 1024];
    let mut filled = 0;
    while filled < limit {
        if filled == buf.len() {
            buf.resize((buf.len() * 2).min(limit), 0);
        }
        match sys::read(0, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno(libc::EINTR)) => {}
            Err(_) => break,
        }
    }
    buf.truncate(filled);
    if filled <= MAX_EVENT_LEN {
        return (buf, None);
    }
    let total = filled as u64 + count_rest();
    buf.truncate(MAX_EVENT_LEN);
    (buf, Some(total))
}

/// Reads what is left of an oversized event, counting it.
///
/// Out of line and cold on purpose: its 64 KiB buffer would otherwise be part of the caller's
/// stack frame, and the stack probe at the caller's entry touches every page of a frame, so
/// every hook, oversized or not, would pay 16 page faults for it.
#[cold]
#[inline(never)]
fn count_rest() -> u64 {
    let mut sink = [0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match sys::read(0, &mut sink) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(Errno(libc::EINTR)) => {}
            Err(_) => break,
        }
    }
    total
}

/// This invocation's identity: the wall clock in nanoseconds and the pid, in hex. Sent with the
/// event and, if hookd does not answer, written to the spool record, so hookd records an event
/// it committed but could not reply to once (the spooled copy is dropped). Unique among one
/// user's hooks (no two live processes share a pid).
fn invocation_id() -> String {
    format!("{:x}-{:x}", sys::wall_clock().as_nanos(), sys::getpid())
}

/// The hook process's environment values hookd needs.
fn hook_env(cwd: &Option<String>) -> HookEnv<'_> {
    HookEnv {
        project_dir: env::var("CLAUDE_PROJECT_DIR"),
        session_id: env::var("CLAUDE_CODE_SESSION_ID"),
        cwd: cwd.as_deref(),
    }
}

/// The working directory as text (`to_string_lossy`).
fn cwd() -> Option<String> {
    sys::getcwd()
        .ok()
        .map(|p| String::from_utf8_lossy(&p).into_owned())
}

/// Sends the event to hookd and returns its reply. An older hookd (another protocol version)
/// is asked to hand over once ([`hand_over`]); the event then goes to the hookd started in its
/// place, or gets the fail mode.
fn exchange(
    opts: &Options,
    event: &[u8],
    env: HookEnv<'_>,
    id: &str,
    start: Duration,
    early: Option<Early>,
) -> Result<failmode::Reply, Failure> {
    let deadline = start + opts.deadline;
    let request = HookRequest {
        event,
        env,
        options: ClientOptions {
            event: opts.event.as_deref(),
            fail_mode: opts.fail_mode.as_deref(),
            deadline_ms: u32::try_from(opts.deadline.as_millis()).unwrap_or(u32::MAX),
        },
        id: Some(id),
        env_file: env::var("CLAUDE_ENV_FILE"),
    };
    let frame = wire::encode_hook_request(&request).map_err(|e| Failure(e.to_string()))?;
    let mismatch = match send(opts, &frame, deadline, early)? {
        Got::Verdict(r) => return Ok(r),
        Got::Mismatch(m) => m,
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
    while now() < deadline {
        match send(opts, &frame, deadline, None) {
            Ok(Got::Verdict(r)) => return Ok(r),
            Ok(Got::Mismatch(_)) => {}
            Err(f) => last = f,
        }
        sys::sleep(CONNECT_RETRY);
    }
    Err(last)
}

/// What is left of `deadline`, at least a millisecond.
fn remaining(deadline: Duration) -> Duration {
    deadline.saturating_sub(now()).max(Duration::from_millis(1))
}

/// Bounds every later send and receive on `stream` by what is left of `deadline`.
fn bound_by(stream: &Fd, deadline: Duration) {
    let wait = remaining(deadline);
    let _ = sys::set_timeout(stream, libc::SO_SNDTIMEO, wait);
    let _ = sys::set_timeout(stream, libc::SO_RCVTIMEO, wait);
}

/// What hookd answered a hook request with.
enum Got {
    Verdict(failmode::Reply),
    /// hookd speaks another protocol version.
    Mismatch(Mismatch),
}

/// One request and its answer on a new connection.
fn send(
    opts: &Options,
    frame: &[u8],
    deadline: Duration,
    early: Option<Early>,
) -> Result<Got, Failure> {
    let stream = match early.and_then(Early::take) {
        Some(s) => s,
        None => connect(opts, deadline, opts.autostart)?,
    };
    let socket = show(&opts.socket);
    let timeout_failure = |what: &str, e: Errno| {
        if e.reset() {
            Failure(format!(
                "hookd at {socket} closed the connection without answering ({e}); it may have \
                 stopped or crashed (`hookctl status`, and its log)"
            ))
        } else if e.would_block() {
            Failure(format!(
                "no answer from hookd at {socket} within {} ms",
                opts.deadline.as_millis()
            ))
        } else {
            Failure(format!("{what} hookd at {socket}: {e}"))
        }
    };
    bound_by(&stream, deadline);
    // A daemon refusing the connection (at its connection cap) says why and closes, maybe
    // before the request is written: its answer is read even when the write failed.
    let written = sys::write_all(stream.raw(), frame);
    if written.is_ok() {
        await_reply(&stream, deadline);
    }
    let reply = match read_frame(&stream) {
        Ok(f) => f,
        Err(_) if written.is_err() => {
            return Err(timeout_failure("sending to", written.unwrap_err()));
        }
        Err(ReadError::Os(e)) => return Err(timeout_failure("reading from", e)),
        Err(ReadError::Closed) => {
            return Err(Failure(format!(
                "hookd at {socket} closed the connection without answering; it may have stopped \
                 or crashed (`hookctl status`, and its log)"
            )));
        }
        Err(ReadError::Bad(e)) => return Err(Failure(format!("bad reply from hookd: {e}"))),
    };
    let (version, body) =
        split_version(&reply).map_err(|e| Failure(format!("bad reply from hookd: {e}")))?;
    let answer = wire::decode_answer(body);
    if version != PROTOCOL_VERSION {
        // Response::Mismatch has the same shape in every protocol version.
        return match answer {
            Ok(Answer::Mismatch(m)) => Ok(Got::Mismatch(m)),
            _ => Err(Failure(format!(
                "protocol version mismatch: hook-client speaks {PROTOCOL_VERSION}, hookd speaks {version}"
            ))),
        };
    }
    match answer {
        Ok(Answer::Verdict(r)) => Ok(Got::Verdict(r)),
        Ok(Answer::Mismatch(m)) => Ok(Got::Mismatch(m)),
        Ok(Answer::Error(e)) => Err(Failure(format!("hookd error: {e}"))),
        Ok(Answer::Other(variant)) => Err(Failure(format!(
            "unexpected reply from hookd (response variant {variant})"
        ))),
        Err(e) => Err(Failure(format!(
            "bad reply from hookd: malformed message: {e}"
        ))),
    }
}

/// Why a frame could not be read.
enum ReadError {
    /// The socket failed (or timed out).
    Os(Errno),
    /// Closed before a frame started.
    Closed,
    /// A truncated or oversized frame.
    Bad(String),
}

/// Reads one frame and returns its version-and-body bytes.
fn read_frame(stream: &Fd) -> Result<Vec<u8>, ReadError> {
    let mut header = [0u8; LEN_BYTES];
    let got = sys::read_full(stream.raw(), &mut header).map_err(ReadError::Os)?;
    if got == 0 {
        return Err(ReadError::Closed);
    }
    if got < LEN_BYTES {
        return Err(ReadError::Bad(format!(
            "truncated frame: expected {LEN_BYTES} bytes, got {got}"
        )));
    }
    let len = check_len(header, MAX_FRAME_LEN).map_err(|e| ReadError::Bad(e.to_string()))?;
    let mut buf = alloc::vec![0u8; len];
    let got = sys::read_full(stream.raw(), &mut buf).map_err(ReadError::Os)?;
    if got < len {
        return Err(ReadError::Bad(format!(
            "truncated frame: expected {len} bytes, got {got}"
        )));
    }
    Ok(buf)
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
    stream: Fd,
    opened: Duration,
}

/// The oldest an early connection may be when the request is ready (hookd's idle timeout is
/// seconds; reading a Claude Code event takes microseconds).
const EARLY_MAX_AGE: Duration = Duration::from_millis(200);

impl Early {
    fn connect(opts: &Options, deadline: Duration) -> Option<Self> {
        let stream = connect(opts, deadline, false).ok()?;
        Some(Self {
            stream,
            opened: now(),
        })
    }

    /// The connection, if it can carry the request.
    fn take(self) -> Option<Fd> {
        let fresh = now().saturating_sub(self.opened) <= EARLY_MAX_AGE;
        (fresh && quiet(&self.stream)).then_some(self.stream)
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
fn await_reply(stream: &Fd, deadline: Duration) {
    let until = deadline.min(now() + SPIN_FOR);
    while quiet(stream) && now() < until {
        sys::yield_now();
    }
}

/// Whether `stream` is open with nothing to read yet (a read would block).
fn quiet(stream: &Fd) -> bool {
    matches!(sys::peek(stream), Err(Errno(e)) if e == libc::EAGAIN || e == libc::EWOULDBLOCK)
}

/// The least time between two hand-over requests, so that a service manager that keeps
/// restarting an old hookd costs one attempt a minute, not one per event.
const HAND_OVER_EVERY: Duration = Duration::from_secs(60);

/// Asks an older hookd to drain and exit, so this build's hookd can take over: the frozen
/// `Stop` request in the daemon's own protocol version
/// ([`hook_protocol_core::frame::stop_frame`]). At most once per [`HAND_OVER_EVERY`] (a stamp
/// file in the state directory), and never with autostart off (nothing would take over).
/// Returns whether the daemon agreed.
fn hand_over(opts: &Options, old: &Mismatch, deadline: Duration) -> bool {
    if !opts.autostart {
        return false;
    }
    let dir = paths::state_dir();
    let stamp = paths::join(&dir, HAND_OVER_STAMP.as_bytes());
    let recent = sys::stat(&stamp, false)
        .is_ok_and(|m| sys::wall_clock().saturating_sub(m.mtime) < HAND_OVER_EVERY);
    if recent {
        return false;
    }
    let note = format!(
        "hook-client protocol {PROTOCOL_VERSION} asked hookd {} (protocol {}) to hand over\n",
        old.daemon_version, old.daemon_protocol
    );
    // Without the stamp the rate limit cannot hold: then do not risk a stop per event.
    let stamped = trust::ensure_private_dir(&dir, "state directory").is_ok()
        && trust::write_private(&stamp, note.as_bytes()).is_ok();
    if !stamped {
        return false;
    }
    let Ok(stream) = connect_by(&opts.socket, deadline) else {
        return false;
    };
    if trust::check_peer(&stream, &opts.socket).is_err() {
        return false;
    }
    bound_by(&stream, deadline);
    // Its answer (`Stopping`, in its own version) means the drain has begun.
    sys::write_all(
        stream.raw(),
        &hook_protocol_core::frame::stop_frame(old.daemon_protocol),
    )
    .is_ok()
        && read_frame(&stream).is_ok()
}

/// The file in the state directory recording the last hand-over request.
const HAND_OVER_STAMP: &str = "handover";

/// Connects to hookd, starting it when it is not running and `autostart` is on. Nothing is sent
/// to a socket in a directory that is not private to us, or served by another user's process
/// ([`trust`]): that event gets the fail mode, with the reason.
fn connect(opts: &Options, deadline: Duration, autostart: bool) -> Result<Fd, Failure> {
    let socket = show(&opts.socket);
    trust::check_socket_dir_if_present(&opts.socket, opts.socket_dir_owned)
        .map_err(|u| Failure(u.to_string()))?;
    let trusted = |s: Fd| {
        trust::check_peer(&s, &opts.socket)
            .map(|()| s)
            .map_err(|u| Failure(u.to_string()))
    };
    let first = match connect_by(&opts.socket, deadline) {
        Ok(s) => return trusted(s),
        Err(e) => e,
    };
    if first.would_block() {
        // The listen queue stayed full until the deadline: hookd is stopped or swamped.
        return Err(Failure(format!(
            "no answer from hookd at {socket} within {} ms (its connection queue is full)",
            opts.deadline.as_millis()
        )));
    }
    if !(first.not_found() || first.0 == libc::ECONNREFUSED) {
        // Refused before any system call (`sys::connect_unix`): say it in words.
        let why = if first.0 == libc::ENAMETOOLONG || first == Errno::INVALID {
            "socket path too long or contains NUL".to_string()
        } else {
            first.to_string()
        };
        return Err(Failure(format!(
            "cannot connect to hookd at {socket}: {why}"
        )));
    }
    if !autostart {
        return Err(Failure(format!(
            "hookd is not running at {socket} ({first}) and autostart is off"
        )));
    }
    let hookd = paths::find_program("hookd", "HOOKD_BIN").map_err(|why| {
        Failure(format!(
            "hookd is not running at {socket} and cannot be started: {why}"
        ))
    })?;
    let argv: [&[u8]; 4] = [&hookd, b"--autostarted", b"--socket", &opts.socket];
    sys::spawn_detached(&hookd, &argv, &env::envp())
        .map_err(|e| Failure(format!("cannot start {}: {e}", show(&hookd))))?;
    let mut last = first;
    while now() < deadline {
        sys::sleep(CONNECT_RETRY);
        match connect_by(&opts.socket, deadline) {
            Ok(s) => return trusted(s),
            Err(e) => last = e,
        }
    }
    Err(Failure(format!(
        "started {} but it did not accept connections at {socket} within {} ms ({last})",
        show(&hookd),
        opts.deadline.as_millis()
    )))
}

/// Connects to the Unix socket at `path`, waiting at most until `deadline`.
///
/// On Linux, `connect` blocks without bound while the listener's queue is full (a stopped or
/// swamped hookd); with `SO_SNDTIMEO` set first, the kernel gives up at the deadline with
/// `EAGAIN`. (BSD kernels, macOS among them, refuse at once instead.)
fn connect_by(path: &[u8], deadline: Duration) -> Result<Fd, Errno> {
    let fd = sys::unix_socket()?;
    sys::set_timeout(&fd, libc::SO_SNDTIMEO, remaining(deadline))?;
    sys::connect_unix(&fd, path)?;
    Ok(fd)
}

/// Answers by the fail mode and spools the event under the invocation's `id`.
fn fall_back(
    opts: &Options,
    event: &[u8],
    env: HookEnv<'_>,
    truncated_from: Option<u64>,
    id: &str,
    reason: &str,
) -> failmode::Reply {
    let name = opts
        .event
        .as_deref()
        .or_else(|| failmode::scan_event_name(event))
        .unwrap_or("unknown")
        .to_string();
    let mode = failmode::mode_for(&name, opts.fail_mode.as_deref());
    let spool_path = paths::spool_path();
    let record = wire::SpoolRecord {
        id,
        time_ms: u64::try_from(sys::wall_clock().as_millis()).unwrap_or(u64::MAX),
        reason,
        answered: mode.as_str(),
        event,
        truncated_from,
        env,
    };
    let spooled = match spool::append(&spool_path, &record) {
        Ok(()) => show(&spool_path).into_owned(),
        Err(e) => format!("NOWHERE (spool {} failed: {e})", show(&spool_path)),
    };
    let why = format!("hookd could not answer: {reason}");
    failmode::fallback_reply(&name, mode, &why, Some(&spooled))
}

fn emit(reply: &failmode::Reply) -> ! {
    // A closed stdout or stderr (Claude Code went away) is not an error worth reporting.
    if !reply.stdout.is_empty() {
        let _ = sys::write_all(1, &reply.stdout);
    }
    if !reply.stderr.is_empty() {
        let _ = sys::write_all(2, &reply.stderr);
    }
    sys::exit(reply.exit_code)
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
