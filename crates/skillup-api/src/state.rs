use skillup_cache::Cache;
use skillup_common::auth::JwtKeys;
use skillup_db::PgPool;

/// What every handler can reach; cloned into each actix worker.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub cache: Cache,
    pub jwt: JwtKeys,
}
