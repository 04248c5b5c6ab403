//! `skillup-invalidator`: applies the invalidation outbox to Redis.
//!
//! Every change to a SkillUp table leaves a record in `invalidation_outbox` and a
//! `NOTIFY skillup_invalidations` in the writer's transaction (see the migrations
//! in `skillup-db`). This worker drains those records in batches — on start, on
//! every notification, after every listener reconnect and on a slow poll as a
//! fallback — maps each to the cache keys it makes stale ([`plan`]), deletes them
//! (bumping their fill guards), turns them into numbered realtime events
//! ([`events`]), and only then marks the records done ([`worker`]).
//!
//! - [`config`]: `InvalidatorConfig` from the environment.
//! - [`plan`]: record → keys and table-wide flushes (pure).
//! - [`events`]: record → realtime events, numbered and stored in the batch's
//!   transaction, published after it commits.
//! - [`heartbeat`]: the stream's last offset on the control channel, every second.
//! - [`worker`]: claiming, applying and completing batches; the run loop.
//! - [`listener`]: the `LISTEN` connection, turned into wake-ups.
//! - [`http`]: `GET /health` and `GET /metrics` on `PORT` (5002).
//! - [`startup`]: [`Application`], tying them together.

pub mod config;
pub mod events;
pub mod heartbeat;
pub mod http;
pub mod listener;
pub mod plan;
pub mod startup;
pub mod worker;

pub use config::InvalidatorConfig;
pub use startup::Application;
pub use worker::{Invalidator, WorkerError};
