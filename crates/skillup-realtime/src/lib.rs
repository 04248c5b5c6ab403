//! `skillup-realtime`: live course progress over Socket.IO v4 (socketioxide on axum),
//! fed by Redis pub/sub, on any number of nodes.
//!
//! Every node subscribes to `{prefix}events:progress` and `{prefix}events:course`
//! with its own fred subscriber client and relays each event to its *local*
//! sockets in the event's rooms, so behind a load balancer each subscribed socket
//! gets each event once, whichever node it is on. No socket.io adapter is needed.
//!
//! - [`config`]: `RealtimeConfig` from the environment.
//! - [`sockets`]: handshake auth, rooms, `course:subscribe` / `course:unsubscribe`.
//! - [`relay`]: the Redis subscriber, event validation and fan-out, `resync` after outages.
//! - [`http`]: `/health`, `/metrics` and the demo page's `/demo/me` data; [`web`]: the
//!   demo page and its Socket.IO client, built into the binary.
//! - [`startup`]: [`Application`], which binds and runs a node.

pub mod config;
pub mod http;
pub mod relay;
pub mod sockets;
pub mod startup;
pub mod state;
pub mod web;

pub use config::RealtimeConfig;
pub use startup::Application;
