//! The hub's state machine (see [`super`]).
//!
//! The state and its loop are here; the work is split by concern:
//! [`stream`] (ordering, gaps, the window), [`sessions`] (sockets coming and
//! going, replay, delivery), [`rights`] (rights changes, revocation sweeps).
//!
//! Ordering: events numbered by the invalidator are applied strictly in
//! order. One that arrives ahead of a gap waits in `pending`; if the gap is
//! still open after [`REORDER_WAIT`] (events of different channels may cross
//! on a cluster), the missing ones are read from `realtime_events`. The same
//! read catches up after a Redis reconnect, a lag, or a heartbeat ahead of us
//! (which also waits [`REORDER_WAIT`] first: the beat may overtake the live
//! publish of the very events it counts).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use skillup_cache::Cache;
use skillup_common::{CourseId, UserId};
use skillup_db::events::{Head, StoredEvent};
use skillup_db::{DbError, PgPool};
use skillup_events::{
    Access, CourseUnsubscribed, EndReason, Epoch, Level, Offset, Resync, ResyncReason,
    SessionEnded, names,
};
use socketioxide::socket::Sid;
use tokio::sync::mpsc;
use tokio_util::time::DelayQueue;

use super::registry::{Conn, Pending, Registry, SessionKey};
use super::window::{Audience, Gap, Window};
use super::{Admission, Command, HubSettings, HubStats, Subscribed, Subscription};
use crate::event::{Body, Event};

mod rights;
mod sessions;
mod stream;

/// How long an event ahead of a gap waits for the missing ones to arrive
/// before they are read from Postgres.
const REORDER_WAIT: Duration = Duration::from_millis(50);
/// Between retries of a failed read from Postgres.
const RETRY_WAIT: Duration = Duration::from_millis(500);
/// Failed reads of a gap after which it is given up (sockets get `resync`).
const MAX_FILL_FAILURES: u32 = 10;
/// How long a revoked session is remembered for sockets still in their
/// handshake (a revocation can overtake the handshake's own check).
const REVOKED_MEMORY: Duration = Duration::from_secs(60);
/// How long an admitted socket may take to be connected before it is forgotten.
const ADMISSION_WAIT: Duration = Duration::from_secs(30);
/// Housekeeping: window age, revocation memory, unverified sessions.
const TICK: Duration = Duration::from_millis(250);

/// Where the window stands.
enum Stream {
    /// Loading from Postgres at start; events, connects and subscribes wait.
    Loading {
        failures: u32,
    },
    Live,
}

/// Results of the hub's spawned work, and its own timers.
enum Internal {
    Loaded(Result<(Head, Vec<StoredEvent>), DbError>),
    Filled(Result<Vec<StoredEvent>, DbError>),
    RetryLoad,
    RetryFill,
    /// A revocation sweep: the sessions found revoked, or (`Err`) those that
    /// could not be checked.
    Swept(Result<Vec<SessionKey>, Vec<SessionKey>>),
    Rechecked(
        Vec<(Sid, UserId, CourseId)>,
        Result<Vec<(UserId, CourseId, Level)>, DbError>,
    ),
}

pub struct HubTask {
    db: PgPool,
    cache: Cache,
    settings: HubSettings,
    stats: Arc<HubStats>,
    window: Window,
    registry: Registry,
    timers: DelayQueue<Sid>,
    stream: Stream,
    /// Events numbered beyond `window.last() + 1`, or held while the hub is
    /// loading, filling a gap or re-checking rights.
    pending: BTreeMap<u64, (Instant, Arc<Event>)>,
    /// When the current gap was first seen.
    gap_since: Option<Instant>,
    /// The stream's head as a heartbeat announced it, while the window is behind
    /// it with nothing pending (0: none). Read from Postgres only if the live
    /// events do not arrive within [`REORDER_WAIT`].
    announced: u64,
    /// When the read of Postgres in flight started: it sees every event
    /// committed before then (the invalidator publishes only after commit).
    fill_started: Option<Instant>,
    fill_failures: u32,
    /// A rights reset is being checked: delivery waits.
    paused: bool,
    /// Admissions waiting for the window to load.
    parked: Vec<Admission>,
    /// Sockets whose offset was ahead of the node: checked when a read of
    /// Postgres tells where the stream really is.
    ahead: Vec<(Sid, u64, Instant)>,
    revoked: HashMap<SessionKey, Instant>,
    sweeping: bool,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: Option<mpsc::UnboundedReceiver<Internal>>,
    /// Lets spawned work outlive nothing: the hub stops when its handles go.
    _commands: mpsc::WeakSender<Command>,
}

