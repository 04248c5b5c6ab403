/// A database failure, classified by what the caller should tell its client.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Postgres cannot be reached or no connection was free in time (→ 503).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A unique constraint was violated; carries the constraint's name (→ 409).
    #[error("unique constraint {constraint} violated")]
    Conflict { constraint: String },
    /// Anything else: a bug or a schema mismatch (→ 500, logged with its cause).
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DbError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e),
            sqlx::Error::Database(db) => {
                // 57P01 admin_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections
                match db.code().as_deref() {
                    Some("23505") => Self::Conflict {
                        constraint: db.constraint().unwrap_or_default().to_owned(),
                    },
                    Some("57P01" | "57P02" | "57P03" | "53300" | "08006" | "08001") => Self::Unavailable(e),
                    _ => Self::Other(e),
                }
            }
            _ => Self::Other(e),
        }
    }
}
