//! A real hookd in a temp `HOOKD_HOME`, and helpers to drive it with the real binaries.
//!
//! [`TestDaemon::start`] spawns the built `hookd` with a cleared environment and waits until a
//! connection succeeds (never a fixed sleep). Dropping it stops the daemon (SIGTERM, then
//! SIGKILL after a bound) and removes the directory.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tempfile::TempDir;

/// How long a daemon may take to come up or go down.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The directory holding the built binaries (`target/debug`), or `HOOKD_TEST_BIN_DIR`.
#[must_use]
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HOOKD_TEST_BIN_DIR") {
        return PathBuf::from(d);
    }
    // Test executables live in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The path of a built binary.
#[must_use]
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is not built; run `cargo build --workspace --bins` first",
        p.display()
    );
    p
}

/// A hookd under test.
pub struct TestDaemon {
    home: TempDir,
    child: Option<Child>,
    extra_env: Vec<(String, String)>,
    file_size_limit: Option<u64>,
    uid: Option<u32>,
}

/// Environment for any hookd binary pointed at `home` (cleared of the caller's variables).
fn base_env(cmd: &mut Command, home: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HOOKD_HOME", home)
        .env("HOOKD_LOG", "debug");
}

impl TestDaemon {
    /// A fresh home with no configuration (embedded defaults), daemon running.
    ///
    /// # Errors
    ///
    /// When the daemon does not come up.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(&[])
    }

    /// A fresh home with `files` (relative path, contents) written first, daemon running.
    ///
    /// # Errors
    ///
    /// When the daemon does not come up.
    pub fn start_with(files: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut d = Self::unstarted(files)?;
        d.spawn()?;
        Ok(d)
    }

    /// A fresh home with `files` written, daemon not started.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn unstarted(files: &[(&str, &str)]) -> anyhow::Result<Self> {
        let home = tempfile::Builder::new().prefix("hookd-test-").tempdir()?;
        for (rel, text) in files {
            let p = home.path().join(rel);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&p, text)?;
        }
        Ok(Self {
            home,
            child: None,
            extra_env: Vec::new(),
            file_size_limit: None,
            uid: None,
        })
    }

    /// Adds an environment variable for every binary this daemon's helpers run.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.into(), value.into()));
    }

    /// Runs hookd and every helper binary as `uid` (gid the same): the home is handed over to
    /// it first. Needs root.
    ///
    /// # Errors
    ///
    /// When the home cannot be handed over.
    pub fn run_as(&mut self, uid: u32) -> anyhow::Result<()> {
        fn chown_all(p: &Path, uid: u32) -> std::io::Result<()> {
            std::os::unix::fs::lchown(p, Some(uid), Some(uid))?;
            if p.is_dir() && !p.is_symlink() {
                for e in std::fs::read_dir(p)? {
                    chown_all(&e?.path(), uid)?;
                }
            }
            Ok(())
        }
        chown_all(self.home(), uid)?;
        self.uid = Some(uid);
        Ok(())
    }

    /// Starts hookd (from the next [`TestDaemon::spawn`]) with a soft `RLIMIT_FSIZE` of `bytes`
    /// and `SIGXFSZ` ignored: writing a file past that size fails with `EFBIG`, a full disk
    /// for that file without needing to mount anything. [`TestDaemon::set_running_file_size_limit`]
    /// changes it while hookd runs.
    pub fn set_file_size_limit(&mut self, bytes: Option<u64>) {
        self.file_size_limit = bytes;
    }

    /// Changes the running daemon's soft `RLIMIT_FSIZE` (`None`: unlimited).
    ///
    /// # Errors
    ///
    /// When the daemon was not started here or `prlimit` fails.
    #[cfg(not(target_os = "linux"))]
    pub fn set_running_file_size_limit(&self, _bytes: Option<u64>) -> anyhow::Result<()> {
        bail!("prlimit (another process's limits) needs Linux")
    }

    /// Changes the running daemon's soft `RLIMIT_FSIZE` (`None`: unlimited).
    ///
    /// # Errors
    ///
    /// When the daemon was not started here or `prlimit` fails.
    #[cfg(target_os = "linux")]
    pub fn set_running_file_size_limit(&self, bytes: Option<u64>) -> anyhow::Result<()> {
        let pid = libc::pid_t::try_from(self.pid().context("daemon not started")?)?;
        let lim = libc::rlimit {
            rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
            rlim_max: libc::RLIM_INFINITY,
        };
        #[allow(unsafe_code)]
        // SAFETY: prlimit reads `lim` and writes nothing (null old limit).
        let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &lim, std::ptr::null_mut()) };
        if rc != 0 {
            bail!("prlimit: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// `HOOKD_HOME`.
    #[must_use]
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The socket path.
    #[must_use]
    pub fn socket(&self) -> PathBuf {
        self.home().join("hookd.sock")
    }

    /// The daemon's stderr log file.
    #[must_use]
    pub fn log_path(&self) -> PathBuf {
        self.home().join("hookd.stderr")
    }

    /// The daemon's log so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The daemon's pid, when this harness started it.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A command for one of the binaries with this daemon's environment.
    #[must_use]
    pub fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(bin(name));
        base_env(&mut cmd, self.home());
        if let Some(uid) = self.uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts the daemon and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// When it exits or does not answer within [`START_TIMEOUT`].
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut cmd = self.command("hookd");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        if let Some(bytes) = self.file_size_limit {
            use std::os::unix::process::CommandExt;
            #[allow(unsafe_code)]
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: bytes,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // An ignored disposition survives exec: writes fail with EFBIG instead.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().context("spawning hookd")?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Waits until a connection to the socket succeeds.
    ///
    /// # Errors
    ///
    /// When the daemon exits first or the bound passes.
    pub fn wait_ready(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if UnixStream::connect(self.socket()).is_ok() {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "hookd exited with {status} before accepting connections:\n{}",
                    self.log()
                );
            }
            pause(Duration::from_millis(5));
        }
        bail!(
            "hookd did not accept connections within {START_TIMEOUT:?}:\n{}",
            self.log()
        )
    }

    /// Sends `sig` and waits (bounded) for the daemon to exit; returns its exit status code.
    ///
    /// # Errors
    ///
    /// When it does not exit in time.
    pub fn signal_and_wait(&mut self, sig: i32) -> anyhow::Result<Option<i32>> {
        let Some(mut child) = self.child.take() else {
            bail!("daemon not started by harness")
        };
        let pid = libc::pid_t::try_from(child.id())?;
        #[allow(unsafe_code)]
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(pid, sig);
        }
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if let Some(status) = child.try_wait()? {
                return Ok(status.code());
            }
            pause(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        bail!("hookd did not exit within {START_TIMEOUT:?} after signal {sig}")
    }

    /// `kill -9` the daemon and reap it.
    ///
    /// # Errors
    ///
    /// When it was not started by the harness.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.signal_and_wait(libc::SIGKILL).map(drop)
    }

    /// Runs hook-client with `event` on stdin and `args`.
    ///
    /// # Errors
    ///
    /// Spawn or I/O errors.
    pub fn hook(&self, event: &[u8], args: &[&str]) -> anyhow::Result<Output> {
        self.hook_with(event, args, &[])
    }

    /// Runs hook-client with extra environment.
    ///
    /// # Errors
    ///
    /// Spawn or I/O errors.
    pub fn hook_with(
        &self,
        event: &[u8],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Output> {
        let mut cmd = self.command("hook-client");
        cmd.args(args).envs(env.iter().copied());
        run_with_stdin(cmd, event)
    }

    /// Runs hookctl with `args`.
    ///
    /// # Errors
    ///
    /// Spawn errors.
    pub fn hookctl(&self, args: &[&str]) -> anyhow::Result<Output> {
        let out = self
            .command("hookctl")
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        Ok(out)
    }

    /// `hookctl status --json` parsed.
    ///
    /// # Errors
    ///
    /// When hookctl fails or prints bad JSON.
    pub fn status(&self) -> anyhow::Result<Value> {
        let out = self.hookctl(&["status", "--json"])?;
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("status --json: {}", String::from_utf8_lossy(&out.stderr)))
    }

    /// `hookctl events --json --limit N` (newest first), with extra filter args.
    ///
    /// # Errors
    ///
    /// When hookctl fails or prints bad JSON.
    pub fn events(&self, limit: u32, filters: &[&str]) -> anyhow::Result<Vec<Value>> {
        let limit = limit.to_string();
        let mut args = vec!["events", "--json", "--limit", &limit];
        args.extend_from_slice(filters);
        let out = self.hookctl(&args)?;
        if !out.status.success() {
            bail!(
                "hookctl events failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

impl TestDaemon {
    /// Runs the pinned Claude Code CLI in `project` against `model`, with its hooks pointed at
    /// this daemon (no autostart), in a fresh temporary HOME; fails unless the run succeeds.
    ///
    /// # Errors
    ///
    /// When the CLI cannot run or its run fails.
    pub fn run_claude(
        &self,
        project: &Path,
        prompt: &str,
        model: &crate::fake_model::FakeModel,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<crate::claude::ClaudeRun> {
        let home = tempfile::tempdir()?;
        let hookd_home = self.home().to_string_lossy().into_owned();
        let mut env = vec![
            ("HOOKD_HOME", hookd_home.as_str()),
            ("HOOKD_NO_AUTOSTART", "1"),
        ];
        env.extend_from_slice(extra_env);
        let run = crate::claude::run_claude(
            project,
            home.path(),
            prompt,
            &model.base_url(),
            &env,
            Duration::from_secs(90),
        )?;
        run.ensure_success()?;
        Ok(run)
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.signal_and_wait(libc::SIGTERM);
        }
    }
}

/// Runs `cmd` with `input` on stdin and collects its output.
///
/// # Errors
///
/// Spawn or I/O errors.
pub fn run_with_stdin(mut cmd: Command, input: &[u8]) -> anyhow::Result<Output> {
    let mut child = spawn(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output()?;
    let _ = writer.join();
    Ok(out)
}

/// Spawns `cmd`, retrying (bounded) while the kernel says the program is busy (`ETXTBSY`): a
/// program a test has just written (a copied binary, a script) can still be open for writing
/// in a child another test thread forked meanwhile, until that child's `exec` closes it.
///
/// # Errors
///
/// The spawn error.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 200 => {
                tries += 1;
                pause(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// The `permissionDecision` hook-client printed, or "" when it printed none (or no JSON).
#[must_use]
pub fn permission_decision(out: &Output) -> String {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["hookSpecificOutput"]["permissionDecision"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A compact event JSON line like Claude Code writes (base keys + `extra`).
///
/// Each call's payload is distinct (a `hookd_test_seq` key), as Claude Code's are (tool calls
/// carry a unique `tool_use_id`): hookd answers byte-identical deliveries within 250 ms once
/// (see `hookd::dedup`). Use [`raw_event_json`] for a payload without it.
#[must_use]
pub fn event_json(name: &str, session: &str, extra: &Value) -> Vec<u8> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut extra = extra.clone();
    if let Some(o) = extra.as_object_mut() {
        o.insert(
            "hookd_test_seq".into(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .into(),
        );
    }
    raw_event_json(name, session, &extra)
}

/// [`event_json`] without the distinguishing key: identical calls give identical bytes.
#[must_use]
pub fn raw_event_json(name: &str, session: &str, extra: &Value) -> Vec<u8> {
    let mut v = serde_json::json!({
        "session_id": session,
        "transcript_path": format!("/tmp/transcripts/{session}.jsonl"),
        "cwd": "/tmp/project",
        "hook_event_name": name,
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in e {
            o.insert(k.clone(), val.clone());
        }
    }
    let mut bytes = serde_json::to_vec(&v).expect("serialize");
    bytes.push(b'\n');
    bytes
}

/// Sends `frame` to `d`'s socket as uid 65534 (the caller must be root), with `d`'s home and
/// socket opened to everyone so that only hookd's own check of its peer stands in the way.
/// Returns what that client saw: `closed`, or `answered: <hex>`; its stderr on failure.
pub fn send_as_another_uid(d: &TestDaemon, frame: &[u8]) -> (String, String) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.home(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(d.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut cmd = Command::new("python3");
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    cmd.env_clear().args([
        "-c",
        "import socket,sys\n\
         s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n\
         try:\n s.sendall(bytes.fromhex(sys.argv[2])); got=s.recv(65536)\n\
         except OSError: got=b''\n\
         print('answered: '+got.hex() if got else 'closed')",
        d.socket().to_str().unwrap(),
        &frame.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ]);
    let out = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits (bounded) until `cond` holds.
///
/// # Errors
///
/// When it does not hold within `timeout`.
pub fn wait_for(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return Ok(());
        }
        pause(Duration::from_millis(10));
    }
    bail!("timed out after {timeout:?} waiting for {what}")
}

/// Sleeps in a test's polling loop (hookd itself never blocks a worker this way).
pub fn pause(d: Duration) {
    #[allow(clippy::disallowed_methods)] // tests poll with short, bounded sleeps
    std::thread::sleep(d);
}
