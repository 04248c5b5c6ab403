//! The invalidation outbox, as the invalidator consumes it: take pending records
//! (deleted in the worker's transaction, skipping those another replica holds),
//! report the backlog, and say whether the worker wants to be woken
//! ([`set_armed`]).
//!
//! Every row in the table is pending: a record leaves it in the transaction that
//! applies it. (It used to be marked processed and pruned an hour later; that
//! cost a new row version, two index entries and a later delete per change, about
//! as much again as the writer's own insert. See `docs/benchmarks.md`, "Writers
//! and the NOTIFY lock".)

use std::time::Duration;

use chrono::{DateTime, Utc};
use skillup_common::{CourseId, UserId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::DbError;

/// The table an outbox record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Profile,
    Course,
    Module,
    Lesson,
    Enrollment,
    LessonProgress,
}

impl Entity {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "profile" => Self::Profile,
            "course" => Self::Course,
            "module" => Self::Module,
            "lesson" => Self::Lesson,
            "enrollment" => Self::Enrollment,
            "lesson_progress" => Self::LessonProgress,
            _ => return None,
        })
    }
}

/// One changed row, as the trigger recorded it. Ids are `None` where the table has
/// none (composite keys) or the change was a `TRUNCATE` (all `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub id: i64,
    /// `None` when the stored entity name is unknown to this version (a newer
    /// migration added a table): the invalidator then drops everything it could map to.
    pub entity: Option<Entity>,
    pub op: String,
    pub entity_id: Option<Uuid>,
    pub course_id: Option<CourseId>,
    pub old_course_id: Option<CourseId>,
    pub user_id: Option<UserId>,
    /// For an `UPDATE` that moved a row away from a user (a course given to
    /// another instructor): that user.
    pub old_user_id: Option<UserId>,
    /// The event an API write stored with its change (the exact progress answer
    /// it gave); `None` for changes made in SQL.
    pub payload: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl OutboxRecord {
    /// A `TRUNCATE` (or any record without ids): the whole table changed.
    pub fn is_table_wide(&self) -> bool {
        self.entity_id.is_none() && self.course_id.is_none() && self.user_id.is_none()
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    entity: String,
    op: String,
    entity_id: Option<Uuid>,
    course_id: Option<Uuid>,
    old_course_id: Option<Uuid>,
    user_id: Option<Uuid>,
    old_user_id: Option<Uuid>,
    payload: Option<serde_json::Value>,
    created_at: DateTime<Utc>,
}

impl From<Row> for OutboxRecord {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            entity: Entity::parse(&r.entity),
            op: r.op,
            entity_id: r.entity_id,
            course_id: r.course_id.map(CourseId),
            old_course_id: r.old_course_id.map(CourseId),
            user_id: r.user_id.map(UserId),
            old_user_id: r.old_user_id.map(UserId),
            payload: r.payload,
            created_at: r.created_at,
        }
    }
}

/// Takes up to `limit` pending records, oldest first, skipping records another
/// transaction holds: deletes them and returns them in id order. Call inside the
/// transaction that applies them; a rollback puts them back, still pending.
pub async fn claim(conn: &mut PgConnection, limit: i64) -> Result<Vec<OutboxRecord>, DbError> {
    let mut rows: Vec<Row> = sqlx::query_as(
        "DELETE FROM invalidation_outbox WHERE id IN ( \
             SELECT id FROM invalidation_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, entity, op, entity_id, course_id, old_course_id, user_id, old_user_id, payload, created_at",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    // RETURNING follows the plan, not the subquery's ORDER BY.
    rows.sort_unstable_by_key(|r| r.id);
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Fills in the course of `lesson_progress` records, which their trigger leaves
/// out (one lookup per batch instead of one per written row). A lesson deleted
/// meanwhile leaves its record without a course.
pub async fn with_progress_courses(
    conn: &mut PgConnection,
    mut records: Vec<OutboxRecord>,
) -> Result<Vec<OutboxRecord>, DbError> {
    let lessons: Vec<Uuid> = records
        .iter()
        .filter(|r| r.entity == Some(Entity::LessonProgress) && r.course_id.is_none())
        .filter_map(|r| r.entity_id)
        .collect();
    if lessons.is_empty() {
        return Ok(records);
    }
    let found: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT l.id, m.course_id FROM lessons l JOIN modules m ON m.id = l.module_id \
         WHERE l.id = ANY($1)",
    )
    .bind(&lessons)
    .fetch_all(conn)
    .await?;
    let courses: std::collections::HashMap<Uuid, Uuid> = found.into_iter().collect();
    for r in &mut records {
        if r.entity == Some(Entity::LessonProgress) && r.course_id.is_none() {
            r.course_id = r
                .entity_id
                .and_then(|lesson| courses.get(&lesson))
                .copied()
                .map(CourseId);
        }
    }
    Ok(records)
}

/// Says whether an invalidator sleeps until notified: while `armed`, every
/// change notifies `skillup_invalidations`; while not (a worker is draining and
/// polling), changes commit without NOTIFY and its database-wide commit lock.
pub async fn set_armed(pool: &PgPool, armed: bool) -> Result<(), DbError> {
    sqlx::query("UPDATE invalidator_wakeup SET armed = $1 WHERE armed IS DISTINCT FROM $1")
        .bind(armed)
        .execute(pool)
        .await?;
    Ok(())
}

/// The courses `user` teaches (their detail and listing entries show the profile).
pub async fn courses_taught_by(
    conn: &mut PgConnection,
    users: &[UserId],
) -> Result<Vec<CourseId>, DbError> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
    let rows: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM courses WHERE instructor_id = ANY($1)")
            .bind(&ids)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(CourseId).collect())
}

/// The users enrolled in any of `courses` (their `/api/me` snapshots show the
/// courses' titles and lesson counts).
pub async fn users_enrolled_in(
    conn: &mut PgConnection,
    courses: &[CourseId],
) -> Result<Vec<UserId>, DbError> {
    let ids: Vec<Uuid> = courses.iter().map(|c| c.0).collect();
    let rows: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT user_id FROM enrollments WHERE course_id = ANY($1)")
            .bind(&ids)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(UserId).collect())
}

/// Pending records and the age of the oldest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backlog {
    pub pending: i64,
    pub oldest_age: Option<Duration>,
}

pub async fn backlog(pool: &PgPool) -> Result<Backlog, DbError> {
    let (pending, oldest): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM clock_timestamp() - min(created_at))::float8 \
         FROM invalidation_outbox",
    )
    .fetch_one(pool)
    .await?;
    Ok(Backlog {
        pending,
        oldest_age: oldest.map(|s| Duration::from_secs_f64(s.max(0.0))),
    })
}
