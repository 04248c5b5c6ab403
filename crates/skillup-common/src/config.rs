//! Configuration from the environment, parsed once at start into typed structs.
//!
//! Every section reads through an [`EnvSource`], so tests pass a map instead of
//! mutating the process environment. A bad value is a [`ConfigError`] that names
//! the variable; binaries print it as one line and exit.
//!
//! One file per section: `env` (sources, errors, shared parsers, [`SecretUrl`]),
//! `database`, `redis`, `near_cache`, `http`, `jwt`, `log`, `replay`. A service's own
//! config (e.g. `skillup_api::config`) composes the sections it needs.

mod database;
mod env;
mod http;
mod jwt;
mod log;
mod near_cache;
mod redis;
mod replay;

pub use database::DatabaseConfig;
pub use env::{ConfigError, EnvSource, ProcessEnv, SecretUrl, integer_at_least};
pub use http::HttpConfig;
pub use jwt::JwtConfig;
pub use log::{LogConfig, LogFormat, OtlpConfig};
pub use near_cache::NearCacheConfig;
pub use redis::{RedisConfig, TlsCaBundle};
pub use replay::ReplayConfig;
