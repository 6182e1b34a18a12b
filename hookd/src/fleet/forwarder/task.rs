//! One sink's delivery loop: read a batch after its cursor, linger, send, and act on the
//! outcome (ack, back off, split, bisect, hold), and the bounded flush when hookd stops.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::super::{Origin, OutEvent, Outcome, Sink};
use super::{Backoff, Fleet, SHUTDOWN_FLUSH, SinkState, lock};
use crate::clock::now_ms;
use crate::settings::SinkSettings;

/// Why a delivery stopped before the batch was done.
enum Stopped {
    /// hookd is stopping and the flush window is over (or the sink is failing).
    Shutdown,
}

pub(super) struct SinkTask {
    pub(super) fleet: Arc<Fleet>,
    pub(super) st: Arc<SinkState>,
    pub(super) sink: Sink,
    pub(super) settings: SinkSettings,
    pub(super) host: String,
    pub(super) labels: Vec<(String, String)>,
    /// Set once hookd is stopping: the end of the flush window.
    pub(super) deadline: Option<Instant>,
}

impl SinkTask {
    fn stopping(&mut self) -> bool {
        if self.fleet.stop.is_cancelled() && self.deadline.is_none() {
            self.deadline = Some(Instant::now() + SHUTDOWN_FLUSH);
        }
        self.deadline.is_some()
    }

