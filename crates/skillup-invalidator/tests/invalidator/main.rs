//! The invalidator against real Postgres and Redis, with the real API reading
//! through the cache beside it.

mod deploy;
mod events;
mod helpers;
mod outages;
mod probes;
mod replicas;
mod shutdown;
mod sql_changes;
mod stress;
mod wakeup;
