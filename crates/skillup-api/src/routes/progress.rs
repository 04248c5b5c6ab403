//! Lesson progress: `PUT /api/courses/{id}/lessons/{lesson_id}/progress` and
//! `GET /api/courses/{id}/progress`, for enrolled users.
//!
//! Every successful PUT (a change or a repeat of the current state) stores its
//! `progress:updated` event (the answer plus `user_id` and `at`) in its own
//! transaction, on the outbox record of the change. The invalidator numbers and
//! publishes it once the transaction committed, so the realtime service never
//! announces a change that rolled back, and a Redis outage delays the event
//! instead of losing it.

use actix_web::{HttpResponse, get, put, web};
use chrono::Utc;
use serde::Deserialize;
use skillup_cache::CacheStatus;
use skillup_common::{CourseId, UserId};
use skillup_db::progress::{self, CourseProgress};
use skillup_events::{ProgressEvent, ProgressUpdate};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::auth::{AuthUser, Session};
use crate::cached::{json_bytes, to_json};
use crate::error::{ApiError, ErrorBody};
use crate::invalidate::after_write;
use crate::json::JsonBody;
use crate::openapi::responses::{BodyRefused, Unauthorized, WriteUnavailable};
use crate::params;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(put_progress).service(get_progress);
}

/// The PUT body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressInput {
    pub completed: bool,
}

/// 404 for a missing course (or an unpublished one the caller is not enrolled
/// in), 403 when the caller is not enrolled.
async fn require_enrolled(
    conn: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<(), ApiError> {
    match progress::access(conn, user, course).await? {
        Some(access) if access.enrolled => Ok(()),
        Some(access) if access.published => Err(ApiError::Forbidden(format!(
            "only users enrolled in course {course} may track progress in it"
        ))),
        _ => Err(ApiError::NotFound(format!("course {course} not found"))),
    }
}

/// Marks a lesson completed or not completed.
#[utoipa::path(put, path = "/api/courses/{id}/lessons/{lesson_id}/progress", tag = "progress",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id"),
           ("lesson_id" = uuid::Uuid, Path, description = "Lesson id (of this course)")),
    request_body = ProgressInput,
    responses(
        (status = 200, description = "The progress now; its `progress:updated` event is published once the change committed", body = ProgressUpdate),
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "Not enrolled in the course", body = ErrorBody),
        (status = 404, description = "No such course, or the lesson is not in it", body = ErrorBody),
        BodyRefused,
        WriteUnavailable))]
#[put("/api/courses/{id}/lessons/{lesson_id}/progress")]
pub async fn put_progress(
    user: AuthUser,
    path: web::Path<(String, String)>,
    body: JsonBody<ProgressInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let course = params::course_id(&path.0)?;
    let lesson = params::lesson_id(&path.1)?;
    let completed = body.0.completed;
    let mut tx = state.db.begin().await?;
    require_enrolled(&mut tx, user.id, course).await?;
    if !progress::lesson_in_course(&mut tx, lesson, course).await? {
        return Err(ApiError::NotFound(format!(
            "lesson {lesson} is not part of course {course}"
        )));
    }
    let changed = progress::set_completed(&mut tx, user.id, lesson, completed).await?;
    let counts = progress::course_progress(&mut tx, user.id, course).await?;
    let update = ProgressUpdate {
        course_id: course.0,
        lesson_id: lesson.0,
        completed,
        completed_lessons: counts.completed_lessons,
        total_lessons: counts.total_lessons,
        percent: counts.percent,
    };
    let event = ProgressEvent {
        update: update.clone(),
        user_id: user.id.0,
        at: Utc::now(),
        offset: None,
        // The invalidator's publish continues this request's trace.
        traceparent: skillup_common::telemetry::current_traceparent(),
    };
    let event = serde_json::to_value(&event).expect("progress events serialize");
    progress::record_event(&mut tx, changed, user.id, lesson, course, &event).await?;
    tx.commit().await?;

    after_write(&state.cache, &[state.cache.keys().user(user.id)], false).await;
    Ok(HttpResponse::Ok().json(update))
}

/// The caller's progress in a course, read from Postgres on every request and
/// answered with `X-Cache: BYPASS`.
///
/// It is not cached: the answer is one user's in one course, read by that user
/// right after their own writes, and a cached copy would need invalidating on
/// every progress write and on every lesson change of the course, for a read
/// that costs two indexed queries. (The `/api/me` snapshot, which does carry
/// progress, is cached as `user:{id}`.) `BYPASS` keeps the contract that every
/// course and user read says where its answer came from.
#[utoipa::path(get, path = "/api/courses/{id}/progress", tag = "progress",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    responses(
        (status = 200, description = "Completed lessons in course order; never cached (`X-Cache: BYPASS`)", body = CourseProgress,
            headers(("x-cache" = String, description = "BYPASS: read from Postgres on every request"))),
        (status = 400, description = "Malformed id", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "Not enrolled in the course", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 503, description = "Postgres down", body = ErrorBody)))]
#[get("/api/courses/{id}/progress")]
pub async fn get_progress(
    session: Session,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let course = params::course_id(&path)?;
    let mut tx = state.db.begin().await?;
    require_enrolled(&mut tx, session.user_id(), course).await?;
    let answer = progress::course_progress(&mut tx, session.user_id(), course).await?;
    tx.commit().await?;
    Ok(json_bytes(to_json(&answer), CacheStatus::Bypass))
}
