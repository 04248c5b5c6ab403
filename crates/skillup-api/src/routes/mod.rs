//! Route groups; each exposes `routes(cfg)`, merged in [`crate::startup`].

pub mod authoring;
pub mod courses;
pub mod docs;
pub mod enrollments;
pub mod health;
pub mod lessons;
pub mod me;
pub mod modules;
pub mod progress;
pub mod session;
