//! A blocking connection to hookd.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use hook_protocol::frame::{FrameError, decode_body, decode_message, read_frame};
use hook_protocol::{
    MAX_FRAME_LEN, Mismatch, PROTOCOL_VERSION, Request, Response, paths, private, write_message,
};

/// How long hookctl waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long hookctl waits for a hookd it started to accept connections.
pub const START_WAIT: Duration = Duration::from_secs(10);

/// hookd does not answer on the socket.
#[derive(Debug)]
pub struct NotRunning {
    socket: PathBuf,
    cause: io::Error,
}

impl std::fmt::Display for NotRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "hookd is not running (socket {}: {}); start it with `hookd`, or let any hook start it",
            self.socket.display(),
            self.cause
        )
    }
}

impl std::error::Error for NotRunning {}

impl NotRunning {
    /// Whether starting hookd may help: nothing listens there (no socket file, or a stale one).
    #[must_use]
    pub fn startable(&self) -> bool {
        matches!(
            self.cause.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
        )
    }
}

/// Whether hookctl's commands may start hookd: not when `HOOKD_NO_AUTOSTART` is set (to
/// anything but empty or `0`), as for hook-client.
#[must_use]
pub fn autostart_allowed() -> bool {
    std::env::var_os("HOOKD_NO_AUTOSTART").is_none_or(|v| v.is_empty() || v == "0")
}

