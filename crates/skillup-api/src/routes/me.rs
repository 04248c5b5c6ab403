//! `GET /api/me`: the caller's profile and enrollments with progress, cached as
//! `user:{id}` (`REDIS_USER_TTL`).

use actix_web::{HttpRequest, HttpResponse, get, web};
use skillup_db::profiles::{self, Me};

use crate::auth::Session;
use crate::cached::{Audience, respond_lookup, to_json};
use crate::error::{ApiError, ErrorBody};
use crate::openapi::responses::Unauthorized;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(me);
}

/// The caller's snapshot. A hit is served from Redis without touching Postgres
/// (the extractor checks the token and revocation only); a miss creates the
/// profile on first use and loads the snapshot through the cache's single flight.
#[utoipa::path(get, path = "/api/me", tag = "me",
    security(("bearer" = [])),
    params(("if-none-match" = Option<String>, Header, description = "A tag from an earlier `ETag`: 304 if it still matches")),
    responses(
        (status = 200, description = "Profile and enrollments; `X-Cache` says HIT, MISS, BYPASS or STALE", body = Me,
            headers(("x-cache" = String, description = "HIT | MISS | BYPASS | STALE"),
                ("etag" = String, description = "Strong tag of the body"),
                ("cache-control" = String, description = "`private, no-cache`"))),
        (status = 304, description = "`If-None-Match` names the current `ETag`: no body",
            headers(("etag" = String), ("x-cache" = String))),
        Unauthorized,
        (status = 503, description = "Postgres down and the snapshot not cached (nor cached and expired within `CACHE_STALE_SECS`)", body = ErrorBody)))]
#[get("/api/me")]
pub async fn me(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = session.user_id();
    let key = state.cache.keys().user(id);
    let db = state.db.clone();
    let lookup = state
        .cache
        .get_or_load(&key, state.cache.user_ttl(), move || async move {
            session.profile(&db).await?;
            let me = profiles::me(&db, id).await?;
            Ok::<_, skillup_db::DbError>(me.map(|m| to_json(&m)))
        })
        .await?;
    respond_lookup(&req, lookup, Audience::Private)
        .ok_or_else(|| ApiError::NotFound("the profile was deleted".to_owned()))
}
