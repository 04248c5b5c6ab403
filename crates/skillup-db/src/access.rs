//! Who may follow a course's live events (`course:subscribe` in the realtime service).

use skillup_common::{CourseId, UserId};
use sqlx::PgPool;

use crate::DbError;

/// Whether `user` is enrolled in `course`, teaches it, or is an admin.
pub async fn may_follow(pool: &PgPool, user: UserId, course: CourseId) -> Result<bool, DbError> {
    let allowed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM enrollments WHERE user_id = $1 AND course_id = $2) \
             OR EXISTS (SELECT 1 FROM courses WHERE id = $2 AND instructor_id = $1) \
             OR EXISTS (SELECT 1 FROM profiles WHERE id = $1 AND role = 'admin')",
    )
    .bind(user.0)
    .bind(course.0)
    .fetch_one(pool)
    .await?;
    Ok(allowed)
}
