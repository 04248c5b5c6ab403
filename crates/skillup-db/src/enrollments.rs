//! Enrolling and unenrolling. `enrollment_count` is always computed by query
//! (see [`crate::courses::detail`]), so it stays exact under concurrency.

use chrono::{DateTime, Utc};
use skillup_common::{CourseId, UserId};
use sqlx::{PgConnection, PgPool};

use crate::DbError;

/// The result of [`enroll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolled {
    /// Newly enrolled at this time.
    Created(DateTime<Utc>),
    /// The user was enrolled already.
    Already,
    /// No such course, or it is unpublished.
    NoCourse,
}

/// Enrolls `user` in the published course `course`.
///
/// The course row is locked `FOR KEY SHARE` first: enrollments do not block each
/// other, and a concurrent delete of the course cannot turn the insert into a
/// foreign-key error.
pub async fn enroll(
    conn: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<Enrolled, DbError> {
    let published: Option<bool> =
        sqlx::query_scalar("SELECT published FROM courses WHERE id = $1 FOR KEY SHARE")
            .bind(course.0)
            .fetch_optional(&mut *conn)
            .await?;
    if published != Some(true) {
        return Ok(Enrolled::NoCourse);
    }
    let at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "INSERT INTO enrollments (user_id, course_id) VALUES ($1, $2) \
         ON CONFLICT DO NOTHING RETURNING enrolled_at",
    )
    .bind(user.0)
    .bind(course.0)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(at.map_or(Enrolled::Already, Enrolled::Created))
}

/// Removes the enrollment; `false` if there was none. Progress rows are kept, so
/// enrolling again restores it.
pub async fn unenroll(pool: &PgPool, user: UserId, course: CourseId) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM enrollments WHERE user_id = $1 AND course_id = $2")
        .bind(user.0)
        .bind(course.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Everyone enrolled in `course` (their `/api/me` snapshots show the course).
pub async fn enrolled_users(
    conn: &mut PgConnection,
    course: CourseId,
) -> Result<Vec<UserId>, DbError> {
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT user_id FROM enrollments WHERE course_id = $1")
            .bind(course.0)
            .fetch_all(conn)
            .await?;
    Ok(ids.into_iter().map(UserId).collect())
}
