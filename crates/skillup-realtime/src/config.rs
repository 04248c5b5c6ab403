use std::path::PathBuf;
use std::time::Duration;

use skillup_common::ConfigError;
use skillup_common::config::{
    DatabaseConfig, EnvSource, HttpConfig, JwtConfig, LogConfig, RedisConfig, ReplayConfig,
    integer_at_least,
};

/// Everything `skillup-realtime` reads from the environment.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub jwt: JwtConfig,
    pub log: LogConfig,
    pub sockets: SocketSettings,
    /// `REALTIME_REPLAY_SECS`, `REALTIME_REPLAY_MAX_EVENTS`: the replay window.
    pub replay: ReplayConfig,
    /// `REALTIME_WEB_DIR` (unset: the copies built into the binary): a directory
    /// to serve the demo page (`index.html`) and its
    /// `node_modules/socket.io-client` from instead, e.g. while editing the page.
    pub web_dir: Option<PathBuf>,
}

/// Backpressure and liveness of each socket.
#[derive(Debug, Clone, Copy)]
pub struct SocketSettings {
    /// `REALTIME_MAX_BUFFER` (default 256): packets queued for one socket. When a slow
    /// client's buffer is full, events to it are dropped (counted) instead of
    /// slowing the others or growing memory.
    pub max_buffer: usize,
    /// `REALTIME_PING_INTERVAL_MS` (default 25000) and `REALTIME_PING_TIMEOUT_MS`
    /// (default 20000): a client that stops answering pings is disconnected.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
}

impl RealtimeConfig {
    pub const DEFAULT_PORT: u16 = 5001;

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, Self::DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env)?,
            redis: RedisConfig::from_env(env)?,
            jwt: JwtConfig::from_env(env)?,
            log: LogConfig::from_env(env, "skillup-realtime")?,
            sockets: SocketSettings {
                max_buffer: usize::try_from(integer_at_least(env, "REALTIME_MAX_BUFFER", 256, 1)?)
                    .unwrap_or(usize::MAX),
                ping_interval: Duration::from_millis(integer_at_least(
                    env,
                    "REALTIME_PING_INTERVAL_MS",
                    25_000,
                    1,
                )?),
                ping_timeout: Duration::from_millis(integer_at_least(
                    env,
                    "REALTIME_PING_TIMEOUT_MS",
                    20_000,
                    1,
                )?),
            },
            replay: ReplayConfig::from_env(env)?,
            web_dir: env.var("REALTIME_WEB_DIR").map(PathBuf::from),
        })
    }
}
