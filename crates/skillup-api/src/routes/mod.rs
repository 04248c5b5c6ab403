//! Route groups; each exposes `routes(cfg)`, merged in [`crate::startup`].

pub mod courses;
pub mod health;
