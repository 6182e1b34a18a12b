//! The forwarder: one OS thread with its own current-thread tokio runtime, one task per sink.
//! No task of it runs on the runtime that answers hooks, so TLS handshakes, encoding and DNS
//! never take a worker, and the hook path only pokes a `Notify` after its commit (the store's
//! writer does, [`crate::store::Store::set_sinks`]).
//!
//! Each sink task reads a batch after its cursor with one short read-only query on the
//! blocking pool (never a read transaction across network I/O), lingers up to `linger` for a
//! batch that is not full, sends it (one request in flight per sink), and on success queues
//! the cursor for the store's writer. Retries back off exponentially with full jitter
//! (`Retry-After` honoured); 413 splits the batch, a rejected batch is bisected down to the
//! single event, which is counted and skipped; an authentication failure holds every event.
//! On SIGTERM the sinks get a short bounded flush ([`Fleet::stop`]); the rest waits on disk.
//!
//! Memory: one batch per sink at most (≤ `batch_events`, ≈ ≤ `batch_bytes`).

mod backoff;
mod task;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hook_protocol::SinkReport;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;

use super::Sink;
use crate::clock::now_ms;
use crate::settings::{FleetSettings, SinkSettings};
use crate::store::Store;
use task::SinkTask;

/// How long a stopping hookd gives its sinks to deliver what is left (inside its grace
/// period); whatever is not delivered by then waits on disk for the next start.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// A sink's status and counters: written by its task, read by status, stats and metrics (atomics
/// and short locks only; nothing here waits on the sink).
pub struct SinkState {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub lag_warn_ms: u64,
    /// The sink could not be built (it is not running): why.
    pub config_error: Option<String>,
    /// The last failure, cleared by the next success.
    error: Mutex<Option<String>>,
    /// The last failure was an authentication / configuration refusal (events held).
    held: AtomicBool,
    /// Delivered through this id of the file `store_id`.
    acked: AtomicI64,
    store_id: Mutex<String>,
    /// Time (ms) of the oldest event waiting, 0: none known.
    oldest_ms: AtomicI64,
    dropped: AtomicU64,
    sent: AtomicU64,
    retries: AtomicU64,
    rejected: AtomicU64,
    /// Requests by outcome: ok, retry, too_large, rejected, hold.
    requests: [AtomicU64; 5],
    last_success_ms: AtomicI64,
    /// Poked by the store's writer after each commit that added events.
    wake: Arc<Notify>,
}

const OUTCOMES: [&str; 5] = ["ok", "retry", "too_large", "rejected", "hold"];

impl SinkState {
    fn new(s: &SinkSettings, target: String, config_error: Option<String>) -> Self {
        Self {
            name: s.name.clone(),
            kind: s.kind.map_or("?", |k| k.as_str()).to_string(),
            target,
            lag_warn_ms: u64::try_from(s.lag_warn.as_millis()).unwrap_or(u64::MAX),
            config_error,
            error: Mutex::new(None),
            held: AtomicBool::new(false),
            acked: AtomicI64::new(0),
            store_id: Mutex::new(String::new()),
            oldest_ms: AtomicI64::new(0),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            requests: Default::default(),
            last_success_ms: AtomicI64::new(0),
            wake: Arc::new(Notify::new()),
        }
    }

    fn count(&self, outcome: usize) {
        self.requests[outcome].fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&self, why: &str, held: bool) {
        let mut e = lock(&self.error);
        if e.as_deref() != Some(why) {
            tracing::warn!(sink = %self.name, error = %why, held, "sink request failed");
        }
        *e = Some(why.to_string());
        self.held.store(held, Ordering::Relaxed);
    }

