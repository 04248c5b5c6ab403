//! The cache operations. Read paths never fail because of Redis: they report
//! [`CacheStatus::Bypass`] and let the caller serve the database answer.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::prelude::*;
use fred::types::scan::Scanner;
use futures_util::future::Either;
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use skillup_common::config::{NearCacheConfig, RedisConfig};

use crate::CacheError;
use crate::flight::Flights;
use crate::keys::{CacheKey, Keys};
use crate::near::NearCache;
use crate::scripts;
use crate::stats::{CacheCounters, Counters, RedisInfo};

/// How long a generation key outlives its last bump. It must exceed the longest
/// load; a guard that expired only ever makes a fill fail, never succeed wrongly.
const GUARD_TTL_SECS: u64 = 24 * 3600;
/// Keys per `SCAN` page and per `UNLINK` batch in [`Cache::delete_pattern`].
const SCAN_BATCH: u32 = 1000;
/// On a cluster, how many single-slot calls (scripts, `UNLINK`s) one operation
/// keeps in flight at once: each goes to its slot's primary, fred pipelines them.
const CLUSTER_CALLS_IN_FLIGHT: usize = 64;

/// Where an answer came from; sent to clients as `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CacheStatus {
    /// Served from Redis.
    Hit,
    /// Loaded from the database, Redis up (and filled, unless a write raced the load).
    Miss,
    /// Redis unavailable or too slow: loaded from the database, nothing stored.
    Bypass,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Bypass => "BYPASS",
        }
    }
}

/// The answer of [`Cache::get_or_load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The serialized value, or `None` when the loader found nothing.
    pub value: Option<Bytes>,
    pub status: CacheStatus,
}

/// The process's cache handle: cheap to clone, one fred client underneath.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    keys: Keys,
    default_ttl: Duration,
    course_ttl: Duration,
    user_ttl: Duration,
    timeout: Duration,
    counters: Counters,
    flights: Flights,
    /// Whether fills check the guard generation. Only tests that prove the check
    /// matters turn it off.
    guard_fills: bool,
    /// The in-process near cache (L1), when configured (see [`crate::near`]).
    near: Option<Arc<NearCache>>,
}

impl Cache {
    /// Connects (see [`crate::client::connect`]: returns even while Redis is down).
    pub async fn connect(cfg: &RedisConfig) -> Result<Self, CacheError> {
        Ok(Self::new(crate::client::connect(cfg).await?, cfg))
    }

    /// Connects with an in-process near cache (L1) in front of Redis, when `near`
    /// enables one and Redis is not a cluster (there L1 stays off: see docs/cache.md,
    /// "On a Redis Cluster").
    /// The client speaks RESP3, which client tracking needs.
    pub async fn connect_with_near_cache(
        cfg: &RedisConfig,
        near: &NearCacheConfig,
    ) -> Result<Self, CacheError> {
        if !near.is_enabled() {
            return Self::connect(cfg).await;
        }
        let client = crate::client::connect_tracking(cfg).await?;
        Ok(Self::with_near_cache(client, cfg, near))
    }

    /// Wraps `client` (built by [`crate::client::tracking_builder`]) with an L1 of
    /// `near`'s size; a client that cannot track (RESP2, cluster) gets none.
    pub fn with_near_cache(client: Client, cfg: &RedisConfig, near: &NearCacheConfig) -> Self {
        let l1 = (near.is_enabled()
            && client.protocol_version() == fred::types::RespVersion::RESP3
            && !client.is_clustered())
        .then(|| NearCache::start(&client, near));
        if near.is_enabled() && l1.is_none() {
            tracing::warn!("near cache needs a RESP3, non-cluster client: L1 stays off");
        }
        Self::build(client, cfg, true, l1)
    }

    /// Wraps an already built client.
    pub fn new(client: Client, cfg: &RedisConfig) -> Self {
        Self::with_fill_guard(client, cfg, true)
    }

