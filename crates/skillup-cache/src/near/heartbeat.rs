//! The near cache's proof that it is coherent: tracking turned on, kept on, and
//! proved on every connection that reads for it.
//!
//! On a single Redis that is the client's one connection. On a Redis Cluster
//! fred keeps one connection per primary and routes each read to the primary of
//! its key's slot, so each of those connections tracks what was read through it
//! and pushes the invalidations of its own primary (`CLIENT TRACKING` sent to
//! every primary, the default mode). A beat asks `CLIENT TRACKINGINFO` of every
//! primary in the routing table; only when all say tracking is on may L1 answer.
//!
//! Per-primary tracking was chosen over broadcast mode (`BCAST PREFIX`): in
//! broadcast mode every node pushes every change under the prefix to every
//! process, whether it ever read the key or not, which on a busy catalogue is a
//! push per write per API process; tracking what was read costs pushes only for
//! keys a process holds.
//!
//! Topology changes:
//! - a reconnect of any connection (fred's reconnect event, one per node) turns
//!   L1 off at once: a new connection tracks nothing;
//! - every cluster resync (fred runs one after a `MOVED`, after a reconnect and
//!   when nodes join or leave, and announces it as a cluster change) empties L1
//!   too: a slot that moved may now live on a primary that never saw our reads;
//! - an `ASK` (a slot in migration) retries one read on the importing primary,
//!   whose connection tracks like the others; and the source's `MIGRATE` deletes
//!   the key there, which pushes its invalidation. Neither leaves an entry
//!   untracked.
//!
//! The next beat then finds a connection without tracking, turns it on
//! everywhere and proves it before L1 answers again.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fred::clients::Client;
use fred::error::Error;
use fred::interfaces::{
    ClientInterface, ClientLike, ClusterInterface, EventInterface, TrackingInterface,
};
use fred::types::Value;
use futures_util::future::try_join_all;
use tokio::sync::broadcast::error::RecvError;

use super::NearCache;

impl NearCache {
    /// How often the heartbeat proves the connections are alive and tracking.
    pub const HEARTBEAT: Duration = Duration::from_millis(100);

    /// One heartbeat: proves tracking is on (then the pushes received so far are
    /// applied and L1 may answer for `max_lag`), or turns it on after a reset.
    async fn heartbeat(&self, client: &Client) {
        let sent = self.micros_now();
        let wait = self.max_lag.min(Duration::from_secs(1));
        match tokio::time::timeout(wait, tracking_everywhere(client)).await {
            Ok(Ok(true)) if self.tracking.load(Ordering::Acquire) => {
                let mut pushes = self.lock();
                self.apply_pushes(&mut pushes);
                if self.tracking.load(Ordering::Acquire) {
                    self.proven_at.fetch_max(sent, Ordering::AcqRel);
                }
            }
            Ok(Ok(_)) => {
                // A new connection (tracking is per connection) or the first beat:
                // nothing read before now is tracked.
                self.turn_off();
                let started = tokio::time::timeout(
                    wait,
                    client.start_tracking(Vec::<String>::new(), false, false, false, false),
                )
                .await;
                match started {
                    Ok(Ok(())) => {
                        tracing::info!(
                            cluster = client.is_clustered(),
                            "near cache: client tracking on"
                        );
                        self.tracking.store(true, Ordering::Release);
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "near cache: CLIENT TRACKING failed"),
                    Err(_) => tracing::debug!("near cache: CLIENT TRACKING timed out"),
                }
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "near cache heartbeat failed"),
            Err(_) => tracing::debug!("near cache heartbeat timed out"),
        }
    }
}

/// Whether every connection that reads for the client tracks: its one
/// connection, or on a cluster each primary's (as fred's routing table lists
/// them). An error (a primary unreachable, no routing table yet) proves nothing.
async fn tracking_everywhere(client: &Client) -> Result<bool, Error> {
    if !client.is_clustered() {
        return Ok(tracking_is_on(&client.client_trackinginfo().await?));
    }
    let primaries = client
        .cached_cluster_state()
        .map(|state| state.unique_primary_nodes())
        .unwrap_or_default();
    if primaries.is_empty() {
        return Err(Error::new(
            fred::error::ErrorKind::Cluster,
            "no cluster routing table yet",
        ));
    }
    let infos = try_join_all(primaries.into_iter().map(|primary| async move {
        client
            .with_cluster_node(primary)
            .client_trackinginfo::<Value>()
            .await
    }))
    .await?;
    Ok(infos.iter().all(tracking_is_on))
}

/// The heartbeat loop; it also applies pushes as they arrive (so the push stream
/// does not lag between beats), and a reconnect or a cluster resync turns L1 off
/// at once (the next beat turns tracking back on).
pub(super) async fn maintain(near: Weak<NearCache>, client: Client) {
    let mut reconnects = client.reconnect_rx();
    let mut resyncs = client.cluster_change_rx();
    let mut arrivals = client.invalidation_rx();
    let mut ticker = tokio::time::interval(NearCache::HEARTBEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let ended = tokio::select! {
            _ = ticker.tick() => {
                let Some(near) = near.upgrade() else { return };
                if client.is_connected() {
                    near.heartbeat(&client).await;
                }
                false
            }
            arrival = arrivals.recv() => {
                let Some(near) = near.upgrade() else { return };
                if matches!(arrival, Err(RecvError::Closed)) {
                    near.turn_off();
                    return;
                }
                near.apply_received();
                false
            }
            event = reconnects.recv() => turn_off_after(&near, event.err(), "reconnect"),
            changes = resyncs.recv() => turn_off_after(&near, changes.err(), "cluster resync"),
        };
        if ended {
            return;
        }
    }
}

/// Turns L1 off after a reconnect or a cluster resync (or a lag of their
/// stream, which may hide one); returns whether the stream closed.
fn turn_off_after(near: &Weak<NearCache>, error: Option<RecvError>, cause: &str) -> bool {
    let Some(near) = near.upgrade() else {
        return true;
    };
    if near.is_fresh() {
        tracing::info!(cause, "near cache: emptied until tracking is proven again");
        metrics::counter!("cache_l1_resets_total").increment(1);
    }
    near.turn_off();
    matches!(error, Some(RecvError::Closed))
}

/// Whether a `CLIENT TRACKINGINFO` reply lists the `on` flag.
fn tracking_is_on(info: &Value) -> bool {
    let Value::Map(map) = info else {
        return false;
    };
    map.iter().any(|(field, value)| {
        field.as_str().is_some_and(|f| f == "flags")
            && matches!(value, Value::Array(flags)
                if flags.iter().any(|f| f.as_str().is_some_and(|f| f == "on")))
    })
}
