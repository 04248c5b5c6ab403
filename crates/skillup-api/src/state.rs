use skillup_cache::Cache;
use skillup_common::auth::JwtKeys;
use skillup_db::PgPool;

use crate::auth_failures::AuthFailures;

/// What every handler can reach; cloned into each actix worker.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub cache: Cache,
    pub jwt: JwtKeys,
    /// Failed authentications per client address (429 past the budget).
    pub auth_failures: AuthFailures,
}
