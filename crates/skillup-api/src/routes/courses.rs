//! Course reads: `GET /api/courses` and `GET /api/courses/{id}`, served through
//! the cache as pre-serialized JSON.

use actix_web::{HttpRequest, HttpResponse, get, web};
use skillup_cache::Bytes;
use skillup_db::courses;
use skillup_db::models::{CourseDetail, CoursePage};

use crate::cached::json_bytes;
use crate::error::{ApiError, ErrorBody};
use crate::params::{self, Paging, PagingQuery};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_courses).service(get_course);
}

fn to_json<T: serde::Serialize>(value: &T) -> Bytes {
    // These types hold only strings, numbers, uuids and timestamps: encoding cannot fail.
    Bytes::from(serde_json::to_vec(value).expect("course JSON encodes"))
}

/// Published courses, newest first, cached per page as `courses:published:{page}:{per_page}`.
#[utoipa::path(get, path = "/api/courses", tag = "courses", params(PagingQuery),
    responses(
        (status = 200, description = "A page of published courses; `X-Cache` says HIT, MISS or BYPASS", body = CoursePage,
            headers(("x-cache" = String, description = "HIT | MISS | BYPASS"))),
        (status = 400, description = "page or per_page out of range or not a number", body = ErrorBody),
        (status = 503, description = "Postgres down and the page not cached", body = ErrorBody)))]
#[get("/api/courses")]
pub async fn list_courses(
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
/// Unpublished courses answer 404 here (only their owner or an admin may see them).
#[utoipa::path(get, path = "/api/courses/{id}", tag = "courses",
    params(("id" = uuid::Uuid, Path, description = "Course id")),
    responses(
        (status = 200, description = "The course; `X-Cache` says HIT, MISS or BYPASS", body = CourseDetail,
            headers(("x-cache" = String, description = "HIT | MISS | BYPASS"))),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "No such published course", body = ErrorBody),
        (status = 503, description = "Postgres down and the course not cached", body = ErrorBody)))]
#[get("/api/courses/{id}")]
pub async fn get_course(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = params::course_id(&path)?;
    let key = state.cache.keys().course(id);
    let db = state.db.clone();
    let lookup = state
        .cache
        .get_or_load(&key, state.cache.course_ttl(), move || async move {
            let detail = courses::detail(&db, id).await?;
            Ok::<_, skillup_db::DbError>(detail.filter(|d| d.published).map(|d| to_json(&d)))
        })
        .await?;
    match lookup.value {
        Some(body) => Ok(json_bytes(body, lookup.status)),
        None => Err(ApiError::NotFound(format!("course {id} not found"))),
    }
}
