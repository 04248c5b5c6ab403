//! Responses served from cached, already serialized JSON, with their validators:
//! `ETag`, `If-None-Match` → 304, `Cache-Control` and `X-Cache`.

use actix_web::http::header::{self, CONTENT_TYPE, EntityTag, Header, HeaderValue, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use skillup_cache::{Bytes, CacheStatus, Lookup};

use crate::error::ApiError;

/// The response header naming where an answer came from.
pub const X_CACHE: &str = "x-cache";

/// Who an answer is for, which decides whether shared caches may keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// An anonymous read of published data: `Cache-Control: public, no-cache`.
    Public,
    /// Anything answered to a bearer token: `Cache-Control: private, no-cache`.
    Private,
}

impl Audience {
    /// `Private` when the request carried a (valid) token.
    pub fn of<T>(session: Option<&T>) -> Self {
        if session.is_some() {
            Self::Private
        } else {
            Self::Public
        }
    }

    fn cache_control(self) -> HeaderValue {
        // `no-cache`: any cache may keep the answer but must revalidate it (a 304
        // costs no body) before each use, since a write may change it any time.
        HeaderValue::from_static(match self {
            Self::Public => "public, no-cache",
            Self::Private => "private, no-cache",
        })
    }
}

/// A cached value: 200 with its body as is (no re-serialization), or 304 with
/// no body when `If-None-Match` names its tag; `ETag`, `Cache-Control`, `Vary`
/// and `X-Cache` on both.
pub fn respond(
    req: &HttpRequest,
    body: Bytes,
    etag: Bytes,
    status: CacheStatus,
    audience: Audience,
) -> HttpResponse {
    let not_modified = matches_tag(req, &etag);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    validators(&mut response, etag, status, audience);
    if not_modified {
        return response.finish();
    }
    response
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body)
}

/// [`respond`] for a [`Lookup`] that holds a value.
pub fn respond_lookup(
    req: &HttpRequest,
    lookup: Lookup,
    audience: Audience,
) -> Option<HttpResponse> {
    let body = lookup.value?;
    let etag = lookup
        .etag
        .unwrap_or_else(|| skillup_cache::envelope::etag_of(&body));
    Some(respond(req, body, etag, lookup.status, audience))
}

/// [`respond`] for a value computed for this request only (a draft shown to its
/// author): its tag is computed here.
pub fn respond_uncached(
    req: &HttpRequest,
    body: Bytes,
    status: CacheStatus,
    audience: Audience,
) -> HttpResponse {
    let etag = skillup_cache::envelope::etag_of(&body);
    respond(req, body, etag, status, audience)
}

/// An error answer that came from the cache (a cached 404): the error JSON with `X-Cache`.
pub fn error_with_status(error: &ApiError, status: CacheStatus) -> HttpResponse {
    let mut response = error.error_response();
    response.headers_mut().insert(
        header::HeaderName::from_static(X_CACHE),
        HeaderValue::from_static(status.as_str()),
    );
    response
}

/// A 200 with `body` as is and `X-Cache: status`, without validators: for
/// answers read from Postgres on every request (progress).
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

fn validators(
    response: &mut HttpResponseBuilder,
    etag: Bytes,
    status: CacheStatus,
    audience: Audience,
) {
    // The tag was made by `etag_of`: quoted hex, a valid header value.
    if let Ok(value) = HeaderValue::from_maybe_shared(etag) {
        response.insert_header((header::ETAG, value));
    }
    response
        .insert_header((header::CACHE_CONTROL, audience.cache_control()))
        .append_header((header::VARY, HeaderValue::from_static("Authorization")))
        .insert_header((X_CACHE, HeaderValue::from_static(status.as_str())));
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for
/// this header) or is `*`. Requests without the header pay one lookup, and
/// those that echo the tag one comparison.
fn matches_tag(req: &HttpRequest, etag: &[u8]) -> bool {
    let Some(sent) = req.headers().get(header::IF_NONE_MATCH) else {
        return false;
    };
    // The usual case, a client sending back the one tag it got, needs no parsing.
    if sent.as_bytes() == etag {
        return true;
    }
    let Some(ours) = std::str::from_utf8(etag)
        .ok()
        .and_then(|t| t.parse::<EntityTag>().ok())
    else {
        return false;
    };
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&ours)),
        Err(_) => false,
    }
}
