//! One process run: spawn in its own process group, feed stdin, capture bounded output, kill
//! the whole group on timeout or shutdown.
//!
//! Everything here is async on tokio's process support: no tokio worker ever blocks on the
//! child. Output is read by two tasks that keep draining past the capture limit, so a chatty
//! child never stalls on a full pipe. After the child exits, its pipes are drained for at most
//! [`DRAIN_AFTER_EXIT`]: a grandchild that keeps stdout open (`sleep 60 &`) cannot hold the
//! verdict, and is left running, as Claude Code leaves it.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::rules::RunCommand;

/// Bytes of stdout (and of stderr) kept for parsing; more is read and counted, not kept.
pub const CAPTURE_LIMIT: usize = 64 * 1024;
/// Bytes of the end of stdout and stderr kept for the record.
pub const TAIL_LIMIT: usize = 4 * 1024;
/// How long output is still read after the process exits (a background grandchild may hold
/// the pipe open).
pub const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The command.
    pub command: RunCommand,
    /// The working directory (`None`: hookd's own).
    pub cwd: Option<PathBuf>,
    /// The whole environment (nothing else is inherited).
    pub env: Vec<(OsString, OsString)>,
    /// Written to stdin, then stdin is closed.
    pub stdin: Arc<[u8]>,
    /// The process group is killed after this long.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL to the group.
    pub kill_grace: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal (not by hookd).
    Signaled(i32),
    /// Killed by hookd at its timeout.
    TimedOut,
    /// Killed by hookd because it is shutting down.
    Cancelled,
    /// Could not be started.
    SpawnFailed(String),
}

/// Output of one stream: the first [`CAPTURE_LIMIT`] bytes, the last [`TAIL_LIMIT`], and the
/// total read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capture {
    /// The first bytes.
    pub head: Vec<u8>,
    /// The last bytes (a copy of the end of `head` while the total is small).
    pub tail: Vec<u8>,
    /// Bytes read in all.
    pub total: u64,
}

impl Capture {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = CAPTURE_LIMIT.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        if chunk.len() >= TAIL_LIMIT {
            self.tail.clear();
            self.tail
                .extend_from_slice(&chunk[chunk.len() - TAIL_LIMIT..]);
        } else {
            let excess = (self.tail.len() + chunk.len()).saturating_sub(TAIL_LIMIT);
            self.tail.drain(..excess);
            self.tail.extend_from_slice(chunk);
        }
    }

    /// Whether more was written than [`CAPTURE_LIMIT`].
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.total > self.head.len() as u64
    }

    /// The kept head as text (lossy).
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.head).into_owned()
    }

    /// The tail as text (lossy), marked when earlier output was dropped.
    #[must_use]
    pub fn tail_text(&self) -> String {
        let t = String::from_utf8_lossy(&self.tail);
        if self.total > self.tail.len() as u64 {
            format!("…{t}")
        } else {
            t.into_owned()
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Exit {
    /// How it ended.
    pub status: Status,
    /// From spawn to exit (or kill).
    pub duration: Duration,
    /// Standard output.
    pub stdout: Capture,
    /// Standard error.
    pub stderr: Capture,
}

/// Sends `sig` to the process group `pgid`.
fn kill_group(pgid: i32, sig: i32) {
    if pgid <= 1 {
        return;
    }
    // `pgid` is the process group of our own child, created with process_group(0), whose
    // leader we have not reaped yet, so the id cannot have been reused by an unrelated group.
    if let (Some(pgid), Some(sig)) = (
        rustix::process::Pid::from_raw(pgid),
        rustix::process::Signal::from_named_raw(sig),
    ) {
        let _ = rustix::process::kill_process_group(pgid, sig);
    }
}

fn reader<R: AsyncRead + Unpin + Send + 'static>(
    mut r: R,
    into: Arc<Mutex<Capture>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => into
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(&buf[..n]),
            }
        }
    })
}

/// Runs `inv` to its end, its timeout, or `cancel`.
pub async fn run(inv: &Invocation, cancel: &CancellationToken) -> Exit {
    let start = Instant::now();
    let mut cmd = match &inv.command {
        RunCommand::Shell(s) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(s);
            c
        }
        RunCommand::Argv(v) => {
            let mut c = Command::new(&v[0]);
            c.args(&v[1..]);
            c
        }
    };
    cmd.env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group (as Claude Code spawns hooks), so a timeout kills every
        // process the script started.
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &inv.cwd {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let what = match &inv.cwd {
                Some(d) if !d.is_dir() => format!("{e} (working directory {})", d.display()),
                _ => e.to_string(),
            };
            return Exit {
                status: Status::SpawnFailed(what),
                duration: start.elapsed(),
                stdout: Capture::default(),
                stderr: Capture::default(),
            };
        }
    };
    let pgid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    let out = Arc::new(Mutex::new(Capture::default()));
    let err = Arc::new(Mutex::new(Capture::default()));
    let mut readers = Vec::with_capacity(2);
    if let Some(o) = child.stdout.take() {
        readers.push(reader(o, Arc::clone(&out)));
    }
    if let Some(e) = child.stderr.take() {
        readers.push(reader(e, Arc::clone(&err)));
    }
    // A script that never reads stdin gets EPIPE here, which is fine (as in Claude Code).
    let writer = child.stdin.take().map(|mut stdin| {
        let bytes = Arc::clone(&inv.stdin);
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
            let _ = stdin.shutdown().await;
        })
    });

    let waited = tokio::select! {
        r = child.wait() => Ok(r),
        () = tokio::time::sleep(inv.timeout) => Err(Status::TimedOut),
        () = cancel.cancelled() => Err(Status::Cancelled),
    };
    let status = match waited {
        Ok(Ok(s)) => match (s.code(), s.signal()) {
            (Some(c), _) => Status::Exited(c),
            (None, Some(sig)) => Status::Signaled(sig),
            (None, None) => Status::Exited(-1),
        },
        Ok(Err(e)) => Status::SpawnFailed(format!("waiting for the process: {e}")),
        Err(why) => {
            // The leader is not reaped until after the SIGKILL, so the group id stays ours.
            kill_group(pgid, libc::SIGTERM);
            tokio::time::sleep(inv.kill_grace).await;
            kill_group(pgid, libc::SIGKILL);
            let _ = child.wait().await;
            why
        }
    };
    let duration = start.elapsed();
    if let Some(w) = writer {
        w.abort();
    }
    let drain = async {
        for r in &mut readers {
            let _ = r.await;
        }
    };
    if tokio::time::timeout(DRAIN_AFTER_EXIT, drain).await.is_err() {
        for r in &readers {
            r.abort();
        }
    }
    let take = |c: &Arc<Mutex<Capture>>| {
        std::mem::take(&mut *c.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    };
    Exit {
        status,
        duration,
        stdout: take(&out),
        stderr: take(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_head_tail_and_total() {
        let mut c = Capture::default();
        c.push(b"abc");
        assert_eq!(
            (c.head.as_slice(), c.tail.as_slice(), c.total),
            (&b"abc"[..], &b"abc"[..], 3)
        );
        let big = vec![b'x'; CAPTURE_LIMIT];
        c.push(&big);
        c.push(b"END");
        assert_eq!(c.head.len(), CAPTURE_LIMIT);
        assert!(c.truncated());
        assert_eq!(c.tail.len(), TAIL_LIMIT);
        assert!(c.tail.ends_with(b"xEND"));
        assert_eq!(c.total, (CAPTURE_LIMIT + 6) as u64);
        assert!(c.tail_text().starts_with('…'));
    }
}
