//! Claiming, applying and completing batches of outbox records, and the loop that
//! does it whenever there may be work.
//!
//! A batch is one Postgres transaction: take up to `batch_size` pending records
//! (deleted with `FOR UPDATE SKIP LOCKED`), apply their [`Plan`] to Redis, commit.
//! If any Redis step fails the transaction rolls back and the records stay
//! pending, so no record leaves the outbox before its keys are deleted. Replicas
//! skip each other's locked records: no record is applied twice by two live
//! workers, none is lost (a crashed worker's transaction rolls back and frees its
//! records).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use skillup_cache::{Bytes, Cache, CacheError};
use skillup_db::outbox::{self, OutboxRecord};
use skillup_db::{DbError, PgPool};
use tokio::sync::{mpsc, watch};

use skillup_events::Offset;

use crate::config::WorkerSettings;
use crate::events::{self, EventPlan, Message, Outgoing};
use crate::plan::Plan;

/// How often events past the replay window are deleted from `realtime_events`.
const EVENT_PRUNE_INTERVAL: Duration = Duration::from_secs(10);
/// While busy, the worker looks for new records this often (writers do not
/// notify it then).
pub const BUSY_POLL: Duration = Duration::from_millis(20);
/// A batch with records this recently keeps the worker busy.
pub const IDLE_AFTER: Duration = Duration::from_millis(250);
/// After arming, the worker keeps polling this long, every [`ARM_POLL`].
pub const ARM_GRACE: Duration = Duration::from_millis(100);
pub const ARM_POLL: Duration = Duration::from_millis(10);

/// Why a batch did not complete; its records stay pending and are retried.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("postgres: {0}")]
    Database(#[from] DbError),
    #[error("redis: {0}")]
    Redis(#[from] CacheError),
}

impl From<sqlx::Error> for WorkerError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e.into())
    }
}

/// The outcome of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Ids of the records applied (and gone from the outbox).
    pub record_ids: Vec<i64>,
}

/// Applies outbox records to the cache. Cheap to clone.
#[derive(Clone)]
pub struct Invalidator {
    pool: PgPool,
    cache: Cache,
    settings: WorkerSettings,
    processed: Arc<AtomicU64>,
}

