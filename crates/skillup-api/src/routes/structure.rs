//! Course structure: modules (`POST /api/courses/{id}/modules`, `PATCH` / `DELETE
//! /api/modules/{id}`) and lessons (`POST /api/modules/{id}/lessons`, `PATCH` /
//! `DELETE /api/lessons/{id}`), for the course's instructor or an admin.
//!
//! Positions order modules and lessons (ties by id); a new one without a position
//! goes last. A lesson stays in its module: moving it means delete and re-create.

use actix_web::{HttpResponse, delete, patch, post, web};
use serde::Deserialize;
use skillup_db::authoring::{self, Lesson, LessonChanges, Module, NewLesson};
use skillup_db::enrollments;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::invalidate::{after_write, course_and_users};
use crate::json::{JsonBody, present};
use crate::state::AppState;
use crate::{params, validate};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_module)
        .service(update_module)
        .service(delete_module)
        .service(create_lesson)
        .service(update_lesson)
        .service(delete_lesson);
}

/// `POST /api/courses/{id}/modules` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModuleInput {
    /// 1–200 characters (trimmed).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: String,
    /// 0–1 000 000; default: after the last module.
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(default, deserialize_with = "crate::json::optional_whole")]
    pub position: Option<i32>,
}

/// `PATCH /api/modules/{id}` body: at least one field; `null` is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
#[serde(deny_unknown_fields)]
pub struct ModulePatch {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        nullable = false
    )]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<String>,
    #[schema(minimum = 0, maximum = 1000000, nullable = false)]
    #[serde(default, deserialize_with = "crate::json::present_whole")]
    pub position: Option<i32>,
}

/// `POST /api/modules/{id}/lessons` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLessonInput {
    /// 1–200 characters (trimmed).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: String,
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
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        nullable = false
    )]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<String>,
    #[schema(minimum = 0, maximum = 1000000, nullable = false)]
    #[serde(default, deserialize_with = "crate::json::present_whole")]
    pub position: Option<i32>,
    #[schema(minimum = 0, maximum = 604800, nullable = false)]
    #[serde(default, deserialize_with = "crate::json::present_whole")]
    pub duration_seconds: Option<i32>,
}

fn module_missing(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("module {id} not found"))
}

fn lesson_missing(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("lesson {id} not found"))
}

/// Adds a module to a course.
#[utoipa::path(post, path = "/api/courses/{id}/modules", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    request_body = NewModuleInput,
    responses(
        (status = 201, description = "Created", body = Module),
        (status = 400, description = "Malformed id or invalid body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not the course's instructor or an admin", body = ErrorBody),
        (status = 404, description = "No such course (or a draft the caller may not see)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Postgres down, or Redis down (revocation cannot be checked)", body = ErrorBody)))]
#[post("/api/courses/{id}/modules")]
pub async fn create_module(
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<NewModuleInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let course = params::course_id(&path)?;
    let title = validate::title("title", &body.0.title)?;
    let position = body.0.position.map(validate::position).transpose()?;
    let mut tx = state.db.begin().await?;
    let owner = authoring::course_owner(&mut tx, course)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("course {course} not found")))?;
    user.authorize_owner(&owner)?;
    let module = authoring::create_module(&mut tx, course, title, position).await?;
    tx.commit().await?;
    after_write(&state.cache, &[state.cache.keys().course(course)], false).await;
    Ok(HttpResponse::Created().json(module))
}

/// Renames or moves a module.
#[utoipa::path(patch, path = "/api/modules/{id}", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Module id")),
    request_body = ModulePatch,
    responses(
        (status = 200, description = "The module after the change", body = Module),
        (status = 400, description = "Malformed id, invalid or empty body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not the course's instructor or an admin", body = ErrorBody),
        (status = 404, description = "No such module", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Postgres down, or Redis down (revocation cannot be checked)", body = ErrorBody)))]
#[patch("/api/modules/{id}")]
pub async fn update_module(
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<ModulePatch>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::module_id(&path)?;
    let title = body
        .0
        .title
        .as_deref()
        .map(|t| validate::title("title", t))
        .transpose()?;
    let position = body.0.position.map(validate::position).transpose()?;
    if title.is_none() && position.is_none() {
        return Err(ApiError::bad_request(
            "the body must set at least one of title, position",
        ));
    }
    let mut tx = state.db.begin().await?;
    let owner = authoring::module_owner(&mut tx, id)
        .await?
        .ok_or_else(|| module_missing(id))?;
    user.authorize_owner(&owner)?;
    let module = authoring::update_module(&mut tx, id, title, position).await?;
    tx.commit().await?;
    after_write(
        &state.cache,
        &[state.cache.keys().course(owner.course_id)],
        false,
    )
    .await;
    Ok(HttpResponse::Ok().json(module))
}

/// Deletes a module with its lessons.
#[utoipa::path(delete, path = "/api/modules/{id}", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Module id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not the course's instructor or an admin", body = ErrorBody),
        (status = 404, description = "No such module", body = ErrorBody),
        (status = 503, description = "Postgres down, or Redis down (revocation cannot be checked)", body = ErrorBody)))]
#[delete("/api/modules/{id}")]
pub async fn delete_module(
    user: AuthUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::module_id(&path)?;
    let mut tx = state.db.begin().await?;
    let owner = authoring::module_owner(&mut tx, id)
        .await?
        .ok_or_else(|| module_missing(id))?;
    user.authorize_owner(&owner)?;
    let enrolled = enrollments::enrolled_users(&mut tx, owner.course_id).await?;
    authoring::delete_module(&mut tx, id).await?;
    tx.commit().await?;
    let keys = course_and_users(&state.cache, owner.course_id, &enrolled);
    after_write(&state.cache, &keys, false).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds a lesson to a module.
#[utoipa::path(post, path = "/api/modules/{id}/lessons", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Module id")),
    request_body = NewLessonInput,
    responses(
        (status = 201, description = "Created", body = Lesson),
        (status = 400, description = "Malformed id or invalid body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not the course's instructor or an admin", body = ErrorBody),
        (status = 404, description = "No such module", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Postgres down, or Redis down (revocation cannot be checked)", body = ErrorBody)))]
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
        title: validate::title("title", &input.title)?,
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
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not the course's instructor or an admin", body = ErrorBody),
        (status = 404, description = "No such lesson", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Postgres down, or Redis down (revocation cannot be checked)", body = ErrorBody)))]
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
        title: patch
            .title
            .as_deref()
            .map(|t| validate::title("title", t))
            .transpose()?,
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
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not the course's instructor or an admin", body = ErrorBody),
        (status = 404, description = "No such lesson", body = ErrorBody),
        (status = 503, description = "Postgres down, or Redis down (revocation cannot be checked)", body = ErrorBody)))]
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
