//! A real PostgreSQL 15 (Debian's `postgresql-15`) for the fleet sink's tests.
//!
//! [`PgServer::start`] runs `initdb` and `postgres` from /usr/lib/postgresql/15/bin (or
//! `HOOKD_TEST_PG_BIN`) in a temp dir: data and Unix socket inside it, listening on 127.0.0.1
//! at a free port, `fsync=off`. As root (CI) both run as the `postgres` user through `runuser`
//! (initdb refuses root), the temp dir chowned to it. The server is stopped (and restarted) by
//! the postmaster's pid from `postmaster.pid`, never by name; dropping it stops it and removes
//! the directory. When the binaries are missing, [`PgServer::start`] prints `SKIPPED: …` and
//! returns `None` (tests/fleet/install-pg.sh installs them).
//!
//! Authentication: the superuser `postgres` is trusted over the socket (the tests' admin
//! connection, through `psql`); every other role logs in over TCP with a SCRAM password, as a
//! fleet machine would.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;

/// How long PostgreSQL may take to start or stop on a loaded machine.
const PG_TIMEOUT: Duration = Duration::from_secs(60);

/// The directory with `initdb`, `postgres` and `psql`.
fn pg_bin_dir() -> PathBuf {
    std::env::var_os("HOOKD_TEST_PG_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    )
}

/// A running test PostgreSQL.
pub struct PgServer {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    /// The process that started the postmaster (runuser, or postgres itself), to reap it.
    child: Option<Child>,
    /// Extra `-c name=value` settings for the postmaster (TLS).
    settings: Vec<String>,
}

impl PgServer {
    /// Initialises and starts a fresh server, or `None` (after printing `SKIPPED: …` to
    /// stderr) when PostgreSQL 15 is not installed or cannot run here.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is installed but does not come up: that is a failure, not a skip.
    #[must_use]
    pub fn start() -> Option<Self> {
        let bin = pg_bin_dir();
        for tool in ["initdb", "postgres", "psql"] {
            if !bin.join(tool).exists() {
                eprintln!(
                    "SKIPPED: {} is missing (PostgreSQL 15: bash tests/fleet/install-pg.sh)",
                    bin.join(tool).display()
                );
                return None;
            }
        }
        let as_postgres = is_root();
        if as_postgres && !user_exists("postgres") {
            eprintln!("SKIPPED: running as root and there is no `postgres` user to run initdb as");
            return None;
        }
        Some(Self::init(bin, as_postgres).expect("start the test PostgreSQL"))
    }

    fn init(bin: PathBuf, as_postgres: bool) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("hookd-pg-").tempdir()?;
        std::fs::create_dir(dir.path().join("sock"))?;
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()?;
            if !status.success() {
                bail!("chown postgres {}: {status}", dir.path().display());
            }
        }
        let port = free_port()?;
        let mut me = Self {
            dir,
            bin,
            port,
            as_postgres,
            child: None,
            settings: Vec::new(),
        };
        let hba = "local all all trust\n\
                   host all postgres 127.0.0.1/32 trust\n\
                   host all all 127.0.0.1/32 scram-sha-256\n";
        let out = me
            .as_owner(&me.bin.join("initdb"))
            .arg("-D")
            .arg(me.data())
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .args(["--locale=C"])
            .output()?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::write(me.data().join("pg_hba.conf"), hba)?;
        me.spawn()?;
        Ok(me)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// A command run as the data directory's owner.
    fn as_owner(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Starts the postmaster on the same data directory and port, and waits until it answers.
    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.path().join("postgres.log"))?;
        let child = self
            .as_owner(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.sock().display()))
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=50", "-c", "shared_buffers=16MB"])
            .args(self.settings.iter().flat_map(|kv| ["-c", kv.as_str()]))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawn postgres")?;
        self.child = Some(child);
        let deadline = Instant::now() + PG_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("postgres exited at start ({status}): {}", self.log());
            }
            if self.psql("SELECT 1").is_ok_and(|o| o.status.success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "postgres did not answer within {PG_TIMEOUT:?}: {}",
                    self.log()
                );
            }
            crate::harness::pause(Duration::from_millis(100));
        }
    }

    /// The server's log so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// The port it listens on (127.0.0.1).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://USER@127.0.0.1:PORT/DB?sslmode=disable`.
    #[must_use]
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// The postmaster's pid, from `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Stops the server (fast shutdown: SIGINT to the postmaster by pid) and waits for it.
    ///
    /// # Errors
    ///
    /// When it does not stop within the bound.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.postmaster_pid() {
            // `kill -INT PID`: the postmaster's fast shutdown, by pid.
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        let deadline = Instant::now() + PG_TIMEOUT;
        if let Some(mut child) = self.child.take() {
            loop {
                if child.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("postgres did not stop within {PG_TIMEOUT:?}");
                }
                crate::harness::pause(Duration::from_millis(50));
            }
        }
        // runuser has exited once postgres has; the pid file goes last.
        while self.data().join("postmaster.pid").exists() {
            if Instant::now() > deadline {
                bail!("postmaster.pid still present after {PG_TIMEOUT:?}");
            }
            crate::harness::pause(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Starts it again after [`PgServer::stop`] (same data, same port).
    ///
    /// # Errors
    ///
    /// When it does not come up.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// Starts it again after [`PgServer::stop`].
    ///
    /// # Errors
    ///
    /// When it does not come up.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.spawn()
    }

    /// Turns TLS on: a throw-away CA (openssl) signs a server certificate for `127.0.0.1` and
    /// `localhost`; the server restarts with `ssl=on`. Returns the CA certificate's path, or
    /// `None` after printing `SKIPPED: …` when openssl is missing.
    ///
    /// # Errors
    ///
    /// openssl failing, or the server not coming back.
    pub fn enable_tls(&mut self) -> anyhow::Result<Option<PathBuf>> {
        let dir = self.data();
        let Some(certs) = crate::certs::make(&dir)? else {
            return Ok(None);
        };
        if self.as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()?;
            if !status.success() {
                bail!("chown postgres {}: {status}", dir.display());
            }
        }
        // The test reads the CA as root or as itself: copy it out of the private data dir.
        let ca_copy = self.dir.path().join("ca.crt");
        std::fs::copy(&certs.ca, &ca_copy)?;
        self.settings = vec![
            "ssl=on".into(),
            format!("ssl_cert_file={}", certs.server_cert.display()),
            format!("ssl_key_file={}", certs.server_key.display()),
        ];
        self.restart()?;
        Ok(Some(ca_copy))
    }

    /// Runs SQL as the superuser over the Unix socket in database `postgres`.
    ///
    /// # Errors
    ///
    /// When psql cannot run.
    pub fn psql(&self, sql: &str) -> anyhow::Result<Output> {
        self.psql_db("postgres", sql)
    }

    /// Runs SQL as the superuser in database `db`.
    ///
    /// # Errors
    ///
    /// When psql cannot run.
    pub fn psql_db(&self, db: &str, sql: &str) -> anyhow::Result<Output> {
        Ok(Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.sock())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env_remove("PGPASSWORD")
            .output()?)
    }

    /// Runs SQL as the superuser in `db` and returns its output (rows `|`-separated), failing
    /// loudly on an error.
    ///
    /// # Panics
    ///
    /// When the SQL fails.
    pub fn query(&self, db: &str, sql: &str) -> String {
        let out = self.psql_db(db, sql).expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs SQL as `user` with `password` over TCP (as a fleet machine connects).
    ///
    /// # Errors
    ///
    /// When psql cannot run.
    pub fn psql_as(
        &self,
        user: &str,
        password: &str,
        db: &str,
        sql: &str,
    ) -> anyhow::Result<Output> {
        Ok(Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                db,
            ])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", password)
            .output()?)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("test PostgreSQL: {e}");
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
