//! Redis for tests: the shared server under a key prefix of each test's own, and
//! servers a test runs itself — a private one it can stop, freeze and restart, one
//! that speaks only TLS, and a three-primary cluster.

mod cluster;
mod private;
mod shared;
mod tls;

pub use cluster::{RedisCluster, redis_cluster_url};
pub use private::PrivateRedis;
pub use shared::{dead_redis_url, redis_config, redis_url, unique_prefix};
pub use tls::TlsRedis;
