//! Messages as the node handles them: decoded once from a Redis message or a
//! `realtime_events` row, then delivered, kept for replay, or applied to rights.
//!
//! Decoding is pure, so it is tested (and property-tested) without Redis:
//! anything but a JSON object of at most 64 KiB (1 MiB on the control channel)
//! with uuid ids on a known channel is [`Malformed`].

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use skillup_cache::Keys;
use skillup_common::{CourseId, UserId};
use skillup_db::events::{Kind, StoredEvent};
use skillup_events::{Access, Control, Offset};

/// Largest event payload relayed; bigger messages are dropped as malformed.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Largest control message (an instructor's rights list can be long).
pub const MAX_CONTROL_BYTES: usize = 1024 * 1024;

/// A JSON payload kept as the bytes it arrived as, emitted verbatim.
#[derive(Debug, Clone)]
pub struct Json(pub Box<RawValue>);

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Json {
    pub fn raw(&self) -> &RawValue {
        &self.0
    }
}

/// What a message asks the node to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `progress:updated` for `user`'s own sockets and `course`'s staff.
    Progress {
        user: UserId,
        course: CourseId,
        json: Json,
    },
    /// `course:updated` for every subscriber of `course`.
    Course {
        course: CourseId,
        json: Json,
    },
    Access(Access),
    CourseRemoved(CourseId),
    RightsReset,
    /// Not sequenced: end every socket of this session.
    SessionRevoked(String),
    /// Not sequenced: the stream's head.
    Heartbeat(Offset),
}

/// A decoded message: its body, its place in the stream (`None`: another
/// publisher's live-only message, or an unsequenced control message), and the
/// publisher's trace context.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub offset: Option<Offset>,
    pub body: Body,
    pub traceparent: Option<String>,
    /// When the change was made, for the delivery lag metric.
    pub at: Option<DateTime<Utc>>,
}

impl Event {
    /// The Socket.IO event name and payload, for events sockets receive.
    pub fn emitted(&self) -> Option<(&'static str, &RawValue)> {
        match &self.body {
            Body::Progress { json, .. } => {
                Some((skillup_events::names::PROGRESS_UPDATED, json.raw()))
            }
            Body::Course { json, .. } => Some((skillup_events::names::COURSE_UPDATED, json.raw())),
            _ => None,
        }
    }
}

/// Why a message was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Malformed {
    #[error("unknown channel")]
    Channel,
    #[error("payload is not UTF-8 JSON of the allowed size")]
    NotJson,
    #[error("field {0} is missing or not a uuid")]
    Field(&'static str),
    #[error("offset is not one of this stream's")]
    Offset,
    #[error("not a control message this version knows")]
    Control,
}

/// The fields routing needs; everything else is relayed untouched.
#[derive(Deserialize)]
struct Route<'a> {
    #[serde(borrow, default)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    course_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    offset: Option<&'a RawValue>,
    #[serde(default)]
    traceparent: Option<String>,
    #[serde(borrow, default)]
    at: Option<&'a RawValue>,
}

/// The channels a node listens on, and the decoding of their messages.
#[derive(Debug, Clone)]
pub struct Channels {
    pub progress: String,
    pub course: String,
    pub control: String,
}

impl Channels {
    pub fn new(keys: &Keys) -> Self {
        Self {
            progress: keys.progress_channel(),
            course: keys.course_channel(),
            control: keys.control_channel(),
        }
    }

    pub fn all(&self) -> Vec<String> {
        vec![
            self.progress.clone(),
            self.course.clone(),
            self.control.clone(),
        ]
    }

    /// Decodes one message of `channel`.
    pub fn decode(&self, channel: &str, bytes: &[u8]) -> Result<Event, Malformed> {
        if channel == self.progress {
            decode_payload(bytes, true)
        } else if channel == self.course {
            decode_payload(bytes, false)
        } else if channel == self.control {
            decode_control(bytes)
        } else {
            Err(Malformed::Channel)
        }
    }
}

/// Decodes a stored event (the same JSON as its publish).
pub fn decode_stored(stored: &StoredEvent) -> Result<Event, Malformed> {
    let bytes = stored.body.as_bytes();
    match stored.kind {
        Kind::Progress => decode_payload(bytes, true),
        Kind::Course => decode_payload(bytes, false),
        Kind::Access | Kind::CourseRemoved | Kind::RightsReset => decode_control(bytes),
    }
}

fn uuid_of<T: std::str::FromStr>(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<T, Malformed> {
    raw.and_then(|r| serde_json::from_str::<&str>(r.get()).ok())
        .and_then(|s| s.parse().ok())
        .ok_or(Malformed::Field(field))
}

fn decode_payload(bytes: &[u8], progress: bool) -> Result<Event, Malformed> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(Malformed::NotJson);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Malformed::NotJson)?;
    if !text.trim_start().starts_with('{') {
        return Err(Malformed::NotJson);
    }
    let route: Route<'_> = serde_json::from_str(text).map_err(|_| Malformed::NotJson)?;
    let course: CourseId = uuid_of(route.course_id, "course_id")?;
    let user: Option<UserId> = if progress {
        Some(uuid_of(route.user_id, "user_id")?)
    } else {
        None
    };
    let offset = match route.offset {
        None => None,
        Some(raw) => Some(
            serde_json::from_str::<&str>(raw.get())
                .ok()
                .and_then(|s| s.parse::<Offset>().ok())
                .ok_or(Malformed::Offset)?,
        ),
    };
    let at = route
        .at
        .and_then(|raw| serde_json::from_str::<&str>(raw.get()).ok())
        .and_then(|s| s.parse().ok());
    let traceparent = route.traceparent;
    // Browsers never see the trace context: the (rare) traced message is
    // re-serialized without it; every other one is relayed as its bytes.
    let json = Json(if traceparent.is_some() {
        let mut object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|_| Malformed::NotJson)?;
        object.remove("traceparent");
        serde_json::value::to_raw_value(&object).map_err(|_| Malformed::NotJson)?
    } else {
        RawValue::from_string(text.to_owned()).map_err(|_| Malformed::NotJson)?
    });
    let body = match user {
        Some(user) => Body::Progress { user, course, json },
        None => Body::Course { course, json },
    };
    Ok(Event {
        offset,
        body,
        traceparent,
        at,
    })
}

