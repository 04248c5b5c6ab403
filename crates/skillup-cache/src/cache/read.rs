//! Reads: get, set, and cache-aside [`Cache::get_or_load`]: an L1 or Redis hit
//! of a fresh entry, else one load (see `load.rs`), else the last value as STALE
//! while the database fails.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::prelude::*;
use futures_util::FutureExt;
use futures_util::future::Either;

use super::{Cache, CacheStatus, Lookup, millis};
use crate::CacheError;
use crate::envelope::{Envelope, now_ms};
use crate::keys::CacheKey;

/// How long a request with a last value in hand waits for a load before it
/// answers STALE (FusionCache's "factory soft timeout"). The load goes on in the
/// background and fills the entry if the database answers. A healthy load takes
/// milliseconds; a pool waiting for a Postgres that is down takes
/// `DATABASE_ACQUIRE_TIMEOUT_MS` to give up.
const STALE_AFTER: Duration = Duration::from_millis(500);

/// What to do with a loader's answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fill {
    /// The entry's TTL, before the spread.
    pub ttl: Duration,
    /// Whether "nothing found" is stored too (a cached 404), for [`ABSENCE_TTL`] at most.
    pub absence: bool,
}

/// The longest a recorded absence is kept. The outbox deletes it as soon as the
/// row appears; the cap bounds what a flood of made-up ids can store.
pub(super) const ABSENCE_TTL: Duration = Duration::from_secs(60);

/// An expired entry read on the way to a load, kept to answer STALE.
struct Stale {
    entry: Envelope,
    /// The stored header (fill time and tag): what Redis must still hold for
    /// the entry to be served, i.e. no invalidation deleted it meanwhile.
    header: Bytes,
}

impl Cache {
    /// The stored bytes of `key`, `None` if absent. Does not touch the hit/miss counters.
    pub async fn get(&self, key: &CacheKey) -> Result<Option<Bytes>, CacheError> {
        self.call(self.inner.client.get::<Option<Bytes>, _>(key.as_str()))
            .await
    }

    /// The entry stored under `key`, fresh or expired, as [`Cache::get_or_load`]
    /// reads it (a raw value of [`Cache::set`] included); `None` if absent.
    pub async fn stored(&self, key: &CacheKey) -> Result<Option<Envelope>, CacheError> {
        Ok(self.get(key).await?.map(Envelope::read))
    }

    /// The stored bytes of `key` and their remaining TTL (`None`: no expiry), in
    /// one round trip.
    async fn get_with_ttl(
        &self,
        key: &CacheKey,
    ) -> Result<Option<(Bytes, Option<Duration>)>, CacheError> {
        let (value, pttl): (Option<Bytes>, i64) = self
            .call(async {
                let pipeline = self.inner.client.pipeline();
                let () = pipeline.get(key.as_str()).await?;
                let () = pipeline.pttl(key.as_str()).await?;
                pipeline.all().await
            })
            .await?;
        let ttl = u64::try_from(pttl).ok().map(Duration::from_millis);
        Ok(value.map(|v| (v, ttl)))
    }

    /// Stores `value` under `key` for `ttl`, unconditionally and as is.
    ///
    /// Prefer [`Cache::get_or_load`] for values read from the database: its fill is
    /// refused when a write raced the read, and it stores the entry with its
    /// freshness and tag. `get_or_load` answers a value stored here as a hit
    /// until it expires, and never as STALE.
    pub async fn set(&self, key: &CacheKey, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        let expire = Some(Expiration::PX(millis(ttl)));
        self.call(
            self.inner
                .client
                .set::<(), _, _>(key.as_str(), value, expire, None, false),
        )
        .await
    }

