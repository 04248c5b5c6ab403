//! The shared Redis cache of every SkillUp service (fred).
//!
//! - [`keys`]: every key and channel name, built only from typed ids.
//! - [`client`]: turning `REDIS_*` config into one fred client with a reconnect policy.
//! - [`Cache`] ([`cache`]): get / set / get_or_load (cache-aside with single flight, a
//!   lease across processes, generation-checked fills, spread TTLs, cached absences
//!   and STALE answers while the database fails) / invalidate / delete_pattern /
//!   stats; the handle in `cache.rs`, its operations in
//!   `cache/{read,load,invalidate,admin,sessions}.rs`.
//! - [`envelope`]: what an entry stores besides its body (freshness, `ETag`, absence).
//! - [`near`]: the in-process near cache (L1), coherent through Redis client tracking.
//! - [`stats`]: process counters and the Redis `INFO` figures `/health/redis` shows.
//!
//! Degradation is the contract: when Redis is down or slower than
//! `REDIS_COMMAND_TIMEOUT_MS`, reads report [`CacheStatus::Bypass`] and callers serve
//! the database answer; the client reconnects by itself.

pub mod cache;
pub mod client;
pub mod envelope;
mod error;
mod flight;
pub mod keys;
pub mod near;
mod scripts;
pub mod stats;

pub use bytes::Bytes;
pub use cache::{Cache, CacheStatus, Lookup};
pub use error::CacheError;
pub use keys::{CacheKey, Keys};
pub use stats::{CacheCounters, RedisInfo};
