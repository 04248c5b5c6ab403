//! `REALTIME_REPLAY_*`: how long realtime events stay replayable.

use std::time::Duration;

use super::env::{ConfigError, EnvSource, integer_at_least, seconds_or};

/// Read by the realtime nodes (their in-memory window) and the invalidator
/// (which prunes `realtime_events` past it), so both keep the same window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    /// `REALTIME_REPLAY_SECS` (default 300, at least 1).
    pub max_age: Duration,
    /// `REALTIME_REPLAY_MAX_EVENTS` (default 100000, at least 1): the window never
    /// holds more, whatever its age.
    pub max_events: u64,
}

impl ReplayConfig {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        Ok(Self {
            max_age: seconds_or(env, "REALTIME_REPLAY_SECS", 300)?,
            max_events: integer_at_least(env, "REALTIME_REPLAY_MAX_EVENTS", 100_000, 1)?,
        })
    }
}
