//! `skillup-realtime`: live course progress over Socket.IO v4 (socketioxide on axum),
//! fed by Redis pub/sub, on any number of nodes.
//!
//! Every node subscribes to `{prefix}events:progress`, `{prefix}events:course`
//! and `{prefix}events:control` with its own fred subscriber client and delivers
//! each event to its *local* sockets that may see it, so behind a load balancer
//! each subscribed socket gets each event once, whichever node it is on. No
//! socket.io adapter is needed. Events carry offsets: a node keeps the recent
//! ones (loaded from Postgres when it starts) and replays what a reconnecting
//! socket missed.
//!
//! - [`config`]: `RealtimeConfig` from the environment.
//! - [`sockets`]: the handshake, `course:subscribe` / `course:unsubscribe`.
//! - [`rights`]: what a user may see of a course (student, staff, nothing).
//! - [`event`]: decoding Redis messages and stored events.
//! - [`relay`]: the Redis subscriber, feeding the hub.
//! - [`hub`]: the task that owns sockets, rights, the replay window and delivery.
//! - [`http`]: `/health`, `/metrics` and the demo page's `/demo/me` data; [`web`]: the
//!   demo page and its Socket.IO client, built into the binary.
//! - [`compact`]: Socket.IO requests with their own copies of the URI and headers.
//! - [`startup`]: [`Application`], which binds and runs a node.

pub mod compact;
pub mod config;
pub mod event;
pub mod http;
pub mod hub;
pub mod relay;
pub mod rights;
pub mod sockets;
pub mod startup;
pub mod state;
pub mod web;

pub use config::RealtimeConfig;
pub use startup::Application;
