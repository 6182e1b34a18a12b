//! A blocking connection to hookd.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use hook_protocol::frame::{FrameError, decode_body, decode_message, read_frame};
use hook_protocol::{
    MAX_FRAME_LEN, Mismatch, PROTOCOL_VERSION, Request, Response, private, write_message,
};

/// How long hookctl waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(30);

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
