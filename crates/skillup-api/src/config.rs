use skillup_common::ConfigError;
use skillup_common::config::{
    DatabaseConfig, EnvSource, HttpConfig, JwtConfig, LogConfig, NearCacheConfig, RedisConfig,
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
