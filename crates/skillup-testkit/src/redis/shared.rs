//! The shared Redis (`TEST_REDIS_URL`), which tests share under prefixes of their own.

use skillup_common::config::RedisConfig;

use crate::ports::free_port;

/// `TEST_REDIS_URL`, or `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses: `test:{uuid}:`.
pub fn unique_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

/// A Redis config for tests: the shared server (or `url`), a unique prefix, a short timeout.
pub fn redis_config(url: &str, prefix: &str) -> RedisConfig {
    let env: std::collections::HashMap<&str, &str> = [
        ("REDIS_URL", url),
        ("REDIS_KEY_PREFIX", prefix),
        ("REDIS_COMMAND_TIMEOUT_MS", "250"),
    ]
    .into_iter()
    .collect();
    RedisConfig::from_env(&env).expect("test redis config is valid")
}

/// A port nothing listens on: connections are refused at once.
pub fn dead_redis_url() -> String {
    format!("redis://127.0.0.1:{}", free_port())
}
