//! The in-process near cache (L1) in front of Redis, kept coherent with Redis
//! client-side caching (RESP3 `CLIENT TRACKING`).
//!
//! How it stays coherent:
//! - The client connection tracks every key it reads: Redis pushes an
//!   `invalidate` message on that same connection when a key this process has
//!   read is modified, deleted, expired or evicted (by anyone: the invalidator,
//!   another API process, `skillupctl cache clear`, this process).
//! - Only values just read from Redis with `GET` enter L1, never the values this
//!   process stores (a fill's own `SET` pushes an invalidation for the key).
//! - A value is inserted only if no invalidation touched its key's slot between
//!   the moment before the `GET` was sent and the insert ([`Ticket`]), and the
//!   pushes already received are applied under the same lock first. Because a
//!   push for a change made after the `GET` ran arrives after the `GET`'s reply
//!   on the same connection, every change either refuses the insert or evicts it.
//! - A heartbeat (`CLIENT TRACKINGINFO`, every [`NearCache::HEARTBEAT`]) proves
//!   that the connection is alive and tracking; pushes sent before its reply have
//!   then been received. L1 answers only while the last proof is younger than
//!   `CACHE_L1_MAX_LAG_MS`: a frozen or partitioned Redis, a reconnect (tracking
//!   off until re-enabled) or a lagging push stream turns L1 off and empties it.
//! - On a Redis Cluster the same holds per primary: each connection tracks the
//!   reads routed through it, the heartbeat proves every primary, and a cluster
//!   resync (after a `MOVED`, a failover, a node joining) empties L1 (`heartbeat`).
//!
//! So an L1 answer is never older than Redis by more than the max lag, and in the
//! normal case by the push's travel time (well under a millisecond on a LAN).
//! `FLUSHALL`/`FLUSHDB` are the exception: Redis announces them with a null
//! invalidation that fred drops, so after one L1 keeps serving what it holds
//! until those keys are written again or leave L1; flush with `skillupctl cache
//! clear` (per-key `UNLINK`s) instead.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::TrackingInterface;
use fred::types::client::Invalidation;
use quick_cache::Weighter;
use quick_cache::sync::Cache as Entries;
use skillup_common::config::NearCacheConfig;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

mod heartbeat;

/// Epoch slots: an invalidation bumps its key's slot and refuses inserts of every
/// key in the slot whose `GET` was in flight meanwhile (a rare, harmless refusal).
const SLOTS: usize = 4096;

/// A value and when its Redis key expires (microseconds after `base`; `u64::MAX`:
/// no TTL). L1 honours the TTL, since nothing else would evict an expired key that
/// Redis has not reclaimed yet.
#[derive(Clone)]
struct Entry {
    value: Bytes,
    expires_at: u64,
}

/// The bytes an entry costs: key, value and the bookkeeping around them.
#[derive(Clone, Copy)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.value.len() + 96) as u64
    }
}

/// Taken before a `GET` is sent; the insert of its answer succeeds only if the
/// key's slot saw no invalidation since.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    slot: usize,
    epoch: u64,
}

pub(crate) struct NearCache {
    entries: Entries<String, Entry, ByBytes>,
    epochs: Box<[AtomicU64]>,
    hasher: RandomState,
    /// The push stream, drained under this lock by inserts, evictions and the
    /// heartbeat, so "pushes received so far" are applied before any decision.
    pushes: Mutex<Receiver<Invalidation>>,
    /// Microseconds after `base` at which the last heartbeat was sent whose reply
    /// said tracking is on (0: none since the last reset).
    proven_at: AtomicU64,
    base: Instant,
    max_lag: Duration,
    tracking: AtomicBool,
}

impl NearCache {
    /// Creates the near cache for `client` (RESP3) and starts its heartbeat task,
    /// which enables tracking and keeps it on across reconnects. The task ends when
    /// the near cache is dropped or the client quits.
    pub fn start(client: &Client, config: &NearCacheConfig) -> Arc<Self> {
        let capacity = config.capacity_bytes;
        let near = Arc::new(Self {
            // quick_cache sizes its tables from an item estimate; 4 KiB per entry
            // is about a course detail.
            entries: Entries::with_weighter(
                usize::try_from(capacity / 4096)
                    .unwrap_or(usize::MAX)
                    .max(16),
                capacity,
                ByBytes,
            ),
            epochs: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
            pushes: Mutex::new(client.invalidation_rx()),
            proven_at: AtomicU64::new(0),
            base: Instant::now(),
            max_lag: config.max_lag,
            tracking: AtomicBool::new(false),
        });
        tokio::spawn(heartbeat::maintain(Arc::downgrade(&near), client.clone()));
        near
    }

