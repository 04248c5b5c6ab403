//! Redis pub/sub → local sockets.
//!
//! One fred subscriber client per node listens on `{prefix}events:progress` and
//! `{prefix}events:course`. Each message is validated and emitted to this node's
//! sockets in the event's rooms: `progress:updated` to `user:{user_id}` and
//! `course:{course_id}` together (a socket in both gets it once),
//! `course:updated` to `course:{course_id}`. Malformed messages are logged,
//! counted and dropped.
//!
//! Pub/sub keeps nothing for absent subscribers: after Redis comes back the
//! client re-subscribes and every socket receives `resync` so it refetches
//! what it may have missed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::types::Message;
use serde_json::{Value, json};
use skillup_cache::Keys;
use skillup_common::config::RedisConfig;
use skillup_common::{CourseId, UserId};
use socketioxide::SocketIo;
use tracing::Instrument;

use crate::sockets::{course_room, user_room};

/// Messages that may wait between fred and the relay loop before it lags.
const MESSAGE_BACKLOG: usize = 65_536;
/// At most one `resync` to every socket per this interval after the relay lagged.
const LAG_RESYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Largest event payload relayed; bigger messages are dropped as malformed.
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// The node's subscription; cheap to clone.
#[derive(Clone)]
pub struct Relay {
    subscriber: SubscriberClient,
    channels: Arc<Channels>,
}

/// The two channels a node listens on, and the decoding of their messages.
#[derive(Debug, Clone)]
pub struct Channels {
    progress: String,
    course: String,
}

impl Channels {
    pub fn new(keys: &Keys) -> Self {
        Self {
            progress: keys.progress_channel(),
            course: keys.course_channel(),
        }
    }

    /// Decodes one message; pure, so it is tested (and property-tested) without
    /// Redis. Anything but a JSON object of at most 64 KiB with uuid ids on a
    /// known channel is [`Malformed`].
    pub fn decode(&self, channel: &str, bytes: &[u8]) -> Result<Event, Malformed> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(Malformed::NotJson);
        }
        let payload: Value = serde_json::from_slice(bytes).map_err(|_| Malformed::NotJson)?;
        if !payload.is_object() {
            return Err(Malformed::NotJson);
        }
        if channel == self.progress {
            Ok(Event::Progress {
                user: uuid_field(&payload, "user_id")?,
                course: uuid_field(&payload, "course_id")?,
                payload,
            })
        } else if channel == self.course {
            Ok(Event::Course {
                course: uuid_field(&payload, "course_id")?,
                payload,
            })
        } else {
            Err(Malformed::Channel)
        }
    }
}

/// What a pub/sub message asks the node to emit.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Progress {
        user: UserId,
        course: CourseId,
        payload: Value,
    },
    Course {
        course: CourseId,
        payload: Value,
    },
}

/// Why a message was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Malformed {
    #[error("unknown channel")]
    Channel,
    #[error("payload is not UTF-8 JSON of at most 64 KiB")]
    NotJson,
    #[error("field {0} is missing or not a uuid")]
    Field(&'static str),
}

fn uuid_field<T: std::str::FromStr>(payload: &Value, field: &'static str) -> Result<T, Malformed> {
    payload
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or(Malformed::Field(field))
}

