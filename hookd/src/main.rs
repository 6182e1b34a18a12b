//! hookd's entry point: arguments, logging, runtime, signals → [`hookd::run`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use hookd::Config;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// mimalloc: hookd allocates and frees many small buffers per event (parse, redaction, the
/// store's rows); glibc's malloc spent 18% of hookd's CPU on them under load (BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps mimalloc's resident memory close to what is in use: freed pages go back to the OS
/// after [`PURGE_DELAY_MS`] instead of v3's default of 1 s. Not at once: under sustained load,
/// pages given back at once were faulted in again a moment later (6% of hookd's CPU at 64 × 64
/// pipelined events, BENCHMARKS.md). `MIMALLOC_PURGE_DELAY` in the environment overrides it.
/// Transparent huge pages are off at build time (the `no_thp` feature): with them, a burst of
/// thousands of in-flight events left ~45 MB resident against ~33 MB without (BENCHMARKS.md),
/// for the same CPU. The option number is `mi_option_purge_delay` in the vendored mimalloc v3
/// header (libmimalloc-sys 0.1.49, `c_src/mimalloc/v3/include/mimalloc.h`); the unit test
/// reads it back.
#[allow(unsafe_code)]
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return; // the operator's choice, read by mimalloc itself
    }
    // SAFETY: a plain setter of one of mimalloc's global options; any value is valid.
    unsafe { mi::mi_option_set(mi::PURGE_DELAY, PURGE_DELAY_MS) }
}

/// Gives this thread's freed allocator pages back to the OS now (see `hookd::alloc`).
#[allow(unsafe_code)]
fn collect_freed_memory() {
    // SAFETY: collects the calling thread's own heap; no pointer is passed.
    unsafe { mi::mi_collect(true) }
}

/// How long freed allocator pages stay resident before going back to the OS.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

#[allow(unsafe_code)]
mod mi {
    use std::ffi::{c_int, c_long};
    pub const PURGE_DELAY: c_int = 15;
    unsafe extern "C" {
        pub fn mi_option_set(option: c_int, value: c_long);
        pub fn mi_collect(force: bool);
        #[cfg(test)]
        pub fn mi_option_get(option: c_int) -> c_long;
    }
}

/// Exit codes.
mod exit {
    /// Start-up or runtime failure.
    pub const ERROR: u8 = 1;
    /// Bad arguments.
    pub const USAGE: u8 = 64;
    /// Another hookd is already running.
    pub const ALREADY_RUNNING: u8 = 3;
}

const USAGE: &str = "\
hookd: the per-user daemon that answers Claude Code hook events

usage: hookd [--socket PATH] [--config-dir DIR] [--db FILE] [--state-dir DIR]
       hookd sink-init pg [--sink NAME] [--print] ... (see hookd sink-init --help)

Runs in the foreground until SIGTERM/SIGINT (or `hookctl stop`); SIGHUP reloads rules.
Paths default from HOOKD_HOME, HOOKD_SOCKET, HOOKD_CONFIG_DIR, HOOKD_DB, HOOKD_STATE_DIR and
the XDG directories. Logging: HOOKD_LOG (default info) to stderr.

`hookd sink-init pg` creates (or prints) the PostgreSQL sink's central table and grants, then
exits; `hookctl sink init pg` runs it.
";

fn parse_args() -> Result<Option<Config>, String> {
    let mut config = Config::from_env();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut path = |flag: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "--version" | "-V" => {
                println!(
                    "hookd {} (build {}, protocol {})",
                    hook_protocol::PACKAGE_VERSION,
                    hook_protocol::BUILD_ID,
                    hook_protocol::PROTOCOL_VERSION
                );
                return Ok(None);
            }
            "--socket" => {
                config.socket = path("--socket")?;
                config.owns_socket_dir = config.socket == hook_protocol::paths::socket_path()
                    && std::env::var_os("HOOKD_SOCKET").is_none();
            }
            "--config-dir" => config.config_dir = path("--config-dir")?,
            "--db" => config.db = path("--db")?,
            "--state-dir" => config.state_dir = path("--state-dir")?,
            "--autostarted" => config.autostarted = true,
            "--foreground" => {}
            other => return Err(format!("unknown argument {other:?} (see hookd --help)")),
        }
    }
    Ok(Some(config))
}

