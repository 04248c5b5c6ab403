//! The hub: one task per node that owns every socket's rights, the replay
//! window and delivery, so that joining a room, replaying what a socket missed
//! and delivering the next live event happen in one order, with no gap and no
//! repeat at the seam.
//!
//! Everything that touches a socket's view goes through its [`Command`] queue:
//! events from the relay, sockets connecting, subscribing, leaving, and the
//! results of the hub's own slow work (loading the window from Postgres,
//! reading a gap, checking revocations in Redis), which it runs in spawned
//! tasks so delivery never waits on a round trip it does not need.
//!
//! - [`window`]: the recent events, indexed per user and per course.
//! - [`registry`]: the sockets, their session, their courses and levels.
//! - [`task`]: the state machine.
//!
//! Design notes: docs/realtime.md.

pub mod registry;
mod task;
pub mod window;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use skillup_cache::Cache;
use skillup_common::config::ReplayConfig;
use skillup_common::{CourseId, UserId};
use skillup_db::PgPool;
use skillup_events::Level;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio::sync::{mpsc, oneshot};

use crate::event::Event;
pub use registry::SessionKey;

/// Commands a hub queues before it lags: events and socket lifecycle alike.
const QUEUE: usize = 65_536;

/// A socket the handshake admitted.
pub struct Admission {
    pub socket: SocketRef,
    pub user: UserId,
    pub session: SessionKey,
    /// The token's `exp`: the socket's session ends then.
    pub expires_at: DateTime<Utc>,
    /// `auth.offset`, as the client sent it.
    pub offset: Option<String>,
    /// The handshake could not check the revocation (Redis unavailable): it is
    /// checked once Redis answers.
    pub unverified: bool,
}

/// `course:subscribe` after its rights check.
pub struct Subscription {
    pub sid: Sid,
    pub user: UserId,
    pub course: CourseId,
    pub level: Level,
    /// The hub's last offset read before the check: a rights change after it
    /// may not be reflected, and the check is run again.
    pub checked_after: u64,
    pub offset: Option<String>,
    pub reply: oneshot::Sender<Subscribed>,
}

/// The hub's answer to a [`Subscription`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// Following; `recovered` says whether the offset given was replayed
    /// (false without one, or when a `resync` was sent instead).
    Ok { recovered: bool },
    /// The rights may have changed during the check, or the node is still
    /// loading, or the socket is not registered yet: check again.
    Retry,
}

pub enum Command {
    /// A message from Redis.
    Event(Box<Event>),
    /// The Redis subscription was restored: catch up from Postgres and check
    /// every session's revocation.
    Resubscribed,
    /// The relay lost messages: catch up from Postgres.
    Lagged,
    /// From the handshake middleware, before the client is told it is connected.
    Admit(Box<Admission>),
    /// From the connect handler: the socket may receive.
    Connected {
        sid: Sid,
    },
    Subscribe(Box<Subscription>),
    Unsubscribe {
        sid: Sid,
        course: CourseId,
    },
    Disconnect {
        sid: Sid,
    },
}

/// What `/health` and `/metrics` read of the hub.
#[derive(Default)]
pub struct HubStats {
    /// The last offset delivered (everything up to it, in order).
    pub last: AtomicU64,
    pub sockets: AtomicUsize,
    pub rooms: AtomicUsize,
    pub window: AtomicUsize,
}

/// A node's handle on its hub: cheap to clone.
#[derive(Clone)]
pub struct Hub {
    tx: mpsc::Sender<Command>,
    stats: Arc<HubStats>,
}

/// What a hub needs besides its commands.
pub struct HubSettings {
    pub replay: ReplayConfig,
    /// The most events one socket is sent at once on replay (its buffer less a
    /// margin); a longer replay is a `resync`.
    pub max_replay: usize,
}

impl Hub {
    /// Starts the hub task; it loads the window from Postgres, then runs until
    /// every handle is dropped.
    pub fn start(
        db: PgPool,
        cache: Cache,
        settings: HubSettings,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(HubStats::default());
        let task = task::HubTask::new(db, cache, settings, stats.clone(), tx.downgrade());
        let handle = tokio::spawn(task.run(rx));
        (Self { tx, stats }, handle)
    }

    /// Queues `command`; waits when the queue is full (the relay then falls
    /// behind fred's channel, which it reports as a lag).
    pub async fn send(&self, command: Command) {
        if self.tx.send(command).await.is_err() {
            tracing::debug!("hub stopped; command dropped");
        }
    }

    /// Queues `command` without waiting (socket lifecycle from sync handlers).
    pub fn try_send(&self, command: Command) {
        if let Err(e) = self.tx.try_send(command) {
            tracing::warn!(error = %e, "hub queue full; command dropped");
        }
    }

    pub fn stats(&self) -> &HubStats {
        &self.stats
    }

    /// The last offset the hub delivered.
    pub fn last(&self) -> u64 {
        self.stats.last.load(Ordering::Acquire)
    }
}