impl HubTask {
    pub fn new(
        db: PgPool,
        cache: Cache,
        settings: HubSettings,
        stats: Arc<HubStats>,
        commands: mpsc::WeakSender<Command>,
    ) -> Self {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let max_events = usize::try_from(settings.replay.max_events).unwrap_or(usize::MAX);
        Self {
            window: Window::new(settings.replay.max_age, max_events),
            db,
            cache,
            settings,
            stats,
            registry: Registry::default(),
            timers: DelayQueue::new(),
            stream: Stream::Loading { failures: 0 },
            pending: BTreeMap::new(),
            gap_since: None,
            announced: 0,
            fill_started: None,
            fill_failures: 0,
            paused: false,
            parked: Vec::new(),
            ahead: Vec::new(),
            revoked: HashMap::new(),
            sweeping: false,
            internal_tx,
            internal_rx: Some(internal_rx),
            _commands: commands,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut internal = self.internal_rx.take().expect("run once");
        self.start_load();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let reorder = self
                .gap_since
                .filter(|_| self.fill_started.is_none() && matches!(self.stream, Stream::Live))
                .map(|t| tokio::time::Instant::from_std(t + REORDER_WAIT));
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle(command),
                    None => break,
                },
                Some(result) = internal.recv() => self.internal(result),
                Some(expired) = self.timers.next(), if !self.timers.is_empty() => {
                    self.end(expired.into_inner(), EndReason::Expired);
                }
                () = sleep_until(reorder), if reorder.is_some() => self.fill_gap(),
                _ = tick.tick() => self.housekeeping(),
            }
            self.publish_stats();
        }
        tracing::debug!("hub stopped");
    }

    fn publish_stats(&self) {
        self.stats
            .sockets
            .store(self.registry.len(), Ordering::Relaxed);
        self.stats
            .rooms
            .store(self.registry.room_count(), Ordering::Relaxed);
        self.stats
            .window
            .store(self.window.len(), Ordering::Relaxed);
        self.stats.last.store(self.window.last(), Ordering::Release);
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Event(event) => self.event(*event),
            Command::Resubscribed => {
                self.start_fill();
                // A revocation may have been announced while the subscription
                // was down: every session here is checked again.
                for conn in self.registry.conns_mut() {
                    conn.unverified = true;
                }
                self.start_sweep();
            }
            Command::Lagged => self.start_fill(),
            Command::Admit(admission) => self.admit(*admission),
            Command::Connected { sid } => self.activate(sid),
            Command::Subscribe(subscription) => self.subscribe(*subscription),
            Command::Unsubscribe { sid, course } => {
                self.registry.unfollow(sid, course);
            }
            Command::Disconnect { sid } => {
                if let Some(conn) = self.registry.remove(sid) {
                    self.timers.try_remove(&conn.timer);
                    metrics::gauge!("realtime_connections").decrement(1.0);
                }
            }
        }
    }

    fn internal(&mut self, result: Internal) {
        match result {
            Internal::Loaded(result) => self.loaded(result),
            Internal::Filled(result) => self.filled(result),
            Internal::RetryLoad => self.start_load(),
            Internal::RetryFill => self.start_fill(),
            Internal::Swept(Ok(revoked)) => {
                self.sweeping = false;
                for session in revoked {
                    self.revoke(session);
                }
            }
            Internal::Swept(Err(unchecked)) => {
                self.sweeping = false;
                for conn in self.registry.conns_mut() {
                    conn.unverified |= unchecked.contains(&conn.session);
                }
            }
            Internal::Rechecked(subscriptions, levels) => self.rechecked(subscriptions, levels),
        }
    }

    /// Runs `work` in its own task and feeds its result back.
    fn spawn<F>(&self, work: F)
    where
        F: Future<Output = Internal> + Send + 'static,
    {
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(work.await);
        });
    }

    fn later(&self, wait: Duration, what: Internal) {
        self.spawn(async move {
            tokio::time::sleep(wait).await;
            what
        });
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
