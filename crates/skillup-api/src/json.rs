//! JSON request bodies: sent as `Content-Type: application/json` (else 415), at
//! most [`MAX_BODY_BYTES`] (else 413), parsed strictly, and every failure a 400
//! that names the offending field.
//!
//! actix's own `web::Json` reports serde's message without the field path; this
//! extractor uses `serde_path_to_error`, so `{"price_cents":"ten"}` answers
//! "`price_cents`: invalid type: string …".
//!
//! The content type is checked before the body is read. A body sent as
//! `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data` is
//! what a cross-site page can make a browser send without a CORS preflight;
//! refusing anything but `application/json` means such a request never reaches
//! a handler, whatever it carries.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use crate::error::ApiError;

/// The largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request body parsed as `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if let Err(refused) = require_json_content_type(req) {
            return Box::pin(std::future::ready(Err(refused)));
        }
        // Reads at most the limit set by `web::PayloadConfig` (see startup).
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request(format!("the request body could not be read: {e}"))
                }
            })?;
            parse(&bytes).map(JsonBody)
        })
    }
}

/// `Ok` when the request says `Content-Type: application/json` (any case, any
/// parameters such as `charset=utf-8`); else the 415.
fn require_json_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(" (none was sent)"));
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    match essence {
        Some(mime) if mime.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType("")),
    }
}

/// Parses `bytes` as one JSON object of type `T` (trailing data refused).
///
/// Every body of this API is an object; serde would also read a struct from an
/// array (`[true]` as `{"completed":true}`), which is refused here.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::bad_request("a JSON request body is required")),
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::bad_request(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::bad_request(format!("invalid JSON body at `{path}`: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    Ok(value)
}

/// `deserialize_with` for PATCH fields: absent is `None` (with `#[serde(default)]`),
/// present must be a valid `T` — an explicit `null` is refused rather than being
/// read as "leave unchanged".
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `deserialize_with` for integer fields: a JSON number with no fractional part,
/// written `42` or `42.0` (JSON Schema counts both as integers, and so do
/// clients in languages whose numbers are floats), within `i32`.
pub fn whole<'de, D>(d: D) -> Result<i32, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    let whole = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i32::try_from(i).ok(),
        #[expect(clippy::cast_possible_truncation, reason = "range-checked just before")]
        (None, Some(f))
            if f.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&f) =>
        {
            Some(f as i32)
        }
        _ => None,
    };
    whole.ok_or_else(|| {
        D::Error::custom(format!(
            "expected a whole number that fits 32 bits, got {n}"
        ))
    })
}

/// [`whole`] for PATCH fields (see [`present`]).
pub fn present_whole<'de, D>(d: D) -> Result<Option<i32>, D::Error>
where
    D: Deserializer<'de>,
{
    whole(d).map(Some)
}

/// [`whole`] for optional fields where `null` means "not given".
pub fn optional_whole<'de, D>(d: D) -> Result<Option<i32>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(serde::Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole")] i32);
    Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Numbers {
        #[serde(deserialize_with = "whole")]
        a: i32,
        #[serde(default, deserialize_with = "optional_whole")]
        b: Option<i32>,
    }

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        let n: Numbers = serde_json::from_str(r#"{"a": 42.0, "b": null}"#).unwrap();
        assert_eq!(n, Numbers { a: 42, b: None });
        let n: Numbers = serde_json::from_str(r#"{"a": -7, "b": 3.0}"#).unwrap();
        assert_eq!(n, Numbers { a: -7, b: Some(3) });
        for bad in [
            r#"{"a": 1.5}"#,
            r#"{"a": 1e10}"#,
            r#"{"a": 2147483648}"#,
            r#"{"a": "1"}"#,
            r#"{"a": 1, "b": 0.1}"#,
        ] {
            assert!(serde_json::from_str::<Numbers>(bad).is_err(), "{bad}");
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only some fields are read back")]
    struct Body {
        title: String,
        #[serde(default, deserialize_with = "present")]
        price: Option<i32>,
    }

    fn message(raw: &str) -> String {
        parse::<Body>(raw.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field() {
        assert!(message(r#"{"title":1}"#).contains("`title`"));
        assert!(message(r#"{"title":"a","price":"x"}"#).contains("`price`"));
        assert!(message(r#"{"title":"a","price":null}"#).contains("`price`"));
        assert!(message(r#"{"title":"a","price":3000000000}"#).contains("`price`"));
        assert!(message(r#"{}"#).contains("missing field `title`"));
        assert!(message(r#"{"title":"a","x":1}"#).contains("unknown field `x`"));
        assert!(message(r#"{"title":"a"} {}"#).contains("trailing"));
        assert!(message("").contains("required"));
        assert!(message("[]").contains("object"));
        assert!(message(r#"["a", 1]"#).contains("object"));
    }

    #[test]
    fn absent_patch_fields_are_none() {
        let body: Body = parse(br#"{"title":"a"}"#).unwrap();
        assert_eq!(body.price, None);
        let body: Body = parse(br#"{"title":"a","price":5}"#).unwrap();
        assert_eq!(body.price, Some(5));
    }
}
