//! Events the realtime service emits that no Redis message carries as is.

use serde::{Deserialize, Serialize};
use skillup_common::CourseId;

/// `session:ended`, then the server disconnects the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnded {
    pub reason: EndReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `POST /api/auth/logout` signed the session out: do not reconnect with it.
    Revoked,
    /// The token's `exp` passed: reconnect with a fresh token (and the offset).
    Expired,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// `course:unsubscribed`: the socket lost the right to follow the course and
/// gets none of its events from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseUnsubscribed {
    pub course_id: CourseId,
}

/// `resync`: events may have been missed that cannot be replayed; refetch over REST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resync {
    pub reason: ResyncReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// The offset the client gave is older than the replay window.
    TooOld,
    /// The offset is not one this stream wrote (another epoch, or garbage).
    UnknownOffset,
    /// More events were missed than one socket's buffer can take at once.
    TooMany,
    /// The node could not recover what it missed (Postgres unreachable, or
    /// the events were pruned).
    Lost,
}
