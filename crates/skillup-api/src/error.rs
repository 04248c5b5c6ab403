//! The API's one error type and its mapping to `{"error":{"code","message"}}`.

use std::sync::Arc;

use actix_web::http::StatusCode;
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
    /// Nothing the caller may see here (404).
    #[error("{0}")]
    NotFound(String),
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
            Self::NotFound(_) => "not_found",
            Self::Database(e) if e.is_unavailable() => "service_unavailable",
            Self::Database(_) => "internal",
        }
    }

    /// The text sent to the client: never SQL, driver messages or stack traces.
    fn public_message(&self) -> String {
        match self {
            Self::Database(e) if e.is_unavailable() => {
                "the database is unavailable and no cached answer exists; retry shortly".to_owned()
            }
            Self::Database(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::Database(Arc::new(e))
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
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Database(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(self), "request failed");
        }
        error_response(status, self.code(), self.public_message())
    }
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
