//! What a user may see of a course: the check behind `course:subscribe`.
//!
//! Answered from the cached `user:{id}` snapshot (role, enrollments) and
//! `course:{id}` detail (instructor) when they settle it, else from Postgres.
//! Both entries are invalidated by the invalidator before it announces a
//! rights change, so a cached answer is never older than the last change the
//! hub has applied (see `hub::Subscription::checked_after`).

use serde::Deserialize;
use skillup_cache::{Cache, CacheKey};
use skillup_common::{CourseId, UserId};
use skillup_events::Level;
use uuid::Uuid;

use crate::state::AppState;

#[derive(Deserialize)]
struct Snapshot {
    profile: SnapshotProfile,
    enrollments: Vec<SnapshotEnrollment>,
}

#[derive(Deserialize)]
struct SnapshotProfile {
    role: String,
}

#[derive(Deserialize)]
struct SnapshotEnrollment {
    course_id: Uuid,
}

#[derive(Deserialize)]
struct Detail {
    instructor: DetailInstructor,
}

#[derive(Deserialize)]
struct DetailInstructor {
    id: Uuid,
}

async fn cached<T: serde::de::DeserializeOwned>(cache: &Cache, key: &CacheKey) -> Option<T> {
    let bytes = cache.get(key).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// [`Level::Staff`] for the course's instructor and admins, [`Level::Student`]
/// for an enrolled user, `None` otherwise.
pub async fn level(
    state: &AppState,
    user: UserId,
    course: CourseId,
) -> Result<Option<Level>, skillup_db::DbError> {
    let keys = state.cache.keys();
    let snapshot: Option<Snapshot> = cached(&state.cache, &keys.user(user)).await;
    if snapshot.as_ref().is_some_and(|s| s.profile.role == "admin") {
        return Ok(Some(Level::Staff));
    }
    if let Some(detail) = cached::<Detail>(&state.cache, &keys.course(course)).await {
        if detail.instructor.id == user.0 {
            return Ok(Some(Level::Staff));
        }
        if snapshot.is_some_and(|s| s.enrollments.iter().any(|e| e.course_id == course.0)) {
            return Ok(Some(Level::Student));
        }
    }
    skillup_db::access::level(&state.db, user, course).await
}
