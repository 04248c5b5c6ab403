use std::str::FromStr;
use std::time::Duration;

use skillup_common::config::DatabaseConfig;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::DbError;

/// The connection options `DATABASE_URL` describes.
pub fn connect_options(cfg: &DatabaseConfig) -> Result<PgConnectOptions, DbError> {
    PgConnectOptions::from_str(cfg.url.expose()).map_err(DbError::Other)
}

/// A pool that connects on first use, so a service starts (and reports itself
/// degraded) while Postgres is down instead of refusing to start.
pub fn connect_lazy(cfg: &DatabaseConfig) -> Result<PgPool, DbError> {
    Ok(PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(cfg.acquire_timeout)
        .connect_lazy_with(connect_options(cfg)?))
}

/// `SELECT 1` bounded by `timeout`; the round-trip time on success.
pub async fn ping(pool: &PgPool, timeout: Duration) -> Result<Duration, DbError> {
    let start = std::time::Instant::now();
    match tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(pool)).await {
        Ok(Ok(_)) => Ok(start.elapsed()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(DbError::Unavailable(sqlx::Error::PoolTimedOut)),
    }
}

/// Creates the database `DATABASE_URL` names if it does not exist yet (connecting
/// to the server's maintenance database). Returns whether it was created.
pub async fn create_database_if_missing(cfg: &DatabaseConfig) -> Result<bool, DbError> {
    use sqlx::migrate::MigrateDatabase;
    let url = cfg.url.expose();
    if sqlx::Postgres::database_exists(url).await? {
        return Ok(false);
    }
    match sqlx::Postgres::create_database(url).await {
        Ok(()) => Ok(true),
        // Another process may have created it between the check and the create.
        Err(e) => {
            if sqlx::Postgres::database_exists(url).await? {
                Ok(false)
            } else {
                Err(e.into())
            }
        }
    }
}

/// A read-only `REPEATABLE READ` transaction: several statements that must see one
/// snapshot (a course and its outline, a profile and its enrollments).
pub async fn begin_snapshot(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
