use std::num::NonZeroU32;
use std::time::Duration;

use skillup_common::ConfigError;
use skillup_common::config::{
    DatabaseConfig, EnvSource, HttpConfig, JwtConfig, LogConfig, NearCacheConfig, RedisConfig,
    integer_at_least,
};

/// Everything `skillup-api` reads from the environment.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    /// `CACHE_L1_MB`, `CACHE_L1_MAX_LAG_MS`: the in-process near cache.
    pub near_cache: NearCacheConfig,
    pub jwt: JwtConfig,
    pub log: LogConfig,
    /// `CORS_ORIGINS`: which browser origins may call the API.
    pub cors: CorsOrigins,
    /// `AUTH_FAILURE_*`: the budget of failed authentications per client address.
    pub auth_failures: AuthFailureConfig,
}

/// How many failed authentications (a 401 for a bad, expired or revoked token)
/// one client address may cause per window before the next failures answer 429.
///
/// The budget is a GCRA bucket (the `governor` crate): `limit` failures at once,
/// refilled at `limit` per `window`. Successful requests never spend it and are
/// never refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailureConfig {
    /// `AUTH_FAILURE_LIMIT` (default 20, at least 1).
    pub limit: NonZeroU32,
    /// `AUTH_FAILURE_WINDOW_SECS` (default 60, at least 1).
    pub window: Duration,
}

impl AuthFailureConfig {
    pub const DEFAULT_LIMIT: u64 = 20;
    pub const DEFAULT_WINDOW_SECS: u64 = 60;

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let raw = integer_at_least(env, "AUTH_FAILURE_LIMIT", Self::DEFAULT_LIMIT, 1)?;
        let limit = u32::try_from(raw)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| ConfigError::Invalid {
                var: "AUTH_FAILURE_LIMIT",
                value: raw.to_string(),
                reason: format!("must be at most {}", u32::MAX),
            })?;
        let window = integer_at_least(
            env,
            "AUTH_FAILURE_WINDOW_SECS",
            Self::DEFAULT_WINDOW_SECS,
            1,
        )?;
        Ok(Self {
            limit,
            window: Duration::from_secs(window),
        })
    }
}

/// `CORS_ORIGINS`: unset → no CORS headers at all (browsers keep cross-origin
/// pages out; same-origin and non-browser clients are unaffected); `*` → any
/// origin; else a comma-separated list of `scheme://host[:port]` origins. Tokens
/// travel in `Authorization`, never cookies, so credentials are never allowed and
/// `*` cannot leak a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Disabled,
    Any,
    List(Vec<String>),
}

impl CorsOrigins {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let Some(raw) = env.var("CORS_ORIGINS") else {
            return Ok(Self::Disabled);
        };
        if raw.trim() == "*" {
            return Ok(Self::Any);
        }
        let invalid = |reason: String| ConfigError::Invalid {
            var: "CORS_ORIGINS",
            value: raw.clone(),
            reason,
        };
        let mut origins = Vec::new();
        for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let url = url::Url::parse(origin).map_err(|e| invalid(format!("{origin:?}: {e}")))?;
            let bare = matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.path() == "/"
                && !origin.ends_with('/')
                && url.query().is_none()
                && url.username().is_empty();
            if !bare {
                return Err(invalid(format!(
                    "{origin:?} is not an origin: use scheme://host[:port], or `*` alone"
                )));
            }
            origins.push(origin.to_owned());
        }
        if origins.is_empty() {
            return Err(invalid("no origin given".to_owned()));
        }
        Ok(Self::List(origins))
    }
}

impl ApiConfig {
    pub const DEFAULT_PORT: u16 = 5000;

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, Self::DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env)?,
            redis: RedisConfig::from_env(env)?,
            near_cache: NearCacheConfig::from_env(env)?,
            jwt: JwtConfig::from_env(env)?,
            log: LogConfig::from_env(env, "skillup-api")?,
            cors: CorsOrigins::from_env(env)?,
            auth_failures: AuthFailureConfig::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn cors(value: &str) -> Result<CorsOrigins, ConfigError> {
        let env: HashMap<&str, &str> = [("CORS_ORIGINS", value)].into_iter().collect();
        CorsOrigins::from_env(&env)
    }

    #[test]
    fn auth_failure_settings_have_defaults_and_floors() {
        let none = HashMap::<&str, &str>::new();
        assert_eq!(
            AuthFailureConfig::from_env(&none).unwrap(),
            AuthFailureConfig {
                limit: NonZeroU32::new(20).unwrap(),
                window: Duration::from_secs(60),
            }
        );
        for (var, bad) in [
            ("AUTH_FAILURE_LIMIT", "0"),
            ("AUTH_FAILURE_LIMIT", "many"),
            ("AUTH_FAILURE_LIMIT", "4294967296"),
            ("AUTH_FAILURE_WINDOW_SECS", "0"),
            ("AUTH_FAILURE_WINDOW_SECS", "-1"),
        ] {
            let env: HashMap<&str, &str> = [(var, bad)].into_iter().collect();
            let err = AuthFailureConfig::from_env(&env).unwrap_err();
            assert!(err.to_string().starts_with(&format!("{var}=")), "{err}");
        }
    }

    #[test]
    fn cors_origins_are_parsed_strictly() {
        assert_eq!(
            CorsOrigins::from_env(&HashMap::<&str, &str>::new()).unwrap(),
            CorsOrigins::Disabled
        );
        assert_eq!(cors("*").unwrap(), CorsOrigins::Any);
        assert_eq!(
            cors("https://app.example, http://localhost:3000").unwrap(),
            CorsOrigins::List(vec![
                "https://app.example".into(),
                "http://localhost:3000".into()
            ])
        );
        for bad in [
            "*,https://a.example",
            "ftp://a.example",
            "https://a.example/path",
            "https://a.example/",
            "a.example",
            ",",
        ] {
            let err = cors(bad).unwrap_err();
            assert!(err.to_string().starts_with("CORS_ORIGINS="), "{bad}: {err}");
        }
    }
}
