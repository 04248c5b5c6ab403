//! Reads: get, set, and cache-aside [`Cache::get_or_load`] with single flight
//! and fills refused when an invalidation raced the load.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::prelude::*;
use futures_util::FutureExt;
use futures_util::future::Either;

use super::{Cache, CacheStatus, GUARD_TTL_SECS, Lookup, millis};
use crate::CacheError;
use crate::keys::CacheKey;
use crate::scripts;

impl Cache {
    /// The stored bytes of `key`, `None` if absent. Does not touch the hit/miss counters.
    pub async fn get(&self, key: &CacheKey) -> Result<Option<Bytes>, CacheError> {
        self.call(self.inner.client.get::<Option<Bytes>, _>(key.as_str()))
            .await
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

    /// Stores `value` under `key` for `ttl`, unconditionally.
    ///
    /// Prefer [`Cache::get_or_load`] for values read from the database: its fill is
    /// refused when a write raced the read.
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
    /// A hit returns the stored bytes. On a miss, one `load` per key runs in this
    /// process however many callers miss at once (single flight); its value is
    /// stored for `ttl` only if no invalidation of `key` happened since before the
    /// load read the database (the guard generation is read first and checked
    /// atomically at set time). When Redis is unavailable the load still runs and
    /// its answer is returned with [`CacheStatus::Bypass`].
    ///
    /// A loader answer of `None` (nothing to show) is returned and not stored.
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
        if let Some(value) = self.inner.near.as_deref().and_then(|n| n.get(key.as_str())) {
            self.inner.counters.near_hit();
            return Either::Left(std::future::ready(Ok(Lookup {
                value: Some(value),
                status: CacheStatus::Hit,
            })));
        }
        Either::Right(Box::pin(self.get_or_load_remote(key, ttl, load)))
    }

    async fn get_or_load_remote<F, Fut, E>(
        &self,
        key: &CacheKey,
        ttl: Duration,
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
        let redis_up = match read {
            Ok(Some(value)) => {
                self.inner.counters.hit();
                return Ok(Lookup {
                    value: Some(value),
                    status: CacheStatus::Hit,
                });
            }
            Ok(None) => {
                self.inner.counters.miss();
                true
            }
            Err(_) => false,
        };
        let flight = self.inner.flights.join_or_start(key.as_str(), |id| {
            let this = self.clone();
            let key = key.clone();
            let loading = load();
            async move {
                let result = this.load_and_fill(&key, ttl, redis_up, loading).await;
                this.inner.flights.land(key.as_str(), id);
                result
            }
            .boxed()
        });
        flight.await
    }

    async fn load_and_fill<Fut, E>(
        &self,
        key: &CacheKey,
        ttl: Duration,
        redis_up: bool,
        loading: Fut,
    ) -> Result<Lookup, Arc<E>>
    where
        Fut: Future<Output = Result<Option<Bytes>, E>>,
    {
        // The generation must be read before the database is.
        let generation = if redis_up {
            self.read_generation(key).await.ok()
        } else {
            None
        };
        metrics::counter!("cache_loads_total").increment(1);
        let value = loading.await.map_err(Arc::new)?;
        let status = match (&value, generation) {
            (Some(bytes), Some(_)) if !self.inner.guard_fills => {
                match self.set(key, bytes.clone(), ttl).await {
                    Ok(()) => CacheStatus::Miss,
                    Err(_) => CacheStatus::Bypass,
                }
            }
            (Some(bytes), Some(generation)) => {
                let (guard, index) = (key.guard(), key.index());
                let names: Vec<&str> = [key.as_str(), guard.as_str()]
                    .into_iter()
                    .chain(index.as_deref())
                    .collect();
                let stored = self
                    .call(scripts::FILL.evalsha_with_reload::<i64, _, _>(
                        &self.inner.client,
                        names,
                        vec![
                            generation.into_bytes().into(),
                            bytes.clone(),
                            Bytes::from(millis(ttl).to_string()),
                        ],
                    ))
                    .await;
                match stored {
                    Ok(0) => {
                        metrics::counter!("cache_fills_refused_total").increment(1);
                        CacheStatus::Miss
                    }
                    Ok(_) => CacheStatus::Miss,
                    Err(_) => CacheStatus::Bypass,
                }
            }
            (None, Some(_)) => CacheStatus::Miss,
            (_, None) => CacheStatus::Bypass,
        };
        Ok(Lookup { value, status })
    }

    /// The generation of `key`'s guard ("" = none yet), read before a load reads
    /// the database; a guard that invalidations find with `SCAN` is created first.
    async fn read_generation(&self, key: &CacheKey) -> Result<String, CacheError> {
        if key.guard_must_exist() {
            return self
                .call(scripts::ENSURE_GUARD.evalsha_with_reload::<String, _, _>(
                    &self.inner.client,
                    vec![key.guard()],
                    vec![GUARD_TTL_SECS.to_string()],
                ))
                .await;
        }
        self.call(self.inner.client.get::<Option<String>, _>(key.guard()))
            .await
            .map(Option::unwrap_or_default)
    }
}