    /// Cache-aside read of `key`.
    ///
    /// - A fresh entry (L1 or Redis) is a hit.
    /// - Otherwise one `load` per key runs in this process however many callers
    ///   miss at once (single flight), and one across processes (a lease in Redis:
    ///   the others wait, bounded, for its fill). Its value is stored for a TTL
    ///   spread over [0.9 × `ttl`, `ttl`], only if no invalidation of `key`
    ///   happened since before the load read the database (generation check).
    /// - A load that fails, or takes longer than [`STALE_AFTER`], while an
    ///   expired entry that no invalidation removed is at hand, answers that entry
    ///   with [`CacheStatus::Stale`] (up to `CACHE_STALE_SECS` past its expiry).
    /// - When Redis is unavailable the load still runs and its answer is returned
    ///   with [`CacheStatus::Bypass`].
    ///
    /// A loader answer of `None` (nothing to show) is returned and not stored;
    /// see [`Cache::get_or_load_caching_absence`].
    ///
    /// An L1 hit is answered synchronously (a ready future); only the Redis and
    /// database path builds and boxes the bigger future.
    pub fn get_or_load<'a, F, Fut, E>(
        &'a self,
        key: &'a CacheKey,
        ttl: Duration,
        load: F,
    ) -> impl Future<Output = Result<Lookup, Arc<E>>> + 'a
    where
        F: FnOnce() -> Fut + 'a,
        Fut: Future<Output = Result<Option<Bytes>, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        self.lookup(
            key,
            Fill {
                ttl,
                absence: false,
            },
            load,
        )
    }

    /// [`Cache::get_or_load`], storing a loader's `None` too, for at most a
    /// minute: repeated lookups of something that does not exist are hits
    /// (`value: None`) until an invalidation of `key` says it may now exist.
    pub fn get_or_load_caching_absence<'a, F, Fut, E>(
        &'a self,
        key: &'a CacheKey,
        ttl: Duration,
        load: F,
    ) -> impl Future<Output = Result<Lookup, Arc<E>>> + 'a
    where
        F: FnOnce() -> Fut + 'a,
        Fut: Future<Output = Result<Option<Bytes>, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        self.lookup(key, Fill { ttl, absence: true }, load)
    }

    fn lookup<'a, F, Fut, E>(
        &'a self,
        key: &'a CacheKey,
        fill: Fill,
        load: F,
    ) -> impl Future<Output = Result<Lookup, Arc<E>>> + 'a
    where
        F: FnOnce() -> Fut + 'a,
        Fut: Future<Output = Result<Option<Bytes>, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        let near = self.inner.near.as_deref();
        if let Some(entry) = near
            .and_then(|n| n.get(key.as_str()))
            .map(Envelope::read)
            .filter(Envelope::is_fresh)
        {
            self.inner.counters.near_hit();
            return Either::Left(std::future::ready(Ok(Lookup::of(entry, CacheStatus::Hit))));
        }
        Either::Right(Box::pin(self.get_or_load_remote(key, fill, load)))
    }

    async fn get_or_load_remote<F, Fut, E>(
        &self,
        key: &CacheKey,
        fill: Fill,
        load: F,
    ) -> Result<Lookup, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        let near = self.inner.near.as_deref();
        let ticket = near.and_then(|n| n.ticket(key.as_str()));
        let read = match (near, ticket) {
            (Some(near), Some(ticket)) => self.get_with_ttl(key).await.map(|found| {
                found.map(|(value, ttl)| {
                    near.insert(key.as_str(), value.clone(), ttl, ticket);
                    value
                })
            }),
            _ => self.get(key).await,
        };
        let (redis_up, stale) = match read {
            Ok(Some(stored)) => {
                let entry = Envelope::read(stored.clone());
                if entry.is_fresh() {
                    self.inner.counters.hit();
                    return Ok(Lookup::of(entry, CacheStatus::Hit));
                }
                self.inner.counters.miss();
                (true, self.servable_when_stale(entry, &stored))
            }
            Ok(None) => {
                self.inner.counters.miss();
                (true, None)
            }
            Err(_) => (false, None),
        };
        let flight = self.inner.flights.join_or_start(key.as_str(), |id| {
            let this = self.clone();
            let key = key.clone();
            let loading = load();
            async move {
                let result = this.load_and_fill(&key, fill, redis_up, loading).await;
                this.inner.flights.land(key.as_str(), id);
                result
            }
            .boxed()
        });
        let Some(stale) = stale else {
            return flight.await;
        };
        match tokio::time::timeout(STALE_AFTER, flight.clone()).await {
            Ok(Ok(lookup)) => Ok(lookup),
            Ok(Err(error)) => self.answer_stale(key, stale).await.ok_or(error),
            Err(_) => {
                // The load goes on without us and fills the entry if it can.
                tokio::spawn(flight.clone());
                match self.answer_stale(key, stale).await {
                    Some(lookup) => Ok(lookup),
                    None => flight.await,
                }
            }
        }
    }

    /// The expired `entry` (stored as `stored`), if it may still answer STALE: a
    /// value, not an absence, within this process's stale window.
    fn servable_when_stale(&self, entry: Envelope, stored: &Bytes) -> Option<Stale> {
        let window = u64::try_from(self.inner.stale_window.as_millis()).unwrap_or(u64::MAX);
        (entry.body.is_some() && now_ms() < entry.fresh_until.saturating_add(window)).then(|| {
            Stale {
                header: stored.slice(..entry.header_len()),
                entry,
            }
        })
    }

    /// `stale` as a STALE answer, if Redis still holds that very entry: an
    /// invalidation deletes the entry, and an invalidated value is never served.
    /// If Redis cannot say, nothing is served stale.
    async fn answer_stale(&self, key: &CacheKey, stale: Stale) -> Option<Lookup> {
        let end = stale.header.len().checked_sub(1)?;
        let header: Bytes = self
            .call(self.inner.client.getrange(key.as_str(), 0, end))
            .await
            .ok()?;
        if header != stale.header {
            return None;
        }
        self.inner.counters.stale();
        Some(Lookup::of(stale.entry, CacheStatus::Stale))
    }
}

impl Lookup {
    pub(super) fn of(entry: Envelope, status: CacheStatus) -> Self {
        let etag = entry.body.is_some().then_some(entry.etag);
        Self {
            value: entry.body,
            etag,
            status,
        }
    }
}
