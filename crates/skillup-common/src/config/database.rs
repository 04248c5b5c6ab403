//! The Postgres section: `DATABASE_*`.

use std::time::Duration;

use super::env::{ConfigError, EnvSource, SecretUrl, invalid, millis_or, parse_or, url_or};

/// `DATABASE_URL` and pool sizing.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretUrl,
    /// `DATABASE_MAX_CONNECTIONS` (default 10).
    pub max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS` (default 3000): how long a request waits for a
    /// connection before answering 503.
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/skillup";

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let max_connections: u32 = parse_or(env, "DATABASE_MAX_CONNECTIONS", 10)?;
        if max_connections == 0 {
            return Err(invalid(
                "DATABASE_MAX_CONNECTIONS",
                "0",
                "must be at least 1",
            ));
        }
        Ok(Self {
            url: url_or(
                env,
                "DATABASE_URL",
                Self::DEFAULT_URL,
                &["postgres", "postgresql"],
            )?,
            max_connections,
            acquire_timeout: millis_or(env, "DATABASE_ACQUIRE_TIMEOUT_MS", 3000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::test_env as env;

    #[test]
    fn defaults_follow_the_spec() {
        let db = DatabaseConfig::from_env(&env(&[])).expect("defaults are valid");
        assert_eq!(
            db.url.expose(),
            "postgres://postgres@127.0.0.1:5432/skillup"
        );
        assert_eq!(db.max_connections, 10);
    }

    #[test]
    fn malformed_urls_name_the_variable() {
        let err = DatabaseConfig::from_env(&env(&[("DATABASE_URL", "not a url")])).unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_URL="), "{err}");
    }
}
