//! Setup shared by every SkillUp binary: typed configuration read once from the
//! environment ([`config`]), domain ids that are valid by construction ([`ids`]),
//! JWT verification and minting ([`auth`]), tracing initialisation ([`telemetry`])
//! and the process-wide shutdown signal ([`shutdown`]).
//!
//! Nothing here talks to Redis or Postgres; the cache and database crates turn
//! their config sections into connections.

pub mod auth;
pub mod config;
pub mod ids;
pub mod shutdown;
pub mod telemetry;

pub use config::{ConfigError, EnvSource};
pub use ids::{CourseId, LessonId, ModuleId, UserId};
