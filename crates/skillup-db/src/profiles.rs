//! Profiles: the role every authorization decision reads, the profile a new
//! token holder gets on first use, and the `/api/me` snapshot.
//!
//! The role always comes from `profiles.role`, never from a token, so changing a
//! role in SQL takes effect on the user's next request.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use skillup_common::UserId;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DbError;
use crate::progress::percent;

/// What a profile may do; `profiles.role` (a CHECK constraint keeps it to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Student,
    Instructor,
    Admin,
}

impl Role {
    /// Instructors and admins author courses; students cannot.
    pub fn may_author(self) -> bool {
        matches!(self, Self::Instructor | Self::Admin)
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "student" => Ok(Self::Student),
            "instructor" => Ok(Self::Instructor),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// A profile as `/api/me` shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Profile {
    pub id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: Uuid,
    email: Option<String>,
    display_name: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<ProfileRow> for Profile {
    type Error = DbError;

    fn try_from(r: ProfileRow) -> Result<Self, DbError> {
        let role = r
            .role
            .parse()
            .map_err(|e: String| DbError::Other(sqlx::Error::Decode(e.into())))?;
        Ok(Self {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            role,
            created_at: r.created_at,
        })
    }
}

const PROFILE_COLUMNS: &str =
    "SELECT id, email, display_name, role, created_at FROM profiles WHERE id = $1";

/// The profile `id`, if it exists.
pub async fn get(pool: &PgPool, id: UserId) -> Result<Option<Profile>, DbError> {
    let row: Option<ProfileRow> = sqlx::query_as(PROFILE_COLUMNS)
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.map(Profile::try_from).transpose()
}

/// The profile `id`, created as a `student` if it does not exist yet.
///
/// A token holder's first request creates their profile (Supabase creates the
/// auth user, not our row). `email` comes from the token; the display name starts
/// as the part of the email before `@`. Two first requests racing each other both
/// end up reading the one row that won.
pub async fn get_or_create(
    pool: &PgPool,
    id: UserId,
    email: Option<&str>,
) -> Result<Profile, DbError> {
    if let Some(profile) = get(pool, id).await? {
        return Ok(profile);
    }
    let display_name = email.and_then(|e| e.split('@').next()).unwrap_or_default();
    sqlx::query(
        "INSERT INTO profiles (id, email, display_name, role) VALUES ($1, $2, $3, 'student') \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.0)
    .bind(email)
    .bind(display_name)
    .execute(pool)
    .await?;
    get(pool, id)
        .await?
        .ok_or_else(|| DbError::Other(sqlx::Error::RowNotFound))
}

/// One enrollment in the `/api/me` snapshot, with the user's progress in it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct EnrollmentSummary {
    pub course_id: Uuid,
    pub title: String,
    pub enrolled_at: DateTime<Utc>,
    pub completed_lessons: i64,
    pub total_lessons: i64,
    /// Completed share of the course's lessons, 0–100, one decimal.
    pub percent: f64,
}

/// `GET /api/me`, cached as `user:{id}`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Me {
    pub profile: Profile,
    /// Newest enrollment first; includes courses unpublished since enrolling.
    pub enrollments: Vec<EnrollmentSummary>,
}

#[derive(sqlx::FromRow)]
struct EnrollmentRow {
    course_id: Uuid,
    title: String,
    enrolled_at: DateTime<Utc>,
    completed_lessons: i64,
    total_lessons: i64,
}

/// The `/api/me` snapshot of `id`, read from one snapshot; `None` if no such profile.
pub async fn me(pool: &PgPool, id: UserId) -> Result<Option<Me>, DbError> {
    let mut tx = crate::pool::begin_snapshot(pool).await?;
    let Some(row): Option<ProfileRow> = sqlx::query_as(PROFILE_COLUMNS)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
    else {
        tx.commit().await?;
        return Ok(None);
    };
    let rows: Vec<EnrollmentRow> = sqlx::query_as(
        "SELECT e.course_id, c.title, e.enrolled_at, \
                (SELECT count(*) FROM lesson_progress p \
                   JOIN lessons l ON l.id = p.lesson_id JOIN modules m ON m.id = l.module_id \
                  WHERE m.course_id = e.course_id AND p.user_id = e.user_id) AS completed_lessons, \
                (SELECT count(*) FROM lessons l JOIN modules m ON m.id = l.module_id \
                  WHERE m.course_id = e.course_id) AS total_lessons \
         FROM enrollments e JOIN courses c ON c.id = e.course_id \
         WHERE e.user_id = $1 \
         ORDER BY e.enrolled_at DESC, e.course_id",
    )
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Me {
        profile: row.try_into()?,
        enrollments: rows
            .into_iter()
            .map(|r| EnrollmentSummary {
                course_id: r.course_id,
                title: r.title,
                enrolled_at: r.enrolled_at,
                percent: percent(r.completed_lessons, r.total_lessons),
                completed_lessons: r.completed_lessons,
                total_lessons: r.total_lessons,
            })
            .collect(),
    }))
}