    /// Like [`Cache::new`], choosing whether fills check the guard generation.
    ///
    /// `guard_fills = false` brings back the stale-set race (a load that read the
    /// database before a write may store its old value after the write's
    /// invalidation); it exists so a test can show the race is real.
    #[doc(hidden)]
    pub fn with_fill_guard(client: Client, cfg: &RedisConfig, guard_fills: bool) -> Self {
        Self::build(client, cfg, guard_fills, None)
    }

    fn build(
        client: Client,
        cfg: &RedisConfig,
        guard_fills: bool,
        near: Option<Arc<NearCache>>,
    ) -> Self {
        let keys = Keys::new(cfg.key_prefix.clone()).on_cluster(client.is_clustered());
        Self {
            inner: Arc::new(Inner {
                client,
                keys,
                default_ttl: cfg.default_ttl,
                course_ttl: cfg.course_ttl,
                user_ttl: cfg.user_ttl,
                timeout: cfg.command_timeout,
                counters: Counters::default(),
                flights: Flights::default(),
                guard_fills,
                near,
            }),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// `REDIS_DEFAULT_TTL`
    pub fn default_ttl(&self) -> Duration {
        self.inner.default_ttl
    }

    /// `REDIS_COURSE_TTL`: course details and listing pages.
    pub fn course_ttl(&self) -> Duration {
        self.inner.course_ttl
    }

    /// `REDIS_USER_TTL`: user snapshots.
    pub fn user_ttl(&self) -> Duration {
        self.inner.user_ttl
    }

    /// The underlying client, for publishing and other commands this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    pub fn is_connected(&self) -> bool {
        self.inner.client.is_connected()
    }

    pub fn counters(&self) -> CacheCounters {
        self.inner.counters.snapshot()
    }

    /// Whether this cache has an L1 and it may answer now (Redis proven reachable
    /// and tracking within the max lag).
    pub fn near_cache_ready(&self) -> bool {
        self.inner.near.as_ref().is_some_and(|n| n.is_fresh())
    }

    /// Entries and bytes held by the L1 (zeros without one).
    pub fn near_cache_size(&self) -> (usize, u64) {
        self.inner
            .near
            .as_ref()
            .map_or((0, 0), |n| (n.len(), n.weight()))
    }

    /// Runs one Redis call: refused at once when disconnected, bounded by
    /// `REDIS_COMMAND_TIMEOUT_MS`, failures counted as cache errors.
    async fn call<T>(
        &self,
        op: impl Future<Output = Result<T, fred::error::Error>>,
    ) -> Result<T, CacheError> {
        let result = if self.inner.client.is_connected() {
            match tokio::time::timeout(self.inner.timeout, op).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => CacheError::Redis(e),
                Err(_) => CacheError::Timeout(self.inner.timeout),
            }
        } else {
            CacheError::NotConnected
        };
        self.inner.counters.error();
        tracing::debug!(error = %result, "redis call failed");
        Err(result)
    }

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

    /// Deletes `keys` and bumps their generations, so no load that started before
    /// this call can store an old value afterwards. Loads in flight in this process
    /// are detached: later callers start fresh ones (read-your-writes).
    pub async fn invalidate(&self, keys: &[CacheKey]) -> Result<u64, CacheError> {
        for key in keys {
            self.inner.flights.detach(key.as_str());
        }
        if keys.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = keys.iter().map(CacheKey::as_str).collect();
        self.evicting(&names, self.invalidate_in_redis(keys)).await
    }

