//! Where hookd's files are: paths from flags, `HOOKD_*` variables and the XDG defaults.
//!
//! Rule files and daemon settings (`hookd.toml`) are read by `rules::load` (the settings by
//! `settings`, from the same parsed document); this module only decides locations.

use std::path::PathBuf;

use hook_protocol::paths;

/// Locations and start-up options.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Unix socket to listen on.
    pub socket: PathBuf,
    /// Whether hookd owns the socket's directory (uid-derived or `HOOKD_HOME`): it then
    /// creates it 0700 and tightens its mode.
    pub owns_socket_dir: bool,
    /// Holds `hookd.toml` and `rules.d/`.
    pub config_dir: PathBuf,
    /// The SQLite store.
    pub db: PathBuf,
    /// Spool, pidfile, logs.
    pub state_dir: PathBuf,
    /// Started by hook-client (logs then go to `state_dir/hookd.log`).
    pub autostarted: bool,
}

impl Config {
    /// Resolves every path from the environment (see [`hook_protocol::paths`]).
    #[must_use]
    pub fn from_env() -> Self {
        let explicit_socket = std::env::var_os("HOOKD_SOCKET").is_some_and(|v| !v.is_empty());
        Self {
            socket: paths::socket_path(),
            owns_socket_dir: !explicit_socket,
            config_dir: paths::config_dir(),
            db: paths::db_path(),
            state_dir: paths::state_dir(),
            autostarted: false,
        }
    }

    /// The spool file.
    #[must_use]
    pub fn spool_path(&self) -> PathBuf {
        self.state_dir.join(paths::SPOOL_FILE)
    }

    /// The emergency journal (answered events the store could not take yet).
    #[must_use]
    pub fn journal_path(&self) -> PathBuf {
        self.state_dir.join("journal")
    }

    /// The pidfile.
    #[must_use]
    pub fn pid_path(&self) -> PathBuf {
        self.state_dir.join(paths::PID_FILE)
    }

    /// The log file used when autostarted.
    #[must_use]
    pub fn log_path(&self) -> PathBuf {
        self.state_dir.join("hookd.log")
    }
}
