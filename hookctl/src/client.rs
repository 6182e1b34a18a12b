//! A blocking connection to hookd.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use hook_protocol::frame::{FrameError, decode_body, decode_message, read_frame};
use hook_protocol::{MAX_FRAME_LEN, PROTOCOL_VERSION, Request, Response, write_message};

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

/// A connection to hookd.
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connects to hookd at `socket`.
    ///
    /// # Errors
    ///
    /// [`NotRunning`] when nothing answers there.
    pub fn connect(socket: &Path) -> anyhow::Result<Self> {
        let stream = UnixStream::connect(socket).map_err(|cause| NotRunning {
            socket: socket.to_path_buf(),
            cause,
        })?;
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
        write_message(&mut self.stream, req).context("sending the request to hookd")?;
        let frame =
            read_frame(&mut self.stream, MAX_FRAME_LEN).context("reading hookd's answer")?;
        match decode_message::<Response>(&frame) {
            Ok(Response::Mismatch(m)) => bail!("{}", m.describe(PROTOCOL_VERSION)),
            Ok(Response::Error(e)) => bail!("hookd: {e}"),
            Ok(r) => Ok(r),
            Err(FrameError::VersionMismatch { body, theirs, .. }) => {
                match decode_body::<Response>(&body) {
                    Ok(Response::Mismatch(m)) => bail!("{}", m.describe(PROTOCOL_VERSION)),
                    _ => bail!(
                        "protocol version mismatch: hookctl speaks {PROTOCOL_VERSION}, hookd speaks {theirs}"
                    ),
                }
            }
            Err(e) => Err(e).context("decoding hookd's answer"),
        }
    }
}
