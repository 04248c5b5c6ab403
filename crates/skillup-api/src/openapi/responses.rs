//! Response rows that many operations share, each written once: an operation
//! names the type in its `responses(...)` list instead of repeating the tuple.
//! Each renders as an inline response with the [`ErrorBody`] schema, exactly as
//! the tuple it replaces did.

#![expect(
    dead_code,
    reason = "documentation types: only their IntoResponses impls are used, never a value"
)]

use utoipa::IntoResponses;

use crate::error::ErrorBody;

/// 401 of a route that requires a token ([`crate::auth::AuthUser`]). The 429
/// of [`crate::auth_failures`] is added beside every 401 by the document's
/// `TooManyFailures` modifier.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "Missing, invalid, expired or revoked token"
)]
pub struct Unauthorized(ErrorBody);

/// 403 of a route for a course's instructor or an admin.
#[derive(IntoResponses)]
#[response(status = 403, description = "Not the course's instructor or an admin")]
pub struct NotOwner(ErrorBody);

/// 413 and 415 of a route that takes a JSON body ([`crate::json::JsonBody`]).
#[derive(IntoResponses)]
pub enum BodyRefused {
    #[response(status = 413, description = "Body over 1 MiB")]
    TooLarge(ErrorBody),
    #[response(
        status = 415,
        description = "Body not sent with `Content-Type: application/json` (or no content type)"
    )]
    NotJson(ErrorBody),
}

/// 503 of an authenticated write: it needs Postgres, and Redis to check that
/// the token was not revoked (writes fail closed).
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "Postgres down, or Redis down (revocation cannot be checked)"
)]
pub struct WriteUnavailable(ErrorBody);