    fn evict_near<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        if let Some(near) = &self.inner.near {
            near.evict(keys);
        }
    }

    /// Runs `delete`, a Redis call removing `keys`, with `keys` evicted from L1
    /// before it and again once Redis confirmed: an answer read just before the
    /// delete may have entered L1 while it ran (its push is applied then too).
    async fn evicting<T>(&self, keys: &[&str], delete: impl Future<Output = T>) -> T {
        self.evict_near(keys.iter().copied());
        let result = delete.await;
        self.evict_near(keys.iter().copied());
        result
    }

    async fn invalidate_in_redis(&self, keys: &[CacheKey]) -> Result<u64, CacheError> {
        if self.inner.client.is_clustered() {
            // A script's keys must share a slot: one call per entry and its guard.
            return self
                .invalidate_each(keys.iter().map(|k| (k.as_str().to_owned(), k.guard())))
                .await;
        }
        let ttl = GUARD_TTL_SECS.to_string();
        let names: Vec<String> = keys
            .iter()
            .flat_map(|k| [k.as_str().to_owned(), k.guard()])
            .collect();
        self.call(scripts::INVALIDATE.evalsha_with_reload::<u64, _, _>(
            &self.inner.client,
            names,
            vec![ttl],
        ))
        .await
    }

    /// Runs the `INVALIDATE` script once per `(entry, guard)` pair, several at a
    /// time: on a cluster each pair is one slot, and different pairs may not share
    /// a script. Returns the number of entries deleted.
    async fn invalidate_each(
        &self,
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<u64, CacheError> {
        let ttl = GUARD_TTL_SECS.to_string();
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        sum_in_chunks(&pairs, |(entry, guard)| {
            self.call(scripts::INVALIDATE.evalsha_with_reload::<u64, _, _>(
                &self.inner.client,
                vec![entry.as_str(), guard.as_str()],
                vec![ttl.as_str()],
            ))
        })
        .await
    }

    /// Invalidates every listing page, so no load that read the database before
    /// this call can store its old page afterwards. Returns how many pages were
    /// deleted.
    ///
    /// On a single Redis: one script bumps the pages' shared generation and
    /// deletes the pages registered in their index set.
    ///
    /// On a cluster, where no script may name keys of several slots, each page has
    /// its own guard (see [`crate::keys`]), created by its loader before the
    /// loader reads the database. One `SCAN` of every primary finds the pages and
    /// their guards, and each page is invalidated with its guard in one script.
    /// A loader that read the database before the write this call follows made
    /// its guard before that read, with a 24 h TTL, so the guard exists for the
    /// whole scan, which `SCAN` guarantees to return: it is bumped and the
    /// loader's fill refused. The cost is a scan of the whole keyspace of every
    /// primary per call (the index set's cost on a single Redis is the number of
    /// pages); a resharding during the scan may hide keys from it.
    pub async fn invalidate_course_pages(&self) -> Result<u64, CacheError> {
        let keys = &self.inner.keys;
        self.inner
            .flights
            .detach_prefix(&keys.courses_pages_pattern().replace('*', ""));
        if self.inner.client.is_clustered() {
            return self.invalidate_course_pages_on_cluster().await;
        }
        let guard = keys.courses_pages_guard();
        let deleted: Vec<String> = self
            .call(scripts::INVALIDATE_FAMILY.evalsha_with_reload(
                &self.inner.client,
                vec![guard, keys.courses_pages_index()],
                vec![GUARD_TTL_SECS.to_string()],
            ))
            .await?;
        // Pages this process read were tracked: their pushes are applied here too.
        self.evict_near(deleted.iter().map(String::as_str));
        Ok(deleted.len() as u64)
    }

    /// The cluster path of [`Cache::invalidate_course_pages`].
    async fn invalidate_course_pages_on_cluster(&self) -> Result<u64, CacheError> {
        let keys = &self.inner.keys;
        let page_prefix = keys.courses_pages_pattern().replace('*', "");
        // One scan for pages and guards alike. The glob also matches names under
        // a longer prefix (`<prefix>x:courses:published:…`): only exact page
        // names and page guards are kept below, so another prefix is never touched.
        let pattern = format!("{}*courses:published:*", keys.prefix());
        let mut seen = std::collections::HashSet::new();
        let mut deleted = 0;
        let mut pages = self.scan_pages(&pattern);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(|e| {
                self.inner.counters.error();
                CacheError::Redis(e)
            })?;
            let found = page.take_results().unwrap_or_default();
            let fresh: Vec<String> = found
                .iter()
                .filter_map(|name| {
                    let name = name.as_str()?;
                    if name.starts_with(&page_prefix) {
                        Some(name)
                    } else {
                        keys.courses_page_of_guard(name)
                    }
                })
                .filter(|page| seen.insert((*page).to_owned()))
                .map(str::to_owned)
                .collect();
            deleted += self
                .invalidate_each(fresh.into_iter().map(|page| {
                    let guard = keys.own_guard(&page);
                    (page, guard)
                }))
                .await?;
            page.next();
        }
        Ok(deleted)
    }

    /// Deletes one key (no generation bump). Returns whether it existed.
    pub async fn delete(&self, key: &CacheKey) -> Result<bool, CacheError> {
        self.inner.flights.detach(key.as_str());
        let n: u64 = self
            .evicting(
                &[key.as_str()],
                self.call(self.inner.client.unlink(key.as_str())),
            )
            .await?;
        Ok(n > 0)
    }

    /// Deletes every key matching `pattern` with `SCAN` + `UNLINK` in batches
    /// (never `KEYS`), on every primary of a cluster. Returns how many were deleted.
    ///
    /// `pattern` is a full pattern; build it with [`Keys::scoped_pattern`] or the
    /// `*_pattern` methods so it cannot leave the prefix.
    pub async fn delete_pattern(&self, pattern: &str) -> Result<u64, CacheError> {
        let mut deleted = 0;
        let mut pages = self.scan_pages(pattern);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(|e| {
                self.inner.counters.error();
                CacheError::Redis(e)
            })?;
            if let Some(keys) = page.take_results().filter(|k| !k.is_empty()) {
                let names: Vec<String> =
                    keys.iter().map(|k| k.as_str_lossy().into_owned()).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                deleted += self.evicting(&names, self.unlink_all(keys)).await?;
            }
            page.next();
        }
        Ok(deleted)
    }

    /// `UNLINK`s `keys`: in one call on a single Redis; on a cluster in one call per
    /// hash slot (a multi-key command must stay in one slot, and the keys of one
    /// primary's `SCAN` page spread over its slots).
    async fn unlink_all(&self, keys: Vec<fred::types::Key>) -> Result<u64, CacheError> {
        let client = &self.inner.client;
        if !client.is_clustered() {
            return self.call(client.unlink::<u64, _>(keys)).await;
        }
        let by_slot: Vec<Vec<fred::types::Key>> = fred::util::group_by_hash_slot(keys)
            .map_err(CacheError::Redis)?
            .into_values()
            .map(Vec::from)
            .collect();
        sum_in_chunks(&by_slot, |slot_keys| {
            self.call(client.unlink::<u64, _>(slot_keys.clone()))
        })
        .await
    }

    /// Up to `limit` keys matching `pattern` (a full pattern, see [`Cache::delete_pattern`]).
    pub async fn scan_keys(&self, pattern: &str, limit: usize) -> Result<Vec<String>, CacheError> {
        let mut found = Vec::new();
        let mut pages = self.scan_pages(pattern);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(CacheError::Redis)?;
            for key in page.take_results().unwrap_or_default() {
                if found.len() >= limit {
                    return Ok(found);
                }
                found.push(key.as_str_lossy().into_owned());
            }
            page.next();
        }
        Ok(found)
    }

    fn scan_pages(
        &self,
        pattern: &str,
    ) -> futures_util::stream::BoxStream<
        'static,
        Result<fred::types::scan::ScanResult, fred::error::Error>,
    > {
        let client = &self.inner.client;
        if client.is_clustered() {
            client
                .scan_cluster(pattern.to_owned(), Some(SCAN_BATCH), None)
                .boxed()
        } else {
            client
                .scan(pattern.to_owned(), Some(SCAN_BATCH), None)
                .boxed()
        }
    }

    /// Round-trip time of a `PING`.
    pub async fn ping(&self) -> Result<Duration, CacheError> {
        let start = Instant::now();
        self.call(self.inner.client.ping::<String>(None)).await?;
        Ok(start.elapsed())
    }

    /// The server figures of `INFO`; on a cluster, the totals of every primary
    /// (see [`RedisInfo::total`]).
    pub async fn info(&self) -> Result<RedisInfo, CacheError> {
        let nodes = self.info_by_node().await?;
        Ok(RedisInfo::total(nodes.iter().map(|(_, info)| info)))
    }

    /// The `INFO` figures of each server: the one Redis (named by `REDIS_URL`'s
    /// host and port), or every primary of a cluster (as `host:port`).
    pub async fn info_by_node(&self) -> Result<Vec<(String, RedisInfo)>, CacheError> {
        let client = &self.inner.client;
        if !client.is_clustered() {
            let info: String = self.call(client.info(None)).await?;
            let server = client
                .active_connections()
                .first()
                .map_or_else(String::new, ToString::to_string);
            return Ok(vec![(server, RedisInfo::parse(&info))]);
        }
        let primaries = client
            .cached_cluster_state()
            .map(|state| state.unique_primary_nodes())
            .unwrap_or_default();
        if primaries.is_empty() {
            self.inner.counters.error();
            return Err(CacheError::NotConnected);
        }
        let mut nodes = Vec::with_capacity(primaries.len());
        for server in primaries {
            let info: String = self
                .call(client.with_cluster_node(server.clone()).info(None))
                .await?;
            nodes.push((server.to_string(), RedisInfo::parse(&info)));
        }
        Ok(nodes)
    }

    /// Publishes `payload` on `channel`; returns how many subscribers got it.
    pub async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64, CacheError> {
        self.call(self.inner.client.publish(channel, payload)).await
    }

    /// Closes the connection cleanly (`QUIT`), waiting at most `grace`.
    pub async fn quit(&self, grace: Duration) {
        if tokio::time::timeout(grace, self.inner.client.quit())
            .await
            .is_err()
        {
            tracing::warn!("redis QUIT did not finish in {grace:?}");
        }
    }
}

