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
    /// A stored value this version cannot read (→ 500).
    #[error("unreadable stored value: {0}")]
    Corrupt(String),
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
                let code = db.code().unwrap_or_default();
                if code == "23505" {
                    Self::Conflict {
                        constraint: db.constraint().unwrap_or_default().to_owned(),
                    }
                } else if is_unavailable_code(&code) {
                    Self::Unavailable(e)
                } else {
                    Self::Other(e)
                }
            }
            _ => Self::Other(e),
        }
    }
}

/// SQLSTATEs that mean "cannot use the database right now" rather than "this
/// statement is wrong": connection exceptions (class 08), shutdown and recovery
/// (57P01–57P03), too many connections (53300), a missing database (3D000, e.g.
/// dropped or not created yet) and refused credentials (28000, 28P01).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "3D000" | "28000" | "28P01"
        )
}
