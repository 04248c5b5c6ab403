//! `course:updated`: a course's content changed; subscribers refetch it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Offset;

/// The `course:updated` event, on `{prefix}events:course` and on the socket.
/// Published by the invalidator for every course, module or lesson change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseUpdated {
    pub course_id: Uuid,
    /// When the invalidator applied the change (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Offset>,
}
