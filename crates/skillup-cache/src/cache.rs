//! The cache operations. Read paths never fail because of Redis: they report
//! [`CacheStatus::Bypass`] and let the caller serve the database answer.
//!
//! This file holds the [`Cache`] handle: how it is built, what it exposes, and
//! the one way every operation calls Redis (`call`, bounded by the command
//! timeout and counted). The operations are `impl Cache` blocks in sibling files:
//!
//! - `read`: get, set, [`Cache::get_or_load`]: hits, and STALE answers;
//! - `load`: the one load of a cold key across processes (a lease), and its
//!   generation-checked fill;
//! - `invalidate`: invalidate, listing pages, delete, delete_pattern;
//! - `admin`: scan, ping, info, publish, quit;
//! - `sessions`: session revocation.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::prelude::*;
use futures_util::StreamExt;
use serde::Serialize;
use skillup_common::config::{NearCacheConfig, RedisConfig};

use crate::CacheError;
use crate::flight::Flights;
use crate::keys::Keys;
use crate::near::NearCache;
use crate::stats::{CacheCounters, Counters};

mod admin;
mod invalidate;
mod load;
mod read;
mod sessions;

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
    /// The database failed or was too slow: the entry's last value, expired but
    /// never invalidated, within `CACHE_STALE_SECS` of its expiry.
    Stale,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Bypass => "BYPASS",
            Self::Stale => "STALE",
        }
    }
}

/// The answer of [`Cache::get_or_load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The serialized value, or `None` when the loader found nothing.
    pub value: Option<Bytes>,
    /// The value's strong `ETag`, quotes included; computed once per fill and
    /// stored with the entry. `Some` exactly when `value` is.
    pub etag: Option<Bytes>,
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
    /// `CACHE_STALE_SECS`: how long past expiry an entry may answer STALE.
    stale_window: Duration,
    /// `CACHE_LEASE_MS`: how long a cold key's loader holds off other processes
    /// (zero: no leases).
    lease: Duration,
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
    /// enables one (a single Redis or a cluster: see `near`).
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
    /// `near`'s size, on a single Redis or a cluster; a client that cannot track
    /// (RESP2) gets none.
    pub fn with_near_cache(client: Client, cfg: &RedisConfig, near: &NearCacheConfig) -> Self {
        let l1 = (near.is_enabled()
            && client.protocol_version() == fred::types::RespVersion::RESP3)
            .then(|| NearCache::start(&client, near));
        if near.is_enabled() && l1.is_none() {
            tracing::warn!("near cache needs a RESP3 client: L1 stays off");
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
                stale_window: cfg.stale_window,
                lease: cfg.lease,
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

    /// `REDIS_DEFAULT_TTL`: for a kind of entry without a TTL variable of its
    /// own. No kind cached today uses it (see `RedisConfig::default_ttl`).
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

    /// `SCAN` pages of keys matching `pattern`: of the one server, or of every
    /// primary of a cluster.
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
