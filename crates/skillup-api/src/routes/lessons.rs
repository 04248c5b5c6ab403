//! Lessons of a module: `POST /api/modules/{id}/lessons`, `PATCH` and `DELETE
//! /api/lessons/{id}`, for the course's instructor or an admin.
//!
//! Positions order a module's lessons (ties by id); a new one without a position
//! goes last. A lesson stays in its module: moving it means delete and re-create.

use actix_web::{HttpResponse, delete, patch, post, web};
use serde::Deserialize;
use skillup_db::authoring::{self, Lesson, LessonChanges, NewLesson};
use skillup_db::enrollments;
use utoipa::ToSchema;

use super::modules::module_missing;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::invalidate::{after_write, course_and_users};
use crate::json::{JsonBody, present};
use crate::openapi::responses::{BodyRefused, NotOwner, Unauthorized, WriteUnavailable};
use crate::state::AppState;
use crate::validate::Title;
use crate::{params, validate};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_lesson)
        .service(update_lesson)
        .service(delete_lesson);
}

/// `POST /api/modules/{id}/lessons` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLessonInput {
    pub title: Title,
    /// 0–1 000 000; default: after the module's last lesson.
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(default, deserialize_with = "crate::json::optional_whole")]
    pub position: Option<i32>,
    /// 0–604 800; default 0.
    #[schema(minimum = 0, maximum = 604800)]
    #[serde(default, deserialize_with = "crate::json::whole")]
    pub duration_seconds: i32,
}

/// `PATCH /api/lessons/{id}` body: at least one field; `null` is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
#[serde(deny_unknown_fields)]
pub struct LessonPatch {
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Title>,
    #[schema(minimum = 0, maximum = 1000000, nullable = false)]
    #[serde(default, deserialize_with = "crate::json::present_whole")]
    pub position: Option<i32>,
    #[schema(minimum = 0, maximum = 604800, nullable = false)]
    #[serde(default, deserialize_with = "crate::json::present_whole")]
    pub duration_seconds: Option<i32>,
}

fn lesson_missing(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("lesson {id} not found"))
}

/// Adds a lesson to a module.
#[utoipa::path(post, path = "/api/modules/{id}/lessons", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Module id")),
    request_body = NewLessonInput,
    responses(
        (status = 201, description = "Created", body = Lesson),
        (status = 400, description = "Malformed id or invalid body", body = ErrorBody),
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such module", body = ErrorBody),
        BodyRefused,
        WriteUnavailable))]
#[post("/api/modules/{id}/lessons")]
pub async fn create_lesson(
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<NewLessonInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let module = params::module_id(&path)?;
    let input = body.0;
    let lesson = NewLesson {
        title: input.title.as_str(),
        position: input.position.map(validate::position).transpose()?,
        duration_seconds: validate::duration_seconds(input.duration_seconds)?,
    };
    let mut tx = state.db.begin().await?;
    let owner = authoring::module_owner(&mut tx, module)
        .await?
        .ok_or_else(|| module_missing(module))?;
    user.authorize_owner(&owner)?;
    let enrolled = enrollments::enrolled_users(&mut tx, owner.course_id).await?;
    let created = authoring::create_lesson(&mut tx, module, &lesson).await?;
    tx.commit().await?;
    let keys = course_and_users(&state.cache, owner.course_id, &enrolled);
    after_write(&state.cache, &keys, false).await;
    Ok(HttpResponse::Created().json(created))
}

/// Changes a lesson's title, position or duration.
#[utoipa::path(patch, path = "/api/lessons/{id}", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Lesson id")),
    request_body = LessonPatch,
    responses(
        (status = 200, description = "The lesson after the change", body = Lesson),
        (status = 400, description = "Malformed id, invalid or empty body", body = ErrorBody),
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such lesson", body = ErrorBody),
        BodyRefused,
        WriteUnavailable))]
#[patch("/api/lessons/{id}")]
pub async fn update_lesson(
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<LessonPatch>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::lesson_id(&path)?;
    let patch = body.0;
    let changes = LessonChanges {
        title: patch.title.as_ref().map(Title::as_str),
        position: patch.position.map(validate::position).transpose()?,
        duration_seconds: patch
            .duration_seconds
            .map(validate::duration_seconds)
            .transpose()?,
    };
    if changes.title.is_none() && changes.position.is_none() && changes.duration_seconds.is_none() {
        return Err(ApiError::bad_request(
            "the body must set at least one of title, position, duration_seconds",
        ));
    }
    let mut tx = state.db.begin().await?;
    let owner = authoring::lesson_owner(&mut tx, id)
        .await?
        .ok_or_else(|| lesson_missing(id))?;
    user.authorize_owner(&owner)?;
    let lesson = authoring::update_lesson(&mut tx, id, &changes).await?;
    tx.commit().await?;
    after_write(
        &state.cache,
        &[state.cache.keys().course(owner.course_id)],
        false,
    )
    .await;
    Ok(HttpResponse::Ok().json(lesson))
}

/// Deletes a lesson (and everyone's progress on it).
#[utoipa::path(delete, path = "/api/lessons/{id}", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Lesson id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such lesson", body = ErrorBody),
        WriteUnavailable))]
#[delete("/api/lessons/{id}")]
pub async fn delete_lesson(
    user: AuthUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::lesson_id(&path)?;
    let mut tx = state.db.begin().await?;
    let owner = authoring::lesson_owner(&mut tx, id)
        .await?
        .ok_or_else(|| lesson_missing(id))?;
    user.authorize_owner(&owner)?;
    let enrolled = enrollments::enrolled_users(&mut tx, owner.course_id).await?;
    authoring::delete_lesson(&mut tx, id).await?;
    tx.commit().await?;
    let keys = course_and_users(&state.cache, owner.course_id, &enrolled);
    after_write(&state.cache, &keys, false).await;
    Ok(HttpResponse::NoContent().finish())
}
