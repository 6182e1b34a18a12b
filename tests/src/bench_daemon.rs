//! A release hookd for the bench tools (`http-bench`, `cli-bench`): a private `HOOKD_HOME` (a
//! temporary directory, the store in `data/`), the HTTP listener on `127.0.0.1:0`, ready once
//! it wrote its port and its socket takes connections; stopped with SIGTERM (then SIGKILL
//! after 10 s) when dropped. Also the percentile the bench tools report.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::harness::pause;

/// A running bench hookd.
pub struct BenchDaemon {
    child: Child,
    home: tempfile::TempDir,
    /// Its HTTP listener.
    pub addr: SocketAddr,
    /// Its HTTP bearer token.
    pub token: String,
}

impl BenchDaemon {
    /// Starts `binary` in a new `HOOKD_HOME` named `prefix…`, with `settings` added to its
    /// `hookd.toml` after `[http] listen`, and waits (at most 20 s) until it is ready.
    ///
    /// # Errors
    ///
    /// Starting it, or it exited or was not ready in time (with its log).
    pub fn start(binary: &Path, prefix: &str, settings: &str) -> anyhow::Result<Self> {
        Self::start_inner(binary, prefix, settings, None)
    }

    /// [`BenchDaemon::start`] with the store at `db` (an existing file: `fleet-bench`'s
    /// backlog) instead of a new one in `data/`.
    ///
    /// # Errors
    ///
    /// As [`BenchDaemon::start`].
    pub fn start_with_db(
        binary: &Path,
        prefix: &str,
        settings: &str,
        db: &Path,
    ) -> anyhow::Result<Self> {
        Self::start_inner(binary, prefix, settings, Some(db))
    }

    fn start_inner(
        binary: &Path,
        prefix: &str,
        settings: &str,
        db: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let home = tempfile::Builder::new().prefix(prefix).tempdir()?;
        std::fs::create_dir_all(home.path().join("data"))?;
        std::fs::write(
            home.path().join("hookd.toml"),
            format!("[http]\nlisten = \"127.0.0.1:0\"\n{settings}"),
        )?;
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("HOOKD_HOME", home.path())
            .env(
                "HOOKD_DB",
                db.map_or_else(|| home.path().join("data/hookd.db"), Path::to_path_buf),
            )
            .env("HOOKD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(home.path().join("hookd.stderr"))?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut d = Self {
            child,
            home,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: String::new(),
        };
        let port_file = d.home.path().join("state/http-port");
        let start = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && p.ends_with('\n')
                && std::os::unix::net::UnixStream::connect(d.socket()).is_ok()
            {
                break p.trim().parse::<u16>()?;
            }
            if let Some(status) = d.child.try_wait()? {
                bail!("hookd exited with {status}:\n{}", d.log());
            }
            ensure!(
                start.elapsed() < Duration::from_secs(20),
                "hookd was not ready in 20 s ({} not written or no socket):\n{}",
                port_file.display(),
                d.log()
            );
            pause(Duration::from_millis(10));
        };
        d.addr.set_port(port);
        d.token = std::fs::read_to_string(d.home.path().join("state/http-token"))?
            .trim()
            .to_owned();
        Ok(d)
    }

    /// Its `HOOKD_HOME`.
    #[must_use]
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Its socket.
    #[must_use]
    pub fn socket(&self) -> PathBuf {
        self.home.path().join("hookd.sock")
    }

    /// Its process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("hookd.stderr")).unwrap_or_default()
    }

    /// Its resident set size now (kB; 0 when unknown).
    #[must_use]
    pub fn rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for BenchDaemon {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            #[allow(unsafe_code)]
            // SAFETY: a signal to our own child, which we have not reaped yet.
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

/// The `p` quantile (0.0-1.0, nearest rank) of `sorted` (ascending); 0 when it is empty.
#[must_use]
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
