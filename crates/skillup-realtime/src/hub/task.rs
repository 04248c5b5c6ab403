//! The hub's state machine (see [`super`]).
//!
//! Ordering: events numbered by the invalidator are applied strictly in
//! order. One that arrives ahead of a gap waits in `pending`; if the gap is
//! still open after [`REORDER_WAIT`] (events of different channels may cross
//! on a cluster), the missing ones are read from `realtime_events`. The same
//! read catches up after a Redis reconnect, a lag, or a heartbeat ahead of us.

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
use crate::event::{Body, Event, decode_stored};

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
                () = sleep_until(reorder), if reorder.is_some() => self.start_fill(),
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

    // ---- the stream ------------------------------------------------------------

    fn start_load(&self) {
        let db = self.db.clone();
        let replay = self.settings.replay;
        self.spawn(async move {
            Internal::Loaded(
                skillup_db::events::window(&db, replay.max_events, replay.max_age).await,
            )
        });
    }

    fn loaded(&mut self, result: Result<(Head, Vec<StoredEvent>), DbError>) {
        let Stream::Loading { failures } = self.stream else {
            return;
        };
        match result {
            Ok((head, events)) => {
                let floor = events.first().map_or(head.last, |e| e.seq - 1);
                self.window.reset(head.epoch, floor);
                let now = Instant::now();
                for stored in &events {
                    match decode_stored(stored) {
                        // History: kept for replay, not applied (rights in it
                        // predate every socket here).
                        Ok(event) if stored.seq == self.window.last() + 1 => {
                            self.window.push(stored.seq, Arc::new(event), now);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(seq = stored.seq, error = %e, "unreadable stored event");
                            self.window.reset(head.epoch, stored.seq);
                        }
                    }
                }
                tracing::info!(events = self.window.len(), last = self.window.last(), %head.epoch,
                    "replay window loaded");
                self.stream = Stream::Live;
            }
            Err(e) if failures < 3 => {
                tracing::warn!(error = %e, "cannot load the replay window yet; retrying");
                self.stream = Stream::Loading {
                    failures: failures + 1,
                };
                self.later(Duration::from_secs(1), Internal::RetryLoad);
                return;
            }
            Err(e) => {
                // Sockets must not wait for Postgres: go on without history.
                // The first numbered event sets where the window starts;
                // replays from before it are `resync`s.
                tracing::warn!(error = %e, "no replay window from Postgres; starting from live events");
                let first = self.pending.values().next().and_then(|(_, e)| e.offset);
                if let Some(first) = first {
                    self.window.reset(first.epoch, first.seq - 1);
                }
                self.stream = Stream::Live;
            }
        }
        self.drain();
        for admission in std::mem::take(&mut self.parked) {
            self.admit(admission);
        }
    }

    fn event(&mut self, event: Event) {
        metrics::counter!("realtime_events_in_total").increment(1);
        match &event.body {
            Body::SessionRevoked(id) => {
                match SessionKey::parse(id) {
                    Some(session) => self.revoke(session),
                    None => tracing::warn!("revocation of a malformed session id ignored"),
                }
                return;
            }
            Body::Heartbeat(head) => {
                self.heartbeat(*head);
                return;
            }
            _ => {}
        }
        let Some(offset) = event.offset else {
            // Another publisher's message: live only.
            self.deliver(None, &event);
            return;
        };
        if matches!(self.stream, Stream::Live) {
            match self.window.epoch() {
                // Started without Postgres: the stream begins here for this node.
                None => self
                    .window
                    .reset(offset.epoch, offset.seq.saturating_sub(1)),
                Some(epoch) if epoch != offset.epoch => self.new_epoch(offset),
                Some(_) => {}
            }
        }
        if offset.seq > self.window.last() {
            self.pending
                .insert(offset.seq, (Instant::now(), Arc::new(event)));
            self.drain();
        }
    }

    /// The database behind the stream changed (recreated): nothing before
    /// can be replayed.
    fn new_epoch(&mut self, offset: Offset) {
        tracing::warn!(epoch = %offset.epoch, "the event stream changed epoch; every socket resyncs");
        self.window
            .reset(offset.epoch, offset.seq.saturating_sub(1));
        self.pending.clear();
        self.resync_all(ResyncReason::Lost);
    }

    fn heartbeat(&mut self, head: Offset) {
        if !matches!(self.stream, Stream::Live) {
            return;
        }
        if self.window.epoch().is_some_and(|e| e != head.epoch) {
            self.new_epoch(Offset::new(head.epoch, head.seq + 1));
            return;
        }
        if head.seq > self.window.last() && self.pending.is_empty() {
            metrics::counter!("realtime_gap_fills_total", "cause" => "heartbeat").increment(1);
            self.start_fill();
        }
    }

    /// Applies every pending event that is next in line.
    fn drain(&mut self) {
        if !matches!(self.stream, Stream::Live) {
            return;
        }
        while !self.paused {
            let Some(entry) = self.pending.first_entry() else {
                break;
            };
            let seq = *entry.key();
            if seq <= self.window.last() {
                entry.remove();
            } else if seq == self.window.last() + 1 {
                let (_, event) = entry.remove();
                self.apply(seq, event);
            } else {
                break;
            }
        }
        let gap = !self.paused && !self.pending.is_empty();
        self.gap_since = match (gap, self.gap_since) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(Instant::now()),
            (false, _) => None,
        };
        let last = self.window.last();
        self.ahead.retain(|(_, seq, _)| *seq > last);
    }

    fn start_fill(&mut self) {
        if self.fill_started.is_some() || !matches!(self.stream, Stream::Live) {
            return;
        }
        self.fill_started = Some(Instant::now());
        let (db, after, limit) = (
            self.db.clone(),
            self.window.last(),
            self.settings.replay.max_events,
        );
        self.spawn(
            async move { Internal::Filled(skillup_db::events::after(&db, after, limit).await) },
        );
    }

    fn filled(&mut self, result: Result<Vec<StoredEvent>, DbError>) {
        let Some(started) = self.fill_started.take() else {
            return;
        };
        let events = match result {
            Ok(events) => events,
            Err(e) => {
                self.fill_failures += 1;
                metrics::counter!("realtime_fill_failures_total").increment(1);
                if self.fill_failures >= MAX_FILL_FAILURES && !self.pending.is_empty() {
                    tracing::warn!(error = %e, "cannot read the missed events; sockets resync");
                    self.fill_failures = 0;
                    let first = self.pending.keys().next().copied().unwrap_or_default();
                    self.lose_until(first);
                } else {
                    tracing::debug!(error = %e, "reading missed events failed; retrying");
                    self.later(RETRY_WAIT, Internal::RetryFill);
                }
                return;
            }
        };
        self.fill_failures = 0;
        let full = events.len() as u64 >= self.settings.replay.max_events;
        if let Some(first) = events.first().map(|e| e.seq)
            && first > self.window.last() + 1
        {
            // Pruned from Postgres before this node read them.
            self.lose_until(first);
        }
        let mut head = self.window.last();
        for stored in events {
            head = head.max(stored.seq);
            if stored.seq <= self.window.last() {
                continue;
            }
            match decode_stored(&stored) {
                Ok(event) => {
                    self.pending.insert(stored.seq, (started, Arc::new(event)));
                }
                Err(e) => tracing::warn!(seq = stored.seq, error = %e, "unreadable stored event"),
            }
        }
        if !full {
            // Anything received before this read began and beyond what it found
            // never committed (an event is published only after its commit):
            // another publisher's invention, dropped. Offsets ahead of the
            // stream, given before the read, are not this stream's.
            let bogus: Vec<u64> = self
                .pending
                .iter()
                .filter(|(seq, (at, _))| **seq > head && *at < started)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in bogus {
                tracing::warn!(seq, "an event numbered beyond the stream was dropped");
                metrics::counter!("realtime_events_dropped_total", "reason" => "unknown_offset")
                    .increment(1);
                self.pending.remove(&seq);
            }
            for (sid, seq, at) in std::mem::take(&mut self.ahead) {
                if seq > head && at < started {
                    if let Some(conn) = self.registry.get_mut(sid) {
                        conn.covered = head;
                        resync_once(conn, ResyncReason::UnknownOffset);
                    }
                } else {
                    self.ahead.push((sid, seq, at));
                }
            }
        }
        self.drain();
        if full {
            self.start_fill();
        }
    }

    /// Events before `first` cannot be had: sockets are told to resync, and the
    /// stream goes on from `first`.
    fn lose_until(&mut self, first: u64) {
        let epoch = self.window.epoch().unwrap_or(Epoch(0));
        tracing::warn!(
            from = self.window.last() + 1,
            to = first.saturating_sub(1),
            "events lost; sockets resync"
        );
        metrics::counter!("realtime_events_lost_total")
            .increment(first.saturating_sub(self.window.last() + 1));
        self.window.reset(epoch, first.saturating_sub(1));
        self.resync_all(ResyncReason::Lost);
    }

    fn apply(&mut self, seq: u64, event: Arc<Event>) {
        self.window.push(seq, event.clone(), Instant::now());
        self.stats.last.store(seq, Ordering::Release);
        match &event.body {
            Body::Progress { .. } | Body::Course { .. } => self.deliver(Some(seq), &event),
            Body::Access(access) => self.apply_access(access),
            Body::CourseRemoved(course) => self.remove_course(*course),
            Body::RightsReset => self.reset_rights(),
            Body::SessionRevoked(_) | Body::Heartbeat(_) => {}
        }
    }

    // ---- delivery --------------------------------------------------------------

    /// Sends a progress or course event to the sockets of its audience here:
    /// progress to the learner's own sockets and the course's staff, a course
    /// update to every subscriber. Sockets whose replay covered `seq` are skipped.
    fn deliver(&self, seq: Option<u64>, event: &Event) {
        let Some((name, json)) = event.emitted() else {
            return;
        };
        if let Some(at) = event.at {
            let lag = (Utc::now() - at).to_std().unwrap_or_default();
            metrics::histogram!("realtime_delivery_lag_seconds").record(lag.as_secs_f64());
        }
        let span = match &event.traceparent {
            Some(parent) => {
                let span = tracing::info_span!(
                    "socketio.deliver",
                    otel.kind = "consumer",
                    event = name,
                    messaging.system = "redis",
                    sockets = tracing::field::Empty
                );
                skillup_common::telemetry::set_remote_parent(&span, parent);
                span
            }
            None => tracing::Span::none(),
        };
        let _entered = span.enter();
        let mut targets: smallvec::SmallVec<[Sid; 8]> = smallvec::SmallVec::new();
        match &event.body {
            Body::Progress { user, course, .. } => {
                targets.extend(self.registry.of_user(*user));
                for sid in self.registry.staff_of(*course) {
                    if !targets.contains(&sid) {
                        targets.push(sid);
                    }
                }
            }
            Body::Course { course, .. } => targets.extend(self.registry.of_course(*course)),
            _ => return,
        }
        let mut delivered = 0u64;
        for sid in targets {
            let Some(conn) = self.registry.get(sid) else {
                continue;
            };
            if seq.is_some_and(|seq| seq <= conn.covered) {
                continue;
            }
            if conn.socket.emit(name, json).is_ok() {
                delivered += 1;
            } else {
                metrics::counter!("realtime_events_dropped_total", "reason" => "slow_client")
                    .increment(1);
            }
        }
        span.record("sockets", delivered);
        metrics::counter!("realtime_deliveries_total").increment(delivered);
    }

    // ---- sockets ---------------------------------------------------------------

    /// A socket the handshake admitted, before the client learns it is connected
    /// (the middleware sends it): registered at once, so no revocation or event
    /// can slip between the handshake and the connect handler, and activated when
    /// the socket is connected (see [`HubTask::activate`]).
    fn admit(&mut self, admission: Admission) {
        if matches!(self.stream, Stream::Loading { .. }) {
            self.parked.push(admission);
            return;
        }
        let Admission {
            socket,
            user,
            session,
            expires_at,
            offset,
            unverified,
        } = admission;
        let sid = socket.id;
        let left = (expires_at - Utc::now()).to_std().unwrap_or_default();
        let timer = self.timers.insert(sid, left);
        self.registry.insert(Conn {
            socket,
            user,
            session,
            timer,
            // Nothing is delivered live until it is activated.
            covered: u64::MAX,
            courses: smallvec::SmallVec::new(),
            resynced: false,
            unverified,
            pending: Some(Box::new(Pending {
                offset,
                from: self.window.last(),
                since: Instant::now(),
            })),
        });
        metrics::gauge!("realtime_connections").increment(1.0);
        if self.registry.get(sid).is_some_and(|c| c.socket.connected()) {
            self.activate(sid);
        }
    }

    /// The socket is connected: it may receive. A session revoked or expired
    /// meanwhile ends now; otherwise it gets what it missed after `auth.offset`
    /// or, without one, what came since it was admitted, then live events.
    fn activate(&mut self, sid: Sid) {
        let Some(conn) = self.registry.get_mut(sid) else {
            return;
        };
        let Some(pending) = conn.pending.take() else {
            return;
        };
        let ended = if self.revoked.contains_key(&conn.session) {
            Some(EndReason::Revoked)
        } else if self.timers.deadline(&conn.timer) <= tokio::time::Instant::now() {
            Some(EndReason::Expired)
        } else {
            None
        };
        if let Some(reason) = ended {
            self.end(sid, reason);
            return;
        }
        conn.covered = pending.from;
        match pending.offset {
            Some(offset) => {
                self.replay(sid, &offset, None);
            }
            None => {
                let user = conn.user;
                let since = self.window.user_events(user, pending.from);
                if let Some(conn) = self.registry.get_mut(sid) {
                    for (_, event) in &since {
                        if let Some((name, json)) = event.emitted() {
                            let _ = conn.socket.emit(name, json);
                        }
                    }
                    conn.covered = self.window.last();
                }
            }
        }
    }

    fn subscribe(&mut self, s: Subscription) {
        // A client subscribes once it got its CONNECT packet; the connect
        // handler's own notice may still be on its way.
        if self
            .registry
            .get(s.sid)
            .is_some_and(|c| c.pending.is_some() && c.socket.connected())
        {
            self.activate(s.sid);
        }
        let stale = !matches!(self.stream, Stream::Live)
            || self.registry.get(s.sid).is_none_or(|c| c.pending.is_some())
            || self
                .window
                .rights_changed_since(s.user, s.course, s.checked_after);
        if stale {
            let _ = s.reply.send(Subscribed::Retry);
            return;
        }
        self.registry.follow(s.sid, s.course, s.level);
        let recovered = match s.offset {
            Some(offset) => self.replay(s.sid, &offset, Some((s.course, s.level))),
            None => false,
        };
        let _ = s.reply.send(Subscribed::Ok { recovered });
    }

    /// Sends `sid` what it missed after `offset`: its own progress (`course`
    /// `None`), or one course's events at its level. Returns whether the replay
    /// was exact (else a `resync` went out, or will once the offset is known).
    fn replay(&mut self, sid: Sid, offset: &str, course: Option<(CourseId, Level)>) -> bool {
        let room = if course.is_some() { "course" } else { "user" };
        let Some(conn) = self.registry.get(sid) else {
            return false;
        };
        let user = conn.user;
        let parsed = offset.parse::<Offset>();
        let outcome = parsed
            .map_err(|_| Gap::OtherEpoch)
            .and_then(|o| self.window.check(o.epoch, o.seq).map(|()| o.seq));
        let events = match outcome {
            Ok(after) => match course {
                None => self.window.user_events(user, after),
                Some((course, level)) => {
                    let audience = match level {
                        Level::Student => Audience::Student,
                        Level::Staff => Audience::Staff { own: user },
                    };
                    self.window.course_events(course, after, audience)
                }
            },
            Err(Gap::Ahead) => {
                // The client saw more than this node has received: the events up
                // to its offset are on their way (or its offset is not ours,
                // which the next read of Postgres tells).
                let seq = parsed.map(|o| o.seq).unwrap_or_default();
                if let Some(conn) = self.registry.get_mut(sid) {
                    conn.covered = conn.covered.max(seq);
                }
                self.ahead.push((sid, seq, Instant::now()));
                self.start_fill();
                metrics::counter!("realtime_replays_total", "room" => room, "outcome" => "ahead")
                    .increment(1);
                return true;
            }
            Err(gap) => {
                let reason = match gap {
                    Gap::TooOld => ResyncReason::TooOld,
                    _ => ResyncReason::UnknownOffset,
                };
                self.resync_socket(sid, reason, room);
                return false;
            }
        };
        if events.len() > self.settings.max_replay {
            self.resync_socket(sid, ResyncReason::TooMany, room);
            return false;
        }
        let Some(conn) = self.registry.get_mut(sid) else {
            return false;
        };
        for (_, event) in &events {
            if let Some((name, json)) = event.emitted()
                && conn.socket.emit(name, json).is_err()
            {
                metrics::counter!("realtime_events_dropped_total", "reason" => "slow_client")
                    .increment(1);
            }
        }
        if course.is_none() {
            conn.covered = conn.covered.max(self.window.last());
        }
        metrics::counter!("realtime_replays_total", "room" => room, "outcome" => "recovered")
            .increment(1);
        metrics::counter!("realtime_replayed_events_total").increment(events.len() as u64);
        true
    }

    fn resync_socket(&mut self, sid: Sid, reason: ResyncReason, room: &'static str) {
        let last = self.window.last();
        if let Some(conn) = self.registry.get_mut(sid) {
            conn.covered = conn.covered.max(last);
            resync_once(conn, reason);
        }
        let outcome = match reason {
            ResyncReason::TooOld => "too_old",
            ResyncReason::TooMany => "too_many",
            ResyncReason::UnknownOffset => "unknown",
            ResyncReason::Lost => "lost",
        };
        metrics::counter!("realtime_replays_total", "room" => room, "outcome" => outcome)
            .increment(1);
    }

    fn resync_all(&mut self, reason: ResyncReason) {
        metrics::counter!("realtime_resyncs_total").increment(1);
        for conn in self.registry.conns() {
            let _ = conn.socket.emit(names::RESYNC, &Resync { reason });
        }
    }

    /// Ends `sid`'s session: `session:ended`, then the server disconnects it.
    fn end(&mut self, sid: Sid, reason: EndReason) {
        if let Some(conn) = self.registry.remove(sid) {
            self.timers.try_remove(&conn.timer);
            metrics::gauge!("realtime_connections").decrement(1.0);
            end_socket(&conn.socket, reason);
        }
    }

    fn revoke(&mut self, session: SessionKey) {
        self.revoked.insert(session, Instant::now());
        let sids: Vec<Sid> = self.registry.of_session(session).collect();
        for sid in sids {
            self.end(sid, EndReason::Revoked);
        }
    }

    // ---- rights ----------------------------------------------------------------

    fn apply_access(&mut self, access: &Access) {
        let sids: Vec<Sid> = self.registry.of_user(access.user_id).collect();
        for sid in sids {
            let Some(conn) = self.registry.get(sid) else {
                continue;
            };
            let courses: Vec<(CourseId, Level)> = conn.courses.to_vec();
            for (course, was) in courses {
                match access.level(course) {
                    Some(level) if level == was => {}
                    Some(level) => {
                        self.registry.follow(sid, course, level);
                    }
                    None => self.unsubscribe(sid, course, access.reason.as_str()),
                }
            }
        }
    }

    fn remove_course(&mut self, course: CourseId) {
        let sids: Vec<Sid> = self.registry.of_course(course).collect();
        for sid in sids {
            self.unsubscribe(sid, course, "course_deleted");
        }
    }

    /// The socket loses `course`: `course:unsubscribed`, and no event of it after.
    fn unsubscribe(&mut self, sid: Sid, course: CourseId, reason: &'static str) {
        if self.registry.unfollow(sid, course)
            && let Some(conn) = self.registry.get(sid)
        {
            let _ = conn.socket.emit(
                names::COURSE_UNSUBSCRIBED,
                &CourseUnsubscribed { course_id: course },
            );
            metrics::counter!("realtime_unsubscribed_total", "reason" => reason).increment(1);
        }
    }

    /// A table the rights come from was truncated: every subscription is
    /// checked again in one query, and delivery waits for the answer.
    fn reset_rights(&mut self) {
        let subscriptions = self.registry.subscriptions();
        if subscriptions.is_empty() {
            return;
        }
        self.paused = true;
        let db = self.db.clone();
        self.spawn(async move {
            let pairs: Vec<(UserId, CourseId)> =
                subscriptions.iter().map(|(_, u, c)| (*u, *c)).collect();
            let levels = skillup_db::access::levels(&db, &pairs).await;
            Internal::Rechecked(subscriptions, levels)
        });
    }

    fn rechecked(
        &mut self,
        subscriptions: Vec<(Sid, UserId, CourseId)>,
        levels: Result<Vec<(UserId, CourseId, Level)>, DbError>,
    ) {
        // Unreadable rights fail closed: nobody keeps a course unchecked.
        let levels = levels.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot check rights after a reset; unsubscribing");
            Vec::new()
        });
        for (sid, user, course) in subscriptions {
            match levels.iter().find(|(u, c, _)| *u == user && *c == course) {
                Some((.., level)) => {
                    self.registry.follow(sid, course, *level);
                }
                None => self.unsubscribe(sid, course, "reset"),
            }
        }
        self.paused = false;
        self.drain();
    }

    // ---- housekeeping ----------------------------------------------------------

    fn housekeeping(&mut self) {
        let now = Instant::now();
        // Admitted but never connected (its CONNECT packet could not be sent):
        // no disconnect will tell us.
        let stale: Vec<Sid> = self
            .registry
            .conns()
            .filter(|c| {
                c.pending
                    .as_ref()
                    .is_some_and(|p| now.duration_since(p.since) > ADMISSION_WAIT)
                    && !c.socket.connected()
            })
            .map(|c| c.socket.id)
            .collect();
        for sid in stale {
            if let Some(conn) = self.registry.remove(sid) {
                self.timers.try_remove(&conn.timer);
                metrics::gauge!("realtime_connections").decrement(1.0);
            }
        }
        self.window.prune(now);
        self.revoked
            .retain(|_, at| now.duration_since(*at) < REVOKED_MEMORY);
        if self.registry.conns().any(|c| c.unverified) {
            self.start_sweep();
        }
    }

    /// Checks in Redis whether the sessions whose revocation is unknown here were
    /// revoked: those whose handshake could not check (Redis was down), and
    /// every one after the subscription came back. Retried on the next tick
    /// until Redis answers.
    fn start_sweep(&mut self) {
        if self.sweeping || !self.cache.is_connected() {
            return;
        }
        let mut sessions: Vec<SessionKey> = self
            .registry
            .conns()
            .filter(|c| c.unverified)
            .map(|c| c.session)
            .collect();
        sessions.sort_unstable_by_key(SessionKey::revocation_id);
        sessions.dedup();
        if sessions.is_empty() {
            return;
        }
        self.sweeping = true;
        for conn in self.registry.conns_mut() {
            conn.unverified = false;
        }
        let cache = self.cache.clone();
        self.spawn(async move {
            let ids: Vec<String> = sessions.iter().map(SessionKey::revocation_id).collect();
            match cache.revoked_among(&ids).await {
                Ok(flags) => Internal::Swept(Ok(sessions
                    .into_iter()
                    .zip(flags)
                    .filter_map(|(s, revoked)| revoked.then_some(s))
                    .collect())),
                Err(e) => {
                    tracing::debug!(error = %e, "revocation sweep failed; retrying");
                    Internal::Swept(Err(sessions))
                }
            }
        });
    }
}

fn resync_once(conn: &mut Conn, reason: ResyncReason) {
    if !conn.resynced {
        conn.resynced = true;
        metrics::counter!("realtime_resyncs_total").increment(1);
        let _ = conn.socket.emit(names::RESYNC, &Resync { reason });
    }
}

fn end_socket(socket: &socketioxide::extract::SocketRef, reason: EndReason) {
    let _ = socket.emit(names::SESSION_ENDED, &SessionEnded { reason });
    let _ = socket.clone().disconnect();
    metrics::counter!("realtime_sessions_ended_total", "reason" => reason.as_str()).increment(1);
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