impl Invalidator {
    pub fn new(pool: PgPool, cache: Cache, settings: WorkerSettings) -> Self {
        Self {
            pool,
            cache,
            settings,
            processed: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Records this worker has applied since start.
    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    /// Claims and applies one batch. An empty batch means nothing was pending (or
    /// everything pending is held by another replica).
    ///
    /// In one transaction: take the records, delete the keys they make stale,
    /// build their realtime events and number them (the sequence row stays
    /// locked until commit, so numbers follow commit order), store the events,
    /// commit. Only then are the events published: a
    /// published event is always one that committed. A publish that fails is
    /// not retried here; nodes find the gap from the next event or the
    /// heartbeat and read it from `realtime_events`.
    pub async fn process_batch(&self) -> Result<Batch, WorkerError> {
        let started = Instant::now();
        let mut tx = self.pool.begin().await?;
        let records = outbox::claim(&mut tx, i64::from(self.settings.batch_size)).await?;
        if records.is_empty() {
            tx.commit().await?;
            return Ok(Batch::default());
        }
        let records = outbox::with_progress_courses(&mut tx, records).await?;
        let mut plan = Plan::from_records(&records);
        if !plan.instructors.is_empty() {
            let instructors: Vec<_> = plan.instructors.iter().copied().collect();
            plan.add_taught_courses(outbox::courses_taught_by(&mut tx, &instructors).await?);
        }
        if !plan.enrolled_in.is_empty() {
            let courses: Vec<_> = plan.enrolled_in.iter().copied().collect();
            plan.add_enrolled_users(outbox::users_enrolled_in(&mut tx, &courses).await?);
        }
        if let Err(e) = self.apply(&plan).await {
            metrics::counter!("invalidation_failures_total").increment(1);
            // Dropping `tx` rolls back: the records stay pending for the next try.
            return Err(e.into());
        }
        let event_plan = EventPlan::from_records(&records);
        let mut outgoing = events::resolve(&mut tx, &event_plan, Utc::now()).await?;
        let bodies = self.sequence(&mut tx, &mut outgoing).await?;
        tx.commit().await?;
        self.publish(&outgoing, bodies).await;
        self.record_metrics(&records, started);
        Ok(Batch {
            record_ids: plan.record_ids,
        })
    }

    /// Numbers `outgoing` and stores it in `realtime_events`; returns each
    /// event's stored body. Runs last before the commit, so the sequence lock is
    /// held only for these two statements and the commit.
    async fn sequence(
        &self,
        tx: &mut sqlx::PgConnection,
        outgoing: &mut [Outgoing],
    ) -> Result<Vec<String>, WorkerError> {
        if outgoing.is_empty() {
            return Ok(Vec::new());
        }
        let (epoch, first) = skillup_db::events::reserve(tx, outgoing.len() as u64).await?;
        let mut rows = Vec::with_capacity(outgoing.len());
        for (i, event) in outgoing.iter_mut().enumerate() {
            event.set_offset(Offset::new(epoch, first + i as u64));
            rows.push((event.kind, event.user, event.course, event.body()));
        }
        skillup_db::events::insert(tx, first, &rows).await?;
        Ok(rows.into_iter().map(|(.., body)| body).collect())
    }

    /// Publishes committed events in their order, pipelined. An event whose API
    /// write was traced continues that trace (`redis.publish`) and carries the
    /// publish's context for the realtime node.
    async fn publish(&self, outgoing: &[Outgoing], bodies: Vec<String>) {
        if outgoing.is_empty() {
            return;
        }
        let keys = self.cache.keys();
        let mut messages = Vec::with_capacity(outgoing.len());
        for (event, body) in outgoing.iter().zip(bodies) {
            let channel = event.channel(keys);
            let payload = match (event.traceparent(), &event.message) {
                (Some(parent), Message::Progress(progress)) => {
                    let span = tracing::info_span!("redis.publish", otel.kind = "producer",
                        messaging.system = "redis", messaging.destination.name = %channel);
                    skillup_common::telemetry::set_remote_parent(&span, parent);
                    let _entered = span.enter();
                    let mut traced = (**progress).clone();
                    traced.traceparent = skillup_common::telemetry::current_traceparent();
                    serde_json::to_string(&traced).expect("events serialize")
                }
                _ => body,
            };
            messages.push((channel, Bytes::from(payload)));
        }
        let n = messages.len() as u64;
        match self.cache.publish_many(messages).await {
            Ok(()) => metrics::counter!("realtime_events_published_total").increment(n),
            Err(e) => tracing::warn!(error = %e, events = n,
                "events committed but not published; nodes will read them from Postgres"),
        }
    }

    /// Deletes what `plan` names (bumping fill guards).
    async fn apply(&self, plan: &Plan) -> Result<(), CacheError> {
        let work = plan.cache_work(self.cache.keys());
        for chunk in work.entries.chunks(256) {
            self.cache.invalidate(chunk).await?;
        }
        if work.listing {
            self.cache.invalidate_course_pages().await?;
        }
        for pattern in &work.patterns {
            self.cache.delete_pattern(pattern).await?;
        }
        Ok(())
    }

    fn record_metrics(&self, records: &[OutboxRecord], started: Instant) {
        let n = records.len() as u64;
        self.processed.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("invalidations_processed_total").increment(n);
        metrics::histogram!("invalidation_batch_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let now = Utc::now();
        for r in records {
            let lag = (now - r.created_at).to_std().unwrap_or_default();
            metrics::histogram!("invalidation_lag_seconds").record(lag.as_secs_f64());
        }
    }

    /// Applies batches until nothing is pending (the "run until the queue is empty"
    /// entry point tests drive). Returns how many records were applied.
    pub async fn drain(&self) -> Result<u64, WorkerError> {
        self.drain_until(&AtomicBool::new(false)).await
    }

    /// Like [`Invalidator::drain`], stopping between batches once `stop` is set.
    async fn drain_until(&self, stop: &AtomicBool) -> Result<u64, WorkerError> {
        let mut total = 0;
        while !stop.load(Ordering::Relaxed) {
            let batch = self.process_batch().await?;
            if batch.record_ids.is_empty() {
                break;
            }
            total += batch.record_ids.len() as u64;
        }
        Ok(total)
    }

    /// Drains whenever `wake` fires or the poll interval passes, retrying with
    /// capped exponential backoff while Redis or Postgres is down, pruning
    /// realtime events past the replay window, until `shutdown` resolves. The batch in hand when the
    /// signal arrives gets `grace` to finish (committed or rolled back); one still
    /// running then (stuck behind a Postgres lock, say) is abandoned: its
    /// transaction never commits, so its records stay pending for the next worker.
    pub async fn run(
        self,
        wake: mpsc::Receiver<()>,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_flag = Arc::new(AtomicBool::new(false));
        let signal = tokio::spawn({
            let stop_flag = stop_flag.clone();
            async move {
                shutdown.await;
                stop_flag.store(true, Ordering::Relaxed);
                let _ = stop_tx.send(true);
            }
        });
        let mut stopping = stop_rx.clone();
        let grace_over = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = self.work(wake, &stop_flag, stop_rx) => {}
            () = grace_over => {
                tracing::warn!(?grace, "the batch in hand did not finish within the grace period; \
                    abandoned: it never commits, so its records stay pending for the next worker");
            }
        }
        signal.abort();
        tracing::info!(processed = self.processed(), "invalidation worker stopped");
    }

    /// The loop of [`Invalidator::run`]: `stopped` is checked between batches,
    /// `stop` ends the waits.
    ///
    /// Writers notify only while the worker is *armed* (it says so in
    /// `invalidator_wakeup`; see the migration `wake_only_when_idle`): a NOTIFY
    /// makes every commit that sends it wait for a database-wide lock. So:
    /// - **busy** (a batch found records less than [`IDLE_AFTER`] ago): not
    ///   armed, polls every [`BUSY_POLL`]; writers commit without NOTIFY;
    /// - **going idle**: arms, then drains at once and every [`ARM_POLL`] for
    ///   [`ARM_GRACE`], for writers that read "not armed" just before the arm
    ///   committed and commit after the drain (the one wake-up this design can
    ///   miss);
    /// - **idle**: waits for a notification or the poll interval; a
    ///   notification disarms it and makes it busy.
    async fn work(
        &self,
        mut wake: mpsc::Receiver<()>,
        stopped: &AtomicBool,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut backoff = Backoff::new(Duration::from_millis(100), self.settings.max_backoff);
        let mut last_event_prune = Instant::now();
        let mut busy_until = Instant::now() + IDLE_AFTER;
        // What `invalidator_wakeup` says when a worker starts (its default, or
        // a worker that stopped while idle): armed. The first busy turn disarms.
        let mut armed_at: Option<Instant> = Some(Instant::now());
        loop {
            // Never cancelled here: a stop lets the batch in hand finish, and
            // run() bounds that by the grace.
            let failed = match self.drain_until(stopped).await {
                Ok(applied) => {
                    backoff.reset();
                    if applied > 0 {
                        busy_until = Instant::now() + IDLE_AFTER;
                    }
                    None
                }
                Err(e) => {
                    let wait = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?wait, "invalidation batch failed; records stay pending");
                    Some(wait)
                }
            };
            if stopped.load(Ordering::Relaxed) {
                return;
            }
            self.housekeeping(&mut last_event_prune).await;
            let wait = match failed {
                Some(wait) => wait,
                None if Instant::now() < busy_until => {
                    if armed_at.take().is_some() {
                        self.arm(false).await;
                    }
                    BUSY_POLL
                }
                None => match armed_at {
                    None => {
                        self.arm(true).await;
                        armed_at = Some(Instant::now());
                        continue;
                    }
                    Some(at) if at.elapsed() < ARM_GRACE => ARM_POLL,
                    Some(_) => self.settings.poll_interval,
                },
            };
            let woken = tokio::select! {
                _ = wake.recv() => true,
                () = tokio::time::sleep(wait) => false,
                _ = stop.wait_for(|stop| *stop) => return,
            };
            if woken {
                if armed_at.take().is_some() {
                    self.arm(false).await;
                }
                busy_until = Instant::now() + IDLE_AFTER;
            }
        }
    }

    /// Says whether writers should wake this worker; a failure (Postgres down)
    /// is retried by the loop's next turn through the same state.
    async fn arm(&self, armed: bool) {
        if let Err(e) = outbox::set_armed(&self.pool, armed).await {
            tracing::debug!(error = %e, armed, "cannot record the wake-up state");
        }
    }

    /// Prunes realtime events past the replay window every
    /// [`EVENT_PRUNE_INTERVAL`].
    async fn housekeeping(&self, last_event_prune: &mut Instant) {
        if last_event_prune.elapsed() >= EVENT_PRUNE_INTERVAL {
            *last_event_prune = Instant::now();
            let replay = self.settings.replay;
            match skillup_db::events::prune(&self.pool, replay.max_events, replay.max_age).await {
                Ok(n) if n > 0 => {
                    tracing::debug!(pruned = n, "pruned realtime events past the replay window")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning realtime events failed"),
            }
        }
    }
}

/// Capped exponential backoff.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            current: min,
        }
    }

    /// The delay to wait now; doubles for the next call, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.current;
        self.current = (self.current * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
