//! The SkillUp database layer: the Postgres pool, the embedded migrations, and
//! every query the services run, as typed functions over `sqlx`.
//!
//! - [`pool`]: connecting (lazily, so a service starts while Postgres is down) and health.
//! - [`migrate`]: the embedded migrations (`migrations/`), including the invalidation outbox.
//! - [`courses`]: the read queries behind the course routes, and their row types in [`models`].
//! - [`profiles`], [`authoring`], [`enrollments`], [`progress`]: the API's write side
//!   (roles and first-use profiles, course structure, enrollment, lesson progress).
//! - [`access`]: who may follow a course's live events.
//! - [`outbox`]: claiming, completing and pruning invalidation records.
//! - [`events`]: the replayable stream of realtime events and its sequencer.
//! - [`seed`]: deterministic demo data for `skillupctl db seed`, the run script and tests.
//!
//! Errors are one [`DbError`], which tells "database unavailable" (→ 503) from
//! constraint conflicts (→ 409) and everything else.

pub mod access;
pub mod authoring;
pub mod catalogue;
pub mod courses;
pub mod enrollments;
mod error;
pub mod events;
pub mod migrate;
pub mod models;
pub mod outbox;
pub mod pool;
pub mod profiles;
pub mod progress;
pub mod seed;

pub use error::DbError;
pub use pool::{connect_lazy, ping};
pub use sqlx::PgPool;
