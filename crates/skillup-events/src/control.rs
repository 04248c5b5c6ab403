//! Messages between the services on `{prefix}events:control`, never sent to a
//! browser: who may follow which course now, sessions signed out, and the
//! stream's heartbeat.

use serde::{Deserialize, Serialize};
use skillup_common::{CourseId, UserId};

use crate::Offset;

/// One message on the control channel, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// A user's rights changed (enrollment, a course given or taken, the role):
    /// what they may follow now. Sequenced like the events, so it applies
    /// before any event committed after the change.
    Access(Access),
    /// A course was deleted: nobody follows it any more.
    CourseRemoved { course_id: CourseId, offset: Offset },
    /// A table the rights come from was truncated: every subscription is
    /// checked again.
    RightsReset { offset: Offset },
    /// `POST /api/auth/logout` revoked this session (published by the API in the
    /// same script that stores the revocation; not sequenced).
    SessionRevoked { revocation_id: String },
    /// The last offset committed, published by the invalidator every second, so
    /// a node that missed a publish learns of it and fetches the gap.
    Heartbeat { last: Offset },
}

/// Everything a user may follow, as the invalidator read it after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub user_id: UserId,
    /// An admin is staff of every course.
    pub admin: bool,
    /// Courses this user teaches (staff: sees every learner's progress).
    pub teaches: Vec<CourseId>,
    /// Courses this user is enrolled in (sees the course's updates, and their
    /// own progress in their own room).
    pub enrolled: Vec<CourseId>,
    /// Why it changed, for the `realtime_unsubscribed_total` metric.
    pub reason: AccessReason,
    pub offset: Offset,
}

/// What kind of change produced an [`Access`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessReason {
    Enrollment,
    Reassigned,
    Role,
}

impl AccessReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrollment => "unenrolled",
            Self::Reassigned => "reassigned",
            Self::Role => "role_changed",
        }
    }
}

/// How far a subscriber may see into a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Enrolled: the course's updates; their own progress arrives in their room.
    Student,
    /// The course's instructor or an admin: also every learner's progress.
    Staff,
}

impl Access {
    /// What this user may see of `course` now (`None`: nothing, unsubscribe).
    pub fn level(&self, course: CourseId) -> Option<Level> {
        if self.admin || self.teaches.contains(&course) {
            Some(Level::Staff)
        } else if self.enrolled.contains(&course) {
            Some(Level::Student)
        } else {
            None
        }
    }
}