/// The log filter for `HOOKD_LOG` (default `info`). The PostgreSQL client logs every
/// statement's parameters at debug level, which for the fleet sink is whole batches of events:
/// it stays at info unless `HOOKD_LOG` names it (`tokio_postgres=debug`).
fn log_filter(hookd_log: Option<&str>) -> String {
    let spec = hookd_log
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info");
    if spec.contains("tokio_postgres") {
        spec.to_string()
    } else {
        format!("{spec},tokio_postgres=info")
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let spec = log_filter(std::env::var("HOOKD_LOG").ok().as_deref());
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new(log_filter(None)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if config.autostarted {
        // stdio is /dev/null when hook-client starts us: log to a file instead.
        let opened = hookd::lifecycle::private_dir(&config.state_dir, "state directory", true)
            .map_err(std::io::Error::other)
            .and_then(|()| {
                hook_protocol::private::open_private(
                    &config.log_path(),
                    hook_protocol::private::Access::Append,
                    "log file",
                )
            });
        if let Ok(file) = opened {
            builder.with_ansi(false).with_writer(Arc::new(file)).init();
            return;
        }
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    builder.with_ansi(ansi).with_writer(std::io::stderr).init();
}

fn main() -> ExitCode {
    // A one-shot mode, not the daemon: no allocator tuning, logging or pidfile.
    if std::env::args().nth(1).as_deref() == Some("sink-init") {
        return hookd::sink_init::main(std::env::args().skip(2));
    }
    tune_allocator();
    hookd::alloc::set_collector(collect_freed_memory);
    let config = match parse_args() {
        Ok(Some(c)) => c,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookd: error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    init_logging(&config);
    // Before the runtime exists, so fd 3 can only be what the service manager passed.
    let inherited = match hookd::lifecycle::inherited_listener() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hookd: error: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // After a large eviction of sessions each worker gives its freed pages back once
        // (hookd::alloc).
        .on_thread_park(|| hookd::alloc::on_park(collect_freed_memory))
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hookd: error: starting the runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let autostarted = config.autostarted;
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let reload = Arc::new(Notify::new());
        let signals = {
            let shutdown = shutdown.clone();
            let reload = Arc::clone(&reload);
            tokio::spawn(async move {
                let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::hangup()),
                ) else {
                    tracing::error!("cannot install signal handlers");
                    return;
                };
                loop {
                    tokio::select! {
                        _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); shutdown.cancel(); return; }
                        _ = int.recv() => { tracing::info!("SIGINT: shutting down"); shutdown.cancel(); return; }
                        _ = hup.recv() => { tracing::info!("SIGHUP: reloading rules"); reload.notify_one(); }
                    }
                }
            })
        };
        // On a worker, not the main thread: accepting on `block_on`'s thread would add a thread
        // hop (and a cross-CPU wake-up) to every connection.
        let r = match tokio::spawn(hookd::run(config, inherited, shutdown, reload)).await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("hookd's main task failed: {e}")),
        };
        signals.abort();
        r
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let already = e
                .downcast_ref::<hookd::lifecycle::LifecycleError>()
                .is_some_and(|l| {
                    matches!(
                        l,
                        hookd::lifecycle::LifecycleError::AlreadyRunning { .. }
                            | hookd::lifecycle::LifecycleError::SocketInUse(_)
                    )
                });
            if autostarted {
                tracing::error!(error = %format!("{e:#}"), "hookd failed");
            } else {
                eprintln!("hookd: error: {e}");
                for cause in e.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::from(if already {
                exit::ALREADY_RUNNING
            } else {
                exit::ERROR
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_postgres_client_logs_at_info_unless_named() {
        assert_eq!(super::log_filter(None), "info,tokio_postgres=info");
        assert_eq!(super::log_filter(Some(" ")), "info,tokio_postgres=info");
        assert_eq!(
            super::log_filter(Some("debug")),
            "debug,tokio_postgres=info"
        );
        assert_eq!(
            super::log_filter(Some("debug,tokio_postgres=debug")),
            "debug,tokio_postgres=debug"
        );
    }

    /// The option number names `purge_delay`: its default in mimalloc v3 is 1000 ms, and the
    /// setter takes effect.
    #[test]
    #[allow(unsafe_code)]
    fn allocator_option_is_purge_delay() {
        // SAFETY: plain getters and setters of mimalloc's global options.
        unsafe {
            if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
                assert_eq!(super::mi::mi_option_get(super::mi::PURGE_DELAY), 1000);
                super::tune_allocator();
                assert_eq!(
                    super::mi::mi_option_get(super::mi::PURGE_DELAY),
                    super::PURGE_DELAY_MS
                );
            }
        }
    }
}