    /// The value of `key` if L1 holds it, its TTL has not run out and the last
    /// heartbeat is recent enough.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let now = self.micros_now();
        if !self.is_fresh_at(now) {
            return None;
        }
        let entry = self.entries.get(key)?;
        (entry.expires_at > now).then_some(entry.value)
    }

    /// Whether L1 may answer now.
    pub fn is_fresh(&self) -> bool {
        self.is_fresh_at(self.micros_now())
    }

    fn is_fresh_at(&self, now: u64) -> bool {
        let proven = self.proven_at.load(Ordering::Acquire);
        proven != 0 && now.saturating_sub(proven) < micros(self.max_lag)
    }

    /// Call before sending the `GET` whose answer may be inserted; `None` while
    /// tracking is off (nothing read now would be tracked).
    pub fn ticket(&self, key: &str) -> Option<Ticket> {
        if !self.tracking.load(Ordering::Acquire) {
            return None;
        }
        let slot = self.slot(key);
        Some(Ticket {
            slot,
            epoch: self.epochs[slot].load(Ordering::Acquire),
        })
    }

    /// Inserts `value`, just read from Redis with its remaining `ttl` (`None`:
    /// none), unless an invalidation may have touched `key` since `ticket` was taken.
    pub fn insert(&self, key: &str, value: Bytes, ttl: Option<Duration>, ticket: Ticket) {
        let expires_at = ttl.map_or(u64::MAX, |ttl| {
            self.micros_now().saturating_add(micros(ttl))
        });
        let mut pushes = self.lock();
        self.apply_pushes(&mut pushes);
        if self.epochs[ticket.slot].load(Ordering::Acquire) == ticket.epoch
            && self.tracking.load(Ordering::Acquire)
        {
            self.entries
                .insert(key.to_owned(), Entry { value, expires_at });
        }
    }

    /// Applies the invalidation pushes received so far.
    pub fn apply_received(&self) {
        let mut pushes = self.lock();
        self.apply_pushes(&mut pushes);
    }

    /// Drops `keys` and refuses inserts of answers read before now.
    pub fn evict<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let mut pushes = self.lock();
        self.apply_pushes(&mut pushes);
        for key in keys {
            self.evict_locked(key);
        }
    }

    /// How many bytes L1 holds (weights as counted against the capacity).
    pub fn weight(&self) -> u64 {
        self.entries.weight()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn evict_locked(&self, key: &str) {
        self.epochs[self.slot(key)].fetch_add(1, Ordering::AcqRel);
        self.entries.remove(key);
    }

    /// Empties L1 and refuses every insert whose `GET` was sent before now.
    fn reset(&self, pushes: &mut Receiver<Invalidation>) {
        self.proven_at.store(0, Ordering::Release);
        for epoch in &self.epochs {
            epoch.fetch_add(1, Ordering::AcqRel);
        }
        self.entries.clear();
        // What was queued is covered by the reset.
        *pushes = pushes.resubscribe();
    }

    fn apply_pushes(&self, pushes: &mut Receiver<Invalidation>) {
        loop {
            match pushes.try_recv() {
                Ok(invalidation) => {
                    for key in &invalidation.keys {
                        if let Some(key) = key.as_str() {
                            self.evict_locked(key);
                        }
                    }
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "near cache push stream lagged; emptying L1");
                    metrics::counter!("cache_l1_resets_total").increment(1);
                    self.reset(pushes);
                    return;
                }
                Err(TryRecvError::Closed) => {
                    self.tracking.store(false, Ordering::Release);
                    self.reset(pushes);
                    return;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Receiver<Invalidation>> {
        self.pushes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(&self, key: &str) -> usize {
        // The modulo keeps the value below SLOTS, so the cast cannot truncate.
        #[expect(clippy::cast_possible_truncation, reason = "reduced modulo SLOTS")]
        let slot = (self.hasher.hash_one(key) % SLOTS as u64) as usize;
        slot
    }

    fn micros_now(&self) -> u64 {
        micros(self.base.elapsed()).max(1)
    }

    fn turn_off(&self) {
        let mut pushes = self.lock();
        self.tracking.store(false, Ordering::Release);
        self.reset(&mut pushes);
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
