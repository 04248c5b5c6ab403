//! `skillup-events`: the one definition of every message that crosses a process
//! boundary, used by whoever writes it and whoever reads it.
//!
//! | message | channel (after the prefix) | written by | read by |
//! |---|---|---|---|
//! | [`ProgressEvent`] (`progress:updated`) | `events:progress` | the API (stored in its transaction), the invalidator (publishes) | realtime → sockets |
//! | [`CourseUpdated`] (`course:updated`) | `events:course` | the invalidator | realtime → sockets |
//! | [`Control`] | `events:control` | the invalidator (rights, heartbeat), the API (logout) | realtime |
//! | [`SessionEnded`], [`CourseUnsubscribed`], [`Resync`] | — (socket only) | realtime | browsers |
//!
//! Channel names come from `skillup_cache::Keys`. Every replayable event carries
//! an [`Offset`] (see [`offset`]).

pub mod control;
pub mod course;
pub mod offset;
pub mod progress;
pub mod socket;

pub use control::{Access, AccessReason, Control, Level};
pub use course::CourseUpdated;
pub use offset::{BadOffset, Epoch, Offset};
pub use progress::{ProgressEvent, ProgressUpdate};
pub use socket::{CourseUnsubscribed, EndReason, Resync, ResyncReason, SessionEnded};

/// Socket.IO event names.
pub mod names {
    pub const PROGRESS_UPDATED: &str = "progress:updated";
    pub const COURSE_UPDATED: &str = "course:updated";
    pub const SESSION_ENDED: &str = "session:ended";
    pub const COURSE_UNSUBSCRIBED: &str = "course:unsubscribed";
    pub const RESYNC: &str = "resync";
    pub const COURSE_SUBSCRIBE: &str = "course:subscribe";
    pub const COURSE_UNSUBSCRIBE: &str = "course:unsubscribe";
}
