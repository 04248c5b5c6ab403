//! The API's near cache (L1) section: `CACHE_L1_*`.

use std::time::Duration;

use super::env::{ConfigError, EnvSource, integer_at_least};

/// The API's in-process near cache (L1) in front of Redis (`skillup_cache::near`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearCacheConfig {
    /// `CACHE_L1_MB` (default 16, `0` turns L1 off): the memory L1 may hold,
    /// keys and values counted.
    pub capacity_bytes: u64,
    /// `CACHE_L1_MAX_LAG_MS` (default 500, at least 200): L1 answers only while
    /// its last proof that Redis is reachable and tracking is younger than this,
    /// so no answer is staler than Redis by more than this.
    pub max_lag: Duration,
}

impl NearCacheConfig {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mb = integer_at_least(env, "CACHE_L1_MB", 16, 0)?;
        Ok(Self {
            capacity_bytes: mb.saturating_mul(1024 * 1024),
            max_lag: Duration::from_millis(integer_at_least(env, "CACHE_L1_MAX_LAG_MS", 500, 200)?),
        })
    }

    /// L1 off.
    pub fn disabled() -> Self {
        Self {
            capacity_bytes: 0,
            max_lag: Duration::from_millis(500),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.capacity_bytes > 0
    }
}
