//! Responses served from cached, already serialized JSON.

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use skillup_cache::{Bytes, CacheStatus};

/// The response header naming where an answer came from.
pub const X_CACHE: &str = "x-cache";

/// A 200 with `body` as is (no re-serialization) and `X-Cache: status`.
pub fn json_bytes(body: Bytes, status: CacheStatus) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .insert_header((X_CACHE, HeaderValue::from_static(status.as_str())))
        .body(body)
}

/// The JSON bytes of a response value, as cached and sent.
pub fn to_json<T: serde::Serialize>(value: &T) -> Bytes {
    // Response types hold only strings, numbers, uuids and timestamps: encoding cannot fail.
    Bytes::from(serde_json::to_vec(value).expect("response JSON encodes"))
}
