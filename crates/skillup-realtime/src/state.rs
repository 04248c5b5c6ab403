use skillup_cache::Cache;
use skillup_common::auth::JwtKeys;
use skillup_db::PgPool;

use crate::hub::Hub;

/// Shared by every socket handler and HTTP route (socketioxide `State`).
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub cache: Cache,
    pub jwt: JwtKeys,
    pub hub: Hub,
}
