//! Course reads. All SQL takes bound parameters; ids arrive as typed values.

use chrono::{DateTime, Utc};
use skillup_common::CourseId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::DbError;
use crate::models::{CourseDetail, CourseSummary, InstructorRef, LessonView, ModuleView};

/// A course summary as the catalogue queries read it (see [`crate::catalogue`]).
#[derive(sqlx::FromRow)]
pub(crate) struct SummaryRow {
    id: Uuid,
    slug: String,
    title: String,
    description: String,
    price_cents: i32,
    instructor_id: Uuid,
    instructor_name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<SummaryRow> for CourseSummary {
    fn from(r: SummaryRow) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            title: r.title,
            description: r.description,
            price_cents: r.price_cents,
            instructor: InstructorRef {
                id: r.instructor_id,
                display_name: r.instructor_name,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    id: Uuid,
    slug: String,
    title: String,
    description: String,
    price_cents: i32,
    published: bool,
    instructor_id: Uuid,
    instructor_name: String,
    enrollment_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OutlineRow {
    module_id: Uuid,
    module_position: i32,
    module_title: String,
    lesson_id: Option<Uuid>,
    lesson_position: Option<i32>,
    lesson_title: Option<String>,
    duration_seconds: Option<i32>,
}

/// The full course detail, published or not; `None` if no such course.
///
/// Callers decide who may see an unpublished course. Two statements run in one
/// transaction so the outline and the header are read from one snapshot.
pub async fn detail(pool: &PgPool, id: CourseId) -> Result<Option<CourseDetail>, DbError> {
    let mut tx = crate::pool::begin_snapshot(pool).await?;
    let Some(row): Option<DetailRow> = sqlx::query_as(
        "SELECT c.id, c.slug, c.title, c.description, c.price_cents, c.published, \
                p.id AS instructor_id, p.display_name AS instructor_name, \
                (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id) AS enrollment_count, \
                c.created_at, c.updated_at \
         FROM courses c JOIN profiles p ON p.id = c.instructor_id \
         WHERE c.id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await?
    else {
        tx.commit().await?;
        return Ok(None);
    };
    let outline: Vec<OutlineRow> = sqlx::query_as(
        "SELECT m.id AS module_id, m.position AS module_position, m.title AS module_title, \
                l.id AS lesson_id, l.position AS lesson_position, l.title AS lesson_title, l.duration_seconds \
         FROM modules m LEFT JOIN lessons l ON l.module_id = m.id \
         WHERE m.course_id = $1 \
         ORDER BY m.position, m.id, l.position, l.id",
    )
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut modules: Vec<ModuleView> = Vec::new();
    for r in outline {
        if modules.last().is_none_or(|m| m.id != r.module_id) {
            modules.push(ModuleView {
                id: r.module_id,
                position: r.module_position,
                title: r.module_title,
                lessons: Vec::new(),
            });
        }
        if let (Some(id), Some(position), Some(title), Some(duration_seconds), Some(module)) = (
            r.lesson_id,
            r.lesson_position,
            r.lesson_title,
            r.duration_seconds,
            modules.last_mut(),
        ) {
            module.lessons.push(LessonView {
                id,
                position,
                title,
                duration_seconds,
            });
        }
    }
    Ok(Some(CourseDetail {
        id: row.id,
        slug: row.slug,
        title: row.title,
        description: row.description,
        price_cents: row.price_cents,
        published: row.published,
        instructor: InstructorRef {
            id: row.instructor_id,
            display_name: row.instructor_name,
        },
        enrollment_count: row.enrollment_count,
        modules,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}