    fn succeed(&self) {
        *lock(&self.error) = None;
        self.held.store(false, Ordering::Relaxed);
        self.last_success_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Events stored and not delivered: the newest id of the file open now (`file`, its
    /// store id) minus the cursor, when the cursor is in that file. A cursor still in a file
    /// that was replaced counts nothing of the new one as delivered: comparing ids across files
    /// had `sink flush` report 0 while the new file's first events waited.
    #[must_use]
    pub fn lag_events(&self, last_id: i64, file: &str) -> u64 {
        let acked = {
            let sid = lock(&self.store_id);
            if !sid.is_empty() && !file.is_empty() && *sid != file {
                0
            } else {
                self.acked.load(Ordering::Relaxed)
            }
        };
        u64::try_from(last_id - acked).unwrap_or(0)
    }

    /// The report for status, stats and metrics.
    #[must_use]
    pub fn report(&self, last_id: i64, file: &str) -> SinkReport {
        let lag_events = self.lag_events(last_id, file);
        let oldest = self.oldest_ms.load(Ordering::Relaxed);
        let lag_ms = if lag_events > 0 && oldest > 0 {
            u64::try_from(now_ms() - oldest).unwrap_or(0)
        } else {
            0
        };
        let error = self
            .config_error
            .clone()
            .or_else(|| lock(&self.error).clone());
        let last = self.last_success_ms.load(Ordering::Relaxed);
        SinkReport {
            name: self.name.clone(),
            kind: self.kind.clone(),
            target: self.target.clone(),
            ok: error.is_none(),
            config_error: self.config_error.is_some() || self.held.load(Ordering::Relaxed),
            error,
            lag_events,
            lag_ms,
            lag_warn_ms: self.lag_warn_ms,
            sent: self.sent.load(Ordering::Relaxed),
            requests: OUTCOMES
                .iter()
                .zip(&self.requests)
                .map(|(n, c)| ((*n).to_string(), c.load(Ordering::Relaxed)))
                .collect(),
            retries: self.retries.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            last_success_ms: (last > 0).then_some(last),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The configured sinks and the forwarder thread running the ones that could be built.
pub struct Fleet {
    pub sinks: Vec<Arc<SinkState>>,
    store: Arc<Store>,
    stop: CancellationToken,
    /// Set while someone waits for a flush: sinks send without lingering.
    flushing: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The host name events are sent with: `[fleet] host`, else the machine's.
fn host(fleet: &FleetSettings) -> String {
    fleet.host.clone().unwrap_or_else(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into())
    })
}

impl Fleet {
    /// Builds the configured sinks and starts the forwarder thread for those that could be
    /// built. A sink that cannot be built is reported (status, doctor) and not run; nothing
    /// here can stop hookd from answering.
    #[must_use]
    pub fn start(store: Arc<Store>, fleet: &FleetSettings, sinks: &[SinkSettings]) -> Arc<Self> {
        let mut states = Vec::new();
        let mut running = Vec::new();
        for s in sinks {
            let built = if s.errors.is_empty() {
                Sink::build(s)
            } else {
                Err(s.errors.join("; "))
            };
            match built {
                Ok(sink) => {
                    let st = Arc::new(SinkState::new(s, sink.target(), None));
                    running.push((Arc::clone(&st), sink, s.clone()));
                    states.push(st);
                }
                Err(e) => {
                    tracing::error!(sink = %s.name, error = %e, "sink not started");
                    let target = s.endpoint.clone().unwrap_or_default();
                    states.push(Arc::new(SinkState::new(s, redact_url(&target), Some(e))));
                }
            }
        }
        if !fleet.errors.is_empty() {
            tracing::error!(errors = ?fleet.errors, "[fleet]/[sink] settings have errors");
        }
        // Every configured sink holds age pruning (one with a configuration error too: its
        // events wait for the fix; the size cap still bounds the store).
        store.set_sinks(
            states.iter().map(|s| s.name.clone()).collect(),
            states.iter().map(|s| Arc::clone(&s.wake)).collect(),
        );
        let me = Arc::new(Self {
            sinks: states,
            store,
            stop: CancellationToken::new(),
            flushing: Arc::new(AtomicU64::new(0)),
            thread: Mutex::new(None),
        });
        if me.sinks.is_empty() {
            return me;
        }
        let origin_host = host(fleet);
        let labels = fleet.labels.clone();
        let f = Arc::clone(&me);
        let spawned = std::thread::Builder::new()
            .name("hookd-fleet".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .max_blocking_threads(2)
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "the forwarder cannot start its runtime");
                        return;
                    }
                };
                rt.block_on(f.run(running, origin_host, labels));
                // Tasks still sending past the flush are dropped with the runtime: their
                // events wait on disk.
                rt.shutdown_timeout(Duration::from_millis(100));
            });
        match spawned {
            Ok(h) => *lock(&me.thread) = Some(h),
            Err(e) => tracing::error!(error = %e, "the forwarder thread cannot start"),
        }
        me
    }

