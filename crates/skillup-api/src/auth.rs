//! Authentication extractors: `Authorization: Bearer <JWT>` as Supabase issues it.
//!
//! - [`Session`]: a verified, unrevoked token (no database access); for routes
//!   that need only the caller's id (`/api/me` is served from Redis this way).
//! - [`AuthUser`]: a session plus the caller's profile (role from `profiles.role`,
//!   created as a `student` on first use).
//! - [`OptionalSession`]: no header → anonymous; a header that fails any check →
//!   401, never silently anonymous.
//!
//! Revocation (`POST /api/auth/logout`) is a Redis key `session:revoked:{sid}`.
//! When Redis cannot answer, the check fails closed for writes (503: a signed-out
//! token must not be able to change anything) and open for reads (`GET`/`HEAD`,
//! logged as a warning): reads keep working from Postgres during a Redis outage,
//! as the cache contract promises, at the price that a token revoked before the
//! outage can read until Redis is back or the token expires.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::Either;
use skillup_common::UserId;
use skillup_common::auth::Claims;
use skillup_db::authoring::CourseOwner;
use skillup_db::profiles::{self, Profile, Role};
use skillup_db::{DbError, PgPool};

use crate::error::ApiError;
use crate::state::AppState;

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// A verified token that has not been revoked.
#[derive(Debug, Clone)]
pub struct Session {
    pub claims: Claims,
    /// The `sid` of `session:revoked:{sid}` (see [`Claims::revocation_id`]).
    pub revocation_id: String,
}

impl Session {
    pub fn user_id(&self) -> UserId {
        self.claims.user_id()
    }

    /// The `email` claim when it is fit to store (Postgres refuses NUL; 320 is the
    /// longest valid address).
    pub fn email(&self) -> Option<&str> {
        self.claims
            .email
            .as_deref()
            .filter(|e| !e.is_empty() && e.len() <= 320 && !e.chars().any(char::is_control))
    }

    /// The caller's profile, created as a `student` if this is their first use.
    pub async fn profile(&self, db: &PgPool) -> Result<Profile, DbError> {
        profiles::get_or_create(db, self.user_id(), self.email()).await
    }
}

/// A signed-in caller with their role.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    pub session: Session,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may change `course`: its instructor or an admin.
    ///
    /// Anyone else gets 403 for a published course and 404 for a draft, which
    /// they may not even see.
    pub fn authorize_owner(&self, course: &CourseOwner) -> Result<(), ApiError> {
        if self.is_admin() || course.instructor_id == self.id {
            Ok(())
        } else if course.published {
            Err(ApiError::Forbidden(
                "only the course's instructor or an admin may change it".to_owned(),
            ))
        } else {
            Err(ApiError::NotFound(format!(
                "course {} not found",
                course.course_id
            )))
        }
    }
}

/// `Some(session)` when the request carries a valid token, `None` without one.
#[derive(Debug, Clone)]
pub struct OptionalSession(pub Option<Session>);

impl FromRequest for Session {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            authenticate(&req).await?.ok_or_else(|| {
                ApiError::Unauthorized(
                    "sign in: this route needs an `Authorization: Bearer <token>` header"
                        .to_owned(),
                )
            })
        })
    }
}

impl FromRequest for OptionalSession {
    type Error = ApiError;
    type Future = Either<Ready<Result<Self, ApiError>>, LocalFuture<Self>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Anonymous reads are the hot path: no header, nothing to await or box.
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return Either::Left(ready(Ok(OptionalSession(None))));
        }
        let req = req.clone();
        Either::Right(Box::pin(async move {
            authenticate(&req).await.map(OptionalSession)
        }))
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = Session::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let session = session.await?;
            let state = state.ok_or_else(missing_state)?;
            let profile = session.profile(&state.db).await?;
            Ok(AuthUser {
                id: session.user_id(),
                role: profile.role,
                session,
            })
        })
    }
}

fn missing_state() -> ApiError {
    ApiError::ServiceUnavailable("the server is not configured".to_owned())
}