impl Relay {
    /// Builds the subscriber and starts connecting (returns at once; a Redis that
    /// is down is retried by fred's reconnect policy).
    pub fn new(cfg: &RedisConfig) -> Result<Self, skillup_cache::CacheError> {
        let mut builder = skillup_cache::client::builder(cfg)?;
        // fred hands messages to us through a broadcast channel (32 by default);
        // a burst larger than it makes the relay lag and drop events.
        builder.with_performance_config(|p| p.broadcast_channel_capacity = MESSAGE_BACKLOG);
        let subscriber = builder.build_subscriber_client()?;
        Ok(Self {
            subscriber,
            channels: Arc::new(Channels::new(&Keys::new(cfg.key_prefix.clone()))),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.subscriber.is_connected()
    }

    /// See [`Channels::decode`].
    pub fn decode(&self, channel: &str, bytes: &[u8]) -> Result<Event, Malformed> {
        self.channels.decode(channel, bytes)
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
    /// reconnection and then tells every socket to `resync`.
    pub fn spawn(self, io: SocketIo) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut reconnects = self.subscriber.reconnect_rx();
            let mut messages = self.subscriber.message_rx();
            if !self.subscriber.is_connected() {
                self.subscribe_until_done().await;
            }
            let mut last_lag_resync: Option<tokio::time::Instant> = None;
            loop {
                tokio::select! {
                    message = messages.recv() => match message {
                        Ok(message) => self.relay(&io, message).await,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            metrics::counter!("realtime_events_dropped_total", "reason" => "lagged").increment(n);
                            // Tell clients once, not once per lag: a resync storm to every
                            // socket would only deepen the overload that caused the lag.
                            if last_lag_resync.is_none_or(|t| t.elapsed() >= LAG_RESYNC_INTERVAL) {
                                last_lag_resync = Some(tokio::time::Instant::now());
                                tracing::warn!(dropped = n, "relay fell behind the subscriber; telling clients to resync");
                                io.emit("resync", &json!({"reason": "lagged"})).await.ok();
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    reconnect = reconnects.recv() => {
                        if reconnect.is_err() {
                            break;
                        }
                        self.subscribe_until_done().await;
                        tracing::info!("redis subscription restored; telling clients to resync");
                        metrics::counter!("realtime_resyncs_total").increment(1);
                        io.emit("resync", &json!({"reason": "redis_reconnected"})).await.ok();
                    }
                }
            }
        })
    }

    /// (Re)subscribes to both channels, waiting for the connection and retrying
    /// until Redis accepts.
    async fn subscribe_until_done(&self) {
        let channels = vec![self.channels.progress.clone(), self.channels.course.clone()];
        loop {
            if tokio::time::timeout(Duration::from_secs(2), self.subscriber.wait_for_connect())
                .await
                .is_ok_and(|r| r.is_ok())
            {
                match self.subscriber.subscribe(channels.clone()).await {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(error = %e, "subscribing failed; retrying"),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn relay(&self, io: &SocketIo, message: Message) {
        let bytes = message.value.as_bytes().unwrap_or_default();
        metrics::counter!("realtime_events_in_total").increment(1);
        let mut event = match self.decode(&message.channel, bytes) {
            Ok(event) => event,
            Err(e) => {
                metrics::counter!("realtime_events_dropped_total", "reason" => "malformed")
                    .increment(1);
                tracing::warn!(channel = %message.channel, error = %e, "dropping a malformed event");
                return;
            }
        };
        let (name, rooms, payload) = match &mut event {
            Event::Progress {
                user,
                course,
                payload,
            } => (
                "progress:updated",
                vec![user_room(*user), course_room(*course)],
                payload,
            ),
            Event::Course { course, payload } => {
                ("course:updated", vec![course_room(*course)], payload)
            }
        };
        if let Some(at) = payload
            .get("at")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        {
            let lag = (Utc::now() - at).to_std().unwrap_or_default();
            metrics::histogram!("realtime_delivery_lag_seconds").record(lag.as_secs_f64());
        }
        // A traced publisher's context: the delivery continues its trace. Clients
        // never see the field. Untraced events (the usual case without OTLP) cost
        // no span.
        let span = match payload
            .as_object_mut()
            .and_then(|o| o.remove("traceparent"))
        {
            Some(Value::String(traceparent)) => {
                let span = tracing::info_span!("socketio.deliver", otel.kind = "consumer",
                    event = name, messaging.system = "redis",
                    messaging.destination.name = %message.channel, sockets = tracing::field::Empty);
                skillup_common::telemetry::set_remote_parent(&span, &traceparent);
                span
            }
            _ => tracing::Span::none(),
        };
        let sockets = io.to(rooms.clone()).sockets().len() as u64;
        span.record("sockets", sockets);
        match io.to(rooms).emit(name, &*payload).instrument(span).await {
            Ok(()) => metrics::counter!("realtime_deliveries_total").increment(sockets),
            Err(e) => {
                // Some sockets' buffers were full or they were closing; the others got it.
                metrics::counter!("realtime_events_dropped_total", "reason" => "slow_client")
                    .increment(1);
                tracing::debug!(error = %e, event = name, "some sockets did not take the event");
            }
        }
    }

    pub async fn quit(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.subscriber.quit()).await;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn channels() -> Channels {
        Channels::new(&Keys::new("p:"))
    }

    fn uuid() -> impl Strategy<Value = uuid::Uuid> {
        any::<u128>().prop_map(uuid::Uuid::from_u128)
    }

    /// JSON values of any shape, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn oversized_messages_are_malformed() {
        let big = json!({"user_id": uuid::Uuid::new_v4(), "course_id": uuid::Uuid::new_v4(),
                         "pad": "x".repeat(MAX_EVENT_BYTES)});
        assert_eq!(
            channels().decode("p:events:progress", big.to_string().as_bytes()),
            Err(Malformed::NotJson)
        );
    }

    proptest! {
        /// Whatever bytes arrive on whatever channel, decoding never panics,
        /// and anything it accepts carries the ids it claims to.
        #[test]
        fn arbitrary_bytes_never_panic(
            channel in prop_oneof![Just("p:events:progress".to_owned()), Just("p:events:course".to_owned()), any::<String>()],
            bytes in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..512),
                json_value().prop_map(|v| v.to_string().into_bytes()),
            ],
        ) {
            match channels().decode(&channel, &bytes) {
                Ok(Event::Progress { user, course, payload }) => {
                    prop_assert_eq!(channel.as_str(), "p:events:progress");
                    prop_assert_eq!(payload["user_id"].as_str().map(str::parse), Some(Ok(user)));
                    prop_assert_eq!(payload["course_id"].as_str().map(str::parse), Some(Ok(course)));
                }
                Ok(Event::Course { course, payload }) => {
                    prop_assert_eq!(channel.as_str(), "p:events:course");
                    prop_assert_eq!(payload["course_id"].as_str().map(str::parse), Some(Ok(course)));
                }
                Err(_) => {}
            }
        }

        /// A well-formed event is accepted whatever else it carries.
        #[test]
        fn valid_events_are_accepted(
            user in uuid(),
            course in uuid(),
            extra in proptest::collection::btree_map("[a-z_]{1,12}", json_value(), 0..6),
        ) {
            let mut payload: serde_json::Map<String, Value> = extra.into_iter().collect();
            payload.insert("user_id".into(), json!(user));
            payload.insert("course_id".into(), json!(course));
            let bytes = Value::Object(payload).to_string();
            prop_assume!(bytes.len() <= MAX_EVENT_BYTES);
            // The payload is what the bytes parse to (serde_json reads some
            // long floats a ULP off their source value; the relay forwards the
            // parsed value, so compare with that, not with `payload`).
            let parsed: Value = serde_json::from_str(&bytes).unwrap();
            prop_assert_eq!(
                channels().decode("p:events:progress", bytes.as_bytes()),
                Ok(Event::Progress { user: UserId(user), course: CourseId(course), payload: parsed })
            );
            let decoded = channels().decode("p:events:course", bytes.as_bytes());
            let course_ok = matches!(decoded, Ok(Event::Course { course: c, .. }) if c == CourseId(course));
            prop_assert!(course_ok, "{:?}", decoded);
            prop_assert_eq!(channels().decode("p:events:other", bytes.as_bytes()), Err(Malformed::Channel));
        }
    }
}
