use std::time::Duration;

use skillup_cache::Cache;
use skillup_common::auth::JwtKeys;
use skillup_db::PgPool;

/// What every handler can reach; cloned into each actix worker.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub cache: Cache,
    pub jwt: JwtKeys,
    /// `REDIS_COMMAND_TIMEOUT_MS`, for the Redis calls made outside the cache
    /// crate (revocation check and logout).
    pub redis_timeout: Duration,
}