/// Reads and checks the bearer token, if any: signature and algorithm (HS256),
/// expiry (`exp` required), then revocation. Every 401 it answers spends the
/// client address's failure budget, and past it becomes a 429
/// ([`crate::auth_failures`]).
async fn authenticate(req: &HttpRequest) -> Result<Option<Session>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(missing_state)?;
    match check_header(state, value, req.method()).await {
        Err(refusal @ ApiError::Unauthorized(_)) => Err(state
            .auth_failures
            .refuse(crate::auth_failures::client_key(req), refusal)),
        other => other.map(Some),
    }
}

/// The token of an `Authorization` value: `Bearer <token>`, the scheme in any
/// case, the token non-empty once trimmed; else 401. (Whether the token is one
/// is for [`JwtKeys::verify`](skillup_common::auth::JwtKeys::verify).)
pub fn bearer_token(value: &header::HeaderValue) -> Result<&str, ApiError> {
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".to_owned())
        })
}

async fn check_header(
    state: &AppState,
    value: &header::HeaderValue,
    method: &Method,
) -> Result<Session, ApiError> {
    let token = bearer_token(value)?;
    let claims = state
        .jwt
        .verify(token)
        .map_err(|e| ApiError::Unauthorized(format!("invalid token: {e}")))?;
    let revocation_id = claims.revocation_id(token);
    check_not_revoked(state, &revocation_id, method).await?;
    Ok(Session {
        claims,
        revocation_id,
    })
}

/// 401 if the session was revoked. When Redis cannot answer: 503 for writes,
/// a warning and carry on for reads (see the module doc).
async fn check_not_revoked(state: &AppState, sid: &str, method: &Method) -> Result<(), ApiError> {
    match state.cache.is_revoked(sid).await {
        Ok(false) => Ok(()),
        Ok(true) => Err(ApiError::Unauthorized(
            "this session has been signed out".to_owned(),
        )),
        Err(reason) if is_read(method) => {
            tracing::warn!(%reason, "session revocation not checked (redis unavailable); allowing a read");
            Ok(())
        }
        Err(reason) => {
            tracing::warn!(%reason, "session revocation not checked (redis unavailable); refusing a write");
            Err(ApiError::ServiceUnavailable(
                "token revocation cannot be checked because Redis is unavailable; \
                 writes are refused until it is back, retry shortly"
                    .to_owned(),
            ))
        }
    }
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use skillup_common::auth::JwtKeys;
    use skillup_common::config::JwtConfig;

    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&JwtConfig {
            secret: "s".to_owned().into(),
        })
    }

    /// What `bearer_token` should take from a header, written independently:
    /// `<scheme> <rest>` with the scheme `bearer` in any case and the rest
    /// non-empty once trimmed.
    fn expected(value: &str) -> Option<&str> {
        let space = value.find(' ')?;
        let (scheme, rest) = (&value[..space], value[space + 1..].trim());
        (scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty()).then_some(rest)
    }

    proptest! {
        /// Any header value a client can send (any bytes HTTP allows) is parsed
        /// without panicking, as [`expected`] says, and what it yields never
        /// verifies unless it is a token this secret signed.
        #[test]
        fn any_authorization_header_parses_as_documented(
            bytes in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                "(?i:bearer)[ \t]{0,3}[ -~]{0,120}".prop_map(String::into_bytes),
            ]
        ) {
            let Ok(value) = header::HeaderValue::from_bytes(&bytes) else {
                return Ok(());
            };
            let got = bearer_token(&value).ok();
            prop_assert_eq!(got, value.to_str().ok().and_then(expected));
            if let Some(token) = got {
                prop_assert!(keys().verify(token).is_err());
            }
        }

        #[test]
        fn a_valid_token_in_any_bearer_spelling_is_found(
            scheme in "(?i:bearer)",
            pad in "[ \t]{0,3}",
        ) {
            let token = keys().mint(UserId::new_random(), std::time::Duration::from_secs(60), None);
            let value = header::HeaderValue::from_str(&format!("{scheme} {pad}{token}{pad}")).unwrap();
            let found = bearer_token(&value).unwrap();
            prop_assert_eq!(found, token.as_str());
            prop_assert!(keys().verify(found).is_ok());
        }
    }
}
