//! `skillup-api`: the REST API (actix-web) over the shared cache and Postgres.
//!
//! - [`config`]: `ApiConfig`, parsed once from the environment.
//! - [`startup`]: [`Application`], which binds, migrates and runs the server.
//! - [`routes`]: one module per route group, each with a `routes()` registration.
//! - [`error`]: the one error type, mapped to the spec's error JSON.
//! - [`cached`]: turning a cache lookup into a response with `X-Cache`.
//! - [`catalogue`]: the listing's query (search, filters, order) and its `Link` header.
//! - [`auth`]: the bearer-token extractors (`Session`, `AuthUser`, `OptionalSession`);
//!   [`auth_failures`]: the per-address budget of failed authentications (429).
//! - [`json`]: request bodies (1 MiB limit, errors naming the field); [`validate`]: the rules.
//! - [`invalidate`]: read-your-writes invalidation after a write commits.

pub mod auth;
pub mod auth_failures;
pub mod cached;
pub mod catalogue;
pub mod config;
pub mod error;
pub mod fallback;
pub mod invalidate;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod startup;
pub mod state;
pub mod validate;

pub use config::ApiConfig;
pub use startup::Application;