    pub(super) async fn run(mut self) {
        let mut backoff = Backoff::new(self.settings.backoff_min, self.settings.backoff_max);
        let mut lingered = false;
        loop {
            if self.stopping() && self.deadline.is_some_and(|d| Instant::now() >= d) {
                return;
            }
            let after = {
                let id = lock(&self.st.store_id).clone();
                (id, self.st.acked.load(Ordering::Relaxed))
            };
            let store = Arc::clone(&self.fleet.store);
            let name = self.st.name.clone();
            let (limit, bytes) = (
                self.settings.batch_events,
                usize::try_from(self.settings.batch_bytes).unwrap_or(usize::MAX),
            );
            let read = tokio::task::spawn_blocking(move || {
                store.outbox_read(&name, Some((&after.0, after.1)), limit, bytes)
            })
            .await;
            let batch = match read {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    tracing::warn!(sink = %self.st.name, error = %e, "cannot read the outbox");
                    if self.stopping() || !self.pause(Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            };
            {
                let mut id = lock(&self.st.store_id);
                if *id != batch.identity.store_id {
                    if !id.is_empty() {
                        tracing::warn!(
                            sink = %self.st.name,
                            store_id = %batch.identity.store_id,
                            "the store file is another one: delivering from its cursor"
                        );
                    }
                    id.clone_from(&batch.identity.store_id);
                    self.st
                        .acked
                        .store(batch.cursor.acked_id, Ordering::Relaxed);
                }
            }
            self.st
                .dropped
                .store(batch.cursor.dropped, Ordering::Relaxed);
            let Some(first) = batch.events.first() else {
                self.st.oldest_ms.store(0, Ordering::Relaxed);
                lingered = false;
                if self.stopping() || !self.idle().await {
                    return;
                }
                continue;
            };
            self.st.oldest_ms.store(first.time_ms, Ordering::Relaxed);
            // A batch that is not full waits (at most `linger` after its oldest event) for
            // more, unless someone waits for a flush or hookd is stopping.
            let age = Duration::from_millis(u64::try_from(now_ms() - first.time_ms).unwrap_or(0));
            if !lingered
                && batch.events.len() < self.settings.batch_events
                && age < self.settings.linger
                && !self.stopping()
                && self.fleet.flushing.load(Ordering::Relaxed) == 0
            {
                lingered = true;
                let from = batch.events.last().map_or(0, |e| e.id);
                self.linger(self.settings.linger - age, from).await;
                continue;
            }
            lingered = false;
            let origin = Origin {
                host: self.host.clone(),
                store_id: batch.identity.store_id.clone(),
                epoch: batch.identity.epoch,
                labels: self.labels.clone(),
            };
            let events: Vec<OutEvent> = batch
                .events
                .into_iter()
                .map(|e| crate::fleet::prepare(e, self.settings.payload))
                .collect();
            if matches!(
                self.deliver(&origin, &events, &mut backoff).await,
                Err(Stopped::Shutdown)
            ) {
                return;
            }
        }
    }

    /// Waits for new events (or a flush, or the stop). False: stop.
    async fn idle(&self) -> bool {
        tokio::select! {
            () = self.st.wake.notified() => true,
            () = tokio::time::sleep(Duration::from_secs(5)) => true,
            () = self.fleet.stop.cancelled() => false,
        }
    }

    /// Sleeps `d` unless hookd stops. False: stop.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.fleet.stop.cancelled() => false,
        }
    }

    /// Waits up to `d` for the batch after `from` to fill up.
    async fn linger(&self, d: Duration, from: i64) {
        let until = tokio::time::Instant::now() + d;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                () = self.fleet.stop.cancelled() => return,
                () = self.st.wake.notified() => {
                    let waiting = self.fleet.store.last_id() - from;
                    if waiting >= i64::try_from(self.settings.batch_events).unwrap_or(i64::MAX)
                        || self.fleet.flushing.load(Ordering::Relaxed) > 0
                    {
                        return;
                    }
                }
            }
        }
    }

    /// The size cap pruned (and counted) events of the batch being retried: read again from
    /// the moved cursor rather than send what was counted as dropped.
    fn moved_past(&self, first: i64) -> bool {
        self.st.acked.load(Ordering::Relaxed) >= first
    }

    /// Notes `events[..=last]` delivered: the cursor moves (in memory now, in the store with
    /// the writer's next commit).
    async fn ack(&self, store_id: &str, id: i64) {
        self.st.acked.fetch_max(id, Ordering::Relaxed);
        let store = Arc::clone(&self.fleet.store);
        let (name, sid) = (self.st.name.clone(), store_id.to_string());
        let _ = tokio::task::spawn_blocking(move || store.ack_cursor(&name, &sid, id)).await;
    }

    /// Sends `events` in order, splitting on 413, bisecting on a rejection, retrying
    /// (backoff) on transient failures and holding on authentication failures.
    async fn deliver(
        &mut self,
        origin: &Origin,
        events: &[OutEvent],
        backoff: &mut Backoff,
    ) -> Result<(), Stopped> {
        let mut parts: VecDeque<Range<usize>> = VecDeque::new();
        parts.push_back(0..events.len());
        while let Some(r) = parts.pop_front() {
            loop {
                if self.stopping() && self.deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Stopped::Shutdown);
                }
                let part = &events[r.clone()];
                let last = part[part.len() - 1].id;
                let outcome =
                    match tokio::time::timeout(self.settings.timeout, self.sink.send(origin, part))
                        .await
                    {
                        Ok(o) => o,
                        Err(_) => Outcome::Retry {
                            after: None,
                            why: format!(
                                "no answer within {}",
                                hook_protocol::duration::Display(self.settings.timeout)
                            ),
                        },
                    };
                match outcome {
                    Outcome::Delivered => {
                        self.st.count(0);
                        self.st.sent.fetch_add(part.len() as u64, Ordering::Relaxed);
                        self.st.succeed();
                        backoff.reset();
                        self.ack(&origin.store_id, last).await;
                        break;
                    }
                    Outcome::Partial { rejected, why } => {
                        self.st.count(0);
                        let rejected = rejected.min(part.len() as u64);
                        self.st
                            .sent
                            .fetch_add(part.len() as u64 - rejected, Ordering::Relaxed);
                        self.st.rejected.fetch_add(rejected, Ordering::Relaxed);
                        tracing::warn!(
                            sink = %self.st.name,
                            rejected,
                            first = part[0].id,
                            last,
                            error = %why,
                            "the receiver refused some events of a batch (counted, not retried)"
                        );
                        self.st.succeed();
                        backoff.reset();
                        self.ack(&origin.store_id, last).await;
                        break;
                    }
                    Outcome::TooLarge | Outcome::Rejected { .. } if part.len() > 1 => {
                        let idx = if outcome == Outcome::TooLarge { 2 } else { 3 };
                        self.st.count(idx);
                        let mid = r.start + part.len() / 2;
                        parts.push_front(mid..r.end);
                        parts.push_front(r.start..mid);
                        break;
                    }
                    Outcome::TooLarge | Outcome::Rejected { .. } => {
                        let why = match &outcome {
                            Outcome::Rejected { why } => why.clone(),
                            _ => "too large even alone".to_string(),
                        };
                        self.st
                            .count(if outcome == Outcome::TooLarge { 2 } else { 3 });
                        self.st.rejected.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(
                            sink = %self.st.name,
                            uid = %format!("{}-{}-{last}", origin.store_id, origin.epoch),
                            error = %why,
                            "the receiver refused an event permanently: counted and skipped"
                        );
                        self.ack(&origin.store_id, last).await;
                        break;
                    }
                    Outcome::Retry { after, why } => {
                        self.st.count(1);
                        self.st.retries.fetch_add(1, Ordering::Relaxed);
                        self.st.fail(&why, false);
                        if self.stopping() {
                            return Err(Stopped::Shutdown);
                        }
                        let d = backoff.next(after);
                        if !self.pause(d).await {
                            self.stopping();
                            return Err(Stopped::Shutdown);
                        }
                        if self.moved_past(part[0].id) {
                            return Ok(());
                        }
                    }
                    Outcome::Hold { why } => {
                        self.st.count(4);
                        self.st.retries.fetch_add(1, Ordering::Relaxed);
                        self.st.fail(&why, true);
                        if self.stopping() {
                            return Err(Stopped::Shutdown);
                        }
                        let d = backoff.next(None);
                        if !self.pause(d).await {
                            self.stopping();
                            return Err(Stopped::Shutdown);
                        }
                        if self.moved_past(part[0].id) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
