//! `POST /api/auth/logout`: revokes the caller's session until its token expires.

use std::time::Duration;

use actix_web::{HttpResponse, post, web};

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The longest revocation given an expiry (ten years).
const MAX_REVOCATION_SECS: i64 = 10 * 365 * 24 * 3600;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(logout);
}

/// Signs the session out: `session:revoked:{sid}` is set until the token's `exp`,
/// after which the token is refused anyway. Every later use of any token of this
/// session gets 401.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Missing, invalid, expired or already revoked token", body = ErrorBody),
        (status = 503, description = "Redis unavailable: the session cannot be revoked", body = ErrorBody)))]
#[post("/api/auth/logout")]
pub async fn logout(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let remaining = user.session.claims.exp.saturating_sub(now).max(1);
    // Redis refuses absurd expiries; a token valid for more than ten years stays
    // revoked for good instead.
    let ttl =
        (remaining <= MAX_REVOCATION_SECS).then(|| Duration::from_secs(remaining.unsigned_abs()));
    let stored = state
        .cache
        .revoke_session(&user.session.revocation_id, ttl)
        .await;
    if let Err(reason) = stored {
        tracing::warn!(%reason, "logout failed: redis unavailable");
        return Err(ApiError::ServiceUnavailable(
            "the session cannot be revoked because Redis is unavailable; retry shortly".to_owned(),
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}