    async fn run(
        self: Arc<Self>,
        running: Vec<(Arc<SinkState>, Sink, SinkSettings)>,
        host: String,
        labels: Vec<(String, String)>,
    ) {
        // Cursors as stored, for every sink (lag is known before anything is sent), and again
        // every second: what the size cap dropped (and the cursor it moved), and the oldest
        // waiting event of a sink that is not running or is stuck retrying one batch.
        self.refresh().await;
        let me = Arc::clone(&self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => me.refresh().await,
                    () = me.stop.cancelled() => return,
                }
            }
        });
        let mut tasks = tokio::task::JoinSet::new();
        for (st, sink, settings) in running {
            let task = SinkTask {
                fleet: Arc::clone(&self),
                st,
                sink,
                settings,
                host: host.clone(),
                labels: labels.clone(),
                deadline: None,
            };
            tasks.spawn(task.run());
        }
        self.stop.cancelled().await;
        // The bounded flush: the tasks see the cancellation and deliver what they can.
        let _ = tokio::time::timeout(SHUTDOWN_FLUSH, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
    }

    /// Reads every sink's stored cursor (blocking pool): dropped counts, a cursor the size cap
    /// moved past pruned events, and the oldest event waiting.
    async fn refresh(&self) {
        let store = Arc::clone(&self.store);
        let sinks: Vec<Arc<SinkState>> = self.sinks.iter().map(Arc::clone).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for st in sinks {
                let (id, acked) = {
                    let id = lock(&st.store_id).clone();
                    (id, st.acked.load(Ordering::Relaxed))
                };
                let Ok((identity, c, oldest)) = store.outbox_cursor(&st.name, Some((&id, acked)))
                else {
                    continue;
                };
                st.dropped.store(c.dropped, Ordering::Relaxed);
                let mut sid = lock(&st.store_id);
                if sid.is_empty() {
                    sid.clone_from(&identity.store_id);
                }
                if *sid == identity.store_id {
                    st.acked.fetch_max(c.acked_id, Ordering::Relaxed);
                    st.oldest_ms.store(oldest.unwrap_or(0), Ordering::Relaxed);
                }
            }
        })
        .await;
    }

    /// Stops the forwarder after a bounded flush ([`SHUTDOWN_FLUSH`]); blocks until its thread
    /// has ended. Call before the store closes (acks go through its writer).
    pub fn stop(&self) {
        self.stop.cancel();
        if let Some(h) = lock(&self.thread).take() {
            let _ = h.join();
        }
    }

    /// Each sink's report.
    #[must_use]
    pub fn reports(&self) -> Vec<SinkReport> {
        let (last, file) = (self.store.last_id(), self.store.store_id());
        self.sinks.iter().map(|s| s.report(last, &file)).collect()
    }

    /// Waits until every sink has delivered every stored event, or `timeout`; the reports as
    /// they stand then. Sinks send without lingering meanwhile.
    pub async fn flush(&self, timeout: Duration) -> Vec<SinkReport> {
        self.flushing.fetch_add(1, Ordering::Relaxed);
        for s in &self.sinks {
            s.wake.notify_one();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (last, file) = (self.store.last_id(), self.store.store_id());
            if self.sinks.iter().all(|s| s.lag_events(last, &file) == 0)
                // A sink that is not running (configuration error) cannot catch up: say so now.
                || self
                    .sinks
                    .iter()
                    .any(|s| s.config_error.is_some() && s.lag_events(last, &file) > 0)
                || tokio::time::Instant::now() >= deadline
                || self.stop.is_cancelled()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.flushing.fetch_sub(1, Ordering::Relaxed);
        self.reports()
    }
}

/// `scheme://user:password@host/…` without the password.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lag compares ids within one file: a cursor still in a replaced file counts nothing
    /// of the new file as delivered (it had `sink flush` report 0 while events waited).
    #[test]
    fn lag_counts_a_new_file_from_its_start() {
        let st = SinkState::new(&SinkSettings::new("central"), String::new(), None);
        assert_eq!(st.lag_events(7, "file-a"), 7, "nothing delivered yet");
        *lock(&st.store_id) = "file-a".into();
        st.acked.store(5, Ordering::Relaxed);
        assert_eq!(st.lag_events(7, "file-a"), 2);
        assert_eq!(
            st.lag_events(4, "file-b"),
            4,
            "the new file's 4 events all wait"
        );
        assert_eq!(st.lag_events(5, "file-a"), 0);
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            redact_url("postgres://w:secret@db:5432/x"),
            "postgres://w:***@db:5432/x"
        );
        assert_eq!(redact_url("https://otel:4318"), "https://otel:4318");
    }
}
