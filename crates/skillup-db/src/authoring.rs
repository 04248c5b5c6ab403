//! Course authoring: courses, modules and lessons.
//!
//! Every function takes a connection: the API opens a transaction, locks the
//! course row with one of the `*_owner` functions (which also tells it who owns
//! the course), decides whether the caller may write, then writes. Locking the
//! course row serialises structure changes per course and keeps a concurrent
//! delete from turning an insert into a foreign-key error.

use serde::Serialize;
use skillup_common::{CourseId, LessonId, ModuleId, UserId};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DbError;

/// The course a write touches, as the authorization check needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CourseOwner {
    pub course_id: CourseId,
    pub instructor_id: UserId,
    pub published: bool,
}

#[derive(sqlx::FromRow)]
struct OwnerRow {
    course_id: Uuid,
    instructor_id: Uuid,
    published: bool,
}

impl From<OwnerRow> for CourseOwner {
    fn from(r: OwnerRow) -> Self {
        Self {
            course_id: CourseId(r.course_id),
            instructor_id: UserId(r.instructor_id),
            published: r.published,
        }
    }
}

/// Locks course `id` for writing; `None` if it does not exist.
pub async fn course_owner(
    conn: &mut PgConnection,
    id: CourseId,
) -> Result<Option<CourseOwner>, DbError> {
    let row: Option<OwnerRow> = sqlx::query_as(
        "SELECT id AS course_id, instructor_id, published FROM courses WHERE id = $1 FOR UPDATE",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// Locks module `id` and its course; `None` if the module does not exist.
pub async fn module_owner(
    conn: &mut PgConnection,
    id: ModuleId,
) -> Result<Option<CourseOwner>, DbError> {
    let row: Option<OwnerRow> = sqlx::query_as(
        "SELECT c.id AS course_id, c.instructor_id, c.published \
         FROM modules m JOIN courses c ON c.id = m.course_id \
         WHERE m.id = $1 FOR UPDATE OF m, c",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// Locks lesson `id` and its course; `None` if the lesson does not exist.
pub async fn lesson_owner(
    conn: &mut PgConnection,
    id: LessonId,
) -> Result<Option<CourseOwner>, DbError> {
    let row: Option<OwnerRow> = sqlx::query_as(
        "SELECT c.id AS course_id, c.instructor_id, c.published \
         FROM lessons l JOIN modules m ON m.id = l.module_id JOIN courses c ON c.id = m.course_id \
         WHERE l.id = $1 FOR UPDATE OF l, c",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// A validated new course.
#[derive(Debug, Clone)]
pub struct NewCourse<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub price_cents: i32,
}

/// Inserts an unpublished course owned by `instructor`.
///
/// A taken slug is [`DbError::Conflict`] with constraint `courses_slug_key`.
pub async fn create_course(
    conn: &mut PgConnection,
    instructor: UserId,
    course: &NewCourse<'_>,
) -> Result<CourseId, DbError> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO courses (slug, title, description, price_cents, instructor_id, published) \
         VALUES ($1, $2, $3, $4, $5, false) RETURNING id",
    )
    .bind(course.slug)
    .bind(course.title)
    .bind(course.description)
    .bind(course.price_cents)
    .bind(instructor.0)
    .fetch_one(conn)
    .await?;
    Ok(CourseId(id))
}

/// The fields a course PATCH may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CourseChanges<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub price_cents: Option<i32>,
    pub published: Option<bool>,
}

pub async fn update_course(
    conn: &mut PgConnection,
    id: CourseId,
    changes: &CourseChanges<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE courses SET title = COALESCE($2, title), description = COALESCE($3, description), \
                price_cents = COALESCE($4, price_cents), published = COALESCE($5, published) \
         WHERE id = $1",
    )
    .bind(id.0)
    .bind(changes.title)
    .bind(changes.description)
    .bind(changes.price_cents)
    .bind(changes.published)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the course with its modules, lessons, enrollments and progress.
pub async fn delete_course(conn: &mut PgConnection, id: CourseId) -> Result<(), DbError> {
    sqlx::query("DELETE FROM courses WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// A module as the authoring routes return it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq, sqlx::FromRow)]
pub struct Module {
    pub id: Uuid,
    pub course_id: Uuid,
    pub position: i32,
    pub title: String,
}

/// Adds a module; without a position it goes after the course's last module.
pub async fn create_module(
    conn: &mut PgConnection,
    course: CourseId,
    title: &str,
    position: Option<i32>,
) -> Result<Module, DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO modules (course_id, title, position) \
         VALUES ($1, $2, COALESCE($3, (SELECT COALESCE(max(position), 0) + 1 FROM modules WHERE course_id = $1))) \
         RETURNING id, course_id, position, title",
    )
    .bind(course.0)
    .bind(title)
    .bind(position)
    .fetch_one(conn)
    .await?)
}

pub async fn update_module(
    conn: &mut PgConnection,
    id: ModuleId,
    title: Option<&str>,
    position: Option<i32>,
) -> Result<Module, DbError> {
    Ok(sqlx::query_as(
        "UPDATE modules SET title = COALESCE($2, title), position = COALESCE($3, position) \
         WHERE id = $1 RETURNING id, course_id, position, title",
    )
    .bind(id.0)
    .bind(title)
    .bind(position)
    .fetch_one(conn)
    .await?)
}

/// Deletes the module and its lessons (and progress on them).
pub async fn delete_module(conn: &mut PgConnection, id: ModuleId) -> Result<(), DbError> {
    sqlx::query("DELETE FROM modules WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// A lesson as the authoring routes return it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq, sqlx::FromRow)]
pub struct Lesson {
    pub id: Uuid,
    pub module_id: Uuid,
    pub position: i32,
    pub title: String,
    pub duration_seconds: i32,
}

/// A validated new lesson.
#[derive(Debug, Clone)]
pub struct NewLesson<'a> {
    pub title: &'a str,
    /// `None`: after the module's last lesson.
    pub position: Option<i32>,
    pub duration_seconds: i32,
}

pub async fn create_lesson(
    conn: &mut PgConnection,
    module: ModuleId,
    lesson: &NewLesson<'_>,
) -> Result<Lesson, DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO lessons (module_id, title, position, duration_seconds) \
         VALUES ($1, $2, COALESCE($3, (SELECT COALESCE(max(position), 0) + 1 FROM lessons WHERE module_id = $1)), $4) \
         RETURNING id, module_id, position, title, duration_seconds",
    )
    .bind(module.0)
    .bind(lesson.title)
    .bind(lesson.position)
    .bind(lesson.duration_seconds)
    .fetch_one(conn)
    .await?)
}

/// The fields a lesson PATCH may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct LessonChanges<'a> {
    pub title: Option<&'a str>,
    pub position: Option<i32>,
    pub duration_seconds: Option<i32>,
}

pub async fn update_lesson(
    conn: &mut PgConnection,
    id: LessonId,
    changes: &LessonChanges<'_>,
) -> Result<Lesson, DbError> {
    Ok(sqlx::query_as(
        "UPDATE lessons SET title = COALESCE($2, title), position = COALESCE($3, position), \
                duration_seconds = COALESCE($4, duration_seconds) \
         WHERE id = $1 RETURNING id, module_id, position, title, duration_seconds",
    )
    .bind(id.0)
    .bind(changes.title)
    .bind(changes.position)
    .bind(changes.duration_seconds)
    .fetch_one(conn)
    .await?)
}

pub async fn delete_lesson(conn: &mut PgConnection, id: LessonId) -> Result<(), DbError> {
    sqlx::query("DELETE FROM lessons WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}
