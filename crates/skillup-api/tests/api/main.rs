//! `skillup-api` end to end: a real server on a free port, its own database and
//! Redis prefix per test.

mod config;
mod courses;
mod health;
mod helpers;
mod hostile_input;
