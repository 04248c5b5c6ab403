//! Cache crate against real Redis: the shared server with a unique prefix per
//! test, or a private `redis-server` for outages, and a shared Redis Cluster
//! (`cluster.rs`). `TEST_REDIS_URL` may name a cluster too: `scripts/test.sh`
//! runs the whole suite once more that way.

mod cluster;
mod cluster_near;
mod degradation;
mod near;
mod operations;
mod resilience;
mod single_flight;
mod stale_fills;
mod tls;

use skillup_cache::Cache;
use skillup_testkit::{redis_config, redis_url, unique_prefix};

/// A cache on the shared Redis under a fresh prefix.
pub async fn cache() -> Cache {
    cache_at(&redis_url()).await
}

pub async fn cache_at(url: &str) -> Cache {
    Cache::connect(&redis_config(url, &unique_prefix()))
        .await
        .expect("valid config")
}

/// The body stored under `key`, as `get_or_load` would answer it.
pub async fn body(cache: &Cache, key: &skillup_cache::CacheKey) -> Option<skillup_cache::Bytes> {
    cache
        .stored(key)
        .await
        .expect("redis reachable")
        .and_then(|e| e.body)
}
