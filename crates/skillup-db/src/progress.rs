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
/// Returns whether a row changed (`false`: it already was in that state).
pub async fn set_completed(
    conn: &mut PgConnection,
    user: UserId,
    lesson: LessonId,
    completed: bool,
) -> Result<bool, DbError> {
    let query = if completed {
        "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM lesson_progress WHERE user_id = $1 AND lesson_id = $2"
    };
    let done = sqlx::query(query)
        .bind(user.0)
        .bind(lesson.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Stores the `progress:updated` event of an API write with it, in its
/// transaction, so the invalidator publishes exactly this answer once the write
/// commits (and nothing if it rolls back).
///
/// When [`set_completed`] changed a row, its trigger has just written the
/// outbox record in this session, and the event goes onto that record (found
/// with `currval` of the outbox's identity sequence, which is this session's
/// own). A repeat of the current state changed nothing and fired no trigger: it
/// gets a record of its own, so every answered PUT has its event.
pub async fn record_event(
    conn: &mut PgConnection,
    changed: bool,
    user: UserId,
    lesson: LessonId,
    course: CourseId,
    event: &serde_json::Value,
) -> Result<(), DbError> {
    if changed {
        sqlx::query(
            // currval() is volatile: compared directly it is evaluated per row (a
            // sequential scan of the outbox); as a scalar subquery it is computed
            // once and the primary key is used.
            "UPDATE invalidation_outbox SET payload = $1 \
             WHERE id = (SELECT currval(pg_get_serial_sequence('invalidation_outbox', 'id')))",
        )
        .bind(event)
        .execute(conn)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO invalidation_outbox (entity, op, entity_id, course_id, user_id, payload) \
             VALUES ('lesson_progress', 'UPDATE', $1, $2, $3, $4)",
        )
        .bind(lesson.0)
        .bind(course.0)
        .bind(user.0)
        .bind(event)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Completed and total lessons of each `(user, course)` pair, in one query (the
/// invalidator's events for progress changed in SQL).
pub async fn counts(
    conn: &mut PgConnection,
    pairs: &[(UserId, CourseId)],
) -> Result<Vec<(UserId, CourseId, i64, i64)>, DbError> {
    let users: Vec<Uuid> = pairs.iter().map(|(u, _)| u.0).collect();
    let courses: Vec<Uuid> = pairs.iter().map(|(_, c)| c.0).collect();
    // Each course's lessons once, then per pair one index scan of
    // lesson_progress on (user_id, lesson_id = ANY(…)): the planner's first
    // choice for a join (every lesson's progress rows, filtered by user) took
    // five times as long on a busy table (EXPLAIN ANALYZE in docs/benchmarks.md).
    let rows: Vec<(Uuid, Uuid, i64, i64)> = sqlx::query_as(
        "WITH p AS (SELECT DISTINCT user_id, course_id FROM unnest($1::uuid[], $2::uuid[]) AS p(user_id, course_id)), \
              cl AS MATERIALIZED (SELECT m.course_id, array_agg(l.id) AS lessons \
                                  FROM modules m JOIN lessons l ON l.module_id = m.id \
                                  WHERE m.course_id IN (SELECT course_id FROM p) GROUP BY m.course_id) \
         SELECT p.user_id, p.course_id, \
                (SELECT count(*) FROM lesson_progress lp \
                  WHERE lp.user_id = p.user_id AND lp.lesson_id = ANY(cl.lessons)), \
                cardinality(cl.lessons)::bigint \
         FROM p JOIN cl ON cl.course_id = p.course_id",
    )
    .bind(&users)
    .bind(&courses)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(u, c, done, total)| (UserId(u), CourseId(c), done, total))
        .collect())
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
    // The course's lessons first, then one index scan of lesson_progress on
    // (user_id, lesson_id = ANY(…)); joined the other way round the planner read
    // every lesson's progress rows and filtered them by user (7 ms instead of 1 ms
    // on a table of 100,000 rows).
    let completed: Vec<Uuid> = sqlx::query_scalar(
        "WITH cl AS MATERIALIZED (SELECT l.id, m.position AS mp, m.id AS mid, l.position AS lp \
                                  FROM modules m JOIN lessons l ON l.module_id = m.id \
                                  WHERE m.course_id = $2) \
         SELECT cl.id FROM cl \
         WHERE cl.id IN (SELECT p.lesson_id FROM lesson_progress p \
                          WHERE p.user_id = $1 AND p.lesson_id = ANY(ARRAY(SELECT id FROM cl))) \
         ORDER BY cl.mp, cl.mid, cl.lp, cl.id",
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