/// Starts hookd on `socket` the way hook-client's autostart does (the same trusted-executable
/// lookup, [`paths::find_program`], and the same detached spawn,
/// [`hook_protocol::start::spawn_detached`]), then waits (bounded by [`START_WAIT`]) until it
/// accepts connections. Returns the program started and its pid.
///
/// # Errors
///
/// No trusted hookd to start, the spawn failing, or hookd not answering in time.
pub fn start_daemon(socket: &Path) -> anyhow::Result<(PathBuf, u32)> {
    let hookd = paths::find_program("hookd", Some("HOOKD_BIN"))
        .map_err(anyhow::Error::msg)
        .context("cannot start hookd")?;
    let pid = hook_protocol::start::spawn_detached(&hookd, socket)
        .with_context(|| format!("starting {}", hookd.display()))?;
    let start = std::time::Instant::now();
    loop {
        match Client::connect(socket) {
            Ok(_) => return Ok((hookd, pid)),
            Err(e) if start.elapsed() >= START_WAIT => {
                return Err(e).with_context(|| {
                    format!(
                        "started {} (pid {pid}) but it did not answer within {} s (see {})",
                        hookd.display(),
                        START_WAIT.as_secs(),
                        paths::state_dir().join("hookd.log").display()
                    )
                });
            }
            Err(_) => {
                #[allow(clippy::disallowed_methods)] // hookctl is synchronous; nothing else to run
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The socket is not hookd's of this user: its directory is not private, or another user's
/// process serves it. Nothing was sent.
#[derive(Debug)]
pub struct Untrusted(pub String);

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Untrusted {}

/// A connection to hookd.
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connects to hookd at `socket`, after checking that its directory is private to us and
    /// before sending anything, that the process serving it runs as us
    /// ([`hook_protocol::private::connect_trusted`]).
    ///
    /// # Errors
    ///
    /// [`NotRunning`] when nothing answers there, [`Untrusted`] when it is not ours.
    pub fn connect(socket: &Path) -> anyhow::Result<Self> {
        let owned = socket == hook_protocol::paths::socket_path()
            && !hook_protocol::paths::socket_is_explicit();
        let stream =
            private::connect_trusted(socket, owned).map_err(
                |cause| match private::untrusted_reason(&cause) {
                    Some(u) => anyhow::Error::new(Untrusted(u.to_string())),
                    None => anyhow::Error::new(NotRunning {
                        socket: socket.to_path_buf(),
                        cause,
                    }),
                },
            )?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        Ok(Self { stream })
    }

    /// Connects to hookd at `socket`; when nothing answers there and `autostart` is on (and
    /// [`autostart_allowed`]), starts it first as hook-client would ([`start_daemon`]) and says
    /// so on stderr.
    ///
    /// # Errors
    ///
    /// As [`Client::connect`]; [`NotRunning`] (with why) when it cannot be started.
    pub fn connect_or_start(socket: &Path, autostart: bool) -> anyhow::Result<Self> {
        let err = match Self::connect(socket) {
            Ok(c) => return Ok(c),
            Err(e) => e,
        };
        let startable = err
            .downcast_ref::<NotRunning>()
            .is_some_and(NotRunning::startable);
        if !startable || !autostart || !autostart_allowed() {
            return Err(err);
        }
        let (hookd, pid) = start_daemon(socket).map_err(|why| err.context(format!("{why:#}")))?;
        eprintln!(
            "hookctl: hookd was not running; started {} (pid {pid}), as a hook would",
            hookd.display()
        );
        Self::connect(socket)
    }

    /// Waits at most `t` for each read and write from now on.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn set_timeout(&mut self, t: Duration) -> anyhow::Result<()> {
        self.stream.set_read_timeout(Some(t))?;
        self.stream.set_write_timeout(Some(t))?;
        Ok(())
    }

    /// Sends a request without reading the answer (for streams: see [`Client::recv`]).
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn send(&mut self, req: &Request) -> anyhow::Result<()> {
        write_message(&mut self.stream, req).context("sending the request to hookd")?;
        Ok(())
    }

    /// Reads one frame of a stream, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// I/O errors, or a closed connection.
    pub fn recv(&mut self) -> anyhow::Result<Response> {
        self.stream.set_read_timeout(None)?;
        let frame = read_frame(&mut self.stream, MAX_FRAME_LEN).context("reading from hookd")?;
        decode_message::<Response>(&frame).context("decoding hookd's answer")
    }

    /// Sends one request and reads its answer.
    ///
    /// # Errors
    ///
    /// I/O errors, a version mismatch (explained), or [`Response::Error`].
    pub fn request(&mut self, req: &Request) -> anyhow::Result<Response> {
        match self.request_or_mismatch(req)? {
            Ok(r) => Ok(r),
            Err(m) => bail!("{}", m.describe(PROTOCOL_VERSION)),
        }
    }

    /// Sends one request and reads its answer, or the [`Mismatch`] of a daemon speaking
    /// another protocol version.
    ///
    /// # Errors
    ///
    /// I/O errors, an undecodable answer, or [`Response::Error`].
    pub fn request_or_mismatch(
        &mut self,
        req: &Request,
    ) -> anyhow::Result<Result<Response, Mismatch>> {
        write_message(&mut self.stream, req).context("sending the request to hookd")?;
        let frame =
            read_frame(&mut self.stream, MAX_FRAME_LEN).context("reading hookd's answer")?;
        match decode_message::<Response>(&frame) {
            Ok(Response::Mismatch(m)) => Ok(Err(m)),
            Ok(Response::Error(e)) => bail!("hookd: {e}"),
            Ok(r) => Ok(Ok(r)),
            Err(FrameError::VersionMismatch { body, theirs, .. }) => {
                match decode_body::<Response>(&body) {
                    Ok(Response::Mismatch(m)) => Ok(Err(m)),
                    _ => bail!(
                        "protocol version mismatch: hookctl speaks {PROTOCOL_VERSION}, hookd speaks {theirs}"
                    ),
                }
            }
            Err(e) => Err(e).context("decoding hookd's answer"),
        }
    }

    /// Sends raw bytes (a frame of another protocol version) and reads one frame back.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn send_raw(&mut self, frame: &[u8]) -> anyhow::Result<()> {
        use std::io::Write;
        self.stream
            .write_all(frame)
            .context("sending the request to hookd")?;
        read_frame(&mut self.stream, MAX_FRAME_LEN).context("reading hookd's answer")?;
        Ok(())
    }
}
