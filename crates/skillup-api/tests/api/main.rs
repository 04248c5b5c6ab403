//! `skillup-api` end to end: a real server on a free port, its own database and
//! Redis prefix per test.

mod auth;
mod auth_failures;
mod authoring;
mod authorization;
mod bodies;
mod config;
mod courses;
mod deploy;
mod enrollments;
mod health;
mod helpers;
mod hostile_input;
mod leaks;
mod me;
mod openapi;
mod postgres_down;
mod probes;
mod progress;
mod redis_cluster;
mod redis_down;
mod redis_keys;
mod redis_tls;
mod search;
mod security;
mod shutdown;
mod swagger_ui;
mod validators;
