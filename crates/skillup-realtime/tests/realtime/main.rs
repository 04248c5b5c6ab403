//! The realtime service with real clients: the official `socket.io-client` run by
//! node (`tests/js/probe.mjs`) and the demo page in headless Chromium
//! (`tests/js/demo.mjs`), against real Postgres, Redis and the API.

mod authorization;
mod delivery;
mod demo_page;
mod deploy;
mod handshake;
mod helpers;
mod probes;
mod replay;
mod rights;
mod shutdown;
mod traces;
mod web;
