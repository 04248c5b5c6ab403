//! `POST` / `DELETE /api/courses/{id}/enroll`.

use actix_web::{HttpResponse, delete, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use skillup_db::enrollments::{self, Enrolled};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::invalidate::after_write;
use crate::openapi::responses::{Unauthorized, WriteUnavailable};
use crate::params;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(enroll).service(unenroll);
}

/// A new enrollment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrollment {
    pub course_id: Uuid,
    pub user_id: Uuid,
    pub enrolled_at: DateTime<Utc>,
}

/// Enrolls the caller in a published course.
#[utoipa::path(post, path = "/api/courses/{id}/enroll", tag = "enrollments",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    responses(
        (status = 201, description = "Enrolled", body = Enrollment),
        (status = 400, description = "Malformed id", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such course, or it is unpublished", body = ErrorBody),
        (status = 409, description = "Already enrolled", body = ErrorBody),
        WriteUnavailable))]
#[post("/api/courses/{id}/enroll")]
pub async fn enroll(
    user: AuthUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let course = params::course_id(&path)?;
    let mut tx = state.db.begin().await?;
    let outcome = enrollments::enroll(&mut tx, user.id, course).await?;
    let enrolled_at = match outcome {
        Enrolled::Created(at) => at,
        Enrolled::Already => {
            return Err(ApiError::Conflict(format!(
                "you are already enrolled in course {course}"
            )));
        }
        Enrolled::NoCourse => return Err(ApiError::NotFound(format!("course {course} not found"))),
    };
    tx.commit().await?;
    let keys = state.cache.keys();
    after_write(
        &state.cache,
        &[keys.course(course), keys.user(user.id)],
        false,
    )
    .await;
    Ok(HttpResponse::Created().json(Enrollment {
        course_id: course.0,
        user_id: user.id.0,
        enrolled_at,
    }))
}

/// Unenrolls the caller. Their lesson progress is kept: enrolling again restores it.
#[utoipa::path(delete, path = "/api/courses/{id}/enroll", tag = "enrollments",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    responses(
        (status = 204, description = "Unenrolled"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "Not enrolled in this course (or no such course)", body = ErrorBody),
        WriteUnavailable))]
#[delete("/api/courses/{id}/enroll")]
pub async fn unenroll(
    user: AuthUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let course = params::course_id(&path)?;
    if !enrollments::unenroll(&state.db, user.id, course).await? {
        return Err(ApiError::NotFound(format!(
            "you are not enrolled in course {course}"
        )));
    }
    let keys = state.cache.keys();
    after_write(
        &state.cache,
        &[keys.course(course), keys.user(user.id)],
        false,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
