//! `progress:updated`: a learner's progress in one course changed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Offset;

/// The answer of `PUT /api/courses/{id}/lessons/{lesson_id}/progress`, and the
/// body of its event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProgressUpdate {
    pub course_id: Uuid,
    pub lesson_id: Uuid,
    pub completed: bool,
    pub completed_lessons: i64,
    pub total_lessons: i64,
    /// 0–100, one decimal.
    pub percent: f64,
}

/// The `progress:updated` event, on `{prefix}events:progress` and on the socket.
///
/// An API write stores it (without `offset`) in its own transaction; the
/// invalidator gives it its offset when it drains the outbox and publishes it.
/// A change made in SQL gets one built by the invalidator from the row and the
/// counts at drain time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProgressEvent {
    #[serde(flatten)]
    pub update: ProgressUpdate,
    pub user_id: Uuid,
    /// When the change was made (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    /// Its place in the replayable stream; absent on messages of other publishers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub offset: Option<Offset>,
    /// The W3C trace context of the publish, when traces are exported: the
    /// realtime service continues the trace with its delivery and strips this
    /// field before emitting to sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}
