use std::time::Duration;

use skillup_common::ConfigError;
use skillup_common::config::{
    DatabaseConfig, EnvSource, HttpConfig, LogConfig, RedisConfig, ReplayConfig, integer_at_least,
};

/// Everything `skillup-invalidator` reads from the environment.
#[derive(Debug, Clone)]
pub struct InvalidatorConfig {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub log: LogConfig,
    pub worker: WorkerSettings,
}

/// How the worker batches, polls and prunes.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// `INVALIDATOR_BATCH_SIZE` (default 500): records claimed per transaction.
    pub batch_size: u32,
    /// `INVALIDATOR_POLL_MS` (default 1000): drain this often even without a
    /// notification, in case one was lost.
    pub poll_interval: Duration,
    /// `INVALIDATOR_MAX_BACKOFF_MS` (default 5000): the longest wait between
    /// retries while Redis or Postgres is down.
    pub max_backoff: Duration,
    /// `REALTIME_REPLAY_SECS` / `REALTIME_REPLAY_MAX_EVENTS`: how long the events
    /// this worker numbers are kept in `realtime_events` for replay.
    pub replay: ReplayConfig,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            replay: ReplayConfig {
                max_age: Duration::from_secs(300),
                max_events: 100_000,
            },
        }
    }
}

impl WorkerSettings {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            batch_size: u32::try_from(integer_at_least(
                env,
                "INVALIDATOR_BATCH_SIZE",
                u64::from(d.batch_size),
                1,
            )?)
            .unwrap_or(u32::MAX),
            poll_interval: Duration::from_millis(integer_at_least(
                env,
                "INVALIDATOR_POLL_MS",
                1000,
                10,
            )?),
            max_backoff: Duration::from_millis(integer_at_least(
                env,
                "INVALIDATOR_MAX_BACKOFF_MS",
                5000,
                10,
            )?),
            replay: ReplayConfig::from_env(env)?,
        })
    }
}

impl InvalidatorConfig {
    pub const DEFAULT_PORT: u16 = 5002;

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, Self::DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env)?,
            redis: RedisConfig::from_env(env)?,
            log: LogConfig::from_env(env, "skillup-invalidator")?,
            worker: WorkerSettings::from_env(env)?,
        })
    }
}
