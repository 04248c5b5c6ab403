//! The API's one error type and its mapping to `{"error":{"code","message"}}`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use skillup_db::DbError;
use utoipa::ToSchema;

/// Every way a request can fail. Client errors carry a message safe to show;
/// server-side causes are logged with their chain and never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed id, query value or body (400).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No token, or a token that is malformed, badly signed, expired or revoked (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed to do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing the caller may see here (404).
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state: a taken slug, an existing enrollment (409).
    #[error("{0}")]
    Conflict(String),
    /// The client address spent its budget of failed authentications (429, with
    /// `Retry-After`); see [`crate::auth_failures`].
    #[error(
        "too many failed authentications from this address; retry in {} s",
        retry_after_secs(*retry_after)
    )]
    TooManyRequests { retry_after: std::time::Duration },
    /// The body exceeds [`crate::json::MAX_BODY_BYTES`] (413).
    #[error(
        "the request body is larger than {} bytes",
        crate::json::MAX_BODY_BYTES
    )]
    PayloadTooLarge,
    /// A route that takes a JSON body got one without `Content-Type:
    /// application/json` (415); see [`crate::json::JsonBody`].
    #[error("the request body must be JSON sent with Content-Type: application/json{0}")]
    UnsupportedMediaType(&'static str),
    /// A dependency the request cannot do without is down (503), e.g. Redis for the
    /// revocation check of a write.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// Postgres failed; 503 when it is unreachable, 500 otherwise.
    #[error(transparent)]
    Database(Arc<DbError>),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "bad_request",
            message: message.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::ServiceUnavailable(_) => "service_unavailable",
            Self::Database(e) if e.is_unavailable() => "service_unavailable",
            Self::Database(e) if is_conflict(e) => "conflict",
            Self::Database(_) => "internal",
        }
    }

    /// The text sent to the client: never SQL, driver messages or stack traces.
    fn public_message(&self) -> String {
        match self {
            Self::Database(e) if e.is_unavailable() => {
                "the database is unavailable and no cached answer exists; retry shortly".to_owned()
            }
            Self::Database(e) if is_conflict(e) => {
                "the change conflicts with existing data".to_owned()
            }
            Self::Database(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

/// A unique-constraint violation no handler turned into a more specific 409.
fn is_conflict(e: &DbError) -> bool {
    matches!(e, DbError::Conflict { .. })
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::Database(Arc::new(e))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<Arc<DbError>> for ApiError {
    fn from(e: Arc<DbError>) -> Self {
        Self::Database(e)
    }
}

/// The spec's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case, stable: `bad_request`, `not_found`, `service_unavailable`, …
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An error response with the spec's body.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.into(),
        },
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(e) if is_conflict(e) => StatusCode::CONFLICT,
            Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %error_chain(self), "request failed");
        } else if status.is_server_error() {
            tracing::warn!(error = %error_chain(self), "dependency unavailable");
        }
        let mut response = error_response(status, self.code(), self.public_message());
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests { retry_after } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs(*retry_after)),
                );
            }
            _ => {}
        }
        response
    }
}

/// Whole seconds for `Retry-After`, rounded up and at least 1: a client that
/// waits that long is answered normally again.
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// `error: cause: cause…` for logs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
