//! Redis pub/sub → the hub.
//!
//! One fred subscriber client per node listens on `{prefix}events:progress`,
//! `{prefix}events:course` and `{prefix}events:control`. Each message is
//! decoded here (off the hub's task) and queued for the hub, which orders,
//! delivers and keeps it. Malformed messages are logged, counted and dropped.
//!
//! On a Redis Cluster the node subscribes twice to the same names: sharded
//! (`SSUBSCRIBE`, on the primary of each channel's slot), where the invalidator
//! publishes (`SPUBLISH`), so events never cross the cluster bus; and classic
//! (`SUBSCRIBE`), so a message another publisher sends with `PUBLISH` is still
//! relayed live as the contract says. The two are separate in Redis, so no
//! message arrives twice. The hub orders what arrives from several primaries
//! by offset.
//!
//! Pub/sub keeps nothing for absent subscribers: after Redis comes back the
//! client re-subscribes and the hub reads what it missed from Postgres; after
//! fred's channel overflowed (the relay fell behind) it does the same.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::types::Message;
use skillup_cache::Keys;
use skillup_common::config::RedisConfig;
use tokio::sync::broadcast::error::RecvError;

use crate::event::Channels;
use crate::hub::{Command, Hub};

/// Messages that may wait between fred and the relay loop before it lags. fred
/// gives every broadcast channel of the client this capacity and allocates it
/// up front (65,536 cost 54 MB); the relay only hands messages on to the hub's
/// queue, and a lag is read back from Postgres, so a few thousand are plenty.
const MESSAGE_BACKLOG: usize = 8192;

/// The node's subscription; cheap to clone.
#[derive(Clone)]
pub struct Relay {
    subscriber: SubscriberClient,
    channels: Arc<Channels>,
    sharded: bool,
}

impl Relay {
    /// Builds the subscriber and starts connecting (returns at once; a Redis that
    /// is down is retried by fred's reconnect policy).
    pub fn new(cfg: &RedisConfig) -> Result<Self, skillup_cache::CacheError> {
        let mut builder = skillup_cache::client::builder(cfg)?;
        // fred hands messages to us through a broadcast channel (32 by default);
        // a burst larger than it makes the relay lag.
        builder.with_performance_config(|p| p.broadcast_channel_capacity = MESSAGE_BACKLOG);
        let subscriber = builder.build_subscriber_client()?;
        Ok(Self {
            subscriber,
            channels: Arc::new(Channels::new(&Keys::new(cfg.key_prefix.clone()))),
            sharded: cfg.is_cluster(),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.subscriber.is_connected()
    }

    /// Connects and subscribes, waiting at most `wait` (a Redis that is down is
    /// picked up later by [`Relay::spawn`]). Returns whether the subscription is up.
    pub async fn start(&self, wait: Duration) -> bool {
        let _connection = self.subscriber.connect();
        tokio::time::timeout(wait, self.subscribe_until_done())
            .await
            .is_ok()
    }

    /// Relays until the returned task is aborted; re-subscribes after every
    /// reconnection and cluster resync, and then has the hub catch up.
    pub fn spawn(self, hub: Hub) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut reconnects = self.subscriber.reconnect_rx();
            // A cluster resync (a slot moved, a failover): Redis drops the sharded
            // subscriptions of a slot that moved, so subscribe again and catch up.
            let mut resyncs = self.subscriber.cluster_change_rx();
            let mut messages = self.subscriber.message_rx();
            if !self.subscriber.is_connected() {
                self.subscribe_until_done().await;
                hub.send(Command::Resubscribed).await;
            }
            loop {
                let event = tokio::select! {
                    message = messages.recv() => match message {
                        Ok(message) => {
                            self.relay(&hub, message).await;
                            continue;
                        }
                        Err(RecvError::Lagged(n)) => {
                            metrics::counter!("realtime_events_dropped_total", "reason" => "lagged").increment(n);
                            tracing::warn!(dropped = n, "relay fell behind the subscriber; catching up from Postgres");
                            hub.send(Command::Lagged).await;
                            continue;
                        }
                        Err(RecvError::Closed) => break,
                    },
                    reconnect = reconnects.recv() => reconnect.err(),
                    resync = resyncs.recv() => resync.err(),
                };
                // A reconnect or a resync (or a lag of their stream, which may hide one).
                if matches!(event, Some(RecvError::Closed)) {
                    break;
                }
                self.subscribe_until_done().await;
                tracing::info!("redis subscription restored; catching up");
                hub.send(Command::Resubscribed).await;
            }
        })
    }

    /// (Re)subscribes to the channels, waiting for the connection and retrying
    /// until Redis accepts.
    async fn subscribe_until_done(&self) {
        let channels = self.channels.all();
        loop {
            if tokio::time::timeout(Duration::from_secs(2), self.subscriber.wait_for_connect())
                .await
                .is_ok_and(|r| r.is_ok())
            {
                // One SSUBSCRIBE per channel: the names hash to different slots,
                // and one command may only name channels of one slot.
                let shards: &[String] = if self.sharded { &channels } else { &[] };
                let sharded = futures_util::future::try_join_all(
                    shards
                        .iter()
                        .map(|channel| self.subscriber.ssubscribe(channel.clone())),
                );
                match tokio::try_join!(self.subscriber.subscribe(channels.clone()), sharded) {
                    Ok(((), _)) => return,
                    Err(e) => tracing::warn!(error = %e, "subscribing failed; retrying"),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn relay(&self, hub: &Hub, message: Message) {
        let bytes = message.value.as_bytes().unwrap_or_default();
        match self.channels.decode(&message.channel, bytes) {
            Ok(event) => hub.send(Command::Event(Box::new(event))).await,
            Err(e) => {
                metrics::counter!("realtime_events_dropped_total", "reason" => "malformed")
                    .increment(1);
                tracing::warn!(channel = %message.channel, error = %e, "dropping a malformed event");
            }
        }
    }

    pub async fn quit(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.subscriber.quit()).await;
    }
}