/// Runs `call` on every item, [`CLUSTER_CALLS_IN_FLIGHT`] at a time, and sums
/// the answers (keys deleted). Chunks are joined one after another rather than
/// through a `buffer_unordered` stream: a stream holding a closure that borrows
/// the cache across an await makes callers' futures fail `tokio::spawn`'s `Send`
/// check.
async fn sum_in_chunks<'a, T, F, Fut>(items: &'a [T], call: F) -> Result<u64, CacheError>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = Result<u64, CacheError>>,
{
    let mut total = 0;
    for chunk in items.chunks(CLUSTER_CALLS_IN_FLIGHT) {
        total += futures_util::future::try_join_all(chunk.iter().map(&call))
            .await?
            .into_iter()
            .sum::<u64>();
    }
    Ok(total)
}

fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl Cache {
    /// Whether logout revoked the session `revocation_id` (see
    /// `skillup_common::auth::Claims::revocation_id`). An error means Redis could not
    /// answer; the caller decides whether to fail open or closed.
    pub async fn is_revoked(&self, revocation_id: &str) -> Result<bool, CacheError> {
        let key = self.inner.keys.session_revoked(revocation_id);
        let n: u64 = self.call(self.inner.client.exists(key)).await?;
        Ok(n > 0)
    }

    /// Marks the session `revocation_id` revoked for `ttl` (the token's remaining
    /// life), or for good with `None`.
    pub async fn revoke_session(
        &self,
        revocation_id: &str,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let key = self.inner.keys.session_revoked(revocation_id);
        let expire =
            ttl.map(|t| Expiration::EX(i64::try_from(t.as_secs().max(1)).unwrap_or(i64::MAX)));
        self.call(
            self.inner
                .client
                .set::<(), _, _>(key, "1", expire, None, false),
        )
        .await
    }
}
