//! Course reads: `GET /api/courses` and `GET /api/courses/{id}`, served through
//! the cache as pre-serialized JSON.

use std::sync::{Arc, OnceLock};

use actix_web::{HttpRequest, HttpResponse, get, web};
use skillup_db::courses;
use skillup_db::models::{CourseDetail, CoursePage};
use skillup_db::profiles::{self, Role};

use crate::auth::OptionalSession;
use crate::cached::{json_bytes, to_json};
use crate::error::{ApiError, ErrorBody};
use crate::params::{self, Paging, PagingQuery};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_courses).service(get_course);
}

/// Published courses, newest first, cached per page as `courses:published:{page}:{per_page}`.
///
/// Anyone may list; a token, if sent, must still be valid (a revoked or forged
/// token is a 401 on every route, never quietly anonymous).
#[utoipa::path(get, path = "/api/courses", tag = "courses", params(PagingQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of published courses; `X-Cache` says HIT, MISS or BYPASS", body = CoursePage,
            headers(("x-cache" = String, description = "HIT | MISS | BYPASS"))),
        (status = 400, description = "page or per_page out of range or not a number", body = ErrorBody),
        (status = 401, description = "A token was sent and is invalid, expired or revoked", body = ErrorBody),
        (status = 503, description = "Postgres down and the page not cached", body = ErrorBody)))]
#[get("/api/courses")]
pub async fn list_courses(
    _auth: OptionalSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Paging { page, per_page } = Paging::from_query(req.query_string())?;
    let key = state.cache.keys().courses_page(page, per_page);
    let db = state.db.clone();
    let lookup = state
        .cache
        .get_or_load(&key, state.cache.course_ttl(), move || async move {
            let page = courses::list_published(&db, page, per_page).await?;
            Ok::<_, skillup_db::DbError>(Some(to_json(&page)))
        })
        .await?;
    let body = lookup.value.unwrap_or_default();
    Ok(json_bytes(body, lookup.status))
}

/// One course with its instructor, enrollment count and ordered outline, cached as `course:{id}`.
///
/// Only published courses are cached. A draft is served, straight from Postgres,
/// to its instructor and to admins (optional bearer token); everyone else gets 404.
/// A token that is present but invalid or revoked is a 401, never anonymous.
#[utoipa::path(get, path = "/api/courses/{id}", tag = "courses",
    security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    responses(
        (status = 200, description = "The course; `X-Cache` says HIT, MISS or BYPASS (drafts: MISS or BYPASS, never stored)", body = CourseDetail,
            headers(("x-cache" = String, description = "HIT | MISS | BYPASS"))),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "A token was sent and is invalid, expired or revoked", body = ErrorBody),
        (status = 404, description = "No such course, or a draft the caller may not see", body = ErrorBody),
        (status = 503, description = "Postgres down and the course not cached", body = ErrorBody)))]
#[get("/api/courses/{id}")]
pub async fn get_course(
    auth: OptionalSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::course_id(&path)?;
    let key = state.cache.keys().course(id);
    let db = state.db.clone();
    // A draft the loader read is kept here for `draft`, which would otherwise
    // read it again. Empty when the answer came from the cache, when the course
    // does not exist, or when this request joined another request's load.
    let unpublished = Arc::new(OnceLock::new());
    let loaded = Arc::clone(&unpublished);
    let lookup = state
        .cache
        .get_or_load(&key, state.cache.course_ttl(), move || async move {
            let detail = courses::detail(&db, id).await?;
            Ok::<_, skillup_db::DbError>(match detail {
                Some(d) if d.published => Some(to_json(&d)),
                Some(d) => {
                    let _ = loaded.set(d);
                    None
                }
                None => None,
            })
        })
        .await?;
    if let Some(body) = lookup.value {
        return Ok(json_bytes(body, lookup.status));
    }
    // Boxed: the draft path's database futures would otherwise make every
    // request's handler future (moved on each poll setup) as big as theirs.
    Box::pin(draft(auth, id, unpublished.get(), &state, lookup.status)).await
}

/// A course that is not published (or does not exist): shown to its instructor
/// and to admins, 404 to everyone else. `loaded` is the detail this request's
/// loader read, if it ran; otherwise it is read here.
async fn draft(
    auth: OptionalSession,
    id: skillup_common::CourseId,
    loaded: Option<&CourseDetail>,
    state: &AppState,
    status: skillup_cache::CacheStatus,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("course {id} not found"));
    let Some(session) = auth.0 else {
        return Err(not_found());
    };
    // Only a caller who may see drafts pays for the profile (and detail) reads.
    let Some(profile) = profiles::get(&state.db, session.user_id()).await? else {
        return Err(not_found());
    };
    let read;
    let detail = match loaded {
        Some(detail) => detail,
        None => {
            read = courses::detail(&state.db, id)
                .await?
                .ok_or_else(not_found)?;
            &read
        }
    };
    if profile.role == Role::Admin || detail.instructor.id == profile.id {
        Ok(json_bytes(to_json(detail), status))
    } else {
        Err(not_found())
    }
}
