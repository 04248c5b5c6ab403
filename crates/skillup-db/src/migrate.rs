use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::DbError;

/// The migrations in `crates/skillup-db/migrations`, embedded in every binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Applies pending migrations. Safe to run from several processes at once: sqlx
/// serialises them with an advisory lock.
pub async fn run(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}
