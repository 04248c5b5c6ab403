use skillup_common::ConfigError;
use skillup_common::config::{
    DatabaseConfig, EnvSource, HttpConfig, JwtConfig, LogConfig, RedisConfig,
};

/// Everything `skillup-api` reads from the environment.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub jwt: JwtConfig,
    pub log: LogConfig,
}

impl ApiConfig {
    pub const DEFAULT_PORT: u16 = 5000;

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, Self::DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env)?,
            redis: RedisConfig::from_env(env)?,
            jwt: JwtConfig::from_env(env)?,
            log: LogConfig::from_env(env, "skillup-api")?,
        })
    }
}
