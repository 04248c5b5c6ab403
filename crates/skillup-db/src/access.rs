//! Who may follow a course's live events, and how far (`course:subscribe` in the
//! realtime service; the rights the invalidator announces after a change).

use skillup_common::{CourseId, UserId};
use skillup_events::Level;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::DbError;

/// What `user` may see of `course`: [`Level::Staff`] for its instructor and for
/// admins, [`Level::Student`] for an enrolled user, `None` for anyone else (or
/// a course that does not exist).
pub async fn level(
    pool: &PgPool,
    user: UserId,
    course: CourseId,
) -> Result<Option<Level>, DbError> {
    let (staff, enrolled): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM courses WHERE id = $2 AND instructor_id = $1) \
             OR (EXISTS (SELECT 1 FROM profiles WHERE id = $1 AND role = 'admin') \
                 AND EXISTS (SELECT 1 FROM courses WHERE id = $2)), \
                EXISTS (SELECT 1 FROM enrollments WHERE user_id = $1 AND course_id = $2)",
    )
    .bind(user.0)
    .bind(course.0)
    .fetch_one(pool)
    .await?;
    Ok(if staff {
        Some(Level::Staff)
    } else if enrolled {
        Some(Level::Student)
    } else {
        None
    })
}

/// The levels of many `(user, course)` pairs in one query (a node checking every
/// subscription again after a table-wide change); pairs with no right are left out.
pub async fn levels(
    pool: &PgPool,
    pairs: &[(UserId, CourseId)],
) -> Result<Vec<(UserId, CourseId, Level)>, DbError> {
    let users: Vec<Uuid> = pairs.iter().map(|(u, _)| u.0).collect();
    let courses: Vec<Uuid> = pairs.iter().map(|(_, c)| c.0).collect();
    let rows: Vec<(Uuid, Uuid, bool, bool)> = sqlx::query_as(
        "SELECT p.user_id, p.course_id, \
                EXISTS (SELECT 1 FROM courses c WHERE c.id = p.course_id AND c.instructor_id = p.user_id) \
                 OR (EXISTS (SELECT 1 FROM profiles pr WHERE pr.id = p.user_id AND pr.role = 'admin') \
                     AND EXISTS (SELECT 1 FROM courses c WHERE c.id = p.course_id)), \
                EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = p.user_id AND e.course_id = p.course_id) \
         FROM unnest($1::uuid[], $2::uuid[]) AS p(user_id, course_id)",
    )
    .bind(&users)
    .bind(&courses)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(u, c, staff, enrolled)| {
            let level = if staff {
                Level::Staff
            } else if enrolled {
                Level::Student
            } else {
                return None;
            };
            Some((UserId(u), CourseId(c), level))
        })
        .collect())
}

/// Everything one user may follow: the invalidator's view after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    pub user: UserId,
    pub admin: bool,
    pub teaches: Vec<CourseId>,
    pub enrolled: Vec<CourseId>,
}

/// The rights of each of `users`, in one query. A user without a profile has
/// none (every list empty).
pub async fn rights(conn: &mut PgConnection, users: &[UserId]) -> Result<Vec<Rights>, DbError> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
    let rows: Vec<(Uuid, bool, Vec<Uuid>, Vec<Uuid>)> = sqlx::query_as(
        "SELECT u.id, \
                COALESCE((SELECT role = 'admin' FROM profiles WHERE id = u.id), false), \
                ARRAY(SELECT id FROM courses WHERE instructor_id = u.id ORDER BY id), \
                ARRAY(SELECT course_id FROM enrollments WHERE user_id = u.id ORDER BY course_id) \
         FROM unnest($1::uuid[]) AS u(id)",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(user, admin, teaches, enrolled)| Rights {
            user: UserId(user),
            admin,
            teaches: teaches.into_iter().map(CourseId).collect(),
            enrolled: enrolled.into_iter().map(CourseId).collect(),
        })
        .collect())
}
