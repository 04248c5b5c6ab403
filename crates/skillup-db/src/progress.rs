//! Lesson progress: who may report it, recording it, and the counts every
//! progress answer carries.
//!
//! Functions take a connection so the API runs a check, the change and the
//! counts in one transaction and publishes the event only after it commits.

use serde::Serialize;
use skillup_common::{CourseId, LessonId, UserId};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DbError;

/// Completed share in percent, rounded to one decimal (`2/3` → `66.7`); 0 for a
/// course without lessons.
pub fn percent(completed: i64, total: i64) -> f64 {
    if total <= 0 {
        return 0.0;
    }
    // Counts are far below 2^53: the conversion is exact.
    #[expect(clippy::cast_precision_loss, reason = "lesson counts are small")]
    let ratio = completed as f64 * 1000.0 / total as f64;
    ratio.round() / 10.0
}

/// What the caller's relation to a course is, for the progress routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CourseAccess {
    pub published: bool,
    pub enrolled: bool,
}

/// `None` if the course does not exist.
pub async fn access(
    conn: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<Option<CourseAccess>, DbError> {
    let row: Option<(bool, bool)> = sqlx::query_as(
        "SELECT c.published, \
                EXISTS (SELECT 1 FROM enrollments e WHERE e.course_id = c.id AND e.user_id = $2) \
         FROM courses c WHERE c.id = $1",
    )
    .bind(course.0)
    .bind(user.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(published, enrolled)| CourseAccess {
        published,
        enrolled,
    }))
}

/// Whether `lesson` belongs to `course`. Locks the lesson row (`KEY SHARE`) so it
/// cannot be deleted before the transaction records progress on it.
pub async fn lesson_in_course(
    conn: &mut PgConnection,
    lesson: LessonId,
    course: CourseId,
) -> Result<bool, DbError> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM lessons l JOIN modules m ON m.id = l.module_id \
         WHERE l.id = $1 AND m.course_id = $2 FOR KEY SHARE OF l",
    )
    .bind(lesson.0)
    .bind(course.0)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Marks `lesson` completed (keeping the first completion time) or not completed.
pub async fn set_completed(
    conn: &mut PgConnection,
    user: UserId,
    lesson: LessonId,
    completed: bool,
) -> Result<(), DbError> {
    let query = if completed {
        "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM lesson_progress WHERE user_id = $1 AND lesson_id = $2"
    };
    sqlx::query(query)
        .bind(user.0)
        .bind(lesson.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user's progress in one course.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CourseProgress {
    pub course_id: Uuid,
    /// In course order (module position, then lesson position).
    pub completed_lesson_ids: Vec<Uuid>,
    pub completed_lessons: i64,
    pub total_lessons: i64,
    /// 0–100, one decimal.
    pub percent: f64,
}

/// The completed lessons of `user` in `course` and the course's lesson count.
pub async fn course_progress(
    conn: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<CourseProgress, DbError> {
    let completed: Vec<Uuid> = sqlx::query_scalar(
        "SELECT l.id FROM lesson_progress p \
           JOIN lessons l ON l.id = p.lesson_id JOIN modules m ON m.id = l.module_id \
         WHERE p.user_id = $1 AND m.course_id = $2 \
         ORDER BY m.position, m.id, l.position, l.id",
    )
    .bind(user.0)
    .bind(course.0)
    .fetch_all(&mut *conn)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM lessons l JOIN modules m ON m.id = l.module_id WHERE m.course_id = $1",
    )
    .bind(course.0)
    .fetch_one(&mut *conn)
    .await?;
    let done = i64::try_from(completed.len()).unwrap_or(i64::MAX);
    Ok(CourseProgress {
        course_id: course.0,
        completed_lesson_ids: completed,
        completed_lessons: done,
        total_lessons: total,
        percent: percent(done, total),
    })
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percent_has_one_decimal_and_handles_empty_courses() {
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(0, 40), 0.0);
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(2, 3), 66.7);
        assert_eq!(percent(1, 8), 12.5);
        assert_eq!(percent(40, 40), 100.0);
    }
}
