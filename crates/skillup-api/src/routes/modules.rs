//! Modules of a course: `POST /api/courses/{id}/modules`, `PATCH` and `DELETE
//! /api/modules/{id}`, for the course's instructor or an admin.
//!
//! Positions order a course's modules (ties by id); a new one without a position
//! goes last. Deleting a module deletes its lessons.

use actix_web::{HttpResponse, delete, patch, post, web};
use serde::Deserialize;
use skillup_db::authoring::{self, Module};
use skillup_db::enrollments;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::invalidate::{after_write, course_and_users};
use crate::json::{JsonBody, present};
use crate::openapi::responses::{BodyRefused, NotOwner, Unauthorized, WriteUnavailable};
use crate::state::AppState;
use crate::validate::Title;
use crate::{params, validate};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_module)
        .service(update_module)
        .service(delete_module);
}

/// `POST /api/courses/{id}/modules` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModuleInput {
    pub title: Title,
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
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Title>,
    #[schema(minimum = 0, maximum = 1000000, nullable = false)]
    #[serde(default, deserialize_with = "crate::json::present_whole")]
    pub position: Option<i32>,
}

/// The 404 of a module id that names no module.
pub(super) fn module_missing(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("module {id} not found"))
}

/// Adds a module to a course.
#[utoipa::path(post, path = "/api/courses/{id}/modules", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    request_body = NewModuleInput,
    responses(
        (status = 201, description = "Created", body = Module),
        (status = 400, description = "Malformed id or invalid body", body = ErrorBody),
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such course (or a draft the caller may not see)", body = ErrorBody),
        BodyRefused,
        WriteUnavailable))]
#[post("/api/courses/{id}/modules")]
pub async fn create_module(
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<NewModuleInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let course = params::course_id(&path)?;
    let title = body.0.title.as_str();
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
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such module", body = ErrorBody),
        BodyRefused,
        WriteUnavailable))]
#[patch("/api/modules/{id}")]
pub async fn update_module(
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<ModulePatch>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::module_id(&path)?;
    let title = body.0.title.as_ref().map(Title::as_str);
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
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such module", body = ErrorBody),
        WriteUnavailable))]
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
