//! Course authoring: `POST /api/courses`, `PATCH` and `DELETE /api/courses/{id}`.
//!
//! Instructors and admins create courses (unpublished); the course's instructor
//! or an admin changes and deletes them. The slug is the client's when given and
//! otherwise derived from the title; it cannot change afterwards (links to it
//! stay valid).

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, delete, patch, post, web};
use serde::Deserialize;
use skillup_common::CourseId;
use skillup_db::authoring::{self, CourseChanges, NewCourse};
use skillup_db::models::CourseDetail;
use skillup_db::{DbError, courses, enrollments};
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
    cfg.service(create_course)
        .service(update_course)
        .service(delete_course);
}

/// The unique constraint on `courses.slug`.
const SLUG_CONSTRAINT: &str = "courses_slug_key";
/// Attempts at a derived slug: the plain one, then with random suffixes.
const DERIVED_SLUG_ATTEMPTS: usize = 4;

/// `POST /api/courses` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourseInput {
    pub title: Title,
    /// At most 20 000 characters; default empty.
    #[schema(
        max_length = 20000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    #[serde(default)]
    pub description: String,
    /// 0–100 000 000; default 0.
    #[schema(minimum = 0, maximum = 100000000)]
    #[serde(default, deserialize_with = "crate::json::whole")]
    pub price_cents: i32,
    /// 3–80 characters of `a-z`, `0-9` and single hyphens; derived from the title
    /// when absent or null.
    #[schema(min_length = 3, max_length = 80, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    #[serde(default)]
    pub slug: Option<String>,
}

/// `PATCH /api/courses/{id}` body: at least one field; `null` is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
#[serde(deny_unknown_fields)]
pub struct CoursePatch {
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Title>,
    #[schema(
        max_length = 20000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$",
        nullable = false
    )]
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
    #[schema(minimum = 0, maximum = 100000000, nullable = false)]
    #[serde(default, deserialize_with = "crate::json::present_whole")]
    pub price_cents: Option<i32>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "present")]
    pub published: Option<bool>,
}

fn slug_taken(e: DbError, slug: &str) -> ApiError {
    match e {
        DbError::Conflict { constraint } if constraint == SLUG_CONSTRAINT => {
            ApiError::Conflict(format!("the slug {slug:?} is already taken"))
        }
        other => other.into(),
    }
}

fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

async fn fresh_detail(state: &AppState, id: CourseId) -> Result<CourseDetail, ApiError> {
    courses::detail(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("course {id} not found")))
}

/// Creates an unpublished course owned by the caller.
#[utoipa::path(post, path = "/api/courses", tag = "authoring",
    security(("bearer" = [])),
    request_body = NewCourseInput,
    responses(
        (status = 201, description = "Created (unpublished); `Location` names it", body = CourseDetail),
        (status = 400, description = "Invalid body (the message names the field)", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "Students may not create courses", body = ErrorBody),
        (status = 409, description = "The slug is taken", body = ErrorBody),
        BodyRefused,
        WriteUnavailable))]
#[post("/api/courses")]
pub async fn create_course(
    user: AuthUser,
    body: JsonBody<NewCourseInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !user.role.may_author() {
        return Err(ApiError::Forbidden(
            "only instructors and admins may create courses".to_owned(),
        ));
    }
    let input = body.0;
    let title = input.title.as_str();
    let description = validate::description(&input.description)?;
    let price_cents = validate::price_cents(input.price_cents)?;
    let given = input.slug.as_deref().map(validate::slug).transpose()?;
    let mut conn = state.db.acquire().await?;
    let id = if let Some(slug) = given {
        let course = NewCourse {
            slug,
            title,
            description,
            price_cents,
        };
        authoring::create_course(&mut conn, user.id, &course)
            .await
            .map_err(|e| slug_taken(e, slug))?
    } else {
        let base =
            validate::slugify(title).unwrap_or_else(|| format!("course-{}", random_suffix()));
        let mut attempt = 0;
        loop {
            let slug = if attempt == 0 {
                base.clone()
            } else {
                let mut stem = base.clone();
                stem.truncate(*validate::SLUG_CHARS.end() - 9);
                format!("{}-{}", stem.trim_end_matches('-'), random_suffix())
            };
            let course = NewCourse {
                slug: &slug,
                title,
                description,
                price_cents,
            };
            match authoring::create_course(&mut conn, user.id, &course).await {
                Ok(id) => break id,
                Err(DbError::Conflict { constraint })
                    if constraint == SLUG_CONSTRAINT && attempt + 1 < DERIVED_SLUG_ATTEMPTS =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(slug_taken(e, &slug)),
            }
        }
    };
    drop(conn);
    let detail = fresh_detail(&state, id).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/api/courses/{id}")))
        .json(detail))
}

/// Changes title, description, price or published state.
#[utoipa::path(patch, path = "/api/courses/{id}", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    request_body = CoursePatch,
    responses(
        (status = 200, description = "The course after the change", body = CourseDetail),
        (status = 400, description = "Malformed id, invalid or empty body", body = ErrorBody),
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such course (or a draft the caller may not see)", body = ErrorBody),
        BodyRefused,
        WriteUnavailable))]
#[patch("/api/courses/{id}")]
pub async fn update_course(
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<CoursePatch>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::course_id(&path)?;
    let patch = body.0;
    let changes = CourseChanges {
        title: patch.title.as_ref().map(Title::as_str),
        description: patch
            .description
            .as_deref()
            .map(validate::description)
            .transpose()?,
        price_cents: patch.price_cents.map(validate::price_cents).transpose()?,
        published: patch.published,
    };
    if changes.title.is_none()
        && changes.description.is_none()
        && changes.price_cents.is_none()
        && changes.published.is_none()
    {
        return Err(ApiError::bad_request(
            "the body must set at least one of title, description, price_cents, published",
        ));
    }
    let mut tx = state.db.begin().await?;
    let owner = authoring::course_owner(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("course {id} not found")))?;
    user.authorize_owner(&owner)?;
    let enrolled = enrollments::enrolled_users(&mut tx, id).await?;
    authoring::update_course(&mut tx, id, &changes).await?;
    tx.commit().await?;
    after_write(
        &state.cache,
        &course_and_users(&state.cache, id, &enrolled),
        true,
    )
    .await;
    Ok(HttpResponse::Ok().json(fresh_detail(&state, id).await?))
}

/// Deletes the course with its modules, lessons, enrollments and progress.
#[utoipa::path(delete, path = "/api/courses/{id}", tag = "authoring",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        Unauthorized,
        NotOwner,
        (status = 404, description = "No such course (or a draft the caller may not see)", body = ErrorBody),
        WriteUnavailable))]
#[delete("/api/courses/{id}")]
pub async fn delete_course(
    user: AuthUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::course_id(&path)?;
    let mut tx = state.db.begin().await?;
    let owner = authoring::course_owner(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("course {id} not found")))?;
    user.authorize_owner(&owner)?;
    let enrolled = enrollments::enrolled_users(&mut tx, id).await?;
    authoring::delete_course(&mut tx, id).await?;
    tx.commit().await?;
    after_write(
        &state.cache,
        &course_and_users(&state.cache, id, &enrolled),
        true,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