fn decode_control(bytes: &[u8]) -> Result<Event, Malformed> {
    if bytes.len() > MAX_CONTROL_BYTES {
        return Err(Malformed::NotJson);
    }
    let control: Control = serde_json::from_slice(bytes).map_err(|_| Malformed::Control)?;
    let (offset, body) = match control {
        Control::Access(access) => (Some(access.offset), Body::Access(access)),
        Control::CourseRemoved { course_id, offset } => {
            (Some(offset), Body::CourseRemoved(course_id))
        }
        Control::RightsReset { offset } => (Some(offset), Body::RightsReset),
        Control::SessionRevoked { revocation_id } => (None, Body::SessionRevoked(revocation_id)),
        Control::Heartbeat { last } => (None, Body::Heartbeat(last)),
    };
    Ok(Event {
        offset,
        body,
        traceparent: None,
        at: None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

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

    fn emitted(event: &Event) -> Value {
        serde_json::from_str(event.emitted().expect("emitted").1.get()).unwrap()
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

    #[test]
    fn the_trace_context_is_taken_off_and_the_offset_read() {
        let (user, course) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let offset = "0000abcd-0000000000000007";
        let message = json!({"user_id": user, "course_id": course, "percent": 50.0,
            "offset": offset, "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"});
        let event = channels()
            .decode("p:events:progress", message.to_string().as_bytes())
            .unwrap();
        assert_eq!(event.offset, Some(offset.parse().unwrap()));
        assert!(event.traceparent.is_some());
        let out = emitted(&event);
        assert_eq!(out.get("traceparent"), None);
        assert_eq!(out["offset"], offset);
        assert_eq!(out["percent"], 50.0);
        let bad = json!({"user_id": user, "course_id": course, "offset": "7"});
        assert_eq!(
            channels().decode("p:events:progress", bad.to_string().as_bytes()),
            Err(Malformed::Offset)
        );
    }

    #[test]
    fn control_messages_decode_by_type() {
        let beat = r#"{"type":"heartbeat","last":"0000abcd-0000000000000009"}"#;
        assert_eq!(
            channels()
                .decode("p:events:control", beat.as_bytes())
                .unwrap()
                .body,
            Body::Heartbeat("0000abcd-0000000000000009".parse().unwrap())
        );
        assert_eq!(
            channels().decode("p:events:control", br#"{"type":"nope"}"#),
            Err(Malformed::Control)
        );
    }

    proptest! {
        /// Whatever bytes arrive on whatever channel, decoding never panics,
        /// and anything it accepts carries the ids it claims to.
        #[test]
        fn arbitrary_bytes_never_panic(
            channel in prop_oneof![Just("p:events:progress".to_owned()), Just("p:events:course".to_owned()),
                                   Just("p:events:control".to_owned()), any::<String>()],
            bytes in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..512),
                json_value().prop_map(|v| v.to_string().into_bytes()),
            ],
        ) {
            if let Ok(event) = channels().decode(&channel, &bytes) {
                match &event.body {
                    Body::Progress { user, course, .. } => {
                        prop_assert_eq!(channel.as_str(), "p:events:progress");
                        let payload = emitted(&event);
                        prop_assert_eq!(payload["user_id"].as_str().map(str::parse), Some(Ok(*user)));
                        prop_assert_eq!(payload["course_id"].as_str().map(str::parse), Some(Ok(*course)));
                    }
                    Body::Course { course, .. } => {
                        prop_assert_eq!(channel.as_str(), "p:events:course");
                        let payload = emitted(&event);
                        prop_assert_eq!(payload["course_id"].as_str().map(str::parse), Some(Ok(*course)));
                    }
                    _ => prop_assert_eq!(channel.as_str(), "p:events:control"),
                }
            }
        }

        /// A well-formed event is accepted whatever else it carries, and relayed
        /// as it was published.
        #[test]
        fn valid_events_are_accepted(
            user in uuid(),
            course in uuid(),
            extra in proptest::collection::btree_map("[a-z_]{1,12}", json_value(), 0..6),
        ) {
            let mut payload: serde_json::Map<String, Value> = extra.into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "offset" | "traceparent" | "at"))
                .collect();
            payload.insert("user_id".into(), json!(user));
            payload.insert("course_id".into(), json!(course));
            let bytes = Value::Object(payload).to_string();
            prop_assume!(bytes.len() <= MAX_EVENT_BYTES);
            let decoded = channels().decode("p:events:progress", bytes.as_bytes()).unwrap();
            prop_assert_eq!(decoded.offset, None);
            let relayed = decoded.emitted().unwrap().1.get().to_owned();
            prop_assert_eq!(relayed, bytes.clone());
            let is_course = matches!(channels().decode("p:events:course", bytes.as_bytes()),
                Ok(Event { body: Body::Course { course: c, .. }, .. }) if c == CourseId(course));
            prop_assert!(is_course);
            prop_assert_eq!(channels().decode("p:events:other", bytes.as_bytes()), Err(Malformed::Channel));
        }
    }
}
