//! Course reads: `GET /api/courses` and `GET /api/courses/{id}`, served through
//! the cache as pre-serialized JSON.

use std::sync::{Arc, OnceLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use skillup_db::models::{CourseDetail, CoursePage};
use skillup_db::profiles::{self, Role};
use skillup_db::{catalogue, courses};

use skillup_cache::{Bytes, CacheStatus};

use crate::auth::{OptionalSession, Session};
use crate::cached::{Audience, error_with_status, respond_lookup, respond_uncached, to_json};
use crate::catalogue::{Listing, ListingQuery, total_of};
use crate::error::{ApiError, ErrorBody};
use crate::params::{self, Paging};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_courses).service(get_course);
}

/// Published courses: the catalogue, searched, filtered and sorted, a page at a time.
///
/// Cached per page as `courses:published:{page}:{per_page}`, and a search or filter
/// as `courses:published:{page}:{per_page}:{digest}` of its canonical form; all of
/// them are invalidated together by any course write. Every answer has a `Link`
/// header (RFC 8288) with `first`, `last` and, where they exist, `prev` and `next`.
///
/// Anyone may list; a token, if sent, must still be valid (a revoked or forged
/// token is a 401 on every route, never quietly anonymous).
#[utoipa::path(get, path = "/api/courses", tag = "courses",
    params(ListingQuery, ("if-none-match" = Option<String>, Header, description = "A tag from an earlier `ETag`: 304 if it still matches")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of published courses; `X-Cache` says HIT, MISS, BYPASS or STALE", body = CoursePage,
            headers(("x-cache" = String, description = "HIT | MISS | BYPASS | STALE"),
                ("etag" = String, description = "Strong tag of the body"),
                ("link" = String, description = "RFC 8288 links to the `first`, `prev`, `next` and `last` pages, with this request's other parameters"),
                ("cache-control" = String, description = "`public, no-cache` anonymous, `private, no-cache` with a token"))),
        (status = 304, description = "`If-None-Match` names the current `ETag`: no body",
            headers(("etag" = String), ("x-cache" = String), ("link" = String))),
        (status = 400, description = "A parameter out of range or malformed (the message names it)", body = ErrorBody),
        (status = 401, description = "A token was sent and is invalid, expired or revoked", body = ErrorBody),
        (status = 503, description = "Postgres down and the page not cached (nor cached and expired within `CACHE_STALE_SECS`)", body = ErrorBody)))]
#[get("/api/courses")]
pub async fn list_courses(
    auth: OptionalSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let listing = Listing::from_query(req.query_string())?;
    let Paging { page, per_page } = listing.paging;
    let keys = state.cache.keys();
    let key = if listing.filter.is_plain() {
        keys.courses_page(page, per_page)
    } else {
        keys.courses_filtered_page(page, per_page, &listing.canonical_filter())
    };
    let db = state.db.clone();
    let filter = listing.filter.clone();
    let lookup = state
        .cache
        .get_or_load(&key, state.cache.course_ttl(), move || async move {
            let page = catalogue::page(&db, &filter, page, per_page).await?;
            Ok::<_, skillup_db::DbError>(Some(to_json(&page)))
        })
        .await?;
    // The loader always answers a page (an empty listing is `[]`), so a value is there.
    let total = lookup.value.as_deref().and_then(total_of).unwrap_or(0);
    let status = lookup.status;
    let mut response =
        respond_lookup(&req, lookup, Audience::of(auth.0.as_ref())).unwrap_or_else(|| {
            error_with_status(
                &ApiError::ServiceUnavailable("the listing has no answer".into()),
                status,
            )
        });
    if let Ok(link) = HeaderValue::try_from(listing.link_header(total)) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// One course with its instructor, enrollment count and ordered outline, cached as `course:{id}`.
///
/// Only published courses are cached. A draft is served, straight from Postgres,
/// to its instructor and to admins (optional bearer token); everyone else gets 404.
/// A token that is present but invalid or revoked is a 401, never anonymous.
#[utoipa::path(get, path = "/api/courses/{id}", tag = "courses",
    security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Course id"),
        ("if-none-match" = Option<String>, Header, description = "A tag from an earlier `ETag`: 304 if it still matches")),
    responses(
        (status = 200, description = "The course; `X-Cache` says HIT, MISS, BYPASS or STALE (drafts: MISS or BYPASS, never stored)", body = CourseDetail,
            headers(("x-cache" = String, description = "HIT | MISS | BYPASS | STALE"),
                ("etag" = String, description = "Strong tag of the body"),
                ("cache-control" = String, description = "`public, no-cache` anonymous, `private, no-cache` with a token"))),
        (status = 304, description = "`If-None-Match` names the current `ETag`: no body",
            headers(("etag" = String), ("x-cache" = String))),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "A token was sent and is invalid, expired or revoked", body = ErrorBody),
        (status = 404, description = "No such course, or a draft the caller may not see; anonymous repeats answered from the cache (`X-Cache: HIT`)", body = ErrorBody),
        (status = 503, description = "Postgres down and the course not cached (nor cached and expired within `CACHE_STALE_SECS`)", body = ErrorBody)))]
#[get("/api/courses/{id}")]
pub async fn get_course(
    auth: OptionalSession,
    req: HttpRequest,
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
        .get_or_load_caching_absence(&key, state.cache.course_ttl(), move || async move {
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
    let status = lookup.status;
    if let Some(response) = respond_lookup(&req, lookup, Audience::of(auth.0.as_ref())) {
        return Ok(response);
    }
    // No published course: a 404 for anonymous callers (answered from the cache
    // on repeats), a draft for its instructor and admins (from Postgres).
    let Some(session) = auth.0 else {
        return Ok(error_with_status(&not_found(id), status));
    };
    // A draft read now comes from Postgres whatever the cache held.
    let status = match status {
        CacheStatus::Hit | CacheStatus::Stale => CacheStatus::Miss,
        other => other,
    };
    // Boxed: the draft path's database futures would otherwise make every
    // request's handler future (moved on each poll setup) as big as theirs.
    match Box::pin(draft(&session, id, unpublished.get(), &state)).await {
        Ok(body) => Ok(respond_uncached(&req, body, status, Audience::Private)),
        Err(ApiError::NotFound(_)) => Ok(error_with_status(&not_found(id), status)),
        Err(other) => Err(other),
    }
}

fn not_found(id: skillup_common::CourseId) -> ApiError {
    ApiError::NotFound(format!("course {id} not found"))
}

/// A course that is not published (or does not exist), for a caller with a
/// token: its JSON for its instructor and for admins, 404 to everyone else.
/// `loaded` is the detail this request's loader read, if it ran; otherwise it
/// is read here.
async fn draft(
    session: &Session,
    id: skillup_common::CourseId,
    loaded: Option<&CourseDetail>,
    state: &AppState,
) -> Result<Bytes, ApiError> {
    let not_found = || not_found(id);
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
        Ok(to_json(detail))
    } else {
        Err(not_found())
    }
}
