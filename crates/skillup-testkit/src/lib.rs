//! Helpers for integration tests against real Postgres and Redis.
//!
//! Every test gets its own database ([`fresh_database`]) and its own Redis key
//! prefix ([`unique_prefix`]), so tests run in parallel without sharing state.
//! Outage tests run a private `redis-server` ([`PrivateRedis`]) they can stop and
//! restart without touching the shared one.
//!
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) names
//! the server and maintenance database; `TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`) the shared Redis.
//!
//! Layout: `db` (test databases), `redis` (the shared server and the private, TLS
//! and cluster servers a test runs itself), `process` (service binaries run as
//! processes, signals), `proxy` (a TCP proxy a test can cut), `ports`, `poll`; and the public modules [`jwt`] (forged
//! tokens), [`deploy`] (the deploy files) and [`otlp`] (a trace receiver). Every
//! item is re-exported here, so a test writes `skillup_testkit::fresh_database`.

mod db;
pub mod deploy;
pub mod jwt;
pub mod otlp;
mod poll;
mod ports;
mod process;
mod proxy;
mod redis;

pub use db::{TEST_DB_PREFIX, TestDatabase, admin_pool, fresh_database, server_url};
pub use poll::eventually;
pub use ports::free_port;
pub use process::{ServiceProcess, service_env, signal, workspace_binary};
pub use proxy::TcpProxy;
pub use redis::{
    PrivateRedis, RedisCluster, TlsRedis, dead_redis_url, redis_cluster_url, redis_config,
    redis_url, unique_prefix,
};
